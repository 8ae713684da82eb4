/*
 * runner.h - the life of every run: tick -> intent recorded -> launch at the
 * scheduled second -> executors -> result recorded -> retry or done.
 *
 * The runner owns the per-job state (one slot per job: definition, next
 * tick, runs in flight), applies reloaded definitions by diffing them, and
 * talks to the store through its own thread so the event loop never blocks
 * on disk.  All functions run on the loop thread.
 */
#ifndef DISTCRON_RUNNER_H
#define DISTCRON_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/loop.h"
#include "distcron/runhooks.h"
#include "distcron/store.h"

struct runner;

/*
 * Creates a runner on loop, writing runs to st (which must outlive it).
 * Starts the store thread.  In cluster mode (config_cluster_on) its
 * records carry cfg's cluster.member (runner_set_member).  Returns 0 or a
 * negative error.
 */
int runner_new(const struct config *cfg, struct loop *loop, struct store *st,
    struct runner **out);

/* The claim in force (runhooks.h): after runner_new, "local" on the
 * runner's store thread, whose unique (job, tick) index makes a second
 * intent for a tick lose.  A claim that wraps it records its won intents
 * through it. */
void runner_claim(const struct runner *r, const struct run_claim_ops **ops,
    void **arg);

/* Puts ops (with its arg; both must outlive r) in force for every run.
 * Only before the first runner_apply and the first run: returns 0, or
 * ERR_BUSY after. */
int runner_set_claim(struct runner *r, const struct run_claim_ops *ops,
    void *arg);

#define RUNNER_HOOKS_MAX	8	/* finish hooks, "store" included */

/* Adds a hook (copied; its name and arg must outlive r) after those in
 * place: runner_new adds "store" as hook #1.  Only before the first
 * runner_apply and the first run.  Returns the hook's position (from 0),
 * ERR_BUSY after, or -ENOSPC past RUNNER_HOOKS_MAX. */
int runner_add_finish_hook(struct runner *r, const struct run_finish_hook *h);

/* Puts the plan step in force (runhooks.h; fn and arg must outlive r):
 * called for every final run before its finish hooks.  Only before the
 * first runner_apply and the first run: returns 0, or ERR_BUSY after. */
int runner_set_plan(struct runner *r, run_plan_fn fn, void *arg);

/* Cluster mode: every record the runner creates from now on (runs and
 * missed ticks) carries member (copied; NULL or "": none), which runs
 * see as DISTCRON_MEMBER.  Only before the first runner_apply and the
 * first run: returns 0, -ENOMEM, or ERR_BUSY after. */
int runner_set_member(struct runner *r, const char *member);

/* Cluster mode: queues rec, a record that is none of the runner's runs
 * (another member's summary: store.h, remote_id), for the store thread,
 * which takes it over (frees it).  Loop thread; never blocks.  Returns 0
 * or -ENOMEM (rec freed). */
int runner_store_save(struct runner *r, struct store_run *rec);

#define RUNNER_KEPT_MAX	256	/* bytes of a list of kept file names */

/* What runner_apply made of a set: counts include the kept definitions. */
struct runner_applied {
	size_t jobs, nodes;
	size_t kept_jobs, kept_nodes;	/* kept with their previous definition */
	char kept_job_files[RUNNER_KEPT_MAX];	/* "a.json, b.json" */
	char kept_node_files[RUNNER_KEPT_MAX];
};

/*
 * Applies a freshly loaded set of definitions (takes ownership of set).
 * New jobs are scheduled (at_startup: ticks missed while the daemon was down
 * are handled per the job's "missed" setting); changed jobs take the new
 * definition at their next tick; removed jobs stop being scheduled.  Runs in
 * progress keep the definition they started with.  A job or node whose
 * file is present but cannot be loaded (half written, invalid) keeps its
 * previous definition.  Returns 0 and fills *out (may be NULL) with what
 * is now in force, or -ENOMEM (the old definitions stay, set is freed).
 * Blocks briefly reading the stored state of new jobs.
 */
