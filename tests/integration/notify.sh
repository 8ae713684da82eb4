#!/bin/sh
# notify.sh - notifications and statsd through the real daemon: a failing
# job's e-mail (exact subject, the output's tail), webhook JSON and Slack
# text; the mail retried through an SMTP server that is down at first; the
# owners' email_address getting failure mail for a job without "notify"
# (whose webhook is the config's default); a job failing every second
# coalesced into a few messages that count what they stand for, then one
# recovery; statsd datagrams; failed deliveries explained in the daemon's
# log, which holds no password (SMTP, header value, URL).  Then, with a
# wrong SMTP password: a start message; a forbid job's skipped ticks told as
# missed, coalesced with their count; the refused login parked (distcronctl
# outbox), not retried; a run killed by kill -9 told as a failure (LOST)
# after the restart.  The peers
# are real and on loopback: Debian's aiosmtpd (smtp_server.py, run with
# /usr/bin/python3 where the package installs), the HTTP double's
# /record/NAME, a UDP socket.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
PY3=python3
[ -x /usr/bin/python3 ] && PY3=/usr/bin/python3
$PY3 -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd missing"
SMTP_SECRET=smtp-PW-4e1f
HOOK_SECRET=hook-TOKEN-9c2a
URL_SECRET=url-PW-77d0
smtppid=

python3 "$top_srcdir/tests/integration/httpd_double.py" \
    --port-file "$T/http.port" >/dev/null 2>&1 &
hpid=$!
# the statsd collector: each datagram appended to statsd.out
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(0.5)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
ppid = os.getppid()
with open(sys.argv[2], "a") as f:
    while os.getppid() == ppid:
        try:
            f.write(s.recv(65536).decode() + "\n")
            f.flush()
        except socket.timeout:
            pass
' "$T/statsd.port" "$T/statsd.out" &
upid=$!
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
kill $hpid $upid $smtppid 2>/dev/null; rm -rf "$T"' EXIT
wait_for 10 test -s "$T/http.port" || exit 99
wait_for 10 test -s "$T/statsd.port" || exit 99
H=http://127.0.0.1:$(cat "$T/http.port")
SP=$(free_port) || exit 99

cat >"$T/distcrond.conf" <<EOF
{
  "smtp": {"url": "smtp://127.0.0.1:$SP", "from": "cron@example.org",
           "username": "u", "password": "$SMTP_SECRET"},
  "notify": {"webhook": {"url": "$H/record/default"}},
  "notify_min_interval": "3s",
  "statsd": {"host": "127.0.0.1", "port": $(cat "$T/statsd.port")}
}
EOF
chmod 600 "$T/distcrond.conf"	# it holds a secret

# seen CODE: Python statements, the last an expression that must be true,
# over what the peers received: mails (each
# with subject, to, body, auth), hook(NAME) (the JSON bodies POSTed to
# /record/NAME, each with its request under "_req"), runs(JOB) (the job's
# FAILURE count), and dgrams (the statsd lines).
seen() {
	for _j in bad flap; do
		"$ctl" history "$_j" --state-dir "$S" -n 1000 --json \
		    >"$T/h_$_j.json" 2>/dev/null || echo '[]' >"$T/h_$_j.json"
	done
	python3 - "$T" "$H" "$1" <<'PY'
import ast, email, json, os, re, sys, urllib.request
t, h, expr = sys.argv[1:]
mails = []
if os.path.exists(t + "/mail.out"):
    for line in open(t + "/mail.out"):
        r = json.loads(line)
        m = email.message_from_string(r["data"])
        mails.append({"subject": m["Subject"], "to": r["to"], "auth": r["auth"],
                      "body": m.get_payload(decode=True).decode()
                      .replace("\r\n", "\n")})
def hook(name):
    reqs = json.load(urllib.request.urlopen(h + "/recorded/" + name))
    return [dict(json.loads(q["body"]), _req=q) for q in reqs]
def runs(job):
    h = json.load(open("%s/h_%s.json" % (t, job)))
    return len([r for r in h if r["status"] == "FAILURE"])
def count(m):	# the runs one mail stands for
    g = re.search(r"^(\d+) \w+ since", m["body"], re.M)
    return int(g.group(1)) if g else 1
dgrams = (open(t + "/statsd.out").read().split("\n")
          if os.path.exists(t + "/statsd.out") else [])
code = ast.parse(expr.strip())		# statements, then the condition
cond = ast.Expression(code.body.pop().value)
exec(compile(code, "seen", "exec"))
sys.exit(0 if eval(compile(cond, "seen", "eval")) else 1)
PY
}

echo '{"roles": ["r"], "connection_type": "local"}' >"$N/local.json"
cat >"$J/bad.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": "echo first-line; echo tail-of-bad; exit 3",
 "notify": {"email": ["dev@example.com"],
            "webhook": {"url": "$H/record/hook",
                        "headers": {"X-Token": "$HOOK_SECRET"}},
            "slack": {"url": "$H/record/slack"}}}
