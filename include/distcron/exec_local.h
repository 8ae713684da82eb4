/*
 * exec_local.h - runs commands as local child processes with posix_spawn.
 *
 * Each run gets its own process group (so a timeout kills the whole tree),
 * stdin from /dev/null, stdout and stderr captured through pipes up to the
 * output limit (head and tail kept, the cut marked), and a base environment
 * (PATH, HOME, SHELL, LOGNAME, USER, and LANG/LC_ALL/TZ when the daemon has
 * them) overlaid with the spec's entries.  Child exit is watched through a
 * pidfd on the loop.
 */
#ifndef DISTCRON_EXEC_LOCAL_H
#define DISTCRON_EXEC_LOCAL_H

#include "distcron/exec.h"

extern const struct exec_ops exec_local_ops;

#endif
