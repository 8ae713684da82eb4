#!/bin/sh
# ui.sh - the web dashboard in a real browser: Debian's chromium, headless,
# driven by playwright-core (tests/ui/ui.mjs) against a daemon started here
# with the example jobs, a slow job, one with more output than it keeps,
# and one whose output and description are HTML.  Sign-in (wrong, full and read-only tokens), the jobs, a run
# watched live to its end, pause and resume, output shown as text and no
# script run from data, keyboard navigation, the CSP.  Screenshots of each
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
check "a screenshot of each view" shots_made signin jobs job run runs nodes \
    outbox job-read-only
check "no token in the daemon's log" sh -c "! grep -qF -e '$TOKEN' -e '$READ' '$T/daemon.log'"
daemon_log_report "$T/daemon.log"
finish
