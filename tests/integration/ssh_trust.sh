#!/bin/sh
# ssh_trust.sh - SSH host keys and remote command lines against real sshds.
# "distcronctl trust" and "trust --check": unknown keys, keys already
# trusted, changed keys, hashed known_hosts entries, @revoked, servers with
# several host key types, pinned keys, accept-new, unreachable nodes, and
# that none of it authenticates.  Then the command line of sshcmd through
# sshd and the OpenSSH client: every argument byte for byte, working
# directory, environment, exit codes and signals, and cancellation (EOF on
# the channel, or the connection dropped) that leaves no process behind.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

tmpdir_setup
ctl=$(find_bin distcronctl)
mkline=$(find_bin tests/unit/sshcmd_line)
sshd_require
unset DISTCRON_JOBS_DIR DISTCRON_NODES_DIR DISTCRON_STATE_DIR
command -v ps >/dev/null 2>&1 || skip "ps not installed (procps)"

sshd_keygen_user
sshd_start 2
sshd_start 1 "ecdsa ed25519"
p1=$(sshd_port 1)
p2=$(sshd_port 2)
p3=$(sshd_port 3)
N=$T/nodes
mkdir -p "$T/kh"
KH=$T/kh/known_hosts
sshd_write_nodes "$N" "$KH"

# fp PUBFILE: the "SHA256:..." fingerprint ssh-keygen prints.
fp() { ssh-keygen -l -E sha256 -f "$1" | cut -d ' ' -f 2; }
# keyline N [TYPE]: "keytype base64" of a host key of sshd N.
keyline() { cut -d ' ' -f 1,2 "$(sshd_hostkey "$@")"; }
# trust ARGS: distcronctl trust on the test's nodes.
trust() { run "$ctl" trust "$@" --nodes-dir "$N"; }
# lines FILE: its number of lines.
lines() { wc -l <"$1" | tr -d ' '; }
# unchanged FILE COPY
unchanged() { cmp -s "$1" "$2"; }

fp1=$(fp "$(sshd_hostkey 1)")
fp2=$(fp "$(sshd_hostkey 2)")

# --- trust: new, already trusted --------------------------------------------

trust node1
check "trust: a new key exits 0" test "$rc" -eq 0
check "trust: prints the fingerprint ssh-keygen prints" \
    contains "$T/out" "node node1 at [127.0.0.1]:$p1 presents ED25519 $fp1"
check "trust: says the key was added" contains "$T/out" "added to $KH"
check "trust: known_hosts holds exactly the key" \
    same "$KH" "[127.0.0.1]:$p1 $(keyline 1)"
check "trust: known_hosts is mode 0644" test "$(stat -c %a "$KH")" = 644
check "trust: OpenSSH finds the entry" \
    sh -c 'ssh-keygen -F "$1" -f "$2" | grep -q "ssh-ed25519"' sh \
    "[127.0.0.1]:$p1" "$KH"
cp "$KH" "$T/kh.1"

trust node1
check "trust again: exits 0" test "$rc" -eq 0
check "trust again: already trusted, with the line" \
    contains "$T/out" "already trusted: $KH line 1"
check "trust again: the file is unchanged" unchanged "$KH" "$T/kh.1"

trust node2
check "trust node2: exits 0" test "$rc" -eq 0
check "trust node2: a second line" test "$(lines "$KH")" -eq 2
check "trust node2: its fingerprint" contains "$T/out" "ED25519 $fp2"

run ssh -F /dev/null -i "$SSHD_USER_KEY" -p "$p1" -o BatchMode=yes \
    -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$KH" "$SSHD_USER@127.0.0.1" true </dev/null
check "the OpenSSH client accepts the file trust wrote" test "$rc" -eq 0

# --- trust --check ------------------------------------------------------------

trust --check node1
check "check: a listed key exits 0" test "$rc" -eq 0
check "check: names the line" contains "$T/out" "is listed in $KH line 1"

