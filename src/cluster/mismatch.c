/*
 * mismatch.c - file-based jobs must be the same on every member: each
 * member publishes its set (jobset.h) and this member reports the jobs
 * that differ.
 *
 * Publishing: the set's hash goes in the member's key, the per-job
 * digests in /distcron/NS/jobsets/MEMBER, both on the member's lease and
 * written together: in the registration's transaction, and again after
 * a reload changed the set (a transaction that holds only while the
 * member's key is still on our lease; a failed one is tried again on
 * the next timer tick).  A set that did not change is not written.
 *
 * Comparing: after every range of the members' keys, the (member, hash)
 * pairs are compared with those of the last comparison; only when they
 * changed and differ does one range read the members' sets, and
 * jobset_compare() names the jobs and the members.  This member's own
 * set is the one in force here, not what etcd holds of it.  The result
 * is logged when it changes (a warning per job, then a line when it
 * clears) and kept for /health, /monitor, /metrics and GET /cluster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/buf.h"
#include "distcron/jobset.h"
#include "distcron/log.h"
#include "cluster_int.h"

#define CL_MM_SHOWN	20	/* jobs named in the report */
#define CL_MM_SIG_MAX	(1024 * 1024)	/* the (member, hash) pairs */
#define CL_MM_VALUE_MAX	(1024 * 1024)	/* a longer list is not published:
					 * etcd takes 1.5 MiB a request by
					 * default */

struct cl_mismatch {
	char *prefix;		/* CL_PREFIX NS "/jobsets/" */
	char *key;		/* ... MEMBER */
	struct jobset set;	/* this member's file-based jobs */
	char *json;		/* ... as published */
	uint64_t gen, done_gen;	/* the set's version; the one in etcd */
	uint64_t reg_gen;	/* the one the registration writes */
	bool put_busy, range_busy, range_again;
	char *sig;		/* the pairs of the last comparison */
	struct jobset_diff diff;	/* its result: the loop thread
					 * changes it under c->mu */
};

int
cl_mm_new(struct cluster *c)
{
	struct cl_mismatch *mm = calloc(1, sizeof(*mm));
	struct buf b;

	if ((c->mm = mm) == NULL)
		return -ENOMEM;
	buf_init(&b, 4096);
	buf_printf(&b, "%s%s/jobsets/", CL_PREFIX, c->ns);
	mm->prefix = buf_steal(&b, NULL);
	buf_printf(&b, "%s%s", mm->prefix ? mm->prefix : "", c->member);
	mm->key = buf_steal(&b, NULL);
	mm->json = strdup("{}");
	return mm->prefix && mm->key && mm->json ? 0 : -ENOMEM;
}

void
cl_mm_free(struct cluster *c)
{
	struct cl_mismatch *mm = c->mm;

	if (mm == NULL)
		return;
	free(mm->prefix);
	free(mm->key);
	jobset_clear(&mm->set);
	free(mm->json);
	free(mm->sig);
	jobset_diff_clear(&mm->diff);
	free(mm);
	c->mm = NULL;
}

/* ---- publishing ---- */

void
cl_mm_put_op(struct cluster *c, int64_t lease, struct etcd_op *op)
{
	struct cl_mismatch *mm = c->mm;

	size_t len = strlen(mm->json);

	memset(op, 0, sizeof(*op));
	op->key = mm->key;
	op->type = len > CL_MM_VALUE_MAX ? ETCD_OP_DELETE : ETCD_OP_PUT;
	if (op->type == ETCD_OP_PUT) {
		op->value = mm->json;
		op->value_len = len;
		op->lease = lease;
	}
	mm->reg_gen = mm->gen;
}

void
cl_mm_registered(struct cluster *c)
{
	c->mm->done_gen = c->mm->reg_gen;
}

/* A request of ours in flight: the version it writes. */
struct cl_mm_req {
	struct cluster *c;
	uint64_t gen;
};

