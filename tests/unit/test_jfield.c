/*
 * test_jfield.c - the field-table reader: each type's bounds and errors
 * with their path, nested objects and lists of objects, unknown keys,
 * quoting of echoed values, and the text parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/jfield.h"

struct sub {
	char *name;
	int port;
};

struct item {
	char *id;
	bool on;
};

struct rec {
	char *str;
	char *path;
	char *mode;
	bool flag;
	int n;
	int64_t big;
	int64_t dur_ms;
	int color;
	size_t size;
	char **tags;
	struct sub sub;
	struct item *items;
	size_t nitems;
	int custom_calls;
	char custom_path[64];
};

static const char *const colors[] = { "red", "green", "blue", NULL };
static const char *const modes[] = { "strict", "accept-new", NULL };

static int
read_custom(struct jfield_ctx *c, json_object *v, const char *path,
    void *base)
{
	struct rec *r = base;

	r->custom_calls++;
	snprintf(r->custom_path, sizeof(r->custom_path), "%s", path);
	if (!json_object_is_type(v, json_type_string))
		return jfield_type_error(c, path, "a string", v);
	return 0;
}

#define SOFF(f)	offsetof(struct sub, f)
static const struct jfield sub_fields[] = {
	JFIELD_ENTRY("name", JFIELD_STR, SOFF(name), 1, 0, NULL),
	JFIELD_ENTRY("port", JFIELD_INT, SOFF(port), 1, 65535, NULL),
};

#define IOFF(f)	offsetof(struct item, f)
static const struct jfield item_fields[] = {
	JFIELD_ENTRY("id", JFIELD_STR, IOFF(id), 0, 0, NULL),
	JFIELD_ENTRY("on", JFIELD_BOOL, IOFF(on), 0, 0, NULL),
};

#define ROFF(f)	offsetof(struct rec, f)
static const struct jfield rec_fields[] = {
	JFIELD_ENTRY("str", JFIELD_STR, ROFF(str), 1, 0, NULL),
	JFIELD_ENTRY("path", JFIELD_PATH, ROFF(path), 1, 0, NULL),
	JFIELD_ENTRY("mode", JFIELD_STR, ROFF(mode), 1, 0, modes),
	JFIELD_ENTRY("flag", JFIELD_BOOL, ROFF(flag), 0, 0, NULL),
	JFIELD_ENTRY("n", JFIELD_INT, ROFF(n), 0, 10, NULL),
	JFIELD_ENTRY("big", JFIELD_I64, ROFF(big), -5, 1000, NULL),
	JFIELD_ENTRY("dur", JFIELD_DUR, ROFF(dur_ms), 1000, 0, NULL),
	JFIELD_ENTRY("color", JFIELD_ENUM, ROFF(color), 0, 0, colors),
	JFIELD_ENTRY("size", JFIELD_SIZE, ROFF(size), 1024, 1048576, NULL),
	JFIELD_ENTRY("tags", JFIELD_STRV, ROFF(tags), 1, 1, NULL),
	{ .key = "sub", .type = JFIELD_OBJECT, .off = ROFF(sub),
	  .sub = sub_fields, .nsub = 2 },
	{ .key = "items", .type = JFIELD_LIST, .off = ROFF(items),
	  .count_off = ROFF(nitems), .nsize = sizeof(struct item),
	  .sub = item_fields, .nsub = 2 },
	{ .key = "custom", .type = JFIELD_CUSTOM, .custom = read_custom },
	JFIELD_KNOWN("known"),
};
#define NREC	(sizeof(rec_fields) / sizeof(rec_fields[0]))

/* Warnings seen, one per line. */
static char warnings[1024];

static void
collect(void *arg, const char *msg)
{
	size_t n = strlen(warnings);

	(void)arg;
	snprintf(warnings + n, sizeof(warnings) - n, "%s\n", msg);
}

