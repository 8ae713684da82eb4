#!/bin/sh
# upgrade.sh - a state directory of an earlier release keeps its history:
# the daemon of the day starts on the store of tests/fixtures/state-v5
# (made by tests/fixtures/make_state.sh with the daemon of schema 5),
# migrates it if its schema is older, and every recorded run is still
# there with its status, exit code and output (and no cluster member or
# fence, which schema 7 added), offline (distcronctl
# history) and through the API (distcronctl runs); the jobs, which had
# used up their max_runs, do not run again.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
F=$top_srcdir/tests/fixtures/state-v5
mkdir -p "$S"
cp "$F/state/distcron.db" "$S/distcron.db"
chmod 600 "$S/distcron.db"
cp "$F/jobs/"*.json "$J/"
cp "$F/nodes/"*.json "$N/"
old=$(sqlite3 "$S/distcron.db" 'PRAGMA user_version')

api_daemon_start --timezone UTC
check "the daemon starts on the schema $old store" test -n "$PORT"
check "  without an error" sh -c "! grep -q ' error: ' '$T/daemon.log'"
new=$(sqlite3 "$S/distcron.db" 'PRAGMA user_version')
check "  its schema is the current one (from $old: $new)" test "$new" -ge "$old"

history hello
check "distcronctl history reads the 3 runs of hello" \
    py "len(h) == 3 and all(r['status'] == 'SUCCESS' for r in h)"
check "  each with its output" py \
    "all(r['items'][0]['output'] == 'hello, run %d\n' % r['id'] for r in h)"
check "  and no cluster member or fence (schema 7 added them)" py \
    "all('member' not in r and 'fence' not in r for r in h)"
history fails
check "... and the 2 failures of fails" \
    py "len(h) == 2 and all(r['status'] == 'FAILURE' for r in h)"
check "  exit code 3 and stderr kept" py \
    "all(r['items'][0]['exit_code'] == 3 and r['items'][0]['stderr'] == 'out of luck\n' for r in h)"

run env DISTCRON_TOKEN="$TOKEN" "$ctl" --json runs --job hello --url "$URL"
check "distcronctl runs (through the API) lists them" test "$rc" -eq 0
python3 -c "import json
json.dump(json.load(open('$T/out'))['runs'], open('$T/h.json', 'w'))"
check "  all 3, with their status" \
    py "len(h) == 3 and all(r['status'] == 'SUCCESS' for r in h)"

sleep 2		# two ticks of the every-second jobs
history hello
check "jobs that had used up max_runs do not run again" py "len(h) == 3"
api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
finish
