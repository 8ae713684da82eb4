#!/bin/sh
# incremental.sh - reloads read what changed: with a few hundred jobs, a PUT
# parses its one file and its new schedule is in force when it is answered,
# the other jobs untouched; an edit seen by inotify likewise; a rename and a
# delete; a bad file kept; SIGHUP parses the files whose mtime changed (and
# none when nothing did); SIGUSR2 parses them all.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
NJOBS=300

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
# job_text MONTH: a job due once a year, on the 1st of MONTH.
job_text() {
	printf '{"policy": {"roles": ["worker"]}, "schedule": "0 0 1 %s *", ' "$1"
	printf '"command": ["true"]}\n'
}
i=0
while [ $i -lt $NJOBS ]; do
	job_text 1 >"$J/$(printf 'j%03d' $i).json"
	i=$((i + 1))
done

# reloads: how many "reloaded:" lines the log has.
reloads() { grep -c 'reloaded:' "$T/daemon.log"; }
# reload_after N: the reload line after the first N is there; in $T/line.
reload_after() {
	[ "$(reloads)" -gt "$1" ] &&
	    grep 'reloaded:' "$T/daemon.log" | sed -n "$(($1 + 1))p" >"$T/line"
}
# next_run_month JOB MONTH: GET /jobs/JOB says its next run is on the 1st
# of MONTH (two digits).
next_run_month() {
	req GET "/jobs/$1" && body "'-$2-01T00:00' in b['state']['next_run']"
}
# replace FILE TEXT-COMMAND...: FILE's new contents, renamed into place.
replace() {
	_f=$1
	shift
	"$@" >"$J/.$_f.new" && mv "$J/.$_f.new" "$J/$_f"
}

api_daemon_start
check "daemon starts with $NJOBS jobs" contains "$T/daemon.log" \
    ": $NJOBS jobs, 1 nodes, 0 file(s) with errors"

# ---- PUT: one file ----
n=$(reloads)
job_text 6 >"$T/j100.json"
req PUT /jobs/j100 "$T/j100.json"
check "PUT /jobs/j100: 200" status_is 200
reload_after "$n"
check "  the reload that answered it parsed 1 file" contains "$T/line" \
    "reloaded: $NJOBS jobs, 1 nodes, 0 file(s) with errors, 1 file parsed"
check "  j100's new schedule is in force (next run June 1st)" \
    next_run_month j100 06
check "  j101 keeps its own (January 1st)" next_run_month j101 01
check "  only j100's definition changed" sh -c "
    test \$(grep -c 'definition changed' '$T/daemon.log') -eq 1 &&
    grep -q 'job j100: definition changed' '$T/daemon.log'"
# the rename's inotify event reloads once more, then things are quiet
check "  the inotify reload after it" wait_for 10 reload_after $((n + 1))

# ---- an edit seen by inotify ----
n=$(reloads)
replace j200.json job_text 7
check "an edit of j200.json is reloaded" wait_for 10 reload_after "$n"
check "  parsing 1 file" contains "$T/line" \
    "reloaded: $NJOBS jobs, 1 nodes, 0 file(s) with errors, 1 file parsed"
check "  j200's new schedule is in force (July 1st)" next_run_month j200 07

# ---- a rename and a delete ----
n=$(reloads)
mv "$J/j010.json" "$J/k010.json"
rm "$J/j011.json"
check "a rename and a delete are reloaded" wait_for 10 sh -c "
    grep 'reloaded:' '$T/daemon.log' | tail -n +$((n + 1)) |
    grep -q 'reloaded: $((NJOBS - 1)) jobs'"
req GET /jobs/j010
check "  GET /jobs/j010: 404" status_is 404
req GET /jobs/j011
check "  GET /jobs/j011: 404" status_is 404
check "  k010 is there" next_run_month k010 01
n=$(reloads)
req DELETE /jobs/j012
check "DELETE /jobs/j012: 200" status_is 200
reload_after "$n"
check "  its reload parsed nothing" contains "$T/line" \
    "reloaded: $((NJOBS - 2)) jobs, 1 nodes, 0 file(s) with errors, 0 files parsed"
check "  the inotify reload after it" wait_for 10 reload_after $((n + 1))
left=$((NJOBS - 2))

# ---- a file that breaks is kept ----
n=$(reloads)
replace j020.json printf '{"policy": '
check "a broken j020.json is reloaded" wait_for 10 reload_after "$n"
check "  kept with its previous definition, 1 file parsed" contains \
    "$T/line" "reloaded: $left jobs (1 kept with its previous definition: j020.json), 1 nodes, 1 file(s) with errors, 1 file parsed"
check "  j020 still scheduled" next_run_month j020 01
api_daemon_stop

# ---- SIGHUP and SIGUSR2 (inotify held back by a long reload_delay) ----
api_daemon_start --reload-delay 1h
touch -d '2020-01-01 00:00:00' "$J/j030.json" "$J/j031.json"
n=$(reloads)
kill -HUP "$pid"
check "SIGHUP after touching two files reloads" wait_for 10 reload_after "$n"
check "  parsing those 2" contains "$T/line" \
    "1 file(s) with errors, 2 files parsed"
n=$(reloads)
kill -HUP "$pid"
check "SIGHUP with nothing changed" wait_for 10 reload_after "$n"
check "  parses nothing" contains "$T/line" "0 files parsed"
check "  and re-reports no error" sh -c "
    test \$(grep -c 'j020.json: .*file skipped' '$T/daemon.log') -eq 1"
n=$(reloads)
kill -USR2 "$pid"
check "SIGUSR2 reloads" wait_for 10 reload_after "$n"
check "  parsing every file ($left jobs, 1 node)" contains "$T/line" \
    "$((left + 1)) files parsed"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0

daemon_log_report "$T/daemon.log"
finish
