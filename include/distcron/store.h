/*
 * store.h - the embedded store: SQLite in WAL mode holding every run, the
 * per-node items of each run, and per-job state.  Schema versions are
 * migrated on open (PRAGMA user_version).
 *
 * A run is identified by (job, scheduled time): a second scheduled run with
 * the same pair is refused.  Its intent (PENDING) is written before launch;
 * after a crash, store_recover() turns runs left PENDING/STARTED/RETRY into
 * LOST, so no run silently vanishes.
 *
 * One struct store may be used from several threads (calls are serialised
 * inside).  Every call blocks on disk I/O: the daemon calls the writing
 * functions from its store thread, never from the event loop.  Readers in
 * other processes (distcronctl) open the same file read-only; WAL lets them
 * read while the daemon writes.
 */
#ifndef DISTCRON_STORE_H
#define DISTCRON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distcron/defs.h"

struct store;

enum run_status {
	RUN_PENDING = 0,
	RUN_STARTED,
	RUN_RETRY,
	RUN_FAILURE,
	RUN_SUCCESS,
	RUN_LOST,
};

/* "PENDING", "STARTED", ... */
const char *store_status_str(enum run_status s);
/* Parses a status name (case-insensitive).  Returns 0 or ERR_INVALID. */
int store_status_parse(const char *s, enum run_status *out);
/* True for FAILURE, SUCCESS and LOST. */
bool store_status_final(enum run_status s);

/* One node's part of a run (one per node and attempt). */
struct store_item {
	char *node;
	int attempt;		/* 1-based */
	enum run_status status;
	int exit_code;		/* -1: none */
	int signal;		/* 0: none */
	int64_t started_ms;	/* CLOCK_REALTIME ms; 0: not yet */
	int64_t ended_ms;
	char *out;		/* captured stdout (already capped) */
	char *err;		/* captured stderr */
	bool truncated;
	char *error;		/* why it failed, or NULL */
	char *proc;		/* local process group (orphan_format()),
				 * or NULL */
	int64_t queued_ms;	/* CLOCK_REALTIME ms it began waiting for a
				 * free slot (max_concurrent_runs); 0: it
				 * never waited */
};

/* The error of an item that waited for a free slot and never started
 * because the daemon stopped (at shutdown, or found so at recovery). */
#define STORE_WAITING_REASON	"never started: the daemon stopped while " \
				"it waited for a free slot (max_concurrent_runs)"

/* An outbox entry a run creates (the outbox's planners choose them):
 * written with the state saved with it (final, or STARTED for a start),
 * in the same transaction. */
struct store_outrow {
	char *sink;		/* "elasticsearch", "webhook", ... */
	char *event;		/* "report", "failure", ... */
	char *doc;		/* the entry's own document, or NULL: the
				 * run's report, rendered when delivered */
};

struct store_run {
	int64_t id;		/* assigned by store_runs_create() */
	char *job;
	int64_t scheduled_at;	/* UTC seconds */
	char *trigger;		/* "schedule", "missed", "manual", "retry", "task" */
	enum run_status status;
	int attempt;		/* current attempt, 1-based */
	int64_t created_ms;
	int64_t started_ms;	/* 0: not yet */
	int64_t ended_ms;	/* 0: not yet */
	char *reason;		/* why it failed/was lost, or NULL */
	struct store_item *items;
	size_t nitems;
	int retention;		/* keep this many runs of the job (0: 1000) */
	struct store_outrow *outrows;	/* outbox rows to write with this
					 * save (owned) */
	size_t noutrows;
	int64_t missed;		/* > 0: no run (id 0) but a tick that did
				 * not start, standing for this many ticks;
				 * never a row of runs (store_runs_save
				 * writes its outbox rows only) */
	char *member;		/* cluster mode: the member id of the daemon
				 * that runs it (runner_set_member); NULL or
				 * "": none (read back as NULL) */
	int64_t fence;		/* cluster mode: the claim's revision in etcd,
				 * its fencing token; 0: none */
	int64_t remote_id;	/* cluster mode: > 0, a summary of another
				 * member's run (member), its id there: no
				 * output here; 0: this daemon's own run */
};

/* The node= of log lines about run (borrowed from it): its current
 * attempt's node, "(all)" when that runs on several, "-" before it has
 * one. */
const char *store_run_node(const struct store_run *run);

struct store_job_state {
	int64_t last_scheduled_at;	/* of the newest scheduled run; 0: none */
	int64_t last_run_id;
	enum run_status last_status;
	int64_t last_ended_ms;
	int64_t run_count;		/* runs created by the schedule */
	bool paused;			/* paused through the API */
};

