/*
 * notify.c - notifications as an outbox planner and four sinks (e-mail,
 * webhook, Slack, AMQP); see notify.h.
 *
 * The planner runs on the loop thread: from the record (final, STARTED,
 * or a missed tick) and the job's previous status it picks the event, and
 * writes one row per channel that the job's notify (or the config's
 * default) asks for.  It
 * also keeps a reference to the job's definition in a table sorted by
 * name, so that the sinks, on the outbox's thread, find the channels'
 * addresses and URLs of an entry (an entry carries the job's name and its
 * report only).  The table is the one thing both threads touch: a mutex
 * held for a lookup or an insert, never across the network.
 *
 * Each sink first answers DELIVERED, without a message, the entries the
 * job does not ask for on its channel (the recovery's failure entries of
 * LOST runs, a notify changed by a reload), then groups the rest by
 * job.  A job that had a
 * message on the channel less than notify_min_interval ago gets
 * OUTBOX_LATER until the interval ends; otherwise its entries become one
 * message (notify_msg.c) sent by notify_send.c, and all of them get the
 * message's outcome.  The time of the last message per job and channel is
 * the sink's own (one call at a time per sink), kept in memory: after a
 * restart the first message of a job goes at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/notify.h"
#include "distcron/secbox.h"
#include "distcron/url.h"
#include "notify_int.h"

enum channel { CH_EMAIL, CH_WEBHOOK, CH_SLACK, CH_AMQP };

/* When a job last had a message on a channel. */
struct sent {
	char *job;
	int64_t ms;
};

/* One sink's state: the outbox's thread only. */
struct chan {
	struct notify *n;
	enum channel ch;
	struct sent *sent;
	size_t nsent;
};

struct notify {
	const struct config *cfg;
	int64_t (*now_ms)(void);
	pthread_mutex_t lock;		/* jobs, njobs */
	struct job_def **jobs;		/* sorted by name, referenced */
	struct secrets *secrets;	/* of credentials; NULL: none */
	size_t njobs;
	uint64_t set_gen;		/* of the set jobs came from (0: none) */
	struct chan chans[NOTIFY_SINKS];
};

static const char *const chan_names[] = { "email", "webhook", "slack",
    "amqp" };

static int64_t
real_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the jobs' table ---- */

static void
jobs_unref(struct job_def **jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		defs_job_unref(jobs[i]);
	free(jobs);
}

/* The definition of job (a reference: defs_job_unref() it), or NULL. */
static struct job_def *
job_get(struct notify *n, const char *job)
{
	struct job_def *def = NULL;
	ssize_t i;

	pthread_mutex_lock(&n->lock);
	i = defs_find_named((void *const *)n->jobs, n->njobs, job);
	if (i >= 0)
		def = defs_job_ref(n->jobs[i]);
	pthread_mutex_unlock(&n->lock);
	return def;
}

/* Where job goes in the table: its index, or where to insert it. */
static size_t
job_slot(struct notify *n, const char *job, bool *found)
{
	size_t lo = 0, hi = n->njobs, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(n->jobs[mid]->name, job)) == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Keeps def (a new reference) as its job's definition; the old one's
 * reference is returned through *old to be dropped outside the lock. */
