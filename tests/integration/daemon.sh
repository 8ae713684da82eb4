#!/bin/sh
# daemon.sh - the real distcrond on a temp dir: per-second jobs run and are
# recorded with their environment and output, a broken job file is reported
# and skipped while the others run, inotify and SIGHUP reloads, removal,
# SIGTERM with a job still running, kill -9 recovery (LOST), missed ticks
# after downtime, the state-dir lock, and the priority of runs and threads.
. "$top_srcdir/tests/integration/lib.sh"

daemon_setup

cleanup_daemon() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup_daemon EXIT

start_daemon() {
	$DC_NICE "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
	    --listen 127.0.0.1:0 \
	    --state-dir "$S" --shutdown-grace 1s --reload-delay 100ms \
	    --log-level debug "$@" >>"$T/daemon.log" 2>&1 &
	pid=$!
}

# stop_daemon SIGNAL: signals the daemon and waits; $stop_rc gets its status.
stop_daemon() {
	kill "-$1" "$pid"
	wait "$pid"
	stop_rc=$?
	pid=
}


# history JOB: the job's runs as JSON in $T/h.json.
history() {
	"$ctl" history "$1" --state-dir "$S" -n 1000 --json >"$T/h.json" 2>"$T/err"
}

# py EXPR: evaluates a Python expression over the runs in $T/h.json
# (bound to h); succeeds when it is true.
py() {
	python3 -c "
import json, sys
h = json.load(open('$T/h.json'))
sys.exit(0 if ($1) else 1)"
}

runs_at_least() {
	history "$1" && py "len([r for r in h if r['status'] == '$2']) >= $3"
}

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
cat >"$J/tick.json" <<'X'
{"policy": {"hosts": "any", "roles": ["worker"]},
 "schedule": {"cron": "* * * * * *"},
 "command": "echo \"job=$DISTCRON_JOB id=$DISTCRON_RUN_ID at=$DISTCRON_SCHEDULED_AT node=$DISTCRON_NODE attempt=$DISTCRON_ATTEMPT greet=$GREETING\"",
 "environment": {"GREETING": "hi there"}}
X
cat >"$J/fail.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": {"cron": "* * * * * *"},
 "command": ["/bin/sh", "-c", "echo oops >&2; exit 3"]}
X
cat >"$J/broken.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": {"cron": "0 0 32 * *"},
 "command": ["/bin/true"]}
X
cat >"$J/slow.json" <<'X'
{"policy": {"roles": ["worker"]},
 "schedule": {"cron": "* * * * * *", "timezone": "Asia/Kolkata"},
 "command": ["/bin/sleep", "60"]}
X

# --- version, help, bad flags ------------------------------------------------
run "$daemon" --version
check "--version exits 0" test "$rc" -eq 0
check "--version names the program" contains "$T/out" "distcrond "
run "$daemon" --help
check "--help documents --jobs-dir and distcrond's flags" \
    sh -c "grep -q -- --jobs-dir '$T/out' && grep -q jobsDirectory '$T/out'"
check "--help says a stop takes up to shutdown_grace + kill_grace" sh -c \
    "tr '\n' ' ' <'$T/out' | grep -q 'takes up to shutdown_grace + kill_grace'"
run "$daemon" --no-such-flag
check "an unknown flag exits 2 and is named" \
    sh -c "test $rc -eq 2 && grep -q no-such-flag '$T/err'"

# --- runs, output, environment, broken file --------------------------------
start_daemon
check "per-second job runs and succeeds" wait_for 10 runs_at_least tick SUCCESS 3
check "each run records the job's environment and DISTCRON_* variables" py "
all('job=tick id=%d at=' % r['id'] in r['items'][0]['output'] and
    'node=local attempt=1 greet=hi there' in r['items'][0]['output']
    for r in h if r['status'] == 'SUCCESS')"
check "no tick of a job is run twice" py "
len(set(r['scheduled_at'] for r in h)) == len(h)"
check "ticks are consecutive seconds, none missing" py "
(lambda t: len(t) >= 3 and all(b - a == 1 for a, b in zip(t, t[1:])))(
  sorted(int(__import__('datetime').datetime.fromisoformat(r['scheduled_at'])
    .timestamp()) for r in h))"
check "a failing job is recorded as FAILURE with exit code 3 and stderr" \
    wait_for 5 sh -c "'$ctl' history fail --state-dir '$S' --json >'$T/h.json' &&
    python3 -c \"import json,sys; h=json.load(open('$T/h.json'));
sys.exit(0 if any(r['status']=='FAILURE' and r['items'][0]['exit_code']==3
 and 'oops' in r['items'][0]['stderr'] for r in h) else 1)\""
