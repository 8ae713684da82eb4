#!/bin/sh
# ctl_api.sh - distcronctl's API commands (jobs, show, run, runs, cancel,
# nodes, pause, resume, apply, delete, task) against a server that speaks
# the REST API of include/distcron/api.h: by default the protocol double
# tests/integration/api_double.py.  The assertions hold for any server that
# keeps the contract: to run them against a real distcrond, set
# CTL_API_URL and CTL_API_TOKEN, and CTL_API_NODE to the name of a node
# that is up (default "local").
. "$top_srcdir/tests/integration/lib.sh"

tmpdir_setup
ctl=$(find_bin distcronctl)
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
# Keep the environment from choosing the server behind our back.
unset DISTCRON_URL DISTCRON_TOKEN DISTCRON_CA_FILE DISTCRON_CONFIG \
    DISTCRON_LISTEN DISTCRON_API_TOKEN DISTCRON_STATE_DIR DISTCRON_TLS_CERT
node=${CTL_API_NODE:-local}

# json_ok FILE: FILE holds one JSON document.
json_ok() {
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"
}

# json_get FILE EXPR [ARG]: prints EXPR evaluated on the document as "d"
# (ARG is sys.argv[3]).
json_get() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$@"
}

# lacks FILE STRING: FILE does not contain STRING.
lacks() {
	! grep -F -q -e "$2" "$1"
}

# is_id FILE: FILE is one line holding a run id.
is_id() {
	grep -q '^[1-9][0-9]*$' "$1" && test "$(wc -l <"$1")" -eq 1
}

# api_start: starts the double; sets $url and $token.
api_start() {
	token="t0k-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	python3 "$top_srcdir/tests/integration/api_double.py" \
	    --port-file "$T/port" --token "$token" &
	api_pid=$!
	trap 'kill "$api_pid" 2>/dev/null; rm -rf "$T"' EXIT
	i=0
	while [ ! -s "$T/port" ]; do
		i=$((i + 1))
		[ "$i" -le 100 ] || { echo "api_double did not start"; exit 99; }
		sleep 0.1
	done
	url="http://127.0.0.1:$(cat "$T/port")"
}

if [ -n "${CTL_API_URL:-}" ]; then
	url=$CTL_API_URL
	token=${CTL_API_TOKEN:?CTL_API_URL needs CTL_API_TOKEN}
else
	api_start
fi
DISTCRON_URL=$url
DISTCRON_TOKEN=$token
export DISTCRON_URL DISTCRON_TOKEN

mkdir -p "$T/jobs"
cat >"$T/jobs/ctl-hello.json" <<EOF
{
    "description": "say hello",
    "policy": { "hosts": "any", "nodes": ["$node"] },
    "schedule": { "cron": "*/5 * * * *" },
    "command": ["/bin/echo", "hello"]
}
EOF
cat >"$T/jobs/ctl-fails.json" <<EOF
{
    "policy": { "nodes": ["$node"] },
    "schedule": { "cron": "0 3 * * *" },
    "command": ["/bin/false"]
}
EOF
cat >"$T/jobs/ctl-slow.json" <<EOF
{
    "policy": { "nodes": ["$node"] },
    "schedule": { "cron": "0 4 * * *" },
    "command": ["/bin/sleep", "30"]
}
EOF
cat >"$T/jobs/noschedule.json" <<EOF
{
    "policy": { "nodes": ["$node"] },
    "command": ["/bin/true"]
}
EOF

# --- usage -----------------------------------------------------------------

run "$ctl" --help
for c in jobs show run runs cancel nodes pause resume apply delete task outbox; do
	check "--help lists $c" grep -q "^  $c  *[a-z]" "$T/out"
	run "$ctl" "$c" --help
	check "$c --help exits 0" test "$rc" -eq 0
	check "$c --help shows --url" contains "$T/out" "--url URL"
	run "$ctl" --help
done
check "--help names DISTCRON_URL" contains "$T/out" "DISTCRON_URL"
check "--help names api.token" contains "$T/out" "api.token"

