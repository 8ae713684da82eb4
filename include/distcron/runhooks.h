/*
 * runhooks.h - the seams in the life of a run, as small tables of
 * function pointers (like struct exec_ops):
 *
 *   claim   before a run launches it must win its tick; the runner hands
 *           the intents of one loop turn to the claim in force, which
 *           answers won (the intent is recorded: the run launches at its
 *           second), lost (another claim owns the tick: the run is dropped,
 *           nothing of it is saved) or failed (no intent recorded: the run
 *           is not launched, a scheduled tick counts as skipped).
 *   plan    when a run is final, before the finish hooks, one plan step
 *           may attach outbox rows to the final record (the durable
 *           outbox's entries: reports, notifications); "store" writes
 *           them in the same transaction as the run's final state.  It
 *           is also asked when a run launches (STARTED: its rows are
 *           saved at once with that state) and of a tick that did not
 *           start (a record with missed > 0 and id 0, never a run: only
 *           its rows are saved, through the store thread).
 *   finish  when a run is final, an ordered list of hooks is told of the
 *           final record; hook #1, "store", queues it for the store thread
 *           (after the others have read it: it takes the record as it is,
 *           without a copy).
 *
 * All are chosen when the runner starts (runner.h: runner_set_claim,
 * runner_set_plan, runner_add_finish_hook) and called on the loop thread
 * only.
 */
#ifndef DISTCRON_RUNHOOKS_H
#define DISTCRON_RUNHOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "distcron/defs.h"
#include "distcron/store.h"

/*
 * A claim's answer, called once on the loop thread (possibly before claim
 * returns).  rc 0: recs[i]->id > 0 means won, 0 means lost; rc negative:
 * the whole batch failed with that error (ERR_STORE_QUEUE, ERR_STORE_FULL,
 * ...), no intent recorded.  recs may be NULL; the runner knows its runs.
 */
typedef void (*run_claim_done_fn)(struct store_run **recs, size_t n, int rc,
    void *done_arg);

struct run_claim_ops {
	const char *name;		/* "local", ... */
	/*
	 * Claims the ticks of recs[0..n-1] (PENDING records with the job,
	 * scheduled_at, trigger and one item per picked node; id 0) and, for
	 * each tick won, records the intent so that recs[i]->id is set.  The
	 * array is the caller's (copy it if needed); the records stay the
	 * runner's and must be left alone until done is called.  Never
	 * blocks.  Returns 0, then calls done exactly once; or a negative
	 * error, and never calls done (the runner treats the batch as
	 * failed with it).
	 */
	int (*claim)(void *arg, struct store_run **recs, size_t n,
	    run_claim_done_fn done, void *done_arg);
	/*
	 * Optional (NULL: always).  Asked just before a won run launches
	 * (first attempt only): 0 lets it go; non-zero stops it, with why
	 * (n bytes): the run fails with that reason and a scheduled tick
	 * counts as missed.  Never blocks.
	 */
	int (*may_launch)(void *arg, const struct store_run *rec, char *why,
	    size_t n);
	/*
	 * True when other daemons claim the same ticks (a cluster): ticks
	 * missed while this daemon was down are not its to catch up at
	 * startup; the claim does it for the jobs it owns
	 * (runner_catch_up).
	 */
	bool shared;
};

/*
 * Besides won (id > 0) and lost (id 0), a claim answering rc 0 may mark a
 * record that nobody claimed: id 0 with missed = 1 and reason saying why
 * (etcd unreachable, lease lost).  The run is not launched and its tick
 * counts as missed with that reason at once.  A lost record may carry a
 * reason too (who holds the tick): it is only logged at debug level.
 */

/*
 * One hook told of every final run (one whose intent was recorded: never
 * a lost or unrecorded tick), in the order the hooks were added (the
 * store's hook, #1, last), on the loop thread.  fn must not block or keep rec or def past the call: both
 * stay the runner's, are read-only and valid only during the call; a hook
 * cannot change the run.  arg is the hook's own.
 */
struct run_finish_hook {
	const char *name;		/* "store", ... */
	void (*fn)(void *arg, const struct store_run *rec,
	    const struct job_def *def);
	void *arg;
};

/*
 * The plan step: attaches to rec (final, with its id; STARTED; or a
 * missed tick, rec->missed > 0) the outbox rows it creates, as
 * rec->outrows / rec->noutrows (malloc'd strings, freed with the record).  prev is the job's previous final status (RUN_PENDING:
 * none).  Never blocks; def is read-only and valid during the call only.
 */
typedef void (*run_plan_fn)(void *arg, struct store_run *rec,
    const struct job_def *def, enum run_status prev);

#endif
