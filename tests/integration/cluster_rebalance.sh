#!/bin/sh
# cluster_rebalance.sh - cluster mode (issue 16): a member joining and one
# leaving.  Three daemons run six jobs firing every second; a fourth
# member joins and takes over the three jobs rendezvous hashing gives it
# (one of each member's pair); then member m2 leaves cleanly (SIGTERM:
# its lease is revoked, so its remaining job moves at once, not after a
# TTL).  Every tick in the whole window runs exactly once, fences grow,
# and the moved jobs run on their new owner: m2 launches the ticks it
# has claimed before it leaves.  (cluster.sh covers a member
# killed and the same member coming back.)
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 1
CL_JOIN='m4'
cluster_jobs
cluster_up 3
check "the three members see each other" wait_for 20 cluster_all_see 3
T0=$(($(date +%s) + 2))
sleep 3

# owned_jobs I WANT: daemon I's GET /cluster gives the members' owned
# jobs as WANT ("m1:1 m2:1 ...", sorted by member).
owned_jobs() {
	cluster_use "$1"
	req GET /cluster
	status_is 200 && body "' '.join('%s:%d' % (m['member'], \
	    m['owned_jobs']) for m in sorted(b['members'], \
	    key=lambda m: m['member'])) == '$2'"
}

# ran_on_since M TIME JOB...: each JOB has a run by member M that started
# after TIME (UNIX seconds).
ran_on_since() {
	_m=$1 _t=$2
	shift 2
	for _j; do
		awk -v j="$_j" -v m="$_m" -v t="$_t" \
		    '$1 == j && $3 == m && $5 > t { f = 1 } END { exit !f }' \
		    "$TICKS" || return 1
	done
}

# the join: the first job of each pair moves to m4
MOVED=$(echo $JOBS | awk '{ print $1, $3, $5 }')
JOINED=$(date +%s)
cluster_start 4 || exit 1
check "m4 joins: the four see each other" wait_for 20 cluster_all_see 4
check "GET /cluster: m4 owns three jobs, the others one each" \
    owned_jobs 4 "m1:1 m2:1 m3:1 m4:3"
check "the moved jobs ($MOVED) run on m4" wait_for 10 \
    ran_on_since m4 "$JOINED" $MOVED
sleep 2

# the leave: m2's remaining job (its pair's second) moves at once.  m2 is
# sent SIGTERM 100 ms after a second's claims (made 250 ms ahead): it has
# won ticks it has not launched yet, which it must launch before it
# leaves (else they are lost: their claims are its)
KEPT=$(echo $JOBS | awk '{ print $4 }')
HEIR=$(cluster_owner "$KEPT" m1 m3 m4)
LEFT=$(cluster_signal_at 0.85 2 TERM)
cluster_wait 2
check "m2 stops cleanly" test "$stop_rc" -eq 0
check "m2 revoked its lease" grep -q 'member m2 left (lease revoked)' \
    "$T/d2.log"
check "the others see m2 leave" wait_for 15 cluster_all_see 3
check "GET /cluster: m2's job went to $HEIR" owned_jobs 1 "$(
    for m in m1 m3 m4; do
	n=1
	[ "$m" = m4 ] && n=3
	[ "$m" = "$HEIR" ] && n=$((n + 1))
	printf '%s:%d ' "$m" "$n"
    done | sed 's/ $//')"
check "m2's job $KEPT runs on $HEIR" wait_for 10 \
    ran_on_since "$HEIR" "$LEFT" "$KEPT"
sleep 2
T1=$(($(date +%s) - 2))
for i in 1 3 4; do
	cluster_stop "$i"
done
check "m2 launched the ticks it had claimed before it left" sh -c \
    "! grep -q 'daemon stopped before the run was launched' '$T/d2.log'"
check "every tick of the whole window ran exactly once, fences grow" \
    cluster_check --from "$T0" --to "$T1" --spread
cat "$T/out"
for i in 1 2 3 4; do
	daemon_log_report "$T/d$i.log"
done
finish
