#!/bin/sh
# api.sh - the REST API of the real daemon, driven with curl (and
# distcronctl): auth, every endpoint and error status, hostile names and
# bodies, concurrent PUTs of one job, pause/resume, manual runs, tasks,
# cancel, a job created through the API surviving a restart (it is a file),
# and no token in the log.
. "$top_srcdir/tests/integration/lib.sh"

api_setup

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
READ_TOKEN=read-only-token-for-api-sh
api_daemon_start --api-read-token "$READ_TOKEN"
check "daemon starts and listens" test -n "$PORT"
check "api.token generated with mode 0600" \
    test "$(stat -c %a "$S/api.token")" = 600
check "the log says where the token is, not what it is" sh -c "
    grep -q 'api.token' '$T/daemon.log' && ! grep -qF '$TOKEN' '$T/daemon.log'"

# ---- auth ----
noauth GET /health
check "GET /health needs no token" status_is 200
noauth GET /jobs
check "GET /jobs without a token: 401" status_is 401
check "  with a JSON error" body "'error' in b"
noauth GET /jobs -H "Authorization: Bearer wrong-token"
check "GET /jobs with a wrong token: 401" status_is 401
noauth DELETE /jobs/x -H "Authorization: Bearer $TOKEN-x"
check "DELETE with a token that only starts right: 401" status_is 401
req GET /
check "GET / links" body "'jobs' in b['links']"
check "  and the full token's access" body "b['access'] == 'full'"
noauth GET / -H "Authorization: Bearer $READ_TOKEN"
check "GET / with the read-only token: access read" body \
    "b['access'] == 'read' and 'jobs' in b['links']"

# ---- jobs ----
cat >"$T/hello.json" <<'X'
{"description": "made through the API", "policy": {"roles": ["worker"]},
 "schedule": "* * * * * *", "command": ["echo", "hello"]}
X
req PUT /jobs/hello "$T/hello.json"
check "PUT a new job: 201" status_is 201
check "  created: true" body "b['created'] is True"
check "  the job is a file in the jobs dir" cmp "$T/hello.json" "$J/hello.json"
req GET /jobs
check "GET /jobs lists it at once" body \
    "any(j['name'] == 'hello' and j['schedule'] and j['paused'] is False for j in b['jobs'])"
req PUT /jobs/hello "$T/hello.json"
check "PUT again replaces: 200, created false" sh -c \
    "test $code = 200 && python3 -c \"import json,sys; sys.exit(json.load(open('$T/body'))['created'] is not False)\""
req GET /jobs/hello
check "GET /jobs/hello: definition and state" body \
    "b['definition']['description'] == 'made through the API' and 'next_run' in b['state']"
req GET /jobs/nope
check "GET an unknown job: 404" status_is 404
cat >"$T/bad.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": {"cron": "0 0 32 * *"}, "command": ["true"]}
X
req PUT /jobs/bad "$T/bad.json"
check "PUT an invalid job: 422" status_is 422
check "  naming the field and the reason" body \
    "b['field'] == 'schedule.cron' and 'day-of-month' in b['error']"
check "  and no file is written" test ! -e "$J/bad.json"
# GET /jobs pages: limit=1 and after, followed until next_after is null,
# walks every job once, in name order
for j in pg-c pg-a pg-b; do
	req PUT "/jobs/$j" "$T/hello.json"
done
req GET "/jobs?limit=2"
check "GET /jobs?limit=2: two jobs and where the next page starts" body \
    "len(b['jobs']) == 2 and b['next_after'] == b['jobs'][1]['name']"
check "the walk by pages of one: every job once, in name order" python3 -c "
import json, sys, urllib.request as u
names, after = [], None
for _ in range(20):
    q = '/jobs?limit=1' + ('&after=' + after if after else '')
    r = u.Request('$URL' + q, headers={'Authorization': 'Bearer $TOKEN'})
    b = json.load(u.urlopen(r, timeout=5))
    assert len(b['jobs']) <= 1
    names += [j['name'] for j in b['jobs']]
    after = b['next_after']
    if after is None:
        break
