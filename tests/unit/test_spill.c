/*
 * test_spill.c - the shutdown spill file: records read back as written,
 * an emptied file holds none (stale bytes after its end mark never count),
 * a record too big loses its output first, then is refused, and a broken
 * line is named with its file, line and field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/spill.h"
#include "distcron/store.h"

struct env {
	char dir[64], path[96];
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/dc-spill.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/unsaved.spill", e->dir);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

/* A finished run with one item; out is its captured output. */
static struct store_run *
new_run(int64_t id, const char *out)
{
	struct store_run *run = calloc(1, sizeof(*run));

	assert_non_null(run);
	run->id = id;
	run->job = strdup("backup");
	run->trigger = strdup("manual");
	run->scheduled_at = 1700000000;
	run->status = RUN_SUCCESS;
	run->attempt = 1;
	run->ended_ms = 1700000001234;
	run->reason = strdup("line one\nline \"two\"");
	run->items = calloc(1, sizeof(*run->items));
	assert_non_null(run->items);
	run->nitems = 1;
	run->items[0].node = strdup("local");
	run->items[0].attempt = 1;
	run->items[0].status = RUN_SUCCESS;
	run->items[0].exit_code = 0;
	run->items[0].out = strdup(out);
	return run;
}

static void
load(struct env *e, struct store_run ***runs, size_t *n)
{
	char err[256] = "";

	assert_int_equal(spill_load(e->path, runs, n, err, sizeof(err)), 0);
}

static void
test_round_trip(void **state)
{
	struct env *e = *state;
	struct store_run *a = new_run(7, "hello\n"), *b = new_run(8, "x");
	struct store_run **runs;
	struct spill *sp;
	size_t n;

	load(e, &runs, &n);			/* no file yet: nothing */
	assert_int_equal(n, 0);
	a->outrows = calloc(1, sizeof(*a->outrows));	/* outbox.h */
	a->outrows[0].sink = strdup("elasticsearch");
	a->outrows[0].event = strdup("report");
	a->noutrows = 1;
	a->member = strdup("host-a:1");		/* cluster mode */
	a->fence = 77;
	assert_int_equal(spill_open(e->path, 4096, &sp), 0);
	assert_int_equal(spill_append(sp, a), 0);
	assert_int_equal(spill_append(sp, b), 0);
	spill_close(sp);
	load(e, &runs, &n);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0]->id, 7);
	assert_string_equal(runs[0]->job, "backup");
	assert_int_equal(runs[0]->status, RUN_SUCCESS);
	assert_int_equal(runs[0]->ended_ms, 1700000001234);
	assert_string_equal(runs[0]->reason, "line one\nline \"two\"");
	assert_int_equal(runs[0]->nitems, 1);
	assert_string_equal(runs[0]->items[0].node, "local");
	assert_string_equal(runs[0]->items[0].out, "hello\n");
	assert_int_equal(runs[0]->noutrows, 1);	/* its outbox rows too */
	assert_string_equal(runs[0]->outrows[0].sink, "elasticsearch");
	assert_string_equal(runs[0]->outrows[0].event, "report");
	assert_string_equal(runs[0]->member, "host-a:1");
	assert_int_equal(runs[0]->fence, 77);
	assert_int_equal(runs[1]->id, 8);
	assert_int_equal(runs[1]->noutrows, 0);
	assert_null(runs[1]->member);
	assert_int_equal(runs[1]->fence, 0);
	store_runs_free(runs, n);
	/* Opened again (after applying): empty, old bytes do not count. */
	assert_int_equal(spill_open(e->path, 4096, &sp), 0);
	spill_close(sp);
	load(e, &runs, &n);
	assert_int_equal(n, 0);
	store_run_free(a);
	store_run_free(b);
}

/* A missed tick (no run: id 0) keeps its count and its rows' documents,
 * so the next start writes its notification. */
static void
test_missed_round_trip(void **state)
{
	struct env *e = *state;
	struct store_run *m = new_run(0, ""), **runs;
	struct spill *sp;
	size_t n;

	m->missed = 4;
	m->outrows = calloc(1, sizeof(*m->outrows));
	assert_non_null(m->outrows);
	m->outrows[0].sink = strdup("webhook");
	m->outrows[0].event = strdup("missed");
	m->outrows[0].doc = strdup("{\"status\": \"MISSED\"}");
	m->noutrows = 1;
	assert_int_equal(spill_open(e->path, 4096, &sp), 0);
	assert_int_equal(spill_append(sp, m), 0);
	spill_close(sp);
	load(e, &runs, &n);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0]->id, 0);
	assert_int_equal(runs[0]->missed, 4);
	assert_int_equal(runs[0]->noutrows, 1);
	assert_string_equal(runs[0]->outrows[0].event, "missed");
	assert_string_equal(runs[0]->outrows[0].doc, "{\"status\": \"MISSED\"}");
	store_runs_free(runs, n);
	store_run_free(m);
}

static void
test_too_big(void **state)
{
	struct env *e = *state;
	char big[3000];
	struct store_run *run, **runs;
	struct spill *sp;
	size_t n;

	memset(big, 'o', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	run = new_run(9, big);
	assert_int_equal(spill_open(e->path, 1024, &sp), 0);
	assert_int_equal(spill_append(sp, run), 0);	/* without output */
	assert_int_equal(spill_append(sp, run), 0);
	while (spill_append(sp, run) == 0)
		;
	assert_int_equal(spill_append(sp, run), ERR_TOOBIG);
	spill_close(sp);
	load(e, &runs, &n);
	assert_true(n >= 2);
	assert_null(runs[0]->items[0].out);
	assert_true(runs[0]->items[0].truncated);
	assert_int_equal(runs[n - 1]->id, 9);
	store_runs_free(runs, n);
	store_run_free(run);
}

static void
test_bad_line(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	char err[256] = "", want[200];
	size_t n;
	FILE *f = fopen(e->path, "w");

	assert_non_null(f);
	/* line 1: a record of a daemon before cluster mode (no fence) */
	fputs("{\"id\": 1, \"job\": \"a\", \"scheduled_at\": 0, \"status\": 4,"
	    " \"attempt\": 1, \"created_ms\": 0, \"started_ms\": 0,"
	    " \"ended_ms\": 0, \"retention\": 0, \"items\": []}\n", f);
	fputs("{\"id\": 2, \"job\": \"a\", \"scheduled_at\": 0, \"status\": 9,"
	    " \"attempt\": 1, \"created_ms\": 0, \"started_ms\": 0,"
	    " \"ended_ms\": 0, \"retention\": 0, \"items\": []}\n", f);
	fclose(f);
	assert_int_equal(spill_load(e->path, &runs, &n, err, sizeof(err)),
	    ERR_PARSE);
	snprintf(want, sizeof(want), "%s: line 2: field \"status\" missing or "
	    "invalid", e->path);
	assert_string_equal(err, want);
	f = fopen(e->path, "w");
	assert_non_null(f);
	fputs("not json\n", f);
	fclose(f);
	assert_int_equal(spill_load(e->path, &runs, &n, err, sizeof(err)),
	    ERR_PARSE);
	snprintf(want, sizeof(want), "%s: line 1: not a JSON object",
	    e->path);
	assert_string_equal(err, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missed_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_line, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
