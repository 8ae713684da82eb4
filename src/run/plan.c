/*
 * plan.c - when or whether a run happens (runner.c has the map).
 *
 * It implements step 1 of the life of a run up to the run's creation: the
 * scheduler hands a job's slot over RUNNER_LEAD_MS before the tick; the
 * slot's next tick is planned; the job's rules are applied (enabled,
 * start_at/expires_at, max_runs, concurrency forbid/replace/defer) and
 * run.c is given the run.  Ticks found overdue by more than RUNNER_LATE_MS
 * (daemon stopped, clock stepped forward, machine suspended) count as
 * missed: run once if the job says "missed": "run_once" (within
 * missed_max_age), else skipped and logged.  So do ticks whose intent the
 * store refused (disk full): each slot keeps the newest, and when the store
 * thread says it writes again the rule is applied to it.  A clock stepped
 * back re-plans every job; at startup the newest tick missed while the
 * daemon was down may run.  Every tick that should have started and did
 * not (skipped by forbid, found late, missed while down or while the
 * store refused it) is told to the plan step through run_missed(), once
 * per occasion with the count of ticks, so that "missed" notifications
 * follow; a paused job's ticks are not missed.  It also applies reloaded definitions by diffing
 * them against the slots (kept definitions, retired slots).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/log.h"
#include "runner_int.h"

#define RUNNER_LATE_MS		60000	/* later than this: a missed tick */
#define RUNNER_MISSED_SCAN	1000000	/* bound on ticks walked at startup */
#define RUNNER_MISSED_COUNT	1000	/* ... when only counted (skip) */

static void slot_start_run(struct slot *slot, int64_t t, const char *trigger);

static struct slot *
slot_of(struct scheduler_item *it)
{
	return (struct slot *)((char *)it - offsetof(struct slot, item));
}

int64_t
plan_now(void)
{
	return loop_real_ms() / 1000;
}

void
plan_slot_free(struct slot *slot)
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
	free(slot);
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

/* A "forbid" tick skipped: missed, because the previous run is still
 * going, or still waits for a free slot under max_concurrent_runs. */
static void
slot_skip(struct slot *slot, int64_t t)
{
	const char *why = run_waiting(slot) ? "the previous run still waits "
	    "for a free slot (max_concurrent_runs full; concurrency: forbid)" :
	    "the previous run is still running (concurrency: forbid)";
	char when[64];

	slot->r->stats.skipped++;
	run_fmt_time(slot->def, t, when, sizeof(when));
	log_warn("job %s: tick %s skipped: %s", slot->name, when, why);
	run_missed(slot, t, 1, why);
}

/* The tick of a "forbid" job whose previous run was still going when the
 * tick came near: decided now, at the tick itself. */
static void
slot_deferred(void *arg)
{
	struct slot *slot = arg;
	int64_t wait_ms = slot->defer_tick * 1000 - loop_real_ms();

	slot->defer = NULL;
	/* the monotonic timer may fire a few ms early on the wall clock (see
	 * run_wait_tick): the decision is taken at the tick */
	if (wait_ms > 0 && wait_ms <= RUN_TICK_SLACK_MS && loop_timer_add(slot->r->loop, loop_mono_ms() +
	    wait_ms + 1, slot_deferred, slot, &slot->defer) == 0)
		return;
	if (slot->nrunning > 0)
		slot_skip(slot, slot->defer_tick);
	else
		slot_start_run(slot, slot->defer_tick, "schedule");
}

void
plan_cancel_defer(struct slot *slot)
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
		loop_timer_add(slot->r->loop, loop_mono_ms() + wait_ms + 1,
		    slot_deferred, slot, &slot->defer);
		return;
	}
	if ((run = run_new(slot, t, trigger)) == NULL) {
		log_error("job %s: out of memory, tick dropped", slot->name);
		return;
	}
	slot->run_count++;
	run_pick_nodes(run);
	run_queue_intent(slot->r, run);
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

