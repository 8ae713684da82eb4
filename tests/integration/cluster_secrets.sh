#!/bin/sh
# cluster_secrets.sh - cluster mode's secrets are kept in etcd
# (/distcron/NS/secrets/NAME, the sealed value only) and every member
# follows them: a secret set through m1 is listed by m2, whose job file
# naming it (refused at start) is loaded then and runs with the value
# (its hash) while its output shows ***; a new value through m2 reaches
# m1's next run; a delete through m2 reaches m1; a member with another
# key leaves the value out, saying so; the offline rotation refuses
# cluster mode.  The values carry lib.sh's
# SECRET_MARK: no log of the test may hold them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
V1="${SECRET_MARK}-cluster-one"
V2="${SECRET_MARK}-cluster-two"
secret_keys "$T/key" "$T/key2"
etcd_start 1
printf '{"roles": ["local"], "connection_type": "local"}\n' >"$N/local.json"
cat >"$J/envjob.json" <<'X'
{"policy": {"roles": ["local"]}, "schedule": "@yearly",
 "command": ["sh", "-c", "echo got=$DB_PW; printf %s \"$DB_PW\" | sha256sum"],
 "environment": {"DB_PW": {"secret": "db-pw"}}}
X
cluster_start 1 --secrets-key-file "$T/key" || exit 1
cluster_start 2 --secrets-key-file "$T/key" || exit 1
check "the members see each other" wait_for 20 cluster_all_see 2
check "m2 refuses the job naming a missing secret" grep -qF \
    'envjob.json: environment.DB_PW: secret "db-pw" not found' "$T/d2.log"

cluster_use 1
printf '%s\n' "$V1" | "$ctl" secret set db-pw --url "$URL" --token "$TOKEN" \
    >"$T/out" 2>"$T/err"
check "secret set through m1" same "$T/out" "created secret db-pw"
run etcd_ctl get --print-value-only /distcron/default/secrets/db-pw
check "etcd holds it" test -s "$T/out"
check "  sealed: never the value" lacks_mark "$T/out"

check "m2 lists it" wait_for 10 cluster_listed 2 "['db-pw']"
envjob_loaded() { cluster_use 2; req GET /jobs/envjob && status_is 200; }
check "m2 loads the job once the secret is there" wait_for 10 envjob_loaded

cluster_runjob 2 envjob
check "m2's run has the value (its hash)" contains "$T/body" "$(sha "$V1")"
check "  and shows *** for it" sh -c \
    "grep -qF 'got=***' '$T/body' && ! grep -qF '$SECRET_MARK' '$T/body'"

cluster_use 2
printf '%s' "$V2" | "$ctl" secret set db-pw --url "$URL" --token "$TOKEN" \
    >"$T/out" 2>"$T/err"
check "a new value through m2" same "$T/out" "replaced secret db-pw"
m1_has_v2() { cluster_runjob 1 envjob && contains "$T/body" "$(sha "$V2")"; }
check "  m1's next run has it" wait_for 10 m1_has_v2

cluster_start 3 --secrets-key-file "$T/key2" || exit 1
check "a member with another key leaves the value out, saying so" \
    wait_for 10 grep -qF 'secret db-pw in etcd: the secrets key does not open it' \
    "$T/d3.log"
check "  and lists nothing" cluster_listed 3 "[]"

cluster_use 2
req DELETE /secrets/db-pw
check "delete through m2" status_is 200
check "  m1 lists nothing any more" wait_for 10 cluster_listed 1 "[]"
run etcd_ctl get --print-value-only /distcron/default/secrets/db-pw
check "  the key is gone from etcd" test ! -s "$T/out"
DISTCRON_ETCD=$ETCD_ENDPOINTS DISTCRON_SECRETS_KEY_FILE=$T/key run "$ctl" \
    secret rotate --new-key "$T/key2" --state-dir "$T/s1"
check "rotate in cluster mode: refused, saying why" sh -c \
    "test $rc -eq 1 && grep -q 'cluster mode keeps the secrets in etcd' '$T/err'"
for i in 1 2 3; do
	cluster_stop "$i"
	check "m$i stops cleanly" test "$stop_rc" -eq 0
done
finish
