/*
 * sshcmd.c - the command line a run sends to a remote node over SSH.
 *
 * sshd runs the line with the user's login shell ("$SHELL -c LINE"), which
 * may be any shell: sh, bash, zsh, mksh, fish, tcsh.  So the line the login
 * shell sees is only "exec /bin/sh -c 'SCRIPT'", with SCRIPT made of bytes
 * every one of those shells takes literally inside single quotes: printable
 * ASCII except ', \ and ! (fish reads \' and \\ inside single quotes, csh
 * expands ! there and allows no newline).  The login shell parses nothing
 * else and replaces itself with /bin/sh, which runs the POSIX script in the
 * same process: the session leader still, with the same pid.  Every job
 * word (argv, working directory, environment values) is double-quoted in
 * the script, with a \ before each " $ ` \.  When the script still has only
 * plain bytes it goes as it is; otherwise it is sent encoded, SCRIPT being
 * 'eval "$(printf "ESCAPED")"' with each byte that is not plain, and each
 * " $ ` %, written as \NNN (octal, a backslash before a digit: literal for
 * every shell), which /bin/sh's printf decodes.  The plain form costs the
 * exec of /bin/sh; the encoded form one fork more (the command
 * substitution).  Either way no job byte is parsed as shell syntax, by the
 * login shell or by /bin/sh.
 *
 * The script relies on sshd starting every session in a new session of its
 * own (OpenSSH calls setsid() for each one), so the shell leads a process
 * group that holds the command and everything the command starts.  In
 * order, it
 *   1. keeps the channel (its stdin) as fd 3, takes stdin from /dev/null and
 *      starts the watcher on the channel: a subshell (no new program) started
 *      through a second subshell that exits at once, so that the command is
 *      not the watcher's parent and can never wait for it.  The watcher
 *      stays in the group, ignores TERM and reads until EOF.  A line read
 *      first is the daemon's kill (timeout, cancel); without one, the EOF
 *      is the daemon closing the channel once the output has ended, or a
 *      lost connection, and a command still there is given a few seconds
 *      to exit by itself (one that closes its output before it exits is
 *      not killed in that gap).  If the command still runs then, it sends
 *      TERM to the group, waits for the command to end, polling every
 *      second, until the grace has passed, and sends KILL to the group (to
 *      itself too).  Otherwise the command has finished: the watcher sends
 *      TERM to the group, which ends what the command left running in the
 *      background, and exits;
 *   2. writes "distcron-pgid $$" on stderr (the group, for a guard) and takes
 *      stdin from /dev/null (for the guarded line, which starts here);
 *   3. changes to the working directory, or exits 126 with a message;
 *   4. exports the environment and execs the command (a program name is
 *      searched in PATH, never taken for a shell builtin), so the command
 *      itself leads the group and sshd reports its exit status or signal.
 * Steps 2-4 alone are the guarded script, for a connection whose guard
 * (sshcmd.h) does the watcher's work: the script with the watcher ends with
 * it, so a run's words are quoted once, and each of the two is wrapped.
 * The scripts themselves are the plain lines, for a login shell that is
 * known to be POSIX (the guard says which shell it is): the login shell
 * then runs the script itself, and no /bin/sh is exec'd.  Every job byte is
 * still inside double quotes with its backslash, so it is never syntax
 * there either; non-ASCII and control bytes pass as they are.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/exec.h"
#include "distcron/sshcmd.h"

/* The watcher's body, with "%lld" for the grace in seconds.  A line
 * before the EOF ("k") is the daemon's kill; a bare EOF is the daemon
 * closing the channel after the output's end, or a lost connection: a
 * command still there gets END_WAIT_S seconds to end by itself first (it
 * may have closed its output just before exiting, as coreutils do). */
