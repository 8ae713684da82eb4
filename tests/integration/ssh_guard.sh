#!/bin/sh
# ssh_guard.sh - the guard channel of pooled SSH connections, with the real
# distcrond and OpenSSH servers on 127.0.0.1.  Once a connection has its
# guard, runs start no watcher of their own; the guard kills a run's group
# on timeout (TERM, KILL after the grace), TERMs what a run left behind
# (also when it holds the output open), and kills every run in flight when
# the daemon dies.  An sshd that allows one session per connection, a node
# with max_sessions 1 and a guard that is killed all fall back to the
# per-run watcher.  The pgid marker never reaches the recorded stderr.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

daemon_setup

cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	pkill -KILL -f 'sleep 302[0-9]' 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
sshd_require
sshd_keygen_user ed25519
KH=$T/known_hosts
sshd_start 1			# 1: the nodes g, g2 and one
SSHD_MAXSESSIONS=1 sshd_start 1	# 2: one session per connection
sshd_known_hosts "$KH"

# node NAME SSHD [EXTRA_JSON_MEMBERS]
node() {
	python3 - "$N/$1.json" "{$3}" <<EOF
import json, sys
opts = {"ssh_user": "$SSHD_USER", "ssh_host": "127.0.0.1:$(sshd_port "$2")",
        "ssh_private_key_file": "$SSHD_USER_KEY", "ssh_known_hosts_file": "$KH"}
opts.update(json.loads(sys.argv[2]))
json.dump({"roles": ["none"], "connection_type": "ssh",
           "connection_options": opts}, open(sys.argv[1], "w"))
EOF
}
node g 1
node g2 1
node one 1 '"max_sessions": 1'
node m 2

# job NAME NODE COMMAND_JSON [EXTRA_JSON_MEMBERS]: one run a second.
job() {
	python3 -c "import json, sys; json.dump(dict({'policy': {'nodes': ['$2']},
	 'schedule': '* * * * * *', 'command': $3}, **{$4}), open(sys.argv[1], 'w'))" \
	    "$J/$1.json"
}
gone() { ! pgrep -f "$1" >/dev/null; }
# watched FILE: the run's process group, as probe.sh recorded it, had a
# watcher (a subshell of /bin/sh, its arguments the whole script, where the
# watcher's loop is written the same in the plain and the encoded form).
watcher_re='[w]hile read -r _; do k=1; done'
watched() { grep -q "$watcher_re" "$1"; }

# probe.sh OUT [CMD...]: records the members of its process group (the
# run's session) in OUT, says so on stderr, then execs CMD if given.
cat >"$T/probe.sh" <<'EOF'
pg=$(ps -o pgid= -p $$ | tr -d ' ')
ps -e -o pgid=,args= | awk -v g="$pg" '$1 == g' >"$1.tmp"
mv "$1.tmp" "$1"
echo to-stderr >&2
shift
[ $# -eq 0 ] || exec "$@"
EOF
chmod 755 "$T" "$T/probe.sh"
PROBE="'/bin/sh', '$T/probe.sh'"

job warm g "['true']"
job warm2 g2 "['true']"
"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" --listen 127.0.0.1:0 \
    --state-dir "$S" --shutdown-grace 2s --reload-delay 100ms \
    --ssh-idle-timeout 60s --log-level debug >>"$T/daemon.log" 2>&1 &
pid=$!

# guards N: at least N guards logged in through sshd 1 (not other tests')
guards() { test "$(sshd_pgrep 1 '[d]istcron-guard' | wc -l)" -ge "$1"; }
check "g and g2: runs succeed" wait_for 15 finals_at_least warm2 3
check "each connection keeps one guard on the node" wait_for 10 guards 2
check "the guards log in over the pooled connections (two logins)" \
    test "$(sshd_accepted 1)" -eq 2

# ---- a guarded run has no watcher, and its stderr is its own ----
job probe g "[$PROBE, '$T/probe.ps']" "'max_runs': 1"
job probe1 one "[$PROBE, '$T/probe1.ps']" "'max_runs': 1"
check "probe: run recorded" wait_for 15 finals_at_least probe 1
check "probe: succeeded, stderr exactly the command's" py \
    "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['stderr'] == 'to-stderr\n'"
check "probe: its group holds no watcher" sh -c "! grep -q '$watcher_re' '$T/probe.ps'"
check "probe: ... but the command itself" grep -q "probe.sh" "$T/probe.ps"
check "probe1 (max_sessions 1): run recorded" wait_for 15 finals_at_least probe1 1
check "probe1: no guard, so its group holds the watcher" watched "$T/probe1.ps"
check "probe1: stderr exactly the command's" py \
    "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['stderr'] == 'to-stderr\n'"

# ---- timeout: TERM, then KILL after the grace, by the guard ----
job slow g "[$PROBE, '$T/slow.ps', '/bin/sh', '-c',
 'trap \"\" TERM; sleep 3021 & while :; do sleep 1; done']" \
    "'max_runs': 1, 'timeout': '1s', 'kill_grace': '1s'"