EOF
cat >"$J/owned.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
 "owners": [{"name": "Ops", "email_address": "ops@example.com"}],
 "command": "exit 4"}
EOF
# a webhook that keeps answering 503, with credentials in its URL
cat >"$J/hookdown.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": "exit 5", "notify": {"webhook":
 {"url": "http://hookuser:$URL_SECRET@${H#http://}/record/down-503"}}}
EOF

# ---- a failure while the mail server is down ----
api_daemon_start --config "$T/distcrond.conf" || exit 99
check "the webhook hears of the failure" wait_for 15 seen "len(hook('hook')) == 1"
check "  with the report, event failure, and the configured header" seen "
b = hook('hook')[0]
(b['event'] == 'failure' and b['job'] == 'bad' and b['status'] == 'FAILURE'
 and 'tail-of-bad' in b['items'][0]['output']
 and ['X-Token', '$HOOK_SECRET'] in b['_req']['headers'])"
check "Slack hears of it: status, job, node, exit code, output" seen "
s = hook('slack')
(len(s) == 1 and s[0]['text'].startswith('*FAILURE* bad on local (exit 3)')
 and 'tail-of-bad' in s[0]['text'])"
check "the mail is retried while the server is down" \
    wait_for 15 metric_at_least 'distcron_outbox_retried_total{sink="email"}' 1
check "  nothing was received" test ! -e "$T/mail.out"
check "  the log says why, naming the mail server" \
    grep -q "warn: outbox: email: .*127\.0\.0\.1:$SP" "$T/daemon.log"
check "a webhook answering 503: the log names it without its credentials" \
    wait_for 10 grep -q "warn: outbox: webhook: .*http://127\.0\.0\.1:[0-9]*/record/down-503: HTTP 503" "$T/daemon.log"
$PY3 "$top_srcdir/tests/integration/smtp_server.py" --port "$SP" \
    --port-file "$T/smtp.port" --out "$T/mail.out" \
    --auth u "$SMTP_SECRET" >"$T/smtp.log" 2>&1 &
smtppid=$!
wait_for 10 test -s "$T/smtp.port" || { cat "$T/smtp.log"; exit 99; }
check "once the server is up, the mails arrive" \
    wait_for 30 seen "len(mails) >= 2"
check "  and the outbox has none left" wait_for 10 \
    test "$(metric 'distcron_outbox_depth{sink="email"}')" = 0
check "one mail for the failing job, with the exact subject, logged in" seen "
m = [m for m in mails if ' bad ' in m['subject']]
(len(m) == 1 and m[0]['subject'] == '[distcron] FAILURE bad on local (exit 3)'
 and m[0]['to'] == ['dev@example.com'] and m[0]['auth'] == 'u')"
check "  its body: exit code, node and the output's tail" seen "
b = [m for m in mails if ' bad ' in m['subject']][0]['body']
('Exit code: 3' in b and 'Node:      local' in b
 and 'first-line\ntail-of-bad\n' in b)"
check "a job without notify: its owners get the failure mail" seen "
([m['subject'] for m in mails if m['to'] == ['ops@example.com']] ==
 ['[distcron] FAILURE owned on local (exit 4)'])"
check "  and the config's default webhook the report" wait_for 10 seen "
[(b['job'], b['event']) for b in hook('default')] == [('owned', 'failure')]"

# ---- a burst of failures, coalesced; then the recovery ----
cat >"$J/flap.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
 "command": "echo flapping; exit 1",
 "notify": {"email": ["dev@example.com"], "webhook": {"url": "$H/record/flap"}}}
EOF
check "the flapping job fails every second" wait_for 20 finals_at_least flap 6
sed 's/exit 1/exit 0/' "$J/flap.json" >"$T/flap.json"
mv "$T/flap.json" "$J/flap.json"
# every failure and the recovery are in exactly one message each channel
check "every failure and the recovery told, on both channels" wait_for 30 seen "
n = runs('flap') + 1
(sum(b.get('coalesced', {}).get('count', 1) for b in hook('flap')) == n and
 sum(count(m) for m in mails if ' flap ' in m['subject']) == n)"
check "  in fewer webhook messages than failures, not one per run" seen "
(len(hook('flap')) < runs('flap') and
 any(b['event'] == 'failure' and b.get('coalesced', {}).get('count', 0) >= 2
     for b in hook('flap')))"
check "  and fewer mails, one saying how many failures it stands for" seen "
m = [m for m in mails if ' flap ' in m['subject']]
(len(m) < runs('flap') and
 any(re.search(r'^\d+ failures since \d\d:\d\d:\d\d UTC; latest:',
               x['body'], re.M) for x in m))"
check "one recovery message on each channel" seen "
s = [m['subject'] for m in mails if ' flap ' in m['subject']]
([b['event'] for b in hook('flap')].count('recovery') == 1 and
 [x.startswith('[distcron] SUCCESS flap on local') for x in s].count(True)
 == 1)"
