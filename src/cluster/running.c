/*
 * running.c - "concurrency": "forbid" and "replace" across the members:
 * running markers.
 *
 * While a member has runs of a forbid or replace job in flight it holds
 * the marker /distcron/NS/running/JOB, a key on its member lease (so the
 * marker goes when the member dies or loses its lease) whose value says
 * {"member", "tick", "nonce"} and whose mod revision is the fence of the
 * run that put it.  The marker is part of the tick's claim transaction
 * (claim.c), so the hot path stays one transaction per tick:
 *   forbid   the claim also compares the marker: absent, or on this
 *            member's lease (its own runs' overlap is the runner's, which
 *            does not claim a forbid tick while one of them runs); the
 *            claim puts it.  Another member's marker fails the claim and
 *            the tick is skipped as a local overlap is, naming the member.
 *   replace  the claim puts the marker whoever holds it.  The member whose
 *            marker was overwritten sees it on its watch of the markers
 *            and cancels its older runs of the job at the newer run's
 *            tick ("replaced by a newer run on member X").
 *   allow    no marker.
 * A member's marker outlives its last run while the member still owns
 * the job: it stays idle, and the next claim passes the compare (on our
 * lease) and puts it again, so a run costs the one transaction of its
 * claim.  The marker goes when it is of no use to this member:
 *   - a run that ends on a member that no longer owns its job (or whose
 *     job is gone, or allows overlaps) deletes it;
 *   - when the members change (cl_take_over), the idle markers of jobs
 *     owned elsewhere now are deleted in one transaction (a compare of
 *     each key's mod revision, then the deletes; if one compare fails the
 *     transaction deletes nothing and reads the keys: those still ours
 *     are sent again, once in one transaction, then each on its own), and
 *     the timer's sweep tries again those whose delete failed;
 *   - a member that dies takes them with its lease, and a member stopping
 *     cleanly with its lease revoke (a member that lost its lease and has
 *     a new one forgets those of the old one).
 * A delete compares the mod revision we put, so a newer marker (the job
 * moved back, another member's replace) is never deleted; the entry stays
 * in the table until the delete is answered.  The new owner of a job may
 * meet the old owner's idle marker for a moment after a join, before the
 * old owner hears of it: in the lease TTL after the members changed, a
 * forbid claim that fails on another member's marker is sent again every
 * CL_MARK_WAIT_MS for up to CL_MARK_WAIT_MAX_MS (never within
 * CL_MARK_WAIT_MS of the job's next tick) before the tick is skipped.
 * (The runner's batch of the tick waits with it: hence the TTL's bound,
 * past which a run still going elsewhere skips the tick at once.)
 * A member stopping cleanly (cluster_stop) with marked runs in flight
 * gives its jobs away at once (its member key is deleted) but keeps its
 * lease, and so its markers, alive until those runs are final.
 *
 * The table of markers is an array searched linearly: it holds the
 * forbid and replace jobs with runs in flight or an idle marker, not all
 * jobs.  Loop thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/sched.h"
#include "cluster_int.h"

/* A run of ours holding a marker. */
struct cl_hold {
	int64_t id, fence;
};

/* A job whose marker this member holds, or is claiming. */
struct cl_mark {
	char *job;
	enum job_concurrency conc;
	int64_t rev;		/* the marker's mod revision as we put it
				 * (0: none yet, or overwritten) */
	int64_t lease;		/* the member lease it was put on (another
				 * now: it went with that lease) */
	int64_t cancelled;	/* the newest overwrite acted upon */
	int pending;		/* claims in flight, not recorded yet */
	bool unmarking;		/* its delete is in flight */
	struct cl_hold *runs;
	size_t nruns, cap;
};

/* A cancellation waiting for the newer run's tick. */
struct cl_cancel {
	struct cluster *c;
	char *job;
	int64_t rev;
	char why[CL_REASON_MAX];
	struct loop_timer *timer;
	struct cl_cancel *next;
};

/* Deletes in flight: one transaction for up to CL_UNMARK_MAX markers. */
struct cl_unmark {
	struct cluster *c;
	char *jobs[CL_UNMARK_MAX], *keys[CL_UNMARK_MAX];
	int64_t revs[CL_UNMARK_MAX];
	size_t n;
	int sent;		/* transactions sent for these keys */
	struct cl_unmark *next;
};

