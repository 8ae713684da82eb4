#!/bin/sh
# debpkg.sh - the Debian package, for real on this machine: the tree's
# tracked files are built with the Dockerfile's dpkg-buildpackage command
# (nocheck, one job), lintian finds no error, dpkg -i installs it: the
# distcron user, the programs, config, unit, supervisor section and
# manuals in place, the state directory the user's and 0700, nothing
# started or enabled.  distcronctl check accepts the installed config; the
# installed daemon, started as the Dockerfile starts it (its entry point,
# as the distcron user), runs a job that proves whose it is; then
# dpkg --purge leaves none of the package's files, directories or state
# (the user stays, as Debian does).  Needs root and dpkg-buildpackage,
# debhelper and lintian; skipped when distcron is installed already (a
# package, or make install's files: an operator's is never touched) and
# in a sanitizer build.
. "$top_srcdir/tests/integration/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i)"
[ "${DC_SANITIZERS:-no}" = no ] ||
    skip "sanitizer build: the package is built with its own flags"
for p in dpkg-buildpackage dh lintian setpriv python3; do
	command -v "$p" >/dev/null ||
	    skip "$p missing (Debian dpkg-dev, debhelper, lintian, util-linux)"
done
if dpkg-query -W -f='${Status}' distcron 2>/dev/null | grep -qv 'not-installed'
then
	skip "a distcron package is installed here: not touching it"
fi
for f in /etc/distcron /var/lib/distcron /usr/sbin/distcrond; do
	[ -e "$f" ] && skip "$f exists (make install?): not touching it"
done
tmpdir_setup
D=$top_srcdir/Dockerfile
ctl=/usr/bin/distcronctl S=/var/lib/distcron
pid='' installed='' olduser=''
id distcron >/dev/null 2>&1 && olduser=1
unset DISTCRON_CONFIG DISTCRON_JOBS_DIR DISTCRON_NODES_DIR DISTCRON_STATE_DIR \
    DISTCRON_ALLOW_ROOT_JOBS DISTCRON_LISTEN DISTCRON_USER
# However it ends: the daemon stopped, the package purged if this test
# installed it, the user removed if this test made it.
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -f /etc/distcron/jobs.d/debpkg-test.json
	[ -n "$installed" ] && dpkg --purge distcron >/dev/null 2>&1
	[ -z "$olduser" ] && id distcron >/dev/null 2>&1 &&
	    userdel distcron 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

copy_tree "$T/src"
check "the tree is copied (debian/ and the Dockerfile in it)" \
    test -x "$T/src/debian/rules" -a -f "$T/src/Dockerfile"

# The Dockerfile's build command, with one make job (the suite runs
# beside us).
buildcmd=$(sed -n 's/^RUN \(dpkg-buildpackage .*\)$/\1/p' "$D")
check "the Dockerfile builds with dpkg-buildpackage -us -uc -b" \
    test "$buildcmd" = "dpkg-buildpackage -us -uc -b"
check "  on Debian 12, in both stages" \
    test "$(grep -c '^FROM debian:12\( AS build\)\{0,1\}$' "$D")" -eq 2
check "  its build dependencies are debian/control's (apt-get build-dep)" \
    grep -q '^RUN apt-get update && apt-get build-dep -y [-a-z ]*\./ ' "$D"
run sh -c "cd '$T/src' && DEB_BUILD_PROFILES=nocheck apt-get -s build-dep ./"
check "  which apt resolves" test "$rc" -eq 0
# shellcheck disable=SC2086
(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=1" \
    DEB_BUILD_PROFILES=nocheck $buildcmd) >"$T/build.log" 2>&1
rc=$?
check "dpkg-buildpackage -us -uc -b succeeds" test "$rc" -eq 0 ||
    tail -30 "$T/build.log"
want=$(sed -n 's/^AC_INIT(\[distcron\], \[\([^]]*\)\].*/\1/p' \
    "$top_srcdir/configure.ac")-1
deb=$(echo "$T"/distcron_*.deb)
check "it makes distcron_${want}_*.deb (configure.ac's version, -1)" \
    test -f "$deb" -a "$(dpkg-deb -f "$deb" Version)" = "$want"
[ -f "$deb" ] || finish

lintian "$deb" >"$T/lintian" 2>&1
check "lintian finds no error (E:)" sh -c "! grep '^E:' '$T/lintian'" ||
    cat "$T/lintian"

run dpkg -i "$deb" </dev/null
installed=1
check "dpkg -i installs it" test "$rc" -eq 0
check "the distcron user exists, with no login shell" \
    test "$(getent passwd distcron | cut -d: -f6,7)" = \
    "/var/lib/distcron:/usr/sbin/nologin"
for f in /usr/sbin/distcrond /usr/bin/distcronctl \
    /etc/distcron/distcrond.conf /etc/distcron/nodes.d/local.json \
    /lib/systemd/system/distcrond.service /etc/logrotate.d/distcron \
    /usr/share/distcron/supervisor/distcrond.conf \
    /usr/share/man/man8/distcrond.8.gz /usr/share/man/man1/distcronctl.1.gz \
    /usr/share/man/man5/distcron.json.5.gz \
    /usr/share/bash-completion/completions/distcronctl; do
	check "  $f is installed" test -f "$f"
done
check "  the supervisor section is not where supervisord loads it" \
    test ! -e /etc/supervisor/conf.d/distcrond.conf
check "  the example jobs are disabled" \
    test "$(grep -l '^  "enabled": false,$' /etc/distcron/jobs.d/*.json |
    wc -l)" -eq 3
check "/var/lib/distcron is distcron's, 0700" \
    test "$(stat -c '%U:%G %a' /var/lib/distcron)" = "distcron:distcron 700"
