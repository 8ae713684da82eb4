/*
 * control.c - the API backend inside the daemon (see control.h).
 *
 * A request (struct req) carries copies of the caller's arguments and room
 * for the answer.  It is posted to the loop, where req_run() does the work
 * with the runner and answers at once, or later for runs (when the store
 * has given the run its id) and reloads (when the new definitions are
 * applied).  Two references keep it alive: the caller's and the loop's; the
 * last one to let go frees it, so a caller that gave up waiting leaves
 * nothing dangling.  JSON is built with json-c on the loop (small, bounded
 * work); files are read and written on the caller's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/control.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/fileio.h"
#include "distcron/jfield.h"
#include "distcron/jsontext.h"
#include "distcron/log.h"
#include "distcron/policy.h"
#include "distcron/runjson.h"
#include "distcron/sched.h"

#define SOURCE_MAX	4096
#define JOB_FILE_MODE	0640	/* the owner writes, its group may read */
#define ERR_MAX		512
#define METRICS_MAX	(4 * 1024 * 1024)
#define JOBS_PAGE_BYTES	(256 * 1024 * 1024)	/* a page of GET /jobs */
#define JOBS_CACHE_MS	500	/* a flood of one GET /jobs costs the loop
				 * two renderings of its page a second */
#define JOBS_CACHE_N	8	/* pages kept */

enum op { OP_JOBS, OP_JOB, OP_NODES, OP_NODE, OP_PAUSE, OP_RUN, OP_TASK,
	OP_CANCEL, OP_STATS, OP_METRICS, OP_RELOAD, OP_CLUSTER_JOB,
	OP_LIVE };

struct control {
	const struct config *cfg;
	const struct tz *zone;
	struct loop *loop;
	struct runner *runner;
	struct store *st;
	control_reload_fn reload;
	void *reload_ctx;
	int64_t started_ms;
	pthread_mutex_t mu;
	int closed;
	unsigned ntasks;	/* names ad-hoc tasks */
	const struct control_outbox_ops *outbox;	/* or NULL */
	void *outbox_arg;
	const struct control_cluster_ops *cluster;	/* or NULL */
	void *cluster_arg;
	struct jobs_page {	/* GET /jobs pages rendered lately (mu) */
		char after[DEFS_NAME_MAX + 1];
		int limit;
		int64_t ms;	/* CLOCK_MONOTONIC when rendered */
		char *json;	/* NULL: an empty place */
	} pages[JOBS_CACHE_N];
	unsigned next_page;	/* the place the next page takes */
};

struct req {
	struct control *c;
	enum op op;
	char name[DEFS_NAME_MAX + 1];
	int64_t id;
	bool flag;
	struct job_def *task;
	/* the answer */
	int rc;
	char *text;
	int limit;		/* GET /jobs: a page's size, after name */
	int64_t out_id;
	char source[SOURCE_MAX];
	char *body;		/* OP_CLUSTER_JOB: the job (NULL: delete) */
	size_t len;
	char err[ERR_MAX];	/* ... what etcd said */
	struct runner_stats stats;
	size_t njobs, nnodes;
	struct runner_live *live;	/* OP_LIVE: items executing now */
	size_t nlive;
	struct store_run *state;	/* OP_LIVE: the runner's record */
	/* hand-over */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int refs;
};

/* ---- requests ---- */

static struct req *
req_new(struct control *c, enum op op, const char *name)
{
	struct req *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->c = c;
	q->op = op;
	q->refs = 2;
	if (name != NULL)
		snprintf(q->name, sizeof(q->name), "%s", name);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	return q;
}

