#!/bin/sh
# cluster.sh - cluster mode (issue 16): a 3-member etcd and 3 daemons, six
# jobs firing every second.  Every tick runs exactly once, on its owner,
# with a fence that grows; the work is spread over the members; /cluster,
# /metrics, /health and distcronctl cluster show the cluster.  Then the
# member owning two of the jobs is killed (SIGKILL): the others take its
# jobs over, no tick runs twice, and only ticks of its jobs in the
# failover window may be lost, per the job's "missed" policy (run_once:
# the latest is caught up).  Then it comes back and takes its jobs back,
# again without a tick run twice or lost.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 3
cluster_jobs
cluster_up 3
check "the three members see each other" wait_for 20 cluster_all_see 3
T0=$(($(date +%s) + 2))
sleep 6

cluster_use 2
req GET /cluster
check "GET /cluster: members with the jobs they own (2 each)" body \
    "sorted((m['member'], m['owned_jobs']) for m in b['members']) == \
    [('m1', 2), ('m2', 2), ('m3', 2)] and b['member'] == 'm2' and \
    [m['self'] for m in b['members']] == [False, True, False]"
check "GET /cluster: etcd's three endpoints, one in use" body \
    "len(b['endpoints']) == 3 and \
    sum(e['current'] for e in b['endpoints']) == 1"
req GET /
check "GET / links to /cluster in cluster mode" body \
    "b['links']['cluster'] == '/cluster'"
noauth GET /health
check "/health is ok while the lease is held" status_is 200
check "/metrics: three members" test "$(metric distcron_cluster_members)" = 3
check "/metrics: the lease is held" test \
    "$(metric distcron_cluster_lease_ok)" = 1
check "/metrics: claims won" test \
    "$(metric 'distcron_cluster_claims_total{result="won"}')" -gt 0
req GET /monitor
check "/monitor: the cluster's state" body \
    "b['cluster']['members'] == 3 and b['cluster']['lease_ok'] and \
    b['cluster']['claims']['won'] > 0"
run "$ctl" cluster --url "$URL" --token "$TOKEN"
check "distcronctl cluster lists the members and what they own" sh -c \
    "grep -q '^m1 .* 2 ' '$T/out' && grep -q '^m2 .* 2 .*(this daemon)' \
    '$T/out' && grep -q '^m3 ' '$T/out'"

# the fault: m1 (owning the first two jobs) is killed
K=$(date +%s.%N)
cluster_kill 1
check "m2 sees m1 leave" wait_for 15 grep -q 'member m1 left' "$T/d2.log"
check "the survivors take m1's jobs over" wait_for 10 cluster_all_see 2
# when they did, by their logs: ticks may be lost until 1 s after that
# if it came later than the lease's TTL + 3 s (on a busy machine)
took_over() { TOOK=$(cluster_took_over "$K" 2 3) && [ -n "$TOOK" ]; }
check "the survivors logged their take-over" wait_for 10 took_over
sleep 3
# m1 comes back: its jobs go back to it, without a tick run twice
cluster_start 1 || exit 1
check "m1 joins again" wait_for 15 cluster_all_see 3
cluster_use 3
req GET /cluster
check "GET /cluster: the jobs are shared by three again" body \
    "sorted(m['owned_jobs'] for m in b['members']) == [2, 2, 2]"
sleep 4
T1=$(($(date +%s) - 2))
cluster_stop 1
cluster_stop 2
cluster_stop 3
check "the members stop cleanly" test "$stop_rc" -eq 0
check "a stop revokes the lease" grep -q 'member m3 left (lease revoked)' \
    "$T/d3.log"
check "histories read" cluster_histories
check "every tick ran once, fences grow, m1's lost ticks per policy" \
    cluster_check --from "$T0" --to "$T1" --fault "$K" --victim m1 \
    --settled "$TOOK" --spread --history "$T"/hist.*.json
cat "$T/out"
for i in 1 2 3; do
	daemon_log_report "$T/d$i.log"
done
finish
