/*
 * sshcmd.h - the command line a run sends to a remote node over SSH.
 *
 * sshd hands the command line to the user's login shell as "$SHELL -c
 * LINE"; the line is POSIX sh (tested with dash, bash, zsh and mksh as the
 * login shell).  Every job word in it is single-quoted (a ' becomes '\''),
 * so each argument arrives byte for byte: quotes, $, ;, backticks, newlines,
 * spaces, empty strings and non-ASCII included.  The line
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
