/* test_clruns.c - cluster mode's run summaries (clrunkey.c): a summary's
 * key sorts by time and parses back, a summary goes to JSON and back
 * without output, bad summaries are refused naming the field, and the
 * per-job cap picks the oldest keys beyond it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "cluster/clruns_int.h"

#define PREFIX	"/distcron/default/runs/"

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* A final run of job with one item, made by member. */
static struct store_run *
mkrun(const char *job, int64_t id, int64_t created_ms, const char *member)
{
	struct store_run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->id = id;
	r->job = xstrdup(job);
	r->scheduled_at = created_ms / 1000;
	r->trigger = xstrdup("schedule");
	r->status = RUN_FAILURE;
	r->attempt = 2;
	r->created_ms = created_ms;
	r->started_ms = created_ms + 5;
	r->ended_ms = created_ms + 900;
	r->member = member != NULL ? xstrdup(member) : NULL;
	r->fence = 4242;
	r->reason = xstrdup("exit code 3");
	r->items = calloc(1, sizeof(*r->items));
	assert_non_null(r->items);
	r->nitems = 1;
	r->items[0].node = xstrdup("local");
	r->items[0].attempt = 2;
	r->items[0].status = RUN_FAILURE;
	r->items[0].exit_code = 3;
	r->items[0].started_ms = created_ms + 5;
	r->items[0].ended_ms = created_ms + 900;
	r->items[0].out = xstrdup("the output stays home");
	r->items[0].error = xstrdup("exit code 3");
	return r;
}

/* Keys sort by time (as etcd ranges them) and parse back into their
 * parts, a member id with '_' and ':' included. */
static void
test_key(void **state)
{
	struct store_run *a = mkrun("backup.db", 7, 999, "host_a:12");
	struct store_run *b = mkrun("backup.db", 3, 1700000000123LL, "m2");
	struct clr_key_parts p;
	char ka[CLR_KEY_MAX], kb[CLR_KEY_MAX];
	const char *why;

	(void)state;
	assert_int_equal(clr_key(PREFIX, a, ka, sizeof(ka)), 0);
	assert_int_equal(clr_key(PREFIX, b, kb, sizeof(kb)), 0);
	assert_string_equal(ka,
	    PREFIX "backup.db/0000000000000999_host_a:12_7");
	assert_true(strcmp(ka, kb) < 0);	/* older first */
	assert_int_equal(clr_key_parse(PREFIX, ka, &p, &why), 0);
	assert_string_equal(p.job, "backup.db");
	assert_string_equal(p.member, "host_a:12");
	assert_int_equal(p.ms, 999);
	assert_int_equal(p.id, 7);
	assert_int_equal(clr_key(PREFIX, a, ka, 20), -E2BIG);
	store_run_free(a);
	store_run_free(b);
}

/* Keys that are not a summary's are refused, saying why. */
static void
test_key_bad(void **state)
{
	static const struct { const char *key, *why; } bad[] = {
		{ "/distcron/other/runs/j/1_m_1", "not under the runs prefix" },
		{ PREFIX "j", "no job name" },
		{ PREFIX ".j/1_m_1", "invalid job name" },
		{ PREFIX "j/1_m", "expected TIME_MEMBER_ID after the job" },
		{ PREFIX "j/1__1", "expected TIME_MEMBER_ID after the job" },
		{ PREFIX "j/x1_m_1", "expected TIME_MEMBER_ID after the job" },
		{ PREFIX "j/1_m_0", "expected TIME_MEMBER_ID after the job" },
		{ PREFIX "j/1_m_", "expected TIME_MEMBER_ID after the job" },
	};
	struct clr_key_parts p;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(clr_key_parse(PREFIX, bad[i].key, &p, &why),
		    ERR_PARSE);
		assert_string_equal(why, bad[i].why);
	}
}

/* A summary carries status, times, member, fence and the items without
 * their output; decoded, its id is the remote id. */
static void
test_summary_roundtrip(void **state)
{
	struct store_run *a = mkrun("j", 17, 5000, "m2"), *b = NULL;
	char err[200], *text = clr_encode(a);

	(void)state;
	assert_non_null(text);
	assert_null(strstr(text, "the output stays home"));
	assert_int_equal(clr_decode(text, strlen(text), &b, err, sizeof(err)),
	    0);
	assert_int_equal(b->id, 0);
	assert_int_equal(b->remote_id, 17);
	assert_string_equal(b->job, "j");
	assert_string_equal(b->member, "m2");
	assert_int_equal(b->fence, 4242);
	assert_int_equal(b->status, RUN_FAILURE);
	assert_int_equal(b->attempt, 2);
	assert_int_equal(b->created_ms, 5000);
	assert_int_equal(b->ended_ms, 5900);
	assert_string_equal(b->reason, "exit code 3");
	assert_int_equal(b->nitems, 1);
	assert_string_equal(b->items[0].node, "local");
	assert_int_equal(b->items[0].exit_code, 3);
	assert_null(b->items[0].out);
	assert_string_equal(b->items[0].error, "exit code 3");
	free(text);
	store_run_free(a);
	store_run_free(b);
}

