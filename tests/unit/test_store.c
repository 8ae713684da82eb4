/*
 * test_store.c - the SQLite store against real files in a temporary
 * directory: schema creation and checks, run creation with duplicate ticks,
 * saves, queries, crash recovery, retention, sharing a handle between
 * threads, and a timing of 1000-run batches (printed, never asserted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "distcron/err.h"
#include "distcron/store.h"

#define LOST_REASON	"daemon stopped while the run was in progress"
#define UNSTARTED_REASON	"never started: the daemon stopped before " \
			"launching it"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/distcron.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[512];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store *
open_rw(const struct fixture *f)
{
	struct store *st = NULL;
	const char *errstr = NULL;

	if (store_open(f->path, false, &st, &errstr) != 0)
		fail_msg("store_open: %s", errstr);
	return st;
}

/* Runs one query on its own connection and returns the first integer. */
static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static char *
xstrdup(const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	assert_non_null(p);
	return p;
}

static struct store_run *
mkrun(const char *job, int64_t at, const char *trigger, int64_t created_ms)
{
	struct store_run *run = calloc(1, sizeof(*run));

	assert_non_null(run);
	run->job = xstrdup(job);
	run->scheduled_at = at;
	run->trigger = xstrdup(trigger);
	run->status = RUN_PENDING;
	run->attempt = 1;
	run->created_ms = created_ms;
	return run;
}

static struct store_item *
add_item(struct store_run *run, const char *node, int attempt,
    enum run_status status, const char *out)
{
	struct store_item *it;

	run->items = realloc(run->items, (run->nitems + 1) * sizeof(*it));
	assert_non_null(run->items);
	it = &run->items[run->nitems++];
	memset(it, 0, sizeof(*it));
	it->node = xstrdup(node);
	it->attempt = attempt;
	it->status = status;
	it->exit_code = -1;
	it->out = xstrdup(out);
	return it;
}

static void
drop_items(struct store_run *run)
{
	size_t i;

	for (i = 0; i < run->nitems; i++) {
		free(run->items[i].node);
		free(run->items[i].out);
		free(run->items[i].err);
		free(run->items[i].error);
	}
	free(run->items);
	run->items = NULL;
	run->nitems = 0;
}

static void
create1(struct store *st, struct store_run *run)
{
	assert_int_equal(store_runs_create(st, &run, 1), 0);
}

static void
save1(struct store *st, struct store_run *run)
{
	assert_int_equal(store_runs_save(st, &run, 1), 0);
}

static void
finish(struct store_run *run, enum run_status status, int64_t ended_ms)
{
	run->status = status;
	run->started_ms = ended_ms - 10;
	run->ended_ms = ended_ms;
}

static size_t
query_count(struct store *st, const char *job, int status)
{
	struct store_query q = { .job = job, .status = status };
	struct store_run **runs;
	size_t n;

	assert_int_equal(store_runs_query(st, &q, &runs, &n), 0);
	store_runs_free(runs, n);
	return n;
}

/* The schema version of this build's store. */
#define SCHEMA_NOW	9

/* ---- opening ---- */

static void
test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *run = mkrun("a", 60, "manual", 1), *got;
	int64_t id;

	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name IN"
	    " ('runs', 'run_items', 'job_state', 'outbox')"), 4);
	create1(st, run);
	id = run->id;
	store_close(st);

	/* Reopening keeps version and data. */
	st = open_rw(f);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(store_run_get(st, id, &got), 0);
	assert_string_equal(got->job, "a");
	store_run_free(got);
	store_close(st);

	/* With no writer left, a read-only handle still reads. */
	assert_int_equal(store_open(f->path, true, &st, NULL), 0);
	assert_int_equal(store_run_get(st, id, &got), 0);
	assert_int_equal(got->scheduled_at, 60);
	store_run_free(got);
	store_close(st);
	store_run_free(run);
}

static void
test_open_readonly_missing(void **state)
{
	struct fixture *f = *state;
	struct store *st = (struct store *)1;
	const char *errstr = NULL;
	char want[256];

	assert_int_equal(store_open(f->path, true, &st, &errstr), ERR_STORE);
	assert_null(st);
	snprintf(want, sizeof(want), "cannot open store %s: "
	    "unable to open database file", f->path);
	assert_string_equal(errstr, want);
	/* And no file was created. */
	assert_int_not_equal(access(f->path, F_OK), 0);
}

/* The mode of path, or -1 if it is missing. */
static int
file_mode(const char *path, const char *suffix)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* The store and its WAL files are private whatever the umask, also when
 * an older daemon made them 0644. */
static void
test_open_private(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	const char *errstr = NULL;
	mode_t old = umask(022);

	assert_int_equal(store_open(f->path, false, &st, &errstr), 0);
	assert_int_equal(file_mode(f->path, ""), 0600);
	assert_int_equal(file_mode(f->path, "-wal"), 0600);
	assert_int_equal(file_mode(f->path, "-shm"), 0600);
	store_close(st);
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(store_open(f->path, false, &st, &errstr), 0);
	assert_int_equal(file_mode(f->path, ""), 0600);
	store_close(st);
	umask(old);
}

static void
test_open_foreign_files(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	const char *errstr = NULL;
	FILE *fp;

	/* An SQLite file of another program is left alone. */
	raw_exec(f->path, "CREATE TABLE foo (x)");
	assert_int_equal(store_open(f->path, false, &st, &errstr), ERR_STORE);
	assert_null(st);
	assert_non_null(strstr(errstr, "is not a distcron store"));
	assert_non_null(strstr(errstr, f->path));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
	    " WHERE name = 'runs'"), 0);
	assert_int_equal(store_open(f->path, true, &st, &errstr), ERR_STORE);
	assert_non_null(strstr(errstr, "is not a distcron store"));
	unlink(f->path);

	/* A file that is not SQLite at all. */
	assert_non_null(fp = fopen(f->path, "w"));
	for (int i = 0; i < 64; i++)
		fputs("this is not an sqlite database\n", fp);
	fclose(fp);
	assert_int_equal(store_open(f->path, false, &st, &errstr), ERR_STORE);
	assert_non_null(strstr(errstr, "file is not a database"));
	assert_int_equal(store_open(f->path, true, &st, &errstr), ERR_STORE);
	assert_non_null(strstr(errstr, "file is not a database"));
}