struct cl_running {
	char *prefix;		/* CL_PREFIX NS "/running/" */
	struct cl_mark **marks;
	size_t n, cap;
	struct etcd_watch *watch;
	struct cl_cancel *cancels;
	struct cl_unmark *unmarks;
	int64_t moved_ms;	/* mono: the members last changed (0: never) */
	int64_t drain_lease;	/* stopping: kept alive until n is 0 */
	struct loop_timer *drain_timer;
};

static void cl_mark_scan(struct cluster *c);

/* ---- the table ---- */

static struct cl_mark *
cl_mark_find(const struct cl_running *rn, const char *job, size_t *at)
{
	size_t i;

	for (i = 0; i < rn->n; i++)
		if (strcmp(rn->marks[i]->job, job) == 0) {
			if (at != NULL)
				*at = i;
			return rn->marks[i];
		}
	return NULL;
}

static struct cl_mark *
cl_mark_add(struct cl_running *rn, const char *job, enum job_concurrency conc)
{
	struct cl_mark *m, **nm;
	size_t ncap;

	if (rn->n == rn->cap) {
		ncap = rn->cap ? rn->cap * 2 : 16;
		if ((nm = realloc(rn->marks, ncap * sizeof(*nm))) == NULL)
			return NULL;
		rn->marks = nm;
		rn->cap = ncap;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->job = strdup(job)) == NULL) {
		free(m);
		return NULL;
	}
	m->conc = conc;
	rn->marks[rn->n++] = m;
	return m;
}

static void
cl_mark_free(struct cl_mark *m)
{
	if (m == NULL)
		return;
	free(m->job);
	free(m->runs);
	free(m);
}

/* The marker's key for job, malloc'd (NULL without memory). */
static char *
cl_mark_key(const struct cluster *c, const char *job)
{
	size_t n = strlen(c->running->prefix) + strlen(job) + 1;
	char *key = malloc(n);

	if (key != NULL)
		snprintf(key, n, "%s%s", c->running->prefix, job);
	return key;
}

static void
cl_ignored(void *arg, const struct etcd_result *r)
{
	(void)arg;
	(void)r;
}

/* Whether m's marker stays idle once no run holds it: this member still
 * owns its job, a forbid or replace one, and is not stopping. */
static bool
cl_mark_keeps(const struct cluster *c, const struct cl_mark *m)
{
	struct runner_job_info ji;

	return m->rev != 0 && m->lease == c->lease &&
	    c->running->drain_lease == 0 &&
	    c->state != CL_STOPPED && c->r != NULL &&
	    runner_job_find(c->r, m->job, &ji) == 0 &&
	    ji.def->concurrency != JOB_CONC_ALLOW &&
	    strcmp(cl_owner(c, m->job), c->member) == 0;
}

/* Takes the entry at out of the table; the drain ends with the last. */
static void
cl_mark_drop(struct cluster *c, size_t at)
{
	struct cl_running *rn = c->running;

	cl_mark_free(rn->marks[at]);
	rn->marks[at] = rn->marks[--rn->n];
	if (rn->n == 0 && rn->drain_lease != 0) {
		log_info("cluster: member %s: its marked runs are over; it "
		    "leaves", c->member);
		if (rn->drain_timer != NULL)
			loop_timer_del(rn->drain_timer);
		rn->drain_timer = NULL;
		cl_leave(c, rn->drain_lease);
		rn->drain_lease = 0;
	}
}

size_t
cl_unmark_txn(char *const *keys, const int64_t *revs, size_t n,
    struct etcd_cmp *cmp, struct etcd_op *del, struct etcd_op *get)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&cmp[i], 0, sizeof(*cmp));
		cmp[i].key = keys[i];
		cmp[i].target = ETCD_CMP_MOD;
		cmp[i].result = ETCD_EQUAL;
		cmp[i].number = revs[i];
		memset(&del[i], 0, sizeof(*del));
		del[i].type = ETCD_OP_DELETE;
		del[i].key = keys[i];
		memset(&get[i], 0, sizeof(*get));
		get[i].type = ETCD_OP_RANGE;
		get[i].key = keys[i];
		get[i].keys_only = true;
	}
	return n;
}

