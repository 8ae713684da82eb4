/*
 * sshcmd.h - the command line a run sends to a remote node over SSH.
 *
 * sshd hands the command line to the user's login shell as "$SHELL -c
 * LINE"; the line is "exec /bin/sh -c 'SCRIPT'" with nothing in SCRIPT that
 * a login shell could read differently (tested with dash, bash, zsh, mksh,
 * fish and tcsh as the login shell), and SCRIPT is POSIX sh run by the
 * remote /bin/sh (tested with dash, bash, zsh and mksh).  Every job word in
 * it arrives byte for byte: quotes, $, ;, backticks, backslashes, newlines,
 * spaces, empty strings and non-ASCII included.  A line is at most
 * SSHCMD_LINE_MAX bytes.  The script
 *   - writes "distcron-pgid PID\n" on stderr (the session's process group,
 *     which the daemon strips with sshcmd_mark_feed());
 *   - changes to the working directory (or "/"), exiting 126 with a message
 *     on stderr if it cannot;
 *   - exports the spec's environment entries (so sshd's AcceptEnv is not
 *     needed); names must be valid shell identifiers;
 *   - leaves a watcher on its stdin, the SSH channel, in the process group
 *     sshd created for the session: when the channel reaches EOF or closes
 *     while the command runs (the daemon timed out, cancelled, or died), it
 *     sends TERM to the group, then KILL once the command has ended or
 *     kill_grace_ms, rounded up to whole seconds (at least 1), has passed;
 *     after a normal end it sends TERM to the group once, for what the
 *     command left running in the background;
 *   - execs the command (argv, or /bin/sh -c SHELL) with stdin from
 *     /dev/null, so sshd reports the command's own exit status or signal.
 * The remote side therefore never outlives the channel.  EOF on the
 * channel's input is the cancel request: the daemon must not send EOF (nor
 * any data) while the command should keep running, and cancels by sending
 * EOF or closing the channel.
 *
 * A connection can instead keep one guard channel (sshcmd_guard()) for all
 * its runs; the guarded line, the end of the line above, then starts no
 * watcher, and the daemon tells the guard about the run's group
 * (sshcmd_guard_msg()):
 *   +P G  a run started in group P with a kill grace of G seconds;
 *   -P    it ended: TERM to the group once (what it left in the background),
 *         and P is forgotten;
 *   tP G  timeout or cancel: TERM to the group, KILL once the group is empty
 *         or G seconds have passed;
 *   ?P    if the group's leader (the command) has ended, TERM to the group:
 *         a run whose channel stays open after its command ended because
 *         something it left running holds the output.
 * At EOF (the daemon or the connection is gone) the guard sends TERM to
 * every group still registered, and KILL once they are empty or the
 * longest grace has passed.  Guarded runs cost two forks of the shell fewer.
 *
 * The guard first writes the user's login shell on its stdout, one line
 * "distcron-shell PATH" (the passwd entry's, else $SHELL).  When it is a
 * POSIX shell (sshcmd_shell_posix()), the connection's runs can send the
 * plain line instead: SCRIPT itself, which the login shell runs in place of
 * /bin/sh, one exec fewer.  Every form writes the marker, and every form
 * exists with and without the watcher.
 */
#ifndef DISTCRON_SSHCMD_H
#define DISTCRON_SSHCMD_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/buf.h"
#include "distcron/exec.h"

/* Where sshcmd_build()'s lines start in what it appended; the wrapped line
 * with a watcher is at 0.  Each is a NUL-terminated string. */
struct sshcmd_lines {
	size_t guarded;		/* wrapped, guarded */
	size_t plain;		/* plain (for a POSIX login shell), watcher */
	size_t plain_guarded;	/* plain, guarded (the end of the above) */
};

/*
 * Appends the command line for spec (argv or shell, env, working_dir,
 * kill_grace_ms) to out: the wrapped line with a watcher, and when at is
 * not NULL the three other forms after it, at the offsets *at receives
 * (the wrapped form's limit holds for all: the plain lines are shorter).
 * Returns 0, ERR_INVALID when
 * there is no command or an environment entry has no "=" or a name that is
 * not a shell identifier, ERR_TOOBIG when a line would be longer than
 * SSHCMD_LINE_MAX (*errstr, a static string, says which), -E2BIG when out's
 * cap is reached, or -ENOMEM; on failure out is left as it was.  Does not
 * block.
 */
