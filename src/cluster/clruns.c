/*
 * clruns.c - cluster mode's run summaries: every member's recent runs on
 * every member (cluster_int.h, clruns_int.h).
 *
 * Out: a finish hook queues a short summary of each final run of this
 * member (clrunkey.c) and sends what is queued to etcd, asynchronously,
 * in one transaction per batch (a batch waits up to CLR_FLUSH_MS for
 * more, unless it is full, so that a busy member sends few): the deletes of the oldest summaries that
 * the batch pushes past cluster.reports_per_job (each job's oldest keys
 * are remembered from the previous transaction), the puts (on the claims'
 * long lease, so that etcd forgets the summaries of a job that stopped
 * running) and, per job in the batch, a keys-only range of its oldest
 * summaries with its count, which the next put starts from.  Only a job
 * whose oldest keys were not known (its first put since this member
 * started, or more put elsewhere) costs one more transaction of deletes
 * for the batch; otherwise each job holds exactly the cap.  While
 * etcd does not take them, summaries wait in a queue of CLR_QUEUE_MAX;
 * past that the oldest is dropped, counted and logged.
 *
 * In: a watch on the runs prefix (follow.c, made again by the tick)
 * hands each other member's summary to the store (runner_store_save;
 * store.h, remote_id), which keeps one per (member, run id) and at most
 * the cap per job.  At start and whenever
 * the watch had to be made again, the summaries of every job this member
 * knows are read in transactions of ranges (about CLR_RANGE_SUMS
 * summaries each), so a member that was down catches up.  Everything runs on the loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/log.h"
#include "cluster_int.h"
#include "clruns_int.h"
#include "follow_int.h"

#define CLR_QUEUE_MAX	1024	/* summaries waiting for etcd */
#define CLR_BATCH	32	/* puts per transaction */
#define CLR_FLUSH_MS	1000	/* a batch not full waits this long */
#define CLR_TRIM_EXTRA	8	/* oldest keys read beyond the batch's puts */
#define CLR_RANGE_JOBS	32	/* jobs per catch-up transaction, at most */
#define CLR_RANGE_SUMS	1600	/* summaries per catch-up answer, about */
#define CLR_OPS_MAX	128	/* operations in a transaction (etcd's
				 * default --max-txn-ops) */
#define CLR_OLD_KEYS	4	/* a job's oldest keys remembered */

struct clr_sum {
	char *job;
	char *key;
	char *value;
};

/* A job's oldest summaries in etcd as the last transaction saw them: its
 * next put deletes those it pushes past the cap in the same transaction. */
struct clr_old {
	char *job;
	char *keys[CLR_OLD_KEYS];	/* oldest first */
	size_t nkeys;
	int64_t count;			/* the job's summaries then */
};

struct cl_runs {
	struct cluster *c;
	char *prefix;			/* CL_PREFIX NS "/runs/" */
	int64_t cap;			/* cluster.reports_per_job */
	struct clr_sum q[CLR_QUEUE_MAX];	/* a ring */
	size_t head, n;
	size_t inflight;		/* the first ones, being sent */
	struct loop_timer *flush;	/* sends a batch not full */
	size_t sent_nd;			/* ... after this many deletes */
	const char *sent_jobs[CLR_BATCH];	/* ... their jobs, in order */
	size_t sent_nj;
	struct clr_old *old;		/* by job name */
	size_t nold, oldcap;
	uint64_t dropped;		/* lost to a full queue, in all */
	uint64_t dropped_logged;
	struct cl_follow f;		/* the watch of prefix */
	bool need_range;		/* the catch-up is due */
	size_t range_at;		/* its next job (runner_job_at) */
	bool range_busy;
};

static void clr_send(struct cl_runs *cr);
static void clr_send_soon(struct cl_runs *cr);

static void
clr_sum_free(struct clr_sum *s)
{
	free(s->job);
	free(s->key);
	free(s->value);
	memset(s, 0, sizeof(*s));
}

/* ---- out: the queue and the puts ---- */

static struct clr_sum *
clr_at(struct cl_runs *cr, size_t i)
{
	return &cr->q[(cr->head + i) % CLR_QUEUE_MAX];
}

static void
clr_pop(struct cl_runs *cr, size_t k)
{
	while (k-- > 0 && cr->n > 0) {
		clr_sum_free(clr_at(cr, 0));
		cr->head = (cr->head + 1) % CLR_QUEUE_MAX;
		cr->n--;
	}
}

/* A full queue drops its oldest waiting summary (not one being sent):
 * counted and logged. */