run "$ctl" show
check "show without JOB exits 2" test "$rc" -eq 2
run "$ctl" run
check "run without JOB exits 2" test "$rc" -eq 2
run "$ctl" run ctl-hello --timeout 5s
check "run --timeout without --wait exits 2" test "$rc" -eq 2
run "$ctl" run ctl-hello --wait --timeout soon
check "run --timeout soon exits 2" test "$rc" -eq 2
run "$ctl" cancel abc
check "cancel abc exits 2" test "$rc" -eq 2
run "$ctl" task --node "$node"
check "task without CMD exits 2" test "$rc" -eq 2
run "$ctl" task --node a --role b -- /bin/true
check "task with --node and --role exits 2" test "$rc" -eq 2
run "$ctl" runs -n 0
check "runs -n 0 exits 2" test "$rc" -eq 2
run "$ctl" outbox retry
check "outbox retry without ID or --all exits 2" test "$rc" -eq 2
check "  and says what it needs" contains "$T/err" "retry needs an ID or --all"
run "$ctl" outbox retry 5 --all
check "outbox retry ID --all exits 2" test "$rc" -eq 2
run "$ctl" outbox retry abc
check "outbox retry abc exits 2" test "$rc" -eq 2
check "  and names the value" contains "$T/err" "'abc' is not an outbox entry id"
run "$ctl" outbox resend
check "outbox with an unknown subcommand exits 2" test "$rc" -eq 2
run "$ctl" jobs extra
check "jobs with an argument exits 2" test "$rc" -eq 2
run "$ctl" apply -
check "apply - without --name exits 2" test "$rc" -eq 2

# --- apply -----------------------------------------------------------------

"$ctl" delete ctl-hello >/dev/null 2>&1	# left over on a real daemon
run "$ctl" apply "$T/jobs/ctl-hello.json"
check "apply a new job exits 0" test "$rc" -eq 0
check "apply a new job: created" same "$T/out" "created ctl-hello"
run "$ctl" apply "$T/jobs/ctl-hello.json"
check "apply again exits 0" test "$rc" -eq 0
check "apply again: replaced" same "$T/out" "replaced ctl-hello"
run "$ctl" apply --name ctl-fails - <"$T/jobs/ctl-fails.json"
check "apply from stdin with --name exits 0" test "$rc" -eq 0
check "apply from stdin: the name is --name's" contains "$T/out" "ctl-fails"
run "$ctl" apply --json "$T/jobs/ctl-slow.json"
check "apply --json exits 0" test "$rc" -eq 0
check "apply --json prints JSON" json_ok "$T/out"
check "apply --json: the name" test "$(json_get "$T/out" 'd["name"]')" = \
    ctl-slow

run "$ctl" apply "$T/jobs/noschedule.json"
check "apply of an invalid job exits 1" test "$rc" -eq 1
check "apply of an invalid job: the 422 and its field" \
    grep -q '^distcronctl: 422: schedule: ' "$T/err"
check "apply of an invalid job: nothing on stdout" test ! -s "$T/out"
run "$ctl" apply "$T/jobs/missing.json"
check "apply of a missing file exits 1" test "$rc" -eq 1
check "apply of a missing file names it" contains "$T/err" \
    "$T/jobs/missing.json"

# --- jobs, show --------------------------------------------------------------

run "$ctl" jobs
check "jobs exits 0" test "$rc" -eq 0
check "jobs: header" \
    grep -q '^NAME  *SCHEDULE  *NEXT RUN  *LAST STATUS  *RUNNING  *PAUSED$' \
    "$T/out"
check "jobs: the job's row" grep -q '^ctl-hello  *\*/5 \* \* \* \*  ' "$T/out"
check "jobs: not paused" grep -q '^ctl-hello .* no$' "$T/out"
run "$ctl" jobs --json
check "jobs --json prints JSON" json_ok "$T/out"
check "jobs --json lists the job" test "$(json_get "$T/out" \
    '[j["name"] for j in d["jobs"]].count("ctl-hello")')" -eq 1

# jobs follows the pages of GET /jobs (the double's hold 2 jobs each)
for j in ctl-page-a ctl-page-b ctl-page-c; do
	cp "$T/jobs/ctl-hello.json" "$T/jobs/$j.json"
	run "$ctl" apply "$T/jobs/$j.json"
done
run "$ctl" jobs --json
check "jobs --json follows the pages: every job once" test "$(json_get \
    "$T/out" 'sorted(n for n in (j["name"] for j in d["jobs"]) if n.startswith(("ctl-hello", "ctl-page")))')" = \
    "['ctl-hello', 'ctl-page-a', 'ctl-page-b', 'ctl-page-c']"
run "$ctl" jobs
check "jobs: the last page's job too" grep -q '^ctl-page-c ' "$T/out"
for j in ctl-page-a ctl-page-b ctl-page-c; do
	run "$ctl" delete "$j"
done

