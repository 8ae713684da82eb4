# Sourced by the benchmarks: builds distcron (optimised, no sanitizers) in
# build-bench/ and provides small helpers.  Benchmarks print figures; they
# never pass or fail on a time.
set -eu
DC_TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$DC_TOP/scripts/deps.sh"
dc_install $DC_BUILD_PKGS python3
B=$DC_TOP/build-bench
dc_build "$B" CFLAGS="-O2 -g"
DC_CFLAGS="-O2 -std=gnu11 -D_GNU_SOURCE -I$DC_TOP/include -I$B"
DC_LIBS="$B/libdistcron.a $(pkg-config --libs json-c libcurl libssh2 libmicrohttpd sqlite3) -pthread -lm"
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
