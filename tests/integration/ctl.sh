#!/bin/sh
# ctl.sh - the offline commands of distcronctl, run as a user would run them:
# usage and exit statuses, "next" across DST changes, "check" on definition
# directories, and "history" error handling.
. "$top_srcdir/tests/integration/lib.sh"

tmpdir_setup
ctl=$(find_bin distcronctl)
zi=${TZDIR:-/usr/share/zoneinfo}
for z in America/New_York Australia/Lord_Howe UTC; do
	[ -f "$zi/$z" ] || skip "time zone data missing: $zi/$z"
done
# Keep the environment from choosing paths or the zone behind our back.
unset DISTCRON_JOBS_DIR DISTCRON_NODES_DIR DISTCRON_STATE_DIR
TZ=UTC
export TZ

# --- usage -----------------------------------------------------------------

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' \
    "$top_builddir/config.h")
run "$ctl" --version
check "--version exits 0" test "$rc" -eq 0
check "--version prints name and version" same "$T/out" "distcronctl $version"

run "$ctl" --help
check "--help exits 0" test "$rc" -eq 0
for c in check next history trust; do
	check "--help lists $c" grep -q "^  $c  *[a-z]" "$T/out"
done

run "$ctl" frobnicate
check "unknown command exits 2" test "$rc" -eq 2
check "unknown command is named" contains "$T/err" "frobnicate"
check "unknown command points to --help" contains "$T/err" "--help"

run "$ctl"
check "no command exits 2" test "$rc" -eq 2

run "$ctl" --bogus
check "unknown global option exits 2" test "$rc" -eq 2
check "unknown global option is named" contains "$T/err" "bogus"

run "$ctl" next --bogus '* * * * *'
check "unknown next option exits 2" test "$rc" -eq 2
check "unknown next option is named" contains "$T/err" "bogus"

run "$ctl" next --help
check "next --help exits 0" test "$rc" -eq 0
check "next --help shows --interval" contains "$T/out" "--interval"

# --- help CMD: every option of every command, from its option table ----------

# The options each command takes (its own, then --help).
api_opts="url token token-file cacert config json"
cmd_opts() {
	case $1 in
	check) echo "jobs-dir nodes-dir config" ;;
	next) echo "tz from count name interval reference" ;;
	history) echo "state-dir limit json config" ;;
	trust) echo "nodes-dir config check" ;;
	jobs|show|cancel|nodes|pause|resume|delete|cluster) echo "$api_opts" ;;
	run) echo "wait timeout $api_opts" ;;
	runs) echo "job status since limit $api_opts" ;;
	apply) echo "name $api_opts" ;;
	task) echo "node role all timeout wait $api_opts" ;;
	outbox) echo "all $api_opts" ;;
	secret) echo "new-key state-dir $api_opts" ;;
	help) echo "" ;;
	*) return 1 ;;
	esac
}

run "$ctl" help
check "help exits 0" test "$rc" -eq 0
sed -n '/^Commands:$/,/^$/s/^  \([a-z][a-z]*\)  *[a-z].*/\1/p' "$T/out" \
    >"$T/commands"
check "help lists 19 commands" test "$(wc -l <"$T/commands")" -eq 19
while read -r c; do
	run "$ctl" help "$c"
	check "help $c exits 0" test "$rc" -eq 0
	check "help $c starts with its usage" \
	    sh -c 'head -n 1 "$1" | grep -q "^usage: distcronctl $2 "' sh \
	    "$T/out" "$c"
	cp "$T/out" "$T/help.$c"
	opts=$(cmd_opts "$c")
	check "the test knows the options of $c" test "$?" -eq 0
	for o in $opts help; do
		check "help $c lists --$o with its help" grep -Eq \
		    "^  (-[a-zA-Z],|   ) --$o( [A-Z:]+)? +[a-z(]" "$T/out"
	done
	check "help $c lists no other option" test \
	    "$(grep -Ec '^  (-[a-zA-Z],|   ) --[a-z]' "$T/out")" -eq \
	    "$(echo $opts help | wc -w)"
	run "$ctl" "$c" --help
	check "$c --help exits 0" test "$rc" -eq 0
	check "$c --help prints the same as help $c" cmp -s "$T/out" \
	    "$T/help.$c"
done <"$T/commands"
check "help next keeps its notes" contains "$T/help.next" \
    "EXPR is a cron expression"
check "help jobs keeps its columns" contains "$T/help.jobs" "Columns: NAME"
check "help outbox names retry ID and --all" sh -c "
    grep -q 'retry ID|retry --all' '$T/help.outbox' &&
    grep -q 'WHY' '$T/help.outbox'"
check "help jobs keeps the API note" contains "$T/help.jobs" \
    "Without --url/--token: DISTCRON_URL"

