/*
 * notify.h - notifications of finished runs (e-mail, webhook, Slack) as a
 * planner and sinks of the outbox (outbox.h).
 *
 * The planner, on the loop thread, says which notifications a final run
 * creates: one row per (event, channel) that the job's "notify" (or the
 * config's default) asks for, the owners' email_address getting failure
 * mail once SMTP is configured.  The sinks, on the outbox's thread, turn
 * each entry's report (its doc) into a message and send it: e-mail over
 * SMTP, a JSON POST to a webhook, a Slack incoming-webhook message.  They
 * send at most one message per job and channel per notify_min_interval:
 * entries inside the interval are answered OUTBOX_LATER, and those due
 * together become one message that says how many runs it stands for.
 *
 * Events "start" and "missed" are accepted in job files but not sent yet:
 * the outbox's run-finished path carries final runs only (TODO in
 * notify.c).
 */
#ifndef DISTCRON_NOTIFY_H
#define DISTCRON_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/outbox.h"
#include "distcron/store.h"

struct notify;

/* One sink to register with the outbox: its ops and their arg. */
struct notify_sink {
	const struct outbox_sink_ops *ops;
	void *arg;		/* the sink's state, inside the struct
				 * notify: freed by notify_free() */
};

#define NOTIFY_SINKS	3	/* email, webhook, slack */

/*
 * Makes the notifications of cfg: its smtp section (no e-mail without
 * one), its notify section (the default of jobs without "notify") and
 * notify_min_interval; cfg is kept (it must outlive n).  Returns 0 and
 * *out (notify_free() it), or -ENOMEM.  Does not block.
 */
int notify_new(const struct config *cfg, struct notify **out);

/* Frees n, after the outbox is done with its sinks; accepts NULL. */
void notify_free(struct notify *n);

/*
 * The planner (an outbox_plan_fn; arg is the struct notify).  Writes the
 * rows (sink "email", "webhook" or "slack"; event "failure", "recovery" or
 * "success") of the final run rec of def, prev being the job's previous
 * final status: "failure" for FAILURE or LOST, "recovery" for a SUCCESS
 * after FAILURE or LOST ("success" then only when "recovery" is not
 * asked), "success" for any other SUCCESS.  Remembers def (a reference)
 * for the sinks.  Never blocks for long (a mutex the sinks hold briefly).
 */
size_t notify_plan(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev,
    struct outbox_row *rows, size_t max);

/*
 * Tells n the jobs of a (re)loaded set, so that entries left from before a
 * restart or a reload find their job's channels; jobs no longer defined
 * are forgotten (their entries are parked).  Call it on the loop thread
 * after each load.  Returns 0 or -ENOMEM.
 */
int notify_set_jobs(struct notify *n, const struct defs_set *set);

/*
 * Fills out[0..NOTIFY_SINKS-1] with the sinks to register: "email" (only
 * when SMTP is configured), "webhook" and "slack".  Each deliver() blocks
 * on the network (curl, at most 30 s a message) and must be called with
 * all the due entries of the sink at once, so that a burst becomes one
 * message.  Returns how many were written.
 */
size_t notify_sinks(struct notify *n, struct notify_sink *out, size_t max);

/* The clock of the coalescing (CLOCK_REALTIME ms), for tests; NULL
 * restores the real one. */
void notify_set_clock(struct notify *n, int64_t (*now_ms)(void));

#endif