static void
cl_mm_put_done(void *arg, const struct etcd_result *r)
{
	struct cl_mm_req *q = arg;
	struct cluster *c = q->c;

	c->mm->put_busy = false;
	if (r->err != 0)
		cl_etcd_error(c, r);
	else if (r->succeeded)
		c->mm->done_gen = q->gen;
	free(q);
}

void
cl_mm_publish(struct cluster *c)
{
	struct cl_mismatch *mm = c->mm;
	struct etcd_cmp cmp = { .key = c->member_key,
	    .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
	    .number = c->lease };
	struct etcd_op put[2];
	struct etcd_txn t = { &cmp, 1, put, 2, NULL, 0 };
	struct cl_mm_req *q;
	char *v;

	if (c->state != CL_OK || mm->put_busy || mm->done_gen == mm->gen ||
	    (q = calloc(1, sizeof(*q))) == NULL)
		return;
	if ((v = cl_member_value(c)) == NULL) {
		free(q);
		return;
	}
	memset(&put[0], 0, sizeof(put[0]));
	put[0].type = ETCD_OP_PUT;
	put[0].key = c->member_key;
	put[0].value = v;
	put[0].value_len = strlen(v);
	put[0].lease = c->lease;
	cl_mm_put_op(c, c->lease, &put[1]);
	q->c = c;
	q->gen = mm->gen;
	mm->put_busy = true;
	if (etcd_txn(c->e, &t, cl_mm_put_done, q) != 0) {
		mm->put_busy = false;
		free(q);
	}
	free(v);
}

int
cluster_set_jobs(struct cluster *c, const struct defs_set *set,
    const char *jobs_dir)
{
	struct cl_mismatch *mm = c->mm;
	char hash[JOBSET_HASH_LEN], *json, *h;
	struct jobset s;

	if (jobset_from_defs(set, jobs_dir, &s) != 0)
		return -ENOMEM;
	if ((json = jobset_json(&s)) == NULL) {
		jobset_clear(&s);
		return -ENOMEM;
	}
	jobset_hash(json, hash);
	if (c->jobs_hash != NULL && strcmp(c->jobs_hash, hash) == 0) {
		jobset_clear(&s);	/* the same jobs: nothing to say */
		free(json);
		return 0;
	}
	if ((h = strdup(hash)) == NULL) {
		jobset_clear(&s);
		free(json);
		return -ENOMEM;
	}
	if (strlen(json) > CL_MM_VALUE_MAX)
		log_warn("cluster: %zu job files are too many to list in etcd "
		    "(%zu bytes, at most %d): the other members can tell that "
		    "they differ from theirs, not which", s.njobs, strlen(json),
		    CL_MM_VALUE_MAX);
	free(c->jobs_hash);
	c->jobs_hash = h;
	jobset_clear(&mm->set);
	mm->set = s;
	free(mm->json);
	mm->json = json;
	mm->gen++;
	cl_mm_publish(c);
	cl_mm_members(c);
	return 0;
}

/* ---- comparing ---- */

/* A member as compared: its id and the hash its key shows. */
struct cl_mm_who {
	const char *id;
	const char *hash;
};

static int
cl_mm_who_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cl_mm_who *)a)->id,
	    ((const struct cl_mm_who *)b)->id);
}

/* The members that publish a set (this one with the set in force here,
 * listed or not yet), sorted by id, in w (nmem + 1 slots); their count. */
static size_t
cl_mm_whos(const struct cluster *c, struct cl_mm_who *w)
{
	size_t i, n = 0;

	for (i = 0; i < c->nmem; i++)
		if (strcmp(c->mem[i].id, c->member) != 0 &&
		    c->mem[i].jobs_hash != NULL)
			w[n++] = (struct cl_mm_who){ c->mem[i].id,
			    c->mem[i].jobs_hash };
	if (c->jobs_hash != NULL)
		w[n++] = (struct cl_mm_who){ c->member, c->jobs_hash };
	qsort(w, n, sizeof(*w), cl_mm_who_cmp);
	return n;
}

