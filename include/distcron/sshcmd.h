/*
 * sshcmd.h - the command line a run sends to a remote node over SSH.
 *
 * sshd hands the command line to the user's login shell (assumed POSIX) as
 * "$SHELL -c LINE".  The line built here is
 *
 *     exec /bin/sh -c '<script>' distcron '<argv0>' '<argv1>' ...
 *
 * with every byte single-quoted (a ' becomes '\''): the job's argv (or
 * "/bin/sh" "-c" SHELL for a shell command) travels as the script's
 * positional parameters, so each argument arrives byte for byte: quotes,
 * $, ;, backticks, newlines, spaces, empty strings and non-ASCII included.
 * The script
 *   - changes to the working directory (or "/"), exiting 126 with a message
 *     on stderr if it cannot;
 *   - exports the spec's environment entries (so sshd's AcceptEnv is not
 *     needed); names must be valid shell identifiers;
 *   - runs the command with stdin from /dev/null, in the process group that
 *     sshd created for the session (the script's shell leads it);
 *   - watches its own stdin, the SSH channel: when the channel reaches EOF
 *     or closes (the daemon timed out, cancelled, or died), it sends TERM to
 *     the process group, then KILL after kill_grace_ms rounded up to whole
 *     seconds (at least 1);
 *   - exits with the command's exit code, or, when the command was killed
 *     by a signal, kills itself with the same signal so that sshd reports
 *     "exit-signal" (an exit code above 128 that names a signal is taken for
 *     that signal: the shell cannot tell them apart);
 *   - after the command has exited, kills what it left running in the
 *     background once sshd closes the channel's input.
 * The remote side therefore never outlives the channel.  EOF on the
 * channel's input is the cancel request: the daemon must not send EOF (nor
 * any data) while the command should keep running, and cancels by sending
 * EOF or closing the channel.
 */
#ifndef DISTCRON_SSHCMD_H
#define DISTCRON_SSHCMD_H

#include "distcron/buf.h"
#include "distcron/exec.h"

/*
 * Appends the command line for spec (argv or shell, env, working_dir,
 * kill_grace_ms) to out.  Returns 0, ERR_INVALID when there is no command
 * or an environment entry has no "=" or a name that is not a shell
 * identifier (*errstr, a static string, says which), -E2BIG when out's cap
 * is reached, or -ENOMEM; on failure out is left as it was.  Does not block.
 */
int sshcmd_build(const struct exec_spec *spec, struct buf *out,
    const char **errstr);

/* Appends s to out single-quoted for a POSIX shell.  Returns 0 or -E2BIG. */
int sshcmd_quote(const char *s, struct buf *out);

#endif
