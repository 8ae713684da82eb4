#!/bin/sh
# The web dashboard at scale: distcrond (built from this tree) with 1,000
# jobs and 10,000 runs in its store, and ROUNDS (default 5) rounds of
# headless Debian chromium driven by playwright-core (bench/ui.mjs), a
# fresh browser context (nothing cached) for each view of each round:
# the jobs view (every job, through the API's pages), the runs view (its
# first page), a job's page with its last 50 runs and a run's page.  Per
# view: time to first render (navigation start to the first data row
# painted), time to interactive (a filter, a status choice or a pager
# click applied and painted), one refresh cycle with nothing changed (and
# the HTTP statuses it got: 304 when the API sends ETags) and the JS heap.
# The floor, in the same rounds: the same chromium loading a static page
# from python3's http.server on loopback that holds the 1,000 jobs
# pre-rendered in the same table (same columns, the dashboard's style.css,
# a ten-line filter script), measured the same way; and the same page
# holding only the first 100 rows, as many as the jobs view draws at once.
# Seeding: the jobs (every tenth runs /bin/false, the others /bin/true, on
# one local node) are due only on 1 January, so nothing fires while
# measuring; their 10,000 runs are started with POST /jobs/NAME/run (100
# for j0000, whose page then has older runs, about 10 for each other job),
# pipelined on 4 connections (bench/burst.py), and waited for in the store
# (SEED_TIMEOUT, default 180 s); only then does measuring start.
#   usage: [ROUNDS=N] [SEED_TIMEOUT=S] bench/ui.sh
. "$(dirname "$0")/common.sh"
ROUNDS=${ROUNDS:-5}
SEED_TIMEOUT=${SEED_TIMEOUT:-180}
JOBS=1000
RUNS=10000
command -v node >/dev/null || dc_install nodejs npm
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || dc_install chromium
dc_ui_deps
MODULES=$DC_TOP/tests/ui/node_modules
[ -d "$MODULES/playwright-core" ] || {
	echo "error: no playwright-core in $MODULES (cd tests/ui && npm ci)" >&2
	exit 1
}
floor_pid=
trap '[ -n "$bench_pid" ] && kill -9 $bench_pid 2>/dev/null
[ -n "$floor_pid" ] && kill $floor_pid 2>/dev/null; rm -rf "$W"' EXIT

S=$W/state
mkdir -p "$W/jobs" "$W/nodes" "$S" "$W/floor"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
python3 - "$W/jobs" "$JOBS" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "j%04d.json" % i), "w") as f:
        f.write('{"description": "bench job %d", "policy": {"hosts": "any", '
                '"roles": ["bench"]}, "schedule": {"cron": "0 0 1 1 *", '
                '"timezone": "UTC"}, "concurrency": "allow", '
                '"command": ["%s"]}\n' % (i, "/bin/false" if i % 10 == 9 else "/bin/true"))
PY
daemon_start "$W/jobs" "$W/nodes" "$S"

echo "== seeding: $JOBS jobs (due 1 January only), $RUNS runs through POST /jobs/NAME/run"
python3 - "$JOBS" "$RUNS" >"$W/posts" <<'PY'
import sys
jobs, runs = int(sys.argv[1]), int(sys.argv[2])
for i in range(runs):
    print("j0000" if i < 100 else "j%04d" % (1 + (i - 100) % (jobs - 1)))
PY
# shellcheck disable=SC2046
set -- $(python3 "$DC_TOP/bench/burst.py" post "$URL" "$TOKEN" 4 $(cat "$W/posts"))
t0=$1
echo "   POSTs answered in $2 s, $3 not 202"
# shellcheck disable=SC2046
set -- $(python3 "$DC_TOP/bench/burst.py" wait "$S/distcron.db" burst "$t0" "$RUNS" "$SEED_TIMEOUT")
echo "   $1 of $2 runs ended, the last $3 s after the first POST ($4 not succeeded: the /bin/false jobs)"
[ "$1" -ge "$RUNS" ] || { echo "error: the seeding did not end within $SEED_TIMEOUT s" >&2; exit 1; }
sleep 1		# the last runs' rows saved

# The floor: the same 1,000 jobs as the API gives them, pre-rendered.
curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/jobs?limit=1000" >"$W/jobs.json"
cp "$DC_SRC/ui/style.css" "$W/floor/"
python3 "$DC_TOP/bench/ui_floor.py" "$W/jobs.json" "$W/floor"
FPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$FPORT" --bind 127.0.0.1 --directory "$W/floor" \
    >"$W/floor.log" 2>&1 &
floor_pid=$!
n=0
until curl -fsS "http://127.0.0.1:$FPORT/index.html" >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -gt 100 ] && { echo "error: no http.server on $FPORT" >&2; exit 1; }
	sleep 0.1
done
RUN=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/runs?limit=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["runs"][0]["id"])')

echo "== $ROUNDS rounds, headless $("$CHROMIUM" --version 2>/dev/null | head -1)," \
    "a fresh context per view and round; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
DC_UI_MODULES=$MODULES CHROMIUM=$CHROMIUM node "$DC_TOP/bench/ui.mjs" \
    "$URL" "$TOKEN" "http://127.0.0.1:$FPORT/" "$ROUNDS" j0000 "$RUN"
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
kill $floor_pid
floor_pid=
kill -TERM $bench_pid
wait $bench_pid || true
bench_pid=
