#!/bin/sh
# cluster_conc.sh - cluster mode (issue 16): "concurrency": "forbid" and
# "replace" hold across the members.  A forbid job (every second) and a
# replace job (every 2 s) whose runs last until the test opens a gate
# (a file per job and member; at most 30 s).  Ownership of both moves
# while a run is going:
#   1. m2 joins and owns them: it skips the forbid job's ticks while m1's
#      run holds the running marker (the log names m1), runs it once that
#      run is over; its first replace run cancels m1's ("replaced by a
#      newer run on member m2");
#   2. m2 is killed (SIGKILL) during a forbid run: its marker goes with
#      its lease, and m1 runs the next tick;
#   3. m3 joins, owns them, and is stopped (SIGTERM) during a forbid run:
#      m1 takes the jobs at once but skips the ticks (naming m3) until
#      m3's run is over (its shutdown grace lets it finish);
#   4. m1 alone, runs ending at once: its markers stay idle between runs,
#      so etcd handles about one transaction per run (no delete per run);
#   5. m2 joins again and owns the jobs: m1 deletes its idle markers and
#      no tick of the forbid job is lost across the join.
# The runs' start and end lines (and the members' histories, for the ends
# of killed runs) show that no two forbid runs overlapped in time, m2's
# after its death aside (cluster_conc.py).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"

cluster_setup
etcd_start 1
F=$(cluster_pick 1 f m1,m2:m2 m1,m3:m3)
R=$(cluster_pick 1 r m1,m2:m2 m1,m3:m3)
JOBS="$F $R"
LINES=$T/lines
: >"$LINES"
# conc_job NAME SCHEDULE CONCURRENCY: a job whose run writes "start JOB
# MEMBER FENCE TIME", waits for $T/gate.JOB.MEMBER, writes "end ...".
conc_job() {
	cat >"$J/$1.json" <<-EOF
	{"policy": {"hosts": "any", "roles": ["local"]},
	 "schedule": "$2", "concurrency": "$3",
	 "command": ["/bin/sh", "-c", "w() { echo \"\$1 \$DISTCRON_JOB \$DISTCRON_MEMBER \$DISTCRON_FENCE \$(date +%s.%N)\" >>$LINES; }; w start; i=0; while [ ! -e $T/gate.\$DISTCRON_JOB.\$DISTCRON_MEMBER ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done; w end"]}
	EOF
}
conc_job "$F" "* * * * * *" forbid
conc_job "$R" "*/2 * * * * *" replace
printf '{"roles": ["local"], "connection_type": "local"}\n' >"$N/local.json"

# started JOB MEMBER [AFTER]: a run of JOB by MEMBER started (after AFTER)
started() {
	awk -v j="$1" -v m="$2" -v t="${3:-0}" \
	    '$1 == "start" && $2 == j && $3 == m && $5 > t { f = 1 }
	    END { exit !f }' "$LINES"
}

# 1. m2 joins while m1's runs go
cluster_start 1 || exit 1
check "m1 runs the forbid job" wait_for 20 started "$F" m1
check "m1 runs the replace job" wait_for 20 started "$R" m1
cluster_start 2 || exit 1
check "m2 skips the forbid job's ticks while m1's run holds its marker" \
    wait_for 20 grep -q "job $F: tick .* not launched: the previous run is \
still running on member m1 (concurrency: forbid)" "$T/d2.log"
check "m2's replace run cancels m1's" wait_for 20 grep -q \
    "job $R: run [0-9]* replaced by a newer run on member m2" "$T/d1.log"
touch "$T/gate.$F.m1" "$T/gate.$R.m1"
check "m2 runs the forbid job once m1's run is over" wait_for 20 \
    started "$F" m2

# 2. m2, holding the forbid job's marker, is killed
KILLED=$(date +%s.%N)
cluster_kill 2
check "m1 runs the forbid job once m2's lease (and marker) is gone" \
    wait_for 20 started "$F" m1 "$KILLED"
touch "$T/gate.$F.m2" "$T/gate.$R.m2"	# its orphaned runs end

# 3. m3 joins, and is stopped while its forbid run goes (its shutdown grace
# outlasts the run, which ends when the test opens its gate)
cluster_start 3 --shutdown-grace 30s || exit 1
check "m3 runs the forbid job" wait_for 20 started "$F" m3
cluster_signal 3 TERM
check "m1 skips the forbid job's ticks while stopping m3's run holds its \
marker" wait_for 20 grep -q "job $F: tick .* not launched: the previous run \
is still running on member m3 (concurrency: forbid)" "$T/d1.log"
OPENED=$(date +%s.%N)
touch "$T/gate.$F.m3"
wait "$(cat "$T/d3.pid")"
check "m3 stopped cleanly once its run was over" test $? -eq 0
: >"$T/d3.pid"
check "m1 runs the forbid job once m3 has left" wait_for 20 \
    started "$F" m1 "$OPENED"