sleep 4		# past notify_min_interval: successes tell nobody
check "  and no message for the successes after it" seen "
([b['event'] for b in hook('flap')][-1] == 'recovery' and
 sum(b.get('coalesced', {}).get('count', 1) for b in hook('flap')) ==
 runs('flap') + 1)"

# ---- statsd, secrets ----
check "statsd: failures counted" seen "'distcron.runs.failure:1|c' in dgrams"
check "statsd: durations timed" seen "
any(re.fullmatch(r'distcron\.run\.duration:\d+\|ms', d) for d in dgrams)"
check "statsd: the outbox's depth per sink as a gauge" seen "
any(re.fullmatch(r'distcron\.outbox\.email\.depth:\d+\|g', d) for d in dgrams)"
api_daemon_stop
check "exit 0" test "$stop_rc" -eq 0
check "no password in the log (SMTP, webhook header value, URL)" sh -c "! grep -F -q \
    -e '$SMTP_SECRET' -e '$HOOK_SECRET' -e '$URL_SECRET' '$T/daemon.log'"
daemon_log_report "$T/daemon.log"

# ---- start, missed, a run LOST to kill -9, a refused SMTP password ----
# The same mail server, asked with a wrong password: it answers 535.
rm -f "$J"/*.json
cat >"$T/badpw.conf" <<EOF
{
  "smtp": {"url": "smtp://127.0.0.1:$SP", "from": "cron@example.org",
           "username": "u", "password": "wrong-$SMTP_SECRET"},
  "notify_min_interval": "3s"
}
EOF
chmod 600 "$T/badpw.conf"
cat >"$J/started.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": "true", "notify": {"on": ["start"],
 "webhook": {"url": "$H/record/start"}}}
EOF
cat >"$J/busy.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
 "concurrency": "forbid", "command": "sleep 3",
 "notify": {"on": ["missed"], "webhook": {"url": "$H/record/missed"}}}
EOF
cat >"$J/long.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": "sleep 60", "notify": {"webhook": {"url": "$H/record/lost"}}}
EOF
cat >"$J/mailbad.json" <<EOF
{"policy": {"roles": ["r"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": "exit 6", "notify": {"email": ["dev@example.com"]}}
EOF
api_daemon_start --config "$T/badpw.conf" || exit 99
check "on: start: one message at launch, with the node and trigger" \
    wait_for 15 seen "
s = hook('start')
(len(s) == 1 and s[0]['event'] == 'start' and s[0]['job'] == 'started'
 and s[0]['status'] == 'STARTED' and s[0]['trigger'] == 'schedule'
 and s[0]['nodes'] == ['local'])"
check "a forbid job's skipped ticks: missed, coalesced with a count" \
    wait_for 20 seen "
m = hook('missed')
(len(m) >= 2 and all(b['event'] == 'missed' and b['job'] == 'busy'
                     for b in m)
 and any(b.get('coalesced', {}).get('count', 1) >= 2 for b in m))"
check "  the message says which tick and why it did not start" seen "
b = hook('missed')[0]
(b['status'] == 'MISSED' and 'concurrency: forbid' in b['missed']['reason']
 and b['missed']['tick'].startswith(b['scheduled_at'][:10]))"
req POST /jobs/busy/pause
check "  the job paused" status_is 200
sleep 5		# its run ends, the interval passes: every missed tick told
check "  every skipped tick counted once, none while paused" seen "
n = open('$T/daemon.log').read().count('job busy: tick ')
sum(b.get('coalesced', {}).get('count', 1) for b in hook('missed')) == n > 0"
check "a refused SMTP password parks the mail" \
    wait_for 20 metric_at_least 'distcron_outbox_parked{sink="email"}' 1
run "$ctl" outbox --url "$URL" --token "$TOKEN"
check "  distcronctl outbox shows why, naming the server, not the password" \
    sh -c "[ $rc -eq 0 ] && grep -q 'mailbad' '$T/out' &&
    grep -q '127\.0\.0\.1:$SP' '$T/out' && grep -qi 'refused' '$T/out' &&
    ! grep -q -e '$SMTP_SECRET' '$T/out'"
check "  not retried" \
    test "$(metric 'distcron_outbox_retried_total{sink="email"}')" = 0
check "the long job is running" wait_for 10 sh -c "
    '$ctl' history long --state-dir '$S' | grep -q STARTED"
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
api_daemon_start --config "$T/badpw.conf" || exit 99
check "a run LOST to kill -9: its failure told after the restart" \
    wait_for 15 seen "
b = hook('lost')
len(b) == 1 and b[0]['event'] == 'failure' and b[0]['status'] == 'LOST'"
check "the daemon runs other jobs meanwhile" wait_for 10 sh -c "
    '$ctl' history started --state-dir '$S' -n 5 | grep -q SUCCESS"
api_daemon_stop
check "exit 0" test "$stop_rc" -eq 0
check "no password in the log" \
    sh -c "! grep -F -q -e '$SMTP_SECRET' '$T/daemon.log'"
daemon_log_report "$T/daemon.log"
finish
