#!/bin/sh
# cluster_apijobs.sh - cluster mode (issue 16): jobs created through the
# API are stored in etcd (/distcron/NS/jobs/NAME) and every member
# schedules them, as a second source beside its job files.  A job PUT
# through m1 runs on its owner (m2 or m3), once per tick; every member
# lists it with its etcd source; a replacement through m3 and a DELETE
# through m2 reach every member.  A file job's name is refused (409, files
# win), so is a key of that name written by hand; a bad definition written
# by hand is logged with its key and skipped while the others run.  A
# member that restarts reads the etcd jobs at start; with etcd stopped a
# PUT answers 503 with the reason and writes nothing locally, and once
# etcd is back the members read the jobs again and follow them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 1
printf '{"roles": ["local"], "connection_type": "local"}\n' >"$N/local.json"
printf '{"policy": {"roles": ["local"]}, "schedule": "0 0 1 1 *",
 "command": ["/bin/true"]}\n' >"$J/filejob.json"
cluster_up 3
check "the three members see each other" wait_for 20 cluster_all_see 3

# two names: the first owned by m2, the second by m3 (cluster_owners);
# JOBS and ONCE are cluster_check's
# shellcheck disable=SC2046
set -- $(cluster_owners)
A2=$3
A3=$5
# shellcheck disable=SC2034
JOBS="$A2 $A3" ONCE=
KEYS=/distcron/default/jobs

# job_body FILE SCHEDULE TAG: a job writing its ticks (cluster_check.py's
# lines) to $TICKS and TAG to $T/tags
job_body() {
	cat >"$1" <<-EOF
	{"policy": {"hosts": "any", "roles": ["local"]}, "schedule": "$2",
	 "command": ["/bin/sh", "-c", "echo \"\$DISTCRON_JOB \$DISTCRON_SCHEDULED_AT \$DISTCRON_MEMBER \$DISTCRON_FENCE \$(date +%s.%N)\" >>$TICKS; echo \"\$DISTCRON_JOB $3\" >>$T/tags"]}
	EOF
}

# listed_everywhere EXPR: on every running member, GET /jobs answers and
# EXPR holds over its jobs by name (bound to j)
listed_everywhere() {
	for _i in $CL_IDS; do
		[ -s "$T/d$_i.pid" ] || continue
		cluster_use "$_i"
		req GET /jobs
		status_is 200 && body "(lambda j: $1)({x['name']: x for x in \
		    b['jobs']})" || return 1
	done
}

job_body "$T/every1.json" '* * * * * *' old
cluster_use 1
req PUT "/jobs/$A2" "$T/every1.json"
check "PUT through m1 stores a job in etcd: 201" status_is 201
req PUT "/jobs/$A3" "$T/every1.json"
check "PUT of a second job: 201" status_is 201
check "m1 wrote no job file" test ! -e "$T/j1/$A2.json"
run etcd_ctl get --print-value-only "$KEYS/$A2"
check "the job's JSON is in etcd under $KEYS/$A2" grep -q '"schedule"' \
    "$T/out"
check "every member lists both jobs with their etcd source" wait_for 10 \
    listed_everywhere "j['$A2']['source'] == 'etcd:$KEYS/$A2' and \
    j['$A3']['source'] == 'etcd:$KEYS/$A3'"
cluster_use 2
req GET "/jobs/$A2"
check "GET /jobs/NAME shows the etcd job's definition and source" body \
    "b['source'] == 'etcd:$KEYS/$A2' and \
    b['definition']['schedule'] == '* * * * * *'"
T0=$(($(date +%s) + 2))
sleep 5
T1=$(($(date +%s) - 1))
check "each job ran on its owner only (m2, m3), never on m1" python3 -c "
import sys
runs = [l.split() for l in open('$TICKS')]
mine = {'$A2': 'm2', '$A3': 'm3'}
sys.exit(0 if runs and all(r[2] == mine[r[0]] for r in runs) and
    {r[0] for r in runs} == set(mine) else 1)"

# the replacement, through m3: every two seconds, another tag
job_body "$T/every2.json" '*/2 * * * * *' new
cluster_use 3
req PUT "/jobs/$A2" "$T/every2.json"
check "PUT through m3 replaces the job: 200" status_is 200
check "every member has the new definition" wait_for 10 listed_everywhere \
    "j['$A2']['schedule'] == '*/2 * * * * *'"
