# etcd_lib.sh - throwaway etcd clusters for the integration tests (POSIX sh;
# source it after lib.sh and call tmpdir_setup first).
#
#   . "$top_srcdir/tests/integration/lib.sh"
#   . "$top_srcdir/tests/integration/etcd_lib.sh"
#   tmpdir_setup
#   etcd_require                  # skips (77) without etcd and etcdctl
#   etcd_start 3 [FLAGS...]       # a 3-member cluster (or 1), healthy;
#                                 # $ETCD_ENDPOINTS "http://127.0.0.1:P,..."
#   etcd_start_tls 1 [FLAGS...]   # the same over https: $ETCD_CA (the CA
#                                 # that signed the server certificates),
#                                 # $ETCD_CLIENT_CERT/$ETCD_CLIENT_KEY (a
#                                 # client certificate from the same CA),
#                                 # $ETCD_OTHER_CA (a CA that signed nothing);
#                                 # with ETCD_CLIENT_AUTH=1 set, etcd
#                                 # demands a client certificate
#   etcd_enable_auth USER PASS    # users root and USER (role root), auth on
#   etcd_ctl ARGS...              # etcdctl (v3 API) on the cluster, as root
#                                 # once auth is on
#   etcd_ctl_at URLS ARGS...      # the same on some members
#   etcd_url I                    # member I's client URL
#   etcd_leader                   # the number I of the leader (waits for
#                                 # one while an election is under way)
#   etcd_write put KEY VALUE      # a put (or "del KEY") that must land
#                                 # once, tried again while etcd elects a
#                                 # leader (see below)
#   etcd_stop_member I            # SIGTERM, waits for it to exit
#   etcd_kill_member I            # SIGKILL, waits for it to exit
#   etcd_start_member I           # back, with its data, on the same ports
#   etcd_stop_all                 # also runs on exit
#
# Every member listens on 127.0.0.1 only, on ports picked by free_port,
# with its data, log (etcd.log) and pid under $T/etcd/I/, and fast raft
# settings for tests (heartbeat 100 ms, election 1 s, pre-vote on, so that
# a member that comes back does not depose the leader).  The cluster's
# token is unique to the test, so a member never joins a system etcd.

. "$top_srcdir/tests/integration/tls_lib.sh"

ETCD_DIR=
ETCD_COUNT=0
ETCD_ENDPOINTS=
ETCD_SCHEME=http
ETCD_CA=
ETCD_OTHER_CA=
ETCD_CLIENT_CERT=
ETCD_CLIENT_KEY=
ETCD_AUTH=

# etcd_require: skips the test unless etcd and etcdctl (and python3, for
# free_port) are installed.
etcd_require() {
	command -v etcd >/dev/null 2>&1 ||
	    skip "etcd not installed (Debian package etcd-server)"
	command -v etcdctl >/dev/null 2>&1 ||
	    skip "etcdctl not installed (Debian package etcd-client)"
	command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
	: "${T:?call tmpdir_setup before etcd_require}"
	ETCD_DIR=$T/etcd
	mkdir -p "$ETCD_DIR" || exit 99
	chain_exit etcd_stop_all
}

# etcd_url I: member I's client URL.
etcd_url() {
	echo "$ETCD_SCHEME://127.0.0.1:$(cat "$ETCD_DIR/$1/client_port")"
}

# etcd_ctl ARGS...: etcdctl with the v3 API on every member.
etcd_ctl() { etcd_ctl_at "$ETCD_ENDPOINTS" "$@"; }

# etcd_ctl_at URLS ARGS...: the same on the members at URLS only.
etcd_ctl_at() {
	_at=$1
	shift
	set -- --endpoints "$_at" --dial-timeout 2s --command-timeout 5s "$@"
	[ -z "$ETCD_CA" ] || set -- --cacert "$ETCD_CA" \
	    --cert "$ETCD_CLIENT_CERT" --key "$ETCD_CLIENT_KEY" "$@"
	[ -z "$ETCD_AUTH" ] || set -- --user "$ETCD_AUTH" "$@"
	ETCDCTL_API=3 etcdctl "$@"
}

