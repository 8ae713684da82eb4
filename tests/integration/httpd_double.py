#!/usr/bin/env python3
"""httpd_double.py - a small HTTP(S) server standing in for the endpoints
that distcron's HTTP jobs call, for the tests.

It listens on 127.0.0.1 only, on a free port chosen by the kernel, and writes
that port to --port-file (atomically, once it accepts connections).  With
--tls CERT KEY it speaks HTTPS.  It exits on SIGTERM or SIGINT, and by itself
when its parent goes away, so a crashed test leaves nothing behind.

Routes (any method):
  /status/NNN      replies with status NNN and a short text body
  /echo            replies 200 with JSON: method, path, headers, body
  /slow/SECONDS    sleeps, then replies 200
  /big/BYTES       replies 200 with BYTES bytes: "BEGIN", 'x'..., "END\\n"
  /record/NAME     keeps the request (method, path, headers, body) under
                   NAME and replies 200 (/record/NAME-NNN: status NNN)
  /recorded/NAME   replies 200 with JSON: the requests kept under NAME
"""
import argparse
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler

from double_serve import Server, add_arguments, serve

CHUNK = 65536
NO_BODY = (204, 304)
RECORDED = {}
RECORDED_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httpd_double"

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format, *args):
        pass

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status, body, ctype="text/plain"):
        self.send_response(status)
        if status in NO_BODY:
            self.end_headers()
            return
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route_status(self, arg, body):
        code = int(arg)
        self.reply(code, b"status %d\n" % code)

    def request_doc(self, body):
        return {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
        }

    def route_echo(self, arg, body):
        doc = self.request_doc(body)
        self.reply(200, json.dumps(doc).encode(), "application/json")

    def route_record(self, arg, body):
        name, _, code = arg.partition("-")
        with RECORDED_LOCK:
            RECORDED.setdefault(name, []).append(self.request_doc(body))
        self.reply(int(code or 200), b"recorded\n")

    def route_recorded(self, arg, body):
        with RECORDED_LOCK:
            doc = json.dumps(RECORDED.get(arg, []))
        self.reply(200, doc.encode(), "application/json")

    def route_slow(self, arg, body):
        time.sleep(float(arg))
        self.reply(200, b"slept\n")

    def route_big(self, arg, body):
        n = int(arg)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        data = (b"BEGIN" + b"x" * max(0, n - 9) + b"END\n")[:n]
        for i in range(0, n, CHUNK):
            self.wfile.write(data[i:i + CHUNK])

    def handle_any(self):
        body = self.read_body()
        parts = self.path.split("?")[0].strip("/").split("/")
        fn = getattr(self, "route_" + parts[0], None)
        if fn is None or (len(parts) != 2 and parts[0] != "echo"):
            self.reply(404, b"no such route\n")
            return
        try:
            fn(parts[1] if len(parts) > 1 else "", body)
        except ValueError:
            self.reply(400, b"bad argument\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any
    do_HEAD = do_OPTIONS = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap)
    args = ap.parse_args()
    serve(Server(("127.0.0.1", 0), Handler), args)


if __name__ == "__main__":
    main()
