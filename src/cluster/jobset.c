/*
 * jobset.c - a member's file-based jobs as cluster mode compares them
 * (jobset.h).  A set is an array of (name, digest) in name order; its
 * JSON text is written in that order, so the same jobs give the same
 * text and the same hash on every member.  The comparison walks all the
 * members' sorted arrays at once (a merge): at each step the smallest
 * name not yet seen is looked up on every member, and a job missing on
 * some or with more than one digest gets a line that groups the members
 * by what they have.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/jobset.h"

#define JOBSET_SHOWN	8	/* digits of a digest in a line */
#define JOBSET_LINE_MAX	4096	/* one line's cap (many members) */

void
jobset_clear(struct jobset *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->njobs; i++) {
		free(s->jobs[i].name);
		free(s->jobs[i].digest);
	}
	free(s->jobs);
	s->jobs = NULL;
	s->njobs = 0;
}

/* Appends (name, digest), copied; the caller keeps the order. */
static int
jobset_add(struct jobset *s, const char *name, const char *digest)
{
	struct jobset_job *j = &s->jobs[s->njobs];

	j->name = strdup(name);
	j->digest = strdup(digest);
	if (j->name == NULL || j->digest == NULL) {
		free(j->name);
		free(j->digest);
		return -ENOMEM;
	}
	s->njobs++;
	return 0;
}

/* Whether job's file is dir/NAME.json. */
static bool
jobset_from_dir(const struct job_def *job, const char *dir)
{
	size_t n = strlen(dir);

	return job->source != NULL && strncmp(job->source, dir, n) == 0 &&
	    job->source[n] == '/';
}

int
jobset_from_defs(const struct defs_set *set, const char *jobs_dir,
    struct jobset *out)
{
	char hex[JOBSET_HASH_LEN];
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((out->jobs = calloc(set->njobs + 1, sizeof(*out->jobs))) == NULL)
		return -ENOMEM;
	for (i = 0; i < set->njobs; i++) {
		if (!jobset_from_dir(set->jobs[i], jobs_dir))
			continue;
		snprintf(hex, sizeof(hex), "%016llx",
		    (unsigned long long)set->jobs[i]->digest);
		if (jobset_add(out, set->jobs[i]->name, hex) != 0) {
			jobset_clear(out);
			return -ENOMEM;
		}
	}
	return 0;
}

char *
jobset_json(const struct jobset *s)
{
	json_object *o = json_object_new_object();
	char *text;
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < s->njobs; i++)
		json_object_object_add(o, s->jobs[i].name,
		    json_object_new_string(s->jobs[i].digest));
	text = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

void
jobset_hash(const char *json, char out[JOBSET_HASH_LEN])
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a 64 */
	const unsigned char *p;

	for (p = (const unsigned char *)json; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	snprintf(out, JOBSET_HASH_LEN, "%016llx", (unsigned long long)h);
}

static int
jobset_job_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jobset_job *)a)->name,
	    ((const struct jobset_job *)b)->name);
}

/* A digest read from etcd: 1 to JOBSET_DIGEST_MAX hex digits. */
static bool
jobset_digest_ok(const char *d)
{
	size_t n = strspn(d, "0123456789abcdefABCDEF");

	return n > 0 && n <= JOBSET_DIGEST_MAX && d[n] == '\0';
}

/* Checks and adds each member of root, an object. */
static int
jobset_read(json_object *root, struct jobset *out, char *err, size_t errlen)
{
	char q[JFIELD_QUOTE_LEN];
	const char *d;

	json_object_object_foreach(root, name, v) {
		d = json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : "";
		if (!defs_name_valid(name)) {
			snprintf(err, errlen, "job %s: not a job name",
			    jfield_quote(name, q, sizeof(q)));
			return ERR_PARSE;
		}
		if (!jobset_digest_ok(d)) {
			snprintf(err, errlen, "job \"%s\": the digest must be "
			    "a string of 1-%d hex digits", name,
			    JOBSET_DIGEST_MAX);
			return ERR_PARSE;
		}
		if (jobset_add(out, name, d) != 0)
			return -ENOMEM;
	}
	return 0;
}

int
jobset_parse(const char *text, size_t len, struct jobset *out, char *err,
    size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root = NULL;
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (tok == NULL)
		goto out;
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "not a JSON object of job digests%s%s",
		    root == NULL ? ": " : "", root == NULL ?
		    json_tokener_error_desc(json_tokener_get_error(tok)) : "");
		r = ERR_PARSE;
		goto out;
	}
	out->jobs = calloc((size_t)json_object_object_length(root) + 1,
	    sizeof(*out->jobs));
	if (out->jobs == NULL || (r = jobset_read(root, out, err, errlen)) != 0)
		goto out;
	qsort(out->jobs, out->njobs, sizeof(*out->jobs), jobset_job_cmp);
	r = 0;
 out:
	if (r != 0)
		jobset_clear(out);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return r;
}

void
jobset_diff_clear(struct jobset_diff *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nlines; i++)
		free(d->lines[i]);
	free(d->lines);
	memset(d, 0, sizeof(*d));
}

/* ---- the comparison ---- */

