#!/bin/sh
# Trigger lateness: JOBS jobs (default 1000) due every second run /bin/true,
# measured over SECONDS (default 20) per round, for ROUNDS rounds (default
# 3).  Lateness = start of the run (just before posix_spawn, as recorded in
# the store) minus its scheduled second.  Each round also runs
# bench/ideal_loop.c, which sleeps to each second and spawns the same
# commands, bare and with the pipes, process group and pidfd that capturing
# output takes.  Rounds alternate the three so that drift in the machine's
# speed hits all of them; the summary gives the median of the per-round
# differences of p99.  Each line also gives the scheduler's own CPU time per
# run (its children excluded), a figure much steadier than latency.
#   usage: bench/lateness.sh [JOBS] [SECONDS] [ROUNDS]
. "$(dirname "$0")/common.sh"
JOBS=${1:-1000}
SECS=${2:-20}
ROUNDS=${3:-3}

mkdir -p "$W/jobs" "$W/nodes"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
i=0
while [ "$i" -lt "$JOBS" ]; do
	printf '{"policy": {"roles": ["bench"]}, "schedule": "* * * * * *", "command": ["/bin/true"]}\n' \
	    >"$W/jobs/j$i.json"
	i=$((i + 1))
done
cc $DC_CFLAGS -o "$W/ideal_loop" "$DC_TOP/bench/ideal_loop.c"

# p99 FILE: the 99th percentile alone.
p99() {
	percentiles "$1" | sed 's/.*p99=\([0-9.]*\).*/\1/'
}

daemon_round() {
	rm -rf "$W/state"
	mkdir -p "$W/state"
	"$B/distcrond" --config /dev/null --listen 127.0.0.1:0 --jobs-dir "$W/jobs" \
	    --nodes-dir "$W/nodes" --state-dir "$W/state" --log-level warn \
	    2>"$W/daemon.log" &
	bench_pid=$!
	sleep 3		# load, and let the first seconds settle
	t0=$(date +%s)
	cpu0=$(awk '{print $14 + $15}' /proc/$bench_pid/stat)
	sleep "$SECS"
	cpu1=$(awk '{print $14 + $15}' /proc/$bench_pid/stat)
	# The daemon's own threads (its children are not counted until reaped,
	# and reaped children go to cutime, which is not read).
	python3 -c "print('cpu_us_per_run %.1f' % (($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / ($JOBS * $SECS)))" >"$1.cpu"
	kill -TERM $bench_pid
	wait $bench_pid || true
	bench_pid=
	# Runs whose tick fell inside the measured window.
	python3 - "$W/state/distcron.db" "$t0" "$SECS" >"$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
t0, n = int(sys.argv[2]), int(sys.argv[3])
for (l,) in db.execute(
        "SELECT i.started_ms - r.scheduled_at * 1000 FROM run_items i "
        "JOIN runs r ON r.id = i.run_id WHERE r.scheduled_at >= ? AND "
        "r.scheduled_at < ? AND i.started_ms > 0", (t0, t0 + n)):
    print(l)
PY
}

echo "== $JOBS jobs every second, ${SECS}s per measurement, $ROUNDS rounds"
: >"$W/diffs"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	daemon_round "$W/d$r.txt"
	"$W/ideal_loop" "$JOBS" "$SECS" >"$W/i$r.txt" 2>"$W/i$r.txt.cpu"
	"$W/ideal_loop" "$JOBS" "$SECS" capture >"$W/c$r.txt" 2>"$W/c$r.txt.cpu"
	echo "round $r distcrond   (ms): $(percentiles "$W/d$r.txt")  $(cat "$W/d$r.txt.cpu")"
	echo "round $r ideal loop  (ms): $(percentiles "$W/i$r.txt")  $(cat "$W/i$r.txt.cpu")"
	echo "round $r ideal+capture   : $(percentiles "$W/c$r.txt")  $(cat "$W/c$r.txt.cpu")"
	echo "$(p99 "$W/d$r.txt") $(p99 "$W/i$r.txt") $(p99 "$W/c$r.txt")" >>"$W/diffs"
	r=$((r + 1))
done
python3 - "$W/diffs" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
di = [d - i for d, i, c in rows]
dc = [d - c for d, i, c in rows]
print("p99 distcrond - ideal loop, per round: %s ms; median %+.1f ms"
      % (", ".join("%+.1f" % x for x in di), statistics.median(di)))
print("p99 distcrond - ideal+capture, per round: %s ms; median %+.1f ms"
      % (", ".join("%+.1f" % x for x in dc), statistics.median(dc)))
PY
