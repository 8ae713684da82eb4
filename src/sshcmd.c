/*
 * sshcmd.c - the command line a run sends to a remote node over SSH.
 *
 * The line is "exec /bin/sh -c '<script>' distcron '<argv0>' '<argv1>'...":
 * the job's argv travels as the script's positional parameters, each word
 * single-quoted once, and the script refers to it only as "$@", so no job
 * data is parsed as shell syntax.  Only the working directory and the
 * environment values appear inside the script, quoted there and quoted
 * again with the whole script.
 *
 * The script relies on sshd starting every session in a new session of its
 * own (OpenSSH calls setsid() for each one), so the shell that runs it leads
 * a process group that holds the command and everything the command starts.
 * In order, it
 *   1. keeps the channel (its stdin) as fd 3 and takes stdin from /dev/null;
 *   2. changes to the working directory, or exits 126; from then on its
 *      own stderr is /dev/null (the channel's stderr is kept as fd 4 for
 *      the command), so the job's stderr never gets the shell's
 *      "Terminated" or "Segmentation fault" notes;
 *   3. starts the watcher in the background on the channel: a small sh
 *      script that reads until EOF, then sends TERM to the process group,
 *      polls every second until the group is empty and sends KILL once the
 *      grace has passed.  With setsid(1) the watcher runs outside the group
 *      and stops as soon as the group is empty; without it (hosts lacking
 *      util-linux or busybox) it lives in the group, so it ignores TERM
 *      once the channel is closed and ends with the KILL after the grace,
 *      and the wrapper sends it TERM after the command exits, which ends it
 *      only while it is still waiting for EOF;
 *   4. runs the command in the foreground, in a subshell that exports the
 *      environment and execs "$@" (so a program name is searched in PATH,
 *      never taken for a shell builtin), with default signal dispositions;
 *      the wrapper itself catches TERM so it can report the outcome;
 *   5. exits with the command's status, or, for a status above 128 that
 *      names a signal, resets that signal and sends it to itself, so sshd
 *      reports "exit-signal" (the shell cannot tell "exit 130" from death by
 *      SIGINT, so both are reported as the signal).
 * After the wrapper exits, sshd shuts the channel's input down, so the
 * watcher sees EOF at once: it finds the group empty and exits, or kills
 * what the command left running in the background.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/exec.h"
#include "distcron/sshcmd.h"

/* The watcher, run as "sh -c WATCHER distcron-watch PGID GRACE_SECONDS"
 * with the channel as stdin.  No single quotes: it is quoted once more. */
#define WATCHER \
	"while read -r _; do :; done; exec 0<&-; trap \"\" TERM; " \
	"kill -s TERM -- \"-$1\" 2>/dev/null || exit 0; n=0; " \
	"while kill -s 0 -- \"-$1\" 2>/dev/null; do " \
	"[ \"$n\" -lt \"$2\" ] || { kill -s KILL -- \"-$1\" 2>/dev/null; " \
	"exit 0; }; sleep 1; n=$((n + 1)); done"

#define GRACE_MIN_S	1

int
sshcmd_quote(const char *s, struct buf *out)
{
	const char *q;
	int r;

	if ((r = buf_puts(out, "'")) != 0)
		return r;
	while ((q = strchr(s, '\'')) != NULL) {
		if ((r = buf_append(out, s, (size_t)(q - s))) != 0 ||
		    (r = buf_puts(out, "'\\''")) != 0)
			return r;
		s = q + 1;
	}
	if ((r = buf_puts(out, s)) != 0)
		return r;
	return buf_puts(out, "'");
}

/* True for a shell variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool
env_name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* The kill grace in whole seconds, rounded up, at least GRACE_MIN_S. */
static int64_t
grace_seconds(int64_t ms)
{
	int64_t s;

	if (ms <= 0)
		return GRACE_MIN_S;
	s = ms / 1000 + (ms % 1000 != 0);
	return s < GRACE_MIN_S ? GRACE_MIN_S : s;
}

