#!/usr/bin/env python3
"""Helpers of the burst mode of bench/ssh.sh (see there).

  burst.py post URL TOKEN CONNS JOB...
      POST /jobs/JOB/run for each JOB, in order, on CONNS keep-alive
      connections, each sending all its requests in one write (pipelined,
      so the daemon gets them as fast as it reads them); prints "T0 SECONDS
      FAILED": the epoch time just before the first request, how long until
      the last answer, and how many were not answered 202 (the first such
      answer goes to stderr).
  burst.py wait DB WHICH T0 EXPECT TIMEOUT
      Reads the daemon's store (read-only, as the other benchmarks do: the
      API's times are whole seconds) until EXPECT run items have ended, of
      the job "warm" (WHICH warm) or of the others (WHICH burst), or until
      TIMEOUT seconds after T0 have passed.
      Prints "DONE EXPECT LAST FAILED": the items that ended (by T0 +
      TIMEOUT, if it passed), the seconds from T0 to the last end, and how
      many of them did not succeed.
  burst.py late DB OUT
      Writes the lateness (ms) of each run item of jobs other than "warm",
      start minus the run's scheduled second, to OUT, one a line.
  burst.py row ROWS ROUND NAME RUNS SETUP RATE8 ONESHOT DONE LAST BAD
               POSTS TIMEOUT
      Prints one row of the table: the time to the last end (LAST, or "DONE
      of RUNS after TIMEOUT s"), the bound SETUP + RUNS / (0.8 x RATE8)
      with "ok", "over" or "FAIL" (BAD runs did not succeed), ONESHOT
      (seconds, "-": not measured), SETUP, POSTS and BAD; keeps it in ROWS
      for the summary.
  burst.py errors DB
      Prints the commonest statuses and errors of the run items (jobs other
      than "warm") that did not succeed, or have not ended.
  burst.py head
      Prints the table's header.
  burst.py summary ROWS
      Prints each row's time over its bound and one-shot ssh's time over
      distcron's, per round, with their medians (a burst cut by its timeout
      counts as TIMEOUT seconds), and its failed runs per round.
"""
import socket
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse

SUCCESS = 4     # enum run_status in include/distcron/store.h


def replies(f, n):
    """Reads n HTTP answers from f; returns the (status, body) of each."""
    out = []
    for _ in range(n):
        status = int(f.readline().split()[1])
        length = 0
        while True:
            line = f.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        out.append((status, f.read(length)))
    return out


