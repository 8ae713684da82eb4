/*
 * claim.c - the cluster's claim (runhooks.h, struct run_claim_ops) and
 * the take-over of jobs when the members change.
 *
 * A scheduled tick ("schedule" or "missed") goes through three gates:
 *   1. this member owns the job (rendezvous over the members it knows),
 *      else the tick is lost here: its owner runs it (a member not
 *      registered yet owns nothing: the others run its ticks; but while
 *      etcd fails it, it cannot know that there are others, and goes on
 *      to gate 2 with the jobs it would own);
 *   2. the member's lease is fresh (cluster.c), else the tick is missed
 *      with the reason: fail closed (only the owner says so, once);
 *   3. one etcd transaction: if CLAIMS/JOB/TICK was never created and the
 *      member's key still lives on this member's lease, put the claim
 *      (member and a nonce, on the long claims lease); else read both,
 *      so the answer says who holds the tick or that the lease is gone.
 *      For a forbid or replace job the same transaction puts the job's
 *      running marker, and forbid compares it too (running.c).
 *      A forbid claim that fails on another member's marker soon after
 *      the members changed is sent again a few times within the tick
 *      before it is skipped (running.c: the old owner's idle marker).
 *      Won: the transaction's revision is the run's fence.  A transaction
 *      that timed out after it was sent is tried once more with the same
 *      nonce: finding the claim with that nonce means the first one won.
 * Won runs (and runs of other triggers, manual and ad hoc, which are this
 * member's own) go on to the local claim, which records their intents;
 * every record carries this member's id (runner_set_member).
 *
 * Claims live on a lease granted without keepalives and replaced every
 * half of its TTL, so each claim outlives every retry of its run and
 * etcd forgets claims by itself.
 *
 * Take-over: jobs this member owns after a change of members and did not
 * own before may have lost ticks in the failover window (the old owner
 * died; the others still thought it owned them).  For each, the ticks
 * between now - TTL - 1 s and the next tick not yet handed over are
 * looked up in one transaction of ranges; those after the newest claimed
 * one follow the job's "missed" policy through runner_catch_up(), the
 * path plan.c uses after a downtime.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/rendezvous.h"
#include "distcron/sched.h"
#include "cluster_int.h"

#define CL_CLAIMS_TTL_MIN_S	3600	/* claims live at least this long */
#define CL_CLAIM_TRIES		2	/* a timed-out claim is tried again */
#define CL_CATCH_TICKS		64	/* ticks looked up per take-over */

/* CL_SKIP: missed as CL_MISS, not counted as a failed claim (a forbid
 * overlap with another member's run). */
enum cl_outcome { CL_WAIT, CL_PASS, CL_WON, CL_LOSE, CL_MISS, CL_SKIP };

struct cl_batch;

struct cl_one {
	struct cl_batch *b;
	struct store_run *rec;
	enum cl_outcome out;
	int tries;
	char *key;
	char nonce[40];
	struct cl_mark_req mark;	/* running.c: forbid, replace */
	struct loop_timer *timer;	/* claimed again after a wait */
};

struct cl_batch {
	struct cluster *c;
	struct store_run **recs;	/* a copy of the runner's array */
	size_t n, left;
	run_claim_done_fn done;
	void *done_arg;
	struct cl_one *one;
};

static void cl_send(struct cl_one *o);

/* ---- outcomes ---- */

static void
cl_reason(struct store_run *rec, const char *why)
{
	free(rec->reason);
	rec->reason = strdup(why);
}

static void
cl_local_done(struct store_run **recs, size_t n, int rc, void *arg)
{
	struct cl_batch *b = arg;
	size_t i;

	(void)recs;
	(void)n;
	/* before the runner hears of them: it may end a run at once */
	for (i = 0; i < b->n; i++)
		if (b->one[i].out == CL_WON)
			cl_mark_end(b->c, &b->one[i].mark, b->one[i].rec->job,
			    rc == 0 ? b->one[i].rec->id : 0,
			    b->one[i].rec->fence);
	b->done(b->recs, b->n, rc, b->done_arg);
	b->c->claims_inflight--;
	for (i = 0; i < b->n; i++)
		free(b->one[i].key);
	free(b->recs);
	free(b->one);
	free(b);
}

/* Every tick answered: the won ones (and the others' runs) go to the
 * local claim, which records them. */
