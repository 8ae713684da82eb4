#!/usr/bin/env python3
"""burst.py - starts N manual runs of a job at once through the daemon's API
and follows them to their end; prints what a user would notice as JSON.

usage: burst.py URL TOKEN JOB N [LIMIT_S] [OTHER_JOB]      (N <= 1000)

Runs are started one after the other (POST /jobs/JOB/run, one keep-alive
connection) as fast as the API takes them.  While they go on, a second
thread asks GET /health every 0.1 s and keeps its slowest answer; when
OTHER_JOB is given, one run of it is started after the burst and its time
to the end is kept.  Output (one JSON object):
  n, final, success       runs, runs ended, runs that succeeded
  posted_s                seconds the API took to take the N POSTs
  last_s                  seconds from the first POST until the last run
                          was seen ended (polled every 0.05 s)
  max_gap_s               the longest wait between two consecutive ends
                          (or the first POST and the first end)
  overtaken               the most runs posted earlier that were still
                          pending when a run was seen ended (FIFO breaches;
                          runs in flight together end in any order)
  health_max_s            the slowest /health answer during the burst
  other_s                 OTHER_JOB's run: POST to its end (or null)
  statuses                count of each final status
  reasons                 count of each reason of the runs that did not
                          succeed (what a failed check shows)
"""
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlparse

FINAL = ("SUCCESS", "FAILURE", "LOST", "CANCELLED", "SKIPPED")


class Api:
    def __init__(self, url, token):
        u = urlparse(url)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.conn = None

    def req(self, method, path):
        for _ in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        self.host, self.port, timeout=30)
                self.conn.request(method, path, headers={
                    "Authorization": "Bearer " + self.token,
                    "Content-Length": "0"})
                r = self.conn.getresponse()
                return r.status, json.loads(r.read() or b"null")
            except (OSError, http.client.HTTPException):
                self.conn = None
        raise SystemExit("the API does not answer %s %s" % (method, path))


def watch_health(api, stop, out):
    while not stop.is_set():
        t0 = time.time()
        api.req("GET", "/health")
        out.append(time.time() - t0)
        time.sleep(0.1)


def run_of(api, rid):
    code, b = api.req("GET", "/runs/%d" % rid)
    return b if code == 200 else None


def main():
    url, token, job, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    other = sys.argv[6] if len(sys.argv) > 6 else None
    api, hapi = Api(url, token), Api(url, token)
    health, stop = [], threading.Event()
    th = threading.Thread(target=watch_health, args=(hapi, stop, health))
    th.start()
    t0 = time.time()
    ids = []  # in the order posted
    for _ in range(n):
        code, b = api.req("POST", "/jobs/%s/run" % job)
        if code != 202:
            raise SystemExit("POST /jobs/%s/run: %d %s" % (job, code, b))
        ids.append(b["id"])
    posted_s = time.time() - t0
    other_id = other_t0 = other_s = None
    if other:
        other_t0 = time.time()
        other_id = api.req("POST", "/jobs/%s/run" % other)[1]["id"]
    idset = set(ids)
    seen = {}       # run id -> when it was first seen ended
    overtaken = 0   # the most runs posted earlier still pending at an end
    statuses = {}
    reasons = {}
    while time.time() - t0 < limit and (len(seen) < n or
                                        (other_id and other_s is None)):
        code, b = api.req("GET", "/runs?job=%s&limit=%d" % (job, min(n, 1000)))
        now = time.time()
        for r in b["runs"]:
            if r["id"] in idset and r["status"] in FINAL and r["id"] not in seen:
                seen[r["id"]] = now
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                if r["status"] != "SUCCESS":
                    why = str(r.get("reason"))
                    reasons[why] = reasons.get(why, 0) + 1
        pending = 0
        for i in ids:
            if i not in seen:
                pending += 1
            elif seen[i] == now:
                overtaken = max(overtaken, pending)
        if other_id is not None and other_s is None:
            r = run_of(api, other_id)
            if r and r["status"] in FINAL:
                other_s = time.time() - other_t0
        time.sleep(0.05)
    stop.set()
    th.join()
    ends = sorted(seen.values())
    gaps = [b - a for a, b in zip([t0] + ends, ends)]
    print(json.dumps({
        "n": n, "final": len(seen), "posted_s": round(posted_s, 3),
        "success": statuses.get("SUCCESS", 0),
        "last_s": round(ends[-1] - t0, 3) if ends else None,
        "max_gap_s": round(max(gaps), 3) if gaps else None,
        "overtaken": overtaken,
        "health_max_s": round(max(health), 3) if health else None,
        "other_s": round(other_s, 3) if other_s is not None else None,
        "statuses": statuses, "reasons": reasons}))


main()
