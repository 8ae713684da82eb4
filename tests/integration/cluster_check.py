#!/usr/bin/env python3
"""cluster_check.py - checks the ticks a cluster's jobs wrote (cluster_lib.sh).

Each line of TICKS is "JOB SCHEDULED_AT MEMBER FENCE RUN_TIME": one run of
JOB for its tick SCHEDULED_AT (ISO 8601), by member MEMBER with fence FENCE,
started at RUN_TIME (UNIX seconds).  Prints one line per failed rule and
exits 1 if any failed:

  - no tick ran twice, anywhere;
  - every run has a member and a fence, and a job's fences increase with
    its ticks;
  - with --from/--to: every tick in [FROM, TO] of every job ran, except in
    the fault window of --fault (KILLED_AT - 1, KILLED_AT + TTL + 3] for
    the jobs the --victim ran in the 3 s before it (without --victim: every
    job; an etcd member killed), or until --settled S + 1 if that is
    later (S: when the survivors logged their take-over, which a busy
    machine may delay; the delay is printed, a figure): there a
    --run-once job that lost ticks ran one of them with trigger "missed"
    (the catch-up: --history, the members' runs as distcronctl history
    --json prints them), a skip job may lose them and catches none up;
  - with --spread: the runs came from more than one member;
  - with --quiet A B: no run started between A and B (etcd was down);
  - with --paused M A B: member M (stopped at A, continued at B) launched
    no tick scheduled before B once it was stopped.
"""
import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime


def parse(path):
    runs = []
    for n, line in enumerate(open(path), 1):
        f = line.split()
        if len(f) != 5:
            print("line %d: not JOB TICK MEMBER FENCE TIME: %r" % (n, line))
            sys.exit(1)
        t = int(datetime.fromisoformat(f[1]).timestamp())
        runs.append((f[0], t, f[2], int(f[3]) if f[3].isdigit() else 0,
                     float(f[4])))
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ticks")
    ap.add_argument("--jobs", default="")
    ap.add_argument("--from", dest="t0", type=int)
    ap.add_argument("--to", dest="t1", type=int)
    ap.add_argument("--fault", type=float)
    ap.add_argument("--victim")
    ap.add_argument("--settled", type=float)
    ap.add_argument("--ttl", type=int, default=3)
    ap.add_argument("--run-once", default="")
    ap.add_argument("--history", nargs="*", default=[])
    ap.add_argument("--spread", action="store_true")
    ap.add_argument("--quiet", nargs=2, type=float)
    ap.add_argument("--paused", nargs=3)
    a = ap.parse_args()
    runs = parse(a.ticks)
    bad = []
    seen = defaultdict(list)
    for r in runs:
        seen[(r[0], r[1])].append(r)
    for k, v in sorted(seen.items()):
        if len(v) > 1:
            bad.append("tick %s@%d ran %d times: %s" % (k[0], k[1], len(v),
                       ", ".join("%s fence %d" % (x[2], x[3]) for x in v)))
    by_job = defaultdict(list)
    for r in runs:
        by_job[r[0]].append(r)
        if r[2] in ("", "?") or r[3] <= 0:
            bad.append("run %s@%d has no member or fence: %r" % (r[0], r[1], r))
    for job, v in by_job.items():
        v.sort(key=lambda x: x[1])
        for p, q in zip(v, v[1:]):
            if q[3] <= p[3]:
                bad.append("job %s: fence %d of tick %d is not above %d of "
                           "tick %d" % (job, q[3], q[1], p[3], p[1]))
    if a.t0 is not None:
        bad += window(a, by_job)
    if a.spread and len({r[2] for r in runs}) < 2:
        bad.append("every run came from one member: %s" % runs[0][2])
    if a.quiet:
        for r in runs:
            if a.quiet[0] < r[4] < a.quiet[1]:
                bad.append("run %s@%d by %s started at %.3f while etcd was "
                           "down (%.3f-%.3f)" % (r[0], r[1], r[2], r[4],
                                                 *a.quiet))
    if a.paused:
        m, stop, cont = a.paused[0], float(a.paused[1]), float(a.paused[2])
        for r in runs:
            if r[2] == m and r[1] < cont and r[4] >= stop + 0.5:
                bad.append("paused member %s launched %s@%d at %.3f (stopped "
                           "%.3f, continued %.3f)" % (m, r[0], r[1], r[4],
                                                      stop, cont))
    for b in bad:
        print(b)
    print("%d runs of %d jobs checked; %d problem(s)" % (len(runs),
          len(by_job), len(bad)))
    return 1 if bad else 0


def caught_up(paths):
    """The (job, tick) of every run with trigger "missed" in the files."""
    got = set()
    for p in paths:
        for r in json.load(open(p)):
            if r["trigger"] == "missed":
                got.add((r["job"], int(datetime.fromisoformat(
                    r["scheduled_at"]).timestamp())))
    return got


def window(a, by_job):
    """Every tick in [t0, t1] ran, but in the fault window (see above)."""
    bad = []
    caught = caught_up(a.history)
    once = set(a.run_once.split(",")) - {""}
    jobs = set(a.jobs.split(",")) - {""} or set(by_job)
    lo = hi = None
    if a.fault is not None:
        lo, hi = a.fault - 1, a.fault + a.ttl + 3
        if a.settled is not None:   # the delay: a figure, not a rule
            print("the survivors took over %.2f s after the fault" %
                  (a.settled - a.fault))
            hi = max(hi, a.settled + 1)
    for job in sorted(jobs):
        v = by_job.get(job, [])
        have = {r[1]: r for r in v}
        victim = a.fault is not None and (a.victim is None or any(
            r[2] == a.victim and a.fault - 3 <= r[1] < a.fault for r in v))
        gaps = [t for t in range(a.t0, a.t1 + 1) if t not in have]
        inside = [t for t in gaps if victim and lo < t <= hi]
        if inside:     # a figure, never a rule
            print("job %s: %d tick(s) lost in the fault window: %s" % (
                job, len(inside), inside))
        if a.settled is not None:   # due once the survivors had the job
            bad += ["job %s: tick %d, due after the take-over (%.2f), "
                    "never ran" % (job, t, a.settled)
                    for t in inside if t >= a.settled]
        for t in gaps:
            if t not in inside:
                bad.append("job %s: tick %d never ran%s" % (job, t,
                           " (outside the fault window)" if victim else ""))
        if victim and a.victim:     # a figure, never a rule
            after = [r for r in v if r[2] != a.victim and r[4] > a.fault]
            if after:
                print("job %s: first run after the fault by %s, %.2f s after "
                      "it" % (job, after[0][2], min(r[4] for r in after) -
                              a.fault))
        late = [t for (j, t) in caught if j == job and lo < t <= hi]
        if inside and job in once and a.victim and not late:
            bad.append("job %s (missed: run_once): ticks %s of the failover "
                       "window lost and none caught up" % (job, inside))
        if job not in once and a.victim and late:
            bad.append("job %s (missed: skip): ticks %s caught up" % (job,
                       late))
    return bad


if __name__ == "__main__":
    sys.exit(main())
