#!/bin/sh
# secrets_store.sh - encrypted secrets (distcronctl secret, /secrets): a
# value set through distcronctl reaches the job that names it (its
# environment; an HTTP job's header and body) while the run's stored
# output, its report in Elasticsearch (es_double.py), the API and the log
# show *** or nothing; GET /secrets lists
# names only; a read-only token cannot set one; a job naming a missing
# secret is refused with the file, field and name while the others run,
# and is loaded once the secret is set; a new value takes effect at the
# next run without a reload; rotation (offline, then through the daemon
# with the old key as the previous one) keeps the values and the old key
# no longer opens them; a wrong key or an open key file stops the start with
# a clear error.  The values carry lib.sh's SECRET_MARK, so that no log
# of the test may hold them (lib.sh checks at exit).
. "$top_srcdir/tests/integration/lib.sh"

api_setup
RTOKEN=read-only-token-for-secret-store
V1="${SECRET_MARK}-first-value"
V2="${SECRET_MARK}-second-value"
VH="${SECRET_MARK}-header-value"
secret_keys "$T/key" "$T/key2"

python3 "$top_srcdir/tests/integration/httpd_double.py" \
    --port-file "$T/http.port" >/dev/null 2>&1 &
hpid=$!
chain_exit 'kill $hpid 2>/dev/null'
wait_for 10 test -s "$T/http.port" || skip "httpd_double.py did not start"
HPORT=$(cat "$T/http.port")
python3 "$top_srcdir/tests/integration/es_double.py" \
    --port-file "$T/es.port" >"$T/es.log" 2>&1 &
espid=$!
chain_exit 'kill $espid 2>/dev/null'
wait_for 10 test -s "$T/es.port" || skip "es_double.py did not start"
ES=http://127.0.0.1:$(cat "$T/es.port")

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
cat >"$J/envjob.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly",
 "command": ["sh", "-c", "echo got=$DB_PW; printf %s \"$DB_PW\" | sha256sum"],
 "environment": {"DB_PW": {"secret": "db-pw"}}}
X
cat >"$J/hook.json" <<X
{"schedule": "@yearly",
 "http": {"url": "http://127.0.0.1:$HPORT/record/hook", "method": "POST",
  "headers": {"X-Api-Key": {"secret": "api-key"}}, "body": {"secret": "db-pw"}}}
X
# cutjob: its secret twice, the first across the end of the 512 bytes of
# head output_limit keeps, the second across the start of the 512 of tail.
cat >"$J/cutjob.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "output_limit": "1k",
 "command": ["sh", "-c", "printf %0508d 0; printf %s \"$DB_PW\"; printf %0600d 0; printf %s \"$DB_PW\"; printf '%0500d\\n' 0"],
 "environment": {"DB_PW": {"secret": "db-pw"}}}
X
cat >"$J/other.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "command": ["true"]}
X
cat >"$J/lacking.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "command": ["true"],
 "environment": {"TOKEN": {"secret": "not-set-yet"}}}
X

# ---- the key: an open file, then the right one ----
cp "$T/key" "$T/openkey"
chmod 644 "$T/openkey"
run "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --listen 127.0.0.1:0 --secrets-key-file "$T/openkey"
check "a key file others may read: the daemon does not start" test "$rc" -ne 0
check "  naming the file and its mode" contains "$T/err" \
    "secrets key file $T/openkey: mode 0644"

DISTCRON_SECRETS_KEY=0123abc run "$daemon" --config /dev/null --jobs-dir "$J" \
    --nodes-dir "$N" --state-dir "$S" --listen 127.0.0.1:0
check "a malformed DISTCRON_SECRETS_KEY: the daemon does not start" \
    test "$rc" -ne 0
check "  saying what a key is, without echoing it" sh -c \
    "grep -qF 'DISTCRON_SECRETS_KEY: expected 64 hexadecimal digits' '$T/err' && ! grep -q 0123abc '$T/err'"

api_daemon_start --secrets-key-file "$T/key" --api-read-token "$RTOKEN" \
    --es-host 127.0.0.1 --es-port "$(cat "$T/es.port")"
LOG=$T/daemon.log
check "the jobs lacking a secret are refused, naming file, field and secret" \
    grep -qF 'envjob.json: environment.DB_PW: secret "db-pw" not found' "$LOG"
check "  (the header of the HTTP job)" \
    grep -qF 'hook.json: http.headers.X-Api-Key: secret "api-key" not found' "$LOG"
req GET /jobs/other
check "  the other jobs are loaded" status_is 200

CTL="--url $URL --token $TOKEN"
printf '%s\n' "$V1" | "$ctl" secret set db-pw $CTL >"$T/out" 2>"$T/err"
rc=$?
check "distcronctl secret set: exits 0" test "$rc" -eq 0
check "  says it created it" same "$T/out" "created secret db-pw"
printf '%s' "$VH" | "$ctl" secret set api-key $CTL >/dev/null 2>&1
printf '%s' "$VH" | curl -s -o "$T/body" -w '%{http_code}' -X PUT \
    -H "Authorization: Bearer $RTOKEN" --data-binary @- "$URL/secrets/ro" \
    >"$T/code"
check "the read-only token cannot set a secret (403)" test "$(cat "$T/code")" = 403
wait_for 10 sh -c "curl -sf -H 'Authorization: Bearer $TOKEN' $URL/jobs/hook >/dev/null"
req GET /jobs/envjob
check "the job is loaded once its secret is set" status_is 200
check "  GET /jobs/NAME shows the reference, not the value" body \
    "b['definition']['environment'] == {'DB_PW': {'secret': 'db-pw'}}"

req GET /secrets
check "GET /secrets: names and times only" body \
    "[sorted(s) for s in b['secrets']] == [['name', 'updated']] * 2 and [s['name'] for s in b['secrets']] == ['api-key', 'db-pw']"
