# lib.sh - helpers shared by the integration tests (POSIX sh; source it).
#
#   . "$top_srcdir/tests/integration/lib.sh"
#   tmpdir_setup                  # $T: a temp dir removed on exit
#   daemon_setup                  # tmpdir_setup, and what a daemon test needs
#   prog=$(find_bin distcronctl)  # or skip (exit 77) if not built
#   run "$prog" --version         # stdout in $T/out, stderr in $T/err, status in $rc
#   check "--version exits 0" test "$rc" -eq 0
#   check "--version names it" contains "$T/out" "distcronctl"
#   wait_for 10 CMD ARGS          # retries CMD every 0.2 s for up to 10 s
#   finish                        # "N passed, N failed"; exit 1 on failure
#   api_setup; api_daemon_start   # a daemon with its API: $URL, $TOKEN
#   req GET /jobs; body "b['jobs']"   # curl with the token; the JSON answer
#   metric NAME                   # the daemon's /metrics value of NAME
#   free_port                     # a loopback TCP port free a moment ago
#   run_lines_keyed LOG           # each run line has job=, run=, node=
#
# make check provides top_srcdir and top_builddir (see Makefile.am).

: "${top_builddir:?top_builddir is not set: run the test through make check}"
: "${top_srcdir:?top_srcdir is not set: run the test through make check}"

npass=0
nfail=0
T=

# skip REASON: the whole test is skipped (automake's exit status 77).
skip() {
	echo "SKIP: $*"
	exit 77
}

# The values of the secrets tests set (distcronctl secret set) carry
# SECRET_MARK: no log may ever hold one.  tmpdir_remove checks the logs
# a test leaves in $T, scripts/test the suite's own logs.
SECRET_MARK=dcSecretMark-7f3a
# lacks_mark FILE: FILE holds no secret value.
lacks_mark() { ! grep -qF -e "$SECRET_MARK" "$1"; }
# secret_keys FILE...: a random secrets key (64 hex digits) in each FILE,
# mode 0600; skips the test without openssl.
secret_keys() {
	command -v openssl >/dev/null || skip "openssl missing"
	for _f in "$@"; do
		openssl rand -hex 32 >"$_f" && chmod 600 "$_f" || exit 99
	done
}
# sha TEXT: the SHA-256 of TEXT in hex (a job prints its secret's so).
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# tmpdir_remove: removes $T (the EXIT traps' end), after failing the test
# when a log in it (*.log, or a captured stderr "err") holds a secret's
# value; the lines go to $top_builddir/secret-leaks.log too.
tmpdir_remove() {
	_leaks=$(grep -rlF -e "$SECRET_MARK" --include='*.log' --include=err \
	    "$T" 2>/dev/null)
	if [ -n "$_leaks" ]; then
		echo "FAIL - a secret's value is in a log: $_leaks"
		grep -rhF -e "$SECRET_MARK" $_leaks | tee -a \
		    "$top_builddir/secret-leaks.log" | head -5
		rm -rf "$T"
		exit 1
	fi
	rm -rf "$T"
}

# tmpdir_setup: creates $T and removes it however the script ends.
tmpdir_setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/distcron-test.XXXXXX") || exit 99
	trap tmpdir_remove EXIT
	trap 'exit 130' HUP INT TERM
}

# daemon_setup: tmpdir_setup for a test of the real daemon: $daemon and $ctl
# (or skip), python3 (or skip), no DISTCRON_* paths from the environment,
# $J, $N and $S (jobs, nodes, state) under $T, the first two created, and
# $pid (the daemon's) empty.
daemon_setup() {
	tmpdir_setup
	daemon=$(find_bin distcrond)
	ctl=$(find_bin distcronctl)
	command -v python3 >/dev/null || skip "python3 missing"
	unset DISTCRON_CONFIG DISTCRON_JOBS_DIR DISTCRON_NODES_DIR DISTCRON_STATE_DIR
	J=$T/jobs N=$T/nodes S=$T/state
	mkdir -p "$J" "$N"
	pid=
}

# daemon_log_report LOG: once a check has failed, shows the warnings and
# errors in the daemon's LOG, and its sanitizer reports.
daemon_log_report() {
	[ "$nfail" -gt 0 ] || return 0
	echo "--- ${1##*/} (warnings and errors):"
	grep -E ' (warn|error): ' "$1" | tail -40
	echo "--- ${1##*/} (sanitizer reports):"
	sed -n '/Sanitizer/,$p' "$1" | head -60
}

