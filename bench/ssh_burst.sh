# Burst mode of bench/ssh.sh (`bench/ssh.sh burst N NODES`), sourced by it
# once its sshd instances, node files ($W/nodes), client configuration ($SSH)
# and bench/sshrun are ready.  Each burst goes through the real daemon: a
# fresh distcrond (empty store, no pooled connection) whose job "warm" runs
# once first, so that its node(s) hold one connection; the time of that
# cold run, from its POST to its end, is the connection setup.  Then the
# burst's runs are started together (POST /jobs/{name}/run, pipelined on a
# few keep-alive connections, bench/burst.py) and the time from the first
# POST to the end of the last run is read from the store.  Each round also
# measures distcron's steady rate, 8 at a time (bench/sshrun.c, as the
# throughput mode does), for the bound: setup + runs / (0.8 x that rate).
BURST_TIMEOUT=${BURST_TIMEOUT:-120}
STEADY=${STEADY:-1000}
SPREAD=${SPREAD:-20}
TICKS=${TICKS:-300}
POST_CONNS=${POST_CONNS:-4}
dc_install curl
BP="python3 $DC_TOP/bench/burst.py"
case $BURST in
*,*) sizes=$(echo "$BURST" | tr , ' ') ;;
*) sizes=$(for n in 8 60 300 1000; do [ "$n" -lt "$BURST" ] && echo "$n"
	done; echo "$BURST") ;;
esac

# job FILE POLICY [SCHEDULE]: a job running `true` that may overlap itself;
# the default schedule (1 January, midnight) does not fire during the bench.
job() {
	printf '{"policy": %s, "schedule": %s, "command": ["true"],
 "concurrency": "allow", "retention": 1000000}\n' "$2" \
	    "${3:-\"0 0 1 1 *\"}" >"$1"
}
ONE='{"nodes": ["n1"]}'
ALL='{"roles": ["bench"], "hosts": "all"}'
mkdir -p "$W/jobs_one" "$W/jobs_spread" "$W/jobs_all"
job "$W/jobs_one/warm.json" "$ONE"
job "$W/jobs_one/b.json" "$ONE"
job "$W/jobs_spread/warm.json" "$ALL"
job "$W/jobs_all/warm.json" "$ALL"
job "$W/jobs_all/all.json" "$ALL"
spread_jobs=
for i in $(seq "$NODES"); do
	job "$W/jobs_spread/s$i.json" "{\"nodes\": [\"n$i\"]}"
	spread_jobs="$spread_jobs s$i"
done

# burst_daemon JOBS_DIR WARM_ITEMS: a fresh daemon on JOBS_DIR whose job
# "warm" has run once (WARM_ITEMS items); sets SETUP to the seconds from its
# POST to its last end.
burst_daemon() {
	rm -rf "$W/state"
	daemon_start "$1" "$W/nodes" "$W/state" --max-concurrent-runs 1000000
	set -- $($BP post "$URL" "$TOKEN" 1 warm) "$2"
	set -- $($BP wait "$W/state/distcron.db" warm "$1" "$4" "$BURST_TIMEOUT")
	SETUP=$3
	[ "$1" = "$2" ] && [ "$4" = 0 ] && return 0
	echo "warning: the warm-up run did not end well ($1 of $2 items ended," \
	    "$4 failed):" >&2
	tail -3 "$W/state/daemon.log" >&2
}

daemon_stop() {
	kill -9 "$bench_pid" 2>/dev/null || true
	wait "$bench_pid" 2>/dev/null || true
	bench_pid=
}

# burst ROUND NAME ITEMS ONESHOT JOB...: POSTs the JOBs' runs together, waits
# for their ITEMS items (at most BURST_TIMEOUT s) and prints the row.
burst() {
	b_round=$1 b_name=$2 b_items=$3 b_oneshot=$4
	shift 4
	set -- $($BP post "$URL" "$TOKEN" "$POST_CONNS" "$@")
	b_posts=$2
	set -- $($BP wait "$W/state/distcron.db" burst "$1" "$b_items" \
	    "$BURST_TIMEOUT")
	$BP row "$W/rows" "$b_round" "$b_name" "$b_items" "$SETUP" "$RATE8" \
	    "$b_oneshot" "$1" "$3" "$4" "$b_posts" "$BURST_TIMEOUT"
	[ "$1" = "$b_items" ] && [ "$4" = 0 ] || $BP errors "$W/state/distcron.db"
}

