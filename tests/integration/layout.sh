#!/bin/sh
# layout.sh - the source tree keeps the layering README's "Source layout"
# describes: each group of src/ includes the headers of the groups below it
# only (util at the bottom, depending on no daemon module), a header private
# to a module (src/GROUP/NAME_int.h) is included only beside it, every other
# header is include/distcron/NAME.h of a known group, and nothing names a
# header by a path that leaves its group.  Reads the sources; builds nothing.
. "$top_srcdir/tests/integration/lib.sh"

command -v python3 >/dev/null || skip "python3 missing"
tmpdir_setup

# layout_check TOP: checks the tree at TOP; prints each problem.
layout_check() {
	python3 - "$1" <<'PY'
import glob, os, re, sys
top = sys.argv[1]
os.chdir(top)
# What each group may include besides itself, bottom up.
allowed = {
    "util": set(),
    "defs": {"util"},
    "store": {"util", "defs"},
    "exec": {"util", "defs"},
    "run": {"util", "defs", "store", "exec"},
    "api": {"util", "defs", "store", "exec", "run"},
    "ctl": {"util", "defs", "store", "exec", "api"},
    "report": {"util", "defs", "store", "run", "api"},
    "cluster": {"util", "defs", "store", "exec", "run", "api"},
}
header_only = {"runhooks": "run", "outbox": "report"}	# include/distcron/ without a .c
bad = []
group_of = dict(header_only)
for c in glob.glob("src/*/*.c"):
    g = c.split("/")[1]
    if g not in allowed:
        bad.append("%s: src/%s/ is not a known group" % (c, g))
    group_of[os.path.basename(c)[:-2]] = g
for h in glob.glob("include/distcron/*.h"):
    if os.path.basename(h)[:-2] not in group_of:
        bad.append("%s: no group (no src/*/%s.c)" % (h, os.path.basename(h)[:-2]))
for h in glob.glob("src/**/*.h", recursive=True):
    if not h.endswith("_int.h"):
        bad.append("%s: a header in src/ is private and named *_int.h" % h)
files = [(f, f.split("/")[1]) for f in glob.glob("src/*/*.[ch]")]
files += [(h, group_of.get(os.path.basename(h)[:-2]))
          for h in glob.glob("include/distcron/*.h")]
for f, g in files:
    text = open(f).read()
    for inc in re.findall(r'#include "([^"]+)"', text):
        if inc == "config.h":		# configure's
            continue
        m = re.fullmatch(r"distcron/([a-z0-9_]+)\.h", inc)
        if m:
            dg = group_of.get(m.group(1))
            if g is not None and dg != g and dg not in allowed.get(g, set()):
                bad.append("%s (%s) includes %s (%s)" % (f, g, inc, dg))
        elif not (inc.endswith("_int.h") and "/" not in inc and
                  os.path.exists(os.path.join(os.path.dirname(f), inc))):
            bad.append("%s includes \"%s\": only distcron/NAME.h or a "
                       "NAME_int.h beside it" % (f, inc))
for line in bad:
    print("layout: " + line)
print("layout: %d files checked, %d problems" % (len(files), len(bad)))
sys.exit(1 if bad else 0)
PY
}

check "groups include only the groups below them; private headers stay beside their module" \
    layout_check "$top_srcdir"

# The check finds what it is there for: a helper reaching into the daemon,
# a private header used from another group.
mkdir -p "$T/tree"
cp -R "$top_srcdir/src" "$top_srcdir/include" "$T/tree/"
echo '#include "distcron/runner.h"' >>"$T/tree/src/util/buf.c"
echo '#include "../run/runner_int.h"' >>"$T/tree/src/api/api.c"
layout_check "$T/tree" >"$T/out" 2>&1 && rc=0 || rc=$?
check "a broken layout is refused" test "$rc" -eq 1
check "... naming the helper that includes a daemon header" \
    grep -q 'src/util/buf.c (util) includes distcron/runner.h (run)' "$T/out"
check "... and the private header used from elsewhere" \
    grep -q 'src/api/api.c includes "../run/runner_int.h"' "$T/out"
finish
