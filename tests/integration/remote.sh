#!/bin/sh
# remote.sh - the real distcrond against real OpenSSH servers on 127.0.0.1
# (one sshd per node) and an HTTP double: exit codes, stderr, environment and
# hostile arguments arriving byte for byte, output past the cap, a timeout
# that really kills the remote process, "all" on five nodes, one connection
# serving many runs, kept alive, and opened again when it breaks, failover
# when a node goes down and its return, host keys refused or recorded, a job
# with no candidate, and HTTP jobs.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

daemon_setup
hpid= spid=

cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
sshd_require		# chains sshd_stop_all before cleanup
sshd_keygen_user ed25519
KEY=$SSHD_USER_KEY
KH=$T/known_hosts

# start NAME [ROLE...]: one more sshd, known as NAME, and node NAME on it.
start() {
	_name=$1
	shift
	sshd_start 1
	echo "$_name $SSHD_COUNT" >>"$T/instances"
	node "$_name" "$_name" "" "$@"
}
# inst NAME: the sshd_lib number of the sshd called NAME.
inst() {
	awk -v n="$1" '$1 == n { print $2 }' "$T/instances"
}
# node NODE NAME OPTIONS [ROLE...]: the node file of NODE on sshd NAME;
# OPTIONS are JSON members overriding the default connection_options.
node() {
	_node=$1 _i=$(inst "$2") _opts=$3
	shift 3
	python3 - "$N/$_node.json" "$*" "{$_opts}" <<EOF
import json, sys
opts = {"ssh_user": "$SSHD_USER",
        "ssh_host": "127.0.0.1:$(sshd_port "$_i")",
        "ssh_private_key_file": "$KEY", "ssh_known_hosts_file": "$KH",
        "connect_timeout": "3s"}
opts.update(json.loads(sys.argv[3]))
json.dump({"roles": sys.argv[2].split() or ["web"], "connection_type": "ssh",
           "connection_options": opts}, open(sys.argv[1], "w"))
EOF
}
hostkey() { cat "$(sshd_hostkey "$(inst "$1")")"; }
logins() { sshd_accepted "$(inst "$1")"; }

# ---- helpers (as in daemon.sh) ----
# job NAME JSON: writes a job file (JSON given as a Python expression).
job() {
	python3 -c "import json, sys; json.dump($2, open(sys.argv[1], 'w'))" \
	    "$J/$1.json"
}

# ---- nodes: n1..n5 (role web), f1 and f2 (role pair) ----
for n in n1 n2 n3 n4 n5; do start "$n" web; done
start f1 pair
start f2 pair
# libssh2 1.10 (Debian 12) signs with RSA only as "ssh-rsa" (SHA-1), which
# OpenSSH 8.8 and later refuse unless told otherwise: see README.
SSHD_EXTRA='PubkeyAcceptedAlgorithms +ssh-rsa' start rsa1 legacy
# Other user keys: RSA (on rsa1), ECDSA, and an ed25519 key with a
# passphrase read from a file (on n3).
sshd_keygen_user rsa
node k_rsa rsa1 "\"ssh_private_key_file\": \"$SSHD_USER_KEY\"" keys
sshd_keygen_user ecdsa
node k_ecdsa n3 "\"ssh_private_key_file\": \"$SSHD_USER_KEY\"" keys
ssh-keygen -q -t ed25519 -N 'sekret phrase' -f "$SSHD_DIR/passkey"
cat "$SSHD_DIR/passkey.pub" >>"$SSHD_DIR/authorized_keys"
printf 'sekret phrase\n' >"$T/passphrase"
chmod 600 "$T/passphrase"	# refused if others may read it
node k_pass n3 "\"ssh_private_key_file\": \"$SSHD_DIR/passkey\",
 \"ssh_private_key_passphrase_file\": \"$T/passphrase\"" keys
