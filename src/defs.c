/*
 * defs.c - job and node definitions: one JSON file each, parsed with json-c
 * in strict mode into immutable structs.
 *
 * Scalar fields are described by tables (struct fspec: key, type, offset of
 * the target, bounds) walked by one generic function; the same tables list
 * the known keys, so anything else in an object is reported as a warning and
 * ignored.  Structured fields (policy, schedule, command, http, environment)
 * have their own small parsers.  Every error names the field by its dotted
 * path ("policy.roles[2]: expected a string, got integer"), and values
 * echoed back are truncated and have control characters escaped.
 *
 * defs_load() reads both directories with one reusable buffer, parses each
 * "*.json" file, reports and skips bad ones, sorts the results by name for
 * binary search, and cross-checks jobs against nodes (warnings only).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "distcron/url.h"
#include "distcron/jsontext.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define DUR_MAX_MS	(INT64_C(100) * 365 * 86400 * 1000)	/* as dur.c */
#define QUOTE_MAX	60		/* input bytes echoed in a message */
#define QUOTE_BUFLEN	(QUOTE_MAX * 4 + 16)
#define PATH_LEN	256		/* a field path: "policy.roles[2]" */
#define MSG_LEN		512
#define OUTPUT_MIN	1024
#define OUTPUT_MAX	(64 * 1024 * 1024)
#define KNOWN_HOSTS	SYSCONFDIR "/distcron/known_hosts"
#define POLICY_HINT	"write \"policy\": {\"roles\": [\"web\"]} or " \
			"{\"nodes\": [\"node1\"]}"

/* Where diagnostics go while one definition is parsed. */
struct pctx {
	const char *file;	/* name or path given to report() */
	char *err;
	size_t errlen;
	defs_report_fn report;
	void *arg;
	struct json_tokener *tok;	/* reused by the loader, or NULL */
};

/* How one scalar field is parsed and where it is stored. */
enum ftype { F_CUSTOM, F_STR, F_PATH, F_BOOL, F_INT, F_I64, F_DUR, F_ENUM,
    F_SIZE };

struct fspec {
	const char *key;
	enum ftype type;
	size_t off;		/* offset of the target in its struct */
	int64_t min, max;	/* numbers; F_DUR in ms; F_STR: min length */
	const char *const *names;	/* F_ENUM, or allowed F_STR values */
};

