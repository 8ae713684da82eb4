/*
 * defs.c - job and node definitions: one JSON file each, parsed with json-c
 * in strict mode into immutable structs.
 *
 * Scalar fields and the owners list are described by jfield tables (key,
 * type, offset of the target, bounds) that jfield_read() walks; the same
 * tables list the known keys, so anything else in an object is reported as
 * a warning and ignored.  Structured fields (policy, schedule, command,
 * http, environment) have their own small parsers on jfield's value
 * readers.  Every error names the field by its dotted path
 * ("policy.roles[2]: expected a string, got integer"), and values echoed
 * back are truncated and have control characters escaped.
 *
 * defs_load() reads both directories with one reusable buffer, parses each
 * "*.json" file, reports and skips bad ones, sorts the results by name for
 * binary search, and cross-checks jobs against nodes (warnings only).
 * Each definition and bad file keeps its file's identity (device, inode,
 * size, mtime), so that defs_reload() can do less: a scan shares what did
 * not change with the previous set, and a delta re-reads only the named
 * files into a copy of the previous set's sorted arrays (the jobs shared
 * without touching their reference counts, which defs_set_replace() hands
 * over when the delta takes the previous set's place).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/url.h"
#include "distcron/jsontext.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define MSG_LEN		512
#define OUTPUT_MIN	1024
#define OUTPUT_MAX	(64 * 1024 * 1024)
#define KNOWN_HOSTS	SYSCONFDIR "/distcron/known_hosts"
#define POLICY_HINT	"write \"policy\": {\"roles\": [\"web\"]} or " \
			"{\"nodes\": [\"node1\"]}"

/* Where diagnostics go while one definition is parsed. */
struct pctx {
	struct jfield_ctx jc;	/* the error buffer; warnings to report() */
	const char *file;	/* name or path given to report() */
	defs_report_fn report;
	void *arg;
	struct json_tokener *tok;	/* reused by the loader, or NULL */
};

/* ---- small helpers ---- */

static uint64_t
fnv1a64(const char *p, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* RFC 7230 token characters (HTTP methods and header names). */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

static char *
join3(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	char *s;

	if ((s = malloc(la + ls + lb + 1)) == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, sep, ls);
	memcpy(s + la + ls, b, lb + 1);
	return s;
}

bool
defs_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.' ||
	    name[0] == '-')
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= DEFS_NAME_MAX)
			return false;
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("._-", name[i]) == NULL)
			return false;
	}
	return true;
}

/* "HH:MM" or "HH:MM:SS" (hour may have one digit) -> seconds of the day. */
static int
val_clock(struct jfield_ctx *c, json_object *v, const char *path, int32_t *out)
{
	static const int lim[3] = { 24, 60, 60 };
	char q[JFIELD_QUOTE_LEN];
	const char *s, *p;
	int part[3] = { 0, 0, 0 }, i, nd;

	if (jfield_cstr(c, v, path, &s) != 0)
		return ERR_INVALID;
	for (i = 0, p = s; i < 3; i++) {
		for (nd = 0; isdigit((unsigned char)*p) && nd < 2; nd++, p++)
			part[i] = part[i] * 10 + (*p - '0');
		if (nd == 0 || (i > 0 && nd != 2) || part[i] >= lim[i])
			break;
		if (*p == '\0' && i > 0) {
			*out = part[0] * 3600 + part[1] * 60 + part[2];
			return 0;
		}
		if (*p++ != ':')
			break;
	}
	return jfield_fail(c, path, "invalid time of day %s (expected HH:MM or "
	    "HH:MM:SS)", jfield_quote(s, q, sizeof(q)));
}

/* ---- jobs ---- */

static const char *const hosts_names[] = { "any", "all", NULL };
static const char *const conc_names[] = { "forbid", "allow", "replace", NULL };
static const char *const missed_names[] = { "skip", "run_once", NULL };

#define JOFF(f)	offsetof(struct job_def, f)
#define WOFF(f)	offsetof(struct job_owner, f)
static const struct jfield job_fields[] = {
	JFIELD_ENTRY("description", JFIELD_STR, JOFF(description), 0, 0,
	    NULL),
	JFIELD_KNOWN("owners"),
	JFIELD_KNOWN("policy"),
	JFIELD_KNOWN("schedule"),
	JFIELD_KNOWN("command"),
	JFIELD_KNOWN("http"),
	JFIELD_KNOWN("amqp"),
	JFIELD_KNOWN("environment"),
	JFIELD_KNOWN("notify"),
	JFIELD_ENTRY("timeout", JFIELD_DUR, JOFF(timeout_ms), 0, 0, NULL),
	JFIELD_ENTRY("kill_grace", JFIELD_DUR, JOFF(kill_grace_ms), 0, 0,
	    NULL),
	JFIELD_ENTRY("working_dir", JFIELD_PATH, JOFF(working_dir), 1, 0,
	    NULL),
	JFIELD_ENTRY("enabled", JFIELD_BOOL, JOFF(enabled), 0, 0, NULL),
	JFIELD_ENTRY("concurrency", JFIELD_ENUM, JOFF(concurrency), 0, 0,
	    conc_names),
	JFIELD_ENTRY("retries", JFIELD_INT, JOFF(retries), 0, 100, NULL),
	JFIELD_ENTRY("retry_backoff", JFIELD_DUR, JOFF(retry_backoff_ms), 0,
	    0, NULL),
	JFIELD_ENTRY("missed", JFIELD_ENUM, JOFF(missed), 0, 0,
	    missed_names),
	JFIELD_ENTRY("missed_max_age", JFIELD_DUR, JOFF(missed_max_age_ms), 0,
	    0, NULL),
	JFIELD_KNOWN("start_at"),
	JFIELD_KNOWN("expires_at"),
	JFIELD_ENTRY("max_runs", JFIELD_I64, JOFF(max_runs), 0,
	    INT64_C(1000000000000000), NULL),
	JFIELD_ENTRY("output_limit", JFIELD_SIZE, JOFF(output_limit),
	    OUTPUT_MIN, OUTPUT_MAX, NULL),
	JFIELD_ENTRY("retention", JFIELD_INT, JOFF(retention), 1, 1000000,
	    NULL),
};

static const struct jfield owner_fields[] = {
	JFIELD_ENTRY("name", JFIELD_STR, WOFF(name), 0, 0, NULL),
	JFIELD_ENTRY("email_address", JFIELD_STR, WOFF(email_address), 0, 0,
	    NULL),
};

/* "owners" on its own: it is read before the scalar fields. */
static const struct jfield owners_field[] = {
	{ .key = "owners", .type = JFIELD_LIST, .off = JOFF(owners),
	  .count_off = JOFF(nowners), .nsize = sizeof(struct job_owner),
	  .sub = owner_fields, .nsub = NELEM(owner_fields) },
};

static const struct jfield policy_fields[] = {
	JFIELD_ENTRY("hosts", JFIELD_ENUM, JOFF(hosts), 0, 0, hosts_names),
	JFIELD_KNOWN("roles"),
	JFIELD_KNOWN("nodes"),
};

static const struct jfield sched_fields[] = {
	JFIELD_KNOWN("interval"),
	JFIELD_KNOWN("reference"),
	JFIELD_KNOWN("cron"),
	JFIELD_KNOWN("timezone"),
};

#define HOFF(f)	offsetof(struct job_http, f)
static const struct jfield http_fields[] = {
	JFIELD_KNOWN("url"),
	JFIELD_KNOWN("method"),
	JFIELD_KNOWN("headers"),
	JFIELD_KNOWN("body"),
	JFIELD_ENTRY("timeout", JFIELD_DUR, HOFF(timeout_ms), 0, 0, NULL),
	JFIELD_KNOWN("expect_status"),
	JFIELD_ENTRY("tls_verify", JFIELD_BOOL, HOFF(tls_verify), 0, 0, NULL),
};

static void
http_free(struct job_http *h)
{
	if (h == NULL)
		return;
	free(h->url);
	free(h->method);
	jfield_strv_free(h->headers);
	free(h->body);
	free(h->expect_status);
	free(h);
}

static void amqp_free(struct job_amqp *);

static void
job_free(struct job_def *job)
{
	size_t i;

	if (job == NULL)
		return;
	free(job->name);
	free(job->description);
	for (i = 0; i < job->nowners; i++) {
		free(job->owners[i].name);
		free(job->owners[i].email_address);
	}
	free(job->owners);
	if (job->packed) {	/* job_pack() */
		free(job->roles);
		free(job->nodes);
		free(job->argv);
	} else {
		jfield_strv_free(job->roles);
		jfield_strv_free(job->nodes);
		jfield_strv_free(job->argv);
	}
	sched_free(job->sched);
	free(job->shell);
	http_free(job->http);
	amqp_free(job->amqp);
	defs_notify_free(job->notify);
	jfield_strv_free(job->env);
	free(job->working_dir);
	free(job->source);
	for (i = 0; i < job->nsecrefs; i++) {
		free(job->secrefs[i].name);
		free(job->secrefs[i].field);
	}
	free(job->secrefs);
	free(job);
}

static struct job_def *
job_new(const char *name)
{
	struct job_def *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	if ((job->name = strdup(name)) == NULL) {
		free(job);
		return NULL;
	}
	job->kill_grace_ms = DEFS_KILL_GRACE_MS;
	job->enabled = true;
	job->retry_backoff_ms = DEFS_RETRY_BACKOFF_MS;
	job->output_limit = DEFS_OUTPUT_LIMIT;
	job->retention = DEFS_RETENTION;
	job->refs = 1;
	return job;
}

/* A copy of the string vector sv in one block (the vector, then its
 * strings), or NULL without memory. */
static char **
strv_pack(char *const *sv)
{
	size_t i, n, size = sizeof(char *);
	char **v, *p;

	for (n = 0; sv[n] != NULL; n++)
		size += sizeof(char *) + strlen(sv[n]) + 1;
	if ((v = malloc(size)) == NULL)
		return NULL;
	p = (char *)(v + n + 1);
	for (i = 0; i < n; i++) {
		v[i] = p;
		p = stpcpy(p, sv[i]) + 1;
	}
	v[n] = NULL;
	return v;
}

/*
 * A job's argv, roles and nodes, once parsed, in one block each (a million
 * jobs cost a million allocations less per vector and string); job_free()
 * frees them with free().  Returns 0 or -ENOMEM (the job left as it was).
 */
static int
job_pack(struct job_def *job)
{
	char ***f[] = { &job->argv, &job->roles, &job->nodes }, **v[3];
	size_t i;

	for (i = 0; i < NELEM(f); i++)
		if ((v[i] = *f[i] != NULL ? strv_pack(*f[i]) : NULL) == NULL &&
		    *f[i] != NULL) {
			while (i-- > 0)
				free(v[i]);
			return -ENOMEM;
		}
	for (i = 0; i < NELEM(f); i++) {
		jfield_strv_free(*f[i]);
		*f[i] = v[i];
	}
	job->packed = true;
	return 0;
}

/* Replaces an empty string vector with NULL. */
static void
strv_drop_empty(char ***sv)
{
	if (*sv != NULL && (*sv)[0] == NULL) {
		free(*sv);
		*sv = NULL;
	}
}

static int
parse_policy_nodes(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	char path[JFIELD_PATH_LEN], q[JFIELD_QUOTE_LEN];
	size_t i;
	int r;

	if (v == NULL)
		return 0;
	if ((r = jfield_strv(c, v, "policy.nodes", 0, true, &job->nodes)) != 0)
		return r;
	for (i = 0; job->nodes[i] != NULL; i++) {
		if (defs_name_valid(job->nodes[i]))
			continue;
		snprintf(path, sizeof(path), "policy.nodes[%zu]", i);
		return jfield_fail(c, path, "invalid node name %s",
		    jfield_quote(job->nodes[i], q, sizeof(q)));
	}
	return 0;
}

static int
parse_policy(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	json_object *roles;
	int r;

	if (v == NULL)
		return jfield_fail(c, "policy", "missing (" POLICY_HINT ")");
	if ((r = jfield_object(c, v, "policy", "policy.", policy_fields,
	    NELEM(policy_fields))) != 0 ||
	    (r = jfield_read(c, v, "policy.", policy_fields,
	    NELEM(policy_fields), job)) != 0)
		return r;
	if ((roles = jfield_get(v, "roles")) != NULL &&
	    (r = jfield_strv(c, roles, "policy.roles", 0, true,
	    &job->roles)) != 0)
		return r;
	if ((r = parse_policy_nodes(c, jfield_get(v, "nodes"), job)) != 0)
		return r;
	strv_drop_empty(&job->roles);
	strv_drop_empty(&job->nodes);
	if (job->roles != NULL && job->nodes != NULL)
		return jfield_fail(c, "policy",
		    "give either roles or nodes, not both");
	if (job->roles == NULL && job->nodes == NULL)
		return jfield_fail(c, "policy",
		    "no roles or nodes (" POLICY_HINT ")");
	return 0;
}

/* HTTP and AMQP jobs are sent by the daemon itself: they need no
 * policy. */
static int
parse_job_policy(struct jfield_ctx *c, json_object *root, struct job_def *job)
{
	json_object *policy = jfield_get(root, "policy");
	bool amqp = jfield_get(root, "amqp") != NULL;

	if (jfield_get(root, "http") == NULL && !amqp)
		return parse_policy(c, policy, job);
	if (policy != NULL)
		jfield_warn(c, "policy: ignored for an %s job (the daemon "
		    "itself sends the %s)", amqp ? "amqp" : "http",
		    amqp ? "message" : "request");
	return 0;
}

