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

#include <stdint.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/loop.h"
#include "distcron/store.h"

struct runner;

/*
 * Creates a runner on loop, writing runs to st (which must outlive it).
 * Starts the store thread.  Returns 0 or a negative error.
 */
int runner_new(const struct config *cfg, struct loop *loop, struct store *st,
    struct runner **out);

/*
 * Applies a freshly loaded set of definitions (takes ownership of set).
 * New jobs are scheduled (at_startup: ticks missed while the daemon was down
 * are handled per the job's "missed" setting); changed jobs take the new
 * definition at their next tick; removed jobs stop being scheduled.  Runs in
 * progress keep the definition they started with.  A job whose file is
 * present but cannot be loaded (half written, invalid) keeps its previous
 * definition.  Blocks briefly reading
 * the stored state of new jobs.
 */
void runner_apply(struct runner *r, struct defs_set *set, int at_startup);

/*
 * Stops scheduling, lets runs finish for up to grace_ms, then kills what is
 * left, waits until every result is stored, and calls done(arg).
 */
void runner_shutdown(struct runner *r, int64_t grace_ms, loop_fn done,
    void *arg);

/* Stops the store thread and frees the runner; call after shutdown's done
 * callback (or before anything ran).  Accepts NULL. */
void runner_free(struct runner *r);

/* Counters for logs and the API. */
struct runner_stats {
	size_t jobs;		/* scheduled jobs */
	size_t running;		/* items executing now */
	size_t waiting;		/* items waiting for a concurrency slot */
	size_t in_flight;	/* runs not final yet */
	uint64_t started;	/* runs launched since start */
	uint64_t skipped;	/* ticks skipped (overlap, missed) */
};
void runner_stats(const struct runner *r, struct runner_stats *out);

#endif