static void
cl_batch_over(void *arg)
{
	struct cl_batch *b = arg;
	struct store_run **sub;
	size_t i, k = 0;
	int rc;

	if ((sub = calloc(b->n, sizeof(*sub))) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < b->n; i++)
		if (b->one[i].out == CL_WON || b->one[i].out == CL_PASS)
			sub[k++] = b->one[i].rec;
	if (k > 0) {
		rc = b->c->local->claim(b->c->local_arg, sub, k, cl_local_done,
		    b);
		free(sub);
		if (rc == 0)
			return;
		goto fail;
	}
	free(sub);
	cl_local_done(NULL, 0, 0, b);
	return;
 fail:
	cl_local_done(NULL, 0, rc, b);
}

static void
cl_one_over(struct cl_one *o, enum cl_outcome out, const char *why)
{
	struct cl_batch *b = o->b;

	o->out = out;
	if (out != CL_WON)
		cl_mark_end(b->c, &o->mark, o->rec->job, 0, 0);
	if (out == CL_WON && o->rec->scheduled_at > b->c->won_until)
		b->c->won_until = o->rec->scheduled_at;
	if (out == CL_MISS || out == CL_SKIP) {
		o->rec->missed = 1;
		cl_reason(o->rec, why);
	} else if (out == CL_LOSE && why != NULL)
		cl_reason(o->rec, why);
	if (out == CL_WON || out == CL_LOSE || out == CL_MISS)
		cl_view_claim(b->c, out == CL_WON ? 1 : out == CL_LOSE ? 0 : -1);
	if (--b->left == 0)
		cl_batch_over(b);
}

/* ---- the transaction ---- */

/* CLAIMS_PREFIX JOB "/" TICK, malloc'd (NULL without memory). */
static char *
cl_claim_key(const struct cluster *c, const char *job, int64_t tick)
{
	size_t n = strlen(c->claims_prefix) + strlen(job) + 24;
	char *key = malloc(n);

	if (key != NULL)
		snprintf(key, n, "%s%s/%lld", c->claims_prefix, job,
		    (long long)tick);
	return key;
}

/* The claim's value: {"member": M, "nonce": N}. */
static char *
cl_claim_value(const struct cluster *c, const char *nonce)
{
	json_object *o = json_object_new_object();
	char *s;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "member", json_object_new_string(c->member));
	json_object_object_add(o, "nonce", json_object_new_string(nonce));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

void
cl_claim_field(const struct etcd_kv *kv, const char *name, char *out,
    size_t n)
{
	json_object *o = json_tokener_parse(kv->value), *f;

	snprintf(out, n, "?");
	if (o != NULL && json_object_object_get_ex(o, name, &f))
		snprintf(out, n, "%s", json_object_get_string(f));
	json_object_put(o);
}

static void
cl_resend(void *arg)
{
	struct cl_one *o = arg;

	o->timer = NULL;
	o->tries = 0;
	if (o->b->c->state == CL_STOPPED)
		cl_one_over(o, CL_MISS, "cluster: this member stops");
	else
		cl_send(o);
}

/* A forbid claim failed on the job's running marker (got: its range):
 * sent again, now or a moment later (an idle marker of the job's old
 * owner goes once that member hears of the change), or skipped. */
static void
cl_claim_marked(struct cl_one *o, const struct etcd_op_result *got)
{
	struct cluster *c = o->b->c;
	char why[CL_REASON_MAX];
	int64_t now = loop_mono_ms();

	switch (cl_mark_failed(c, &o->mark, got, now, why, sizeof(why))) {
	case CL_MARK_AGAIN:
		cl_send(o);
		return;
	case CL_MARK_LATER:
		log_debug("job %s: tick %lld: %s; claimed again in %d ms",
		    o->rec->job, (long long)o->rec->scheduled_at, why,
		    CL_MARK_WAIT_MS);
		if (loop_timer_add(c->loop, now + CL_MARK_WAIT_MS, cl_resend, o,
		    &o->timer) == 0)
			return;
		break;
	default:
		break;
	}
	cl_one_over(o, CL_SKIP, why);
}

/* The compares failed: the tick is someone's (or ours, from the first
 * try), the member's key is not on our lease any more, or (forbid)
 * another member's run holds the job's running marker. */