int runner_apply(struct runner *r, struct defs_set *set, int at_startup,
    struct runner_applied *out);

/*
 * Stops scheduling, lets runs finish for up to grace_ms, then kills what is
 * left, waits until every result is stored (if the store cannot write, up
 * to grace_ms more; what is still unsaved is logged), and calls done(arg).
 */
void runner_shutdown(struct runner *r, int64_t grace_ms, loop_fn done,
    void *arg);

/* Stops the store thread and frees the runner; call after shutdown's done
 * callback (or before anything ran).  Accepts NULL. */
void runner_free(struct runner *r);

/* Counters for logs and the API. */
#define RUNNER_HIST_N	12
#define RUNNER_HIST_BOUNDS { 1, 2, 5, 10, 25, 50, 100, 250, 1000, 10000, \
	60000, 600000 }

struct runner_stats {
	size_t jobs;		/* scheduled jobs */
	size_t running;		/* items executing now */
	size_t waiting;		/* items waiting for a concurrency slot */
	size_t in_flight;	/* runs not final yet */
	uint64_t started;	/* runs launched since start */
	uint64_t skipped;	/* ticks skipped (overlap, missed) */
	size_t store_queue;	/* records waiting for the store thread */
	size_t output_held;	/* bytes of captured output in memory */
	uint64_t output_spills;	/* captures moved to files (budget) */
	uint64_t output_cuts;	/* captures cut (budget, no file) */
	size_t store_queue_max;	/* new runs are refused at this depth */
	int store_err;		/* 0, or why the store cannot write */
	uint64_t store_failed;	/* failed store writes */
	uint64_t store_rejected; /* intents refused (queue full, failing) */
	/* histograms since start, in ms, upper bounds RUNNER_HIST_BOUNDS
	 * (cumulative counts are the caller's to compute) */
	uint64_t lateness_hist[RUNNER_HIST_N + 1];	/* item start - tick */
	uint64_t lateness_count;
	double lateness_sum_ms;
	uint64_t duration_hist[RUNNER_HIST_N + 1];	/* run start - end */
	uint64_t duration_count;
	double duration_sum_ms;
	uint64_t finals[RUN_LOST + 1];	/* final runs by status */
	uint64_t jobs_last[RUN_LOST + 1];	/* scheduled jobs by their
					 * newest final run's status (kept
					 * as runs end, not counted) */
};
void runner_stats(const struct runner *r, struct runner_stats *out);

/* ---- management (the REST API calls these through the daemon) ---- */

struct runner_job_info {
	const struct job_def *def;	/* valid until the next loop turn */
	int64_t next_run;		/* UTC seconds; 0: not scheduled */
	int running;			/* runs not final yet */
	bool paused;
	int64_t run_count;		/* scheduled runs so far */
	int64_t last_id;		/* newest final run; 0: none */
	enum run_status last_status;
	int64_t last_ended_ms;
};

/* The scheduled jobs, in name order. */
size_t runner_job_count(const struct runner *r);
void runner_job_at(const struct runner *r, size_t i,
    struct runner_job_info *out);
/* The index of the first job named after name (0 for NULL): where a page
 * of the listing that follows name starts.  A binary search. */
size_t runner_job_after(const struct runner *r, const char *name);
/* Returns 0 or ERR_NOTFOUND. */
int runner_job_find(const struct runner *r, const char *name,
    struct runner_job_info *out);

/*
 * Ticks of job name after last and before end (UTC seconds) that no
 * daemon started: the latest runs once if the job says "missed":
 * "run_once" (trigger "missed", through the claim in force), the others
 * are missed with why ("in the failover window ...", as the log says
 * "N tick(s) missed WHY").  As at startup after a downtime; a cluster
 * member calls it for the jobs it took over.  Returns 0 or ERR_NOTFOUND.
 */
int runner_catch_up(struct runner *r, const char *name, int64_t last,
    int64_t end, const char *why);

/*
 * Starts job name's run of tick t as its scheduler does (trigger
 * "schedule", through the claim in force), unless the job is disabled or
 * paused: a cluster member that took the job over runs so the ticks handed
 * to the claim (a moment before they were due) while the job was still
 * another member's.  Returns 0 or ERR_NOTFOUND.
 */
