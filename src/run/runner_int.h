/*
 * runner_int.h - private to the runner's files (runner.c, plan.c, run.c,
 * runstats.c, runlive.c): the state of the runner, of each job (struct
 * slot) and of each run in flight, and the functions those files call
 * across each other.  Everything here runs on the loop thread.
 */
#ifndef DISTCRON_RUNNER_INT_H
#define DISTCRON_RUNNER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "distcron/exec.h"
#include "distcron/exec_amqp.h"
#include "distcron/exec_http.h"
#include "distcron/exec_ssh.h"
#include "distcron/outcap.h"
#include "distcron/policy.h"
#include "distcron/runhooks.h"
#include "distcron/runner.h"
#include "distcron/scheduler.h"
#include "distcron/secrets.h"
#include "distcron/storeq.h"

/* A run or a forbid tick whose monotonic wait ended at most this long
 * before its second on the wall clock waits for the rest; more means the
 * wall clock was stepped back meanwhile, and it goes at once. */
#define RUN_TICK_SLACK_MS	100

struct run;

struct slot {
	const char *name;	/* def->name: no copy per job */
	struct job_def *def;
	struct scheduler_item item;
	int64_t run_count;	/* scheduled runs so far (for max_runs) */
	int nrunning;		/* runs not final yet */
	int gone;		/* removed by a reload */
	struct run *runs;	/* those runs */
	struct loop_timer *defer;	/* forbid: re-check at the tick */
	int64_t defer_tick;
	int64_t caught_until;	/* ticks up to it caught up or started by
				 * runner_catch_up/runner_run_tick */
	struct runner *r;
	bool paused;		/* no scheduled runs (API) */
	bool transient;		/* an ad-hoc task's slot, not scheduled */
	bool detached;		/* in r->detached (not in r->slots) */
	enum run_status last_status;	/* (beside the bools: no padding) */
	struct slot *tnext, *tprev;	/* r->detached */
	int64_t last_id;	/* newest final run */
	int64_t last_ended_ms;
	int64_t refused_tick;	/* newest tick the store could not take */
	long nrefused;		/* ... and how many, since the store failed */
};

struct item_ctx {
	struct run *run;
	size_t idx;		/* in run->rec->items */
	struct exec_proc *proc;
	const struct exec_ops *ops;
	int waiting;
	struct item_ctx *wnext;
	struct secrets_use sec;	/* the secret values of its attempt, until
				 * its output is masked */
};

struct run {
	struct runner *r;
	struct slot *slot;
	struct job_def *def;
	struct store_run *rec;
	struct item_ctx **ic;	/* one per rec->items entry */
	size_t active;		/* items of this attempt not done */
	struct loop_timer *timer;	/* launch or retry */
	int launched;
	int tick_waited;	/* its launch timer fired once */
	const char *cancel_reason;	/* cancel_copy, or a fixed text */
	char *cancel_copy;		/* run_cancel's why, copied */
	struct run *next, *prev;	/* the slot's runs */
	struct run *snext, *sprev;	/* launched, STARTED not saved yet */
	int64_t launched_ms;		/* CLOCK_MONOTONIC */
	int failovers;			/* attempts spent on unreachable nodes */
	char *pick_error;		/* why no node was picked */
	runner_created_fn created_fn;	/* manual runs: told the id */
	void *created_arg;
};

struct runner {
	const struct config *cfg;
	struct loop *loop;
	struct store *st;
	struct storeq *q;
	struct scheduler *sched;
	struct slot **slots;	/* sorted by name */
	size_t nslots;
	struct defs_set *set;
	struct policy *policy;		/* nodes: selection and health */
	struct exec_ssh *ssh;		/* SSH connection pool */
	struct exec_http *http;		/* HTTP client */
	struct exec_amqp *amqp;		/* AMQP publisher */
	struct outcap_budget outbudget;	/* captured output in memory */
	struct secrets *secrets;	/* or NULL: no secrets key */
	struct item_ctx *wait_head, **wait_tail;
	int64_t wait_began_ms;	/* the queue formed (CLOCK_REALTIME) */
	uint64_t wait_count;	/* items queued since */
	const struct run_claim_ops *claim;	/* runhooks.h: ticks won */
	void *claim_arg;
	struct run_finish_hook hooks[RUNNER_HOOKS_MAX];	/* final runs */
	size_t nhooks;
	run_plan_fn plan;		/* runhooks.h: outbox rows, or NULL */
	void *plan_arg;
	char *member;		/* cluster mode's member id, or NULL */
	struct run **pending;	/* intents not yet handed to the claim */
	size_t npending, cappending;
	struct runner_stats stats;
	struct run *unsaved, *unsaved_tail;	/* oldest launch first */
	struct slot *detached;		/* task slots, retired slots with runs */
	struct loop_timer *unsaved_timer;
	unsigned rr;
	int shutting;
	int64_t grace_ms;	/* shutdown: also the store's time to drain */
	loop_fn done_fn;
	void *done_arg;
	int done_called;
	struct store_job_states *states;	/* runner_apply() at startup */
	bool states_failed;	/* ... could not read them at once */
};

