#!/bin/sh
# Remote execution: distcron's SSH executor against the usual tools, on the same
# loopback sshd instances in the same run.
#
#   throughput  COUNT runs of `true` on one node: distcron (pooled channels, one
#               at a time and 8 at a time) vs one-shot `ssh` per command
#               (ONESHOT runs one at a time, 4 x ONESHOT 8 at a time) vs `ssh`
#               with a ControlMaster (one at a time and 8 at a time, xargs -P8)
#   fan-out     one run of `true` on NODES nodes at once: distcron cold (no
#               connection yet) and warm (connections pooled by the round
#               before) vs parallel-ssh (pssh) and pdsh, which connect each time
#
#   usage: bench/ssh.sh [COUNT] [NODES]     (defaults 1000 and 50)
#
# The OpenSSH client is held to the key exchange libssh2 1.10 negotiates
# (curve25519-sha256): OpenSSH 9's default post-quantum exchange costs the
# client ~70 ms of CPU per connection here and would flatter distcron.
# Logins use a dedicated account, distcron-bench (created if missing, shell
# /bin/sh), so that no login shell start-up files (root's .bashrc) weigh on
# either side.  Every sshd runs on 127.0.0.1 with a generated config.
. "$(dirname "$0")/common.sh"
COUNT=${1:-1000}
NODES=${2:-50}
ONESHOT=${ONESHOT:-50}
dc_install openssh-server openssh-client pssh pdsh
U=distcron-bench
if ! id "$U" >/dev/null 2>&1; then
	useradd -r -m -d /var/lib/$U -s /bin/sh "$U"
	usermod -p '*' "$U"	# no password, but not "locked" for sshd
fi
mkdir -p /run/sshd
cc $DC_CFLAGS -o "$W/sshrun" "$DC_TOP/bench/sshrun.c" $DC_LIBS

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
MaxStartups 200:30:400
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
trap 'stop_sshd; rm -rf "$W"' EXIT
for i in $(seq 50); do
	[ "$(ls "$W/pids" | wc -l)" -ge "$NODES" ] && break
	sleep 0.1
done

now() { python3 -c 'import time; print(time.time())'; }
# rate N SECONDS [KEY]: prints the rate; with KEY, also keeps it in $W/rates.
rate() {
	python3 -c "n, t = $1, $2; print('%d runs in %.3f s: %.1f runs/s' % (n, t, n / t))"
	[ -z "${3:-}" ] || python3 -c "print('$3', $1 / $2)" >>"$W/rates"
}
SSH="ssh -F $W/ssh_config"

echo "=== throughput: \`true\` on one node (sshd on 127.0.0.1)"
printf 'one-shot ssh, 1 at a time:        '
t=$(now); for _ in $(seq "$ONESHOT"); do $SSH n1 true; done
rate "$ONESHOT" "$(python3 -c "import time; print(time.time() - $t)")" oneshot1
printf 'one-shot ssh, 8 at a time:        '
t=$(now); seq "$((ONESHOT * 4))" | xargs -P8 -I{} $SSH n1 true
rate "$((ONESHOT * 4))" "$(python3 -c "import time; print(time.time() - $t)")" oneshot8
CM="-o ControlMaster=auto -o ControlPath=$W/cm-%C -o ControlPersist=300"
$SSH $CM n1 true
printf 'ssh ControlMaster, 1 at a time:   '
t=$(now); for _ in $(seq "$COUNT"); do $SSH $CM n1 true; done
rate "$COUNT" "$(python3 -c "import time; print(time.time() - $t)")"
printf 'ssh ControlMaster, 8 at a time:   '
t=$(now); seq "$COUNT" | xargs -P8 -I{} $SSH $CM n1 true
rate "$COUNT" "$(python3 -c "import time; print(time.time() - $t)")"
$SSH $CM -O exit n1 2>/dev/null || true
printf 'distcron pooled, 1 at a time:     '
"$W/sshrun" seq "$W/nodes" n1 "$COUNT" 1 | tee "$W/d1"
printf 'distcron pooled, 8 at a time:     '
"$W/sshrun" seq "$W/nodes" n1 "$COUNT" 8 | tee "$W/d8"
python3 - "$W" <<'PY'
import re, sys
w = sys.argv[1]
r = dict(l.split() for l in open(w + "/rates"))
for k in ("1", "8"):
    d = float(re.search(r"([0-9.]+) runs/s", open("%s/d%s" % (w, k)).read()).group(1))
    print("distcron / one-shot ssh, %s at a time: %.1fx" % (k, d / float(r["oneshot" + k])))
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
