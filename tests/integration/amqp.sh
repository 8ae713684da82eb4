#!/bin/sh
# amqp.sh - AMQP jobs against a real RabbitMQ broker (amqp_lib.sh): HACron's
# tick every second with its exact fields, a message with headers and
# persistence received as sent, a missing exchange and wrong credentials
# (FAILURE with the broker's reason, the password nowhere), a broker that
# never answers (the run ends at its timeout), the amqp
# notification channel publishing a failure's report, a broker
# stopped (the run fails at once with a connect error, not at its timeout)
# and started again (the next tick is published on a reopened connection),
# and connections the broker closes (the next tick opens a new one).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/amqp_lib.sh"
api_setup
amqp_require
amqp_start
trap 'daemon_log_report "$T/daemon.log"; [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$silent" ] && kill "$silent"; amqp_cleanup; rm -rf "$T"' EXIT

# A "broker" that takes connections and never answers.
SILENT_PORT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
time.sleep(300)' "$SILENT_PORT" &
silent=$!

PW=wrong-Pa55word-$$
amqp_cat declare hacron fanout
amqp_cat declare events topic

# The config's amqp.url is the broker of jobs without one; the file holds
# a password, so it is private.
API_CONFIG=$T/distcrond.conf
printf '{"amqp": {"url": "%s"}, "api_read_token": "%s"}\n' "$AMQP_URL" \
    "read-token-$$" >"$API_CONFIG"
chmod 600 "$API_CONFIG"
cat >"$J/tick.json" <<EOF
{"schedule": {"cron": "* * * * * *", "timezone": "Asia/Kolkata"},
 "timeout": "20s", "amqp": {"tick": true}}
EOF
cat >"$J/msg.json" <<EOF
{"schedule": {"cron": "* * * * * *"},
 "amqp": {"exchange": "events", "routing_key": "jobs.msg",
  "body": "hello {\"n\": 1}", "persistent": true,
  "headers": {"X-Trace": "abc-123", "Kind": "greeting"}}}
EOF
# Its failures are published to exchange events (the amqp notification
# channel, on the config's broker).
cat >"$J/noexch.json" <<EOF
{"schedule": {"cron": "* * * * * *"},
 "amqp": {"exchange": "no-such-exchange", "routing_key": "x"},
 "notify": {"on": ["failure"], "amqp": {"exchange": "events"}}}
EOF
cat >"$J/badpw.json" <<EOF
{"schedule": {"cron": "* * * * * *"},
 "amqp": {"url": "amqp://guest:$PW@127.0.0.1:$AMQP_PORT/", "exchange": "hacron"}}
EOF

cat >"$J/silent.json" <<EOF
{"schedule": {"cron": "* * * * * *"}, "timeout": "2s",
 "amqp": {"url": "amqp://guest:guest@127.0.0.1:$SILENT_PORT/"}}
EOF

amqp_consume hacron "" 2 "$T/ticks"
cons_ticks=$!
amqp_consume events "jobs.#" 1 "$T/msgs"
cons_msgs=$!
amqp_consume events "distcron.failure.#" 1 "$T/reports"
cons_reports=$!
check "the daemon starts with AMQP jobs" api_daemon_start

wait "$cons_ticks"
rc=$?
check "a consumer of exchange hacron receives two ticks" test "$rc" -eq 0
# Each tick: HACron's fields, for its scheduled second in Asia/Kolkata
# (+05:30), and the daemon's run of that second succeeded.
ticks_exact() {
	history tick && python3 - "$T/ticks" "$T/h.json" <<'PY'
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
runs = json.load(open(sys.argv[2]))
ok = {datetime.fromisoformat(r["scheduled_at"]).timestamp()
      for r in runs if r["status"] == "SUCCESS"}
for line in open(sys.argv[1]):
    m = json.loads(line)
    assert m["exchange"] == "hacron" and m["routing_key"] == ""
    assert m["content_type"] == "application/json"
    t = json.loads(m["body"])
    assert list(t) == ["id", "minute", "hour", "day_of_month",
                       "day_of_week", "month", "year", "iso", "timestamp",
                       "timezone_offset"], list(t)
    s = t["timestamp"] / 1000
    d = datetime.fromtimestamp(s, ZoneInfo("Asia/Kolkata"))
    want = {"id": "tick@%d" % s, "minute": d.minute, "hour": d.hour,
            "day_of_month": d.day, "day_of_week": d.isoweekday() % 7,
            "month": d.month, "year": d.year, "iso": d.isoformat(),
            "timestamp": int(s) * 1000, "timezone_offset": "+05:30"}
    assert t == want, (t, want)
    assert s in ok, (s, sorted(ok))
PY
}
check "each tick holds HACron's fields for its scheduled time and zone" \
    wait_for 10 ticks_exact

