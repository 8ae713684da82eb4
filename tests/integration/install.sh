#!/bin/sh
# install.sh - make install lays distcron out as a package would (in a
# DESTDIR, with prefix /usr, sysconfdir /etc, localstatedir /var): the
# programs, the config naming the installed directories, the example jobs
# disabled, a private state directory; make uninstall takes it all away
# again except what the operator made, added or edited.  Installed over an
# installation, an edited config or job is kept and this version's goes
# beside it as FILE.new.  Then what make distcheck
# needs, cheaply: the distribution holds every file git tracks (but
# .gitignore), and a VPATH build configured from it finds every file it
# needs (make -n: nothing compiled).  The real make distcheck is slow and
# is run by hand (README, Building and installing).
. "$top_srcdir/tests/integration/lib.sh"

tmpdir_setup
ctl=$(find_bin distcronctl)
find_bin distcrond >/dev/null
R=$T/root
DIRS="prefix=/usr sysconfdir=/etc localstatedir=/var"

# mk ARG...: make in the build tree, apart from the make check running us.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s "$@"
}

# What a system has before distcron: the standard directories (those of
# man-db, bash-completion, logrotate, supervisor and systemd included:
# make uninstall leaves them).
mkdir -p "$R/usr/bin" "$R/usr/sbin" "$R/usr/share" "$R/etc" "$R/var/lib" \
    "$R/usr/share/man/man1" "$R/usr/share/man/man5" "$R/usr/share/man/man8" \
    "$R/usr/share/bash-completion/completions" "$R/etc/logrotate.d" \
    "$R/etc/supervisor/conf.d" "$R/usr/lib/systemd/system"
(cd "$R" && find . | sort) >"$T/before"

# shellcheck disable=SC2086
run mk -C "$top_builddir" install DESTDIR="$R" $DIRS
check "make install succeeds" test "$rc" -eq 0
(cd "$R" && find . -type f | sort) >"$T/files"
cat >"$T/want" <<'EOF'
./etc/distcron/distcrond.conf
./etc/distcron/jobs.d/disk-usage.json
./etc/distcron/jobs.d/heartbeat.json
./etc/distcron/jobs.d/hello.json
./etc/distcron/nodes.d/local.json
./etc/logrotate.d/distcron
./etc/supervisor/conf.d/distcrond.conf
./usr/bin/distcronctl
./usr/lib/systemd/system/distcrond.service
./usr/sbin/distcrond
./usr/share/bash-completion/completions/distcronctl
./usr/share/distcron/kibana/distcron.ndjson
./usr/share/man/man1/distcronctl.1
./usr/share/man/man5/distcron.json.5
./usr/share/man/man8/distcrond.8
EOF
check "installs the programs, the config, jobs, node, Kibana objects, manuals, completion and service files" \
    cmp "$T/want" "$T/files" || diff "$T/want" "$T/files"

mode() { stat -c %a "$R$1"; }
check "distcrond and distcronctl are 755" \
    test "$(mode /usr/sbin/distcrond) $(mode /usr/bin/distcronctl)" = "755 755"
check "the state directory /var/lib/distcron is made, 0700" \
    test "$(mode /var/lib/distcron)" = 700
check "the config and definitions are 644 (they hold no secret)" \
    test "$(mode /etc/distcron/distcrond.conf) \
$(mode /etc/distcron/jobs.d/hello.json)" = "644 644"
C=$R/etc/distcron/distcrond.conf
check "the installed config names the installed jobs directory" \
    contains "$C" '"jobs_dir": "/etc/distcron/jobs.d"'
check "... nodes directory" contains "$C" '"nodes_dir": "/etc/distcron/nodes.d"'
check "... and state directory" contains "$C" '"state_dir": "/var/lib/distcron"'