static bool
clr_make_room(struct cl_runs *cr)
{
	struct clr_sum *old;
	size_t i;

	if (cr->n < CLR_QUEUE_MAX)
		return true;
	if (cr->inflight >= cr->n)
		return false;
	old = clr_at(cr, cr->inflight);
	cr->dropped++;
	log_warn("cluster: run summaries wait for etcd and the queue is full "
	    "(%d): the summary %s is dropped (%" PRIu64 " dropped so far); "
	    "the run stays in this member's store", CLR_QUEUE_MAX, old->key,
	    cr->dropped);
	clr_sum_free(old);
	for (i = cr->inflight; i + 1 < cr->n; i++)	/* close the gap */
		*clr_at(cr, i) = *clr_at(cr, i + 1);
	memset(clr_at(cr, cr->n - 1), 0, sizeof(*old));
	cr->n--;
	return true;
}

/* The finish hook: queues rec's summary and sends it. */
static void
clr_finished(void *arg, const struct store_run *rec,
    const struct job_def *def)
{
	struct cl_runs *cr = ((struct cluster *)arg)->runs;
	char key[CLR_KEY_MAX];
	struct clr_sum s = { NULL, NULL, NULL };

	(void)def;
	if (rec->id <= 0)
		return;
	if (cr->c->state == CL_STOPPED) {
		log_info("cluster: run %" PRId64 " of job %s ended while the "
		    "member stops: its summary is not sent to etcd (the run "
		    "stays in this member's store)", rec->id, rec->job);
		return;
	}
	if (clr_key(cr->prefix, rec, key, sizeof(key)) != 0) {
		log_warn("cluster: run %" PRId64 " of job %s: its summary's key "
		    "is too long, not sent", rec->id, rec->job);
		return;
	}
	if ((s.key = strdup(key)) == NULL || (s.job = strdup(rec->job)) ==
	    NULL || (s.value = clr_encode(rec)) == NULL ||
	    !clr_make_room(cr)) {
		log_warn("cluster: run %" PRId64 " of job %s: its summary is "
		    "not sent (%s)", rec->id, rec->job, err_str(-ENOMEM));
		clr_sum_free(&s);
		return;
	}
	*clr_at(cr, cr->n++) = s;
	clr_send_soon(cr);
}

static void
clr_deleted(void *arg, const struct etcd_result *r)
{
	(void)arg;
	if (r->err != 0)	/* the job's next put deletes them */
		log_debug("cluster: deleting old run summaries: %s", r->msg);
}

/* ---- a job's oldest summaries, remembered for its next put ---- */

static int
clr_old_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct clr_old *)elem)->job);
}

static struct clr_old *
clr_old_find(struct cl_runs *cr, const char *job)
{
	return cr->nold == 0 ? NULL : bsearch(job, cr->old, cr->nold,
	    sizeof(*cr->old), clr_old_cmp);
}

static void
clr_old_clear(struct clr_old *o)
{
	while (o->nkeys > 0)
		free(o->keys[--o->nkeys]);
}

/* job's entry, made in its place when new; NULL without memory. */
static struct clr_old *
clr_old_get(struct cl_runs *cr, const char *job)
{
	struct clr_old *o = clr_old_find(cr, job), *grown;
	size_t at = 0, cap;
	char *name;

	if (o != NULL)
		return o;
	if (cr->nold == cr->oldcap) {
		cap = cr->oldcap > 0 ? cr->oldcap * 2 : 16;
		if ((grown = realloc(cr->old, cap * sizeof(*grown))) == NULL)
			return NULL;
		cr->old = grown;
		cr->oldcap = cap;
	}
	if ((name = strdup(job)) == NULL)
		return NULL;
	while (at < cr->nold && strcmp(cr->old[at].job, job) < 0)
		at++;
	memmove(&cr->old[at + 1], &cr->old[at], (cr->nold - at) *
	    sizeof(*cr->old));
	memset(&cr->old[at], 0, sizeof(*cr->old));
	cr->old[at].job = name;
	cr->nold++;
	return &cr->old[at];
}

/* After a transaction: job's range o (its count and oldest keys, with x
 * of them being deleted) is what its next put starts from. */
static void
clr_old_set(struct cl_runs *cr, const char *job,
    const struct etcd_op_result *o, size_t x)
{
	struct clr_old *old = clr_old_get(cr, job);
	size_t i;

	if (old == NULL)
		return;
	clr_old_clear(old);
	for (i = x; i < o->nkvs && old->nkeys < CLR_OLD_KEYS; i++)
		if ((old->keys[old->nkeys] = strdup(o->kvs[i].key)) != NULL)
			old->nkeys++;
	old->count = o->count - (int64_t)x;
}

