#!/bin/sh
# logfile.sh - distcrond --log-file: the log goes to the file, not stderr;
# after the file is renamed (logrotate) SIGUSR1 makes the daemon reopen its
# path, new lines go to the new file and no run's lines are lost between
# the two; then the same through the real logrotate with the shipped rule
# (etc/logrotate.d/distcron: its path, owner and state directory pointed at
# the test's file, user and daemon), whose postrotate signals the pid in
# the lock file, not another distcrond beside it; a second daemon on the
# same state directory is refused, naming that pid; every line about a run carries job=,
# run= and node=; a log file that cannot be opened, or one set together
# with syslog, stops the start with a message naming it.
. "$top_srcdir/tests/integration/lib.sh"

daemon_setup
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T/log"
L=$T/log/distcrond.log
for n in a b; do
	echo '{"roles": ["r"], "connection_type": "local"}' >"$N/$n.json"
done
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": ["/bin/echo", "hi"]}' >"$J/tick.json"
echo '{"policy": {"hosts": "all", "roles": ["r"]}, "schedule": "* * * * * *",
  "command": "true"}' >"$J/both.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "*/2 * * * * *",
  "command": "exit 3", "retries": 1, "retry_backoff": "100ms"}' \
    >"$J/retry.json"

"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --listen 127.0.0.1:0 --shutdown-grace 5s \
    --log-file "$L" >"$T/stdout" 2>"$T/stderr" &
pid=$!

logged() { grep -q -e "$2" "$1" 2>/dev/null; }
check "lines go to the log file" wait_for 10 logged "$L" \
    'finished: job=tick node=[ab] run=[0-9]'
check "  in the usual form" grep -Eq \
    "^[0-9T:.-]+Z distcrond\[$pid\] info: run [0-9]+ started: job=tick" "$L"
check "  a retry is logged" wait_for 10 logged "$L" \
    'attempt 1 failed.*retrying in.* job=retry run=[0-9]* node=[ab]'

# The shipped rule's postrotate signals the pid in the state directory's
# lock file: this daemon, not another one (its own state directory and
# log file) running beside it.
check "the lock file holds the daemon's pid" test "$(cat "$S/distcrond.lock")" = "$pid"
mkdir -p "$T/j2" "$T/log2"
"$daemon" --config /dev/null --jobs-dir "$T/j2" --nodes-dir "$N" \
    --state-dir "$T/s2" --listen 127.0.0.1:0 --log-file "$T/log2/d.log" \
    >/dev/null 2>&1 &
pid2=$!
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; kill -9 "$pid2" 2>/dev/null
rm -rf "$T"' EXIT
check "another daemon runs beside it" wait_for 10 logged "$T/log2/d.log" \
    'API listening'
sed -n '/^[[:space:]]*postrotate$/,/^[[:space:]]*endscript$/p' \
    "$top_srcdir/etc/logrotate.d/distcron" | sed -e '1d' -e '$d' \
    -e "s|/var/lib/distcron|$S|g" >"$T/postrotate"
check "the rule's postrotate reads the lock file" \
    contains "$T/postrotate" "$S/distcrond.lock"
mv "$L" "$L.moved"
run sh "$T/postrotate"
check "  runs (exit 0)" test "$rc" -eq 0
check "SIGUSR1: the path is opened again" wait_for 10 logged "$L" \
    'SIGUSR1: log_file reopened'
check "  by this daemon alone: the other heard nothing" sh -c \
    "! grep -q SIGUSR1 '$T/log2/d.log'"
kill -TERM "$pid2"
wait "$pid2"
check "  which, stopped, leaves its lock file without a pid" \
    test ! -s "$T/s2/distcrond.lock"
