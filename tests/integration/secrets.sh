#!/bin/sh
# secrets.sh - secrets stay out of what others can read: a read-only token
# sees header values, URL credentials and query values and environment
# values masked (GET /jobs/NAME and distcronctl show) while the full token
# sees them; a URL that fails validation is named without its credentials
# and query in the log and the 422 body; job files written by the API and
# the store (distcron.db, -wal, -shm) are private; SSH keys and passphrase
# files open to group or others (or owned by another user) are refused with
# the file and its mode, and the daemon runs the other jobs meanwhile.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
RTOKEN=read-only-token-for-secrets-test
umask 022	# what the daemon's own umask and modes must overcome

# lacks FILE STRING...: FILE contains none of the STRINGs.
lacks() {
	_f=$1
	shift
	for _s in "$@"; do
		! grep -qF -e "$_s" "$_f" || return 1
	done
}

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
cat >"$J/tick.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "* * * * * *", "command": ["true"]}
X
cat >"$J/hook.json" <<'X'
{"schedule": "@yearly",
 "http": {"url": "http://admin:S3cretPW@127.0.0.1:9/x?api_key=Q&v=2",
  "headers": {"Authorization": "Bearer HDRSECRET", "X-Trace": "HDR2"}}}
X
cat >"$J/envjob.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly",
 "command": ["true"], "environment": {"DB_PASSWORD": "ENVSECRET"}}
X
cat >"$J/notified.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "command": ["true"],
 "notify": {"email": ["ops@example.org"],
  "webhook": {"url": "https://hookuser:HOOKPW@127.0.0.1:9/h?sig=HOOKSIG",
   "headers": {"X-Hook-Token": "HOOKHDR"}},
  "slack": {"url": "https://127.0.0.1:9/services/T0/B0/SLACKTOKEN"}}}
X
cat >"$J/badurl.json" <<'X'
{"schedule": "@yearly",
 "http": {"url": "http://admin:S3cretPW@badhost.example/a b?api_key=Q"}}
X
# SSH nodes whose key or passphrase file is not private; their jobs are
# due every second, so the daemon tries them at once.
mkdir "$T/keys"
printf 'not really a key\n' >"$T/keys/open_key"
chmod 644 "$T/keys/open_key"
printf 'not really a key\n' >"$T/keys/key"
chmod 600 "$T/keys/key"
printf 'phrase\n' >"$T/keys/open_phrase"
chmod 640 "$T/keys/open_phrase"
sshnode() {	# NAME KEY [PASSPHRASE-FILE]
	printf '{"connection_type": "ssh", "connection_options": {"ssh_user": "u", "ssh_host": "127.0.0.1:9", "ssh_private_key_file": "%s"%s}}\n' \
	    "$2" "${3:+, \"ssh_private_key_passphrase_file\": \"$3\"}" >"$N/$1.json"
	printf '{"policy": {"nodes": ["%s"]}, "schedule": "* * * * * *", "command": ["true"]}\n' \
	    "$1" >"$J/on-$1.json"
}
sshnode web1 "$T/keys/open_key"
sshnode web2 "$T/keys/key" "$T/keys/open_phrase"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	cp "$T/keys/key" "$T/keys/their_key"
	chown nobody "$T/keys/their_key"
	sshnode web3 "$T/keys/their_key"
fi

api_daemon_start --api-read-token "$RTOKEN" --node-check-interval 1s \
    --node-check-max 2s
check "daemon starts and listens" test -n "$PORT"
LOG=$T/daemon.log

# ---- what a read-only token sees ----
# rreq: req with the read-only token.
rreq() {
	_full=$TOKEN
	TOKEN=$RTOKEN
	req "$@"
	TOKEN=$_full
}
rreq GET /jobs/hook
check "read-only GET /jobs/hook: 200" status_is 200
check "  the URL keeps scheme, host, port, path and query keys" body \
    "b['definition']['http']['url'] == 'http://***:***@127.0.0.1:9/x?api_key=***&v=***'"
check "  header values are masked, names kept" body \
    "b['definition']['http']['headers'] == {'Authorization': '***', 'X-Trace': '***'}"
check "  no secret anywhere in the answer" lacks "$T/body" S3cretPW admin \
    HDRSECRET HDR2 api_key=Q
rreq GET /jobs/envjob
check "read-only GET /jobs/envjob: environment values masked" body \
    "b['definition']['environment'] == {'DB_PASSWORD': '***'}"
rreq GET /jobs/notified
check "read-only GET /jobs/notified: the webhook URL masked" body \
    "b['definition']['notify']['webhook']['url'] == 'https://***:***@127.0.0.1:9/h?sig=***'"
check "  its header values masked, the Slack URL whole" body \
    "b['definition']['notify']['webhook']['headers'] == {'X-Hook-Token': '***'} and b['definition']['notify']['slack']['url'] == '***'"
check "  no secret anywhere in the answer" lacks "$T/body" HOOKPW HOOKSIG \
    HOOKHDR SLACKTOKEN hookuser
check "  addresses are no secret" body \
    "b['definition']['notify']['email'] == ['ops@example.org']"
