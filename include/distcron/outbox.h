/*
 * outbox.h - what leaves distcron after a run: reports for Elasticsearch,
 * notifications (e-mail, webhook, Slack), through a durable outbox.
 *
 * A finished run's outbox entries are written in the same SQLite
 * transaction as its final state (a run's "start" entries with its STARTED
 * state; a tick that did not start, "missed", has entries without a run,
 * run_id 0, written through the store thread alike); a thread of the
 * outbox (never the event loop) hands them to their sink in batches, retries with backoff and
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
	int64_t run_id;		/* 0: a missed tick, no run */
	const char *job;
	int64_t scheduled_at;	/* UTC seconds */
	const char *event;	/* "report", or a notification: "failure",
				 * "recovery", "success", "start", "missed" */
	const char *doc;	/* JSON text: the run's report
				 * (runjson_report's shape plus the report's
				 * extra fields), rendered when delivered
				 * from the stored run; a start's and a
				 * missed tick's, rendered when planned */
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
	 * fills out[i] for every entry.  Blocks (network): called on a
	 * thread the outbox starts for the call (signals blocked), one call
	 * at a time for the whole outbox, while the outbox's thread reads
	 * and renders the next batch.  Returns 0, or a negative error when
	 * nothing could be tried (every entry is then retried, out[0].why
	 * says why).
	 */
	int (*deliver)(void *arg, const struct outbox_entry *e, size_t n,
	    struct outbox_outcome *out);
	/* Frees arg (the sink's state).  Accepts NULL. */
	void (*free)(void *arg);
	/*
	 * Optional (NULL: none): gets ready what deliver(e, n) will send,
	 * e.g. a request body, on the outbox's thread, before the deliver
	 * call that gets this same e and n, so that the work overlaps the
	 * delivery of the batch before (prepare may run while deliver runs
	 * for another batch; never two prepare calls at once).  deliver must
	 * do everything itself when nothing was made ready for its e: a
	 * batch prepared may also be dropped (the outbox stops) without a
	 * deliver call.  Never blocks on the network.
	 */
	void (*prepare)(void *arg, const struct outbox_entry *e, size_t n);
};

/* An entry a final run creates: for which sink, for which event. */
struct outbox_row {
	const char *sink;	/* a registered sink's name */
	const char *event;	/* as outbox_entry.event */
};

/*
 * A planner says which entries a run creates (the outbox has one for
 * reports; notifications add theirs).  Called on the loop thread, before
 * the record is saved: the rows are written in the same transaction.  rec
 * is the final record; or a run that just launched (status STARTED); or
 * a tick that did not start (rec->missed > 0, id 0, rec->reason why, no
 * items), def the job's definition, prev the job's previous final status
 * (RUN_PENDING when none).  Writes at most max rows; returns how many.
 * Never blocks.
 */
typedef size_t (*outbox_plan_fn)(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev, struct outbox_row *rows,
    size_t max);

/*
 * ---- the outbox itself (src/report/outbox.c) ----
 *
 * Threads and ownership: the outbox owns one thread (started by
 * outbox_start) and its own connection to the store file.  That thread
 * ships a sink's entries two batches at once: it hands a batch to a
 * thread of its own for the sink's deliver and meanwhile reads and
 * renders the next one (never an entry in flight); when the deliver call
 * returns, it hands over the next batch and applies the outcomes of the
 * first meanwhile.  So deliver calls never overlap, an entry is in one
 * call at a time, and what was not applied when the process dies is
 * sent again.  outbox_plan runs on the loop thread (the
 * runner's plan step), outbox_wake on the store thread (store_on_outbox),
 * the stats, parked and retry calls on any thread (they block briefly on
 * the outbox's store connection: not from the event loop).  Sinks and
 * planners are added before outbox_start; the outbox owns each sink's arg
 * (ops->free at outbox_free).
 */
struct config;
struct outbox;

#define OUTBOX_SINKS_MAX	8
#define OUTBOX_PLANNERS_MAX	8
#define OUTBOX_ROWS_MAX		16	/* rows one final run may create */
#define OUTBOX_BATCH		1000	/* a sink's default batch */
#define OUTBOX_BACKOFF_MIN_MS	1000	/* first retry delay, doubling ... */
#define OUTBOX_BACKOFF_MAX_MS	300000	/* ... up to 5 minutes, +-20 % */

/* Opens the outbox on the store file at path (its own connection, with a
 * busy timeout; the schema must be current: open the daemon's store
 * first).  Keeps cfg->outbox_max entries at most.  Returns 0, or
 * ERR_STORE / -ENOMEM with the reason logged. */
int outbox_new(const struct config *cfg, const char *path,
    struct outbox **out);