cp "$T/postrotate" "$T/postrotate2"
sed -i "s|$S|$T/s2|g" "$T/postrotate2"
run sh "$T/postrotate2"
check "  and postrotate with no daemon running: exit 0" test "$rc" -eq 0
run "$daemon" --config /dev/null --jobs-dir "$T/j2" --nodes-dir "$N" \
    --state-dir "$S" --listen 127.0.0.1:0
check "a second daemon on the same state directory: exit 1" test "$rc" -eq 1
check "  naming the pid of the one running" contains "$T/err" \
    "$S/distcrond.lock: already running as pid $pid (another distcrond is using this state directory)"
check "  which keeps its pid in the lock file" \
    test "$(cat "$S/distcrond.lock")" = "$pid"
check "  runs go on being logged there" wait_for 10 logged "$L" \
    'finished: job=tick node=[ab] run=[0-9]'
check "  and none to the renamed file after it" sh -c \
    "! grep -q 'SIGUSR1' '$L.moved'"

# logrotate: renames the file, creates the new one, signals in postrotate.
if command -v logrotate >/dev/null; then
	sed -e "s|/var/log/distcron/distcrond.log|$L|" \
	    -e "s|create 0640 distcron adm|create 0640 $(id -un) $(id -gn)|" \
	    -e "s|/var/lib/distcron|$S|g" \
	    "$top_srcdir/etc/logrotate.d/distcron" >"$T/logrotate.conf"
	run logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf"
	check "logrotate with the shipped rule: exit 0" test "$rc" -eq 0
	check "  rotated the file" logged "$L.1" 'SIGUSR1: log_file reopened'
	check "  and its postrotate signalled the daemon" wait_for 10 \
	    logged "$L" 'SIGUSR1: log_file reopened'
	check "  and the daemon writes to the new one" wait_for 10 logged "$L" \
	    'finished: job=tick node=[ab] run=[0-9]'
	check "  which logrotate created 0640" test \
	    "$(stat -c %a "$L")" = 640
else
	echo "SKIP: logrotate missing (Debian package logrotate): the shipped rule is not run"
	touch "$L.1"
fi
api_daemon_stop
check "SIGTERM: exit 0" test "$stop_rc" -eq 0
check "the stop is logged in the new file" logged "$L" 'stopped'
check "  and nothing more in the rotated ones" sh -c \
    "! grep -q 'stopped' '$L.moved' '$L.1'"
check "nothing on stderr" test ! -s "$T/stderr"
check "nor on stdout" test ! -s "$T/stdout"

# No run lost: each recorded run has its start and finish in one file or
# the other.
cat "$L.moved" "$L.1" "$L" >"$T/all.log"
lines_of_runs() {
	history "$1" && python3 -c "
import json, re, sys
log = open('$T/all.log').read()
runs = [r for r in json.load(open('$T/h.json'))
        if r['status'] in ('SUCCESS', 'FAILURE')]
for r in runs:
    for what in ('started', 'finished'):
        if not re.search(r'run %d %s: job=$1 ' % (r['id'], what), log):
            sys.exit('run %d: no %s line' % (r['id'], what))
sys.exit(0 if runs else 'no runs')" >"$T/out" 2>&1
}
for job in tick both retry; do
	check "every run of $job logged its start and finish" lines_of_runs "$job"
done
check "every line about a run has job=, run= and node=" run_lines_keyed \
    "$T/all.log"
check "  the lines of each node of a run on all nodes too" grep -Eq \
    'run [0-9]+ item: job=both node=[ab] run=[0-9]+ status=SUCCESS' \
    "$T/all.log"

run "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --log-file "$T/none/distcrond.log"
check "a log file that cannot be opened: no start, exit 1" test "$rc" -eq 1
check "  naming it and why" contains "$T/err" \
    "log_file $T/none/distcrond.log: No such file or directory"
run "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --log-file "$L" --syslog
check "log_file and syslog together: no start, exit 1" test "$rc" -eq 1
check "  saying to choose" contains "$T/err" \
    "log_file \"$L\" and syslog are both set: choose one"
finish
