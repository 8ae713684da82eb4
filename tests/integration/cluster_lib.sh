# cluster_lib.sh - several distcrond in cluster mode on one etcd, for the
# cluster tests (POSIX sh; source it after lib.sh and etcd_lib.sh).
#
#   cluster_setup                 # api_setup + etcd_require; daemons killed
#                                 # on exit
#   etcd_start 3
#   cluster_pick N P M,M:O...     # N job names P..., owned by O among M,M
#   cluster_jobs                  # $JOBS: 6 jobs firing every second, two
#                                 # owned by each of m1, m2, m3; the first of
#                                 # each pair "missed": "run_once" ($ONCE),
#                                 # the other "skip"; each run appends
#                                 # "JOB TICK MEMBER FENCE TIME" to $TICKS;
#                                 # with CL_JOIN=M4 set, the first of each
#                                 # pair moves to M4 when it joins
#   cluster_owner JOB MEMBER...   # which of MEMBER... owns JOB
#   cluster_start I [ARGS...]     # daemon I, member mI, its own copy of the
#                                 # jobs, state $T/sI, log $T/dI.log
#   cluster_up N                  # daemons 1..N started; exits 1 if one
#                                 # cannot start
#   cluster_use I                 # req, body and metric talk to daemon I
#   cluster_all_see N             # every running daemon lists N members
#   cluster_signal I SIG          # kill -SIG daemon I
#   cluster_kill I                # SIGKILL, waits; it counts as gone
#   cluster_stop I                # SIGTERM, waits
#   cluster_wait I                # waits for daemon I to exit ($stop_rc)
#   cluster_signal_at F I SIG     # kill -SIG daemon I when the clock's
#                                 # second is at fraction F; prints when
#   cluster_took_over AFTER I...  # when daemons I... last logged a take-over
#                                 # after AFTER (UNIX seconds; empty if never)
#   cluster_histories             # every member's runs of every job as
#                                 # $T/hist.I.JOB.json (for cluster_check.py)
#   cluster_check ARGS...         # cluster_check.py $TICKS ARGS, output in
#                                 # $T/out

CL_IDS=
CL_TTL=3

# cluster_setup: what a cluster test needs (or skip).
cluster_setup() {
	api_setup
	etcd_require
	chain_exit cluster_kill_all
	TICKS=$T/ticks
	: >"$TICKS"
}

# cluster_kill_all: SIGKILL to every daemon still running (on exit too).
cluster_kill_all() {
	for _i in $CL_IDS; do
		[ -s "$T/d$_i.pid" ] && kill -9 "$(cat "$T/d$_i.pid")" 2>/dev/null
	done
	return 0
}

# rendezvous.c's hash and owner, computed the same way (python).
CL_OWNER_PY='
M = 2 ** 64 - 1

def score(member, job):
    h = 0xcbf29ce484222325
    for c in member.encode() + b"\0" + job.encode():
        h = ((h ^ c) * 0x100000001b3) & M
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & M
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & M
    return h ^ (h >> 31)

def owner(members, job):
    return max(members, key=lambda m: (score(m, job), m))
'

# cluster_owners: six job names, two owned by each of m1, m2 and m3 when
# all three are members; with $CL_JOIN set (a member id), the first of each
# pair moves to that member when it joins the three, the second stays.
cluster_owners() {
	python3 -c "$CL_OWNER_PY"'
import sys
members = ["m1", "m2", "m3"]
join = sys.argv[1]
picked = {m: [None, None] for m in members}
for i in range(1000):
    job = "c%03d" % i
    m = owner(members, job)
    if join:
        k = 0 if owner(members + [join], job) == join else 1
    else:
        k = 0 if picked[m][0] is None else 1
    if picked[m][k] is None:
        picked[m][k] = job
print(" ".join(picked["m1"] + picked["m2"] + picked["m3"]))' "${CL_JOIN:-}"
}

# cluster_owner JOB MEMBER...: the member of MEMBER... that owns JOB.
cluster_owner() {
	python3 -c "$CL_OWNER_PY"'
import sys
print(owner(sys.argv[2:], sys.argv[1]))' "$@"
}

# cluster_pick N PREFIX MEMBERS:OWNER...: N job names PREFIXnnn, each
# owned by OWNER among MEMBERS (comma-separated) in every pair given:
# "cluster_pick 1 f m1,m2:m2 m1,m3:m3" is a job that m2 takes from m1.
cluster_pick() {
	python3 -c "$CL_OWNER_PY"'
import sys
n, prefix, rules = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
rules = [(r.split(":")[0].split(","), r.split(":")[1]) for r in rules]
jobs = [prefix + "%03d" % i for i in range(10000)]
print(" ".join([j for j in jobs if all(owner(m, j) == o
                                       for m, o in rules)][:n]))' "$@"
}

# cluster_jobs: the jobs (see the top) in $J, the local node in $N.
cluster_jobs() {
	JOBS=$(cluster_owners)
	ONCE=
	_k=0
	for _j in $JOBS; do
		_missed=skip
		if [ $((_k % 2)) -eq 0 ]; then
			_missed=run_once
			ONCE=$ONCE${ONCE:+,}$_j
		fi
		cat >"$J/$_j.json" <<-EOF
		{"policy": {"hosts": "any", "roles": ["local"]},
		 "schedule": "* * * * * *", "missed": "$_missed",
		 "command": ["/bin/sh", "-c", "echo \"\$DISTCRON_JOB \$DISTCRON_SCHEDULED_AT \$DISTCRON_MEMBER \$DISTCRON_FENCE \$(date +%s.%N)\" >>$TICKS"]}
		EOF
		_k=$((_k + 1))
	done
	printf '{"roles": ["local"], "connection_type": "local"}\n' \
	    >"$N/local.json"
}