# api_setup: daemon_setup for a test of the daemon's API (curl, or skip);
# the daemon ($pid) is killed however the script ends.
api_setup() {
	daemon_setup
	command -v curl >/dev/null || skip "curl missing"
	unset DISTCRON_URL DISTCRON_TOKEN
	trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; tmpdir_remove' EXIT
}

# api_daemon_start [ARG...]: starts the daemon on $J, $N, $S with the API on a
# free loopback port and waits for it: $pid, $PORT, $URL and $TOKEN (the
# generated full token).  The log is $T/daemon.log.  The config file is
# $API_CONFIG if set, else none.
api_daemon_start() {
	: >"$T/daemon.log"
	"$daemon" --config "${API_CONFIG:-/dev/null}" --jobs-dir "$J" --nodes-dir "$N" \
	    --state-dir "$S" --listen 127.0.0.1:0 --shutdown-grace 2s \
	    --reload-delay 100ms --log-level debug "$@" >>"$T/daemon.log" 2>&1 &
	pid=$!
	if ! wait_for 10 grep -q 'API listening' "$T/daemon.log"; then
		cat "$T/daemon.log"
		return 1
	fi
	PORT=$(log_api_port "$T/daemon.log")
	URL=http://127.0.0.1:$PORT
	TOKEN=$(cat "$S/api.token")
}

# api_daemon_stop: SIGTERM and wait; $stop_rc gets the daemon's status.
api_daemon_stop() {
	kill -TERM "$pid"
	wait "$pid"
	stop_rc=$?
	pid=
}

