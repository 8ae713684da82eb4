/*
 * cljobs.c - jobs stored in etcd (cluster.h): what PUT /jobs/NAME and
 * DELETE /jobs/NAME do in cluster mode, and the table of those jobs that
 * every member keeps beside its job files.
 *
 * The table (struct cl_jobs, sorted by name) mirrors the prefix
 * /distcron/NS/jobs/: a range fills it (at start, and again whenever its
 * watch ended: a stream no endpoint took, or a compaction), then a watch
 * from the range's revision + 1 keeps it (follow.c).  Each entry holds
 * the revision of the key it reflects, so that an older event or answer
 * never overwrites a newer one; a deleted key or a bad definition stays as an
 * entry without a job until the next range.  An API write goes to etcd
 * from the loop; once etcd answered it is applied to the table at once
 * (the writer does not wait for its own watch event, which then changes
 * nothing) and the caller is told.  After every change the daemon is
 * told; it merges the table with its file-based set (cluster_jobs_merge:
 * a job file wins over a key of the same name) and applies the result.
 *
 * Loop thread, except cluster_job_text (the API's threads), which reads
 * the entries' texts under mu; the loop changes the array under mu.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/log.h"
#include "cluster_int.h"
#include "follow_int.h"

#define CLJ_RESYNC_MS	1000	/* a watch that ended: read again after */
#define CLJ_ERR_MAX	512
#define CLJ_KEY_SHOWN	300	/* bytes of an escaped key in messages */

/* One key of the prefix.  name first: defs_named_pos() finds it. */
struct cl_job {
	char *name;
	struct job_def *def;	/* NULL: deleted, or a bad definition */
	char *text;		/* the stored JSON, with def */
	int64_t rev;		/* the key's mod revision (the delete's) */
	bool seen;		/* in the range being read */
	bool refused;		/* logged as refused for a job file */
};

struct cl_jobs {
	struct cluster *c;
	const struct tz *zone;
	cluster_jobs_fn changed;
	void *arg;
	char *prefix;		/* CL_PREFIX NS "/jobs/" */
	struct cl_job **v;
	size_t n, cap;
	int64_t rev;		/* the last range's revision */
	struct cl_follow f;	/* the range and the watch of prefix */
	pthread_mutex_t mu;	/* v and the texts, for cluster_job_text */
};

/* ---- the table ---- */

static struct cl_job *
clj_find(const struct cl_jobs *j, const char *name, size_t *at)
{
	bool found;

	*at = defs_named_pos((void *const *)j->v, j->n, name, &found);
	return found ? j->v[*at] : NULL;
}

static void
clj_entry_free(struct cl_job *e)
{
	if (e == NULL)
		return;
	defs_job_unref(e->def);
	free(e->text);
	free(e->name);
	free(e);
}

/* The entry for name, made (without a job) if there is none. */
static struct cl_job *
clj_entry(struct cl_jobs *j, const char *name)
{
	struct cl_job *e, **v;
	bool in = false;
	size_t at;

	if ((e = clj_find(j, name, &at)) != NULL)
		return e;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->name = strdup(name)) == NULL) {
		free(e);
		return NULL;
	}
	pthread_mutex_lock(&j->mu);
	if (j->n == j->cap && (v = realloc(j->v, (j->cap * 2 + 8) *
	    sizeof(*v))) != NULL) {
		j->v = v;
		j->cap = j->cap * 2 + 8;
	}
	if ((in = j->n < j->cap)) {
		memmove(j->v + at + 1, j->v + at, (j->n - at) * sizeof(*j->v));
		j->v[at] = e;
		j->n++;
	}
	pthread_mutex_unlock(&j->mu);
	if (!in) {
		clj_entry_free(e);
		return NULL;
	}
	return e;
}

/* Gives e its new job and text (handed over; both NULL: none). */
static void
clj_entry_set(struct cl_jobs *j, struct cl_job *e, struct job_def *def,
    char *text, int64_t rev)
{
	struct job_def *old = e->def;
	char *oldtext = e->text;

	pthread_mutex_lock(&j->mu);
	e->def = def;
	e->text = text;
	pthread_mutex_unlock(&j->mu);
	e->rev = rev;
	e->refused = false;
	defs_job_unref(old);
	free(oldtext);
}

/* Drops the entries a range did not see (and that are not newer than
 * it); says whether a job went with them. */
