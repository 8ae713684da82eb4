#!/bin/sh
# systemd_unit.sh - the systemd unit that make builds with the configured
# paths (service/systemd/distcrond.service from etc/systemd/) passes
# systemd-analyze verify without a warning (its ExecStart pointed at the
# built daemon, since nothing is installed), and asks for what the README
# promises: Type=notify with a watchdog, the state directory and the
# sandbox.
. "$top_srcdir/tests/integration/lib.sh"

tmpdir_setup
daemon=$(find_bin distcrond)
command -v systemd-analyze >/dev/null ||
    skip "systemd-analyze missing (Debian package systemd)"
unit=$top_builddir/service/systemd/distcrond.service
[ -f "$unit" ] || skip "$unit not built (make all builds it)"
sed "s|^ExecStart=[^ ]*/distcrond |ExecStart=$daemon |" "$unit" \
    >"$T/distcrond.service"
check "ExecStart runs the daemon" grep -q "^ExecStart=$daemon --config " \
    "$T/distcrond.service"
(cd "$T" && systemd-analyze verify --man=no distcrond.service) \
    >"$T/out" 2>&1
rc=$?
check "systemd-analyze verify: exit 0" test "$rc" -eq 0
check "  and not a warning" test ! -s "$T/out"
for line in Type=notify WatchdogSec=30s StateDirectory=distcron \
    ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
    CapabilityBoundingSet= User=distcron KillMode=mixed; do
	check "the unit sets $line" grep -qx "$line" "$T/distcrond.service"
done
finish