# etcd_leader: the number of the member that leads; waits up to 20 s
# while there is none (an election on a busy machine), then prints nothing.
etcd_leader() {
	wait_for 20 _etcd_leader_now >"$ETCD_DIR/leader"
	cat "$ETCD_DIR/leader"
}

# _etcd_leader_now: the leader's number if a member says it leads.
_etcd_leader_now() {
	_i=1
	while [ "$_i" -le "$ETCD_COUNT" ]; do
		etcd_ctl_at "$(etcd_url "$_i")" endpoint status \
		    -w json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["Status"]
sys.exit(0 if s["header"]["member_id"] == s["leader"] else 1)' &&
		    echo "$_i" && return 0
		_i=$((_i + 1))
	done
	return 1
}

# etcd_write put KEY VALUE | etcd_write del KEY: a write that must land
# exactly once.  etcdctl does not retry a write that met an election
# ("leader changed", "no leader": it may or may not have been applied),
# which a busy machine's missed heartbeats can start at any time: after a
# failure, a linearizable read (answered once a leader is back, which has
# settled every earlier write; up to 20 s) says whether it landed; if
# not, it is tried again (20 times at most).
etcd_write() {
	_w=20
	while [ "$_w" -gt 0 ]; do
		etcd_ctl "$@" >/dev/null 2>"$ETCD_DIR/write.err" && return 0
		: >"$ETCD_DIR/landed"
		wait_for 20 _etcd_landed "$@" 2>/dev/null || break
		[ -s "$ETCD_DIR/landed" ] && return 0
		_w=$((_w - 1))
	done
	echo "etcd_write $*: failed:" >&2
	cat "$ETCD_DIR/write.err" >&2
	return 1
}

# _etcd_landed OP KEY [VALUE]: fails while etcd does not answer a read;
# then $ETCD_DIR/landed says (not empty) whether the write OP landed.
_etcd_landed() {
	_v=$(etcd_ctl get --print-value-only "$2") || return 1
	: >"$ETCD_DIR/landed"
	case $1 in
	put) [ "$_v" != "$3" ] || echo yes >"$ETCD_DIR/landed" ;;
	del) [ -n "$_v" ] || echo yes >"$ETCD_DIR/landed" ;;
	esac
	return 0
}

