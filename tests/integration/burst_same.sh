#!/bin/sh
# burst_same.sh - 300 jobs due in the same second on the local node, with
# max_concurrent_runs 20: each records the start and end of its process
# (sub-second) into a file.  At no instant do more than 20 execute; each
# job runs exactly once for that tick (none dropped); while the rest wait,
# /metrics and /monitor count them and GET /runs shows the waiting items
# ("WAITING", with the time they were queued), which then start; a
# "forbid" job whose run still waits for a slot at its next tick has that
# tick skipped, logged and counted as missed.  Then a second burst is cut
# by SIGTERM: the items still waiting are not started, every job's tick is
# recorded (its run LOST "never started" if it never got a slot) and a
# restart does not run them again.  A third burst is cut by SIGKILL: after
# the restart each job's run is final, the waiting ones LOST, never
# started.  Bounded: about 30 seconds.
. "$top_srcdir/tests/integration/lib.sh"

api_setup

JOBS=300
MAXC=20
IV=$T/iv	# one line per process: JOB START END (epoch seconds)

# jobs_at PREFIX EPOCH [SLEEP]: JOBS job files PREFIX-NNN due once, at
# EPOCH (UTC), each appending its interval to $IV.
jobs_at() {
	python3 - "$J" "$1" "$2" "$JOBS" "$IV" "${3:-0.3}" <<'PY'
import json, os, sys, time
d, prefix, at, n, iv, nap = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5], sys.argv[6]
t = time.gmtime(at)
cron = "%d %d %d %d %d *" % (t.tm_sec, t.tm_min, t.tm_hour, t.tm_mday, t.tm_mon)
sh = ('s=$(date +%%s.%%N); sleep %s; '
      'echo "$DISTCRON_JOB $s $(date +%%s.%%N)" >>%s' % (nap, iv))
for i in range(n):
    name = "%s-%03d" % (prefix, i)
    with open(os.path.join(d, name + ".json.tmp"), "w") as f:
        json.dump({"schedule": {"cron": cron, "timezone": "UTC"},
                   "policy": {"hosts": "any", "roles": ["local"]},
                   "command": ["/bin/sh", "-c", sh]}, f)
    os.rename(os.path.join(d, name + ".json.tmp"),
              os.path.join(d, name + ".json"))
PY
}

# peak PREFIX: the most intervals of PREFIX's jobs open at one instant.
peak() {
	python3 - "$IV" "$1" <<'PY'
import sys
ev = []
for line in open(sys.argv[1]):
    job, s, e = line.split()
    if job.startswith(sys.argv[2] + "-"):
        ev += [(float(s), 1), (float(e), -1)]
cur = top = 0
for _, d in sorted(ev, key=lambda x: (x[0], x[1])):
    cur += d
    top = max(top, cur)
print(top)
PY
}

# ran PREFIX: how many lines of $IV, and distinct jobs, PREFIX's jobs wrote.
ran() {
	grep -c "^$1-" "$IV" | tr -d '\n'
	printf ' '
	grep "^$1-" "$IV" | cut -d' ' -f1 | sort -u | wc -l
}

# runs_seen FILTER: GET /runs?FILTER (1000 newest) into $T/body.
runs_seen() { req GET "/runs?limit=1000&$1"; }

printf '{"roles": ["local"], "connection_type": "local"}\n' >"$N/local.json"
: >"$IV"
api_daemon_start --max-concurrent-runs $MAXC || exit 1

# ---- burst 1: every job once, never more than MAXC at a time ----
T0=$(($(date +%s) + 5))
while [ $((T0 % 60)) -gt 56 ]; do T0=$((T0 + 1)); done	# T0+2: same minute
jobs_at a "$T0"
# "forbid", due at T0+1 and T0+2: its first run joins the tail of a queue
# that takes 300 x 0.3 s / 20 = 4.5 s to drain, so it still waits at T0+2
python3 - "$J/forbid.json" "$((T0 + 1))" <<'PY'
import json, sys, time
t = time.gmtime(int(sys.argv[2]))
json.dump({"schedule": {"cron": "%d,%d %d %d %d %d *" % (t.tm_sec,
           t.tm_sec + 1, t.tm_min, t.tm_hour, t.tm_mday, t.tm_mon),
           "timezone": "UTC"},
           "policy": {"hosts": "any", "roles": ["local"]},
           "concurrency": "forbid", "command": ["/bin/true"]},
          open(sys.argv[1], "w"))
PY
check "the 301 jobs are loaded" wait_for 10 sh -c \
    "curl -s -H 'Authorization: Bearer $TOKEN' '$URL/monitor' |
    grep -q '\"jobs\":301'"

waiting_metric() { metric_at_least distcron_runs_waiting 100; }
check "/metrics counts the waiting items while the burst goes on" \
    wait_for 15 waiting_metric
req GET /monitor
check "/monitor's runs_waiting counts them too" \
    body "b['runs_waiting'] > 0 and b['runs_running'] <= $MAXC"
check "/metrics: never more than max_concurrent_runs running" \
    test "$(metric distcron_runs_running)" -le $MAXC
waiting_run() {
	runs_seen status=STARTED && body "any(i['status'] == 'WAITING' and
	    i['queued'] and i['started'] is None for r in b['runs']
	    for i in r['items'])"
}
check "GET /runs shows items WAITING, queued, not started" \
    wait_for 10 waiting_run