sys.exit(names != ['hello', 'pg-a', 'pg-b', 'pg-c'])"
req GET "/jobs?after=pg-c"
check "GET /jobs after the last job: none, no next page" body \
    "b['jobs'] == [] and b['next_after'] is None"
req GET "/jobs?limit=1001"
check "GET /jobs?limit=1001: 400 naming limit" sh -c \
    "test $code = 400 && grep -q '\"field\": *\"limit\"' '$T/body'"
run "$ctl" --url "$URL" --token "$TOKEN" jobs
check "distcronctl jobs lists them" sh -c "grep -q '^pg-a ' '$T/out' &&
    grep -q '^pg-c ' '$T/out' && grep -q '^hello ' '$T/out'"
for j in pg-a pg-b pg-c; do
	req DELETE "/jobs/$j"
done

printf 'not json {' >"$T/garbage"
req PUT /jobs/bad "$T/garbage"
check "PUT a body that is not JSON: 400 or 422" sh -c "test $code = 400 || test $code = 422"
python3 -c "print('{\"x\": \"' + 'a' * 2000000 + '\"}')" >"$T/huge"
req PUT /jobs/huge "$T/huge"
check "PUT a 2 MB body: 413" status_is 413
python3 -c "print('{\"x\": \"' + 'a' * 5000000 + '\"}')" >"$T/huge"
req PUT /jobs/huge "$T/huge" -H 'Transfer-Encoding: chunked'
check "PUT a 5 MB chunked body: 413 too" status_is 413
check "  naming the cap" body "'over 1048576 bytes' in b['error']"
# past 64 MiB of dropped body the daemon stops reading: the connection is cut
head -c 70000000 /dev/zero >"$T/endless"
req PUT /jobs/huge "$T/endless" -H 'Transfer-Encoding: chunked'
# (curl shows 100 when its "Expect: 100-continue" was the last answer)
check "PUT a 70 MB chunked body: cut without a final answer" test "$code" -lt 200
req GET /health
check "  the daemon still answers" status_is 200
rm -f "$T/endless"
for p in '/jobs/..' '/jobs/a%2Fb' '/jobs/%2e%2e%2fetc' '/jobs/a%00b' \
    "/jobs/$(python3 -c "print('x' * 300)")"; do
	req GET "$p" --path-as-is
	check "hostile name $(printf '%.20s' "$p"): 400 or 404" sh -c \
	    "test $code = 400 || test $code = 404"
done
req POST /jobs/hello
check "wrong method: 405" status_is 405

# ---- concurrent PUTs of one job ----
for i in 1 2 3 4 5 6 7 8; do
	printf '{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "command": ["echo", "v%s"]}' \
	    "$i" >"$T/v$i.json"
done
pids=
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o /dev/null -w '%{http_code}\n' -X PUT \
	    -H "Authorization: Bearer $TOKEN" --data-binary @"$T/v$i.json" \
	    "$URL/jobs/racy" >>"$T/racy.codes" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
check "8 concurrent PUTs of one job all succeed" sh -c \
    "test \$(grep -c -E '^20[01]$' '$T/racy.codes') -eq 8"
check "  the file is one of them, whole" sh -c "
    for i in 1 2 3 4 5 6 7 8; do cmp -s '$T/v'\$i.json '$J/racy.json' && exit 0; done; exit 1"
check "  no temp file is left" sh -c "! ls -a '$J' | grep -q tmp"

