/*
 * exec_amqp.h - AMQP jobs ("amqp": {...} instead of "command"): the daemon
 * publishes a message (or HACron's tick) to a broker with publisher
 * confirms.  The run succeeds only when the broker confirmed the message;
 * it fails with the broker's reason otherwise (no such exchange, access
 * refused, connection lost, nack, no confirm in time).
 *
 * librabbitmq blocks, so publishing is off the loop: one connection per
 * broker URL (and CA file), each with a thread of its own that publishes
 * its queue in order; results come back to the loop through an eventfd.
 * Connections are kept between runs, opened again when the broker closed
 * them (a restart), and at most EXEC_AMQP_CONNS_MAX are open: an idle one
 * is closed to make room.  A run's timeout (the job's, or
 * EXEC_AMQP_TIMEOUT_MS when it has none) bounds every wait of its publish.
 *
 * Messages name the broker by its URL without user:password@; the
 * password, header values and the body never appear in them.
 */
#ifndef DISTCRON_EXEC_AMQP_H
#define DISTCRON_EXEC_AMQP_H

#include "distcron/exec.h"
#include "distcron/loop.h"

#define EXEC_AMQP_CONNS_MAX	16	/* brokers connected at once */
#define EXEC_AMQP_TIMEOUT_MS	30000	/* a publish of a job without
					 * timeout */

struct exec_amqp;
struct buf;
struct tz;

/* Creates the publisher on loop; url and ca_file (copied, may be NULL)
 * are the defaults of jobs that give none (the config's amqp section).
 * Starts no thread yet.  Returns 0 or a negative error. */
int exec_amqp_new(struct loop *loop, const char *url, const char *ca_file,
    struct exec_amqp **out);

/*
 * The config's amqp username and password (q, which must outlive a; its
 * password_secret opened with value(arg, NAME, &VALUE), secrets.h's
 * secrets_value(), when a run starts) for the runs that use the default
 * URL and give no password of their own.  A secret that cannot be had
 * fails the run: "the config's amqp.password: secret \"NAME\" not
 * found".  Call before the first run.
 */
struct config_amqp;
void exec_amqp_set_creds(struct exec_amqp *a, const struct config_amqp *q,
    int (*value)(void *arg, const char *name, char **value), void *arg);


/* Stops the threads (waiting for a publish under way, at most its
 * timeout) and frees the publisher; runs not yet done are dropped without
 * their done().  Call it on the loop thread.  Accepts NULL. */
void exec_amqp_free(struct exec_amqp *a);

/* The executor; spec->ctx is the struct exec_amqp, spec->amqp the message
 * (spec->job, scheduled_at and zone for a tick); start() returns
 * ERR_INVALID without them.  On success out holds a line saying where the
 * message went (and a tick's JSON).  cancel() ends the run at once as
 * EXEC_CANCELLED; a publish already handed to the broker still happens. */
extern const struct exec_ops exec_amqp_ops;

/*
 * Appends HACron's tick message for the tick t (UTC seconds) of job in
 * zone to b: {"id": "JOB@T", "minute", "hour", "day_of_month",
 * "day_of_week" (0 Sunday - 6), "month" (1-12), "year", "iso" (ISO 8601
 * with the offset), "timestamp" (ms since the epoch), "timezone_offset"
 * ("+02:00")}, the fields in local time of zone.  Returns 0 or -E2BIG /
 * -ENOMEM.  Does not block.
 */
int exec_amqp_tick_json(const char *job, int64_t t, const struct tz *zone,
    struct buf *b);

#endif