/* Appends "export NAME='value'; " for each entry of env. */
static int
script_env(char *const *env, struct buf *b, const char **errstr)
{
	const char *eq;
	int r;

	for (; env != NULL && *env != NULL; env++) {
		if ((eq = strchr(*env, '=')) == NULL) {
			*errstr = "environment entry without '=' (expected "
			    "NAME=VALUE)";
			return ERR_INVALID;
		}
		if (!env_name_valid(*env, (size_t)(eq - *env))) {
			*errstr = "environment variable name is not a shell "
			    "identifier ([A-Za-z_][A-Za-z0-9_]*)";
			return ERR_INVALID;
		}
		if ((r = buf_puts(b, "export ")) != 0 ||
		    (r = buf_append(b, *env, (size_t)(eq - *env) + 1)) != 0 ||
		    (r = sshcmd_quote(eq + 1, b)) != 0 ||
		    (r = buf_puts(b, "; ")) != 0)
			return r;
	}
	return 0;
}

/* Steps 1-3 of the script: channel, working directory, watcher. */
static int
script_setup(const struct exec_spec *spec, struct buf *b)
{
	int r;

	if ((r = buf_puts(b, "exec 3<&0 </dev/null; CDPATH= cd -- ")) != 0 ||
	    (r = sshcmd_quote(spec->working_dir ? spec->working_dir : "/",
	    b)) != 0)
		return r;
	return buf_printf(b, " || { echo \"distcron: cannot change to the "
	    "working directory\" >&2; exit 126; }; exec 4>&2 2>/dev/null; "
	    "trap : TERM; "
	    "ss=; ! command -v setsid >/dev/null 2>&1 || ss=setsid; "
	    "${ss:+\"$ss\"} /bin/sh -c '" WATCHER "' distcron-watch \"$$\" "
	    "%lld <&3 >/dev/null 2>&1 4>&- & w=$!; exec 3<&-; ",
	    (long long)grace_seconds(spec->kill_grace_ms));
}

/* Steps 4-5: the command in a subshell, then the exit status. */
static int
script_run(const struct exec_spec *spec, struct buf *b, const char **errstr)
{
	int r;

	if ((r = buf_puts(b, "(")) != 0 ||
	    (r = script_env(spec->env, b, errstr)) != 0)
		return r;
	return buf_puts(b, "exec \"$@\") 2>&4 4>&-; rc=$?; "
	    "[ -n \"$ss\" ] || kill -s TERM \"$w\" 2>/dev/null; "
	    "if [ \"$rc\" -gt 128 ] && s=$(kill -l \"$rc\" 2>/dev/null); "
	    "then trap - \"$s\" 2>/dev/null; ulimit -c 0 2>/dev/null; "
	    "kill -s \"$s\" \"$$\"; fi; exit \"$rc\"");
}

/* Appends the positional parameters: argv, or /bin/sh -c SHELL. */
static int
line_args(const struct exec_spec *spec, struct buf *out)
{
	const char *sh[] = { "/bin/sh", "-c", spec->shell, NULL };
	const char *const *a;
	int r;

	a = spec->argv != NULL ? (const char *const *)spec->argv : sh;
	for (; *a != NULL; a++)
		if ((r = buf_puts(out, " ")) != 0 ||
		    (r = sshcmd_quote(*a, out)) != 0)
			return r;
	return 0;
}

int
sshcmd_build(const struct exec_spec *spec, struct buf *out,
    const char **errstr)
{
	struct buf script;
	size_t len0 = out->len;
	int r;

	if (spec->argv != NULL ? spec->argv[0] == NULL : spec->shell == NULL) {
		*errstr = "no command (an empty argv and no shell command)";
		return ERR_INVALID;
	}
	buf_init(&script, out->max);
	if ((r = script_setup(spec, &script)) != 0 ||
	    (r = script_run(spec, &script, errstr)) != 0)
		goto out;
	if ((r = buf_puts(out, "exec /bin/sh -c ")) != 0 ||
	    (r = sshcmd_quote(buf_str(&script), out)) != 0 ||
	    (r = buf_puts(out, " distcron")) != 0)
		goto out;
	r = line_args(spec, out);
 out:
	if (r != 0 && out->data != NULL) {	/* leave out as it was */
		out->len = len0;
		out->data[len0] = '\0';
	}
	buf_free(&script);
	return r;
}