check "the broken file is reported with file, field and reason" \
    contains "$T/daemon.log" "broken.json: schedule.cron: day-of-month: 32 out of range 1-31"
check "without a sink, the daemon says once that reports stay in SQLite" \
    test "$(grep -c 'reports stay in SQLite only' "$T/daemon.log")" -eq 1
check "run start and finish are logged with job, node and status" \
    sh -c "grep -q 'started: job=tick node=local' '$T/daemon.log' &&
    grep -q 'finished: job=tick node=local.*status=SUCCESS' '$T/daemon.log'"
check "concurrency forbid skips ticks while the slow run goes on" \
    wait_for 5 grep -q "job slow: tick .* skipped: the previous run is still running" "$T/daemon.log"
check "  the skipped tick is an ISO 8601 time in the job's zone" grep -Eq \
    "job slow: tick 20[0-9-]{8}T[0-9:]{8}\+05:30 skipped" "$T/daemon.log"

# --- a second daemon on the same state dir is refused ----------------------
run "$daemon" --config /dev/null --listen 127.0.0.1:0 --jobs-dir "$J" --nodes-dir "$N" --state-dir "$S"
check "a second daemon on the same state dir exits 1" test "$rc" -eq 1
check "and says why" contains "$T/err" "another distcrond is using this state directory"

# --- reloads ---------------------------------------------------------------
cat >"$T/fixed.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "* * * * * *", "command": ["/bin/true"]}
X
mv "$T/fixed.json" "$J/added.json"
check "a job file added to the directory runs without a signal (inotify)" \
    wait_for 10 runs_at_least added SUCCESS 1
echo "not json at all" >"$J/notes.txt"
echo "{" >"$J/.hidden.json"
sleep 1
check "files that are not *.json, and dotfiles, are ignored" sh -c "
    ! grep -q -e notes.txt -e hidden '$T/daemon.log'"
rm "$J/notes.txt" "$J/.hidden.json"
cat >"$J/broken.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": {"cron": "* * * * * *"}, "command": ["/bin/true"]}
X
history slow
slow_id=$(python3 -c "import json; print(json.load(open('$T/h.json'))[0]['id'])")
cat >"$J/slow.json" <<'X'
{"description": "changed while running", "policy": {"roles": ["worker"]},
 "schedule": {"cron": "* * * * * *"}, "command": ["/bin/sleep", "60"]}
X
kill -HUP "$pid"
check "after SIGHUP the repaired file runs" wait_for 10 runs_at_least broken SUCCESS 1
check "the changed definition was noticed" contains "$T/daemon.log" "job slow: definition changed"
history slow
check "a reload does not disturb the run in progress" \
    py "h[0]['id'] == $slow_id and h[0]['status'] == 'STARTED'"
rm "$J/added.json"
sleep 1.5
history added
n1=$(python3 -c "import json; print(len(json.load(open('$T/h.json'))))")
sleep 2
history added
check "a removed job stops running" py "len(h) <= $n1"
# kept_when_broken KIND DIR NAME JOB CUT RELOADED: cuts DIR/NAME.json short
# (to CUT), as a file caught half written or broken by hand; the KIND (job or
# node) keeps its previous definition, the reload's log line is RELOADED, and
# JOB keeps running on it; then restores it.
kept_when_broken() {
	cp "$2/$3.json" "$T/$3.good"
	printf '%s' "$5" >"$2/$3.json"
	check "a $1 whose file turns invalid is kept" wait_for 10 contains \
	    "$T/daemon.log" "$1 $3: its file is invalid; keeping the previous definition"
	check "  the reload counts it among the ${1}s, kept" contains \
	    "$T/daemon.log" "$6"
	history "$4"
	n1=$(python3 -c "import json; print(len(json.load(open('$T/h.json'))))")
	check "and $4 keeps running on the previous definition" \
	    wait_for 10 runs_at_least "$4" SUCCESS $((n1 + 2))
	cp "$T/$3.good" "$2/$3.json"
}
njobs=$(ls "$J" | grep -c '\.json$')
kept='1 kept with its previous definition'
kept_when_broken job "$J" broken broken '{"policy": ' \
    "reloaded: $njobs jobs ($kept: broken.json), 1 nodes, 1 file(s) with errors"
kept_when_broken node "$N" local tick '{"roles": ' \
    "reloaded: $njobs jobs, 1 nodes ($kept: local.json), 1 file(s) with errors"

# --- SIGTERM: runs finish or are killed after the grace, all recorded ------
stop_daemon TERM
check "SIGTERM exits 0" test "$stop_rc" -eq 0
check "the slow run killed at shutdown is recorded as FAILURE" sh -c "
    '$ctl' history slow --state-dir '$S' --json >'$T/h.json' &&
    python3 -c \"import json,sys; h=json.load(open('$T/h.json'));