wait "$cons_msgs"
rc=$?
msg_as_sent() {
	python3 - "$T/msgs" <<'PY'
import json, sys
m = json.loads(open(sys.argv[1]).readline())
assert m["exchange"] == "events" and m["routing_key"] == "jobs.msg", m
assert m["body"] == 'hello {"n": 1}', m
assert m["delivery_mode"] == 2, m
assert m["headers"] == {"X-Trace": "abc-123", "Kind": "greeting"}, m
PY
}
check "a message job's message arrives with its body, key, headers and \
persistence" msg_as_sent

check "a missing exchange fails the run with the broker's 404" \
    wait_for 10 amqp_failed_with noexch "404 NOT_FOUND" "no-such-exchange"
check "wrong credentials fail the run: access refused" \
    wait_for 10 amqp_failed_with badpw "ACCESS_REFUSED"
wait "$cons_reports"
rc=$?
report_sent() {
	python3 - "$T/reports" <<'PY'
import json, sys
m = json.loads(open(sys.argv[1]).readline())
assert m["routing_key"] == "distcron.failure.noexch", m
assert m["delivery_mode"] == 2 and m["content_type"] == "application/json"
r = json.loads(m["body"])
assert r["job"] == "noexch" and r["status"] == "FAILURE", r
assert r["event"] == "failure", r
assert "404 NOT_FOUND" in json.dumps(r), r
PY
}
check "the amqp notification channel publishes the failure's report" \
    report_sent
# (The full token sees the job's file as written, as for HTTP jobs; a
# read-only token sees its secrets masked.)
full=$TOKEN TOKEN=read-token-$$
# A broker that never answers: the run ends at its 2 s timeout.
check "a silent broker fails the run at its timeout" \
    wait_for 10 amqp_failed_with silent "timed out after 2s"
req GET /jobs/badpw
cp "$T/body" "$T/job.json"
check "the API shows the job to a read-only token" \
    contains "$T/job.json" "127.0.0.1:$AMQP_PORT"
req GET "/runs?job=badpw"
TOKEN=$full
for f in "$T/job.json" "$T/body" "$T/h.json" "$T/daemon.log"; do
	check "the password is not in ${f##*/}" eval "! grep -F -q -e '$PW' '$f'"
done

# The broker stops: a tick fails at once (connection refused, not its 20 s
# timeout); back, the next tick is published on a new connection.
amqp_stop
check "with the broker down a tick fails with a connect error" \
    wait_for 10 amqp_failed_with tick "connect"
check "... not by running into its timeout" \
    eval "! amqp_failed_with tick 'timed out'"
amqp_start
amqp_cat declare hacron fanout
amqp_consume hacron "" 1 "$T/ticks2"
cons_ticks=$!
wait "$cons_ticks"
rc=$?
check "the broker back, a tick is delivered again" test "$rc" -eq 0
after_restart() {
	history tick && py "h[0]['status'] == 'SUCCESS' and any(
	    r['status'] == 'FAILURE' for r in h)"
}
check "... and its run succeeds after the failed ones" wait_for 10 after_restart

# The broker closes the daemon's connections while it stays up: the next
# tick opens a new one and succeeds; no tick fails.
fails() { history tick && python3 -c "import json; print(sum(
    r['status'] == 'FAILURE' for r in json.load(open('$T/h.json'))))"; }
before=$(fails)
check "the broker closes the daemon's connections" \
    amqp_ctl close_all_connections "test closes it"
amqp_consume hacron "" 2 "$T/ticks3"
cons_ticks=$!
wait "$cons_ticks"
rc=$?
check "the ticks after it are delivered" test "$rc" -eq 0
check "... and none of them failed (the connection was opened again)" \
    test "$(fails)" = "$before"

api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
finish
