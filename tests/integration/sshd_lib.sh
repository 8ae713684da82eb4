# sshd_lib.sh - throwaway OpenSSH servers for the integration tests (POSIX
# sh; source it after lib.sh and call tmpdir_setup first).
#
#   . "$top_srcdir/tests/integration/lib.sh"
#   . "$top_srcdir/tests/integration/sshd_lib.sh"
#   tmpdir_setup
#   sshd_require                  # skips (77) unless root with sshd installed
#   sshd_keygen_user              # $SSHD_USER_KEY, authorized for every sshd
#   sshd_start 2                  # two sshds on 127.0.0.1, ED25519 host keys
#   sshd_start 1 "ecdsa ed25519"  # one more, with two host keys
#   sshd_port 1; sshd_hostkey 1 [TYPE]; sshd_log 1
#   sshd_known_hosts FILE         # "[127.0.0.1]:PORT type key" for each
#   sshd_node_json 1 KH [EXTRA]   # a node definition, EXTRA options appended
#   sshd_write_nodes DIR KH       # DIR/node1.json ... one per sshd
#   sshd_ssh 1 LINE               # the OpenSSH client; $T/out, $T/err, $rc
#   sshd_ssh_start 1 LINE; sshd_ssh_eof; sshd_ssh_wait   # the same, in steps
#                                 # (one client at a time: it uses fd 9)
#   sshd_hostile_args FILE        # words shells take for syntax, NUL-ended
#   sshd_login_user NAME SHELL    # a system user logging in with the key
#   sshd_accepted 1               # connections sshd 1 has authenticated
#   sshd_pgrep 1 PATTERN          # processes matching PATTERN that a login
#                                 # through sshd 1 started (even orphaned)
#   sshd_cut 1                    # its open connections break, it stays up
#   sshd_stop 1; sshd_restart 1   # one sshd and its connections go away,
#                                 # then it comes back on the same port
#   sshd_stop_all                 # also runs on exit
#
# SSHD_EXTRA, when set while sshd_start runs, is appended to the configs;
# SSHD_LOGLEVEL replaces their LogLevel (VERBOSE), SSHD_MAXSESSIONS their
# MaxSessions (10) and SSHD_MAXSTARTUPS their MaxStartups (100:30:200; sshd's
# own default is 10:30:100): sshd keeps the first value a config gives, so
# SSHD_EXTRA cannot change them.
#
# Each sshd has its own generated config (checked with "sshd -t" first), a
# port picked free by binding port 0 (retried if sshd cannot bind it), its
# own host keys, a pid file and a log in $T/sshd/N/.  Everything listens on
# 127.0.0.1 only.

SSHD=/usr/sbin/sshd
SSHD_DIR=
SSHD_COUNT=0
SSHD_USER_KEY=
SSHD_USER=

# sshd_require: skips the test unless it can run sshd (root, OpenSSH server
# and client, python3 for picking ports).
sshd_require() {
	[ "$(id -u)" = 0 ] || skip "sshd tests need root (sshd privilege separation)"
	[ -x "$SSHD" ] || skip "$SSHD not installed (Debian package openssh-server)"
	for _c in ssh ssh-keygen python3; do
		command -v "$_c" >/dev/null 2>&1 ||
		    skip "$_c not installed (openssh-client, python3)"
	done
	: "${T:?call tmpdir_setup before sshd_require}"
	SSHD_DIR=$T/sshd
	SSHD_USER=$(id -un)
	mkdir -p "$SSHD_DIR" /run/sshd || exit 99
	: >"$SSHD_DIR/authorized_keys"
	chain_exit sshd_stop_all
}