static bool
clj_drop_unseen(struct cl_jobs *j, int64_t rev)
{
	size_t i, k = 0;
	bool gone = false;

	pthread_mutex_lock(&j->mu);
	for (i = 0; i < j->n; i++) {
		if (j->v[i]->seen || j->v[i]->rev > rev) {
			j->v[k++] = j->v[i];
			continue;
		}
		if (j->v[i]->def != NULL) {
			log_info("cluster: job %s removed from etcd",
			    j->v[i]->name);
			gone = true;
		}
		clj_entry_free(j->v[i]);
	}
	j->n = k;
	pthread_mutex_unlock(&j->mu);
	return gone;
}

/* ---- definitions ---- */

static void
clj_warn(void *arg, const char *level, const char *file, const char *msg)
{
	(void)file;
	log_warn("cluster: etcd key %s: %s%s", (const char *)arg, msg,
	    strcmp(level, "error") == 0 ? " (skipped)" : "");
}

/* The job a key's value defines, its source the key; NULL when it is
 * bad (logged with the key: the job is not scheduled). */
static struct job_def *
clj_parse(struct cl_jobs *j, const char *key, const char *shown,
    const char *name, const char *value, size_t len)
{
	struct job_def *def = NULL;
	char err[CLJ_ERR_MAX], *src;
	size_t n;

	if (!defs_name_valid(name)) {
		log_error("cluster: etcd key %s: not a job name (1-128 of "
		    "A-Za-z0-9._-, not starting with . or -): skipped", shown);
		return NULL;
	}
	if (defs_job_parse(name, value, len, j->zone, &def, err, sizeof(err),
	    clj_warn, (void *)shown) != 0) {
		log_error("cluster: etcd key %s: %s (job %s skipped: not "
		    "scheduled until the key holds a valid definition)", shown,
		    err, name);
		return NULL;
	}
	n = strlen(CLUSTER_SOURCE_ETCD) + strlen(key) + 1;
	if ((src = malloc(n)) == NULL) {
		defs_job_unref(def);
		return NULL;
	}
	snprintf(src, n, "%s%s", CLUSTER_SOURCE_ETCD, key);
	free(def->source);
	def->source = src;
	return def;
}

/* A key's new state at rev (value NULL: deleted).  Returns whether the
 * table changed: an entry newer than rev stays as it is. */
static bool
clj_apply(struct cl_jobs *j, const char *key, const char *value, size_t len,
    int64_t rev)
{
	const char *name = key + strlen(j->prefix);
	char shown[CLJ_KEY_SHOWN], *text = NULL;
	struct job_def *def = NULL;
	struct cl_job *e;
	bool had;

	if ((e = clj_entry(j, name)) == NULL)
		return false;
	e->seen = true;
	if (e->rev >= rev)
		return false;
	had = e->def != NULL;
	jfield_escape(key, shown, sizeof(shown));
	if (value != NULL && (def = clj_parse(j, key, shown, name, value,
	    len)) != NULL && (text = strndup(value, len)) == NULL) {
		defs_job_unref(def);
		def = NULL;
	}
	clj_entry_set(j, e, def, text, rev);
	if (def != NULL)
		log_info("cluster: job %s %s from etcd (%s, revision %lld)",
		    name, had ? "changed" : "added", shown, (long long)rev);
	else if (had)
		log_info("cluster: job %s removed from etcd (%s)", name, shown);
	return def != NULL || had;
}

/* ---- following the prefix ---- */

static bool
clj_event(void *arg, const struct etcd_event *ev)
{
	return clj_apply(arg, ev->kv.key, ev->type == ETCD_EV_PUT ?
	    ev->kv.value : NULL, ev->kv.value_len, ev->kv.mod_revision);
}

static int
clj_ranged(void *arg, const struct etcd_kv *kvs, size_t n, int64_t rev)
{
	struct cl_jobs *j = arg;
	bool any = false;
	size_t i;

	for (i = 0; i < j->n; i++)
		j->v[i]->seen = false;
	for (i = 0; i < n; i++)
		any |= clj_apply(j, kvs[i].key, kvs[i].value,
		    kvs[i].value_len, kvs[i].mod_revision);
	any |= clj_drop_unseen(j, rev);
	j->rev = rev;
	return any;
}

static void
clj_changed(void *arg)
{
	struct cl_jobs *j = arg;

	j->changed(j->arg);
}

static void
clj_ended(void *arg, const struct etcd_watch_msg *m)
{
	(void)arg;
	log_warn("cluster: the jobs' watch ended (%s); reading the jobs "
	    "again", m->msg[0] ? m->msg : err_str(m->err));
}

static const struct cl_follow_ops clj_follow = {
	.ranged = clj_ranged, .event = clj_event, .changed = clj_changed,
	.ended = clj_ended,
};