/* ---- sending ---- */

/* Of each job's range in r, the oldest keys still beyond the cap (the
 * job had none remembered, or too few) go in one more transaction; the
 * rest is remembered for the job's next put. */
static void
clr_trim(struct cl_runs *cr, const struct etcd_result *r)
{
	struct etcd_op del[CLR_OPS_MAX];
	struct etcd_txn t = { NULL, 0, del, 0, NULL, 0 };
	const struct etcd_op_result *o;
	size_t j, k, x, at = cr->sent_nd + cr->inflight;

	for (j = 0; j < cr->sent_nj && at + j < r->nops; j++) {
		o = &r->ops[at + j];
		x = clr_excess(o->count, cr->cap, o->nkvs);
		for (k = 0; k < x && t.nsuccess < CLR_OPS_MAX; k++) {
			memset(&del[t.nsuccess], 0, sizeof(del[0]));
			del[t.nsuccess].type = ETCD_OP_DELETE;
			del[t.nsuccess++].key = o->kvs[k].key;
		}
		clr_old_set(cr, cr->sent_jobs[j], o, x);
	}
	if (t.nsuccess == 0)
		return;
	log_debug("cluster: %zu run summaries past the cap deleted in a "
	    "transaction of their own", t.nsuccess);
	etcd_txn(cr->c->e, &t, clr_deleted, cr);
}

static void
clr_sent(void *arg, const struct etcd_result *r)
{
	struct cl_runs *cr = arg;
	struct cluster *c = cr->c;
	size_t k = cr->inflight;

	if (r->err != 0) {	/* kept: sent again on the next tick */
		cr->inflight = 0;
		if (r->err == ERR_NOTFOUND)	/* the claims' lease is gone */
			c->claims_lease = 0;
		cl_etcd_error(c, r);
		return;
	}
	clr_trim(cr, r);
	cr->inflight = 0;
	clr_pop(cr, k);
	if (cr->dropped != cr->dropped_logged) {
		log_warn("cluster: run summaries go to etcd again; %" PRIu64
		    " were dropped while it did not take them", cr->dropped -
		    cr->dropped_logged);
		cr->dropped_logged = cr->dropped;
	}
	clr_send_soon(cr);
}

/* PREFIX JOB "/", malloc'd. */
static char *
clr_job_prefix(const struct cl_runs *cr, const char *job)
{
	size_t n = strlen(cr->prefix) + strlen(job) + 2;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s/", cr->prefix, job);
	return s;
}

/* The batch's jobs (sent_jobs) and how many puts each has (nput). */
static void
clr_group(struct cl_runs *cr, size_t np, size_t *nput)
{
	const char *job;
	size_t i, j;

	cr->sent_nj = 0;
	for (i = 0; i < np; i++) {
		job = clr_at(cr, i)->job;
		for (j = 0; j < cr->sent_nj &&
		    strcmp(cr->sent_jobs[j], job) != 0; j++)
			;
		if (j == cr->sent_nj) {
			cr->sent_jobs[cr->sent_nj++] = job;
			nput[j] = 0;
		}
		nput[j]++;
	}
}

/* The deletes first: of each job, the remembered oldest keys that its
 * puts push past the cap. */
static size_t
clr_add_deletes(struct cl_runs *cr, const size_t *nput, struct etcd_op *ops,
    size_t room)
{
	struct clr_old *o;
	size_t j, k, x, n = 0;

	for (j = 0; j < cr->sent_nj; j++) {
		if ((o = clr_old_find(cr, cr->sent_jobs[j])) == NULL)
			continue;
		x = clr_excess(o->count + (int64_t)nput[j], cr->cap, o->nkeys);
		for (k = 0; k < x && n < room; k++) {
			memset(&ops[n], 0, sizeof(ops[0]));
			ops[n].type = ETCD_OP_DELETE;
			ops[n++].key = o->keys[k];
		}
	}
	return n;
}

/* Then the puts (on the claims' lease), then a keys-only range of each
 * job's oldest summaries, which sees the deletes and the puts. */
static size_t
clr_add_puts(struct cl_runs *cr, size_t np, const size_t *nput,
    struct etcd_op *ops)
{
	struct clr_sum *s;
	size_t i, j;

