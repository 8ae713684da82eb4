#!/bin/sh
# storefull.sh - the run store's disk fills up while runs go on.  The state
# directory is a small tmpfs, in a mount namespace of the test's own, that a
# filler file fills up.  While full: /health answers 503 with the reason,
# /metrics and /monitor say so, PUT /jobs and POST run answer 503, ticks are
# not launched (missed: the latest runs once when the store is back), and a
# run that finishes keeps its record in memory; once space is freed it is
# saved (SUCCESS) without a restart.  A daemon stopped while full saves it
# when space comes back during shutdown_grace; one whose disk stays full
# puts it in the spill file reserved at start, and the next start saves it
# (refusing to start while it cannot).  Needs root and unshare(1).
. "$top_srcdir/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (a tmpfs in a private mount namespace)"
command -v unshare >/dev/null || skip "unshare missing"
command -v curl >/dev/null || skip "curl missing"
if [ -z "${DC_STOREFULL_NS:-}" ]; then
	DC_STOREFULL_NS=1 exec unshare -m sh "$0" "$@"
fi
daemon_setup
unset DISTCRON_URL DISTCRON_TOKEN
mount --make-rprivate / || skip "cannot make the mounts private"
mkdir -p "$S"
mount -t tmpfs -o size=4m tmpfs "$S" || skip "cannot mount a tmpfs"
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$S" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# fill: the state directory's file system has no byte left.
fill() {
	dd if=/dev/zero of="$S/filler" bs=64k >/dev/null 2>&1
	dd if=/dev/zero of="$S/filler2" bs=512 >/dev/null 2>&1
}
unfill() {
	rm -f "$S/filler" "$S/filler2"
}

# manual_run JOB: POST /jobs/JOB/run; its id in $run_id.
manual_run() {
	req POST "/jobs/$1/run"
	run_id=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])" \
	    2>/dev/null)
}
run_status_is() {
	req GET "/runs/$1" && body "b['status'] == '$2'"
}
health_is() {
	req GET /health && status_is "$1"
}
logged() {
	grep -q -e "$1" "$T/daemon.log"
}
metric() {
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" |
	    awk -v m="$1" '$1 == m { print $2 }'
}
stop_daemon() {
	kill -TERM "$pid"
	wait "$pid"
	stop_rc=$?
	pid=
}

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
echo '{"policy": {"roles": ["worker"]}, "schedule": "@yearly",
  "command": "sleep 1; echo done"}' >"$J/slow.json"
echo '{"policy": {"roles": ["worker"]}, "schedule": "@yearly",
  "command": ["true"]}' >"$T/other.json"
echo '{"policy": {"roles": ["worker"]}, "schedule": "* * * * * *",
  "missed": "run_once", "command": ["true"]}' >"$J/tick.json"

api_daemon_start --shutdown-grace 10s
check "daemon starts and listens" test -n "$PORT"
check "/health: 200 with room on the disk" health_is 200
check "distcron_store_ok 1" test "$(metric distcron_store_ok)" = 1

# ---- full during a run, freed without a restart ----
manual_run slow
first=$run_id
check "a manual run starts" test -n "$first"
fill
check "the run ends while the disk is full" \
    wait_for 10 logged "run $first finished: job=slow .*status=SUCCESS"
check "/health: 503 once its record cannot be saved" wait_for 10 health_is 503
check "  naming the reason" body \
    "b['reason'] == 'store: database or disk is full'"
check "/monitor: store_ok false, the reason, the record queued" sh -c "
    curl -s -H 'Authorization: Bearer $TOKEN' '$URL/monitor' >'$T/body'
    python3 -c \"
import json, sys
b = json.load(open('$T/body'))
sys.exit(0 if not b['store_ok'] and b['store_queue'] >= 1 and
    b['store_error'] == 'store: database or disk is full' and
    b['store_write_failures'] >= 1 else 1)\""
check "distcron_store_ok 0" test "$(metric distcron_store_ok)" = 0
check "distcron_store_write_failures_total counts the failed tries" \
    test "$(metric distcron_store_write_failures_total)" -ge 1
check "the run is not final in the store yet" sh -c \
    "! '$ctl' history slow --state-dir '$S' --json | grep -q SUCCESS"
mark=$(wc -l <"$T/daemon.log")
check "a tick while full is not launched, and says why" wait_for 5 sh -c \
    "tail -n +$mark '$T/daemon.log' | grep -q 'job tick: run of .* not launched: its intent could not be recorded (store: database or disk is full)'"