/* The job's zone: schedule.timezone, else default_zone, else local. */
static int
parse_zone(struct jfield_ctx *c, json_object *sched, const struct tz *def,
    struct job_def *job)
{
	char q[JFIELD_QUOTE_LEN];
	json_object *v = NULL;
	const char *name = NULL, *errstr = NULL;

	if (sched != NULL && json_object_is_type(sched, json_type_object))
		v = jfield_get(sched, "timezone");
	if (v == NULL && def != NULL) {
		job->zone = def;
		return 0;
	}
	if (v != NULL && jfield_cstr(c, v, "schedule.timezone", &name) != 0)
		return ERR_INVALID;
	if (v != NULL && name[0] == '\0')
		return jfield_fail(c, "schedule.timezone", "must not be empty");
	if (tz_get(name, &job->zone, &errstr) != 0)
		return jfield_fail(c, "schedule.timezone", "%s %s",
		    errstr != NULL ? errstr : "unknown time zone",
		    jfield_quote(name != NULL ? name : "localtime", q,
		    sizeof(q)));
	return 0;
}

static int
parse_cron(struct jfield_ctx *c, json_object *v, const char *path,
    struct job_def *job)
{
	const char *expr, *errstr = NULL;
	int r;

	if (jfield_cstr(c, v, path, &expr) != 0)
		return ERR_INVALID;
	if ((r = sched_parse_cron(expr, job->name, job->zone, &job->sched,
	    &errstr)) != 0)
		return jfield_fail(c, path, "%s",
		    errstr != NULL ? errstr : err_str(r));
	return 0;
}

static int
parse_interval(struct jfield_ctx *c, json_object *iv, json_object *ref,
    struct job_def *job)
{
	const char *errstr = NULL;
	int64_t ms;
	int32_t ref_s = 0;
	int r;

	if ((r = jfield_dur(c, iv, "schedule.interval", 1000, &ms)) != 0)
		return r;
	if (ms % 1000 != 0)
		return jfield_fail(c, "schedule.interval",
		    "must be a whole number of seconds");
	if (ref != NULL &&
	    (r = val_clock(c, ref, "schedule.reference", &ref_s)) != 0)
		return r;
	if ((r = sched_new_interval(ms / 1000, ref_s, job->zone, &job->sched,
	    &errstr)) != 0)
		return jfield_fail(c, "schedule.interval", "%s",
		    errstr != NULL ? errstr : err_str(r));
	return 0;
}

static int
parse_schedule(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	json_object *cron, *iv;
	int r;

	if (v == NULL)
		return jfield_fail(c, "schedule", "missing (write "
		    "\"schedule\": {\"interval\": \"10m\"} or "
		    "\"schedule\": \"*/5 * * * *\")");
	if (json_object_is_type(v, json_type_string))
		return parse_cron(c, v, "schedule", job);
	if (!json_object_is_type(v, json_type_object))
		return jfield_type_error(c, "schedule",
		    "an object or a cron string", v);
	if ((r = jfield_object(c, v, "schedule", "schedule.", sched_fields,
	    NELEM(sched_fields))) != 0)
		return r;
	cron = jfield_get(v, "cron");
	iv = jfield_get(v, "interval");
	if (cron != NULL && iv != NULL)
		return jfield_fail(c, "schedule",
		    "give either interval or cron, not both");
	if (cron != NULL && jfield_get(v, "reference") != NULL)
		return jfield_fail(c, "schedule.reference",
		    "only applies to interval schedules");
	if (cron != NULL)
		return parse_cron(c, cron, "schedule.cron", job);
	if (iv != NULL)
		return parse_interval(c, iv, jfield_get(v, "reference"), job);
	return jfield_fail(c, "schedule", "needs \"interval\" or \"cron\"");
}

static int
parse_command(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	int r;

	if (json_object_is_type(v, json_type_string))
		return jfield_str(c, v, "command", 1, &job->shell);
	if (!json_object_is_type(v, json_type_array))
		return jfield_type_error(c, "command",
		    "an array of strings or a shell command string", v);
	if ((r = jfield_strv(c, v, "command", 1, false, &job->argv)) != 0)
		return r;
	if (job->argv[0][0] == '\0')
		return jfield_fail(c, "command[0]", "empty program name");
	return 0;
}

enum url_problem { URL_OK, URL_SCHEME, URL_NOHOST, URL_SPACE };

static enum url_problem
url_problem(const char *url)
{
	const char *p;
	size_t skip;

	if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else
		return URL_SCHEME;
	if (url[skip] == '\0' || url[skip] == '/')
		return URL_NOHOST;
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return URL_SPACE;
	return URL_OK;
}

/* Messages name the URL at path without credentials or query
 * (url_strip()). */
static int
check_url(struct jfield_ctx *c, const char *path, const char *url)
{
	enum url_problem why = url_problem(url);
	char q[JFIELD_QUOTE_LEN];
	const char *shown;
	struct buf b;
	int r;

	if (why == URL_OK)
		return 0;
	buf_init(&b, strlen(url));
	if (url_strip(url, &b) != 0) {
		buf_free(&b);
		return jfield_oom(c);
	}
	shown = jfield_quote(buf_str(&b), q, sizeof(q));
	if (why == URL_SCHEME)
		r = jfield_fail(c, path, "must start with http:// or "
		    "https:// (got %s)", shown);
	else if (why == URL_NOHOST)
		r = jfield_fail(c, path, "no host in %s", shown);
	else
		r = jfield_fail(c, path, "contains a space or control "
		    "character: %s", shown);
	buf_free(&b);
	return r;
}

/* ---- secret references ---- */

static int (*secret_check)(void *, const char *);
static void *secret_arg;

void
defs_secrets_hook(int (*check)(void *arg, const char *name), void *arg)
{
	secret_check = check;
	secret_arg = arg;
}

int
defs_secret_ref(struct jfield_ctx *c, json_object *v, const char *path,
    const char **namep)
{
	char q[JFIELD_QUOTE_LEN];
	json_object *n = jfield_get(v, "secret");

	if (!json_object_is_type(v, json_type_object) || n == NULL ||
	    json_object_object_length(v) != 1)
		return jfield_fail(c, path, "expected a string or "
		    "{\"secret\": NAME}");
	if (jfield_cstr(c, n, path, namep) != 0)
		return ERR_INVALID;
	if (!defs_name_valid(*namep))
		return jfield_fail(c, path, "invalid secret name %s",
		    jfield_quote(*namep, q, sizeof(q)));
	return 0;
}

/* The NAME of v ({"secret": NAME}, at path), a secret that exists. */
static int
secret_name(struct jfield_ctx *c, json_object *v, const char *path,
    const char **namep)
{
	char q[JFIELD_QUOTE_LEN];
	const char *name;
	int r;

	if (defs_secret_ref(c, v, path, &name) != 0)
		return ERR_INVALID;
	if (secret_check != NULL && (r = secret_check(secret_arg, name)) != 0)
		return jfield_fail(c, path, "secret %s %s",
		    jfield_quote(name, q, sizeof(q)), r == ERR_CONFIG ?
		    "cannot be read: no secrets key (secrets_key_file or "
		    "DISTCRON_SECRETS_KEY)" : "not found (set it with "
		    "distcronctl secret set)");
	*namep = name;
	return 0;
}

/* Records the reference v ({"secret": NAME}, at path) of job, of kind at
 * idx.  job NULL: references are not accepted there. */
static int
secref_add(struct jfield_ctx *c, json_object *v, const char *path,
    struct job_def *job, enum job_secref_kind kind, size_t idx)
{
	struct job_secref *refs, *ref;
	const char *name;

	if (job == NULL)
		return jfield_fail(c, path, "a secret reference is not "
		    "accepted here");
	if (secret_name(c, v, path, &name) != 0)
		return ERR_INVALID;
	refs = realloc(job->secrefs, (job->nsecrefs + 1) * sizeof(*refs));
	if (refs == NULL)
		return jfield_oom(c);
	job->secrefs = refs;
	ref = &refs[job->nsecrefs];
	ref->name = strdup(name);
	ref->field = strdup(path);
	ref->kind = kind;
	ref->idx = idx;
	job->nsecrefs++;
	return ref->name == NULL || ref->field == NULL ? jfield_oom(c) : 0;
}

/* A string at path, or (with job) a secret reference of kind at idx:
 * *val is then "" (the run puts the value in). */
static int
str_or_secret(struct jfield_ctx *c, json_object *v, const char *path,
    struct job_def *job, enum job_secref_kind kind, size_t idx,
    const char **val)
{
	if (!json_object_is_type(v, json_type_object))
		return jfield_cstr(c, v, path, val);
	*val = "";
	return secref_add(c, v, path, job, kind, idx);
}

/* Records the reference v ({"secret": NAME}, at path) of header idx
 * (of n) in *names, made on first use. */
static int
header_secret(struct jfield_ctx *c, json_object *v, const char *path,
    size_t idx, size_t n, char ***names)
{
	const char *name;

	if (secret_name(c, v, path, &name) != 0)
		return ERR_INVALID;
	if (*names == NULL && (*names = calloc(n + 1, sizeof(char *))) == NULL)
		return jfield_oom(c);
	return ((*names)[idx] = strdup(name)) == NULL ? jfield_oom(c) : 0;
}

/* Frees names, indexed by the n headers. */
static void
header_secrets_free(char **names, char **headers)
{
	size_t i;

	for (i = 0; names != NULL && headers != NULL && headers[i] != NULL;
	    i++)
		free(names[i]);
	free(names);
}

/* An object of headers at where ("http.headers") as "Name: value"
 * strings in *out (freed first); with job, a value may be a secret
 * reference; with names (notify.webhook.headers), one is recorded there
 * by the header's index, the value "" until a message is sent. */
static int
parse_headers(struct jfield_ctx *c, json_object *v, const char *where,
    struct job_def *job, char ***out, char ***names)
{
	struct json_object_iter it;
	char path[JFIELD_PATH_LEN], pre[JFIELD_PATH_LEN], q[JFIELD_QUOTE_LEN];
	const char *val;
	size_t n = 0;

	if (!json_object_is_type(v, json_type_object))
		return jfield_type_error(c, where, "an object", v);
	if (names != NULL) {
		header_secrets_free(*names, *out);
		*names = NULL;
	}
	jfield_strv_free(*out);
	*out = calloc((size_t)json_object_object_length(v) + 1,
	    sizeof(char *));
	if (*out == NULL)
		return jfield_oom(c);
	jfield_join(pre, where, ".");
	json_object_object_foreachC(v, it) {
		if (!is_token(it.key))
			return jfield_fail(c, where, "invalid header name %s",
			    jfield_quote(it.key, q, sizeof(q)));
		jfield_join(path, pre, it.key);
		val = "";
		if (names != NULL && json_object_is_type(it.val,
		    json_type_object)) {
			if (header_secret(c, it.val, path, n,
			    (size_t)json_object_object_length(v), names) != 0)
				return ERR_INVALID;
		} else if (str_or_secret(c, it.val, path, job,
		    JOB_SECREF_HEADER, n, &val) != 0)
			return ERR_INVALID;
		if (strpbrk(val, "\r\n") != NULL)
			return jfield_fail(c, path, "contains a line break");
		if (((*out)[n++] = join3(it.key, ": ", val)) == NULL)
			return jfield_oom(c);
	}
	return 0;
}

static int
parse_expect(struct jfield_ctx *c, json_object *v, struct job_http *h)
{
	char path[JFIELD_PATH_LEN];
	int64_t st;
	size_t i, n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return jfield_type_error(c, "http.expect_status",
		    "an array of integers", v);
	if ((n = json_object_array_length(v)) == 0)
		return jfield_fail(c, "http.expect_status",
		    "must not be empty");
	free(h->expect_status);
	h->nexpect_status = 0;
	if ((h->expect_status = calloc(n, sizeof(int))) == NULL)
		return jfield_oom(c);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "http.expect_status[%zu]", i);
		if ((r = jfield_int(c, json_object_array_get_idx(v, i), path,
		    100, 599, &st)) != 0)
			return r;
		h->expect_status[h->nexpect_status++] = (int)st;
	}
	return 0;
}

static int
http_defaults(struct job_http *h)
{
	h->tls_verify = true;
	h->method = strdup("GET");
	h->headers = calloc(1, sizeof(char *));
	h->expect_status = malloc(sizeof(int));
	if (h->method == NULL || h->headers == NULL || h->expect_status == NULL)
		return -ENOMEM;
	h->expect_status[0] = 200;
	h->nexpect_status = 1;
	return 0;
}

/* "http.body": a string or a secret reference. */
static int
parse_body(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	const char *val;

	if (str_or_secret(c, v, "http.body", job, JOB_SECREF_BODY, 0,
	    &val) != 0)
		return ERR_INVALID;
	free(job->http->body);
	return (job->http->body = strdup(val)) == NULL ? jfield_oom(c) : 0;
}