# ---- runs ----
req POST /jobs/racy/run
check "POST /jobs/racy/run: 202" status_is 202
run_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
done_run() { req GET "/runs/$run_id" && body "b['status'] == 'SUCCESS'"; }
check "the manual run succeeds" wait_for 10 done_run
check "  with its output" body "b['items'][0]['output'].startswith('v')"
req GET "/runs?job=hello&limit=3"
check "GET /runs?job=hello&limit=3" body "len(b['runs']) <= 3 and all(r['job'] == 'hello' for r in b['runs'])"
req GET "/runs?limit=abc"
check "a bad query value: 400" status_is 400
req GET "/runs/999999"
check "an unknown run: 404" status_is 404
req GET "/jobs/hello/reports?limit=5"
check "distcrond's reports" body \
    "1 <= len(b['reports']) <= 5 and any(r['success'] and 'milliseconds' in r['duration'] and r['items'][0]['output'] == 'hello\n' for r in b['reports'])"

printf '{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "command": ["sleep", "20"]}' >"$T/sleeper.json"
req PUT /jobs/sleeper "$T/sleeper.json"
req POST /jobs/sleeper/run
sleeper_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
req POST /jobs/sleeper/run
check "a second manual run while one is going (forbid): 409" status_is 409
check "  saying why" body "'in progress' in b['error']"
req DELETE "/runs/$sleeper_id"
check "  and the first one can be cancelled" status_is 202

# ---- pause / resume ----
req POST /jobs/hello/pause
check "pause: 200, paused" body "b['paused'] is True"
sleep 1.2
req GET "/runs?job=hello&limit=1000"
n1=$(python3 -c "import json; print(len(json.load(open('$T/body'))['runs']))")
sleep 2
req GET "/runs?job=hello&limit=1000"
check "a paused job does not run" body "len(b['runs']) == $n1"
req POST /jobs/hello/resume
check "resume: 200, not paused" body "b['paused'] is False"
more_runs() { req GET "/runs?job=hello&limit=1000" && body "len(b['runs']) > $n1"; }
check "a resumed job runs again" wait_for 5 more_runs

# ---- tasks and cancel ----
printf '{"command": ["echo", "from a task"], "policy": {"roles": ["worker"]}}' >"$T/task.json"
req POST /tasks "$T/task.json"
check "POST /tasks: 202" status_is 202
task_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
task_done() { req GET "/runs/$task_id" && body "b['status'] == 'SUCCESS'"; }
check "the task runs once" wait_for 10 task_done
check "  with its output" body "b['items'][0]['output'] == 'from a task\n'"
printf '{"command": ["sleep", "30"], "policy": {"roles": ["worker"]}}' >"$T/sleep.json"
req POST /tasks "$T/sleep.json"
sleep_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
sleep 0.5
req DELETE "/runs/$sleep_id"
check "DELETE /runs/ID of a running task: 202" status_is 202
cancelled() { req GET "/runs/$sleep_id" && body "b['status'] == 'FAILURE' and 'cancelled' in b['reason']"; }
check "  the run ends as cancelled" wait_for 10 cancelled
req DELETE "/runs/$sleep_id"
check "cancelling a finished run: 409" status_is 409
printf '{"http": {"url": "%s/health"}}' "$URL" >"$T/httptask.json"
req POST /tasks "$T/httptask.json"
http_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
http_done() { req GET "/runs/$http_id" && body "b['status'] == 'SUCCESS'"; }
check "an HTTP task (to the API's own /health) succeeds" wait_for 10 http_done
check "  with the status as its exit code" body "b['items'][0]['exit_code'] == 200"
printf '{"policy": {"roles": ["worker"]}}' >"$T/notask.json"
req POST /tasks "$T/notask.json"
check "a task without a command: 422" status_is 422

# ---- nodes, monitor, metrics ----
req GET /nodes
check "GET /nodes: the local node is up" body \
    "b['nodes'][0]['name'] == 'local' and b['nodes'][0]['status'] == 'up'"
