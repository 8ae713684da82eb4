#!/bin/sh
# cluster_pause.sh - cluster mode (issue 16): a member stopped (SIGSTOP)
# for longer than its lease, then continued, must not launch what it had
# planned: the others took its jobs over meanwhile, so it fails closed
# (its lease is lost: nothing is claimed or launched) until it has
# registered again, by itself.  No tick runs twice.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 1
cluster_jobs
cluster_up 3
check "the three members see each other" wait_for 20 cluster_all_see 3
sleep 3

# m1 owns two jobs; it stops for twice its lease, 120 ms before a second:
# its claims of that second's ticks (made 250 ms ahead) are won, their runs
# wait for the second
STOP=$(cluster_signal_at 0.88 1 STOP)
check "the others see m1 leave" wait_for 15 grep -q 'member m1 left' \
    "$T/d2.log"
sleep "$CL_TTL"
CONT=$(date +%s.%N)
cluster_signal 1 CONT
check "m1 finds its lease lost" wait_for 10 grep -q \
    'member m1 lost its lease' "$T/d1.log"
check "m1 registers again by itself" wait_for 15 grep -q \
    'member m1 registered .*claiming again' "$T/d1.log"
check "the three members see each other again" wait_for 20 cluster_all_see 3
sleep 3
for i in 1 2 3; do
	cluster_stop "$i"
done
check "m1's runs claimed before the stop were not launched after it" \
    grep -Eq 'run not launched: cluster: lease lost' "$T/d1.log"
check "histories read" cluster_histories
check "no tick ran twice; m1 launched nothing it had planned" \
    cluster_check --paused m1 "$STOP" "$CONT"
cat "$T/out"
for i in 1 2 3; do
	daemon_log_report "$T/d$i.log"
done
finish