/* Long texts are cut, many items are kept to CLR_ITEMS_MAX. */
static void
test_summary_small(void **state)
{
	struct store_run *a = mkrun("j", 1, 5000, "m2"), *b = NULL;
	char err[200], *text, big[4 * CLR_TEXT_MAX];
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	free(a->reason);
	a->reason = xstrdup(big);
	a->items = realloc(a->items, 40 * sizeof(*a->items));
	assert_non_null(a->items);
	for (i = 1; i < 40; i++) {
		memset(&a->items[i], 0, sizeof(a->items[i]));
		a->items[i].node = xstrdup("n");
	}
	a->nitems = 40;
	text = clr_encode(a);
	assert_int_equal(clr_decode(text, strlen(text), &b, err, sizeof(err)),
	    0);
	assert_int_equal(strlen(b->reason), CLR_TEXT_MAX);
	assert_int_equal(b->nitems, CLR_ITEMS_MAX);
	free(text);
	store_run_free(a);
	store_run_free(b);
}

/* Bad summaries are refused, naming the field and the value. */
static void
test_summary_bad(void **state)
{
	static const struct { const char *text, *err; } bad[] = {
		{ "[1]", "not a JSON object" },
		{ "{\"id\": 1", "not a JSON object: " },
		{ "{\"id\": 1, \"trigger\": \"schedule\", \"status\": \"SUCCESS\","
		  " \"member\": \"m\"}", "field job: missing" },
		{ "{\"id\": 1, \"job\": \"a b\", \"trigger\": \"schedule\","
		  " \"status\": \"SUCCESS\", \"member\": \"m\"}",
		  "field job: invalid job name \"a b\"" },
		{ "{\"id\": 0, \"job\": \"j\", \"trigger\": \"schedule\","
		  " \"status\": \"SUCCESS\", \"member\": \"m\"}",
		  "field id: expected a run id > 0, got 0" },
		{ "{\"id\": 1, \"job\": \"j\", \"trigger\": \"schedule\","
		  " \"status\": \"STARTED\", \"member\": \"m\"}",
		  "field status: expected a final status, got \"STARTED\"" },
		{ "{\"id\": \"1\", \"job\": \"j\", \"trigger\": \"schedule\","
		  " \"status\": \"SUCCESS\", \"member\": \"m\"}",
		  "field id: expected int, got string \"1\"" },
		{ "{\"id\": 1, \"job\": \"j\", \"trigger\": \"schedule\","
		  " \"status\": \"SUCCESS\", \"member\": \"\"}",
		  "field member: expected a member id (1-128 letters, digits, "
		  "'-', '_', '.', ':'), got \"\"" },
		{ "{\"id\": 1, \"job\": \"j\", \"trigger\": \"schedule\","
		  " \"status\": \"SUCCESS\", \"member\": \"m/2\"}",
		  "field member: expected a member id" },
	};
	struct store_run *r;
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(clr_decode(bad[i].text, strlen(bad[i].text),
		    &r, err, sizeof(err)), ERR_PARSE);
		assert_null(r);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("summary %zu: got \"%s\", want \"%s\"", i, err,
			    bad[i].err);
	}
}

/* The cap: after a put, the oldest known keys beyond it go; never more
 * than are known, none while at or under it. */
static void
test_excess(void **state)
{
	(void)state;
	assert_int_equal(clr_excess(50, 50, 9), 0);
	assert_int_equal(clr_excess(3, 50, 3), 0);
	assert_int_equal(clr_excess(51, 50, 9), 1);
	assert_int_equal(clr_excess(53, 50, 11), 3);
	assert_int_equal(clr_excess(500, 50, 9), 9);	/* the rest: later */
	assert_int_equal(clr_excess(2, 1, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_key_bad),
		cmocka_unit_test(test_summary_roundtrip),
		cmocka_unit_test(test_summary_small),
		cmocka_unit_test(test_summary_bad),
		cmocka_unit_test(test_excess),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