rm -f "$KH"
trust --check node1
check "check: an unknown key exits 1" test "$rc" -eq 1
check "check: unknown, with node and fingerprint" contains "$T/err" \
    "host key of node node1 ([127.0.0.1]:$p1) is not known: ED25519 $fp1"
check "check: unknown, says what to run" \
    contains "$T/err" "run 'distcronctl trust node1'"
check "check: changes nothing" test ! -e "$KH"

# --- changed keys ---------------------------------------------------------------

printf '# distcron test\n\n[127.0.0.1]:%s %s\n' "$p1" "$(keyline 2)" >"$KH"
cp "$KH" "$T/kh.before"
trust node1
check "changed: trust exits 1" test "$rc" -eq 1
check "changed: says CHANGED with the new fingerprint" \
    contains "$T/err" "has CHANGED: now ED25519 $fp1"
check "changed: names the file and line" contains "$T/err" "$KH line 3"
check "changed: the file is unchanged" unchanged "$KH" "$T/kh.before"
trust --check node1
check "changed: check exits 1" test "$rc" -eq 1
check "changed: check says CHANGED" contains "$T/err" "CHANGED"

printf '127.0.0.1 %s\n[127.0.0.1]:%s %s\n' "$(keyline 2)" "$p2" "$(keyline 2)" \
    >"$KH"
trust --check node1
check "ports: a key for port 22 or another port does not count" \
    contains "$T/err" "is not known"

# --- hashed entries -------------------------------------------------------------

printf '[127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$p2" "$(keyline 2)" \
    "$p1" "$(keyline 1)" >"$KH"
ssh-keygen -H -f "$KH" >/dev/null 2>&1
rm -f "$KH.old"
check "hashed: no host name left in the file" \
    sh -c '! grep -q 127.0.0.1 "$1" && grep -q "^|1|" "$1"' sh "$KH"
trust --check node1
check "hashed: a hashed entry is trusted" test "$rc" -eq 0
check "hashed: names its line" contains "$T/out" "$KH line 2"
trust node1
check "hashed: trust says already trusted" contains "$T/out" "already trusted"
printf '[127.0.0.1]:%s %s\n' "$p1" "$(keyline 2)" >"$KH"
ssh-keygen -H -f "$KH" >/dev/null 2>&1
rm -f "$KH.old"
trust --check node1
check "hashed: a changed key is refused" test "$rc" -eq 1
check "hashed: changed, with the line" contains "$T/err" "CHANGED"
check "hashed: changed, line 1" contains "$T/err" "$KH line 1"

# --- @revoked -------------------------------------------------------------------

printf '[127.0.0.1]:%s %s\n@revoked [127.0.0.1]:%s %s\n' "$p1" \
    "$(keyline 1)" "$p1" "$(keyline 1)" >"$KH"
trust --check node1
check "revoked: refused although also listed" test "$rc" -eq 1
check "revoked: says so, with the line" contains "$T/err" "REVOKED"
check "revoked: line 2" contains "$T/err" "$KH line 2"

# --- several host key types ------------------------------------------------------

printf '[127.0.0.1]:%s %s\n' "$p3" "$(keyline 3 ed25519)" >"$KH"
trust --check node3
check "types: the server's ED25519 key is chosen when that is listed" \
    test "$rc" -eq 0
check "types: ED25519 presented" contains "$T/out" \
    "presents ED25519 $(fp "$(sshd_hostkey 3 ed25519)")"
printf '[127.0.0.1]:%s %s\n' "$p3" "$(keyline 3 ecdsa)" >"$KH"
trust --check node3
check "types: the ECDSA key is chosen when that is listed" test "$rc" -eq 0
check "types: ECDSA presented" contains "$T/out" \
    "presents ECDSA $(fp "$(sshd_hostkey 3 ecdsa)")"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/other_rsa" || exit 99
printf '[127.0.0.1]:%s %s\n' "$p3" "$(cut -d ' ' -f 1,2 "$T/other_rsa.pub")" \
    >"$KH"