run "$ctl" show ctl-hello
check "show exits 0" test "$rc" -eq 0
check "show: name" grep -q '^name: *ctl-hello$' "$T/out"
check "show: paused" grep -q '^paused: *no$' "$T/out"
check "show: definition" contains "$T/out" '"/bin/echo"'
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" --url "$url" \
    --token "$token" show ctl-hello
check "--url and --token before show: exits 0" test "$rc" -eq 0
check "--url and --token before show: the job" \
    grep -q '^name: *ctl-hello$' "$T/out"
run "$ctl" show ctl-hello --json
check "show --json prints JSON" json_ok "$T/out"
check "show --json: definition" test "$(json_get "$T/out" \
    'd["definition"]["command"][1]')" = hello
run "$ctl" show nosuchjob
check "show of an unknown job exits 1" test "$rc" -eq 1
check "show of an unknown job: 404" grep -q '^distcronctl: 404: ' "$T/err"

# --- pause, resume -------------------------------------------------------------

run "$ctl" pause ctl-hello
check "pause exits 0" test "$rc" -eq 0
check "pause says so" same "$T/out" "paused ctl-hello"
run "$ctl" jobs
check "jobs: paused" grep -q '^ctl-hello .* yes$' "$T/out"
run "$ctl" resume ctl-hello --json
check "resume --json exits 0" test "$rc" -eq 0
check "resume --json: paused false" \
    test "$(json_get "$T/out" 'd["paused"]')" = False
run "$ctl" show ctl-hello
check "show: resumed" grep -q '^paused: *no$' "$T/out"
run "$ctl" pause nosuchjob
check "pause of an unknown job exits 1" test "$rc" -eq 1

# --- run ---------------------------------------------------------------------

run "$ctl" run ctl-hello
check "run exits 0" test "$rc" -eq 0
check "run prints the run id" is_id "$T/out"
run "$ctl" run ctl-hello --wait
check "run --wait of a succeeding job exits 0" test "$rc" -eq 0
check "run --wait: SUCCESS" grep -q '^run [0-9]* (ctl-hello): SUCCESS$' \
    "$T/out"
check "run --wait: the node's exit code" \
    grep -q "^  node $node: SUCCESS, exit code 0" "$T/out"
check "run --wait: the output" grep -q '^    hello$' "$T/out"
run "$ctl" run ctl-fails --wait
check "run --wait of a failing job exits 1" test "$rc" -eq 1
check "run --wait: FAILURE" grep -q '^run [0-9]* (ctl-fails): FAILURE$' \
    "$T/out"
check "run --wait: exit code 1" contains "$T/out" "exit code 1"
check "  said once, on the node's line" sh -c "
    test \$(grep -c 'exit code 1' '$T/out') -eq 1 &&
    grep -q '^  node $node: FAILURE, exit code 1\$' '$T/out'"
run "$ctl" run ctl-hello --wait --json
check "run --wait --json exits 0" test "$rc" -eq 0
check "run --wait --json prints the final run" \
    test "$(json_get "$T/out" 'd["status"]')" = SUCCESS
run "$ctl" run nosuchjob
check "run of an unknown job exits 1" test "$rc" -eq 1
check "run of an unknown job: 404" grep -q '^distcronctl: 404: ' "$T/err"
run "$ctl" run nosuchjob --wait
check "run --wait of an unknown job exits 2" test "$rc" -eq 2

run "$ctl" run ctl-slow --wait --timeout 1s
check "run --wait --timeout that passes exits 2" test "$rc" -eq 2
check "run --wait --timeout: says the run goes on" \
    contains "$T/err" "still"

# --- runs, cancel --------------------------------------------------------------

run "$ctl" runs
check "runs exits 0" test "$rc" -eq 0
check "runs: header" grep -q \
    '^ID  *JOB  *STATUS  *TRIGGER  *STARTED  *DURATION  *NODE(S)  *EXIT$' \
    "$T/out"
check "runs: a successful run of ctl-hello" \
    grep -q '^[0-9][0-9]*  *ctl-hello  *SUCCESS ' "$T/out"
run "$ctl" runs --job ctl-fails -n 5
check "runs --job exits 0" test "$rc" -eq 0
check "runs --job: only that job" \
    test "$(awk 'NR > 1 && $2 != "ctl-fails"' "$T/out" | wc -l)" -eq 0