static void
rec_free(struct rec *r)
{
	size_t i;

	free(r->str);
	free(r->path);
	free(r->mode);
	jfield_strv_free(r->tags);
	free(r->sub.name);
	for (i = 0; i < r->nitems; i++)
		free(r->items[i].id);
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* Reads text as the top object (unknown keys first, as defs does). */
static int
read_rec(const char *text, bool strict, struct rec *r, char *err,
    size_t errlen)
{
	struct jfield_ctx c;
	json_object *root = json_tokener_parse(text);
	int rc;

	assert_non_null(root);
	warnings[0] = '\0';
	jfield_ctx_init(&c, err, errlen, collect, NULL);
	c.strict = strict;
	if ((rc = jfield_object(&c, root, "", "", rec_fields, NREC)) == 0)
		rc = jfield_read(&c, root, "", rec_fields, NREC, r);
	json_object_put(root);
	return rc;
}

static void
expect_error(const char *text, const char *want)
{
	struct rec r;
	char err[512];

	memset(&r, 0, sizeof(r));
	assert_int_equal(read_rec(text, false, &r, err, sizeof(err)),
	    ERR_INVALID);
	assert_string_equal(err, want);
	rec_free(&r);
}

static void
test_values(void **state)
{
	struct rec r;
	char err[512];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.n = 7;
	assert_int_equal(read_rec("{\"str\": \"x\", \"path\": \"/a\", "
	    "\"mode\": \"accept-new\", \"flag\": true, \"n\": null, "
	    "\"big\": -5, \"dur\": \"1m30s\", \"color\": \"blue\", "
	    "\"size\": \"64k\", \"tags\": [\"a\", \"b\"], \"known\": 1}",
	    false, &r, err, sizeof(err)), 0);
	assert_string_equal(r.str, "x");
	assert_string_equal(r.path, "/a");
	assert_string_equal(r.mode, "accept-new");
	assert_true(r.flag);
	assert_int_equal(r.n, 7);	/* null keeps the value */
	assert_int_equal(r.big, -5);
	assert_int_equal(r.dur_ms, 90000);
	assert_int_equal(r.color, 2);
	assert_int_equal(r.size, 65536);
	assert_string_equal(r.tags[0], "a");
	assert_string_equal(r.tags[1], "b");
	assert_null(r.tags[2]);
	assert_string_equal(warnings, "");
	rec_free(&r);

	/* integer seconds and byte counts */
	assert_int_equal(read_rec("{\"dur\": 90, \"size\": 2048}", false, &r,
	    err, sizeof(err)), 0);
	assert_int_equal(r.dur_ms, 90000);
	assert_int_equal(r.size, 2048);
	rec_free(&r);
}

static void
test_scalar_errors(void **state)
{
	(void)state;
	expect_error("{\"str\": 5}", "str: expected a string, got integer");
	expect_error("{\"str\": \"\"}", "str: must not be empty");
	expect_error("{\"str\": \"a\\u0000b\"}",
	    "str: contains a NUL character");
	expect_error("{\"path\": \"rel/x\"}",
	    "path: must be an absolute path (got \"rel/x\")");
	expect_error("{\"mode\": \"lax\"}", "mode: unknown value \"lax\" "
	    "(expected \"strict\" or \"accept-new\")");
	expect_error("{\"flag\": \"yes\"}",
	    "flag: expected a boolean, got string");
	expect_error("{\"n\": 11}", "n: 11 out of range 0-10");
	expect_error("{\"n\": -1}", "n: -1 out of range 0-10");
	expect_error("{\"n\": 1.5}", "n: expected an integer, got number");
	expect_error("{\"big\": 9223372036854775808}",
	    "big: 9223372036854775808 out of range -5-1000");
	expect_error("{\"dur\": \"500ms\"}", "dur: must be at least 1s");
	expect_error("{\"dur\": -1}",
	    "dur: -1 seconds out of range 0-3153600000");
	expect_error("{\"dur\": true}", "dur: expected a duration (\"90s\", "
	    "\"1h30m\") or integer seconds, got boolean");
	expect_error("{\"color\": \"pink\"}", "color: unknown value \"pink\" "
	    "(expected \"red\", \"green\" or \"blue\")");
	expect_error("{\"color\": [1]}", "color: expected a string, got array");
	expect_error("{\"size\": \"12 parsecs\"}", "size: invalid size "
	    "\"12 parsecs\" (use bytes or a unit: \"512k\", \"1M\", "
	    "\"1MiB\", \"64KB\")");
	expect_error("{\"size\": 10}", "size: 10 out of range 1024-1048576 "
	    "bytes");
	expect_error("{\"size\": \"2M\"}", "size: \"2M\" out of range "
	    "1024-1048576 bytes");
	expect_error("{\"size\": {}}", "size: expected a size "
	    "(1048576, \"512k\", \"1M\"), got object");
}

static void
test_duration_message(void **state)
{
	struct rec r;
	char err[512];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(read_rec("{\"dur\": \"5x\"}", false, &r, err,
	    sizeof(err)), ERR_INVALID);
	assert_memory_equal(err, "dur: invalid duration \"5x\": ", 27);
	assert_true(strlen(err) > 27);
	rec_free(&r);
}

static void
test_lists_of_strings(void **state)
{
	(void)state;
	expect_error("{\"tags\": \"a\"}",
	    "tags: expected an array of strings, got string");
	expect_error("{\"tags\": []}", "tags: must not be empty");
	expect_error("{\"tags\": [\"a\", 3]}",
	    "tags[1]: expected a string, got integer");
	expect_error("{\"tags\": [\"a\", \"\"]}", "tags[1]: must not be empty");
}

static void
test_nested(void **state)
{
	struct rec r;
	char err[512];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(read_rec("{\"sub\": {\"name\": \"db\", "
	    "\"port\": 5432, \"extra\": 1}, \"items\": [{\"id\": \"a\", "
	    "\"on\": true}, {\"id\": \"b\", \"more\": 2}]}", false, &r, err,
	    sizeof(err)), 0);
	assert_string_equal(r.sub.name, "db");
	assert_int_equal(r.sub.port, 5432);
	assert_int_equal(r.nitems, 2);
	assert_string_equal(r.items[0].id, "a");
	assert_true(r.items[0].on);
	assert_string_equal(r.items[1].id, "b");
	assert_false(r.items[1].on);
	assert_string_equal(warnings,
	    "unknown field \"sub.extra\" (ignored)\n"
	    "unknown field \"items[1].more\" (ignored)\n");
	rec_free(&r);

	assert_int_equal(read_rec("{\"items\": []}", false, &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.nitems, 0);
	assert_null(r.items);

	expect_error("{\"sub\": 3}", "sub: expected an object, got integer");
	expect_error("{\"sub\": {\"port\": 70000}}",
	    "sub.port: 70000 out of range 1-65535");
	expect_error("{\"sub\": {\"name\": \"\"}}",
	    "sub.name: must not be empty");
	expect_error("{\"items\": {}}",
	    "items: expected an array of objects, got object");
	expect_error("{\"items\": [{\"id\": \"a\"}, 1]}",
	    "items[1]: expected an object, got integer");
	expect_error("{\"items\": [{\"id\": \"a\"}, {\"on\": 1}]}",
	    "items[1].on: expected a boolean, got integer");
}

static void
test_custom(void **state)
{
	struct rec r;
	char err[512];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(read_rec("{\"custom\": \"x\"}", false, &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.custom_calls, 1);
	assert_string_equal(r.custom_path, "custom");
	rec_free(&r);
	expect_error("{\"custom\": 1}", "custom: expected a string, got "
	    "integer");
}

static void
test_unknown_keys(void **state)
{
	struct rec r;
	char err[512];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(read_rec("{\"n\": 1, \"bogus\": 2, \"known\": 3, "
	    "\"x\\ny\": 4}", false, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(warnings, "unknown field \"bogus\" (ignored)\n"
	    "unknown field \"x\\ny\" (ignored)\n");

	/* strict: the first unknown key is the error, nothing is read */
	r.n = 0;
	assert_int_equal(read_rec("{\"n\": 1, \"bogus\": 2}", true, &r, err,
	    sizeof(err)), ERR_INVALID);
	assert_string_equal(err, "bogus: unknown field");
	assert_int_equal(r.n, 0);
	assert_string_equal(warnings, "");
}

static void
test_quoting(void **state)
{
	char q[JFIELD_QUOTE_LEN], long_s[128], want[128];

	(void)state;
	assert_string_equal(jfield_quote("a\"b\\c\n\t\r\001\177", q,
	    sizeof(q)), "\"a\\\"b\\\\c\\n\\t\\r\\x01\\x7f\"");
	assert_string_equal(jfield_quote(NULL, q, sizeof(q)), "\"\"");

	/* 59 bytes, a 2-byte character across the cut, then more */
	memset(long_s, 'a', 59);
	snprintf(long_s + 59, sizeof(long_s) - 59, "\xc3\xa9zz");
	snprintf(want, sizeof(want), "\"%.59s\xc3\xa9...\"", long_s);
	assert_string_equal(jfield_quote(long_s, q, sizeof(q)), want);

	/* jfield_escape(): bare, cut at exactly 60 bytes */
	assert_string_equal(jfield_escape("a\"b\n", q, sizeof(q)),
	    "a\\\"b\\n");
	snprintf(want, sizeof(want), "%.59s\xc3", long_s);
	assert_string_equal(jfield_escape(long_s, q, sizeof(q)), want);

	/* a message echoes the value quoted, cut and escaped */
	expect_error("{\"color\": \"p\\u0001nk\"}", "color: unknown value "
	    "\"p\\x01nk\" (expected \"red\", \"green\" or \"blue\")");
}

static void
test_text_parsers(void **state)
{
	const char *errstr = NULL;
	int64_t n = -1;
	bool b = false;
	int e = -1;

	(void)state;
	assert_int_equal(jfield_parse_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(jfield_parse_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(jfield_parse_bool("1", &b), 0);
	assert_true(b);
	assert_int_equal(jfield_parse_bool("maybe", &b), ERR_INVALID);

	assert_int_equal(jfield_parse_int("42", 0, 100, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(jfield_parse_int("101", 0, 100, &n), ERR_RANGE);
	assert_int_equal(jfield_parse_int("4x", 0, 100, &n), ERR_PARSE);
	assert_int_equal(n, 42);

	assert_int_equal(jfield_parse_size("64k", 0, 1 << 20, &n), 0);
	assert_int_equal(n, 65536);
	assert_int_equal(jfield_parse_size("2G", 0, 1 << 20, &n), ERR_RANGE);
	assert_int_equal(jfield_parse_size("12 parsecs", 0, 1 << 20, &n),
	    ERR_PARSE);
	assert_int_equal(n, 65536);

	assert_int_equal(jfield_parse_dur("1h30m", &n, &errstr), 0);
	assert_int_equal(n, 5400000);
	assert_int_not_equal(jfield_parse_dur("90", &n, &errstr), 0);
	assert_non_null(errstr);

	assert_int_equal(jfield_parse_enum("green", colors, &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(jfield_parse_enum("Green", colors, &e), ERR_INVALID);
}

static void
test_json_text(void **state)
{
	json_object *v;
	char out[64];

	(void)state;
	v = json_object_new_int64(30);
	assert_int_equal(jfield_json_text(JFIELD_DUR, v, out, sizeof(out)), 0);
	assert_string_equal(out, "30s");
	assert_int_equal(jfield_json_text(JFIELD_I64, v, out, sizeof(out)), 0);
	assert_string_equal(out, "30");
	assert_int_equal(jfield_json_text(JFIELD_STR, v, out, sizeof(out)),
	    ERR_INVALID);
	json_object_put(v);
	v = json_object_new_boolean(1);
	assert_int_equal(jfield_json_text(JFIELD_BOOL, v, out, sizeof(out)),
	    0);
	assert_string_equal(out, "true");
	assert_int_equal(jfield_json_text(JFIELD_I64, v, out, sizeof(out)),
	    ERR_INVALID);
	json_object_put(v);
	v = json_object_new_string("1h");
	assert_int_equal(jfield_json_text(JFIELD_BOOL, v, out, sizeof(out)),
	    0);
	assert_string_equal(out, "1h");
	json_object_put(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_scalar_errors),
		cmocka_unit_test(test_duration_message),
		cmocka_unit_test(test_lists_of_strings),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_text_parsers),
		cmocka_unit_test(test_json_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