/* "id=hash\n" for each; NULL without memory. */
static char *
cl_mm_sig(const struct cl_mm_who *w, size_t n)
{
	struct buf b;
	size_t i;

	buf_init(&b, CL_MM_SIG_MAX);
	buf_puts(&b, "");
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s=%s\n", w[i].id, w[i].hash);
	return buf_steal(&b, NULL);
}

static bool
cl_mm_lines_same(const struct jobset_diff *a, const struct jobset_diff *b)
{
	size_t i;

	if (a->nlines != b->nlines || a->njobs != b->njobs)
		return false;
	for (i = 0; i < a->nlines; i++)
		if (strcmp(a->lines[i], b->lines[i]) != 0)
			return false;
	return true;
}

/* Whether line is one of d's. */
static bool
cl_mm_has_line(const struct jobset_diff *d, const char *line)
{
	size_t i;

	for (i = 0; i < d->nlines; i++)
		if (strcmp(d->lines[i], line) == 0)
			return true;
	return false;
}

/* Takes d (emptied) as the result, shown; its lines that are new are
 * logged (a job reported stays reported without a line per range). */
static void
cl_mm_report(struct cluster *c, struct jobset_diff *d)
{
	struct cl_mismatch *mm = c->mm;
	struct jobset_diff old;
	size_t i;

	if (cl_mm_lines_same(d, &mm->diff)) {
		jobset_diff_clear(d);
		return;
	}
	if (d->njobs == 0)
		log_info("cluster: job files are the same on every member "
		    "again");
	for (i = 0; i < d->nlines; i++)
		if (!cl_mm_has_line(&mm->diff, d->lines[i]))
			log_warn("cluster: job files differ between members: "
			    "%s", d->lines[i]);
	pthread_mutex_lock(&c->mu);
	old = mm->diff;
	mm->diff = *d;
	pthread_mutex_unlock(&c->mu);
	memset(d, 0, sizeof(*d));
	jobset_diff_clear(&old);
}

/* Reads who's set from the range's kvs into s; 0 or -1 (absent, bad). */
static int
cl_mm_read(struct cluster *c, const struct etcd_op_result *op,
    const char *who, struct jobset *s)
{
	size_t i, plen = strlen(c->mm->prefix);
	char err[160];

	memset(s, 0, sizeof(*s));
	for (i = 0; i < op->nkvs; i++) {
		if (op->kvs[i].key_len <= plen ||
		    strcmp(op->kvs[i].key + plen, who) != 0)
			continue;
		if (jobset_parse(op->kvs[i].value, op->kvs[i].value_len, s,
		    err, sizeof(err)) == 0)
			return 0;
		log_warn("cluster: member %s's job list (%s) cannot be read: "
		    "%s", who, op->kvs[i].key, err);
		return -1;
	}
	log_debug("cluster: member %s has published no job list", who);
	return -1;
}

