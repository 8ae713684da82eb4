#!/usr/bin/env python3
"""es_double.py - an Elasticsearch protocol double for the tests (no
Elasticsearch server can be installed on the test machines).

It speaks the documented REST API as far as distcron uses it, over HTTP/1.1
with keep-alive (HTTPS with --tls CERT KEY), on 127.0.0.1 and a free port
written to --port-file:

  POST /_bulk, POST /INDEX/_bulk
      NDJSON (Content-Type application/x-ndjson or application/json, body
      optionally gzipped with Content-Encoding: gzip).  Every line must be
      valid UTF-8 and valid JSON, actions (index, create, update, delete)
      followed by their document; a body that breaks this is answered 400
      and recorded as a violation.  The answer is the documented bulk
      response: took, errors, and one item per action with _index, _id,
      _version, result ("created", or "updated" for an _id already stored),
      status, or status and error {type, reason}.  Documents are kept by
      _id.
  PUT /_index_template/NAME, PUT /_template/NAME
      checked (index_patterns a list of strings; the composable body's
      mappings under "template", the legacy one's at the top) and kept.
  GET /  the cluster's banner.

With --no-composable it lacks the composable template API, as servers
before Elasticsearch 7.8 do (the mode's "no_composable" does it at run
time).

Authentication, when set with the mode (basic "user:password" or an API
key), is checked on every request but the double's own: 401 and a
security_exception otherwise.

Control (never authenticated):
  POST /_double/mode   JSON merged into the mode:
      "status": N, "status_count": K    answer the next K (all if absent)
                                        _bulk requests with HTTP N
      "fail_ids": {"ID": N}             these items fail with status N
      "fail_every": K, "fail_status": N every Kth item fails with N
      "stall": S, "stall_count": K      wait S seconds before answering
      "cut": K                          the next K _bulk requests are
                                        processed, then the answer is cut
                                        half way and the connection closed
      "refuse_for": S                   stop listening for S seconds
                                        (open connections are closed)
      "no_composable": N                /_index_template answers N (404)
      "gzip_status": N                  gzipped requests answered N (415)
      "basic": "user:pw", "api_key": K  credentials required
  POST /_double/reset  empties docs, templates, requests and the mode
  GET /_double/docs    {"docs": {ID: {"_index", "_version", "_source"}},
                        "templates": {"composable"|"legacy": {NAME: body}},
                        "requests": [{method, path, content_type,
                                      content_encoding, client_port,
                                      authorization}],
                        "violations": [text], "bulk_lines": N}
"""
import argparse
import base64
import gzip
import json
import os
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler

from double_serve import Server, add_arguments, watch_parent, write_port

ARGS = None
LOCK = threading.Lock()
STATE = {}
CONNS = set()
REFUSE = threading.Event()
ERRORS = {
    400: ("mapper_parsing_exception", "failed to parse field [exit_code] "
          "of type [long] in document"),
    403: ("security_exception", "action [indices:data/write/bulk[s]] is "
          "unauthorized"),
    404: ("index_not_found_exception", "no such index"),
    429: ("es_rejected_execution_exception", "rejected execution of "
          "coordinating operation"),
    503: ("unavailable_shards_exception", "primary shard is not active"),
}


def reset():
    STATE.clear()
    STATE.update(docs={}, templates={"composable": {}, "legacy": {}},
                 requests=[], violations=[], bulk_lines=0, mode={},
                 items_seen=0)


def es_error(etype, reason, status):
    return {"error": {"root_cause": [{"type": etype, "reason": reason}],
                      "type": etype, "reason": reason}, "status": status}


