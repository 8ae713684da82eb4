#!/bin/sh
# scale.sh - many jobs on the real daemon.  /metrics has as many lines with
# 10 jobs as with 1,000 jobs that all have a last run (its series are by
# status, never by job).  With 3,000 jobs, GET /jobs pages through every
# job once, in name order, and distcronctl jobs follows the pages; bad
# after and limit values are refused, naming the parameter and the value.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
echo '{"roles": ["w"], "connection_type": "local"}' >"$N/local.json"

# make_jobs FROM TO: jobs jFROM..jTO-1 (four digits), disabled, so that
# none runs while the test looks.
make_jobs() {
	python3 - "$J" "$1" "$2" <<'PY'
import os, sys
d, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(a, b):
    with open(os.path.join(d, "j%04d.json" % i), "w") as f:
        f.write('{"enabled": false, "policy": {"roles": ["w"]}, '
                '"schedule": "@hourly", "command": ["/bin/true"]}\n')
PY
}

# metrics_lines: the number of lines of /metrics, in $T/metrics.
metrics_lines() {
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" >"$T/metrics"
	wc -l <"$T/metrics"
}

# ---- /metrics: O(statuses), not O(jobs) ----
make_jobs 0 10
api_daemon_start
api_daemon_stop
# every job of the test had a last run, a success (status 4)
python3 -c "
for i in range(3000):
    print(\"INSERT INTO job_state (job, last_run_id, last_status, last_ended_ms) VALUES ('j%04d', %d, 4, 1000);\" % (i, i + 1))
" | sqlite3 "$S/distcron.db"
api_daemon_start
small=$(metrics_lines)
check "10 jobs: /metrics counts the jobs by their last run's status" \
    grep -q '^distcron_jobs_last_status{status="SUCCESS"} 10$' "$T/metrics"
api_daemon_stop
make_jobs 10 1000
api_daemon_start
big=$(metrics_lines)
check "1,000 jobs: as many /metrics lines as with 10 ($small)" \
    test "$big" -eq "$small"
check "  the jobs by their last run's status: 1,000 successes" \
    grep -q '^distcron_jobs_last_status{status="SUCCESS"} 1000$' "$T/metrics"
check "  no series names a job" sh -c "! grep -q 'job=' '$T/metrics'"
api_daemon_stop

# ---- GET /jobs and distcronctl jobs at 3,000 jobs ----
make_jobs 1000 3000
api_daemon_start
python3 - "$URL" "$TOKEN" >"$T/pages" <<'PY'
import json, sys, urllib.request
url, token, after, names, pages = sys.argv[1], sys.argv[2], None, [], 0
while pages < 100:
    q = url + "/jobs?limit=250" + ("&after=" + after if after else "")
    req = urllib.request.Request(q, headers={"Authorization": "Bearer " + token})
    b = json.load(urllib.request.urlopen(req))
    pages += 1
    names += [j["name"] for j in b["jobs"]]
    after = b["next_after"]
    if after is None:
        break
print(pages, len(names), len(set(names)), names == sorted(names),
      names == ["j%04d" % i for i in range(3000)])
PY
check "GET /jobs?limit=250 followed: 12 pages, 3,000 jobs, each once, in name order" \
    test "$(cat "$T/pages")" = "12 3000 3000 True True"
run "$ctl" --url "$URL" --token "$TOKEN" jobs
grep -E '^j[0-9]{4} ' "$T/out" | cut -d' ' -f1 >"$T/listed"
check "distcronctl jobs lists the 3,000 jobs (3 pages of 1,000)" \
    test "$(wc -l <"$T/listed")" -eq 3000
check "  each exactly once" test "$(sort -u "$T/listed" | wc -l)" -eq 3000
check "  j0000 and j2999 among them" sh -c \
    "grep -qx j0000 '$T/listed' && grep -qx j2999 '$T/listed'"
req GET "/jobs?limit=0"
check "GET /jobs?limit=0: 400 naming limit and the range" sh -c \
    "test $code = 400 && grep -q '\"field\": *\"limit\"' '$T/body' &&
    grep -q 'from 1 to 1000' '$T/body'"
req GET "/jobs?limit=ten"
check "GET /jobs?limit=ten: 400" status_is 400
req GET "/jobs?after=-x"
check "GET /jobs?after=-x: 400" status_is 400
check "  naming after and the value" body \
    "b['field'] == 'after' and 'got \"-x\"' in b['error']"
req GET "/jobs?after=j2998&limit=5"
check "GET /jobs?after=j2998: the last job, no next page" body \
    "[j['name'] for j in b['jobs']] == ['j2999'] and b['next_after'] is None"
api_daemon_stop
daemon_log_report "$T/daemon.log"
finish
