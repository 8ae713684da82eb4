#!/bin/sh
# syslog.sh - distcrond --syslog: the lines of a run's start and finish reach
# syslog, at facility daemon with the daemon's name and pid, and not stderr.
# syslog(3) writes to /dev/log, so the daemon runs in a mount namespace of its
# own where /dev is a directory of the test's (the real null, zero, random and
# urandom bound in) and /dev/log a datagram socket the test reads.  Needs root
# and unshare(1); skipped otherwise.
. "$top_srcdir/tests/integration/lib.sh"

tmpdir_setup
daemon=$(find_bin distcrond)
[ "$(id -u)" -eq 0 ] || skip "needs root (a private mount namespace)"
command -v unshare >/dev/null || skip "unshare missing"
command -v python3 >/dev/null || skip "python3 missing"
unset DISTCRON_CONFIG DISTCRON_JOBS_DIR DISTCRON_NODES_DIR DISTCRON_STATE_DIR
mkdir -p "$T/dev" "$T/jobs" "$T/nodes"
echo '{"roles": ["r"], "connection_type": "local"}' >"$T/nodes/here.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": ["/bin/echo", "hi"]}' >"$T/jobs/hello.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": "exit 3"}' >"$T/jobs/sad.json"

# The namespace: the listener first (it must bind before /dev is covered),
# then the daemon for three seconds, stopped with SIGTERM.
cat >"$T/ns.sh" <<'EOF'
set -e
mount --make-rprivate /
for d in null zero random urandom; do
	: >"$T/dev/$d"
	mount --bind "/dev/$d" "$T/dev/$d"
done
python3 - "$T/dev/log" "$T/syslog.txt" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 15
with open(sys.argv[2], "w") as out:
    while time.time() < end:
        try:
            out.write(s.recv(65536).decode("utf-8", "replace") + "\n")
            out.flush()
        except socket.timeout:
            pass
PY
listener=$!
n=0
while [ ! -S "$T/dev/log" ] && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
mount --bind "$T/dev" /dev
"$daemon" --config /dev/null --jobs-dir "$T/jobs" --nodes-dir "$T/nodes" \
    --state-dir "$T/state" --listen 127.0.0.1:0 --syslog \
    >"$T/stdout" 2>"$T/stderr" &
pid=$!
echo "$pid" >"$T/pid"
sleep 3
kill -TERM "$pid"
wait "$pid" && echo 0 >"$T/rc" || echo $? >"$T/rc"
kill "$listener"
EOF
T=$T daemon=$daemon unshare -m sh "$T/ns.sh" >"$T/ns.out" 2>&1
check "the namespace ran the daemon" test -s "$T/rc"
[ -s "$T/rc" ] || cat "$T/ns.out"
check "SIGTERM: exit 0" test "$(cat "$T/rc" 2>/dev/null)" = 0
pid=$(cat "$T/pid" 2>/dev/null)
# <30>: facility daemon (3 * 8) + severity info (6); <28>: warning.
check "a run's start reaches syslog at daemon.info" grep -Eq \
    "^<30>.*distcrond\[$pid\]: run [0-9]+ started: job=hello node=here" \
    "$T/syslog.txt"
check "its finish, with the status" grep -Eq \
    "^<30>.*distcrond\[$pid\]: run [0-9]+ finished: job=hello node=here .*status=SUCCESS" \
    "$T/syslog.txt"
check "a failed run's finish, with the exit code" grep -Eq \
    "distcrond\[$pid\]: run [0-9]+ finished: job=sad node=here .*status=FAILURE exit=3" \
    "$T/syslog.txt"
check "the shutdown is logged too" grep -q "distcrond\[$pid\]: .*shutting down" \
    "$T/syslog.txt"
check "nothing goes to stderr" test ! -s "$T/stderr"
check "nor to stdout" test ! -s "$T/stdout"
finish