def take(mode, key, count_key):
    """The mode's value for key, counting down count_key if set."""
    if key not in mode:
        return None
    value = mode[key]
    if count_key in mode:
        mode[count_key] -= 1
        if mode[count_key] <= 0:
            del mode[key], mode[count_key]
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "es_double"

    def setup(self):
        super().setup()
        with LOCK:
            CONNS.add(self.connection)

    def finish(self):
        with LOCK:
            CONNS.discard(self.connection)
        super().finish()

    def log_message(self, format, *args):
        pass

    def reply(self, status, doc, cut=False):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="security"')
        self.end_headers()
        if cut:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as e:
                with LOCK:
                    STATE["violations"].append("gzip body: %s" % e)
                raw = b""
        return raw

    def record(self):
        STATE["requests"].append({
            "method": self.command, "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "client_port": self.client_address[1],
            "authorization": self.headers.get("Authorization")})

    def authorized(self):
        mode = STATE["mode"]
        got = self.headers.get("Authorization") or ""
        if "basic" in mode:
            want = base64.b64encode(mode["basic"].encode()).decode()
            return got == "Basic " + want
        if "api_key" in mode:
            return got == "ApiKey " + mode["api_key"]
        return True

    def do_GET(self):
        if self.path == "/_double/docs":
            with LOCK:
                doc = {k: STATE[k] for k in ("docs", "templates",
                       "requests", "violations", "bulk_lines")}
                return self.reply(200, doc)
        self.api(b"")

    def do_POST(self):
        raw = self.body()
        if self.path == "/_double/mode":
            mode = json.loads(raw)
            with LOCK:
                STATE["mode"].update(mode)
            if "refuse_for" in mode:	# closed before the answer
                refuse_all(self.server, self.connection)
                self.close_connection = True
                REFUSE.set()
            return self.reply(200, {"acknowledged": True})
        if self.path == "/_double/reset":
            with LOCK:
                reset()
            return self.reply(200, {"acknowledged": True})
        self.api(raw)

    def do_PUT(self):
        self.api(self.body())

    def api(self, raw):
        with LOCK:
            self.record()
            mode = STATE["mode"]
            if not self.authorized():
                return self.reply(401, es_error(
                    "security_exception", "unable to authenticate user",
                    401))
            enc = (self.headers.get("Content-Encoding") or "").lower()
            if enc == "gzip" and "gzip_status" in mode:
                st = mode["gzip_status"]
                return self.reply(st, es_error(
                    "illegal_argument_exception",
                    "Content-Encoding [gzip] is not supported", st))
            stall = take(mode, "stall", "stall_count")
        if stall:
            time.sleep(stall)
        path = self.path.split("?")[0]
        if path == "/" and self.command == "GET":
            return self.reply(200, {"name": "es_double", "version": {
                "number": "8.11.0"}, "tagline": "You Know, for Search"})
        if path.startswith("/_index_template/") or \
                path.startswith("/_template/"):
            return self.template(path, raw)
        if path.endswith("/_bulk") and self.command == "POST":
            return self.bulk(raw)
        self.reply(404, es_error("resource_not_found_exception",
                                 "no handler for " + path, 404))

    def template(self, path, raw):
        legacy = path.startswith("/_template/")
        name = path.rsplit("/", 1)[1]
        with LOCK:
            if not legacy and ("no_composable" in STATE["mode"] or
                               ARGS.no_composable):
                st = STATE["mode"].get("no_composable", 404)
                return self.reply(st, es_error(
                    "invalid_index_name_exception",
                    "Invalid index name [_index_template]", st))
            try:
                body = json.loads(raw.decode("utf-8"))
                assert isinstance(body["index_patterns"], list)
                assert all(isinstance(p, str) for p in
                           body["index_patterns"])
                mappings = body["mappings"] if legacy else \
                    body["template"]["mappings"]
                assert isinstance(mappings["properties"], dict)
            except (ValueError, KeyError, TypeError, AssertionError) as e:
                STATE["violations"].append("template %s: %r" % (path, e))
                return self.reply(400, es_error(
                    "x_content_parse_exception", "bad template", 400))
            STATE["templates"]["legacy" if legacy else "composable"][
                name] = body
        self.reply(200, {"acknowledged": True})

    def bulk(self, raw):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        with LOCK:
            if ctype not in ("application/x-ndjson", "application/json"):
                STATE["violations"].append("bulk content type %r" % ctype)
                return self.reply(406, es_error(
                    "media_type_header_exception", "bad content type",
                    406))
            try:
                pairs = parse_bulk(raw)
            except ValueError as e:
                STATE["violations"].append("bulk: %s" % e)
                return self.reply(400, es_error(
                    "illegal_argument_exception", str(e), 400))
            mode = STATE["mode"]
            st = take(mode, "status", "status_count")
            if st:
                etype, reason = ERRORS.get(st, ("exception", "failure"))
                return self.reply(st, es_error(etype, reason, st))
            items = [self.item(a, d) for a, d in pairs]
            cut = mode.get("cut", 0) > 0
            if cut:
                mode["cut"] -= 1
        errors = any("error" in list(i.values())[0] for i in items)
        self.reply(200, {"took": 3, "errors": errors, "items": items},
                   cut=cut)

    def item(self, action, doc):
        """One action's item; called with LOCK held."""
        (op, meta), = action.items()
        _id = meta.get("_id")
        index = meta.get("_index")
        STATE["items_seen"] += 1
        mode = STATE["mode"]
        status = mode.get("fail_ids", {}).get(_id)
        every = mode.get("fail_every")
        if status is None and every and STATE["items_seen"] % every == 0:
            status = mode.get("fail_status", 429)
        if status:
            etype, reason = ERRORS.get(status, ("exception", "failure"))
            return {op: {"_index": index, "_id": _id, "status": status,
                         "error": {"type": etype, "reason": reason}}}
        old = STATE["docs"].get(_id)
        version = old["_version"] + 1 if old else 1
        STATE["docs"][_id] = {"_index": index, "_version": version,
                              "_source": doc}
        return {op: {"_index": index, "_id": _id, "_version": version,
                     "result": "updated" if old else "created",
                     "status": 200 if old else 201,
                     "_shards": {"total": 1, "successful": 1,
                                 "failed": 0}}}


