/*
 * clruns.c - cluster mode's run summaries: every member's recent runs on
 * every member (cluster_int.h, clruns_int.h).
 *
 * Out: a finish hook queues a short summary of each final run of this
 * member (clrunkey.c) and sends what is queued to etcd, asynchronously,
 * in one transaction per batch: the puts (on the claims' long lease, so
 * that etcd forgets the summaries of a job that stopped running) and, per
 * job in the batch, a keys-only range of the job's oldest summaries with
 * the job's count.  A job past cluster.reports_per_job loses its oldest
 * summaries in one more transaction of deletes for the whole batch: at
 * most two requests per batch, one while no job is past its cap.  While
 * etcd does not take them, summaries wait in a queue of CLR_QUEUE_MAX;
 * past that the oldest is dropped, counted and logged.
 *
 * In: a watch on the runs prefix hands each other member's summary to
 * the store (runner_store_save; store.h, remote_id), which keeps one per
 * (member, run id) and at most the cap per job.  At start and whenever
 * the watch had to be made again, the summaries of every job this member
 * knows are read in transactions of ranges (about CLR_RANGE_SUMS
 * summaries each),
 * so a member that was down catches up.  Everything runs on the loop.
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

#define CLR_QUEUE_MAX	1024	/* summaries waiting for etcd */
#define CLR_BATCH	32	/* puts per transaction */
#define CLR_TRIM_EXTRA	8	/* oldest keys read beyond the batch's puts */
#define CLR_RANGE_JOBS	32	/* jobs per catch-up transaction, at most */
#define CLR_RANGE_SUMS	1600	/* summaries per catch-up answer, about */

struct clr_sum {
	char *job;
	char *key;
	char *value;
};

struct cl_runs {
	struct cluster *c;
	char *prefix;			/* CL_PREFIX NS "/runs/" */
	int64_t cap;			/* cluster.reports_per_job */
	struct clr_sum q[CLR_QUEUE_MAX];	/* a ring */
	size_t head, n;
	size_t inflight;		/* the first ones, being sent */
	uint64_t dropped;		/* lost to a full queue, in all */
	uint64_t dropped_logged;
	struct etcd_watch *watch;
	bool need_range;		/* the catch-up is due */
	size_t range_at;		/* its next job (runner_job_at) */
	bool range_busy;
};

static void clr_send(struct cl_runs *cr);

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
	clr_send(cr);
}

static void
clr_deleted(void *arg, const struct etcd_result *r)
{
	(void)arg;
	if (r->err != 0)	/* the job's next put deletes them */
		log_debug("cluster: deleting old run summaries: %s", r->msg);
}

/* Deletes, of each job's range in r (after the nputs puts), the oldest
 * beyond the cap, in one transaction. */
static void
clr_trim(struct cl_runs *cr, const struct etcd_result *r, size_t nputs)
{
	struct etcd_op del[CLR_BATCH * 4];
	struct etcd_txn t = { NULL, 0, del, 0, NULL, 0 };
	const struct etcd_op_result *o;
	size_t i, k, x;

	for (i = nputs; i < r->nops; i++) {
		o = &r->ops[i];
		x = clr_excess(o->count, cr->cap, o->nkvs);
		for (k = 0; k < x && t.nsuccess < sizeof(del) / sizeof(del[0]);
		    k++) {
			memset(&del[t.nsuccess], 0, sizeof(del[0]));
			del[t.nsuccess].type = ETCD_OP_DELETE;
			del[t.nsuccess++].key = o->kvs[k].key;
		}
	}
	if (t.nsuccess > 0)
		etcd_txn(cr->c->e, &t, clr_deleted, cr);
}

