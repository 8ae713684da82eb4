#!/usr/bin/env python3
"""etcd_proxy.py - a protocol double in front of a real etcd's JSON gateway
that can be switched to answer errors, for the tests of how distcrond
behaves when etcd is overloaded.

    etcd_proxy.py --port-file F --upstream http://127.0.0.1:P \
        --mode-file M --log L

Every request (POST /v3/...) is appended to L as one line, "TIME MODE
PATH" (TIME in UNIX seconds), before it is answered.  The mode is the first word of M, read at each
request (no M, or an empty one: pass):

  pass      the request goes to the upstream etcd; its answer comes back
            as it arrives (a watch streams)
  429       HTTP 429 with the gateway's body for gRPC ResourceExhausted
            ("etcdserver: too many requests", code 8)
  grpc8     the same error body with HTTP 503, as some gateways map it

It listens on 127.0.0.1 on a port the kernel picks (written to F), and
exits on SIGTERM or when the test goes away (double_serve.py).
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from double_serve import Server, add_arguments, serve

ARGS = None
LOG_LOCK = threading.Lock()
TOO_MANY = json.dumps({"error": "etcdserver: too many requests",
                       "message": "etcdserver: too many requests",
                       "code": 8}).encode()


def mode():
    try:
        with open(ARGS.mode_file) as f:
            words = f.read().split()
    except OSError:
        return "pass"
    return words[0] if words else "pass"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "etcd_proxy"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        m = mode()
        with LOG_LOCK, open(ARGS.log, "a") as f:
            f.write("%.3f %s %s\n" % (time.time(), m, self.path))
        if m == "pass":
            self.forward(body)
            return
        self.send_response(429 if m == "429" else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(TOO_MANY)))
        self.end_headers()
        self.wfile.write(TOO_MANY)

    def forward(self, body):
        up = urllib.parse.urlsplit(ARGS.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "authorization")}
        try:
            conn.request("POST", self.path, body, headers)
            resp = conn.getresponse()
        except OSError:
            self.send_error(502)
            return
        self.send_response(resp.status)
        self.send_header("Content-Type",
                         resp.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()
        self.close_connection = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    add_arguments(ap)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--log", required=True)
    ARGS = ap.parse_args()
    serve(Server(("127.0.0.1", 0), Handler), ARGS)


if __name__ == "__main__":
    main()
