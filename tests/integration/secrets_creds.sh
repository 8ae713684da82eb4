#!/bin/sh
# secrets_creds.sh - credentials by secret reference: an AMQP job whose
# amqp.password is {"secret": NAME} is refused while the secret is missing
# (file, field, name), publishes to a real RabbitMQ (amqp_lib.sh) once it
# is set, as the one user allowed to publish in its vhost (the password
# holds characters a URL must escape), fails with the broker's ACCESS_REFUSED naming the broker
# but not the password when the value is wrong, and fails naming the
# field and the secret once it is deleted.  The values carry lib.sh's
# SECRET_MARK: no log, API answer or run record may hold them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/amqp_lib.sh"

api_setup
amqp_require
amqp_start
secret_keys "$T/key"
MQPW="${SECRET_MARK}-p@ss/w:rd %1"
BADPW="${SECRET_MARK}-not-the-password"
# Vhost creds: only pub may publish; guest (amqpcat) declares and consumes.
amqp_ctl add_vhost creds >/dev/null 2>&1 &&
    amqp_ctl add_user pub "$MQPW" >/dev/null 2>&1 &&
    amqp_ctl set_permissions -p creds pub '.*' '.*' '.*' >/dev/null 2>&1 &&
    amqp_ctl set_permissions -p creds guest '.*' '^amq\.gen.*' '.*' \
    >/dev/null 2>&1 || skip "rabbitmqctl cannot add a vhost and a user"
AMQP_URL=$AMQP_URL/creds
amqp_cat declare events topic

cat >"$J/mq.json" <<X
{"schedule": "@yearly",
 "amqp": {"url": "amqp://127.0.0.1:$AMQP_PORT/creds", "username": "pub",
  "password": {"secret": "mq-pw"}, "exchange": "events",
  "routing_key": "jobs.creds", "body": "by secret"}}
X
# The config's broker, its password a reference too (so the file may be
# public): for jobs without a URL and the amqp notification channel.
API_CONFIG=$T/distcrond.conf
printf '{"amqp": {"url": "amqp://127.0.0.1:%s/creds", "username": "pub", %s}}\n' \
    "$AMQP_PORT" '"password": {"secret": "mq-pw"}' >"$API_CONFIG"
chmod 644 "$API_CONFIG"
cat >"$J/mqdef.json" <<X
{"schedule": "@yearly",
 "amqp": {"exchange": "events", "routing_key": "jobs.def", "body": "by config"}}
X
cat >"$J/noexch.json" <<X
{"schedule": "@yearly", "amqp": {"exchange": "no-such-exchange"},
 "notify": {"on": ["failure"], "amqp": {"exchange": "events"}}}
X
api_daemon_start --secrets-key-file "$T/key"
LOG=$T/daemon.log
runjob mqdef
check "a job on the config's broker fails while its password secret is \
missing" body "b['status'] == 'FAILURE'"
check "  naming the setting and the secret" contains "$T/body" \
    'the config'"'"'s amqp.password: secret \"mq-pw\" not found'

check "an AMQP job whose password secret is missing is refused, naming \
file, field and secret" \
    grep -qF 'mq.json: amqp.password: secret "mq-pw" not found' "$LOG"

CTL="--url $URL --token $TOKEN"
secret_set_wait mq-pw "$MQPW" mq
check "the job is loaded once the secret is set" status_is 200
check "  GET /jobs/NAME shows the reference" body \
    "b['definition']['amqp']['password'] == {'secret': 'mq-pw'}"

rm -f "$T/ready"
amqp_cat consume events "jobs.#" 2 20 "$T/ready" >"$T/msgs" 2>"$T/msgs.err" &
cons=$!
wait_for 10 test -e "$T/ready"
rm -f "$T/ready"
amqp_cat consume events "distcron.failure.#" 1 20 "$T/ready" \
    >"$T/reports" 2>"$T/reports.err" &
cons_reports=$!
wait_for 10 test -e "$T/ready"
runjob mq
check "the run publishes as the secret's user: SUCCESS" body \
    "b['status'] == 'SUCCESS'"
runjob mqdef
check "a job on the config's broker publishes with its password: SUCCESS" \
    body "b['status'] == 'SUCCESS'"
wait "$cons"
check "  the consumer receives both messages" python3 -c "
import json, sys
m = [json.loads(l) for l in open('$T/msgs')]
sys.exit(0 if sorted((x['routing_key'], x['body']) for x in m) ==
         [('jobs.creds', 'by secret'), ('jobs.def', 'by config')] else 1)"
runjob noexch
wait "$cons_reports"
check "the amqp notification channel publishes on the config's broker" \
    python3 -c "
import json, sys
m = json.loads(open('$T/reports').readline())
sys.exit(0 if m['routing_key'] == 'distcron.failure.noexch' else 1)"

printf '%s' "$BADPW" | "$ctl" secret set mq-pw $CTL >/dev/null 2>"$T/err"
runjob mq
cp "$T/body" "$T/run-bad.json"
check "a wrong value: the next run fails with access refused" body \
    "b['status'] == 'FAILURE' and 'ACCESS_REFUSED' in json.dumps(b)"
check "  naming the broker without credentials" \
    contains "$T/run-bad.json" "amqp://127.0.0.1:$AMQP_PORT/creds: login"
check "  never the value" lacks_mark "$T/run-bad.json"

"$ctl" secret delete mq-pw $CTL >/dev/null 2>"$T/err"
runjob mq
cp "$T/body" "$T/run-gone.json"
check "a secret deleted since: the run fails naming field and secret" \
    contains "$T/run-gone.json" 'amqp.password: secret \"mq-pw\" not found'
check "the log names the secret where it failed" \
    grep -qF 'amqp.password: secret "mq-pw" not found' "$LOG"
history mq
check "distcronctl history never holds a value" lacks_mark "$T/h.json"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
daemon_log_report "$LOG"
finish
