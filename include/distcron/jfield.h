/*
 * jfield.h - reading JSON objects into structs through field tables.
 *
 * A table of struct jfield names each known key of an object, its type,
 * where the value goes in the target struct (an offset) and its bounds.
 * jfield_read() walks the table; jfield_unknown() reports the keys the
 * table does not know.  Every error names the field by its path
 * ("policy.roles[2]: expected a string, got integer") and quotes the
 * values it echoes, truncated and escaped, so a message stays one line.
 *
 * The scalar parsers (jfield_parse_*) take text, so that settings given as
 * flags or environment variables are checked by the same code as JSON.
 */
#ifndef DISTCRON_JFIELD_H
#define DISTCRON_JFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define JFIELD_PATH_LEN		256	/* a field path: "policy.roles[2]" */
#define JFIELD_QUOTE_MAX	60	/* input bytes echoed in a message */
#define JFIELD_QUOTE_LEN	(JFIELD_QUOTE_MAX * 4 + 16)
#define JFIELD_MSG_LEN		512	/* a warning, formatted */

enum jfield_type {
	JFIELD_CUSTOM,	/* read by f->custom; known key only if that's NULL */
	JFIELD_STR,	/* char *, a copy: at least min bytes; one of names
			 * when names is not NULL */
	JFIELD_PATH,	/* char *, as JFIELD_STR, and an absolute path */
	JFIELD_BOOL,	/* bool */
	JFIELD_INT,	/* int in [min, max] */
	JFIELD_I64,	/* int64_t in [min, max] */
	JFIELD_DUR,	/* int64_t ms, at least min: "90s" or integer seconds */
	JFIELD_ENUM,	/* int: the index of the value in names */
	JFIELD_SIZE,	/* size_t bytes in [min, max]: 1048576 or "1M" */
	JFIELD_STRV,	/* char **, NULL-terminated: at least min strings,
			 * each non-empty when max is not 0 */
	JFIELD_OBJECT,	/* a struct embedded at off, read by sub */
	JFIELD_LIST,	/* an array of objects: a calloc'ed array of nsize-
			 * byte structs at off (void *), their count at
			 * count_off (size_t), each read by sub; [] is none */
};

struct jfield_ctx;

/*
 * Reads v, found at path, into the struct at base.  Returns 0, or an
 * error made with jfield_fail() / jfield_oom().
 */
typedef int (*jfield_fn)(struct jfield_ctx *c, json_object *v,
    const char *path, void *base);

/* One known key of an object. */
struct jfield {
	const char *key;
	enum jfield_type type;
	size_t off;		/* offset of the target in its struct */
	int64_t min, max;	/* bounds, as the type says */
	const char *const *names;	/* JFIELD_ENUM, JFIELD_STR */
	const struct jfield *sub;	/* JFIELD_OBJECT, JFIELD_LIST */
	size_t nsub;
	size_t nsize, count_off;	/* JFIELD_LIST */
	jfield_fn custom;		/* JFIELD_CUSTOM, or NULL */
};

/* A table entry of key k, type t at offset o, bounds lo-hi, names nm. */
#define JFIELD_ENTRY(k, t, o, lo, hi, nm) \
	{ .key = (k), .type = (t), .off = (o), .min = (lo), .max = (hi), \
	  .names = (nm) }
/* A table entry for a known key that the caller reads itself. */
#define JFIELD_KNOWN(k)	{ .key = (k), .type = JFIELD_CUSTOM }

/* Where diagnostics go while an object is read. */
struct jfield_ctx {
	char *err;		/* the error: "path: message" */
	size_t errlen;
	void (*warn)(void *arg, const char *msg);	/* or NULL */
	void *arg;
	bool strict;		/* unknown keys are errors, not warnings */
};

/* Sets up c; err (errlen bytes) is emptied.  err and warn may be NULL. */
void jfield_ctx_init(struct jfield_ctx *c, char *err, size_t errlen,
    void (*warn)(void *, const char *), void *arg);

/*
 * Writes "path: message" (just the message when path is NULL) to c->err,
 * control characters replaced by '?'.  Returns ERR_INVALID.
 */