static void
test_open_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	const char *errstr = NULL;

	store_close(st);
	raw_exec(f->path, "PRAGMA user_version = 99");
	st = NULL;
	assert_int_equal(store_open(f->path, false, &st, &errstr), ERR_STORE);
	assert_null(st);
	assert_non_null(strstr(errstr, "schema version 99, newer"));
	assert_int_equal(store_open(f->path, true, &st, &errstr), ERR_STORE);
	assert_non_null(strstr(errstr, "schema version 99, newer"));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
}

/* A read-only handle reads committed data while another connection holds
 * the write lock with uncommitted rows, and cannot write itself. */
static void
test_reader_while_writer(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_rw(f), *r = NULL;
	struct store_run *run = mkrun("a", 60, "schedule", 1);
	const char *errstr = NULL;
	sqlite3 *db = NULL;

	create1(w, run);
	assert_int_equal(store_open(f->path, true, &r, &errstr), 0);
	assert_int_equal(query_count(r, "a", -1), 1);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO runs"
	    " (job, scheduled_at, trigger, status) VALUES ('a', 120, 'schedule',"
	    " 0)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_count(r, "a", -1), 1);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(query_count(r, "a", -1), 2);

	/* The writer handle adds more; the reader sees them. */
	run->id = 0;
	run->scheduled_at = 180;
	create1(w, run);
	assert_true(run->id > 0);
	assert_int_equal(query_count(r, "a", -1), 3);

	run->scheduled_at = 240;
	assert_int_equal(store_runs_create(r, &run, 1), ERR_STORE);
	assert_int_equal(run->id, 0);
	store_close(r);
	store_close(w);
	store_run_free(run);
}

static void
test_wal_mode(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
	store_close(st);
}

/* ---- creating ---- */

static void
test_create_ids_and_duplicates(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *b1[3], *b2[3];
	struct store_job_state js;
	size_t i;

	b1[0] = mkrun("j", 100, "schedule", 1);
	b1[1] = mkrun("j", 200, "schedule", 2);
	b1[2] = mkrun("j", 100, "manual", 3);	/* same tick, manual: allowed */
	assert_int_equal(store_runs_create(st, b1, 3), 0);
	assert_true(b1[0]->id > 0);
	assert_true(b1[1]->id > b1[0]->id);
	assert_true(b1[2]->id > b1[1]->id);

	b2[0] = mkrun("j", 100, "schedule", 4);	/* duplicate tick */
	b2[1] = mkrun("j", 200, "missed", 5);	/* duplicate tick, missed */
	b2[2] = mkrun("j", 300, "schedule", 6);
	assert_int_equal(store_runs_create(st, b2, 3), 0);
	assert_int_equal(b2[0]->id, 0);
	assert_int_equal(b2[1]->id, 0);
	assert_true(b2[2]->id > b1[2]->id);
	assert_int_equal(query_count(st, "j", -1), 4);

	assert_int_equal(store_job_state_get(st, "j", &js), 0);
	assert_int_equal(js.run_count, 3);
	assert_int_equal(js.last_scheduled_at, 300);

	/* An older tick counts but does not move last_scheduled_at back. */
	b2[0]->id = 0;
	b2[0]->scheduled_at = 250;
	create1(st, b2[0]);
	assert_true(b2[0]->id > b2[2]->id);
	assert_int_equal(store_job_state_get(st, "j", &js), 0);
	assert_int_equal(js.run_count, 4);
	assert_int_equal(js.last_scheduled_at, 300);

	/* Unknown job: zeroed state. */
	memset(&js, 0xff, sizeof(js));
	assert_int_equal(store_job_state_get(st, "nope", &js), 0);
	assert_int_equal(js.run_count, 0);
	assert_int_equal(js.last_run_id, 0);
	assert_int_equal(js.last_scheduled_at, 0);

	for (i = 0; i < 3; i++) {
		store_run_free(b1[i]);
		store_run_free(b2[i]);
	}
	store_close(st);
}

/* A failing run rolls the whole batch back and no id is handed out. */
static void
test_create_batch_rollback(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *b[2];
	struct store_job_state js;

	b[0] = mkrun("k", 100, "schedule", 1);
	b[1] = mkrun(NULL, 100, "schedule", 1);	/* job is NOT NULL */
	assert_int_equal(store_runs_create(st, b, 2), ERR_STORE);
	assert_int_equal(b[0]->id, 0);
	assert_int_equal(b[1]->id, 0);
	assert_int_equal(query_count(st, "k", -1), 0);
	assert_int_equal(store_job_state_get(st, "k", &js), 0);
	assert_int_equal(js.run_count, 0);

	/* The handle still works afterwards. */
	create1(st, b[0]);
	assert_true(b[0]->id > 0);
	store_run_free(b[0]);
	store_run_free(b[1]);
	store_close(st);
}

/* ---- saving and reading ---- */

/* store_runs_get: the runs asked for, in order, NULL for one not there. */
static void
runs_get_many(struct store *st, int64_t id)
{
	int64_t ids[3] = { id, 999999, id };
	struct store_run *got[3];

	assert_int_equal(store_runs_get(st, ids, 3, got), 0);
	assert_non_null(got[0]);
	assert_int_equal(got[0]->id, id);
	assert_null(got[1]);
	assert_int_equal(got[2]->nitems, 2);
	assert_string_equal(got[2]->items[1].out, "hello\n");
	store_run_free(got[0]);
	store_run_free(got[2]);
}