n=0
for f in "$R"/etc/distcron/jobs.d/*.json; do
	grep -q '^  "enabled": false,$' "$f" && n=$((n + 1))
done
check "the 3 example jobs are installed disabled" test "$n" -eq 3
check "... the source tree's stay enabled (scripts/start runs them)" \
    sh -c "! grep -q enabled '$top_srcdir'/jobs.d/*.json"
run "$ctl" check --config /dev/null --jobs-dir "$R/etc/distcron/jobs.d" \
    --nodes-dir "$R/etc/distcron/nodes.d"
check "distcronctl check accepts the installed definitions" test "$rc" -eq 0

# shellcheck disable=SC2086
run mk -C "$top_builddir" uninstall DESTDIR="$R" $DIRS
check "make uninstall succeeds" test "$rc" -eq 0
(cd "$R" && find . | sort) >"$T/after"
check "make uninstall leaves no file or directory of its own behind" \
    cmp "$T/before" "$T/after" || diff "$T/before" "$T/after"

# Installing over an installation: what the operator edited stays (the
# config, an example job they enabled), this version's goes beside it as
# FILE.new and the output says so; what they left as it was is updated.
# shellcheck disable=SC2086
mk -C "$top_builddir" install DESTDIR="$R" $DIRS >/dev/null 2>&1
cp "$C" "$T/conf.fresh"
sed -i 's|^  "log_level": .*|  "log_level": "debug",|' "$C"
H=$R/etc/distcron/jobs.d/hello.json
sed -i '/^  "enabled": false,$/d' "$H"
cp "$C" "$T/conf.edited"
cp "$H" "$T/hello.edited"
check "(the test edited the config)" sh -c "! cmp -s '$C' '$T/conf.fresh'"
# shellcheck disable=SC2086
run mk -C "$top_builddir" install DESTDIR="$R" $DIRS
check "make install over it succeeds" test "$rc" -eq 0
check "  keeps the edited config" cmp "$T/conf.edited" "$C"
check "  and the example job the operator enabled" cmp "$T/hello.edited" "$H"
check "  installs this version's config beside it as distcrond.conf.new" \
    cmp "$T/conf.fresh" "$C.new"
check "  and the job's as hello.json.new" \
    grep -q '^  "enabled": false,$' "$H.new"
check "  says so" contains "$T/out" \
    "$C differs from this version's (edited?): kept; this version's is $C.new"
check "  and adds nothing else" test "$(cd "$R" && find . -name '*.new' |
    sort | tr '\n' ' ')" = "./etc/distcron/distcrond.conf.new ./etc/distcron/jobs.d/hello.json.new "
# shellcheck disable=SC2086
run mk -C "$top_builddir" uninstall DESTDIR="$R" $DIRS
check "make uninstall then keeps the edited config and job" \
    cmp "$T/conf.edited" "$C" && cmp "$T/hello.edited" "$H"
check "  saying so" contains "$T/out" "$C differs from this version's (edited?): kept"
check "  and removes the rest, the .new files too" test "$(cd "$R/etc/distcron" &&
    find . -type f | sort | tr '\n' ' ')" = "./distcrond.conf ./jobs.d/hello.json "
rm "$C" "$H"
# shellcheck disable=SC2086
mk -C "$top_builddir" uninstall DESTDIR="$R" $DIRS >/dev/null 2>&1

# What the operator added stays: a job of theirs, the store.
# shellcheck disable=SC2086
mk -C "$top_builddir" install DESTDIR="$R" $DIRS >/dev/null 2>&1
echo '{}' >"$R/etc/distcron/jobs.d/mine.json"
echo x >"$R/var/lib/distcron/distcron.db"
# shellcheck disable=SC2086
mk -C "$top_builddir" uninstall DESTDIR="$R" $DIRS >/dev/null 2>&1
check "uninstall keeps a job the operator added" \
    test -f "$R/etc/distcron/jobs.d/mine.json"
check "... and the store" test -f "$R/var/lib/distcron/distcron.db"
check "... and removes the rest" test ! -e "$R/etc/distcron/distcrond.conf" \
    -a ! -e "$R/etc/distcron/nodes.d" -a ! -e "$R/usr/share/distcron"

# The distribution: every tracked file, and enough to build from it.
run mk -C "$top_builddir" distdir distdir="$T/dist"
check "make distdir succeeds" test "$rc" -eq 0
if git -C "$top_srcdir" ls-files >"$T/tracked" 2>/dev/null &&
    [ -s "$T/tracked" ]; then
	grep -v -x -e .gitignore "$T/tracked" | while read -r f; do
		[ -e "$T/dist/$f" ] || echo "$f"
	done >"$T/missing"
	check "the distribution holds every file git tracks" \
	    test ! -s "$T/missing" || cat "$T/missing"
fi
mkdir "$T/vpath"
run sh -c "cd '$T/vpath' && '$T/dist/configure' -q"
check "the distribution configures in another directory (VPATH)" \
    test "$rc" -eq 0
run mk -C "$T/vpath" -n all check
check "  and its build finds every file it needs" test "$rc" -eq 0
finish