	for (i = 0; i < np; i++) {
		s = clr_at(cr, i);
		memset(&ops[i], 0, sizeof(ops[0]));
		ops[i].type = ETCD_OP_PUT;
		ops[i].key = s->key;
		ops[i].value = s->value;
		ops[i].value_len = strlen(s->value);
		ops[i].lease = cr->c->claims_lease;
	}
	for (j = 0; j < cr->sent_nj; j++) {
		memset(&ops[np + j], 0, sizeof(ops[0]));
		ops[np + j].type = ETCD_OP_RANGE;
		ops[np + j].prefix = true;
		ops[np + j].keys_only = true;
		ops[np + j].limit = (int64_t)(nput[j] + CLR_TRIM_EXTRA);
		if ((ops[np + j].key = clr_job_prefix(cr,
		    cr->sent_jobs[j])) == NULL) {
			cr->sent_nj = j;	/* those made are freed */
			return 0;
		}
	}
	return np + cr->sent_nj;
}

/* Up to CLR_BATCH queued summaries in one transaction. */
static void
clr_send(struct cl_runs *cr)
{
	struct etcd_op ops[CLR_OPS_MAX];
	struct etcd_txn t = { NULL, 0, ops, 0, NULL, 0 };
	struct cluster *c = cr->c;
	size_t nput[CLR_BATCH], np, nd, n, i;

	if (cr->inflight > 0 || cr->n == 0 || c->claims_lease == 0 ||
	    c->state == CL_STOPPED)
		return;
	np = cr->n < CLR_BATCH ? cr->n : CLR_BATCH;
	clr_group(cr, np, nput);
	nd = clr_add_deletes(cr, nput, ops, CLR_OPS_MAX - 2 * CLR_BATCH);
	n = clr_add_puts(cr, np, nput, &ops[nd]);
	t.nsuccess = nd + n;
	cr->inflight = np;
	cr->sent_nd = nd;
	if (n == 0 || etcd_txn(c->e, &t, clr_sent, cr) != 0)
		cr->inflight = 0;
	for (i = nd + np; i < nd + np + cr->sent_nj; i++)
		free((char *)ops[i].key);
}

static void
clr_flush(void *arg)
{
	struct cl_runs *cr = arg;

	cr->flush = NULL;
	clr_send(cr);
}

/* A full batch goes at once, one not full within CLR_FLUSH_MS. */
static void
clr_send_soon(struct cl_runs *cr)
{
	if (cr->n >= cr->inflight + CLR_BATCH)
		clr_send(cr);
	else if (cr->flush == NULL && cr->n > cr->inflight &&
	    loop_timer_add(cr->c->loop, loop_mono_ms() + CLR_FLUSH_MS,
	    clr_flush, cr, &cr->flush) != 0)
		clr_send(cr);
}

/* ---- in: other members' summaries into the store ---- */

/* One summary from etcd: to the store unless it is this member's. */
static void
clr_take(struct cl_runs *cr, const struct etcd_kv *kv)
{
	struct clr_key_parts p;
	struct store_run *rec;
	char err[200], q[JFIELD_QUOTE_LEN];
	const char *why;

	if (clr_key_parse(cr->prefix, kv->key, &p, &why) != 0) {
		log_warn("cluster: run summary %s: the key: %s; ignored",
		    jfield_quote(kv->key, q, sizeof(q)), why);
		return;
	}
	if (strcmp(p.member, cr->c->member) == 0)
		return;
	if (clr_decode(kv->value, kv->value_len, &rec, err, sizeof(err)) != 0) {
		log_warn("cluster: run summary %s: %s; ignored",
		    jfield_quote(kv->key, q, sizeof(q)), err);
		return;
	}
	rec->retention = (int)cr->cap;
	if (cr->c->r != NULL)
		runner_store_save(cr->c->r, rec);
	else
		store_run_free(rec);
}

static void clr_range(struct cl_runs *cr);

static void
clr_ranged(void *arg, const struct etcd_result *r)
{
	struct cl_runs *cr = arg;
	size_t i, k;

	cr->range_busy = false;
	if (cr->c->state == CL_STOPPED)
		return;
	if (r->err != 0) {	/* the next tick starts over */
		cl_etcd_error(cr->c, r);
		cr->range_at = 0;
		return;
	}
	for (i = 0; i < r->nops; i++)
		for (k = 0; k < r->ops[i].nkvs; k++)
			clr_take(cr, &r->ops[i].kvs[k]);
	clr_range(cr);
}

/* The catch-up: the next CLR_RANGE_JOBS jobs' summaries (each job's
 * newest cap at most: etcd ranges its keys oldest first, so all of
 * them, the cap being what etcd holds). */
