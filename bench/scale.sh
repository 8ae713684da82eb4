#!/bin/sh
# Scale: JOBS job files (default 100,000; 1000000 works: they are made in
# a temporary directory and removed at the end), each hourly at a minute
# half an hour away (so none fires while measuring).  Reports the time
# distcrond takes to load them (its own log line), the time until it is
# scheduling and the CPU time it used until then (the machine may be
# shared), its RSS and the bytes per job (RSS less that of the same daemon
# with no job, over JOBS), its CPU time over IDLE seconds (default 60) of
# idling, and what the API costs at that size: distcronctl jobs following
# every page of GET /jobs, and the lines of one /metrics.
# For comparison, the same figures of cron-like peers are not meaningful
# (none loads JSON); the reference is the time to merely cat the files.
# The load is measured LOAD_ROUNDS times (default 3), each start after a
# run of the floor on 2 threads (the first right after the files were
# written and read once by cat).
# Then the incremental reloads at JOBS jobs (bench/incr.py says how): PUT
# /jobs/x answered (PUTS of them, default 200), SIGHUP with nothing changed,
# SIGUSR2 (every file), one file changed to its reload line (inotify).  With
# SCALE_BEFORE set to another build directory (e.g. main's), its daemon is
# measured the same way first, with PUTS_BEFORE (default 10) PUTs.
#   usage: [SCALE_BEFORE=DIR] [LOAD_ROUNDS=N] bench/scale.sh [JOBS] [IDLE]
. "$(dirname "$0")/common.sh"
JOBS=${1:-100000}
IDLE=${2:-60}

mkdir -p "$W/jobs" "$W/nodes" "$W/state"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
minute=$(( ($(date -u +%M | sed 's/^0//') + 30) % 60 ))
python3 - "$W/jobs" "$JOBS" "$minute" <<'PY'
import os, sys
d, n, m = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    with open(os.path.join(d, "job%06d.json" % i), "w") as f:
        f.write('{"description": "bench job %d", "policy": {"hosts": "any", '
                '"roles": ["bench"]}, "schedule": {"cron": "%s * * * *", '
                '"timezone": "UTC"}, "command": ["/bin/true", "%d"]}\n' % (i, m, i))
PY
sync
t=$(python3 -c 'import time; print(time.time())')
find "$W/jobs" -name "*.json" -print0 | xargs -0 cat >/dev/null
echo "reference: cat of $JOBS files: $(python3 -c "import time; print('%.2f s' % (time.time() - $t))")"
cc -Wall $DC_CFLAGS -o "$W/loadfloor" "$DC_TOP/bench/loadfloor.c" $DC_LIBS
for n in 1 2; do echo "reference: $("$W/loadfloor" "$W/jobs" $n)"; done

# start_daemon JOBS_DIR: distcrond on it (the API on a free loopback port),
# its log in $W/daemon.log; sets bench_pid and start.
start_daemon() {
	rm -rf "$W/state"
	mkdir -p "$W/state"
	: >"$W/daemon.log"
	start=$(python3 -c 'import time; print(time.time())')
	"$B/distcrond" --config /dev/null --listen 127.0.0.1:0 --jobs-dir "$1" \
	    --nodes-dir "$W/nodes" --state-dir "$W/state" --log-level info \
	    2>"$W/daemon.log" &
	bench_pid=$!
}
stop_daemon() {
	kill -TERM $bench_pid; wait $bench_pid || true; bench_pid=
}
rss_kib() { awk '/VmRSS/ {print $2}' /proc/$bench_pid/status; }
cpu_ticks() { awk '{print $14 + $15}' /proc/$bench_pid/stat; }
hz=$(getconf CLK_TCK)

# the same daemon without jobs: what RSS is not the jobs'
mkdir -p "$W/empty"
start_daemon "$W/empty"
while ! grep -q "API listening" "$W/daemon.log"; do sleep 0.05; done
sleep 1
rss0=$(rss_kib)
stop_daemon

# LOAD_ROUNDS starts on the same files (default 3), each after the floor
# on 2 threads, so that the spread between starts shows beside the
# floor's; the last start's daemon stays for the figures that follow.
round=1
while :; do
	[ "$round" -gt 1 ] &&
	    echo "reference, round $round: $("$W/loadfloor" "$W/jobs" 2)"
	start_daemon "$W/jobs"
	while ! grep -q "jobs, .* nodes" "$W/daemon.log"; do sleep 0.05; done
	loaded=$(python3 -c "import time; print('%.2f' % (time.time() - $start))")
	while ! grep -q "scheduling" "$W/daemon.log"; do sleep 0.05; done
	ready=$(python3 -c "import time; print('%.2f' % (time.time() - $start))")
	cpu_ready=$(cpu_ticks)
	echo "distcrond, round $round: definitions loaded after ${loaded} s; scheduling after ${ready} s, $(python3 -c "print('%.2f' % ($cpu_ready / $hz))") s of CPU until then"
	[ "$round" -ge "${LOAD_ROUNDS:-3}" ] && break
	stop_daemon
	round=$((round + 1))
done
while ! grep -q "API listening" "$W/daemon.log"; do sleep 0.05; done
sleep 2
rss=$(rss_kib)
cpu0=$(cpu_ticks)
sleep "$IDLE"
cpu1=$(cpu_ticks)
port=$(sed -n 's/.*API listening on .* (port \([0-9]*\)[,)].*/\1/p' "$W/daemon.log" | tail -n 1)
t=$(python3 -c 'import time; print(time.time())')
"$B/distcronctl" --url "http://127.0.0.1:$port" --token "$(cat "$W/state/api.token")" \
    jobs >"$W/listed"
listed=$(python3 -c "import time; print('%.2f' % (time.time() - $t))")
metrics=$(curl -s -H "Authorization: Bearer $(cat "$W/state/api.token")" \
    "http://127.0.0.1:$port/metrics" | wc -l)
echo "command: bench/scale.sh $JOBS $IDLE (load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "distcrond: $(grep -o '[0-9]* jobs, [0-9]* nodes' "$W/daemon.log" | head -1)"
echo "distcrond: definitions loaded after ${loaded} s; scheduling after ${ready} s, $(python3 -c "print('%.2f' % ($cpu_ready / $hz))") s of CPU until then"
echo "distcrond: RSS $((rss / 1024)) MiB ($((rss0 / 1024)) MiB with no job): $(( (rss - rss0) * 1024 / JOBS )) bytes per job"
python3 -c "print('distcrond: CPU over %d s idle: %.2f s (%.3f%%)' % ($IDLE, ($cpu1 - $cpu0) / $hz, 100.0 * ($cpu1 - $cpu0) / $hz / $IDLE))"
echo "distcronctl jobs (every page of GET /jobs): $(($(wc -l <"$W/listed") - 1)) jobs in ${listed} s; GET /metrics: $metrics lines"
stop_daemon

echo "incremental reloads at $JOBS jobs (client: Python http.client, one keep-alive connection):"
if [ -n "${SCALE_BEFORE:-}" ]; then
	python3 "$DC_TOP/bench/incr.py" "$SCALE_BEFORE/distcrond" "$W/jobs" \
	    "$W/nodes" "$W/state-before" before "${PUTS_BEFORE:-10}" 5 no
fi
python3 "$DC_TOP/bench/incr.py" "$B/distcrond" "$W/jobs" "$W/nodes" \
    "$W/state-incr" distcrond "${PUTS:-200}" 20 yes