def parse_bulk(raw):
    """The (action, document) pairs of an NDJSON body; ValueError says
    which line breaks the format."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("body is not valid UTF-8: %s" % e)
    if not text.endswith("\n"):
        raise ValueError("the bulk request must be terminated by a newline")
    lines = text[:-1].split("\n")
    pairs, i = [], 0
    while i < len(lines):
        try:
            action = json.loads(lines[i])
        except ValueError as e:
            raise ValueError("line %d: %s" % (i + 1, e))
        if not isinstance(action, dict) or len(action) != 1:
            raise ValueError("line %d: malformed action" % (i + 1))
        (op, meta), = action.items()
        if op not in ("index", "create", "update", "delete") or \
                not isinstance(meta, dict):
            raise ValueError("line %d: unknown action %r" % (i + 1, op))
        if op == "delete":
            pairs.append((action, None))
            i += 1
            continue
        if i + 1 >= len(lines):
            raise ValueError("line %d: action without a document" % (i + 1))
        try:
            doc = json.loads(lines[i + 1])
        except ValueError as e:
            raise ValueError("line %d: %s" % (i + 2, e))
        if not isinstance(doc, dict):
            raise ValueError("line %d: the document is no object" % (i + 2))
        pairs.append((action, doc))
        i += 2
    STATE["bulk_lines"] += len(lines)
    return pairs


def refuse_all(server, keep):
    """Stops listening and closes every open connection but keep."""
    server.shutdown()
    server.server_close()
    with LOCK:
        for c in list(CONNS):
            if c is keep:
                continue
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_server(port, tls):
    """The listener on 127.0.0.1:port (0: a free one), with TLS when tls
    names a certificate and its key (--tls CERT KEY)."""
    server = Server(("127.0.0.1", port), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    return server


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    add_arguments(ap)
    ap.add_argument("--no-composable", action="store_true",
                    help="lack the composable template API (404), as "
                    "servers before Elasticsearch 7.8")
    ARGS = args = ap.parse_args()
    reset()
    threading.Thread(target=watch_parent, daemon=True).start()
    server = make_server(0, args.tls)
    port = server.server_address[1]
    write_port(args.port_file, port)
    while True:
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        REFUSE.wait()
        REFUSE.clear()
        with LOCK:
            pause = STATE["mode"].pop("refuse_for")
        time.sleep(pause)
        server = make_server(port, args.tls)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    os._exit(0)
