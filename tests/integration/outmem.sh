#!/bin/sh
# outmem.sh - the daemon-wide budget of captured output in memory
# (output_memory_max): with a budget far below output_limit, runs whose
# output passes it spill to files and their stored output is exactly what
# it would be in memory (head, marker, tail); /monitor and /metrics show
# the memory held and the spills; no spill file is left in the state
# directory.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
command -v seq >/dev/null || skip "seq missing"

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
# about 1.3 MB on stdout; output_limit keeps 512 KiB of head and of tail
cat >"$J/big.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly",
 "command": ["seq", "1", "200000"], "output_limit": "1M"}
X
# about 24 KB of output, then it waits: its capture stays in memory
cat >"$J/holder.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "@yearly",
 "command": ["sh", "-c", "seq 1 5000; exec sleep 30"]}
X
api_daemon_start --output-memory-max 64k || exit 1

# get PATH: the answer's body into $T/body (with the token)
get() {
	curl -sf -H "Authorization: Bearer $TOKEN" -o "$T/body" "$URL$1"
}
ids=
for n in 1 2 3; do
	curl -sf -X POST -H "Authorization: Bearer $TOKEN" -o "$T/body" \
	    "$URL/jobs/big/run" || break
	ids="$ids $(python3 -c "import json; print(json.load(open('$T/body'))['id'])")"
done
check "three runs started" test "$(echo $ids | wc -w)" -eq 3
final() {
	for id in $ids; do
		get "/runs/$id" && python3 -c "import json, sys
sys.exit(json.load(open('$T/body'))['status'] not in ('SUCCESS', 'FAILURE'))" ||
		    return 1
	done
}
check "the runs end" wait_for 30 final

curl -sf -X POST -H "Authorization: Bearer $TOKEN" -o "$T/body" \
    "$URL/jobs/holder/run"
holder=$(python3 -c "import json; print(json.load(open('$T/body'))['id'])")
holding() {
	get /monitor && python3 -c "import json, sys
sys.exit(not 23893 <= json.load(open('$T/body'))['output_memory_bytes'] <= 65536)"
}
check "/monitor: a running capture's memory held, within the budget" \
    wait_for 10 holding
get /metrics
check "/metrics: distcron_output_memory_bytes likewise" \
    grep -q '^distcron_output_memory_bytes [1-9][0-9]*$' "$T/body"
curl -sf -X DELETE -H "Authorization: Bearer $TOKEN" -o /dev/null \
    "$URL/runs/$holder"
ids="$ids $holder"
check "the cancelled run ends" wait_for 30 final

# what the output must be: seq's, with the middle cut as in memory
python3 - "$T/want" <<'PY'
import sys
s = "".join("%d\n" % i for i in range(1, 200001))
head, tail = s[:524288], s[-524288:]
open(sys.argv[1], "w").write(head + "\n[... distcron: %d bytes omitted ...]\n"
                             % (len(s) - 1048576) + tail)
PY
for id in ${ids% *}; do
	get "/runs/$id"
	python3 -c "import json
r = json.load(open('$T/body'))
open('$T/got', 'w').write(r['items'][0]['output'])" 2>/dev/null
	check "run $id: SUCCESS" python3 -c "import json, sys
sys.exit(json.load(open('$T/body'))['status'] != 'SUCCESS')"
	check "run $id: output intact past the memory budget" cmp -s "$T/want" "$T/got"
done
get /monitor
check "/monitor: captured output held in memory, back to 0" python3 -c "import json, sys
sys.exit(json.load(open('$T/body'))['output_memory_bytes'] != 0)"
check "/monitor: the spilled captures counted" python3 -c "import json, sys
sys.exit(json.load(open('$T/body'))['output_spilled'] < 3)"
get /metrics
check "/metrics: distcron_output_memory_bytes" grep -q '^distcron_output_memory_bytes 0$' "$T/body"
check "/metrics: distcron_output_spilled_total" \
    grep -q '^distcron_output_spilled_total [3-9]' "$T/body"
check "no spill file left in the state directory" \
    sh -c "! ls -A '$S' | grep -q outcap"
daemon_log_report "$T/daemon.log"
finish
