#!/bin/sh
# etcd_client.sh - the etcd v3 client (etcd.h) against a real etcd from
# Debian's etcd-server, through the driver etcdc: a binary value's round
# trip; a create-if-absent txn that wins once, then loses and sees the
# holder's value, revisions increasing; a key on a lease gone after revoke
# and after the lease expires, kept by keepalives; a txn with an expired
# lease failing with "requested lease not found"; a watch that sees
# etcdctl's put and delete; failover from a dead endpoint and with one of
# three members killed; every endpoint dead or silent: an error naming
# them, within the time-out; https with the right CA, a wrong one, and a
# client certificate; logins with the right and a wrong password (which no
# message shows), the token re-made after it expired; a double answering
# HTTP 429 / gRPC code 8 (busy), a malformed answer, one past 16 MiB and
# a watch stream that breaks (opened again from the revision after its
# last event).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"

tmpdir_setup
etcd_require
etcdc=$(find_bin tests/integration/etcdc)

etcd_start 3

# ---- keys, txns ----
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)' \
    >"$T/bin.in"
run "$etcdc" put bin "@$T/bin.in"
check "put answers with a revision" grep -q '^revision [1-9]' "$T/out"
run "$etcdc" getraw bin
check "a binary value comes back byte for byte" cmp -s "$T/out" "$T/bin.in"

run "$etcdc" create lock holder-1
check "create-if-absent wins the first time" grep -q '^won revision' "$T/out"
rev1=$(awk '{print $3}' "$T/out")
run "$etcdc" create lock holder-2
check "the second create loses and sees the holder" \
    grep -q "^lost to holder-1 mod $rev1\$" "$T/out"
run "$etcdc" create lock2 other
rev2=$(awk '{print $3}' "$T/out")
check "a later create has a higher revision ($rev1 < $rev2)" \
    test "$rev1" -lt "${rev2:-0}"

# ---- leases ----
run "$etcdc" grant 5
lease=$(awk '{print $2}' "$T/out")
check "grant gives a lease and its TTL" grep -q '^lease [0-9-]* ttl 5$' "$T/out"
"$etcdc" put leased v "$lease" >/dev/null
run "$etcdc" get leased
check "the key carries its lease" grep -q "^leased=v version 1 lease $lease\$" "$T/out"
run "$etcdc" revoke "$lease"
run "$etcdc" get leased
check "revoking the lease deletes its key" grep -qx none "$T/out"

run "$etcdc" grant 2
short=$(awk '{print $2}' "$T/out")
"$etcdc" put short v "$short" >/dev/null
# kept: 3 s, as two clients start before its first keepalive (an ASan
# build on a busy machine takes up to a second each); 5 s of keepalives
run "$etcdc" grant 3
kept=$(awk '{print $2}' "$T/out")
"$etcdc" put kept v "$kept" >/dev/null
run "$etcdc" -n 10 -i 500 keepalive "$kept"
check "keepalive answers with the TTL each time" \
    test "$(grep -c '^ttl [23]$' "$T/out")" -eq 10
run "$etcdc" get kept
check "keepalives keep the lease's key" grep -q '^kept=v ' "$T/out"
key_gone() { "$etcdc" get short | grep -qx none; }
check "without keepalive the lease expires with its key" wait_for 10 key_gone
run "$etcdc" keepalive "$short"
check "keepalive of an expired lease: not found" \
    grep -q "error: not found: etcd at http://127.0.0.1:[0-9]*: lease $short not found" "$T/err"
run "$etcdc" create fenced v "$short"
check "a txn with an expired lease fails: not found" \
    grep -q 'error: not found: .*requested lease not found' "$T/err"

# ---- watch ----
: >"$T/watch.out"
"$etcdc" watch w/ 2 >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
check "the watch is created" wait_for 10 grep -qx created "$T/watch.out"
# (etcd_write: what the watch must see lands once, even if a busy
# machine's missed heartbeats start an election meanwhile)
check "etcdctl puts a key" etcd_write put w/a 'hello world'
check "and deletes it" etcd_write del w/a
wait_done() { ! kill -0 "$wpid" 2>/dev/null; }
wait_for 10 wait_done || kill "$wpid"
wait "$wpid"
check "the watch sees etcdctl's put" grep -qx 'PUT w/a hello world' "$T/watch.out"
check "then its delete" grep -qx 'DELETE w/a' "$T/watch.out"
# a request started from a watch's callback (where curl refuses a new
# transfer) is started from the loop, and answered
"$etcdc" watchget r/ 1 >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
check "a second watch is created" wait_for 10 grep -qx created "$T/watch.out"
check "etcdctl puts a key under it" etcd_write put r/b bee
wait_for 10 wait_done || kill "$wpid"
wait "$wpid"
rc=$?
cp "$T/watch.out" "$T/out"
cp "$T/watch.err" "$T/err"
check "the watch's callback read the key back" sh -c \
    "test $rc -eq 0 && grep -qx 'read r/b=bee' '$T/watch.out'"