# A host name (looked up off the event loop), and a server that accepts TCP
# connections but never speaks SSH.
node byname n2 "\"ssh_host\": \"localhost:$(sshd_port "$(inst n2)")\",
 \"ssh_host_key\": \"$(hostkey n2)\"" misc
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(600)' "$T/silent.port" &
spid=$!
wait_for 10 test -s "$T/silent.port"
node silent n2 "\"ssh_host\": \"127.0.0.1:$(cat "$T/silent.port")\",
 \"connect_timeout\": \"2s\"" misc
# An sshd that logs the keepalives it receives (the daemon sends one a
# second on an idle connection: --ssh-keepalive 1s).
SSHD_LOGLEVEL=DEBUG1 start ka none
# Host keys: the instance "hk" (in no role) seen through known_hosts files
# that do not list it, list another key for it, or a pinned key.
start hk none
: >"$T/empty_known_hosts"
: >"$T/new_known_hosts"
printf '[127.0.0.1]:%s %s\n' "$(sshd_port "$(inst hk)")" \
    "$(hostkey n5 | cut -d' ' -f1,2)" >"$T/wrong_known_hosts"
node hk_unknown hk "\"ssh_known_hosts_file\": \"$T/empty_known_hosts\"" hk
node hk_changed hk "\"ssh_known_hosts_file\": \"$T/wrong_known_hosts\"" hk
node hk_new hk "\"ssh_known_hosts_file\": \"$T/new_known_hosts\",
 \"ssh_host_key_policy\": \"accept-new\"" hk
node hk_pinned hk "\"ssh_known_hosts_file\": \"$T/empty_known_hosts\",
 \"ssh_host_key\": \"$(hostkey hk)\"" hk
node hk_badpin hk "\"ssh_known_hosts_file\": \"$T/empty_known_hosts\",
 \"ssh_host_key\": \"$(hostkey n5)\"" hk

# ---- jobs ----
# Hostile arguments, as a JSON array; the remote side writes them back
# NUL-separated into a file we compare byte for byte.
HOSTILE='["it'"'"'s", "\"dq\"", "$HOME", "a;b", "`id`", "$(id)", "line1\nline2",
 "tab\there", " lead", "trail ", "", "-n", "*", "back\\slash", "€ ü 日本",
 "'"'"'\"'"'"'", "!bang", "#hash", "a=b", "~"]'
sshd_known_hosts "$KH"

job args "{'policy': {'nodes': ['n1']}, 'schedule': '* * * * * *',
 'max_runs': 1,
 'command': ['/bin/sh', '-c', 'printf \"%s\\\\0\" \"\$@\" >$T/args.out; echo to-stderr >&2; echo \"greet=\$GREETING node=\$DISTCRON_NODE\"; exit 7', 'sh'] + $HOSTILE,
 'environment': {'GREETING': 'it\\'s \"quoted\" \$x'}}"
job big "{'policy': {'nodes': ['n1']}, 'schedule': '* * * * * *', 'max_runs': 1,
 'output_limit': '64k',
 'command': 'yes aaaaaaa | head -c 1000000; echo; echo the-end'}"
job slow "{'policy': {'nodes': ['n2']}, 'schedule': '* * * * * *', 'max_runs': 1,
 'timeout': '1s', 'kill_grace': '1s', 'command': ['sleep', '3007']}"
job fanout "{'policy': {'hosts': 'all', 'roles': ['web']},
 'schedule': '* * * * * *', 'max_runs': 1,
 'command': ['/bin/sh', '-c', 'echo \$DISTCRON_NODE']}"
job tick1 "{'policy': {'nodes': ['n1']}, 'schedule': '* * * * * *',
 'max_runs': 6, 'command': ['true']}"
job orphan "{'policy': {'roles': ['nobody']}, 'schedule': '* * * * * *',
 'max_runs': 1, 'command': ['true']}"
job keys "{'policy': {'hosts': 'all', 'roles': ['keys']},
 'schedule': '* * * * * *', 'max_runs': 1, 'command': ['true']}"
