#!/bin/sh
# sdnotify.sh - distcrond under a service manager that speaks systemd's
# notify protocol, played by a unix datagram socket of the test's
# (NOTIFY_SOCKET): READY=1 comes once the API answers with every job
# loaded, WATCHDOG=1 keeps coming (WATCHDOG_USEC, for the daemon's own
# WATCHDOG_PID), STOPPING=1 comes at SIGTERM; a NOTIFY_SOCKET that is no
# socket address is logged and the daemon runs on without it.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
for n in a; do
	echo '{"roles": ["r"], "connection_type": "local"}' >"$N/$n.json"
done
echo '{"policy": {"roles": ["r"]}, "schedule": "* * * * * *",
  "command": "true"}' >"$J/tick.json"
echo '{"policy": {"roles": ["r"]}, "schedule": "@every 1h",
  "command": "true"}' >"$J/hourly.json"
PORT=$(free_port)

# The manager: records each message, one line each ("\n" as "|"); at the
# first READY=1 it asks the API for the jobs and records what it got.
python3 - "$T/notify.sock" "$T/notify.txt" "$PORT" "$S/api.token" <<'PY' &
import json, socket, sys, time, urllib.request
sock, out, port, token = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock)
s.settimeout(0.2)
end = time.time() + 40
ready = False
with open(out, "w") as f:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        f.write(msg.replace("\n", "|") + "\n")
        if "READY=1" in msg.split("\n") and not ready:
            ready = True
            try:
                req = urllib.request.Request(
                    "http://127.0.0.1:%s/jobs" % port, headers={
                        "Authorization": "Bearer " +
                        open(token).read().strip()})
                b = json.load(urllib.request.urlopen(req, timeout=5))
                f.write("api 200 %d\n" % len(b["jobs"]))
            except Exception as e:
                f.write("api error %s\n" % e)
        f.flush()
PY
listener=$!
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; kill "$listener" 2>/dev/null;
    rm -rf "$T"' EXIT
wait_for 10 test -S "$T/notify.sock" || skip "the test's socket did not appear"

# sh execs the daemon: WATCHDOG_PID is the daemon's pid, as systemd sets it.
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 sh -c \
    'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"' sh "$daemon" \
    --config /dev/null --jobs-dir "$J" --nodes-dir "$N" --state-dir "$S" \
    --listen "127.0.0.1:$PORT" --shutdown-grace 2s >"$T/daemon.log" 2>&1 &
pid=$!

said() { grep -q -e "$1" "$T/notify.txt" 2>/dev/null; }
check "READY=1 comes" wait_for 10 said '^READY=1|STATUS=scheduling 2 jobs$'
check "  when the API answers with both jobs" wait_for 10 said '^api 200 2$'
check "  once" test "$(grep -c 'READY=1' "$T/notify.txt")" -eq 1
watchdogs() { test "$(grep -c '^WATCHDOG=1$' "$T/notify.txt")" -ge "$1"; }
check "WATCHDOG=1 keeps coming" wait_for 10 watchdogs 4
kill -TERM "$pid"
wait "$pid"
stop_rc=$?
pid=
check "SIGTERM: exit 0" test "$stop_rc" -eq 0
check "STOPPING=1 came, after READY=1" sh -c "sed -n '/READY=1/,\$p' \
    '$T/notify.txt' | grep -q '^STOPPING=1|STATUS=stopping'"
check "the daemon said nothing wrong about it" sh -c \
    "! grep -q 'NOTIFY_SOCKET' '$T/daemon.log'"
cp "$T/notify.txt" "$T/out"

# A NOTIFY_SOCKET that names no socket address: logged, the daemon runs.
NOTIFY_SOCKET=relative/sock
export NOTIFY_SOCKET
check "a bad NOTIFY_SOCKET: the daemon runs" api_daemon_start
unset NOTIFY_SOCKET
check "  and says why it does not notify" grep -q \
    'NOTIFY_SOCKET "relative/sock": expected an absolute path or @name' \
    "$T/daemon.log"
api_daemon_stop
check "  exit 0" test "$stop_rc" -eq 0
finish