run "$ctl" help nosuch
check "help of an unknown command exits 2" test "$rc" -eq 2
check "help of an unknown command names it" same "$T/err" \
    "distcronctl: unknown command 'nosuch'
Try 'distcronctl --help'."

# Usage errors read as they always have (getopt's words, then the hint).
run "$ctl" next --bogus '* * * * *'
check "unknown option: the usage error text" same "$T/err" \
    "distcronctl next: unrecognized option '--bogus'
Try 'distcronctl next --help'."
run "$ctl" history hello -n
check "missing argument of -n exits 2" test "$rc" -eq 2
check "missing argument of -n: the usage error text" same "$T/err" \
    "distcronctl history: option requires an argument -- 'n'
Try 'distcronctl history --help'."
run "$ctl" runs --limit
check "missing argument of --limit exits 2" test "$rc" -eq 2
check "missing argument of --limit: the usage error text" same "$T/err" \
    "distcronctl runs: option '--limit' requires an argument
Try 'distcronctl runs --help'."
run "$ctl" history hello --limit abc
check "--limit abc exits 2" test "$rc" -eq 2
check "--limit abc: the option and the value are named" same "$T/err" \
    "distcronctl: -n: 'abc' is not a number from 1 to 100000
Try 'distcronctl history --help'."
run "$ctl" run hello --wait --timeout soon
check "--timeout soon exits 2" test "$rc" -eq 2
check "--timeout soon: the option and the value are named" contains \
    "$T/err" "distcronctl: run: --timeout: 'soon': "
run "$ctl" task --node a --timeout 0s -- true
check "task --timeout 0s exits 2" test "$rc" -eq 2
check "task --timeout 0s: the option and the value are named" same \
    "$T/err" "distcronctl: task: --timeout: '0s': must be more than 0
Try 'distcronctl task --help'."

# --- next: DST ---------------------------------------------------------------

run "$ctl" next --tz America/New_York --from 2026-03-07T12:00:00 -n 2 \
    '30 2 * * *'
check "New York spring gap: exit 0" test "$rc" -eq 0
check "New York spring gap: 02:30 runs at 03:30 once, then 02:30" \
    same "$T/out" "2026-03-08T03:30:00-04:00
2026-03-09T02:30:00-04:00"

run "$ctl" next --tz America/New_York --from 2026-10-31T12:00:00 -n 3 \
    '30 1 * * *'
check "New York fall fold: 01:30 fires once, at the first occurrence" \
    same "$T/out" "2026-11-01T01:30:00-04:00
2026-11-02T01:30:00-05:00
2026-11-03T01:30:00-05:00"

run "$ctl" next --tz Australia/Lord_Howe --from 2026-10-03T12:00:00 -n 2 \
    '15 2 * * *'
check "Lord Howe 30-minute gap: 02:15 runs at 02:45" \
    same "$T/out" "2026-10-04T02:45:00+11:00
2026-10-05T02:15:00+11:00"

run "$ctl" next --tz Australia/Lord_Howe --from 2026-04-04T12:00:00 -n 2 \
    '45 1 * * *'
check "Lord Howe 30-minute fold: 01:45 fires once" \
    same "$T/out" "2026-04-05T01:45:00+11:00
2026-04-06T01:45:00+10:30"

# --- next: counts, FROM, intervals, hashing --------------------------------

run "$ctl" next --tz UTC --from 2026-01-01T00:00:00 -n 1 '0 0 * * *'
check "fire times are strictly after --from" \
    same "$T/out" "2026-01-02T00:00:00+00:00"

run "$ctl" next --tz UTC --from 2026-01-01T00:00:00Z '0 * * * *'
check "default count is 5" test "$(wc -l <"$T/out")" -eq 5
check "first of the default 5" \
    same "$T/out" "$(printf '2026-01-01T0%d:00:00+00:00\n' 1 2 3 4 5)"

run "$ctl" next --tz UTC -n 7 '*/5 * * * *'
check "-n 7 prints 7 times" test "$(wc -l <"$T/out")" -eq 7
check "without --from the times are increasing and unique" \
    sh -c 'sort -u "$1" | cmp -s - "$1"' sh "$T/out"

run "$ctl" next --tz UTC -n 10000 '* * * * *'
check "-n 10000 is accepted" test "$rc" -eq 0
check "-n 10000 prints 10000 times" test "$(wc -l <"$T/out")" -eq 10000
for n in 0 10001 x; do
	run "$ctl" next --tz UTC -n "$n" '* * * * *'
	check "-n $n is a usage error" test "$rc" -eq 2
	check "-n $n: the value is named" contains "$T/err" "'$n'"
done

run "$ctl" next --tz UTC --from 2026-01-01T00:00:00 '0' '12' '*' '*' '*' -n 1
check "unquoted fields are joined" same "$T/out" "2026-01-01T12:00:00+00:00"