static void
cl_claim_held(struct cl_one *o, const struct etcd_result *r)
{
	struct cluster *c = o->b->c;
	const struct etcd_kv *kv;
	char who[160], nonce[48], why[CL_REASON_MAX];

	if (r->nops >= 1 && r->ops[0].nkvs > 0) {
		kv = &r->ops[0].kvs[0];
		cl_claim_field(kv, "nonce", nonce, sizeof(nonce));
		if (strcmp(nonce, o->nonce) == 0) {	/* our first try won */
			o->rec->fence = kv->create_revision;
			cl_mark_won(c, &o->mark, o->rec->job, o->rec->fence);
			cl_one_over(o, CL_WON, NULL);
			return;
		}
		cl_claim_field(kv, "member", who, sizeof(who));
		snprintf(why, sizeof(why), "claimed by member %s (fence %lld)",
		    who, (long long)kv->create_revision);
		cl_one_over(o, CL_LOSE, why);
	} else if (o->mark.conc != JOB_CONC_FORBID || r->nops < 3 ||
	    r->ops[1].nkvs == 0 || r->ops[1].kvs[0].lease != c->lease) {
		cl_lease_lost(c, "its member key is not on its lease in etcd");
		cl_not_fresh_why(c, why, sizeof(why));
		cl_one_over(o, CL_MISS, why);
	} else
		cl_claim_marked(o, &r->ops[2]);
}

static void
cl_claimed(void *arg, const struct etcd_result *r)
{
	struct cl_one *o = arg;
	struct cluster *c = o->b->c;
	char why[CL_REASON_MAX];

	if (r->err == ERR_TIMEOUT && o->tries < CL_CLAIM_TRIES) {
		cl_send(o);	/* it may have been applied: same nonce */
		return;
	}
	if (r->err == ERR_NOTFOUND)	/* the claims' lease expired */
		c->claims_lease = 0;
	if (r->err != 0) {
		cl_etcd_error(c, r);
		snprintf(why, sizeof(why), "cluster: the claim failed: %s",
		    c->last_err);
		cl_one_over(o, CL_MISS, why);
	} else if (r->succeeded) {
		o->rec->fence = r->revision;
		cl_mark_won(c, &o->mark, o->rec->job, r->revision);
		cl_one_over(o, CL_WON, NULL);
	} else
		cl_claim_held(o, r);
}

static void
cl_send(struct cl_one *o)
{
	struct cluster *c = o->b->c;
	struct etcd_cmp cmp[3] = {
		{ .key = o->key, .target = ETCD_CMP_CREATE,
		  .result = ETCD_EQUAL, .number = 0 },
		{ .key = c->member_key, .target = ETCD_CMP_LEASE,
		  .result = ETCD_EQUAL, .number = c->lease },
	};
	struct etcd_op put[2] = { { .type = ETCD_OP_PUT, .key = o->key,
	    .lease = c->claims_lease } };
	struct etcd_op get[3] = {
		{ .type = ETCD_OP_RANGE, .key = o->key },
		{ .type = ETCD_OP_RANGE, .key = c->member_key, .keys_only = true },
	};
	struct etcd_txn t = { cmp, 2, put, 1, get, 2 };
	char *v = cl_claim_value(c, o->nonce), *mv = NULL;
	int rc = -ENOMEM;

	o->tries++;
	if (o->mark.key != NULL && (mv = cl_mark_value(c,
	    o->rec->scheduled_at, o->nonce)) != NULL)
		cl_mark_txn(&o->mark, c->lease, mv, cmp, &t.ncmps, put,
		    &t.nsuccess, get, &t.nfailure);
	if (v != NULL && (o->mark.key == NULL || mv != NULL)) {
		put[0].value = v;
		put[0].value_len = strlen(v);
		rc = etcd_txn(c->e, &t, cl_claimed, o);
	}
	free(v);
	free(mv);
	if (rc != 0)
		cl_one_over(o, CL_MISS, "cluster: out of memory claiming it");
}

/* The three gates for one record; the transaction is sent if it passes
 * the first two. */
static void
cl_claim_one(struct cl_one *o)
{
	struct cluster *c = o->b->c;
	struct store_run *rec = o->rec;
	char why[CL_REASON_MAX];
	const char *owner;

	if (strcmp(rec->trigger, "schedule") != 0 &&
	    strcmp(rec->trigger, "missed") != 0) {
		cl_one_over(o, CL_PASS, NULL);
		return;
	}
	/* not registered yet: the others run it, unless etcd fails us (an
	 * error logged and no answer since): then it is missed here */
	if (c->state == CL_STARTING && c->logged_err[0] == '\0') {
		cl_not_fresh_why(c, why, sizeof(why));
		cl_one_over(o, CL_LOSE, why);
		return;
	}
	if (strcmp(owner = cl_owner(c, rec->job), c->member) != 0) {
		snprintf(why, sizeof(why), "owned by member %s", owner);
		cl_one_over(o, CL_LOSE, why);
		return;
	}
	if (!cl_lease_fresh(c) || c->claims_lease == 0) {
		if (cl_lease_fresh(c))
			snprintf(why, sizeof(why), "cluster: no lease for claims "
			    "yet: %s", c->last_err);
		else
			cl_not_fresh_why(c, why, sizeof(why));
		cl_one_over(o, CL_MISS, why);
		return;
	}
	snprintf(o->nonce, sizeof(o->nonce), "%016" PRIx64 "-%" PRIu64,
	    c->nonce_base, ++c->nonce_seq);
	if ((o->key = cl_claim_key(c, rec->job, rec->scheduled_at)) == NULL ||
	    cl_mark_begin(c, rec, &o->mark) != 0) {
		cl_one_over(o, CL_MISS, "cluster: out of memory claiming it");
		return;
	}
	cl_send(o);
}

