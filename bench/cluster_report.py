#!/usr/bin/env python3
"""cluster_report.py - the figures of bench/cluster.sh, as tables.

  lateness FROM TO DB...        lateness (ms) of the runs of ticks FROM..TO
                                in the daemons' stores: "n= p50= p99= max="
  lateness-summary DIR ROUNDS   the rounds' p50/p99 (DIR/lat.WHO.R) side by
                                side, and cluster - single per round
  soak TICKS FAULTS --from --to --ttl --metrics DIR
                                duplicate ticks, ticks missed outside the
                                failover windows, failover times, etcd
                                requests per run
  capacity JOBS K FROM TO W0 L0 F0 W1 L1 F1 DB...
                                one line of the claim-path table

TICKS lines are "JOB TICK MEMBER FENCE TIME" (tests/integration/
cluster_check.py's format, read with its parser); FAULTS lines are
"KIND VICTIM TIME [ROLE]" (daemon-kill mN, daemon-stop mN, etcd-kill eN
leader|follower).  A
failover window is (TIME - 1, TIME + TTL + 1] of the ticks of the jobs the
victim ran in the 3 s before the fault (every job for an etcd member).
"""
import glob
import os
import re
import sqlite3
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import cluster_check  # noqa: E402  (its parse(), read-only)


def pct(v, p):
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]


def lateness_ms(t0, t1, dbs):
    out = []
    for path in dbs:
        db = sqlite3.connect(path)
        out += [x for (x,) in db.execute(
            "SELECT i.started_ms - r.scheduled_at * 1000 FROM run_items i "
            "JOIN runs r ON r.id = i.run_id WHERE r.trigger = 'schedule' "
            "AND r.scheduled_at BETWEEN ? AND ? AND i.started_ms > 0",
            (t0, t1))]
        db.close()
    return sorted(out)


def fmt(v):
    if not v:
        return "n=0"
    return "n=%d p50=%.1f p99=%.1f max=%.1f" % (len(v), pct(v, .5),
                                                 pct(v, .99), v[-1])


def cmd_lateness(a):
    print(fmt(lateness_ms(int(a[0]), int(a[1]), a[2:])))


def cmd_lateness_summary(a):
    d, n = a[0], int(a[1])
    rows = {}
    for who in ("cluster", "single"):
        for r in range(1, n + 1):
            s = open(os.path.join(d, "lat.%s.%d" % (who, r))).read()
            m = dict(re.findall(r"(\w+)=([0-9.]+)", s))
            rows[(who, r)] = (float(m.get("p50", "nan")),
                              float(m.get("p99", "nan")))
    print("%-6s %-22s %-22s %s" % ("round", "cluster p50/p99 (ms)",
                                   "single p50/p99 (ms)", "p99 cluster-single"))
    diffs = []
    for r in range(1, n + 1):
        c, s = rows[("cluster", r)], rows[("single", r)]
        diffs.append(c[1] - s[1])
        print("%-6d %-22s %-22s %+.1f ms" % (r, "%.1f / %.1f" % c,
                                             "%.1f / %.1f" % s, diffs[-1]))
    print("median p99 difference over %d rounds: %+.1f ms (range %+.1f .. "
          "%+.1f)" % (n, statistics.median(diffs), min(diffs), max(diffs)))


def read_metrics(path):
    """{(name, method): value} of the grpc_server_* counters in a file."""
    got = {}
    for line in open(path):
        m = re.match(r'(grpc_server_(?:handled|started|msg_received)_total)'
                     r'\{(.*)\} ([0-9.e+]+)$', line.strip())
        if not m:
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        key = (m.group(1), lab.get("grpc_method"))
        got[key] = got.get(key, 0) + float(m.group(3))
    return got


def etcd_requests(d):
    """Counter increases per (name, method), summed over the members;
    a member's snapshots in name order, a decrease counts as a restart."""
    files = defaultdict(list)
    for p in sorted(glob.glob(os.path.join(d, "*.*"))):
        files[p.rsplit(".", 1)[1]].append(p)
    total = defaultdict(float)
    for member, paths in files.items():
        prev = None
        for p in paths:
            cur = read_metrics(p)
            if prev is not None:
                for k, v in cur.items():
                    old = prev.get(k, 0)
                    total[k] += v - old if v >= old else v
            prev = cur
    return total


