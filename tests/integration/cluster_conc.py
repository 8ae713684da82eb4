#!/usr/bin/env python3
"""cluster_conc.py - checks cluster_conc.sh's runs (concurrency, cluster).

LINES holds "start|end JOB MEMBER FENCE TIME" (UNIX seconds) per run; DIR
the members' histories as cluster_histories writes them (hist.I.JOB.json,
member mI).  A run's span is its start line to its end line; a run killed
before its end line ends at its record's end (or at the --killed member's
death).  Prints one line per failed rule and exits 1 if any failed:

  - the --forbid job's runs never overlap in time, whoever ran them (runs
    of the --killed member end at its death at the latest: its orphaned
    process is not the cluster's any more);
  - the --replace job: a run of m1 ended "replaced by a newer run on
    member m2", and m2 ran it with a greater fence.
With --every A B, instead: every tick of the --forbid job (every second)
scheduled in [A, B] (UNIX seconds) ran, by some member, to success.
"""
import argparse
import glob
import json
import os
import sys
from datetime import datetime


def history(d):
    """{(member, job): [record, ...]} from DIR/hist.I.JOB.json."""
    out = {}
    for path in glob.glob(os.path.join(d, "hist.*.*.json")):
        _, i, job, _ = os.path.basename(path).split(".", 3)
        doc = json.load(open(path))
        runs = doc["runs"] if isinstance(doc, dict) else doc
        out[("m" + i, job)] = runs
    return out


def when(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def spans(lines, hist, job, killed):
    """[(start, end, member, fence)] of job's runs."""
    runs = {}
    for f in (ln.split() for ln in open(lines)):
        if len(f) == 5 and f[1] == job:
            runs.setdefault((f[2], f[3]), {})[f[0]] = float(f[4])
    out = []
    for (member, fence), r in sorted(runs.items()):
        end = r.get("end")
        if end is None:
            for rec in hist.get((member, job), []):
                if str(rec.get("fence")) == fence and rec.get("ended"):
                    end = when(rec["ended"])
        if killed and member == killed[0] and r.get("start", 0) < killed[1]:
            end = min(end or killed[1], killed[1])
        if "start" not in r or end is None:
            print("%s: run of %s fence %s: no start or no end (%r)" %
                  (job, member, fence, r))
            continue
        out.append((r["start"], end, member, fence))
    return sorted(out)


def every(hist, job, a, b):
    """The ticks of job in [a, b] that no member ran to success."""
    ran = set()
    for (member, j), recs in hist.items():
        for r in recs:
            if j == job and r.get("status") == "SUCCESS":
                ran.add(int(round(when(r["scheduled_at"]))))
    lost = [t for t in range(a, b + 1) if t not in ran]
    print("%s: ticks %d-%d: %d lost %s" % (job, a, b, len(lost), lost))
    return 1 if lost else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lines")
    ap.add_argument("dir")
    ap.add_argument("--forbid", required=True)
    ap.add_argument("--replace", required=True)
    ap.add_argument("--killed", nargs=2)
    ap.add_argument("--every", nargs=2, type=int)
    a = ap.parse_args()
    killed = (a.killed[0], float(a.killed[1])) if a.killed else None
    hist = history(a.dir)
    if a.every:
        sys.exit(every(hist, a.forbid, a.every[0], a.every[1]))
    bad = 0
    s = spans(a.lines, hist, a.forbid, killed)
    members = set(x[2] for x in s)
    print("%s: %d forbid runs by %s" % (a.forbid, len(s),
                                        ",".join(sorted(members))))
    if len(members) < 3:
        print("%s: expected runs by m1, m2 and m3" % a.forbid)
        bad += 1
    for p, q in zip(s, s[1:]):
        if q[0] < p[1]:
            print("%s: overlap: %s fence %s ran %.3f-%.3f, %s fence %s "
                  "started %.3f" % (a.forbid, p[2], p[3], p[0], p[1], q[2],
                                    q[3], q[0]))
            bad += 1
    why = "replaced by a newer run on member m2"
    old = [r for r in hist.get(("m1", a.replace), [])
           if r.get("reason") == why and r.get("status") == "FAILURE"]
    newer = [r for r in hist.get(("m2", a.replace), [])
             if old and r.get("fence", 0) > old[0].get("fence", 0)]
    if not old or not newer:
        print("%s: no m1 run failed %r before a newer m2 run (m1's: %s)" %
              (a.replace, why, [(r.get("status"), r.get("reason"))
                                for r in hist.get(("m1", a.replace), [])]))
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