req GET /jobs/notified
check "the full token sees the notify channels as written" body \
    "b['definition']['notify']['slack']['url'].endswith('/SLACKTOKEN')"
req GET /jobs/hook
check "the full token sees the URL as written" body \
    "b['definition']['http']['url'] == 'http://admin:S3cretPW@127.0.0.1:9/x?api_key=Q&v=2'"
check "  and the headers" body \
    "b['definition']['http']['headers']['Authorization'] == 'Bearer HDRSECRET'"
req GET /jobs/envjob
check "  and the environment" body \
    "b['definition']['environment'] == {'DB_PASSWORD': 'ENVSECRET'}"

run "$ctl" show hook --url "$URL" --token "$RTOKEN"
check "distcronctl show with the read-only token: exits 0" test "$rc" -eq 0
check "  shows the masked URL" contains "$T/out" \
    'http://***:***@127.0.0.1:9/x?api_key=***&v=***'
check "  and no secret" lacks "$T/out" S3cretPW HDRSECRET api_key=Q
run "$ctl" show envjob --url "$URL" --token "$RTOKEN"
check "  nor environment values" lacks "$T/out" ENVSECRET
run "$ctl" show hook --url "$URL" --token "$TOKEN"
check "distcronctl show with the full token shows the header" \
    contains "$T/out" 'Bearer HDRSECRET'

# A failed run of the HTTP job (nothing listens on port 9): its error names
# the URL without credentials or query, in the run and in the log.
req POST /jobs/hook/run
hook_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])" 2>/dev/null)
hook_done() { req GET "/runs/$hook_id" && body "b['status'] == 'FAILURE'"; }
check "the HTTP job's run fails" wait_for 10 hook_done
for p in /jobs /runs "/runs/$hook_id" /jobs/hook/reports /monitor /nodes; do
	rreq GET "$p"
	check "read-only GET $p: 200 without secrets" sh -c "test $code = 200 &&
	    ! grep -qF -e S3cretPW -e HDRSECRET -e ENVSECRET -e api_key=Q '$T/body'"
done

# ---- a URL that fails validation ----
check "the bad URL is reported in the log" grep -q 'badurl.json.*http.url' "$LOG"
grep 'badurl.json.*http.url' "$LOG" >"$T/badurl.log"
check "  naming its host" contains "$T/badurl.log" badhost.example
check "  without password, user or query" lacks "$T/badurl.log" S3cretPW \
    admin api_key '?'
check "  (no secret anywhere in the log)" lacks "$LOG" S3cretPW api_key=Q \
    HDRSECRET ENVSECRET
req PUT /jobs/badurl2 "$J/badurl.json"
check "PUT of the bad URL: 422 naming the field and the host" body \
    "b['field'] == 'http.url' and 'badhost.example' in b['error']"
check "  without password, user or query" body \
    "'S3cretPW' not in b['error'] and 'admin' not in b['error'] and 'Q' not in b['error'].split('badhost.example')[1]"

# ---- private files ----
req PUT /jobs/made "$J/envjob.json"
check "PUT a job: 201" status_is 201
check "  its file is mode 640" test "$(stat -c %a "$J/made.json")" = 640
check "distcron.db is mode 600" test "$(stat -c %a "$S/distcron.db")" = 600
check "distcron.db-wal is mode 600" test "$(stat -c %a "$S/distcron.db-wal")" = 600
check "distcron.db-shm is mode 600" test "$(stat -c %a "$S/distcron.db-shm")" = 600

# ---- keys open to others ----
key_msg="node web1: ssh key $T/keys/open_key: mode 0644 is readable by group or others; chmod 600 it"
check "a key with mode 0644 is refused, naming the file and mode" \
    wait_for 10 contains "$LOG" "$key_msg"
check "a passphrase file with mode 0640 too" wait_for 10 contains "$LOG" \
    "node web2: ssh passphrase file $T/keys/open_phrase: mode 0640 is readable by group or others; chmod 600 it"
if [ -f "$N/web3.json" ]; then
	check "a key owned by another user too" wait_for 10 grep -q \
	    "node web3: ssh key $T/keys/their_key: owned by uid [0-9]*, not by root or the daemon's user" "$LOG"
fi
req GET /nodes/web1
check "  the node is down with that error" body \
    "b['status'] == 'down' and 'mode 0644' in b['last_error']"
req GET /jobs/tick
n1=$(python3 -c "import json; print(json.load(open('$T/body'))['state']['run_count'])" 2>/dev/null)
more_ticks() {
	req GET /jobs/tick && body "b['state']['run_count'] > ${n1:-0} + 1"
}
check "  and the other jobs keep running" wait_for 10 more_ticks
check "  in the same daemon" kill -0 "$pid"
chmod 600 "$T/keys/open_key"
check "a key made private is used at the next attempt (no refusal)" \
    wait_for 10 sh -c "grep -q 'node web1: .*127.0.0.1' '$LOG'"

api_daemon_stop
check "SIGTERM exits 0" test "$stop_rc" -eq 0
check "no read-only token in the log" lacks "$LOG" "$RTOKEN"
daemon_log_report "$LOG"
finish