def parse_faults(path):
    return [(f[0], f[1] + "".join("/" + x for x in f[3:]), float(f[2]))
            for f in (line.split() for line in open(path)) if len(f) >= 3]


def soak_windows(faults, by_job, ttl):
    """[(kind, victim, time, jobs, lo, hi)]: the failover windows."""
    out = []
    for kind, victim, t in faults:
        if kind.startswith("etcd"):
            jobs = set(by_job)
        else:
            jobs = {j for j, v in by_job.items() for r in v
                    if r[2] == victim and t - 3 <= r[1] < t}
        out.append((kind, victim, t, jobs, t - 1, t + ttl + 1))
    return out


def failover(w, by_job):
    """Seconds from the fault to the first launch of each of the victim's
    jobs by another member: (first, last) over its jobs, or None."""
    kind, victim, t, jobs = w[:4]
    firsts = []
    for j in jobs:
        after = [r[4] for r in by_job[j] if r[2] != victim and r[4] > t]
        if not after:
            return None
        firsts.append(min(after) - t)
    return (min(firsts), max(firsts)) if firsts else None


def cmd_soak(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="cluster_report.py soak")
    ap.add_argument("ticks")
    ap.add_argument("faults")
    ap.add_argument("--from", dest="t0", type=int, required=True)
    ap.add_argument("--to", dest="t1", type=int, required=True)
    ap.add_argument("--ttl", type=int, default=3)
    ap.add_argument("--metrics")
    ap.add_argument("--metrics-span", nargs=2, type=float, default=[0, 1e12])
    a = ap.parse_args(argv)
    runs = cluster_check.parse(a.ticks)
    faults = parse_faults(a.faults)
    by_job = defaultdict(list)
    seen = defaultdict(list)
    for r in runs:
        by_job[r[0]].append(r)
        seen[(r[0], r[1])].append(r)
    for v in by_job.values():
        v.sort(key=lambda r: (r[1], r[4]))
    wins = soak_windows(faults, by_job, a.ttl)
    dup = {k: v for k, v in seen.items() if len(v) > 1}
    missed_out, missed_in = [], defaultdict(int)
    for j in sorted(by_job):
        for t in range(a.t0, a.t1 + 1):
            if (j, t) in seen:
                continue
            w = [x for x in wins if j in x[3] and x[4] < t <= x[5]]
            if w:
                missed_in[w[0][0]] += 1
            else:
                missed_out.append((j, t))
    expected = len(by_job) * (a.t1 - a.t0 + 1)
    inwin = [r for r in runs if a.t0 <= r[1] <= a.t1]
    print("soak: ticks %d..%d (%d s), %d jobs, %d faults, %d runs in the "
          "window (%d expected without faults)" % (
              a.t0, a.t1, a.t1 - a.t0 + 1, len(by_job), len(faults),
              len(inwin), expected))
    print("%-46s %s" % ("duplicate ticks (target 0)", len(dup)))
    for (j, t), v in sorted(dup.items()):
        print("  DUPLICATE %s@%d: %s; faults near: %s" % (j, t, ", ".join(
            "%s fence %d at %.3f" % (r[2], r[3], r[4]) for r in v), near(
                faults, t)))
    print("%-46s %s" % ("ticks missed outside failover windows (target 0)",
                        len(missed_out)))
    for j, t in missed_out[:20]:
        prev = [r for r in by_job[j] if r[1] < t][-1:]
        print("  MISSED %s@%d (previous run %s); faults near: %s" % (
            j, t, "%s fence %d" % (prev[0][2], prev[0][3]) if prev else "-",
            near(faults, t)))
    for kind in ("daemon-kill", "daemon-stop", "etcd-kill"):
        print("%-46s %d" % ("ticks lost inside %s windows" % kind,
                            missed_in[kind]))
    fault_table(wins, by_job, seen, a)
    fo = defaultdict(list)
    for w in wins:
        if w[0].startswith("daemon"):
            f = failover(w, by_job)
            if f:
                fo[w[0]].append(f)
            else:
                print("  no failover measured for %s %s at %.3f (jobs %d)" %
                      (w[0], w[1], w[2], len(w[3])))
    print("failover, fault to first launch of the victim's jobs elsewhere "
          "(target <= TTL + 1 = %d s):" % (a.ttl + 1))
    for kind, v in sorted(fo.items()):
        first = sorted(x[0] for x in v)
        last = sorted(x[1] for x in v)
        print("  %-12s n=%-3d first job: median %.2f s max %.2f s; all its "
              "jobs: median %.2f s max %.2f s" % (
                  kind, len(v), statistics.median(first), first[-1],
                  statistics.median(last), last[-1]))
    if a.metrics:
        lo, hi = a.metrics_span
        etcd_table(etcd_requests(a.metrics),
                   sum(1 for r in runs if lo <= r[4] <= hi))