check "runs --job: its failure" grep -q ' ctl-fails  *FAILURE ' "$T/out"
run "$ctl" runs --status SUCCESS --since 1h --json
check "runs --json prints JSON" json_ok "$T/out"
check "runs --status: only that status" test "$(json_get "$T/out" \
    'len([r for r in d["runs"] if r["status"] != "SUCCESS"])')" -eq 0
check "runs --status: some" test "$(json_get "$T/out" 'len(d["runs"])')" \
    -ge 1
run "$ctl" runs -n 1 --json
check "runs -n 1: one run" test "$(json_get "$T/out" 'len(d["runs"])')" \
    -eq 1

run "$ctl" runs --job ctl-slow --json
slow=$(json_get "$T/out" 'd["runs"][0]["id"]')
check "runs --json: the slow run is in progress" test "$(json_get "$T/out" \
    'd["runs"][0]["status"]')" != SUCCESS
run "$ctl" cancel "$slow"
check "cancel of a run in progress exits 0" test "$rc" -eq 0
check "cancel says so" same "$T/out" "cancelling run $slow"

run "$ctl" task --node "$node" --wait --json -- /bin/true
done_id=$(json_get "$T/out" 'd["id"]')
run "$ctl" cancel "$done_id"
check "cancel of a finished run exits 1" test "$rc" -eq 1
check "cancel of a finished run: 409" grep -q '^distcronctl: 409: ' "$T/err"
run "$ctl" cancel 999999999
check "cancel of an unknown run exits 1" test "$rc" -eq 1
check "cancel of an unknown run: 404" grep -q '^distcronctl: 404: ' "$T/err"

# --- task --------------------------------------------------------------------

run "$ctl" task --node "$node" --wait -- /bin/echo hi
check "task --wait exits 0" test "$rc" -eq 0
check "task --wait: SUCCESS" grep -q '^run [0-9]*.*: SUCCESS$' "$T/out"
check "task --wait: the output" grep -q '^    hi$' "$T/out"
run "$ctl" task --node "$node" /bin/echo -n hi
check "task without --: CMD's options are its own" test "$rc" -eq 0
check "task prints the run id" is_id "$T/out"
run "$ctl" task --node "$node" --timeout 10s --wait -- /bin/false
check "task --wait of a failing command exits 1" test "$rc" -eq 1
check "task --wait: FAILURE" grep -q '^run [0-9]*.*: FAILURE$' "$T/out"

# --- nodes -------------------------------------------------------------------

run "$ctl" nodes
check "nodes exits 0" test "$rc" -eq 0
check "nodes: header" grep -q \
    '^NAME  *TYPE  *ROLES  *STATUS  *SINCE  *RUNNING  *LAST ERROR$' "$T/out"
check "nodes: $node is up" grep -q "^$node  *[a-z]*  .* up  " "$T/out"
run "$ctl" nodes --json
check "nodes --json prints JSON" json_ok "$T/out"
check "nodes --json lists $node" test "$(json_get "$T/out" \
    '[n["name"] for n in d["nodes"]].count(sys.argv[3])' "$node")" -eq 1

# --- outbox (the double has two parked entries; a daemon without a sink none)

run "$ctl" outbox --json
check "outbox --json exits 0" test "$rc" -eq 0
check "outbox --json prints the API's JSON" json_ok "$T/out"
nparked=$(json_get "$T/out" 'len(d["parked"])')
first=$(json_get "$T/out" 'd["parked"][0]["id"] if d["parked"] else 0')
run "$ctl" outbox
check "outbox exits 0" test "$rc" -eq 0
if [ "$nparked" -gt 0 ]; then
	check "outbox: header" grep -q \
	    '^ID  *RUN  *JOB  *SINK  *EVENT  *ATTEMPTS  *WHY$' "$T/out"
	check "outbox: one line per parked entry" \
	    test "$(wc -l <"$T/out")" -eq "$((nparked + 1))"
	check "outbox: an entry with its sink's reason" grep -Eq \
	    "^$first +[0-9]+ +[^ ]+ +[^ ]+ +[a-z]+ +[0-9]+ +[^ ]" "$T/out"
	run "$ctl" outbox retry "$first"
	check "outbox retry ID exits 0" test "$rc" -eq 0
	check "outbox retry ID says so" same "$T/out" "re-queued 1 outbox entry"
	run "$ctl" outbox --json
	check "  the entry is no longer parked" test "$(json_get "$T/out" \
	    '[e["id"] for e in d["parked"]].count(int(sys.argv[3]))' \
	    "$first")" -eq 0
	run "$ctl" outbox retry "$first"
	check "outbox retry of an entry not parked exits 1" test "$rc" -eq 1
	check "  with the server's 404" grep -q '^distcronctl: 404: ' "$T/err"
