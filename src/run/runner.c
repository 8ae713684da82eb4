/*
 * runner.c - runs from tick to record: the hub.
 *
 * Life of a run:
 *   1. The scheduler hands a job's slot over RUNNER_LEAD_MS before the tick.
 *      The runner plans the job's next tick, applies the job's rules (enabled,
 *      start_at/expires_at, max_runs, concurrency), picks the nodes and
 *      queues the run's intent (PENDING, one item per node) for the claim.
 *   2. When the claim is won (the local claim: the store thread recorded the
 *      intent), a monotonic timer launches the run at its scheduled second
 *      (at once for manual, missed or late runs).  A tick the store already
 *      knows (same job and time) loses its claim and is not run again: that
 *      is what makes a tick run once.
 *   3. Each item starts on its node's executor when a slot is free under the
 *      global and per-node limits, else waits in a FIFO.
 *   4. When every item of the attempt is done the run succeeds, is retried
 *      after a backoff (failed nodes only), or fails; the final record, with
 *      the captured output, goes to the finish hooks, the first of which
 *      queues it for the store thread.
 * Ticks found overdue by more than RUNNER_LATE_MS (daemon stopped, clock
 * stepped forward, machine suspended) count as missed: run once if the job
 * says "missed": "run_once" (within missed_max_age), else skipped and logged.
 * So do ticks whose intent the store refused (disk full): each slot keeps
 * the newest, and when the store thread says it writes again the rule is
 * applied to it.
 *
 * Who does what: plan.c decides when or whether a run happens (step 1 up to
 * the run, missed ticks, clock steps, reloaded definitions); run.c is what
 * happens to a run (its nodes, claim, launch, items, attempts, finish);
 * runstats.c keeps the counters and histograms.  This file starts and stops
 * the runner, chooses the claim (runhooks.h; "local" unless set otherwise)
 * and the finish hooks ("store" first), and answers the management calls.
 * runner_int.h holds the state they share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/log.h"
#include "runner_int.h"

#define RUNNER_LEAD_MS		250	/* intent written this early */

