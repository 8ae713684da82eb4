# amqp_lib.sh - a throwaway RabbitMQ broker for the integration tests (POSIX
# sh; source it after lib.sh and call tmpdir_setup or daemon_setup first).
#
#   amqp_require          # skips (77) without rabbitmq-server or amqpcat
#   amqp_start            # a broker on free loopback ports, answering:
#                         # $AMQP_URL "amqp://guest:guest@127.0.0.1:PORT"
#   amqp_start_tls        # amqp_start with an AMQPS listener too, on
#                         # another free port: $AMQPS_URL
#                         # "amqps://guest:guest@127.0.0.1:PORT", its
#                         # certificate (for 127.0.0.1) signed by $AMQP_CA;
#                         # $AMQP_OTHER_CA is a CA that signed nothing
#   amqp_stop             # SIGTERM to the broker, waits for it to exit
#   amqp_cat ARGS...      # tests/integration/amqpcat on $AMQP_URL
#   amqp_ctl ARGS...      # rabbitmqctl on the broker
#   amqp_consume EXCHANGE KEY COUNT OUT
#                         # a consumer of COUNT messages in the background
#                         # (its pid in $!), bound when this returns
#   amqp_failed_with JOB TEXT...
#                         # JOB has a FAILURE whose error holds every TEXT
#                         # (the daemon's history; api_setup's $ctl, $S)
#
# Both listeners are on the same broker (a consumer on $AMQP_URL gets what
# is published over $AMQPS_URL); the broker asks for no client certificate.
# The broker is Debian's rabbitmq-server started directly (not the system
# service, never port 5672) with its own node name, ports (AMQP, Erlang
# distribution, and a private epmd), data, logs and config under $T/rmq;
# amqp_start after amqp_stop brings it back on the same ports with its
# data.  On exit the broker and its epmd are stopped.

AMQP_DIR=
AMQP_PORT=
AMQP_URL=
AMQPS_URL=
AMQP_CA=
AMQP_OTHER_CA=
AMQP_PID=
AMQP_BIN=/usr/lib/rabbitmq/bin/rabbitmq-server

amqp_require() {
	[ -x "$AMQP_BIN" ] ||
	    skip "rabbitmq-server not installed (Debian package rabbitmq-server)"
	command -v epmd >/dev/null 2>&1 || skip "epmd (Erlang) not installed"
	command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
	AMQP_CAT=$(find_bin tests/integration/amqpcat)
	: "${T:?call tmpdir_setup before amqp_require}"
	AMQP_DIR=$T/rmq
	mkdir -p "$AMQP_DIR/mnesia" "$AMQP_DIR/log" || exit 99
	AMQP_PORT=$(free_port)
	AMQP_DIST_PORT=$(free_port)
	AMQP_EPMD_PORT=$(free_port)
	AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT
	cat >"$AMQP_DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
loopback_users = none
log.console = false
EOF
	echo '[].' >"$AMQP_DIR/enabled_plugins"
	chain_exit amqp_cleanup
}

. "$top_srcdir/tests/integration/tls_lib.sh"

# The environment of the broker's scripts: everything private to $T.
amqp_env() {
	env HOME="$AMQP_DIR" RABBITMQ_NODENAME="dc$$@localhost" \
	    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
	    RABBITMQ_NODE_PORT="$AMQP_PORT" \
	    RABBITMQ_DIST_PORT="$AMQP_DIST_PORT" \
	    ERL_EPMD_PORT="$AMQP_EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
	    RABBITMQ_MNESIA_BASE="$AMQP_DIR/mnesia" \
	    RABBITMQ_LOG_BASE="$AMQP_DIR/log" \
	    RABBITMQ_CONFIG_FILE="$AMQP_DIR/rabbitmq" \
	    RABBITMQ_ADVANCED_CONFIG_FILE="$AMQP_DIR/advanced.config" \
	    RABBITMQ_CONF_ENV_FILE="$AMQP_DIR/rabbitmq-env.conf" \
	    RABBITMQ_ENABLED_PLUGINS_FILE="$AMQP_DIR/enabled_plugins" \
	    RABBITMQ_PLUGINS_EXPAND_DIR="$AMQP_DIR/plugins" \
	    RABBITMQ_PID_FILE="$AMQP_DIR/pid" \
	    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
	    "$@"
}

amqp_ctl() {
	amqp_env /usr/lib/rabbitmq/bin/rabbitmqctl -q "$@"
}

amqp_cat() {
	"$AMQP_CAT" "$AMQP_URL" "$@"
}

# amqp_answers: the broker takes a login (amqpcat declares an exchange).
amqp_answers() {
	amqp_cat declare amq.direct direct >/dev/null 2>&1
}

amqp_start() {
	rm -f "$AMQP_DIR/pid"
	amqp_env "$AMQP_BIN" >>"$AMQP_DIR/server.out" 2>&1 &
	AMQP_PID=$!
	if ! wait_for 60 amqp_answers; then
		tail -20 "$AMQP_DIR/server.out"
		amqp_cleanup
		skip "rabbitmq-server did not start (see above)"
	fi
	[ -s "$AMQP_DIR/pid" ] && AMQP_PID=$(cat "$AMQP_DIR/pid")
}

# amqp_start_tls: amqp_start with an AMQPS listener too (see the top).
amqp_start_tls() {
	TLS_DIR=$AMQP_DIR/tls
	tls_cert ca self "/CN=distcron test CA"
	tls_cert other self "/CN=distcron other CA"
	tls_cert server ca /CN=127.0.0.1 "IP:127.0.0.1,DNS:localhost"
	AMQP_CA=$TLS_DIR/ca.crt
	AMQP_OTHER_CA=$TLS_DIR/other.crt
	AMQPS_PORT=$(free_port)
	AMQPS_URL=amqps://guest:guest@127.0.0.1:$AMQPS_PORT
	cat >>"$AMQP_DIR/rabbitmq.conf" <<EOF
listeners.ssl.default = 127.0.0.1:$AMQPS_PORT
ssl_options.cacertfile = $TLS_DIR/ca.crt
ssl_options.certfile = $TLS_DIR/server.crt
ssl_options.keyfile = $TLS_DIR/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
EOF
	amqp_start
}

# amqp_consume EXCHANGE KEY COUNT OUT: a consumer in the background, bound
# before this returns.
amqp_consume() {
	rm -f "$T/ready"
	amqp_cat consume "$1" "$2" "$3" 30 "$T/ready" >"$4" 2>"$4.err" &
	wait_for 10 test -e "$T/ready"
}

# amqp_failed_with JOB TEXT...: JOB has a FAILURE whose error holds every
# TEXT.
amqp_failed_with() {
	_j=$1
	shift
	history "$_j" && python3 - "$T/h.json" "$@" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
errs = [i["error"] or "" for r in runs if r["status"] == "FAILURE"
        for i in r["items"]]
sys.exit(0 if any(all(w in e for w in sys.argv[2:]) for e in errs) else 1)
PY
}

# amqp_gone: the broker's process has exited.
amqp_gone() { ! kill -0 "$AMQP_PID" 2>/dev/null; }

amqp_stop() {
	[ -n "$AMQP_PID" ] || return 0
	kill -TERM "$AMQP_PID" 2>/dev/null
	wait_for 30 amqp_gone || kill -KILL "$AMQP_PID" 2>/dev/null
	AMQP_PID=
}

amqp_cleanup() {
	amqp_stop
	[ -n "$AMQP_EPMD_PORT" ] &&
	    ERL_EPMD_PORT=$AMQP_EPMD_PORT epmd -kill >/dev/null 2>&1
	return 0
}
