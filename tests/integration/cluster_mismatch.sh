#!/bin/sh
# cluster_mismatch.sh - cluster mode (issue 16): file-based jobs must be
# the same on every member.  Two members with the same files report
# nothing; after m2's "backup" gets another schedule and a job only m2
# has ("extra"), and m2 reloads (SIGHUP), both members name both jobs and
# the members on each side in /health (still 200, with "warnings"),
# /monitor, GET /cluster, distcronctl cluster, /metrics and their logs
# (once).  With the files the same again, the report clears.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 1
for j in backup rotate; do
	printf '{"policy": {"hosts": "any", "roles": ["local"]},
 "schedule": "0 3 * * *", "command": ["/bin/true", "%s"]}\n' "$j" \
	    >"$J/$j.json"
done
printf '{"roles": ["local"], "connection_type": "local"}\n' >"$N/local.json"
cluster_up 2
check "the two members see each other" wait_for 20 cluster_all_see 2

BACKUP='job "backup" differs: m1 has [0-9a-f]{8}, m2 has [0-9a-f]{8}'
EXTRA='job "extra" is missing on m1'

# reported I N: daemon I's /health, /monitor, /cluster and /metrics all
# say that N jobs differ (and name backup and extra when N is 2).
reported() {
	cluster_use "$1"
	noauth GET /health
	status_is 200 || return 1
	if [ "$2" -eq 0 ]; then
		body "'warnings' not in b" || return 1
	else
		body "len(b['warnings']) == 2 and all(re.fullmatch('cluster: '
		    'job files differ between members: ' + P[k],
		    b['warnings'][k]) for k in (0, 1))" || return 1
	fi
	req GET /monitor
	lines_are "b['cluster']" "$2" || return 1
	req GET /cluster
	lines_are "b" "$2" || return 1
	test "$(metric distcron_cluster_job_mismatch)" = "$2"
}

# lines_are EXPR N: the object EXPR of the last answer has N mismatch
# jobs, and when 2, its lines are backup's and extra's, in that order.
lines_are() {
	body "$1['mismatch_jobs'] == $2 and len($1['mismatch']) == $2 and
	    ($2 == 0 or (re.fullmatch(P[0], $1['mismatch'][0]) and
	    re.fullmatch(P[1], $1['mismatch'][1])))"
}

# body with re and the two patterns (P) at hand.
body() {
	python3 -c "
import json, re, sys
P = [r'$BACKUP', r'$EXTRA']
b = json.load(open('$T/body'))
sys.exit(0 if ($1) else 1)" 2>/dev/null
}

both_report() { reported 1 "$1" && reported 2 "$1"; }

check "the same files: nothing reported" both_report 0
for i in 1 2; do
	cluster_use "$i"
	run "$ctl" cluster --url "$URL" --token "$TOKEN"
	check "m$i: distcronctl cluster shows no difference" \
	    sh -c "test $rc -eq 0 && ! grep -q 'differ' '$T/out'"
done

# (renamed into place: a reload never reads half a file)
sed 's/"0 3 \* \* \*"/"0 4 * * *"/' "$J/backup.json" >"$T/new"
mv "$T/new" "$T/j2/backup.json"
cp "$J/rotate.json" "$T/new"
mv "$T/new" "$T/j2/extra.json"
cluster_signal 2 HUP
check "both members report both jobs" wait_for 20 both_report 2
for i in 1 2; do
	cluster_use "$i"
	run "$ctl" cluster --url "$URL" --token "$TOKEN"
	check "m$i: distcronctl cluster names both jobs" sh -c "test $rc -eq 0 &&
	    grep -q '^Job files differ between members (2 jobs):' '$T/out' &&
	    grep -Eq '^  $BACKUP\$' '$T/out' && grep -q '^  $EXTRA\$' '$T/out'"
done
sleep "$CL_TTL"	# several ranges of the members: not logged again
for i in 1 2; do
	check "m$i logged each job once" sh -c "
	    test \"\$(grep -Ec 'warn: cluster: job files differ between members: $BACKUP\$' '$T/d$i.log')\" = 1 &&
	    test \"\$(grep -c 'warn: cluster: job files differ between members: $EXTRA\$' '$T/d$i.log')\" = 1"
done

cp "$J/backup.json" "$T/new"
mv "$T/new" "$T/j2/backup.json"
rm "$T/j2/extra.json"
cluster_signal 2 HUP
check "the same files again: the report clears" wait_for 20 both_report 0
for i in 1 2; do
	check "m$i logged that the files agree again" grep -q \
	    'cluster: job files are the same on every member again' \
	    "$T/d$i.log"
done
for i in 1 2; do
	cluster_stop "$i"
	check "m$i stops cleanly" test "$stop_rc" -eq 0
	daemon_log_report "$T/d$i.log"
done
finish