int jfield_fail(struct jfield_ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "out of memory" to c->err.  Returns -ENOMEM. */
int jfield_oom(struct jfield_ctx *c);

/* Formats a one-line warning and hands it to c->warn, if any. */
void jfield_warn(struct jfield_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "expected <want>, got <v's type>" at path.  Returns ERR_INVALID. */
int jfield_type_error(struct jfield_ctx *c, const char *path,
    const char *want, json_object *v);

/*
 * Quotes s (NULL: "") for a message into out (JFIELD_QUOTE_LEN bytes): at
 * most JFIELD_QUOTE_MAX bytes, never splitting a UTF-8 sequence, then
 * "..."; quotes, backslashes and control characters escaped.  Returns out.
 */
const char *jfield_quote(const char *s, char *out, size_t outlen);

/*
 * As jfield_quote(), without the surrounding quotes and cut at exactly
 * JFIELD_QUOTE_MAX bytes without "...".  Returns out.
 */
const char *jfield_escape(const char *s, char *out, size_t outlen);

/* "string", "integer", "object"...: the JSON type of v. */
const char *jfield_type_name(json_object *v);

/* Formats "\"a\", \"b\" or \"c\"" from a NULL-terminated list into out. */
void jfield_name_list(const char *const *names, char *out, size_t outlen);

/* The member key of obj, or NULL when absent, JSON null or obj no object. */
json_object *jfield_get(json_object *obj, const char *key);

/* Writes pre followed by key to out (JFIELD_PATH_LEN bytes). */
void jfield_join(char *out, const char *pre, const char *key);

/* The entry of fields (n of them) for key, or NULL. */
const struct jfield *jfield_find(const struct jfield *fields, size_t n,
    const char *key);

/* ---- JSON values: each returns 0 or the error, c->err naming path ---- */

/* A string without a NUL byte; *out stays owned by v. */
int jfield_cstr(struct jfield_ctx *c, json_object *v, const char *path,
    const char **out);

/* A copy of a string of at least minlen bytes, freeing the old *out. */
int jfield_str(struct jfield_ctx *c, json_object *v, const char *path,
    size_t minlen, char **out);

/* A JSON boolean. */
int jfield_bool(struct jfield_ctx *c, json_object *v, const char *path,
    bool *out);

/* An integer in [min, max]. */
int jfield_int(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t min, int64_t max, int64_t *out);

/* One of names (NULL-terminated): *out is its index. */
int jfield_enum(struct jfield_ctx *c, json_object *v, const char *path,
    const char *const *names, int *out);

/* A duration ("90s", "1h30m", or integer seconds) of at least min ms. */
int jfield_dur(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t min, int64_t *out);

/* A byte count in [min, max]: an integer or a string with a unit. */
int jfield_size(struct jfield_ctx *c, json_object *v, const char *path,
    int64_t min, int64_t max, size_t *out);

/*
 * An array of at least minn strings (each non-empty if nonempty) as a
 * NULL-terminated copy, freeing the old *out with jfield_strv_free().
 */
int jfield_strv(struct jfield_ctx *c, json_object *v, const char *path,
    size_t minn, bool nonempty, char ***out);

/* Frees a NULL-terminated string vector; NULL is fine. */
void jfield_strv_free(char **sv);

/* ---- objects ---- */

/*
 * Reads the members of obj that fields (n of them) name into the struct at
 * base, in table order; absent and null members keep their value.  Paths
 * are pre + key ("http." + "timeout").  Stops at the first error.
 */
int jfield_read(struct jfield_ctx *c, json_object *obj, const char *pre,
    const struct jfield *fields, size_t n, void *base);

/*
 * Reports each member of obj that fields does not name: a warning
 * "unknown field \"pre.key\" (ignored)", or with c->strict the error
 * "pre.key: unknown field".  Returns 0 or that error.
 */
int jfield_unknown(struct jfield_ctx *c, json_object *obj, const char *pre,
    const struct jfield *fields, size_t n);

/* Checks that v, at path, is an object, then jfield_unknown(). */
int jfield_object(struct jfield_ctx *c, json_object *v, const char *path,
    const char *pre, const struct jfield *fields, size_t n);

/* ---- text: 0, or ERR_PARSE / ERR_RANGE / ERR_INVALID, no message ---- */

/* true/yes/on/1 or false/no/off/0. */
int jfield_parse_bool(const char *s, bool *out);

/* A decimal integer in [min, max] (see dur_parse_int()). */
int jfield_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* A byte count in [min, max]: digits and an optional unit ("512k"). */
int jfield_parse_size(const char *s, int64_t min, int64_t max, int64_t *out);

/* A duration ("1h30m") in ms; *errstr says why it is not one. */
int jfield_parse_dur(const char *s, int64_t *ms, const char **errstr);

/* The index of s in names (NULL-terminated), exact match. */
int jfield_parse_enum(const char *s, const char *const *names, int *out);

/*
 * The text form of a JSON value for a field of type t, to hand to the text
 * parsers: strings as they are, integers for JFIELD_INT, JFIELD_I64,
 * JFIELD_SIZE and JFIELD_DUR (seconds: "30s"), booleans for JFIELD_BOOL.
 * Returns 0, or ERR_INVALID for any other type.
 */
int jfield_json_text(enum jfield_type t, json_object *v, char *out,
    size_t outlen);

#endif