cp "$KH" "$T/kh.before"
trust --check node3
check "types: only a key of another type listed: refused" test "$rc" -eq 1
check "types: says which type and line" \
    contains "$T/err" "$KH line 1 has a RSA key for this host"
trust node3
check "types: trust refuses too" test "$rc" -eq 1
check "types: the file is unchanged" unchanged "$KH" "$T/kh.before"

# --- pinned keys ------------------------------------------------------------------

: >"$KH"
pin() { sshd_node_json "$1" "$KH" ", \"ssh_host_key\": \"$2\"" >"$N/$3.json"; }
pin 1 "$(cat "$(sshd_hostkey 1)")" pin_ok
pin 1 "$(cat "$(sshd_hostkey 2)")" pin_wrong
pin 1 "ssh-ed25519 AAAA-not-base64!" pin_garbage
pin 1 "ssh-rsa $(cut -d ' ' -f 2 "$(sshd_hostkey 1)")" pin_mislabelled
pin 3 "$(cat "$(sshd_hostkey 3 ecdsa)")" pin3_ecdsa
pin 3 "$(cat "$(sshd_hostkey 3 ed25519)")" pin3_ed25519

trust --check pin_ok
check "pinned: the right key is trusted" test "$rc" -eq 0
check "pinned: says so" contains "$T/out" "is its pinned key ED25519 $fp1"
trust pin_ok
check "pinned: trust exits 0" test "$rc" -eq 0
check "pinned: trust records nothing" test ! -s "$KH"
trust --check pin_wrong
check "pinned: another key is refused" test "$rc" -eq 1
check "pinned: refusal names the presented key" contains "$T/err" \
    "does not match its pinned ssh_host_key: the server presents ED25519 $fp1"
trust pin_wrong
check "pinned: trust refuses a mismatch" test "$rc" -eq 1
trust --check pin_garbage
check "pinned: garbage is refused" test "$rc" -eq 1
check "pinned: garbage is explained" contains "$T/err" \
    "node pin_garbage: ssh_host_key: the key data is not base64"
trust --check pin_mislabelled
check "pinned: a mislabelled key is refused" test "$rc" -eq 1
check "pinned: mislabelled is explained" contains "$T/err" \
    "does not hold a key of the named type"
trust --check pin3_ecdsa
check "pinned: a server with two keys presents the pinned ECDSA key" \
    test "$rc" -eq 0
trust --check pin3_ed25519
check "pinned: ... or the pinned ED25519 key" test "$rc" -eq 0
check "pinned: nothing was recorded" test ! -s "$KH"

# --- accept-new ----------------------------------------------------------------------

sshd_node_json 1 "$KH" ', "ssh_host_key_policy": "accept-new"' \
    >"$N/an1.json"
sshd_node_json 3 "$KH" ', "ssh_host_key_policy": "accept-new"' \
    >"$N/an3.json"
rm -f "$KH"
trust --check an1
check "accept-new: a new host is trusted" test "$rc" -eq 0
check "accept-new: says it was added" contains "$T/out" "added to $KH"
check "accept-new: the file gains that one line" \
    same "$KH" "[127.0.0.1]:$p1 $(keyline 1)"
trust --check an1
check "accept-new: next time it is listed" contains "$T/out" "is listed in"
check "accept-new: still one line" test "$(lines "$KH")" -eq 1
printf '[127.0.0.1]:%s %s\n' "$p1" "$(keyline 2)" >"$KH"
cp "$KH" "$T/kh.before"
trust --check an1
check "accept-new: a changed key is still refused" test "$rc" -eq 1
check "accept-new: CHANGED" contains "$T/err" "CHANGED"
check "accept-new: the file is unchanged" unchanged "$KH" "$T/kh.before"
printf '[127.0.0.1]:%s %s\n' "$p3" "$(cut -d ' ' -f 1,2 "$T/other_rsa.pub")" \
    >"$KH"
cp "$KH" "$T/kh.before"
trust --check an3
check "accept-new: a host known with another key type is refused" \
    test "$rc" -eq 1