/* ---- runner.c: the hub ---- */

/* At shutdown, once no run is in flight: drains the store, then done. */
void runner_check_done(struct runner *r);
/* The run in flight with this id (scheduled or detached slots), or
 * NULL. */
struct run *runner_run_find(struct runner *r, int64_t id);

/* ---- plan.c: when or whether a run happens ---- */

/* The wall clock in UTC seconds. */
int64_t plan_now(void);
/* The scheduler's callbacks: a slot's tick is near; the clock stepped. */
void plan_due(struct scheduler_item *it, void *arg);
void plan_jump(int64_t delta_ms, void *arg);
/* storeq_on_writable: ticks refused meanwhile count as missed. */
void plan_store_back(void *arg);
/* Keeps a slot out of r->slots (task, retired with runs) reachable. */
void plan_slot_detach(struct runner *r, struct slot *slot);
/* Unlinks a detached slot, stops its timer and frees it. */
void plan_slot_free(struct slot *slot);
/* Drops a "forbid" tick waiting to be decided. */
void plan_cancel_defer(struct slot *slot);
/* Every slot, scheduled and detached: a malloc'd array, NULL if no memory. */
struct slot **plan_slots_all(struct runner *r, size_t *np);

/* ---- run.c: what happens to a run ---- */

/* The local claim: intents go to the store thread (arg: struct storeq). */
extern const struct run_claim_ops run_claim_local;
/* t as ISO 8601 in the job's zone, for logs. */
void run_fmt_time(const struct job_def *def, int64_t t, char *out, size_t n);
/* The fields every log line about a run carries, so that a search for
 * job=NAME, run=ID or node=NAME finds it: RUN_LOG_FIELDS in the format,
 * RUN_LOG_ARGS(rec) in the arguments. */
#define RUN_LOG_FIELDS	"job=%s run=%lld node=%s"
#define RUN_LOG_ARGS(rec) \
	(rec)->job, (long long)(rec)->id, store_run_node(rec)
/* A new run of slot (PENDING, no items yet), or NULL without memory. */
struct run *run_new(struct slot *slot, int64_t scheduled_at,
    const char *trigger);
/* Adds the items of attempt 1; returns how many (0: no node). */
int run_pick_nodes(struct run *run);
/* Gathers the run's intent for the claim at the end of this loop turn. */
void run_queue_intent(struct runner *r, struct run *run);
/* Ends a run with status: stats, log, finish hooks, frees it. */
void run_finish(struct run *run, enum run_status status, const char *reason);

/* A deep copy of a run's record (items and outbox rows with it), or NULL
 * when memory runs out; freed with store_run_free(). */
struct store_run *run_rec_copy(const struct store_run *src);
/* Tells the plan step of a tick of slot that did not start: tick, how
 * many ticks it stands for (count >= 1) and why; the outbox rows it
 * gets (a "missed" notification) go to the store thread.  Never blocks. */
void run_missed(struct slot *slot, int64_t tick, int64_t count,
    const char *why);
/* Whether a run of slot waits for a free slot (max_concurrent_runs). */
bool run_waiting(const struct slot *slot);
/* Stops a run (its processes killed, waiting items dropped); why is
 * copied. */
void run_cancel(struct run *run, const char *why);
/* Starts waiting items while the limits allow (none once shutting). */
void run_pump_waiting(struct runner *r);
/* At shutdown: every waiting item ends LOST, never started
 * (STORE_WAITING_REASON), and a run with nothing else going ends so. */
void run_drop_waiting(struct runner *r);

/* ---- runstats.c: counters and histograms ---- */

/* An item of a scheduled run started ms after its tick. */
void runstats_lateness(struct runner *r, int64_t ms);
/* A launched run took ms from start to end. */
void runstats_duration(struct runner *r, int64_t ms);
/* A recorded run ended with st. */
void runstats_final(struct slot *slot, enum run_status st);
/* A scheduled job's newest final run counts (d = 1) or stops counting
 * (d = -1) in stats.jobs_last, so /metrics never walks the jobs. */
void runstats_last(struct slot *slot, int d);

#endif
