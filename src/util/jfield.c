/*
 * jfield.c - JSON objects read into structs through field tables.
 *
 * A table (struct jfield) names the known keys of one object with their
 * type and the offset of their target; jfield_read() walks it in order and
 * hands each present member to the reader of its type, which checks the
 * JSON type and the bounds and writes the target.  Nested objects and
 * arrays of objects are read by a sub-table, recursively, their members'
 * paths growing as "owners[1].name".  Errors go to the caller's buffer as
 * "path: message"; warnings (unknown keys) to its callback.
 *
 * The scalar parsers underneath take text (jfield_parse_*), so callers
 * reading flags or the environment check values with the same code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/jfield.h"

/* ---- diagnostics ---- */

/* Messages are one line: control characters from other modules become '?'. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void
jfield_ctx_init(struct jfield_ctx *c, char *err, size_t errlen,
    void (*warn)(void *, const char *), void *arg)
{
	memset(c, 0, sizeof(*c));
	c->err = err;
	c->errlen = errlen;
	c->warn = warn;
	c->arg = arg;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

int
jfield_fail(struct jfield_ctx *c, const char *path, const char *fmt, ...)
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

int
jfield_oom(struct jfield_ctx *c)
{
	jfield_fail(c, NULL, "out of memory");
	return -ENOMEM;
}

void
jfield_warn(struct jfield_ctx *c, const char *fmt, ...)
{
	char msg[JFIELD_MSG_LEN];
	va_list ap;

	if (c->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	c->warn(c->arg, msg);
}

/*
 * Escapes s into out from offset o: quotes, backslashes and control
 * characters.  Past JFIELD_QUOTE_MAX input bytes it stops, with "..." and
 * at a UTF-8 boundary when ellipsis is set.  Returns the new offset.
 */
static size_t
escape(const char *s, char *out, size_t outlen, size_t o, bool ellipsis)
{
	size_t i;
	unsigned char ch;

	for (i = 0; s[i] != '\0' && o + 10 <= outlen; i++) {
		ch = (unsigned char)s[i];
		if (i >= JFIELD_QUOTE_MAX &&
		    (!ellipsis || (ch & 0xc0) != 0x80)) {
			if (ellipsis) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
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
	return o;
}

const char *
jfield_quote(const char *s, char *out, size_t outlen)
{
	size_t o;

	out[0] = '"';
	o = escape(s != NULL ? s : "", out, outlen, 1, true);
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *
jfield_escape(const char *s, char *out, size_t outlen)
{
	out[escape(s != NULL ? s : "", out, outlen, 0, false)] = '\0';
	return out;
}

const char *
jfield_type_name(json_object *v)
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

int
jfield_type_error(struct jfield_ctx *c, const char *path, const char *want,
    json_object *v)
{
	return jfield_fail(c, path, "expected %s, got %s", want,
	    jfield_type_name(v));
}

void
jfield_name_list(const char *const *names, char *out, size_t outlen)
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

json_object *
jfield_get(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

void
jfield_join(char *out, const char *pre, const char *key)
{
	snprintf(out, JFIELD_PATH_LEN, "%s%s", pre, key);
}

const struct jfield *
jfield_find(const struct jfield *fields, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

/* ---- text ---- */

int
jfield_parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "1") == 0 || strcmp(s, "on") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
	    strcmp(s, "0") == 0 || strcmp(s, "off") == 0)
		*out = false;
	else
		return ERR_INVALID;
	return 0;
}

int
jfield_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	return dur_parse_int(s, min, max, out);
}

int
jfield_parse_size(const char *s, int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (dur_parse_size(s, &n) != 0)
		return ERR_PARSE;
	if (n < min || n > max)
		return ERR_RANGE;
	*out = n;
	return 0;
}

int
jfield_parse_dur(const char *s, int64_t *ms, const char **errstr)
{
	return dur_parse(s, ms, errstr);
}

int
jfield_parse_enum(const char *s, const char *const *names, int *out)
{
	int i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return ERR_INVALID;
}

int
jfield_json_text(enum jfield_type t, json_object *v, char *out,
    size_t outlen)
{
	enum json_type jt = json_object_get_type(v);

	if (jt == json_type_string) {
		snprintf(out, outlen, "%s", json_object_get_string(v));
		return 0;
	}
	if (jt == json_type_int && (t == JFIELD_INT || t == JFIELD_I64 ||
	    t == JFIELD_DUR || t == JFIELD_SIZE)) {
		snprintf(out, outlen, "%lld%s",
		    (long long)json_object_get_int64(v),
		    t == JFIELD_DUR ? "s" : "");
		return 0;
	}
	if (jt == json_type_boolean && t == JFIELD_BOOL) {
		snprintf(out, outlen, "%s", json_object_get_boolean(v) ?
		    "true" : "false");
		return 0;
	}
	return ERR_INVALID;
}

/* ---- JSON values ---- */

int
jfield_cstr(struct jfield_ctx *c, json_object *v, const char *path,
    const char **out)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return jfield_type_error(c, path, "a string", v);
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return jfield_fail(c, path, "contains a NUL character");
	*out = s;
	return 0;
}

