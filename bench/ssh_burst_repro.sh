#!/bin/sh
# ssh_burst_repro.sh - time to the last end of N runs of `true` started at
# once through the API on one SSH node (one local sshd with sshd's default
# MaxStartups 10:30:100), for each N given (default 8 60 120 300 1000).
# The job has concurrency allow and the node is warm from one earlier run.
# One JSON line per N (tests/integration/burst.py explains the fields),
# then the steady rate of runs eight at a time on the same node (sshrun seq,
# STEADY runs, default 2000) and, for each N, whether the last end came
# within the issue's bound: connection set-up (the cold first run) + N /
# (0.8 x the steady rate).
# Runs log in as a throwaway user whose login shell is /bin/sh; with
# REPRO_USER=self they log in as the user running the script, with that
# user's login shell and its start-up files (which every SSH session runs:
# bash reads ~/.bashrc when sshd starts it, even for "bash -c").
#
#   usage: bench/ssh_burst_repro.sh [N...]      (as root; build first)
#
# BUILD (default ./build-test) is the build directory holding distcrond.
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${BUILD:-$top_srcdir/build-test}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

api_setup
sshd_require
sshd_keygen_user ed25519
SSHD_LOGLEVEL=ERROR SSHD_MAXSTARTUPS=${REPRO_MAXSTARTUPS:-10:30:100} sshd_start 2
if [ "${REPRO_USER:-}" != self ]; then
	sshd_login_user "dcburst$$" /bin/sh
	SSHD_USER=dcburst$$
fi
sshd_known_hosts "$T/kh"
sshd_node_json 1 "$T/kh" >"$N/n1.json"
sshd_node_json 2 "$T/kh" >"$N/n2.json"
for n in 1 2; do
	printf '{"policy": {"nodes": ["n%s"]}, "schedule": "@yearly", "concurrency": "allow", "command": ["true"]}' \
	    "$n" >"$J/t$n.json"
done
api_daemon_start --log-level "${REPRO_LOGLEVEL:-info}" || exit 1
B=$top_srcdir/tests/integration/burst.py
python3 "$B" "$URL" "$TOKEN" t1 1 30 >"$T/cold.json"
for n in ${*:-8 60 120 300 1000}; do
	python3 "$B" "$URL" "$TOKEN" t1 "$n" 120 t2 | tee -a "$T/bursts.json" |
	    sed "s/^/N=$n /"
done
[ -z "${REPRO_LOG:-}" ] || cp "$T/daemon.log" "$REPRO_LOG"
api_daemon_stop
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$top_srcdir/include" -I"$top_builddir" \
    -o "$T/sshrun" "$top_srcdir/bench/sshrun.c" "$top_builddir/libdistcron.a" \
    $(pkg-config --libs json-c libcurl libssh2 libmicrohttpd sqlite3) \
    -pthread -lm || exit 1
"$T/sshrun" seq "$N" n1 "${STEADY:-2000}" 8 | tee "$T/steady.txt"
python3 - "$T/cold.json" "$T/bursts.json" "$T/steady.txt" <<'PY'
import json, re, sys
setup = json.load(open(sys.argv[1]))["last_s"]
rate = float(re.search(r"([0-9.]+) runs/s", open(sys.argv[3]).read()).group(1))
print("set-up %.3f s (cold first run), steady 8 at a time %.0f runs/s" %
      (setup, rate))
for line in open(sys.argv[2]):
    b = json.loads(line)
    bound = setup + b["n"] / (0.8 * rate)
    print("N=%-5d last end %7.3f s  bound %7.3f s  %s  (%d of %d succeeded)" % (
        b["n"], b["last_s"] or 0, bound,
        "holds" if b["last_s"] is not None and b["last_s"] <= bound
        else "EXCEEDED", b["success"], b["n"]))
PY
