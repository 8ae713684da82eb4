/*
 * runner.c - runs from tick to record.
 *
 * Life of a run:
 *   1. The scheduler hands a job's slot over RUNNER_LEAD_MS before the tick.
 *      The runner plans the job's next tick, applies the job's rules (enabled,
 *      start_at/expires_at, max_runs, concurrency), picks the nodes and
 *      queues the run's intent (PENDING, one item per node) for the store.
 *   2. When the store thread confirms the intent, a monotonic timer launches
 *      the run at its scheduled second (at once for manual, missed or late
 *      runs).  A tick the store already knows (same job and time) is not run
 *      again: that is what makes a tick run once.
 *   3. Each item starts on its node's executor when a slot is free under the
 *      global and per-node limits, else waits in a FIFO.
 *   4. When every item of the attempt is done the run succeeds, is retried
 *      after a backoff (failed nodes only), or fails; the final record, with
 *      the captured output, goes to the store thread.
 * Ticks found overdue by more than RUNNER_LATE_MS (daemon stopped, clock
 * stepped forward, machine suspended) count as missed: run once if the job
 * says "missed": "run_once" (within missed_max_age), else skipped and logged.
 * So do ticks whose intent the store refused (disk full): each slot keeps
 * the newest, and when the store thread says it writes again the rule is
 * applied to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/exec_http.h"
#include "distcron/exec_local.h"
#include "distcron/exec_ssh.h"
#include "distcron/log.h"
#include "distcron/orphan.h"
#include "distcron/outcap.h"
#include "distcron/policy.h"
#include "distcron/runner.h"
#include "distcron/scheduler.h"
#include "distcron/storeq.h"

#define RUNNER_LEAD_MS		250	/* intent written this early */
#define RUNNER_LATE_MS		60000	/* later than this: a missed tick */
#define RUNNER_BACKOFF_MAX_MS	(3600 * 1000)
#define RUNNER_MISSED_SCAN	1000000	/* bound on ticks walked at startup */
#define RUNNER_STARTED_SAVE_MS	1000	/* STARTED saved if still running */
#define RUNNER_HTTP_NODE	"(daemon)"	/* the item of an HTTP job */

struct run;

struct slot {
	char *name;
	struct job_def *def;
	struct scheduler_item item;
	int64_t run_count;	/* scheduled runs so far (for max_runs) */
	int nrunning;		/* runs not final yet */
	struct run *runs;	/* those runs */
	int gone;		/* removed by a reload */
	struct loop_timer *defer;	/* forbid: re-check at the tick */
	int64_t defer_tick;
	struct runner *r;
	bool paused;		/* no scheduled runs (API) */
	bool transient;		/* an ad-hoc task's slot, not scheduled */
	bool detached;		/* in r->detached (not in r->slots) */
	struct slot *tnext, *tprev;	/* r->detached */
	int64_t last_id;	/* newest final run */
	enum run_status last_status;
	int64_t last_ended_ms;
	int64_t finals[RUN_LOST + 1];	/* final runs since start */
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
	const char *cancel_reason;
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
	struct outcap_budget outbudget;	/* captured output in memory */
	struct item_ctx *wait_head, **wait_tail;
	struct run **pending;	/* intents not yet handed to the store */
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
};

static void run_finish(struct run *run, enum run_status status,
    const char *reason);
static void item_begin(struct item_ctx *ic);
static void pump_waiting(struct runner *r);
static void run_begin_items(struct run *run, size_t first);
static void run_cancel(struct run *run, const char *why);
static void hist_add(uint64_t *hist, uint64_t *count, double *sum,
    int64_t ms);

/* ---- small helpers ---- */

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct slot *
slot_of(struct scheduler_item *it)
{
	return (struct slot *)((char *)it - offsetof(struct slot, item));
}

static int64_t
now_s(void)
{
	return loop_real_ms() / 1000;
}

static struct policy_node *
node_find(struct runner *r, const char *name)
{
	return policy_node(r->policy, name);
}

static void
fmt_time(const struct job_def *def, int64_t t, char *out, size_t n)
{
	if (tz_format_iso8601(def->zone, t, out, n) != 0)
		snprintf(out, n, "@%lld", (long long)t);
}

/* ---- store records ---- */

static struct store_run *
rec_copy(const struct store_run *src)
{
	struct store_run *d;
	size_t i;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	*d = *src;
	d->job = xstrdup(src->job);
	d->trigger = xstrdup(src->trigger);
	d->reason = xstrdup(src->reason);
	d->items = calloc(src->nitems ? src->nitems : 1, sizeof(*d->items));
	if (d->items == NULL) {
		d->nitems = 0;
		store_run_free(d);
		return NULL;
	}
	for (i = 0; i < src->nitems; i++) {
		d->items[i] = src->items[i];
		d->items[i].node = xstrdup(src->items[i].node);
		d->items[i].out = xstrdup(src->items[i].out);
		d->items[i].err = xstrdup(src->items[i].err);
		d->items[i].error = xstrdup(src->items[i].error);
		d->items[i].proc = xstrdup(src->items[i].proc);
	}
	return d;
}

/* Queues a copy of the run's record for saving. */
static void
run_save(struct run *run)
{
	struct store_run *copy;

	if ((copy = rec_copy(run->rec)) == NULL) {
		log_error("run %lld: out of memory saving its state",
		    (long long)run->rec->id);
		return;
	}
	storeq_save(run->r->q, copy);
}

/*
 * STARTED is saved only for runs still going RUNNER_STARTED_SAVE_MS after
 * launch.  The PENDING intent already covers a crash (both become LOST), and
 * most runs are short: they go from PENDING to their final state in one
 * write, which keeps the store thread off the CPU during a burst of
 * launches.  The list is in launch order, so one timer serves it.
 */
static void unsaved_arm(struct runner *r);

static void
unsaved_unlink(struct runner *r, struct run *run)
{
	if (run->launched_ms == 0)
		return;
	if (run->sprev)
		run->sprev->snext = run->snext;
	else
		r->unsaved = run->snext;
	if (run->snext)
		run->snext->sprev = run->sprev;
	else
		r->unsaved_tail = run->sprev;
	run->snext = run->sprev = NULL;
	run->launched_ms = 0;
}

static void
unsaved_flush(void *arg)
{
	struct runner *r = arg;
	struct run *run;
	int64_t now = loop_mono_ms();

	r->unsaved_timer = NULL;
	while ((run = r->unsaved) != NULL &&
	    run->launched_ms + RUNNER_STARTED_SAVE_MS <= now) {
		unsaved_unlink(r, run);
		run_save(run);
	}
	unsaved_arm(r);
}

static void
unsaved_arm(struct runner *r)
{
	if (r->unsaved == NULL || r->unsaved_timer != NULL)
		return;
	loop_timer_add(r->loop, r->unsaved->launched_ms +
	    RUNNER_STARTED_SAVE_MS, unsaved_flush, r, &r->unsaved_timer);
}

static void
unsaved_add(struct runner *r, struct run *run)
{
	run->launched_ms = loop_mono_ms();
	run->sprev = r->unsaved_tail;
	run->snext = NULL;
	if (r->unsaved_tail)
		r->unsaved_tail->snext = run;
	else
		r->unsaved = run;
	r->unsaved_tail = run;
	unsaved_arm(r);
}