sys.exit(0 if h[0]['status']=='FAILURE' and 'shutting down' in (h[0]['reason'] or '') else 1)\""
for job in tick fail slow broken; do
	history "$job"
	check "no run of $job is left PENDING or STARTED" \
	    py "all(r['status'] not in ('PENDING', 'STARTED', 'RETRY') for r in h)"
done

# --- kill -9: the unfinished run becomes LOST on restart -------------------
rm "$J/tick.json" "$J/fail.json" "$J/broken.json"
start_daemon
check "slow starts again" wait_for 10 sh -c "
    '$ctl' history slow --state-dir '$S' --json >'$T/h.json' &&
    python3 -c \"import json,sys; h=json.load(open('$T/h.json'));
sys.exit(0 if h[0]['status']=='STARTED' else 1)\""
stop_daemon KILL
sleep 0.5
rm "$J/slow.json"
cat >"$J/catchup.json" <<'X'
{"policy": {"roles": ["worker"]},
 "schedule": {"cron": "*/2 * * * * *", "timezone": "America/St_Johns"},
 "command": ["/bin/true"], "missed": "run_once", "missed_max_age": "1h"}
X
start_daemon
check "after kill -9 and restart, the interrupted run is LOST" wait_for 5 sh -c "
    '$ctl' history slow --state-dir '$S' --json >'$T/h.json' &&
    python3 -c \"import json,sys; h=json.load(open('$T/h.json'));
sys.exit(0 if h[0]['status']=='LOST' and h[0]['reason']=='ended at restart: the daemon that started it had died' else 1)\""
check "the lost run is logged at startup" contains "$T/daemon.log" "marked LOST"

# --- missed ticks: run once after downtime --------------------------------
check "catchup runs" wait_for 10 runs_at_least catchup SUCCESS 1
stop_daemon TERM
sleep 5
start_daemon
check "a tick missed while the daemon was down runs once (trigger missed)" \
    wait_for 10 sh -c "'$ctl' history catchup --state-dir '$S' --json >'$T/h.json' &&
    python3 -c \"import json,sys; h=json.load(open('$T/h.json'));
sys.exit(0 if len([r for r in h if r['trigger']=='missed'])==1 else 1)\""
check "  the log names the tick it runs in the job's zone, not in epoch seconds" \
    grep -Eq "job catchup: [0-9]+ tick\(s\) missed while the daemon was down; running the latest, 20[0-9-]{8}T[0-9:]{8}-0[23]:30, once" "$T/daemon.log"
stop_daemon INT
check "SIGINT exits 0 too" test "$stop_rc" -eq 0

# --- priority: runs start raised but run at the daemon's own nice ---------
rm -f "$J"/*.json
cat >"$J/prio.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": {"cron": "* * * * * *"},
 "command": "echo \"nice=$(nice) $(chrt -p $$ | sed -n 's/.*policy: //p')\""}
X
DC_NICE="nice -n 3" start_daemon --api-nice 7 --scheduler-nice -10
dnice=$(($(nice) + 3))	# the daemon's own: 3 above this script's
prio_runs_ok() {
	history prio || return 1
	python3 -c "import json
for r in json.load(open('$T/h.json')):
    print(r['status'], r.get('reason'), [i.get('output') for i in r['items']])" \
	    >"$T/out" 2>&1	# what a failed check shows
	py "any(r['status'] == 'SUCCESS' for r in h) and all(r['items'][0]['output'].strip() == 'nice=$dnice SCHED_OTHER' for r in h if r['status'] == 'SUCCESS')"
}
check "a run and what it forks at once get the daemon's nice value ($dnice) and policy" \
    wait_for 10 prio_runs_ok
# nice_threads N COUNT: COUNT or more of the daemon's threads run at nice N.
nice_threads() {
	[ "$(cat /proc/"$pid"/task/*/stat | sed 's/.*) //' |
	    awk -v n="$1" '$17 == n' | wc -l)" -ge "$2" ]
}
if [ "$(id -u)" = 0 ]; then
	check "the loop and both spawner threads run at scheduler_nice (-10)" \
	    nice_threads -10 3
else
	check "without CAP_SYS_NICE the daemon says it keeps its priority" \
	    contains "$T/daemon.log" "needs CAP_SYS_NICE"
fi
check "the store thread runs below the rest (nice 10)" nice_threads 10 1
port=$(sed -n 's/.*API listening on .*(port \([0-9]*\).*/\1/p' "$T/daemon.log" | tail -1)
python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health').read()"
check "an API thread that served a request runs at api_nice (7)" \
    wait_for 5 nice_threads 7 1
stop_daemon TERM

finish
