#!/bin/sh
# cluster_secrets_rotate.sh - key rotation in cluster mode: secrets sealed
# with key A; both members restarted with current key B and previous key
# A still run the jobs with the right values; "distcronctl secret rotate"
# through m1 seals them again with B in one etcd transaction (a second
# rotation finds nothing to do); then a member with B alone opens them all
# and runs the job, and a member with A alone leaves them out, saying why.
# A previous key file others may read stops the start, naming it.  The
# values carry lib.sh's SECRET_MARK: no log of the test may hold them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
V1="${SECRET_MARK}-rotate-one"
V2="${SECRET_MARK}-rotate-two"
secret_keys "$T/keyA" "$T/keyB"
etcd_start 1
printf '{"roles": ["local"], "connection_type": "local"}\n' >"$N/local.json"
cat >"$J/envjob.json" <<'X'
{"policy": {"roles": ["local"]}, "schedule": "@yearly",
 "command": ["sh", "-c", "printf %s \"$DB_PW\" | sha256sum"],
 "environment": {"DB_PW": {"secret": "db-pw"}}}
X
BOTH="--secrets-key-file $T/keyB --secrets-previous-key-file $T/keyA"

cluster_start 1 --secrets-key-file "$T/keyA" || exit 1
cluster_start 2 --secrets-key-file "$T/keyA" || exit 1
cluster_use 1
printf '%s' "$V1" | "$ctl" secret set db-pw --url "$URL" --token "$TOKEN" \
    >"$T/out" 2>"$T/err"
check "secret set with key A through m1" same "$T/out" "created secret db-pw"
check "  m2 has it" wait_for 10 cluster_listed 2 "['db-pw']"
cluster_stop 1
cluster_stop 2

# shellcheck disable=SC2086
cluster_start 1 $BOTH || exit 1
# shellcheck disable=SC2086
cluster_start 2 $BOTH || exit 1
check "restarted with B and previous A: both members have it" \
    wait_for 10 cluster_listed 2 "['db-pw']"
check "  m2 says it is sealed with the previous key" grep -qF \
    'secret db-pw: sealed with the previous key' "$T/d2.log"
cluster_runjob 2 envjob
check "  m2's run has the value" contains "$T/body" "$(sha "$V1")"
cluster_use 2
printf '%s' "$V2" | "$ctl" secret set tok --url "$URL" --token "$TOKEN" \
    >"$T/out" 2>"$T/err"
check "a new secret through m2 (sealed with B)" same "$T/out" \
    "created secret tok"
check "  m1 has it" wait_for 10 cluster_listed 1 "['db-pw', 'tok']"

cluster_use 1
run "$ctl" secret rotate --url "$URL" --token "$TOKEN"
check "rotate through m1: one re-sealed, one already under B" same \
    "$T/out" "re-sealed 1 secret(s) with the current key; 1 already were"
run "$ctl" secret rotate --url "$URL" --token "$TOKEN" --json
check "  a second rotation has nothing to do" python3 -c "import json,sys
b = json.load(open('$T/out')); sys.exit(b != {'resealed': 0, 'current': 2})"
run etcd_ctl get --print-value-only /distcron/default/secrets/db-pw
check "  etcd holds it sealed, never the value" lacks_mark "$T/out"
cluster_use 1
req POST /secrets/other
check "POST on another secret: 404" status_is 404

cluster_start 3 --secrets-key-file "$T/keyB" || exit 1
check "a member with B alone opens both" wait_for 10 cluster_listed 3 \
    "['db-pw', 'tok']"
check "  and refuses none" sh -c "! grep -q 'does not open it' '$T/d3.log'"
cluster_runjob 3 envjob
check "  its run has the value" contains "$T/body" "$(sha "$V1")"
cluster_start 4 --secrets-key-file "$T/keyA" || exit 1
check "a member with A alone leaves the values out, saying why" \
    wait_for 10 grep -qF 'secret db-pw in etcd: the secrets key does not open it' \
    "$T/d4.log"
check "  and lists nothing" cluster_listed 4 "[]"

cp "$T/keyA" "$T/keyA.open"
chmod 644 "$T/keyA.open"
run timeout 20 "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$T/s5" --listen 127.0.0.1:0 --secrets-key-file "$T/keyB" \
    --secrets-previous-key-file "$T/keyA.open"
check "a previous key file others may read stops the start, naming it" \
    sh -c "test $rc -ne 0 && test $rc -ne 124 && grep -qF '$T/keyA.open' '$T/err' && grep -qF '0644' '$T/err'"
for i in 1 2 3 4; do
	cluster_stop "$i"
	check "m$i stops cleanly" test "$stop_rc" -eq 0
done
finish
