#!/bin/sh
# Run reports: what the outbox costs and how fast it ships (issue 14).
#   1. Run records stored per second through the store thread, with the
#      outbox on (every final record carries its outbox row, written in the
#      same transaction, and the outbox's thread empties the table at the
#      same time through a sink that takes everything) against off
#      (bench/storerate.c "store": N records, no scheduler in front).
#   2. Documents shipped per second to the Elasticsearch double
#      (tests/integration/es_double.py): the outbox and its Elasticsearch
#      sink driven directly (storerate "ship": the daemon makes at most a
#      few thousand reports a second, too few to load the sink), N reports
#      waiting in the store, against the floor, bench/bulkfloor.c, a bare
#      libcurl client posting the same documents as pre-built, pre-gzipped
#      _bulk bodies of the same batch size to the same double.
#   3. Trigger lateness (bench/lateness.sh JOBS SECONDS 1) with shipping on
#      (--es-host/--es-port to the double) against off.
# Each part runs ROUNDS rounds, the two setups taking turns (A B; B A;
# ...), and prints every round's figures, their medians and each round's
# ratio or difference.  It measures; it never passes or fails on a time.
#   usage: bench/reports.sh [N] [ROUNDS] [JOBS] [SECONDS]
#          (defaults 20000 3 1000 10; PARTS="1 2 3" picks the parts)
. "$(dirname "$0")/common.sh"
N=${1:-20000}
ROUNDS=${2:-3}
LJOBS=${3:-1000}
LSECS=${4:-10}
PARTS=${PARTS:-1 2 3}
espid=
trap '[ -n "$bench_pid" ] && kill -9 $bench_pid 2>/dev/null
[ -n "$espid" ] && kill $espid 2>/dev/null; rm -rf "$W"' EXIT
cc -Wall $DC_CFLAGS -I"$DC_SRC/src" -o "$W/storerate" \
    "$DC_TOP/bench/storerate.c" $DC_LIBS
cc -Wall $DC_CFLAGS -o "$W/bulkfloor" "$DC_TOP/bench/bulkfloor.c" \
    $(pkg-config --libs libcurl zlib)

# order R A B: "A B" in odd rounds, "B A" in even ones.
order() { if [ $(($1 % 2)) -eq 1 ]; then echo "$2 $3"; else echo "$3 $2"; fi; }

# summary WHAT UNIT A B: each round's figure (the number before UNIT in
# $W/A.R and $W/B.R), the medians, and B/A per round with its median;
# with UNIT "ms" B-A instead, and the spread (max - min) of each setup.
summary() {
	python3 - "$W" "$ROUNDS" "$@" <<'PY'
import re, statistics, sys
w, n, what, unit, a, b = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
rx = {"ms": r"all rounds pooled, distcrond:\s+p50 [\d.]+ ms, p99 ([\d.]+) ms"}
def fig(lab, r):
    pat = rx.get(unit, r"([\d.]+) %s" % re.escape(unit))
    for line in open("%s/%s.%d" % (w, lab, r), errors="replace"):
        m = re.search(pat, line)
        if m:
            return float(m.group(1))
    sys.exit("no figure in %s/%s.%d" % (w, lab, r))
va = [fig(a, r) for r in range(1, n + 1)]
vb = [fig(b, r) for r in range(1, n + 1)]
u = "ms (p99)" if unit == "ms" else unit
print("=== %s" % what)
for lab, v in ((a, va), (b, vb)):
    print("  %-9s %s %s: median %.1f, spread %.1f" % (lab, ", ".join(
        "%.1f" % x for x in v), u, statistics.median(v), max(v) - min(v)))
if unit == "ms":
    d = [y - x for x, y in zip(va, vb)]
    print("  %s - %s per round: %s ms, median %+.1f ms" % (b, a, ", ".join(
        "%+.1f" % x for x in d), statistics.median(d)))
else:
    q = [y / x for x, y in zip(va, vb)]
    print("  %s / %s per round: %s, median %.2fx" % (b, a, ", ".join(
        "%.2f" % x for x in q), statistics.median(q)))
PY
}

# part1: records stored per second, outbox off ("none") and on ("rows").
part1() {
	echo "== 1. $N run records through the store thread, $ROUNDS rounds"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		for m in $(order "$r" none rows); do
			rm -rf "$W/s" && mkdir -p "$W/s"
			"$W/storerate" store "$W/s" "$N" "$m" >"$W/$m.$r"
			sed "s/^/round $r ($m): /" "$W/$m.$r"
		done
		r=$((r + 1))
	done
	summary "records/s through the store thread, outbox off (none) and on (rows)" \
	    records/s none rows
}

# es_start: the double on a free port; sets espid and ES.
es_start() {
	python3 "$DC_TOP/tests/integration/es_double.py" \
	    --port-file "$W/es.port" >"$W/es.log" 2>&1 &
	espid=$!
	n=0
	until [ -s "$W/es.port" ]; do
		n=$((n + 1))
		[ "$n" -le 100 ] || { echo "error: no double" >&2; cat "$W/es.log" >&2; exit 1; }
		sleep 0.1
	done
	EP=$(cat "$W/es.port")
	ES=http://127.0.0.1:$EP
}
es_reset() { curl -fsS -X POST "$ES/_double/reset" >/dev/null; }

# part2: documents shipped per second, distcron's outbox and the floor.
part2() {
	echo "== 2. $N documents to the Elasticsearch double, $ROUNDS rounds"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		rm -rf "$W/p" && mkdir -p "$W/p"
		"$W/storerate" prep "$W/p" "$N" >/dev/null
		for m in $(order "$r" distcron floor); do
			es_reset
			case $m in
			distcron) "$W/storerate" ship "$W/p" 127.0.0.1 "$EP" ;;
			floor) "$W/bulkfloor" "$ES" "$W/p/bodies" gzip ;;
			esac >"$W/$m.$r" 2>"$W/$m.$r.log"
			sed "s/^/round $r ($m): /" "$W/$m.$r"
		done
		r=$((r + 1))
	done
	summary "documents/s to the double: the floor and distcron's outbox" \
	    docs/s floor distcron
}

# part3: lateness p99 with shipping off and on.
part3() {
	echo "== 3. lateness, $LJOBS jobs every second, ${LSECS}s, shipping off and on, $ROUNDS rounds"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		for m in $(order "$r" off on); do
			es_reset
			a=
			[ "$m" = off ] || a="--es-host 127.0.0.1 --es-port $EP"
			DC_DAEMON_ARGS=$a sh "$DC_TOP/bench/lateness.sh" \
			    "$LJOBS" "$LSECS" 1 >"$W/$m.$r" 2>&1
			grep 'pooled, distcrond' "$W/$m.$r" | sed "s/^/round $r ($m): /"
			[ "$m" = off ] || echo "round $r (on): $(curl -fsS "$ES/_double/docs" |
			    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["docs"]))') reports indexed"
		done
		r=$((r + 1))
	done
	summary "lateness p99, shipping off and on" ms off on
}

for p in $PARTS; do
	case $p in
	1) part1 ;;
	2|3) [ -n "$espid" ] || es_start; "part$p" ;;
	esac
done
