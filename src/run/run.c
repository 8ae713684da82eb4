/*
 * run.c - what happens to a run, once plan.c has decided it happens
 * (runner.c has the map).  It implements steps 1 to 4 of the life of a run:
 *   1. A run gets its nodes (policy.c picks them) and its intent (PENDING,
 *      one item per node) is gathered with the others of this loop turn
 *      and handed to the claim in force (runhooks.h).  The local claim
 *      sends the batch to the store thread, whose unique (job, time) index
 *      makes a second intent for the same tick lose: that is what makes a
 *      tick run once.
 *   2. A won claim launches the run at its scheduled second on a monotonic
 *      timer (at once for manual, missed or late runs); a lost one is
 *      dropped; one the store refused is not launched.
 *   3. Each item starts on its node's executor when a slot is free under
 *      the global and per-node limits, else waits in a FIFO.
 *   4. When every item of the attempt is done the run succeeds, is retried
 *      after a backoff (failed nodes only), fails over to another node
 *      ("any"), or fails; the final record, with the captured output, goes
 *      to the finish hooks in order, the first of which queues it for the
 *      store thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/exec_local.h"
#include "distcron/log.h"
#include "distcron/orphan.h"
#include "runner_int.h"

#define RUNNER_BACKOFF_MAX_MS	(3600 * 1000)
#define RUNNER_STARTED_SAVE_MS	1000	/* STARTED saved if still running */
#define RUNNER_HTTP_NODE	"(daemon)"	/* the item of an HTTP job */

static void item_begin(struct item_ctx *ic);
static void run_begin_items(struct run *run, size_t first);

/* ---- small helpers ---- */

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct policy_node *
node_find(struct runner *r, const char *name)
{
	return policy_node(r->policy, name);
}

void
run_fmt_time(const struct job_def *def, int64_t t, char *out, size_t n)
{
	if (tz_format_iso8601(def->zone, t, out, n) != 0)
		snprintf(out, n, "@%lld", (long long)t);
}

/* ---- store records ---- */

/* Copies the outbox rows of src into d (whose rows are none yet). */
static int
outrows_copy(struct store_run *d, const struct store_run *src)
{
	size_t i;

	if (src->noutrows == 0)
		return 0;
	if ((d->outrows = calloc(src->noutrows, sizeof(*d->outrows))) == NULL)
		return -ENOMEM;
	for (i = 0; i < src->noutrows; i++, d->noutrows++) {
		d->outrows[i].sink = xstrdup(src->outrows[i].sink);
		d->outrows[i].event = xstrdup(src->outrows[i].event);
		d->outrows[i].doc = xstrdup(src->outrows[i].doc);
		if (d->outrows[i].sink == NULL || d->outrows[i].event == NULL ||
		    (src->outrows[i].doc != NULL && d->outrows[i].doc == NULL)) {
			d->noutrows++;
			return -ENOMEM;
		}
	}
	return 0;
}

