#!/bin/sh
# reports.sh - run reports reach Elasticsearch through the durable outbox,
# each exactly once, whatever happens to Elasticsearch or to the daemon:
# an outage from the start, a SIGTERM and a kill -9 during it, then the
# recovery; a document Elasticsearch refuses for good is parked, listed by
# "distcronctl outbox" with the reason and re-queued by "outbox retry".
# Elasticsearch is the protocol double tests/integration/es_double.py (no
# server can be installed here); the checks hold for any server that keeps
# documents by _id.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
python3 "$top_srcdir/tests/integration/es_double.py" \
    --port-file "$T/es.port" >"$T/es.log" 2>&1 &
espid=$!
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; kill "$espid" 2>/dev/null
rm -rf "$T"' EXIT
wait_for 10 test -s "$T/es.port" || { cat "$T/es.log"; exit 99; }
EP=$(cat "$T/es.port")
ES=http://127.0.0.1:$EP

# es_mode JSON: merges JSON into the double's mode.
es_mode() {
	curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" \
	    "$ES/_double/mode" >/dev/null
}
es_docs() { curl -fsS "$ES/_double/docs" >"$T/docs.json"; }

# delivered_once JOB...: the documents are exactly the final runs of the
# jobs (SUCCESS, FAILURE and LOST), one each, under ids ending in the run's
# id, each indexed once, and every _bulk line the double read was valid.
delivered_once() {
	es_docs || return 1
	for j in "$@"; do
		"$ctl" history "$j" --state-dir "$S" -n 1000 --json \
		    >"$T/h_$j.json" 2>/dev/null || return 1
	done
	python3 - "$T" "$@" <<'PY'
import json, sys
t, jobs = sys.argv[1], sys.argv[2:]
d = json.load(open(t + "/docs.json"))
runs = [r for j in jobs for r in json.load(open("%s/h_%s.json" % (t, j)))
        if r["status"] in ("SUCCESS", "FAILURE", "LOST")]
want = sorted("%s:%d" % (r["job"], r["id"]) for r in runs)
got = sorted("%s:%s" % (k.split(":")[0], k.rsplit(":", 1)[1]) for k in d["docs"])
ok = (got == want and not d["violations"] and
      all(v["_version"] == 1 for v in d["docs"].values()))
sys.exit(0 if ok and want else 1)
PY
}

echo '{"roles": ["r"], "connection_type": "local"}' >"$N/local.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": ["/bin/echo", "fine"]}' >"$J/ok.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": "echo bad; exit 3"}' >"$J/bad.json"
ES_ARGS="--es-host 127.0.0.1 --es-port $EP"

# ---- an outage from the start ----
es_mode '{"status": 503}'
api_daemon_start $ES_ARGS
check "reports are queued while Elasticsearch answers 503" \
    wait_for 20 metric_at_least 'distcron_outbox_depth{sink="elasticsearch"}' 3
check "  and retried" \
    wait_for 20 metric_at_least 'distcron_outbox_retried_total{sink="elasticsearch"}' 1
es_docs
check "  nothing indexed yet" python3 -c "
import json, sys; sys.exit(0 if not json.load(open('$T/docs.json'))['docs'] else 1)"
check "with Elasticsearch configured, reports do not stay in SQLite only" \
    sh -c "! grep -q 'reports stay in SQLite' '$T/daemon.log'"

# ---- SIGTERM, then kill -9, during the outage ----
api_daemon_stop
check "SIGTERM during the outage: exit 0" test "$stop_rc" -eq 0
api_daemon_start $ES_ARGS
check "restarted: more runs" wait_for 15 finals_at_least ok 4
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
  "command": ["/bin/sleep", "60"]}' >"$J/long.json"
long_started() { history long && py "any(r['status'] == 'STARTED' for r in h)"; }
check "a long run is going when the daemon is killed" wait_for 10 long_started
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=

# ---- recovery: every report once ----
curl -fsS -X POST "$ES/_double/reset" >/dev/null
api_daemon_start $ES_ARGS
check "restarted after kill -9" wait_for 15 finals_at_least bad 3
rm -f "$J/ok.json" "$J/bad.json" "$J/long.json"
sleep 2		# the reload, and the last runs end
check "after the outage every report is indexed exactly once (ids, count)" \
    wait_for 90 delivered_once ok bad long
check "the run killed with the daemon is reported too (LOST)" python3 -c "
import json, sys
d = json.load(open('$T/docs.json'))['docs'].values()
sys.exit(0 if any(v['_source']['status'] == 'LOST' for v in d) else 1)"
check "documents carry the report's fields" python3 -c "
import json, sys
v = next(v for v in json.load(open('$T/docs.json'))['docs'].values()
         if v['_source']['job'] == 'ok' and v['_source']['status'] == 'SUCCESS')
s = v['_source']
ok = (v['_index'].startswith('distcron-') and s['duration_ms'] >= 0 and
      s['scheduled_at'] and s['items'][0]['output'].strip() == 'fine' and
      s['event'] == 'report' and s['nodes'] == ['local'])
sys.exit(0 if ok else 1)"
check "the index template was installed" python3 -c "
import json, sys
t = json.load(open('$T/docs.json'))['templates']
sys.exit(0 if 'distcron' in t.get('composable', {}) else 1)"
check "the outbox is empty" \
    wait_for 10 test "$(metric 'distcron_outbox_depth{sink="elasticsearch"}')" = 0

# ---- a document refused for good is parked, listed, re-queued ----
es_mode '{"fail_every": 1, "fail_status": 400}'
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
  "command": ["/bin/echo", "once"]}' >"$J/once.json"
check "a mapping error parks the report" \
    wait_for 30 metric_at_least 'distcron_outbox_parked{sink="elasticsearch"}' 1
run "$ctl" outbox --url "$URL" --token "$TOKEN"
check "distcronctl outbox lists it with the server's reason" \
    sh -c "[ $rc -eq 0 ] && grep -q 'once' '$T/out' && grep -q 'mapper_parsing_exception' '$T/out'"
curl -fsS -X POST "$ES/_double/reset" >/dev/null
run "$ctl" outbox retry --all --url "$URL" --token "$TOKEN"
check "distcronctl outbox retry --all re-queues it" \
    sh -c "[ $rc -eq 0 ] && grep -q 're-queued 1 outbox entr' '$T/out'"
check "  and it is indexed" wait_for 30 sh -c "
    curl -fsS '$ES/_double/docs' | grep -q '\"once:'"
api_daemon_stop
check "exit 0" test "$stop_rc" -eq 0
finish
