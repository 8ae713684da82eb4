#!/usr/bin/env python3
"""api_double.py - an in-memory stand-in for distcrond's REST API
(include/distcron/api.h), for testing distcronctl without the daemon.

It listens on 127.0.0.1 only, on a free port chosen by the kernel, and writes
that port to --port-file (atomically, once it accepts connections).  With
--tls CERT KEY it speaks HTTPS.  Every
endpoint but GET /health needs "Authorization: Bearer TOKEN" (--token).  It
exits on SIGTERM or SIGINT, and by itself when its parent goes away.

What it models, in memory:
  jobs   PUT validates a little (a JSON object with "schedule", "command" or
         "http"); 422 {"error", "field"} otherwise.  GET /jobs pages with
         limit and after like the daemon, but a page holds at most
         JOBS_PAGE (2) jobs whatever the limit, so that clients are seen
         to follow "next_after".
  runs   a run is STARTED when created and final after 0.3 s: FAILURE with
         exit code 1 when the command is "false", SUCCESS with exit code 0
         otherwise; "echo ARGS" outputs ARGS; "sleep N" takes N seconds.
         Cancelling a run in progress makes it FAILURE ("cancelled"); a final
         one answers 409.
  nodes  two fixed nodes: "local" (local, roles local and web, up) and
         "web1" (ssh, role web, down).  Policy "any" takes the first up
         node that matches, "all" every match.
  outbox two parked entries (ids 7 and 8, sink "webhook"); POST
         /outbox/retry {"id": N} or {"all": true} takes them off the list
         (404 for an id not parked, 422 for another body).
"""
import argparse
import json
import os
import re
import ssl
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from double_serve import Server, add_arguments, serve

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
RUN_TIME = 0.3
JOBS_PAGE = 2
FINAL = ("SUCCESS", "FAILURE", "LOST")
STARTED_AT = time.time()

NODES = [
    {"name": "local", "roles": ["local", "web"], "connection_type": "local",
     "enabled": True, "status": "up", "last_error": None},
    {"name": "web1", "roles": ["web"], "connection_type": "ssh",
     "enabled": True, "status": "down",
     "last_error": "connect to 192.0.2.10:22: Connection timed out"},
]