struct store_query {
	const char *job;	/* NULL: all jobs */
	int status;		/* enum run_status, or -1: any */
	int64_t since_ms;	/* created at or after; 0: any */
	int64_t before_id;	/* older than run before_id (the page after
				 * the one it ended); 0: no bound */
	int limit;		/* newest first (by created_ms, then id);
				 * 0: 100 */
	bool with_output;	/* fill item out/err (else NULL) */
};

/*
 * Opens (creating and migrating unless readonly) the store at path.
 * Returns 0, or ERR_STORE with *errstr set to a description in a
 * thread-local buffer.
 */
int store_open(const char *path, bool readonly, struct store **out,
    const char **errstr);

/* Closes the store; accepts NULL. */
void store_close(struct store *st);

/* Marks runs and items left PENDING, STARTED or RETRY as LOST with reason
 * "daemon stopped while the run was in progress" ("never started: ..."
 * for PENDING; STORE_WAITING_REASON for an item that was queued), and gives each such run a "report" outbox entry for every
 * sink named by store_recover_reports(), in the same transaction.  Stores
 * the count. */
int store_recover(struct store *st, int64_t now_ms, int *nlost);

/* The outbox sinks that take every run's report (sinks[0..n-1], at most
 * STORE_REPORT_SINKS, strings that outlive st), for store_recover(). */
#define STORE_REPORT_SINKS	4
void store_recover_reports(struct store *st, const char *const *sinks,
    size_t n);

/* The same for the sinks that get a "failure" entry of every run
 * store_recover() marks LOST (the notification sinks: the job's settings
 * are not known here, the sink checks them when it delivers). */
void store_recover_failures(struct store *st, const char *const *sinks,
    size_t n);

/* Calls fn for each item of an unfinished run that recorded a process
 * group (item proc), before store_recover().  Stops at fn's first non-zero
 * return and returns it; 0, or ERR_STORE.  Blocks on the store. */
int store_orphans(struct store *st,
    int (*fn)(int64_t run_id, const char *proc, void *arg), void *arg);

/* Replaces the reason of run run_id.  Returns 0 or ERR_STORE. */
int store_run_reason_set(struct store *st, int64_t run_id,
    const char *reason);

/*
 * Records the intent of n new runs in one transaction and assigns their ids.
 * A scheduled run ("schedule" or "missed") whose (job, scheduled_at) exists
 * already gets id 0 and is not inserted (the caller must not launch it).
 * For scheduled runs the job's run_count and last_scheduled_at advance.
 * Returns 0, ERR_STORE_FULL (no space left: nothing was written, a later
 * try may succeed) or ERR_STORE.
 */
int store_runs_create(struct store *st, struct store_run *const *runs,
    size_t n);

/*
 * Saves the current state of n existing runs in one transaction: the run
 * row, all its items (replacing earlier ones), the outbox rows it carries,
 * the job state when a run is final, and - amortised - retention (the
 * job's oldest final runs beyond run->retention are deleted).  A record
 * of a tick that did not start (run->missed > 0, id 0) writes its outbox
 * rows only, with run_id 0, its job and scheduled_at.  Another member's
 * summary (remote_id > 0) is inserted unless one of the same member
 * and remote_id, or a run of the same scheduled tick, is there already;
 * its output is dropped and the job's summaries beyond run->retention
 * (the newest kept) deleted; retention counts this daemon's own runs
 * only.  Returns 0, ERR_STORE_FULL (nothing was
 * written, a later try may succeed) or ERR_STORE.
 */
int store_runs_save(struct store *st, struct store_run *const *runs,
    size_t n);

/* Checks that the store can write again: one small write transaction (the
 * schema version rewritten).  Returns 0, ERR_STORE_FULL or ERR_STORE;
 * blocks on the store. */
int store_probe(struct store *st);

/* Loads one run with its items and output.  Returns 0, ERR_NOTFOUND or
 * ERR_STORE.  The caller frees *out with store_run_free(). */
int store_run_get(struct store *st, int64_t id, struct store_run **out);

/* Loads runs ids[0..n-1] as store_run_get does, in one read transaction
 * (the outbox's batches): out[i] is the run, or NULL when it is not in
 * the store.  Returns 0, -ENOMEM or ERR_STORE (then every out[i] is
 * NULL).  The caller frees each out[i] with store_run_free(). */
int store_runs_get(struct store *st, const int64_t *ids, size_t n,
    struct store_run **out);

/* Lists runs matching q, newest first, with items.  *out is an array of
 * *n runs; free it with store_runs_free(). */
int store_runs_query(struct store *st, const struct store_query *q,
    struct store_run ***out, size_t *n);

/* Reads the state of one job.  Returns 0 (zeroed state for unknown jobs) or
 * ERR_STORE. */
int store_job_state_get(struct store *st, const char *job,
    struct store_job_state *out);

/* Every job's stored state, as one read at a daemon's start (see
 * store_job_states_read()); opaque. */