static int
cl_claim(void *arg, struct store_run **recs, size_t n,
    run_claim_done_fn done, void *done_arg)
{
	struct cluster *c = arg;
	struct cl_batch *b;
	size_t i;

	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->recs = malloc(n * sizeof(*recs))) == NULL ||
	    (b->one = calloc(n, sizeof(*b->one))) == NULL) {
		if (b != NULL)
			free(b->recs);
		free(b);
		return -ENOMEM;
	}
	memcpy(b->recs, recs, n * sizeof(*recs));
	c->claims_inflight++;
	b->c = c;
	b->n = n;
	b->left = n + 1;	/* + 1: held until every one is sent */
	b->done = done;
	b->done_arg = done_arg;
	for (i = 0; i < n; i++) {
		b->one[i].b = b;
		b->one[i].rec = recs[i];
	}
	for (i = 0; i < n; i++)
		cl_claim_one(&b->one[i]);
	if (--b->left == 0)	/* every answer came at once */
		loop_post(c->loop, cl_batch_over, b);
	return 0;
}

/* The last check before a won run launches: the lease is still fresh. */
static int
cl_may_launch(void *arg, const struct store_run *rec, char *why, size_t n)
{
	struct cluster *c = arg;

	if (strcmp(rec->trigger, "schedule") != 0 &&
	    strcmp(rec->trigger, "missed") != 0)
		return 0;
	if (cl_lease_fresh(c))
		return 0;
	cl_not_fresh_why(c, why, n);
	return -1;
}

/* ---- the claims' lease ---- */

/* The longest a run of any job may go on retrying: its claim must outlive
 * it (at least CL_CLAIMS_TTL_MIN_S). */
static int64_t
cl_claims_ttl(const struct cluster *c)
{
	struct runner_job_info ji;
	int64_t ttl = CL_CLAIMS_TTL_MIN_S, w;
	size_t i, n = c->r != NULL ? runner_job_count(c->r) : 0;

	for (i = 0; i < n; i++) {
		runner_job_at(c->r, i, &ji);
		w = (ji.def->timeout_ms / 1000 + 1 + ji.def->retry_backoff_ms /
		    1000) * (ji.def->retries + 1);
		if (w > ttl)
			ttl = w;
	}
	return ttl;
}

static void
cl_claims_granted(void *arg, const struct etcd_result *r)
{
	struct cluster *c = arg;

	c->claims_busy = false;
	if (r->err != 0) {
		cl_etcd_error(c, r);
		return;
	}
	c->claims_lease = r->lease;
	c->claims_rotate_ms = loop_mono_ms() + c->claims_ttl_s * 1000 / 2;
	log_debug("cluster: claims go on lease %llx (ttl %lld s)",
	    (unsigned long long)r->lease, (long long)r->ttl);
}

void
cl_claims_lease(struct cluster *c)
{
	if (c->claims_busy || c->state == CL_STOPPED ||
	    (c->claims_lease != 0 && loop_mono_ms() < c->claims_rotate_ms))
		return;
	/* each claim lives between half the TTL and the TTL */
	c->claims_ttl_s = 2 * cl_claims_ttl(c);
	c->claims_busy = true;
	if (etcd_lease_grant(c->e, c->claims_ttl_s, cl_claims_granted, c) != 0)
		c->claims_busy = false;
}

/* ---- take-over ---- */

struct cl_catch {
	struct cluster *c;
	char *job;
	int64_t from, end;
	int64_t at_ms;		/* real time of the take-over */
	bool first;		/* at start: the first view of the members */
	int64_t ticks[CL_CATCH_TICKS];
	size_t nticks;
	char *keys[CL_CATCH_TICKS];
};

static void
cl_catch_free(struct cl_catch *k)
{
	size_t i;

	for (i = 0; i < k->nticks; i++)
		free(k->keys[i]);
	free(k->job);
	free(k);
}