# ---- endpoints ----
dead=http://127.0.0.1:$(free_port)
run "$etcdc" -e "$dead,$(etcd_url 1)" get lock
check "a dead first endpoint: the next one answers" \
    grep -q '^lock=holder-1 ' "$T/out"
# a follower dies (the leader's death stops writes for an election:
# CLUSTER's tests cover that)
leader=$(etcd_leader)
check "a member leads" test -n "$leader"
f=$((leader % 3 + 1))
other=$((f % 3 + 1))
etcd_kill_member "$f"
ok=0
for i in 1 2 3; do
	"$etcdc" -e "$(etcd_url "$f"),$(etcd_url "$leader"),$(etcd_url "$other")" \
	    put "after-kill-$i" v >/dev/null 2>"$T/err" && ok=$((ok + 1))
done
check "with one of three members killed, writes still succeed ($ok of 3)" \
    test "$ok" -eq 3
run "$etcdc" -e "$(etcd_url "$f"),$(etcd_url "$other")" -n 3 -i 100 \
    get after-kill-3
check "and reads, from the live member" \
    test "$(grep -c '^after-kill-3=v ' "$T/out")" -eq 3
etcd_start_member "$f"

# a watch whose member dies goes on from another, from where it was
: >"$T/watch2.out"
"$etcdc" -e "$(etcd_url "$f"),$(etcd_url "$leader"),$(etcd_url "$other")" \
    watch r/ 3 >"$T/watch2.out" 2>"$T/watch2.err" &
wpid=$!
check "a watch on the first endpoint is created" \
    wait_for 10 grep -qx created "$T/watch2.out"
check "etcdctl puts r/a" etcd_write put r/a 1
check "it sees a put" wait_for 10 grep -qx 'PUT r/a 1' "$T/watch2.out"
etcd_kill_member "$f"
put_bc() { etcd_write put r/b 2 && etcd_write put r/c 3; }
check "then r/b and r/c" put_bc
wait_for 10 wait_done || kill "$wpid"
wait "$wpid"
check "after its member was killed the watch sees the next puts" \
    same "$T/watch2.out" "$(printf 'created\nPUT r/a 1\ncreated\nPUT r/b 2\nPUT r/c 3')"
etcd_start_member "$f"

# a listener that never answers, a port nobody listens on
python3 -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
ppid = os.getppid()
while os.getppid() == ppid:
    time.sleep(0.5)' "$T/silent.port" &
wait_for 10 test -s "$T/silent.port"
silent=http://127.0.0.1:$(cat "$T/silent.port")
run timeout 20 "$etcdc" -t 1000 -e "$dead,$silent" get x
check "every endpoint down: an error, not a hang (rc $rc)" test "$rc" -eq 1
check "naming the dead endpoint" \
    grep -q "cannot reach etcd at $dead: " "$T/err"
check "and the silent one, with the time-out" \
    grep -q "no answer from etcd at $silent within 1000 ms" "$T/err"
run timeout 20 "$etcdc" -t 1000 -e "$silent" put x v
check "a write that timed out is not retried: timed out" \
    grep -q "error: timed out: .*may have been applied" "$T/err"

# ---- doubles: busy, malformed ----
cat >"$T/double.py" <<'EOF'
import base64, json, sys
sys.path.insert(0, sys.argv[1])
from http.server import BaseHTTPRequestHandler
from double_serve import Server, serve
def b64(s):
    return base64.b64encode(s.encode()).decode()