static int fail(struct pctx *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct pctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- diagnostics ---- */

/* Messages are one line: control characters from other modules become '?'. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Writes "path: message" to the error buffer; returns ERR_INVALID. */
static int
fail(struct pctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (c->err == NULL || c->errlen == 0)
		return ERR_INVALID;
	if (path != NULL)
		n = snprintf(c->err, c->errlen, "%s: ", path);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	one_line(c->err);
	return ERR_INVALID;
}

static int
oom(struct pctx *c)
{
	fail(c, NULL, "out of memory");
	return -ENOMEM;
}

static void
warn(struct pctx *c, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	if (c->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	c->report(c->arg, "warning", c->file, msg);
}

/*
 * Quotes s for a message: at most QUOTE_MAX bytes (never splitting a UTF-8
 * sequence), then "..."; quotes, backslashes and control characters escaped.
 * out must hold QUOTE_BUFLEN bytes.
 */
static const char *
quote(const char *s, char *out, size_t outlen)
{
	size_t i, o = 0;
	unsigned char ch;

	if (s == NULL)
		s = "";
	out[o++] = '"';
	for (i = 0; s[i] != '\0' && o + 10 <= outlen; i++) {
		ch = (unsigned char)s[i];
		if (i >= QUOTE_MAX && (ch & 0xc0) != 0x80) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n' || ch == '\t' || ch == '\r') {
			out[o++] = '\\';
			out[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    ch);
		} else
			out[o++] = (char)ch;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static const char *
type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:	return "null";
	case json_type_boolean:	return "boolean";
	case json_type_double:	return "number";
	case json_type_int:	return "integer";
	case json_type_object:	return "object";
	case json_type_array:	return "array";
	case json_type_string:	return "string";
	}
	return "unknown";
}

static int
type_error(struct pctx *c, const char *path, const char *want, json_object *v)
{
	return fail(c, path, "expected %s, got %s", want, type_name(v));
}

/* Formats "\"a\", \"b\" or \"c\"" from a NULL-terminated list. */
static void
name_list(const char *const *names, char *out, size_t outlen)
{
	size_t i, o = 0;
	int n;

	out[0] = '\0';
	for (i = 0; names[i] != NULL && o < outlen; i++) {
		n = snprintf(out + o, outlen - o, "%s\"%s\"", i == 0 ? "" :
		    names[i + 1] == NULL ? " or " : ", ", names[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

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

static void
strv_free(char **sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; sv[i] != NULL; i++)
		free(sv[i]);
	free(sv);
}

/* A member of obj, or NULL when absent or JSON null (as in distcrond). */
static json_object *
field(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static void
join_path(char *out, const char *pre, const char *key)
{
	snprintf(out, PATH_LEN, "%s%s", pre, key);
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

/* ---- typed values ---- */

/* A string without embedded NUL; the pointer is owned by v. */
static int
val_cstr(struct pctx *c, json_object *v, const char *path, const char **out)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return type_error(c, path, "a string", v);
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return fail(c, path, "contains a NUL character");
	*out = s;
	return 0;
}

/* A copy of a string of at least minlen bytes, replacing *out. */
static int
val_str(struct pctx *c, json_object *v, const char *path, size_t minlen,
    char **out)
{
	const char *s;
	char *dup;
	int r;

	if ((r = val_cstr(c, v, path, &s)) != 0)
		return r;
	if (strlen(s) < minlen)
		return fail(c, path, "must not be empty");
	if ((dup = strdup(s)) == NULL)
		return oom(c);
	free(*out);
	*out = dup;
	return 0;
}

static int
val_bool(struct pctx *c, json_object *v, const char *path, bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return type_error(c, path, "a boolean", v);
	*out = json_object_get_boolean(v);
	return 0;
}

static int
val_int(struct pctx *c, json_object *v, const char *path, int64_t min,
    int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return type_error(c, path, "an integer", v);
	n = json_object_get_int64(v);
	if (n < min || n > max || (n == INT64_MAX &&
	    json_object_get_uint64(v) > (uint64_t)INT64_MAX))
		return fail(c, path, "%s out of range %lld-%lld",
		    json_object_get_string(v), (long long)min, (long long)max);
	*out = n;
	return 0;
}

/* One of names (by index). */
static int
val_enum(struct pctx *c, json_object *v, const char *path,
    const char *const *names, int *out)
{
	char q[QUOTE_BUFLEN], list[128];
	const char *s;
	int i, r;

	if ((r = val_cstr(c, v, path, &s)) != 0)
		return r;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	name_list(names, list, sizeof(list));
	return fail(c, path, "unknown value %s (expected %s)",
	    quote(s, q, sizeof(q)), list);
}

/* A duration: a string such as "90s" or "1h30m", or integer seconds. */
static int
val_dur(struct pctx *c, json_object *v, const char *path, int64_t min,
    int64_t *out)
{
	char q[QUOTE_BUFLEN], txt[32];
	const char *s, *errstr = NULL;
	int64_t ms;

	if (json_object_is_type(v, json_type_int)) {
		ms = json_object_get_int64(v);
		if (ms < 0 || ms > DUR_MAX_MS / 1000)
			return fail(c, path, "%s seconds out of range 0-%lld",
			    json_object_get_string(v),
			    (long long)(DUR_MAX_MS / 1000));
		ms *= 1000;
	} else if (json_object_is_type(v, json_type_string)) {
		if (val_cstr(c, v, path, &s) != 0)
			return ERR_INVALID;
		if (dur_parse(s, &ms, &errstr) != 0)
			return fail(c, path, "invalid duration %s: %s",
			    quote(s, q, sizeof(q)), errstr);
	} else
		return type_error(c, path,
		    "a duration (\"90s\", \"1h30m\") or integer seconds", v);
	if (ms < min) {
		dur_format(min, txt, sizeof(txt));
		return fail(c, path, "must be at least %s", txt);
	}
	*out = ms;
	return 0;
}

/* A byte count: an integer, or a string with a unit. */
static int
val_size(struct pctx *c, json_object *v, const char *path, int64_t min,
    int64_t max, size_t *out)
{
	char q[QUOTE_BUFLEN];
	const char *s, *shown;
	int64_t n = 0;

	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		shown = json_object_get_string(v);
	} else if (json_object_is_type(v, json_type_string)) {
		if (val_cstr(c, v, path, &s) != 0)
			return ERR_INVALID;
		shown = quote(s, q, sizeof(q));
		if (dur_parse_size(s, &n) != 0)
			return fail(c, path, "invalid size %s (use bytes or "
			    "a unit: \"512k\", \"1M\", \"1MiB\", \"64KB\")",
			    shown);
	} else
		return type_error(c, path, "a size (1048576, \"512k\", \"1M\")",
		    v);
	if (n < min || n > max)
		return fail(c, path, "%s out of range %lld-%lld bytes", shown,
		    (long long)min, (long long)max);
	*out = (size_t)n;
	return 0;
}

/* An array of strings, at least minn of them, each non-empty if asked. */
static int
val_strv(struct pctx *c, json_object *v, const char *path, size_t minn,
    bool nonempty, char ***out)
{
	char ep[PATH_LEN], **sv;
	size_t i, n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return type_error(c, path, "an array of strings", v);
	n = json_object_array_length(v);
	if (n < minn)
		return fail(c, path, "must not be empty");
	if ((sv = calloc(n + 1, sizeof(*sv))) == NULL)
		return oom(c);
	for (i = 0; i < n; i++) {
		snprintf(ep, sizeof(ep), "%s[%zu]", path, i);
		if ((r = val_str(c, json_object_array_get_idx(v, i), ep,
		    nonempty ? 1 : 0, &sv[i])) != 0) {
			strv_free(sv);
			return r;
		}
	}
	strv_free(*out);
	*out = sv;
	return 0;
}

/* "HH:MM" or "HH:MM:SS" (hour may have one digit) -> seconds of the day. */
static int
val_clock(struct pctx *c, json_object *v, const char *path, int32_t *out)
{
	static const int lim[3] = { 24, 60, 60 };
	char q[QUOTE_BUFLEN];
	const char *s, *p;
	int part[3] = { 0, 0, 0 }, i, nd;

	if (val_cstr(c, v, path, &s) != 0)
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
	return fail(c, path, "invalid time of day %s (expected HH:MM or "
	    "HH:MM:SS)", quote(s, q, sizeof(q)));
}

/* ---- field tables ---- */

static int
apply_str(struct pctx *c, json_object *v, const char *path,
    const struct fspec *f, char **target)
{
	char q[QUOTE_BUFLEN], list[128];
	int r;
	size_t i;

	if ((r = val_str(c, v, path, (size_t)f->min, target)) != 0)
		return r;
	if (f->type == F_PATH && (*target)[0] != '/')
		return fail(c, path, "must be an absolute path (got %s)",
		    quote(*target, q, sizeof(q)));
	for (i = 0; f->names != NULL && f->names[i] != NULL; i++)
		if (strcmp(*target, f->names[i]) == 0)
			return 0;
	if (f->names == NULL)
		return 0;
	name_list(f->names, list, sizeof(list));
	return fail(c, path, "unknown value %s (expected %s)",
	    quote(*target, q, sizeof(q)), list);
}

static int
apply_one(struct pctx *c, json_object *v, const char *path,
    const struct fspec *f, char *base)
{
	void *p = base + f->off;
	int64_t n;
	int r, e;

	switch (f->type) {
	case F_CUSTOM:
		return 0;
	case F_STR:
	case F_PATH:
		return apply_str(c, v, path, f, p);
	case F_BOOL:
		return val_bool(c, v, path, p);
	case F_INT:
		if ((r = val_int(c, v, path, f->min, f->max, &n)) == 0)
			*(int *)p = (int)n;
		return r;
	case F_I64:
		return val_int(c, v, path, f->min, f->max, p);
	case F_DUR:
		return val_dur(c, v, path, f->min, p);
	case F_ENUM:
		if ((r = val_enum(c, v, path, f->names, &e)) == 0)
			*(int *)p = e;
		return r;
	case F_SIZE:
		return val_size(c, v, path, f->min, f->max, p);
	}
	return ERR_INTERNAL;
}

/* Parses the table's scalar fields of obj into the struct at base. */
static int
apply_fields(struct pctx *c, json_object *obj, const char *pre,
    const struct fspec *f, size_t nf, void *base)
{
	char path[PATH_LEN];
	json_object *v;
	size_t i;
	int r;

	for (i = 0; i < nf; i++) {
		if (f[i].type == F_CUSTOM || (v = field(obj, f[i].key)) == NULL)
			continue;
		join_path(path, pre, f[i].key);
		if ((r = apply_one(c, v, path, &f[i], base)) != 0)
			return r;
	}
	return 0;
}

static void
warn_unknown(struct pctx *c, json_object *obj, const char *pre,
    const struct fspec *f, size_t nf)
{
	struct json_object_iter it;
	char path[PATH_LEN], q[QUOTE_BUFLEN];
	size_t i;

	json_object_object_foreachC(obj, it) {
		for (i = 0; i < nf; i++)
			if (strcmp(it.key, f[i].key) == 0)
				break;
		if (i < nf)
			continue;
		join_path(path, pre, it.key);
		warn(c, "unknown field %s (ignored)",
		    quote(path, q, sizeof(q)));
	}
}

/* Checks that v is an object and warns about its unknown keys. */
static int
object_fields(struct pctx *c, json_object *v, const char *path,
    const char *pre, const struct fspec *f, size_t nf)
{
	if (!json_object_is_type(v, json_type_object))
		return type_error(c, path, "an object", v);
	warn_unknown(c, v, pre, f, nf);
	return 0;
}

/* ---- jobs ---- */

static const char *const hosts_names[] = { "any", "all", NULL };
static const char *const conc_names[] = { "forbid", "allow", "replace", NULL };
static const char *const missed_names[] = { "skip", "run_once", NULL };

#define JOFF(f)	offsetof(struct job_def, f)
static const struct fspec job_fields[] = {
	{ "description", F_STR, JOFF(description), 0, 0, NULL },
	{ "owners", F_CUSTOM, 0, 0, 0, NULL },
	{ "policy", F_CUSTOM, 0, 0, 0, NULL },
	{ "schedule", F_CUSTOM, 0, 0, 0, NULL },
	{ "command", F_CUSTOM, 0, 0, 0, NULL },
	{ "http", F_CUSTOM, 0, 0, 0, NULL },
	{ "environment", F_CUSTOM, 0, 0, 0, NULL },
	{ "timeout", F_DUR, JOFF(timeout_ms), 0, 0, NULL },
	{ "kill_grace", F_DUR, JOFF(kill_grace_ms), 0, 0, NULL },
	{ "working_dir", F_PATH, JOFF(working_dir), 1, 0, NULL },
	{ "enabled", F_BOOL, JOFF(enabled), 0, 0, NULL },
	{ "concurrency", F_ENUM, JOFF(concurrency), 0, 0, conc_names },
	{ "retries", F_INT, JOFF(retries), 0, 100, NULL },
	{ "retry_backoff", F_DUR, JOFF(retry_backoff_ms), 0, 0, NULL },
	{ "missed", F_ENUM, JOFF(missed), 0, 0, missed_names },
	{ "missed_max_age", F_DUR, JOFF(missed_max_age_ms), 0, 0, NULL },
	{ "start_at", F_CUSTOM, 0, 0, 0, NULL },
	{ "expires_at", F_CUSTOM, 0, 0, 0, NULL },
	{ "max_runs", F_I64, JOFF(max_runs), 0, INT64_C(1000000000000000),
	    NULL },
	{ "output_limit", F_SIZE, JOFF(output_limit), OUTPUT_MIN, OUTPUT_MAX,
	    NULL },
	{ "retention", F_INT, JOFF(retention), 1, 1000000, NULL },
};

static const struct fspec owner_fields[] = {
	{ "name", F_STR, offsetof(struct job_owner, name), 0, 0, NULL },
	{ "email_address", F_STR, offsetof(struct job_owner, email_address),
	    0, 0, NULL },
};

static const struct fspec policy_fields[] = {
	{ "hosts", F_ENUM, JOFF(hosts), 0, 0, hosts_names },
	{ "roles", F_CUSTOM, 0, 0, 0, NULL },
	{ "nodes", F_CUSTOM, 0, 0, 0, NULL },
};

static const struct fspec sched_fields[] = {
	{ "interval", F_CUSTOM, 0, 0, 0, NULL },
	{ "reference", F_CUSTOM, 0, 0, 0, NULL },
	{ "cron", F_CUSTOM, 0, 0, 0, NULL },
	{ "timezone", F_CUSTOM, 0, 0, 0, NULL },
};

#define HOFF(f)	offsetof(struct job_http, f)
static const struct fspec http_fields[] = {
	{ "url", F_CUSTOM, 0, 0, 0, NULL },
	{ "method", F_CUSTOM, 0, 0, 0, NULL },
	{ "headers", F_CUSTOM, 0, 0, 0, NULL },
	{ "body", F_STR, HOFF(body), 0, 0, NULL },
	{ "timeout", F_DUR, HOFF(timeout_ms), 0, 0, NULL },
	{ "expect_status", F_CUSTOM, 0, 0, 0, NULL },
	{ "tls_verify", F_BOOL, HOFF(tls_verify), 0, 0, NULL },
};

static void
http_free(struct job_http *h)
{
	if (h == NULL)
		return;
	free(h->url);
	free(h->method);
	strv_free(h->headers);
	free(h->body);
	free(h->expect_status);
	free(h);
}

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
	strv_free(job->roles);
	strv_free(job->nodes);
	sched_free(job->sched);
	strv_free(job->argv);
	free(job->shell);
	http_free(job->http);
	strv_free(job->env);
	free(job->working_dir);
	free(job->source);
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

static int
parse_owners(struct pctx *c, json_object *v, struct job_def *job)
{
	char path[PATH_LEN], pre[PATH_LEN];
	json_object *o;
	size_t i, n;
	int r;

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return type_error(c, "owners", "an array of objects", v);
	n = json_object_array_length(v);
	if (n == 0)
		return 0;
	if ((job->owners = calloc(n, sizeof(*job->owners))) == NULL)
		return oom(c);
	job->nowners = n;
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(v, i);
		snprintf(path, sizeof(path), "owners[%zu]", i);
		snprintf(pre, sizeof(pre), "owners[%zu].", i);
		if ((r = object_fields(c, o, path, pre, owner_fields,
		    NELEM(owner_fields))) != 0 ||
		    (r = apply_fields(c, o, pre, owner_fields,
		    NELEM(owner_fields), &job->owners[i])) != 0)
			return r;
	}
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
parse_policy_nodes(struct pctx *c, json_object *v, struct job_def *job)
{
	char path[PATH_LEN], q[QUOTE_BUFLEN];
	size_t i;
	int r;

	if (v == NULL)
		return 0;
	if ((r = val_strv(c, v, "policy.nodes", 0, true, &job->nodes)) != 0)
		return r;
	for (i = 0; job->nodes[i] != NULL; i++) {
		if (defs_name_valid(job->nodes[i]))
			continue;
		snprintf(path, sizeof(path), "policy.nodes[%zu]", i);
		return fail(c, path, "invalid node name %s",
		    quote(job->nodes[i], q, sizeof(q)));
	}
	return 0;
}

static int
parse_policy(struct pctx *c, json_object *v, struct job_def *job)
{
	json_object *roles;
	int r;

	if (v == NULL)
		return fail(c, "policy", "missing (" POLICY_HINT ")");
	if ((r = object_fields(c, v, "policy", "policy.", policy_fields,
	    NELEM(policy_fields))) != 0 ||
	    (r = apply_fields(c, v, "policy.", policy_fields,
	    NELEM(policy_fields), job)) != 0)
		return r;
	if ((roles = field(v, "roles")) != NULL &&
	    (r = val_strv(c, roles, "policy.roles", 0, true, &job->roles)) != 0)
		return r;
	if ((r = parse_policy_nodes(c, field(v, "nodes"), job)) != 0)
		return r;
	strv_drop_empty(&job->roles);
	strv_drop_empty(&job->nodes);
	if (job->roles != NULL && job->nodes != NULL)
		return fail(c, "policy",
		    "give either roles or nodes, not both");
	if (job->roles == NULL && job->nodes == NULL)
		return fail(c, "policy", "no roles or nodes (" POLICY_HINT ")");
	return 0;
}

/* HTTP jobs are sent by the daemon itself: they need no policy. */
static int
parse_job_policy(struct pctx *c, json_object *root, struct job_def *job)
{
	json_object *policy = field(root, "policy");

	if (field(root, "http") == NULL)
		return parse_policy(c, policy, job);
	if (policy != NULL)
		warn(c, "policy: ignored for an http job (the daemon itself "
		    "sends the request)");
	return 0;
}

/* The job's zone: schedule.timezone, else default_zone, else local. */
static int
parse_zone(struct pctx *c, json_object *sched, const struct tz *def,
    struct job_def *job)
{
	char q[QUOTE_BUFLEN];
	json_object *v = NULL;
	const char *name = NULL, *errstr = NULL;

	if (sched != NULL && json_object_is_type(sched, json_type_object))
		v = field(sched, "timezone");
	if (v == NULL && def != NULL) {
		job->zone = def;
		return 0;
	}
	if (v != NULL && val_cstr(c, v, "schedule.timezone", &name) != 0)
		return ERR_INVALID;
	if (v != NULL && name[0] == '\0')
		return fail(c, "schedule.timezone", "must not be empty");
	if (tz_get(name, &job->zone, &errstr) != 0)
		return fail(c, "schedule.timezone", "%s %s",
		    errstr != NULL ? errstr : "unknown time zone",
		    quote(name != NULL ? name : "localtime", q, sizeof(q)));
	return 0;
}

static int
parse_cron(struct pctx *c, json_object *v, const char *path,
    struct job_def *job)
{
	const char *expr, *errstr = NULL;
	int r;

	if (val_cstr(c, v, path, &expr) != 0)
		return ERR_INVALID;
	if ((r = sched_parse_cron(expr, job->name, job->zone, &job->sched,
	    &errstr)) != 0)
		return fail(c, path, "%s",
		    errstr != NULL ? errstr : err_str(r));
	return 0;
}

static int
parse_interval(struct pctx *c, json_object *iv, json_object *ref,
    struct job_def *job)
{
	const char *errstr = NULL;
	int64_t ms;
	int32_t ref_s = 0;
	int r;

	if ((r = val_dur(c, iv, "schedule.interval", 1000, &ms)) != 0)
		return r;
	if (ms % 1000 != 0)
		return fail(c, "schedule.interval",
		    "must be a whole number of seconds");
	if (ref != NULL &&
	    (r = val_clock(c, ref, "schedule.reference", &ref_s)) != 0)
		return r;
	if ((r = sched_new_interval(ms / 1000, ref_s, job->zone, &job->sched,
	    &errstr)) != 0)
		return fail(c, "schedule.interval", "%s",
		    errstr != NULL ? errstr : err_str(r));
	return 0;
}

static int
parse_schedule(struct pctx *c, json_object *v, struct job_def *job)
{
	json_object *cron, *iv;
	int r;

	if (v == NULL)
		return fail(c, "schedule", "missing (write \"schedule\": "
		    "{\"interval\": \"10m\"} or "
		    "\"schedule\": \"*/5 * * * *\")");
	if (json_object_is_type(v, json_type_string))
		return parse_cron(c, v, "schedule", job);
	if (!json_object_is_type(v, json_type_object))
		return type_error(c, "schedule", "an object or a cron string",
		    v);
	if ((r = object_fields(c, v, "schedule", "schedule.", sched_fields,
	    NELEM(sched_fields))) != 0)
		return r;
	cron = field(v, "cron");
	iv = field(v, "interval");
	if (cron != NULL && iv != NULL)
		return fail(c, "schedule", "give either interval or cron, "
		    "not both");
	if (cron != NULL && field(v, "reference") != NULL)
		return fail(c, "schedule.reference",
		    "only applies to interval schedules");
	if (cron != NULL)
		return parse_cron(c, cron, "schedule.cron", job);
	if (iv != NULL)
		return parse_interval(c, iv, field(v, "reference"), job);
	return fail(c, "schedule", "needs \"interval\" or \"cron\"");
}

static int
parse_command(struct pctx *c, json_object *v, struct job_def *job)
{
	int r;

	if (json_object_is_type(v, json_type_string))
		return val_str(c, v, "command", 1, &job->shell);
	if (!json_object_is_type(v, json_type_array))
		return type_error(c, "command",
		    "an array of strings or a shell command string", v);
	if ((r = val_strv(c, v, "command", 1, false, &job->argv)) != 0)
		return r;
	if (job->argv[0][0] == '\0')
		return fail(c, "command[0]", "empty program name");
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

/* Messages name the URL without credentials or query (url_strip()). */
static int
check_url(struct pctx *c, const char *url)
{
	enum url_problem why = url_problem(url);
	char q[QUOTE_BUFLEN];
	const char *shown;
	struct buf b;
	int r;

	if (why == URL_OK)
		return 0;
	buf_init(&b, strlen(url));
	if (url_strip(url, &b) != 0) {
		buf_free(&b);
		return oom(c);
	}
	shown = quote(buf_str(&b), q, sizeof(q));
	if (why == URL_SCHEME)
		r = fail(c, "http.url", "must start with http:// or https:// "
		    "(got %s)", shown);
	else if (why == URL_NOHOST)
		r = fail(c, "http.url", "no host in %s", shown);
	else
		r = fail(c, "http.url", "contains a space or control "
		    "character: %s", shown);
	buf_free(&b);
	return r;
}

static int
parse_headers(struct pctx *c, json_object *v, struct job_http *h)
{
	struct json_object_iter it;
	char path[PATH_LEN], q[QUOTE_BUFLEN];
	const char *val;
	size_t n = 0;

	if (!json_object_is_type(v, json_type_object))
		return type_error(c, "http.headers", "an object", v);
	strv_free(h->headers);
	h->headers = calloc((size_t)json_object_object_length(v) + 1,
	    sizeof(char *));
	if (h->headers == NULL)
		return oom(c);
	json_object_object_foreachC(v, it) {
		if (!is_token(it.key))
			return fail(c, "http.headers", "invalid header name %s",
			    quote(it.key, q, sizeof(q)));
		join_path(path, "http.headers.", it.key);
		if (val_cstr(c, it.val, path, &val) != 0)
			return ERR_INVALID;
		if (strpbrk(val, "\r\n") != NULL)
			return fail(c, path, "contains a line break");
		if ((h->headers[n++] = join3(it.key, ": ", val)) == NULL)
			return oom(c);
	}
	return 0;
}

static int
parse_expect(struct pctx *c, json_object *v, struct job_http *h)
{
	char path[PATH_LEN];
	int64_t st;
	size_t i, n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return type_error(c, "http.expect_status",
		    "an array of integers", v);
	if ((n = json_object_array_length(v)) == 0)
		return fail(c, "http.expect_status", "must not be empty");
	free(h->expect_status);
	h->nexpect_status = 0;
	if ((h->expect_status = calloc(n, sizeof(int))) == NULL)
		return oom(c);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "http.expect_status[%zu]", i);
		if ((r = val_int(c, json_object_array_get_idx(v, i), path, 100,
		    599, &st)) != 0)
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

static int
parse_http(struct pctx *c, json_object *v, struct job_def *job)
{
	struct job_http *h;
	json_object *x;
	char q[QUOTE_BUFLEN];
	int r;

	if ((r = object_fields(c, v, "http", "http.", http_fields,
	    NELEM(http_fields))) != 0)
		return r;
	if ((h = job->http = calloc(1, sizeof(*h))) == NULL ||
	    http_defaults(h) != 0)
		return oom(c);
	if ((r = apply_fields(c, v, "http.", http_fields, NELEM(http_fields),
	    h)) != 0)
		return r;
	if ((x = field(v, "url")) == NULL)
		return fail(c, "http.url", "missing");
	if ((r = val_str(c, x, "http.url", 1, &h->url)) != 0 ||
	    (r = check_url(c, h->url)) != 0)
		return r;
	if ((x = field(v, "method")) != NULL &&
	    (r = val_str(c, x, "http.method", 1, &h->method)) != 0)
		return r;
	if (!is_token(h->method))
		return fail(c, "http.method", "invalid method %s",
		    quote(h->method, q, sizeof(q)));
	if ((x = field(v, "headers")) != NULL &&
	    (r = parse_headers(c, x, h)) != 0)
		return r;
	if ((x = field(v, "expect_status")) != NULL)
		return parse_expect(c, x, h);
	return 0;
}

/* Exactly one of "command" (argv array or shell string) and "http". */
static int
parse_action(struct pctx *c, json_object *root, struct job_def *job)
{
	json_object *cmd = field(root, "command"), *http = field(root, "http");

	if (cmd != NULL && http != NULL)
		return fail(c, "command",
		    "give either \"command\" or \"http\", not both");
	if (http != NULL)
		return parse_http(c, http, job);
	if (cmd == NULL)
		return fail(c, "command", "missing (write \"command\": "
		    "[\"/path/to/program\", \"arg\"], a shell command string, "
		    "or an \"http\" object)");
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

/* One "NAME=value" from a member of "environment". */
static int
env_entry(struct pctx *c, const char *name, json_object *v, char **out)
{
	char path[PATH_LEN], q[QUOTE_BUFLEN];
	const char *val;

	if (!env_name_valid(name))
		return fail(c, "environment", "invalid variable name %s (use "
		    "letters, digits and _, not starting with a digit)",
		    quote(name, q, sizeof(q)));
	join_path(path, "environment.", name);
	if (strncmp(name, "DISTCRON_", 9) == 0)
		return fail(c, path, "names starting with DISTCRON_ are "
		    "reserved");
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		val = json_object_get_string(v);
	else if (!json_object_is_type(v, json_type_string))
		return type_error(c, path, "a string or a number", v);
	else if (val_cstr(c, v, path, &val) != 0)
		return ERR_INVALID;
	if ((*out = join3(name, "=", val)) == NULL)
		return oom(c);
	return 0;
}

static int
parse_env(struct pctx *c, json_object *v, struct job_def *job)
{
	struct json_object_iter it;
	size_t n = 0;
	int r;

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return type_error(c, "environment", "an object", v);
	if (json_object_object_length(v) == 0)
		return 0;
	job->env = calloc((size_t)json_object_object_length(v) + 1,
	    sizeof(char *));
	if (job->env == NULL)
		return oom(c);
	json_object_object_foreachC(v, it) {
		if ((r = env_entry(c, it.key, it.val, &job->env[n++])) != 0)
			return r;
	}
	return 0;
}

static int
parse_time(struct pctx *c, json_object *v, const char *path,
    const struct tz *zone, int64_t *out)
{
	char q[QUOTE_BUFLEN];
	const char *s, *errstr = NULL;

	if (v == NULL)
		return 0;
	if (val_cstr(c, v, path, &s) != 0)
		return ERR_INVALID;
	if (tz_parse_iso8601(zone, s, out, &errstr) != 0)
		return fail(c, path, "invalid time %s: %s",
		    quote(s, q, sizeof(q)), errstr != NULL ? errstr :
		    "expected ISO 8601 (2026-01-31T12:00:00)");
	return 0;
}

/* start_at / expires_at, in the job's zone unless they carry an offset. */
static int
parse_window(struct pctx *c, json_object *root, struct job_def *job)
{
	int r;

	if ((r = parse_time(c, field(root, "start_at"), "start_at", job->zone,
	    &job->start_at)) != 0 ||
	    (r = parse_time(c, field(root, "expires_at"), "expires_at",
	    job->zone, &job->expires_at)) != 0)
		return r;
	if (field(root, "start_at") != NULL &&
	    field(root, "expires_at") != NULL &&
	    job->expires_at <= job->start_at)
		return fail(c, "expires_at", "must be after start_at");
	return 0;
}

static int
job_from_json(struct pctx *c, json_object *root, const struct tz *def,
    struct job_def *job)
{
	json_object *sched = field(root, "schedule");
	int r;

	warn_unknown(c, root, "", job_fields, NELEM(job_fields));
	if ((r = parse_job_policy(c, root, job)) != 0 ||
	    (r = parse_zone(c, sched, def, job)) != 0 ||
	    (r = parse_schedule(c, sched, job)) != 0 ||
	    (r = parse_action(c, root, job)) != 0 ||
	    (r = parse_owners(c, field(root, "owners"), job)) != 0 ||
	    (r = parse_env(c, field(root, "environment"), job)) != 0 ||
	    (r = apply_fields(c, root, "", job_fields, NELEM(job_fields),
	    job)) != 0)
		return r;
	return parse_window(c, root, job);
}

/* ---- nodes ---- */

static const char *const conn_names[] = { "local", "ssh", NULL };
static const char *const key_policies[] = { "strict", "accept-new", NULL };

#define NOFF(f)	offsetof(struct node_def, f)
static const struct fspec node_fields[] = {
	{ "roles", F_CUSTOM, 0, 0, 0, NULL },
	{ "connection_type", F_CUSTOM, 0, 0, 0, NULL },
	{ "connection_options", F_CUSTOM, 0, 0, 0, NULL },
	{ "enabled", F_BOOL, NOFF(enabled), 0, 0, NULL },
	{ "max_concurrent_runs", F_INT, NOFF(max_concurrent_runs), 0, 1000000,
	    NULL },
};

static const struct fspec ssh_fields[] = {
	{ "ssh_user", F_STR, NOFF(ssh_user), 1, 0, NULL },
	{ "ssh_host", F_CUSTOM, 0, 0, 0, NULL },
	{ "ssh_private_key_file", F_STR, NOFF(ssh_private_key_file), 1, 0,
	    NULL },
	{ "ssh_private_key_passphrase_file", F_STR,
	    NOFF(ssh_private_key_passphrase_file), 1, 0, NULL },
	{ "ssh_known_hosts_file", F_STR, NOFF(ssh_known_hosts_file), 1, 0,
	    NULL },
	{ "ssh_host_key", F_STR, NOFF(ssh_host_key), 1, 0, NULL },
	{ "ssh_host_key_policy", F_STR, NOFF(ssh_host_key_policy), 1, 0,
	    key_policies },
	{ "connect_timeout", F_DUR, NOFF(connect_timeout_ms), 1, 0, NULL },
	{ "max_sessions", F_INT, NOFF(max_sessions), 1, 64, NULL },
};

void
defs_node_free(struct node_def *n)
{
	if (n == NULL)
		return;
	free(n->name);
	strv_free(n->roles);
	free(n->ssh_user);
	free(n->ssh_host);
	free(n->ssh_private_key_file);
	free(n->ssh_private_key_passphrase_file);
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
parse_host_port(struct pctx *c, const char *s, struct node_def *n)
{
	char q[QUOTE_BUFLEN];
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
			return fail(c, "connection_options.ssh_host", "IPv6 "
			    "addresses need brackets: \"[::1]:22\"");
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
		return oom(c);
	return 0;
bad:
	return fail(c, "connection_options.ssh_host", "invalid host %s "
	    "(expected \"host\", \"host:port\" or \"[::1]:port\", "
	    "port 1-65535)", quote(s, q, sizeof(q)));
}

static int
parse_ssh(struct pctx *c, json_object *v, struct node_def *n)
{
	static const char *const pre = "connection_options.";
	json_object *host;
	const char *s;
	int r;

	if (v == NULL)
		return fail(c, "connection_options", "missing (ssh nodes need "
		    "ssh_user, ssh_host and ssh_private_key_file)");
	if ((r = object_fields(c, v, "connection_options", pre, ssh_fields,
	    NELEM(ssh_fields))) != 0 ||
	    (r = apply_fields(c, v, pre, ssh_fields, NELEM(ssh_fields),
	    n)) != 0)
		return r;
	if (n->ssh_user == NULL)
		return fail(c, "connection_options.ssh_user", "missing");
	if ((host = field(v, "ssh_host")) == NULL)
		return fail(c, "connection_options.ssh_host", "missing");
	if ((r = val_cstr(c, host, "connection_options.ssh_host", &s)) != 0 ||
	    (r = parse_host_port(c, s, n)) != 0)
		return r;
	if (n->ssh_private_key_file == NULL)
		return fail(c, "connection_options.ssh_private_key_file",
		    "missing");
	if (n->ssh_known_hosts_file == NULL &&
	    (n->ssh_known_hosts_file = strdup(KNOWN_HOSTS)) == NULL)
		return oom(c);
	if (n->ssh_host_key_policy == NULL &&
	    (n->ssh_host_key_policy = strdup("strict")) == NULL)
		return oom(c);
	return 0;
}

static int
node_from_json(struct pctx *c, json_object *root, struct node_def *n)
{
	json_object *v;
	int r, conn;

	warn_unknown(c, root, "", node_fields, NELEM(node_fields));
	if ((v = field(root, "roles")) != NULL &&
	    (r = val_strv(c, v, "roles", 0, true, &n->roles)) != 0)
		return r;
	if ((v = field(root, "connection_type")) == NULL)
		return fail(c, "connection_type",
		    "missing (expected \"local\" or \"ssh\")");
	if ((r = val_enum(c, v, "connection_type", conn_names, &conn)) != 0 ||
	    (r = apply_fields(c, root, "", node_fields, NELEM(node_fields),
	    n)) != 0)
		return r;
	n->conn = conn == 1 ? NODE_SSH : NODE_LOCAL;
	if (n->conn == NODE_SSH)
		return parse_ssh(c, field(root, "connection_options"), n);
	if (field(root, "connection_options") != NULL)
		warn(c, "connection_options: ignored for a local node");
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

void
defs_job_mask(json_object *def)
{
	json_object *http = field(def, "http"), *url = field(http, "url");
	const char *s = json_object_get_string(url);
	struct buf b;

	mask_members(field(def, "environment"));
	mask_members(field(http, "headers"));
	if (url == NULL)
		return;
	buf_init(&b, 2 * strlen(s != NULL ? s : "") + 64);
	if (!json_object_is_type(url, json_type_string) ||
	    url_mask(s, &b) != 0)
		json_object_object_add(http, "url",
		    json_object_new_string(URL_MASK));
	else
		json_object_object_add(http, "url",
		    json_object_new_string(buf_str(&b)));
	buf_free(&b);
}

/* ---- parsing entry points ---- */

/* Parses text as one strict JSON object; trailing garbage is an error. */
static int
parse_json(struct pctx *c, const char *text, size_t len, json_object **out)
{
	char msg[512];
	json_object *root;
	int r;

	if (len > DEFS_FILE_MAX) {
		fail(c, NULL, "file too large (%zu bytes, limit %d)", len,
		    DEFS_FILE_MAX);
		return ERR_TOOBIG;
	}
	r = jsontext_parse(text, len, JSONTEXT_STRICT, c->tok, &root, msg,
	    sizeof(msg));
	if (r == -ENOMEM)
		return oom(c);
	if (r != 0) {
		fail(c, NULL, "%s", msg);
		return ERR_PARSE;
	}
	if (!json_object_is_type(root, json_type_object)) {
		fail(c, NULL, "expected a JSON object, got %s",
		    type_name(root));
		json_object_put(root);
		return ERR_PARSE;
	}
	*out = root;
	return 0;
}

static int
check_name(struct pctx *c, const char *what, const char *name)
{
	char q[QUOTE_BUFLEN];

	if (defs_name_valid(name))
		return 0;
	return fail(c, "name", "invalid %s name %s (use 1-%d of A-Z a-z 0-9 "
	    ". _ -, not starting with . or -)", what, quote(name, q, sizeof(q)),
	    DEFS_NAME_MAX);
}

static int
job_parse(struct pctx *c, const char *name, const char *text, size_t len,
    const struct tz *zone, struct job_def **out)
{
	json_object *root = NULL;
	struct job_def *job = NULL;
	int r;

	*out = NULL;
	if ((r = check_name(c, "job", name)) != 0 ||
	    (r = parse_json(c, text, len, &root)) != 0)
		goto out;
	if ((job = job_new(name)) == NULL) {
		r = oom(c);
		goto out;
	}
	if ((r = job_from_json(c, root, zone, job)) != 0)
		goto out;
	job->digest = fnv1a64(text, len);
	*out = job;
	job = NULL;
 out:
	job_free(job);
	json_object_put(root);
	return r;
}

static int
node_parse(struct pctx *c, const char *name, const char *text, size_t len,
    struct node_def **out)
{
	json_object *root = NULL;
	struct node_def *node = NULL;
	int r;

	*out = NULL;
	if ((r = check_name(c, "node", name)) != 0 ||
	    (r = parse_json(c, text, len, &root)) != 0)
		goto out;
	if ((node = node_new(name)) == NULL) {
		r = oom(c);
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

static void
pctx_init(struct pctx *c, const char *file, char *err, size_t errlen,
    defs_report_fn report, void *arg)
{
	c->file = file;
	c->err = err;
	c->errlen = errlen;
	c->report = report;
	c->arg = arg;
	c->tok = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
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

/*
 * Reads a regular file relative to dirfd into l->buf.  Returns 0,
 * ERR_INVALID (not a regular file), ERR_TOOBIG or -errno.
 */
static int
read_file(struct loader *l, int dirfd, const char *name, size_t *lenp)
{
	struct stat st;
	size_t len = 0;
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
	if (r == 0)
		r = grow_buf(l, (size_t)st.st_size + 2);
	while (r == 0) {
		/* keep reading past st_size: the file may have grown */
		if (len + 1 >= l->bufcap &&
		    (r = grow_buf(l, l->bufcap + 1)) != 0)
			break;
		if ((n = read(fd, l->buf + len, l->bufcap - len - 1)) < 0) {
			if (errno != EINTR)
				r = -errno;
			continue;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > DEFS_FILE_MAX)
			r = ERR_TOOBIG;
	}
	close(fd);
	*lenp = len;
	return r;
}

static int
add_item(void ***arr, size_t *n, size_t *cap, void *item)
{
	void **p;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 64;
		if ((p = realloc(*arr, ncap * sizeof(*p))) == NULL)
			return -ENOMEM;
		*arr = p;
		*cap = ncap;
	}
	(*arr)[(*n)++] = item;
	return 0;
}

/* Remembers the name of a job or node file that is present but could not
 * be loaded (a reload keeps its previous definition). */
static int
add_bad(struct loader *l, const char *stem, bool jobs)
{
	char *name = strdup(stem);
	int r;

	if (name == NULL)
		return -ENOMEM;
	r = jobs ? add_item((void ***)&l->set->bad_jobs, &l->set->nbad_jobs,
	    &l->badcap, name) : add_item((void ***)&l->set->bad_nodes,
	    &l->set->nbad_nodes, &l->badnodecap, name);
	if (r != 0)
		free(name);
	return r != 0 ? -ENOMEM : 0;
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
	r = jobs ? job_parse(&c, stem, l->buf, len, l->zone, &job) :
	    node_parse(&c, stem, l->buf, len, &node);
	if (r == -ENOMEM)
		return r;
	if (r != 0) {
		report(l, "error", path, "%s", err);
		s->nerrors++;
		return add_bad(l, stem, jobs);
	}
	if (jobs && (job->source = strdup(path)) != NULL &&
	    add_item((void ***)&s->jobs, &s->njobs, &l->jobcap, job) == 0)
		return 0;
	if (!jobs && (node->source = strdup(path)) != NULL &&
	    add_item((void ***)&s->nodes, &s->nnodes, &l->nodecap, node) == 0)
		return 0;
	job_free(job);
	defs_node_free(node);
	return -ENOMEM;
}

/* One directory entry: only "<valid name>.json" regular files count. */
static int
load_entry(struct loader *l, int dirfd, const char *dir, const char *name,
    bool jobs)
{
	char path[4096], stem[256], q[QUOTE_BUFLEN];
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
		    quote(stem, q, sizeof(q)), DEFS_NAME_MAX);
		return 0;
	}
	if ((r = read_file(l, dirfd, name, &len)) == ERR_INVALID)
		report(l, "warning", path, "not a regular file (ignored)");
	else if (r == ERR_TOOBIG)
		report(l, "error", path, "file too large (limit %d bytes)",
		    DEFS_FILE_MAX);
	else if (r == -ENOMEM)
		return r;
	else if (r != 0)
		report(l, "error", path, "cannot read: %s", err_str(r));
	if (r == ERR_TOOBIG || (r != 0 && r != ERR_INVALID)) {
		l->set->nerrors++;
		if (add_bad(l, stem, jobs) != 0)
			return -ENOMEM;
	}
	if (r != 0)
		return 0;
	return load_parsed(l, path, stem, len, jobs);
}

static int
load_dir(struct loader *l, const char *dir, bool jobs)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL)
		return -errno;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			r = -errno;
			break;
		}
		if ((r = load_entry(l, dirfd(d), dir, de->d_name, jobs)) != 0)
			break;
	}
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

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
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
	char q[QUOTE_BUFLEN];
	size_t j;

	for (j = 0; job->nodes != NULL && job->nodes[j] != NULL; j++)
		if (defs_find_node(l->set, job->nodes[j]) == NULL)
			report(l, "warning", job->source, "policy.nodes: "
			    "no node named %s",
			    quote(job->nodes[j], q, sizeof(q)));
	for (j = 0; job->roles != NULL && job->roles[j] != NULL; j++)
		if (bsearch(&job->roles[j], roles, nroles, sizeof(*roles),
		    cmp_str) == NULL)
			report(l, "warning", job->source, "policy.roles: "
			    "no node has role %s",
			    quote(job->roles[j], q, sizeof(q)));
}

static int
cross_check(struct loader *l)
{
	const char **roles;
	size_t i, nroles = 0;

	if ((roles = all_roles(l->set, &nroles)) == NULL)
		return -ENOMEM;
	for (i = 0; i < l->set->njobs; i++)
		check_job(l, l->set->jobs[i], roles, nroles);
	free(roles);
	return 0;
}

int
defs_load(const char *jobs_dir, const char *nodes_dir,
    const struct tz *default_zone, struct defs_set **out,
    defs_report_fn report_fn, void *arg)
{
	struct loader l;
	int r;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	l.zone = default_zone;
	l.report = report_fn;
	l.arg = arg;
	if ((l.set = calloc(1, sizeof(*l.set))) == NULL ||
	    (l.tok = json_tokener_new()) == NULL) {
		free(l.set);
		return -ENOMEM;
	}
	if ((r = load_dir(&l, nodes_dir, false)) != 0 ||
	    (r = load_dir(&l, jobs_dir, true)) != 0)
		goto out;
	if (l.set->njobs > 0)
		qsort(l.set->jobs, l.set->njobs, sizeof(*l.set->jobs),
		    cmp_job);
	if (l.set->nnodes > 0)
		qsort(l.set->nodes, l.set->nnodes, sizeof(*l.set->nodes),
		    cmp_node);
	if (l.set->nbad_jobs > 0)
		qsort(l.set->bad_jobs, l.set->nbad_jobs,
		    sizeof(*l.set->bad_jobs), cmp_str);
	if (l.set->nbad_nodes > 0)
		qsort(l.set->bad_nodes, l.set->nbad_nodes,
		    sizeof(*l.set->bad_nodes), cmp_str);
	if ((r = cross_check(&l)) != 0)
		goto out;
	*out = l.set;
	l.set = NULL;
 out:
	json_tokener_free(l.tok);
	free(l.buf);
	defs_set_free(l.set);
	return r;
}

/*
 * Binary search by name in an array of definitions sorted by name.  Both
 * struct job_def and struct node_def start with their name, and a pointer
 * to a struct converts to a pointer to its first member.
 */
ssize_t
defs_find_named(void *const *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n, mid;
	int d;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((d = strcmp(name, *(char *const *)v[mid])) == 0)
			return (ssize_t)mid;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
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
	for (i = 0; i < set->njobs; i++)
		defs_job_unref(set->jobs[i]);
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
