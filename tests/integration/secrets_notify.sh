#!/bin/sh
# secrets_notify.sh - notification credentials by secret reference:
# smtp.password as {"secret": NAME} in the config (which then need not be
# private) and a job's notify.webhook.headers value as one.  A job whose
# header names a missing secret is refused (file, field, name); once set,
# the webhook gets the value in its header; a mail sent while the SMTP
# password's secret is missing is parked with a reason naming the field
# and the secret; once set, the retried mail logs in (AUTH, the real
# aiosmtpd of smtp_server.py) and is delivered.  The values carry
# lib.sh's SECRET_MARK: no log or outbox listing may hold them.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
PY3=python3
[ -x /usr/bin/python3 ] && PY3=/usr/bin/python3
$PY3 -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd missing"
secret_keys "$T/key"
MAILPW="${SECRET_MARK}-mail-password"
HOOKV="${SECRET_MARK}-hook-token"

python3 "$top_srcdir/tests/integration/httpd_double.py" \
    --port-file "$T/http.port" >/dev/null 2>&1 &
hpid=$!
chain_exit 'kill $hpid 2>/dev/null'
wait_for 10 test -s "$T/http.port" || skip "httpd_double.py did not start"
H=http://127.0.0.1:$(cat "$T/http.port")
$PY3 "$top_srcdir/tests/integration/smtp_server.py" --port-file \
    "$T/smtp.port" --out "$T/mail.out" --auth u "$MAILPW" \
    >"$T/smtp.out" 2>&1 &
smtppid=$!
chain_exit 'kill $smtppid 2>/dev/null'
wait_for 10 test -s "$T/smtp.port" || skip "smtp_server.py did not start"

API_CONFIG=$T/distcrond.conf
cat >"$API_CONFIG" <<X
{"smtp": {"url": "smtp://127.0.0.1:$(cat "$T/smtp.port")",
  "from": "cron@example.org", "username": "u",
  "password": {"secret": "mail-pw"}}}
X
chmod 644 "$API_CONFIG"	# references only: no secret in it
echo '{"roles": ["r"], "connection_type": "local"}' >"$N/local.json"
cat >"$J/fails.json" <<X
{"policy": {"roles": ["r"]}, "schedule": "@yearly", "command": "exit 3",
 "notify": {"email": ["dev@example.com"],
  "webhook": {"url": "$H/record/hook",
   "headers": {"X-Token": {"secret": "hook-tok"}, "X-Plain": "p"}}}}
X

api_daemon_start --secrets-key-file "$T/key"
started=$?
LOG=$T/daemon.log
check "a config whose SMTP password is a reference need not be private" \
    test "$started" -eq 0
check "a job whose webhook header names a missing secret is refused" \
    grep -qF 'fails.json: notify.webhook.headers.X-Token: secret "hook-tok" not found' "$LOG"
CTL="--url $URL --token $TOKEN"
secret_set_wait hook-tok "$HOOKV" fails
check "  loaded once the secret is set" status_is 200

runjob fails
check "the job fails" body "b['status'] == 'FAILURE'"
hook_got() {
	curl -s "$H/recorded/hook" >"$T/rec" && python3 -c "
import json, sys
r = json.load(open('$T/rec'))
h = {k.lower(): v for k, v in r[-1]['headers']} if r else {}
sys.exit(0 if h.get('x-token') == '$HOOKV' and h.get('x-plain') == 'p' else 1)"
}
check "the webhook gets the secret's value in its header" wait_for 15 hook_got
check "the mail is parked while smtp.password's secret is missing" \
    wait_for 20 metric_at_least 'distcron_outbox_parked{sink="email"}' 1
run "$ctl" outbox $CTL
check "  distcronctl outbox names the field and the secret" \
    contains "$T/out" 'smtp.password: secret "mail-pw" not found'

printf '%s' "$MAILPW" | "$ctl" secret set mail-pw $CTL >/dev/null 2>"$T/err"
run "$ctl" outbox retry --all $CTL
check "once set, the mail retried is delivered, logged in as u" \
    wait_for 20 python3 -c "
import json, os, sys
m = [json.loads(l) for l in open('$T/mail.out')] \\
    if os.path.exists('$T/mail.out') else []
sys.exit(0 if m and m[-1]['auth'] == 'u' and
         m[-1]['to'] == ['dev@example.com'] else 1)"
run "$ctl" outbox $CTL
check "no listing holds a value" lacks_mark "$T/out"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
daemon_log_report "$LOG"
finish