int sshcmd_build(const struct exec_spec *spec, struct buf *out,
    struct sshcmd_lines *at, const char **errstr);

/* The line to send, of lines built with *at: guarded or with a watcher,
 * plain or wrapped. */
const char *sshcmd_pick(const char *lines, const struct sshcmd_lines *at,
    int guarded, int plain);

/* The guard's command line (a static string). */
const char *sshcmd_guard(void);

/* True when path is absolute and its last component names a shell known
 * to run the plain line as /bin/sh would: sh, dash, bash, zsh, mksh (each
 * tested as a login shell).  Anything else (ksh, ash, busybox, fish, tcsh,
 * "") is not. */
int sshcmd_shell_posix(const char *path);

enum sshcmd_form {
	SSHCMD_UNKNOWN = 0,	/* the guard has not said yet: wrapped */
	SSHCMD_WRAPPED,		/* not a known POSIX shell, or never said */
	SSHCMD_PLAIN		/* a POSIX login shell */
};

#define SSHCMD_SHELL	"distcron-shell "
#define SSHCMD_SHELL_SCAN	512	/* the line is looked for this far */

/* Finds the login shell in the guard's stdout. */
struct sshcmd_shell {
	char head[SSHCMD_SHELL_SCAN + 1];	/* once known: the path, or "" */
	size_t len;
	enum sshcmd_form form;
};

/*
 * Feeds n bytes of the guard's stdout (sh zeroed before the first call).
 * The first line "distcron-shell PATH" within SSHCMD_SHELL_SCAN bytes,
 * PATH printable ASCII (or empty: the guard found none), decides sh->form
 * with sshcmd_shell_posix() and leaves PATH in sh->head; without one there
 * the form is SSHCMD_WRAPPED and sh->head "".  Returns sh->form; once known, feeding changes nothing.
 */
enum sshcmd_form sshcmd_shell_feed(struct sshcmd_shell *sh, const char *data,
    size_t n);

/* Appends the guard message op ('+', '-', 't' or '?') for group pgid; the
 * grace is used by '+' and 't'.  Returns 0, ERR_INVALID for another op or
 * a pgid below 2, or -E2BIG. */
int sshcmd_guard_msg(struct buf *out, char op, long pgid, int64_t grace_ms);

/* The longest line sshcmd_build() makes: Linux's limit on one argument
 * (MAX_ARG_STRLEN, 128 KiB with the final NUL), which sshd's "SHELL -c
 * LINE" must respect. */
#define SSHCMD_LINE_MAX	131071

#define SSHCMD_MARK	"distcron-pgid "
#define SSHCMD_MARK_SCAN	512	/* the marker is looked for this far */

/* Finds and strips the marker line in the guarded line's stderr. */
struct sshcmd_mark {
	char head[SSHCMD_MARK_SCAN];	/* held until the marker is found */
	size_t len;
	int done;		/* found or given up: bytes pass through */
	long pgid;		/* 0 until found */
};

typedef void (*sshcmd_out_fn)(void *arg, const char *data, size_t n);

/*
 * Feeds n bytes of stderr (m zeroed before the first call).  Every byte
 * that is not the marker line goes to out, in order, as soon as it is known
 * not to be part of it.  Returns 1 when this call found the marker
 * (m->pgid set), else 0.  The first line "distcron-pgid N" (N >= 2) within
 * SSHCMD_MARK_SCAN bytes is the marker; without one there, everything
 * passes through and m->pgid stays 0.
 */
int sshcmd_mark_feed(struct sshcmd_mark *m, const char *data, size_t n,
    sshcmd_out_fn out, void *arg);

/* At the end of stderr: passes on what is still held. */
void sshcmd_mark_end(struct sshcmd_mark *m, sshcmd_out_fn out, void *arg);

/* Appends s to out double-quoted for a POSIX shell, with a backslash before
 * each " $ ` and \.  Returns 0 or -E2BIG. */
int sshcmd_quote(const char *s, struct buf *out);

#endif