# sshd_keygen_user [TYPE]: a user key pair without passphrase (ed25519,
# ecdsa or rsa), authorized for every sshd; its path in $SSHD_USER_KEY.
sshd_keygen_user() {
	_t=${1:-ed25519}
	SSHD_USER_KEY=$SSHD_DIR/id_$_t
	rm -f "$SSHD_USER_KEY" "$SSHD_USER_KEY.pub"
	ssh-keygen -q -t "$_t" -N '' -C "distcron-test-user" \
	    -f "$SSHD_USER_KEY" || exit 99
	cat "$SSHD_USER_KEY.pub" >>"$SSHD_DIR/authorized_keys"
}

# sshd_hostile_args FILE: writes words that a shell would take for syntax
# (quotes, $, backticks, backslashes, newlines, ;, !, globs, options,
# non-ASCII), each ended by a NUL, to FILE; "xargs -0 CMD <FILE" passes
# them as arguments.
sshd_hostile_args() {
	_nl='
'
	_tab=$(printf '\tx')
	_f=$1
	set -- plain '' ' ' "it's" "''" '"' '$HOME' '${PATH}' '`id`' '$(id)' \
	    ';' 'a; echo pwned' '&&' '|' '>x' '\' '\\n' "a${_nl}b" "$_nl" \
	    "$_tab" '*' '?' '[a]' '~' '#c' '!' '-n' '--' '%s' 'café 日本 🙂' \
	    "a'b\"c\$d\`e\\f g${_nl}h"
	printf '%s\0' "$@" >"$_f"
}

# sshd_login_user NAME SHELL: creates the system user NAME with login shell
# SHELL and a home in $T, allowed to log in with $SSHD_USER_KEY (no
# password, not locked); removed on exit, with whatever it still runs.
sshd_login_user() {
	command -v useradd >/dev/null 2>&1 || skip "useradd not installed"
	[ -x "$2" ] || skip "$2 not installed"
	useradd -r -m -d "$T/home-$1" -s "$2" "$1" || exit 99
	usermod -p '*' "$1" || exit 99	# "!" would be locked for sshd
	SSHD_LOGIN_USERS="${SSHD_LOGIN_USERS:-} $1"
	[ -n "${_sshd_users_chained:-}" ] && return 0
	_sshd_users_chained=1
	chain_exit _sshd_users_remove
	chmod 755 "$T" "$SSHD_DIR"	# sshd reads the keys as the user
	chmod 644 "$SSHD_DIR/authorized_keys"
}

_sshd_users_remove() {
	for _u in ${SSHD_LOGIN_USERS:-}; do
		pkill -KILL -u "$_u" 2>/dev/null
		userdel -r "$_u" 2>/dev/null || userdel "$_u"
	done
}

# _sshd_config DIR PORT TYPES: writes DIR/sshd_config.
_sshd_config() {
	{
		echo "ListenAddress 127.0.0.1"
		echo "Port $2"
		for _t in $3; do
			echo "HostKey $1/hostkey_$_t"
		done
		cat <<EOF
PidFile $1/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
LogLevel ${SSHD_LOGLEVEL:-VERBOSE}
MaxSessions ${SSHD_MAXSESSIONS:-10}
MaxStartups ${SSHD_MAXSTARTUPS:-100:30:200}
${SSHD_EXTRA:-}
EOF
	} >"$1/sshd_config"
}

# _sshd_wait_pid DIR: waits up to 10 s for the pid file.
_sshd_wait_pid() {
	_n=0
	while [ ! -s "$1/sshd.pid" ]; do
		_n=$((_n + 1))
		[ "$_n" -le 100 ] || return 1
		sleep 0.1
	done
}

# _sshd_start_one N TYPES: starts sshd number N, retrying on a taken port.
_sshd_start_one() {
	_d=$SSHD_DIR/$1
	mkdir -p "$_d"
	for _t in $2; do
		ssh-keygen -q -t "$_t" -N '' -C "distcron-test-host-$1" \
		    -f "$_d/hostkey_$_t" || exit 99
	done
	for _try in 1 2 3 4 5; do
		_p=$(free_port) || exit 99
		_sshd_config "$_d" "$_p" "$2"
		"$SSHD" -t -f "$_d/sshd_config" || {
			echo "sshd -t rejects $_d/sshd_config" >&2; exit 99; }
		if "$SSHD" -f "$_d/sshd_config" -E "$_d/sshd.log"; then
			_sshd_wait_pid "$_d" || {
				echo "sshd $1 wrote no pid file" >&2; exit 99; }
			echo "$_p" >"$_d/port"
			return 0
		fi
	done
	echo "sshd $1 could not bind a port; see $_d/sshd.log" >&2
	exit 99
}