for n in ka byname silent hk_unknown hk_changed hk_new hk_pinned hk_badpin; do
	job "$n" "{'policy': {'nodes': ['$n']}, 'schedule': '* * * * * *',
	 'max_runs': 1, 'command': ['true']}"
done

"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" --listen 127.0.0.1:0 \
    --state-dir "$S" --shutdown-grace 2s --reload-delay 100ms \
    --node-check-interval 1s --node-check-max 2s --ssh-idle-timeout 3s \
    --ssh-keepalive 1s \
    --log-level debug \
    >>"$T/daemon.log" 2>&1 &
pid=$!

# ---- one run with hostile arguments ----
check "args: run recorded" wait_for 15 finals_at_least args 1
check "args: exit code 7 is a failure" py \
    "final[0]['status'] == 'FAILURE' and final[0]['items'][0]['exit_code'] == 7"
check "args: stderr captured apart" py \
    "'to-stderr' in final[0]['items'][0]['stderr'] and 'to-stderr' not in final[0]['items'][0]['output']"
check "args: environment applied remotely" py \
    "final[0]['items'][0]['output'] == 'greet=it\\'s \"quoted\" \$x node=n1\n'"
python3 -c "
import json, sys
want = b''.join(a.encode() + b'\0' for a in json.loads(sys.argv[1]))
open(sys.argv[2], 'wb').write(want)" "$HOSTILE" "$T/args.want"
check "args: every argument arrives byte for byte" cmp "$T/args.want" "$T/args.out"

# ---- output past the cap ----
check "big: run recorded" wait_for 15 finals_at_least big 1
check "big: success, truncated, head and tail kept" py \
    "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['truncated'] and len(final[0]['items'][0]['output']) < 70000 and final[0]['items'][0]['output'].startswith('aaaa') and final[0]['items'][0]['output'].endswith('the-end\n') and 'omitted' in final[0]['items'][0]['output']"

# ---- timeout kills the remote process ----
check "slow: run recorded" wait_for 15 finals_at_least slow 1
check "slow: timed out" py \
    "final[0]['status'] == 'FAILURE' and 'timed out after 1s' in final[0]['items'][0]['error']"
no_sleeper() { ! pgrep -f 'sleep 3007' >/dev/null; }
check "slow: the remote sleep is gone" wait_for 5 no_sleeper

# ---- all on five nodes ----
check "fanout: run recorded" wait_for 15 finals_at_least fanout 1
check "fanout: five items, all succeeded, each on its node" py \
    "final[0]['status'] == 'SUCCESS' and sorted((i['node'], i['output']) for i in final[0]['items']) == [('n%d' % k, 'n%d\n' % k) for k in range(1, 6)]"

# ---- one connection serves many runs ----
check "tick1: six runs" wait_for 20 finals_at_least tick1 6
check "tick1: all succeeded" py "all(r['status'] == 'SUCCESS' for r in final)"
check "n1 accepted a single login for its nine runs" \
    test "$(logins n1)" -eq 1

# ---- idle connections are closed ----
idle_closed() { grep -q 'Received disconnect.*idle' "$(sshd_log "$(inst n1)")"; }
check "n1: the idle connection is closed (ssh_idle_timeout 3s)" \
    wait_for 10 idle_closed

# ---- a pooled connection that breaks is opened again ----
job cut "{'policy': {'nodes': ['n4']}, 'schedule': '* * * * * *',
 'max_runs': 6, 'command': ['true']}"
check "cut: two runs on one connection" wait_for 15 finals_at_least cut 2
logins_before=$(logins n4)
check "cut: the connection's sshd processes are killed" sshd_cut "$(inst n4)"
cut_at=$(date +%s.%N)
check "cut: six runs" wait_for 20 finals_at_least cut 6
# Which run was in flight at the cut depends on the machine's load: the
# runs that started after it (at least two of the six) must all succeed.
check "cut: the runs started after the cut succeeded" py \
    "len([r for r in final if ts(r['started']) > $cut_at]) >= 2 and all(r['status'] == 'SUCCESS' for r in final if ts(r['started']) > $cut_at)"