static void
req_free(struct req *q)
{
	defs_job_unref(q->task);
	runner_live_free(q->live, q->nlive);
	store_run_free(q->state);
	free(q->text);
	free(q->body);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

/* Drops one reference; the last one frees. */
static void
req_put(struct req *q)
{
	int last;

	pthread_mutex_lock(&q->mu);
	last = --q->refs == 0;
	pthread_mutex_unlock(&q->mu);
	if (last)
		req_free(q);
}

/* The loop's answer: wakes the caller and drops the loop's reference. */
static void
req_done(struct req *q, int rc)
{
	pthread_mutex_lock(&q->mu);
	q->rc = rc;
	q->done = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	req_put(q);
}

static void req_run(void *arg);

/* Posts q and waits for the answer.  Returns the answer's code, or
 * ERR_BUSY (stopping, or no answer in time).  q stays the caller's to
 * read and to req_put(). */
static int
req_call(struct req *q)
{
	struct control *c = q->c;
	struct timespec until;
	int closed, rc = 0;

	pthread_mutex_lock(&c->mu);
	closed = c->closed;
	pthread_mutex_unlock(&c->mu);
	if (closed || loop_post(c->loop, req_run, q) != 0) {
		q->refs--;	/* the loop never got it */
		return ERR_BUSY;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CONTROL_WAIT_MS / 1000;
	pthread_mutex_lock(&q->mu);
	while (!q->done && rc == 0)
		rc = pthread_cond_timedwait(&q->cv, &q->mu, &until);
	rc = q->done ? q->rc : ERR_BUSY;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* ---- JSON on the loop ---- */

static json_object *
job_last_run(const struct runner_job_info *ji, const struct tz *zone)
{
	json_object *o;

	if (ji->last_id <= 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(ji->last_id));
	json_object_object_add(o, "status",
	    json_object_new_string(store_status_str(ji->last_status)));
	json_object_object_add(o, "ended",
	    runjson_time_ms(zone, ji->last_ended_ms));
	return o;
}

static json_object *
job_summary(const struct runner_job_info *ji, const struct tz *zone)
{
	const struct job_def *d = ji->def;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "description", d->description ?
	    json_object_new_string(d->description) : NULL);
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(d->enabled));
	json_object_object_add(o, "paused",
	    json_object_new_boolean(ji->paused));
	json_object_object_add(o, "schedule",
	    json_object_new_string(sched_text(d->sched)));
	json_object_object_add(o, "timezone",
	    json_object_new_string(tz_name(d->zone)));
	json_object_object_add(o, "next_run", runjson_time_ms(d->zone,
	    ji->next_run * 1000));
	json_object_object_add(o, "running",
	    json_object_new_int(ji->running));
	json_object_object_add(o, "run_count",
	    json_object_new_int64(ji->run_count));
	json_object_object_add(o, "last_run", job_last_run(ji, zone));
	json_object_object_add(o, "source", d->source != NULL ?
	    json_object_new_string(d->source) : NULL);
	return o;
}

/* Serialises o into q->text and frees o; returns 0 or -ENOMEM. */
static int
req_json(struct req *q, json_object *o)
{
	q->text = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return q->text ? 0 : -ENOMEM;
}

/* GET /jobs: {"jobs": [...], "next_after": NAME|null}, up to q->limit
 * summaries of the jobs named after q->name (all when empty), in name
 * order.  Only the page is rendered: a million jobs cost a binary search,
 * never a copy of the listing. */
static int
op_jobs(struct req *q)
{
	struct runner *r = q->c->runner;
	struct runner_job_info ji;
	size_t n = runner_job_count(r), i, first, end;
	json_object *o, *next = NULL;
	struct buf b;
	int rc;

	first = runner_job_after(r, q->name[0] != '\0' ? q->name : NULL);
	end = first + (size_t)q->limit < n ? first + (size_t)q->limit : n;
	buf_init(&b, JOBS_PAGE_BYTES);
	rc = buf_puts(&b, "{\"jobs\":[");
	for (i = first; rc == 0 && i < end; i++) {
		runner_job_at(r, i, &ji);
		o = job_summary(&ji, q->c->zone);
		rc = buf_printf(&b, "%s%s", i > first ? "," : "",
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		if (i == end - 1 && end < n)
			next = json_object_new_string(ji.def->name);
		json_object_put(o);
	}
	if (rc == 0)
		rc = buf_printf(&b, "],\"next_after\":%s}",
		    json_object_to_json_string(next));
	json_object_put(next);
	if (rc == 0 && (q->text = buf_steal(&b, NULL)) == NULL)
		rc = -ENOMEM;
	buf_free(&b);
	return rc;
}

static int
op_job(struct req *q)
{
	struct runner_job_info ji;
	int rc;

	if ((rc = runner_job_find(q->c->runner, q->name, &ji)) != 0)
		return rc;
	if (ji.def->source != NULL)
		snprintf(q->source, sizeof(q->source), "%s", ji.def->source);
	return req_json(q, job_summary(&ji, q->c->zone));
}

static json_object *
node_json(const struct policy_node *n, const struct tz *zone)
{
	const struct node_def *d = n->def;
	json_object *o = json_object_new_object(), *roles;
	size_t i;

	json_object_object_add(o, "name", json_object_new_string(d->name));
	roles = json_object_new_array();
	for (i = 0; d->roles && d->roles[i]; i++)
		json_object_array_add(roles, json_object_new_string(d->roles[i]));
	json_object_object_add(o, "roles", roles);
	json_object_object_add(o, "connection_type", json_object_new_string(
	    d->conn == NODE_SSH ? "ssh" : "local"));
	if (d->conn == NODE_SSH)
		json_object_object_add(o, "ssh_host",
		    json_object_new_string(d->ssh_host));
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(d->enabled));
	json_object_object_add(o, "status", json_object_new_string(
	    !d->enabled ? "disabled" : n->down ? "down" : "up"));
	json_object_object_add(o, "since", runjson_time_ms(zone, n->since_ms));
	json_object_object_add(o, "last_error", n->last_error[0] ?
	    json_object_new_string(n->last_error) : NULL);
	json_object_object_add(o, "running", json_object_new_int(n->running));
	return o;
}

static int
op_nodes(struct req *q)
{
	struct policy *p = runner_policy(q->c->runner);
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i, n = policy_count(p);

	for (i = 0; i < n; i++)
		json_object_array_add(a, node_json(policy_at(p, i), q->c->zone));
	json_object_object_add(o, "nodes", a);
	return req_json(q, o);
}

static int
op_node(struct req *q)
{
	struct policy_node *n = policy_node(runner_policy(q->c->runner),
	    q->name);

	if (n == NULL)
		return ERR_NOTFOUND;
	return req_json(q, node_json(n, q->c->zone));
}

/* ---- runs, reloads, counters on the loop ---- */

static void
run_created(void *arg, int64_t id, int rc)
{
	struct req *q = arg;

	q->out_id = id;
	req_done(q, rc);
}

static void
reload_applied(void *arg)
{
	req_done(arg, 0);
}

static int
op_stats(struct req *q)
{
	runner_stats(q->c->runner, &q->stats);
	q->njobs = runner_job_count(q->c->runner);
	q->nnodes = policy_count(runner_policy(q->c->runner));
	return 0;
}

static int op_metrics(struct req *q);

/* etcd answered a cluster job's write (and it is applied here). */
static void
cluster_job_done(void *arg, int rc, bool created, const char *err)
{
	struct req *q = arg;

	q->flag = created;
	snprintf(q->err, sizeof(q->err), "%s", err);
	req_done(q, rc);
}

/* Runs on the loop.  Answers now, or later for runs and reloads. */
static void
req_run(void *arg)
{
	struct req *q = arg;
	struct control *c = q->c;
	int rc;

	switch (q->op) {
	case OP_JOBS:		rc = op_jobs(q); break;
	case OP_JOB:		rc = op_job(q); break;
	case OP_NODES:		rc = op_nodes(q); break;
	case OP_NODE:		rc = op_node(q); break;
	case OP_STATS:		rc = op_stats(q); break;
	case OP_METRICS:	rc = op_metrics(q); break;
	case OP_PAUSE:
		rc = runner_pause(c->runner, q->name, q->flag);
		break;
	case OP_CANCEL:
		rc = runner_cancel(c->runner, q->id, "cancelled through the API");
		break;
	case OP_LIVE:
		if ((rc = runner_live(c->runner, q->id, &q->live,
		    &q->nlive)) == 0)
			rc = runner_live_state(c->runner, q->id, &q->state);
		break;
	case OP_RUN:
		if ((rc = runner_trigger(c->runner, q->name, run_created,
		    q)) == 0)
			return;		/* answered by run_created */
		break;
	case OP_TASK:
		if ((rc = runner_task(c->runner, q->task, run_created, q)) == 0)
			return;
		break;
	case OP_RELOAD:
		c->reload(c->reload_ctx, q->name[0] ? q->name : NULL,
		    reload_applied, q);
		return;
	case OP_CLUSTER_JOB:
		if ((rc = c->cluster->job_write(c->cluster_arg, q->name,
		    q->body, q->len, cluster_job_done, q)) == 0)
			return;		/* answered by cluster_job_done */
		break;
	default:
		rc = ERR_INTERNAL;
	}
	req_done(q, rc);
}

/* Runs a request that answers in text; hands the text over. */
static int
call_text(struct control *c, enum op op, const char *name, char **out)
{
	struct req *q = req_new(c, op, name);
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = req_call(q)) == 0) {
		*out = q->text;
		q->text = NULL;
	}
	req_put(q);
	return rc;
}

