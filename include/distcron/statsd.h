/*
 * statsd.h - metrics to statsd or DogStatsD over UDP: runs by status,
 * their duration and lateness, and the outbox's depth.
 *
 * Each call formats a few lines and sends them in one datagram with a
 * non-blocking send(): a slow, absent or refusing collector never slows
 * the caller, and what cannot be sent is counted and dropped.  With tags
 * on, lines carry DogStatsD tags ("|#job:backup,status:SUCCESS").  The
 * calls are thread-safe (one datagram per send()).
 */
#ifndef DISTCRON_STATSD_H
#define DISTCRON_STATSD_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/store.h"

struct statsd;

/*
 * Opens a UDP socket to c->host:c->port (a name is resolved here: blocks
 * on the resolver, call it at start).  Returns 0 and *out (statsd_free()
 * it), or ERR_CONFIG with err naming the field and value
 * ("statsd.host: cannot resolve \"nohost\": ..."), or -errno.
 */
int statsd_new(const struct config_statsd *c, struct statsd **out,
    char *err, size_t errlen);

/* Closes the socket and frees st; accepts NULL. */
void statsd_free(struct statsd *st);

/*
 * A run finished: the fn of a struct run_finish_hook whose arg is the
 * struct statsd ({"statsd", statsd_run_finished, st}, given to
 * runner_add_finish_hook()).  Sends PREFIXruns.STATUS:1|c (status in lower
 * case), and when known PREFIXrun.duration:MS|ms and, for a scheduled run,
 * PREFIXrun.lateness:MS|ms (start minus scheduled time), tagged job and
 * status.  Never blocks.
 */
void statsd_run_finished(void *arg, const struct store_run *rec,
    const struct job_def *def);

/* Sends PREFIXoutbox.depth:N|g (tag sink:NAME; without tags and with a
 * sink, PREFIXoutbox.NAME.depth).  sink may be NULL (all sinks).  Never
 * blocks; callable from any thread. */
void statsd_outbox_depth(struct statsd *st, const char *sink,
    int64_t depth);

/* Datagrams that could not be sent so far. */
uint64_t statsd_dropped(const struct statsd *st);

#endif