check "cut: at most the run in flight at the cut failed" py \
    "sum(r['status'] != 'SUCCESS' for r in final) <= 1"
check "cut: one new login served the rest" \
    test "$(logins n4)" -eq $((logins_before + 1))

# ---- keepalives on an idle pooled connection ----
check "ka: run recorded" wait_for 15 finals_at_least ka 1
keepalive_seen() {
	grep -q 'rtype keepalive@' "$(sshd_log "$(inst ka)")"
}
check "ka: the idle connection gets keepalives" wait_for 10 keepalive_seen

# ---- user key types ----
check "keys: run recorded" wait_for 15 finals_at_least keys 1
check "keys: RSA, ECDSA and a passphrase-protected key log in" py \
    "final[0]['status'] == 'SUCCESS' and sorted(i['node'] for i in final[0]['items']) == ['k_ecdsa', 'k_pass', 'k_rsa']"

# ---- a host name, and a server that never answers ----
check "byname: run recorded" wait_for 15 finals_at_least byname 1
check "byname: localhost is resolved and the run succeeds" py \
    "final[0]['status'] == 'SUCCESS'"
check "silent: run recorded" wait_for 15 finals_at_least silent 1
check "silent: fails after connect_timeout, saying so" py \
    "final[0]['status'] == 'FAILURE' and 'within 2s (connect_timeout)' in final[0]['items'][0]['error']"

# ---- host keys ----
hk() { check "$1: run recorded" wait_for 15 finals_at_least "$1" 1; }
for n in hk_unknown hk_changed hk_new hk_pinned hk_badpin; do hk "$n"; done
history hk_unknown
check "hk_unknown: refused, naming the node and the key's fingerprint" py \
    "final[0]['status'] == 'FAILURE' and 'hk_unknown' in final[0]['items'][0]['error'] and 'SHA256:' in final[0]['items'][0]['error']"
fp=$(ssh-keygen -l -f "$(sshd_hostkey "$(inst hk)")" | cut -d' ' -f2)
check "hk_unknown: the fingerprint is the server's" py \
    "'$fp' in final[0]['items'][0]['error']"
history hk_changed
check "hk_changed: a changed key is refused" py \
    "final[0]['status'] == 'FAILURE' and '$fp' in final[0]['items'][0]['error']"
history hk_badpin
check "hk_badpin: a key other than the pinned one is refused" py \
    "final[0]['status'] == 'FAILURE' and '$fp' in final[0]['items'][0]['error']"
history hk_pinned
check "hk_pinned: the pinned key is trusted" py \
    "final[0]['status'] == 'SUCCESS'"
history hk_new
check "hk_new: accept-new trusts a first key" py \
    "final[0]['status'] == 'SUCCESS'"
check "hk_new: and records it in its known_hosts file" \
    test "$(grep -c "127.0.0.1" "$T/new_known_hosts")" -eq 1
check "no credential went to the refused servers" \
    test "$(logins hk)" -eq 2

# ---- no candidate ----
check "orphan: failure with the reason" wait_for 10 finals_at_least orphan 1
check "orphan: reason names the roles" py \
    "'no enabled node matches the job\\'s policy (roles: nobody)' in final[0]['reason']"

# ---- failover: f1 goes down mid-schedule, then comes back ----
job pair "{'policy': {'roles': ['pair']}, 'schedule': '* * * * * *',
 'command': ['/bin/sh', '-c', 'echo \$DISTCRON_NODE']}"
check "pair: runs on both nodes" wait_for 15 sh -c "
	'$ctl' history pair --state-dir '$S' -n 1000 --json >'$T/h.json' &&
	grep -q '\"output\": \"f1' '$T/h.json' && grep -q '\"output\": \"f2' '$T/h.json'"