def fault_table(wins, by_job, seen, a):
    """One line per fault: the ticks lost in its second and the 12 after
    (in its window or not), and how late the first tick after it ran."""
    print("per fault (ticks lost in its second and the 12 after; the "
          "latest launch of a tick in that span):")
    for kind, victim, t, jobs, lo, hi in wins:
        lost = defaultdict(int)
        worst = (0.0, None)
        for tick in range(int(t), int(t) + 13):
            if not a.t0 <= tick <= a.t1:
                continue
            for j in by_job:
                if (j, tick) not in seen:
                    lost[tick] += 1
                else:
                    d = seen[(j, tick)][0][4] - tick
                    worst = max(worst, (d, tick))
        span = sorted(lost)
        print("  %.3f %-11s %-22s lost %4d ticks%s; latest launch %.2f s "
              "after its tick%s" % (
                  t, kind, victim, sum(lost.values()),
                  " (seconds +%d..+%d after, up to %d jobs a second)" % (
                      span[0] - int(t), span[-1] - int(t),
                      max(lost.values())) if span else "",
                  worst[0], " (tick +%d)" % (worst[1] - int(t))
                  if worst[1] else ""))


def near(faults, t):
    v = ["%s %s at %.3f" % f for f in faults if f[2] - 2 <= t <= f[2] + 30]
    return "; ".join(v) or "none within 30 s"


def etcd_table(tot, nruns):
    print("etcd requests (grpc_server_handled_total, streams: "
          "msg_received_total; all members; %d runs launched\n  between the "
          "first and the last reading):" % nruns)
    print("  %-16s %10s %10s %14s" % ("method", "handled", "msgs in",
                                      "handled/run"))
    meths = sorted({k[1] for k in tot if k[1]})
    for m in meths:
        h = tot.get(("grpc_server_handled_total", m), 0)
        r = tot.get(("grpc_server_msg_received_total", m), 0)
        if not h and not r:
            continue
        print("  %-16s %10d %10d %14.3f" % (m, h, r, h / nruns if nruns
                                             else 0))


def cmd_capacity(a):
    jobs, k, t0, t1 = int(a[0]), int(a[1]), int(a[2]), int(a[3])
    c0, c1 = [int(x) for x in a[4:7]], [int(x) for x in a[7:10]]
    lat = lateness_ms(t0, t1, a[10:])
    secs = t1 - t0 + 1
    won, lost, failed = (y - x for x, y in zip(c0, c1))
    print("jobs=%-5d daemons=%d  runs/s %7.1f (%5.1f%% of ticks)  claims "
          "won/s %7.1f lost %d failed %d  lateness ms %s" % (
              jobs, k, len(lat) / secs, 100.0 * len(lat) / (jobs * secs),
              won / secs, lost, failed, fmt(lat)))


def main():
    cmds = {"lateness": cmd_lateness, "lateness-summary": cmd_lateness_summary,
            "soak": cmd_soak, "capacity": cmd_capacity}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        return 2
    cmds[sys.argv[1]](sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