# etcd_start N [FLAGS...]: starts N members (1 or 3) and waits until the
# cluster is healthy; FLAGS go to each etcd.
etcd_start() {
	_n=$1
	shift
	_cluster=
	_i=1
	while [ "$_i" -le "$_n" ]; do
		rm -rf "${ETCD_DIR:?}/$_i"	# a cluster before this one
		mkdir -p "$ETCD_DIR/$_i" || exit 99
		free_port >"$ETCD_DIR/$_i/client_port" || exit 99
		free_port >"$ETCD_DIR/$_i/peer_port" || exit 99
		_cluster=$_cluster${_cluster:+,}m$_i=http://127.0.0.1:$(cat "$ETCD_DIR/$_i/peer_port")
		_i=$((_i + 1))
	done
	ETCD_COUNT=$_n
	ETCD_ENDPOINTS=
	_i=1
	while [ "$_i" -le "$_n" ]; do
		_etcd_args "$_i" "$_cluster" "$@"
		_etcd_launch "$_i"
		ETCD_ENDPOINTS=$ETCD_ENDPOINTS${ETCD_ENDPOINTS:+,}$(etcd_url "$_i")
		_i=$((_i + 1))
	done
	export ETCD_ENDPOINTS
	wait_for 30 etcd_ctl endpoint health >/dev/null 2>&1 || {
		echo "etcd did not become healthy:"
		tail -n 20 "$ETCD_DIR"/*/etcd.log
		exit 99
	}
}

# _etcd_args I CLUSTER FLAGS...: writes member I's command line, one
# argument a line, to $ETCD_DIR/I/args.
_etcd_args() {
	_d=$ETCD_DIR/$1
	_c=$ETCD_SCHEME://127.0.0.1:$(cat "$_d/client_port")
	_p=http://127.0.0.1:$(cat "$_d/peer_port")
	_name=m$1
	_init=$2
	shift 2
	printf '%s\n' --name "$_name" --data-dir "$_d/data" \
	    --listen-client-urls "$_c" --advertise-client-urls "$_c" \
	    --listen-peer-urls "$_p" --initial-advertise-peer-urls "$_p" \
	    --initial-cluster "$_init" --initial-cluster-state new \
	    --initial-cluster-token "distcron-test-$$" \
	    --heartbeat-interval 100 --election-timeout 1000 --pre-vote \
	    --enable-v2=false --logger zap --log-outputs stderr \
	    --log-level warn "$@" >"$_d/args"
}

# _etcd_launch I: starts member I from its saved command line.
_etcd_launch() {
	_d=$ETCD_DIR/$1
	# shellcheck disable=SC2046 # one argument a line, no spaces in $T
	(IFS='
'; exec etcd $(cat "$_d/args")) >>"$_d/etcd.log" 2>&1 &
	echo $! >"$_d/pid"
}

# etcd_start_member I: member I again, with its data, on the same ports.
etcd_start_member() {
	_etcd_launch "$1"
	wait_for 20 etcd_ctl_at "$(etcd_url "$1")" endpoint health \
	    >/dev/null 2>&1 || {
		echo "etcd member $1 did not come back:"
		tail -n 20 "$ETCD_DIR/$1/etcd.log"
		exit 99
	}
}

# _etcd_signal I SIG: sends SIG to member I and waits until it is gone.
_etcd_signal() {
	_f=$ETCD_DIR/$1/pid
	[ -s "$_f" ] || return 0
	_pid=$(cat "$_f")
	kill "-$2" "$_pid" 2>/dev/null
	wait "$_pid" 2>/dev/null
	: >"$_f"
}

etcd_stop_member() { _etcd_signal "$1" TERM; }
etcd_kill_member() { _etcd_signal "$1" KILL; }

# etcd_stop_all: stops every member (runs on exit too).
etcd_stop_all() {
	_i=1
	while [ "$_i" -le "$ETCD_COUNT" ]; do
		_etcd_signal "$_i" KILL
		_i=$((_i + 1))
	done
}

# etcd_start_tls N [FLAGS...]: etcd_start over https with certificates
# made here (see the top).
etcd_start_tls() {
	TLS_DIR=$ETCD_DIR/tls
	tls_cert ca self "/CN=distcron test CA"
	tls_cert other self "/CN=distcron other CA"
	tls_cert server ca /CN=127.0.0.1 "IP:127.0.0.1,DNS:localhost"
	# no CN: with auth on, etcd's gateway refuses a client certificate
	# that has one ("CommonName of client sending a request against
	# gateway will be ignored")
	tls_cert client ca "/O=distcron test client"
	ETCD_SCHEME=https
	ETCD_CA=$ETCD_DIR/tls/ca.crt
	ETCD_OTHER_CA=$ETCD_DIR/tls/other.crt
	ETCD_CLIENT_CERT=$ETCD_DIR/tls/client.crt
	ETCD_CLIENT_KEY=$ETCD_DIR/tls/client.key
	_n=$1
	shift
	[ -z "${ETCD_CLIENT_AUTH:-}" ] ||
	    set -- --client-cert-auth --trusted-ca-file "$ETCD_CA" "$@"
	etcd_start "$_n" --cert-file "$ETCD_DIR/tls/server.crt" \
	    --key-file "$ETCD_DIR/tls/server.key" "$@"
}

# etcd_enable_auth USER PASS: adds root and USER (with the root role),
# both with PASS, and turns authentication on; etcd_ctl logs in as root.
etcd_enable_auth() {
	etcd_ctl user add "root:$2" >/dev/null || exit 99
	etcd_ctl user grant-role root root >/dev/null 2>&1
	if [ "$1" != root ]; then
		etcd_ctl user add "$1:$2" >/dev/null || exit 99
		etcd_ctl user grant-role "$1" root >/dev/null || exit 99
	fi
	etcd_ctl auth enable >/dev/null || exit 99
	ETCD_AUTH=root:$2
}