check "slow: run recorded" wait_for 15 finals_at_least slow 1
check "slow: timed out" py \
    "final[0]['status'] == 'FAILURE' and 'timed out after 1s' in final[0]['items'][0]['error']"
check "slow: guarded (no watcher in its group)" sh -c "! grep -q '$watcher_re' '$T/slow.ps'"
check "slow: the remote processes, deaf to TERM, are killed" \
    wait_for 5 gone 'sleep 3021'

# ---- what a run leaves behind ----
job hold g "['/bin/sh', '-c', 'sleep 3022 & echo started']" \
    "'max_runs': 1, 'timeout': '30s'"
check "hold: run recorded although a leftover holds its output" \
    wait_for 15 finals_at_least hold 1
check "hold: succeeded, not timed out" py \
    "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['output'] == 'started\n'"
check "hold: the leftover is gone" wait_for 5 gone 'sleep 3022'
job left g "['/bin/sh', '-c', 'sleep 3023 >/dev/null 2>&1 &']" "'max_runs': 1"
check "left: run recorded" wait_for 15 finals_at_least left 1
check "left: the leftover gets TERM at the end" wait_for 5 gone 'sleep 3023'

# ---- a command that closes its output, then goes on before it exits:
# the run waits for its exit status, and its watcher (node one) or guard
# (g) does not take the end of the output for the end of the run ----
for n in g one; do
	job "shut$n" "$n" "['/bin/sh', '-c', 'exec >&- 2>&-; sleep 1; exit 3']" \
	    "'max_runs': 1"
done
for n in g one; do
	check "shut$n: run recorded" wait_for 15 finals_at_least "shut$n" 1
	check "shut$n: exit code 3, not killed by the end of its output" py \
	    "final[0]['items'][0]['exit_code'] == 3 and final[0]['items'][0].get('signal') is None"
done

# ---- an sshd with MaxSessions 1: the guard is refused, runs go on ----
job msess m "[$PROBE, '$T/msess.ps']" "'max_runs': 3"
check "msess: three runs" wait_for 15 finals_at_least msess 3
check "msess: all succeeded" py "all(r['status'] == 'SUCCESS' for r in final)"
check "msess: the refused guard is logged" \
    grep -q 'node m: cannot open a guard channel' "$T/daemon.log"
check "msess: runs bring their own watcher" watched "$T/msess.ps"

# ---- a guard that is killed: later runs bring their own watcher ----
job stray g2 "['sleep', '3025']" "'max_runs': 1, 'timeout': '4s', 'kill_grace': '1s'"
check "stray: running on g2" wait_for 10 pgrep -f 'sleep 3025'
history warm2
n2=$(python3 -c "import json; print(len(json.load(open('$T/h.json'))))")
kill -KILL $(sshd_pgrep 1 '[d]istcron-guard')	# this test's, on g and g2
check "killed guards are noticed" wait_for 10 grep -q 'the guard ended' "$T/daemon.log"
check "runs go on after the guards are gone" wait_for 15 finals_at_least warm2 $((n2 + 3))
check "... and succeed" py "all(r['status'] == 'SUCCESS' for r in final[-3:])"
check "stray: run recorded" wait_for 20 finals_at_least stray 1
check "stray: its timeout says the remote command may still run" py \
    "final[0]['status'] == 'FAILURE' and 'timed out after 4s' in final[0]['items'][0]['error'] and 'guard is gone' in final[0]['items'][0]['error']"
pkill -f 'sleep 3025'
job probe2 g "[$PROBE, '$T/probe2.ps']" "'max_runs': 1"
check "probe2: run recorded" wait_for 15 finals_at_least probe2 1
check "probe2: no guard left, so the run has a watcher" watched "$T/probe2.ps"

# ---- the daemon dies: the guard kills the runs in flight ----
rm -f "$J/warm.json" "$J/warm2.json" "$J/probe2.json"
kill -TERM "$pid"
wait "$pid"
check "daemon exits 0 on SIGTERM" test "$?" -eq 0
"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" --listen 127.0.0.1:0 \
    --state-dir "$S" --shutdown-grace 2s --reload-delay 100ms \
    --log-level debug >>"$T/daemon.log" 2>&1 &
pid=$!
job warm g "['true']"
check "a fresh connection gets its guard" wait_for 15 guards 1
job long g "[$PROBE, '$T/long.ps', '/bin/sh', '-c',
 'trap \"\" TERM; sleep 3024 & while :; do sleep 1; done']" \
    "'max_runs': 1, 'timeout': '5m', 'kill_grace': '1s'"
check "long: running" wait_for 15 test -s "$T/long.ps"
check "long: guarded" sh -c "! grep -q '$watcher_re' '$T/long.ps'"
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
check "the daemon killed: the run's processes are killed" \
    wait_for 10 gone 'sleep 3024'
# (only this test's guards: other tests may run theirs at the same time)
guards_gone() {
	! sshd_pgrep 1 '[d]istcron-guard' >/dev/null &&
	    ! sshd_pgrep 2 '[d]istcron-guard' >/dev/null
}
check "... and the guard is gone too" wait_for 5 guards_gone
daemon_log_report "$T/daemon.log"
finish
