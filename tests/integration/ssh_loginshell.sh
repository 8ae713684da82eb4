#!/bin/sh
# ssh_loginshell.sh - remote runs for users whose login shell is not a
# POSIX shell: fish and tcsh (throwaway system users, removed at the end),
# and for one whose login shell is bash.
# Through a real sshd and the OpenSSH client, the remote command line
# (sshcmd_line): every argument byte for byte, words made to break out of
# fish's or csh's quoting, environment and working directory, exit codes,
# EOF on the channel killing the command, and a line of the longest length
# a shell takes.  Then the real daemon runs jobs on nodes that log in as
# those users: guarded lines on pooled connections with the guard running
# under the user's shell, a timeout the guard ends, and a command line too
# long for any shell refused with a message.  Each login shell is a small
# script of the same name that keeps every line sshd hands it and execs the
# real shell: fish's and tcsh's runs all get the line wrapped for /bin/sh,
# bash's the plain line once the connection's guard has named the shell
# (the first run, before the guard, is wrapped), all with the same words.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/sshd_lib.sh"

daemon_setup
mkline=$(find_bin tests/unit/sshcmd_line)
sshd_require
command -v pgrep >/dev/null 2>&1 || skip "pgrep not installed (procps)"
stop_daemon() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; }
chain_exit stop_daemon
sshd_keygen_user ed25519
sshd_start 1
KH=$T/known_hosts
sshd_known_hosts "$KH"
users="dcfish$$ dctcsh$$"
posix=dcbash$$
W=$T/w
mkdir -p "$W" "$T/shells"
chmod 1777 "$W"
# logged_shell USER REAL: USER's login shell, named as REAL, keeps each
# line it runs in $W/lines-USER (NUL-ended) and execs REAL.
logged_shell() {
	[ -x "$2" ] || skip "$2 not installed"
	printf '#!/bin/sh\nprintf "%%s\\0" "$2" >>%s\nexec %s "$@"\n' \
	    "$W/lines-$1" "$2" >"$T/shells/${2##*/}"
	chmod 755 "$T/shells" "$T/shells/${2##*/}"
	sshd_login_user "$1" "$T/shells/${2##*/}"
}
logged_shell "dcfish$$" /usr/bin/fish
logged_shell "dctcsh$$" /usr/bin/tcsh
logged_shell "$posix" /bin/bash
sshd_hostile_args "$T/want"
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! alive "$1"; }

# ---- the line through sshd and the OpenSSH client ----
for u in $users; do
	SSHD_USER=$u
	sshd_ssh 1 "$(xargs -0 "$mkline" -- printf '%s\0' <"$T/want")"
	check "$u: argv round trip exits 0" test "$rc" -eq 0
	check "$u: every argument arrives byte for byte" cmp -s "$T/want" "$T/out"
	check "$u: nothing on stderr" test ! -s "$T/err"

	p=$W/pwned-$u
	sshd_ssh 1 "$("$mkline" -- printf '[%s]\n' 'x\' "; touch $p #" \
	    "\\'; touch $p #" '!touch' "a
touch $p" '"; touch '"$p"'; "')"
	check "$u: words made to break out of fish's and csh's quotes" \
	    same "$T/out" "[x\\]