/* ---- the backend ---- */

/* A copy of the page (after, limit) if one was rendered less than
 * JOBS_CACHE_MS ago: 0, 1 when there is none, or -ENOMEM. */
static int
jobs_cached(struct control *c, const char *after, int limit, char **json)
{
	struct jobs_page *p;
	int rc = 1;
	size_t i;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < JOBS_CACHE_N && rc == 1; i++) {
		p = &c->pages[i];
		if (p->json != NULL && p->limit == limit &&
		    strcmp(p->after, after != NULL ? after : "") == 0 &&
		    loop_mono_ms() - p->ms < JOBS_CACHE_MS)
			rc = (*json = strdup(p->json)) != NULL ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Keeps a copy of a page just rendered (none without memory). */
static void
jobs_keep(struct control *c, const char *after, int limit, const char *json)
{
	char *copy = strdup(json);
	struct jobs_page *p;

	if (copy == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	p = &c->pages[c->next_page++ % JOBS_CACHE_N];
	free(p->json);
	snprintf(p->after, sizeof(p->after), "%s", after != NULL ? after : "");
	p->limit = limit;
	p->ms = loop_mono_ms();
	p->json = copy;
	pthread_mutex_unlock(&c->mu);
}

/* Forgets the pages kept: a change made through the API shows at once. */
static void
jobs_forget(struct control *c)
{
	size_t i;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < JOBS_CACHE_N; i++) {
		free(c->pages[i].json);
		c->pages[i].json = NULL;
	}
	pthread_mutex_unlock(&c->mu);
}

/*
 * GET /jobs: each page is rendered on the loop (op_jobs) from the runner
 * as it is, and only that page; the last JOBS_CACHE_N pages are kept for
 * JOBS_CACHE_MS, so a flood of one request costs the loop little (and
 * may lag the runs by that much).
 */
static int
be_jobs(void *ctx, const char *after, int limit, char **json)
{
	struct control *c = ctx;
	struct req *q;
	int rc;

	if ((rc = jobs_cached(c, after, limit, json)) <= 0)
		return rc;
	if ((q = req_new(c, OP_JOBS, after)) == NULL)
		return -ENOMEM;
	q->limit = limit;
	if ((rc = req_call(q)) == 0) {
		jobs_keep(c, after, limit, q->text);
		*json = q->text;
		q->text = NULL;
	}
	req_put(q);
	return rc;
}

static int
be_nodes(void *ctx, char **json)
{
	return call_text(ctx, OP_NODES, NULL, json);
}

static int
be_node(void *ctx, const char *name, char **json)
{
	return call_text(ctx, OP_NODE, name, json);
}

/* A job's definition as JSON: its file (a few MiB at most), or in
 * cluster mode the text stored in etcd (source "etcd:KEY"); NULL if
 * unreadable. */
static json_object *
read_definition(struct control *c, const char *name, const char *source)
{
	json_object *o;
	char *text;

	if (c->cluster == NULL || strncmp(source, "etcd:", 5) != 0)
		return source[0] != '\0' ? json_object_from_file(source) : NULL;
	text = c->cluster->job_text(c->cluster_arg, name);
	o = text != NULL ? json_tokener_parse(text) : NULL;
	free(text);
	return o;
}

static int
be_job(void *ctx, const char *name, char **json)
{
	struct req *q = req_new(ctx, OP_JOB, name);
	json_object *o = NULL, *state;
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = req_call(q)) == 0 &&
	    (state = json_tokener_parse(q->text)) != NULL) {
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "definition",
		    read_definition(ctx, name, q->source));
		json_object_object_add(o, "source", q->source[0] ?
		    json_object_new_string(q->source) : NULL);
		json_object_object_add(o, "state", state);
		*json = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		rc = *json ? 0 : -ENOMEM;
	} else if (rc == 0)
		rc = -ENOMEM;
	req_put(q);
	return rc;
}

