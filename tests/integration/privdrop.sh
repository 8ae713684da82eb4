#!/bin/sh
# privdrop.sh - the daemon's user: started as root with config user set to
# a throwaway user (made here with useradd, removed at exit), the daemon
# switches to it once its log file, socket and locked state directory are
# open, before it starts a thread or opens the store: every thread's uids
# and gids, the state directory (0700) and every file in it (0600) are
# that user's, and a local job runs as that user.  Without user, a local job of a daemon
# running as root is refused unless allow_root_jobs; an unknown user and
# a token file others can read stop the start with a message naming them.
# Needs root and useradd (else skipped).
. "$top_srcdir/tests/integration/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
command -v useradd >/dev/null || skip "useradd missing (Debian passwd)"
api_setup
U=dcpriv$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
    skip "useradd $U failed"
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; userdel "$U";
    rm -rf "$T"' EXIT
uid=$(id -u "$U")
chmod 755 "$T"		# the user reads the definitions under it

cat >"$N/local.json" <<'X'
{"roles": ["worker"], "connection_type": "local"}
X
cat >"$J/whoami.json" <<'X'
{"policy": {"roles": ["worker"]}, "schedule": "* * * * * *", "max_runs": 1,
 "command": ["/usr/bin/id", "-u"]}
X
# The outbox and a notification sink on: their threads start too.
cat >"$T/distcrond.conf" <<X
{"notify": {"webhook": {"url": "http://127.0.0.1:$(free_port)/hook"}}}
X
chmod 600 "$T/distcrond.conf"
unset DISTCRON_ALLOW_ROOT_JOBS
api_daemon_start --user "$U" --config "$T/distcrond.conf"
check "the daemon started as root with user $U" test -n "$PORT"
check "  says it runs as that user" \
    grep -q "running as user $U (uid $uid," "$T/daemon.log"
check "  the process's real, effective, saved and fs uids are $U's" \
    test "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" = \
    "$uid $uid $uid $uid"
check "  and it has no group of root's" sh -c \
    "! awk '/^Groups:/' /proc/$pid/status | grep -qw 0"
gid=$(id -g "$U")
check "  every thread's uids and gids are $U's" sh -c "n=0
for t in /proc/$pid/task/*/status; do
	n=\$((n + 1))
	awk '/^Uid:/ {print \$2, \$3, \$4, \$5}' \$t | grep -qx '$uid $uid $uid $uid' &&
	awk '/^Gid:/ {print \$2, \$3, \$4, \$5}' \$t | grep -qx '$gid $gid $gid $gid' ||
	exit 1
done
[ \$n -gt 2 ]"
L=$T/daemon.log
at() { grep -n "$1" "$L" | head -n 1 | cut -d: -f1; }
check "  it switched before starting the outbox and the API server" sh -c \
    "[ -n '$(at 'running as user')' ] && [ -n '$(at 'API listening')' ] &&
    [ -n '$(at 'no Elasticsearch')' ] &&
    [ '$(at 'running as user')' -lt '$(at 'no Elasticsearch')' ] &&
    [ '$(at 'running as user')' -lt '$(at 'API listening')' ]"
wait_for 10 finals_at_least whoami 1
check "a local job runs as that user (id -u prints $uid)" \
    py "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['output'].strip() == '$uid'"
check "the state directory is $U's, 0700" \
    test "$(stat -c '%U %a' "$S")" = "$U 700"
for f in distcron.db distcron.db-wal distcron.db-shm distcrond.lock api.token; do
	check "  $f is $U's, 0600" test "$(stat -c '%U %a' "$S/$f")" = "$U 600"
done
check "  and so is every other file in it" test -z "$(find "$S" ! -user "$U")"
api_daemon_stop
check "it stops cleanly as that user" test "$stop_rc" -eq 0

# A port below 1024: bound as root, served by the user's threads.
low=$(free_port 600 1000) || exit 99
api_daemon_start --user "$U" --listen "127.0.0.1:$low"
check "with user, the API listens on port $low (below 1024)" test "$PORT" = "$low"
req GET /jobs
check "  and answers, as $U" sh -c "[ '$code' = 200 ] &&
    awk '/^Uid:/ {print \$2}' /proc/$pid/status | grep -qx '$uid'"
api_daemon_stop

# Without user, as root: local jobs are refused unless allow_root_jobs.
rm -rf "$S"
api_daemon_start
wait_for 10 finals_at_least whoami 1
check "as root without allow_root_jobs, a local job is refused" \
    py "final[0]['status'] == 'FAILURE' and 'refused: a local job would run as root' in final[0]['items'][0]['error']"
api_daemon_stop
rm -rf "$S"
api_daemon_start --allow-root-jobs
wait_for 10 finals_at_least whoami 1
check "with allow_root_jobs it runs, as root" \
    py "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['output'].strip() == '0'"
api_daemon_stop

run timeout 20 "$daemon" --config /dev/null --jobs-dir "$J" \
    --nodes-dir "$N" --state-dir "$S" --user no-such-user-dc
check "an unknown user stops the start (exit 2)" test "$rc" -eq 2
check "  naming it" contains "$T/err" 'user "no-such-user-dc": no such user'

chmod 644 "$S/api.token"
run timeout 20 "$daemon" --config /dev/null --jobs-dir "$J" \
    --nodes-dir "$N" --state-dir "$S" --listen 127.0.0.1:0
check "a token file others can read stops the start" test "$rc" -eq 1
check "  naming the file and its mode" contains "$T/err" \
    "api token file $S/api.token: mode 0644 is readable by group or others"

# Started as the user itself (setpriv, no switch), or as another one.
real=$daemon
cat >"$T/asuser" <<X
#!/bin/sh
exec setpriv --reuid=$U --regid=$(id -g "$U") --init-groups "$real" "\$@"
X
chmod 755 "$T/asuser"
rm -rf "$S"
mkdir "$S"
chown "$U:" "$S"
daemon=$T/asuser
api_daemon_start --user "$U"
daemon=$real
check "started as $U with user $U, it runs" test -n "$PORT"
check "  without switching" sh -c "! grep -q 'running as user' '$T/daemon.log'"
wait_for 10 finals_at_least whoami 1
check "  its local job runs as $U" \
    py "final[0]['status'] == 'SUCCESS' and final[0]['items'][0]['output'].strip() == '$uid'"
api_daemon_stop
run timeout 20 setpriv --reuid=nobody --regid="$(id -g nobody)" \
    --clear-groups "$real" --config /dev/null --jobs-dir "$J" \
    --nodes-dir "$N" --state-dir "$S" --user "$U"
check "started as another user (nobody), it refuses (exit 2)" test "$rc" -eq 2
check "  saying why" contains "$T/err" \
    "user \"$U\" (uid $uid): started as uid $(id -u nobody), which cannot switch to it"
finish
