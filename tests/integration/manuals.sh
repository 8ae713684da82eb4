#!/bin/sh
# manuals.sh - the manuals, the table of settings and distcronctl's help
# and bash completion, as a user meets them: each manual renders without a
# warning; the table of settings in distcrond(8), distcron.json(5) and
# README.md is what "distcrond --help-table" prints (the table --help
# prints); every setting of the table is accepted by the config file and
# etc/distcrond.conf documents the same keys; each typed setting is read
# from its variable; tokens from the environment work and never reach the
# log; distcronctl(1) lists the commands "distcronctl help" lists, each
# with help; every job and node field the parser reads is described; and
# the completion function, driven in bash, completes commands, options and
# job names from the API or, with no daemon answering, the jobs directory.
. "$top_srcdir/tests/integration/lib.sh"

api_setup
command -v man >/dev/null || skip "man missing (Debian man-db)"
command -v groff >/dev/null || skip "groff missing (Debian groff-base)"
command -v bash >/dev/null || skip "bash missing"
MAN=$top_builddir/man
COMPLETION=$top_srcdir/etc/bash_completion.d/distcronctl

# quiet: the last run succeeded and printed nothing on stderr.
quiet() { test "$rc" -eq 0 && test ! -s "$T/err"; }

# holds FILE PART: FILE holds the whole text of PART, in one piece.
holds() {
	python3 -c 'import sys; a, b = (open(f).read() for f in sys.argv[1:])
sys.exit(0 if b and b in a else 1)' "$1" "$2"
}

# ---- the manuals render without warnings

for m in distcrond.8 distcronctl.1 distcron.json.5; do
	check "$m is built" test -s "$MAN/$m"
	run env LC_ALL=C MANWIDTH=80 man --warnings -l "$MAN/$m"
	check "man --warnings -l $m: no warning" quiet
	check "man -l $m: a page of text" test "$(wc -l <"$T/out")" -gt 40
	run groff -ww -z -t -man "$MAN/$m"
	check "groff -ww $m: no warning" quiet
done

# ---- one table of settings: --help, the manuals, README

"$daemon" --help-table=man >"$T/table.man"
"$daemon" --help-table=md >"$T/table.md"
check "distcrond.8 holds the generator's table" holds "$MAN/distcrond.8" "$T/table.man"
check "distcron.json.5 holds the generator's table" \
    holds "$MAN/distcron.json.5" "$T/table.man"
sed -n '/^<!-- settings table: begin -->$/,/^<!-- settings table: end -->$/p' \
    "$top_srcdir/README.md" | sed '1d;$d' >"$T/readme.md"
run diff -u "$T/readme.md" "$T/table.md"
check "README's table is distcrond --help-table=md (make update-readme-table)" \
    test "$rc" -eq 0
run "$daemon" --help-table=troff
check "--help-table: another format is refused, naming it" \
    contains "$T/err" 'unknown format "troff" (man or md)'

# the keys: in the table's first column; the flags and variables of --help
sed -n 's/^| `\([a-z_.]*\)` |.*/\1/p' "$T/table.md" >"$T/keys"
check "the table lists the settings" test "$(wc -l <"$T/keys")" -gt 30
"$daemon" --help >"$T/help"
sed -n 's/^| [^|]*| `\([A-Z_]*\)` | `\(--[a-z-]*\).*/\1 \2/p' "$T/table.md" \
    >"$T/envflags"
missing=
while read -r var flag; do
	grep -q -e "^  $flag[ =]" "$T/help" && grep -q -e "env $var)" "$T/help" ||
	    missing="$missing $var/$flag"
done <"$T/envflags"
check "--help shows every variable and flag of the table (missing:$missing)" \
    test -z "$missing" -a -s "$T/envflags"

# etc/distcrond.conf documents every key of the table, and no other (a
# key "s.k" of the table is the member "k" of the object "s")
CONF=$top_srcdir/etc/distcrond.conf
# conf_object S: the lines of the object "S" of etc/distcrond.conf
conf_object() { sed -n "/^  \"$1\": {/,/^  }/p" "$CONF"; }
missing=
while read -r k; do
	case $k in
	*.*) conf_object "${k%%.*}" | grep -q "^    \"${k#*.}\":" ;;
	*) grep -q "\"$k\":" "$CONF" ;;
	esac || missing="$missing $k"