void
plan_due(struct scheduler_item *it, void *arg)
{
	struct runner *r = arg;
	struct slot *slot = slot_of(it);
	int64_t t = it->due, now_ms = loop_real_ms(), now = now_ms / 1000;
	char when[64], late[32];

	if (slot->paused || now_ms - t * 1000 > RUNNER_LATE_MS) {
		run_fmt_time(slot->def, t, when, sizeof(when));	/* logged */
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
		run_missed(slot, t, 1, "found too late (clock stepped forward, "
		    "machine suspended, or daemon stalled); missed: skip");
	}
	/* after the run is counted, so max_runs sees it */
	slot_plan(slot, t > now ? t : now);
}

/* The wall clock was stepped back: plan every job from the new time. Ticks
 * already run are refused by the store, so none runs twice. */
void
plan_jump(int64_t delta_ms, void *arg)
{
	struct runner *r = arg;
	size_t i;

	if (delta_ms > 0)
		return;
	for (i = 0; i < r->nslots; i++)
		slot_plan(r->slots[i], plan_now());
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
		n--;	/* the latest runs after all */
	} else
		log_info("job %s: %ld tick(s) missed while the store could not "
		    "write; skipped", slot->name, n);
	if (slot->def->enabled && !slot->paused)
		run_missed(slot, t, n, "the store could not record its intent "
		    "(disk full or failing)");
}

void
plan_store_back(void *arg)
{
	struct runner *r = arg;
	size_t i;

	if (r->shutting)
		return;
	for (i = 0; i < r->nslots; i++)
		slot_refused_missed(r->slots[i], plan_now());
}

/* The ticks of slot after last and before now that would have run (at
 * most max, before expires_at and within max_runs): their count, and the
 * latest in *latest. */
static int64_t
ticks_between(const struct slot *slot, int64_t last, int64_t now,
    int64_t max, int64_t *latest)
{
	const struct job_def *def = slot->def;
	int64_t t = last, next, n = 0, left = def->max_runs > 0 ?
	    def->max_runs - slot->run_count : max;

	while (n < max && n < left &&
	    sched_next(def->sched, t, &next) == 0 && next <= now - 1 &&
	    (def->expires_at == 0 || next < def->expires_at)) {
		t = next;
		n++;
	}
	*latest = t;
	return n;
}

/*
 * At startup: the ticks missed while the daemon was down (after the
 * newest recorded one).  The latest runs once if the job says "missed":
 * "run_once" and it is not too old; the others are missed.  A job that
 * skips them only counts them, up to RUNNER_MISSED_COUNT (a million jobs
 * down for a week must not walk a week of seconds each at startup).
 */
static void
slot_catch_up(struct slot *slot, int64_t last, int64_t end,
    const char *during, const char *why)
{
	int64_t t, n, now = plan_now();
	char when[64];

	if (last < slot->caught_until)	/* a take-over's look-up again */
		last = slot->caught_until;
	if (last <= 0 || !slot->def->enabled || slot->paused ||
	    (n = ticks_between(slot, last, end, slot->def->missed ==
	    JOB_MISSED_RUN_ONCE ? RUNNER_MISSED_SCAN : RUNNER_MISSED_COUNT,
	    &t)) == 0)
		return;
	slot->caught_until = t;
	run_fmt_time(slot->def, t, when, sizeof(when));
	if (missed_wanted(slot->def, t, now)) {
		log_info("job %s: %lld tick(s) missed %s; running the latest, "
		    "%s, once", slot->name, (long long)n, during, when);
		slot_start_run(slot, t, "missed");
		n--;
	} else
		log_info("job %s: %lld tick(s) missed %s, the latest %s; "
		    "skipped (missed: %s)", slot->name, (long long)n, during, when,
		    slot->def->missed == JOB_MISSED_SKIP ?
		    "skip" : "run_once, past missed_max_age");
	run_missed(slot, t, n, why);
}

/* The ticks handed to the claim already end before the slot's next one
 * (the scheduler's); not scheduled: before now. */
int64_t
runner_handed_until(const struct runner *r, const char *name)
{
	bool found;
	size_t at = defs_named_pos((void *const *)r->slots, r->nslots, name,
	    &found);
	const struct slot *slot = found ? r->slots[at] : NULL;

	if (slot != NULL && slot->item.node.idx != HEAP_NONE)
		return slot->item.due;
	return plan_now();
}