/* One step of the merge: the job every member is looked up for. */
struct jobset_step {
	const char *const *members;
	const struct jobset *sets;
	size_t n;
	size_t *at;		/* each member's position */
	const char **has;	/* each member's digest of name, or NULL */
	const char *name;
};

/* The smallest name at the members' positions, or NULL at the end. */
static const char *
jobset_next(const struct jobset_step *st)
{
	const char *min = NULL, *s;
	size_t i;

	for (i = 0; i < st->n; i++) {
		if (st->at[i] >= st->sets[i].njobs)
			continue;
		s = st->sets[i].jobs[st->at[i]].name;
		if (min == NULL || strcmp(s, min) < 0)
			min = s;
	}
	return min;
}

/* Fills has[] for st->name and moves past it; whether they all agree. */
static bool
jobset_lookup(struct jobset_step *st)
{
	const struct jobset_job *j;
	bool same = true;
	size_t i;

	for (i = 0; i < st->n; i++) {
		j = st->at[i] < st->sets[i].njobs ?
		    &st->sets[i].jobs[st->at[i]] : NULL;
		st->has[i] = NULL;
		if (j != NULL && strcmp(j->name, st->name) == 0) {
			st->has[i] = j->digest;
			st->at[i]++;
		}
		same = same && st->has[i] != NULL && (i == 0 ||
		    strcmp(st->has[i], st->has[0]) == 0);
	}
	return same;
}

/* The members that have digest d (NULL: that miss the job), "m1, m3";
 * their count. */
static size_t
jobset_who(const struct jobset_step *st, const char *d, struct buf *b)
{
	size_t i, k = 0;

	for (i = 0; i < st->n; i++) {
		if (d == NULL ? st->has[i] != NULL : st->has[i] == NULL ||
		    strcmp(st->has[i], d) != 0)
			continue;
		buf_printf(b, "%s%s", k++ ? ", " : "", st->members[i]);
	}
	return k;
}

/* Whether digest has[i] was seen at a member before i. */
static bool
jobset_seen(const struct jobset_step *st, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (st->has[k] != NULL && strcmp(st->has[k], st->has[i]) == 0)
			return true;
	return false;
}

/* The line for st->name (which differs): the members grouped by digest
 * (when there are several), then those that miss it. */
static char *
jobset_line(const struct jobset_step *st)
{
	struct buf b;
	size_t i, groups = 0, missing = 0, shown = 0, k;

	for (i = 0; i < st->n; i++) {
		groups += st->has[i] != NULL && !jobset_seen(st, i);
		missing += st->has[i] == NULL;
	}
	buf_init(&b, JOBSET_LINE_MAX);
	buf_printf(&b, "job \"%s\" %s", st->name, groups > 1 ? "differs: " :
	    "is ");
	for (i = 0; i < st->n && groups > 1; i++) {
		if (st->has[i] == NULL || jobset_seen(st, i))
			continue;
		buf_puts(&b, shown++ > 0 ? ", " : "");
		k = jobset_who(st, st->has[i], &b);
		buf_printf(&b, " %s %.*s", k > 1 ? "have" : "has",
		    JOBSET_SHOWN, st->has[i]);
	}
	if (missing > 0) {
		buf_puts(&b, groups > 1 ? "; missing on " : "missing on ");
		jobset_who(st, NULL, &b);
	}
	return buf_steal(&b, NULL);
}

/* Adds line (NULL: out of memory) to d. */
static int
jobset_diff_add(struct jobset_diff *d, char *line)
{
	char **l;

	if (line == NULL || (l = realloc(d->lines, (d->nlines + 1) *
	    sizeof(*l))) == NULL) {
		free(line);
		return -ENOMEM;
	}
	d->lines = l;
	d->lines[d->nlines++] = line;
	return 0;
}

int
jobset_diff_note(struct jobset_diff *d, const char *text)
{
	int r = jobset_diff_add(d, strdup(text));

	d->njobs += r == 0;
	return r;
}

/* "and N more jobs" after the cap. */
static int
jobset_diff_more(struct jobset_diff *d, size_t shown)
{
	struct buf b;

	if (d->njobs <= shown)
		return 0;
	buf_init(&b, 64);
	buf_printf(&b, "and %zu more job%s", d->njobs - shown,
	    d->njobs - shown == 1 ? "" : "s");
	return jobset_diff_add(d, buf_steal(&b, NULL));
}

int
jobset_compare(const char *const *members, const struct jobset *sets,
    size_t n, size_t cap, struct jobset_diff *out)
{
	struct jobset_step st = { members, sets, n, NULL, NULL, NULL };
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	st.at = calloc(n + 1, sizeof(*st.at));
	st.has = calloc(n + 1, sizeof(*st.has));
	if (st.at == NULL || st.has == NULL)
		goto out;
	while ((st.name = jobset_next(&st)) != NULL) {
		if (jobset_lookup(&st))
			continue;
		if (out->njobs++ < cap &&
		    jobset_diff_add(out, jobset_line(&st)) != 0)
			goto out;
	}
	r = jobset_diff_more(out, out->nlines);
 out:
	if (r != 0)
		jobset_diff_clear(out);
	free(st.at);
	free(st.has);
	return r;
}
