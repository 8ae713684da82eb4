# Sourced by the benchmarks: builds distcron (optimised, no sanitizers) in
# build-bench/ and provides small helpers.  Benchmarks print figures; they
# never pass or fail on a time.  With DC_BENCH_BUILD (a build directory) and
# DC_BENCH_SRC (its source tree) set, as bench/ab.sh does for its "before"
# runs, the benchmark uses that build instead.
set -eu
DC_TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$DC_TOP/scripts/deps.sh"
dc_install $DC_BUILD_PKGS python3
if [ -n "${DC_BENCH_BUILD:-}" ]; then
	B=$DC_BENCH_BUILD
	DC_SRC=$DC_BENCH_SRC
else
	B=$DC_TOP/build-bench
	DC_SRC=$DC_TOP
	dc_build "$B" CFLAGS="-O2 -g"
fi
DC_CFLAGS="-O2 -std=gnu11 -D_GNU_SOURCE -I$DC_SRC/include -I$B"
DC_LIBS="$B/libdistcron.a $(pkg-config --libs json-c libcurl libssh2 libmicrohttpd sqlite3 zlib librabbitmq) -pthread -lm"
# The benchmark machines run them as root: their jobs may run as root.
export DISTCRON_ALLOW_ROOT_JOBS=true
W=$(mktemp -d "${TMPDIR:-/tmp}/distcron-bench.XXXXXX")
bench_pid=
trap '[ -n "$bench_pid" ] && kill -9 $bench_pid 2>/dev/null; rm -rf "$W"' EXIT

# percentiles FILE: prints "n=N p50=X p99=Y max=Z" of the numbers in FILE.
percentiles() {
	python3 - "$1" <<'PY'
import sys
v = sorted(float(x) for x in open(sys.argv[1]) if x.strip())
if not v:
    print("n=0"); sys.exit()
q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
print("n=%d p50=%.2f p99=%.2f max=%.2f" % (len(v), q(.5), q(.99), v[-1]))
PY
}

# daemon_start JOBS_DIR NODES_DIR STATE_DIR [FLAG...]: starts distcrond (its
# log in STATE_DIR/daemon.log) with the API on a free loopback port and waits
# until it answers; sets bench_pid, URL and TOKEN (the API token).
daemon_start() {
	ds_jobs=$1 ds_nodes=$2 ds_state=$3
	shift 3
	mkdir -p "$ds_state"
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	URL=http://127.0.0.1:$PORT
	ds_log=$ds_state/daemon.log
	"$B/distcrond" --config /dev/null --jobs-dir "$ds_jobs" \
	    --nodes-dir "$ds_nodes" --state-dir "$ds_state" \
	    --listen "127.0.0.1:$PORT" --log-level warn "$@" 2>"$ds_log" &
	bench_pid=$!
	ds_n=0
	until curl -fsS "$URL/health" >/dev/null 2>&1 && [ -s "$ds_state/api.token" ]; do
		ds_n=$((ds_n + 1))
		if [ "$ds_n" -gt 100 ] || ! kill -0 $bench_pid 2>/dev/null; then
			echo "error: no API on $URL after 10 s (does this distcrond serve it?)" >&2
			tail -5 "$ds_log" >&2
			exit 1
		fi
		sleep 0.1
	done
	TOKEN=$(cat "$ds_state/api.token")
}