int
jfield_str(struct jfield_ctx *c, json_object *v, const char *path,
    size_t minlen, char **out)
{
	const char *s;
	char *dup;
	int r;

	if ((r = jfield_cstr(c, v, path, &s)) != 0)
		return r;
	if (strlen(s) < minlen)
		return jfield_fail(c, path, "must not be empty");
	if ((dup = strdup(s)) == NULL)
		return jfield_oom(c);
	free(*out);
	*out = dup;
	return 0;
}

int
jfield_bool(struct jfield_ctx *c, json_object *v, const char *path,
    bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return jfield_type_error(c, path, "a boolean", v);
	*out = json_object_get_boolean(v);
	return 0;
}

int
jfield_int(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return jfield_type_error(c, path, "an integer", v);
	n = json_object_get_int64(v);
	if (n < min || n > max || (n == INT64_MAX &&
	    json_object_get_uint64(v) > (uint64_t)INT64_MAX))
		return jfield_fail(c, path, "%s out of range %lld-%lld",
		    json_object_get_string(v), (long long)min, (long long)max);
	*out = n;
	return 0;
}

int
jfield_enum(struct jfield_ctx *c, json_object *v, const char *path,
    const char *const *names, int *out)
{
	char q[JFIELD_QUOTE_LEN], list[128];
	const char *s;
	int r;

	if ((r = jfield_cstr(c, v, path, &s)) != 0)
		return r;
	if (jfield_parse_enum(s, names, out) == 0)
		return 0;
	jfield_name_list(names, list, sizeof(list));
	return jfield_fail(c, path, "unknown value %s (expected %s)",
	    jfield_quote(s, q, sizeof(q)), list);
}

/* A duration in integer seconds. */
static int
dur_seconds(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t *ms)
{
	int64_t s = json_object_get_int64(v);

	if (s < 0 || s > DUR_MAX_MS / 1000)
		return jfield_fail(c, path, "%s seconds out of range 0-%lld",
		    json_object_get_string(v), (long long)(DUR_MAX_MS / 1000));
	*ms = s * 1000;
	return 0;
}

int
jfield_dur(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t min, int64_t *out)
{
	char q[JFIELD_QUOTE_LEN], txt[32];
	const char *s, *errstr = NULL;
	int64_t ms;

	if (json_object_is_type(v, json_type_int)) {
		if (dur_seconds(c, v, path, &ms) != 0)
			return ERR_INVALID;
	} else if (json_object_is_type(v, json_type_string)) {
		if (jfield_cstr(c, v, path, &s) != 0)
			return ERR_INVALID;
		if (jfield_parse_dur(s, &ms, &errstr) != 0)
			return jfield_fail(c, path, "invalid duration %s: %s",
			    jfield_quote(s, q, sizeof(q)), errstr);
	} else
		return jfield_type_error(c, path,
		    "a duration (\"90s\", \"1h30m\") or integer seconds", v);
	if (ms < min) {
		dur_format(min, txt, sizeof(txt));
		return jfield_fail(c, path, "must be at least %s", txt);
	}
	*out = ms;
	return 0;
}

