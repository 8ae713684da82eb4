/* test_jobset.c - cluster mode's comparison of the members' job files:
 * the jobs that differ are named with the members on each side, jobs
 * missing on some members too, the list is capped, equal sets give
 * nothing; published sets read back, bad ones are refused naming the
 * job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/jobset.h"

#define MAXM	4

static const char *const ids[MAXM] = { "m1", "m2", "m3", "m4" };

/* The sets of n members from their JSON texts. */
static void
sets_of(const char *const *texts, size_t n, struct jobset *sets)
{
	char err[256];
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(jobset_parse(texts[i], strlen(texts[i]),
		    &sets[i], err, sizeof(err)), 0);
}

/* The comparison of n members' texts, in d. */
static void
compare(const char *const *texts, size_t n, size_t cap,
    struct jobset_diff *d)
{
	struct jobset sets[MAXM];
	size_t i;

	sets_of(texts, n, sets);
	assert_int_equal(jobset_compare(ids, sets, n, cap, d), 0);
	for (i = 0; i < n; i++)
		jobset_clear(&sets[i]);
}

static void
test_equal(void **state)
{
	const char *const t[] = {
		"{\"a\": \"0000000000000001\", \"b\": \"00000000000000b2\"}",
		"{\"b\": \"00000000000000b2\", \"a\": \"0000000000000001\"}",
		"{\"a\": \"0000000000000001\", \"b\": \"00000000000000b2\"}",
	};
	struct jobset_diff d;

	(void)state;
	compare(t, 3, 20, &d);
	assert_int_equal(d.njobs, 0);
	assert_int_equal(d.nlines, 0);
	jobset_diff_clear(&d);
}

/* A schedule changed on m2 and a job only m2 has: both named, with the
 * members on each side, in name order. */
static void
test_differs_and_missing(void **state)
{
	const char *const t[] = {
		"{\"backup\": \"3f2a0c1100000000\", \"rotate\": \"77\"}",
		"{\"backup\": \"9c01aa0200000000\", \"rotate\": \"77\", "
		    "\"extra\": \"12\"}",
		"{\"backup\": \"3f2a0c1100000000\", \"rotate\": \"77\"}",
	};
	struct jobset_diff d;

	(void)state;
	compare(t, 3, 20, &d);
	assert_int_equal(d.njobs, 2);
	assert_int_equal(d.nlines, 2);
	assert_string_equal(d.lines[0], "job \"backup\" differs: m1, m3 have "
	    "3f2a0c11, m2 has 9c01aa02");
	assert_string_equal(d.lines[1], "job \"extra\" is missing on m1, m3");
	jobset_diff_clear(&d);
}

/* Different on some, missing on another: one line says both. */
static void
test_both(void **state)
{
	const char *const t[] = {
		"{\"y\": \"aa\"}", "{\"y\": \"bb\"}", "{}", "{\"y\": \"aa\"}",
	};
	struct jobset_diff d;

	(void)state;
	compare(t, 4, 20, &d);
	assert_int_equal(d.njobs, 1);
	assert_string_equal(d.lines[0], "job \"y\" differs: m1, m4 have aa, "
	    "m2 has bb; missing on m3");
	jobset_diff_clear(&d);
}

/* Past the cap the jobs are counted, and one line says how many more. */
static void
test_cap(void **state)
{
	const char *const t[] = {
		"{\"a\": \"1\", \"b\": \"1\", \"c\": \"1\", \"d\": \"1\", "
		    "\"e\": \"1\"}",
		"{}",
	};
	struct jobset_diff d;

	(void)state;
	compare(t, 2, 3, &d);
	assert_int_equal(d.njobs, 5);
	assert_int_equal(d.nlines, 4);
	assert_string_equal(d.lines[2], "job \"c\" is missing on m2");
	assert_string_equal(d.lines[3], "and 2 more jobs");
	/* a member whose set could not be compared counts as one more */
	assert_int_equal(jobset_diff_note(&d, "member m3 lists none"), 0);
	assert_int_equal(d.njobs, 6);
	assert_string_equal(d.lines[4], "member m3 lists none");
	jobset_diff_clear(&d);
}

/* What a member publishes reads back as the same set, and its hash
 * depends on every name and digest. */
static void
test_roundtrip(void **state)
{
	const char *const t[] = { "{\"b\": \"02\", \"a\": \"01\"}" };
	char h1[JOBSET_HASH_LEN], h2[JOBSET_HASH_LEN], *json;
	struct jobset s;

	(void)state;
	sets_of(t, 1, &s);
	assert_int_equal(s.njobs, 2);
	assert_string_equal(s.jobs[0].name, "a");
	json = jobset_json(&s);
	assert_string_equal(json, "{\"a\":\"01\",\"b\":\"02\"}");
	jobset_hash(json, h1);
	jobset_hash("{\"a\":\"01\",\"b\":\"03\"}", h2);
	assert_int_equal(strlen(h1), 16);
	assert_string_not_equal(h1, h2);
	free(json);
	jobset_clear(&s);
}

/* Only jobs read from files of jobs_dir count: the API's (elsewhere)
 * and a directory whose name only starts the same do not. */
static void
test_from_defs(void **state)
{
	struct job_def a = { .name = "a", .source = "/etc/j/a.json",
	    .digest = 0xabcULL }, b = { .name = "b", .source = "etcd" },
	    c = { .name = "c", .source = "/etc/jx/c.json" },
	    d = { .name = "d", .source = NULL };
	struct job_def *jobs[] = { &a, &b, &c, &d };
	struct defs_set set = { .jobs = jobs, .njobs = 4 };
	struct jobset s;

	(void)state;
	assert_int_equal(jobset_from_defs(&set, "/etc/j", &s), 0);
	assert_int_equal(s.njobs, 1);
	assert_string_equal(s.jobs[0].name, "a");
	assert_string_equal(s.jobs[0].digest, "0000000000000abc");
	jobset_clear(&s);
}

/* What another member published is checked: a bad one is refused with
 * the job named. */
static void
test_bad(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[1]", "not a JSON object of job digests" },
		{ "{\"a\": ", "not a JSON object of job digests: " },
		{ "{\"x y\": \"01\"}", "job \"x y\": not a job name" },
		{ "{\"a\": 1}", "job \"a\": the digest must be" },
		{ "{\"a\": \"xyz\"}", "job \"a\": the digest must be" },
	};
	struct jobset s;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(jobset_parse(bad[i].text, strlen(bad[i].text),
		    &s, err, sizeof(err)), ERR_PARSE);
		assert_non_null(strstr(err, bad[i].msg));
		assert_int_equal(s.njobs, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_differs_and_missing),
		cmocka_unit_test(test_both),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_from_defs),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