static int
parse_http(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	struct job_http *h;
	json_object *x;
	char q[JFIELD_QUOTE_LEN];
	int r;

	if ((r = jfield_object(c, v, "http", "http.", http_fields,
	    NELEM(http_fields))) != 0)
		return r;
	if ((h = job->http = calloc(1, sizeof(*h))) == NULL ||
	    http_defaults(h) != 0)
		return jfield_oom(c);
	if ((r = jfield_read(c, v, "http.", http_fields, NELEM(http_fields),
	    h)) != 0)
		return r;
	if ((x = jfield_get(v, "url")) == NULL)
		return jfield_fail(c, "http.url", "missing");
	if ((r = jfield_str(c, x, "http.url", 1, &h->url)) != 0 ||
	    (r = check_url(c, "http.url", h->url)) != 0)
		return r;
	if ((x = jfield_get(v, "method")) != NULL &&
	    (r = jfield_str(c, x, "http.method", 1, &h->method)) != 0)
		return r;
	if (!is_token(h->method))
		return jfield_fail(c, "http.method", "invalid method %s",
		    jfield_quote(h->method, q, sizeof(q)));
	if ((x = jfield_get(v, "headers")) != NULL &&
	    (r = parse_headers(c, x, "http.headers", job, &h->headers,
	    NULL)) != 0)
		return r;
	if ((x = jfield_get(v, "body")) != NULL &&
	    (r = parse_body(c, x, job)) != 0)
		return r;
	if ((x = jfield_get(v, "expect_status")) != NULL)
		return parse_expect(c, x, h);
	return 0;
}

/* ---- amqp ---- */

#define AOFF(f)	offsetof(struct job_amqp, f)
static const struct jfield amqp_fields[] = {
	JFIELD_KNOWN("url"),
	JFIELD_ENTRY("ca_file", JFIELD_PATH, AOFF(ca_file), 1, 0, NULL),
	JFIELD_KNOWN("exchange"),
	JFIELD_KNOWN("routing_key"),
	JFIELD_ENTRY("body", JFIELD_STR, AOFF(body), 0, 0, NULL),
	JFIELD_KNOWN("headers"),
	JFIELD_ENTRY("persistent", JFIELD_BOOL, AOFF(persistent), 0, 0, NULL),
	JFIELD_ENTRY("tick", JFIELD_BOOL, AOFF(tick), 0, 0, NULL),
	JFIELD_ENTRY("username", JFIELD_STR, AOFF(username), 1, 0, NULL),
	JFIELD_KNOWN("password"),
};
#define AMQP_SHORTSTR_MAX	255	/* bytes of an exchange or key */

static void
amqp_free(struct job_amqp *a)
{
	if (a == NULL)
		return;
	free(a->url);
	free(a->ca_file);
	free(a->exchange);
	free(a->routing_key);
	free(a->body);
	jfield_strv_free(a->headers);
	free(a->username);
	if (a->password != NULL)
		explicit_bzero(a->password, strlen(a->password));
	free(a->password);
	free(a);
}

/* An AMQP URL at path: amqp:// or amqps://, a host, no space; shown
 * without its credentials. */
static int
check_amqp_url(struct jfield_ctx *c, const char *path, const char *url)
{
	char q[JFIELD_QUOTE_LEN], *shown;
	const char *why = NULL, *p;
	size_t skip;
	int r;

	skip = strncasecmp(url, "amqp://", 7) == 0 ? 7 :
	    strncasecmp(url, "amqps://", 8) == 0 ? 8 : 0;
	if (skip == 0)
		why = "must start with amqp:// or amqps://";
	else if (url[skip] == '\0' || url[skip] == '/')
		why = "no host in";
	for (p = url; why == NULL && *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			why = "contains a space or control character:";
	if (why == NULL)
		return 0;
	if ((shown = url_stripped(url)) == NULL)
		return jfield_oom(c);
	r = jfield_fail(c, path, "%s %s", why,
	    jfield_quote(shown, q, sizeof(q)));
	free(shown);
	return r;
}

/* A short string of AMQP (exchange, routing key) at pre + key, if
 * given. */
static int
amqp_shortstr(struct jfield_ctx *c, json_object *v, const char *pre,
    const char *key, char **out)
{
	char path[JFIELD_PATH_LEN];
	json_object *x = jfield_get(v, key);
	int r;

	jfield_join(path, pre, key);
	if (x == NULL)
		return 0;
	if ((r = jfield_str(c, x, path, 0, out)) != 0)
		return r;
	if (strlen(*out) > AMQP_SHORTSTR_MAX)
		return jfield_fail(c, path, "longer than %d bytes",
		    AMQP_SHORTSTR_MAX);
	return 0;
}

/* "url" of the object v at pre, if given, into a->url. */
static int
amqp_url(struct jfield_ctx *c, json_object *v, const char *pre,
    struct job_amqp *a)
{
	char path[JFIELD_PATH_LEN];
	json_object *x;
	int r;

	jfield_join(path, pre, "url");
	if ((x = jfield_get(v, "url")) == NULL)
		return 0;
	if ((r = jfield_str(c, x, path, 1, &a->url)) != 0)
		return r;
	return check_amqp_url(c, path, a->url);
}

/* "amqp.password": a string, or a secret reference put in when a run
 * starts; either overrides the URL's password. */
static int
amqp_password(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	const char *val;

	if (str_or_secret(c, v, "amqp.password", job,
	    JOB_SECREF_AMQP_PASSWORD, 0, &val) != 0)
		return ERR_INVALID;
	return (job->amqp->password = strdup(val)) == NULL ?
	    jfield_oom(c) : 0;
}

static int
parse_amqp(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	struct job_amqp *a;
	json_object *x;
	int r;

	if ((r = jfield_object(c, v, "amqp", "amqp.", amqp_fields,
	    NELEM(amqp_fields))) != 0)
		return r;
	if ((a = job->amqp = calloc(1, sizeof(*a))) == NULL ||
	    (a->headers = calloc(1, sizeof(char *))) == NULL)
		return jfield_oom(c);
	if ((r = jfield_read(c, v, "amqp.", amqp_fields, NELEM(amqp_fields),
	    a)) != 0)
		return r;
	if ((r = amqp_url(c, v, "amqp.", a)) != 0)
		return r;
	if (a->tick && a->body != NULL)
		return jfield_fail(c, "amqp.body", "a tick's body is the tick "
		    "(give either \"body\" or \"tick\": true)");
	if ((a->exchange = strdup(a->tick ? "hacron" : "")) == NULL ||
	    (a->routing_key = strdup("")) == NULL)
		return jfield_oom(c);
	if ((r = amqp_shortstr(c, v, "amqp.", "exchange",
	    &a->exchange)) != 0 ||
	    (r = amqp_shortstr(c, v, "amqp.", "routing_key",
	    &a->routing_key)) != 0)
		return r;
	if ((x = jfield_get(v, "password")) != NULL &&
	    (r = amqp_password(c, x, job)) != 0)
		return r;
	if (a->username != NULL && a->password == NULL)
		return jfield_fail(c, "amqp.username", "given without "
		    "amqp.password");
	if ((x = jfield_get(v, "headers")) != NULL)
		return parse_headers(c, x, "amqp.headers", NULL,
		    &a->headers, NULL);
	return 0;
}

/* ---- notify ---- */

static const char *const notify_events[] = {
	"failure", "recovery", "success", "start", "missed", NULL
};

static const struct jfield notify_fields[] = {
	JFIELD_KNOWN("on"),
	JFIELD_KNOWN("email"),
	JFIELD_KNOWN("webhook"),
	JFIELD_KNOWN("slack"),
	JFIELD_KNOWN("amqp"),
};
static const struct jfield webhook_fields[] = {
	JFIELD_KNOWN("url"),
	JFIELD_KNOWN("headers"),
};
static const struct jfield slack_fields[] = {
	JFIELD_KNOWN("url"),
};

const char *
defs_notify_event_name(unsigned ev)
{
	size_t i;

	for (i = 0; notify_events[i] != NULL; i++)
		if (ev == 1u << i)
			return notify_events[i];
	return NULL;
}

void
defs_notify_free(struct job_notify *n)
{
	if (n == NULL)
		return;
	jfield_strv_free(n->email);
	free(n->webhook_url);
	header_secrets_free(n->webhook_secrets, n->webhook_headers);
	jfield_strv_free(n->webhook_headers);
	free(n->slack_url);
	amqp_free(n->amqp);
	free(n);
}

/* "on": event names into bits. */
static int
notify_on(struct jfield_ctx *c, json_object *v, const char *pre,
    unsigned *on)
{
	char path[JFIELD_PATH_LEN], q[JFIELD_QUOTE_LEN], names[128];
	const char *s;
	size_t i, n;
	int ev;

	jfield_join(path, pre, "on");
	if (!json_object_is_type(v, json_type_array))
		return jfield_type_error(c, path, "an array of strings", v);
	n = json_object_array_length(v);
	*on = 0;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%.200son[%zu]", pre, i);
		if (jfield_cstr(c, json_object_array_get_idx(v, i), path,
		    &s) != 0)
			return ERR_INVALID;
		if (jfield_parse_enum(s, notify_events, &ev) != 0) {
			jfield_name_list(notify_events, names, sizeof(names));
			return jfield_fail(c, path, "unknown event %s "
			    "(expected %s)", jfield_quote(s, q, sizeof(q)),
			    names);
		}
		*on |= 1u << ev;
	}
	return 0;
}

bool
defs_email_valid(const char *s)
{
	const char *at = strchr(s, '@'), *p;

	if (at == NULL || at == s || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr("<>(),;:\\\"[]", *p) != NULL)
			return false;
	return true;
}

static int
notify_email(struct jfield_ctx *c, json_object *v, const char *pre,
    char ***out)
{
	char path[JFIELD_PATH_LEN], q[JFIELD_QUOTE_LEN];
	size_t i;
	int r;

	jfield_join(path, pre, "email");
	if ((r = jfield_strv(c, v, path, 0, true, out)) != 0)
		return r;
	for (i = 0; (*out)[i] != NULL; i++)
		if (!defs_email_valid((*out)[i])) {
			snprintf(path, sizeof(path), "%.200semail[%zu]", pre, i);
			return jfield_fail(c, path, "invalid address %s",
			    jfield_quote((*out)[i], q, sizeof(q)));
		}
	strv_drop_empty(out);
	return 0;
}

/* {"url": ..., more}: the object at pre + key, its URL into *url. */
static int
notify_url(struct jfield_ctx *c, json_object *v, const char *pre,
    const char *key, const struct jfield *fields, size_t n, char **url)
{
	char path[JFIELD_PATH_LEN], sub[JFIELD_PATH_LEN];
	json_object *x;
	int r;

	jfield_join(path, pre, key);
	jfield_join(sub, path, ".");
	if ((r = jfield_object(c, v, path, sub, fields, n)) != 0)
		return r;
	jfield_join(path, sub, "url");
	if ((x = jfield_get(v, "url")) == NULL)
		return jfield_fail(c, path, "missing");
	if ((r = jfield_str(c, x, path, 1, url)) != 0)
		return r;
	return check_url(c, path, *url);
}

static const struct jfield notify_amqp_fields[] = {
	JFIELD_KNOWN("url"),
	JFIELD_ENTRY("ca_file", JFIELD_PATH, AOFF(ca_file), 1, 0, NULL),
	JFIELD_KNOWN("exchange"),
	JFIELD_KNOWN("routing_key"),
};

/* "amqp": {"url", "ca_file", "exchange" (default "amq.topic"),
 * "routing_key" (default none: the sink's "distcron.EVENT.JOB")}. */
static int
notify_amqp(struct jfield_ctx *c, json_object *v, const char *pre,
    struct job_amqp **out)
{
	char path[JFIELD_PATH_LEN], sub[JFIELD_PATH_LEN];
	struct job_amqp *a;
	int r;

	jfield_join(path, pre, "amqp");
	jfield_join(sub, path, ".");
	if ((r = jfield_object(c, v, path, sub, notify_amqp_fields,
	    NELEM(notify_amqp_fields))) != 0)
		return r;
	snprintf(path, sizeof(path), "%s", sub);
	amqp_free(*out);
	if ((a = *out = calloc(1, sizeof(*a))) == NULL ||
	    (a->exchange = strdup("amq.topic")) == NULL)
		return jfield_oom(c);
	if ((r = jfield_read(c, v, path, notify_amqp_fields,
	    NELEM(notify_amqp_fields), a)) != 0 ||
	    (r = amqp_url(c, v, path, a)) != 0 ||
	    (r = amqp_shortstr(c, v, path, "exchange", &a->exchange)) != 0)
		return r;
	return amqp_shortstr(c, v, path, "routing_key", &a->routing_key);
}

static int
notify_read(struct jfield_ctx *c, json_object *v, const char *pre,
    struct job_notify *n)
{
	char path[JFIELD_PATH_LEN];
	json_object *x;
	int r;

	if ((x = jfield_get(v, "on")) != NULL &&
	    (r = notify_on(c, x, pre, &n->on)) != 0)
		return r;
	if ((x = jfield_get(v, "email")) != NULL &&
	    (r = notify_email(c, x, pre, &n->email)) != 0)
		return r;
	if ((x = jfield_get(v, "webhook")) != NULL) {
		if ((r = notify_url(c, x, pre, "webhook", webhook_fields,
		    NELEM(webhook_fields), &n->webhook_url)) != 0)
			return r;
		snprintf(path, sizeof(path), "%.200swebhook.headers", pre);
		if ((x = jfield_get(x, "headers")) != NULL &&
		    (r = parse_headers(c, x, path, NULL,
		    &n->webhook_headers, &n->webhook_secrets)) != 0)
			return r;
	}
	if ((x = jfield_get(v, "slack")) != NULL &&
	    (r = notify_url(c, x, pre, "slack", slack_fields,
	    NELEM(slack_fields), &n->slack_url)) != 0)
		return r;
	if ((x = jfield_get(v, "amqp")) != NULL)
		return notify_amqp(c, x, pre, &n->amqp);
	return 0;
}