[; touch $p #]
[\\'; touch $p #]
[!touch]
[a
touch $p]
[\"; touch $p; \"]"
	check "$u: ... and nothing they held ran" test ! -e "$p"

	d="$W/$u it's a \"dir\" \$x!"
	mkdir -p "$d"
	sshd_ssh 1 "$("$mkline" -d "$d" -e "X=it's \$x \`y\` \\ !" -e 'Y=' -- \
	    /bin/sh -c 'pwd; printf "%s|%s\n" "$X" "$Y"')"
	check "$u: working directory and environment" same "$T/out" "$d
it's \$x \`y\` \\ !|"

	sshd_ssh 1 "$("$mkline" -s 'echo out; echo err >&2; exit 7')"
	check "$u: a shell command's exit code" test "$rc" -eq 7
	check "$u: its stdout" same "$T/out" "out"
	check "$u: its stderr, the marker stripped" same "$T/err" "err"

	rm -f "$W/pid"
	sshd_ssh_start 1 "$("$mkline" -g 1000 -- /bin/sh -c \
	    'echo $$ >"$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300' sh "$W/pid")"
	check "$u: the command runs while the channel is open" \
	    wait_for 10 test -s "$W/pid"
	spid=$(cat "$W/pid")
	check "$u: ... as the user" test "$(ps -o uid= -p "$spid")" -eq "$(id -u "$u")"
	sshd_ssh_eof
	sshd_ssh_wait
	check "$u: EOF on the channel kills it" wait_for 5 dead "$spid"

	# the longest line: "" costs 2 bytes, each letter 1 more
	base=$("$mkline" -- printf %s '' | wc -c)
	n=$((131071 - base))
	line=$("$mkline" -- printf %s "$(python3 -c "print('a' * $n)")")
	check "$u: a line of 131071 bytes" test "${#line}" -eq 131071
	sshd_ssh 1 "$line"
	check "$u: ... runs" test "$rc" -eq 0
	check "$u: ... with its argument whole" test "$(wc -c <"$T/out")" -eq "$n"
done
half=$(python3 -c "print('a' * 65536)")
run "$mkline" -- printf %s "$half" "$half"
check "a longer line is refused" test "$rc" -eq 1
check "... saying why" contains "$T/err" "longer than 131071 bytes"

# ---- the daemon, its pooled connections and their guards ----
rm -f "$W"/lines-*
for u in $users $posix; do
	SSHD_USER=$u
	sshd_node_json 1 "$KH" >"$N/$u.json"
done
# job NAME NODE [EXTRA_JSON_MEMBERS] <ARGV: one run a second of the
# NUL-ended words on stdin.
job() {
	python3 -c "import json, sys
argv = sys.stdin.buffer.read().decode().split('\0')[:-1]
json.dump(dict({'policy': {'nodes': ['$2']}, 'schedule': '* * * * * *',
 'command': argv}, **{$3}), open(sys.argv[1], 'w'))" "$J/$1.json"
}
python3 -c "import sys
w = open(sys.argv[1], 'rb').read().split(b'\0')[:-1]
open(sys.argv[2], 'wb').write(b''.join(b'[%s]' % x for x in w))" \
    "$T/want" "$T/want.out"
for u in $users $posix; do
	{ printf '%s\0' printf '[%s]'; cat "$T/want"; } | job "h-$u" "$u" "'max_runs': 4"
	printf '%s\0' /bin/sh -c 'trap "" TERM; sleep 3033 & while :; do sleep 1; done' |
	    job "t-$u" "$u" "'max_runs': 1, 'timeout': '1s', 'kill_grace': '1s'"
	{ printf '%s\0' printf %s; python3 -c "print('a' * 131072, end='\0')"; } |
	    job "l-$u" "$u" "'max_runs': 1"
done
"$daemon" --config /dev/null --jobs-dir "$J" --nodes-dir "$N" \
    --listen 127.0.0.1:0 --state-dir "$S" --shutdown-grace 2s \
    --log-level debug >>"$T/daemon.log" 2>&1 &
pid=$!

guard_of() { pgrep -u "$1" -f '[d]istcron-guard' >/dev/null; }
# forms USER EXPR: EXPR holds over the lines USER's shell ran: runs (all
# but the guard's), wrapped(LINE).
forms() {
	python3 -c "import sys
lines = open('$W/lines-$1', 'rb').read().split(b'\0')[:-1]
wrapped = lambda l: l.startswith(b\"exec /bin/sh -c '\")
runs = [l for l in lines if b'distcron-guard' not in l]
sys.exit(0 if ($2) else 1)"
}
for u in $users $posix; do
	check "$u: runs recorded" wait_for 20 finals_at_least "h-$u" 4
	check "$u: every run succeeds with every argument whole" py \
	    "all(r['status'] == 'SUCCESS' and r['items'][0]['output'] == open('$T/want.out', encoding='utf-8').read() and r['items'][0]['stderr'] == '' for r in final)"
	check "$u: the connection's guard runs under the user's shell" \
	    wait_for 10 guard_of "$u"
	if [ "$u" = "$posix" ]; then
		check "$u: its runs' lines are plain once the guard said bash" \
		    contains "$T/daemon.log" "login shell $T/shells/bash: runs send the plain line"
		check "$u: ... the first run's wrapped, before the guard" \
		    forms "$u" "wrapped(runs[0]) and len(runs) >= 5"
		check "$u: ... and every run's after the first plain one plain" \
		    forms "$u" "any(not wrapped(l) for l in runs) and all(not wrapped(l) for l in runs[[wrapped(l) for l in runs].index(False):])"
	else
		n=${u#dc}
		check "$u: the guard's shell is not taken for a POSIX one" \
		    contains "$T/daemon.log" "login shell $T/shells/${n%$$}: runs send the line wrapped for /bin/sh"
		check "$u: ... and every line sent is wrapped for /bin/sh" \
		    forms "$u" "len(runs) >= 5 and all(wrapped(l) for l in lines)"
	fi
	check "$u: the timed-out run is recorded" \
	    wait_for 20 finals_at_least "t-$u" 1
	check "$u: ... as timed out" py \
	    "final[0]['status'] == 'FAILURE' and 'timed out after 1s' in final[0]['items'][0]['error']"
	check "$u: ... and the guard killed what ignored TERM" \
	    wait_for 5 sh -c "! pgrep -u '$u' -f 'sleep 3033'"
	check "$u: a command line too long for a shell is recorded" \
	    wait_for 20 finals_at_least "l-$u" 1
	check "$u: ... as failed, saying why" py \
	    "final[0]['status'] == 'FAILURE' and 'longer than 131071 bytes' in final[0]['items'][0]['error']"
done
daemon_log_report "$T/daemon.log"
finish
