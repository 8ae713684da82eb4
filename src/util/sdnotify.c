/*
 * sdnotify.c - readiness, stopping and watchdog messages to the service
 * manager (systemd's notify protocol), in a few system calls.
 *
 * The socket named by NOTIFY_SOCKET is resolved once into an address, and
 * a datagram socket of our own (close-on-exec) sends each message there
 * with sendto(); nothing is connected, so a manager that re-creates its
 * socket is still reached.  An address starting with '@' is in the
 * abstract namespace (a leading NUL byte, no terminating one).  The
 * variables are removed from the environment once read, so that no child
 * (a job, ssh) takes the daemon's socket or watchdog for its own.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/sdnotify.h"

#define SDNOTIFY_USEC_MAX	(INT64_C(1) << 52)	/* years: plenty */

struct sdnotify {
	int fd;
	struct sockaddr_un addr;
	socklen_t addrlen;
	int64_t watchdog_ms;	/* 0: none */
};

/* "/path" or "@abstract" into n's address. */
static int
sdnotify_addr(struct sdnotify *n, const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);

	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	if ((s[0] != '/' && s[0] != '@') || len < 2) {
		snprintf(err, errlen, "NOTIFY_SOCKET \"%.200s\": expected an "
		    "absolute path or @name (abstract)", s);
		return ERR_CONFIG;
	}
	if (len >= sizeof(n->addr.sun_path)) {
		snprintf(err, errlen, "NOTIFY_SOCKET \"%.200s\": longer than "
		    "%zu bytes", s, sizeof(n->addr.sun_path) - 1);
		return ERR_CONFIG;
	}
	memcpy(n->addr.sun_path, s, len);
	if (s[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (s[0] == '/'));
	return 0;
}

/* WATCHDOG_USEC, for this process only if WATCHDOG_PID says so. */
static int
sdnotify_watchdog(struct sdnotify *n, char *err, size_t errlen)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	int64_t us, p;

	if (usec == NULL)
		return 0;
	if (jfield_parse_int(usec, 1, SDNOTIFY_USEC_MAX, &us) != 0) {
		snprintf(err, errlen, "WATCHDOG_USEC \"%.40s\": expected a "
		    "positive integer (microseconds)", usec);
		return ERR_CONFIG;
	}
	if (pid != NULL && (jfield_parse_int(pid, 1, INT32_MAX, &p) != 0 ||
	    p != (int64_t)getpid()))
		return 0;	/* another process's watchdog */
	n->watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
	return 0;
}

static void
sdnotify_unsetenv(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int
sdnotify_new(struct sdnotify **out, char *err, size_t errlen)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sdnotify *n = NULL;
	int r;

	*out = NULL;
	if (path == NULL) {
		sdnotify_unsetenv();
		return 0;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->fd = -1;
	if ((r = sdnotify_addr(n, path, err, errlen)) != 0 ||
	    (r = sdnotify_watchdog(n, err, errlen)) != 0)
		goto out;
	if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		r = -errno;
		snprintf(err, errlen, "NOTIFY_SOCKET: socket: %s",
		    strerror(errno));
		goto out;
	}
	*out = n;
	n = NULL;
 out:
	sdnotify_free(n);
	sdnotify_unsetenv();
	return r;
}

int
sdnotify_send(struct sdnotify *n, const char *state)
{
	size_t len = strlen(state);
	ssize_t w;

	if (n == NULL)
		return 0;
	w = sendto(n->fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&n->addr, n->addrlen);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EMSGSIZE;
}

int64_t
sdnotify_watchdog_ms(const struct sdnotify *n)
{
	return n != NULL ? n->watchdog_ms : 0;
}

void
sdnotify_free(struct sdnotify *n)
{
	if (n == NULL)
		return;
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}
