#!/bin/sh
# Cluster mode (issue 16): figures of a bounded soak and of the claim path.
# A 3-member etcd and 3 daemons (members m1-m3) on loopback, JOBS jobs
# (default 50) every second on the local node, each run appending
# "JOB TICK MEMBER FENCE TIME" to a file.  Three parts:
#  1. ROUNDS rounds (default 3) of LAT_SECS seconds (default 20), each
#     measuring the same jobs in cluster mode and on one daemon without
#     --etcd, in an order that alternates from round to round: lateness
#     (start of the run as the store records it minus its scheduled
#     second) p50/p99 of both.
#  2. The soak: DURATION seconds (default 600) of the 3 daemons, a fault
#     every 20 s, cycling: SIGKILL a daemon (restarted 8 s later), SIGSTOP
#     a daemon for its lease TTL + 2 s then SIGCONT, SIGKILL an etcd member
#     (restarted 5 s later; the fault log says if it led and how many
#     daemons used it); victims rotate.
#     Then bench/cluster_report.py says: duplicate ticks, ticks missed
#     outside the failover windows (the fault - 1 s to TTL + 1 s after it,
#     for the jobs the victim ran; every
#     job for an etcd member), failover times (kill or stop to the first
#     launch of the victim's jobs by another member), and etcd's requests
#     per run from its own /metrics (grpc_server_handled_total by method,
#     summed over the members, read before each etcd kill and at the end,
#     restarts counted as counter resets).
#  3. How far one etcd carries: CAP_JOBS (default "500 1000 2000") jobs on
#     /bin/true every second with 1, 2 and 3 daemons on a 1-member etcd,
#     and one daemon without --etcd for reference ("daemons=0"), CAP_SECS
#     seconds (default 12) each: runs per second, the share of ticks that
#     ran, claims won/lost/failed (/metrics; "lost" is another member's,
#     mostly ticks this one does not own, which cost no request), lateness.
# It uses the integration tests' etcd_lib.sh and cluster_lib.sh (the
# lease TTL is theirs, CL_TTL, 3 s).  Never run by make check; it prints
# figures and never passes or fails on a time.
#   usage: [DURATION=S] [ROUNDS=N] [LAT_SECS=S] [JOBS=N] [CAP_JOBS="N..."]
#          [CAP_SECS=S] [PARTS="lat soak cap"] [SOAK_KEEP=DIR] bench/cluster.sh
# SOAK_KEEP keeps the soak's ticks, fault log, daemon logs and etcd
# metrics in DIR, and prints the report's command line for them.
. "$(dirname "$0")/common.sh"
set +eu		# the test helpers test, retry and read unset names
DURATION=${DURATION:-600}
ROUNDS=${ROUNDS:-3}
LAT_SECS=${LAT_SECS:-20}
JOBS=${JOBS:-50}
CAP_JOBS=${CAP_JOBS:-500 1000 2000}
CAP_SECS=${CAP_SECS:-12}
PARTS=${PARTS:-lat soak cap}
dc_install etcd-server etcd-client curl
# shellcheck disable=SC2034 # read by lib.sh
top_srcdir=$DC_TOP
# shellcheck disable=SC2034
top_builddir=$B
. "$DC_TOP/tests/integration/lib.sh"
. "$DC_TOP/tests/integration/etcd_lib.sh"
. "$DC_TOP/tests/integration/cluster_lib.sh"
cluster_setup
chain_exit 'rm -rf "$W"'
REPORT="python3 $DC_TOP/bench/cluster_report.py"
CL_LOG=info	# debug costs 50 lines a second; the figures need none

echo "== bench/cluster.sh: DURATION=$DURATION ROUNDS=$ROUNDS LAT_SECS=$LAT_SECS JOBS=$JOBS CAP_JOBS=\"$CAP_JOBS\" CAP_SECS=$CAP_SECS"
echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; lease TTL ${CL_TTL}s"

# make_jobs N CMD: N jobs c000... every second running CMD ("ticks": the
# line to $TICKS) in $J, the local node in $N.
make_jobs() {
	rm -rf "$J"
	mkdir -p "$J"
	python3 - "$J" "$1" "$2" "$TICKS" <<'PY'
import json, os, sys
d, n, what, ticks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cmd = ["/bin/true"] if what == "true" else ["/bin/sh", "-c",
    'echo "$DISTCRON_JOB $DISTCRON_SCHEDULED_AT $DISTCRON_MEMBER '
    '$DISTCRON_FENCE $(date +%s.%N)" >>' + ticks]
for i in range(n):
    with open(os.path.join(d, "c%04d.json" % i), "w") as f:
        json.dump({"policy": {"hosts": "any", "roles": ["local"]},
                   "schedule": "* * * * * *", "missed": "skip",
                   "command": cmd}, f)
PY
	printf '{"roles": ["local"], "connection_type": "local"}\n' \
	    >"$N/local.json"
}