struct store_job_states;

/* Reads the state of every job in one pass (one SELECT, in name order)
 * into a new *out (store_job_states_free() it), for a start that would
 * otherwise query once per job.  Blocks on the store's lock and disk;
 * returns 0, ERR_STORE or -ENOMEM. */
int store_job_states_read(struct store *st, struct store_job_states **out);

/* The state of job in s (a binary search), as store_job_state_get() reads
 * it: zeroed for a job without stored state. */
void store_job_states_find(const struct store_job_states *s,
    const char *job, struct store_job_state *out);

/* Frees what store_job_states_read() made; accepts NULL. */
void store_job_states_free(struct store_job_states *s);

/* Records whether a job is paused (kept across restarts).  Blocks on the
 * store's lock and disk; returns 0 or ERR_STORE. */
int store_job_pause_set(struct store *st, const char *job, bool paused);

/* ---- the outbox table (outbox.h owns its meaning) ---- */

/* Calls fn(arg) (on the committing thread, outside the store's lock) after
 * each transaction that wrote outbox rows; NULL turns it off.  Set it
 * before the store thread starts. */
void store_on_outbox(struct store *st, void (*fn)(void *), void *arg);

#define STORE_OUTBOX_NAME	32	/* sink and event names, with NUL */
#define STORE_OUTBOX_WHY	256

struct store_outbox_entry {
	int64_t id;
	int64_t run_id;
	char job[DEFS_NAME_MAX + 1];	/* "" if the run is gone */
	char sink[STORE_OUTBOX_NAME];
	char event[STORE_OUTBOX_NAME];
	int64_t created_ms;		/* CLOCK_REALTIME ms */
	int attempts;
	int64_t next_ms;		/* due at (CLOCK_REALTIME ms) */
	bool parked;
	char why[STORE_OUTBOX_WHY];	/* last failure, or "" */
	int64_t scheduled_at;		/* the run's, or the row's (UTC s) */
	bool has_doc;			/* its own document: store_outbox_doc */
};

/* The document of entry id (has_doc), malloc'd into *doc.  0,
 * ERR_NOTFOUND (no such entry, or none), -ENOMEM or ERR_STORE. */
int store_outbox_doc(struct store *st, int64_t id, char **doc);

/* Reads up to max entries, oldest first: of sink, not parked and due at
 * now_ms (due), or parked ones of any sink (sink NULL, parked).  *out is
 * malloc'd (free()); *n may be 0.  Returns 0, -ENOMEM or ERR_STORE. */
int store_outbox_due(struct store *st, const char *sink, int64_t now_ms,
    size_t max, struct store_outbox_entry **out, size_t *n);
/* The same due entries of sink, only those with an id above after_id
 * (the outbox reads the next batch of a backlog while one is in flight),
 * found in id order from after_id on; after_id -1: any id, through the
 * index of due entries (store_outbox_due). */
int store_outbox_due_after(struct store *st, const char *sink,
    int64_t now_ms, int64_t after_id, size_t max,
    struct store_outbox_entry **out, size_t *n);
int store_outbox_parked(struct store *st, size_t max,
    struct store_outbox_entry **out, size_t *n);

/* Deletes n entries (delivered) in one transaction, one statement per
 * run of consecutive ids.  0, -ENOMEM or ERR_STORE. */
int store_outbox_delete(struct store *st, const int64_t *ids, size_t n);

/* Writes attempts, next_ms, parked and why of n entries in one
 * transaction.  0 or ERR_STORE. */
int store_outbox_update(struct store *st,
    const struct store_outbox_entry *e, size_t n);

/* Re-queues parked entry id (0: every parked entry): due now, attempts 0.
 * *n receives the count.  0 or ERR_STORE. */
int store_outbox_requeue(struct store *st, int64_t id, size_t *n);

struct store_outbox_count {
	size_t depth;			/* entries, parked included */
	size_t parked;
	int64_t oldest_ms;		/* created_ms of the oldest; 0: none */
	int64_t next_ms;		/* earliest due, unparked; 0: none */
};

/* Counts the entries of sink.  0 or ERR_STORE. */
int store_outbox_count(struct store *st, const char *sink,
    struct store_outbox_count *out);

/* Keeps the newest max entries: deletes the oldest beyond, calling
 * fn(sink, count, arg) per sink that lost some.  0 or ERR_STORE. */
int store_outbox_trim(struct store *st, size_t max,
    void (*fn)(const char *sink, size_t count, void *arg), void *arg);

/* Frees the outbox rows of run (once a save carries them): none left. */
void store_run_outrows_free(struct store_run *run);

/* Frees a run and everything it points to; accepts NULL. */
void store_run_free(struct store_run *run);
void store_runs_free(struct store_run **runs, size_t n);

#endif