int
jfield_size(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t min, int64_t max, size_t *out)
{
	char q[JFIELD_QUOTE_LEN];
	const char *s, *shown;
	int64_t n = 0;
	int r = 0;

	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		shown = json_object_get_string(v);
		if (n < min || n > max)
			r = ERR_RANGE;
	} else if (json_object_is_type(v, json_type_string)) {
		if (jfield_cstr(c, v, path, &s) != 0)
			return ERR_INVALID;
		shown = jfield_quote(s, q, sizeof(q));
		if ((r = jfield_parse_size(s, min, max, &n)) == ERR_PARSE)
			return jfield_fail(c, path, "invalid size %s (use "
			    "bytes or a unit: \"512k\", \"1M\", \"1MiB\", "
			    "\"64KB\")", shown);
	} else
		return jfield_type_error(c, path,
		    "a size (1048576, \"512k\", \"1M\")", v);
	if (r != 0)
		return jfield_fail(c, path, "%s out of range %lld-%lld bytes",
		    shown, (long long)min, (long long)max);
	*out = (size_t)n;
	return 0;
}

/* "path[i]" into out (JFIELD_PATH_LEN bytes), cut if need be. */
static void
elem_path(char *out, const char *path, size_t i)
{
	if (snprintf(out, JFIELD_PATH_LEN, "%s[%zu]", path, i) < 0)
		out[0] = '\0';
}

void
jfield_strv_free(char **sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; sv[i] != NULL; i++)
		free(sv[i]);
	free(sv);
}

int
jfield_strv(struct jfield_ctx *c, json_object *v, const char *path,
    size_t minn, bool nonempty, char ***out)
{
	char ep[JFIELD_PATH_LEN], **sv;
	size_t i, n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return jfield_type_error(c, path, "an array of strings", v);
	n = json_object_array_length(v);
	if (n < minn)
		return jfield_fail(c, path, "must not be empty");
	if ((sv = calloc(n + 1, sizeof(*sv))) == NULL)
		return jfield_oom(c);
	for (i = 0; i < n; i++) {
		elem_path(ep, path, i);
		if ((r = jfield_str(c, json_object_array_get_idx(v, i), ep,
		    nonempty ? 1 : 0, &sv[i])) != 0) {
			jfield_strv_free(sv);
			return r;
		}
	}
	jfield_strv_free(*out);
	*out = sv;
	return 0;
}

/* ---- objects ---- */

static int
read_str(struct jfield_ctx *c, json_object *v, const char *path,
    const struct jfield *f, char **target)
{
	char q[JFIELD_QUOTE_LEN], list[128];
	int r, i;

	if ((r = jfield_str(c, v, path, (size_t)f->min, target)) != 0)
		return r;
	if (f->type == JFIELD_PATH && (*target)[0] != '/')
		return jfield_fail(c, path, "must be an absolute path "
		    "(got %s)", jfield_quote(*target, q, sizeof(q)));
	if (f->names == NULL || jfield_parse_enum(*target, f->names, &i) == 0)
		return 0;
	jfield_name_list(f->names, list, sizeof(list));
	return jfield_fail(c, path, "unknown value %s (expected %s)",
	    jfield_quote(*target, q, sizeof(q)), list);
}

/* An object read by f's sub-table into the struct at base. */
static int
read_object(struct jfield_ctx *c, json_object *v, const char *path,
    const struct jfield *f, void *base)
{
	char pre[JFIELD_PATH_LEN];
	int r;

	snprintf(pre, sizeof(pre), "%s.", path);
	if ((r = jfield_object(c, v, path, pre, f->sub, f->nsub)) != 0)
		return r;
	return jfield_read(c, v, pre, f->sub, f->nsub, base);
}

