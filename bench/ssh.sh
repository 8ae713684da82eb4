#!/bin/sh
# Remote execution: distcron's SSH executor against the usual tools, on the same
# loopback sshd instances in the same run.
#
#   throughput  COUNT runs of `true` on one node: distcron (pooled channels, one
#               at a time and 8 at a time) vs one-shot `ssh` per command
#               (ONESHOT runs one at a time, 4 x ONESHOT 8 at a time) vs `ssh`
#               with a ControlMaster (one at a time and 8 at a time, xargs -P8)
#   floor       the same COUNT runs by a bare blocking libssh2 client
#               (bench/sshfloor.c) whose channels "exec true": what a pooled
#               channel running the program `true` costs here, whoever drives it
#   fan-out     one run of `true` on NODES nodes at once: distcron cold (no
#               connection yet) and warm (connections pooled by the round
#               before) vs parallel-ssh (pssh) and pdsh, which connect each time
#
#   burst       runs started together through distcrond and its API: N runs
#               on one node (for N = 8, 60, 300, 1000 up to N; or the sizes
#               of a list such as 8,60,300), SPREAD (20) runs on each of
#               NODES nodes, SPREAD runs of a `hosts: all` job, and TICKS
#               (300) jobs due at the same second on one node, each against
#               the bound setup + runs / (0.8 x distcron's steady rate 8 at
#               a time) and against as many one-shot `ssh` 8 at a time
#               (bench/ssh_burst.sh)
#
#   usage: bench/ssh.sh [COUNT] [NODES]     (defaults 1000 and 50)
#          bench/ssh.sh burst [N] [NODES]   (defaults 1000 and 50)
#
# The throughput and burst measurements are taken in ROUNDS rounds (default
# 3), each round running every contender in turn, so that a slow spell of the
# machine falls on all of them; the ratios are per round, with their median.
#
# The OpenSSH client is held to the key exchange libssh2 1.10 negotiates
# (curve25519-sha256): OpenSSH 9's default post-quantum exchange costs the
# client ~70 ms of CPU per connection here and would flatter distcron.
# Logins use a dedicated account, distcron-bench (created if missing, shell
# /bin/sh), so that no login shell start-up files (root's .bashrc) weigh on
# either side.  Every sshd runs on 127.0.0.1 with a generated config.
. "$(dirname "$0")/common.sh"
MODE=compare
if [ "${1:-}" = burst ]; then
	MODE=burst
	shift
	BURST=${1:-1000}
fi
COUNT=${1:-1000}
NODES=${2:-50}
ONESHOT=${ONESHOT:-50}
# sshd's MaxStartups: room for the fan-out's 50 logins at once by default;
# the burst mode keeps sshd's own default, as an operator's node has it.
if [ "$MODE" = burst ]; then
	MAXSTARTUPS=${MAXSTARTUPS:-10:30:100}
else
	MAXSTARTUPS=${MAXSTARTUPS:-200:30:400}
fi
ROUNDS=${ROUNDS:-3}
dc_install openssh-server openssh-client pssh pdsh
U=distcron-bench
if ! id "$U" >/dev/null 2>&1; then
	useradd -r -m -d /var/lib/$U -s /bin/sh "$U"
	usermod -p '*' "$U"	# no password, but not "locked" for sshd
fi
mkdir -p /run/sshd
cc $DC_CFLAGS -o "$W/sshrun" "$DC_TOP/bench/sshrun.c" $DC_LIBS
cc $DC_CFLAGS -o "$W/sshfloor" "$DC_TOP/bench/sshfloor.c" $DC_LIBS

