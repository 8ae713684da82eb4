#!/bin/sh
# Trigger lateness: JOBS jobs (default 1000) due every second run /bin/true
# for SECONDS (default 20).  Lateness = start of the run (just before
# posix_spawn, as recorded in the store) minus its scheduled second.
# Compared in the same run with bench/ideal_loop.c, which sleeps to each
# second and spawns the same commands, bare and with the pipes, process
# group and pidfd that capturing output takes.
#   usage: bench/lateness.sh [JOBS] [SECONDS]
. "$(dirname "$0")/common.sh"
JOBS=${1:-1000}
SECS=${2:-20}

mkdir -p "$W/jobs" "$W/nodes" "$W/state"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
i=0
while [ "$i" -lt "$JOBS" ]; do
	printf '{"policy": {"roles": ["bench"]}, "schedule": "* * * * * *", "command": ["/bin/true"]}\n' \
	    >"$W/jobs/j$i.json"
	i=$((i + 1))
done

echo "== distcrond: $JOBS jobs every second for ${SECS}s"
"$B/distcrond" --config /dev/null --jobs-dir "$W/jobs" --nodes-dir "$W/nodes" \
    --state-dir "$W/state" --log-level warn 2>"$W/daemon.log" &
bench_pid=$!
sleep 3		# load, and let the first seconds settle
t0=$(date +%s)
sleep "$SECS"
kill -TERM $bench_pid
wait $bench_pid || true
bench_pid=
# Runs whose tick fell inside the measured window.
python3 - "$W/state/distcron.db" "$t0" "$SECS" >"$W/d.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
t0, n = int(sys.argv[2]), int(sys.argv[3])
for (l,) in db.execute(
        "SELECT i.started_ms - r.scheduled_at * 1000 FROM run_items i "
        "JOIN runs r ON r.id = i.run_id WHERE r.scheduled_at >= ? AND "
        "r.scheduled_at < ? AND i.started_ms > 0", (t0, t0 + n)):
    print(l)
PY
echo "distcrond  lateness ms: $(percentiles "$W/d.txt")  (expected $((JOBS * SECS)) runs)"

cc $DC_CFLAGS -o "$W/ideal_loop" "$DC_TOP/bench/ideal_loop.c"
"$W/ideal_loop" "$JOBS" "$SECS" >"$W/i.txt"
echo "ideal loop lateness ms: $(percentiles "$W/i.txt")"
"$W/ideal_loop" "$JOBS" "$SECS" capture >"$W/c.txt"
echo "ideal loop + capture  : $(percentiles "$W/c.txt")"