struct store_run *
run_rec_copy(const struct store_run *src)
{
	struct store_run *d;
	size_t i;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	*d = *src;
	d->outrows = NULL;
	d->noutrows = 0;
	d->job = xstrdup(src->job);
	d->trigger = xstrdup(src->trigger);
	d->reason = xstrdup(src->reason);
	d->member = xstrdup(src->member);
	d->items = calloc(src->nitems ? src->nitems : 1, sizeof(*d->items));
	if (d->items == NULL || outrows_copy(d, src) != 0) {
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

/* Queues a copy of rec for saving. */
static void
rec_save(struct runner *r, const struct store_run *rec)
{
	struct store_run *copy;

	if ((copy = run_rec_copy(rec)) == NULL) {
		log_error("run %lld: out of memory saving its state "
		    RUN_LOG_FIELDS, (long long)rec->id, RUN_LOG_ARGS(rec));
		return;
	}
	storeq_save(r->q, copy);
}

/* Queues a copy of the run's record for saving. */
static void
run_save(struct run *run)
{
	rec_save(run->r, run->rec);
}

/* The previous final status of the slot's job (RUN_PENDING: none). */
static enum run_status
slot_prev(const struct slot *slot)
{
	return slot->last_id > 0 ? slot->last_status : RUN_PENDING;
}

/*
 * A run launched: the plan step may attach outbox rows (a "start"
 * notification); the STARTED state is then saved at once with them, so
 * that the entry is in the store as soon as the run starts.  Returns 1 if
 * it was saved.
 */
static int
run_plan_start(struct run *run)
{
	struct runner *r = run->r;

	if (r->plan == NULL)
		return 0;
	r->plan(r->plan_arg, run->rec, run->def, slot_prev(run->slot));
	if (run->rec->noutrows == 0)
		return 0;
	run_save(run);
	store_run_outrows_free(run->rec);
	return 1;
}

void
run_missed(struct slot *slot, int64_t tick, int64_t count, const char *why)
{
	struct runner *r = slot->r;
	struct store_run *rec;

	if (r->plan == NULL || count <= 0)
		return;
	if ((rec = calloc(1, sizeof(*rec))) == NULL ||
	    (rec->job = strdup(slot->name)) == NULL ||
	    (rec->trigger = strdup("schedule")) == NULL ||
	    (rec->reason = strdup(why)) == NULL ||
	    (r->member != NULL && (rec->member = strdup(r->member)) == NULL)) {
		log_error("job %s: out of memory telling of a missed tick",
		    slot->name);
		store_run_free(rec);
		return;
	}
	rec->scheduled_at = tick;
	rec->status = RUN_PENDING;
	rec->created_ms = loop_real_ms();
	rec->missed = count;
	r->plan(r->plan_arg, rec, slot->def, slot_prev(slot));
	if (rec->noutrows == 0)
		store_run_free(rec);
	else
		storeq_save(r->q, rec);	/* its outbox rows only */
}

/*
 * Tells the finish hooks of the final record and gives it up.  Hook #1,
 * "store", queues the record itself, so it is called last: the hooks
 * added after it (which keep nothing) read the record first, in their
 * order, and no copy of it (and of its output) is made for them.
 */
static void
run_finish_hooks(struct run *run)
{
	struct runner *r = run->r;
	size_t i;

	for (i = 1; i < r->nhooks; i++)
		r->hooks[i].fn(r->hooks[i].arg, run->rec, run->def);
	storeq_save(r->q, run->rec);	/* hook #1: hands the record over */
	run->rec = NULL;
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
int
run_pick_nodes(struct run *run)
{
	struct runner *r = run->r;
	struct policy_node **all, *one;
	char why[POLICY_ERROR_MAX + 64];
	size_t i, n;
	int count = 0;

	if (run->def->http != NULL || run->def->amqp != NULL)
		/* sent by the daemon itself */
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

struct run *
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
	run->rec->member = xstrdup(run->r->member);
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
	free(run->cancel_copy);
	free(run);
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
	run_fmt_time(run->def, rec->scheduled_at, when, sizeof(when));
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
		log_info("run %lld item: job=%s node=%s run=%lld status=%s "
		    "exit=%d duration=%s", (long long)rec->id, rec->job,
		    it->node, (long long)rec->id, store_status_str(it->status),
		    it->exit_code, dur);
	}
	dur_format(rec->started_ms ? rec->ended_ms - rec->started_ms : 0,
	    dur, sizeof(dur));
	log_info("run %lld finished: job=%s node=%s run=%lld scheduled=%s "
	    "attempt=%d status=%s exit=%d duration=%s%s%s", (long long)rec->id,
	    rec->job, store_run_node(rec), (long long)rec->id, when,
	    rec->attempt,
	    store_status_str(rec->status), n == 1 ? last->exit_code : -1, dur,
	    rec->reason ? " reason=" : "", rec->reason ? rec->reason : "");
}

/* Ends a run: records the final state (the finish hooks) and forgets it. */
void
run_finish(struct run *run, enum run_status status, const char *reason)
{
	struct runner *r = run->r;
	struct slot *slot = run->slot;
	enum run_status prev = slot_prev(slot);

	if (run->timer != NULL) {
		loop_timer_del(run->timer);
		run->timer = NULL;
	}
	unsaved_unlink(r, run);
	run->rec->status = status;
	run->rec->ended_ms = loop_real_ms();
	if (run->rec->id > 0)
		runstats_final(slot, status);
	if (run->rec->id > 0 && run->rec->started_ms > 0)
		runstats_duration(r, run->rec->ended_ms - run->rec->started_ms);
	if (run->rec->id > slot->last_id) {
		runstats_last(slot, -1);
		slot->last_id = run->rec->id;
		slot->last_status = status;
		slot->last_ended_ms = run->rec->ended_ms;
		runstats_last(slot, 1);
	}
	if (reason != NULL && run->rec->reason == NULL)
		run->rec->reason = strdup(reason);
	if (run->rec->id > 0) {
		run_log_finish(run);
		run_free_ctx(run);
		if (r->plan != NULL)	/* outbox rows, saved with it */
			r->plan(r->plan_arg, run->rec, run->def, prev);
		run_finish_hooks(run);	/* "store" first */
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
		plan_slot_free(slot);
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

/* Builds the run's environment additions: the job's own, then ours (in
 * cluster mode the member and, once claimed, the fence too). */
static char **
item_env(struct run *run, const struct store_item *it)
{
	char **env, when[64], buf[7][192];
	size_t n = 0, i, k = 5;

	for (i = 0; run->def->env && run->def->env[i]; i++)
		n++;
	if ((env = calloc(n + 8, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		env[i] = run->def->env[i];
	run_fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	snprintf(buf[0], sizeof(buf[0]), "DISTCRON_JOB=%s", run->rec->job);
	snprintf(buf[1], sizeof(buf[1]), "DISTCRON_RUN_ID=%lld",
	    (long long)run->rec->id);
	snprintf(buf[2], sizeof(buf[2]), "DISTCRON_SCHEDULED_AT=%s", when);
	snprintf(buf[3], sizeof(buf[3]), "DISTCRON_NODE=%s", it->node);
	snprintf(buf[4], sizeof(buf[4]), "DISTCRON_ATTEMPT=%d", it->attempt);
	if (run->rec->member != NULL && run->rec->member[0] != '\0')
		snprintf(buf[k++], sizeof(buf[0]), "DISTCRON_MEMBER=%s",
		    run->rec->member);
	if (run->rec->fence > 0)
		snprintf(buf[k++], sizeof(buf[0]), "DISTCRON_FENCE=%lld",
		    (long long)run->rec->fence);
	for (i = 0; i < k; i++)
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
	    "(attempt %d) job=%s run=%lld node=%s", (long long)run->rec->id,
	    from, next->def->name, run->rec->attempt, run->rec->job,
	    (long long)run->rec->id, from);
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

/* Masks the values of the item's attempt (u) in its output and error,
 * and the pieces of them an output's cap split. */
static void
item_mask(const struct secrets_use *u, struct exec_result *res)
{
	secrets_mask(u, res->out, &res->out_len);
	secrets_mask(u, res->err, &res->err_len);
	secrets_mask(u, res->error, &(size_t){ strlen(res->error) });
	if (res->truncated) {
		secrets_mask_cut(u, &res->out, &res->out_len);
		secrets_mask_cut(u, &res->err, &res->err_len);
	}
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
	item_mask(&ic->sec, res);
	secrets_use_values_free(&ic->sec);
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
	run_pump_waiting(r);
}

/*
 * A job runs as root when it is local and the daemon runs as root (no
 * config user), or on SSH as ssh_user root; without allow_root_jobs such
 * an item is refused (why says so).  HTTP jobs run as no one.
 */
static bool
item_root_refused(const struct runner *r, const struct policy_node *ns,
    const char **why)
{
	if (r->cfg->allow_root_jobs)
		return false;
	if (ns->def->conn == NODE_SSH) {
		if (ns->def->ssh_user == NULL ||
		    strcmp(ns->def->ssh_user, "root") != 0)
			return false;
		*why = "refused: the node's ssh_user is root (set "
		    "allow_root_jobs to run jobs as root)";
		return true;
	}
	if (geteuid() != 0)
		return false;
	*why = "refused: a local job would run as root, the daemon's user "
	    "(set user, or allow_root_jobs to run jobs as root)";
	return true;
}

static const struct exec_ops *
item_ops(struct run *run, const struct policy_node *ns, const char **why)
{
	if (run->def->http != NULL)
		return &exec_http_ops;
	if (run->def->amqp != NULL)
		return &exec_amqp_ops;
	if (ns == NULL) {
		*why = "node no longer defined";
		return NULL;
	}
	if (item_root_refused(run->r, ns, why))
		return NULL;
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

/* Puts the secrets the job refers to into env and *http (secrets.h); a
 * secret that cannot be had fails the item, naming the field and the
 * secret. */
static int
item_secrets(struct item_ctx *ic, char **env, const struct job_http **http)
{
	struct store_item *it = &ic->run->rec->items[ic->idx];
	char err[300] = "";
	int rc;

	rc = secrets_apply(ic->run->r->secrets, ic->run->def, env, http,
	    &ic->sec, err, sizeof(err));
	if (rc == 0)
		return 0;
	secrets_use_free(&ic->sec);
	secrets_use_values_free(&ic->sec);
	log_error("job=%s run=%lld: %s", ic->run->rec->job,
	    (long long)ic->run->rec->id, err[0] != '\0' ? err : err_str(rc));
	item_set_error(it, RUN_FAILURE, err[0] != '\0' ? err : err_str(rc));
	return rc;
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
	char **env, fields[256];
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
	memset(&spec, 0, sizeof(spec));
	env = item_env(run, it);
	if (env != NULL && item_secrets(ic, env, &spec.http) != 0) {
		item_env_free(env, njob);
		run_item_over(ic);
		return;
	}
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
	snprintf(fields, sizeof(fields), "job=%s run=%lld node=%s",
	    run->rec->job, (long long)run->rec->id, it->node);
	spec.log_fields = fields;
	spec.target = ns ? ns->def : NULL;
	spec.amqp = secrets_amqp(&ic->sec, run->def);
	spec.job = run->def->name;
	spec.scheduled_at = run->rec->scheduled_at;
	spec.zone = run->def->zone;
	spec.spawned = item_spawned;
	spec.ctx = ic->ops == &exec_ssh_ops ? (void *)r->ssh :
	    ic->ops == &exec_http_ops ? (void *)r->http :
	    ic->ops == &exec_amqp_ops ? (void *)r->amqp : NULL;
	it->status = RUN_STARTED;
	it->started_ms = loop_real_ms();
	if (it->attempt == 1 && strcmp(run->rec->trigger, "schedule") == 0)
		runstats_lateness(r,
		    it->started_ms - run->rec->scheduled_at * 1000);
	rc = env ? ic->ops->start(r->loop, &spec, item_exec_done, ic,
	    &ic->proc) : -ENOMEM;
	item_env_free(env, njob);
	secrets_use_free(&ic->sec);
	if (rc != 0) {
		secrets_use_values_free(&ic->sec);
		item_set_error(it, RUN_FAILURE, err_str(rc));
		run_item_over(ic);
		return;
	}
	r->stats.running++;
	if (ns)
		ns->running++;
}

/*
 * The wait queue: items past the global or their node's
 * max_concurrent_runs wait in one FIFO.  An item records when it was
 * queued (its "queued" time, saved with the run's STARTED state, so that
 * the API and distcronctl show it WAITING); the log says when the queue
 * forms and when it is empty again, with how many waited and for how long.
 */
static void
wait_push(struct runner *r, struct item_ctx *ic)
{
	struct store_item *it = &ic->run->rec->items[ic->idx];

	it->queued_ms = loop_real_ms();
	if (r->wait_head == NULL) {
		r->wait_began_ms = it->queued_ms;
		r->wait_count = 0;
		log_info("max_concurrent_runs reached (%zu running, limit %lld "
		    "or the node's): runs wait for a free slot",
		    r->stats.running, (long long)r->cfg->max_concurrent_runs);
	}
	r->wait_count++;
	ic->waiting = 1;
	ic->wnext = NULL;
	*r->wait_tail = ic;
	r->wait_tail = &ic->wnext;
	r->stats.waiting++;
}

/* Takes *pp (an item of the queue) out of it. */
static void
wait_unlink(struct runner *r, struct item_ctx **pp)
{
	struct item_ctx *ic = *pp;
	char dur[32];

	*pp = ic->wnext;
	if (r->wait_tail == &ic->wnext)
		r->wait_tail = pp;
	ic->waiting = 0;
	r->stats.waiting--;
	if (r->wait_head != NULL)
		return;
	dur_format(loop_real_ms() - r->wait_began_ms, dur, sizeof(dur));
	log_info("no run waits for a free slot any more: %llu waited, the "
	    "queue lasted %s", (unsigned long long)r->wait_count, dur);
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
	wait_push(r, ic);
}

bool
run_waiting(const struct slot *slot)
{
	const struct run *run;
	size_t i;

	for (run = slot->runs; run != NULL; run = run->next)
		for (i = 0; run->ic != NULL && i < run->rec->nitems; i++)
			if (run->ic[i]->waiting)
				return true;
	return false;
}

/* Starts queued items while limits allow (FIFO; a full node does not
 * block items bound for other nodes). */
void
run_pump_waiting(struct runner *r)
{
	struct item_ctx **pp = &r->wait_head, *ic;
	struct policy_node *ns;

	while (!r->shutting && (ic = *pp) != NULL &&
	    r->stats.running < (size_t)r->cfg->max_concurrent_runs) {
		ns = node_find(r, ic->run->rec->items[ic->idx].node);
		if (ns && ns->def->max_concurrent_runs > 0 &&
		    ns->running >= ns->def->max_concurrent_runs) {
			pp = &ic->wnext;
			continue;
		}
		wait_unlink(r, pp);
		item_exec(ic);
	}
}

static void
wait_remove(struct runner *r, struct item_ctx *ic)
{
	struct item_ctx **pp;

	for (pp = &r->wait_head; *pp; pp = &(*pp)->wnext)
		if (*pp == ic) {
			wait_unlink(r, pp);
			return;
		}
}

void
run_drop_waiting(struct runner *r)
{
	struct item_ctx *ic;

	while ((ic = r->wait_head) != NULL) {
		wait_unlink(r, &r->wait_head);
		item_set_error(&ic->run->rec->items[ic->idx], RUN_LOST,
		    STORE_WAITING_REASON);
		run_item_over(ic);	/* may end the run */
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

/* True when no item of the run's current attempt started: each waited
 * for a slot until the daemon stopped (LOST). */
static bool
run_never_started(const struct run *run)
{
	size_t i;

	for (i = 0; i < run->rec->nitems; i++)
		if (run->rec->items[i].attempt == run->rec->attempt &&
		    run->rec->items[i].status != RUN_LOST)
			return false;
	return true;
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
	if (run->r->shutting && run_never_started(run)) {
		run_finish(run, RUN_LOST, STORE_WAITING_REASON);
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
	log_warn("run %lld attempt %d failed (%s); retrying in %s "
	    RUN_LOG_FIELDS, (long long)run->rec->id, run->rec->attempt,
	    reason, dur, RUN_LOG_ARGS(run->rec));
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

/*
 * A scheduled run waits for its second on the wall clock.  The wait is a
 * monotonic timer, which may fire a few milliseconds early in wall-clock
 * terms (both clocks are read truncated to the millisecond, and NTP may
 * slew the wall clock), so when it fires the run waits again for what is
 * left, up to RUN_TICK_SLACK_MS.  More than that left means the wall
 * clock was stepped back while it waited: the run goes at once, as the
 * planner plans the next ticks from the new time (plan_jump).
 * Returns 1 if fn was armed to be called later, 0 if it is time now.
 */
static int
run_wait_tick(struct run *run, loop_fn fn)
{
	int64_t delay = run->rec->scheduled_at * 1000 - loop_real_ms();

	if (delay <= 0 || strcmp(run->rec->trigger, "schedule") != 0 ||
	    (run->tick_waited && delay > RUN_TICK_SLACK_MS))
		return 0;
	run->tick_waited = 1;
	return loop_timer_add(run->r->loop, loop_mono_ms() + delay + 1, fn,
	    run, &run->timer) == 0;
}

static void run_not_started(struct run *run, const char *why);

/* The claim in force may stop a won run at the last moment (a cluster
 * member whose lease expired meanwhile must not launch).  Returns 1 if
 * it did (the run is over). */
static int
run_launch_refused(struct run *run)
{
	const struct run_claim_ops *ops = run->r->claim;
	char why[256];

	if (ops->may_launch == NULL || run->rec->attempt != 1 ||
	    ops->may_launch(run->r->claim_arg, run->rec, why, sizeof(why)) == 0)
		return 0;
	log_warn("job %s: run not launched: %s " RUN_LOG_FIELDS, run->rec->job,
	    why, RUN_LOG_ARGS(run->rec));
	run->r->stats.skipped++;
	run_not_started(run, why);
	return 1;
}

static void
run_launch(void *arg)
{
	struct run *run = arg;
	char when[64];
	size_t i;

	run->timer = NULL;
	if (run_wait_tick(run, run_launch))
		return;
	if (run_launch_refused(run))
		return;
	if (run->def->concurrency == JOB_CONC_REPLACE)
		run_replace_others(run);
	run->launched = 1;
	run->rec->status = RUN_STARTED;
	run->rec->started_ms = loop_real_ms();
	run->r->stats.started++;
	if (log_enabled(LOG_LVL_INFO))
		run_fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	for (i = 0; log_enabled(LOG_LVL_INFO) && i < run->rec->nitems; i++)
		log_info("run %lld started: job=%s node=%s run=%lld "
		    "scheduled=%s attempt=%d trigger=%s",
		    (long long)run->rec->id, run->rec->job,
		    run->rec->items[i].node, (long long)run->rec->id, when,
		    run->rec->attempt, run->rec->trigger);
	if (!run_plan_start(run))
		unsaved_add(run->r, run);
	run_begin_items(run, 0);
}

/* A run no node could take (all down, none matching) fails, at its
 * second like the runs that start; a scheduled one's tick did not start
 * either (missed). */
static void
run_unplaced(void *arg)
{
	struct run *run = arg;

	run->timer = NULL;
	if (run_wait_tick(run, run_unplaced))
		return;
	run_not_started(run, run->pick_error ? run->pick_error :
	    "no node to run on");
}

/* A recorded run that does not start fails with why; a scheduled one's
 * tick is missed. */
static void
run_not_started(struct run *run, const char *why)
{
	if (strcmp(run->rec->trigger, "schedule") == 0 ||
	    strcmp(run->rec->trigger, "missed") == 0)
		run_missed(run->slot, run->rec->scheduled_at, 1, why);
	run_finish(run, RUN_FAILURE, why);
}

/* An intent the store could not take (failing, or its queue full): the
 * run is not launched; a scheduled tick counts as skipped, and if the
 * store failed, as missed once it is back (plan_store_back). */
static void
runs_not_recorded(struct run *run, int rc)
{
	char when[64];

	run_fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	log_error("job %s: run of %s (%s) not launched: its intent could not "
	    "be recorded (store: %s) " RUN_LOG_FIELDS, run->rec->job, when,
	    run->rec->trigger, err_str(rc), RUN_LOG_ARGS(run->rec));
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
	} else
		run_missed(run->slot, run->rec->scheduled_at, 1,
		    "the store's write queue was full (store_queue_max)");
	run_finish(run, RUN_FAILURE, "store unavailable");
}

/* A tick nobody claimed (runhooks.h: the claim marked it missed, with
 * why in its reason): not launched, missed at once. */
static void
runs_unclaimed(struct run *run)
{
	const char *why = run->rec->reason ? run->rec->reason :
	    "the claim failed";
	char when[64];

	run_fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	log_warn("job %s: tick %s not launched: %s", run->rec->job, when, why);
	run->r->stats.skipped++;
	if (strcmp(run->rec->trigger, "schedule") == 0 ||
	    strcmp(run->rec->trigger, "missed") == 0)
		run_missed(run->slot, run->rec->scheduled_at, 1, why);
	run_finish(run, RUN_FAILURE, NULL);
}

/* A tick another claim owns: dropped (logged at debug level when the
 * claim said who has it, as a cluster member does for most ticks). */
static void
runs_lost(struct run *run)
{
	char when[64];

	run_fmt_time(run->def, run->rec->scheduled_at, when, sizeof(when));
	if (run->rec->reason != NULL)
		log_debug("job %s: tick %s not run here: %s", run->rec->job,
		    when, run->rec->reason);
	else
		log_info("job %s: tick %s already recorded, not running it "
		    "again", run->rec->job, when);
	run_finish(run, RUN_FAILURE, NULL);
}

/* The claim's answer (runhooks.h): launch each run that won its tick at
 * its second; drop those that lost; the rest were not recorded. */
static void
runs_created(struct store_run **recs, size_t n, int rc, void *arg)
{
	struct run **runs = arg, *run;
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
		} else if (run->rec->id == 0 && run->rec->missed > 0) {
			runs_unclaimed(run);
		} else if (run->rec->id == 0) {
			runs_lost(run);
		} else if (run->cancel_reason) {
			run_finish(run, RUN_FAILURE, run->cancel_reason);
		} else if (run->r->shutting) {
			run_finish(run, RUN_LOST,
			    "daemon stopped before the run was launched");
		} else {
			/* with no node, it fails at its second all the same:
			 * a run never ends before its tick */
			fn = run->rec->nitems == 0 ? run_unplaced : run_launch;
			fn(run);
		}
	}
	(void)recs;
	free(runs);
}

/* The local claim: the batch goes to the store thread, whose unique (job,
 * scheduled time) index makes a second intent for a tick lose (id 0). */
static int
claim_local(void *arg, struct store_run **recs, size_t n,
    run_claim_done_fn done, void *done_arg)
{
	return storeq_create(arg, recs, n, done, done_arg);
}

const struct run_claim_ops run_claim_local = {
	.name = "local", .claim = claim_local,
};

/* Hands the intents gathered in this loop iteration to the claim. */
static void
run_flush_pending(void *arg)
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
		rc = r->claim->claim(r->claim_arg, recs, n, runs_created,
		    runs);
		free(recs);
	}
	if (rc != 0)
		runs_created(NULL, n, rc, runs);
}

void
run_queue_intent(struct runner *r, struct run *run)
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
		loop_post(r->loop, run_flush_pending, r);
	r->pending[r->npending++] = run;
}

/* ---- items begun, runs stopped ---- */

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
void
run_cancel(struct run *run, const char *why)
{
	size_t i, n;
	char *copy = strdup(why);	/* why may be a caller's buffer */

	free(run->cancel_copy);
	run->cancel_copy = copy;
	run->cancel_reason = why = copy != NULL ? copy : "cancelled";
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

