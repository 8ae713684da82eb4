#!/bin/sh
# Trigger lateness: JOBS jobs (default 1000) due every second run /bin/true,
# measured over SECONDS (default 10) per round, for ROUNDS rounds (default
# 10).  Lateness = start of the run (just before posix_spawn, as recorded in
# the store) minus its scheduled second.  Each round also runs
# bench/ideal_loop.c, which sleeps to each second and spawns the same
# commands, bare and with the pipes, process group and pidfd that capturing
# output takes.  The three take turns within a round, in an order that
# rotates from round to round, so that drift in the machine's speed and the
# position in the round hit all of them alike.  The summary gives, for each
# reference, the per-round differences of p99 (distcrond minus reference),
# their median and a 95% bootstrap confidence interval of that median
# (10,000 resamples of the rounds, fixed seed), and the p99 of all rounds
# pooled.  Each line also gives the scheduler's own CPU time per run (its
# children excluded), a figure much steadier than latency.  DC_DAEMON_ARGS
# adds flags to distcrond's command line (split on blanks), e.g.
# "--es-host 127.0.0.1 --es-port PORT" (bench/reports.sh).
#   usage: bench/lateness.sh [JOBS] [SECONDS] [ROUNDS]
. "$(dirname "$0")/common.sh"
JOBS=${1:-1000}
SECS=${2:-10}
ROUNDS=${3:-10}

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
	    ${DC_DAEMON_ARGS:-} 2>"$W/daemon.log" &
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

# run_one WHO R: one measurement of WHO (d: distcrond, i: ideal loop,
# c: ideal loop with capture) into $W/WHO$R.txt.
run_one() {
	case $1 in
	d) daemon_round "$W/d$2.txt" ;;
	i) "$W/ideal_loop" "$JOBS" "$SECS" >"$W/i$2.txt" 2>"$W/i$2.txt.cpu" ;;
	c) "$W/ideal_loop" "$JOBS" "$SECS" capture >"$W/c$2.txt" 2>"$W/c$2.txt.cpu" ;;
	esac
}

echo "== $JOBS jobs every second, ${SECS}s per measurement, $ROUNDS rounds"
echo "   (distcrond at its default scheduler_nice, the ideal loops at nice $(nice))"
[ -z "${DC_DAEMON_ARGS:-}" ] || echo "   (distcrond with $DC_DAEMON_ARGS)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	case $((r % 3)) in
	1) order="d i c" ;;
	2) order="i c d" ;;
	0) order="c d i" ;;
	esac
	for who in $order; do
		run_one "$who" "$r"
	done
	echo "round $r ($order) distcrond   (ms): $(percentiles "$W/d$r.txt")  $(cat "$W/d$r.txt.cpu")"
	echo "round $r ($order) ideal loop  (ms): $(percentiles "$W/i$r.txt")  $(cat "$W/i$r.txt.cpu")"
	echo "round $r ($order) ideal+capture   : $(percentiles "$W/c$r.txt")  $(cat "$W/c$r.txt.cpu")"
	r=$((r + 1))
done
python3 - "$W" "$ROUNDS" <<'PY'
import random, statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
def load(who, r):
    return sorted(float(x) for x in open("%s/%s%d.txt" % (w, who, r)) if x.strip())
def p99(v):
    return v[min(len(v) - 1, int(round(.99 * (len(v) - 1))))]
rounds = {who: [load(who, r) for r in range(1, n + 1)] for who in "dic"}
rng = random.Random(1)
for ref, name in (("i", "ideal loop"), ("c", "ideal loop + capture")):
    diffs = [p99(d) - p99(x) for d, x in zip(rounds["d"], rounds[ref])]
    med = statistics.median(diffs)
    boot = sorted(statistics.median(rng.choices(diffs, k=len(diffs)))
                  for _ in range(10000))
    lo, hi = boot[249], boot[9749]
    print("p99 distcrond - %s, per round: %s ms" % (name, ", ".join("%+.1f" % x for x in diffs)))
    print("  median %+.1f ms, 95%% CI [%+.1f, %+.1f] ms" % (med, lo, hi))
for who, name in (("d", "distcrond"), ("i", "ideal loop"), ("c", "ideal loop + capture")):
    allv = sorted(x for v in rounds[who] for x in v)
    print("all rounds pooled, %-21s p50 %.1f ms, p99 %.1f ms (n=%d)"
          % (name + ":", allv[len(allv) // 2], p99(allv), len(allv)))
PY