void
runner_check_done(struct runner *r)
{
	if (!r->shutting || r->stats.in_flight > 0 || r->done_called)
		return;
	r->done_called = 1;
	storeq_drain(r->q, r->grace_ms, r->done_fn, r->done_arg);
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
	if ((slots = plan_slots_all(r, &n)) == NULL)
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
		plan_cancel_defer(r->slots[i]);
	log_info("shutting down: %zu run(s) in flight, waiting up to %lld ms",
	    r->stats.in_flight, (long long)grace_ms);
	/* Runs not launched yet, or waiting to retry, end now. */
	slots = plan_slots_all(r, &n);
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
	run_drop_waiting(r);	/* no new process once stopping */
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

/* The runner's first state: the local claim (its store queue comes next)
 * and the "store" finish hook. */
static void
runner_init(struct runner *r, const struct config *cfg, struct loop *loop,
    struct store *st)
{
	r->cfg = cfg;
	r->loop = loop;
	r->st = st;
	r->wait_tail = &r->wait_head;
	r->claim = &run_claim_local;
	r->hooks[0].name = "store";	/* run.c hands the record over */
	r->hooks[0].arg = r;
	r->nhooks = 1;
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
	runner_init(r, cfg, loop, st);
	outcap_budget_init(&r->outbudget, (size_t)cfg->output_memory_max,
	    cfg->state_dir);
	ssh_cfg.idle_timeout_ms = cfg->ssh_idle_timeout_ms;
	ssh_cfg.keepalive_ms = cfg->ssh_keepalive_ms;
	ssh_cfg.max_conns_per_node = (int)cfg->ssh_max_conns;
	if ((rc = exec_ssh_new(loop, &ssh_cfg, &r->ssh)) != 0 ||
	    (rc = exec_http_new(loop, &r->http)) != 0 ||
	    (rc = exec_amqp_new(loop, cfg->amqp.url, cfg->amqp.ca_file,
	    &r->amqp)) != 0 ||
	    (rc = policy_new(loop, cfg, r->ssh, &r->policy)) != 0 ||
	    (rc = storeq_new(st, loop, runner_store_cap(cfg), &r->q)) != 0 ||
	    (rc = scheduler_new(loop, RUNNER_LEAD_MS, plan_due, plan_jump,
	    r, &r->sched)) != 0 || (config_cluster_on(cfg) &&
	    (rc = runner_set_member(r, cfg->cluster.member)) != 0)) {
		runner_free(r);
		return rc;
	}
	storeq_on_writable(r->q, plan_store_back, r);
	r->claim_arg = r->q;
	*out = r;
	return 0;
}

/* Seams are set before anything is planned or run. */
static bool
runner_begun(const struct runner *r)
{
	return r->set != NULL || r->stats.in_flight > 0 ||
	    r->stats.started > 0;
}

void
runner_claim(const struct runner *r, const struct run_claim_ops **ops,
    void **arg)
{
	*ops = r->claim;
	*arg = r->claim_arg;
}

int
runner_set_claim(struct runner *r, const struct run_claim_ops *ops,
    void *arg)
{
	if (runner_begun(r))
		return ERR_BUSY;
	r->claim = ops;
	r->claim_arg = arg;
	return 0;
}

int
runner_add_finish_hook(struct runner *r, const struct run_finish_hook *h)
{
	if (runner_begun(r))
		return ERR_BUSY;
	if (r->nhooks == RUNNER_HOOKS_MAX)
		return -ENOSPC;
	r->hooks[r->nhooks] = *h;
	return (int)r->nhooks++;
}

int
runner_set_plan(struct runner *r, run_plan_fn fn, void *arg)
{
	if (runner_begun(r))
		return ERR_BUSY;
	r->plan = fn;
	r->plan_arg = arg;
	return 0;
}

int
runner_set_member(struct runner *r, const char *member)
{
	char *dup = NULL;

	if (runner_begun(r))
		return ERR_BUSY;
	if (member != NULL && member[0] != '\0' &&
	    (dup = strdup(member)) == NULL)
		return -ENOMEM;
	free(r->member);
	r->member = dup;
	return 0;
}

int
runner_store_save(struct runner *r, struct store_run *rec)
{
	return storeq_save(r->q, rec);
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
		plan_slot_free(r->slots[i]);
	while (r->detached != NULL)
		plan_slot_free(r->detached);
	free(r->slots);
	policy_free(r->policy);
	exec_ssh_free(r->ssh);
	exec_http_free(r->http);
	exec_amqp_free(r->amqp);
	free(r->pending);
	defs_set_free(r->set);
	free(r->member);
	free(r);
}

void
runner_set_spill(struct runner *r, struct spill *sp)
{
	storeq_set_spill(r->q, sp);
}

void
runner_set_secrets(struct runner *r, struct secrets *s)
{
	r->secrets = s;
	exec_ssh_set_secrets(r->ssh, secrets_value, s);
	exec_amqp_set_creds(r->amqp, &r->cfg->amqp, secrets_value, s);
}

int
runner_store_error(struct runner *r)
{
	struct storeq_status qs;

	storeq_status(r->q, &qs);
	return qs.err;
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

size_t
runner_job_after(const struct runner *r, const char *name)
{
	bool found;
	size_t at;

	if (name == NULL)
		return 0;
	at = defs_named_pos((void *const *)r->slots, r->nslots, name, &found);
	return found ? at + 1 : at;
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
	if (paused)	/* a "forbid" tick waiting for its second: not run */
		plan_cancel_defer(slot);
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
	if ((run = run_new(slot, plan_now(), trigger)) == NULL)
		return -ENOMEM;
	run->created_fn = fn;
	run->created_arg = arg;
	run_pick_nodes(run);
	run_queue_intent(slot->r, run);
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

	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return -ENOMEM;
	slot->r = r;
	slot->def = defs_job_ref(def);
	slot->name = slot->def->name;
	slot->transient = true;
	slot->gone = 1;		/* freed when its run ends */
	scheduler_item_init(&slot->item);
	plan_slot_detach(r, slot);
	if ((rc = slot_run_now(slot, "task", fn, arg)) != 0)
		plan_slot_free(slot);
	return rc;
}

int
runner_cancel(struct runner *r, int64_t id, const char *why)
{
	struct run *run = runner_run_find(r, id);

	if (run == NULL)
		return ERR_NOTFOUND;
	log_info("run %lld: %s " RUN_LOG_FIELDS, (long long)id, why,
	    RUN_LOG_ARGS(run->rec));
	run_cancel(run, why);
	return 0;
}

/* The run with this id among slot's. */
static struct run *
slot_run_find(struct slot *slot, int64_t id)
{
	struct run *run;

	for (run = slot->runs; run != NULL; run = run->next)
		if (run->rec != NULL && run->rec->id == id)
			return run;
	return NULL;
}

struct run *
runner_run_find(struct runner *r, int64_t id)
{
	struct slot *slot;
	struct run *run = NULL;
	size_t i;

	for (i = 0; run == NULL && i < r->nslots; i++)
		run = slot_run_find(r->slots[i], id);
	for (slot = r->detached; run == NULL && slot != NULL;
	    slot = slot->tnext)
		run = slot_run_find(slot, id);
	return run;
}

struct policy *
runner_policy(struct runner *r)
{
	return r->policy;
}

struct defs_set *
runner_defs(struct runner *r)
{
	return r->set;
}