/* An array of objects, each read into a new element of *(void **)base. */
static int
read_list(struct jfield_ctx *c, json_object *v, const char *path,
    const struct jfield *f, char *base)
{
	char ep[JFIELD_PATH_LEN];
	char *elems;
	size_t i, n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return jfield_type_error(c, path, "an array of objects", v);
	if ((n = json_object_array_length(v)) == 0)
		return 0;
	if ((elems = calloc(n, f->nsize)) == NULL)
		return jfield_oom(c);
	*(void **)(base + f->off) = elems;
	*(size_t *)(base + f->count_off) = n;
	for (i = 0; i < n; i++) {
		elem_path(ep, path, i);
		if ((r = read_object(c, json_object_array_get_idx(v, i), ep, f,
		    elems + i * f->nsize)) != 0)
			return r;
	}
	return 0;
}

static int
read_one(struct jfield_ctx *c, json_object *v, const char *path,
    const struct jfield *f, char *base)
{
	void *p = base + f->off;
	int64_t n;
	int r, e;

	switch (f->type) {
	case JFIELD_CUSTOM:
		return f->custom != NULL ? f->custom(c, v, path, base) : 0;
	case JFIELD_STR:
	case JFIELD_PATH:
		return read_str(c, v, path, f, p);
	case JFIELD_BOOL:
		return jfield_bool(c, v, path, p);
	case JFIELD_INT:
		if ((r = jfield_int(c, v, path, f->min, f->max, &n)) == 0)
			*(int *)p = (int)n;
		return r;
	case JFIELD_I64:
		return jfield_int(c, v, path, f->min, f->max, p);
	case JFIELD_DUR:
		return jfield_dur(c, v, path, f->min, p);
	case JFIELD_ENUM:
		if ((r = jfield_enum(c, v, path, f->names, &e)) == 0)
			*(int *)p = e;
		return r;
	case JFIELD_SIZE:
		return jfield_size(c, v, path, f->min, f->max, p);
	case JFIELD_STRV:
		return jfield_strv(c, v, path, (size_t)f->min, f->max != 0, p);
	case JFIELD_OBJECT:
		return read_object(c, v, path, f, p);
	case JFIELD_LIST:
		return read_list(c, v, path, f, base);
	}
	return ERR_INTERNAL;
}

int
jfield_read(struct jfield_ctx *c, json_object *obj, const char *pre,
    const struct jfield *fields, size_t n, void *base)
{
	char path[JFIELD_PATH_LEN];
	json_object *v;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if ((v = jfield_get(obj, fields[i].key)) == NULL ||
		    (fields[i].type == JFIELD_CUSTOM &&
		    fields[i].custom == NULL))
			continue;
		jfield_join(path, pre, fields[i].key);
		if ((r = read_one(c, v, path, &fields[i], base)) != 0)
			return r;
	}
	return 0;
}

int
jfield_unknown(struct jfield_ctx *c, json_object *obj, const char *pre,
    const struct jfield *fields, size_t n)
{
	struct json_object_iter it;
	char path[JFIELD_PATH_LEN], q[JFIELD_QUOTE_LEN];

	json_object_object_foreachC(obj, it) {
		if (jfield_find(fields, n, it.key) != NULL)
			continue;
		jfield_join(path, pre, it.key);
		if (c->strict)
			return jfield_fail(c, path, "unknown field");
		jfield_warn(c, "unknown field %s (ignored)",
		    jfield_quote(path, q, sizeof(q)));
	}
	return 0;
}

int
jfield_object(struct jfield_ctx *c, json_object *v, const char *path,
    const char *pre, const struct jfield *fields, size_t n)
{
	if (!json_object_is_type(v, json_type_object))
		return jfield_type_error(c, path, "an object", v);
	return jfield_unknown(c, v, pre, fields, n);
}