# cluster_start I [ARGS...]: daemon I (see the top), with its API on a
# free port ($T/dI.port); waits until it listens.
cluster_up() {
	for _u in $(seq "$1"); do
		cluster_start "$_u" || exit 1
	done
}

cluster_start() {
	_i=$1
	shift
	rm -rf "$T/j$_i"
	cp -r "$J" "$T/j$_i"
	: >"$T/d$_i.log"
	"$daemon" --config /dev/null --jobs-dir "$T/j$_i" --nodes-dir "$N" \
	    --state-dir "$T/s$_i" --listen 127.0.0.1:0 --shutdown-grace 2s \
	    --log-level debug --allow-root-jobs --etcd "$ETCD_ENDPOINTS" \
	    --cluster-member "m$_i" --cluster-lease-ttl "${CL_TTL}s" "$@" \
	    >>"$T/d$_i.log" 2>&1 &
	echo $! >"$T/d$_i.pid"
	case " $CL_IDS " in *" $_i "*) ;; *) CL_IDS="$CL_IDS $_i" ;; esac
	if ! wait_for 10 grep -q 'API listening' "$T/d$_i.log"; then
		cat "$T/d$_i.log"
		return 1
	fi
	log_api_port "$T/d$_i.log" >"$T/d$_i.port"
}

# cluster_use I: $URL and $TOKEN of daemon I, for req, body and metric.
cluster_use() {
	URL=http://127.0.0.1:$(cat "$T/d$1.port")
	TOKEN=$(cat "$T/s$1/api.token")
}

# cluster_all_see N: every running daemon's GET /cluster lists N members
# and says its lease is fine.
cluster_all_see() {
	for _i in $CL_IDS; do
		[ -s "$T/d$_i.pid" ] || continue
		cluster_use "$_i"
		req GET /cluster
		status_is 200 && body "len(b['members']) == $1 and b['lease_ok']" ||
		    return 1
	done
}

cluster_signal() { kill "-$2" "$(cat "$T/d$1.pid")"; }

cluster_kill() {
	_p=$(cat "$T/d$1.pid")
	kill -KILL "$_p"
	wait "$_p" 2>/dev/null
	: >"$T/d$1.pid"
}

# cluster_stop I: SIGTERM to daemon I, waits for it ($stop_rc).
cluster_stop() {
	kill -TERM "$(cat "$T/d$1.pid")"
	cluster_wait "$1"
}

cluster_wait() {
	_p=$(cat "$T/d$1.pid")
	wait "$_p"
	stop_rc=$?
	: >"$T/d$1.pid"
}

# cluster_signal_at F I SIG: sends SIG to daemon I when the clock's second
# is at fraction F (0.88: 120 ms before a second), and prints the time it
# did (UNIX seconds).  One process times and sends it: on a busy machine,
# starting date and kill after the wait may take longer than 100 ms.
cluster_signal_at() {
	python3 -c '
import os, signal, sys, time
time.sleep((float(sys.argv[1]) - time.time() % 1) % 1)
t = time.time()
os.kill(int(sys.argv[2]), getattr(signal, "SIG" + sys.argv[3]))
print("%.6f" % t)' "$1" "$(cat "$T/d$2.pid")" "$3"
}

# cluster_took_over AFTER I...: the time of the last "takes over" that
# daemons I... logged after AFTER (UNIX seconds), or nothing.
cluster_took_over() {
	_after=$1
	shift
	for _i; do cat "$T/d$_i.log"; done | python3 -c '
import sys
from datetime import datetime
last = None
for line in sys.stdin:
    if " takes over " in line:
        t = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
        if t.timestamp() > float(sys.argv[1]):
            last = t.timestamp()
if last is not None:
    print("%.3f" % last)' "$_after"
}

# cluster_histories: every member's runs of every job (after the stop).
cluster_histories() {
	for _i in $CL_IDS; do
		for _j in $JOBS; do
			"$ctl" history "$_j" --state-dir "$T/s$_i" -n 1000 --json \
			    >"$T/hist.$_i.$_j.json" 2>"$T/err" || return 1
		done
	done
}

# cluster_check ARGS...: cluster_check.py over $TICKS (and the histories);
# its findings in $T/out.
cluster_check() {
	python3 "$top_srcdir/tests/integration/cluster_check.py" "$TICKS" \
	    --jobs "$(echo $JOBS | tr ' ' ,)" --ttl "$CL_TTL" \
	    --run-once "$ONCE" "$@" >"$T/out" 2>&1
}

# cluster_listed I NAMES: daemon I's GET /secrets lists exactly NAMES
# (a Python list).
cluster_listed() {
	cluster_use "$1"
	req GET /secrets && body "[s['name'] for s in b['secrets']] == $2"
}

# cluster_runjob I JOB: runs JOB through daemon I and waits for its end;
# the run in $T/body.
cluster_runjob() {
	cluster_use "$1"
	req POST "/jobs/$2/run"
	_rid=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
	wait_for 15 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $URL/runs/$_rid >'$T/body' && grep -q -e SUCCESS -e FAILURE '$T/body'"
}
