#!/bin/sh
# flood.sh - the API under a connection flood: a slowloris client on
# 127.0.0.2 opens 1,100 connections, each sending a request head slowly
# and never finishing it, while a client on 127.0.0.1 asks GET /health
# several times during the flood and must be answered each time; the
# flooding address keeps at most api_conn_per_ip connections, the others
# are closed by the daemon.  Bounded: 1,100 sockets, about 8 seconds.
. "$top_srcdir/tests/integration/lib.sh"

api_setup

FLOOD=1100
PER_IP=64	# the default of api_conn_per_ip
# the flooder holds FLOOD sockets, the daemon up to its connection limit
ulimit -n 4096 2>/dev/null || [ "$(ulimit -n)" -ge 2400 ] ||
    skip "cannot raise the file-descriptor limit to 4096"

api_daemon_start || exit 1

# Prints "probe N STATUS" for each GET /health from 127.0.0.1 during the
# flood, then "open N" and "closed N": the flooder's connections still
# open at the end and those the daemon closed (or refused).
python3 - "$PORT" "$FLOOD" >"$T/out" 2>"$T/err" <<'PY'
import http.client, select, socket, sys, time

port, count = int(sys.argv[1]), int(sys.argv[2])
head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
socks, refused = [], 0
deadline = time.monotonic() + 20
for i in range(count):
    if time.monotonic() > deadline:
        break
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.send(head)
        socks.append(s)
    except OSError:
        refused += 1
        s.close()

def closed(s):
    """True once the daemon closed s (EOF, reset, or any answer)."""
    p = select.poll()
    p.register(s, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        s.recv(4096)
    except OSError:
        pass
    return True

def probe():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                   source_address=("127.0.0.1", 0))
    try:
        c.request("GET", "/health")
        return c.getresponse().status
    except OSError as e:
        return "error:%s" % type(e).__name__
    finally:
        c.close()

gone = set()
for n in range(4):
    print("probe %d %s" % (n, probe()), flush=True)
    for s in socks:			# one more byte of the head: still alive
        if s in gone:
            continue
        if closed(s):
            gone.add(s)
            continue
        try:
            s.send(b"x")
        except OSError:
            gone.add(s)
    time.sleep(1.5)
still = [s for s in socks if s not in gone and not closed(s)]
print("open %d" % len(still))
print("closed %d" % (count - len(still)))
PY
cat "$T/out"
for n in 0 1 2 3; do
	check "GET /health from 127.0.0.1 answered during the flood ($n)" \
	    grep -qx "probe $n 200" "$T/out"
done
open=$(sed -n 's/^open //p' "$T/out")
closed=$(sed -n 's/^closed //p' "$T/out")
check "the flooding address keeps at most $PER_IP connections" \
    test "${open:-9999}" -le "$PER_IP"
check "the daemon closed the flooder's other connections" \
    test "${closed:-0}" -ge $((FLOOD - PER_IP))
check "GET /health answers after the flood" \
    python3 -c "import urllib.request as u, sys; sys.exit(u.urlopen('http://127.0.0.1:$PORT/health', timeout=5).status != 200)"
check "the daemon is still running" kill -0 "$pid"
check "no warning about TLS on a loopback address" \
    sh -c "! grep -q 'not a loopback address' '$T/daemon.log'"
daemon_log_report "$T/daemon.log"
kill -TERM "$pid"
wait "$pid"

# On every address (reached only through 127.0.0.1 here) and without TLS,
# the daemon warns that tokens cross the network in clear text.
"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --state-dir "$S" --listen 0.0.0.0:0 >"$T/wide.log" 2>&1 &
pid=$!
check "listening on 0.0.0.0 without TLS: a warning at start" \
    wait_for 10 grep -q 'warn: API listening on 0.0.0.0:0, not a loopback address, without TLS' \
    "$T/wide.log"
finish
