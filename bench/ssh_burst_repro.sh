#!/bin/sh
# ssh_burst_repro.sh - time to the last end of N runs of `true` started at
# once through the API on one SSH node (one local sshd with sshd's default
# MaxStartups 10:30:100), for each N given (default 8 60 120 300 1000).
# The job has concurrency allow and the node is warm from one earlier run.
# One JSON line per N (tests/integration/burst.py explains the fields).
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
python3 "$top_srcdir/tests/integration/burst.py" "$URL" "$TOKEN" t1 1 30 >/dev/null
for n in ${*:-8 60 120 300 1000}; do
	printf 'N=%s ' "$n"
	python3 "$top_srcdir/tests/integration/burst.py" "$URL" "$TOKEN" t1 "$n" 120 t2
done
[ -z "${REPRO_LOG:-}" ] || cp "$T/daemon.log" "$REPRO_LOG"