/*
 * The ticks of k after last (the newest claimed): those due before the
 * job came here follow its missed policy; those not due yet then were
 * handed to the claim (and lost: the job was another member's) only
 * because ticks are claimed a moment early: they run as scheduled, after
 * the catch-up's run (as "forbid" wants).
 */
static void
cl_catch_run(const struct cl_catch *k, int64_t last)
{
	const char *why = k->first ? "while this member started" :
	    "in the failover window of a member that left";
	size_t i, first = k->nticks;

	for (i = 0; i < k->nticks && first == k->nticks; i++)
		if (k->ticks[i] > last && k->ticks[i] * 1000 >= k->at_ms)
			first = i;
	runner_catch_up(k->c->r, k->job, last, first < k->nticks ?
	    k->ticks[first] : k->end, why);
	for (i = first; i < k->nticks; i++)
		runner_run_tick(k->c->r, k->job, k->ticks[i]);
}

static void
cl_caught(void *arg, const struct etcd_result *r)
{
	struct cl_catch *k = arg;
	struct cluster *c = k->c;
	int64_t last = k->from;
	size_t i;

	if (r->err != 0) {
		cl_etcd_error(c, r);
		log_warn("job %s: cannot look up the ticks of the failover "
		    "window in etcd (%s); they are not caught up", k->job,
		    c->last_err);
	} else if (c->state != CL_STOPPED && c->r != NULL) {
		for (i = 0; i < k->nticks && i < r->nops; i++)
			if (r->ops[i].count > 0 && k->ticks[i] > last)
				last = k->ticks[i];
		cl_catch_run(k, last);
	}
	cl_catch_free(k);
}

/* Looks up the claims of job's ticks in (from, end) in one transaction
 * of ranges, then catches up on those after the newest claimed. */
static void
cl_catch_job(struct cluster *c, const struct job_def *def, int64_t from,
    bool first)
{
	struct etcd_op ops[CL_CATCH_TICKS];
	struct etcd_txn t = { NULL, 0, ops, 0, NULL, 0 };
	struct cl_catch *k;
	int64_t tick = from, next;

	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->job = strdup(def->name)) == NULL) {
		free(k);
		return;
	}
	k->c = c;
	k->from = from;
	k->at_ms = loop_real_ms();
	k->first = first;
	k->end = runner_handed_until(c->r, def->name);
	while (k->nticks < CL_CATCH_TICKS &&
	    sched_next(def->sched, tick, &next) == 0 && next < k->end) {
		tick = k->ticks[k->nticks] = next;
		if ((k->keys[k->nticks] = cl_claim_key(c, def->name, next)) ==
		    NULL)
			break;
		memset(&ops[k->nticks], 0, sizeof(ops[0]));
		ops[k->nticks].type = ETCD_OP_RANGE;
		ops[k->nticks].key = k->keys[k->nticks];
		ops[k->nticks].count_only = true;
		k->nticks++;
	}
	t.nsuccess = k->nticks;
	if (k->nticks == 0 || etcd_txn(c->e, &t, cl_caught, k) != 0)
		cl_catch_free(k);
}

/* The owner of job among old[0..nold-1] and this member, as cl_owner. */
static bool
cl_owned_before(const struct cluster *c, const char **old, size_t nold,
    const char *job)
{
	long i = rendezvous_owner(old, nold, job);

	return i >= 0 && strcmp(old[i], c->member) == 0;
}

void
cl_take_over(struct cluster *c, const char **old, size_t nold)
{
	struct runner_job_info ji;
	int64_t now = loop_real_ms() / 1000, from;
	size_t i, n = c->r != NULL ? runner_job_count(c->r) : 0, took = 0;

	cl_running_moved(c);	/* the idle markers of jobs gone elsewhere */
	from = now - c->ttl_ms / 1000 - 1;
	if (old == NULL && from < c->started)
		from = c->started;	/* at start: since this daemon runs */
	for (i = 0; i < n; i++) {
		runner_job_at(c->r, i, &ji);
		if (strcmp(cl_owner(c, ji.def->name), c->member) != 0 ||
		    cl_owned_before(c, old, nold, ji.def->name))
			continue;
		took++;
		if (ji.def->enabled && !ji.paused)
			cl_catch_job(c, ji.def, from, old == NULL);
	}
	if (took > 0)
		log_info("cluster: member %s takes over %zu job(s)%s", c->member,
		    took, old == NULL ? " (first view of the members)" : "");
}

const struct run_claim_ops cl_claim_ops = {
	.name = "cluster", .claim = cl_claim, .may_launch = cl_may_launch,
	.shared = true,
};
