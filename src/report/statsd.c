/*
 * statsd.c - metrics over UDP to statsd or DogStatsD (see statsd.h).
 *
 * One connected, non-blocking UDP socket.  A call formats its lines into
 * a small stack buffer (one datagram, lines joined by newlines, which
 * statsd and DogStatsD both read as several metrics) and sends it with
 * MSG_DONTWAIT; any error (a full socket buffer, a refusing port reported
 * back by ICMP) drops the datagram and counts it.  Job names are safe in
 * metric names and tags: defs allows [A-Za-z0-9._-] only.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/statsd.h"

#define STATSD_DGRAM	1432	/* fits an Ethernet MTU */
#define STATSD_PREFIX	64

struct statsd {
	int fd;
	bool tags;
	char prefix[STATSD_PREFIX];
	atomic_uint_least64_t dropped;
};

/* A connected non-blocking UDP socket to host:port. */
static int
udp_connect(const char *host, int64_t port, int *fdp, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res, *ai;
	char service[16];
	int fd = -1, r;

	snprintf(service, sizeof(service), "%lld", (long long)port);
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0) {
		*why = gai_strerror(r);
		return ERR_CONFIG;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*why = strerror(errno);
		return ERR_CONFIG;
	}
	*fdp = fd;
	return 0;
}

int
statsd_new(const struct config_statsd *c, struct statsd **out, char *err,
    size_t errlen)
{
	char q[JFIELD_QUOTE_LEN];
	const char *why = "";
	struct statsd *st;
	int r;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -ENOMEM;
	st->tags = c->tags;
	snprintf(st->prefix, sizeof(st->prefix), "%s",
	    c->prefix != NULL ? c->prefix : "");
	if ((r = udp_connect(c->host, c->port, &st->fd, &why)) != 0) {
		snprintf(err, errlen, "statsd.host: cannot reach %s port %lld: "
		    "%s", jfield_quote(c->host, q, sizeof(q)),
		    (long long)c->port, why);
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

void
statsd_free(struct statsd *st)
{
	if (st == NULL)
		return;
	close(st->fd);
	free(st);
}

uint64_t
statsd_dropped(const struct statsd *st)
{
	return atomic_load(&((struct statsd *)st)->dropped);
}

/* Sends the n bytes of d, or counts them dropped. */
static void
send_dgram(struct statsd *st, const char *d, int n)
{
	if (n <= 0 || n >= STATSD_DGRAM ||
	    send(st->fd, d, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		atomic_fetch_add(&st->dropped, 1);
}

/* "|#job:J,status:S" when tags are on, else "". */
static void
run_tags(const struct statsd *st, const char *job, const char *status,
    char *out, size_t outlen)
{
	out[0] = '\0';
	if (st->tags)
		snprintf(out, outlen, "|#job:%s,status:%s", job, status);
}

/* A run whose lateness means something: started by the schedule. */
static bool
scheduled(const struct store_run *rec)
{
	return rec->started_ms > 0 && rec->scheduled_at > 0 &&
	    (rec->trigger == NULL || strcmp(rec->trigger, "schedule") == 0);
}

void
statsd_run_finished(void *arg, const struct store_run *rec,
    const struct job_def *def)
{
	struct statsd *st = arg;
	const char *status = store_status_str(rec->status);
	char d[STATSD_DGRAM], tags[2 * DEFS_NAME_MAX], lower[16];
	size_t i;
	int n;

	(void)def;
	for (i = 0; i + 1 < sizeof(lower) && status[i] != '\0'; i++)
		lower[i] = (char)tolower((unsigned char)status[i]);
	lower[i] = '\0';
	run_tags(st, rec->job, status, tags, sizeof(tags));
	n = snprintf(d, sizeof(d), "%sruns.%s:1|c%s", st->prefix, lower, tags);
	if (rec->started_ms > 0 && rec->ended_ms >= rec->started_ms &&
	    n > 0 && (size_t)n < sizeof(d))
		n += snprintf(d + n, sizeof(d) - (size_t)n,
		    "\n%srun.duration:%lld|ms%s", st->prefix,
		    (long long)(rec->ended_ms - rec->started_ms), tags);
	if (scheduled(rec) && n > 0 && (size_t)n < sizeof(d))
		n += snprintf(d + n, sizeof(d) - (size_t)n,
		    "\n%srun.lateness:%lld|ms%s", st->prefix, (long long)(
		    rec->started_ms > rec->scheduled_at * 1000 ?
		    rec->started_ms - rec->scheduled_at * 1000 : 0), tags);
	send_dgram(st, d, n);
}

void
statsd_outbox_depth(struct statsd *st, const char *sink, int64_t depth)
{
	char d[STATSD_DGRAM];
	int n;

	if (sink == NULL)
		n = snprintf(d, sizeof(d), "%soutbox.depth:%lld|g", st->prefix,
		    (long long)depth);
	else if (st->tags)
		n = snprintf(d, sizeof(d), "%soutbox.depth:%lld|g|#sink:%s",
		    st->prefix, (long long)depth, sink);
	else
		n = snprintf(d, sizeof(d), "%soutbox.%s.depth:%lld|g",
		    st->prefix, sink, (long long)depth);
	send_dgram(st, d, n);
}
