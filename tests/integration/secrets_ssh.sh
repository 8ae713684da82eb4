#!/bin/sh
# secrets_ssh.sh - an SSH node's key passphrase as a secret: a node file
# naming "ssh_private_key_passphrase": {"secret": NAME} is refused, naming
# the field and the secret, until the secret is set (then it is read
# again and its job logs in with the passphrase-protected key, from a
# daemon whose key comes from DISTCRON_SECRETS_KEY); a passphrase written
# as a plain string is refused.  The passphrase carries lib.sh's
# SECRET_MARK: no log may hold it.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

api_setup
sshd_require
PASS="${SECRET_MARK}-key-phrase"
KH=$T/known_hosts

ssh-keygen -q -t ed25519 -N "$PASS" -C distcron-test-passkey \
    -f "$SSHD_DIR/passkey" || exit 99
cat "$SSHD_DIR/passkey.pub" >>"$SSHD_DIR/authorized_keys"
SSHD_USER_KEY=$SSHD_DIR/passkey
sshd_start 1
sshd_known_hosts "$KH"
sshd_node_json 1 "$KH" ', "ssh_private_key_passphrase": {"secret": "key-pass"}' \
    >"$N/locked.json"
sshd_node_json 1 "$KH" ', "ssh_private_key_passphrase": "plain"' \
    | sed 's/"ssh"\]/"plain"]/' >"$N/plain.json"
cat >"$J/hello.json" <<'X'
{"policy": {"roles": ["ssh"]}, "schedule": "@yearly", "command": ["echo", "hello"]}
X

secret_keys "$T/key"
DISTCRON_SECRETS_KEY=$(cat "$T/key")
export DISTCRON_SECRETS_KEY
api_daemon_start
unset DISTCRON_SECRETS_KEY
LOG=$T/daemon.log
check "a node naming a missing secret is refused, naming field and secret" \
    grep -qF 'locked.json: connection_options.ssh_private_key_passphrase: secret "key-pass" not found' "$LOG"
check "a passphrase written in the node file is refused" \
    grep -qF 'plain.json: connection_options.ssh_private_key_passphrase: expected {"secret": NAME}' "$LOG"
req GET /nodes/locked
check "  the node is not loaded" status_is 404

printf '%s\n' "$PASS" | "$ctl" secret set key-pass --url "$URL" \
    --token "$TOKEN" >"$T/out" 2>"$T/err"
check "the passphrase is set" same "$T/out" "created secret key-pass"
node_up() { req GET /nodes/locked && status_is 200; }
check "the node is read again once the secret is set" wait_for 10 node_up
req POST /jobs/hello/run
rid=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
run_done() {
	req GET "/runs/$rid" && body "b['status'] in ('SUCCESS', 'FAILURE')"
}
check "the run ends" wait_for 20 run_done
check "  it logged in with the key the secret unlocks" body \
    "b['status'] == 'SUCCESS' and 'hello' in b['items'][0]['output']"
check "  and never shows the passphrase" lacks_mark "$T/body"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
daemon_log_report "$LOG"
finish