# sshd_start COUNT [TYPES]: starts COUNT more sshds, each with its own host
# keys of the given types (default "ed25519"; also ecdsa, rsa).
sshd_start() {
	_i=0
	while [ "$_i" -lt "$1" ]; do
		_i=$((_i + 1))
		SSHD_COUNT=$((SSHD_COUNT + 1))
		_sshd_start_one "$SSHD_COUNT" "${2:-ed25519}"
	done
}

# sshd_port N, sshd_log N, sshd_hostkey N [TYPE] (the .pub file).
sshd_port() { cat "$SSHD_DIR/$1/port"; }
sshd_log() { echo "$SSHD_DIR/$1/sshd.log"; }
sshd_hostkey() {
	if [ -n "${2:-}" ]; then
		echo "$SSHD_DIR/$1/hostkey_$2.pub"
	else
		ls "$SSHD_DIR/$1"/hostkey_*.pub | head -n 1
	fi
}

# sshd_known_hosts FILE: lists every host key of every sshd, as
# "[127.0.0.1]:PORT keytype base64".
sshd_known_hosts() {
	: >"$1"
	_i=0
	while [ "$_i" -lt "$SSHD_COUNT" ]; do
		_i=$((_i + 1))
		for _k in "$SSHD_DIR/$_i"/hostkey_*.pub; do
			printf '[127.0.0.1]:%s %s\n' "$(sshd_port "$_i")" \
			    "$(cut -d ' ' -f 1,2 "$_k")" >>"$1"
		done
	done
}

# sshd_node_json N KNOWN_HOSTS [EXTRA]: prints a node definition for sshd N;
# EXTRA (e.g. ', "ssh_host_key_policy": "accept-new"') is added to its
# connection_options.
sshd_node_json() {
	cat <<EOF
{
    "roles": ["ssh"],
    "connection_type": "ssh",
    "connection_options": {
        "ssh_user": "$SSHD_USER",
        "ssh_host": "127.0.0.1:$(sshd_port "$1")",
        "ssh_private_key_file": "$SSHD_USER_KEY",
        "ssh_known_hosts_file": "$2"${3:-}
    }
}
EOF
}

# sshd_write_nodes DIR KNOWN_HOSTS: DIR/node1.json, DIR/node2.json, ...
sshd_write_nodes() {
	mkdir -p "$1"
	_i=0
	while [ "$_i" -lt "$SSHD_COUNT" ]; do
		_i=$((_i + 1))
		sshd_node_json "$_i" "$2" >"$1/node$_i.json"
	done
}

# sshd_ssh_start N LINE: starts the OpenSSH client in the background to run
# LINE on sshd N (user key, host keys checked against every sshd's, no
# agent, no config, 60 s at most), stdout in $T/out, stderr in $T/err, pid
# in $SSHD_SSH_PID.  Its stdin stays open until sshd_ssh_eof: a distcron
# command line takes EOF on its input as the request to stop.
sshd_ssh_start() {
	sshd_known_hosts "$SSHD_DIR/ssh_known_hosts"
	rm -f "$SSHD_DIR/ssh.stdin"
	mkfifo "$SSHD_DIR/ssh.stdin" || exit 99
	timeout -k 5 60 ssh -F /dev/null -i "$SSHD_USER_KEY" \
	    -p "$(sshd_port "$1")" -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o LogLevel=ERROR -o StrictHostKeyChecking=yes \
	    -o UserKnownHostsFile="$SSHD_DIR/ssh_known_hosts" \
	    "$SSHD_USER@127.0.0.1" "$2" <"$SSHD_DIR/ssh.stdin" \
	    >"$T/out" 2>"$T/err" &
	SSHD_SSH_PID=$!
	exec 9>"$SSHD_DIR/ssh.stdin"
}