int
defs_notify_parse(struct jfield_ctx *c, json_object *v, const char *path,
    struct job_notify **out)
{
	char pre[JFIELD_PATH_LEN];
	struct job_notify *n;
	int r;

	*out = NULL;
	jfield_join(pre, path, ".");
	if ((r = jfield_object(c, v, path, pre, notify_fields,
	    NELEM(notify_fields))) != 0)
		return r;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return jfield_oom(c);
	n->on = DEFS_NOTIFY_DEFAULT;
	if ((r = notify_read(c, v, pre, n)) != 0) {
		defs_notify_free(n);
		return r;
	}
	*out = n;
	return 0;
}

static int
parse_notify(struct jfield_ctx *c, json_object *root, struct job_def *job)
{
	json_object *v = jfield_get(root, "notify");

	if (v == NULL)
		return 0;
	return defs_notify_parse(c, v, "notify", &job->notify);
}

/* Exactly one of "command" (argv array or shell string), "http" and
 * "amqp". */
static int
parse_action(struct jfield_ctx *c, json_object *root, struct job_def *job)
{
	json_object *cmd = jfield_get(root, "command");
	json_object *http = jfield_get(root, "http");
	json_object *amqp = jfield_get(root, "amqp");

	if (cmd != NULL && http != NULL)
		return jfield_fail(c, "command",
		    "give either \"command\" or \"http\", not both");
	if (amqp != NULL && (cmd != NULL || http != NULL))
		return jfield_fail(c, "amqp", "give one of \"command\", "
		    "\"http\" and \"amqp\", not several");
	if (http != NULL)
		return parse_http(c, http, job);
	if (amqp != NULL)
		return parse_amqp(c, amqp, job);
	if (cmd == NULL)
		return jfield_fail(c, "command", "missing (write \"command\": "
		    "[\"/path/to/program\", \"arg\"], a shell command string, "
		    "an \"http\" or an \"amqp\" object)");
	return parse_command(c, cmd, job);
}