# members_start K NS: daemons 1..K on namespace NS, fresh state; waits
# until they all see K members.
members_start() {
	rm -rf "$T"/s[0-9]
	_k=1
	while [ "$_k" -le "$1" ]; do
		cluster_start "$_k" --log-level "$CL_LOG" \
		    --cluster-namespace "$2" || exit 1
		_k=$((_k + 1))
	done
	wait_for 30 cluster_all_see "$1" || { echo "error: the members do not see each other"; exit 1; }
}

# members_stop: SIGTERM to every daemon running.
members_stop() {
	for _i in $CL_IDS; do
		[ -s "$T/d$_i.pid" ] && cluster_stop "$_i"
	done
	CL_IDS=
}

# single_start: one daemon without --etcd on the same jobs, state $T/s1.
single_start() {
	rm -rf "$T"/s[0-9]
	"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
	    --state-dir "$T/s1" --listen 127.0.0.1:0 --shutdown-grace 2s \
	    --log-level "$CL_LOG" --allow-root-jobs >"$T/d1.log" 2>&1 &
	echo $! >"$T/d1.pid"
	CL_IDS=" 1"
	wait_for 10 grep -q 'API listening' "$T/d1.log" || exit 1
	log_api_port "$T/d1.log" >"$T/d1.port"
}

# window_runs SECS: lets SECS seconds of ticks run after a 3 s settling;
# $WFROM and $WTO (the ticks measured, from-to inclusive).
window_runs() {
	sleep 3
	WFROM=$(($(date +%s) + 1))
	WTO=$((WFROM + $1 - 1))
	sleep $(($1 + 2))
}

# claims RESULT: the daemon's distcron_cluster_claims_total{result=RESULT}
# (0 when it does not answer).
claims() {
	_v=$(metric "distcron_cluster_claims_total{result=\"$1\"}")
	echo "${_v:-0}"
}

# claims_sum: the daemons' distcron_cluster_claims_total, "won lost failed"
# (0 0 0 for a daemon without --etcd).
claims_sum() {
	_w=0 _l=0 _f=0
	for _i in $CL_IDS; do
		cluster_use "$_i"
		_w=$((_w + $(claims won)))
		_l=$((_l + $(claims lost)))
		_f=$((_f + $(claims failed)))
	done
	echo "$_w $_l $_f"
}

# etcd_metrics: every live etcd member's /metrics in $T/met/NNNN.I, NNNN
# counting up (bench/cluster_report.py reads them in that order).
MET_N=0
etcd_metrics() {
	mkdir -p "$T/met"
	MET_N=$((MET_N + 1))
	for _i in $(seq 1 "$ETCD_COUNT"); do
		[ -s "$ETCD_DIR/$_i/pid" ] || continue
		curl -s "$(etcd_url "$_i")/metrics" \
		    >"$T/met/$(printf %04d "$MET_N").$_i"
	done
}

# etcd_users URL: how many running daemons talk to etcd at URL (their
# GET /cluster's current endpoint).
etcd_users() {
	_n=0
	for _i in $CL_IDS; do
		[ -s "$T/d$_i.pid" ] || continue
		cluster_use "$_i"
		req GET /cluster
		body "[e['url'] for e in b['endpoints'] if e['current']] == ['$1']" &&
		    _n=$((_n + 1))
	done
	echo "$_n"
}

# sleep_until T: sleeps until the UNIX second T (not at all if past).
sleep_until() {
	_d=$(($1 - $(date +%s)))
	[ "$_d" -le 0 ] || sleep "$_d"
}

# ---- 1. lateness, cluster against a single daemon ----
lat_part() {
	etcd_start 3
	make_jobs "$JOBS" ticks
	echo "== lateness of $JOBS jobs every second, ${LAT_SECS}s per measurement, $ROUNDS rounds (3 daemons on a 3-member etcd; 1 daemon without --etcd)"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		if [ $((r % 2)) -eq 1 ]; then order="cluster single"; else order="single cluster"; fi
		for who in $order; do
			if [ "$who" = cluster ]; then
				members_start 3 "lat$r"
			else
				single_start
			fi
			window_runs "$LAT_SECS"
			members_stop
			$REPORT lateness "$WFROM" "$WTO" "$T"/s?/distcron.db >"$T/lat.$who.$r"
			echo "round $r ($order) $who: $(cat "$T/lat.$who.$r")"
		done
		r=$((r + 1))
	done
	$REPORT lateness-summary "$T" "$ROUNDS"
	etcd_stop_all
}