run "$ctl" next --tz UTC --from 2026-01-01T03:00:00 -n 3 \
    --interval 10m --reference 03:10
check "interval aligned to the reference" \
    same "$T/out" "2026-01-01T03:10:00+00:00
2026-01-01T03:20:00+00:00
2026-01-01T03:30:00+00:00"

run "$ctl" next --interval 10m '* * * * *'
check "EXPR and --interval together is a usage error" test "$rc" -eq 2
run "$ctl" next --reference 03:10 '* * * * *'
check "--reference without --interval is a usage error" test "$rc" -eq 2
run "$ctl" next --interval 10m --reference 25:00
check "bad --reference exits 1" test "$rc" -eq 1
check "bad --reference is named" contains "$T/err" "25:00"

run "$ctl" next --tz UTC --from 2026-01-01T00:00:00 -n 3 --name alpha \
    'H H * * *'
cp "$T/out" "$T/alpha1"
run "$ctl" next --tz UTC --from 2026-01-01T00:00:00 -n 3 --name alpha \
    'H H * * *'
check "H with the same --name is stable" cmp -s "$T/alpha1" "$T/out"
check "H fires once a day" sh -c \
    'test "$(cut -c12-19 "$1" | sort -u | wc -l)" -eq 1' sh "$T/out"
run "$ctl" next --tz UTC --from 2026-01-01T00:00:00 -n 3 --name beta \
    'H H * * *'
check "H differs between job names" sh -c '! cmp -s "$1" "$2"' sh \
    "$T/alpha1" "$T/out"

# --- next: errors --------------------------------------------------------------

run "$ctl" next --tz UTC '0 0 32 * *'
check "day-of-month 32 exits 1" test "$rc" -eq 1
check "day-of-month 32: field named" \
    contains "$T/err" "day-of-month: 32 out of range 1-31"
check "day-of-month 32: prefixed" contains "$T/err" "distcronctl: cron: "
run "$ctl" next --tz UTC '61 * * * *'
check "minute 61 exits 1" test "$rc" -eq 1
check "minute 61: field named" contains "$T/err" "minute"
run "$ctl" next --tz UTC '0 0 * 13 *'
check "month 13: field named" contains "$T/err" "month"
run "$ctl" next --tz UTC '0 0 * *'
check "four fields exit 1" test "$rc" -eq 1
check "four fields: nothing on stdout" test ! -s "$T/out"

run "$ctl" next --tz UTC '0 0 31 2 *'
check "31 February exits 1" test "$rc" -eq 1
check "31 February: says it never fires" contains "$T/err" "never"
check "31 February: nothing on stdout" test ! -s "$T/out"

run "$ctl" next --tz Mars/Olympus_Mons '* * * * *'
check "unknown zone exits 1" test "$rc" -eq 1
check "unknown zone is named" contains "$T/err" "Mars/Olympus_Mons"
run "$ctl" next --tz UTC --from yesterday '* * * * *'
check "bad --from exits 1" test "$rc" -eq 1
check "bad --from is named" contains "$T/err" "yesterday"

if [ -w /dev/full ]; then
	"$ctl" next --tz UTC -n 3 '* * * * *' >/dev/full 2>"$T/err"
	rc=$?
	check "a write error exits 1" test "$rc" -eq 1
	check "a write error is reported" contains "$T/err" "write error"
fi

# --- check ---------------------------------------------------------------------

mkdir -p "$T/good/jobs" "$T/good/nodes" "$T/bad/jobs" "$T/bad/nodes"
cat >"$T/good/nodes/local.json" <<'EOF'
{ "roles": ["web"], "connection_type": "local" }
EOF
cat >"$T/good/jobs/hello.json" <<'EOF'
{
    "description": "say hello",
    "policy": { "hosts": "any", "roles": ["web"] },
    "schedule": { "cron": "*/5 * * * *" },
    "command": ["/bin/echo", "hello"]
}
EOF
cat >"$T/good/jobs/tick.json" <<'EOF'
{
    "policy": { "hosts": "all", "roles": ["web"] },
    "schedule": { "interval": "10m", "reference": "03:10" },
    "command": ["/bin/true"]
}
EOF
cp "$T/good/nodes/local.json" "$T/bad/nodes/"
cp "$T/good/jobs/hello.json" "$T/bad/jobs/"
sed 's|\*/5 \* \* \* \*|0 0 32 * *|' "$T/good/jobs/hello.json" \
    >"$T/bad/jobs/broken.json"
echo '{ "schedule": ' >"$T/bad/jobs/truncated.json"

run "$ctl" check --jobs-dir "$T/good/jobs" --nodes-dir "$T/good/nodes"
check "check on good definitions exits 0" test "$rc" -eq 0
check "check on good definitions: summary" \
    same "$T/out" "2 jobs, 1 nodes, 0 errors, 0 warnings"