/* Reloads job's file (the only one that changed) and waits for it. */
static int
reload_and_wait(struct control *c, const char *job)
{
	struct req *q = req_new(c, OP_RELOAD, job);
	int rc;

	if (q == NULL)
		return -ENOMEM;
	rc = req_call(q);
	req_put(q);
	jobs_forget(c);
	return rc;
}

/* Writes text to DIR/NAME.json, private (JOB_FILE_MODE, as the job may
 * hold secrets) and whole: the loader never reads half a file. */
static int
write_job_file(const struct control *c, const char *name, const char *text,
    size_t len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.json", c->cfg->jobs_dir, name);
	return fileio_write_new(path, text, len, JOB_FILE_MODE, true);
}

/* Cluster mode: a job file of that name wins (the cluster's jobs cannot
 * replace or remove it): ERR_EXISTS naming it. */
static int
cluster_file_wins(const struct control *c, const char *name, char *err,
    size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.json", c->cfg->jobs_dir, name);
	if (access(path, F_OK) != 0)
		return 0;
	snprintf(err, errlen, "job %s is defined by the file %s on this "
	    "member; job files win over the jobs stored in etcd (change the "
	    "file on every member)", name, path);
	return ERR_EXISTS;
}

/* Cluster mode: stores (body NULL: deletes) the job in etcd through the
 * loop; answers once etcd did and the job is applied here. */
static int
cluster_job_call(struct control *c, const char *name, const char *body,
    size_t len, bool *created, char *err, size_t errlen)
{
	struct req *q;
	int rc;

	if ((rc = cluster_file_wins(c, name, err, errlen)) != 0)
		return rc;
	if ((q = req_new(c, OP_CLUSTER_JOB, name)) == NULL ||
	    (body != NULL && (q->body = malloc(len + 1)) == NULL)) {
		if (q != NULL)
			req_free(q);
		return -ENOMEM;
	}
	if (body != NULL)
		memcpy(q->body, body, len);
	q->len = len;
	rc = req_call(q);
	pthread_mutex_lock(&q->mu);	/* the loop's answer, if it came */
	*created = q->done && q->flag;
	if (q->done && rc != 0)
		snprintf(err, errlen, "%s", q->err);
	pthread_mutex_unlock(&q->mu);
	if (rc == 0)
		log_info("API: job %s %s in etcd", name, body == NULL ?
		    "deleted" : *created ? "created" : "replaced");
	req_put(q);
	jobs_forget(c);
	return rc;
}

static int
be_put_job(void *ctx, const char *name, const char *body, size_t len,
    bool *created, char *err, size_t errlen)
{
	struct control *c = ctx;
	struct job_def *job = NULL;
	char path[4096];
	int rc;

	if (!defs_name_valid(name)) {
		snprintf(err, errlen, "name: invalid job name");
		return ERR_INVALID;
	}
	/* A job whose runs could not be recorded is not taken either. */
	if ((rc = runner_store_error(c->runner)) != 0)
		return rc;
	if ((rc = defs_job_parse(name, body, len, c->zone, &job, err, errlen,
	    NULL, NULL)) != 0)
		return rc == ERR_PARSE ? ERR_INVALID : rc;
	defs_job_unref(job);
	if (c->cluster != NULL)
		return cluster_job_call(c, name, body, len, created, err,
		    errlen);
	snprintf(path, sizeof(path), "%s/%s.json", c->cfg->jobs_dir, name);
	*created = access(path, F_OK) != 0;
	if ((rc = write_job_file(c, name, body, len)) != 0) {
		log_error("API: cannot write %s: %s", path, err_str(rc));
		return rc;
	}
	log_info("API: job %s %s", name, *created ? "created" : "replaced");
	return reload_and_wait(c, name);
}