# ---- 2. the soak ----
fault_log() { echo "$*" >>"$T/faults"; }
now() { date +%s.%N; }

soak_fault() {
	case $(($1 % 3)) in
	0)	v=$(($1 / 3 % 3 + 1))
		fault_log daemon-kill "m$v" "$(now)"
		cluster_kill "$v"
		sleep 8
		cat "$T/d$v.log" >>"$T/d$v.before-restarts.log"	# truncated
		cluster_start "$v" --log-level "$CL_LOG" --cluster-namespace soak ||
		    echo "warning: m$v did not restart"
		;;
	1)	v=$(($1 / 3 % 3 + 1))
		[ "$v" -eq 3 ] && v=1 || v=$((v + 1))
		fault_log daemon-stop "m$v" "$(now)"
		cluster_signal "$v" STOP
		sleep $((CL_TTL + 2))
		cluster_signal "$v" CONT
		;;
	2)	v=$(($1 / 3 % 3 + 1))
		etcd_metrics
		[ "$(etcd_leader)" = "$v" ] && role=leader || role=follower
		fault_log etcd-kill "e$v" "$(now)" "$role" \
		    "used-by-$(etcd_users "$(etcd_url "$v")")"
		etcd_kill_member "$v"
		sleep 5
		etcd_start_member "$v"
		etcd_metrics	# its counters start again from 0
		;;
	esac
}

soak_part() {
	etcd_start 3
	: >"$TICKS"
	: >"$T/faults"
	make_jobs "$JOBS" ticks
	members_start 3 soak
	sleep 3
	S0=$(date +%s)
	etcd_metrics
	echo "== soak: $JOBS jobs every second on 3 daemons, 3-member etcd, a fault every 20 s for ${DURATION}s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	n=0
	end=$((S0 + DURATION))
	while :; do
		next=$((S0 + 20 * (n + 1)))
		[ "$next" -le "$end" ] || break
		sleep_until "$next"
		soak_fault "$n"
		n=$((n + 1))
	done
	sleep_until "$end"
	S1=$(($(date +%s) - 2))
	etcd_metrics
	M1=$(date +%s)
	members_stop
	echo "   (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
	$REPORT soak "$TICKS" "$T/faults" --from "$S0" --to "$S1" \
	    --ttl "$CL_TTL" --metrics "$T/met" --metrics-span "$S0" "$M1"
	[ -z "${SOAK_KEEP:-}" ] || { mkdir -p "$SOAK_KEEP" &&
	    cp -r "$TICKS" "$T/faults" "$T"/d?.log "$T"/d*.before-restarts.log \
	    "$T/met" "$SOAK_KEEP/" &&
	    echo "   kept in $SOAK_KEEP: $REPORT soak $SOAK_KEEP/ticks $SOAK_KEEP/faults --from $S0 --to $S1 --ttl $CL_TTL --metrics $SOAK_KEEP/met --metrics-span $S0 $M1"; }
	etcd_stop_all
}

# ---- 3. how far one etcd carries ----
cap_part() {
	etcd_start 1
	echo "== claim path on a 1-member etcd: jobs on /bin/true every second, ${CAP_SECS}s each"
	for jobs in $CAP_JOBS; do
		make_jobs "$jobs" true
		for k in 0 1 2 3; do
			if [ "$k" -eq 0 ]; then
				single_start	# the reference: no etcd
			else
				members_start "$k" "cap$jobs.$k"
			fi
			sleep 3
			WFROM=$(($(date +%s) + 1))
			WTO=$((WFROM + CAP_SECS - 1))
			sleep_until "$WFROM"
			c0=$(claims_sum)
			sleep_until $((WTO + 1))
			c1=$(claims_sum)
			sleep 2
			members_stop
			echo "$jobs $k $WFROM $WTO $c0 $c1" >>"$T/cap"
			# shellcheck disable=SC2086 # three numbers each
			$REPORT capacity "$jobs" "$k" "$WFROM" "$WTO" $c0 $c1 \
			    "$T"/s?/distcron.db
		done
	done
	etcd_stop_all
}

for p in $PARTS; do
	case $p in
	lat) lat_part ;;
	soak) soak_part ;;
	cap) cap_part ;;
	esac
done
echo "== done (load average $(cut -d' ' -f1-3 /proc/loadavg))"