void
cl_unmark_still(const struct etcd_result *r, const int64_t *revs, size_t n,
    bool *still)
{
	const struct etcd_op_result *g;
	size_t i;

	for (i = 0; i < n; i++) {
		g = i < r->nops ? &r->ops[i] : NULL;
		still[i] = g != NULL && g->nkvs > 0 &&
		    g->kvs[0].mod_revision == revs[i];
	}
}

static struct cl_unmark *
cl_unmark_new(struct cluster *c)
{
	struct cl_unmark *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->c = c;
	u->next = c->running->unmarks;
	c->running->unmarks = u;
	return u;
}

static void
cl_unmark_free(struct cl_unmark *u)
{
	struct cl_unmark **pp;
	size_t i;

	for (pp = &u->c->running->unmarks; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	for (i = 0; i < u->n; i++) {
		free(u->jobs[i]);
		free(u->keys[i]);
	}
	free(u);
}

/* A marker's delete is answered: gone (or not ours any more), or failed
 * (the sweep tries again). */
static void
cl_unmark_over(struct cluster *c, const char *job, int64_t rev, bool gone)
{
	struct cl_mark *m;
	size_t at;

	if ((m = cl_mark_find(c->running, job, &at)) == NULL)
		return;
	m->unmarking = false;
	if (gone && m->rev == rev)
		m->rev = 0;
	if ((m->rev == 0 || c->running->drain_lease != 0) && m->pending == 0 &&
	    m->nruns == 0)
		cl_mark_drop(c, at);
}

/* Answers u's entries from i on (gone or failed), then frees u. */
static void
cl_unmark_end(struct cl_unmark *u, size_t i, bool gone)
{
	for (; i < u->n; i++)
		if (u->jobs[i] != NULL)
			cl_unmark_over(u->c, u->jobs[i], u->revs[i], gone);
	cl_unmark_free(u);
}

static void cl_unmarked(void *arg, const struct etcd_result *r);

/* Sends u's deletes (one transaction); answers them failed if it cannot
 * (the sweep tries again). */
static void
cl_unmark_send(struct cl_unmark *u)
{
	struct etcd_cmp cmp[CL_UNMARK_MAX];
	struct etcd_op del[CL_UNMARK_MAX], get[CL_UNMARK_MAX];
	struct etcd_txn t = { cmp, 0, del, 0, get, 0 };

	t.ncmps = t.nsuccess = t.nfailure = cl_unmark_txn(u->keys, u->revs,
	    u->n, cmp, del, get);
	u->sent++;
	if (etcd_txn(u->c->e, &t, cl_unmarked, u) != 0)
		cl_unmark_end(u, 0, false);
}

/* u's entry i is sent on its own; -ENOMEM if it cannot be. */
static int
cl_unmark_split(struct cl_unmark *u, size_t i)
{
	struct cl_unmark *one = cl_unmark_new(u->c);

	if (one == NULL)
		return -ENOMEM;
	one->jobs[0] = u->jobs[i];
	one->keys[0] = u->keys[i];
	one->revs[0] = u->revs[i];
	one->n = 1;
	cl_unmark_send(one);
	return 0;
}

/* The batch failed on a compare: its ranges say which markers are still
 * ours; the others are gone.  Those are sent again in one transaction,
 * once; then each on its own. */
static void
cl_unmark_again(struct cl_unmark *u, const struct etcd_result *r)
{
	bool still[CL_UNMARK_MAX];
	size_t i, k = 0;

	cl_unmark_still(r, u->revs, u->n, still);
	for (i = 0; i < u->n; i++) {
		if (still[i] && u->sent == 1) {
			u->jobs[k] = u->jobs[i];
			u->keys[k] = u->keys[i];
			u->revs[k++] = u->revs[i];
			continue;
		}
		if (still[i] && cl_unmark_split(u, i) == 0)
			continue;
		cl_unmark_over(u->c, u->jobs[i], u->revs[i], !still[i]);
		free(u->jobs[i]);
		free(u->keys[i]);
	}
	u->n = k;
	if (k > 0)
		cl_unmark_send(u);
	else
		cl_unmark_free(u);
}

static void
cl_unmarked(void *arg, const struct etcd_result *r)
{
	struct cl_unmark *u = arg;

	if (r->err != 0)
		log_debug("cluster: deleting %zu running marker(s) failed: %s",
		    u->n, r->msg[0] ? r->msg : err_str(r->err));
	if (r->err == 0 && !r->succeeded && u->n > 1)
		cl_unmark_again(u, r);
	else	/* a single key's failed compare: not ours any more */
		cl_unmark_end(u, 0, r->err == 0);
}

/* The idle entries of the table whose markers are of no use any more:
 * dropped at once when not ours (revision 0), else deleted, up to
 * CL_UNMARK_MAX in a transaction. */
static void
cl_mark_sweep(struct cluster *c)
{
	struct cl_running *rn = c->running;
	struct cl_unmark *u = NULL;
	struct cl_mark *m;
	size_t i = 0;

	while (i < rn->n) {
		m = rn->marks[i];
		if (m->pending == 0 && m->nruns == 0 && (m->rev == 0 ||
		    m->lease != c->lease || rn->drain_lease != 0)) {
			cl_mark_drop(c, i);
			continue;
		}
		if (m->pending > 0 || m->nruns > 0 || m->unmarking ||
		    cl_mark_keeps(c, m)) {
			i++;
			continue;
		}
		if (u == NULL && (u = cl_unmark_new(c)) == NULL)
			return;
		u->revs[u->n] = m->rev;
		if ((u->jobs[u->n] = strdup(m->job)) == NULL ||
		    (u->keys[u->n] = cl_mark_key(c, m->job)) == NULL) {
			free(u->jobs[u->n]);
			u->jobs[u->n] = NULL;
			break;
		}
		m->unmarking = true;
		if (++u->n == CL_UNMARK_MAX) {
			cl_unmark_send(u);
			u = NULL;
		}
		i++;
	}
	if (u != NULL && u->n > 0)
		cl_unmark_send(u);
	else if (u != NULL)
		cl_unmark_free(u);
}

void
cl_running_moved(struct cluster *c)
{
	if (c->running == NULL)
		return;
	c->running->moved_ms = loop_mono_ms();
	cl_mark_sweep(c);
}

/* m has no run in flight nor claim: it stays idle while we own its job;
 * else it is forgotten (its marker deleted if it is still ours). */
static void
cl_mark_release(struct cluster *c, struct cl_mark *m)
{
	if (m->pending > 0 || m->nruns > 0 ||
	    cl_mark_find(c->running, m->job, NULL) != m || cl_mark_keeps(c, m))
		return;
	cl_mark_sweep(c);
}
/* ---- the claim's part ---- */

int
cl_mark_begin(struct cluster *c, const struct store_run *rec,
    struct cl_mark_req *q)
{
	struct runner_job_info ji;
	struct cl_mark *m;
	int64_t next;

	memset(q, 0, sizeof(*q));
	if (c->r == NULL || runner_job_find(c->r, rec->job, &ji) != 0 ||
	    ji.def->concurrency == JOB_CONC_ALLOW)
		return 0;
	if ((m = cl_mark_find(c->running, rec->job, NULL)) == NULL &&
	    (m = cl_mark_add(c->running, rec->job, ji.def->concurrency)) ==
	    NULL)
		return -ENOMEM;
	if ((q->key = cl_mark_key(c, rec->job)) == NULL) {
		cl_mark_release(c, m);
		return -ENOMEM;
	}
	m->conc = ji.def->concurrency;
	m->pending++;
	q->conc = m->conc;
	q->own = m->rev != 0;
	if (c->running->moved_ms != 0 &&
	    sched_next(ji.def->sched, rec->scheduled_at, &next) == 0)
		q->until = cl_mark_until(loop_mono_ms(), loop_real_ms(), next,
		    c->running->moved_ms + c->ttl_ms);
	return 0;
}

int64_t
cl_mark_until(int64_t mono_ms, int64_t real_ms, int64_t next_s,
    int64_t end_ms)
{
	int64_t w = next_s * 1000 - real_ms - CL_MARK_WAIT_MS;

	if (w > CL_MARK_WAIT_MAX_MS)
		w = CL_MARK_WAIT_MAX_MS;
	if (w > end_ms - mono_ms)
		w = end_ms - mono_ms;
	return w >= CL_MARK_WAIT_MS ? mono_ms + w : 0;
}

void
cl_mark_txn(const struct cl_mark_req *q, int64_t lease, const char *value,
    struct etcd_cmp *cmp, size_t *ncmp, struct etcd_op *put, size_t *nput,
    struct etcd_op *get, size_t *nget)
{
	if (q->conc == JOB_CONC_ALLOW || q->key == NULL)
		return;
	if (q->conc == JOB_CONC_FORBID) {
		memset(&cmp[*ncmp], 0, sizeof(*cmp));
		cmp[*ncmp].key = q->key;
		cmp[*ncmp].result = ETCD_EQUAL;
		cmp[*ncmp].target = q->own ? ETCD_CMP_LEASE : ETCD_CMP_CREATE;
		cmp[*ncmp].number = q->own ? lease : 0;
		(*ncmp)++;
		memset(&get[*nget], 0, sizeof(*get));
		get[*nget].type = ETCD_OP_RANGE;
		get[*nget].key = q->key;
		(*nget)++;
	}
	memset(&put[*nput], 0, sizeof(*put));
	put[*nput].type = ETCD_OP_PUT;
	put[*nput].key = q->key;
	put[*nput].lease = lease;
	put[*nput].value = value;
	put[*nput].value_len = strlen(value);
	(*nput)++;
}

char *
cl_mark_value(const struct cluster *c, int64_t tick, const char *nonce)
{
	json_object *o = json_object_new_object();
	char *s;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "member", json_object_new_string(c->member));
	json_object_object_add(o, "tick", json_object_new_int64(tick));
	json_object_object_add(o, "nonce", json_object_new_string(nonce));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

int
cl_mark_failed(const struct cluster *c, struct cl_mark_req *q,
    const struct etcd_op_result *got, int64_t now_ms, char *why, size_t n)
{
	const struct etcd_kv *kv = got != NULL && got->nkvs > 0 ?
	    &got->kvs[0] : NULL;
	char who[160];

	/* absent, or ours (a delete not applied yet, a marker of a run
	 * that ended): claim again with the compare that holds */
	if ((kv == NULL || kv->lease == c->lease) && q->retries++ < 2) {
		q->own = kv != NULL;
		return CL_MARK_AGAIN;
	}
	if (kv != NULL)
		cl_claim_field(kv, "member", who, sizeof(who));
	else
		snprintf(who, sizeof(who), "?");
	snprintf(why, n, "the previous run is still running on member %s "
	    "(concurrency: forbid)", who);
	/* another member's: maybe an idle marker of the job's old owner,
	 * which deletes it once it hears that the job moved */
	if (kv != NULL && kv->lease != c->lease && q->until != 0 &&
	    now_ms + CL_MARK_WAIT_MS <= q->until) {
		q->own = false;
		return CL_MARK_LATER;
	}
	return CL_MARK_SKIP;
}

void
cl_mark_won(struct cluster *c, const struct cl_mark_req *q, const char *job,
    int64_t rev)
{
	struct cl_mark *m = cl_mark_find(c->running, job, NULL);

	if (q->key != NULL && m != NULL && rev > m->rev) {
		m->rev = rev;
		m->lease = c->lease;
	}
}

void
cl_mark_end(struct cluster *c, struct cl_mark_req *q, const char *job,
    int64_t id, int64_t fence)
{
	struct cl_mark *m;
	struct cl_hold *nr;
	size_t ncap;

	if (q->key == NULL)
		return;
	free(q->key);
	q->key = NULL;
	if ((m = cl_mark_find(c->running, job, NULL)) == NULL)
		return;
	m->pending--;
	if (id > 0 && m->nruns == m->cap) {
		ncap = m->cap ? m->cap * 2 : 4;
		if ((nr = realloc(m->runs, ncap * sizeof(*nr))) != NULL) {
			m->runs = nr;
			m->cap = ncap;
		}
	}
	if (id > 0 && m->nruns < m->cap) {
		m->runs[m->nruns].id = id;
		m->runs[m->nruns++].fence = fence;
	}
	cl_mark_release(c, m);
}

/* The finish hook: a marked run is final. */
static void
cl_mark_finished(void *arg, const struct store_run *rec,
    const struct job_def *def)
{
	struct cluster *c = arg;
	struct cl_mark *m;
	size_t i;

	(void)def;
	if (rec->fence == 0 || c->running == NULL ||
	    (m = cl_mark_find(c->running, rec->job, NULL)) == NULL)
		return;
	for (i = 0; i < m->nruns; i++)
		if (m->runs[i].id == rec->id) {
			m->runs[i] = m->runs[--m->nruns];
			cl_mark_release(c, m);
			return;
		}
}

/* ---- replaced: another member's newer run ---- */

static void
cl_cancel_unlink(struct cl_running *rn, struct cl_cancel *k)
{
	struct cl_cancel **pp;

	for (pp = &rn->cancels; *pp != NULL; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	free(k->job);
	free(k);
}

/* Cancels our runs of the job older than the newer run's marker. */
static void
cl_cancel_now(void *arg)
{
	struct cl_cancel *k = arg;
	struct cluster *c = k->c;
	struct cl_mark *m = cl_mark_find(c->running, k->job, NULL);
	int64_t ids[16];
	size_t i, n = 0;

	k->timer = NULL;
	/* runner_cancel may end a run at once, and its finish hook change
	 * m: the ids first */
	for (i = 0; m != NULL && i < m->nruns && n < 16; i++)
		if (m->runs[i].fence < k->rev)
			ids[n++] = m->runs[i].id;
	for (i = 0; i < n && c->r != NULL; i++)
		if (runner_cancel(c->r, ids[i], k->why) == 0)
			log_warn("job %s: run %lld %s", k->job,
			    (long long)ids[i], k->why);
	cl_cancel_unlink(c->running, k);
}

/* Another member put the marker of a job whose runs we hold. */
static void
cl_mark_taken(struct cluster *c, struct cl_mark *m, const struct etcd_kv *kv,
    const char *who)
{
	struct cl_cancel *k;
	json_object *o, *f;
	int64_t tick = 0, wait;

	if (kv->mod_revision > m->rev)
		m->rev = 0;	/* not ours any more: not deleted */
	if (m->conc != JOB_CONC_REPLACE || kv->mod_revision <= m->cancelled ||
	    m->nruns == 0 || (k = calloc(1, sizeof(*k))) == NULL)
		return;
	m->cancelled = kv->mod_revision;
	if ((o = json_tokener_parse(kv->value)) != NULL &&
	    json_object_object_get_ex(o, "tick", &f))
		tick = json_object_get_int64(f);
	json_object_put(o);
	k->c = c;
	k->rev = kv->mod_revision;
	snprintf(k->why, sizeof(k->why), "replaced by a newer run on member "
	    "%s", who);
	if ((k->job = strdup(m->job)) == NULL) {
		free(k);
		return;
	}
	k->next = c->running->cancels;
	c->running->cancels = k;
	wait = tick * 1000 - loop_real_ms();	/* the newer run's second */
	if (wait <= 0 || loop_timer_add(c->loop, loop_mono_ms() + wait,
	    cl_cancel_now, k, &k->timer) != 0)
		cl_cancel_now(k);
}

/* A marker as etcd has it now (a watch's put, a scan's key). */
static void
cl_mark_seen(struct cluster *c, const struct etcd_kv *kv)
{
	size_t plen = strlen(c->running->prefix);
	struct cl_mark *m;
	char who[160];

	if (kv->key_len <= plen || (m = cl_mark_find(c->running,
	    kv->key + plen, NULL)) == NULL)
		return;
	cl_claim_field(kv, "member", who, sizeof(who));
	if (strcmp(who, c->member) != 0) {
		cl_mark_taken(c, m, kv, who);
		cl_mark_release(c, m);	/* idle: forgotten */
	}
}

static void
cl_mark_watched(void *arg, const struct etcd_watch_msg *msg)
{
	struct cluster *c = arg;
	size_t i;

	if (msg->err != 0) {	/* over: cl_running_tick makes a new one */
		log_debug("cluster: running markers' watch ended: %s",
		    msg->msg);
		etcd_watch_cancel(c->running->watch);
		c->running->watch = NULL;
		return;
	}
	for (i = 0; i < msg->nevents; i++)
		if (msg->events[i].type == ETCD_EV_PUT)
			cl_mark_seen(c, &msg->events[i].kv);
}

static void
cl_mark_scanned(void *arg, const struct etcd_result *r)
{
	struct cluster *c = arg;
	size_t i;

	if (r->err != 0 || c->running == NULL)
		return;
	for (i = 0; i < r->op.nkvs; i++)
		cl_mark_seen(c, &r->op.kvs[i]);
}

/* The markers as they are: what a watch that was not there missed. */
static void
cl_mark_scan(struct cluster *c)
{
	struct etcd_op op = { .type = ETCD_OP_RANGE,
	    .key = c->running->prefix, .prefix = true };

	if (c->running->n > 0)
		(void)etcd_do(c->e, &op, cl_mark_scanned, c);
}

/* ---- life ---- */

int
cl_running_new(struct cluster *c)
{
	struct cl_running *rn = calloc(1, sizeof(*rn));
	size_t n = strlen(CL_PREFIX) + strlen(c->ns) + sizeof("/running/");

	if (rn == NULL || (rn->prefix = malloc(n)) == NULL) {
		free(rn);
		return -ENOMEM;
	}
	snprintf(rn->prefix, n, "%s%s/running/", CL_PREFIX, c->ns);
	c->running = rn;
	return 0;
}

int
cl_running_attach(struct cluster *c, struct runner *r)
{
	struct run_finish_hook h = { "cluster-running", cl_mark_finished, c };
	int rc = runner_add_finish_hook(r, &h);

	return rc < 0 ? rc : 0;
}

void
cl_running_tick(struct cluster *c)
{
	struct etcd_watch_opts o = { .key = c->running->prefix,
	    .prefix = true };

	cl_mark_sweep(c);	/* the deletes that failed, again */
	if (c->running->watch != NULL)
		return;
	if (etcd_watch(c->e, &o, cl_mark_watched, c, &c->running->watch) !=
	    0)
		c->running->watch = NULL;
	else
		cl_mark_scan(c);
}

/* Keeps the lease alive while the marked runs finish. */
static void
cl_drain_tick(void *arg)
{
	struct cluster *c = arg;
	struct cl_running *rn = c->running;
	int64_t every = c->ttl_ms / 3 > 0 ? c->ttl_ms / 3 : 1000;

	rn->drain_timer = NULL;
	(void)etcd_lease_keepalive(c->e, rn->drain_lease, cl_ignored, NULL);
	loop_timer_add(c->loop, loop_mono_ms() + every, cl_drain_tick, c,
	    &rn->drain_timer);
}

bool
cl_running_drain(struct cluster *c, int64_t lease)
{
	struct cl_running *rn = c->running;
	struct etcd_op del = { .type = ETCD_OP_DELETE, .key = c->member_key };
	size_t i;

	for (i = rn->n; i-- > 0;)	/* idle: they go with the revoke */
		if (rn->marks[i]->pending == 0 && rn->marks[i]->nruns == 0) {
			cl_mark_free(rn->marks[i]);
			rn->marks[i] = rn->marks[--rn->n];
		}
	if (rn->n == 0)
		return false;
	log_info("cluster: member %s leaves: the others take its jobs over; "
	    "its lease and running markers live until its %zu marked job(s) "
	    "have no run in flight", c->member, rn->n);
	rn->drain_lease = lease;
	(void)etcd_do(c->e, &del, cl_ignored, NULL);
	cl_drain_tick(c);
	return true;
}

void
cl_running_free(struct cluster *c)
{
	struct cl_running *rn = c->running;
	size_t i;

	if (rn == NULL)
		return;
	while (rn->cancels != NULL) {
		if (rn->cancels->timer != NULL)
			loop_timer_del(rn->cancels->timer);
		cl_cancel_unlink(rn, rn->cancels);
	}
	while (rn->unmarks != NULL)
		cl_unmark_free(rn->unmarks);
	if (rn->drain_timer != NULL)
		loop_timer_del(rn->drain_timer);
	etcd_watch_cancel(rn->watch);
	for (i = 0; i < rn->n; i++)
		cl_mark_free(rn->marks[i]);
	free(rn->marks);
	free(rn->prefix);
	free(rn);
	c->running = NULL;
}