static int
be_delete_job(void *ctx, const char *name, char *err, size_t errlen)
{
	struct control *c = ctx;
	char path[4096];
	bool created;

	if (!defs_name_valid(name))
		return ERR_NOTFOUND;
	if (c->cluster != NULL)
		return cluster_job_call(c, name, NULL, 0, &created, err,
		    errlen);
	snprintf(path, sizeof(path), "%s/%s.json", c->cfg->jobs_dir, name);
	if (unlink(path) != 0)
		return errno == ENOENT ? ERR_NOTFOUND : -errno;
	log_info("API: job %s deleted", name);
	return reload_and_wait(c, name);
}

static int
be_pause(void *ctx, const char *name, bool paused)
{
	struct control *c = ctx;
	struct req *q = req_new(c, OP_PAUSE, name);
	int rc;

	if (q == NULL)
		return -ENOMEM;
	q->flag = paused;
	if ((rc = req_call(q)) == 0)
		rc = store_job_pause_set(c->st, name, paused);
	req_put(q);
	jobs_forget(c);
	return rc;
}

static int
be_run_job(void *ctx, const char *name, int64_t *id)
{
	struct req *q = req_new(ctx, OP_RUN, name);
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = req_call(q)) == 0)
		*id = q->out_id;
	req_put(q);
	return rc;
}

/* A task body is a job without a schedule: give it one that never
 * matters (the task is run once, never scheduled). */
static int
task_parse(struct control *c, const char *body, size_t len,
    struct job_def **out, char *err, size_t errlen)
{
	json_object *root = json_tokener_parse(body), *sched;
	const char *text;
	char name[64];
	unsigned n;
	int rc;

	(void)len;
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		snprintf(err, errlen, "body: expected a JSON object");
		return ERR_INVALID;
	}
	if (!json_object_object_get_ex(root, "schedule", &sched))
		json_object_object_add(root, "schedule",
		    json_object_new_string("@yearly"));
	pthread_mutex_lock(&c->mu);
	n = ++c->ntasks;
	pthread_mutex_unlock(&c->mu);
	snprintf(name, sizeof(name), "task-%u", n);
	text = json_object_to_json_string(root);
	rc = defs_job_parse(name, text, strlen(text), c->zone, out, err,
	    errlen, NULL, NULL);
	json_object_put(root);
	return rc == ERR_PARSE ? ERR_INVALID : rc;
}

static int
be_run_task(void *ctx, const char *body, size_t len, int64_t *id, char *err,
    size_t errlen)
{
	struct control *c = ctx;
	struct req *q;
	struct job_def *job = NULL;
	int rc;

	if ((rc = task_parse(c, body, len, &job, err, errlen)) != 0)
		return rc;
	if ((q = req_new(c, OP_TASK, job->name)) == NULL) {
		defs_job_unref(job);
		return -ENOMEM;
	}
	q->task = job;
	if ((rc = req_call(q)) == 0)
		*id = q->out_id;
	req_put(q);
	return rc;
}

/* {"run": {...}, "items": [...]}: the runner's record of the run (while
 * not final) and its live items, rendered here on the caller's thread
 * (the loop only copied them). */
static json_object *
live_json(const struct req *q)
{
	const struct runner_live *v = q->live;
	json_object *o = json_object_new_object(), *a, *it;
	size_t i, n = q->nlive;

	if (o == NULL || (a = json_object_new_array()) == NULL ||
	    json_object_object_add(o, "items", a) != 0) {
		json_object_put(o);
		return NULL;
	}
	if (q->state != NULL)
		json_object_object_add(o, "run",
		    runjson_run(q->state, q->c->zone, true));
	for (i = 0; i < n; i++) {
		if ((it = json_object_new_object()) == NULL ||
		    json_object_array_add(a, it) != 0) {
			json_object_put(it);
			json_object_put(o);
			return NULL;
		}
		json_object_object_add(it, "node",
		    json_object_new_string(v[i].node));
		json_object_object_add(it, "attempt",
		    json_object_new_int(v[i].attempt));
		json_object_object_add(it, "output",
		    json_object_new_string(v[i].out));
		json_object_object_add(it, "stderr",
		    json_object_new_string(v[i].err));
		json_object_object_add(it, "truncated",
		    json_object_new_boolean(v[i].truncated));
	}
	return o;
}

/* The runner's record of run id and the output so far of its items
 * executing now. */
static int
be_run_live(void *ctx, int64_t id, char **json)
{
	struct req *q = req_new(ctx, OP_LIVE, NULL);
	json_object *o;
	int rc;

	if (q == NULL)
		return -ENOMEM;
	q->id = id;
	if ((rc = req_call(q)) == 0)
		rc = (o = live_json(q)) != NULL ?
		    req_json(q, o) : -ENOMEM;
	if (rc == 0) {
		*json = q->text;
		q->text = NULL;
	}
	req_put(q);
	return rc;
}