int
cluster_jobs_start(struct cluster *c, const struct tz *zone,
    cluster_jobs_fn changed, void *arg)
{
	struct cl_jobs *j;
	size_t n = strlen(CL_PREFIX) + strlen(c->ns) + sizeof("/jobs/");

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->prefix = malloc(n)) == NULL) {
		free(j);
		return -ENOMEM;
	}
	snprintf(j->prefix, n, "%s%s/jobs/", CL_PREFIX, c->ns);
	pthread_mutex_init(&j->mu, NULL);
	j->c = c;
	j->zone = zone;
	j->changed = changed;
	j->arg = arg;
	j->f = (struct cl_follow){ .e = c->e, .loop = c->loop,
	    .prefix = j->prefix, .what = "the jobs",
	    .resync_ms = CLJ_RESYNC_MS, .ops = &clj_follow, .arg = j };
	c->jobs = j;
	cl_follow_start(&j->f);
	return 0;
}

void
cl_jobs_stop(struct cluster *c)
{
	struct cl_jobs *j = c->jobs;

	if (j != NULL)
		cl_follow_stop(&j->f);
}

void
cl_jobs_free(struct cluster *c)
{
	struct cl_jobs *j = c->jobs;
	size_t i;

	if (j == NULL)
		return;
	cl_jobs_stop(c);
	for (i = 0; i < j->n; i++)
		clj_entry_free(j->v[i]);
	free(j->v);
	free(j->prefix);
	pthread_mutex_destroy(&j->mu);
	free(j);
	c->jobs = NULL;
}

char *
cluster_job_text(struct cluster *c, const char *name)
{
	struct cl_jobs *j = c->jobs;
	struct cl_job *e;
	char *s = NULL;
	size_t at;

	if (j == NULL)
		return NULL;
	pthread_mutex_lock(&j->mu);
	if ((e = clj_find(j, name, &at)) != NULL && e->text != NULL)
		s = strdup(e->text);
	pthread_mutex_unlock(&j->mu);
	return s;
}

/* ---- the merge with the job files ---- */

/* Whether a job file of e's name wins over it (logged once). */
static bool
clj_refused(struct cl_jobs *j, struct cl_job *e, const struct defs_set *files,
    const char *jobs_dir)
{
	if (defs_find_job(files, e->name) == NULL &&
	    !defs_job_is_bad(files, e->name)) {
		e->refused = false;
		return false;
	}
	if (!e->refused)
		log_error("cluster: job %s from etcd key %s%s refused: the job "
		    "file %s/%s.json defines it on this member (files win)",
		    e->name, j->prefix, e->name, jobs_dir, e->name);
	e->refused = true;
	return true;
}

/* s's nodes and bad file names: copies of files'. */
static int
clj_copy_files(struct defs_set *s, const struct defs_set *f)
{
	size_t i, n = f->nbad_jobs + 1, m = f->nbad_nodes + 1;

	if ((s->nodes = calloc(f->nnodes + 1, sizeof(*s->nodes))) == NULL ||
	    (s->bad_jobs = calloc(n, sizeof(*s->bad_jobs))) == NULL ||
	    (s->bad_nodes = calloc(m, sizeof(*s->bad_nodes))) == NULL ||
	    (s->bad_job_fids = calloc(n, sizeof(*s->bad_job_fids))) == NULL ||
	    (s->bad_node_fids = calloc(m, sizeof(*s->bad_node_fids))) == NULL)
		return -ENOMEM;
	for (i = 0; i < f->nnodes; i++)
		if ((s->nodes[s->nnodes++] = defs_node_dup(f->nodes[i])) ==
		    NULL)
			return -ENOMEM;
	for (i = 0; i < f->nbad_jobs; i++)
		if ((s->bad_jobs[s->nbad_jobs++] = strdup(f->bad_jobs[i])) ==
		    NULL)
			return -ENOMEM;
	for (i = 0; i < f->nbad_nodes; i++)
		if ((s->bad_nodes[s->nbad_nodes++] = strdup(f->bad_nodes[i])) ==
		    NULL)
			return -ENOMEM;
	if (f->bad_job_fids != NULL)
		memcpy(s->bad_job_fids, f->bad_job_fids,
		    f->nbad_jobs * sizeof(*s->bad_job_fids));
	if (f->bad_node_fids != NULL)
		memcpy(s->bad_node_fids, f->bad_node_fids,
		    f->nbad_nodes * sizeof(*s->bad_node_fids));
	return 0;
}