int
runner_catch_up(struct runner *r, const char *name, int64_t last,
    int64_t end, const char *why)
{
	bool found;
	size_t at = defs_named_pos((void *const *)r->slots, r->nslots, name,
	    &found);

	if (!found)
		return ERR_NOTFOUND;
	if (!r->shutting)
		slot_catch_up(r->slots[at], last, end, why, why);
	return 0;
}

int
runner_run_tick(struct runner *r, const char *name, int64_t t)
{
	bool found;
	size_t at = defs_named_pos((void *const *)r->slots, r->nslots, name,
	    &found);
	struct slot *slot = found ? r->slots[at] : NULL;

	if (slot == NULL)
		return ERR_NOTFOUND;
	if (!r->shutting && slot->def->enabled && !slot->paused &&
	    t > slot->caught_until) {
		slot->caught_until = t;
		slot_start_run(slot, t, "schedule");
	}
	return 0;
}

/* ---- definitions ---- */

/*
 * The stored state of job name.  At startup every job's state is read in
 * one pass (r->states, kept until runner_apply() ends) rather than one
 * query per job; a job added later reads its own.
 */
static void
slot_state(struct runner *r, const char *name, int at_startup,
    struct store_job_state *state)
{
	if (at_startup && r->states == NULL && !r->states_failed &&
	    store_job_states_read(r->st, &r->states) != 0) {
		log_warn("cannot read the jobs' stored states at once; reading "
		    "them one by one");
		r->states_failed = true;
	}
	if (at_startup && r->states != NULL) {
		store_job_states_find(r->states, name, state);
		return;
	}
	if (store_job_state_get(r->st, name, state) != 0)
		log_warn("job %s: cannot read its stored state; max_runs and "
		    "missed ticks start from zero", name);
}

static struct slot *
slot_new(struct runner *r, struct job_def *def, int at_startup)
{
	struct store_job_state state;
	struct slot *slot;

	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return NULL;
	slot->r = r;
	slot->def = defs_job_ref(def);
	slot->name = slot->def->name;
	scheduler_item_init(&slot->item);
	slot_state(r, def->name, at_startup, &state);
	slot->run_count = state.run_count;
	slot->paused = state.paused;
	slot->last_id = state.last_run_id;
	slot->last_status = state.last_status;
	slot->last_ended_ms = state.last_ended_ms;
	runstats_last(slot, 1);
	slot_plan(slot, plan_now());
	if (at_startup && !r->claim->shared)
		slot_catch_up(slot, state.last_scheduled_at, plan_now(),
		    "while the daemon was down", "the daemon was not running");
	return slot;
}

/* Keeps a slot that left r->slots (retired with runs going, or a task's)
 * reachable for cancels and the shutdown. */
void
plan_slot_detach(struct runner *r, struct slot *slot)
{
	slot->detached = true;
	slot->tnext = r->detached;
	if (r->detached != NULL)
		r->detached->tprev = slot;
	r->detached = slot;
}

/* A job left the definitions: unschedule; free once its runs are over. */
static void
slot_retire(struct runner *r, struct slot *slot)
{
	scheduler_remove(r->sched, &slot->item);
	plan_cancel_defer(slot);
	runstats_last(slot, -1);
	slot->gone = 1;
	if (slot->nrunning == 0)
		plan_slot_free(slot);
	else
		plan_slot_detach(r, slot);
}

/* Every slot with runs: the scheduled ones and the detached ones, as a
 * malloc'd array of *np (NULL when out of memory). */
struct slot **
plan_slots_all(struct runner *r, size_t *np)
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
	struct job_def *old = slot->def;

	if (old->digest == def->digest)
		return;
	slot->def = defs_job_ref(def);
	slot->name = slot->def->name;	/* the same name, the new copy */
	defs_job_unref(old);
	log_info("job %s: definition changed", slot->name);
	slot_plan(slot, plan_now());
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

/* A job whose file is invalid keeps its slot and definition. */
static void
keep_bad_job(struct slot *slot, struct runner_applied *a)
{
	/* half-written or broken file: keep the last good definition rather
	 * than dropping the job */
	log_warn("job %s: its file is invalid; keeping the previous "
	    "definition until it is fixed", slot->name);
	kept_add(a->kept_job_files, sizeof(a->kept_job_files), &a->kept_jobs,
	    slot->name);
}