static int
job_put(struct notify *n, struct job_def *def, struct job_def **old)
{
	struct job_def **v;
	bool found;
	size_t i = job_slot(n, def->name, &found);

	*old = NULL;
	if (found) {
		if (n->jobs[i] != def) {
			*old = n->jobs[i];
			n->jobs[i] = defs_job_ref(def);
		}
		return 0;
	}
	if ((v = realloc(n->jobs, (n->njobs + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	n->jobs = v;
	memmove(v + i + 1, v + i, (n->njobs - i) * sizeof(*v));
	v[i] = defs_job_ref(def);
	n->njobs++;
	return 0;
}

static void
job_remember(struct notify *n, const struct job_def *def)
{
	struct job_def *old = NULL;

	pthread_mutex_lock(&n->lock);
	/* the reference count is the one mutable part of a definition */
	(void)job_put(n, (struct job_def *)def, &old);
	pthread_mutex_unlock(&n->lock);
	defs_job_unref(old);
}

/* Forgets job (a name) under the lock; its reference is returned
 * through *old to be dropped outside it. */
static void
job_forget(struct notify *n, const char *job, struct job_def **old)
{
	bool found;
	size_t i = job_slot(n, job, &found);

	*old = NULL;
	if (!found)
		return;
	*old = n->jobs[i];
	memmove(n->jobs + i, n->jobs + i + 1, (--n->njobs - i) *
	    sizeof(*n->jobs));
}

/* A delta of the set n has: only the names it looked at change (a bad
 * file's job keeps its definition, as the runner does). */
static int
set_delta(struct notify *n, const struct defs_set *set)
{
	struct job_def *def, *old;
	const char *name;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < set->nchanged_jobs; i++) {
		name = set->changed_jobs[i];
		def = defs_find_job(set, name);
		old = NULL;
		pthread_mutex_lock(&n->lock);
		if (def != NULL)
			rc = job_put(n, def, &old);
		else if (!defs_job_is_bad(set, name))
			job_forget(n, name, &old);
		pthread_mutex_unlock(&n->lock);
		defs_job_unref(old);
	}
	return rc;
}

int
notify_set_jobs(struct notify *n, const struct defs_set *set)
{
	struct job_def **v = NULL, **old;
	size_t i, nold;

	if (set->base != NULL && n->set_gen == set->base_gen) {
		n->set_gen = set_delta(n, set) == 0 ? set->gen : 0;
		return n->set_gen != 0 ? 0 : -ENOMEM;
	}
	if (set->njobs > 0 &&
	    (v = calloc(set->njobs, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < set->njobs; i++)
		v[i] = defs_job_ref(set->jobs[i]);
	pthread_mutex_lock(&n->lock);
	old = n->jobs;
	nold = n->njobs;
	n->jobs = v;
	n->njobs = set->njobs;
	pthread_mutex_unlock(&n->lock);
	jobs_unref(old, nold);
	n->set_gen = set->gen;
	return 0;
}

/* ---- the planner ---- */

/* The job's notify, or the config's default (NULL: none at all). */
static const struct job_notify *
notify_of(const struct notify *n, const struct job_def *def)
{
	return def->notify != NULL ? def->notify : n->cfg->notify;
}

static bool
owners_mail(const struct job_def *def)
{
	size_t i;

	for (i = 0; i < def->nowners; i++)
		if (def->owners[i].email_address != NULL &&
		    def->owners[i].email_address[0] != '\0')
			return true;
	return false;
}

/*
 * The event of rec, as one DEFS_NOTIFY_* bit, or 0: a tick that did not
 * start (rec->missed > 0) is "missed", a run just launched (STARTED)
 * "start", a final run failure, recovery or success.
 */
static unsigned
plan_event(const struct store_run *rec, enum run_status prev, unsigned on)
{
	enum run_status st = rec->status;

	if (rec->missed > 0)
		return DEFS_NOTIFY_MISSED;
	if (st == RUN_STARTED)
		return DEFS_NOTIFY_START;
	if (st == RUN_FAILURE || st == RUN_LOST)
		return DEFS_NOTIFY_FAILURE;
	if (st != RUN_SUCCESS)
		return 0;
	if ((prev == RUN_FAILURE || prev == RUN_LOST) &&
	    (on & DEFS_NOTIFY_RECOVERY) != 0)
		return DEFS_NOTIFY_RECOVERY;
	return DEFS_NOTIFY_SUCCESS;
}

/* Whether channel ch gets event ev of def. */
static bool
plan_wants(const struct notify *n, const struct job_def *def,
    enum channel ch, unsigned ev)
{
	const struct job_notify *nf = notify_of(n, def);
	unsigned on = nf != NULL ? nf->on : DEFS_NOTIFY_DEFAULT;

	if ((on & ev) == 0)
		return false;
	switch (ch) {
	case CH_EMAIL:
		if (n->cfg->smtp.url == NULL)
			return false;
		return (nf != NULL && nf->email != NULL) ||
		    (ev == DEFS_NOTIFY_FAILURE && owners_mail(def));
	case CH_WEBHOOK:
		return nf != NULL && nf->webhook_url != NULL;
	case CH_AMQP:
		return nf != NULL && nf->amqp != NULL;
	default:
		return nf != NULL && nf->slack_url != NULL;
	}
}

size_t
notify_plan(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev,
    struct outbox_row *rows, size_t max)
{
	struct notify *n = arg;
	const struct job_notify *nf = notify_of(n, def);
	unsigned ev = plan_event(rec, prev,
	    nf != NULL ? nf->on : DEFS_NOTIFY_DEFAULT);
	size_t ch, k = 0;

	if (ev == 0)
		return 0;
	for (ch = CH_EMAIL; ch <= CH_AMQP && k < max; ch++) {
		if (!plan_wants(n, def, (enum channel)ch, ev))
			continue;
		rows[k].sink = chan_names[ch];
		rows[k++].event = defs_notify_event_name(ev);
	}
	if (k > 0)
		job_remember(n, def);
	return k;
}

/* ---- sending one message ---- */

static void
outcome_set(struct outbox_outcome *o, enum outbox_result res,
    const char *why)
{
	memset(o, 0, sizeof(*o));
	o->result = res;
	snprintf(o->why, sizeof(o->why), "%s", why);
}

/* Adds s to the NULL-terminated list v (of at most max) unless there. */
static void
rcpt_add(char **v, size_t max, char *s)
{
	size_t i;

	for (i = 0; i < max && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return;
	if (i < max)
		v[i] = s;
}

/* The job's addresses, and its owners' for a failure; NULL-terminated
 * (pointers into def), or NULL when out of memory. */
static char **
mail_rcpt(const struct notify *n, const struct job_def *def,
    const char *event)
{
	const struct job_notify *nf = notify_of(n, def);
	size_t i, max = def->nowners;
	char **v;

	for (i = 0; nf != NULL && nf->email != NULL && nf->email[i]; i++)
		max++;
	if ((v = calloc(max + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; nf != NULL && nf->email != NULL && nf->email[i]; i++)
		rcpt_add(v, max, nf->email[i]);
	for (i = 0; strcmp(event, "failure") == 0 && i < def->nowners; i++)
		if (def->owners[i].email_address != NULL &&
		    def->owners[i].email_address[0] != '\0')
			rcpt_add(v, max, def->owners[i].email_address);
	return v;
}

static enum outbox_result
send_mail(struct chan *c, const struct notify_msg *m,
    const struct job_def *def, char *why, size_t whylen)
{
	struct config_smtp sc, *s = &sc;
	char **rcpt, *pw = NULL;
	struct buf b;
	int r;

	if ((r = notify_creds_smtp(c->n->secrets, &c->n->cfg->smtp, s, &pw,
	    why, whylen)) != 0)
		return r == -ENOMEM ? OUTBOX_RETRY : OUTBOX_PARK;
	if ((rcpt = mail_rcpt(c->n, def, m->event)) == NULL) {
		secbox_value_free(pw);
		snprintf(why, whylen, "out of memory");
		return OUTBOX_RETRY;
	}
	buf_init(&b, 2 * NOTIFY_MSG_MAX);
	if (rcpt[0] == NULL)
		r = 0;		/* the job no longer names anyone */
	else if ((r = notify_msg_mail(m, s->from, rcpt,
	    c->n->now_ms() / 1000, &b)) != 0)
		snprintf(why, whylen, "mail: %s", err_str(r));
	else
		r = notify_send_mail(s, rcpt, buf_str(&b), why, whylen);
	buf_free(&b);
	free(rcpt);
	secbox_value_free(pw);
	if (r == ERR_AUTH)	/* a wrong password stays wrong: parked */
		return OUTBOX_PARK;
	return r == 0 ? OUTBOX_DELIVERED : OUTBOX_RETRY;
}

/* The URL as messages show it: stripped, and for Slack without the path
 * (its token). */
static void
url_shown(const char *url, bool host_only, struct buf *b)
{
	const char *p;

	if (url_strip(url, b) != 0)
		return;
	if (host_only && (p = strstr(buf_str(b), "://")) != NULL &&
	    (p = strchr(p + 3, '/')) != NULL)
		b->len = (size_t)(p - buf_str(b));
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

/* 2xx delivered; 408 and 429 retried; other 4xx parked; the rest
 * retried. */
static enum outbox_result
http_result(long status)
{
	if (status >= 200 && status < 300)
		return OUTBOX_DELIVERED;
	if (status == 408 || status == 429)
		return OUTBOX_RETRY;
	if (status >= 400 && status < 500)
		return OUTBOX_PARK;
	return OUTBOX_RETRY;
}

static enum outbox_result
send_http(struct chan *c, const struct notify_msg *m,
    const struct job_def *def, char *why, size_t whylen)
{
	const struct job_notify *nf = notify_of(c->n, def);
	bool slack = c->ch == CH_SLACK;
	const char *url = nf == NULL ? NULL : slack ? nf->slack_url :
	    nf->webhook_url;
	struct buf body, shown;
	char **made = NULL;
	long status = 0;
	int r;

	if (url == NULL)	/* the job no longer has the channel */
		return OUTBOX_DELIVERED;
	if (!slack && (r = notify_creds_headers(c->n->secrets, nf, &made, why,
	    whylen)) != 0)
		return r == -ENOMEM ? OUTBOX_RETRY : OUTBOX_PARK;
	buf_init(&body, 4 * NOTIFY_MSG_MAX);
	buf_init(&shown, strlen(url));
	url_shown(url, slack, &shown);
	r = slack ? notify_msg_slack(m, &body) : notify_msg_webhook(m, &body);
	if (r != 0)
		snprintf(why, whylen, "%s: %s", chan_names[c->ch], err_str(r));
	else if ((r = notify_send_http(url, slack ? NULL : made != NULL ?
	    made : nf->webhook_headers, buf_str(&body), chan_names[c->ch],
	    buf_str(&shown), &status, why, whylen)) == 0 &&
	    http_result(status) != OUTBOX_DELIVERED)
		snprintf(why, whylen, "%s at %s: HTTP %ld", chan_names[c->ch],
		    buf_str(&shown), status);
	buf_free(&body);
	buf_free(&shown);
	notify_creds_free(made);
	return r != 0 ? OUTBOX_RETRY : http_result(status);
}

static enum outbox_result
send_amqp(struct chan *c, const struct notify_msg *m,
    const struct job_def *def, char *why, size_t whylen)
{
	const struct job_notify *nf = notify_of(c->n, def);

	if (nf == NULL || nf->amqp == NULL)	/* no longer has it */
		return OUTBOX_DELIVERED;
	return notify_send_amqp(c->n->cfg, c->n->secrets, nf->amqp, m, why,
	    whylen);
}

/* ---- coalescing ---- */

static struct sent *
sent_find(struct chan *c, const char *job)
{
	size_t i;

	for (i = 0; i < c->nsent; i++)
		if (strcmp(c->sent[i].job, job) == 0)
			return &c->sent[i];
	return NULL;
}

static void
sent_note(struct chan *c, const char *job, int64_t ms)
{
	struct sent *s = sent_find(c, job), *v;

	if (s != NULL) {
		s->ms = ms;
		return;
	}
	if ((v = realloc(c->sent, (c->nsent + 1) * sizeof(*v))) == NULL)
		return;		/* the next message just goes sooner */
	c->sent = v;
	if ((v[c->nsent].job = strdup(job)) == NULL)
		return;
	v[c->nsent++].ms = ms;
}

/* One message for the entries g[0..ng-1] of one job; the outcome in *o. */
static void
deliver_job(struct chan *c, const struct outbox_entry *g, size_t ng,
    struct outbox_outcome *o)
{
	char why[OUTBOX_WHY_LEN] = "";
	struct job_def *def = job_get(c->n, g[0].job);
	struct notify_msg m;
	enum outbox_result res;

	if (def == NULL) {
		snprintf(why, sizeof(why), "job %s is no longer defined",
		    g[0].job);
		outcome_set(o, OUTBOX_PARK, why);
		return;
	}
	if (notify_msg_read(g, ng, &m) != 0) {
		snprintf(why, sizeof(why), "entry %lld: not a run report",
		    (long long)g[0].id);
		res = OUTBOX_PARK;
	} else if (c->ch == CH_EMAIL)
		res = send_mail(c, &m, def, why, sizeof(why));
	else if (c->ch == CH_AMQP)
		res = send_amqp(c, &m, def, why, sizeof(why));
	else
		res = send_http(c, &m, def, why, sizeof(why));
	notify_msg_free(&m);
	defs_job_unref(def);
	outcome_set(o, res, res == OUTBOX_DELIVERED ? "" : why);
	if (res == OUTBOX_DELIVERED)
		sent_note(c, g[0].job, c->n->now_ms());
}

/* The entries of e[from..n-1] of e[from]'s job, not done yet, copied
 * into g with their indices in idx.  Returns how many. */
static size_t
group_of(const struct outbox_entry *e, size_t n, size_t from,
    const bool *done, struct outbox_entry *g, size_t *idx)
{
	size_t i, k = 0;

	for (i = from; i < n; i++) {
		if (done[i] || strcmp(e[i].job, e[from].job) != 0)
			continue;
		g[k] = e[i];
		idx[k++] = i;
	}
	return k;
}

/* The DEFS_NOTIFY_* bit of an event's name, or 0. */
static unsigned
event_bit(const char *event)
{
	unsigned ev;

	for (ev = 1; defs_notify_event_name(ev) != NULL; ev <<= 1)
		if (strcmp(defs_notify_event_name(ev), event) == 0)
			return ev;
	return 0;
}

/*
 * Entries the job does not (or no longer) ask for on channel c are
 * delivered without a message: those a restart gives every run it finds
 * LOST (the store cannot read the jobs' settings, store_recover_failures),
 * and those of a job whose notify changed since.  They are answered in
 * out[] and marked done; an unknown job is left to deliver_job.
 */
static void
drop_unwanted(struct chan *c, const struct outbox_entry *e, size_t n,
    bool *done, struct outbox_outcome *out)
{
	struct job_def *def = NULL;
	const char *job = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (job == NULL || strcmp(job, e[i].job) != 0) {
			defs_job_unref(def);
			def = job_get(c->n, job = e[i].job);
		}
		if (def == NULL || plan_wants(c->n, def, c->ch,
		    event_bit(e[i].event)))
			continue;
		outcome_set(&out[i], OUTBOX_DELIVERED, "");
		done[i] = true;
	}
	defs_job_unref(def);
}

/* Outcome of one job's entries: LATER inside the interval, else sent. */
static void
deliver_group(struct chan *c, const struct outbox_entry *g, size_t ng,
    const size_t *idx, struct outbox_outcome *out)
{
	struct sent *s = sent_find(c, g[0].job);
	int64_t due = s != NULL ? s->ms + c->n->cfg->notify_min_interval_ms :
	    0;
	struct outbox_outcome o;
	size_t i;

	if (s != NULL && c->n->now_ms() < due) {
		outcome_set(&o, OUTBOX_LATER, "");
		o.not_before_ms = due;
	} else
		deliver_job(c, g, ng, &o);
	for (i = 0; i < ng; i++)
		out[idx[i]] = o;
}

static int
chan_deliver(void *arg, const struct outbox_entry *e, size_t n,
    struct outbox_outcome *out)
{
	struct chan *c = arg;
	struct outbox_entry *g = calloc(n, sizeof(*g));
	size_t *idx = calloc(n, sizeof(*idx)), i, k, ng;
	bool *done = calloc(n, sizeof(*done));

	if (n > 0 && (g == NULL || idx == NULL || done == NULL)) {
		free(g);
		free(idx);
		free(done);
		outcome_set(&out[0], OUTBOX_RETRY, "out of memory");
		return -ENOMEM;
	}
	drop_unwanted(c, e, n, done, out);
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		ng = group_of(e, n, i, done, g, idx);
		for (k = 0; k < ng; k++)
			done[idx[k]] = true;
		deliver_group(c, g, ng, idx, out);
	}
	free(g);
	free(idx);
	free(done);
	return 0;
}

/* The notify's sinks own nothing: notify_free() frees their state. */
static void
chan_free(void *arg)
{
	(void)arg;
}

static const struct outbox_sink_ops sink_ops[NOTIFY_SINKS] = {
	{ .name = "email", .deliver = chan_deliver, .free = chan_free },
	{ .name = "webhook", .deliver = chan_deliver, .free = chan_free },
	{ .name = "slack", .deliver = chan_deliver, .free = chan_free },
	{ .name = "amqp", .deliver = chan_deliver, .free = chan_free },
};

/* ---- life ---- */

int
notify_new(const struct config *cfg, struct notify **out)
{
	struct notify *n;
	size_t i;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->cfg = cfg;
	n->now_ms = real_now_ms;
	pthread_mutex_init(&n->lock, NULL);
	for (i = 0; i < NOTIFY_SINKS; i++) {
		n->chans[i].n = n;
		n->chans[i].ch = (enum channel)i;
	}
	*out = n;
	return 0;
}

void
notify_free(struct notify *n)
{
	size_t i, k;

	if (n == NULL)
		return;
	for (i = 0; i < NOTIFY_SINKS; i++) {
		for (k = 0; k < n->chans[i].nsent; k++)
			free(n->chans[i].sent[k].job);
		free(n->chans[i].sent);
	}
	jobs_unref(n->jobs, n->njobs);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

size_t
notify_sink_names(const struct config *cfg, const char **out, size_t max)
{
	size_t i, k = 0;

	for (i = 0; i < NOTIFY_SINKS && k < max; i++)
		if (i != CH_EMAIL || cfg->smtp.url != NULL)
			out[k++] = chan_names[i];
	return k;
}

size_t
notify_sinks(struct notify *n, struct notify_sink *out, size_t max)
{
	size_t i, k = 0;

	for (i = 0; i < NOTIFY_SINKS && k < max; i++) {
		if (i == CH_EMAIL && n->cfg->smtp.url == NULL)
			continue;
		out[k].ops = &sink_ops[i];
		out[k++].arg = &n->chans[i];
	}
	return k;
}

void
notify_set_secrets(struct notify *n, struct secrets *s)
{
	n->secrets = s;
}

void
notify_set_clock(struct notify *n, int64_t (*now_ms)(void))
{
	n->now_ms = now_ms != NULL ? now_ms : real_now_ms;
}
