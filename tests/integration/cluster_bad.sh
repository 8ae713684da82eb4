#!/bin/sh
# cluster_bad.sh - cluster mode (issue 16) given bad input and a failing
# etcd, each in a section of its own, one daemon each (member mI):
#   1. endpoints where nothing listens: the daemon starts and fails
#      closed (/health 503 naming the endpoints and the error, the lease
#      not held, no run, the ticks recorded missed with the reason); etcd
#      started there: it registers and runs by itself;
#   2. bad settings (endpoints, namespace, lease TTL): the daemon refuses
#      to start, naming the setting and the value (never a password);
#   3. TLS with the wrong CA: the endpoint and the certificate problem in
#      /health and the log, no run; the right CA works;
#   4. a wrong etcd password: "authentication failed", fail closed, the
#      password nowhere in the log or the API's answers; the right one
#      works;
#   5. etcd answering "too many requests" (etcd_proxy.py in front of it):
#      the daemon backs off (the proxy counts its requests), fails closed
#      when the lease cannot be renewed, and resumes when etcd answers.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
cluster_jobs

# health_says WORDS...: daemon (cluster_use) answers /health 503 with a
# reason holding every one of WORDS.
health_says() {
	noauth GET /health
	status_is 503 || return 1
	for _w; do
		grep -qF -- "$_w" "$T/body" || return 1
	done
}

# ran_by M: daemon member M launched a run of every job.
ran_by() {
	for _j in $JOBS; do
		awk -v j="$_j" -v m="$1" '$1 == j && $3 == m { f = 1 }
		    END { exit !f }' "$TICKS" || return 1
	done
}

# nothing_ran_by M: member M launched nothing.
nothing_ran_by() { awk -v m="$1" '$3 == m { exit 1 }' "$TICKS"; }

# registered_ok I: daemon I registered, its lease held and /health 200.
registered_ok() {
	grep -q "member m$1 registered" "$T/d$1.log" || return 1
	cluster_use "$1"
	noauth GET /health
	status_is 200
}

# --- 1. nothing listening on the endpoints ----------------------------

etcd_start 1
PLAIN=$(etcd_url 1)
etcd_stop_member 1		# its port is known; it comes back there
NONE=http://127.0.0.1:$(free_port)
ETCD_ENDPOINTS=$NONE,$PLAIN
cluster_start 1 || exit 1
cluster_use 1
check "1: /health 503 naming both endpoints and the error" wait_for 10 \
    health_says "not registered in etcd" "$NONE" "$PLAIN" "Connection refused"
check "1: /metrics: the lease is not held" \
    test "$(metric distcron_cluster_lease_ok)" = 0
check "1: the ticks are recorded missed with the reason" wait_for 10 \
    grep -q "not launched: cluster: not registered in etcd yet: cannot reach etcd at $NONE" \
    "$T/d1.log"
check "1: /metrics counts the skipped ticks" \
    metric_at_least distcron_ticks_skipped_total 1
check "1: no run launched" nothing_ran_by m1
etcd_start_member 1
check "1: etcd started: it registers by itself" wait_for 20 registered_ok 1
check "1: ... and runs every job" wait_for 15 ran_by m1
cluster_stop 1

# --- 2. bad settings ----------------------------------------------------

# refused WHAT ARGS...: the daemon given ARGS exits 2 at once, its message
# in $T/err.
refused() {
	_what=$1
	shift
	run timeout 10 "$daemon" --config /dev/null --jobs-dir "$J" \
	    --nodes-dir "$N" --state-dir "$T/s2" --listen 127.0.0.1:0 "$@"
	check "2: $_what: refused (exit 2)" test "$rc" -eq 2
}
refused "an endpoint without a port" --etcd http://127.0.0.1
check "2: ... the message names the setting, the entry and why" contains \
    "$T/err" 'cluster.etcd: entry 1 "http://127.0.0.1": no port'
refused "an endpoint with a path" --etcd "$PLAIN/v3"
check "2: ... the message names the setting, the entry and why" contains \
    "$T/err" "cluster.etcd: entry 1 \"$PLAIN/v3\": expected only scheme://host:port"
refused "an empty entry" --etcd "$PLAIN,,$PLAIN"
check "2: ... the message names the entry" contains "$T/err" \
    'cluster.etcd: entry 2: empty'
refused "a password in an endpoint" --etcd "http://u:s3cretpw@127.0.0.1:1"
check "2: ... the message says why, the password hidden" sh -c "grep -qF \
    'cluster.etcd: entry 1 \"http://***:***@127.0.0.1:1\": credentials' \
    '$T/err' && ! grep -q s3cretpw '$T/err'"
refused "a namespace with /" --etcd "$PLAIN" --cluster-namespace a/b
check "2: ... the message names the setting and the value" contains \
    "$T/err" "cluster.namespace: \"a/b\": '/' is not allowed"
refused "an empty namespace" --etcd "$PLAIN" --cluster-namespace ''
check "2: ... the message names the setting" contains "$T/err" \
    'cluster.namespace: must not be empty'
refused "a lease TTL below etcd's minimum" --etcd "$PLAIN" \
    --cluster-lease-ttl 1s
check "2: ... the message names the setting, the minimum and the value" \
    contains "$T/err" 'cluster.lease_ttl: must be at least 2s, got "1s"'
printf '{"cluster": {"etcd": "%s", "namespace": "x/y"}}\n' "$PLAIN" \
    >"$T/bad.conf"
run timeout 10 "$daemon" --config "$T/bad.conf" --jobs-dir "$J" \
    --nodes-dir "$N" --state-dir "$T/s2" --listen 127.0.0.1:0