check "/var/log/distcron is distcron's, group adm, 0750" \
    test "$(stat -c '%U:%G %a' /var/log/distcron)" = "distcron:adm 750"
check "/etc/distcron/jobs.d is distcron's (the API writes job files)" \
    test "$(stat -c '%U:%G %a' /etc/distcron/jobs.d)" = "distcron:distcron 755"

# pkgd: the pids of the daemons run from the package's program.
pkgd() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/distcrond ] &&
		    echo "${p#/proc/}"
	done
}
check "nothing is started (no /usr/sbin/distcrond process)" \
    test -z "$(pkgd)"
check "  nor enabled (no multi-user.target.wants link)" test ! -e \
    /etc/systemd/system/multi-user.target.wants/distcrond.service
# dsh ACTION: deb-systemd-helper's answer for the unit, as dpkg asks.
dsh() {
	DPKG_MAINTSCRIPT_PACKAGE=distcron deb-systemd-helper --quiet "$1" \
	    distcrond.service
}
if command -v deb-systemd-helper >/dev/null; then
	check "  deb-systemd-helper knows the unit" dsh debian-installed
	check "  and says it was not enabled" test "$(dsh was-enabled; echo $?)" = 1
fi

run "$ctl" check
check "distcronctl check accepts the installed config" test "$rc" -eq 0

# A job of the operator's, every second: it says who runs it and leaves a
# mark in the state directory.
cat >/etc/distcron/jobs.d/debpkg-test.json <<'X'
{"policy": {"roles": ["local"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": ["/bin/sh", "-c", "id -un; : >/var/lib/distcron/debpkg.mark"]}
X
run "$ctl" check
check "  and with a job added" test "$rc" -eq 0

# The daemon as the container starts it: the Dockerfile's entry point as
# its user, the API on a free loopback port (the config says 8080).
entry=$(python3 -c 'import json, re, sys
t = open(sys.argv[1]).read()
print(" ".join(json.loads(re.search(r"^ENTRYPOINT (.*)$", t, re.M)[1])))' "$D")
check "the Dockerfile runs $entry as the distcron user" sh -c \
    "test '${entry%% *}' = /usr/sbin/distcrond && grep -qx 'USER distcron' '$D'"
# shellcheck disable=SC2086
DISTCRON_LISTEN=127.0.0.1:0 setpriv --reuid=distcron --regid=distcron \
    --init-groups -- $entry \
    >"$T/daemon.log" 2>&1 &
pid=$!
wait_for 15 finals_at_least debpkg-test 1
check "the installed daemon, as distcron, runs the job: SUCCESS" \
    py "final[0]['status'] == 'SUCCESS'" || cat "$T/daemon.log"
check "  as distcron (id -un)" \
    py "final[0]['items'][0]['output'].strip() == 'distcron'"
check "  its mark is distcron's" \
    test "$(stat -c %U /var/lib/distcron/debpkg.mark 2>&1)" = distcron
check "every file in /var/lib/distcron is distcron's" \
    test -z "$(find /var/lib/distcron ! -user distcron)"
# The API, as an operator uses it on the installed daemon: a job applied
# and deleted through it (the daemon, as distcron, writes jobs.d).
port=$(log_api_port "$T/daemon.log")
echo '{"policy": {"roles": ["local"]}, "schedule": "@daily",
 "command": "true"}' >"$T/api-job.json"
run "$ctl" apply "$T/api-job.json" --name debpkg-api --url "http://127.0.0.1:$port"
check "distcronctl apply through the installed daemon's API" \
    test "$rc" -eq 0 || cat "$T/out"
check "  wrote jobs.d/debpkg-api.json, distcron's" test \
    "$(stat -c %U /etc/distcron/jobs.d/debpkg-api.json 2>&1)" = distcron
run "$ctl" delete debpkg-api --url "http://127.0.0.1:$port"
check "  and distcronctl delete removes it" \
    sh -c "[ $rc -eq 0 ] && [ ! -e /etc/distcron/jobs.d/debpkg-api.json ]"
kill -TERM "$pid"
wait "$pid"
stop_rc=$?
pid=
check "the daemon stops cleanly" test "$stop_rc" -eq 0

# An upgrade (the same package again) keeps the state and an edited
# config file.
sed -i 's/^  "log_level": "info",$/  "log_level": "debug",/' \
    /etc/distcron/distcrond.conf
run dpkg -i "$deb" </dev/null
check "dpkg -i again (an upgrade) succeeds" test "$rc" -eq 0
check "  keeps the edited config file" \
    grep -q '"log_level": "debug",' /etc/distcron/distcrond.conf
check "  and the store, distcron's in its 0700 directory" test \
    "$(stat -c '%U %a' /var/lib/distcron /var/lib/distcron/distcron.db)" = \
    "$(printf 'distcron 700\ndistcron 600')"
rm -f /etc/distcron/jobs.d/debpkg-test.json
# What the daemon writes there when it accepts a new SSH host key.
echo '[127.0.0.1]:2222 ssh-ed25519 AAAA' >/etc/distcron/known_hosts

run dpkg --purge distcron </dev/null
check "dpkg --purge succeeds" test "$rc" -eq 0
installed=
for f in /etc/distcron /var/lib/distcron /var/log/distcron \
    /usr/sbin/distcrond /lib/systemd/system/distcrond.service \
    /usr/share/distcron; do
	check "  $f is gone" test ! -e "$f"
done
check "  dpkg -s says it is not installed" \
    sh -c '! dpkg -s distcron >/dev/null 2>&1'
check "  the distcron user stays" id distcron
finish