# oneshot COUNT HOSTS_FILE: seconds that COUNT one-shot `ssh HOST true` take,
# 8 at a time (xargs -P8), cycling over the hosts of HOSTS_FILE.
oneshot() {
	t=$(now)
	python3 -c "import itertools, sys
h = open(sys.argv[1]).read().split()
print('\n'.join(itertools.islice(itertools.cycle(h), $1)))" "$2" |
	    xargs -P8 -I{} $SSH {} true
	python3 -c "import time; print('%.3f' % (time.time() - $t))"
}

# repeat K WORD...: the WORDs, K times over.
repeat() {
	r_k=$1
	shift
	for _ in $(seq "$r_k"); do echo "$@"; done
}

# ticks ROUND: TICKS jobs on n1 due at the same second, a few seconds
# ahead, added (SIGHUP) once the node is warm; prints the row (time from
# that second to the last end) and the lateness of the starts.
ticks() {
	t_round=$1
	rm -rf "$W/jobs_tick"
	mkdir -p "$W/jobs_tick"
	job "$W/jobs_tick/warm.json" "$ONE"
	burst_daemon "$W/jobs_tick" 1
	at=$(($(date +%s) + 5))
	sched=$(date -u -d "@$at" +'{"cron": "%-S %-M %-H * * *", "timezone": "UTC"}')
	for i in $(seq "$TICKS"); do
		job "$W/jobs_tick/t$i.json" "$ONE" "$sched"
	done
	kill -HUP "$bench_pid"
	[ "$(date +%s)" -lt "$((at - 1))" ] ||
	    echo "warning: the jobs were written less than a second before" \
		"they were due" >&2
	set -- $($BP wait "$W/state/distcron.db" burst "$at" "$TICKS" \
	    "$BURST_TIMEOUT")
	$BP row "$W/rows" "$t_round" "$TICKS jobs due at once" "$TICKS" \
	    "$SETUP" "$RATE8" - "$1" "$3" "$4" - "$BURST_TIMEOUT"
	[ "$1" = "$TICKS" ] && [ "$4" = 0 ] || $BP errors "$W/state/distcron.db"
	$BP late "$W/state/distcron.db" "$W/late"
	echo "    lateness of their starts (ms): $(percentiles "$W/late")"
	daemon_stop
}

echo "=== bursts of \`true\` started together through distcrond (sshd on" \
    "127.0.0.1, MaxStartups $MAXSTARTUPS), $ROUNDS rounds, ${BURST_TIMEOUT} s" \
    "at most each"
hosts1=$W/hosts1
echo n1 >"$hosts1"
: >"$W/rows"
for r in $(seq "$ROUNDS"); do
	"$W/sshrun" seq "$W/nodes" n1 "$STEADY" 8 >"$W/d"
	RATE8=$(sed -n 's/.*: \([0-9.]*\) runs\/s.*/\1/p' "$W/d")
	echo "round $r: distcron pooled, 8 at a time: $(cat "$W/d")"
	$BP head
	for n in $sizes; do
		o=$(oneshot "$n" "$hosts1")
		burst_daemon "$W/jobs_one" 1
		burst "$r" "one node" "$n" "$o" $(repeat "$n" b)
		daemon_stop
	done
	n=$((SPREAD * NODES))
	o=$(oneshot "$n" "$W/hosts")
	burst_daemon "$W/jobs_spread" "$NODES"
	burst "$r" "$NODES nodes, $SPREAD each" "$n" "$o" \
	    $(repeat "$SPREAD" $spread_jobs)
	daemon_stop
	burst_daemon "$W/jobs_all" "$NODES"
	burst "$r" "hosts: all x $SPREAD" "$n" "$o" $(repeat "$SPREAD" all)
	daemon_stop
	ticks "$r"
done
$BP summary "$W/rows"