static int
be_cancel(void *ctx, int64_t id)
{
	struct control *c = ctx;
	struct store_run *run = NULL;
	struct req *q = req_new(c, OP_CANCEL, NULL);
	int rc;

	if (q == NULL)
		return -ENOMEM;
	q->id = id;
	rc = req_call(q);
	req_put(q);
	if (rc != ERR_NOTFOUND)
		return rc;
	/* not in flight: a recorded run has ended already (409) */
	if (store_run_get(c->st, id, &run) == 0) {
		rc = ERR_EXISTS;
		store_run_free(run);
	}
	return rc;
}

/* ---- monitor and metrics ---- */

/* A "Name: value kB" or "Name: value" line of /proc/self/status. */
static int64_t
proc_status(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	int64_t v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	if (f != NULL)
		fclose(f);
	return v;
}

/* The runner's figures of GET /monitor, from an answered OP_STATS. */
static void
monitor_counts(json_object *o, const struct req *q)
{
	const struct { const char *key; uint64_t v; } f[] = {
		{ "jobs", q->njobs }, { "nodes", q->nnodes },
		{ "runs_in_flight", q->stats.in_flight },
		{ "runs_running", q->stats.running },
		{ "runs_waiting", q->stats.waiting },
		{ "runs_started", q->stats.started },
		{ "output_memory_bytes", q->stats.output_held },
		{ "output_spilled", q->stats.output_spills },
		{ "output_cut", q->stats.output_cuts },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		json_object_object_add(o, f[i].key,
		    json_object_new_int64((int64_t)f[i].v));
}

static void
monitor_store(json_object *o, const struct runner_stats *st)
{
	char msg[160];

	json_object_object_add(o, "store_queue", json_object_new_int64(
	    (int64_t)st->store_queue));
	json_object_object_add(o, "store_queue_max", json_object_new_int64(
	    (int64_t)st->store_queue_max));
	json_object_object_add(o, "store_ok",
	    json_object_new_boolean(st->store_err == 0));
	if (st->store_err != 0) {
		snprintf(msg, sizeof(msg), "store: %s", err_str(st->store_err));
		json_object_object_add(o, "store_error",
		    json_object_new_string(msg));
	}
	json_object_object_add(o, "store_write_failures",
	    json_object_new_int64((int64_t)st->store_failed));
	json_object_object_add(o, "store_rejected",
	    json_object_new_int64((int64_t)st->store_rejected));
}

static int
be_monitor(void *ctx, char **json)
{
	struct control *c = ctx;
	struct req *q = req_new(c, OP_STATS, NULL);
	struct rusage ru;
	json_object *o;
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = req_call(q)) != 0) {
		req_put(q);
		return rc;
	}
	getrusage(RUSAGE_SELF, &ru);
	o = json_object_new_object();
	json_object_object_add(o, "uptime_s", json_object_new_int64(
	    (loop_real_ms() - c->started_ms) / 1000));
	json_object_object_add(o, "rss_bytes",
	    json_object_new_int64(proc_status("VmRSS") * 1024));
	json_object_object_add(o, "cpu_user_s", json_object_new_double(
	    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6));
	json_object_object_add(o, "cpu_system_s", json_object_new_double(
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
	json_object_object_add(o, "threads",
	    json_object_new_int64(proc_status("Threads")));
	monitor_counts(o, q);
	monitor_store(o, &q->stats);
	if (c->outbox != NULL)
		c->outbox->monitor(c->outbox_arg, o);
	else
		json_object_object_add(o, "outbox", json_object_new_object());
	if (c->cluster != NULL)
		c->cluster->monitor(c->cluster_arg, o);
	*json = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	req_put(q);
	return *json ? 0 : -ENOMEM;
}

static void
metric_hist(struct buf *b, const char *name, const char *help,
    const uint64_t *hist, uint64_t count, double sum_ms)
{
	static const int64_t bounds[RUNNER_HIST_N] = RUNNER_HIST_BOUNDS;
	uint64_t cum = 0;
	size_t i;

	buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
	    name);
	for (i = 0; i < RUNNER_HIST_N; i++) {
		cum += hist[i];
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
		    bounds[i] / 1000.0, (unsigned long long)cum);
	}
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n"
	    "%s_count %llu\n", name, (unsigned long long)count, name,
	    sum_ms / 1000.0, name, (unsigned long long)count);
}

static void
metric_gauge(struct buf *b, const char *name, const char *help,
    const char *type, uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
	    name, type, name, (unsigned long long)v);
}

/* Label values: job and node names are [A-Za-z0-9._-], nothing to
 * escape. */
static void
metrics_nodes(struct buf *b, struct policy *p)
{
	const struct policy_node *n;
	size_t i;

	buf_puts(b, "# HELP distcron_node_up 1 if the node is up.\n"
	    "# TYPE distcron_node_up gauge\n");
	for (i = 0; i < policy_count(p); i++) {
		n = policy_at(p, i);
		buf_printf(b, "distcron_node_up{node=\"%s\"} %d\n",
		    n->def->name, n->down ? 0 : 1);
	}
}

