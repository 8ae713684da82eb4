#!/bin/sh
# cluster_reports.sh - cluster mode's run summaries (issue 16, reports):
# each member puts a summary of every final run into etcd, capped per job
# (cluster.reports_per_job), and every member keeps the others' in its
# store.  Two daemons run six jobs firing every second; a third starts
# later and must list the runs the others made before it started (read
# from etcd at start).  Then on member 1, GET /runs, GET /jobs/J/reports
# and distcronctl runs show runs of members 2 and 3 with their member and
# fence, in time order, pages included; a run of another member says where
# its output is; every member lists the same runs; etcd holds the cap; a
# summary made while etcd is away is sent when it is back.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

CAP=12
PREFIX=/distcron/default/runs/

cluster_setup
etcd_start 1
cluster_jobs
set -- $JOBS
J_M1=$1 J_M2=$3 J_M3=$5	# owned by m1, m2, m3 once all three run
for _i in 1 2; do
	cluster_start "$_i" --cluster-reports-per-job "$CAP" || exit 1
done
check "m1 and m2 see each other" wait_for 20 cluster_all_see 2

# py3 EXPR: a Python expression over the JSON answer (b), with datetime's
# ts(ISO) -> UNIX seconds; like lib.sh's body.
py3() {
	python3 -c "
import json, sys
from datetime import datetime
ts = lambda s: datetime.fromisoformat(s).timestamp()
b = json.load(open('$T/body'))
sys.exit(0 if ($1) else 1)" 2>/dev/null
}

# runs_of I QUERY: GET /runs?QUERY on daemon I into $T/body.
runs_of() {
	cluster_use "$1"
	req GET "/runs?$2"
	status_is 200
}

# both made final runs for a few seconds before m3 starts
made_by() { runs_of 1 "limit=1000&status=SUCCESS" && py3 \
    "len({r['member'] for r in b['runs']}) == 2 and len(b['runs']) >= 12"; }
check "m1 and m2 ran jobs" wait_for 20 made_by
sleep 2
S3=$(date +%s)
cluster_start 3 --cluster-reports-per-job "$CAP" || exit 1
caught_up() { runs_of 3 "limit=1000" && py3 \
    "{'m1', 'm2'} <= {r['member'] for r in b['runs'] \
    if r['status'] == 'SUCCESS' and ts(r['scheduled_at']) < $S3 - 1}"; }
check "m3 lists m1's and m2's runs made before it started (etcd, at start)" \
    wait_for 15 caught_up
check "the three members see each other" wait_for 20 cluster_all_see 3

# a window of runs after m3 took its jobs: every member lists the same
sleep 2
A=$(date +%s)
sleep 4
B=$(date +%s)
sleep 2
# same_window: (job, tick, member, fence) of the runs scheduled in [A, B)
# on daemon I, in $T/win.I
window_of() {
	runs_of "$1" "limit=1000" && python3 -c "
import json
from datetime import datetime
b = json.load(open('$T/body'))
for r in b['runs']:
    t = datetime.fromisoformat(r['scheduled_at']).timestamp()
    if $A <= t < $B and r['trigger'] == 'schedule':
        print(r['job'], int(t), r.get('member'), r.get('fence'), r['status'])
" | sort >"$T/win.$1"
}
same_window() {
	window_of 1 && window_of 2 && window_of 3 &&
	    cmp -s "$T/win.1" "$T/win.2" && cmp -s "$T/win.1" "$T/win.3" &&
	    [ "$(wc -l <"$T/win.1")" -ge 12 ] &&
	    ! grep -q ' None ' "$T/win.1"
}
check "every member lists the same runs of the window, with member and fence" \
    wait_for 10 same_window
check "the window holds runs of all three members" sh -c \
    "grep -q ' m1 ' '$T/win.1' && grep -q ' m2 ' '$T/win.1' && \
    grep -q ' m3 ' '$T/win.1'"

cluster_use 1
req GET "/jobs/$J_M2/reports?limit=5"
check "GET /jobs/J/reports on m1: m2's runs of its job, member and fence" \
    py3 "len(b['reports']) == 5 and b['reports'][0]['member'] == 'm2' and \
    all(r['fence'] > 0 and r['remote_id'] > 0 for r in b['reports'] \
    if r['member'] == 'm2')"
