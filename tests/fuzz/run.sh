#!/bin/sh
# run.sh FUZZER SECONDS: runs a libFuzzer target for SECONDS on its seed
# corpus (tests/fuzz/corpus/NAME) in a scratch copy; fails on any crash.
set -eu
fuzzer=$1
seconds=$2
name=$(basename "$fuzzer")
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus/$name
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp "$seeds"/* "$work/corpus/" 2>/dev/null || true
cd "$work"
# Stop on the first UBSan report instead of carrying on past it.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Leaks inside libssh2/OpenSSL are suppressed as for make check.
export LSAN_OPTIONS=suppressions=$here/../lsan.supp
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=10 corpus >fuzz.log 2>&1 || { tail -40 fuzz.log; exit 1; }
grep -E 'stat::number_of_executed_units|Done' fuzz.log | tail -2