static void
metrics_runs(struct buf *b, const struct runner_stats *st)
{
	int s;

	buf_puts(b, "# HELP distcron_runs_total Final runs since start, by "
	    "status.\n# TYPE distcron_runs_total counter\n");
	for (s = RUN_FAILURE; s <= RUN_LOST; s++)
		buf_printf(b, "distcron_runs_total{status=\"%s\"} %llu\n",
		    store_status_str((enum run_status)s),
		    (unsigned long long)st->finals[s]);
}

/* The jobs by their newest final run's status: counters the runner keeps
 * as runs end, so a scrape costs the same with ten jobs or a million. */
static void
metrics_jobs(struct buf *b, const struct runner_stats *st)
{
	int s;

	buf_puts(b, "# HELP distcron_jobs_last_status Scheduled jobs by the "
	    "status of their newest final run.\n"
	    "# TYPE distcron_jobs_last_status gauge\n");
	for (s = RUN_FAILURE; s <= RUN_LOST; s++)
		buf_printf(b, "distcron_jobs_last_status{status=\"%s\"} %llu\n",
		    store_status_str((enum run_status)s),
		    (unsigned long long)st->jobs_last[s]);
}

static void
metrics_store(struct buf *b, const struct runner_stats *st)
{
	metric_gauge(b, "distcron_store_ok", "1 while the run store writes, "
	    "0 while it cannot (see /health).", "gauge", st->store_err == 0);
	metric_gauge(b, "distcron_store_queue_depth", "Records waiting for "
	    "the store, unsaved ones included.", "gauge", st->store_queue);
	metric_gauge(b, "distcron_store_queue_max", "Depth at which new "
	    "runs are refused (store_queue_max).", "gauge",
	    st->store_queue_max);
	metric_gauge(b, "distcron_store_write_failures_total", "Store writes "
	    "that failed (each try).", "counter", st->store_failed);
	metric_gauge(b, "distcron_store_rejected_total", "Runs refused "
	    "because the store could not take them.", "counter",
	    st->store_rejected);
}

/* On the loop: the daemon's metric families as Prometheus text. */
static int
op_metrics(struct req *q)
{
	struct runner_stats st;
	struct buf b;

	runner_stats(q->c->runner, &st);
	buf_init(&b, METRICS_MAX);
	metric_gauge(&b, "distcron_jobs", "Scheduled jobs.", "gauge",
	    runner_job_count(q->c->runner));
	metric_gauge(&b, "distcron_runs_in_flight", "Runs not final yet.",
	    "gauge", st.in_flight);
	metric_gauge(&b, "distcron_runs_running", "Items executing now "
	    "(at most max_concurrent_runs).", "gauge", st.running);
	metric_gauge(&b, "distcron_runs_waiting", "Items waiting for a free "
	    "slot under max_concurrent_runs.", "gauge", st.waiting);
	metric_gauge(&b, "distcron_runs_started_total", "Runs launched.",
	    "counter", st.started);
	metric_gauge(&b, "distcron_ticks_skipped_total", "Ticks skipped.",
	    "counter", st.skipped);
	metrics_store(&b, &st);
	metric_gauge(&b, "distcron_output_memory_bytes", "Captured output "
	    "held in memory, all runs together.", "gauge", st.output_held);
	metric_gauge(&b, "distcron_output_spilled_total", "Captures moved "
	    "to a file past output_memory_max.", "counter", st.output_spills);
	metric_gauge(&b, "distcron_output_cut_total", "Captures cut past "
	    "output_memory_max (no file).", "counter", st.output_cuts);
	metrics_runs(&b, &st);
	metric_hist(&b, "distcron_trigger_lateness_seconds", "Start of a "
	    "scheduled run minus its tick.", st.lateness_hist,
	    st.lateness_count, st.lateness_sum_ms);
	metric_hist(&b, "distcron_run_duration_seconds", "Duration of final "
	    "runs.", st.duration_hist, st.duration_count, st.duration_sum_ms);
	metrics_nodes(&b, runner_policy(q->c->runner));
	metrics_jobs(&b, &st);
	if ((q->text = buf_steal(&b, NULL)) == NULL)
		return -ENOMEM;
	return 0;
}

/* The loop's families, then (off the loop: it reads the outbox's
 * store) the outbox's. */
static int
be_metrics(void *ctx, char **text)
{
	struct control *c = ctx;
	struct buf b;
	int rc;

	if ((rc = call_text(ctx, OP_METRICS, NULL, text)) != 0 ||
	    (c->outbox == NULL && c->cluster == NULL))
		return rc;
	buf_init(&b, METRICS_MAX);
	if (buf_puts(&b, *text) == 0 && c->outbox != NULL)
		c->outbox->metrics(c->outbox_arg, &b);
	if (c->cluster != NULL)
		c->cluster->metrics(c->cluster_arg, &b);
	free(*text);
	*text = buf_steal(&b, NULL);
	return *text != NULL ? 0 : -ENOMEM;
}

static int
be_outbox(void *ctx, char **json)
{
	struct control *c = ctx;

	if (c->outbox != NULL)
		return c->outbox->list(c->outbox_arg, json);
	*json = strdup("{\"parked\":[]}");
	return *json != NULL ? 0 : -ENOMEM;
}