check "accept-new: ... and nothing is added" unchanged "$KH" "$T/kh.before"

# --- files -------------------------------------------------------------------------

printf '# no newline at the end' >"$KH"
trust node1
check "no final newline: trust exits 0" test "$rc" -eq 0
check "no final newline: the key gets a line of its own" \
    test "$(sed -n 2p "$KH")" = "[127.0.0.1]:$p1 $(keyline 1)"

sshd_node_json 1 "$T/missing/dir/known_hosts" >"$N/nodir.json"
trust nodir
check "missing directory: trust exits 1" test "$rc" -eq 1
check "missing directory: names the file" \
    contains "$T/err" "cannot add its host key to $T/missing/dir/known_hosts"

# --- unreachable nodes, bad arguments ------------------------------------------------

closed=$(free_port)
sed "s/127.0.0.1:$p1/127.0.0.1:$closed/" "$N/node1.json" >"$N/closed.json"
trust closed
check "closed port: exits 1" test "$rc" -eq 1
check "closed port: names node, address and reason" contains "$T/err" \
    "cannot reach node closed at [127.0.0.1]:$closed: Connection refused"

python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
print(s.getsockname()[1], flush=True)
time.sleep(30)' >"$T/silent.port" &
silent_pid=$!
n=0
while [ ! -s "$T/silent.port" ] && [ "$n" -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
silent=$(cat "$T/silent.port")
sed -e "s/127.0.0.1:$p1/127.0.0.1:$silent/" \
    -e 's/"ssh_user"/"connect_timeout": "1s", "ssh_user"/' \
    "$N/node1.json" >"$N/silent.json"
start=$(date +%s)
trust silent
kill "$silent_pid" 2>/dev/null
wait "$silent_pid" 2>/dev/null
check "silent server: exits 1" test "$rc" -eq 1
check "silent server: gives up after connect_timeout" \
    test $(($(date +%s) - start)) -le 5
check "silent server: names node and address" contains "$T/err" \
    "SSH handshake with node silent at [127.0.0.1]:$silent failed"

echo '{ "roles": ["x"], "connection_type": "local" }' >"$N/local.json"
trust local
check "a local node: exits 1" test "$rc" -eq 1
check "a local node: says why" contains "$T/err" "node local is not an SSH node"
trust nosuch
check "a missing node: exits 1" test "$rc" -eq 1
check "a missing node: names the file" contains "$T/err" "$N/nosuch.json"
run "$ctl" trust --nodes-dir "$N"
check "no NODE: usage error" test "$rc" -eq 2

check "trust never authenticated (sshd 2 saw no login)" \
    test "$(sshd_accepted 2)" -eq 0

# --- the command line through sshd ---------------------------------------------------

# alive PID: true while PID runs (a zombie does not count).
alive() {
	_s=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -n "$_s" ] && [ "${_s#Z}" = "$_s" ]
}

