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
 * Besides final runs, the planner is asked of two other things (through
 * the runner's plan step, runhooks.h): a run that launched (status
 * STARTED: event "start", its entry saved with the STARTED state) and a
 * tick that did not start (a record with missed > 0 and id 0: event
 * "missed"; the record is no run, only its entries are stored, with run_id
 * 0).  Both carry their own document, rendered when planned (outbox.h).
 * A missed entry's document has status "MISSED" and "missed": {"count",
 * "reason", "tick"}; a message of several counts the ticks, not entries.
 *
 * At delivery each entry is checked against the job's settings: one its
 * job does not ask for on that channel (a "failure" entry that the store's
 * recovery writes for every run it finds LOST, store_recover_failures, or
 * a job whose notify changed) is delivered without a message.  A mail
 * server that refuses the credentials (ERR_AUTH) parks the entry: a wrong
 * password is not retried; a webhook or Slack answering 4xx but 408/429
 * parks it too; connection errors, 408, 429 and 5xx are retried.
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

#define NOTIFY_SINKS	4	/* email, webhook, slack, amqp */

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
 * rows (sink "email", "webhook", "slack" or "amqp"; the event) of rec of def, prev
 * being the job's previous final status: "failure" for FAILURE or LOST,
 * "recovery" for a SUCCESS after FAILURE or LOST ("success" then only
 * when "recovery" is not asked), "success" for any other SUCCESS, "start"
 * for a STARTED run, "missed" for a record with missed > 0; each
 * only when the job's "on" has it.  Remembers def (a reference) for the
 * sinks.  Never blocks for long (a mutex the sinks hold briefly).
 */
size_t notify_plan(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev,
    struct outbox_row *rows, size_t max);

/*
 * Tells n the jobs of a (re)loaded set, so that entries left from before a
 * restart or a reload find their job's channels; jobs no longer defined
 * are forgotten (their entries are parked).  Call it on the loop thread
 * after each load.  A delta (defs_reload()) of the set told last costs its
 * changed names only.  Returns 0 or -ENOMEM.
 */
int notify_set_jobs(struct notify *n, const struct defs_set *set);

/*
 * Fills out[0..NOTIFY_SINKS-1] with the sinks to register: "email" (only
 * when SMTP is configured), "webhook", "slack" and "amqp".  Each deliver() blocks
 * on the network (curl, at most 30 s a message) and must be called with
 * all the due entries of the sink at once, so that a burst becomes one
 * message.  Returns how many were written.
 */
size_t notify_sinks(struct notify *n, struct notify_sink *out, size_t max);

/* The names of the sinks notify_sinks() gives for cfg (out[0..], at most
 * max; static strings), before there is a struct notify: for
 * store_recover_failures().  Returns how many. */
size_t notify_sink_names(const struct config *cfg, const char **out,
    size_t max);

/* The secrets that smtp.password and the webhook's header values may
 * name ({"secret": NAME}, notify_creds.c), opened on the outbox's thread
 * when a message is sent; s (may be NULL: no key) must outlive the
 * outbox's thread.  Set before the outbox starts. */
struct secrets;
void notify_set_secrets(struct notify *n, struct secrets *s);

/* The clock of the coalescing (CLOCK_REALTIME ms), for tests; NULL
 * restores the real one. */
void notify_set_clock(struct notify *n, int64_t (*now_ms)(void));

#endif
