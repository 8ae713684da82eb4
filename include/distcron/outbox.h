/*
 * outbox.h - what leaves distcron after a run: reports for Elasticsearch,
 * notifications (e-mail, webhook, Slack), through a durable outbox.
 *
 * A finished run's outbox entries are written in the same SQLite
 * transaction as its final state; a thread of the outbox (never the event
 * loop) hands them to their sink in batches, retries with backoff and
 * jitter, parks what a sink refuses for good, and deletes what was
 * delivered.  This part of the header is the contract between the outbox
 * and its sinks; each sink is a table of function pointers, like
 * struct exec_ops.
 */
#ifndef DISTCRON_OUTBOX_H
#define DISTCRON_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/defs.h"
#include "distcron/store.h"

/* One entry to deliver.  Everything is the outbox's, valid during the
 * call only. */
struct outbox_entry {
	int64_t id;		/* the outbox row: stable across restarts */
	int64_t run_id;
	const char *job;
	int64_t scheduled_at;	/* UTC seconds */
	const char *event;	/* "report", or a notification: "failure",
				 * "recovery", "success", "start", "missed" */
	const char *doc;	/* JSON text: the run's report
				 * (runjson_report's shape plus the report's
				 * extra fields) */
	int attempts;		/* deliveries tried before this one */
};

/* What became of one entry. */
enum outbox_result {
	OUTBOX_DELIVERED,	/* done: the entry is deleted */
	OUTBOX_RETRY,		/* failed: try again later, with backoff and
				 * jitter (attempts counted) */
	OUTBOX_LATER,		/* not yet (a notification coalesced behind
				 * notify_min_interval): try again at
				 * not_before_ms, no attempt counted */
	OUTBOX_PARK,		/* refused for good: kept, with why, until an
				 * operator re-queues it */
};

#define OUTBOX_WHY_LEN	256

struct outbox_outcome {
	enum outbox_result result;
	int64_t not_before_ms;	/* OUTBOX_LATER: CLOCK_REALTIME ms */
	char why[OUTBOX_WHY_LEN];	/* RETRY, PARK: names the peer,
					 * never a secret (url_strip) */
};

struct outbox_sink_ops {
	const char *name;	/* "elasticsearch", "email", "webhook",
				 * "slack": the sink column of its entries */
	/*
	 * Delivers e[0..n-1] (in one request where the peer allows it) and
	 * fills out[i] for every entry.  Blocks (network): called on the
	 * outbox's thread only, one call at a time per sink.  Returns 0, or
	 * a negative error when nothing could be tried (every entry is then
	 * retried, out[0].why says why).
	 */
	int (*deliver)(void *arg, const struct outbox_entry *e, size_t n,
	    struct outbox_outcome *out);
	/* Frees arg (the sink's state).  Accepts NULL. */
	void (*free)(void *arg);
};

/* An entry a final run creates: for which sink, for which event. */
struct outbox_row {
	const char *sink;	/* a registered sink's name */
	const char *event;	/* as outbox_entry.event */
};

/*
 * A planner says which entries a final run creates (the outbox has one
 * for reports; notifications add theirs).  Called on the loop thread when
 * the run is final, before its record is saved: the rows are written in
 * the same transaction as the run's final state.  rec is the final
 * record, def the job's definition, prev the job's previous final status
 * (RUN_PENDING when none).  Writes at most max rows; returns how many.
 * Never blocks.
 */
typedef size_t (*outbox_plan_fn)(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev, struct outbox_row *rows,
    size_t max);

#endif
