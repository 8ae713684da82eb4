#!/bin/sh
# ssh_burst.sh - many runs started at once on one SSH node, with the real
# distcrond and OpenSSH servers on 127.0.0.1.  A burst of 60 runs of `true`
# (concurrency allow, node warm) all succeed, ends keep coming (no wait of a
# second between two of them), /health answers and another node's run ends
# while the burst goes on.  An sshd with "MaxStartups 2" refuses the
# connections past two being set up: the burst that needs several
# connections still succeeds in full (set-ups are paced and a refused one is
# tried again).  On a warm node, a burst of short runs keeps the queue
# moving and opens no crowd of new connections, while runs that hold every
# slot do get more connections.  With ssh_max_conns 2, a burst makes do
# with two connections.  Logins use a throwaway user with /bin/sh as login shell, so
# that the start-up files of the account running the tests do not weigh on
# each run.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

api_setup
sshd_require
sshd_keygen_user ed25519
sshd_login_user "dcburst$$" /bin/sh
SSHD_USER=dcburst$$
SSHD_LOGLEVEL=ERROR sshd_start 2			# 1: the burst, 2: another node
SSHD_LOGLEVEL=ERROR SSHD_MAXSTARTUPS=2 sshd_start 1	# 3: MaxStartups 2
sshd_start 1			# 4: logs its logins, for ssh_max_conns
sshd_start 1			# 5: logs its logins, for a warm burst
sshd_known_hosts "$T/kh"
for i in 1 2 3 4 5; do
	sshd_node_json "$i" "$T/kh" >"$N/n$i.json"
	printf '{"policy": {"nodes": ["n%s"]}, "schedule": "@yearly", "concurrency": "allow", "command": ["true"]}' \
	    "$i" >"$J/t$i.json"
done
# n5: one run per connection (and its guard), so every queued run is a
# reason to open another one
sshd_node_json 5 "$T/kh" ', "max_sessions": 2' >"$N/n5.json"
printf '{"policy": {"nodes": ["n5"]}, "schedule": "@yearly", "concurrency": "allow", "command": ["sleep", "1"]}' \
    >"$J/slow5.json"
api_daemon_start

# burst JOB N [OTHER_JOB]: burst.py's JSON in $T/burst.json (60 s at most).
burst() {
	python3 "$top_srcdir/tests/integration/burst.py" "$URL" "$TOKEN" "$1" \
	    "$2" 60 ${3:-} >"$T/burst.json" 2>"$T/err"
	cp "$T/burst.json" "$T/out"
}
# got EXPR: a Python expression over the JSON (bound to b) is true.
got() {
	python3 -c "import json, sys
b = json.load(open('$T/burst.json'))
sys.exit(0 if ($1) else 1)"
}

burst t1 1
check "node 1 warm: one run succeeds" got "b['success'] == 1"

burst t1 60 t2
echo "burst of 60: $(cat "$T/burst.json")"
check "a burst of 60 runs on one node: all end within 30 s" \
    got "b['final'] == 60 and b['last_s'] <= 30"
check "  all of them succeed" got "b['success'] == 60"
check "  ends keep coming: never a second without one" \
    got "b['max_gap_s'] < 1"
check "  /health answers within a second all along" \
    got "b['health_max_s'] is not None and b['health_max_s'] < 1"
check "  a run on another node ends within 5 s meanwhile" \
    got "b['other_s'] is not None and b['other_s'] < 5"

# sshd 3 is held stopped while the burst is posted, so that all 60 runs
# are queued before any connection is ready and the pool opens several at
# once however fast the machine posts; it goes on after a second.
pid3=$(cat "$SSHD_DIR/3/sshd.pid")
kill -STOP "$pid3"
( sleep 1; kill -CONT "$pid3" ) &
cont=$!
burst t3 60
wait "$cont"
echo "MaxStartups 2, burst of 60 from cold: $(cat "$T/burst.json")"
check "sshd with MaxStartups 2: a burst of 60 needing several connections all succeed" \
    got "b['final'] == 60 and b['success'] == 60"
check "  (sshd did refuse connections: the case was exercised)" \
    grep -q "node n3: SSH handshake failed" "$T/daemon.log"

# A warm node taking one run per connection: 60 short runs go through the
# connection that is there, as their queue keeps moving (a few more may open
# if the machine stalls it for a whole set-up, but not one per queued run);
# 20 runs that each hold the slot for a second stall the queue, so more
# connections open.
burst t5 1
burst t5 60
echo "warm node, burst of 60: $(cat "$T/burst.json"), $(sshd_accepted 5) login(s)"
check "warm node: a burst of 60 short runs all succeed" \
    got "b['final'] == 60 and b['success'] == 60"
check "  over 3 connections at most, the warm one included" \
    test "$(sshd_accepted 5)" -le 3
before=$(sshd_accepted 5)
burst slow5 20
check "warm node: 20 runs of sleep 1 all succeed" \
    got "b['final'] == 20 and b['success'] == 20"
check "  on new connections too: they fill every slot of the first" \
    test "$(sshd_accepted 5)" -ge "$((before + 2))"

# ssh_max_conns bounds the connections to one node: 60 runs that would
# open several connections make do with two.
api_daemon_stop
api_daemon_start --ssh-max-conns 2
burst t4 60
echo "ssh_max_conns 2, burst of 60 from cold: $(cat "$T/burst.json")"
check "ssh_max_conns 2: a burst of 60 all succeed" \
    got "b['final'] == 60 and b['success'] == 60"
check "  over two connections at most" test "$(sshd_accepted 4)" -le 2

api_daemon_stop
daemon_log_report "$T/daemon.log"
finish