static bool
cl_mm_listed(const char **ids, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/* who's set could not be read: a line when its hash is not ours. */
static void
cl_mm_unlisted(const struct cluster *c, const struct cl_mm_who *who,
    struct jobset_diff *d)
{
	char line[CL_REASON_MAX];

	if (c->jobs_hash == NULL || strcmp(who->hash, c->jobs_hash) == 0)
		return;
	snprintf(line, sizeof(line), "member %.64s has other job files (hash "
	    "%.16s, %.64s has %.16s) and lists none to compare", who->id,
	    who->hash, c->member, c->jobs_hash);
	jobset_diff_note(d, line);
}

/* Compares the members' sets (this one's: the set in force). */
static void
cl_mm_compare(struct cluster *c, const struct etcd_op_result *op)
{
	struct cl_mm_who *w = calloc(c->nmem + 2, sizeof(*w));
	struct jobset *sets = calloc(c->nmem + 2, sizeof(*sets));
	const char **ids = calloc(c->nmem + 2, sizeof(*ids));
	struct jobset_diff d;
	size_t i, n, k = 0;

	if (w == NULL || sets == NULL || ids == NULL)
		goto out;
	n = cl_mm_whos(c, w);
	for (i = 0; i < n; i++) {
		if (strcmp(w[i].id, c->member) == 0)
			sets[k] = c->mm->set;	/* borrowed */
		else if (cl_mm_read(c, op, w[i].id, &sets[k]) != 0)
			continue;
		ids[k++] = w[i].id;
	}
	if (jobset_compare(ids, sets, k, CL_MM_SHOWN, &d) == 0) {
		for (i = 0; i < n; i++)
			if (!cl_mm_listed(ids, k, w[i].id))
				cl_mm_unlisted(c, &w[i], &d);
		cl_mm_report(c, &d);
	}
	for (i = 0; i < k; i++)
		if (strcmp(ids[i], c->member) != 0)
			jobset_clear(&sets[i]);
 out:
	free(w);
	free(sets);
	free(ids);
}

static void cl_mm_fetch(struct cluster *c);

static void
cl_mm_fetched(void *arg, const struct etcd_result *r)
{
	struct cluster *c = arg;
	struct cl_mismatch *mm = c->mm;

	mm->range_busy = false;
	if (c->state == CL_STOPPED)
		return;
	if (r->err != 0) {
		cl_etcd_error(c, r);
		free(mm->sig);	/* compared again on the next range */
		mm->sig = NULL;
	} else if (mm->range_again) {
		cl_mm_fetch(c);
	} else {
		cl_mm_compare(c, &r->op);
	}
}

/* One range of every member's set. */
static void
cl_mm_fetch(struct cluster *c)
{
	struct cl_mismatch *mm = c->mm;
	struct etcd_op op = { .type = ETCD_OP_RANGE, .key = mm->prefix,
	    .prefix = true };

	if (mm->range_busy) {
		mm->range_again = true;
		return;
	}
	mm->range_again = false;
	mm->range_busy = true;
	if (etcd_do(c->e, &op, cl_mm_fetched, c) != 0) {
		mm->range_busy = false;
		free(mm->sig);
		mm->sig = NULL;
	}
}

void
cl_mm_members(struct cluster *c)
{
	struct cl_mismatch *mm = c->mm;
	struct cl_mm_who *w = calloc(c->nmem + 2, sizeof(*w));
	struct jobset_diff none = { NULL, 0, 0 };
	size_t i, n;
	char *sig;

	if (w == NULL)
		return;
	n = cl_mm_whos(c, w);
	sig = cl_mm_sig(w, n);
	if (sig == NULL || (mm->sig != NULL && strcmp(sig, mm->sig) == 0)) {
		free(sig);
		free(w);
		return;
	}
	free(mm->sig);
	mm->sig = sig;
	for (i = 1; i < n && strcmp(w[i].hash, w[0].hash) == 0; i++)
		;
	if (i < n)
		cl_mm_fetch(c);
	else
		cl_mm_report(c, &none);
	free(w);
}

/* ---- the view (c->mu held) ---- */

void
cl_mm_view_json(struct cluster *c, json_object *o)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a != NULL && i < c->mm->diff.nlines; i++)
		json_object_array_add(a,
		    json_object_new_string(c->mm->diff.lines[i]));
	json_object_object_add(o, "mismatch", a);
	json_object_object_add(o, "mismatch_jobs",
	    json_object_new_int64((int64_t)c->mm->diff.njobs));
}

size_t
cl_mm_view_count(const struct cluster *c)
{
	return c->mm->diff.njobs;
}

char *
cluster_warnings_json(struct cluster *c)
{
	json_object *a;
	char *s = NULL;
	struct buf b;
	size_t i;

	pthread_mutex_lock(&c->mu);
	if (c->mm->diff.nlines > 0 && (a = json_object_new_array()) != NULL) {
		buf_init(&b, 64 * 1024);
		for (i = 0; i < c->mm->diff.nlines; i++) {
			buf_reset(&b);
			buf_printf(&b, "cluster: job files differ between "
			    "members: %s", c->mm->diff.lines[i]);
			json_object_array_add(a,
			    json_object_new_string(buf_str(&b)));
		}
		buf_free(&b);
		s = strdup(json_object_to_json_string_ext(a,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(a);
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}