check "2: a namespace with / in the config file: refused, naming the file" \
    sh -c "test $rc -eq 2 && grep -qF '$T/bad.conf: cluster.namespace: \"x/y\"' '$T/err'"

# --- 5. etcd answering "too many requests" ------------------------------

PROXY_LOG=$T/proxy.log
PROXY_MODE=$T/proxy.mode
: >"$PROXY_MODE"
python3 "$top_srcdir/tests/integration/etcd_proxy.py" --port-file \
    "$T/proxy.port" --upstream "$PLAIN" --mode-file "$PROXY_MODE" \
    --log "$PROXY_LOG" &
echo $! >"$T/proxy.pid"
proxy_stop() { kill "$(cat "$T/proxy.pid")" 2>/dev/null; }
chain_exit proxy_stop
check "5: the proxy listens" wait_for 10 test -s "$T/proxy.port"
PROXY=http://127.0.0.1:$(cat "$T/proxy.port")
ETCD_ENDPOINTS=$PROXY
cluster_start 5 || exit 1
check "5: through the proxy: registered, running" wait_for 20 registered_ok 5
check "5: ... every job runs" wait_for 15 ran_by m5
BUSY=$(date +%s.%N)
echo 429 >"$PROXY_MODE"
cluster_use 5
check "5: the lease is lost: fail closed, /health names etcd's answer" \
    wait_for 15 health_says "lease lost" "too many requests"
check "5: the log says the lease is lost" grep -q 'member m5 lost its lease' \
    "$T/d5.log"
LOST=$(date +%s.%N)
sleep 6
# the requests etcd refused, but those sent before the first refusal came
# back (a second's claims at most): the back-off's probes
n=$(awk -v t="$BUSY" '$2 == "429" && $1 > t + 1' "$PROXY_LOG" | wc -l)
busy_s=$(python3 -c "import time; print('%.1f' % (time.time() - $BUSY - 1))")
echo "# 5: $n requests in $busy_s s of 'too many requests'"
check "5: the daemon backs off: at most 12 requests in those $busy_s s" \
    test "$n" -le 12
check "5: no run launched once the lease was lost" awk -v t="$LOST" \
    '$3 == "m5" && $5 > t + 1 { exit 1 }' "$TICKS"
: >"$PROXY_MODE"
UP=$(date +%s)
check "5: etcd answers again: registered again by itself" wait_for 20 \
    grep -q 'member m5 registered .*claiming again' "$T/d5.log"
ran_after() {
	for _j in $JOBS; do
		awk -v j="$_j" -v t="$UP" '$1 == j && $3 == "m5" && $5 > t { f = 1 }
		    END { exit !f }' "$TICKS" || return 1
	done
}
check "5: ... every job runs again" wait_for 15 ran_after
cluster_stop 5

# --- 3. TLS with the wrong CA -------------------------------------------

etcd_stop_all
etcd_start_tls 1
TLS=$(etcd_url 1)
cluster_start 3 --etcd-ca-file "$ETCD_OTHER_CA" || exit 1
cluster_use 3
check "3: wrong CA: /health 503 naming the endpoint and the certificate" \
    wait_for 10 health_says "not registered in etcd" "$TLS" "certificate"
check "3: ... the log too" grep -q "cluster: etcd: .*$TLS.*certificate" \
    "$T/d3.log"
check "3: ... the ticks are missed, none runs" wait_for 10 grep -q \
    'not launched: cluster: not registered in etcd yet' "$T/d3.log"
cluster_stop 3
check "3: ... no run launched" nothing_ran_by m3
cluster_start 3 --etcd-ca-file "$ETCD_CA" || exit 1
check "3: the right CA: registered, running" wait_for 20 registered_ok 3
check "3: ... every job runs" wait_for 15 ran_by m3
cluster_stop 3

# --- 4. a wrong password --------------------------------------------------

etcd_enable_auth dcuser right-Pw-4711
export DISTCRON_ETCD_PASSWORD=wrong-Pw-0815
cluster_start 4 --etcd-ca-file "$ETCD_CA" --etcd-username dcuser || exit 1
cluster_use 4
check "4: wrong password: /health 503 saying authentication failed" \
    wait_for 10 health_says "not registered in etcd" "$TLS" \
    "authentication failed"
check "4: ... the log too" grep -q \
    "cluster: etcd: etcd at $TLS: authentication failed" "$T/d4.log"
check "4: ... the ticks are missed" wait_for 10 grep -q \
    'not launched: cluster: not registered in etcd yet: etcd at .*authentication failed' \
    "$T/d4.log"
for p in /health /monitor /cluster /metrics /jobs; do
	req GET "$p"
	cat "$T/body" >>"$T/api.out"
done
cluster_stop 4
check "4: ... no run launched" nothing_ran_by m4
check "4: the password is in no log line and no API answer" sh -c \
    "! grep -q 'Pw-' '$T/d4.log' '$T/api.out'"
DISTCRON_ETCD_PASSWORD=right-Pw-4711
cluster_start 4 --etcd-ca-file "$ETCD_CA" --etcd-username dcuser || exit 1
check "4: the right password: registered, running" wait_for 20 \
    registered_ok 4
check "4: ... every job runs" wait_for 15 ran_by m4
cluster_stop 4
unset DISTCRON_ETCD_PASSWORD
check "4: the password is in no log line" sh -c "! grep -q 'Pw-' '$T/d4.log'"

for i in 1 3 4 5; do
	daemon_log_report "$T/d$i.log"
done
finish