static void
clr_sent(void *arg, const struct etcd_result *r)
{
	struct cl_runs *cr = arg;
	struct cluster *c = cr->c;
	size_t k = cr->inflight;

	cr->inflight = 0;
	if (r->err != 0) {	/* kept: sent again on the next tick */
		if (r->err == ERR_NOTFOUND)	/* the claims' lease is gone */
			c->claims_lease = 0;
		cl_etcd_error(c, r);
		return;
	}
	clr_trim(cr, r, k);
	clr_pop(cr, k);
	if (cr->dropped != cr->dropped_logged) {
		log_warn("cluster: run summaries go to etcd again; %" PRIu64
		    " were dropped while it did not take them", cr->dropped -
		    cr->dropped_logged);
		cr->dropped_logged = cr->dropped;
	}
	clr_send(cr);
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

/* Adds to ops[*nj] a keys-only range of job's oldest summaries, unless
 * one is there already (then it reads one key more). */
static void
clr_add_range(struct cl_runs *cr, struct etcd_op *ops, const char **jobs,
    size_t *nj, const char *job)
{
	size_t j;

	for (j = 0; j < *nj && strcmp(jobs[j], job) != 0; j++)
		;
	if (j < *nj) {
		ops[j].limit++;
		return;
	}
	memset(&ops[j], 0, sizeof(ops[0]));
	ops[j].type = ETCD_OP_RANGE;
	ops[j].prefix = true;
	ops[j].keys_only = true;
	ops[j].limit = 1 + CLR_TRIM_EXTRA;
	if ((ops[j].key = clr_job_prefix(cr, job)) == NULL)
		return;
	jobs[j] = job;
	(*nj)++;
}

/* Up to CLR_BATCH puts and a range per job among them, in one txn. */
static void
clr_send(struct cl_runs *cr)
{
	struct etcd_op ops[CLR_BATCH * 2];
	struct etcd_txn t = { NULL, 0, ops, 0, NULL, 0 };
	struct cluster *c = cr->c;
	const char *jobs[CLR_BATCH];
	size_t i, np, nj = 0;
	struct clr_sum *s;

	if (cr->inflight > 0 || cr->n == 0 || c->claims_lease == 0 ||
	    c->state == CL_STOPPED)
		return;
	for (np = 0; np < cr->n && np < CLR_BATCH; np++) {
		s = clr_at(cr, np);
		memset(&ops[np], 0, sizeof(ops[0]));
		ops[np].type = ETCD_OP_PUT;
		ops[np].key = s->key;
		ops[np].value = s->value;
		ops[np].value_len = strlen(s->value);
		ops[np].lease = c->claims_lease;
	}
	for (i = 0; i < np; i++)
		clr_add_range(cr, &ops[np], jobs, &nj, clr_at(cr, i)->job);
	t.nsuccess = np + nj;
	cr->inflight = np;
	if (etcd_txn(c->e, &t, clr_sent, cr) != 0)
		cr->inflight = 0;
	for (i = 0; i < nj; i++)
		free((char *)ops[np + i].key);
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

static void
clr_watched(void *arg, const struct etcd_watch_msg *m)
{
	struct cl_runs *cr = arg;
	size_t i;

	if (m->err != 0) {	/* over: the tick makes a new one */
		log_debug("cluster: run summaries' watch ended: %s", m->msg);
		etcd_watch_cancel(cr->watch);
		cr->watch = NULL;
		return;
	}
	for (i = 0; i < m->nevents; i++)
		if (m->events[i].type == ETCD_EV_PUT)
			clr_take(cr, &m->events[i].kv);
}

void
cl_runs_tick(struct cluster *c)
{
	struct cl_runs *cr = c->runs;
	struct etcd_watch_opts o = { .key = cr->prefix, .prefix = true };

	if (c->state == CL_STOPPED)
		return;
	clr_send(cr);
	if (cr->watch == NULL) {
		if (etcd_watch(c->e, &o, clr_watched, cr, &cr->watch) != 0)
			cr->watch = NULL;
		else {			/* what it missed: from the first */
			cr->need_range = true;
			cr->range_at = 0;
		}
	}
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
	etcd_watch_cancel(cr->watch);
	cr->watch = NULL;
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
	etcd_watch_cancel(cr->watch);
	clr_pop(cr, cr->n);
	free(cr->prefix);
	free(cr);
	c->runs = NULL;
}
