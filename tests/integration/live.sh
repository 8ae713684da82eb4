#!/bin/sh
# live.sh - the output of a run still going (GET /runs/ID): a job prints
# a line, sleeps, prints another; during the sleep its item shows the
# first line with "live": true, afterwards the final output has both and
# no "live".  Its secret (lib.sh's SECRET_MARK) is masked as in the final
# output, and the start of it written before a pause is held back until
# the rest comes; the pieces of it an output's cap split are masked too.
# The same over SSH when sshd can run here.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

api_setup
secret_keys "$T/key"
V="${SECRET_MARK}-live-value"

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
# slow ROLE: a job on ROLE printing its secret whole, then its first nine
# bytes, and the rest after 3 s.
slow() {
	cat <<X
{"policy": {"roles": ["$1"]}, "schedule": "@yearly",
 "environment": {"PW": {"secret": "pw"}},
 "command": ["sh", "-c", "echo first; echo \"full=\$PW\"; printf 'half=%s' \"\$(printf %s \"\$PW\" | cut -c1-9)\"; sleep 3; printf '%s\\\\n' \"\$(printf %s \"\$PW\" | cut -c10-)\"; echo second >&2"]}
X
}
slow worker >"$J/slow.json"
# slowcut: its secret across the end of the head output_limit keeps and
# across the start of its tail, then a sleep.
cat >"$J/slowcut.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly", "output_limit": "1k",
 "environment": {"PW": {"secret": "pw"}},
 "command": ["sh", "-c", "printf %0508d 0; printf %s \"$PW\"; printf %0600d 0; printf %s \"$PW\"; printf '%0500d\\n' 0; sleep 3"]}
X
with_ssh=
if [ "$(id -u)" = 0 ] && [ -x "$SSHD" ] && command -v ssh-keygen >/dev/null
then
	sshd_require
	sshd_keygen_user
	sshd_start 1
	sshd_known_hosts "$T/known_hosts"
	sshd_node_json 1 "$T/known_hosts" >"$N/remote.json"
	slow ssh >"$J/slow-ssh.json"
	with_ssh=1
fi

DISTCRON_SECRETS_KEY=$(cat "$T/key")
export DISTCRON_SECRETS_KEY
api_daemon_start
unset DISTCRON_SECRETS_KEY
printf '%s' "$V" | "$ctl" secret set pw --url "$URL" --token "$TOKEN" \
    >/dev/null 2>&1
loaded() { req GET /jobs/slow && status_is 200; }
wait_for 10 loaded

# live_check JOB: runs JOB and checks what GET /runs/ID shows meanwhile
# and after.
live_check() {
	req POST "/jobs/$1/run"
	rid=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
	going() {
		req GET "/runs/$rid" &&
		    body "(b['items'][0].get('output') or '').startswith('first')"
	}
	check "$1: during the sleep, the first line" wait_for 5 going
	check "  \"live\": true" body "b['items'][0]['live'] is True"
	# the same answer: the runner's state, not the store's lagging one
	check "  the run STARTED, with its started time, \"live\": true" body \
	    "b['status'] == 'STARTED' and b['started'] and b['live'] is True"
	check "  its item STARTED, with its started time" body \
	    "b['items'][0]['status'] == 'STARTED' and b['items'][0]['started']"
	check "  the secret masked as in the final output" body \
	    "b['items'][0]['output'] == 'first\\nfull=***\\nhalf='"
	check "  never the value, nor its start" sh -c \
	    "! grep -qF '$(printf %s "$V" | cut -c1-4)' '$T/body'"
	ended() { req GET "/runs/$rid" && body "b['status'] == 'SUCCESS'"; }
	check "$1: the run ends" wait_for 10 ended
	check "  the final output has both lines, no \"live\"" body "
	    b['items'][0]['output'] == 'first\\nfull=***\\nhalf=***\\n' and
	    b['items'][0]['stderr'] == 'second\\n' and 'live' not in b['items'][0]"
	check "  the run final as stored, no \"live\"" body \
	    "b['ended'] and 'live' not in b"
}
live_check slow
[ -n "$with_ssh" ] && live_check slow-ssh
req POST /jobs/slowcut/run
rid=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
cut_going() {
	req GET "/runs/$rid" && body "b['status'] == 'STARTED' and
	    (b['items'][0].get('output') or '').endswith('0\\n')"
}
check "slowcut: during the sleep, its output cut at output_limit" \
    wait_for 5 cut_going
check "  the pieces of the secret the cut split masked" body "
    b['items'][0]['truncated'] and b['items'][0]['output'] == '0' * 508 +
    '***\\n[... distcron: %d bytes omitted ...]\\n***' % (2 * $(printf %s "$V" | wc -c) + 585) +
    '0' * 500 + '\\n'"
req GET /runs/999999
check "an unknown run: still 404" status_is 404
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
finish