# req METHOD PATH [BODY-FILE] [CURL-ARGS...]: with the token; status in
# $code, body in $T/body.
req() {
	_m=$1 _p=$2
	shift 2
	_data=
	if [ $# -gt 0 ] && [ -f "$1" ]; then
		_data=$1
		shift
	fi
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$_m" \
	    -H "Authorization: Bearer $TOKEN" ${_data:+--data-binary @"$_data"} \
	    "$@" "$URL$_p")
}

# noauth METHOD PATH [CURL-ARGS...]
noauth() {
	_m=$1 _p=$2
	shift 2
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$_m" "$@" "$URL$_p")
}

# body EXPR: a Python expression over the JSON answer (bound to b).
body() {
	python3 -c "
import json, sys
b = json.load(open('$T/body'))
sys.exit(0 if ($1) else 1)" 2>/dev/null
}

status_is() { test "$code" = "$1"; }

# metric NAME: the value of the daemon's /metrics line starting with NAME.
metric() {
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" |
	    sed -n "s/^$1 \([0-9.]*\)$/\1/p"
}
metric_at_least() { test "$(metric "$1")" -ge "$2" 2>/dev/null; }

# log_api_port LOG: the API port of the daemon's last "API listening" line
# in LOG.
log_api_port() {
	sed -n 's/.*API listening on .* (port \([0-9]*\)[,)].*/\1/p' "$1" |
	    tail -n 1
}

# free_port [LO HI]: a TCP port on 127.0.0.1 that was free a moment ago
# (for a server started later, or a peer nothing listens on), from LO up
# to HI (excluded).  By default it is taken below the kernel's ephemeral
# range, so no outgoing connection can be given it meanwhile: a client
# retrying a port nobody listens on may otherwise connect to itself (TCP
# simultaneous open) and hold the port, and the server started later
# cannot bind it.  Within one test (one $T) a port is never handed out
# twice, as servers started together (an etcd cluster's members) would
# otherwise take the same one now and then.
free_port() {
	python3 -c 'import os, random, socket, sys
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
a, b = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else \
    (10000, max(lo, 10001))
given = sys.argv[1] + "/.ports_given" if sys.argv[1] else None
seen = set(open(given).read().split()) if given and os.path.exists(given) \
    else set()
for _ in range(200):
    p = random.randrange(a, b)
    if str(p) in seen:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    if given:
        open(given, "a").write("%d\n" % p)
    print(p)
    break
else:
    raise SystemExit("no free port in [%d, %d)" % (a, b))' "${T:-}" "$@"
}

# copy_tree DIR: the source tree as git tracks it (or, outside a git
# checkout, all of it but build-*/ and .git) copied into DIR (made).
copy_tree() {
	mkdir -p "$1"
	if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1
	then
		git -C "$top_srcdir" ls-files -z |
		    (cd "$top_srcdir" && xargs -0 tar -cf -) | tar -xf - -C "$1"
	else
		tar -cf - -C "$top_srcdir" --exclude='./build-*' \
		    --exclude=./.git . | tar -xf - -C "$1"
	fi
}

# runjob JOB: runs JOB now and waits; the run in $T/body ($rid).
runjob() {
	req POST "/jobs/$1/run"
	rid=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
	wait_for 10 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $URL/runs/$rid >'$T/body' && grep -q -e SUCCESS -e FAILURE '$T/body'"
}

# secret_set_wait NAME VALUE JOB: sets the secret NAME to VALUE through
# distcronctl (the API at $URL, $TOKEN), then waits until the daemon has
# loaded JOB (refused while NAME was missing); GET /jobs/JOB in $T/body.
secret_set_wait() {
	printf '%s' "$2" | "$ctl" secret set "$1" --url "$URL" --token "$TOKEN" \
	    >/dev/null 2>"$T/err"
	wait_for 10 sh -c "curl -sf -H 'Authorization: Bearer $TOKEN' $URL/jobs/$3 >/dev/null"
	req GET "/jobs/$3"
}

# history JOB: the daemon's recorded runs of JOB ($S), as JSON in $T/h.json.
history() {
	"$ctl" history "$1" --state-dir "$S" -n 1000 --json >"$T/h.json" 2>"$T/err"
}

# py EXPR: succeeds when the Python expression EXPR is true over $T/h.json:
# h the runs, final those that ended (SUCCESS or FAILURE), ts(ISO) seconds.
py() {
	python3 -c "
import json, sys
from datetime import datetime
ts = lambda s: datetime.fromisoformat(s).timestamp()
h = json.load(open('$T/h.json'))
final = [r for r in h if r['status'] in ('SUCCESS', 'FAILURE')]
sys.exit(0 if ($1) else 1)"
}

# finals_at_least JOB N: JOB has ended at least N runs.
finals_at_least() { history "$1" && py "len(final) >= $2"; }

# run_lines_keyed LOG...: every line of the daemon's LOGs that names a run
# ("run 12 started: ...", "store: NOT SAVED: run 12 ...") carries job=, run=
# and node= fields, so that a search for them finds it; the lines that do
# not are in $T/out (shown by check), and there must be some run lines.
run_lines_keyed() {
	grep -hE ' run [0-9]+' "$@" >"$T/runlines"
	awk '!/ job=[^ ]/ || !/ run=[0-9]/ || !/ node=[^ ]/' "$T/runlines" \
	    >"$T/out"
	test -s "$T/runlines" && test ! -s "$T/out"
}

# find_bin NAME: prints the path of a built program, or skips the test.
find_bin() {
	[ -x "$top_builddir/$1" ] || skip "$1 not built in $top_builddir"
	echo "$top_builddir/$1"
}

# run CMD [ARG...]: runs a command, capturing stdout in $T/out, stderr in
# $T/err and the exit status in $rc.
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# contains FILE STRING: true if FILE contains STRING (fixed string).
contains() {
	grep -F -q -e "$2" "$1"
}

# same FILE TEXT: true if FILE holds exactly TEXT (plus a final newline).
same() {
	printf '%s\n' "$2" | cmp -s - "$1"
}

# check DESCRIPTION CMD [ARG...]: one assertion; passes if CMD succeeds.
# On failure, shows the last run's output to help the reader.
check() {
	_desc=$1
	shift
	if "$@"; then
		npass=$((npass + 1))
		echo "ok - $_desc"
		return 0
	fi
	nfail=$((nfail + 1))
	echo "FAIL - $_desc (rc=${rc:-unset})"
	if [ -n "$T" ]; then
		for _f in "$T/out" "$T/err"; do
			[ -f "$_f" ] || continue
			echo "  --- ${_f##*/}:"
			head -n 20 "$_f" | sed 's/^/  | /'
		done
	fi
	return 1
}

# wait_for SECONDS CMD...: retries CMD every 0.2 s until it succeeds.
wait_for() {
	_n=$(($1 * 5))
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		_n=$((_n - 1))
	done
	return 1
}

# finish: prints the totals and exits non-zero if any check failed.
finish() {
	echo "$npass passed, $nfail failed"
	[ "$nfail" -eq 0 ] || exit 1
	exit 0
}

# chain_exit CMD: runs CMD on exit before the EXIT trap already set
# (tmpdir_setup's removal of $T), keeping it.
chain_exit() {
	trap >"$T/.traps"
	_prev=$(sed -n 's/^trap -- \(.*\) EXIT$/\1/p' "$T/.traps")
	rm -f "$T/.traps"
	eval "trap -- \"$1; \"${_prev:-''} EXIT"
}