# 4. m1 alone, its runs ending at once: between runs the markers stay
# (idle) on their job's owner, whose next claim passes the compare, so a
# run costs etcd one transaction (its claim), not two (+ a delete)
touch "$T/gate.$F.m1" "$T/gate.$R.m1"
# ends MEMBER: how many of MEMBER's runs of both jobs ended
ends() { awk -v m="$1" '$1 == "end" && $3 == m' "$LINES" | wc -l; }
# ended MEMBER N: at least N did
ended() { [ "$(ends "$1")" -ge "$2" ]; }
# etcd_txns: the transactions etcd handled (its /metrics)
etcd_txns() {
	curl -s "$(etcd_url 1)/metrics" | awk '/^grpc_server_handled_total\{/ &&
	    /grpc_method="Txn"/ { n += $NF } END { print n + 0 }'
}
# etcd_rev: etcd's revision now
etcd_rev() {
	etcd_ctl get / -w json | python3 -c '
import json, sys
print(json.load(sys.stdin)["header"]["revision"])'
}
# summary_txns LO HI: the transactions in revisions (LO, HI] that put run
# summaries (one revision each, however many they put): the runs' reports
# for the other members, a cost of their own (README, Cluster mode)
summary_txns() {
	etcd_ctl get --prefix /distcron/default/runs/ -w json | python3 -c '
import base64, json, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
kvs = json.load(sys.stdin).get("kvs", [])
print(len({kv["mod_revision"] for kv in kvs if lo < kv["mod_revision"] <= hi}))
' "$1" "$2"
}
E0=$(ends m1)
check "m1's runs end at once" wait_for 20 ended m1 $((E0 + 2))
TX0=$(etcd_txns)
R0=$(etcd_rev)
E0=$(ends m1)
check "m1 runs both jobs 10 more times" wait_for 30 ended m1 $((E0 + 10))
TX1=$(etcd_txns)
R1=$(etcd_rev)
E1=$(ends m1)
SUMS=$(summary_txns "$R0" "$R1")
echo "# $((TX1 - TX0)) etcd transactions for $((E1 - E0)) runs, $SUMS of them run summaries"
check "a run on its job's owner costs one etcd transaction, not two" \
    test $((TX1 - TX0 - SUMS)) -le $((E1 - E0 + 4))

# 5. m2 joins and owns them: m1 deletes its idle markers (the jobs moved)
# while m2 claims the forbid job (waiting for a marker of m1 if need be):
# no tick is lost, and m2 runs it
JOINED=$(date +%s)
cluster_start 2 || exit 1
check "m2 runs the forbid job once it joined" wait_for 20 \
    started "$F" m2 "$JOINED"
E2=$(ends m2)
check "m2 runs it twice more" wait_for 20 ended m2 $((E2 + 2))
SETTLED=$(($(date +%s) - 1))
# no_m1_marks: etcd holds no running marker of m1's
no_m1_marks() {
	etcd_ctl get --prefix /distcron/ | awk '/\/running\// { k = 1; next }
	    k && index($0, "\"member\":\"m1\"") { n++ } { k = 0 }
	    END { exit n > 0 }'
}
check "m1's idle markers are deleted once m2 owns the jobs" \
    wait_for 10 no_m1_marks
cluster_stop 2
check "m2 stopped cleanly" test "$stop_rc" -eq 0
touch "$T/gate.$F.m1" "$T/gate.$R.m1" "$T/gate.$F.m3" "$T/gate.$R.m3"
cluster_stop 1
check "m1 stopped cleanly" test "$stop_rc" -eq 0
check "histories read" cluster_histories
check "forbid runs never overlapped; m1's replace run was replaced by m2's" \
    python3 "$top_srcdir/tests/integration/cluster_conc.py" "$LINES" "$T" \
    --forbid "$F" --replace "$R" --killed m2 "$KILLED"
check "every forbid tick ran across m2's join" \
    python3 "$top_srcdir/tests/integration/cluster_conc.py" "$LINES" "$T" \
    --forbid "$F" --replace "$R" --every $((JOINED - 1)) "$SETTLED"
for i in 1 2 3; do
	daemon_log_report "$T/d$i.log"
done
finish
