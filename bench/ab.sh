#!/bin/sh
# Before and after: one benchmark run against two builds of distcron, in
# alternating runs, so that a refactoring or a fix shows what it costs.
#
#   usage: bench/ab.sh REV PAIRS BENCH [ARGS...]
#   e.g.   bench/ab.sh main~5 4 lateness.sh 1000 10 1
#          ROUNDS=1 bench/ab.sh main~5 3 ssh.sh 300 10
#
# REV (any git revision) is checked out in a temporary worktree and built
# there (optimised, no sanitizers, as every benchmark is); "after" is the
# build of this tree.  BENCH (a script of bench/, from this tree for both)
# then runs PAIRS times for each build, taking turns: before, after; after,
# before; ... so that a slow spell of the machine falls on both.  Each run's
# output is printed with its label; at the end, for the figures this script
# knows (lateness.sh: lateness p50/p99 and the daemon's CPU per run beside
# the ideal loop of the same run; ssh.sh: runs/s; ssh.sh burst: the ticks'
# lateness), each build's values per run, their medians, and the per-pair
# differences (after - before) with their median.  It measures; it never
# passes or fails on a time.
. "$(dirname "$0")/common.sh"
[ $# -ge 3 ] || { sed -n 4,6p "$0" >&2; exit 2; }
REV=$1
PAIRS=$2
BENCH=$3
shift 3
[ -f "$DC_TOP/bench/$BENCH" ] || { echo "error: no bench/$BENCH" >&2; exit 2; }
BASE=$W/base
git -C "$DC_TOP" worktree add -q --detach "$BASE" "$REV"
trap '[ -n "$bench_pid" ] && kill -9 $bench_pid 2>/dev/null
git -C "$DC_TOP" worktree remove --force "$BASE" 2>/dev/null; rm -rf "$W"' EXIT
echo "==> before: $(git -C "$BASE" log -1 --format='%h %s' | cut -c1-72)"
echo "==> after:  $(git -C "$DC_TOP" log -1 --format='%h %s' | cut -c1-72)$(
    git -C "$DC_TOP" diff --quiet HEAD -- src include || echo ' (+ changes)')"
(DC_TOP=$BASE && dc_build "$BASE/build-bench" CFLAGS="-O2 -g")

# one LABEL ARGS...: runs the bench against LABEL's build.
one() {
	o_label=$1
	shift
	case $o_label in
	before) env DC_BENCH_BUILD="$BASE/build-bench" DC_BENCH_SRC="$BASE" \
	    sh "$DC_TOP/bench/$BENCH" "$@" ;;
	after) sh "$DC_TOP/bench/$BENCH" "$@" ;;
	esac
}
i=1
while [ "$i" -le "$PAIRS" ]; do
	if [ $((i % 2)) -eq 1 ]; then order="before after"; else order="after before"; fi
	for label in $order; do
		echo "==> $label, run $i"
		one "$label" "$@" 2>&1 | tee "$W/$label.$i" | sed "s/^/[$label $i] /"
	done
	i=$((i + 1))
done
python3 - "$W" "$PAIRS" <<'PY'
import re, statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
pats = [
    (r"all rounds pooled, distcrond:\s+p50 ([\d.]+) ms, p99 ([\d.]+) ms",
     ["lateness p50 (ms)", "lateness p99 (ms)"]),
    (r"all rounds pooled, ideal loop:\s+p50 ([\d.]+) ms, p99 ([\d.]+) ms",
     ["ideal loop p50 (ms)", "ideal loop p99 (ms)"]),
    (r"distcrond\s+\(ms\):.*cpu_us_per_run ([\d.]+)",
     ["daemon CPU per run (us)"]),
    (r"lateness of their starts \(ms\): n=\d+ p50=([\d.]+) p99=([\d.]+)",
     ["ticks' lateness p50 (ms)", "ticks' lateness p99 (ms)"]),
]
def figures(path):
    out = {}
    for line in open(path, errors="replace"):
        for rx, names in pats:
            m = re.search(rx, line)
            if m:
                for k, v in zip(names, m.groups()):
                    out.setdefault(k, []).append(float(v))
        m = re.search(r"median runs/s: (.*)", line)
        if m:
            for kv in m.group(1).split(","):
                k, v = kv.split()
                out.setdefault(k + " (runs/s)", []).append(float(v))
    # a figure printed several times in one run (one per round): its mean
    return {k: statistics.mean(v) for k, v in out.items()}
runs = {lab: [figures("%s/%s.%d" % (w, lab, i)) for i in range(1, n + 1)]
        for lab in ("before", "after")}
keys = [k for k in runs["before"][0] if all(k in r for l in runs.values()
                                            for r in l)]
print("=== before vs after, %d runs each" % n)
for k in keys:
    b = [r[k] for r in runs["before"]]
    a = [r[k] for r in runs["after"]]
    d = [y - x for x, y in zip(b, a)]
    print("%-26s before %s (median %.1f)" % (k, " ".join("%.1f" % x for x in b),
          statistics.median(b)))
    print("%-26s after  %s (median %.1f)" % ("", " ".join("%.1f" % x for x in a),
          statistics.median(a)))
    print("%-26s after - before per pair: %s (median %+.1f)" % (
        "", " ".join("%+.1f" % x for x in d), statistics.median(d)))
PY