def iso(t):
    if t is None:
        return None
    return datetime.fromtimestamp(int(t), timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S+00:00")


class ApiError(Exception):
    def __init__(self, status, error, field=None, headers=None):
        super().__init__(error)
        self.status = status
        self.body = {"error": error}
        if field is not None:
            self.body["field"] = field
        self.headers = headers or {}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.jobs = {}
        self.runs = {}
        self.next_id = 1
        self.parked = {i: {"id": i, "run_id": i - 6, "job": "ctl-fails",
                           "sink": "webhook", "event": "failure",
                           "attempts": 3,
                           "why": "127.0.0.1:9: 400 Bad Request"}
                       for i in (7, 8)}

    def choose_nodes(self, policy):
        policy = policy or {}
        names, roles = policy.get("nodes"), policy.get("roles")
        match = [n for n in NODES
                 if (names is None and roles is None and n["name"] == "local")
                 or (names is not None and n["name"] in names)
                 or (roles is not None and set(roles) & set(n["roles"]))]
        if policy.get("hosts", "any") == "all":
            return match
        up = [n for n in match if n["status"] == "up"]
        return (up or match)[:1]

    def new_run(self, job, trigger, body):
        command = body.get("command")
        argv = command if isinstance(command, list) else ["sh", "-c",
                                                          str(command)]
        duration = RUN_TIME
        if os.path.basename(argv[0]) == "sleep" and len(argv) > 1:
            duration = float(argv[1])
        run = {"id": self.next_id, "job": job, "trigger": trigger,
               "argv": argv, "nodes": self.choose_nodes(body.get("policy")),
               "created": time.time(), "duration": duration,
               "cancelled": None}
        self.runs[run["id"]] = run
        self.next_id += 1
        return run["id"]

    def item(self, run, node, status, output):
        down = node["status"] != "up"
        prog = os.path.basename(run["argv"][0])
        code = None
        if status in FINAL and not down and run["cancelled"] is None:
            code = 1 if prog == "false" else 0
        ended = run["created"] + run["duration"] if status in FINAL else None
        if run["cancelled"] is not None:
            ended = run["cancelled"]
        error = node["last_error"] if down else None
        if code:
            error = "exit code %d" % code    # as distcrond words it
        it = {"node": node["name"], "attempt": 1,
              "status": "FAILURE" if down else status,
              "exit_code": code, "signal": None,
              "started": iso(run["created"]), "ended": iso(ended),
              "error": error, "truncated": False}
        if output:
            it["output"] = (" ".join(run["argv"][1:]) + "\n"
                            if prog == "echo" and status in FINAL else "")
            it["stderr"] = ""
        return it

    def run_status(self, run):
        if run["cancelled"] is not None:
            return "FAILURE"
        if time.time() - run["created"] < run["duration"]:
            return "STARTED"
        if any(n["status"] != "up" for n in run["nodes"]) or \
                os.path.basename(run["argv"][0]) == "false":
            return "FAILURE"
        return "SUCCESS"

    def render_run(self, run, output=True):
        status = self.run_status(run)
        ended = None
        if status in FINAL:
            ended = run["cancelled"] or run["created"] + run["duration"]
        items = [self.item(run, n, status, output) for n in run["nodes"]]
        failed = [i for i in items if i["status"] == "FAILURE"]
        reason = None
        if run["cancelled"]:
            reason = "cancelled"
        elif failed:    # as distcrond: the first failed node
            reason = "node %s: %s" % (failed[0]["node"],
                                      failed[0]["error"] or "failed")
            if len(failed) > 1:
                reason += " (and %d more nodes)" % (len(failed) - 1)
        return {"id": run["id"], "job": run["job"],
                "scheduled_at": iso(run["created"]), "status": status,
                "trigger": run["trigger"], "attempt": 1,
                "started": iso(run["created"]), "ended": iso(ended),
                "items": items, "reason": reason}

    def last_run(self, name):
        runs = [r for r in self.runs.values() if r["job"] == name]
        if not runs:
            return None
        r = self.render_run(runs[-1], False)
        return {"id": r["id"], "status": r["status"], "ended": r["ended"]}

    def job_state(self, name):
        job = self.jobs[name]
        running = sum(1 for r in self.runs.values() if r["job"] == name and
                      self.run_status(r) not in FINAL)
        return {"enabled": True, "paused": job["paused"],
                "next_run": None if job["paused"] else
                iso(time.time() // 60 * 60 + 60),
                "running": running,
                "run_count": sum(1 for r in self.runs.values()
                                 if r["job"] == name),
                "last_run": self.last_run(name)}


def check_job_body(body, need_schedule):
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise ApiError(400, "body is not JSON: %s" % e)
    if not isinstance(doc, dict):
        raise ApiError(400, "body is not a JSON object")
    if need_schedule and "schedule" not in doc:
        raise ApiError(422, 'missing (write "schedule": {"cron": "..."})',
                       "schedule")
    if "command" not in doc and "http" not in doc:
        raise ApiError(422, 'missing (give "command" or "http")', "command")
    return doc


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "api_double"

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format, *args):
        pass

    def reply(self, status, doc, headers=None):
        body = (json.dumps(doc) + "\n").encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        want = "Bearer " + self.server.token
        return self.headers.get("Authorization") == want

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if parts != ["health"] and not self.authorized():
                raise ApiError(401, "missing or wrong API token",
                               headers={"WWW-Authenticate": "Bearer"})
            with self.server.state.lock:
                status, doc = self.route(parts, query, body)
            self.reply(status, doc)
        except ApiError as e:
            self.reply(e.status, e.body, e.headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def route(self, parts, query, body):
        m = self.command
        routes = [
            (["health"], {"GET": lambda: (200, {"status": "ok"})}),
            (["jobs"], {"GET": self.get_jobs}),
            (["jobs", "*"], {"GET": self.get_job, "PUT": self.put_job,
                             "DELETE": self.delete_job}),
            (["jobs", "*", "pause"], {"POST": self.pause}),
            (["jobs", "*", "resume"], {"POST": self.resume}),
            (["jobs", "*", "run"], {"POST": self.run_job}),
            (["runs"], {"GET": self.get_runs}),
            (["runs", "*"], {"GET": self.get_run,
                             "DELETE": self.cancel_run}),
            (["tasks"], {"POST": self.post_task}),
            (["nodes"], {"GET": lambda: (200, {"nodes": self.nodes()})}),
            (["outbox"], {"GET": lambda: (200, {"parked": [
                self.st.parked[i] for i in sorted(self.st.parked)]})}),
            (["outbox", "retry"], {"POST": self.outbox_retry}),
        ]
        for pattern, methods in routes:
            if len(pattern) != len(parts) or any(
                    p != "*" and p != q for p, q in zip(pattern, parts)):
                continue
            if m not in methods:
                raise ApiError(405, "method %s not allowed" % m,
                               headers={"Allow": ", ".join(methods)})
            args = [q for p, q in zip(pattern, parts) if p == "*"]
            fn = methods[m]
            if fn.__code__.co_argcount > 1:
                return fn(*args, query=query, body=body)
            return fn()
        raise ApiError(404, "no such endpoint: /" + "/".join(parts))

    @property
    def st(self):
        return self.server.state

    def job(self, name):
        if name not in self.st.jobs:
            raise ApiError(404, "no job named %s" % name)
        return self.st.jobs[name]

    def get_jobs(self, query, body):
        limit = query.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise ApiError(400, "limit: expected an integer from 1 to 1000",
                           "limit")
        after = query.get("after")
        if after is not None and not NAME_RE.match(after):
            raise ApiError(400, "after: expected a job name", "after")
        names = [n for n in sorted(self.st.jobs)
                 if after is None or n > after]
        page = min(int(limit), JOBS_PAGE)
        jobs = []
        for name in names[:page]:
            d, state = self.st.jobs[name]["definition"], self.st.job_state(
                name)
            jobs.append({"name": name, "description": d.get("description"),
                         "enabled": True, "paused": state["paused"],
                         "schedule": d.get("schedule"),
                         "timezone": d.get("timezone", ""),
                         "next_run": state["next_run"],
                         "running": state["running"],
                         "last_run": state["last_run"]})
        return 200, {"jobs": jobs,
                     "next_after": jobs[-1]["name"] if len(names) > page
                     else None}

    def get_job(self, name, query, body):
        job = self.job(name)
        return 200, {"name": name, "definition": job["definition"],
                     "source": "/etc/distcron/jobs.d/%s.json" % name,
                     "state": self.st.job_state(name)}

    def put_job(self, name, query, body):
        if not NAME_RE.match(name):
            raise ApiError(400, "invalid job name %s" % name, "name")
        doc = check_job_body(body, True)
        created = name not in self.st.jobs
        paused = False if created else self.st.jobs[name]["paused"]
        self.st.jobs[name] = {"definition": doc, "paused": paused}
        return (201 if created else 200), {"name": name, "created": created}

    def delete_job(self, name, query, body):
        self.job(name)
        del self.st.jobs[name]
        return 200, {"name": name, "deleted": True}

    def set_paused(self, name, paused):
        self.job(name)["paused"] = paused
        return 200, {"name": name, "paused": paused}

    def pause(self, name, query, body):
        return self.set_paused(name, True)

    def resume(self, name, query, body):
        return self.set_paused(name, False)

    def run_job(self, name, query, body):
        job = self.job(name)
        return 202, {"id": self.st.new_run(name, "manual",
                                           job["definition"])}

    def post_task(self, query, body):
        doc = check_job_body(body, False)
        return 202, {"id": self.st.new_run(None, "task", doc)}

    def find_run(self, ident):
        try:
            return self.st.runs[int(ident)]
        except (ValueError, KeyError):
            raise ApiError(404, "no run %s" % ident)

    def get_run(self, ident, query, body):
        return 200, self.st.render_run(self.find_run(ident))

    def cancel_run(self, ident, query, body):
        run = self.find_run(ident)
        if self.st.run_status(run) in FINAL:
            raise ApiError(409, "run %s already finished" % ident)
        run["cancelled"] = time.time()
        return 202, {"id": run["id"], "cancelling": True}

    def get_runs(self, query, body):
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            raise ApiError(400, "limit: not a number", "limit")
        runs = [self.st.render_run(r, query.get("output") == "1")
                for r in sorted(self.st.runs.values(),
                                key=lambda r: -r["id"])]
        runs = [r for r in runs
                if query.get("job") in (None, r["job"]) and
                query.get("status") in (None, r["status"])]
        return 200, {"runs": runs[:limit]}

    def outbox_retry(self, query, body):
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "body: not JSON")
        if doc == {"all": True}:
            n = len(self.st.parked)
            self.st.parked.clear()
            return 200, {"requeued": n}
        if not isinstance(doc, dict) or list(doc) != ["id"] or \
                not isinstance(doc["id"], int) or doc["id"] < 1:
            raise ApiError(422, 'body: give {"id": N} or {"all": true}',
                           "body")
        if self.st.parked.pop(doc["id"], None) is None:
            raise ApiError(404, "parked outbox entry %d not found"
                           % doc["id"])
        return 200, {"requeued": 1}

    def nodes(self):
        out = []
        for n in NODES:
            running = sum(1 for r in self.st.runs.values()
                          if n in r["nodes"] and
                          self.st.run_status(r) not in FINAL)
            out.append(dict(n, since=iso(STARTED_AT), running=running))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap)
    ap.add_argument("--token", required=True)
    args = ap.parse_args()

    server = Server(("127.0.0.1", 0), Handler)
    server.token = args.token
    server.state = State()
    serve(server, args)


if __name__ == "__main__":
    main()