else
	check "outbox with nothing parked says so on stderr" \
	    contains "$T/err" "no parked outbox entries"
fi
run "$ctl" outbox retry 999999999
check "outbox retry of an unknown entry exits 1" test "$rc" -eq 1
check "  with the server's 404" grep -q '^distcronctl: 404: ' "$T/err"
run "$ctl" outbox retry --all
check "outbox retry --all exits 0" test "$rc" -eq 0
check "outbox retry --all says how many" grep -Eq \
    '^re-queued [0-9]+ outbox entr(y|ies)$' "$T/out"
run "$ctl" outbox
check "  then nothing is parked" contains "$T/err" "no parked outbox entries"

# --- delete ------------------------------------------------------------------

for j in ctl-fails ctl-slow; do
	"$ctl" delete "$j" >/dev/null
done
run "$ctl" delete ctl-hello
check "delete exits 0" test "$rc" -eq 0
check "delete says so" same "$T/out" "deleted ctl-hello"
run "$ctl" show ctl-hello
check "a deleted job is gone" test "$rc" -eq 1
run "$ctl" delete ctl-hello
check "delete of an unknown job exits 1" test "$rc" -eq 1
check "delete of an unknown job: 404" grep -q '^distcronctl: 404: ' "$T/err"

# --- finding the API, and errors on the way ---------------------------------

run "$ctl" jobs --token wrong-secret-xyzzy
check "wrong token exits 1" test "$rc" -eq 1
check "wrong token: 401" grep -q '^distcronctl: 401: ' "$T/err"
check "wrong token: not in stderr" lacks "$T/err" "xyzzy"
check "wrong token: not in stdout" lacks "$T/out" "xyzzy"
run env DISTCRON_TOKEN=wrong-secret-xyzzy "$ctl" run ctl-hello --wait
check "wrong token with --wait exits 2" test "$rc" -eq 2
check "wrong token from the environment: not shown" lacks "$T/err" "xyzzy"
run env DISTCRON_TOKEN=wrong-secret-xyzzy "$ctl" jobs --token "$token"
check "--token wins over DISTCRON_TOKEN" test "$rc" -eq 0

# A port nobody listens on: bind one, note it, close it.
dead=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
run "$ctl" jobs --url "http://127.0.0.1:$dead" --token secret-xyzzy
check "unreachable URL exits 1" test "$rc" -eq 1
check "unreachable URL: says so" same "$T/err" \
    "distcronctl: cannot reach distcrond at http://127.0.0.1:$dead: Connection refused"
check "unreachable URL: the token is not shown" lacks "$T/err" "xyzzy"
run "$ctl" jobs --url "ftp://127.0.0.1:$dead"
check "non-HTTP URL exits 1" test "$rc" -eq 1
check "non-HTTP URL: says so" contains "$T/err" "http://"

run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes \
    --url "$url" --token "$token"
check "--url and --token alone are enough" test "$rc" -eq 0
check "--url and --token: the node table" contains "$T/out" "$node"