check "  no run of the every-second job starts while full" sh -c \
    "sleep 1.5; ! tail -n +$mark '$T/daemon.log' | grep -q 'started: job=tick'"
check "  the ticks count as skipped" \
    test "$(metric distcron_ticks_skipped_total)" -ge 1
manual_run slow
check "POST /jobs/slow/run: 503 while full" status_is 503
check "  with the reason" body "b['error'] == 'store: database or disk is full'"
req PUT /jobs/other "$T/other.json"
check "PUT /jobs/other: 503 while full" status_is 503
check "  with the reason" body "b['error'] == 'store: database or disk is full'"
check "  and the job was not created" test ! -e "$J/other.json"
check "distcron_store_rejected_total counts the refused run" \
    test "$(metric distcron_store_rejected_total)" -ge 1
unfill
check "space freed: /health back to 200" wait_for 10 health_is 200
check "the finished run is saved SUCCESS, no restart" \
    run_status_is "$first" SUCCESS
check "the log says the store writes again" logged "store: writing again"
check "distcron_store_ok 1 again" test "$(metric distcron_store_ok)" = 1
manual_run slow
check "POST run works again" status_is 202
check "  and that run succeeds" wait_for 10 run_status_is "$run_id" SUCCESS
req PUT /jobs/other "$T/other.json"
check "PUT /jobs/other works again" status_is 201
mark=$(wc -l <"$T/daemon.log")
check "the every-second job runs again" wait_for 5 sh -c \
    "tail -n +$mark '$T/daemon.log' | grep -q 'finished: job=tick .*status=SUCCESS'"
check "  the ticks refused while full count as missed (run_once)" \
    logged "job tick: [0-9]* tick(s) missed while the store could not write; running the latest once"
req GET "/runs?job=tick&limit=100"
check "  and that missed tick ran once, trigger missed" body \
    "sum(r['trigger'] == 'missed' for r in b['runs']) == 1"

# ---- stopped while full, space back during shutdown ----
manual_run slow
second=$run_id
fill
check "a second run ends while full" \
    wait_for 10 logged "run $second finished: job=slow .*status=SUCCESS"
check "  /health: 503" wait_for 10 health_is 503
kill -TERM "$pid"
check "SIGTERM: the daemon waits for the store" sh -c \
    "sleep 1; kill -0 $pid"
unfill
wait "$pid"
stop_rc=$?
pid=
check "  and exits 0 once it saved the run" test "$stop_rc" = 0
check "  nothing logged as not saved" sh -c "! grep -q 'NOT SAVED' '$T/daemon.log'"
api_daemon_start --shutdown-grace 1s
check "after a restart the run is SUCCESS, not LOST" \
    run_status_is "$second" SUCCESS

# ---- stopped while full for good, restarted while full, then freed ----
manual_run slow
third=$run_id
fill
check "a third run ends while full" \
    wait_for 10 logged "run $third finished: job=slow .*status=SUCCESS"
stop_daemon
check "SIGTERM with the disk still full: the daemon exits 0" \
    test "$stop_rc" = 0
check "  keeping the run in the spill file it reserved at start" \
    logged "run $third job=slow status=SUCCESS kept in the spill file"
check "  so nothing is lost" sh -c "! grep -q 'NOT SAVED' '$T/daemon.log'"
check "  every run line has job=, run= and node=, the store's too" \
    run_lines_keyed "$T/daemon.log"
run timeout 30 "$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --listen 127.0.0.1:0
check "a start while still full refuses to run" test "$rc" -ne 0 -a "$rc" -ne 124
check "  saying the kept results cannot be saved yet" grep -q \
    "[0-9] result(s) kept at the last shutdown cannot be saved (store: database or disk is full)" \
    "$T/err"
check "  and the run is not marked LOST" sh -c \
    "! '$ctl' history slow --state-dir '$S' --json | grep -q LOST"
unfill
api_daemon_start --shutdown-grace 1s
check "space freed: the next start saves it" \
    logged "[0-9] result(s) kept at the last shutdown saved"
check "  the run is SUCCESS, not LOST" run_status_is "$third" SUCCESS
stop_daemon
check "  and the spill file is empty again" sh -c \
    "test \"\$(head -c 1 '$S/unsaved.spill' | od -An -tx1 | tr -d ' ')\" = 00"
daemon_log_report "$T/daemon.log"
finish
