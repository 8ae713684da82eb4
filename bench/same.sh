#!/bin/sh
# 10,000 jobs due in the same second (issue 19): JOBS job files (default
# 10000), each due once, at one second chosen 20 s ahead (a six-field cron
# naming that second, minute, hour, day and month in UTC), run /bin/true on
# one local node under max_concurrent_runs MAXC (default 1024).  Per round
# (ROUNDS, default 3) it reports, from the store (each item's start minus
# its scheduled second): lateness p50, p99 and max of the starts, the time
# from the second to the last start, and the peak of items executing at
# once (from their recorded start and end: never more than MAXC).  In the
# same round bench/same_loop.c, the bare spawn loop, sleeps to a second of
# its own and spawns JOBS /bin/true as fast as it can with at most MAXC
# alive: its p50, p99 and time to the last start.  With DC_SAME_BEFORE set
# to another build directory (e.g. main's, built optimised), each round
# also runs that daemon, so before and after share the round.  The turns
# rotate from round to round; one table at the end.  It measures; it never
# passes or fails on a time.
#   usage: bench/same.sh [JOBS] [ROUNDS] [MAXC]
. "$(dirname "$0")/common.sh"
JOBS=${1:-10000}
ROUNDS=${2:-3}
MAXC=${3:-1024}
AHEAD=${DC_SAME_AHEAD:-20}	# seconds from the daemon's start to the jobs' second

mkdir -p "$W/nodes"
echo '{"roles": ["bench"], "connection_type": "local"}' >"$W/nodes/local.json"
cc $DC_CFLAGS -o "$W/same_loop" "$DC_TOP/bench/same_loop.c"

# jobs_at DIR EPOCH: JOBS job files in DIR (made afresh), all due at EPOCH.
jobs_at() {
	rm -rf "$1"
	mkdir -p "$1"
	python3 - "$1" "$2" "$JOBS" <<'PY'
import json, os, sys, time
d, at, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = time.gmtime(at)
job = json.dumps({"policy": {"roles": ["bench"]},
                  "schedule": {"cron": "%d %d %d %d %d *" % (t.tm_sec,
                               t.tm_min, t.tm_hour, t.tm_mday, t.tm_mon),
                               "timezone": "UTC"},
                  "command": ["/bin/true"]})
for i in range(n):
    with open(os.path.join(d, "j%05d.json" % i), "w") as f:
        f.write(job)
PY
}

# daemon_round BUILD OUT: the jobs due AHEAD s after BUILD's distcrond
# starts; OUT gets the starts' lateness (ms), OUT.peak the peak.  While
# the runs go, only the API is asked (GET /monitor); the store is read
# once the daemon has stopped.
daemon_round() {
	at=$(($(date +%s) + AHEAD))
	jobs_at "$W/jobs" "$at"
	rm -rf "$W/state"
	B_SAVED=$B
	B=$1
	daemon_start "$W/jobs" "$W/nodes" "$W/state" \
	    --max-concurrent-runs "$MAXC"
	B=$B_SAVED
	sleep $((at - $(date +%s) + 1))
	python3 - "$URL" "$TOKEN" "$JOBS" <<'PY'
import json, sys, time, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
last, since = None, time.time()
while True:		# until all have ended, or nothing moved for 20 s
    req = urllib.request.Request(url + "/monitor",
                                 headers={"Authorization": "Bearer " + token})
    m = json.load(urllib.request.urlopen(req, timeout=30))
    now = (m["runs_started"], m["runs_in_flight"])
    if now != last:
        last, since = now, time.time()
    if (m["runs_started"] >= n and m["runs_in_flight"] == 0) or \
            time.time() - since > 20:
        break
    time.sleep(0.2)
PY
	kill -TERM $bench_pid
	wait $bench_pid || true
	bench_pid=
	python3 - "$W/state/distcron.db" "$at" "$2" <<'PY'
import sqlite3, sys
db, at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = sqlite3.connect(db).execute(
    "SELECT i.started_ms, i.ended_ms FROM run_items i JOIN runs r ON"
    " r.id = i.run_id WHERE r.scheduled_at = ? AND r.status = 4",
    (at,)).fetchall()
ev, cur, peak = [], 0, 0
with open(out, "w") as f:
    for s, e in rows:
        f.write("%d\n" % (s - at * 1000))
        ev += [(s, 1), (max(e, s), -1)]
for _, d in sorted(ev):		# an end before a start at the same ms
    cur += d
    peak = max(peak, cur)
open(out + ".peak", "w").write("%d succeeded, peak %d\n" % (len(rows), peak))
PY
}

loop_round() {
	at=$(($(date +%s) + 2))
	"$W/same_loop" "$JOBS" "$MAXC" "$at" >"$1" 2>"$1.peak"
}

# row LABEL FILE: one line of the table.
row() {
	python3 - "$1" "$2" <<'PY'
import sys
label, path = sys.argv[1], sys.argv[2]
v = sorted(float(x) for x in open(path) if x.strip())
peak = open(path + ".peak").read().split()[-1]
q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))] if v else 0
print("%-28s %6d %9.0f %9.0f %9.0f %12.2f %6s" % (label, len(v), q(.5),
      q(.99), v[-1] if v else 0, (v[-1] if v else 0) / 1000, peak))
PY
}

WHO="d l"
[ -z "${DC_SAME_BEFORE:-}" ] || WHO="b d l"
echo "== bench/same.sh $JOBS $ROUNDS $MAXC: $JOBS jobs due in the same second,"
echo "   max_concurrent_runs $MAXC, /bin/true on one local node; $(nproc) CPUs,"
echo "   load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${DC_SAME_BEFORE:-}" ] || echo "   before: $DC_SAME_BEFORE"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	set -- $WHO
	i=1
	while [ "$i" -lt "$r" ]; do	# rotate: round r starts with turn r
		w1=$1
		shift
		set -- "$@" "$w1"
		i=$((i + 1))
	done
	order="$*"
	for who in $order; do
		case $who in
		b) daemon_round "$DC_SAME_BEFORE" "$W/b$r" ;;
		d) daemon_round "$B" "$W/d$r" ;;
		l) loop_round "$W/l$r" ;;
		esac
	done
	echo "round $r ($order) done, load $(cut -d' ' -f1 /proc/loadavg)"
	r=$((r + 1))
done
echo
printf '%-28s %6s %9s %9s %9s %12s %6s\n' "round, who" starts "p50 ms" \
    "p99 ms" "max ms" "last start s" peak
r=1
while [ "$r" -le "$ROUNDS" ]; do
	[ -z "${DC_SAME_BEFORE:-}" ] || row "$r distcrond (before)" "$W/b$r"
	row "$r distcrond" "$W/d$r"
	row "$r bare spawn loop" "$W/l$r"
	r=$((r + 1))
done