# From the daemon's config: listen, then STATE_DIR/api.token or api_token.
port=${url##*:}
mkdir -p "$T/state"
printf '%s\n' "$token" >"$T/state/api.token"
cat >"$T/d.conf" <<EOF
// the daemon's settings
{ "listen": "127.0.0.1:$port", "state_dir": "$T/state" }
EOF
chmod 644 "$T/state/api.token"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --config "$T/d.conf"
check "a token file others can read is refused (exit 1)" test "$rc" -eq 1
check "  naming the file and its mode, as the daemon does" contains "$T/err" \
    "distcronctl: api token file $T/state/api.token: mode 0644 is readable by group or others; chmod 600 it"
check "  without the token" lacks "$T/err" "$token"
chmod 640 "$T/state/api.token"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --config "$T/d.conf"
check "  group-readable too (0640)" contains "$T/err" \
    "api token file $T/state/api.token: mode 0640 is readable by group"
chmod 600 "$T/state/api.token"	# it holds a secret
# --token-file FILE: the token from FILE, checked the same way; it wins
# over DISTCRON_TOKEN (a flag over the environment).
printf '%s\n' "$token" >"$T/tok"
chmod 600 "$T/tok"
run env -u DISTCRON_URL DISTCRON_TOKEN=wrong-secret-xyzzy "$ctl" nodes \
    --url "$url" --token-file "$T/tok"
check "--token-file: exits 0" test "$rc" -eq 0
check "--token-file: the node table" contains "$T/out" "$node"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" --token-file "$T/tok" \
    --config "$T/d.conf" nodes
check "--token-file before the command, with the config's listen" \
    test "$rc" -eq 0
chmod 604 "$T/tok"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --url "$url" \
    --token-file "$T/tok"
check "--token-file others can read: refused (exit 1)" test "$rc" -eq 1
check "  naming the file and its mode" contains "$T/err" \
    "distcronctl: api token file $T/tok: mode 0604 is readable by group or others; chmod 600 it"
check "  without the token" lacks "$T/err" "$token"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --url "$url" \
    --token-file "$T/none"
check "--token-file missing: exit 1" test "$rc" -eq 1
check "  naming it" contains "$T/err" "no API token: $T/none: "
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --config "$T/d.conf"
check "config + STATE_DIR/api.token: exits 0" test "$rc" -eq 0
check "config + STATE_DIR/api.token: the node table" contains "$T/out" \
    "$node"
run env -u DISTCRON_URL -u DISTCRON_TOKEN DISTCRON_CONFIG="$T/d.conf" \
    "$ctl" nodes
check "DISTCRON_CONFIG is read too" test "$rc" -eq 0
# Global options go before the command too, as in git and kubectl.
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" --config "$T/d.conf" nodes
check "--config before the command: exits 0" test "$rc" -eq 0
check "--config before the command: the node table" contains "$T/out" \
    "$node"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" --json --config="$T/d.conf" \
    --url "$url" nodes
check "--json --config= --url before the command: JSON" json_ok "$T/out"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" --config "$T/missing.conf" \
    nodes --config "$T/d.conf"
check "--config after the command wins over one before" test "$rc" -eq 0
cat >"$T/w.conf" <<EOF
{ "listen": "0.0.0.0:$port", "state_dir": "$T/nostate",
  "api_token": "$token" }
EOF
chmod 600 "$T/w.conf"	# it holds a secret
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --config "$T/w.conf"
check "config api_token, wildcard listen: exits 0" test "$rc" -eq 0
run env -u DISTCRON_TOKEN "$ctl" nodes --config "$T/d.conf"
check "DISTCRON_URL with the config's token" test "$rc" -eq 0
rm "$T/state/api.token"
run env -u DISTCRON_URL -u DISTCRON_TOKEN "$ctl" nodes --config "$T/d.conf"
check "no token anywhere exits 1" test "$rc" -eq 1
check "no token anywhere: names the token file" \
    contains "$T/err" "$T/state/api.token"

# --- TLS: the server's certificate is verified ------------------------------

if [ -z "${CTL_API_URL:-}" ] && openssl req -x509 -newkey ed25519 -nodes \
    -subj /CN=localhost -days 1 \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1; then
	python3 "$top_srcdir/tests/integration/api_double.py" \
	    --port-file "$T/tlsport" --token "$token" \
	    --tls "$T/cert.pem" "$T/key.pem" &
	tls_pid=$!
	trap 'kill "$api_pid" "$tls_pid" 2>/dev/null; rm -rf "$T"' EXIT
	i=0
	while [ ! -s "$T/tlsport" ] && [ "$i" -le 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	tport=$(cat "$T/tlsport")
	run "$ctl" nodes --url "https://127.0.0.1:$tport"
	check "TLS with an unknown CA exits 1" test "$rc" -eq 1
	check "TLS with an unknown CA: names the server" \
	    contains "$T/err" "https://127.0.0.1:$tport"
	check "TLS with an unknown CA: nothing on stdout" test ! -s "$T/out"
	run "$ctl" nodes --url "https://127.0.0.1:$tport" \
	    --cacert "$T/cert.pem"
	check "TLS with --cacert exits 0" test "$rc" -eq 0
	check "TLS with --cacert: the node table" contains "$T/out" "$node"
	cat >"$T/tls.conf" <<EOF
{ "listen": "127.0.0.1:$tport", "tls_cert": "$T/cert.pem",
  "tls_key": "$T/key.pem", "api_token": "$token" }
EOF
	chmod 600 "$T/tls.conf"
	run env -u DISTCRON_URL -u DISTCRON_TOKEN \
	    DISTCRON_CA_FILE="$T/cert.pem" "$ctl" nodes --config "$T/tls.conf"
	check "tls_cert in the config: https, DISTCRON_CA_FILE" \
	    test "$rc" -eq 0
fi

finish