static void
test_save_and_get(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *run = mkrun("s", 60, "manual", 1000), *got;
	struct store_item *it;
	struct store_job_state js;

	add_item(run, "n1", 1, RUN_PENDING, NULL);
	create1(st, run);
	assert_int_equal(store_run_get(st, run->id, &got), 0);
	assert_int_equal(got->status, RUN_PENDING);
	assert_int_equal(got->nitems, 1);
	assert_string_equal(got->items[0].node, "n1");
	assert_null(got->items[0].out);
	store_run_free(got);

	drop_items(run);
	it = add_item(run, "n1", 1, RUN_FAILURE, "partial");
	it->exit_code = 137;
	it->signal = 9;
	it->started_ms = 1100;
	it->ended_ms = 1200;
	it->err = xstrdup("killed\n");
	it->error = xstrdup("killed by signal 9");
	it = add_item(run, "n1", 2, RUN_SUCCESS, "hello\n");
	it->exit_code = 0;
	it->truncated = true;
	run->attempt = 2;
	run->reason = xstrdup("retried once");
	finish(run, RUN_SUCCESS, 1500);
	save1(st, run);

	assert_int_equal(store_run_get(st, run->id, &got), 0);
	assert_int_equal(got->id, run->id);
	assert_string_equal(got->job, "s");
	assert_string_equal(got->trigger, "manual");
	assert_int_equal(got->scheduled_at, 60);
	assert_int_equal(got->status, RUN_SUCCESS);
	assert_int_equal(got->attempt, 2);
	assert_int_equal(got->created_ms, 1000);
	assert_int_equal(got->started_ms, 1490);
	assert_int_equal(got->ended_ms, 1500);
	assert_string_equal(got->reason, "retried once");
	assert_int_equal(got->nitems, 2);
	assert_int_equal(got->items[0].attempt, 1);
	assert_int_equal(got->items[0].status, RUN_FAILURE);
	assert_int_equal(got->items[0].exit_code, 137);
	assert_int_equal(got->items[0].signal, 9);
	assert_int_equal(got->items[0].started_ms, 1100);
	assert_int_equal(got->items[0].ended_ms, 1200);
	assert_string_equal(got->items[0].out, "partial");
	assert_string_equal(got->items[0].err, "killed\n");
	assert_string_equal(got->items[0].error, "killed by signal 9");
	assert_false(got->items[0].truncated);
	assert_int_equal(got->items[1].attempt, 2);
	assert_int_equal(got->items[1].status, RUN_SUCCESS);
	assert_int_equal(got->items[1].exit_code, 0);
	assert_string_equal(got->items[1].out, "hello\n");
	assert_null(got->items[1].err);
	assert_null(got->items[1].error);
	assert_true(got->items[1].truncated);
	store_run_free(got);
	runs_get_many(st, run->id);

	assert_int_equal(store_job_state_get(st, "s", &js), 0);
	assert_int_equal(js.last_run_id, run->id);
	assert_int_equal(js.last_status, RUN_SUCCESS);
	assert_int_equal(js.last_ended_ms, 1500);
	assert_int_equal(js.run_count, 0);	/* manual */

	/* Items are replaced, not merged. */
	drop_items(run);
	add_item(run, "n2", 1, RUN_SUCCESS, "only");
	save1(st, run);
	assert_int_equal(store_run_get(st, run->id, &got), 0);
	assert_int_equal(got->nitems, 1);
	assert_string_equal(got->items[0].node, "n2");
	store_run_free(got);

	assert_int_equal(store_run_get(st, run->id + 1000, &got), ERR_NOTFOUND);
	assert_null(got);
	store_run_free(run);
	store_close(st);
}

/* The job state follows the newest run to finish, not the last saved. */
static void
test_job_state_newest_final(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *b[2];
	struct store_job_state js;

	b[0] = mkrun("o", 60, "schedule", 1);
	b[1] = mkrun("o", 120, "schedule", 2);
	assert_int_equal(store_runs_create(st, b, 2), 0);
	finish(b[1], RUN_SUCCESS, 500);
	save1(st, b[1]);
	finish(b[0], RUN_FAILURE, 900);	/* older run ends later */
	save1(st, b[0]);
	assert_int_equal(store_job_state_get(st, "o", &js), 0);
	assert_int_equal(js.last_run_id, b[1]->id);
	assert_int_equal(js.last_status, RUN_SUCCESS);
	assert_int_equal(js.last_ended_ms, 500);
	assert_int_equal(js.run_count, 2);
	store_run_free(b[0]);
	store_run_free(b[1]);
	store_close(st);
}

/* The states of every job read in one pass (a daemon's start) are the
 * ones read job by job: run_count, paused, the last final run and the
 * last scheduled tick; a job without a row gets a zeroed state. */
static void
test_job_states_batch(void **state)
{
	static const char *const names[] = { "a", "b.x", "b_y", "c-1", "o",
	    "zz", "nope" };
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_job_states *all;
	struct store_job_state one, got;
	struct store_run *b[3];
	size_t i;

	b[0] = mkrun("o", 60, "schedule", 1);
	b[1] = mkrun("b_y", 120, "schedule", 2);
	b[2] = mkrun("a", 180, "missed", 3);
	assert_int_equal(store_runs_create(st, b, 3), 0);
	finish(b[0], RUN_FAILURE, 900);
	save1(st, b[0]);
	finish(b[2], RUN_SUCCESS, 700);
	save1(st, b[2]);
	assert_int_equal(store_job_pause_set(st, "zz", true), 0);
	assert_int_equal(store_job_pause_set(st, "b_y", true), 0);
	assert_int_equal(store_job_pause_set(st, "c-1", false), 0);
	assert_int_equal(store_job_states_read(st, &all), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(store_job_state_get(st, names[i], &one), 0);
		memset(&got, 0xff, sizeof(got));
		store_job_states_find(all, names[i], &got);
		assert_int_equal(got.run_count, one.run_count);
		assert_int_equal(got.paused, one.paused);
		assert_int_equal(got.last_run_id, one.last_run_id);
		assert_int_equal(got.last_status, one.last_status);
		assert_int_equal(got.last_ended_ms, one.last_ended_ms);
		assert_int_equal(got.last_scheduled_at, one.last_scheduled_at);
	}
	store_job_states_find(all, "o", &got);
	assert_int_equal(got.last_status, RUN_FAILURE);
	assert_int_equal(got.last_scheduled_at, 60);
	store_job_states_find(all, "zz", &got);
	assert_true(got.paused);
	store_job_states_find(all, "nope", &got);
	assert_int_equal(got.run_count, 0);
	assert_false(got.paused);
	store_job_states_free(all);
	for (i = 0; i < 3; i++)
		store_run_free(b[i]);
	store_close(st);
}

