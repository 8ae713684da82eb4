#!/bin/sh
# distcheck.sh - make distcheck, for real, on a copy of the tracked tree:
# the tarball is made, unpacked read-only, configured out of tree, built,
# checked, installed into a scratch prefix, uninstalled leaving no file
# behind (distcheck's own check), and cleaned (distcleancheck).  Its make
# check runs a few tests only (TESTS below): the whole suite runs beside
# it, in this build and under the sanitizers.  Skipped in the sanitizer
# build (one run is enough).
. "$top_srcdir/tests/integration/lib.sh"

[ "${DC_SANITIZERS:-no}" = no ] ||
    skip "sanitizer build: make distcheck runs once, in the plain build"
for p in autoreconf make; do
	command -v "$p" >/dev/null || skip "$p missing"
done
tmpdir_setup
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
copy_tree "$T/src"
run sh -c "cd '$T/src' && ./autogen.sh"
check "autogen.sh" test "$rc" -eq 0 || cat "$T/err"
mkdir "$T/src/b"
run sh -c "cd '$T/src/b' && ../configure -q"
check "configure" test "$rc" -eq 0 || cat "$T/err"
# A make of its own: the TESTS of the make check running this test (in
# MAKEFLAGS) would otherwise reach distcheck's make check, which would run
# this test again.
run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src/b" distcheck \
    TESTS="tests/unit/test_buf tests/unit/test_config tests/integration/install.sh"
check "make distcheck passes" test "$rc" -eq 0 || tail -n 40 "$T/out" "$T/err"
check "  and says the archive is ready" \
    grep -q 'distcron-.* archives ready for distribution' "$T/out"
check "  distcron-*.tar.gz made" test -s "$(echo "$T"/src/b/distcron-*.tar.gz)"
finish