check "check on good definitions: no diagnostics" test ! -s "$T/err"

run "$ctl" check --jobs-dir "$T/bad/jobs" --nodes-dir "$T/bad/nodes"
check "check with bad files exits 1" test "$rc" -eq 1
check "check: summary counts the good and the bad" \
    same "$T/out" "1 jobs, 1 nodes, 2 errors, 0 warnings"
check "check: bad cron file named with the field" \
    grep -q '^error: .*broken\.json: .*day-of-month' "$T/err"
check "check: truncated JSON file named" \
    grep -q '^error: .*truncated\.json: ' "$T/err"
check "check: the good file is not blamed" sh -c '! grep -q hello "$1"' sh \
    "$T/err"

run env DISTCRON_JOBS_DIR="$T/bad/jobs" DISTCRON_NODES_DIR="$T/bad/nodes" \
    "$ctl" check
check "check reads the directories from the environment" \
    same "$T/out" "1 jobs, 1 nodes, 2 errors, 0 warnings"

cat >"$T/ctl.conf" <<EOF
/* distcron settings */
{
    "jobs_dir": "$T/bad/jobs",  // overridden below
    "nodes_dir": "$T/good/nodes",
    "timezone": "America/New_York"
}
EOF
run env DISTCRON_JOBS_DIR="$T/nowhere" "$ctl" check --config "$T/ctl.conf" \
    --jobs-dir "$T/good/jobs"
check "--config with comments, flags win over it" test "$rc" -eq 0
check "--config: summary" \
    same "$T/out" "2 jobs, 1 nodes, 0 errors, 0 warnings"

run "$ctl" --config "$T/ctl.conf" --jobs-dir "$T/good/jobs" check
check "--config and --jobs-dir before the command" test "$rc" -eq 0
check "options before the command: summary" \
    same "$T/out" "2 jobs, 1 nodes, 0 errors, 0 warnings"
run "$ctl" --jobs-dir "$T/bad/jobs" check --jobs-dir "$T/good/jobs" \
    --config "$T/ctl.conf"
check "an option after the command wins over one before" test "$rc" -eq 0
run "$ctl" --config "$T/ctl.conf" next -n 1 --from 2026-01-01T00:00:00 \
    '0 3 * * *'
check "a global option the command does not use is ignored" \
    same "$T/out" "2026-01-01T03:00:00+00:00"
run "$ctl" -j "$T/good/jobs" check
check "a per-command short option before the command exits 2" \
    test "$rc" -eq 2

# The shipped config names ../jobs.d and ../nodes.d, from its own directory,
# wherever distcronctl runs.
run sh -c 'cd "$1" && "$2" check --config "$3/etc/distcrond.conf"' sh "$T" \
    "$ctl" "$top_srcdir"
check "shipped config: its relative paths are from its directory" \
    grep -q '^[1-9][0-9]* jobs, [1-9][0-9]* nodes, 0 errors, 0 warnings$' \
    "$T/out"
mkdir -p "$T/conf.d"
cat >"$T/conf.d/rel.conf" <<EOF
{ "jobs_dir": "../bad/jobs", "nodes_dir": "../good/nodes" }
EOF
run sh -c 'cd "$1" && "$2" check --config conf.d/rel.conf' sh "$T" "$ctl"
check "relative --config: paths from the file's directory" \
    same "$T/out" "1 jobs, 1 nodes, 2 errors, 0 warnings"
run sh -c 'cd "$1" && "$2" check --config conf.d/rel.conf --jobs-dir good/jobs' \
    sh "$T" "$ctl"
check "a relative --jobs-dir is from the working directory" \
    same "$T/out" "2 jobs, 1 nodes, 0 errors, 0 warnings"

run "$ctl" check --config "$T/missing.conf"
check "missing --config file exits 1" test "$rc" -eq 1
check "missing --config file is named" contains "$T/err" "$T/missing.conf"

run "$ctl" check --jobs-dir "$T/nowhere" --nodes-dir "$T/good/nodes"
check "missing jobs directory exits 1" test "$rc" -eq 1
check "missing jobs directory is named" contains "$T/err" "$T/nowhere"

run "$ctl" check extra
check "check with an argument is a usage error" test "$rc" -eq 2

# --- history -------------------------------------------------------------------

run "$ctl" history hello --state-dir "$T/nostate"
check "history without a store exits 1" test "$rc" -eq 1
check "history without a store names the file" \
    contains "$T/err" "$T/nostate/distcron.db"

run "$ctl" history --state-dir "$T/nostate"
check "history without JOB is a usage error" test "$rc" -eq 2
run "$ctl" history hello -n 0 --state-dir "$T/nostate"
check "history -n 0 is a usage error" test "$rc" -eq 2

# Runs in a store need the daemon to write them: tests/integration/daemon.sh
# covers history end to end.

finish
