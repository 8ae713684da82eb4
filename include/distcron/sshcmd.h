/*
 * sshcmd.h - the command line a run sends to a remote node over SSH.
 *
 * sshd hands the command line to the user's login shell (assumed POSIX) as
 * "$SHELL -c LINE".  The line built here is
 *
 *     exec /bin/sh -c '<script>' distcron
 *
 * with every byte of the script single-quoted (a ' becomes '\''), so each
 * argument of the job's argv arrives byte for byte: quotes, $, ;,
 * backticks, newlines, spaces, empty strings and non-ASCII included.  The
 * script
 *   - changes to the working directory (or "/"), exiting 126 with a message
 *     on stderr if it cannot;
 *   - exports the spec's environment entries (so sshd's AcceptEnv is not
 *     needed); names must be valid shell identifiers;
 *   - starts the command (argv, or "/bin/sh -c SHELL" for a shell string)
 *     in its own process group, stdin from /dev/null;
 *   - watches its own stdin, the SSH channel: when the channel reaches EOF
 *     or closes (the daemon timed out, cancelled, or died), it sends TERM to
 *     the command's process group, then KILL after kill_grace_ms;
 *   - exits with the command's exit code, or, when the command was killed
 *     by a signal, kills itself with the same signal so that sshd reports
 *     "exit-signal".
 * The remote side therefore never outlives the channel.
 */
#ifndef DISTCRON_SSHCMD_H
#define DISTCRON_SSHCMD_H

#include "distcron/buf.h"
#include "distcron/exec.h"

/*
 * Appends the command line for spec (argv or shell, env, working_dir,
 * kill_grace_ms) to out.  Returns 0, ERR_INVALID when an environment entry
 * has no "=" or a name that is not a shell identifier (*errstr says
 * which), or -E2BIG when out's cap is reached.
 */
int sshcmd_build(const struct exec_spec *spec, struct buf *out,
    const char **errstr);

/* Appends s to out single-quoted for a POSIX shell.  Returns 0 or -E2BIG. */
int sshcmd_quote(const char *s, struct buf *out);

#endif