static void
test_query_filters(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *runs[8], **res;
	struct store_query q;
	int64_t ids[8];
	size_t i, n;

	/* a: ids[0..4], b: ids[5..7]; created_ms 1000 * (i + 1). */
	for (i = 0; i < 8; i++) {
		runs[i] = mkrun(i < 5 ? "a" : "b", 60 * (int64_t)i, "schedule",
		    1000 * ((int64_t)i + 1));
		add_item(runs[i], "n", 1, RUN_PENDING, NULL);
	}
	assert_int_equal(store_runs_create(st, runs, 8), 0);
	for (i = 0; i < 8; i++) {
		ids[i] = runs[i]->id;
		if (i % 2 == 0) {
			finish(runs[i], RUN_SUCCESS, 50000);
			free(runs[i]->items[0].out);
			runs[i]->items[0].out = xstrdup("out");
			runs[i]->items[0].err = xstrdup("err");
		}
	}
	assert_int_equal(store_runs_save(st, runs, 8), 0);

	memset(&q, 0, sizeof(q));
	q.status = -1;
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++) {
		assert_int_equal(res[i]->id, ids[7 - i]);	/* newest first */
		assert_int_equal(res[i]->nitems, 1);
		assert_null(res[i]->items[0].out);	/* no output asked */
		assert_null(res[i]->items[0].err);
	}
	store_runs_free(res, n);

	q.job = "a";
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++)
		assert_string_equal(res[i]->job, "a");
	store_runs_free(res, n);

	q.status = RUN_SUCCESS;	/* a and SUCCESS: ids[4], ids[2], ids[0] */
	q.with_output = true;
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(res[0]->id, ids[4]);
	assert_int_equal(res[1]->id, ids[2]);
	assert_int_equal(res[2]->id, ids[0]);
	assert_string_equal(res[0]->items[0].out, "out");
	assert_string_equal(res[0]->items[0].err, "err");
	store_runs_free(res, n);

	memset(&q, 0, sizeof(q));
	q.status = RUN_PENDING;	/* 1, 3, 5, 7 */
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(res[0]->id, ids[7]);
	assert_int_equal(res[3]->id, ids[1]);
	store_runs_free(res, n);

	memset(&q, 0, sizeof(q));
	q.status = -1;
	q.since_ms = 6000;	/* created 6000, 7000, 8000 */
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(res[2]->id, ids[5]);
	store_runs_free(res, n);

	q.since_ms = 0;
	q.before_id = ids[3];	/* ids[2], ids[1], ids[0] */
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(res[0]->id, ids[2]);
	assert_int_equal(res[2]->id, ids[0]);
	store_runs_free(res, n);

	q.before_id = 0;
	q.limit = 2;
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(res[0]->id, ids[7]);
	assert_int_equal(res[1]->id, ids[6]);
	store_runs_free(res, n);

	q.limit = 0;
	q.job = "nobody";
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	assert_int_equal(n, 0);
	store_runs_free(res, n);

	for (i = 0; i < 8; i++)
		store_run_free(runs[i]);
	store_close(st);
}

static void
test_query_default_limit(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *runs[150];
	size_t i;

	for (i = 0; i < 150; i++)
		runs[i] = mkrun("l", (int64_t)i, "schedule", 1);
	assert_int_equal(store_runs_create(st, runs, 150), 0);
	assert_int_equal(query_count(st, "l", -1), 100);
	for (i = 0; i < 150; i++)
		store_run_free(runs[i]);
	store_close(st);
}

/* ---- recovery ---- */

/* store_orphans() callback: records the run that left a group. */
static int
orphan_seen(int64_t run_id, const char *proc, void *arg)
{
	assert_string_equal(proc, "4242 987654 boot 1000");
	*(int64_t *)arg = run_id;
	return 0;
}

static void
test_recover(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *b[4], *got;
	struct store_job_state js;
	int64_t orphan_run = 0;
	int nlost = -1;
	size_t i;

	for (i = 0; i < 4; i++)
		b[i] = mkrun("r", 60 * (int64_t)i, "schedule", 1);
	assert_int_equal(store_runs_create(st, b, 4), 0);
	b[0]->status = RUN_STARTED;
	b[0]->started_ms = 1000;
	add_item(b[0], "n1", 1, RUN_STARTED, "so far")->started_ms = 1000;
	b[0]->items[0].proc = strdup("4242 987654 boot 1000");
	b[1]->status = RUN_RETRY;
	b[1]->attempt = 2;
	add_item(b[1], "n1", 1, RUN_FAILURE, NULL)->ended_ms = 1100;
	add_item(b[1], "n1", 2, RUN_STARTED, NULL);
	finish(b[2], RUN_SUCCESS, 2000);
	add_item(b[2], "n1", 1, RUN_SUCCESS, "done")->ended_ms = 2000;
	/* b[3] stays PENDING. */
	assert_int_equal(store_runs_save(st, b, 3), 0);
	store_close(st);	/* "crash": nothing finished */

	st = open_rw(f);
	assert_int_equal(store_orphans(st, orphan_seen, &orphan_run), 0);
	assert_int_equal(orphan_run, b[0]->id);
	assert_int_equal(store_recover(st, 5000, &nlost), 0);
	assert_int_equal(nlost, 3);
	orphan_run = 0;
	assert_int_equal(store_orphans(st, orphan_seen, &orphan_run), 0);
	assert_int_equal(orphan_run, 0);	/* final now: none left */

	assert_int_equal(store_run_get(st, b[0]->id, &got), 0);
	assert_int_equal(got->status, RUN_LOST);
	assert_string_equal(got->reason, LOST_REASON);
	assert_int_equal(got->started_ms, 1000);
	assert_int_equal(got->ended_ms, 5000);
	assert_int_equal(got->items[0].status, RUN_LOST);
	assert_int_equal(got->items[0].ended_ms, 5000);
	assert_string_equal(got->items[0].out, "so far");
	assert_string_equal(got->items[0].error, LOST_REASON);
	store_run_free(got);

	assert_int_equal(store_run_get(st, b[1]->id, &got), 0);
	assert_int_equal(got->status, RUN_LOST);
	assert_int_equal(got->nitems, 2);
	assert_int_equal(got->items[0].status, RUN_FAILURE);	/* kept */
	assert_int_equal(got->items[0].ended_ms, 1100);
	assert_null(got->items[0].error);
	assert_int_equal(got->items[1].status, RUN_LOST);
	store_run_free(got);

	assert_int_equal(store_run_get(st, b[2]->id, &got), 0);
	assert_int_equal(got->status, RUN_SUCCESS);
	assert_int_equal(got->ended_ms, 2000);
	assert_null(got->reason);
	assert_int_equal(got->items[0].status, RUN_SUCCESS);
	store_run_free(got);

	assert_int_equal(store_run_get(st, b[3]->id, &got), 0);
	assert_int_equal(got->status, RUN_LOST);
	assert_int_equal(got->ended_ms, 5000);
	assert_string_equal(got->reason, UNSTARTED_REASON);
	store_run_free(got);

	assert_int_equal(store_job_state_get(st, "r", &js), 0);
	assert_int_equal(js.last_run_id, b[3]->id);
	assert_int_equal(js.last_status, RUN_LOST);
	assert_int_equal(js.last_ended_ms, 5000);

	assert_int_equal(store_recover(st, 6000, &nlost), 0);
	assert_int_equal(nlost, 0);
	for (i = 0; i < 4; i++)
		store_run_free(b[i]);
	store_close(st);
}

