#!/bin/sh
# REST API throughput under scheduling load: distcrond runs JOBS jobs
# (default 100) due every second (/bin/true on a local node) while wrk
# drives the API on loopback for SECONDS (default 10) per endpoint:
# GET /health (no auth), GET /jobs (the daemon's backend) and
# GET /runs?limit=20 (the server's own store reads), first as fast as wrk
# can go (saturation: wrk, the API and the runs share the two cores), then
# paced near RATE requests/s (default 20000: PACE connections, each waiting
# 1 ms after every answer, a wrk script; wrk prints the rate it reached).
# Prints wrk's requests/s and latency percentiles, and the trigger lateness
# (start of a run minus its scheduled second, read from the store as
# bench/lateness.sh does, at millisecond precision) in a quiet window of
# the same length before the load, under saturation and under the paced load.
#   usage: bench/api.sh [JOBS] [SECONDS] [RATE]
. "$(dirname "$0")/common.sh"
dc_install wrk curl
JOBS=${1:-100}
SECS=${2:-10}
RATE=${3:-20000}
PACE=$(( (RATE + 649) / 650 ))	# 650-700 req/s per connection here
WRK_NICE=${WRK_NICE:-0}	# 10: wrk yields to the daemon like a remote client would
# wrk's connections all come from 127.0.0.1: allow them all (api_conn_per_ip)
PER_IP=$(( PACE > 56 ? PACE + 8 : 64 ))
S=$W/state

mkdir -p "$W/jobs" "$W/nodes" "$S"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
i=0
while [ "$i" -lt "$JOBS" ]; do
	printf '{"policy": {"roles": ["bench"]}, "schedule": "* * * * * *", "command": ["/bin/true"]}\n' \
	    >"$W/jobs/j$i.json"
	i=$((i + 1))
done
daemon_start "$W/jobs" "$W/nodes" "$S" --api-conn-per-ip "$PER_IP"
AUTH="Authorization: Bearer $TOKEN"

# lateness T0 T1: "n=.. p50=.. p99=.. max=.." of the runs due in [T0, T1).
lateness() {
	python3 - "$S/distcron.db" "$1" "$2" >"$W/late.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for (l,) in db.execute(
        "SELECT i.started_ms - r.scheduled_at * 1000 FROM run_items i "
        "JOIN runs r ON r.id = i.run_id WHERE r.scheduled_at >= ? AND "
        "r.scheduled_at < ? AND i.started_ms > 0",
        (int(sys.argv[2]), int(sys.argv[3]))):
    print(l)
PY
	percentiles "$W/late.txt"
}

echo 'delay = function() return 1 end' >"$W/pace.lua"

# load NAME CONNS PATH [HEADER]: wrk with CONNS connections for SECS on
# PATH (paced with WRK_SCRIPT set); prints req/s and latency.
WRK_SCRIPT=
load() {
	name=$1
	conns=$2
	path=$3
	shift 3
	nice -n "$WRK_NICE" wrk -t2 -c"$conns" -d"${SECS}s" --latency \
	    ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} ${1:+-H "$1"} "$URL$path" >"$W/wrk.txt" 2>&1
	rps=$(sed -n 's/^Requests\/sec: *//p' "$W/wrk.txt")
	p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.txt")
	p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.txt")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$W/wrk.txt")
	printf '%-22s %10s req/s  p50 %-9s p99 %-9s non-2xx %s\n' "$name" \
	    "${rps:-?}" "${p50:-?}" "${p99:-?}" "${non2xx:-0}"
}

echo "== $JOBS jobs every second; wrk -t2 -d${SECS}s per endpoint on $URL"
sleep 2		# let loading and the first ticks settle
q0=$(date +%s)
sleep "$SECS"
q1=$(date +%s)
t0=$(date +%s)
load "GET /health   -c10" 10 /health
load "GET /health   -c50" 50 /health
load "GET /jobs     -c10" 10 /jobs "$AUTH"
load "GET /runs?limit=20 -c10" 10 "/runs?limit=20" "$AUTH"
t1=$(date +%s)
echo "== paced: $PACE connections, 1 ms between a connection's requests (~$RATE req/s)"
WRK_SCRIPT=$W/pace.lua
p0=$(date +%s)
load "GET /health   -c$PACE" "$PACE" /health
load "GET /jobs     -c$PACE" "$PACE" /jobs "$AUTH"
p1=$(date +%s)
sleep 2		# runs due near the end get recorded
echo "lateness, quiet         (ms): $(lateness "$q0" "$q1")"
echo "lateness, saturated API (ms): $(lateness "$t0" "$t1")"
echo "lateness, paced API     (ms): $(lateness "$p0" "$p1")"
kill -TERM $bench_pid
wait $bench_pid || true
bench_pid=
