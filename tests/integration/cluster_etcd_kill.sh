#!/bin/sh
# cluster_etcd_kill.sh - cluster mode (issue 16): one member of a 3-member
# etcd killed (SIGKILL: the first, the one the daemons use, and likely the
# leader).  The daemons go on with the others: they keep their leases, no
# tick runs twice, and only while etcd elects a new leader (its writes
# wait meanwhile) may ticks be lost, as missed (fail closed).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
# a 5 s lease: an election makes keepalives fail until it ends (they are
# tried again every 250 ms then), and a busy ASan machine's elections have
# outlasted a 3 s lease ("lost its lease (no keepalive answered for 3000
# ms; ... leader changed)"); the window for lost ticks stays the 3 s
# one's (--ttl 3)
CL_TTL=5
etcd_start 3
cluster_jobs
cluster_up 2
check "both members see each other" wait_for 20 cluster_all_see 2
T0=$(($(date +%s) + 1))
sleep 3
K=$(date +%s.%N)
etcd_kill_member 1
sleep 6
check "both still hold their lease and see each other" cluster_all_see 2
T1=$(($(date +%s) - 2))
for i in 1 2; do
	cluster_stop "$i"
done
check "no member lost its lease" sh -c "! grep -q 'lost its lease' \
    '$T/d1.log' '$T/d2.log'"
check "every tick ran once, but in the election's window" \
    cluster_check --from "$T0" --to "$T1" --fault "$K" --ttl 3
cat "$T/out"
for i in 1 2; do
	daemon_log_report "$T/d$i.log"
done
finish