/* store_outbox_due_after: only the due entries after id first, of the
 * sink, up to max; none after the last. */
static void
due_after_first(struct store *st, int64_t first, int64_t run_id)
{
	struct store_outbox_entry *e = NULL;
	size_t n = 0;

	assert_int_equal(store_outbox_due_after(st, "elasticsearch", 6000,
	    first, 10, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].run_id, run_id);
	assert_true(e[0].id > first);
	free(e);
	assert_int_equal(store_outbox_due_after(st, "elasticsearch", 6000,
	    first + 1, 10, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(store_outbox_due_after(st, "webhook", 6000, 0, 10,
	    &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
}

/* With a sink that takes reports, each run recovered as LOST gets its
 * "report" entry in the recovery's transaction, and a final run none. */
static void
test_recover_reports(void **state)
{
	static const char *const sinks[] = { "elasticsearch" };
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_outbox_entry *e = NULL;
	struct store_run *b[3];
	int nlost = -1;
	size_t i, n = 0;

	for (i = 0; i < 3; i++)
		b[i] = mkrun("r", 60 * (int64_t)i, "schedule", 1);
	assert_int_equal(store_runs_create(st, b, 3), 0);
	b[0]->status = RUN_STARTED;
	finish(b[1], RUN_SUCCESS, 2000);
	assert_int_equal(store_runs_save(st, b, 2), 0);
	store_close(st);	/* b[0] started, b[2] pending: both lost */

	st = open_rw(f);
	store_recover_reports(st, sinks, 1);
	assert_int_equal(store_recover(st, 5000, &nlost), 0);
	assert_int_equal(nlost, 2);
	assert_int_equal(store_outbox_due(st, "elasticsearch", 5000, 10, &e,
	    &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].run_id, b[0]->id);
	assert_int_equal(e[1].run_id, b[2]->id);
	assert_string_equal(e[0].event, "report");
	free(e);
	assert_int_equal(store_recover(st, 6000, &nlost), 0);
	assert_int_equal(store_outbox_due(st, "elasticsearch", 6000, 10, &e,
	    &n), 0);
	assert_int_equal(n, 2);		/* nothing more to recover */
	due_after_first(st, e[0].id, b[2]->id);
	free(e);
	for (i = 0; i < 3; i++)
		store_run_free(b[i]);
	store_close(st);
}

/* ---- retention ---- */

/* n successful runs of job "r" with retention 10, a minute apart from
 * scheduled time at. */
static void
finals_saved(struct store *st, int64_t at, size_t n)
{
	struct store_run *run;
	size_t i;

	for (i = 0; i < n; i++) {
		run = mkrun("r", at + 60 * (int64_t)i, "schedule", 1);
		create1(st, run);
		finish(run, RUN_SUCCESS, 100);
		run->retention = 10;
		save1(st, run);
		store_run_free(run);
	}
}

/* A run whose outbox entry is still waiting survives pruning; once the
 * entry is gone, the next prune takes it. */
static void
test_retention_keeps_outbox_runs(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *first, *got;
	int64_t id;

	first = mkrun("r", 60, "schedule", 1);
	create1(st, first);
	finish(first, RUN_SUCCESS, 100);
	first->retention = 10;
	first->outrows = calloc(1, sizeof(*first->outrows));
	first->outrows[0].sink = strdup("elasticsearch");
	first->outrows[0].event = strdup("report");
	first->noutrows = 1;
	save1(st, first);
	finals_saved(st, 120, 40);
	assert_true(raw_int(f->path, "SELECT count(*) FROM runs") < 41);
	assert_int_equal(store_run_get(st, first->id, &got), 0);
	store_run_free(got);
	id = raw_int(f->path, "SELECT id FROM outbox");
	assert_int_equal(store_outbox_delete(st, &id, 1), 0);
	finals_saved(st, 6000, 20);
	assert_int_equal(store_run_get(st, first->id, &got), ERR_NOTFOUND);
	store_run_free(first);
	store_close(st);
}

/* Deleting entries 1, 2 and 4 of 1-4 leaves 3 (a run of consecutive ids
 * goes in one statement, a gap is kept). */
static void
test_outbox_delete_runs(void **state)
{
	static const char *const events[] = { "a", "b", "c", "d" };
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *run = mkrun("r", 60, "schedule", 1);
	int64_t ids[3] = { 1, 2, 4 };
	size_t i;

	create1(st, run);
	finish(run, RUN_SUCCESS, 100);
	run->outrows = calloc(4, sizeof(*run->outrows));
	for (i = 0; i < 4; i++) {
		run->outrows[i].sink = strdup("elasticsearch");
		run->outrows[i].event = strdup(events[i]);
	}
	run->noutrows = 4;
	save1(st, run);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 4);
	assert_int_equal(store_outbox_delete(st, ids, 3), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(raw_int(f->path, "SELECT id FROM outbox"), 3);
	assert_int_equal(store_outbox_delete(st, ids, 0), 0);
	store_run_free(run);
	store_close(st);
}

/* What schema steps 6 (an item's queued_ms) and 7 (a run's member and
 * fence) added, taken away to make an older store out of a new one. */
#define UNDO_V6	"ALTER TABLE run_items DROP COLUMN queued_ms;"
#define UNDO_V7	"ALTER TABLE runs DROP COLUMN member;" \
		"ALTER TABLE runs DROP COLUMN fence;"
/* ... and step 8 (other members' summaries, lists in time order). */
#define UNDO_V9	"DROP TABLE secrets;"
#define UNDO_V8	"DROP INDEX runs_remote; DROP INDEX runs_time;" \
		"DROP INDEX runs_job_time;" \
		"ALTER TABLE runs DROP COLUMN remote_id;"

/* A store of schema 3 (before the outbox) migrates to the newest, data
 * kept. */
static void
test_migrate_to_outbox(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *run = mkrun("a", 60, "schedule", 1), *got;

	create1(st, run);
	store_close(st);
	raw_exec(f->path, UNDO_V9 UNDO_V8 UNDO_V7 UNDO_V6 "DROP TABLE outbox; PRAGMA user_version = 3");
	st = open_rw(f);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(store_run_get(st, run->id, &got), 0);
	store_run_free(got);
	store_run_free(run);
	store_close(st);
}

/* Cluster mode's member and fence are saved with the intent and the
 * final state and read back by every reader; a run without them reads
 * none.  A store of schema 6 migrates to 7: its runs have none. */
static void
test_member_fence(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *old = mkrun("a", 60, "schedule", 1);
	struct store_run *run = mkrun("a", 120, "schedule", 2), *got;
	struct store_query q = { .job = "a", .status = -1 };
	struct store_run **runs;
	size_t n;

	create1(st, old);
	store_close(st);
	raw_exec(f->path, UNDO_V9 UNDO_V8 UNDO_V7 "PRAGMA user_version = 6");
	st = open_rw(f);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(store_run_get(st, old->id, &got), 0);
	assert_null(got->member);
	assert_int_equal(got->fence, 0);
	store_run_free(got);

	run->member = xstrdup("host-a:42");
	run->fence = 1234567;
	create1(st, run);
	assert_int_equal(store_run_get(st, run->id, &got), 0);	/* intent */
	assert_string_equal(got->member, "host-a:42");
	assert_int_equal(got->fence, 1234567);
	store_run_free(got);
	free(run->member);
	run->member = xstrdup("host-a:43");	/* the final save writes them */
	run->fence = 1234568;
	finish(run, RUN_SUCCESS, 5000);
	save1(st, run);
	assert_int_equal(store_runs_query(st, &q, &runs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(runs[0]->member, "host-a:43");
	assert_int_equal(runs[0]->fence, 1234568);
	assert_null(runs[1]->member);
	assert_int_equal(runs[1]->fence, 0);
	store_runs_free(runs, n);
	free(old->member);
	old->member = xstrdup("");		/* "": none, read as NULL */
	save1(st, old);
	assert_int_equal(store_run_get(st, old->id, &got), 0);
	assert_null(got->member);
	store_run_free(got);
	store_run_free(old);
	store_run_free(run);
	store_close(st);
}

/* Another member's final run (cluster mode) as the watch hands it over:
 * remote_id, no id yet. */
static struct store_run *
mkremote(const char *job, int64_t at, int64_t created_ms, const char *member,
    int64_t remote_id)
{
	struct store_run *run = mkrun(job, at, "schedule", created_ms);

	run->member = xstrdup(member);
	run->remote_id = remote_id;
	run->fence = 100 + remote_id;
	add_item(run, "local", 1, RUN_SUCCESS, "remote output");
	finish(run, RUN_SUCCESS, created_ms + 50);
	return run;
}

/* Other members' summaries are stored once per (member, run id), never
 * beside a run of the same tick, without output, and listed with this
 * daemon's runs in time order, pages included, though they came later. */
static void
test_remote_runs(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *own = mkrun("a", 60, "schedule", 1000);
	struct store_run *rem = mkremote("a", 120, 500, "m2", 7);
	struct store_run *dup = mkremote("a", 120, 500, "m2", 7);
	struct store_run *tick = mkremote("a", 60, 900, "m3", 1);
	struct store_query q = { .job = "a", .status = -1 };
	struct store_run **runs;
	size_t n;

	create1(st, own);
	finish(own, RUN_FAILURE, 2000);
	save1(st, own);
	save1(st, rem);
	assert_true(rem->id > own->id);
	save1(st, dup);
	save1(st, tick);	/* the tick ran here: this one is kept */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs"), 2);
	assert_int_equal(store_runs_query(st, &q, &runs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0]->id, own->id);		/* newer, older id */
	assert_int_equal(runs[1]->id, rem->id);
	assert_int_equal(runs[1]->remote_id, 7);
	assert_string_equal(runs[1]->member, "m2");
	assert_int_equal(runs[1]->fence, 107);
	assert_int_equal(runs[1]->status, RUN_SUCCESS);
	assert_int_equal(runs[1]->nitems, 1);
	assert_null(runs[1]->items[0].out);
	assert_int_equal(runs[0]->remote_id, 0);
	store_runs_free(runs, n);
	q.before_id = own->id;	/* the next page: the older summary */
	assert_int_equal(store_runs_query(st, &q, &runs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0]->id, rem->id);
	store_runs_free(runs, n);
	q.before_id = rem->id;	/* nothing older */
	assert_int_equal(store_runs_query(st, &q, &runs, &n), 0);
	assert_int_equal(n, 0);
	store_runs_free(runs, n);
	store_run_free(own);
	store_run_free(rem);
	store_run_free(dup);
	store_run_free(tick);
	store_close(st);
}

/* A job keeps the newest run->retention summaries of the others (by
 * time, not by arrival); its own runs do not count. */
static void
test_remote_cap(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *own = mkrun("b", 10, "schedule", 100), *r;
	static const int64_t created[] = { 3000, 1000, 4000, 2000 };
	size_t i;

	create1(st, own);
	finish(own, RUN_SUCCESS, 200);
	save1(st, own);
	for (i = 0; i < 4; i++) {
		r = mkremote("b", 100 + (int64_t)i, created[i], "m2",
		    1 + (int64_t)i);
		r->retention = 2;
		save1(st, r);
		store_run_free(r);
	}
	assert_int_equal(raw_int(f->path,
	    "SELECT count(*) FROM runs WHERE remote_id > 0"), 2);
	assert_int_equal(raw_int(f->path,
	    "SELECT min(created_ms) FROM runs WHERE remote_id > 0"), 3000);
	assert_int_equal(raw_int(f->path,
	    "SELECT count(*) FROM runs WHERE remote_id = 0"), 1);
	store_run_free(own);
	store_close(st);
}

/* A migration that fails (a schema 3 store where an index of step 4's
 * name is taken, so that step 4 fails after creating its table) leaves
 * the store as it was, in one transaction, and says why. */
static void
test_migrate_fails_untouched(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *run = mkrun("a", 60, "schedule", 1), *got;
	const char *why = NULL;

	create1(st, run);
	store_close(st);
	raw_exec(f->path, UNDO_V9 UNDO_V8 UNDO_V7 UNDO_V6 "DROP TABLE outbox; PRAGMA user_version = 3;"
	    "CREATE INDEX outbox_due ON runs (job)");
	st = NULL;
	assert_int_equal(store_open(f->path, false, &st, &why), ERR_STORE);
	assert_null(st);
	assert_non_null(why);
	assert_non_null(strstr(why, "from schema version 3 to 9"));
	assert_non_null(strstr(why, "the step to version 4 failed"));
	assert_non_null(strstr(why, "index outbox_due already exists"));
	assert_non_null(strstr(why, "left as it was"));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
	    " WHERE name = 'outbox'"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs"), 1);
	raw_exec(f->path, "DROP INDEX outbox_due");	/* repaired: migrates */
	st = open_rw(f);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(store_run_get(st, run->id, &got), 0);
	store_run_free(got);
	store_run_free(run);
	store_close(st);
}

/* A store of schema 4 with an entry waiting migrates to 5: the entry
 * keeps its run's job and tick; entries without a run (missed ticks) and
 * LOST runs' failure entries are written then. */
static void
test_migrate_outbox_rows(void **state)
{
	static const char *const notify[] = { "webhook" };
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *run = mkrun("a", 60, "schedule", 1);
	struct store_run *gone = mkrun("b", 120, "schedule", 1);
	struct store_outbox_entry *e;
	size_t n;
	char *doc;

	create1(st, run);
	create1(st, gone);
	finish(run, RUN_FAILURE, 5000);
	run->outrows = calloc(1, sizeof(*run->outrows));
	assert_non_null(run->outrows);
	run->outrows[0].sink = strdup("webhook");
	run->outrows[0].event = strdup("failure");
	run->noutrows = 1;
	save1(st, run);
	store_close(st);
	raw_exec(f->path, UNDO_V9 UNDO_V8 UNDO_V7 UNDO_V6 "ALTER TABLE outbox DROP COLUMN job;"
	    "ALTER TABLE outbox DROP COLUMN scheduled_at;"
	    "ALTER TABLE outbox DROP COLUMN doc; PRAGMA user_version = 4");
	st = open_rw(f);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	store_run_outrows_free(run);
	run->id = 0;		/* now a missed tick of job a */
	run->missed = 2;
	run->scheduled_at = 180;
	run->outrows = calloc(1, sizeof(*run->outrows));
	assert_non_null(run->outrows);
	run->outrows[0].sink = strdup("webhook");
	run->outrows[0].event = strdup("missed");
	run->outrows[0].doc = strdup("{\"status\": \"MISSED\"}");
	run->noutrows = 1;
	save1(st, run);
	store_recover_failures(st, notify, 1);
	assert_int_equal(store_recover(st, 9000, NULL), 0);	/* b: LOST */
	assert_int_equal(store_outbox_due(st, "webhook", INT64_MAX / 2, 10,
	    &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].job, "a");
	assert_int_equal(e[0].scheduled_at, 60);
	assert_false(e[0].has_doc);
	assert_string_equal(e[1].job, "a");
	assert_int_equal(e[1].run_id, 0);
	assert_int_equal(e[1].scheduled_at, 180);
	assert_true(e[1].has_doc);
	assert_int_equal(store_outbox_doc(st, e[1].id, &doc), 0);
	assert_string_equal(doc, "{\"status\": \"MISSED\"}");
	free(doc);
	assert_int_equal(store_outbox_doc(st, e[0].id, &doc), ERR_NOTFOUND);
	assert_string_equal(e[2].job, "b");
	assert_int_equal(e[2].run_id, gone->id);
	assert_string_equal(e[2].event, "failure");
	free(e);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs WHERE"
	    " id = 0"), 0);		/* a missed tick is no run */
	store_run_free(run);
	store_run_free(gone);
	store_close(st);
}

static void
test_retention(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_run *pending, *other[5], *runs[100], *got;
	int64_t left;
	size_t i;

	pending = mkrun("r", 0, "manual", 1);
	create1(st, pending);
	for (i = 0; i < 5; i++) {
		other[i] = mkrun("x", (int64_t)i, "schedule", 1);
		create1(st, other[i]);
		finish(other[i], RUN_FAILURE, 100);
		other[i]->retention = 10;
		save1(st, other[i]);
	}
	for (i = 0; i < 100; i++) {
		runs[i] = mkrun("r", 60 * ((int64_t)i + 1), "schedule", 1);
		add_item(runs[i], "n", 1, RUN_SUCCESS, "x");
		create1(st, runs[i]);
		finish(runs[i], i % 3 ? RUN_SUCCESS : RUN_FAILURE, 100);
		runs[i]->retention = 10;
		save1(st, runs[i]);
	}

	left = raw_int(f->path, "SELECT count(*) FROM runs WHERE job = 'r'"
	    " AND status IN (3, 4, 5)");
	print_message("retention 10: %" PRId64 " final runs left of 100\n",
	    left);
	assert_true(left >= 10 && left <= 26);
	for (i = 90; i < 100; i++) {	/* the newest are kept */
		assert_int_equal(store_run_get(st, runs[i]->id, &got), 0);
		store_run_free(got);
	}
	assert_int_equal(store_run_get(st, runs[0]->id, &got), ERR_NOTFOUND);
	assert_int_equal(store_run_get(st, pending->id, &got), 0);
	assert_int_equal(got->status, RUN_PENDING);
	store_run_free(got);
	assert_int_equal(query_count(st, "x", -1), 5);
	/* Items of deleted runs went with them. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM run_items"),
	    left);

	store_run_free(pending);
	for (i = 0; i < 5; i++)
		store_run_free(other[i]);
	for (i = 0; i < 100; i++)
		store_run_free(runs[i]);
	store_close(st);
}

/* ---- threads ---- */

struct worker {
	struct store *st;
	char job[16];
	int64_t ids[50];
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_run *run, *got;
	int i;

	for (i = 0; i < 50; i++) {
		run = mkrun(w->job, i, "schedule", 1);
		if (store_runs_create(w->st, &run, 1) != 0 || run->id == 0)
			w->ids[i] = -1;
		else
			w->ids[i] = run->id;
		finish(run, RUN_SUCCESS, 10);
		if (store_runs_save(w->st, &run, 1) != 0 ||
		    store_run_get(w->st, run->id, &got) != 0)
			w->ids[i] = -1;
		else
			store_run_free(got);
		store_run_free(run);
	}
	return NULL;
}

static void
test_threads_share_handle(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct worker w[4];
	pthread_t t[4];
	int i, j;

	for (i = 0; i < 4; i++) {
		w[i].st = st;
		snprintf(w[i].job, sizeof(w[i].job), "t%d", i);
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]),
		    0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++) {
		for (j = 0; j < 50; j++)
			assert_true(w[i].ids[j] > 0);
		for (j = 1; j < 50; j++)
			assert_true(w[i].ids[j] > w[i].ids[j - 1]);
	}
	assert_int_equal(raw_int(f->path, "SELECT count(DISTINCT id) FROM runs"),
	    200);
	store_close(st);
}

/* ---- status names ---- */

static void
test_status_names(void **state)
{
	static const char *names[] = {
		"PENDING", "STARTED", "RETRY", "FAILURE", "SUCCESS", "LOST"
	};
	enum run_status s;
	int i;

	for (i = 0; i < 6; i++) {
		assert_string_equal(store_status_str((enum run_status)i),
		    names[i]);
		assert_int_equal(store_status_parse(names[i], &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(store_status_parse("success", &s), 0);
	assert_int_equal(s, RUN_SUCCESS);
	assert_int_equal(store_status_parse("Lost", &s), 0);
	assert_int_equal(s, RUN_LOST);
	assert_int_equal(store_status_parse("DONE", &s), ERR_INVALID);
	assert_int_equal(store_status_parse("", &s), ERR_INVALID);
	assert_false(store_status_final(RUN_PENDING));
	assert_false(store_status_final(RUN_STARTED));
	assert_false(store_status_final(RUN_RETRY));
	assert_true(store_status_final(RUN_FAILURE));
	assert_true(store_status_final(RUN_SUCCESS));
	assert_true(store_status_final(RUN_LOST));
}

/* ---- timing (printed, not asserted) ---- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One round: 1000 scheduled runs of one job created in one batch, then
 * saved SUCCESS with output in one batch.  Checks the results, prints the
 * times. */
static void
timing_round(struct store *st, int round)
{
	struct store_run **runs = calloc(1000, sizeof(*runs));
	double t0, t1, t2;
	size_t i;

	assert_non_null(runs);
	for (i = 0; i < 1000; i++) {
		runs[i] = mkrun("bench", round * 1000 + (int64_t)i, "schedule",
		    1);
		add_item(runs[i], "node-1", 1, RUN_PENDING, NULL);
	}
	t0 = now_ms();
	assert_int_equal(store_runs_create(st, runs, 1000), 0);
	t1 = now_ms();
	for (i = 0; i < 1000; i++) {
		assert_true(runs[i]->id > 0);
		finish(runs[i], RUN_SUCCESS, 100);
		runs[i]->items[0].status = RUN_SUCCESS;
		runs[i]->items[0].out = xstrdup("some captured output line\n");
	}
	assert_int_equal(store_runs_save(st, runs, 1000), 0);
	t2 = now_ms();
	print_message("round %d: 1000 creates %.1f ms, 1000 saves %.1f ms\n",
	    round, t1 - t0, t2 - t1);
	for (i = 0; i < 1000; i++)
		store_run_free(runs[i]);
	free(runs);
}

/* Rounds 2 and 3 run with the job past its retention (1000), so saves also
 * prune. */
static void
test_batch_timing(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_query q = { .job = "bench", .status = -1, .limit = 1000,
	    .with_output = true };
	struct store_run **res;
	int64_t left;
	double t0;
	size_t n;
	int round;

	for (round = 1; round <= 3; round++)
		timing_round(st, round);
	t0 = now_ms();
	assert_int_equal(store_runs_query(st, &q, &res, &n), 0);
	print_message("query of 1000 runs with output: %.1f ms\n",
	    now_ms() - t0);
	assert_int_equal(n, 1000);
	assert_string_equal(res[0]->items[0].out, "some captured output line\n");
	store_runs_free(res, n);
	left = raw_int(f->path, "SELECT count(*) FROM runs");
	assert_true(left >= 1000 && left <= 1000 + 1000 / 16);
	store_close(st);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* A pause set through the API is kept in the job state. */
static void
test_job_pause(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_rw(f);
	struct store_job_state js;

	assert_int_equal(store_job_pause_set(st, "a", true), 0);
	assert_int_equal(store_job_state_get(st, "a", &js), 0);
	assert_true(js.paused);
	assert_int_equal(js.run_count, 0);
	assert_int_equal(store_job_pause_set(st, "a", false), 0);
	assert_int_equal(store_job_state_get(st, "a", &js), 0);
	assert_false(js.paused);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_schema),
		T(test_job_pause),
		T(test_open_readonly_missing),
		T(test_open_foreign_files),
		T(test_open_private),
		T(test_open_newer_schema),
		T(test_reader_while_writer),
		T(test_wal_mode),
		T(test_create_ids_and_duplicates),
		T(test_create_batch_rollback),
		T(test_save_and_get),
		T(test_outbox_delete_runs),
		T(test_job_state_newest_final),
		T(test_job_states_batch),
		T(test_query_filters),
		T(test_query_default_limit),
		T(test_recover),
		T(test_recover_reports),
		T(test_retention),
		T(test_retention_keeps_outbox_runs),
		T(test_migrate_to_outbox),
		T(test_migrate_outbox_rows),
		T(test_migrate_fails_untouched),
		T(test_member_fence),
		T(test_remote_runs),
		T(test_remote_cap),
		T(test_threads_share_handle),
		cmocka_unit_test(test_status_names),
		T(test_batch_timing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
