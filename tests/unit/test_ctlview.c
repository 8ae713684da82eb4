/*
 * test_ctlview.c - distcronctl's tables and run view show cluster mode's
 * member and fence: "runs" (from the API's JSON) and "history" (from the
 * store) gain MEMBER and FENCE columns when a run of the list has them,
 * and keep their columns otherwise; a run's view names its member and
 * fence.  "cluster" lists the job files that differ between members
 * under a heading, and says nothing of them when they agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "distcron/ctlhist.h"
#include "distcron/ctlview.h"
#include "distcron/store.h"
#include "distcron/tz.h"

/* What fn printed for root (the caller frees it). */
static char *
printed(int (*fn)(json_object *, FILE *, FILE *), const char *json)
{
	json_object *root = json_tokener_parse(json);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(root);
	assert_non_null(out);
	assert_int_equal(fn(root, out, stderr), 0);
	fclose(out);
	json_object_put(root);
	return text;
}

static void
test_runs_table(void **state)
{
	char *text;

	(void)state;
	text = printed(ctlview_runs, "{\"runs\": [{\"id\": 2, \"job\": \"a\", "
	    "\"status\": \"SUCCESS\", \"member\": \"host-a:7\", \"fence\": 42,"
	    " \"items\": []}, {\"id\": 1, \"job\": \"a\", \"status\": "
	    "\"SUCCESS\", \"items\": []}]}");
	assert_non_null(strstr(text, "EXIT  MEMBER    FENCE\n"));
	assert_non_null(strstr(text, "host-a:7  42\n"));
	assert_non_null(strstr(text, "-         -\n"));	/* run 1: none */
	free(text);
	text = printed(ctlview_runs, "{\"runs\": [{\"id\": 1, \"job\": \"a\", "
	    "\"status\": \"SUCCESS\", \"items\": []}]}");
	assert_null(strstr(text, "MEMBER"));		/* not a cluster's */
	assert_null(strstr(text, "FENCE"));
	free(text);
}

static void
test_run_view(void **state)
{
	json_object *run = json_tokener_parse("{\"job\": \"a\", \"status\": "
	    "\"SUCCESS\", \"member\": \"host-a:7\", \"fence\": 42, "
	    "\"items\": []}");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	ctlview_run(run, 2, out);
	fclose(out);
	assert_string_equal(text, "run 2 (a): SUCCESS\n"
	    "  member: host-a:7, fence 42\n");
	free(text);
	json_object_put(run);
}

static void
test_history_table(void **state)
{
	struct store_run a = { .id = 2, .job = "a", .trigger = "schedule",
	    .status = RUN_SUCCESS, .member = "host-a:7", .fence = 42 };
	struct store_run b = { .id = 1, .job = "a", .trigger = "schedule",
	    .status = RUN_SUCCESS };
	struct store_run *runs[] = { &a, &b };
	const struct tz *utc = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	assert_int_equal(tz_get("UTC", &utc, NULL), 0);
	assert_int_equal(ctlhist_table(runs, 2, utc, out), 0);
	fclose(out);
	assert_non_null(strstr(text, "TRIGGER   MEMBER    FENCE\n"));
	assert_non_null(strstr(text, "schedule  host-a:7  42\n"));
	assert_non_null(strstr(text, "schedule  -         -\n"));
	free(text);
	text = NULL;
	out = open_memstream(&text, &len);
	assert_int_equal(ctlhist_table(&runs[1], 1, utc, out), 0);
	fclose(out);
	assert_null(strstr(text, "MEMBER"));
	assert_non_null(strstr(text, "TRIGGER\n"));
	free(text);
}

static void
test_cluster_mismatch(void **state)
{
	static const char *const head = "{\"member\": \"m1\", "
	    "\"namespace\": \"default\", \"lease_ok\": true, \"members\": "
	    "[{\"member\": \"m1\", \"self\": true}], ";
	char json[1024], *text;

	(void)state;
	snprintf(json, sizeof(json), "%s\"mismatch_jobs\": 2, \"mismatch\": "
	    "[\"job \\\"b\\\" differs: m1 has 01, m2 has 02\", \"job "
	    "\\\"x\\\" is missing on m1\"]}", head);
	text = printed(ctlview_cluster, json);
	assert_non_null(strstr(text, "\nJob files differ between members "
	    "(2 jobs):\n  job \"b\" differs: m1 has 01, m2 has 02\n"
	    "  job \"x\" is missing on m1\n"));
	free(text);
	snprintf(json, sizeof(json), "%s\"mismatch_jobs\": 0, \"mismatch\": "
	    "[]}", head);
	text = printed(ctlview_cluster, json);
	assert_null(strstr(text, "differ"));
	assert_non_null(strstr(text, "m1"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_table),
		cmocka_unit_test(test_run_view),
		cmocka_unit_test(test_history_table),
		cmocka_unit_test(test_cluster_mismatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