class H(BaseHTTPRequestHandler):
    def watch(self, req):
        # a stream that breaks after one event; the next one tells the
        # start_revision it was asked for
        start = req["create_request"].get("start_revision")
        lines = [{"result": {"header": {"revision": "4"}, "created": True}}]
        ev = {"key": b64("r/a"), "mod_revision": "5", "value": b64("1")}
        if start is not None:
            ev = {"key": b64("r/start"), "mod_revision": "9",
                  "value": b64(start)}
        lines.append({"result": {"header": {"revision": "9"},
                                 "events": [{"kv": ev}]}})
        self.send_response(200)
        self.end_headers()
        for l in lines:
            self.wfile.write((json.dumps(l) + "\n").encode())
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        mode = open(sys.argv[3]).read().strip()
        if self.path == "/v3/watch":
            return self.watch(req)
        if mode == "huge":
            data = b"{" + b" " * (17 << 20) + b"}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if mode == "busy":
            code, body = 429, {"error": "etcdserver: too many requests",
                               "message": "etcdserver: too many requests",
                               "code": 8}
        else:
            code, body = 200, {"header": {"revision": "12x"}}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
class A: port_file = sys.argv[2]; tls = None
serve(Server(("127.0.0.1", 0), H), A)
EOF
echo busy >"$T/mode"
python3 "$T/double.py" "$top_srcdir/tests/integration" "$T/double.port" \
    "$T/mode" >/dev/null 2>&1 &
wait_for 10 test -s "$T/double.port"
double=http://127.0.0.1:$(cat "$T/double.port")
run "$etcdc" -e "$double" get x
check "HTTP 429 / gRPC code 8: busy" \
    grep -q "error: busy: etcd at $double: etcdserver: too many requests" "$T/err"
run timeout 20 "$etcdc" -e "$double" watch r/ 2
check "a broken watch stream opens again from the revision after its last event" \
    same "$T/out" "$(printf 'created\nPUT r/a 1\ncreated\nPUT r/start 6')"
echo huge >"$T/mode"
run "$etcdc" -e "$double" get x
check "an answer past 16 MiB: refused with the cap" \
    grep -q "error: size limit reached: etcd at $double: an answer larger than 16777216 bytes" "$T/err"
echo garbage >"$T/mode"
run "$etcdc" -e "$double" get x
check "a malformed answer names the field" \
    grep -q "error: protocol error: etcd at $double: malformed answer: header.revision: not an integer" "$T/err"

# ---- TLS, client certificates, auth ----
etcd_stop_all
ETCD_CLIENT_AUTH=1 etcd_start_tls 1 --auth-token simple --auth-token-ttl 1
tls=$(etcd_url 1)
certs="-C $ETCD_CLIENT_CERT -K $ETCD_CLIENT_KEY"
# shellcheck disable=SC2086 # $certs: two options and their files
run "$etcdc" -e "$tls" -c "$ETCD_CA" $certs put t v
check "https with the right CA and a client certificate" \
    grep -q '^revision ' "$T/out"
# shellcheck disable=SC2086
run "$etcdc" -e "$tls" -c "$ETCD_OTHER_CA" $certs get t
check "a wrong CA: the certificate is not verified" \
    grep -q "cannot verify the TLS certificate of etcd at $tls: " "$T/err"
run "$etcdc" -e "$tls" -c "$ETCD_CA" get t
check "no client certificate where etcd demands one: refused" \
    test "$rc" -eq 1
run "$etcdc" -e "$tls" -c "$ETCD_CA" -C "$ETCD_CLIENT_CERT" get t
check "a certificate without its key: a configuration error" \
    grep -q 'error: configuration error: etcd: a client certificate needs both' "$T/err"

etcd_enable_auth alice 'S3cret-pw-81f'
# shellcheck disable=SC2086
run "$etcdc" -e "$tls" -c "$ETCD_CA" $certs -u alice -p 'S3cret-pw-81f' put a b
check "the right password: the put is done" grep -q '^revision ' "$T/out"
# shellcheck disable=SC2086
run "$etcdc" -e "$tls" -c "$ETCD_CA" $certs -u alice -p 'Wrong-pw-23c' get a
check "a wrong password: authentication failed" \
    grep -q "error: authentication failed: etcd at $tls: authentication failed" "$T/err"
check "the message does not show the password" \
    test -z "$(grep -F 'Wrong-pw-23c' "$T/out" "$T/err")"
# shellcheck disable=SC2086
run "$etcdc" -e "$tls" -c "$ETCD_CA" $certs get a
check "no login where etcd wants one: authentication failed" \
    grep -q "error: authentication failed: " "$T/err"
# the token lives 1 s without use: the second get logs in again
# shellcheck disable=SC2086
run "$etcdc" -e "$tls" -c "$ETCD_CA" $certs -u alice -p 'S3cret-pw-81f' \
    -n 2 -i 2500 get a
check "an expired token: logged in again, both gets answered" \
    test "$(grep -c '^a=b ' "$T/out")" -eq 2

finish