done <"$T/keys"
check "etc/distcrond.conf names every key of the table (missing:$missing)" \
    test -z "$missing"
extra=
for k in $(sed -n 's/^  "\([a-z_]*\)":.*/\1/p' "$CONF"); do
	grep -qx "$k" "$T/keys" || grep -q "^$k\." "$T/keys" ||
	    extra="$extra $k"
	for s in $(conf_object "$k" | sed -n 's/^    "\([a-z_]*\)":.*/\1/p'); do
		grep -qx "$k.$s" "$T/keys" || extra="$extra $k.$s"
	done
done
check "every key of etc/distcrond.conf is in the table (not:$extra)" test -z "$extra"

# every key of the table is one the config file accepts
python3 - "$T/table.md" "$T/all.conf" <<'PY'
import json, re, sys
conf = {}
for line in open(sys.argv[1]):
    m = re.match(r'\| `([a-z_.]+)` \| (`[A-Z_]+`|file only) \|[^|]*\| (\S+) \|', line)
    if not m:
        continue
    key, default = m.group(1), m.group(3)
    if m.group(2) == 'file only':
        conf[key] = {'smtp': {'url': 'smtp://127.0.0.1:25', 'from': 'a@example.org'},
                     'statsd': {'host': '127.0.0.1'}}.get(key, {})
        continue
    v = default.strip('`').strip('"')
    if v.startswith('$('):
        v = '/tmp'
    section, _, sub = key.rpartition('.')
    (conf.setdefault(section, {}) if section else conf)[sub] = (
        v == 'true' if v in ('true', 'false') else
        int(v) if re.fullmatch(r'-?[0-9]+', v) else v)
json.dump(conf, open(sys.argv[2], 'w'))
PY
run "$ctl" check --config "$T/all.conf" --jobs-dir "$J" --nodes-dir "$N"
check "a config file with every key of the table loads without a warning" quiet
printf '{"no_such_key": 1}\n' >"$T/unknown.conf"
run "$ctl" check --config "$T/unknown.conf" --jobs-dir "$J" --nodes-dir "$N"
check "(a key not in the table is warned about)" contains "$T/err" no_such_key

# each typed setting is read from its variable: a bad value is refused,
# naming the environment and the key
: >"$T/empty.conf"
missing=
while IFS='|' read -r _ key var _ def _; do
	key=$(echo "$key" | tr -d ' `') var=$(echo "$var" | tr -d ' `')
	def=$(echo "$def" | tr -d ' `"')
	case $var in DISTCRON_CONFIG | DISTCRON_*_DIR | [!D]*) continue ;; esac
	echo "$def" | grep -Eqx '[0-9]+[a-zA-Z]*|true|false|info' || continue
	env "$var=x!y" "$ctl" check --config "$T/empty.conf" --jobs-dir "$J" \
	    --nodes-dir "$N" >/dev/null 2>"$T/err"
	grep -q "environment: $key: " "$T/err" || missing="$missing $var"
done <"$T/table.md"
check "every typed setting's variable is read and checked (not:$missing)" \
    test -z "$missing"

# ---- distcronctl help and distcronctl(1)

bash -c '. "$1"; _distcronctl_cmds "$2"' cmds "$COMPLETION" "$ctl" | sort \
    >"$T/cmds"
sed -n '/^\.SH COMMANDS/,/^\.SH ENVIRONMENT/{/^\.TP/{n;s/^\.BI\{0,1\} "\{0,1\}\([a-z][a-z]*\).*/\1/p;};}' \
    "$top_srcdir/man/distcronctl.1.in" | sort >"$T/mancmds"
run diff -u "$T/cmds" "$T/mancmds"
check "distcronctl(1) lists the commands of distcronctl help" \
    test "$rc" -eq 0 -a "$(wc -l <"$T/cmds")" -gt 10
nohelp=
for c in $(cat "$T/cmds"); do
	run "$ctl" help "$c"
	[ "$rc" -eq 0 ] && head -n 1 "$T/out" | grep -q "^usage: distcronctl $c " &&
	    [ -n "$(sed -n 2p "$T/out")" ] || nohelp="$nohelp $c"
done
check "distcronctl help CMD: a synopsis and a summary for each (not:$nohelp)" \
    test -z "$nohelp"
