#!/bin/sh
# AMQP publishing: messages per second one distcrond publishes (AMQP jobs
# started together through its API, each a run with its confirm) against
# bare publishing with librabbitmq (bench/amqpfloor.c: one connection,
# confirms on, one message at a time), against the same RabbitMQ broker
# (started as the tests do: tests/integration/amqp_lib.sh, loopback ports).
#
#   usage: bench/amqp.sh [COUNT]     (default 2000 messages per contender)
#
# ROUNDS rounds (default 3), each running both in turn, so that a slow
# spell of the machine falls on both; the ratio is per round, with its
# median.  The daemon's time runs from the first POST to the end of the
# last run as its store records it (bench/burst.py); its runs go out on
# one pooled connection, opened by a first "warm" run.  Prints figures,
# never a verdict.
COUNT=${1:-2000}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/common.sh"
dc_install rabbitmq-server curl
set +u
top_builddir=$B top_srcdir=$DC_TOP
T=$W
. "$DC_TOP/tests/integration/lib.sh"
T=$W
. "$DC_TOP/tests/integration/amqp_lib.sh"
cc $DC_CFLAGS -o "$W/amqpfloor" "$DC_TOP/bench/amqpfloor.c" $DC_LIBS
make -s -C "$B" tests/integration/amqpcat >/dev/null
amqp_require
amqp_start
amqp_cat declare bench fanout
BP="python3 $DC_TOP/bench/burst.py"

mkdir -p "$W/jobs" "$W/nodes"
for j in warm b; do
	printf '{"schedule": "0 0 1 1 *", "concurrency": "allow",
 "retention": 1000000, "timeout": "120s",
 "amqp": {"url": "%s", "exchange": "bench", "body": "{\\"bench\\":true}"}}\n' \
	    "$AMQP_URL" >"$W/jobs/$j.json"
done
posts=$(python3 -c "print(' '.join(['b'] * $COUNT))")
echo "bench/amqp.sh: $COUNT messages per contender, $ROUNDS rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %14s %14s %8s\n' round "librabbitmq/s" "distcrond/s" ratio
: >"$W/ratios"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	set -- $("$W/amqpfloor" "$AMQP_URL" bench "$COUNT")
	floor=$(python3 -c "print('%.0f' % ($1 / $2))")
	rm -rf "$W/state"
	daemon_start "$W/jobs" "$W/nodes" "$W/state"
	curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$URL/jobs/warm/run" >/dev/null
	$BP wait "$W/state/distcron.db" warm "$(date +%s)" 1 30 >/dev/null
	set -- $($BP post "$URL" "$TOKEN" 4 $posts)
	t0=$1
	set -- $($BP wait "$W/state/distcron.db" burst "$t0" "$COUNT" 300)
	done_n=$1 last=$3 bad=$4
	kill "$bench_pid"; wait "$bench_pid" 2>/dev/null || true; bench_pid=
	rate=$(python3 -c "print('%.0f' % ($done_n / $last))")
	python3 -c "print('%.3f' % ($rate / $floor))" >>"$W/ratios"
	printf '%-6s %14s %14s %8s%s\n' "$r" "$floor" "$rate" \
	    "$(tail -1 "$W/ratios")" "$([ "$bad" -gt 0 ] && echo " ($bad failed)")"
	r=$((r + 1))
done
python3 -c "
import statistics, sys
v = [float(x) for x in open('$W/ratios')]
print('median distcrond / librabbitmq: %.3f' % statistics.median(v))"