int runner_run_tick(struct runner *r, const char *name, int64_t t);

/* The first tick of job name not yet handed to the claim (the next the
 * scheduler will hand over; now when it has none). */
int64_t runner_handed_until(const struct runner *r, const char *name);

/* Pauses (scheduled ticks are skipped) or resumes a job, in memory; the
 * caller persists it (store_job_pause_set).  0 or ERR_NOTFOUND. */
int runner_pause(struct runner *r, const char *name, bool paused);

/* Told the id of a run once the store has recorded it (rc 0), or why not. */
typedef void (*runner_created_fn)(void *arg, int64_t id, int rc);

/* Runs a job now (trigger "manual"), whatever its schedule or pause.
 * Returns 0 (fn follows), ERR_NOTFOUND, ERR_EXISTS (concurrency forbid
 * and a run is going) or ERR_BUSY (shutting down). */
int runner_trigger(struct runner *r, const char *name, runner_created_fn fn,
    void *arg);

/* Runs an ad-hoc task once now (trigger "task"); def is referenced, not
 * scheduled, and forgotten when the run ends.  Returns 0 or an error. */
int runner_task(struct runner *r, struct job_def *def, runner_created_fn fn,
    void *arg);

/* Cancels a run in flight (its processes are killed, the run fails with
 * why, which is copied).  Returns 0 or ERR_NOTFOUND when no such run is in flight. */
int runner_cancel(struct runner *r, int64_t id, const char *why);

/* The output so far of an item executing now. */
struct runner_live {
	char *node;
	int attempt;
	char *out, *err;	/* masked as the final output; never NULL */
	bool truncated;		/* some was cut (marked in the text) */
};

/*
 * On the loop thread: *items (malloc'd; runner_live_free()) gets one
 * entry per item of run id executing now on an executor that captures
 * its output as it comes (local, SSH, HTTP; not AMQP), *n how many (0
 * when none is).  Its secrets are masked as in the final output, and the
 * start of a value at the end is held back (secrets_mask_live()).  Bounded
 * work: copies of the captures (a spilled one is read back from its
 * file).  Returns 0, ERR_NOTFOUND (no such run in flight here) or
 * -ENOMEM.
 */
int runner_live(struct runner *r, int64_t id, struct runner_live **items,
    size_t *n);

/* Frees runner_live()'s items; accepts NULL. */
void runner_live_free(struct runner_live *items, size_t n);

/*
 * On the loop thread: *state (store_run_free()) gets what the runner
 * knows now of run id, which the store's record lags behind (its writes
 * are batched): the run's status (STARTED once an item launched),
 * attempt, times and reason, and each item's status, attempt, times, exit
 * code and error, with the final output of those that ended (masked; an
 * item executing now has none: runner_live() gives it).  NULL when the
 * run is final already (the store's record is then the one to show).
 * Bounded work: a copy of the record.  Returns 0, ERR_NOTFOUND (no such
 * run in flight here) or -ENOMEM.
 */
int runner_live_state(struct runner *r, int64_t id, struct store_run **state);

struct spill;

/* Where results the store could not take at shutdown go (spill.h); sp
 * must outlive r. */
void runner_set_spill(struct runner *r, struct spill *sp);

struct secrets;

/* The secrets runs resolve their references from (secrets.h), or NULL
 * (no key: a job that refers to one fails, naming it); s must outlive r. */
void runner_set_secrets(struct runner *r, struct secrets *s);

/* 0 while the store writes, else why it cannot (ERR_STORE_FULL, ...).
 * Thread-safe (the API threads ask); never blocks on disk. */
int runner_store_error(struct runner *r);

/* The node table (selection and health), for listings. */
struct policy *runner_policy(struct runner *r);

/* The definitions in force (the runner's; NULL before the first
 * runner_apply): what a reload's defs_reload() starts from.  It stays
 * valid until the next runner_apply. */
struct defs_set *runner_defs(struct runner *r);

#endif