def post(url, token, conns, jobs):
    """Each of conns connections sends its share of the POSTs in one write
    (HTTP/1.1 pipelining), then reads the answers."""
    u = urllib.parse.urlsplit(url)
    socks = [socket.create_connection((u.hostname, u.port), timeout=60)
             for _ in range(conns)]
    reqs = [[] for _ in socks]
    for i, job in enumerate(jobs):
        reqs[i % conns].append(
            ("POST /jobs/%s/run HTTP/1.1\r\nHost: %s\r\nAuthorization: "
             "Bearer %s\r\nContent-Length: 0\r\n\r\n" %
             (job, u.netloc, token)).encode())
    failed = []

    def send(s, r):
        s.sendall(b"".join(r))

    threads = [threading.Thread(target=send, args=x) for x in zip(socks, reqs)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s, r in zip(socks, reqs):
        with s.makefile("rb") as f:
            failed += [(st, b) for st, b in replies(f, len(r)) if st != 202]
        s.close()
    t1 = time.time()
    if failed:
        print("POST /jobs/.../run: %d %s" % failed[0], file=sys.stderr)
    print("%.3f %.3f %d" % (t0, t1 - t0, len(failed)))


ITEMS = ("FROM run_items i JOIN runs r ON r.id = i.run_id "
         "WHERE (r.job = 'warm') = ? AND i.ended_ms > 0")


def ended(db, warm, until_ms):
    q = "SELECT count(*), max(i.ended_ms), sum(i.status != ?) " + ITEMS
    try:
        n, last, bad = db.execute(q + " AND i.ended_ms <= ?",
                                  (SUCCESS, warm, until_ms)).fetchone()
    except sqlite3.OperationalError:    # not created yet, or busy
        return 0, None, 0
    return n, last, bad or 0


def wait(path, warm, t0, expect, timeout):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    stop = t0 + timeout
    while True:
        n, last, bad = ended(db, warm, int(stop * 1000))
        if n >= expect or time.time() > stop:
            break
        time.sleep(0.1)
    if n < expect:
        time.sleep(1.5)     # saves of runs ended in time, still gathered
        n, last, bad = ended(db, warm, int(stop * 1000))
    print("%d %d %.3f %d" % (n, expect,
                             (last / 1000.0 - t0) if last else 0, bad))


def late(path, out):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    with open(out, "w") as f:
        for (ms,) in db.execute(
                "SELECT i.started_ms - r.scheduled_at * 1000 FROM run_items i "
                "JOIN runs r ON r.id = i.run_id WHERE r.job != 'warm' AND "
                "i.started_ms > 0"):
            f.write("%d\n" % ms)


HEAD = "%-22s %5s  %-24s %8s %-5s %9s  %9s %8s %6s" % (
    "burst", "runs", "all finished after", "bound", "", "one-shot",
    "setup", "POSTs", "failed")


def row(path, rnd, name, runs, setup, rate8, oneshot, done, last, bad,
        posts, timeout):
    runs, done, bad, setup, timeout = int(runs), int(done), int(bad), \
        float(setup), float(timeout)
    bound = setup + runs / (0.8 * float(rate8))
    if done < runs:
        t, shown = timeout, "%d of %d after %.0f s" % (done, runs, timeout)
    else:
        t = float(last)
        shown = "%.3f s" % t
    verdict = "ok" if done == runs and t <= bound else "over"
    print("%-22s %5d  %-24s %7.3fs %-5s %9s  %7.3f s %8s %6d" % (
        name, runs, shown, bound, verdict if bad == 0 else "FAIL",
        oneshot if oneshot == "-" else "%.3f s" % float(oneshot),
        setup, posts if posts == "-" else posts + " s", bad))
    with open(path, "a") as f:
        f.write("%s\t%s\t%d\t%f\t%f\t%f\t%s\t%d\n" % (
            rnd, name, runs, setup, t, bound, oneshot, bad))


def errors(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    names = ("PENDING", "STARTED", "RETRY", "FAILURE", "SUCCESS", "LOST")
    (n,) = db.execute("SELECT count(*) FROM runs WHERE job != 'warm' AND "
                      "ended_ms = 0").fetchone()
    if n:
        print("    %d runs not ended" % n)
    for n, st, err in db.execute(
            "SELECT count(*), i.status, coalesce(i.error, '') FROM run_items i "
            "JOIN runs r ON r.id = i.run_id WHERE r.job != 'warm' AND "
            "i.status != ? GROUP BY 2, 3 ORDER BY 1 DESC LIMIT 5", (SUCCESS,)):
        print("    %d %s %s" % (n, names[st] if st < len(names) else st,
                                err[:160]))


def summary(path):
    rows = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        rows.setdefault((f[1], int(f[2])), []).append(
            (float(f[4]), float(f[5]), float(f[6]) if f[6] != "-" else 0,
             int(f[7])))
    print("%-28s %-30s %-30s %s" % (
        "burst, runs", "time / bound (median)",
        "one-shot ssh / distcron (med.)", "failed"))
    for (name, n), v in rows.items():
        over = [t / b for t, b, _, _ in v]
        fast = [o / t for t, _, o, _ in v if t > 0 and o > 0]
        print("%-28s %-30s %-30s %s" % (
            "%s, %d" % (name, n),
            "%s (%.2f)" % (" ".join("%.2f" % x for x in over),
                           statistics.median(over)),
            "%s (%.1fx)" % (" ".join("%.1fx" % x for x in fast),
                            statistics.median(fast)) if fast else "-",
            " ".join(str(x[3]) for x in v)))


def main(a):
    if len(a) >= 5 and a[0] == "post":
        post(a[1], a[2], int(a[3]), a[4:])
    elif len(a) == 6 and a[0] == "wait":
        wait(a[1], a[2] == "warm", float(a[3]), int(a[4]), float(a[5]))
    elif len(a) == 3 and a[0] == "late":
        late(a[1], a[2])
    elif len(a) == 13 and a[0] == "row":
        row(*a[1:])
    elif len(a) == 2 and a[0] == "errors":
        errors(a[1])
    elif len(a) == 1 and a[0] == "head":
        print(HEAD)
    elif len(a) == 2 and a[0] == "summary":
        summary(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