static bool
env_name_valid(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* One "NAME=value" from a member of "environment" into job->env[idx]; the
 * value may be a secret reference. */
static int
env_entry(struct jfield_ctx *c, const char *name, json_object *v,
    struct job_def *job, size_t idx)
{
	char path[JFIELD_PATH_LEN], q[JFIELD_QUOTE_LEN];
	const char *val;

	if (!env_name_valid(name))
		return jfield_fail(c, "environment", "invalid variable name "
		    "%s (use letters, digits and _, not starting with a digit)",
		    jfield_quote(name, q, sizeof(q)));
	jfield_join(path, "environment.", name);
	if (strncmp(name, "DISTCRON_", 9) == 0)
		return jfield_fail(c, path, "names starting with DISTCRON_ are "
		    "reserved");
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		val = json_object_get_string(v);
	else if (json_object_is_type(v, json_type_object)) {
		if (str_or_secret(c, v, path, job, JOB_SECREF_ENV, idx,
		    &val) != 0)
			return ERR_INVALID;
	} else if (!json_object_is_type(v, json_type_string))
		return jfield_type_error(c, path, "a string or a number", v);
	else if (jfield_cstr(c, v, path, &val) != 0)
		return ERR_INVALID;
	if ((job->env[idx] = join3(name, "=", val)) == NULL)
		return jfield_oom(c);
	return 0;
}

static int
parse_env(struct jfield_ctx *c, json_object *v, struct job_def *job)
{
	struct json_object_iter it;
	size_t n = 0;
	int r;

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return jfield_type_error(c, "environment", "an object", v);
	if (json_object_object_length(v) == 0)
		return 0;
	job->env = calloc((size_t)json_object_object_length(v) + 1,
	    sizeof(char *));
	if (job->env == NULL)
		return jfield_oom(c);
	json_object_object_foreachC(v, it) {
		if ((r = env_entry(c, it.key, it.val, job, n++)) != 0)
			return r;
	}
	return 0;
}

static int
parse_time(struct jfield_ctx *c, json_object *v, const char *path,
    const struct tz *zone, int64_t *out)
{
	char q[JFIELD_QUOTE_LEN];
	const char *s, *errstr = NULL;

	if (v == NULL)
		return 0;
	if (jfield_cstr(c, v, path, &s) != 0)
		return ERR_INVALID;
	if (tz_parse_iso8601(zone, s, out, &errstr) != 0)
		return jfield_fail(c, path, "invalid time %s: %s",
		    jfield_quote(s, q, sizeof(q)), errstr != NULL ? errstr :
		    "expected ISO 8601 (2026-01-31T12:00:00)");
	return 0;
}

/* start_at / expires_at, in the job's zone unless they carry an offset. */
static int
parse_window(struct jfield_ctx *c, json_object *root, struct job_def *job)
{
	int r;

	if ((r = parse_time(c, jfield_get(root, "start_at"), "start_at",
	    job->zone, &job->start_at)) != 0 ||
	    (r = parse_time(c, jfield_get(root, "expires_at"), "expires_at",
	    job->zone, &job->expires_at)) != 0)
		return r;
	if (jfield_get(root, "start_at") != NULL &&
	    jfield_get(root, "expires_at") != NULL &&
	    job->expires_at <= job->start_at)
		return jfield_fail(c, "expires_at", "must be after start_at");
	return 0;
}

static int
job_from_json(struct jfield_ctx *c, json_object *root, const struct tz *def,
    struct job_def *job)
{
	json_object *sched = jfield_get(root, "schedule");
	int r;

	if ((r = jfield_unknown(c, root, "", job_fields,
	    NELEM(job_fields))) != 0 ||
	    (r = parse_job_policy(c, root, job)) != 0 ||
	    (r = parse_zone(c, sched, def, job)) != 0 ||
	    (r = parse_schedule(c, sched, job)) != 0 ||
	    (r = parse_action(c, root, job)) != 0 ||
	    (r = jfield_read(c, root, "", owners_field, 1, job)) != 0 ||
	    (r = parse_env(c, jfield_get(root, "environment"), job)) != 0 ||
	    (r = parse_notify(c, root, job)) != 0 ||
	    (r = jfield_read(c, root, "", job_fields, NELEM(job_fields),
	    job)) != 0)
		return r;
	return parse_window(c, root, job);
}

/* ---- nodes ---- */

static const char *const conn_names[] = { "local", "ssh", NULL };
static const char *const key_policies[] = { "strict", "accept-new", NULL };

#define NOFF(f)	offsetof(struct node_def, f)
static const struct jfield node_fields[] = {
	JFIELD_KNOWN("roles"),
	JFIELD_KNOWN("connection_type"),
	JFIELD_KNOWN("connection_options"),
	JFIELD_ENTRY("enabled", JFIELD_BOOL, NOFF(enabled), 0, 0, NULL),
	JFIELD_ENTRY("max_concurrent_runs", JFIELD_INT,
	    NOFF(max_concurrent_runs), 0, 1000000, NULL),
};

static const struct jfield ssh_fields[] = {
	JFIELD_ENTRY("ssh_user", JFIELD_STR, NOFF(ssh_user), 1, 0, NULL),
	JFIELD_KNOWN("ssh_host"),
	JFIELD_ENTRY("ssh_private_key_file", JFIELD_STR,
	    NOFF(ssh_private_key_file), 1, 0, NULL),
	JFIELD_ENTRY("ssh_private_key_passphrase_file", JFIELD_STR,
	    NOFF(ssh_private_key_passphrase_file), 1, 0, NULL),
	JFIELD_KNOWN("ssh_private_key_passphrase"),
	JFIELD_ENTRY("ssh_known_hosts_file", JFIELD_STR,
	    NOFF(ssh_known_hosts_file), 1, 0, NULL),
	JFIELD_ENTRY("ssh_host_key", JFIELD_STR, NOFF(ssh_host_key), 1, 0,
	    NULL),
	JFIELD_ENTRY("ssh_host_key_policy", JFIELD_STR,
	    NOFF(ssh_host_key_policy), 1, 0, key_policies),
	JFIELD_ENTRY("connect_timeout", JFIELD_DUR, NOFF(connect_timeout_ms),
	    1, 0, NULL),
	JFIELD_ENTRY("max_sessions", JFIELD_INT, NOFF(max_sessions), 1, 64,
	    NULL),
};

void
defs_node_free(struct node_def *n)
{
	if (n == NULL)
		return;
	free(n->name);
	jfield_strv_free(n->roles);
	free(n->ssh_user);
	free(n->ssh_host);
	free(n->ssh_private_key_file);
	free(n->ssh_private_key_passphrase_file);
	free(n->ssh_passphrase_secret);
	free(n->ssh_known_hosts_file);
	free(n->ssh_host_key);
	free(n->ssh_host_key_policy);
	free(n->source);
	free(n);
}

/* strdup() that keeps NULL; *ok is cleared when memory runs out. */
static char *
dup_or_null(const char *s, int *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*ok = 0;
	return d;
}

struct node_def *
defs_node_dup(const struct node_def *src)
{
	struct node_def *n;
	int ok = 1;
	size_t i, nroles = 0;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	*n = *src;
	while (src->roles && src->roles[nroles])
		nroles++;
	n->roles = calloc(nroles + 1, sizeof(char *));
	ok = n->roles != NULL;
	for (i = 0; ok && i < nroles; i++)
		n->roles[i] = dup_or_null(src->roles[i], &ok);
	n->name = dup_or_null(src->name, &ok);
	n->ssh_user = dup_or_null(src->ssh_user, &ok);
	n->ssh_host = dup_or_null(src->ssh_host, &ok);
	n->ssh_private_key_file = dup_or_null(src->ssh_private_key_file, &ok);
	n->ssh_private_key_passphrase_file =
	    dup_or_null(src->ssh_private_key_passphrase_file, &ok);
	n->ssh_passphrase_secret = dup_or_null(src->ssh_passphrase_secret,
	    &ok);
	n->ssh_known_hosts_file = dup_or_null(src->ssh_known_hosts_file, &ok);
	n->ssh_host_key = dup_or_null(src->ssh_host_key, &ok);
	n->ssh_host_key_policy = dup_or_null(src->ssh_host_key_policy, &ok);
	n->source = dup_or_null(src->source, &ok);
	if (!ok) {
		defs_node_free(n);
		return NULL;
	}
	return n;
}

static struct node_def *
node_new(const char *name)
{
	struct node_def *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->enabled = true;
	n->ssh_port = 22;
	n->connect_timeout_ms = 10 * 1000;
	n->max_sessions = 8;
	n->name = strdup(name);
	n->roles = calloc(1, sizeof(char *));
	if (n->name == NULL || n->roles == NULL) {
		defs_node_free(n);
		return NULL;
	}
	return n;
}

/* "host", "host:port", "[v6]" or "[v6]:port". */
static int
parse_host_port(struct jfield_ctx *c, const char *s, struct node_def *n)
{
	char q[JFIELD_QUOTE_LEN];
	const char *host = s, *hend, *port = NULL, *p;
	int64_t pn;

	if (*s == '[') {
		host = s + 1;
		if ((hend = strchr(host, ']')) == NULL ||
		    (hend[1] != '\0' && hend[1] != ':'))
			goto bad;
		if (hend[1] == ':')
			port = hend + 2;
	} else {
		if ((hend = strchr(s, ':')) != NULL && strchr(hend + 1, ':'))
			return jfield_fail(c, "connection_options.ssh_host",
			    "IPv6 addresses need brackets: \"[::1]:22\"");
		if (hend != NULL)
			port = hend + 1;
		else
			hend = s + strlen(s);
	}
	for (p = host; p < hend; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@')
			goto bad;
	if (hend == host || (port != NULL &&
	    dur_parse_int(port, 1, 65535, &pn) != 0))
		goto bad;
	n->ssh_port = port != NULL ? (int)pn : 22;
	if ((n->ssh_host = strndup(host, (size_t)(hend - host))) == NULL)
		return jfield_oom(c);
	return 0;
bad:
	return jfield_fail(c, "connection_options.ssh_host", "invalid host %s "
	    "(expected \"host\", \"host:port\" or \"[::1]:port\", "
	    "port 1-65535)", jfield_quote(s, q, sizeof(q)));
}

/* "ssh_private_key_passphrase": a secret reference only (a passphrase is
 * never written in a node file). */
static int
parse_passphrase(struct jfield_ctx *c, json_object *v, struct node_def *n)
{
	static const char *const path =
	    "connection_options.ssh_private_key_passphrase";
	const char *name;

	if (v == NULL)
		return 0;
	if (n->ssh_private_key_passphrase_file != NULL)
		return jfield_fail(c, path, "give it or "
		    "ssh_private_key_passphrase_file, not both");
	if (!json_object_is_type(v, json_type_object))
		return jfield_fail(c, path, "expected {\"secret\": NAME} (set "
		    "the passphrase with distcronctl secret set; or use "
		    "ssh_private_key_passphrase_file)");
	if (secret_name(c, v, path, &name) != 0)
		return ERR_INVALID;
	free(n->ssh_passphrase_secret);
	return (n->ssh_passphrase_secret = strdup(name)) == NULL ?
	    jfield_oom(c) : 0;
}

static int
parse_ssh(struct jfield_ctx *c, json_object *v, struct node_def *n)
{
	static const char *const pre = "connection_options.";
	json_object *host;
	const char *s;
	int r;

	if (v == NULL)
		return jfield_fail(c, "connection_options", "missing (ssh "
		    "nodes need ssh_user, ssh_host and ssh_private_key_file)");
	if ((r = jfield_object(c, v, "connection_options", pre, ssh_fields,
	    NELEM(ssh_fields))) != 0 ||
	    (r = jfield_read(c, v, pre, ssh_fields, NELEM(ssh_fields),
	    n)) != 0)
		return r;
	if (n->ssh_user == NULL)
		return jfield_fail(c, "connection_options.ssh_user", "missing");
	if ((host = jfield_get(v, "ssh_host")) == NULL)
		return jfield_fail(c, "connection_options.ssh_host", "missing");
	if ((r = jfield_cstr(c, host, "connection_options.ssh_host",
	    &s)) != 0 ||
	    (r = parse_host_port(c, s, n)) != 0)
		return r;
	if (n->ssh_private_key_file == NULL)
		return jfield_fail(c, "connection_options.ssh_private_key_file",
		    "missing");
	if ((r = parse_passphrase(c, jfield_get(v,
	    "ssh_private_key_passphrase"), n)) != 0)
		return r;
	if (n->ssh_known_hosts_file == NULL &&
	    (n->ssh_known_hosts_file = strdup(KNOWN_HOSTS)) == NULL)
		return jfield_oom(c);
	if (n->ssh_host_key_policy == NULL &&
	    (n->ssh_host_key_policy = strdup("strict")) == NULL)
		return jfield_oom(c);
	return 0;
}

static int
node_from_json(struct jfield_ctx *c, json_object *root, struct node_def *n)
{
	json_object *v;
	int r, conn;

	if ((r = jfield_unknown(c, root, "", node_fields,
	    NELEM(node_fields))) != 0)
		return r;
	if ((v = jfield_get(root, "roles")) != NULL &&
	    (r = jfield_strv(c, v, "roles", 0, true, &n->roles)) != 0)
		return r;
	if ((v = jfield_get(root, "connection_type")) == NULL)
		return jfield_fail(c, "connection_type",
		    "missing (expected \"local\" or \"ssh\")");
	if ((r = jfield_enum(c, v, "connection_type", conn_names,
	    &conn)) != 0 ||
	    (r = jfield_read(c, root, "", node_fields, NELEM(node_fields),
	    n)) != 0)
		return r;
	n->conn = conn == 1 ? NODE_SSH : NODE_LOCAL;
	if (n->conn == NODE_SSH)
		return parse_ssh(c, jfield_get(root, "connection_options"), n);
	if (jfield_get(root, "connection_options") != NULL)
		jfield_warn(c, "connection_options: ignored for a local node");
	return 0;
}

/* ---- secrets ---- */

/* Every member value of o, whatever its type, becomes URL_MASK. */
static void
mask_members(json_object *o)
{
	struct json_object_iter it;

	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreachC(o, it)
		json_object_object_add(o, it.key,
		    json_object_new_string(URL_MASK));
}

/* The member key of o, when a string, becomes URL_MASK (a secret
 * reference stays: it names the secret, never its value). */
static void
mask_string(json_object *o, const char *key)
{
	if (json_object_is_type(jfield_get(o, key), json_type_string))
		json_object_object_add(o, key,
		    json_object_new_string(URL_MASK));
}

/* The URL member key of o loses its secrets: url_mask(), or whole when
 * whole is set or it cannot be masked in part. */
static void
mask_url(json_object *o, const char *key, bool whole)
{
	json_object *url = jfield_get(o, key);
	const char *s = json_object_get_string(url);
	struct buf b;

	if (url == NULL)
		return;
	buf_init(&b, 2 * strlen(s != NULL ? s : "") + 64);
	if (whole || !json_object_is_type(url, json_type_string) ||
	    url_mask(s, &b) != 0)
		json_object_object_add(o, key,
		    json_object_new_string(URL_MASK));
	else
		json_object_object_add(o, key,
		    json_object_new_string(buf_str(&b)));
	buf_free(&b);
}

void
defs_job_mask(json_object *def)
{
	json_object *http = jfield_get(def, "http");
	json_object *notify = jfield_get(def, "notify");
	json_object *hook = jfield_get(notify, "webhook");

	mask_members(jfield_get(def, "environment"));
	mask_members(jfield_get(http, "headers"));
	mask_url(http, "url", false);
	mask_members(jfield_get(jfield_get(def, "amqp"), "headers"));
	mask_url(jfield_get(def, "amqp"), "url", false);
	mask_string(jfield_get(def, "amqp"), "password");
	mask_members(jfield_get(hook, "headers"));
	mask_url(hook, "url", false);
	mask_url(jfield_get(notify, "slack"), "url", true);
	mask_url(jfield_get(notify, "amqp"), "url", false);
}

/* ---- parsing entry points ---- */

/* Parses text as one strict JSON object; trailing garbage is an error. */
static int
parse_json(struct jfield_ctx *c, struct json_tokener *tok, const char *text,
    size_t len, json_object **out)
{
	char msg[512];
	json_object *root;
	int r;

	if (len > DEFS_FILE_MAX) {
		jfield_fail(c, NULL, "file too large (%zu bytes, limit %d)",
		    len, DEFS_FILE_MAX);
		return ERR_TOOBIG;
	}
	r = jsontext_parse(text, len, JSONTEXT_STRICT, tok, &root, msg,
	    sizeof(msg));
	if (r == -ENOMEM)
		return jfield_oom(c);
	if (r != 0) {
		jfield_fail(c, NULL, "%s", msg);
		return ERR_PARSE;
	}
	if (!json_object_is_type(root, json_type_object)) {
		jfield_fail(c, NULL, "expected a JSON object, got %s",
		    jfield_type_name(root));
		json_object_put(root);
		return ERR_PARSE;
	}
	*out = root;
	return 0;
}

static int
check_name(struct jfield_ctx *c, const char *what, const char *name)
{
	char q[JFIELD_QUOTE_LEN];

	if (defs_name_valid(name))
		return 0;
	return jfield_fail(c, "name", "invalid %s name %s (use 1-%d of A-Z "
	    "a-z 0-9 . _ -, not starting with . or -)", what,
	    jfield_quote(name, q, sizeof(q)), DEFS_NAME_MAX);
}

static int
job_parse(struct pctx *p, const char *name, const char *text, size_t len,
    const struct tz *zone, struct job_def **out)
{
	json_object *root = NULL;
	struct job_def *job = NULL;
	struct jfield_ctx *c = &p->jc;
	int r;

	*out = NULL;
	if ((r = check_name(c, "job", name)) != 0 ||
	    (r = parse_json(c, p->tok, text, len, &root)) != 0)
		goto out;
	if ((job = job_new(name)) == NULL) {
		r = jfield_oom(c);
		goto out;
	}
	if ((r = job_from_json(c, root, zone, job)) != 0)
		goto out;
	if (job_pack(job) != 0) {
		r = jfield_oom(c);
		goto out;
	}
	job->digest = fnv1a64(text, len);
	*out = job;
	job = NULL;
 out:
	job_free(job);
	json_object_put(root);
	return r;
}

static int
node_parse(struct pctx *p, const char *name, const char *text, size_t len,
    struct node_def **out)
{
	json_object *root = NULL;
	struct node_def *node = NULL;
	struct jfield_ctx *c = &p->jc;
	int r;

	*out = NULL;
	if ((r = check_name(c, "node", name)) != 0 ||
	    (r = parse_json(c, p->tok, text, len, &root)) != 0)
		goto out;
	if ((node = node_new(name)) == NULL) {
		r = jfield_oom(c);
		goto out;
	}
	if ((r = node_from_json(c, root, node)) != 0)
		goto out;
	node->digest = fnv1a64(text, len);
	*out = node;
	node = NULL;
 out:
	defs_node_free(node);
	json_object_put(root);
	return r;
}

/* Warnings of the field reader go to report() with the file's name. */
static void
pctx_warn(void *arg, const char *msg)
{
	struct pctx *p = arg;

	if (p->report != NULL)
		p->report(p->arg, "warning", p->file, msg);
}

static void
pctx_init(struct pctx *p, const char *file, char *err, size_t errlen,
    defs_report_fn report, void *arg)
{
	jfield_ctx_init(&p->jc, err, errlen, pctx_warn, p);
	p->file = file;
	p->report = report;
	p->arg = arg;
	p->tok = NULL;
}

int
defs_job_parse(const char *name, const char *text, size_t len,
    const struct tz *default_zone, struct job_def **out, char *err,
    size_t errlen, defs_report_fn report, void *arg)
{
	struct pctx c;

	pctx_init(&c, name, err, errlen, report, arg);
	return job_parse(&c, name, text, len, default_zone, out);
}

int
defs_node_parse(const char *name, const char *text, size_t len,
    struct node_def **out, char *err, size_t errlen, defs_report_fn report,
    void *arg)
{
	struct pctx c;

	pctx_init(&c, name, err, errlen, report, arg);
	return node_parse(&c, name, text, len, out);
}

struct job_def *
defs_job_ref(struct job_def *job)
{
	__atomic_add_fetch(&job->refs, 1, __ATOMIC_RELAXED);
	return job;
}

void
defs_job_unref(struct job_def *job)
{
	if (job == NULL)
		return;
	if (__atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) == 0)
		job_free(job);
}

/* ---- loading directories ---- */

struct loader {
	struct defs_set *set;
	const struct tz *zone;
	defs_report_fn report;
	void *arg;
	struct json_tokener *tok;	/* reused from file to file */
	char *buf;		/* file contents, reused from file to file */
	size_t bufcap;
	size_t jobcap, nodecap, badcap, badnodecap;
	struct defs_fileid fid;	/* of the file read last */
	const struct defs_set *prev;	/* a scan: what may be shared */
	bool sorted;		/* a delta: insert in place */
	size_t changedcap;
	size_t node_reads;	/* node files read */
	bool in_order;		/* a scan's jobs come sorted by name ... */
	size_t cursor;		/* ... walked beside prev's at this index */
	struct sched **scheds;	/* distinct schedules of this directory so
				 * far (open addressing), see share_sched() */
	size_t nscheds, capscheds;
};

static void
report(struct loader *l, const char *level, const char *file,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
report(struct loader *l, const char *level, const char *file,
    const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	if (l->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->report(l->arg, level, file, msg);
}

static int
grow_buf(struct loader *l, size_t want)
{
	size_t ncap = l->bufcap ? l->bufcap : 16384;
	char *p;

	while (ncap < want)
		ncap *= 2;
	if (ncap == l->bufcap)
		return 0;
	if ((p = realloc(l->buf, ncap)) == NULL)
		return -ENOMEM;
	l->buf = p;
	l->bufcap = ncap;
	return 0;
}

static void
fid_of(const struct stat *st, struct defs_fileid *fid)
{
	fid->dev = st->st_dev;
	fid->ino = st->st_ino;
	fid->size = st->st_size;
	fid->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
}

static bool
fid_eq(const struct defs_fileid *a, const struct defs_fileid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_ns == b->mtime_ns;
}

/*
 * Reads a regular file relative to dirfd into l->buf, its identity into
 * l->fid.  Returns 0, ERR_INVALID (not a regular file), ERR_TOOBIG or
 * -errno.
 */
static int
read_file(struct loader *l, int dirfd, const char *name, size_t *lenp)
{
	struct stat st;
	size_t len = 0, want;
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = ERR_INVALID;
	else if (st.st_size > DEFS_FILE_MAX)
		r = ERR_TOOBIG;
	if (r != 0 && r != ERR_INVALID && r != ERR_TOOBIG)
		;	/* fstat failed */
	else
		fid_of(&st, &l->fid);
	if (r == 0)
		r = grow_buf(l, (size_t)st.st_size + 2);
	while (r == 0) {
		/* keep reading past st_size: the file may have grown; a
		 * short read past it is the end (a read less per file) */
		if (len + 1 >= l->bufcap &&
		    (r = grow_buf(l, l->bufcap + 1)) != 0)
			break;
		want = l->bufcap - len - 1;
		if ((n = read(fd, l->buf + len, want)) < 0) {
			if (errno != EINTR)
				r = -errno;
			continue;
		}
		len += (size_t)n;
		if (len > DEFS_FILE_MAX)
			r = ERR_TOOBIG;
		else if (n == 0 ||
		    ((size_t)n < want && len >= (size_t)st.st_size))
			break;
	}
	close(fd);
	*lenp = len;
	return r;
}

/* Makes room for one more item in *arr (capacity *cap). */
static int
grow_items(void ***arr, size_t n, size_t *cap)
{
	void **p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	if ((p = realloc(*arr, ncap * sizeof(*p))) == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int
add_item(void ***arr, size_t *n, size_t *cap, void *item)
{
	if (grow_items(arr, *n, cap) != 0)
		return -ENOMEM;
	(*arr)[(*n)++] = item;
	return 0;
}

/* Adds a definition (first member: its name) to v: at the end, or in its
 * place by name when sorted. */
static int
put_item(void ***arr, size_t *n, size_t *cap, void *item, bool sorted)
{
	size_t at;
	bool found;

	if (!sorted)
		return add_item(arr, n, cap, item);
	if (grow_items(arr, *n, cap) != 0)
		return -ENOMEM;
	at = defs_named_pos(*arr, *n, *(char **)item, &found);
	memmove(*arr + at + 1, *arr + at, (*n - at) * sizeof(**arr));
	(*arr)[at] = item;
	(*n)++;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Where name is, or goes, in v[0..n) sorted by name: v holds the names
 * (deref false) or pointers to structs whose first member is their
 * "char *name".  *found says whether it is there.
 */
static size_t
name_pos(void *const *v, size_t n, const char *name, bool deref,
    bool *found)
{
	size_t lo = 0, hi = n, mid;
	int d;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		d = strcmp(name, deref ? *(char *const *)v[mid] : v[mid]);
		if (d == 0) {
			*found = true;
			return mid;
		}
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t
str_pos(char *const *v, size_t n, const char *name, bool *found)
{
	return name_pos((void *const *)v, n, name, false, found);
}

/* A set's list of bad job (or node) files: names and identities. */
struct badlist {
	char ***names;
	struct defs_fileid **fids;
	size_t *n;
};

static struct badlist
bad_list(struct defs_set *s, bool jobs)
{
	struct badlist b;

	b.names = jobs ? &s->bad_jobs : &s->bad_nodes;
	b.fids = jobs ? &s->bad_job_fids : &s->bad_node_fids;
	b.n = jobs ? &s->nbad_jobs : &s->nbad_nodes;
	return b;
}

/* Remembers the name and identity (l->fid) of a job or node file that is
 * present but could not be loaded (a reload keeps its previous
 * definition), in name order. */
static int
add_bad(struct loader *l, const char *stem, bool jobs)
{
	struct badlist b = bad_list(l->set, jobs);
	size_t *cap = jobs ? &l->badcap : &l->badnodecap, ocap = *cap, at;
	struct defs_fileid *f;
	char *name;
	bool found;

	/* out of memory, the load fails: the set goes with both lists */
	if (grow_items((void ***)b.names, *b.n, cap) != 0)
		return -ENOMEM;
	if (*cap != ocap) {
		if ((f = realloc(*b.fids, *cap * sizeof(*f))) == NULL)
			return -ENOMEM;
		*b.fids = f;
	}
	at = str_pos(*b.names, *b.n, stem, &found);
	if (found || (name = strdup(stem)) == NULL)
		return found ? 0 : -ENOMEM;
	memmove(*b.names + at + 1, *b.names + at, (*b.n - at) * sizeof(char *));
	memmove(*b.fids + at + 1, *b.fids + at, (*b.n - at) * sizeof(**b.fids));
	(*b.names)[at] = name;
	(*b.fids)[at] = l->fid;
	(*b.n)++;
	return 0;
}

/* Adds a job the load read: it holds the reference. */
static int
put_fresh_job(struct loader *l, struct job_def *job)
{
	struct defs_set *s = l->set;

	if (add_item((void ***)&s->fresh, &s->nfresh, &s->freshcap, job) != 0)
		return -ENOMEM;
	if (put_item((void ***)&s->jobs, &s->njobs, &l->jobcap, job,
	    l->sorted) == 0)
		return 0;
	s->nfresh--;
	return -ENOMEM;
}

/* Puts s in the table of distinct schedules (room made by the caller). */
static void
scheds_put(struct sched **v, size_t cap, struct sched *s)
{
	size_t i = (size_t)sched_hash(s) & (cap - 1);

	while (v[i] != NULL)
		i = (i + 1) & (cap - 1);
	v[i] = s;
}

/* Doubles the table of distinct schedules.  Returns 0 or -ENOMEM. */
static int
scheds_grow(struct loader *l)
{
	size_t i, ncap = l->capscheds ? l->capscheds * 2 : 1024;
	struct sched **v = calloc(ncap, sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < l->capscheds; i++)
		if (l->scheds[i] != NULL)
			scheds_put(v, ncap, l->scheds[i]);
	free(l->scheds);
	l->scheds = v;
	l->capscheds = ncap;
	return 0;
}

/*
 * Jobs of one directory with the same schedule share one (a struct sched
 * and its text are 160 bytes, and fleets repeat a few schedules): job's
 * takes the one seen first, or is remembered as the first.  Without memory
 * the job simply keeps its own.
 */
static void
share_sched(struct loader *l, struct job_def *job)
{
	size_t i;

	if (job->sched == NULL || ((l->nscheds + 1) * 2 > l->capscheds &&
	    scheds_grow(l) != 0))
		return;
	for (i = (size_t)sched_hash(job->sched) & (l->capscheds - 1);
	    l->scheds[i] != NULL; i = (i + 1) & (l->capscheds - 1))
		if (sched_same(l->scheds[i], job->sched)) {
			sched_free(job->sched);
			job->sched = sched_ref(l->scheds[i]);
			return;
		}
	l->scheds[i] = job->sched;
	l->nscheds++;
}

/* Parses the file just read and adds the result to the set. */
static int
load_parsed(struct loader *l, const char *path, const char *stem,
    size_t len, bool jobs)
{
	char err[MSG_LEN];
	struct pctx c;
	struct job_def *job = NULL;
	struct node_def *node = NULL;
	struct defs_set *s = l->set;
	int r;

	pctx_init(&c, path, err, sizeof(err), l->report, l->arg);
	c.tok = l->tok;
	s->nparsed++;
	r = jobs ? job_parse(&c, stem, l->buf, len, l->zone, &job) :
	    node_parse(&c, stem, l->buf, len, &node);
	if (r == -ENOMEM)
		return r;
	if (r != 0) {
		report(l, "error", path, "%s", err);
		return add_bad(l, stem, jobs);
	}
	if (jobs)
		share_sched(l, job);
	if (jobs && (job->source = strdup(path)) != NULL) {
		job->fid = l->fid;
		if (put_fresh_job(l, job) == 0)
			return 0;
	}
	if (!jobs && (node->source = strdup(path)) != NULL) {
		node->fid = l->fid;
		if (put_item((void ***)&s->nodes, &s->nnodes, &l->nodecap,
		    node, l->sorted) == 0)
			return 0;
	}
	job_free(job);
	defs_node_free(node);
	return -ENOMEM;
}

/* prev's job named stem, or NULL: when the names come in order, found by
 * walking prev's jobs along with them rather than by a search. */
static struct job_def *
prev_job(struct loader *l, const char *stem)
{
	const struct defs_set *p = l->prev;
	int c = 1;

	if (!l->in_order)
		return defs_find_job(p, stem);
	while (l->cursor < p->njobs &&
	    (c = strcmp(p->jobs[l->cursor]->name, stem)) < 0)
		l->cursor++;
	return l->cursor < p->njobs && c == 0 ? p->jobs[l->cursor] : NULL;
}

/*
 * A scan: shares prev's definition (or bad file) of stem when the file
 * still has the identity it had.  Returns 1 (shared), 0 (read it) or
 * -ENOMEM.
 */
static int
share_prev(struct loader *l, int dirfd, const char *name, const char *stem,
    bool jobs)
{
	struct badlist b = bad_list((struct defs_set *)l->prev, jobs);
	struct defs_set *s = l->set;
	struct defs_fileid fid;
	struct job_def *job;
	struct node_def *node;
	struct stat st;
	size_t at;
	bool found;

	if (fstatat(dirfd, name, &st, 0) != 0)
		return 0;
	fid_of(&st, &fid);
	at = str_pos(*b.names, *b.n, stem, &found);
	if (found && fid_eq(&(*b.fids)[at], &fid)) {
		l->fid = fid;
		return add_bad(l, stem, jobs) == 0 ? 1 : -ENOMEM;
	}
	if (jobs && (job = prev_job(l, stem)) != NULL &&
	    fid_eq(&job->fid, &fid))	/* shared: prev's reference */
		return add_item((void ***)&s->jobs, &s->njobs, &l->jobcap,
		    job) == 0 ? 1 : -ENOMEM;
	if (!jobs && (node = defs_find_node(l->prev, stem)) != NULL &&
	    fid_eq(&node->fid, &fid)) {
		if ((node = defs_node_dup(node)) != NULL &&
		    add_item((void ***)&s->nodes, &s->nnodes, &l->nodecap,
		    node) == 0)
			return 1;
		defs_node_free(node);
		return -ENOMEM;
	}
	return 0;
}

/* The file of stem could not be read (r): reports it and remembers it as
 * bad, except a file that is gone or not a regular one. */
static int
read_failed(struct loader *l, const char *path, const char *stem, bool jobs,
    int r)
{
	if (r == -ENOENT && l->sorted)
		return 0;	/* a named file is gone: dropped */
	if (r == ERR_INVALID) {
		report(l, "warning", path, "not a regular file (ignored)");
		return 0;
	}
	if (r == -ENOMEM)
		return r;
	if (r == ERR_TOOBIG)
		report(l, "error", path, "file too large (limit %d bytes)",
		    DEFS_FILE_MAX);
	else
		report(l, "error", path, "cannot read: %s", err_str(r));
	return add_bad(l, stem, jobs);
}

/* One directory entry: only "<valid name>.json" regular files count. */
static int
load_entry(struct loader *l, int dirfd, const char *dir, const char *name,
    bool jobs)
{
	char path[4096], stem[256], q[JFIELD_QUOTE_LEN];
	size_t nlen = strlen(name), len = 0;
	int r;

	if (name[0] == '.' || nlen <= 5 ||
	    strcmp(name + nlen - 5, ".json") != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(stem, sizeof(stem), "%.*s", (int)(nlen - 5), name);
	if (nlen - 5 >= sizeof(stem) || !defs_name_valid(stem)) {
		report(l, "warning", path, "invalid name %s (use 1-%d of A-Z "
		    "a-z 0-9 . _ -, not starting with . or -); file ignored",
		    jfield_quote(stem, q, sizeof(q)), DEFS_NAME_MAX);
		return 0;
	}
	if (l->prev != NULL && (r = share_prev(l, dirfd, name, stem, jobs)) != 0)
		return r < 0 ? r : 0;
	memset(&l->fid, 0, sizeof(l->fid));
	if (!jobs)
		l->node_reads++;
	if ((r = read_file(l, dirfd, name, &len)) != 0)
		return read_failed(l, path, stem, jobs, r);
	return load_parsed(l, path, stem, len, jobs);
}

/*
 * A directory's "*.json" names in one block (no malloc per name), then
 * sorted by their stem (the job's name: "a-b.json" sorts after "a.json"
 * as "a-b" does after "a"), so that files load, and errors are reported,
 * in name order.  While sorted, each name's "." before "json" is a NUL,
 * so that the stems compare with strcmp(); name_of() puts it back.
 */
struct dir_names {
	char *block;		/* "stem\0json\0" for each name */
	size_t len, cap;
	char **v;		/* into block, sorted */
	size_t n;
};

static int
cmp_stem(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The file name of a sorted stem ("stem\0json" made "stem.json" again). */
static const char *
name_of(char *stem)
{
	stem[strlen(stem)] = '.';
	return stem;
}

static int
names_add(struct dir_names *dn, const char *name)
{
	size_t nlen = strlen(name), ncap;
	char *p;

	/* the others are ignored, as load_entry() would */
	if (name[0] == '.' || nlen <= 5 || strcmp(name + nlen - 5, ".json"))
		return 0;
	for (ncap = dn->cap ? dn->cap : 65536; ncap < dn->len + nlen + 1;)
		ncap *= 2;
	if (ncap != dn->cap) {
		if ((p = realloc(dn->block, ncap)) == NULL)
			return -ENOMEM;
		dn->block = p;
		dn->cap = ncap;
	}
	memcpy(dn->block + dn->len, name, nlen + 1);
	dn->block[dn->len + nlen - 5] = '\0';	/* see struct dir_names */
	dn->len += nlen + 1;
	dn->n++;
	return 0;
}

/* Reads and sorts the names of d.  Returns 0, -errno or -ENOMEM. */
static int
names_read(DIR *d, struct dir_names *dn)
{
	struct dirent *de;
	size_t i, off;
	int r = 0;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			r = -errno;
			break;
		}
		if ((r = names_add(dn, de->d_name)) != 0)
			break;
	}
	if (r != 0 || (dn->v = calloc(dn->n + 1, sizeof(*dn->v))) == NULL)
		return r != 0 ? r : -ENOMEM;
	for (i = 0, off = 0; i < dn->n; i++) {
		dn->v[i] = dn->block + off;
		off += strlen(dn->v[i]) + 6;	/* stem, NUL, "json" */
	}
	qsort(dn->v, dn->n, sizeof(*dn->v), cmp_stem);
	return 0;
}

/*
 * The files of a big directory load on LOAD_THREADS threads, each with its
 * own loader (token, buffer, set) over a contiguous run of the sorted
 * names; what they report is kept and told afterwards, thread by thread,
 * so in the order one thread would have told it.
 */
#define LOAD_THREADS		2
#define LOAD_THREADS_MIN	1024	/* fewer files: one thread */

struct load_diag {
	struct load_diag *next;
	const char *level, *file, *msg;	/* in text */
	char text[];
};

struct load_part {
	struct loader l;	/* its own set, token and buffer */
	int dirfd;
	const char *dir;
	char **names;
	size_t n;
	bool jobs;
	struct load_diag *diags, **dtail;
	int rc;
	pthread_t th;
};

/* report() of a part: kept for its turn.  A message without memory is
 * lost, not the file's error count. */
static void
part_report(void *arg, const char *level, const char *file, const char *msg)
{
	struct load_part *p = arg;
	size_t ll = strlen(level) + 1, fl = strlen(file) + 1;
	struct load_diag *d = malloc(sizeof(*d) + ll + fl + strlen(msg) + 1);

	if (d == NULL)
		return;
	memcpy(d->text, level, ll);
	memcpy(d->text + ll, file, fl);
	memcpy(d->text + ll + fl, msg, strlen(msg) + 1);
	d->level = d->text;
	d->file = d->text + ll;
	d->msg = d->text + ll + fl;
	d->next = NULL;
	*p->dtail = d;
	p->dtail = &d->next;
}

static void *
part_run(void *arg)
{
	struct load_part *p = arg;
	size_t i;

	for (i = 0; i < p->n && p->rc == 0; i++)
		p->rc = load_entry(&p->l, p->dirfd, p->dir,
		    name_of(p->names[i]), p->jobs);
	return NULL;
}

/* Makes room for more items in *arr (n used, *cap allocated). */
static int
reserve_items(void ***arr, size_t n, size_t *cap, size_t more)
{
	void **p;

	if (n + more <= *cap)
		return 0;
	if ((p = reallocarray(*arr, n + more, sizeof(*p))) == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = n + more;
	return 0;
}

/* Moves n items of *src to the end of *arr (room reserved). */
static void
move_items(void **arr, size_t *na, void **src, size_t *n)
{
	if (*n > 0)
		memcpy(arr + *na, src, *n * sizeof(*src));
	*na += *n;
	*n = 0;
}

/* Hands a part's definitions over to l (after those already there) and
 * tells its reports; frees what is left of the part. */
static int
part_merge(struct loader *l, struct load_part *p, int r)
{
	struct defs_set *ps = p->l.set, *s = l->set;
	struct load_diag *d, *next;
	size_t i;

	for (d = p->diags; d != NULL; d = next) {
		next = d->next;
		if (l->report != NULL)
			l->report(l->arg, d->level, d->file, d->msg);
		free(d);
	}
	if (r == 0)
		r = p->rc;
	if (r == 0 && ps != NULL)
		r = reserve_items((void ***)&s->jobs, s->njobs, &l->jobcap,
		    ps->njobs) || reserve_items((void ***)&s->nodes, s->nnodes,
		    &l->nodecap, ps->nnodes) ? -ENOMEM : 0;
	if (r == 0 && ps != NULL) {
		move_items((void **)s->jobs, &s->njobs, (void **)ps->jobs,
		    &ps->njobs);
		move_items((void **)s->nodes, &s->nnodes, (void **)ps->nodes,
		    &ps->nnodes);
		s->nerrors += ps->nerrors;
		s->nparsed += ps->nparsed;
		l->node_reads += p->l.node_reads;
	}
	/* bad files (few) one by one: their names and file identities go
	 * into l's two parallel lists together */
	for (i = 0; r == 0 && ps != NULL && i < ps->nbad_jobs; i++) {
		l->fid = ps->bad_job_fids[i];
		r = add_bad(l, ps->bad_jobs[i], true);
	}
	for (i = 0; r == 0 && ps != NULL && i < ps->nbad_nodes; i++) {
		l->fid = ps->bad_node_fids[i];
		r = add_bad(l, ps->bad_nodes[i], false);
	}
	if (p->l.tok != NULL)
		json_tokener_free(p->l.tok);
	free(p->l.buf);
	free(p->l.scheds);
	defs_set_free(ps);
	return r;
}

/* Loads the sorted names on LOAD_THREADS threads (the caller's is one). */
static int
load_parts(struct loader *l, int dirfd, const char *dir,
    const struct dir_names *dn, bool jobs)
{
	struct load_part parts[LOAD_THREADS];
	size_t i, at = 0, started = 0;
	int r = 0;

	memset(parts, 0, sizeof(parts));
	for (i = 0; i < LOAD_THREADS; i++) {
		struct load_part *p = &parts[i];

		p->l.zone = l->zone;
		p->l.report = l->report != NULL ? part_report : NULL;
		p->l.arg = p;
		p->dtail = &p->diags;
		p->dirfd = dirfd;
		p->dir = dir;
		p->jobs = jobs;
		p->names = dn->v + at;
		p->n = (dn->n - at) / (LOAD_THREADS - i);
		at += p->n;
		if ((p->l.set = calloc(1, sizeof(*p->l.set))) == NULL ||
		    (p->l.tok = json_tokener_new()) == NULL)
			r = -ENOMEM;
	}
	for (i = 1; r == 0 && i < LOAD_THREADS; i++)
		if (pthread_create(&parts[i].th, NULL, part_run, &parts[i]))
			r = -ENOMEM;
		else
			started++;
	if (r == 0)
		part_run(&parts[0]);
	for (i = 1; i <= started; i++)
		pthread_join(parts[i].th, NULL);
	for (i = 0; i < LOAD_THREADS; i++)
		r = part_merge(l, &parts[i], r);
	return r;
}

/* Every "*.json" file of dir into l->set, in name order. */
static int
load_dir(struct loader *l, const char *dir, bool jobs)
{
	struct dir_names dn;
	size_t i;
	DIR *d;
	int r;

	if ((d = opendir(dir)) == NULL)
		return -errno;
	memset(&dn, 0, sizeof(dn));
	/* a fresh load only: a scan shares prev's definitions (share_prev),
	 * which the parts' own loaders do not know */
	if ((r = names_read(d, &dn)) == 0 && dn.n >= LOAD_THREADS_MIN &&
	    l->prev == NULL && !l->sorted)
		r = load_parts(l, dirfd(d), dir, &dn, jobs);
	else
		for (i = 0; r == 0 && i < dn.n; i++)
			r = load_entry(l, dirfd(d), dir, name_of(dn.v[i]),
			    jobs);
	free(dn.v);
	free(dn.block);
	free(l->scheds);	/* shared within a directory */
	l->scheds = NULL;
	l->nscheds = l->capscheds = 0;
	closedir(d);
	return r;
}

static void
free_names(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* The names of a directory's "*.json" entries (not dotfiles), without
 * ".json", sorted. */
static int
dir_stems(DIR *d, char ***out, size_t *np)
{
	struct dirent *de;
	size_t len, n = 0, cap = 0;
	char **v = NULL, *stem = NULL;
	int r = 0;

	while (r == 0) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			r = -errno;
			break;
		}
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if ((stem = strndup(de->d_name, len - 5)) == NULL ||
		    add_item((void ***)&v, &n, &cap, stem) != 0) {
			free(stem);
			r = -ENOMEM;
		}
	}
	if (r != 0) {
		free_names(v, n);
		return r;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	*np = n;
	return 0;
}

/* A scan of the jobs directory in name order, beside prev's jobs: the
 * set's jobs come out sorted. */
static int
load_dir_in_order(struct loader *l, const char *dir)
{
	char file[300], **stems = NULL;	/* a d_name: 255 at most */
	size_t i, n = 0;
	DIR *d;
	int r;

	if ((d = opendir(dir)) == NULL)
		return -errno;
	r = dir_stems(d, &stems, &n);
	l->in_order = true;
	for (i = 0; r == 0 && i < n; i++) {
		snprintf(file, sizeof(file), "%s.json", stems[i]);
		r = load_entry(l, dirfd(d), dir, file, true);
	}
	l->in_order = false;
	free_names(stems, n);
	closedir(d);
	return r;
}

static int
cmp_job(const void *a, const void *b)
{
	return strcmp((*(struct job_def *const *)a)->name,
	    (*(struct job_def *const *)b)->name);
}

static int
cmp_node(const void *a, const void *b)
{
	return strcmp((*(struct node_def *const *)a)->name,
	    (*(struct node_def *const *)b)->name);
}

/* Every role of every node, sorted, for binary search. */
static const char **
all_roles(const struct defs_set *s, size_t *np)
{
	const char **v;
	size_t i, j, n = 0;

	for (i = 0; i < s->nnodes; i++)
		for (j = 0; s->nodes[i]->roles[j] != NULL; j++)
			n++;
	if ((v = malloc((n + 1) * sizeof(*v))) == NULL)
		return NULL;
	for (n = 0, i = 0; i < s->nnodes; i++)
		for (j = 0; s->nodes[i]->roles[j] != NULL; j++)
			v[n++] = s->nodes[i]->roles[j];
	qsort(v, n, sizeof(*v), cmp_str);
	*np = n;
	return v;
}

/* Warns about a job naming unknown nodes or roles no node has. */
static void
check_job(struct loader *l, const struct job_def *job, const char **roles,
    size_t nroles)
{
	char q[JFIELD_QUOTE_LEN];
	size_t j;

	for (j = 0; job->nodes != NULL && job->nodes[j] != NULL; j++)
		if (defs_find_node(l->set, job->nodes[j]) == NULL)
			report(l, "warning", job->source, "policy.nodes: "
			    "no node named %s",
			    jfield_quote(job->nodes[j], q, sizeof(q)));
	for (j = 0; job->roles != NULL && job->roles[j] != NULL; j++)
		if (bsearch(&job->roles[j], roles, nroles, sizeof(*roles),
		    cmp_str) == NULL)
			report(l, "warning", job->source, "policy.roles: "
			    "no node has role %s",
			    jfield_quote(job->roles[j], q, sizeof(q)));
}

/* Checks every job, or (all false) the ones this load parsed. */
static int
cross_check(struct loader *l, bool all)
{
	struct defs_set *s = l->set;
	const char **roles;
	size_t i, nroles = 0;

	if ((roles = all_roles(s, &nroles)) == NULL)
		return -ENOMEM;
	for (i = 0; i < (all ? s->njobs : s->nfresh); i++)
		check_job(l, all ? s->jobs[i] : s->fresh[i], roles, nroles);
	free(roles);
	return 0;
}

static int
loader_init(struct loader *l, const struct tz *zone, defs_report_fn fn,
    void *arg)
{
	static uint64_t gens;

	memset(l, 0, sizeof(*l));
	l->zone = zone;
	l->report = fn;
	l->arg = arg;
	if ((l->set = calloc(1, sizeof(*l->set))) == NULL ||
	    (l->tok = json_tokener_new()) == NULL)
		return -ENOMEM;
	l->set->gen = __atomic_add_fetch(&gens, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Hands the set over (r == 0) or frees it; frees the loader. */
static int
loader_done(struct loader *l, int r, struct defs_set **out)
{
	if (r == 0) {
		l->set->nerrors = (int)(l->set->nbad_jobs +
		    l->set->nbad_nodes);
		*out = l->set;
		l->set = NULL;
	}
	json_tokener_free(l->tok);
	free(l->buf);
	free(l->scheds);	/* a scan's or a delta's (load_dir frees its own) */
	defs_set_free(l->set);
	return r;
}

/* Nodes that are not a kept copy of a bad file's old definition. */
static size_t
good_nodes(const struct defs_set *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nnodes; i++)
		if (!defs_node_is_bad(s, s->nodes[i]->name))
			n++;
	return n;
}

/* Adds a copy of name to the set's changed jobs. */
static int
add_changed(struct loader *l, const char *name)
{
	struct defs_set *s = l->set;
	char *c = strdup(name);

	if (c != NULL && add_item((void ***)&s->changed_jobs,
	    &s->nchanged_jobs, &l->changedcap, c) == 0)
		return 0;
	free(c);
	return -ENOMEM;
}

/*
 * A scan made from prev, as a delta: the names whose definition is not
 * prev's (new, changed, gone, broken, gone while broken), and prev's jobs
 * it does not share (dropped), from one merge of the two sorted lists
 * where shared pointers compare equal.
 */
static int
scan_changes(struct loader *l)
{
	struct defs_set *s = l->set;
	const struct defs_set *p = l->prev;
	size_t i = 0, j = 0;
	int c;

	while (i < p->njobs || j < s->njobs) {
		if (i < p->njobs && j < s->njobs && p->jobs[i] == s->jobs[j]) {
			i++, j++;
			continue;
		}
		c = i == p->njobs ? 1 : j == s->njobs ? -1 :
		    strcmp(p->jobs[i]->name, s->jobs[j]->name);
		if (c <= 0 && add_item((void ***)&s->dropped, &s->ndropped,
		    &s->droppedcap, p->jobs[i]) != 0)
			return -ENOMEM;
		if (add_changed(l, c <= 0 ? p->jobs[i]->name :
		    s->jobs[j]->name) != 0)
			return -ENOMEM;
		i += c <= 0;
		j += c >= 0;
	}
	for (i = 0; i < p->nbad_jobs; i++)
		if (!defs_job_is_bad(s, p->bad_jobs[i]) &&
		    defs_find_job(s, p->bad_jobs[i]) == NULL &&
		    add_changed(l, p->bad_jobs[i]) != 0)
			return -ENOMEM;
	if (s->nchanged_jobs > 0)
		qsort(s->changed_jobs, s->nchanged_jobs, sizeof(char *),
		    cmp_str);
	return 0;
}

/* True if s's jobs are in name order already, as load_dir() reads them:
 * one pass instead of a sort (a million jobs: 20 million compares). */
static bool
jobs_sorted(const struct defs_set *s)
{
	size_t i;

	for (i = 1; i < s->njobs; i++)
		if (strcmp(s->jobs[i - 1]->name, s->jobs[i]->name) >= 0)
			return false;
	return true;
}

/* Reads both directories, sharing what prev (or NULL) has unchanged. */
static int
load_scan(struct loader *l, const char *jobs_dir, const char *nodes_dir)
{
	struct defs_set *s = l->set;
	const struct defs_set *p = l->prev;
	int r;

	if ((r = load_dir(l, nodes_dir, false)) != 0 ||
	    (r = p != NULL ? load_dir_in_order(l, jobs_dir) :
	    load_dir(l, jobs_dir, true)) != 0)
		return r;
	if (s->njobs > 0 && p == NULL && !jobs_sorted(s))
		qsort(s->jobs, s->njobs, sizeof(*s->jobs), cmp_job);
	if (s->nnodes > 0)
		qsort(s->nodes, s->nnodes, sizeof(*s->nodes), cmp_node);
	s->nodes_changed = p == NULL || l->node_reads > 0 ||
	    s->nnodes != good_nodes(p) || s->nbad_nodes != p->nbad_nodes;
	if (p != NULL && (r = scan_changes(l)) != 0)
		return r;
	return cross_check(l, s->nodes_changed);
}

int
defs_load(const char *jobs_dir, const char *nodes_dir,
    const struct tz *default_zone, struct defs_set **out,
    defs_report_fn report_fn, void *arg)
{
	struct loader l;
	int r;

	*out = NULL;
	if ((r = loader_init(&l, default_zone, report_fn, arg)) == 0)
		r = load_scan(&l, jobs_dir, nodes_dir);
	return loader_done(&l, r, out);
}

/* ---- incremental reloads ---- */

void
defs_changes_clear(struct defs_changes *ch)
{
	size_t i;

	for (i = 0; i < ch->njobs; i++)
		free(ch->jobs[i]);
	for (i = 0; i < ch->nnodes; i++)
		free(ch->nodes[i]);
	free(ch->jobs);
	free(ch->nodes);
	memset(ch, 0, sizeof(*ch));
}

void
defs_changes_add_name(struct defs_changes *ch, bool jobs, const char *name)
{
	char ***v = jobs ? &ch->jobs : &ch->nodes, **p, *s = NULL;
	size_t *n = jobs ? &ch->njobs : &ch->nnodes;

	if (ch->all || !defs_name_valid(name))
		return;
	if (ch->njobs + ch->nnodes >= DEFS_CHANGES_MAX ||
	    (s = strdup(name)) == NULL ||
	    (p = realloc(*v, (*n + 1) * sizeof(*p))) == NULL) {
		free(s);
		defs_changes_clear(ch);
		ch->all = true;		/* too many to name: scan */
		return;
	}
	p[(*n)++] = s;
	*v = p;
}

bool
defs_changes_add_file(struct defs_changes *ch, bool jobs, const char *file)
{
	char stem[DEFS_NAME_MAX + 1];
	size_t len = strlen(file);

	if (file[0] == '.' || len <= 5 || len - 5 > DEFS_NAME_MAX ||
	    strcmp(file + len - 5, ".json") != 0)
		return false;
	snprintf(stem, sizeof(stem), "%.*s", (int)(len - 5), file);
	defs_changes_add_name(ch, jobs, stem);
	return true;
}

/* A delta's start: prev's jobs shared (no references taken), its nodes
 * copied (not the kept copies of bad files' old definitions), its bad
 * files remembered. */
static int
delta_init(struct loader *l, struct defs_set *prev, size_t extra)
{
	struct defs_set *s = l->set;
	struct node_def *n;
	size_t i;

	s->base = prev;
	s->base_gen = prev->gen;
	s->borrowed = true;
	l->sorted = true;
	l->jobcap = prev->njobs + extra;
	if ((s->jobs = malloc((l->jobcap + 1) * sizeof(*s->jobs))) == NULL)
		return -ENOMEM;
	if (prev->njobs > 0)
		memcpy(s->jobs, prev->jobs, prev->njobs * sizeof(*s->jobs));
	s->njobs = prev->njobs;
	for (i = 0; i < prev->nnodes; i++) {
		if (defs_node_is_bad(prev, prev->nodes[i]->name))
			continue;
		if ((n = defs_node_dup(prev->nodes[i])) == NULL ||
		    add_item((void ***)&s->nodes, &s->nnodes, &l->nodecap,
		    n) != 0) {
			defs_node_free(n);
			return -ENOMEM;
		}
	}
	for (i = 0; i < prev->nbad_jobs + prev->nbad_nodes; i++) {
		l->fid = i < prev->nbad_jobs ? prev->bad_job_fids[i] :
		    prev->bad_node_fids[i - prev->nbad_jobs];
		if (add_bad(l, i < prev->nbad_jobs ? prev->bad_jobs[i] :
		    prev->bad_nodes[i - prev->nbad_jobs],
		    i < prev->nbad_jobs) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* Takes stem out of the delta's jobs (or nodes) and bad files. */
static int
delta_drop(struct loader *l, const char *stem, bool jobs)
{
	struct defs_set *s = l->set;
	struct badlist b = bad_list(s, jobs);
	size_t at;
	bool found;

	at = jobs ? defs_named_pos((void *const *)s->jobs, s->njobs, stem,
	    &found) : defs_named_pos((void *const *)s->nodes, s->nnodes, stem,
	    &found);
	if (found && jobs) {	/* prev's: its reference goes on adoption */
		if (add_item((void ***)&s->dropped, &s->ndropped,
		    &s->droppedcap, s->jobs[at]) != 0)
			return -ENOMEM;
		memmove(s->jobs + at, s->jobs + at + 1,
		    (--s->njobs - at) * sizeof(*s->jobs));
	} else if (found) {
		defs_node_free(s->nodes[at]);
		memmove(s->nodes + at, s->nodes + at + 1,
		    (--s->nnodes - at) * sizeof(*s->nodes));
	}
	at = str_pos(*b.names, *b.n, stem, &found);
	if (found) {
		free((*b.names)[at]);
		(*b.n)--;
		memmove(*b.names + at, *b.names + at + 1,
		    (*b.n - at) * sizeof(char *));
		memmove(*b.fids + at, *b.fids + at + 1,
		    (*b.n - at) * sizeof(**b.fids));
	}
	return 0;
}

/* Re-reads the named files of one directory (names sorted). */
static int
delta_dir(struct loader *l, const char *dir, char **names, size_t n,
    bool jobs)
{
	char file[DEFS_NAME_MAX + 8];
	struct defs_set *s = l->set;
	size_t i;
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	for (i = 0; r == 0 && i < n; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (jobs && (s->changed_jobs[s->nchanged_jobs] =
		    strdup(names[i])) == NULL) {
			r = -ENOMEM;
			break;
		}
		s->nchanged_jobs += jobs;
		snprintf(file, sizeof(file), "%s.json", names[i]);
		if ((r = delta_drop(l, names[i], jobs)) == 0)
			r = load_entry(l, fd, dir, file, jobs);
	}
	close(fd);
	return r;
}

/* A sorted copy of a list of names (the names stay the caller's). */
static char **
sorted_names(char *const *v, size_t n)
{
	char **c = malloc((n + 1) * sizeof(*c));

	if (c == NULL)
		return NULL;
	if (n > 0) {
		memcpy(c, v, n * sizeof(*c));
		qsort(c, n, sizeof(*c), cmp_str);
	}
	return c;
}

/* The delta of prev by the files ch names. */
static int
load_delta(struct loader *l, const char *jobs_dir, const char *nodes_dir,
    struct defs_set *prev, const struct defs_changes *ch)
{
	struct defs_set *s = l->set;
	char **jobs = sorted_names(ch->jobs, ch->njobs);
	char **nodes = sorted_names(ch->nodes, ch->nnodes);
	int r = -ENOMEM;

	s->changed_jobs = calloc(ch->njobs + 1, sizeof(*s->changed_jobs));
	if (jobs == NULL || nodes == NULL || s->changed_jobs == NULL ||
	    (r = delta_init(l, prev, ch->njobs)) != 0)
		goto out;
	s->nodes_changed = ch->nnodes > 0;
	if ((r = delta_dir(l, nodes_dir, nodes, ch->nnodes, false)) != 0 ||
	    (r = delta_dir(l, jobs_dir, jobs, ch->njobs, true)) != 0)
		goto out;
	r = cross_check(l, s->nodes_changed);
 out:
	free(jobs);
	free(nodes);
	return r;
}

int
defs_reload(const char *jobs_dir, const char *nodes_dir,
    const struct tz *default_zone, struct defs_set *prev,
    const struct defs_changes *ch, struct defs_set **out,
    defs_report_fn report_fn, void *arg)
{
	struct loader l;
	int r;

	*out = NULL;
	if ((r = loader_init(&l, default_zone, report_fn, arg)) != 0)
		return loader_done(&l, r, out);
	if (prev == NULL || ch->full)
		r = load_scan(&l, jobs_dir, nodes_dir);
	else if (ch->all) {
		l.prev = prev;
		l.set->base = prev;
		l.set->base_gen = prev->gen;
		l.set->borrowed = true;
		r = load_scan(&l, jobs_dir, nodes_dir);
	} else
		r = load_delta(&l, jobs_dir, nodes_dir, prev, ch);
	return loader_done(&l, r, out);
}

void
defs_set_replace(struct defs_set *old, struct defs_set *set)
{
	size_t i;

	if (set->borrowed && old != NULL && set->base == old &&
	    old->gen == set->base_gen) {
		/* old's references to what both share become set's */
		for (i = 0; i < set->ndropped; i++)
			defs_job_unref(set->dropped[i]);
		old->njobs = 0;
	} else if (set->borrowed) {
		/* not made from old: references of its own (the fresh ones
		 * it has already) */
		for (i = 0; i < set->njobs; i++)
			defs_job_ref(set->jobs[i]);
		for (i = 0; i < set->nfresh; i++)
			defs_job_unref(set->fresh[i]);
	}
	set->borrowed = false;
	set->base = NULL;
	set->ndropped = 0;
	defs_set_free(old);
}

/*
 * Binary search by name in an array of definitions sorted by name.  Both
 * struct job_def and struct node_def start with their name, and a pointer
 * to a struct converts to a pointer to its first member.
 */
size_t
defs_named_pos(void *const *v, size_t n, const char *name, bool *found)
{
	return name_pos(v, n, name, true, found);
}

ssize_t
defs_find_named(void *const *v, size_t n, const char *name)
{
	bool found;
	size_t i = defs_named_pos(v, n, name, &found);

	return found ? (ssize_t)i : -1;
}

struct job_def *
defs_find_job(const struct defs_set *set, const char *name)
{
	ssize_t i = defs_find_named((void *const *)set->jobs, set->njobs, name);

	return i < 0 ? NULL : set->jobs[i];
}

ssize_t
defs_node_index(const struct defs_set *set, const char *name)
{
	return defs_find_named((void *const *)set->nodes, set->nnodes, name);
}

struct node_def *
defs_find_node(const struct defs_set *set, const char *name)
{
	ssize_t i = defs_node_index(set, name);

	return i < 0 ? NULL : set->nodes[i];
}

void
defs_set_free(struct defs_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	/* a delta not adopted holds references to its fresh jobs only */
	for (i = 0; i < (set->borrowed ? set->nfresh : set->njobs); i++)
		defs_job_unref(set->borrowed ? set->fresh[i] : set->jobs[i]);
	for (i = 0; i < set->nchanged_jobs; i++)
		free(set->changed_jobs[i]);
	free(set->changed_jobs);
	free(set->fresh);
	free(set->dropped);
	free(set->bad_job_fids);
	free(set->bad_node_fids);
	for (i = 0; i < set->nnodes; i++)
		defs_node_free(set->nodes[i]);
	for (i = 0; i < set->nbad_jobs; i++)
		free(set->bad_jobs[i]);
	for (i = 0; i < set->nbad_nodes; i++)
		free(set->bad_nodes[i]);
	free(set->bad_nodes);
	free(set->bad_jobs);
	free(set->jobs);
	free(set->nodes);
	free(set);
}

/* True if name is in the sorted list v of n names. */
static bool
in_sorted(char *const *v, size_t n, const char *name)
{
	return n > 0 && bsearch(&name, v, n, sizeof(*v), cmp_str) != NULL;
}

bool
defs_job_is_bad(const struct defs_set *set, const char *name)
{
	return in_sorted(set->bad_jobs, set->nbad_jobs, name);
}

bool
defs_node_is_bad(const struct defs_set *set, const char *name)
{
	return in_sorted(set->bad_nodes, set->nbad_nodes, name);
}

int
defs_set_keep_node(struct defs_set *set, const struct node_def *old)
{
	struct node_def **v, *n;

	if (defs_find_node(set, old->name) != NULL)
		return ERR_EXISTS;
	if ((n = defs_node_dup(old)) == NULL)
		return -ENOMEM;
	if ((v = realloc(set->nodes, (set->nnodes + 1) * sizeof(*v))) == NULL) {
		defs_node_free(n);
		return -ENOMEM;
	}
	set->nodes = v;
	set->nodes[set->nnodes++] = n;
	qsort(set->nodes, set->nnodes, sizeof(*set->nodes), cmp_node);
	return 0;
}
