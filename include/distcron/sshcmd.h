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
 */
#ifndef DISTCRON_SSHCMD_H
#define DISTCRON_SSHCMD_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/buf.h"
#include "distcron/exec.h"

/*
 * Appends the command line for spec (argv or shell, env, working_dir,
 * kill_grace_ms) to out; *guarded_at (if not NULL) receives where in what
 * was appended the guarded line starts: after the line with a watcher and
 * its NUL, a second NUL-terminated string.  Returns 0, ERR_INVALID when
 * there is no command or an environment entry has no "=" or a name that is
 * not a shell identifier, ERR_TOOBIG when a line would be longer than
 * SSHCMD_LINE_MAX (*errstr, a static string, says which), -E2BIG when out's
 * cap is reached, or -ENOMEM; on failure out is left as it was.  Does not
 * block.
 */
int sshcmd_build(const struct exec_spec *spec, struct buf *out,
    size_t *guarded_at, const char **errstr);

/* The guard's command line (a static string). */
const char *sshcmd_guard(void);

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