check "the new definition runs" wait_for 10 grep -q "^$A2 new" "$T/tags"

# the delete, through m2
cluster_use 2
req DELETE "/jobs/$A3"
check "DELETE through m2: 200" status_is 200
check "no member lists the deleted job" wait_for 10 listed_everywhere \
    "'$A3' not in j"
run etcd_ctl get --print-value-only "$KEYS/$A3"
check "its key is gone from etcd" test ! -s "$T/out"
D=$(($(date +%s) + 1))
req DELETE "/jobs/$A3"
check "DELETE of a job that is not there: 404" status_is 404

# a file job's name: refused, files win
cluster_use 1
req PUT /jobs/filejob "$T/every1.json"
check "PUT of a file job's name: 409 naming the file" eval \
    "status_is 409 && body \"'$T/j1/filejob.json' in b['error']\""
req DELETE /jobs/filejob
check "DELETE of a file job: 409, its file stays" eval \
    "status_is 409 && test -e '$T/j1/filejob.json'"
etcd_write put "$KEYS/filejob" "$(cat "$T/every1.json")"
check "a key written by hand with a file job's name: refused, naming both" \
    wait_for 10 grep -q "$KEYS/filejob.*$T/j2/filejob.json" "$T/d2.log"
req GET /jobs/filejob
check "the file job keeps its file as its source" body \
    "b['source'] == '$T/j1/filejob.json'"

# a new job file: read by inotify (m1, m3) or a SIGHUP's scan (m2); the
# etcd jobs stay beside the files
for i in 1 2 3; do
	cp "$J/filejob.json" "$T/j$i/filejob2.json"
done
cluster_signal 2 HUP
check "a reload of the files keeps the etcd jobs" wait_for 10 \
    listed_everywhere "'filejob2' in j and \
    j['$A2']['source'] == 'etcd:$KEYS/$A2'"

# a bad definition written by hand: logged with its key, the others run
etcd_write put "$KEYS/badjob" \
    '{"policy": {"roles": ["local"]}, "schedule": "61 * * * *", "command": "x"}'
for i in 1 2 3; do
	check "m$i logs the bad key with what is wrong and skips it" wait_for \
	    10 grep -q "$KEYS/badjob: schedule.*61.*skipped" "$T/d$i.log"
done
N0=$(grep -c "^$A2 new" "$T/tags")
check "the other job keeps running" wait_for 10 sh -c \
    "test \$(grep -c '^$A2 new' '$T/tags') -gt $N0"
check "no member lists the bad job" listed_everywhere "'badjob' not in j"

# a member that restarts reads the etcd jobs at start
cluster_stop 1
check "m1 stops cleanly" test "$stop_rc" -eq 0
cluster_start 1 || exit 1
check "the restarted m1 lists the etcd job" wait_for 10 listed_everywhere \
    "j['$A2']['source'] == 'etcd:$KEYS/$A2' and 'filejob' in j"

# etcd stopped: 503 with the reason, nothing written locally
etcd_stop_all
cluster_use 1
req PUT /jobs/later "$T/every1.json"
check "PUT with etcd down: 503 naming etcd" eval \
    "status_is 503 && body \"'etcd' in b['error']\""
check "... and no job file written" test ! -e "$T/j1/later.json"
req DELETE "/jobs/$A2"
check "DELETE with etcd down: 503" status_is 503
check "the members keep the etcd jobs they read" listed_everywhere \
    "'$A2' in j"

# etcd back: the members read the jobs again and follow them anew
etcd_start_member 1
etcd_write put "$KEYS/after" "$(cat "$T/every2.json")"
check "a job written while the watches were down reaches every member" \
    wait_for 20 listed_everywhere "j['after']['source'] == 'etcd:$KEYS/after'"

for i in 1 2 3; do
	cluster_stop "$i"
	check "m$i stops cleanly (no sanitizer report)" test "$stop_rc" -eq 0
done
check "no tick of the deleted job after its delete" python3 -c "
import sys
from datetime import datetime
late = [l for l in open('$TICKS') if l.split()[0] == '$A3' and
    datetime.fromisoformat(l.split()[1]).timestamp() > $D]
sys.exit(1 if late else 0)"
check "every tick of both jobs ran once, fences grow" \
    cluster_check --from "$T0" --to "$T1"
cat "$T/out"
for i in 1 2 3; do
	daemon_log_report "$T/d$i.log"
done
finish