# sshd_ssh_eof: closes the client's stdin (the remote side sees EOF).
sshd_ssh_eof() {
	exec 9>&-
}

# sshd_ssh_wait: waits for the client; its exit status in $rc.  The first
# line a distcron command line writes on stderr names its process group
# ("distcron-pgid N"); the daemon strips it, and so does this.
sshd_ssh_wait() {
	wait "$SSHD_SSH_PID"
	rc=$?
	sshd_ssh_eof
	sed -i '1{/^distcron-pgid [0-9][0-9]*$/d;}' "$T/err"
}

# sshd_ssh N LINE: runs LINE on sshd N to completion, like lib.sh's run:
# stdout in $T/out, stderr in $T/err, exit status in $rc.
sshd_ssh() {
	sshd_ssh_start "$1" "$2"
	sshd_ssh_wait
}

# sshd_accepted N: how many connections sshd N has authenticated.
sshd_accepted() {
	grep -c 'Accepted publickey' "$(sshd_log "$1")"
}

# sshd_pgrep N PATTERN: the pids of the processes whose command line matches
# PATTERN (pgrep -f) and whose environment says a login through sshd N
# started them (SSH_CONNECTION ends with its port), so that tests running at
# the same time, with sshds of their own, do not count; a process orphaned
# when its connection went away still counts.  Fails when there is none.
sshd_pgrep() {
	_port=$(sshd_port "$1")
	_found=1
	for _p in $(pgrep -f "$2"); do
		tr '\0' '\n' <"/proc/$_p/environ" 2>/dev/null |
		    grep -q "^SSH_CONNECTION=.* $_port\$" || continue
		echo "$_p"
		_found=0
	done
	return $_found
}

# _sshd_conns PID: the processes serving the open connections of the sshd
# PID (the monitor and session processes under it).
_sshd_conns() {
	_kids=$(pgrep -P "$1" 2>/dev/null)
	for _c in $_kids; do _kids="$_kids $(pgrep -P "$_c" 2>/dev/null)"; done
	echo $_kids
}

# sshd_stop N: stops sshd N and its open connections, as when a node goes
# down.
sshd_stop() {
	_f=$SSHD_DIR/$1/sshd.pid
	[ -s "$_f" ] || return 0
	_pid=$(cat "$_f")
	kill "$_pid" $(_sshd_conns "$_pid") 2>/dev/null
	rm -f "$_f"
}

# sshd_cut N: kills (-9) the open connections of sshd N; the server stays
# up, so the next connection is served.  Fails if there was none.
sshd_cut() {
	_conns=$(_sshd_conns "$(cat "$SSHD_DIR/$1/sshd.pid")")
	[ -n "$_conns" ] && kill -9 $_conns
}

# sshd_restart N: starts sshd N again with its config (same port, keys).
sshd_restart() {
	"$SSHD" -f "$SSHD_DIR/$1/sshd_config" -E "$SSHD_DIR/$1/sshd.log" &&
	    _sshd_wait_pid "$SSHD_DIR/$1"
}

# sshd_stop_all: stops every sshd started here (TERM, then KILL after 5 s).
sshd_stop_all() {
	[ -n "$SSHD_DIR" ] || return 0
	for _f in "$SSHD_DIR"/*/sshd.pid; do
		[ -s "$_f" ] || continue
		_pid=$(cat "$_f")
		kill "$_pid" 2>/dev/null
		_n=0
		while kill -0 "$_pid" 2>/dev/null && [ "$_n" -lt 50 ]; do
			sleep 0.1
			_n=$((_n + 1))
		done
		kill -9 "$_pid" 2>/dev/null
		rm -f "$_f"
	done
}