# gone_within SECONDS PID...: true once none of the PIDs runs.
gone_within() {
	_n=$(($1 * 10))
	shift
	while [ "$_n" -gt 0 ]; do
		_a=0
		for _p in "$@"; do
			alive "$_p" && _a=1
		done
		[ "$_a" -eq 0 ] && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# gone_pattern SECONDS REGEX: true once no command line matches REGEX.
gone_pattern() {
	_n=$(($1 * 10))
	while pgrep -f "$2" >/dev/null; do
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
		_n=$((_n - 1))
	done
}

# wait_file FILE: waits up to 10 s for FILE to appear.
wait_file() {
	_n=0
	while [ ! -s "$1" ] && [ "$_n" -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -s "$1" ]
}

accepted0=$(sshd_accepted 1)
nl='
'
sshd_hostile_args "$T/want"
line=$(xargs -0 "$mkline" -- printf '%s\0' <"$T/want")
sshd_ssh 1 "$line"
check "sshd: argv round trip exits 0" test "$rc" -eq 0
check "sshd: every argument arrives byte for byte" cmp -s "$T/want" "$T/out"
check "sshd: nothing on stderr" test ! -s "$T/err"

mkdir -p "$T/it's a \"dir\""
line=$("$mkline" -d "$T/it's a \"dir\"" -e "X=it's \$x \`y\`" -e 'Y=' -- \
    /bin/sh -c 'pwd; printf "%s|%s\n" "$X" "$Y"')
sshd_ssh 1 "$line"
check "sshd: working directory and environment" same "$T/out" \
    "$T/it's a \"dir\"
it's \$x \`y\`|"

line=$("$mkline" -d "$T/no such dir" -- true)
sshd_ssh 1 "$line"
check "sshd: a missing working directory exits 126" test "$rc" -eq 126
check "sshd: ... with a message" \
    contains "$T/err" "distcron: cannot change to the working directory"

line=$("$mkline" -s 'echo out; echo err >&2; exit 7')
sshd_ssh 1 "$line"
check "sshd: a shell command's exit code" test "$rc" -eq 7
check "sshd: its stdout" same "$T/out" "out"
check "sshd: its stderr" same "$T/err" "err"

line=$("$mkline" -- /bin/sh -c 'exit 143')
sshd_ssh 1 "$line"
check "sshd: exit 143 stays exit code 143, not TERM" test "$rc" -eq 143
line=$("$mkline" -- /bin/sh -c 'kill -s TERM $$')
sshd_ssh 1 "$line"
check "sshd: death by TERM is an exit-signal (the client exits 255)" \
    test "$rc" -eq 255
check "sshd: ... and adds nothing to stderr" test ! -s "$T/err"

line=$("$mkline" -- /bin/sh -c 'echo $PPID; sleep 300 >/dev/null 2>&1 &
echo $!')
sshd_ssh 1 "$line"
wrapper=$(sed -n 1p "$T/out")
leftover=$(sed -n 2p "$T/out")
check "sshd: a normal run ends" test "$rc" -eq 0
check "sshd: its watcher is gone" gone_pattern 3 "[d]istcron-watch $wrapper "
check "sshd: what it left in the background is killed" \
    gone_within 5 "$leftover"

marker=distcron-marker-$$
mpat="[d]istcron-marker-$$"	# matches the marker, never this pattern
cancel_line() {
	"$mkline" -g "$1" -- /bin/sh -c "$2"'
echo $$ >"$1.tmp"; sleep 300 & echo $! >>"$1.tmp"; mv "$1.tmp" "$1"; wait' \
	    "$marker" "$T/pids"
}

rm -f "$T/pids"
sshd_ssh_start 1 "$(cancel_line 5000 '')"
wait_file "$T/pids"
pids=$(cat "$T/pids")
check "sshd: the command runs while the channel is open" alive ${pids%%"$nl"*}
sshd_ssh_eof
sshd_ssh_wait
# shellcheck disable=SC2086
check "sshd: EOF on the channel kills the command and its child" \
    gone_within 3 $pids
check "sshd: ... and leaves no process with the marker" \
    gone_pattern 1 "$mpat"

rm -f "$T/pids"
sshd_ssh_start 1 "$(cancel_line 5000 '')"
wait_file "$T/pids"
pids=$(cat "$T/pids")
kill "$SSHD_SSH_PID"
sshd_ssh_wait
# shellcheck disable=SC2086
check "sshd: a dropped connection kills the command and its child" \
    gone_within 3 $pids

rm -f "$T/pids"
sshd_ssh_start 1 "$(cancel_line 1000 'trap "" TERM')"
wait_file "$T/pids"
pids=$(cat "$T/pids")
kill "$SSHD_SSH_PID"
sshd_ssh_wait
# shellcheck disable=SC2086
check "sshd: a command ignoring TERM is killed after the grace" \
    gone_within 5 $pids
check "sshd: no process with the marker remains" gone_pattern 1 "$mpat"

check "sshd: one accepted connection per client run" \
    test "$(sshd_accepted 1)" -eq $((accepted0 + 10))

finish