int
cluster_jobs_merge(struct cluster *c, const struct defs_set *files,
    const char *jobs_dir, struct defs_set **out)
{
	struct cl_jobs *j = c->jobs;
	size_t i, k, n = j != NULL ? j->n : 0;
	struct defs_set *s;
	struct cl_job *e;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if ((s->jobs = calloc(files->njobs + n + 1, sizeof(*s->jobs))) ==
	    NULL || clj_copy_files(s, files) != 0) {
		defs_set_free(s);	/* takes the NULLs of a copy cut short */
		return -ENOMEM;
	}
	/* both are sorted by name, and a name in both is refused */
	for (i = 0, k = 0; i < files->njobs || k < n; ) {
		e = k < n ? j->v[k] : NULL;
		if (e != NULL && (e->def == NULL ||
		    clj_refused(j, e, files, jobs_dir)))
			k++;
		else if (e == NULL || (i < files->njobs &&
		    strcmp(files->jobs[i]->name, e->name) < 0))
			s->jobs[s->njobs++] = defs_job_ref(files->jobs[i++]);
		else
			s->jobs[s->njobs++] = defs_job_ref(j->v[k++]->def);
	}
	s->nerrors = files->nerrors;
	s->nparsed = files->nparsed;
	*out = s;
	return 0;
}

/* ---- writes (the API's) ---- */

struct clj_write {
	struct cl_jobs *j;
	char name[DEFS_NAME_MAX + 1];
	char *key;
	char *text;		/* NULL: a delete */
	size_t len;
	cluster_job_done_fn done;
	void *arg;
};

static void
clj_write_free(struct clj_write *w)
{
	free(w->key);
	free(w->text);
	free(w);
}

/* etcd answered a write: applied here at once, then the caller told. */
static void
clj_written(void *arg, const struct etcd_result *r)
{
	struct clj_write *w = arg;
	struct cl_jobs *j = w->j;
	char err[CLJ_ERR_MAX] = "";
	int rc = 0;

	if (r->err == ERR_TIMEOUT) {
		rc = ERR_TIMEOUT;
		snprintf(err, sizeof(err), "etcd: %.400s (the job may or may "
		    "not have been %s)", r->msg, w->text ? "stored" : "deleted");
	} else if (r->err != 0) {
		rc = ERR_CONNECT;
		snprintf(err, sizeof(err), "etcd: %.400s (nothing %s)", r->msg,
		    w->text ? "stored" : "deleted");
	} else if (w->text == NULL && r->op.count == 0)
		rc = ERR_NOTFOUND;
	else if (!j->f.stopped && clj_apply(j, w->key, w->text, w->len,
	    r->revision))
		j->changed(j->arg);
	if (rc != 0 && rc != ERR_NOTFOUND)
		log_warn("cluster: job %s: %s", w->name, err);
	w->done(w->arg, rc, w->text != NULL && r->err == 0 && r->succeeded,
	    err);
	clj_write_free(w);
}

/* A put that says whether the key is new: a txn on its create
 * revision, putting it either way. */
static int
clj_put(struct clj_write *w)
{
	struct etcd_cmp cmp = { .key = w->key, .target = ETCD_CMP_CREATE,
	    .result = ETCD_EQUAL, .number = 0 };
	struct etcd_op put = { .type = ETCD_OP_PUT, .key = w->key,
	    .value = w->text, .value_len = w->len };
	struct etcd_txn t = { &cmp, 1, &put, 1, &put, 1 };

	return etcd_txn(w->j->c->e, &t, clj_written, w);
}

int
cluster_job_write(struct cluster *c, const char *name, const char *text,
    size_t len, cluster_job_done_fn done, void *arg)
{
	struct etcd_op del = { .type = ETCD_OP_DELETE };
	struct clj_write *w;
	size_t n;
	int rc;

	if (c->jobs == NULL || c->jobs->f.stopped)
		return ERR_BUSY;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	n = strlen(c->jobs->prefix) + strlen(name) + 1;
	w->j = c->jobs;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->len = len;
	w->done = done;
	w->arg = arg;
	if ((w->key = malloc(n)) == NULL ||
	    (text != NULL && (w->text = strndup(text, len)) == NULL)) {
		clj_write_free(w);
		return -ENOMEM;
	}
	snprintf(w->key, n, "%s%s", c->jobs->prefix, name);
	del.key = w->key;
	rc = text != NULL ? clj_put(w) : etcd_do(c->e, &del, clj_written, w);
	if (rc != 0)
		clj_write_free(w);
	return rc;
}