sshd_stop "$(inst f1)"
stopped_at=$(date +%s)
check "f1 marked down" wait_for 10 grep -q 'node f1 is down' "$T/daemon.log"
sleep 3
history pair
# A run executing on f1 at the very moment it died may fail ("connection
# lost"); every run scheduled after that succeeds.
check "pair: no run failed while f1 was down" py \
    "all(r['status'] == 'SUCCESS' for r in final if ts(r['scheduled_at']) > $stopped_at)"
check "pair: a run failed over from f1 to f2 within the run" py \
    "any(len(r['items']) == 2 and r['items'][0]['node'] == 'f1' and r['items'][1]['node'] == 'f2' and r['items'][1]['attempt'] == 2 for r in final)"
job pairall "{'policy': {'hosts': 'all', 'roles': ['pair']},
 'schedule': '* * * * * *', 'max_runs': 1, 'command': ['true']}"
check "pairall: run recorded" wait_for 10 finals_at_least pairall 1
check "pairall: the down node is a failed item, the other succeeded" py \
    "final[0]['status'] == 'FAILURE' and [(i['node'], i['status']) for i in sorted(final[0]['items'], key=lambda i: i['node'])] == [('f1', 'FAILURE'), ('f2', 'SUCCESS')] and 'node f1 is down since' in [i for i in final[0]['items'] if i['node'] == 'f1'][0]['error']"
rm -f "$J/pairall.json"
sshd_restart "$(inst f1)"
check "f1 back up after a health check" wait_for 10 \
    grep -q 'node f1 is back up' "$T/daemon.log"
back() {
	history pair && py "any(r['items'][-1]['node'] == 'f1' and r['status'] == 'SUCCESS' and ts(r['scheduled_at']) > $stopped_at for r in final)"
}
check "pair: f1 takes runs again" wait_for 10 back
rm -f "$J/pair.json"

# ---- many remote runs at once, no thread per run ----
for k in 1 2 3 4 5 6; do
	job "wide$k" "{'policy': {'hosts': 'all', 'roles': ['web']},
	 'schedule': '* * * * * *', 'max_runs': 1, 'command': ['sleep', '8']}"
done
# Long enough that all 30 overlap even when a busy machine (the suite runs
# tests in parallel) spreads their starts over a few seconds.
busy() { test "$(pgrep -fc 'sleep 8$')" -ge 30; }
check "30 remote runs in flight" wait_for 20 busy
threads=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$pid/status")
check "the daemon runs them with $threads threads" test "$threads" -le 8
check "wide runs recorded" wait_for 25 finals_at_least wide6 1
for k in 1 2 3 4 5 6; do rm -f "$J/wide$k.json"; done

# ---- HTTP jobs ----
python3 "$top_srcdir/tests/integration/httpd_double.py" \
    --port-file "$T/http.port" >/dev/null 2>&1 &
hpid=$!
wait_for 10 test -s "$T/http.port"
hp=$(cat "$T/http.port")
job hook_ok "{'schedule': '* * * * * *', 'max_runs': 1,
 'http': {'url': 'http://127.0.0.1:$hp/status/200'}}"
job hook_bad "{'schedule': '* * * * * *', 'max_runs': 1,
 'http': {'url': 'http://127.0.0.1:$hp/status/503', 'method': 'POST',
          'body': '{}', 'expect_status': [200, 204]}}"
check "hook_ok: run recorded" wait_for 15 finals_at_least hook_ok 1
check "hook_ok: success with status 200 on the daemon" py \
    "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['exit_code'] == 200 and final[0]['items'][0]['node'] == '(daemon)'"
check "hook_bad: run recorded" wait_for 15 finals_at_least hook_bad 1
check "hook_bad: 503 is a failure that says why" py \
    "final[0]['status'] == 'FAILURE' and 'HTTP status 503 (expected 200, 204)' in final[0]['items'][0]['error']"

kill -TERM "$pid"
wait "$pid"
check "daemon exits 0 on SIGTERM" test "$?" -eq 0
pid=
check "no secret or key material in the log" sh -c \
    "! grep -q -e 'PRIVATE KEY' -e 'sekret' '$T/daemon.log'"
daemon_log_report "$T/daemon.log"
finish
