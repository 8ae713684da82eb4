#!/bin/sh
# ui.sh - the web dashboard in a real browser: Debian's chromium, headless,
# driven by playwright-core (tests/ui/ui.mjs) against a daemon started here
# with the example jobs, a slow job, one that prints, sleeps and prints
# again (its output watched live), a quick one run often enough to page
# the runs view, one with more output than it keeps,
# one whose output and description are HTML, and one whose failure report
# is parked.  Sign-in (wrong, full and read-only tokens), the jobs, a run
# watched live to its end, pause and resume, output shown as text and no
# script run from data, keyboard navigation, the CSP; the cluster view on
# a two-member cluster whose job files differ, when etcd is installed.  Screenshots of each
# view go to $top_builddir/tests/ui-screenshots/.  Skips without node,
# chromium or tests/ui/node_modules (scripts/deps.sh installs them), but
# fails under CI=true.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
ui_missing() {
	[ "${CI:-}" = true ] && { echo "FAIL: $* (CI=true: the browser test must run)"; exit 1; }
	skip "$*"
}
command -v node >/dev/null || ui_missing "node missing (apt-get install nodejs npm)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || ui_missing "$chromium missing (apt-get install chromium)"
[ -d "$top_srcdir/tests/ui/node_modules/playwright-core" ] ||
    ui_missing "playwright-core missing: (cd tests/ui && npm ci)"

cp "$top_srcdir"/jobs.d/*.json "$J/"
cp "$top_srcdir/nodes.d/local.json" "$N/"
cat >"$J/slow.json" <<'X'
{"description": "Takes two seconds.", "policy": {"hosts": "any", "roles": ["local"]},
 "schedule": {"cron": "0 0 1 1 *"}, "command": "sleep 2; echo slow run done"}
X
cat >"$J/live.json" <<'X'
{"description": "Prints a line, then another 3 s later.", "policy": {"hosts": "any", "roles": ["local"]},
 "schedule": {"cron": "0 0 1 1 *"}, "max_runs": 5, "command": "echo first; sleep 3; echo second"}
X
cat >"$J/quick.json" <<'X'
{"policy": {"hosts": "any", "roles": ["local"]}, "schedule": {"cron": "0 0 1 1 *"},
 "concurrency": "allow", "command": ["true"]}
X
cat >"$J/xss.json" <<'X'
{"description": "<img src=x onerror=alert(2)> & \"quoted\" <b>bold</b>",
 "policy": {"hosts": "any", "roles": ["local"]},
 "schedule": {"cron": "0 0 1 1 *"}, "command": "echo '<script>alert(1)</script>'"}
X
cat >"$J/big.json" <<'X'
{"description": "More output than it may keep.", "policy": {"hosts": "any", "roles": ["local"]},
 "schedule": {"cron": "0 0 1 1 *"}, "command": ["seq", "1", "5000"], "output_limit": "1k"}
X
READ=read-only-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
api_daemon_start --api-read-token "$READ"
# A failure report its webhook refuses (the API itself, 401): parked in the
# outbox, for the outbox view's retry button.
cat >"$J/notified.json" <<X
{"policy": {"hosts": "any", "roles": ["local"]}, "schedule": {"cron": "0 0 1 1 *"},
 "command": "exit 3", "notify": {"on": ["failure"],
 "webhook": {"url": "http://127.0.0.1:$PORT/no-such-hook"}}}
X
parked() { req GET /outbox && body "len(b['parked']) >= 1"; }
check "the job with a refused webhook is loaded" wait_for 10 sh -c \
    "curl -sf -H 'Authorization: Bearer $TOKEN' $URL/jobs/notified >/dev/null"
req POST /jobs/notified/run
check "  its failure report is parked" wait_for 20 parked

shots=$top_builddir/tests/ui-screenshots
run env CHROMIUM="$chromium" \
    node "$top_srcdir/tests/ui/ui.mjs" "$URL" "$TOKEN" "$READ" "$shots"
cat "$T/out"
[ -s "$T/err" ] && sed 's/^/  | /' "$T/err" | head -20
check "the browser checks ran" grep -q '^ok - ' "$T/out"
check "every browser check passed (node exit 0)" test "$rc" -eq 0
check "  and none printed FAIL" sh -c "! grep -q '^FAIL' '$T/out'"
echo "screenshots: $shots"
shots_made() {
	for _v in "$@"; do test -s "$shots/$_v.png" || return 1; done
}
check "a screenshot of each view" shots_made signin jobs job run run-live runs nodes \
    outbox job-read-only
# ---- the cluster view, on a two-member cluster (when etcd is installed) ----
if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
	. "$top_srcdir/tests/integration/etcd_lib.sh"
	. "$top_srcdir/tests/integration/cluster_lib.sh"
	etcd_require
	chain_exit cluster_kill_all
	etcd_start 1
	cluster_start 1
	# m2 has a job file m1 lacks: a mismatch the view must warn about.
	printf '{"policy": {"hosts": "any", "roles": ["local"]}, "schedule": "0 3 * * *", "command": ["true"]}\n' \
	    >"$J/extra.json"
	cluster_start 2
	check "a two-member cluster is up" wait_for 20 cluster_all_see 2
	cluster_use 1
	run env CHROMIUM="$chromium" node "$top_srcdir/tests/ui/cluster.mjs" \
	    "$URL" "$TOKEN" "$shots"
	cat "$T/out"
	[ -s "$T/err" ] && sed 's/^/  | /' "$T/err" | head -20
	check "the browser checks of the cluster view passed" test "$rc" -eq 0
	check "  a screenshot of it" shots_made cluster
else
	echo "# etcd or etcdctl missing: the cluster view is not checked"
fi
check "no token in the daemon's log" sh -c "! grep -qF -e '$TOKEN' -e '$READ' '$T/daemon.log'"
daemon_log_report "$T/daemon.log"
finish