#define WATCHER \
	"trap \"\" TERM; k=; while read -r _; do k=1; done; " \
	"[ -n \"$k\" ] || { n=0; while [ \"$n\" -lt " STR(END_WAIT_S) " ] && " \
	"kill -s 0 \"$$\" 2>/dev/null; do sleep 1; n=$((n + 1)); done; }; " \
	"if kill -s 0 \"$$\" 2>/dev/null; then " \
	"kill -s TERM -- \"-$$\"; n=0; " \
	"while [ \"$n\" -lt %lld ] && kill -s 0 \"$$\" 2>/dev/null; do " \
	"sleep 1; n=$((n + 1)); done; kill -s KILL -- \"-$$\"; " \
	"else kill -s TERM -- \"-$$\"; fi"

#define GRACE_MIN_S	1
#define END_WAIT_S	3

/* What the login shell sees around the script, and the encoded form's
 * decoder inside it. */
#define WRAP_HEAD	"exec /bin/sh -c '"
#define WRAP_TAIL	"'"
#define DECODE_HEAD	"eval \"$(printf \""
#define DECODE_TAIL	"\")\""

#define STR_(x)		#x
#define STR(x)		STR_(x)
#define LINE_TOO_LONG	"the remote command line would be longer than " \
	STR(SSHCMD_LINE_MAX) " bytes, the most a shell takes as one argument " \
	"(argv, environment and working directory together; once any of them " \
	"holds a byte outside printable ASCII or one of ' \\ ! \" $ `, each " \
	"byte but letters, digits and plain punctuation takes 4, and \" $ ` " \
	"\\ take 8)"

/* True for a byte that fish, csh and every POSIX shell take literally
 * inside single quotes. */
static bool
byte_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '\'' && c != '\\' && c != '!';
}

/* True for a plain byte that stays itself in the encoded form: inside
 * /bin/sh's double quotes and in printf's format. */
static bool
byte_bare(unsigned char c)
{
	return byte_plain(c) && c != '"' && c != '$' && c != '`' && c != '%';
}