wid=$(python3 -c "import json; b = json.load(open('$T/body'))
print(next(r['id'] for r in b['runs'] for i in r['items']
           if i['status'] == 'WAITING'))")
run "$ctl" history "$(python3 -c "import json; b = json.load(open('$T/body'))
print(next(r['job'] for r in b['runs'] if r['id'] == $wid))")" \
    --state-dir "$S"
check "distcronctl history shows the run WAITING" contains "$T/out" WAITING

# an outside reader (the sqlite3 shell, read-write as most tools open it)
# opens and closes the store while the daemon writes: it must neither
# take the daemon's WAL away nor keep the runs written after it unseen
outside() { sqlite3 "$S/distcron.db" "SELECT count(*) FROM runs WHERE
    job LIKE 'a-%' AND status = 4"; }
outside >/dev/null
finished() { [ "$(grep -c '^a-' "$IV")" -ge $JOBS ]; }
check "all 300 jobs ran" wait_for 30 finished
check "each exactly once" test "$(ran a)" = "$JOBS $JOBS"
check "never more than $MAXC executing at one instant (peak $(peak a))" \
    test "$(peak a)" -le $MAXC
req GET "/runs/$wid"
check "the waiting run then started: its item queued before it started" \
    body "b['items'][0]['status'] == 'SUCCESS' and
    b['items'][0]['queued'] < b['items'][0]['started']"
settled() { runs_seen "" && body "sum(1 for r in b['runs'] if
    r['job'].startswith('a-') and r['status'] == 'SUCCESS') == $JOBS"; }
check "the store has one SUCCESS run of each job" wait_for 10 settled
outside_all() { [ "$(outside)" -eq $JOBS ]; }
check "  which an outside reader sees too, while the daemon runs" \
    wait_for 10 outside_all
check "the forbid job's second tick was skipped while its run waited" \
    grep -q 'job forbid: tick .* skipped: the previous run still waits for a free slot' \
    "$T/daemon.log"
check "  counted as a skipped tick" metric_at_least distcron_ticks_skipped_total 1
forbid_once() { runs_seen job=forbid && body "len(b['runs']) == 1 and
    b['runs'][0]['status'] == 'SUCCESS'"; }
check "  and its first run ran, once" wait_for 10 forbid_once

# ---- burst 2: stopped while items wait ----
T1=$(($(date +%s) + 5))
jobs_at b "$T1" 1
check "burst 2 waits for slots" wait_for 15 waiting_metric
run "$ctl" run forbid --wait --timeout 4s --url "$URL" --token "$TOKEN"
check "distcronctl run says its run waits for a free slot" \
    contains "$T/err" "is WAITING for a free slot (max_concurrent_runs)"
api_daemon_stop
check "the daemon stops within its grace" test "$stop_rc" -eq 0
started=$(grep -c '^b-' "$IV")
check "not every job of burst 2 started before the stop ($started)" \
    test "$started" -lt $JOBS
all_b() {
	python3 - "$S/distcron.db" "$JOBS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT status, count(*) FROM runs WHERE job LIKE 'b-%'"
                  " GROUP BY status").fetchall()
print(dict(rows))
sys.exit(0 if sum(n for _, n in rows) == int(sys.argv[2]) and
         all(s in (3, 4, 5) for s, _ in rows) else 1)
PY
}
run all_b
check "every job of burst 2 has one final run in the store" test "$rc" -eq 0
lost=$(sqlite3 "$S/distcron.db" "SELECT count(*) FROM run_items i JOIN runs r
    ON r.id = i.run_id WHERE r.job LIKE 'b-%' AND r.status = 5 AND
    i.started_ms = 0 AND i.error LIKE 'never started%'")
check "the $((JOBS - started)) that never got a slot are LOST, never started ($lost)" \
    test "$lost" -eq $((JOBS - started))
api_daemon_start --max-concurrent-runs $MAXC || exit 1
sleep 2
check "a restart does not run them again" \
    test "$(grep -c '^b-' "$IV")" -eq "$started"

# ---- burst 3: the daemon dies (SIGKILL) while items wait ----
T2=$(($(date +%s) + 5))
jobs_at c "$T2" 1
check "burst 3 waits for slots" wait_for 15 waiting_metric
saved_waiting() { runs_seen status=STARTED && body "any(i['status'] ==
    'WAITING' for r in b['runs'] for i in r['items'])"; }
check "  and the store has its waiting items" wait_for 5 saved_waiting
kill -9 "$pid"
wait "$pid" 2>/dev/null
# The jobs the dead daemon had started go on (each sleeps 1 s, then writes
# its line): count them once none has written for 1.5 s, before the new
# daemon starts, so that a line written later can only be a run again.
settled() {
	n=$(grep -c '^c-' "$IV")
	sleep 1.5
	test "$(grep -c '^c-' "$IV")" -eq "$n"
}
wait_for 3 settled
crashed=$(grep -c '^c-' "$IV")
api_daemon_start --max-concurrent-runs $MAXC || exit 1
recovered() {
	python3 - "$S/distcron.db" "$JOBS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
runs = db.execute("SELECT status, reason FROM runs WHERE job LIKE 'c-%'"
                  ).fetchall()
items = db.execute("SELECT i.error FROM run_items i JOIN runs r ON"
                   " r.id = i.run_id WHERE r.job LIKE 'c-%' AND"
                   " i.started_ms = 0").fetchall()
print(len(runs), "runs;", len(items), "items never started:",
      sorted(set(e for e, in items)))
sys.exit(0 if len(runs) == int(sys.argv[2]) and
         all(s in (3, 4, 5) for s, _ in runs) and
         any(e and "waited for a free slot" in e for e, in items) and
         all(e and e.startswith("never started") for e, in items) else 1)
PY
}
run recovered
check "after the crash each job of burst 3 has one final run; those that waited are LOST, never started" \
    test "$rc" -eq 0
sleep 2
check "  and are not run again" test "$(grep -c '^c-' "$IV")" -le "$crashed"
api_daemon_stop

daemon_log_report "$T/daemon.log"
finish
