/*
 * sdnotify.h - the service manager's readiness and watchdog protocol
 * (systemd's sd_notify(3)), without libsystemd.
 *
 * A service manager that wants to hear from the daemon names a unix
 * datagram socket in NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace) and, for a watchdog, WATCHDOG_USEC (and WATCHDOG_PID).  Each
 * message is one datagram of "KEY=VALUE" lines: READY=1, STOPPING=1,
 * WATCHDOG=1, STATUS=text.
 */
#ifndef DISTCRON_SDNOTIFY_H
#define DISTCRON_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct sdnotify;

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and removes them
 * from the environment (they are the daemon's, no child's).  *out is NULL
 * when NOTIFY_SOCKET is unset: every call then does nothing.  Returns 0,
 * or ERR_CONFIG with a message in err naming the variable and its value
 * (*out NULL), or -ENOMEM.  The caller frees *out with sdnotify_free().
 */
int sdnotify_new(struct sdnotify **out, char *err, size_t errlen);

/*
 * Sends state ("READY=1", "STOPPING=1\nSTATUS=stopping") as one datagram.
 * Never blocks (MSG_DONTWAIT).  Returns 0 (also for n NULL) or -errno.
 */
int sdnotify_send(struct sdnotify *n, const char *state);

/* How often to send WATCHDOG=1, in ms: half of WATCHDOG_USEC (at least
 * 1), or 0 when no watchdog is asked of this process. */
int64_t sdnotify_watchdog_ms(const struct sdnotify *n);

/* Closes the socket and frees n; NULL is fine. */
void sdnotify_free(struct sdnotify *n);

#endif