/* Merges a whole set with the slots (both sorted by name) into ns. */
static size_t
apply_all(struct runner *r, struct defs_set *set, int at_startup,
    struct slot **ns, struct runner_applied *a)
{
	struct slot *slot;
	size_t i = 0, j = 0, n = 0;
	int c;

	while (i < r->nslots || j < set->njobs) {
		c = i == r->nslots ? 1 : j == set->njobs ? -1 :
		    r->slots[i]->def == set->jobs[j] ? 0 :
		    strcmp(r->slots[i]->name, set->jobs[j]->name);
		if (c < 0 && defs_job_is_bad(set, r->slots[i]->name)) {
			keep_bad_job(r->slots[i], a);
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
	return n;
}

/* One name a delta looked at: the slot takes its new definition, is made,
 * kept (a bad file) or retired. */
static int
apply_name(struct runner *r, struct defs_set *set, const char *name)
{
	struct job_def *def = defs_find_job(set, name);
	struct slot *slot, **v;
	bool found;
	size_t at = defs_named_pos((void *const *)r->slots, r->nslots, name,
	    &found);

	if (found && def != NULL)
		slot_update(r->slots[at], def);
	else if (found && !defs_job_is_bad(set, name)) {
		slot_retire(r, r->slots[at]);
		memmove(r->slots + at, r->slots + at + 1,
		    (--r->nslots - at) * sizeof(*r->slots));
	} else if (!found && def != NULL) {
		if ((v = realloc(r->slots, (r->nslots + 2) * sizeof(*v))) ==
		    NULL)
			return -ENOMEM;
		r->slots = v;
		if ((slot = slot_new(r, def, 0)) == NULL)
			return -ENOMEM;
		memmove(v + at + 1, v + at, (r->nslots++ - at) * sizeof(*v));
		v[at] = slot;
	}
	return 0;
}

/* A delta made from the set in force: only the names it looked at
 * change (the others are the same definitions), so the cost is theirs. */
static void
apply_delta(struct runner *r, struct defs_set *set, struct runner_applied *a)
{
	bool found;
	size_t i, at;

	for (i = 0; i < set->nchanged_jobs; i++)
		if (apply_name(r, set, set->changed_jobs[i]) != 0)
			log_error("job %s: out of memory",
			    set->changed_jobs[i]);
	for (i = 0; i < set->nbad_jobs; i++) {
		at = defs_named_pos((void *const *)r->slots, r->nslots,
		    set->bad_jobs[i], &found);
		if (found)
			keep_bad_job(r->slots[at], a);
	}
}

int
runner_apply(struct runner *r, struct defs_set *set, int at_startup,
    struct runner_applied *out)
{
	struct runner_applied a;
	struct slot **ns = NULL;
	bool delta = set->base != NULL && set->base == r->set &&
	    set->base_gen == r->set->gen;

	memset(&a, 0, sizeof(a));
	keep_bad_nodes(r, set, &a);
	a.nodes = set->nnodes;
	if ((!delta && (ns = calloc(set->njobs + 1, sizeof(*ns))) == NULL) ||
	    policy_set_nodes(r->policy, set) != 0) {
		log_error("reload: out of memory; keeping the old definitions");
		free(ns);
		defs_set_free(set);
		return -ENOMEM;
	}
	if (set->nodes_changed || !delta)
		exec_ssh_retire(r->ssh, set->nodes, set->nnodes);
	if (delta)
		apply_delta(r, set, &a);
	else {
		r->nslots = apply_all(r, set, at_startup, ns, &a);
		free(r->slots);
		r->slots = ns;
	}
	store_job_states_free(r->states);	/* read by slot_state() */
	r->states = NULL;
	r->states_failed = false;
	r->stats.jobs = r->nslots;
	defs_set_replace(r->set, set);
	r->set = set;
	run_pump_waiting(r);
	a.jobs = r->nslots;
	if (out != NULL)
		*out = a;
	return 0;
}
