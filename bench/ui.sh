#!/bin/sh
# The dashboard with a large store: distcrond with 1,000 jobs, SEED of
# them (default 200, so each has 50 runs) running /bin/true every second until the store holds
# RUNS runs (default 10,000; at most 120 s), then paused so the figures are
# taken on a still store; then ROUNDS (default 5) rounds of headless
# chromium (bench/ui.mjs): time to the jobs view's first row and to a
# filtered table, a job's page with its 50-run timeline, the runs view,
# and the floor: chromium drawing a static page of the same 1,000 rows.
#   usage: bench/ui.sh [ROUNDS] [RUNS] [SEED]
. "$(dirname "$0")/common.sh"
dc_install chromium curl
dc_ui_deps
ROUNDS=${1:-5}
RUNS=${2:-10000}
SEED=${3:-200}
export PLAYWRIGHT=$DC_TOP/tests/ui/node_modules/playwright-core/index.mjs
[ -f "$PLAYWRIGHT" ] || { echo "error: $PLAYWRIGHT missing (npm ci in tests/ui)" >&2; exit 1; }
S=$W/state

mkdir -p "$W/jobs" "$W/nodes" "$S"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
i=0
while [ "$i" -lt 1000 ]; do
	n=$(printf 'j%04d' "$i")
	if [ "$i" -lt "$SEED" ]; then sched='* * * * * *'; else sched='0 0 1 1 *'; fi
	printf '{"description": "bench job %s", "policy": {"roles": ["bench"]}, "schedule": "%s", "command": ["/bin/true"]}\n' \
	    "$i" "$sched" >"$W/jobs/$n.json"
	i=$((i + 1))
done
daemon_start "$W/jobs" "$W/nodes" "$S"
AUTH="Authorization: Bearer $TOKEN"

count() {
	python3 -c "import sqlite3, sys
print(sqlite3.connect('file:$S/distcron.db?mode=ro', uri=True).execute('SELECT count(*) FROM runs').fetchone()[0])"
}
t=0
while [ "$(count)" -lt "$RUNS" ] && [ "$t" -lt 120 ]; do
	sleep 1
	t=$((t + 1))
done
i=0
while [ "$i" -lt "$SEED" ]; do
	curl -fsS -o /dev/null -X POST -H "$AUTH" "$URL/jobs/$(printf 'j%04d' "$i")/pause"
	i=$((i + 1))
done
sleep 2
echo "store: $(count) runs after ${t} s, 1000 jobs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
node "$DC_TOP/bench/ui.mjs" "$URL" "$TOKEN" "$ROUNDS" j0001
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
