#!/bin/sh
# orphan.sh - a local run that outlives its daemon: after kill -9 of the
# daemon, a TERM-ignoring run keeps going under init; the next daemon ends
# its process group (TERM, kill_grace, KILL) before scheduling, records the
# run LOST with the reason, and with concurrency forbid no later run of the
# job overlaps it.
. "$top_srcdir/tests/integration/lib.sh"

daemon_setup
command -v ps >/dev/null || skip "ps missing"

cleanup_daemon() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	for _g in $(cat "$T/pids" 2>/dev/null); do
		kill -9 -- "-$_g" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup_daemon EXIT

start_daemon() {
	$DC_NICE "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
	    --listen 127.0.0.1:0 --state-dir "$S" --shutdown-grace 1s \
	    --log-level debug >>"$T/daemon.log" 2>&1 &
	pid=$!
}

# alive.sh PGID: true while a process of the group is not a zombie.
cat >"$T/alive.sh" <<'X'
#!/bin/sh
ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 }
    END { exit !f }'
X
chmod +x "$T/alive.sh"
group_alive() {
	"$T/alive.sh" "$1"
}

history() {
	"$ctl" history "$1" --state-dir "$S" -n 1000 --json >"$T/h.json" 2>"$T/err"
}

py() {
	python3 -c "
import json, sys
h = json.load(open('$T/h.json'))
sys.exit(0 if ($1) else 1)"
}

nlines() {
	[ -f "$2" ] && [ "$(wc -l <"$2")" -ge "$1" ]
}

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
# Each run records its group (the shell leads it) and whether a run of
# an earlier group was still alive when it began.
cat >"$J/stubborn.json" <<X
{"policy": {"roles": ["worker"]}, "schedule": {"cron": "* * * * * *"},
 "concurrency": "forbid", "kill_grace": "1s",
 "command": "trap '' TERM; for g in \$(cat $T/pids 2>/dev/null); do $T/alive.sh \$g && echo \$g >>$T/overlaps; done; echo \$\$ >>$T/pids; sleep 60"}
X

start_daemon
check "a run of the TERM-ignoring job starts" wait_for 20 nlines 1 "$T/pids"
pg=$(head -n 1 "$T/pids")
check "its run is recorded STARTED" wait_for 10 sh -c \
    "'$ctl' history stubborn --state-dir '$S' --json | grep -q STARTED"
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
check "the run outlives the killed daemon" group_alive "$pg"

start_daemon
check "the restarted daemon ends the old process group" \
    wait_for 20 sh -c "! '$T/alive.sh' $pg"
check "the job runs again after the restart" wait_for 20 nlines 2 "$T/pids"
check "no run overlapped the old one (concurrency forbid)" \
    test ! -s "$T/overlaps"
history stubborn
check "the old run is LOST with the reason" py "any(r['status'] == 'LOST' and
    r['reason'] == 'ended at restart: the daemon that started it had died'
    for r in h)"
check "the log says it ended a group" contains "$T/daemon.log" \
    "ended 1 process group(s) of runs left by the previous daemon"
kill -TERM "$pid"
wait "$pid"
pid=

daemon_log_report "$T/daemon.log"
finish