static int
run_add_item(struct run *run, const char *node, int attempt)
{
	struct store_run *rec = run->rec;
	struct store_item *items;
	struct item_ctx **ic, *c;

	items = realloc(rec->items, (rec->nitems + 1) * sizeof(*items));
	if (items == NULL)
		return -ENOMEM;
	rec->items = items;
	ic = realloc(run->ic, (rec->nitems + 1) * sizeof(*ic));
	if (ic == NULL)
		return -ENOMEM;
	run->ic = ic;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	memset(&items[rec->nitems], 0, sizeof(*items));
	items[rec->nitems].node = strdup(node);
	items[rec->nitems].attempt = attempt;
	items[rec->nitems].status = RUN_PENDING;
	items[rec->nitems].exit_code = -1;
	c->run = run;
	c->idx = rec->nitems;
	ic[rec->nitems++] = c;
	return items[c->idx].node ? 0 : -ENOMEM;
}

/* ---- node selection (policy.c decides) ---- */

/* Rotates a job's ties: successive runs of one job start the search at
 * successive nodes, whatever other jobs do. */
static unsigned
run_spin(const struct run *run)
{
	return (unsigned)run->slot->run_count + (unsigned)run->rec->attempt;
}

/* Adds the items of attempt 1: every candidate ("all") or the least busy
 * up one ("any").  Returns the number of items; with none, the reason is
 * kept for the record. */
static int
run_pick_nodes(struct run *run)
{
	struct runner *r = run->r;
	struct policy_node **all, *one;
	char why[POLICY_ERROR_MAX + 64];
	size_t i, n;
	int count = 0;

	if (run->def->http != NULL)	/* sent by the daemon itself */
		return run_add_item(run, RUNNER_HTTP_NODE, 1) == 0;
	if (run->def->hosts == JOB_HOSTS_ANY) {
		one = policy_pick_any(r->policy, run->def, NULL, 0,
		    run_spin(run), why, sizeof(why));
		if (one != NULL && run_add_item(run, one->def->name, 1) == 0)
			count++;
	} else if ((all = calloc(policy_count(r->policy) + 1,
	    sizeof(*all))) != NULL) {
		n = policy_pick_all(r->policy, run->def, all, why, sizeof(why));
		for (i = 0; i < n; i++)
			if (run_add_item(run, all[i]->def->name, 1) == 0)
				count++;
		free(all);
	} else
		snprintf(why, sizeof(why), "out of memory picking nodes");
	if (count == 0 && run->pick_error == NULL)
		run->pick_error = strdup(why);
	return count;
}

/* ---- runs ---- */

static struct run *
run_new(struct slot *slot, int64_t scheduled_at, const char *trigger)
{
	struct run *run;

	if ((run = calloc(1, sizeof(*run))) == NULL ||
	    (run->rec = calloc(1, sizeof(*run->rec))) == NULL) {
		free(run);
		return NULL;
	}
	run->r = slot->r;
	run->slot = slot;
	run->def = defs_job_ref(slot->def);
	run->rec->job = strdup(slot->name);
	run->rec->trigger = strdup(trigger);
	run->rec->scheduled_at = scheduled_at;
	run->rec->status = RUN_PENDING;
	run->rec->attempt = 1;
	run->rec->created_ms = loop_real_ms();
	run->rec->retention = run->def->retention;
	run->next = slot->runs;
	if (slot->runs)
		slot->runs->prev = run;
	slot->runs = run;
	slot->nrunning++;
	run->r->stats.in_flight++;
	return run;
}

/* Frees the item contexts; they are indexed by the record's items. */
static void
run_free_ctx(struct run *run)
{
	size_t i;

	for (i = 0; run->rec != NULL && i < run->rec->nitems; i++)
		free(run->ic[i]);
	free(run->ic);
	run->ic = NULL;
}

static void
run_free(struct run *run)
{
	run_free_ctx(run);
	store_run_free(run->rec);
	defs_job_unref(run->def);
	free(run->pick_error);
	free(run);
}

static void
slot_free(struct slot *slot)
{
	if (slot->detached) {
		if (slot->tprev != NULL)
			slot->tprev->tnext = slot->tnext;
		else
			slot->r->detached = slot->tnext;
		if (slot->tnext != NULL)
			slot->tnext->tprev = slot->tprev;
	}
	if (slot->defer != NULL)
		loop_timer_del(slot->defer);
	defs_job_unref(slot->def);
	free(slot->name);
	free(slot);
}

static void
runner_check_done(struct runner *r)
{
	if (!r->shutting || r->stats.in_flight > 0 || r->done_called)
		return;
	r->done_called = 1;
	storeq_drain(r->q, r->grace_ms, r->done_fn, r->done_arg);
}

/* Logs the end of a run: one line, plus one per node for "all" runs. */
static void
run_log_finish(struct run *run)
{
	struct store_run *rec = run->rec;
	const struct store_item *it, *last = NULL;
	char when[64], dur[32];
	size_t i, n = 0;

	if (!log_enabled(LOG_LVL_INFO))
		return;
	fmt_time(run->def, rec->scheduled_at, when, sizeof(when));
	for (i = 0; i < rec->nitems; i++) {
		if (rec->items[i].attempt == rec->attempt) {
			last = &rec->items[i];
			n++;
		}
	}
	for (i = 0; n > 1 && i < rec->nitems; i++) {
		it = &rec->items[i];
		if (it->attempt != rec->attempt)
			continue;
		dur_format(it->ended_ms - it->started_ms, dur, sizeof(dur));
		log_info("run %lld item: job=%s node=%s status=%s exit=%d "
		    "duration=%s", (long long)rec->id, rec->job, it->node,
		    store_status_str(it->status), it->exit_code, dur);
	}
	dur_format(rec->started_ms ? rec->ended_ms - rec->started_ms : 0,
	    dur, sizeof(dur));
	log_info("run %lld finished: job=%s node=%s scheduled=%s attempt=%d "
	    "status=%s exit=%d duration=%s%s%s", (long long)rec->id, rec->job,
	    n == 1 ? last->node : n == 0 ? "-" : "(all)", when, rec->attempt,
	    store_status_str(rec->status), n == 1 ? last->exit_code : -1, dur,
	    rec->reason ? " reason=" : "", rec->reason ? rec->reason : "");
}

/* Ends a run: records the final state and forgets it. */
static void
run_finish(struct run *run, enum run_status status, const char *reason)
{
	struct runner *r = run->r;
	struct slot *slot = run->slot;

	if (run->timer != NULL) {
		loop_timer_del(run->timer);
		run->timer = NULL;
	}
	unsaved_unlink(r, run);
	run->rec->status = status;
	run->rec->ended_ms = loop_real_ms();
	if (run->rec->id > 0) {
		r->stats.finals[status]++;
		slot->finals[status]++;
	}
	if (run->rec->id > 0 && run->rec->started_ms > 0)
		hist_add(r->stats.duration_hist, &r->stats.duration_count,
		    &r->stats.duration_sum_ms,
		    run->rec->ended_ms - run->rec->started_ms);
	if (run->rec->id > slot->last_id) {
		slot->last_id = run->rec->id;
		slot->last_status = status;
		slot->last_ended_ms = run->rec->ended_ms;
	}
	if (reason != NULL && run->rec->reason == NULL)
		run->rec->reason = strdup(reason);
	if (run->rec->id > 0) {
		run_log_finish(run);
		run_free_ctx(run);
		storeq_save(r->q, run->rec);	/* hands the record over */
		run->rec = NULL;
	}
	if (run->prev)
		run->prev->next = run->next;
	else
		slot->runs = run->next;
	if (run->next)
		run->next->prev = run->prev;
	slot->nrunning--;
	r->stats.in_flight--;
	if (slot->gone && slot->nrunning == 0)
		slot_free(slot);
	run_free(run);
	runner_check_done(r);
}