/* POST /outbox/retry's body: {"id": N} or {"all": true}. */
struct retry_req {
	int64_t id;
	bool all;
};

static const struct jfield retry_fields[] = {
	JFIELD_ENTRY("id", JFIELD_I64, offsetof(struct retry_req, id), 1,
	    INT64_MAX, NULL),
	JFIELD_ENTRY("all", JFIELD_BOOL, offsetof(struct retry_req, all), 0,
	    0, NULL),
};
#define NRETRY	(sizeof(retry_fields) / sizeof(retry_fields[0]))

/* Reads the body; 0, or ERR_INVALID with err ("field: reason"). */
static int
retry_parse(const char *body, size_t len, struct retry_req *q, char *err,
    size_t errlen)
{
	struct jfield_ctx jc;
	json_object *o = NULL;
	int r;

	memset(q, 0, sizeof(*q));
	jfield_ctx_init(&jc, err, errlen, NULL, NULL);
	jc.strict = true;
	if ((r = jsontext_parse(body, len, 0, NULL, &o, err, errlen)) != 0)
		return r == -ENOMEM ? r : ERR_INVALID;
	if ((r = jfield_object(&jc, o, "body", NULL, retry_fields,
	    NRETRY)) == 0)
		r = jfield_read(&jc, o, NULL, retry_fields, NRETRY, q);
	json_object_put(o);
	if (r == 0 && (q->id > 0) == q->all)
		r = jfield_fail(&jc, "body", "give {\"id\": N} or "
		    "{\"all\": true}");
	return r;
}

static int
be_outbox_retry(void *ctx, const char *body, size_t len, char **json,
    char *err, size_t errlen)
{
	struct control *c = ctx;
	struct retry_req q;
	char text[64];
	size_t n = 0;
	int r;

	*json = NULL;
	if ((r = retry_parse(body, len, &q, err, errlen)) != 0)
		return r;
	if (c->outbox != NULL)
		r = c->outbox->retry(c->outbox_arg, q.all ? 0 : q.id, &n);
	else if (!q.all)	/* no sink: nothing is parked */
		r = ERR_NOTFOUND;
	if (r == ERR_NOTFOUND)
		snprintf(err, errlen, "parked outbox entry %lld",
		    (long long)q.id);
	if (r != 0)
		return r;
	snprintf(text, sizeof(text), "{\"requeued\":%zu}", n);
	*json = strdup(text);
	return *json != NULL ? 0 : -ENOMEM;
}

static int
be_store_error(void *ctx)
{
	struct control *c = ctx;

	return runner_store_error(c->runner);
}

/* ---- setup ---- */

int
control_new(const struct config *cfg, const struct tz *zone,
    struct loop *loop, struct runner *runner, struct store *st,
    control_reload_fn reload, void *reload_ctx, struct control **out)
{
	struct control *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->cfg = cfg;
	c->zone = zone;
	c->loop = loop;
	c->runner = runner;
	c->st = st;
	c->reload = reload;
	c->reload_ctx = reload_ctx;
	c->started_ms = loop_real_ms();
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

static int
be_cluster_health(void *ctx, char *why, size_t n)
{
	struct control *c = ctx;

	return c->cluster->health(c->cluster_arg, why, n);
}

static int
be_cluster(void *ctx, char **json)
{
	struct control *c = ctx;

	*json = c->cluster->status(c->cluster_arg);
	return *json != NULL ? 0 : -ENOMEM;
}

static char *
be_health_warnings(void *ctx)
{
	struct control *c = ctx;

	return c->cluster->warnings(c->cluster_arg);
}

void
control_backend(struct control *c, struct api_backend *be)
{
	memset(be, 0, sizeof(*be));
	be->ctx = c;
	be->jobs = be_jobs;
	be->job = be_job;
	be->put_job = be_put_job;
	be->delete_job = be_delete_job;
	be->pause = be_pause;
	be->run_job = be_run_job;
	be->run_task = be_run_task;
	be->cancel = be_cancel;
	be->run_live = be_run_live;
	be->nodes = be_nodes;
	be->node = be_node;
	be->monitor = be_monitor;
	be->metrics = be_metrics;
	be->store_error = be_store_error;
	be->outbox = be_outbox;
	be->outbox_retry = be_outbox_retry;
	if (c->cluster != NULL) {
		be->cluster_health = be_cluster_health;
		be->cluster = be_cluster;
		if (c->cluster->warnings != NULL)
			be->health_warnings = be_health_warnings;
	}
}

void
control_set_cluster(struct control *c,
    const struct control_cluster_ops *ops, void *arg)
{
	c->cluster = ops;
	c->cluster_arg = arg;
}

void
control_set_outbox(struct control *c, const struct control_outbox_ops *ops,
    void *arg)
{
	c->outbox = ops;
	c->outbox_arg = arg;
}

void
control_close(struct control *c)
{
	if (c == NULL)		/* the daemon failed before its API started */
		return;
	pthread_mutex_lock(&c->mu);
	c->closed = 1;
	pthread_mutex_unlock(&c->mu);
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	jobs_forget(c);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
