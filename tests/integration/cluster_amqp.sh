#!/bin/sh
# cluster_amqp.sh - HACron ticks in cluster mode: three daemons on one etcd
# with the same three tick jobs firing every second, one RabbitMQ broker.
# Each tick is published once (the member that claims it publishes it):
# the consumer sees every tick id once, and the runs that published them
# are spread over the members.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_lib.sh"
. "$top_srcdir/tests/integration/cluster_lib.sh"
. "$top_srcdir/tests/integration/amqp_lib.sh"

cluster_setup
amqp_require
etcd_start 1
amqp_start
amqp_cat declare hacron fanout
for j in ta tb tc; do
	printf '{"schedule": {"cron": "* * * * * *"}, "timeout": "10s",
 "amqp": {"url": "%s", "tick": true}}\n' "$AMQP_URL" >"$J/$j.json"
done
rm -f "$T/ready"
amqp_cat consume hacron "" 30 40 "$T/ready" >"$T/msgs" 2>"$T/msgs.err" &
cons=$!
wait_for 10 test -e "$T/ready"
cluster_up 3
check "the three members see each other" wait_for 20 cluster_all_see 3
wait "$cons"
rc=$?
check "the consumer receives 30 ticks" test "$rc" -eq 0
once() {
	python3 - "$T/msgs" <<'PY'
import collections, json, sys
ids = [json.loads(json.loads(l)["body"])["id"] for l in open(sys.argv[1])]
dup = [i for i, n in collections.Counter(ids).items() if n > 1]
assert len(ids) == 30 and not dup, dup
PY
}
check "each tick is published once across the members" once
# Which member ran each job's published ticks: the runs' log lines.
spread() {
	test "$(grep -l 'job=t[abc] .*status=SUCCESS' "$T"/d[123].log |
	    wc -l)" -ge 2
}
check "the ticks are published by more than one member" spread
for i in 1 2 3; do
	cluster_stop "$i"
	check "member m$i stops cleanly" test "$stop_rc" -eq 0
done
finish
