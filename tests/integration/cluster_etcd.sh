#!/bin/sh
# cluster_etcd.sh - cluster mode (issue 16) with etcd gone: etcd (one
# member here, so that it comes back on its own) stopped.  The daemons fail closed: no run starts while etcd is
# down, the ticks are recorded as missed, /health answers 503 with the
# reason and /metrics says the lease is lost; when etcd is back they
# register again and resume by themselves, each tick still once.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 1
cluster_jobs
cluster_up 2
check "both members see each other" wait_for 20 cluster_all_see 2
sleep 2

etcd_stop_member 1
# (down once it has exited: a busy etcd may take a while to stop, and
# answer claims meanwhile)
DOWN=$(date +%s.%N)
cluster_use 1
health_down() {
	noauth GET /health
	status_is 503 && body "'lease lost' in b['reason']"
}
check "/health: 503 naming the lost lease" wait_for 15 health_down
check "/metrics: the lease is not held" test \
    "$(metric distcron_cluster_lease_ok)" = 0
check "ticks are recorded missed while etcd is down" wait_for 10 grep -q \
    'not launched: cluster: ' "$T/d1.log"
check "/metrics: the failed claims are counted" test \
    "$(metric 'distcron_cluster_claims_total{result="failed"}')" -gt 0
sleep 2
UP=$(date +%s.%N)
etcd_start_member 1
check "both members register again by themselves" wait_for 20 \
    cluster_all_see 2
noauth GET /health
check "/health is ok again" status_is 200
# logged when the error changes, not for each of the dozens of requests
n=$(grep -c 'warn: cluster: etcd: ' "$T/d1.log")
check "the log said etcd was unreachable (a few lines, not one a request)" \
    test "$n" -ge 1 -a "$n" -le 4
check "the log said etcd answers again" grep -q 'cluster: etcd answers again' \
    "$T/d1.log"
# ran_after TIME: every job has a run that started after TIME.
ran_after() {
	for j in $JOBS; do
		awk -v j="$j" -v t="$1" '$1 == j && $5 > t { f = 1 }
		    END { exit !f }' "$TICKS" || return 1
	done
}
check "every job runs again" wait_for 15 ran_after "$UP"
for i in 1 2; do
	cluster_stop "$i"
done
# claims won before the stop may still launch in its first second
check "no run started while etcd was down; no tick ran twice" \
    cluster_check --quiet "$(awk -v t="$DOWN" 'BEGIN { printf "%.3f", t + 1 }')" \
    "$UP"
cat "$T/out"
for i in 1 2; do
	daemon_log_report "$T/d$i.log"
done
finish