run "$ctl" help frobnicate
check "distcronctl help: an unknown command is a usage error" \
    test "$rc" -eq 2

# ---- distcron.json(5) describes every field the parsers read: jobs and
# nodes (defs.c), the config file's sections (config.c, es_config.c)

missing=
for f in $(sed -n -e 's/.*JFIELD_\(ENTRY\|KNOWN\)("\([a-z_]*\)".*/\2/p' \
    -e 's/.*\.key = "\([a-z_]*\)".*/\1/p' "$top_srcdir/src/defs/defs.c" \
    "$top_srcdir/src/defs/config.c" "$top_srcdir/src/report/es_config.c" |
    sort -u); do
	grep -qw -e "$f" "$MAN/distcron.json.5" || missing="$missing $f"
done
check "distcron.json(5) describes every field of job, node and config files (missing:$missing)" \
    test -z "$missing"

# ---- the daemon: tokens from the environment work and are never logged

cat >"$N/local.json" <<'JSON'
{"roles": ["main"], "connection_type": "local"}
JSON
for j in alpha beta; do
	printf '{"policy": {"roles": ["main"]}, "schedule": "@yearly", "command": ["true"]}\n' \
	    >"$J/$j.json"
done
mkdir "$T/other"
cp "$J/alpha.json" "$T/other/gamma.json"
ENV_TOKEN=tok-env-7f3a91c2 ENV_READ=rtok-env-5b8e0d44
export DISTCRON_API_TOKEN="$ENV_TOKEN" DISTCRON_API_READ_TOKEN="$ENV_READ"
api_daemon_start 2>/dev/null
unset DISTCRON_API_TOKEN DISTCRON_API_READ_TOKEN
TOKEN=$ENV_TOKEN
req GET /jobs
check "the API takes the token from DISTCRON_API_TOKEN" status_is 200
TOKEN=$ENV_READ
req GET /jobs
check "and the read token from DISTCRON_API_READ_TOKEN" status_is 200
TOKEN=$ENV_TOKEN
check "no api.token generated when the environment gives one" \
    test ! -e "$S/api.token"

# ---- bash completion

# comp WORD...: completes the last WORD of the line as bash would (the
# first is the program): the candidates, sorted, one a line, in $T/out.
comp() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    _distcronctl; [ ${#COMPREPLY[@]} -eq 0 ] ||
	    printf "%s\n" "${COMPREPLY[@]}" | sort' comp \
	    "$COMPLETION" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}
comp "$ctl" ""
check "completion: every command" cmp -s "$T/out" "$T/cmds"
comp "$ctl" pa
check "completion: a command from its start" same "$T/out" pause
comp "$ctl" --config /dev/null --json sh
check "completion: the command after global options and their values" \
    same "$T/out" show
comp "$ctl" run --w
check "completion: a command's options" same "$T/out" --wait
comp "$ctl" help re
check "completion: help COMMAND" same "$T/out" "resume"
comp "$ctl" --url "$URL" --token "$TOKEN" --jobs-dir "$T/other" run ""
check "completion: job names from the API" same "$T/out" "alpha
beta"
comp "$ctl" --url "$URL" --token "$TOKEN" runs --job b
check "completion: a job name as an option's value" same "$T/out" beta
comp "$ctl" --url "$URL" --token "$TOKEN" run alpha ""
check "completion: nothing after the job" test ! -s "$T/out"
api_daemon_stop
comp "$ctl" --url "$URL" --token "$TOKEN" --jobs-dir "$T/other" show ""
check "completion: with no daemon answering, the jobs directory's" \
    same "$T/out" gamma
mkdir "$T/etc"
printf '{"listen": "127.0.0.1:1", "jobs_dir": "../other"}\n' \
    >"$T/etc/distcrond.conf"
comp "$ctl" --config "$T/etc/distcrond.conf" pause g
check "completion: offline, the config's jobs_dir (from its directory)" \
    same "$T/out" gamma
comp "$ctl" --nodes-dir "$N" trust ""
check "completion: node names for trust" same "$T/out" local
check "completion: nothing on stderr" test ! -s "$T/err"

grep -e "$ENV_TOKEN" -e "$ENV_READ" "$T/daemon.log" >"$T/leak"
check "no token from the environment in the daemon's log (debug)" \
    test ! -s "$T/leak"
daemon_log_report "$T/daemon.log"
finish