int
sshcmd_quote(const char *s, struct buf *out)
{
	size_t n;
	int r;

	if ((r = buf_puts(out, "\"")) != 0)
		return r;
	for (;;) {
		n = strcspn(s, "\"$`\\");
		if ((r = buf_append(out, s, n)) != 0)
			return r;
		if (s[n] == '\0')
			return buf_puts(out, "\"");
		if ((r = buf_puts(out, "\\")) != 0 ||
		    (r = buf_append(out, s + n, 1)) != 0)
			return r;
		s += n + 1;
	}
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

/* Appends "export NAME="value"; " for each entry of env. */
static int
line_env(char *const *env, struct buf *b, const char **errstr)
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

/* The working directory, or exit 126 with a message. */
static int
line_cd(const struct exec_spec *spec, struct buf *b)
{
	int r;

	if ((r = buf_puts(b, "CDPATH= cd -- ")) != 0 ||
	    (r = sshcmd_quote(spec->working_dir ? spec->working_dir : "/",
	    b)) != 0)
		return r;
	return buf_puts(b, " || { echo \"distcron: cannot change to the "
	    "working directory\" >&2; exit 126; }; ");
}

/* Step 1: the watcher, on a copy of the channel that only it keeps.  The
 * shell's stdin is /dev/null before the watcher is forked: mksh's watcher
 * otherwise keeps a copy of the line's stdout, and the output never ends. */
static int
line_watcher(const struct exec_spec *spec, struct buf *b)
{
	return buf_printf(b, "exec 3<&0 </dev/null; (exec >/dev/null 2>&1; { " WATCHER
	    "; } <&3 & ); exec 3<&-; ",
	    (long long)grace_seconds(spec->kill_grace_ms));
}

/* Step 4: the environment, then the command in place of the shell:
 * argv, or /bin/sh -c SHELL. */
static int
line_exec(const struct exec_spec *spec, struct buf *b, const char **errstr)
{
	const char *sh[] = { "/bin/sh", "-c", spec->shell, NULL };
	const char *const *a;
	int r;

	/* zsh's exec runs a builtin of the same name; its "command" looks
	 * in PATH only.  Other shells never see the word. */
	if ((r = line_env(spec->env, b, errstr)) != 0 ||
	    (r = buf_puts(b, "exec ${ZSH_VERSION+command}")) != 0)
		return r;
	a = spec->argv != NULL ? (const char *const *)spec->argv : sh;
	for (; *a != NULL; a++)
		if ((r = buf_puts(b, " ")) != 0 ||
		    (r = sshcmd_quote(*a, b)) != 0)
			return r;
	return 0;
}

/* The script, steps 1-4; *gat receives where step 2 starts. */
static int
line_script(const struct exec_spec *spec, struct buf *s, size_t *gat,
    const char **errstr)
{
	int r;

	if ((r = line_watcher(spec, s)) != 0)
		return r;
	*gat = s->len;
	if ((r = buf_puts(s, "echo \"" SSHCMD_MARK "$$\" >&2; "
	    "exec </dev/null; ")) != 0 ||
	    (r = line_cd(spec, s)) != 0)
		return r;
	return line_exec(spec, s, errstr);
}

/* Appends the n bytes of script s encoded: every byte but the bare ones
 * and % (printf's) as \NNN. */
static int
line_encode(const char *s, size_t n, struct buf *out)
{
	size_t i, run;
	int r;

	for (i = 0; i < n; i += run) {
		for (run = 0; i + run < n &&
		    byte_bare((unsigned char)s[i + run]); run++)
			;
		if (run > 0)
			r = buf_append(out, s + i, run);
		else {
			r = buf_printf(out, "\\%03o", (unsigned char)s[i]);
			run = 1;
		}
		if (r != 0)
			return r;
	}
	return 0;
}

/* Appends the line the login shell gets for the n bytes of script s:
 * the plain form when every byte is plain, else the encoded one; at most
 * SSHCMD_LINE_MAX bytes. */
static int
line_wrap(const char *s, size_t n, struct buf *out, const char **errstr)
{
	size_t i, len0 = out->len;
	int r;

	for (i = 0; i < n && byte_plain((unsigned char)s[i]); i++)
		;
	if ((r = buf_puts(out, WRAP_HEAD)) != 0)
		return r;
	if (i == n)
		r = buf_append(out, s, n);
	else if ((r = buf_puts(out, DECODE_HEAD)) == 0 &&
	    (r = line_encode(s, n, out)) == 0)
		r = buf_puts(out, DECODE_TAIL);
	if (r != 0 || (r = buf_puts(out, WRAP_TAIL)) != 0)
		return r;
	if (out->len - len0 > SSHCMD_LINE_MAX) {
		*errstr = LINE_TOO_LONG;
		return ERR_TOOBIG;
	}
	return 0;
}

/* After the wrapped line with a watcher: its guarded twin, then the script
 * itself, the plain lines (the guarded one its tail), each NUL-ended. */
static int
line_others(const struct buf *s, size_t gat, struct buf *out, size_t len0,
    struct sshcmd_lines *at, const char **errstr)
{
	int r;

	if ((r = buf_append(out, "", 1)) != 0)
		return r;
	at->guarded = out->len - len0;
	if ((r = line_wrap(s->data + gat, s->len - gat, out, errstr)) != 0 ||
	    (r = buf_append(out, "", 1)) != 0)
		return r;
	at->plain = out->len - len0;
	at->plain_guarded = at->plain + gat;
	return buf_append(out, s->data, s->len);
}

int
sshcmd_build(const struct exec_spec *spec, struct buf *out,
    struct sshcmd_lines *at, const char **errstr)
{
	size_t len0 = out->len, gat = 0;
	struct buf s;
	int r;

	if (spec->argv != NULL ? spec->argv[0] == NULL : spec->shell == NULL) {
		*errstr = "no command (an empty argv and no shell command)";
		return ERR_INVALID;
	}
	buf_init(&s, SSHCMD_LINE_MAX);
	if ((r = line_script(spec, &s, &gat, errstr)) == -E2BIG) {
		*errstr = LINE_TOO_LONG;
		r = ERR_TOOBIG;
	}
	if (r == 0 && (r = line_wrap(s.data, s.len, out, errstr)) == 0 &&
	    at != NULL)
		r = line_others(&s, gat, out, len0, at, errstr);
	buf_free(&s);
	if (r != 0 && out->data != NULL) {	/* leave out as it was */
		out->len = len0;
		out->data[len0] = '\0';
	}
	return r;
}

/*
 * The guard: says the user's login shell (sshcmd_shell_feed(): the passwd
 * entry's last field, else $SHELL; printf, as echo would read backslashes)
 * from a subshell of its own, so that a slow passwd lookup (a directory
 * service) never holds its messages, and reads one message a line from
 * the channel until EOF.  l holds
 * the registered groups as " P P ... ", g the longest grace.  Nothing in the
 * loop starts a program except the timeout's sleep, in a subshell of its
 * own.  Its stdout stays on the channel, written to by nobody after the
 * shell's line, so the channel's EOF tells the daemon that the guard has
 * ended.
 */
#define GUARD_SCRIPT \
	": distcron-guard; exec 2>/dev/null; trap \"\" HUP INT TERM; " \
	"(e=$(getent passwd \"$(id -un)\"); e=${e##*:}; " \
	"printf %s \"" SSHCMD_SHELL "${e:-$SHELL}\"; echo) & " \
	"l=\" \"; g=1; " \
	"while read -r m; do p=${m#?}; s=${p#* }; p=${p%% *}; case $m in " \
	"\"+\"*) l=\"$l$p \"; [ \"$s\" -gt \"$g\" ] && g=$s;; " \
	"\"-\"*) kill -s TERM -- \"-$p\"; case $l in *\" $p \"*) " \
	"l=${l%%\" $p \"*}\" \"${l#*\" $p \"};; esac;; " \
	"\"t\"*) (kill -s TERM -- \"-$p\"; n=0; while [ \"$n\" -lt \"$s\" ] && " \
	"kill -s 0 -- \"-$p\"; do sleep 1; n=$((n + 1)); done; " \
	"kill -s KILL -- \"-$p\") >/dev/null & ;; " \
	"\"?\"*) kill -s 0 \"$p\" || kill -s TERM -- \"-$p\";; " \
	"esac; done; " \
	"r=${l# }; while [ -n \"$r\" ]; do kill -s TERM -- \"-${r%% *}\"; " \
	"r=${r#* }; done; n=0; while [ \"$n\" -lt \"$g\" ]; do a=; r=${l# }; " \
	"while [ -n \"$r\" ]; do kill -s 0 -- \"-${r%% *}\" && a=1; r=${r#* }; " \
	"done; [ -z \"$a\" ] && break; sleep 1; n=$((n + 1)); done; " \
	"r=${l# }; while [ -n \"$r\" ]; do kill -s KILL -- \"-${r%% *}\"; " \
	"r=${r#* }; done"

const char *
sshcmd_pick(const char *lines, const struct sshcmd_lines *at, int guarded,
    int plain)
{
	if (plain)
		return lines + (guarded ? at->plain_guarded : at->plain);
	return lines + (guarded ? at->guarded : 0);
}

int
sshcmd_shell_posix(const char *path)
{
	static const char *const posix[] = { "sh", "dash", "bash", "zsh",
	    "mksh" };
	const char *base = strrchr(path, '/');
	size_t i;

	if (path[0] != '/')
		return 0;	/* sshd gets absolute paths */
	base++;
	for (i = 0; i < sizeof(posix) / sizeof(posix[0]); i++)
		if (strcmp(base, posix[i]) == 0)
			return 1;
	return 0;
}

/* The login shell's path in the line of n bytes at s, NUL-ended in place
 * ("" when the guard found none); NULL if the line is not "distcron-shell
 * PATH" with PATH printable. */
static char *
shell_line(char *s, size_t n)
{
	size_t pl = sizeof(SSHCMD_SHELL) - 1, i;

	if (n < pl || memcmp(s, SSHCMD_SHELL, pl) != 0)
		return NULL;
	for (i = pl; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return NULL;
	s[n] = '\0';
	return s + pl;
}

enum sshcmd_form
sshcmd_shell_feed(struct sshcmd_shell *sh, const char *data, size_t n)
{
	size_t take, at = 0;
	char *nl, *path;

	if (sh->form != SSHCMD_UNKNOWN)
		return sh->form;
	take = n < SSHCMD_SHELL_SCAN - sh->len ? n : SSHCMD_SHELL_SCAN - sh->len;
	memcpy(sh->head + sh->len, data, take);
	sh->len += take;
	while ((nl = memchr(sh->head + at, '\n', sh->len - at)) != NULL) {
		if ((path = shell_line(sh->head + at,
		    (size_t)(nl - sh->head) - at)) != NULL) {
			sh->form = sshcmd_shell_posix(path) ? SSHCMD_PLAIN :
			    SSHCMD_WRAPPED;
			memmove(sh->head, path, strlen(path) + 1);
			return sh->form;
		}
		at = (size_t)(nl - sh->head) + 1;
	}
	if (sh->len == SSHCMD_SHELL_SCAN) {
		sh->form = SSHCMD_WRAPPED;
		sh->head[0] = '\0';
	}
	return sh->form;
}

const char *
sshcmd_guard(void)
{
	return WRAP_HEAD GUARD_SCRIPT WRAP_TAIL;
}

int
sshcmd_guard_msg(struct buf *out, char op, long pgid, int64_t grace_ms)
{
	if (pgid < 2)
		return ERR_INVALID;	/* never "kill -- -1" or "-0" */
	if (op == '+' || op == 't')
		return buf_printf(out, "%c%ld %lld\n", op, pgid,
		    (long long)grace_seconds(grace_ms));
	if (op == '-' || op == '?')
		return buf_printf(out, "%c%ld\n", op, pgid);
	return ERR_INVALID;
}

/* Where a whole marker line starts in m->head, with its end in *endp;
 * -1 if there is none (yet). */
static long
mark_find(const struct sshcmd_mark *m, size_t *endp, long *pgid)
{
	size_t ml = sizeof(SSHCMD_MARK) - 1, i, j;
	long v;

	for (i = 0; i + ml < m->len; i++) {
		if ((i > 0 && m->head[i - 1] != '\n') ||
		    memcmp(m->head + i, SSHCMD_MARK, ml) != 0)
			continue;
		for (j = i + ml, v = 0; j < m->len && j - i - ml < 10 &&
		    m->head[j] >= '0' && m->head[j] <= '9'; j++)
			v = v * 10 + (m->head[j] - '0');
		if (j < m->len && m->head[j] == '\n' && j > i + ml && v >= 2 &&
		    v <= INT32_MAX) {
			*endp = j + 1;
			*pgid = v;
			return (long)i;
		}
	}
	return -1;
}

int
sshcmd_mark_feed(struct sshcmd_mark *m, const char *data, size_t n,
    sshcmd_out_fn out, void *arg)
{
	size_t take, end = 0;
	long at, pgid = 0;

	if (m->done) {
		if (n > 0)
			out(arg, data, n);
		return 0;
	}
	take = n < sizeof(m->head) - m->len ? n : sizeof(m->head) - m->len;
	memcpy(m->head + m->len, data, take);
	m->len += take;
	if ((at = mark_find(m, &end, &pgid)) < 0) {
		if (m->len < sizeof(m->head))
			return 0;	/* wait for the rest of the line */
		sshcmd_mark_end(m, out, arg);	/* not there: give up */
	} else {
		m->done = 1;
		m->pgid = pgid;
		if (at > 0)
			out(arg, m->head, (size_t)at);
		if (end < m->len)
			out(arg, m->head + end, m->len - end);
	}
	if (take < n)
		out(arg, data + take, n - take);
	return m->pgid != 0;
}

void
sshcmd_mark_end(struct sshcmd_mark *m, sshcmd_out_fn out, void *arg)
{
	if (m->done)
		return;
	m->done = 1;
	if (m->len > 0)
		out(arg, m->head, m->len);
}