run "$ctl" secret list $CTL
check "distcronctl secret list names them" contains "$T/out" db-pw
check "  without a value" lacks_mark "$T/out"

runjob envjob
check "the run succeeds" body "b['status'] == 'SUCCESS'"
check "  the job had the value (its hash)" contains "$T/body" "$(sha "$V1")"
check "  its stored output shows *** instead" contains "$T/body" 'got=***'
check "  and never the value" lacks_mark "$T/body"
# es_has TEXT: a report shipped to Elasticsearch holds TEXT.
es_has() { curl -fsS "$ES/_double/docs" >"$T/docs.json" && contains "$T/docs.json" "$1"; }
check "the report shipped to Elasticsearch shows *** too" wait_for 10 es_has 'got=***'
check "  and never the value" lacks_mark "$T/docs.json"
req GET /jobs/envjob/reports
check "GET /jobs/NAME/reports: *** without the value" sh -c \
    "grep -qF 'got=***' '$T/body' && ! grep -qF '$SECRET_MARK' '$T/body'"
history envjob
check "distcronctl history: *** too" sh -c "grep -qF 'got=***' '$T/h.json' && ! grep -qF '$SECRET_MARK' '$T/h.json'"

wait_for 10 sh -c "curl -sf -H 'Authorization: Bearer $TOKEN' $URL/jobs/cutjob >/dev/null"
runjob cutjob
check "a value cut by output_limit: masked on both sides of the cut" body "
    b['items'][0]['truncated'] and b['items'][0]['output'] == '0' * 508 +
    '***\\n[... distcron: %d bytes omitted ...]\\n***' % (2 * $(printf %s "$V1" | wc -c) + 585) +
    '0' * 500 + '\\n'"
check "  no start of it before the cut, no end after" sh -c \
    "! grep -qF -e '$(printf %s "$V1" | cut -c1-4)' -e '$(printf %s "$V1" | tail -c 11)' '$T/body'"

runjob hook
check "the HTTP job's run succeeds" body "b['status'] == 'SUCCESS'"
curl -s "http://127.0.0.1:$HPORT/recorded/hook" >"$T/rec"
check "  the server got the header and the body from the secrets" python3 -c "
import json, sys
r = json.load(open('$T/rec'))[-1]
h = {k.lower(): v for k, v in r['headers']}
sys.exit(0 if h['x-api-key'] == '$VH' and r['body'] == '$V1' else 1)"

printf '%s\n' "$V2" | "$ctl" secret set db-pw $CTL >"$T/out" 2>&1
check "a new value: replaced" same "$T/out" "replaced secret db-pw"
runjob envjob
check "  the next run has it, without a reload" contains "$T/body" "$(sha "$V2")"

printf 'x' | "$ctl" secret set missing $CTL >/dev/null 2>&1
run "$ctl" secret delete missing $CTL
check "distcronctl secret delete: exits 0" test "$rc" -eq 0
run "$ctl" secret delete missing $CTL
check "  a second time: 404, exit 1" sh -c "test $rc -eq 1 && grep -q 404 '$T/err'"
req PUT /jobs/uses-missing "$J/lacking.json"
check "PUT /jobs naming a missing secret: 422 naming the field and secret" \
    sh -c "test $code = 422 && grep -qF 'environment.TOKEN: secret' '$T/body' && grep -qF not-set-yet '$T/body'"

api_daemon_stop
cp "$LOG" "$T/first-daemon.log"	# kept for lib.sh's check of the logs
# ---- rotation, offline ----
DISTCRON_SECRETS_KEY_FILE=$T/key run "$ctl" secret rotate --new-key "$T/key2" \
    --state-dir "$S"
check "distcronctl secret rotate: exits 0" test "$rc" -eq 0
check "  re-encrypts both" contains "$T/out" "re-encrypted 2 secrets"
DISTCRON_SECRETS_KEY_FILE=$T/key run "$ctl" secret rotate --new-key "$T/key2" \
    --state-dir "$S"
check "  again with the old key as current: refused, nothing changed" \
    sh -c "test $rc -eq 1 && grep -q 'wrong key or altered; nothing was changed' '$T/err'"
run "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --listen 127.0.0.1:0 --secrets-key-file "$T/key"
check "the old key at start: the daemon does not start" test "$rc" -ne 0
check "  saying which secret it does not open" contains "$T/err" \
    "the secrets key does not open it"
api_daemon_start --secrets-key-file "$T/key2"
runjob envjob
check "with the new key the values are kept" contains "$T/body" "$(sha "$V2")"
DISTCRON_SECRETS_KEY_FILE=$T/key2 run "$ctl" secret rotate --new-key \
    "$T/key" --state-dir "$S"
check "rotate while the daemon runs: refused" sh -c \
    "test $rc -eq 1 && grep -q 'distcrond is running' '$T/err'"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
cp "$T/daemon.log" "$T/second-daemon.log"
# ---- rotation through the running daemon: current key, previous key2 ----
api_daemon_start --secrets-key-file "$T/key" \
    --secrets-previous-key-file "$T/key2"
runjob envjob
check "with key2 as the previous key the values are used" contains \
    "$T/body" "$(sha "$V2")"
run "$ctl" secret rotate --url "$URL" --token "$TOKEN"
check "distcronctl secret rotate (online): both re-sealed" same "$T/out" \
    "re-sealed 2 secret(s) with the current key; 0 already were"
api_daemon_stop
cp "$T/daemon.log" "$T/third-daemon.log"
api_daemon_start --secrets-key-file "$T/key"
runjob envjob
check "  then the current key alone opens them" contains "$T/body" \
    "$(sha "$V2")"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
daemon_log_report "$LOG"
finish