/* ---- items ---- */

static void
item_set_error(struct store_item *it, enum run_status st, const char *msg)
{
	it->status = st;
	if (it->ended_ms == 0)
		it->ended_ms = loop_real_ms();
	if (it->error == NULL && msg != NULL)
		it->error = strdup(msg);
}

/* Builds the run's environment additions: the job's own, then ours. */
static char **
item_env(struct run *run, const struct store_item *it)
{
	char **env, when[64], buf[5][128];
	size_t n = 0, i;

	for (i = 0; run->def->env && run->def->env[i]; i++)
		n++;
	if ((env = calloc(n + 6, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		env[i] = run->def->env[i];
	fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	snprintf(buf[0], sizeof(buf[0]), "DISTCRON_JOB=%s", run->rec->job);
	snprintf(buf[1], sizeof(buf[1]), "DISTCRON_RUN_ID=%lld",
	    (long long)run->rec->id);
	snprintf(buf[2], sizeof(buf[2]), "DISTCRON_SCHEDULED_AT=%s", when);
	snprintf(buf[3], sizeof(buf[3]), "DISTCRON_NODE=%s", it->node);
	snprintf(buf[4], sizeof(buf[4]), "DISTCRON_ATTEMPT=%d", it->attempt);
	for (i = 0; i < 5; i++)
		if ((env[n + i] = strdup(buf[i])) == NULL)
			break;
	return env;
}

static void
item_env_free(char **env, size_t njob)
{
	size_t i;

	for (i = njob; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* One item's attempt is over (done, failed to start, or dropped). */
static void run_item_over(struct item_ctx *ic);

/* The names of the nodes the run has tried (its items'), for failover. */
static char **
run_tried(const struct run *run)
{
	char **v = calloc(run->rec->nitems + 1, sizeof(*v));
	size_t i;

	for (i = 0; v && i < run->rec->nitems; i++)
		v[i] = run->rec->items[i].node;
	return v;
}

/*
 * "any": the item's node could not be reached, so the run moves to the
 * next candidate within the same run, as a new attempt that does not count
 * against "retries".  Returns 1 if a new item was started.
 */
static int
run_failover(struct run *run, const char *from)
{
	struct runner *r = run->r;
	struct policy_node *next;
	char why[POLICY_ERROR_MAX + 64], **tried;
	size_t idx;

	if (run->def->hosts != JOB_HOSTS_ANY || run->cancel_reason ||
	    r->shutting || (tried = run_tried(run)) == NULL)
		return 0;
	next = policy_pick_any(r->policy, run->def, tried, run->rec->nitems,
	    run_spin(run), why, sizeof(why));
	free(tried);
	if (next == NULL)
		return 0;
	idx = run->rec->nitems;
	if (run_add_item(run, next->def->name, run->rec->attempt + 1) != 0)
		return 0;
	run->rec->attempt++;
	run->failovers++;
	log_warn("run %lld: node %s unreachable; failing over to node %s "
	    "(attempt %d)", (long long)run->rec->id, from, next->def->name,
	    run->rec->attempt);
	run->active++;
	item_begin(run->ic[idx]);
	return 1;
}

/* Text for a failed item, from its executor's result. */
static void
item_failure_text(const struct exec_result *res, const struct run *run,
    char *msg, size_t n)
{
	if (res->outcome == EXEC_CANCELLED)
		snprintf(msg, n, "%s", run->cancel_reason ?
		    run->cancel_reason : "cancelled");
	else if (res->error[0] != '\0')
		snprintf(msg, n, "%s", res->error);
	else if (res->outcome == EXEC_EXITED && res->exit_code != 0)
		snprintf(msg, n, "exit code %d", res->exit_code);
	else if (res->outcome == EXEC_SIGNALED)
		snprintf(msg, n, "killed by signal %d", res->signal);
	else
		snprintf(msg, n, "%s", exec_outcome_str(res->outcome));
}

/* Node health from a result: unreachable marks the node down, anything
 * that reached it marks it up. */
static void
item_node_health(struct runner *r, struct policy_node *ns,
    const struct exec_result *res)
{
	if (ns == NULL)
		return;
	if (res->outcome == EXEC_UNREACHABLE)
		policy_node_failed(r->policy, ns, res->error);
	else if (res->outcome != EXEC_FAILED)
		policy_node_ok(r->policy, ns);
}

static void
item_exec_done(struct exec_result *res, void *arg)
{
	struct item_ctx *ic = arg;
	struct run *run = ic->run;
	struct runner *r = run->r;
	struct store_item *it = &run->rec->items[ic->idx];
	struct policy_node *ns = node_find(r, it->node);
	char msg[300];
	int unreachable = res->outcome == EXEC_UNREACHABLE;

	ic->proc = NULL;
	r->stats.running--;
	if (ns)
		ns->running--;
	item_node_health(r, ns, res);
	it->exit_code = res->exit_code;
	it->signal = res->signal;
	it->started_ms = res->started_ms;
	it->ended_ms = res->ended_ms;
	it->out = res->out;
	it->err = res->err;
	res->out = res->err = NULL;
	it->truncated = res->truncated;
	it->status = res->ok ? RUN_SUCCESS : RUN_FAILURE;
	if (!res->ok) {
		item_failure_text(res, run, msg, sizeof(msg));
		it->error = strdup(msg);
	}
	exec_result_free(res);
	/* it may move: run_failover() grows the items */
	if (unreachable)
		run_failover(run, run->rec->items[ic->idx].node);
	run_item_over(ic);
	pump_waiting(r);
}

static const struct exec_ops *
item_ops(struct run *run, const struct policy_node *ns, const char **why)
{
	if (run->def->http != NULL)
		return &exec_http_ops;
	if (ns == NULL) {
		*why = "node no longer defined";
		return NULL;
	}
	if (ns->def->conn == NODE_SSH)
		return &exec_ssh_ops;
	return &exec_local_ops;
}

/*
 * A node found down when its item starts: "all" records the item as
 * failed without trying (the node's health check brings it back); "any"
 * moves the item to an up candidate if there is one, else tries anyway.
 * Returns 1 when the item is over.
 */
static int
item_node_down(struct item_ctx *ic, struct policy_node **nsp)
{
	struct run *run = ic->run;
	struct store_item *it = &run->rec->items[ic->idx];
	struct policy_node *next;
	char why[POLICY_ERROR_MAX + 128], **tried, *name;

	if (run->def->hosts == JOB_HOSTS_ALL) {
		policy_down_reason(*nsp, why, sizeof(why));
		item_set_error(it, RUN_FAILURE, why);
		run_item_over(ic);
		return 1;
	}
	if ((tried = run_tried(run)) == NULL)
		return 0;
	next = policy_pick_any(run->r->policy, run->def, tried,
	    run->rec->nitems, run_spin(run), why, sizeof(why));
	free(tried);
	if (next != NULL && (name = strdup(next->def->name)) != NULL) {
		free(it->node);
		it->node = name;
		*nsp = next;
	}
	return 0;
}

/* A local item's process group exists: record it (orphan.h) and save
 * now, so a daemon that dies leaves it findable by the next one. */
static void
item_spawned(void *arg, int pgid)
{
	struct item_ctx *ic = arg;
	struct run *run = ic->run;
	struct store_item *it = &run->rec->items[ic->idx];
	struct orphan_id id;
	char text[ORPHAN_TEXT_MAX];

	if (orphan_ident(pgid, run->def->kill_grace_ms, &id) != 0)
		return;
	orphan_format(&id, text, sizeof(text));
	free(it->proc);
	if ((it->proc = strdup(text)) == NULL)
		return;
	unsaved_unlink(run->r, run);
	run_save(run);
}

/* Starts an item on its node's executor now. */
static void
item_exec(struct item_ctx *ic)
{
	struct run *run = ic->run;
	struct runner *r = run->r;
	struct store_item *it = &run->rec->items[ic->idx];
	struct policy_node *ns = node_find(r, it->node);
	struct exec_spec spec;
	const char *why = NULL;
	char **env;
	size_t njob = 0;
	int rc;

	if (ns != NULL && ns->down && item_node_down(ic, &ns))
		return;
	if ((ic->ops = item_ops(run, ns, &why)) == NULL) {
		item_set_error(it, RUN_FAILURE, why);
		run_item_over(ic);
		return;
	}
	while (run->def->env && run->def->env[njob])
		njob++;
	env = item_env(run, it);
	memset(&spec, 0, sizeof(spec));
	spec.argv = run->def->argv;
	spec.shell = run->def->shell;
	spec.env = env;
	spec.working_dir = run->def->working_dir;
	spec.timeout_ms = run->def->timeout_ms;
	spec.kill_grace_ms = run->def->kill_grace_ms;
	spec.output_limit = run->def->output_limit;
	spec.output_budget = r->cfg->output_memory_max > 0 ? &r->outbudget :
	    NULL;
	spec.node = it->node;
	spec.target = ns ? ns->def : NULL;
	spec.http = run->def->http;
	spec.spawned = item_spawned;
	spec.ctx = ic->ops == &exec_ssh_ops ? (void *)r->ssh :
	    ic->ops == &exec_http_ops ? (void *)r->http : NULL;
	it->status = RUN_STARTED;
	it->started_ms = loop_real_ms();
	if (it->attempt == 1 && strcmp(run->rec->trigger, "schedule") == 0)
		hist_add(r->stats.lateness_hist, &r->stats.lateness_count,
		    &r->stats.lateness_sum_ms,
		    it->started_ms - run->rec->scheduled_at * 1000);
	rc = env ? ic->ops->start(r->loop, &spec, item_exec_done, ic,
	    &ic->proc) : -ENOMEM;
	item_env_free(env, njob);
	if (rc != 0) {
		item_set_error(it, RUN_FAILURE, err_str(rc));
		run_item_over(ic);
		return;
	}
	r->stats.running++;
	if (ns)
		ns->running++;
}

/* Starts ic now if the limits allow, else queues it. */
static void
item_begin(struct item_ctx *ic)
{
	struct runner *r = ic->run->r;
	struct policy_node *ns = node_find(r,
	    ic->run->rec->items[ic->idx].node);

	if (r->stats.running < (size_t)r->cfg->max_concurrent_runs &&
	    (ns == NULL || ns->def->max_concurrent_runs == 0 ||
	    ns->running < ns->def->max_concurrent_runs) && !r->wait_head) {
		item_exec(ic);
		return;
	}
	ic->waiting = 1;
	ic->wnext = NULL;
	*r->wait_tail = ic;
	r->wait_tail = &ic->wnext;
	r->stats.waiting++;
}

/* Starts queued items while limits allow (FIFO; a full node does not
 * block items bound for other nodes). */
static void
pump_waiting(struct runner *r)
{
	struct item_ctx **pp = &r->wait_head, *ic;
	struct policy_node *ns;

	while ((ic = *pp) != NULL &&
	    r->stats.running < (size_t)r->cfg->max_concurrent_runs) {
		ns = node_find(r, ic->run->rec->items[ic->idx].node);
		if (ns && ns->def->max_concurrent_runs > 0 &&
		    ns->running >= ns->def->max_concurrent_runs) {
			pp = &ic->wnext;
			continue;
		}
		*pp = ic->wnext;
		if (r->wait_tail == &ic->wnext)
			r->wait_tail = pp;
		ic->waiting = 0;
		r->stats.waiting--;
		item_exec(ic);
	}
}

static void
wait_remove(struct runner *r, struct item_ctx *ic)
{
	struct item_ctx **pp;

	for (pp = &r->wait_head; *pp; pp = &(*pp)->wnext) {
		if (*pp != ic)
			continue;
		*pp = ic->wnext;
		if (r->wait_tail == &ic->wnext)
			r->wait_tail = pp;
		ic->waiting = 0;
		r->stats.waiting--;
		return;
	}
}

/* ---- attempts and retries ---- */

static void run_retry(void *arg);

static int64_t
retry_delay(const struct run *run)
{
	int64_t d = run->def->retry_backoff_ms;
	int i;

	for (i = 1; i < run->rec->attempt && d < RUNNER_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < RUNNER_BACKOFF_MAX_MS ? d : RUNNER_BACKOFF_MAX_MS;
}

/* Describes the first failed item of the current attempt. */
static void
run_failure_reason(const struct run *run, char *out, size_t n)
{
	const struct store_item *it;
	size_t i, failed = 0;

	out[0] = '\0';
	for (i = 0; i < run->rec->nitems; i++) {
		it = &run->rec->items[i];
		if (it->attempt != run->rec->attempt ||
		    it->status == RUN_SUCCESS)
			continue;
		if (failed++ == 0)
			snprintf(out, n, "node %s: %s", it->node,
			    it->error ? it->error : "failed");
	}
	if (failed > 1)
		snprintf(out + strlen(out), n - strlen(out),
		    " (and %zu more nodes)", failed - 1);
}

static void
run_attempt_over(struct run *run)
{
	char reason[400], dur[32];
	int64_t delay;

	run_failure_reason(run, reason, sizeof(reason));
	if (reason[0] == '\0') {
		run_finish(run, RUN_SUCCESS, NULL);
		return;
	}
	if (run->cancel_reason || run->r->shutting ||
	    run->rec->attempt - run->failovers > run->def->retries) {
		run_finish(run, RUN_FAILURE, run->cancel_reason ?
		    run->cancel_reason : reason);
		return;
	}
	delay = retry_delay(run);
	dur_format(delay, dur, sizeof(dur));
	log_warn("run %lld attempt %d failed (%s); retrying in %s",
	    (long long)run->rec->id, run->rec->attempt, reason, dur);
	unsaved_unlink(run->r, run);
	run->rec->status = RUN_RETRY;
	free(run->rec->reason);
	run->rec->reason = strdup(reason);
	run_save(run);
	loop_timer_add(run->r->loop, loop_mono_ms() + delay, run_retry, run,
	    &run->timer);
}

static void
run_item_over(struct item_ctx *ic)
{
	struct run *run = ic->run;

	if (--run->active == 0)
		run_attempt_over(run);
}

/* Starts the next attempt on the nodes that failed the last one. */
static void
run_retry(void *arg)
{
	struct run *run = arg;
	size_t i, n = run->rec->nitems, first;
	int prev = run->rec->attempt;
	char *node;

	run->timer = NULL;
	run->rec->attempt++;
	run->rec->status = RUN_STARTED;
	first = run->rec->nitems;
	for (i = 0; i < n; i++) {
		if (run->rec->items[i].attempt != prev ||
		    run->rec->items[i].status == RUN_SUCCESS)
			continue;
		node = run->rec->items[i].node;
		if (run_add_item(run, node, run->rec->attempt) != 0)
			log_error("run %lld: out of memory adding a retry",
			    (long long)run->rec->id);
	}
	run_save(run);
	if (run->rec->nitems == first) {
		run_finish(run, RUN_FAILURE, "out of memory retrying");
		return;
	}
	run_begin_items(run, first);
}

/* ---- launch ---- */

/* "replace": stops the slot's other runs as this one launches. */
static void
run_replace_others(struct run *run)
{
	struct run *other, *next;

	for (other = run->slot->runs; other; other = next) {
		next = other->next;
		if (other != run && other->launched)
			run_cancel(other, "replaced by a newer run");
	}
}

static void
run_launch(void *arg)
{
	struct run *run = arg;
	char when[64];
	size_t i;

	run->timer = NULL;
	if (run->def->concurrency == JOB_CONC_REPLACE)
		run_replace_others(run);
	run->launched = 1;
	run->rec->status = RUN_STARTED;
	run->rec->started_ms = loop_real_ms();
	run->r->stats.started++;
	if (log_enabled(LOG_LVL_INFO))
		fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	for (i = 0; log_enabled(LOG_LVL_INFO) && i < run->rec->nitems; i++)
		log_info("run %lld started: job=%s node=%s scheduled=%s "
		    "attempt=%d trigger=%s", (long long)run->rec->id,
		    run->rec->job, run->rec->items[i].node, when,
		    run->rec->attempt, run->rec->trigger);
	unsaved_add(run->r, run);
	run_begin_items(run, 0);
}

/* A run no node could take (all down, none matching) fails, at its
 * second like the runs that start. */
static void
run_unplaced(void *arg)
{
	struct run *run = arg;

	run->timer = NULL;
	run_finish(run, RUN_FAILURE, run->pick_error ?
	    run->pick_error : "no node to run on");
}

/* An intent the store could not take (failing, or its queue full): the
 * run is not launched; a scheduled tick counts as skipped, and if the
 * store failed, as missed once it is back (runner_store_back). */
static void
runs_not_recorded(struct run *run, int rc)
{
	char when[64];

	fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	log_error("job %s: run of %s (%s) not launched: its intent could not "
	    "be recorded (store: %s)", run->rec->job, when, run->rec->trigger,
	    err_str(rc));
	if (strcmp(run->rec->trigger, "schedule") != 0 &&
	    strcmp(run->rec->trigger, "missed") != 0) {
		run_finish(run, RUN_FAILURE, "store unavailable");
		return;
	}
	run->r->stats.skipped++;
	if (rc != ERR_STORE_QUEUE) {	/* missed once the store is back */
		run->slot->nrefused++;
		if (run->rec->scheduled_at > run->slot->refused_tick)
			run->slot->refused_tick = run->rec->scheduled_at;
	}
	run_finish(run, RUN_FAILURE, "store unavailable");
}

/* The store has the intents: launch each run at its second. */
static void
runs_created(struct store_run **recs, size_t n, int rc, void *arg)
{
	struct run **runs = arg, *run;
	char when[64];
	int64_t delay;
	loop_fn fn;
	size_t i;

	for (i = 0; i < n; i++) {
		run = runs[i];
		if (run->created_fn != NULL)
			run->created_fn(run->created_arg, run->rec->id,
			    rc != 0 ? rc : run->rec->id == 0 ? ERR_EXISTS : 0);
		if ((rc != 0 || run->rec->id == 0) &&
		    strcmp(run->rec->trigger, "schedule") == 0)
			run->slot->run_count--;	/* counted by slot_start_run */
		if (rc != 0) {
			runs_not_recorded(run, rc);
		} else if (run->rec->id == 0) {
			fmt_time(run->def, run->rec->scheduled_at, when,
			    sizeof(when));
			log_info("job %s: tick %s already recorded, not "
			    "running it again", run->rec->job, when);
			run_finish(run, RUN_FAILURE, NULL);
		} else if (run->cancel_reason) {
			run_finish(run, RUN_FAILURE, run->cancel_reason);
		} else if (run->r->shutting) {
			run_finish(run, RUN_LOST,
			    "daemon stopped before the run was launched");
		} else {
			/* with no node, it fails at its second all the same:
			 * a run never ends before its tick */
			fn = run->rec->nitems == 0 ? run_unplaced : run_launch;
			delay = run->rec->scheduled_at * 1000 - loop_real_ms();
			if (strcmp(run->rec->trigger, "schedule") != 0 ||
			    delay <= 0)
				fn(run);
			else
				loop_timer_add(run->r->loop, loop_mono_ms() +
				    delay, fn, run, &run->timer);
		}
	}
	(void)recs;
	free(runs);
}

/* Hands the intents gathered in this loop iteration to the store thread. */
static void
runner_flush_pending(void *arg)
{
	struct runner *r = arg;
	struct run **runs = r->pending;
	struct store_run **recs;
	size_t i, n = r->npending;
	int rc = -ENOMEM;

	r->pending = NULL;
	r->npending = r->cappending = 0;
	if (n == 0) {
		free(runs);
		return;
	}
	if ((recs = malloc(n * sizeof(*recs))) != NULL) {
		for (i = 0; i < n; i++)
			recs[i] = runs[i]->rec;
		rc = storeq_create(r->q, recs, n, runs_created, runs);
		free(recs);
	}
	if (rc != 0)
		runs_created(NULL, n, rc, runs);
}

static void
runner_queue_intent(struct runner *r, struct run *run)
{
	struct run **np;
	size_t ncap;

	if (r->npending == r->cappending) {
		ncap = r->cappending ? r->cappending * 2 : 64;
		if ((np = realloc(r->pending, ncap * sizeof(*np))) == NULL) {
			run->rec->id = 0;
			log_error("job %s: out of memory, tick dropped",
			    run->rec->job);
			run_finish(run, RUN_FAILURE, NULL);
			return;
		}
		r->pending = np;
		r->cappending = ncap;
	}
	if (r->npending == 0)
		loop_post(r->loop, runner_flush_pending, r);
	r->pending[r->npending++] = run;
}

/* ---- ticks ---- */

/* Queues the slot at its next tick after `after`, if it has one. */
static void
slot_plan(struct slot *slot, int64_t after)
{
	struct runner *r = slot->r;
	const struct job_def *def = slot->def;
	int64_t next;
	int rc;

	scheduler_remove(r->sched, &slot->item);
	if (!def->enabled || slot->gone || r->shutting)
		return;
	if (def->max_runs > 0 && slot->run_count >= def->max_runs)
		return;
	if (def->start_at > 0 && after < def->start_at - 1)
		after = def->start_at - 1;
	if ((rc = sched_next(def->sched, after, &next)) != 0) {
		log_warn("job %s: no next run: %s", slot->name, err_str(rc));
		return;
	}
	if (def->expires_at > 0 && next >= def->expires_at) {
		log_info("job %s: expired, no further runs", slot->name);
		return;
	}
	if (scheduler_set(r->sched, &slot->item, next) != 0)
		log_error("job %s: out of memory scheduling it", slot->name);
}

/* Begins items first..n-1 of run.  An item that fails at once may end the
 * run, which can only happen at the last one: nothing touches run after. */
static void
run_begin_items(struct run *run, size_t first)
{
	size_t i, n = run->rec->nitems;

	run->active = n - first;
	for (i = first; i < n; i++)
		item_begin(run->ic[i]);
}

/* Stops a run: kills its processes, drops its waiting items, or ends it at
 * once when nothing of it is executing. */
static void
run_cancel(struct run *run, const char *why)
{
	size_t i, n;

	run->cancel_reason = why;
	if (run->timer != NULL) {		/* awaiting launch or retry */
		run_finish(run, RUN_FAILURE, why);
		return;
	}
	if (!run->launched)	/* intent in flight: runs_created ends it */
		return;
	n = run->rec->nitems;
	for (i = 0; i < n; i++)
		if (run->ic[i]->proc)
			run->ic[i]->ops->cancel(run->ic[i]->proc);
	for (i = 0; i < n; i++) {
		if (!run->ic[i]->waiting)
			continue;
		wait_remove(run->r, run->ic[i]);
		item_set_error(&run->rec->items[i], RUN_FAILURE, why);
		if (run->active == 1) {
			run_item_over(run->ic[i]);	/* ends the run */
			return;
		}
		run_item_over(run->ic[i]);
	}
}

static void slot_start_run(struct slot *slot, int64_t t, const char *trigger);

static void
slot_skip(struct slot *slot, int64_t t)
{
	char when[64];

	slot->r->stats.skipped++;
	fmt_time(slot->def, t, when, sizeof(when));
	log_warn("job %s: tick %s skipped: the previous run is still "
	    "running (concurrency: forbid)", slot->name, when);
}

/* The tick of a "forbid" job whose previous run was still going when the
 * tick came near: decided now, at the tick itself. */
static void
slot_deferred(void *arg)
{
	struct slot *slot = arg;

	slot->defer = NULL;
	if (slot->nrunning > 0)
		slot_skip(slot, slot->defer_tick);
	else
		slot_start_run(slot, slot->defer_tick, "schedule");
}

static void
slot_cancel_defer(struct slot *slot)
{
	if (slot->defer == NULL)
		return;
	loop_timer_del(slot->defer);
	slot->defer = NULL;
}

/*
 * Starts a run of slot for tick t (trigger "schedule" or "missed").  The
 * concurrency rule is applied at the tick, not when the intent is written:
 * "replace" stops the older runs as the new one launches, and "forbid"
 * with a run still going waits for the tick before deciding to skip.
 */
static void
slot_start_run(struct slot *slot, int64_t t, const char *trigger)
{
	int64_t wait_ms = t * 1000 - loop_real_ms();
	struct run *run;

	if (slot->nrunning > 0 && slot->def->concurrency == JOB_CONC_FORBID) {
		if (wait_ms <= 0 || slot->defer != NULL) {
			slot_skip(slot, t);
			return;
		}
		slot->defer_tick = t;
		loop_timer_add(slot->r->loop, loop_mono_ms() + wait_ms,
		    slot_deferred, slot, &slot->defer);
		return;
	}
	if ((run = run_new(slot, t, trigger)) == NULL) {
		log_error("job %s: out of memory, tick dropped", slot->name);
		return;
	}
	slot->run_count++;
	run_pick_nodes(run);
	runner_queue_intent(slot->r, run);
}

/* Is tick t, found late, still worth running per the job's settings? */
static int
missed_wanted(const struct job_def *def, int64_t t, int64_t now)
{
	if (def->missed != JOB_MISSED_RUN_ONCE)
		return 0;
	return def->missed_max_age_ms == 0 ||
	    (now - t) * 1000 <= def->missed_max_age_ms;
}

static void
runner_due(struct scheduler_item *it, void *arg)
{
	struct runner *r = arg;
	struct slot *slot = slot_of(it);
	int64_t t = it->due, now_ms = loop_real_ms(), now = now_ms / 1000;
	char when[64], late[32];

	if (slot->paused || now_ms - t * 1000 > RUNNER_LATE_MS) {
		fmt_time(slot->def, t, when, sizeof(when));	/* logged */
		dur_format(now_ms - t * 1000, late, sizeof(late));
	}
	if (slot->paused)
		log_debug("job %s: paused, tick %s not run", slot->name, when);
	else if (now_ms - t * 1000 <= RUNNER_LATE_MS)
		slot_start_run(slot, t, "schedule");
	else if (missed_wanted(slot->def, t, now)) {
		log_warn("job %s: tick %s is %s late; running it once "
		    "(missed: run_once)", slot->name, when, late);
		slot_start_run(slot, t, "missed");
	} else {
		r->stats.skipped++;
		log_warn("job %s: tick %s is %s late; skipped (missed: skip)",
		    slot->name, when, late);
	}
	/* after the run is counted, so max_runs sees it */
	slot_plan(slot, t > now ? t : now);
}

/* The wall clock was stepped back: plan every job from the new time. Ticks
 * already run are refused by the store, so none runs twice. */
static void
runner_jump(int64_t delta_ms, void *arg)
{
	struct runner *r = arg;
	size_t i;

	if (delta_ms > 0)
		return;
	for (i = 0; i < r->nslots; i++)
		slot_plan(r->slots[i], now_s());
}

/* The store writes again: ticks it refused meanwhile were missed, and
 * the latest runs once if the job says "missed": "run_once". */
static void
slot_refused_missed(struct slot *slot, int64_t now)
{
	int64_t t = slot->refused_tick;
	long n = slot->nrefused;

	slot->nrefused = 0;
	slot->refused_tick = 0;
	if (n == 0)
		return;
	if (slot->def->enabled && !slot->paused &&
	    missed_wanted(slot->def, t, now)) {
		log_info("job %s: %ld tick(s) missed while the store could not "
		    "write; running the latest once (missed: run_once)",
		    slot->name, n);
		slot_start_run(slot, t, "missed");
	} else
		log_info("job %s: %ld tick(s) missed while the store could not "
		    "write; skipped", slot->name, n);
}

static void
runner_store_back(void *arg)
{
	struct runner *r = arg;
	size_t i;

	if (r->shutting)
		return;
	for (i = 0; i < r->nslots; i++)
		slot_refused_missed(r->slots[i], now_s());
}

/* At startup: runs a tick missed while the daemon was down, if wanted. */
static void
slot_catch_up(struct slot *slot, int64_t last)
{
	int64_t t, next, now = now_s();
	char when[64];
	long n;

	if (last <= 0 || slot->def->missed != JOB_MISSED_RUN_ONCE ||
	    !slot->def->enabled || slot->paused)
		return;
	if (sched_next(slot->def->sched, last, &t) != 0 || t > now - 1)
		return;
	for (n = 1; n < RUNNER_MISSED_SCAN; n++) {
		if (sched_next(slot->def->sched, t, &next) != 0 ||
		    next > now - 1)
			break;
		t = next;
	}
	if (slot->def->expires_at > 0 && t >= slot->def->expires_at)
		return;
	if (!missed_wanted(slot->def, t, now))
		return;
	fmt_time(slot->def, t, when, sizeof(when));
	log_info("job %s: %ld tick(s) missed while the daemon was down; "
	    "running the latest, %s, once", slot->name, n, when);
	slot_start_run(slot, t, "missed");
}

/* ---- definitions ---- */

static struct slot *
slot_new(struct runner *r, struct job_def *def, int at_startup)
{
	struct store_job_state state;
	struct slot *slot;

	if ((slot = calloc(1, sizeof(*slot))) == NULL ||
	    (slot->name = strdup(def->name)) == NULL) {
		free(slot);
		return NULL;
	}
	slot->r = r;
	slot->def = defs_job_ref(def);
	scheduler_item_init(&slot->item);
	memset(&state, 0, sizeof(state));
	if (store_job_state_get(r->st, def->name, &state) != 0)
		log_warn("job %s: cannot read its stored state; max_runs and "
		    "missed ticks start from zero", def->name);
	slot->run_count = state.run_count;
	slot->paused = state.paused;
	slot->last_id = state.last_run_id;
	slot->last_status = state.last_status;
	slot->last_ended_ms = state.last_ended_ms;
	slot_plan(slot, now_s());
	if (at_startup)
		slot_catch_up(slot, state.last_scheduled_at);
	return slot;
}

/* A job left the definitions: unschedule; free once its runs are over. */
/* Keeps a slot that left r->slots (retired with runs going, or a task's)
 * reachable for cancels and the shutdown. */
static void
slot_detach(struct runner *r, struct slot *slot)
{
	slot->detached = true;
	slot->tnext = r->detached;
	if (r->detached != NULL)
		r->detached->tprev = slot;
	r->detached = slot;
}

static void
slot_retire(struct runner *r, struct slot *slot)
{
	scheduler_remove(r->sched, &slot->item);
	slot_cancel_defer(slot);
	slot->gone = 1;
	if (slot->nrunning == 0)
		slot_free(slot);
	else
		slot_detach(r, slot);
}

/* Every slot with runs: the scheduled ones and the detached ones, as a
 * malloc'd array of *np (NULL when out of memory). */
static struct slot **
slots_all(struct runner *r, size_t *np)
{
	struct slot **v, *s;
	size_t n = r->nslots;

	for (s = r->detached; s != NULL; s = s->tnext)
		n++;
	if ((v = malloc((n + 1) * sizeof(*v))) == NULL)
		return NULL;
	memcpy(v, r->slots, r->nslots * sizeof(*v));
	n = r->nslots;
	for (s = r->detached; s != NULL; s = s->tnext)
		v[n++] = s;
	*np = n;
	return v;
}

/* The same job in the new set: adopt its definition if the file changed. */
static void
slot_update(struct slot *slot, struct job_def *def)
{
	if (slot->def->digest == def->digest)
		return;
	defs_job_unref(slot->def);
	slot->def = defs_job_ref(def);
	log_info("job %s: definition changed", slot->name);
	slot_plan(slot, now_s());
}

/* Adds "NAME.json" to a list of kept files ("a.json, b.json"); a list
 * too long for out ends with "...". */
static void
kept_add(char *out, size_t outlen, size_t *n, const char *name)
{
	size_t used = strlen(out), need = strlen(name) + 7;  /* ", " ".json" */

	(*n)++;
	if (used >= 3 && strcmp(out + used - 3, "...") == 0)
		return;
	if (used + need + 6 < outlen)	/* leaves room for ", ..." */
		snprintf(out + used, outlen - used, "%s%s.json",
		    used ? ", " : "", name);
	else
		snprintf(out + used, outlen - used, "%s...", used ? ", " : "");
}

/* A node whose file broke (half written, invalid) keeps its last good
 * definition, as jobs do. */
static void
keep_bad_nodes(struct runner *r, struct defs_set *set,
    struct runner_applied *a)
{
	const struct node_def *old;
	size_t i;

	for (i = 0; r->set != NULL && i < set->nbad_nodes; i++)
		if ((old = defs_find_node(r->set, set->bad_nodes[i])) != NULL &&
		    defs_set_keep_node(set, old) == 0) {
			log_warn("node %s: its file is invalid; keeping the "
			    "previous definition until it is fixed", old->name);
			kept_add(a->kept_node_files, sizeof(a->kept_node_files),
			    &a->kept_nodes, old->name);
		}
}

int
runner_apply(struct runner *r, struct defs_set *set, int at_startup,
    struct runner_applied *out)
{
	struct runner_applied a;
	struct slot **ns, *slot;
	size_t i = 0, j = 0, n = 0;
	int c;

	memset(&a, 0, sizeof(a));
	keep_bad_nodes(r, set, &a);
	a.nodes = set->nnodes;
	ns = calloc(set->njobs + 1, sizeof(*ns));
	if (ns == NULL || policy_set_nodes(r->policy, set) != 0) {
		log_error("reload: out of memory; keeping the old definitions");
		free(ns);
		defs_set_free(set);
		return -ENOMEM;
	}
	exec_ssh_retire(r->ssh, set->nodes, set->nnodes);
	while (i < r->nslots || j < set->njobs) {
		c = i == r->nslots ? 1 : j == set->njobs ? -1 :
		    strcmp(r->slots[i]->name, set->jobs[j]->name);
		if (c < 0 && defs_job_is_bad(set, r->slots[i]->name)) {
			/* half-written or broken file: keep the last good
			 * definition rather than dropping the job */
			log_warn("job %s: its file is invalid; keeping the "
			    "previous definition until it is fixed",
			    r->slots[i]->name);
			kept_add(a.kept_job_files, sizeof(a.kept_job_files),
			    &a.kept_jobs, r->slots[i]->name);
			ns[n++] = r->slots[i++];
			continue;
		}
		if (c < 0) {
			slot_retire(r, r->slots[i++]);
			continue;
		}
		if (c == 0) {
			slot = r->slots[i++];
			slot_update(slot, set->jobs[j++]);
		} else if ((slot = slot_new(r, set->jobs[j++], at_startup)) ==
		    NULL) {
			log_error("job %s: out of memory", set->jobs[j - 1]->name);
			continue;
		}
		ns[n++] = slot;
	}
	free(r->slots);
	r->slots = ns;
	r->nslots = n;
	r->stats.jobs = n;
	defs_set_free(r->set);
	r->set = set;
	pump_waiting(r);
	a.jobs = n;
	if (out != NULL)
		*out = a;
	return 0;
}

/* ---- shutdown ---- */

static void
runner_kill_all(void *arg)
{
	struct runner *r = arg;
	struct run *run, *next;
	size_t i, n;
	struct slot **slots;

	/* run_cancel may free runs and retired slots: walk a copy of the
	 * slots and fetch each run's successor first. */
	if ((slots = slots_all(r, &n)) == NULL)
		return;
	if (r->stats.in_flight > 0)
		log_warn("shutdown grace over: killing %zu run(s)",
		    r->stats.in_flight);
	for (i = 0; i < n; i++)
		for (run = slots[i]->runs; run; run = next) {
			next = run->next;
			run_cancel(run, "killed: daemon shutting down");
		}
	free(slots);
}

void
runner_shutdown(struct runner *r, int64_t grace_ms, loop_fn done, void *arg)
{
	struct run *run, *next;
	struct slot **slots;
	size_t i, n = 0;

	if (r->shutting)
		return;
	r->shutting = 1;
	r->grace_ms = grace_ms;
	r->done_fn = done;
	r->done_arg = arg;
	scheduler_pause(r->sched);
	for (i = 0; i < r->nslots; i++)
		slot_cancel_defer(r->slots[i]);
	log_info("shutting down: %zu run(s) in flight, waiting up to %lld ms",
	    r->stats.in_flight, (long long)grace_ms);
	/* Runs not launched yet, or waiting to retry, end now. */
	slots = slots_all(r, &n);
	for (i = 0; slots != NULL && i < n; i++)
		for (run = slots[i]->runs; run; run = next) {
			next = run->next;
			if (run->timer != NULL)
				run_finish(run, run->launched ? RUN_FAILURE :
				    RUN_LOST, run->launched ?
				    "daemon stopped before the retry" :
				    "daemon stopped before the run was launched");
		}
	free(slots);
	loop_timer_add(r->loop, loop_mono_ms() + grace_ms, runner_kill_all, r,
	    NULL);
	runner_check_done(r);
}

/* ---- setup ---- */

/* The store queue's cap: store_queue_max, or a minute of the highest
 * sustained launch rate (max_concurrent_runs runs of a second each). */
static size_t
runner_store_cap(const struct config *cfg)
{
	if (cfg->store_queue_max > 0)
		return (size_t)cfg->store_queue_max;
	return (size_t)(60 * cfg->max_concurrent_runs);
}

int
runner_new(const struct config *cfg, struct loop *loop, struct store *st,
    struct runner **out)
{
	struct exec_ssh_config ssh_cfg = { 0 };
	struct runner *r;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->cfg = cfg;
	r->loop = loop;
	r->st = st;
	r->wait_tail = &r->wait_head;
	outcap_budget_init(&r->outbudget, (size_t)cfg->output_memory_max,
	    cfg->state_dir);
	ssh_cfg.idle_timeout_ms = cfg->ssh_idle_timeout_ms;
	ssh_cfg.keepalive_ms = cfg->ssh_keepalive_ms;
	ssh_cfg.max_conns_per_node = (int)cfg->ssh_max_conns;
	if ((rc = exec_ssh_new(loop, &ssh_cfg, &r->ssh)) != 0 ||
	    (rc = exec_http_new(loop, &r->http)) != 0 ||
	    (rc = policy_new(loop, cfg, r->ssh, &r->policy)) != 0 ||
	    (rc = storeq_new(st, loop, runner_store_cap(cfg), &r->q)) != 0 ||
	    (rc = scheduler_new(loop, RUNNER_LEAD_MS, runner_due, runner_jump,
	    r, &r->sched)) != 0) {
		runner_free(r);
		return rc;
	}
	storeq_on_writable(r->q, runner_store_back, r);
	*out = r;
	return 0;
}

void
runner_free(struct runner *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->unsaved_timer != NULL)
		loop_timer_del(r->unsaved_timer);
	storeq_free(r->q);
	scheduler_free(r->sched);
	for (i = 0; i < r->nslots; i++)
		slot_free(r->slots[i]);
	while (r->detached != NULL)
		slot_free(r->detached);
	free(r->slots);
	policy_free(r->policy);
	exec_ssh_free(r->ssh);
	exec_http_free(r->http);
	free(r->pending);
	defs_set_free(r->set);
	free(r);
}

void
runner_stats(const struct runner *r, struct runner_stats *out)
{
	struct storeq_status qs;

	*out = r->stats;
	storeq_status(r->q, &qs);
	out->store_queue = qs.depth;
	out->store_queue_max = qs.max;
	out->store_err = qs.err;
	out->store_failed = qs.failed;
	out->store_rejected = qs.rejected;
	outcap_budget_stats(&r->outbudget, &out->output_held,
	    &out->output_spills, &out->output_cuts);
}

void
runner_set_spill(struct runner *r, struct spill *sp)
{
	storeq_set_spill(r->q, sp);
}

int
runner_store_error(struct runner *r)
{
	struct storeq_status qs;

	storeq_status(r->q, &qs);
	return qs.err;
}

/* Adds one observation (ms) to a histogram of runner_stats. */
static void
hist_add(uint64_t *hist, uint64_t *count, double *sum, int64_t ms)
{
	static const int64_t bounds[RUNNER_HIST_N] = RUNNER_HIST_BOUNDS;
	size_t i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < RUNNER_HIST_N && ms > bounds[i]; i++)
		;
	hist[i]++;
	(*count)++;
	*sum += (double)ms;
}

/* ---- management (the REST API, through the daemon) ---- */

/* A scheduled job's slot by name (slots start with their name). */
static struct slot *
slot_find(const struct runner *r, const char *name)
{
	ssize_t i = defs_find_named((void *const *)r->slots, r->nslots, name);

	return i < 0 ? NULL : r->slots[i];
}

static void
slot_info(const struct slot *slot, struct runner_job_info *out)
{
	memset(out, 0, sizeof(*out));
	out->def = slot->def;
	out->next_run = slot->item.node.idx != HEAP_NONE ? slot->item.due : 0;
	out->running = slot->nrunning;
	out->paused = slot->paused;
	out->run_count = slot->run_count;
	out->last_id = slot->last_id;
	out->last_status = slot->last_status;
	out->last_ended_ms = slot->last_ended_ms;
	memcpy(out->finals, slot->finals, sizeof(out->finals));
}

size_t
runner_job_count(const struct runner *r)
{
	return r->nslots;
}

void
runner_job_at(const struct runner *r, size_t i, struct runner_job_info *out)
{
	slot_info(r->slots[i], out);
}

int
runner_job_find(const struct runner *r, const char *name,
    struct runner_job_info *out)
{
	struct slot *slot = slot_find(r, name);

	if (slot == NULL)
		return ERR_NOTFOUND;
	slot_info(slot, out);
	return 0;
}

int
runner_pause(struct runner *r, const char *name, bool paused)
{
	struct slot *slot = slot_find(r, name);

	if (slot == NULL)
		return ERR_NOTFOUND;
	if (slot->paused != paused)
		log_info("job %s: %s", name, paused ? "paused" : "resumed");
	slot->paused = paused;
	return 0;
}

/* A run started by hand (or a task) on slot, now. */
static int
slot_run_now(struct slot *slot, const char *trigger, runner_created_fn fn,
    void *arg)
{
	struct run *run;

	if (slot->r->shutting)
		return ERR_BUSY;
	if ((run = run_new(slot, now_s(), trigger)) == NULL)
		return -ENOMEM;
	run->created_fn = fn;
	run->created_arg = arg;
	run_pick_nodes(run);
	runner_queue_intent(slot->r, run);
	return 0;
}

int
runner_trigger(struct runner *r, const char *name, runner_created_fn fn,
    void *arg)
{
	struct slot *slot = slot_find(r, name);

	if (slot == NULL)
		return ERR_NOTFOUND;
	if (slot->nrunning > 0 && slot->def->concurrency == JOB_CONC_FORBID)
		return ERR_EXISTS;
	log_info("job %s: run requested by hand", name);
	return slot_run_now(slot, "manual", fn, arg);
}

int
runner_task(struct runner *r, struct job_def *def, runner_created_fn fn,
    void *arg)
{
	struct slot *slot;
	int rc;

	if ((slot = calloc(1, sizeof(*slot))) == NULL ||
	    (slot->name = strdup(def->name)) == NULL) {
		free(slot);
		return -ENOMEM;
	}
	slot->r = r;
	slot->def = defs_job_ref(def);
	slot->transient = true;
	slot->gone = 1;		/* freed when its run ends */
	scheduler_item_init(&slot->item);
	slot_detach(r, slot);
	if ((rc = slot_run_now(slot, "task", fn, arg)) != 0)
		slot_free(slot);
	return rc;
}

int
runner_cancel(struct runner *r, int64_t id, const char *why)
{
	struct slot *slot;
	struct run *run;
	size_t i;

	for (i = 0; i < r->nslots; i++)
		for (run = r->slots[i]->runs; run != NULL; run = run->next)
			if (run->rec != NULL && run->rec->id == id) {
				log_info("run %lld: %s", (long long)id, why);
				run_cancel(run, why);
				return 0;
			}
	for (slot = r->detached; slot != NULL; slot = slot->tnext)
		for (run = slot->runs; run != NULL; run = run->next)
			if (run->rec != NULL && run->rec->id == id) {
				log_info("run %lld: %s", (long long)id, why);
				run_cancel(run, why);
				return 0;
			}
	return ERR_NOTFOUND;
}

struct policy *
runner_policy(struct runner *r)
{
	return r->policy;
}