req GET "/jobs/$J_M3/reports?limit=5"
check "GET /jobs/J/reports on m1: m3's runs" \
    py3 "b['reports'][0]['member'] == 'm3' and b['reports'][0]['fence'] > 0"
RID=$(python3 -c "import json; print(json.load(open('$T/body'))['reports'][0]['id'])")
req GET "/runs/$RID"
check "GET /runs/ID of m3's run on m1 says its output is on m3" \
    py3 "b['member'] == 'm3' and 'member m3' in b['output_on'] and \
    b['items'][0]['output'] is None and b['status'] == 'SUCCESS'"
run "$ctl" runs --url "$URL" --token "$TOKEN" -n 60
check "distcronctl runs on m1 shows m2's and m3's runs with their fences" \
    sh -c "grep -Eq ' $J_M2 .* m2 +[0-9]+ *\$' '$T/out' && \
    grep -Eq ' $J_M3 .* m3 +[0-9]+ *\$' '$T/out' && \
    grep -Eq ' $J_M1 .* m1 +[0-9]+ *\$' '$T/out'"

# time order and pages over the merged list
in_order() { runs_of 1 "job=$J_M3&limit=40" && py3 \
    "[ts(r['scheduled_at']) for r in b['runs']] == \
    sorted((ts(r['scheduled_at']) for r in b['runs']), reverse=True) and \
    len({r['member'] for r in b['runs']}) >= 2"; }
check "a job's runs by m3 and by whoever ran it before are in time order" \
    in_order
pages() {
	runs_of 1 "job=$J_M3&limit=12" &&
	    python3 -c "import json; b = json.load(open('$T/body'))
print(b['runs'][4]['id'], ' '.join(str(r['id']) for r in b['runs'][5:10]))" \
	    >"$T/page" && read -r _before _want <"$T/page" &&
	    runs_of 1 "job=$J_M3&limit=5&before=$_before" &&
	    py3 "' '.join(str(r['id']) for r in b['runs']) == '$_want'"
}
check "limit and before page through the merged list" wait_for 5 pages

# etcd holds at most CAP summaries per job, and reaches it
count_keys() {
	etcd_ctl get --prefix --keys-only "$PREFIX" >"$T/keys" 2>"$T/err" &&
	    grep . "$T/keys" | sed "s|^$PREFIX||; s|/.*||" | sort | uniq -c \
	    >"$T/counts"
}
at_cap() {
	count_keys && [ "$(wc -l <"$T/counts")" -eq 6 ] &&
	    ! awk -v cap="$CAP" '$1 != cap { bad = 1 } END { exit !bad }' \
	    "$T/counts"
}
check "etcd holds exactly $CAP summaries of each job" wait_for 30 at_cap
cat "$T/counts"
# past the cap, a job's oldest summaries go in the transaction of its next
# put: a transaction of deletes of its own only where a member did not
# know a job's oldest keys yet (none here: each member first puts its
# jobs below the cap; at most one per job allowed)
EXTRA=$(cat "$T"/d?.log | grep -c 'deleted in a transaction of their own')
echo "delete-only transactions: $EXTRA"
check "deletes ride on the puts' transactions" test "$EXTRA" -le 6

# etcd away: a manual run (no claim needed) finishes on m1; its summary
# waits in m1's queue and reaches m2 once etcd is back
etcd_stop_member 1
# (refused while a scheduled run of the job is in progress: forbid)
trigger() { cluster_use 1; req POST "/jobs/$J_M1/run" && status_is 202; }
check "a manual run on m1 while etcd is away" wait_for 10 trigger
MID=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
done_on_m1() { cluster_use 1; req GET "/runs/$MID" && py3 \
    "b['status'] == 'SUCCESS'"; }
check "it finishes on m1" wait_for 10 done_on_m1
etcd_start_member 1
got_on_m2() { runs_of 2 "job=$J_M1&limit=1000" && py3 \
    "any(r.get('remote_id') == $MID and r['member'] == 'm1' and \
    r['trigger'] == 'manual' for r in b['runs'])"; }
check "its summary reaches m2 once etcd is back" wait_for 20 got_on_m2

RCS=
for _i in 3 2 1; do
	cluster_stop "$_i"
	RCS="$RCS$stop_rc"
done
check "the members stop cleanly" test "$RCS" = 000
check "no summary was dropped" sh -c "! grep -h 'dropped' $T/d1.log \
    $T/d2.log $T/d3.log"
finish