/* Registers a sink (ops must outlive ob; arg becomes the outbox's).
 * batch: entries per deliver call (0: OUTBOX_BATCH).  Before
 * outbox_start only.  Returns 0, ERR_BUSY, ERR_EXISTS (same name) or
 * -ENOSPC. */
int outbox_add_sink(struct outbox *ob, const struct outbox_sink_ops *ops,
    void *arg, size_t batch);

/* Lets sink name wait up to ms (> 0) to fill a batch: when fewer than
 * its batch are due, they are sent once ms have passed since the oldest
 * of them became due, or at once when the batch fills or the outbox
 * stops.  Default 0: due entries go at once.  Before outbox_start only.
 * Returns 0, ERR_BUSY or ERR_NOTFOUND (no such sink). */
int outbox_set_flush(struct outbox *ob, const char *sink, int64_t ms);

/* Registers a planner, called in order for every final run.  Rows naming
 * a sink that is not registered are dropped (logged once).  Before
 * outbox_start only.  Returns 0, ERR_BUSY or -ENOSPC. */
int outbox_add_planner(struct outbox *ob, outbox_plan_fn fn, void *arg);

/* The outbox's own planner: one "report" entry per final run (none for a
 * start or a missed tick) for the sink named by arg (a string that
 * outlives ob), e.g.
 * outbox_add_planner(ob, outbox_plan_reports, "elasticsearch"). */
size_t outbox_plan_reports(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev, struct outbox_row *rows,
    size_t max);

/* The runner's plan step (runhooks.h run_plan_fn; arg: the outbox):
 * asks every planner and attaches their rows to rec.  The rows of a
 * record that is not final (a start, a missed tick) get their document
 * now (outbox_render's, plus for a missed tick status "MISSED" and
 * "missed": {"count", "reason", "tick" in the job's zone}). */
void outbox_plan(void *arg, struct store_run *rec, const struct job_def *def,
    enum run_status prev);

/* Tells the outbox's thread that rows were committed (store_on_outbox's
 * hook; arg: the outbox).  Never blocks. */
void outbox_wake(void *arg);

/* Told each sink's depth (entries waiting, parked included) after every
 * pass of the outbox's thread, on that thread: fn must not block (statsd's
 * gauge).  Before outbox_start only. */
typedef void (*outbox_depth_fn)(void *arg, const char *sink, int64_t depth);
void outbox_on_depth(struct outbox *ob, outbox_depth_fn fn, void *arg);

/* Starts the thread.  Returns 0 or a negative error. */
int outbox_start(struct outbox *ob);

/* Stops the thread: it finishes the deliver call in progress and applies
 * its outcomes, and sends a batch that waited to fill (outbox_set_flush)
 * at once.  Waits up to deadline_ms; returns 0, or ERR_TIMEOUT when
 * a sink is still blocked (then outbox_free leaves ob to the thread, and
 * its entries are sent again at the next start). */
int outbox_stop(struct outbox *ob, int64_t deadline_ms);

/* Frees ob (after outbox_stop, or if never started); accepts NULL. */
void outbox_free(struct outbox *ob);

struct outbox_sink_stats {
	const char *sink;	/* the sink's name (valid while ob lives) */
	size_t depth;		/* entries waiting, parked included */
	int64_t oldest_age_s;	/* age of the oldest entry; 0: none */
	uint64_t delivered;	/* since start */
	uint64_t retried;
	uint64_t dropped;	/* outbox_max reached */
	size_t parked;		/* entries parked now */
};

/* Fills out[0..] for each sink (at most max; 0: none, out may be NULL);
 * returns the sink count. */
size_t outbox_stats(struct outbox *ob, struct outbox_sink_stats *out,
    size_t max);

/* The parked entries, oldest first (at most max); *out is malloc'd. */
int outbox_parked(struct outbox *ob, size_t max,
    struct store_outbox_entry **out, size_t *n);

/* Re-queues parked entry id (0: all) and wakes the thread.  *n receives
 * the count.  Returns 0, ERR_NOTFOUND (no such parked entry) or
 * ERR_STORE. */
int outbox_retry(struct outbox *ob, int64_t id, size_t *n);

/* The delay before retry number attempts (1-based): OUTBOX_BACKOFF_MIN_MS
 * doubling up to OUTBOX_BACKOFF_MAX_MS, times a factor in [0.8, 1.2]
 * drawn from *seed. */
int64_t outbox_backoff_ms(int attempts, unsigned *seed);

struct control_outbox_ops;
/* The outbox behind the API (control.h; arg: the outbox): /monitor's
 * "outbox", the distcron_outbox_* metrics, GET /outbox and POST
 * /outbox/retry.  In outboxapi.c. */
extern const struct control_outbox_ops outbox_control_ops;

/* The report document of run for event (README "Reports"; with the run's
 * "trigger"): a malloc'd JSON text, or NULL when out of memory. */
char *outbox_render(const struct store_run *run, const char *event);

#endif