req GET /nodes/local
check "GET /nodes/local" body "b['connection_type'] == 'local'"
req GET /monitor
check "GET /monitor" body "b['rss_bytes'] > 0 and b['threads'] >= 2 and b['jobs'] >= 2 and b['uptime_s'] >= 0 and b['cpu_user_s'] + b['cpu_system_s'] > 0 and b['runs_in_flight'] >= 0 and b['store_queue'] >= 0"
check "  its outbox: the webhook, Slack and AMQP sinks (no Elasticsearch, no e-mail without SMTP), empty" \
    body "sorted(b['outbox']) == ['amqp', 'slack', 'webhook'] and all(s['depth'] == 0 and s['parked'] == 0 for s in b['outbox'].values())"
req GET /outbox
check "GET /outbox: nothing parked" body "b == {'parked': []}"
printf '{"all": true}' >"$T/retry.json"
req POST /outbox/retry "$T/retry.json"
check "POST /outbox/retry all: none re-queued" body \
    "b == {'requeued': 0}"
printf '{"id": 3}' >"$T/retry.json"
req POST /outbox/retry "$T/retry.json"
check "POST /outbox/retry of an id that is not parked: 404" status_is 404
printf '{"id": "3"}' >"$T/retry.json"
req POST /outbox/retry "$T/retry.json"
check "POST /outbox/retry with a string id: 422" status_is 422
req GET /metrics
check "GET /metrics: Prometheus text" sh -c "
    grep -q '^distcron_runs_total{status=\"SUCCESS\"}' '$T/body' &&
    grep -q '^distcron_trigger_lateness_seconds_bucket' '$T/body' &&
    grep -q '^distcron_node_up{node=\"local\"} 1' '$T/body' &&
    grep -q '^distcron_jobs_last_status{status=\"SUCCESS\"} [1-9]' '$T/body' &&
    grep -q '^distcron_run_duration_seconds_bucket' '$T/body' &&
    grep -q '^distcron_runs_in_flight [0-9]' '$T/body' &&
    grep -q '^distcron_store_queue_depth [0-9]' '$T/body'"
check "  the store's queue is not called an outbox: that name is the outbox's own families" \
    sh -c "! grep -i outbox '$T/body' | grep -v '^# [A-Z]* distcron_outbox_' | grep -qv '^distcron_outbox_' &&
    grep -q '^distcron_outbox_depth{sink=\"webhook\"} 0' '$T/body'"

# ---- delete ----
req DELETE /jobs/racy
check "DELETE /jobs/racy: 200" status_is 200
check "  the file is gone" test ! -e "$J/racy.json"
req GET /jobs/racy
check "  and the job too" status_is 404

# ---- distcronctl over the API ----
printf '{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "command": ["echo", "hello by hand"]}' >"$T/byhand.json"
req PUT /jobs/byhand "$T/byhand.json"
run "$ctl" run byhand --wait --url "$URL" --token "$TOKEN"
check "distcronctl run --wait exits 0 for a good run" test "$rc" -eq 0
check "  and shows the node's output" contains "$T/out" "hello by hand"
check "distcronctl output has no token" sh -c "! grep -qF '$TOKEN' '$T/out' '$T/err'"
# The client's own suite (written against the API contract) on the real
# daemon instead of its double.
CTL_API_URL=$URL CTL_API_TOKEN=$TOKEN CTL_API_NODE=local \
    sh "$top_srcdir/tests/integration/ctl_api.sh" >"$T/ctl_api.out" 2>&1
rc=$?
check "ctl_api.sh passes against the real daemon" test "$rc" -eq 0
[ "$rc" -eq 0 ] || grep -E '^FAIL|^  \|' "$T/ctl_api.out" | head -30

# ---- restart: the API's job is a file ----
api_daemon_stop
check "SIGTERM exits 0" test "$stop_rc" -eq 0
api_daemon_start
req GET /jobs/hello
check "after a restart the job made through the API is there" status_is 200
check "  and still paused? no: it was resumed" body "b['state']['paused'] is False"
api_daemon_stop
check "no token in the log" sh -c "! grep -qF '$TOKEN' '$T/daemon.log'"
finish