# ---- keys, sshd instances, node files, client config ----
ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$W/userkey"
cp "$W/userkey.pub" "$W/authorized_keys"
chmod 644 "$W/authorized_keys"
chmod 711 "$W"
mkdir -p "$W/nodes" "$W/pids"
ports=$(python3 - "$NODES" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
i=0
: >"$W/known_hosts"
: >"$W/ssh_config"
: >"$W/hosts"
for p in $ports; do
	i=$((i + 1))
	cat >"$W/sshd_$i.conf" <<EOF
ListenAddress 127.0.0.1
Port $p
HostKey $W/hostkey
PidFile $W/pids/$i
AuthorizedKeysFile $W/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxSessions 10
MaxStartups $MAXSTARTUPS
LogLevel ERROR
EOF
	/usr/sbin/sshd -f "$W/sshd_$i.conf" -E "$W/sshd_$i.log"
	printf '[127.0.0.1]:%s %s\n' "$p" "$(cut -d' ' -f1,2 "$W/hostkey.pub")" \
	    >>"$W/known_hosts"
	cat >"$W/nodes/n$i.json" <<EOF
{"roles": ["bench"], "connection_type": "ssh", "connection_options": {
 "ssh_user": "$U", "ssh_host": "127.0.0.1:$p",
 "ssh_private_key_file": "$W/userkey", "ssh_known_hosts_file": "$W/known_hosts"}}
EOF
	cat >>"$W/ssh_config" <<EOF
Host n$i
  HostName 127.0.0.1
  Port $p
EOF
	echo "n$i" >>"$W/hosts"
done
cat >>"$W/ssh_config" <<EOF
Host *
  User $U
  IdentityFile $W/userkey
  IdentitiesOnly yes
  UserKnownHostsFile $W/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  KexAlgorithms curve25519-sha256
EOF
stop_sshd() {
	for f in "$W"/pids/*; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
}
trap '[ -n "$bench_pid" ] && kill -9 $bench_pid 2>/dev/null
stop_sshd; rm -rf "$W"' EXIT
for i in $(seq 50); do
	[ "$(ls "$W/pids" | wc -l)" -ge "$NODES" ] && break
	sleep 0.1
done

now() { python3 -c 'import time; print(time.time())'; }
# rate KEY N SINCE: prints the rate of N runs since SINCE; keeps it in
# $W/rates as "KEY RATE".
rate() {
	python3 -c "import time; n, t = $2, time.time() - $3
print('%d runs in %.3f s: %.1f runs/s' % (n, t, n / t))
open('$W/rates', 'a').write('$1 %f\\n' % (n / t))"
}
SSH="ssh -F $W/ssh_config"
PORT1=${ports%% *}
CM="-o ControlMaster=auto -o ControlPath=$W/cm-%C -o ControlPersist=300"
if [ "$MODE" = burst ]; then
	. "$DC_TOP/bench/ssh_burst.sh"
	exit 0
fi

echo "=== throughput: \`true\` on one node (sshd on 127.0.0.1), $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	printf 'round %d one-shot ssh, 1 at a time:        ' "$r"
	t=$(now); for _ in $(seq "$ONESHOT"); do $SSH n1 true; done
	rate oneshot1 "$ONESHOT" "$t"
	printf 'round %d one-shot ssh, 8 at a time:        ' "$r"
	t=$(now); seq "$((ONESHOT * 4))" | xargs -P8 -I{} $SSH n1 true
	rate oneshot8 "$((ONESHOT * 4))" "$t"
	$SSH $CM n1 true
	printf 'round %d ssh ControlMaster, 1 at a time:   ' "$r"
	t=$(now); for _ in $(seq "$COUNT"); do $SSH $CM n1 true; done
	rate cm1 "$COUNT" "$t"
	printf 'round %d ssh ControlMaster, 8 at a time:   ' "$r"
	t=$(now); seq "$COUNT" | xargs -P8 -I{} $SSH $CM n1 true
	rate cm8 "$COUNT" "$t"
	$SSH $CM -O exit n1 2>/dev/null || true
	printf 'round %d distcron pooled, 1 at a time:     ' "$r"
	"$W/sshrun" seq "$W/nodes" n1 "$COUNT" 1 | tee "$W/d"
	sed -n 's/.*: \([0-9.]*\) runs\/s.*/distcron1 \1/p' "$W/d" >>"$W/rates"
	printf 'round %d floor: bare libssh2, exec true:   ' "$r"
	"$W/sshfloor" "$PORT1" "$U" "$W/userkey" "$COUNT" 'exec true' | tee "$W/d"
	sed -n 's/.*: \([0-9.]*\) runs\/s.*/floor1 \1/p' "$W/d" >>"$W/rates"
	printf 'round %d distcron pooled, 8 at a time:     ' "$r"
	"$W/sshrun" seq "$W/nodes" n1 "$COUNT" 8 | tee "$W/d"
	sed -n 's/.*: \([0-9.]*\) runs\/s.*/distcron8 \1/p' "$W/d" >>"$W/rates"
done
python3 - "$W/rates" <<'PY'
import statistics, sys
r = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    r.setdefault(k, []).append(float(v))
med = {k: statistics.median(v) for k, v in r.items()}
print("median runs/s: " + ", ".join("%s %.1f" % (k, med[k]) for k in
      ("oneshot1", "oneshot8", "cm1", "cm8", "floor1", "distcron1",
       "distcron8")))
def show(name, a, b):
    ratios = [x / y for x, y in zip(r[a], r[b])]
    print("%s: %s (median %.2fx)" % (name, " ".join("%.2fx" % x for x in ratios),
          statistics.median(ratios)))
show("floor / one-shot ssh, 1 at a time", "floor1", "oneshot1")
show("distcron / floor, 1 at a time", "distcron1", "floor1")
for k in ("1", "8"):
    ratios = [d / o for d, o in zip(r["distcron" + k], r["oneshot" + k])]
    print("distcron / one-shot ssh, %s at a time: %s (median %.1fx)" % (
        k, " ".join("%.1fx" % x for x in ratios), statistics.median(ratios)))
    ratios = [d / c for d, c in zip(r["distcron" + k], r["cm" + k])]
    print("distcron / ControlMaster, %s at a time: %s (median %.1fx)" % (
        k, " ".join("%.1fx" % x for x in ratios), statistics.median(ratios)))
PY

echo "=== fan-out: \`true\` on $NODES nodes at once"
"$W/sshrun" fanout "$W/nodes" 3 | sed 's/^/distcron /'
t=$(now)
parallel-ssh -h "$W/hosts" -p "$NODES" -t 60 -x "-F $W/ssh_config" true >/dev/null
python3 -c "import time; print('parallel-ssh: $NODES nodes in %.3f s' % (time.time() - $t))"
t=$(now)
PDSH_SSH_ARGS_APPEND="-F $W/ssh_config" pdsh -R ssh -f "$NODES" \
    -w "^$W/hosts" true
python3 -c "import time; print('pdsh:         $NODES nodes in %.3f s' % (time.time() - $t))"
