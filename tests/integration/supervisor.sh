#!/bin/sh
# supervisor.sh - distcrond under the real supervisord, with the program
# section make builds from etc/supervisor/distcrond.conf (its command
# pointed at the built daemon and the test's directories, no user=, the
# log in the test's directory), in a supervisord of the test's own (its
# socket and logs in the temp dir; the system's is not touched):
# supervisorctl stop lets the running job finish and the daemon exits 0
# before stopwaitsecs; a kill -9 of the daemon gets it restarted and the
# run it left shows LOST; supervisorctl signal HUP reloads (a job added
# while inotify's reload waits an hour runs after it).
. "$top_srcdir/tests/integration/lib.sh"

daemon_setup
command -v supervisord >/dev/null && command -v supervisorctl >/dev/null ||
    skip "supervisord missing (Debian package supervisor)"
prog=$top_builddir/service/supervisor/distcrond.conf
[ -f "$prog" ] || skip "$prog not built (make all builds it)"
echo '{"roles": ["r"], "connection_type": "local"}' >"$N/here.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "*/3 * * * * *",
  "command": "sleep 2"}' >"$J/slow.json"

mkdir -p "$T/conf.d"
sed -e "s|^command=.*|command=$daemon --config /dev/null --jobs-dir $J \
--nodes-dir $N --state-dir $S --listen 127.0.0.1:0 --shutdown-grace 10s \
--reload-delay 1h --log-level debug|" \
    -e '/^user=/d' -e "s|^stdout_logfile=.*|stdout_logfile=$T/distcrond.log|" \
    "$prog" >"$T/conf.d/distcrond.conf"
cat >"$T/supervisord.conf" <<X
[unix_http_server]
file=$T/supervisor.sock
[supervisord]
logfile=$T/supervisord.log
pidfile=$T/supervisord.pid
childlogdir=$T
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$T/supervisor.sock
[include]
files=$T/conf.d/*.conf
X
sctl() { supervisorctl -c "$T/supervisord.conf" "$@"; }
# dpid: the daemon's pid as supervisord says (0 when not running).
dpid() { sctl pid distcrond 2>/dev/null; }

supervisord -n -c "$T/supervisord.conf" >"$T/supervisord.out" 2>&1 &
sup=$!
# However the test ends: supervisord stops (TERM to the daemon, which
# drains), and a daemon left after it is killed.
cleanup() {
	d=$(dpid)
	kill -TERM "$sup" 2>/dev/null
	wait "$sup" 2>/dev/null
	[ "${d:-0}" -gt 0 ] 2>/dev/null && kill -9 "$d" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

running() { sctl status distcrond | grep -q RUNNING; }
logged() { tail -n "+${mark:-1}" "$T/distcrond.log" | grep -q -e "$1"; }
# started JOB: the id of JOB's latest run started since $mark, in $id.
started() {
	id=$(tail -n "+${mark:-1}" "$T/distcrond.log" |
	    sed -n "s/.* run \([0-9]*\) started: job=$1 .*/\1/p" | tail -n 1)
	test -n "$id"
}
run_status() { history "$1" && py "[r['status'] for r in h if r['id'] == $2] == ['$3']"; }

check "supervisord starts the daemon" wait_for 15 running
check "  which schedules" wait_for 10 logged 'API listening'

# stop: the run in progress finishes, the daemon exits 0 in time.
check "a run of slow starts" wait_for 10 started slow
drained=$id
run sctl stop distcrond
check "supervisorctl stop: stopped" contains "$T/out" "distcrond: stopped"
check "  the daemon exited 0, no KILL needed" grep -q \
    'stopped: distcrond (exit status 0)' "$T/supervisord.log"
check "  the running job finished first" run_status slow "$drained" SUCCESS

# kill -9: supervisord restarts it; the interrupted run is LOST.
run sctl start distcrond
check "supervisorctl start" wait_for 15 running
mark=$(($(wc -l <"$T/distcrond.log") + 1))
check "a run of slow starts again" wait_for 10 started slow
first=$(dpid)
kill -9 "$first"
restarted() { p=$(dpid); [ "${p:-0}" -gt 0 ] && [ "$p" != "$first" ]; }
check "kill -9: supervisord starts a new daemon" wait_for 15 restarted
check "  the interrupted run shows LOST" wait_for 10 run_status slow "$id" LOST
check "  with its reason" py "[r for r in h if r['id'] == $id and
    r.get('reason')]"

# HUP: a job added now runs after the reload (inotify's waits an hour).
listening() { test "$(grep -c 'API listening' "$T/distcrond.log")" -ge "$1"; }
check "  the new daemon is up" wait_for 15 running
check "  and listening (its third start)" wait_for 10 listening 3
mark=$(($(wc -l <"$T/distcrond.log") + 1))
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": "true"}' >"$J/added.json"
check "a job added is not run before the reload" sh -c \
    "! grep -q 'started: job=added' '$T/distcrond.log'"
run sctl signal HUP distcrond
check "supervisorctl signal HUP" test "$rc" -eq 0
check "  reloads" wait_for 10 logged 'SIGHUP: reloading definitions'
check "  and the added job runs" wait_for 10 logged 'finished: job=added .*status=SUCCESS'

run sctl stop distcrond
check "the last stop: exit 0 again" test "$(grep -c \
    'stopped: distcrond (exit status 0)' "$T/supervisord.log")" -eq 2
check "every run line has job=, run= and node=" run_lines_keyed "$T/distcrond.log"
[ "$nfail" -gt 0 ] && tail -n 30 "$T/supervisord.log"
daemon_log_report "$T/distcrond.log"
finish