static void
clr_range(struct cl_runs *cr)
{
	struct etcd_op ops[CLR_RANGE_JOBS];
	struct etcd_txn t = { NULL, 0, ops, 0, NULL, 0 };
	struct cluster *c = cr->c;
	struct runner_job_info ji;
	size_t n = c->r != NULL ? runner_job_count(c->r) : 0, i;
	size_t per = (size_t)(CLR_RANGE_SUMS / cr->cap);

	if (per < 1 || per > CLR_RANGE_JOBS)
		per = per < 1 ? 1 : CLR_RANGE_JOBS;
	if (cr->range_at >= n) {
		cr->need_range = false;
		cr->range_at = 0;
		return;
	}
	for (; cr->range_at < n && t.nsuccess < per;
	    cr->range_at++) {
		runner_job_at(c->r, cr->range_at, &ji);
		memset(&ops[t.nsuccess], 0, sizeof(ops[0]));
		ops[t.nsuccess].type = ETCD_OP_RANGE;
		ops[t.nsuccess].prefix = true;
		if ((ops[t.nsuccess].key = clr_job_prefix(cr,
		    ji.def->name)) != NULL)
			t.nsuccess++;
	}
	cr->range_busy = etcd_txn(c->e, &t, clr_ranged, cr) == 0;
	for (i = 0; i < t.nsuccess; i++)
		free((char *)ops[i].key);
}

static bool
clr_event(void *arg, const struct etcd_event *ev)
{
	if (ev->type == ETCD_EV_PUT)
		clr_take(arg, &ev->kv);
	return false;
}

static void
clr_ended(void *arg, const struct etcd_watch_msg *m)
{
	(void)arg;	/* over: the tick makes a new one */
	log_debug("cluster: run summaries' watch ended: %s", m->msg);
}

/* A new watch: what it missed, from the first job. */
static void
clr_watching(void *arg)
{
	struct cl_runs *cr = arg;

	cr->need_range = true;
	cr->range_at = 0;
}

static const struct cl_follow_ops clr_follow = {
	.event = clr_event, .ended = clr_ended, .watching = clr_watching,
};

void
cl_runs_tick(struct cluster *c)
{
	struct cl_runs *cr = c->runs;

	if (c->state == CL_STOPPED)
		return;
	clr_send_soon(cr);	/* what waits, a failed batch too */
	cl_follow_start(&cr->f);	/* a watch again, if it ended */
	if (cr->need_range && !cr->range_busy)
		clr_range(cr);
}

/* ---- life ---- */

int
cl_runs_new(struct cluster *c, int64_t cap)
{
	struct cl_runs *cr;
	size_t n = strlen(CL_PREFIX) + strlen(c->ns) + 8;

	if ((cr = calloc(1, sizeof(*cr))) == NULL ||
	    (cr->prefix = malloc(n)) == NULL) {
		free(cr);
		return -ENOMEM;
	}
	snprintf(cr->prefix, n, "%s%s/runs/", CL_PREFIX, c->ns);
	cr->c = c;
	cr->cap = cap > 0 ? cap : CL_REPORTS_DEFAULT;
	cr->f = (struct cl_follow){ .e = c->e, .loop = c->loop,
	    .prefix = cr->prefix, .what = "run summaries", .ops = &clr_follow,
	    .arg = cr };
	c->runs = cr;
	return 0;
}

int
cl_runs_attach(struct cluster *c)
{
	struct run_finish_hook h = { "cluster", clr_finished, c };
	int rc = runner_add_finish_hook(c->r, &h);

	return rc < 0 ? rc : 0;
}

void
cl_runs_stop(struct cluster *c)
{
	struct cl_runs *cr = c->runs;

	if (cr == NULL)
		return;
	cl_follow_stop(&cr->f);
	if (cr->n > 0)
		log_warn("cluster: %zu run summaries not sent to etcd (the "
		    "member stops); the runs stay in its store", cr->n);
}

void
cl_runs_free(struct cluster *c)
{
	struct cl_runs *cr = c->runs;

	if (cr == NULL)
		return;
	cl_follow_stop(&cr->f);
	if (cr->flush != NULL)
		loop_timer_del(cr->flush);
	clr_pop(cr, cr->n);
	while (cr->nold > 0) {
		clr_old_clear(&cr->old[--cr->nold]);
		free(cr->old[cr->nold].job);
	}
	free(cr->old);
	free(cr->prefix);
	free(cr);
	c->runs = NULL;
}
