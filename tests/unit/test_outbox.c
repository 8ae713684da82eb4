/*
 * test_outbox.c - the durable outbox against a real store file and a fake
 * sink (records the ids and documents it gets, answers scripted outcomes,
 * can block): entries written with the final save in one transaction,
 * delivered ones deleted, retries backing off with bounded jitter, LATER
 * honoured without an attempt, park and re-queue, outbox_max dropping the
 * oldest (counted and logged), a restart and a kill -9 mid-batch that
 * deliver every entry exactly once, batches read while the previous one
 * is delivered, and a sink's flush interval.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "distcron/buf.h"
#include "distcron/config.h"
#include "distcron/control.h"
#include "distcron/err.h"
#include "distcron/outbox.h"
#include "distcron/store.h"
#include "distcron/tz.h"

#define NRUNS_MAX	64
#define WAIT_TRIES	500	/* x 10 ms */

struct fake {
	pthread_mutex_t mu;
	enum outbox_result answer;
	int64_t later_ms;		/* LATER: not_before_ms */
	int deliver_calls;		/* after this many calls ... */
	enum outbox_result then;	/* ... answer this instead */
	int block_at;			/* call number that blocks forever */
	const char *log_path;		/* ids delivered, one a line */
	int calls;
	int sizes[NRUNS_MAX];		/* entries of each call */
	int64_t depth;			/* after the last pass, or -1 */
	const struct outbox_entry *prepared[2];	/* the last two prepares' e */
	int nprepared;
	int prepared_used;		/* deliver calls that got it */
	bool busy;			/* a call runs ... */
	int overlaps;			/* ... when another came */
	int64_t ids[NRUNS_MAX * 2];
	int nids;
	int seen[NRUNS_MAX * 2];	/* deliveries by entry id */
	char doc[4096];			/* the last document */
	int attempts;			/* of the last entry */
};

struct fixture {
	char dir[64];
	char path[128];
	struct config cfg;
	struct store *st;
	struct fake fake;
	int nsaved;		/* runs made by runs_saved: their ticks */
};

static void
log_ids(const char *path, const struct outbox_entry *e, size_t n)
{
	FILE *f = fopen(path, "a");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		fprintf(f, "%lld\n", (long long)e[i].id);
	fflush(f);
	fsync(fileno(f));
	fclose(f);
}

static int
fake_deliver(void *arg, const struct outbox_entry *e, size_t n,
    struct outbox_outcome *out)
{
	struct fake *fk = arg;
	enum outbox_result res;
	size_t i;

	pthread_mutex_lock(&fk->mu);
	fk->prepared_used += fk->prepared[0] == e || fk->prepared[1] == e;
	fk->overlaps += fk->busy;
	fk->busy = true;
	if (fk->calls < NRUNS_MAX)
		fk->sizes[fk->calls] = (int)n;
	fk->calls++;
	if (fk->block_at > 0 && fk->calls == fk->block_at) {
		pthread_mutex_unlock(&fk->mu);
		for (;;)
			pause();	/* killed here */
	}
	res = fk->deliver_calls > 0 && fk->calls > fk->deliver_calls ?
	    fk->then : fk->answer;
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].result = res;
		out[i].not_before_ms = fk->later_ms;
		snprintf(out[i].why, sizeof(out[i].why), "peer 127.0.0.1 said no");
		if (res == OUTBOX_DELIVERED && e[i].id < NRUNS_MAX * 2)
			fk->seen[e[i].id]++;
		if (fk->nids < NRUNS_MAX * 2)
			fk->ids[fk->nids++] = e[i].id;
		snprintf(fk->doc, sizeof(fk->doc), "%s", e[i].doc);
		fk->attempts = e[i].attempts;
	}
	pthread_mutex_unlock(&fk->mu);
	if (res == OUTBOX_DELIVERED && fk->log_path != NULL)
		log_ids(fk->log_path, e, n);
	usleep(2000);		/* long enough for a second call to show */
	pthread_mutex_lock(&fk->mu);
	fk->busy = false;
	pthread_mutex_unlock(&fk->mu);
	return 0;
}

/* outbox_on_depth's hook: the depth after each pass. */
static void
fake_depth(void *arg, const char *sink, int64_t depth)
{
	struct fake *fk = arg;

	(void)sink;
	pthread_mutex_lock(&fk->mu);
	fk->depth = depth;
	pthread_mutex_unlock(&fk->mu);
}

/* Waits until a pass of the outbox ends with depth entries. */
static void
wait_pass_depth(struct fake *fk, int64_t depth)
{
	int64_t d = -1;
	int i;

	for (i = 0; i < WAIT_TRIES && d != depth; i++) {
		pthread_mutex_lock(&fk->mu);
		d = fk->depth;
		pthread_mutex_unlock(&fk->mu);
		if (d != depth)
			usleep(10000);
	}
	assert_int_equal(d, depth);
}

static const struct outbox_sink_ops fake_ops = {
	.name = "fake",
	.deliver = fake_deliver,
	.free = NULL,
};

/* outbox_sink_ops.prepare: notes which batch comes next. */
static void
fake_prepare(void *arg, const struct outbox_entry *e, size_t n)
{
	struct fake *fk = arg;

	(void)n;
	pthread_mutex_lock(&fk->mu);
	fk->prepared[fk->nprepared++ % 2] = e;
	pthread_mutex_unlock(&fk->mu);
}

static const struct outbox_sink_ops fake_prep_ops = {
	.name = "fake",
	.deliver = fake_deliver,
	.prepare = fake_prepare,
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *errstr = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/distcron.db", f->dir);
	f->cfg.outbox_max = 100000;
	pthread_mutex_init(&f->fake.mu, NULL);
	f->fake.answer = OUTBOX_DELIVERED;
	if (store_open(f->path, false, &f->st, &errstr) != 0)
		fail_msg("store_open: %s", errstr);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	pthread_mutex_destroy(&f->fake.mu);
	free(f);
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A new PENDING run of job "backup" on nodes db1 and db2, recorded. */
static struct store_run *
run_created(struct fixture *f, int64_t scheduled_at)
{
	struct store_run *run = calloc(1, sizeof(*run));
	int i;

	assert_non_null(run);
	run->job = strdup("backup");
	run->trigger = strdup("schedule");
	run->scheduled_at = scheduled_at;
	run->attempt = 1;
	run->nitems = 2;
	run->items = calloc(2, sizeof(*run->items));
	for (i = 0; i < 2; i++) {
		run->items[i].node = strdup(i == 0 ? "db1" : "db2");
		run->items[i].attempt = 1;
		run->items[i].exit_code = -1;
	}
	assert_int_equal(store_runs_create(f->st, &run, 1), 0);
	assert_true(run->id > 0);
	return run;
}

/* Makes run final (FAILURE, exit 2, started 1.5 s late) with one row. */
static void
run_final(struct store_run *run, const char *sink)
{
	int64_t t0 = run->scheduled_at * 1000 + 1500;
	size_t i;

	run->status = RUN_FAILURE;
	run->started_ms = t0;
	run->ended_ms = t0 + 250;
	for (i = 0; i < run->nitems; i++) {
		run->items[i].status = RUN_FAILURE;
		run->items[i].exit_code = 2;
		run->items[i].started_ms = t0;
		run->items[i].ended_ms = t0 + 250;
	}
	run->outrows = calloc(1, sizeof(*run->outrows));
	run->outrows[0].sink = sink != NULL ? strdup(sink) : NULL;
	run->outrows[0].event = strdup("report");
	run->noutrows = 1;
}

/* n final runs, each with one entry for the fake sink. */
static void
runs_saved(struct fixture *f, int n)
{
	struct store_run *run;
	int i;

	for (i = 0; i < n; i++, f->nsaved++) {
		run = run_created(f, 1700000000 + f->nsaved * 60);
		run_final(run, "fake");
		assert_int_equal(store_runs_save(f->st, &run, 1), 0);
		store_run_free(run);
	}
}

static struct outbox *
ob_open_ops(struct fixture *f, const struct outbox_sink_ops *ops,
    size_t batch)
{
	struct outbox *ob = NULL;

	assert_int_equal(outbox_new(&f->cfg, f->path, &ob), 0);
	assert_int_equal(outbox_add_sink(ob, ops, &f->fake, batch), 0);
	assert_int_equal(outbox_add_planner(ob, outbox_plan_reports, "fake"),
	    0);
	store_on_outbox(f->st, outbox_wake, ob);
	return ob;
}

static struct outbox *
ob_open(struct fixture *f, size_t batch)
{
	return ob_open_ops(f, &fake_ops, batch);
}

static void
ob_close(struct fixture *f, struct outbox *ob)
{
	store_on_outbox(f->st, NULL, NULL);
	assert_int_equal(outbox_stop(ob, 5000), 0);
	outbox_free(ob);
}

static struct store_outbox_count
counted(struct fixture *f)
{
	struct store_outbox_count c;

	assert_int_equal(store_outbox_count(f->st, "fake", &c), 0);
	return c;
}

static int
fake_calls(struct fake *fk)
{
	int n;

	pthread_mutex_lock(&fk->mu);
	n = fk->calls;
	pthread_mutex_unlock(&fk->mu);
	return n;
}

/* Waits until the sink was called at least n times and the outbox's pass
 * is over (depth stable); fails after WAIT_TRIES. */
static void
wait_calls(struct fixture *f, int n)
{
	int i;

	for (i = 0; i < WAIT_TRIES && fake_calls(&f->fake) < n; i++)
		usleep(10000);
	assert_true(fake_calls(&f->fake) >= n);
}

static void
wait_depth(struct fixture *f, size_t depth)
{
	int i;

	for (i = 0; i < WAIT_TRIES && counted(f).depth != depth; i++)
		usleep(10000);
	assert_int_equal(counted(f).depth, depth);
}

/* Reads the one entry left (due or not). */
static struct store_outbox_entry
only_entry(struct fixture *f)
{
	struct store_outbox_entry *e = NULL, one;
	size_t n = 0;

	assert_int_equal(store_outbox_due(f->st, "fake", INT64_MAX / 2, 10,
	    &e, &n), 0);
	assert_int_equal(n, 1);
	one = e[0];
	free(e);
	return one;
}

/* A batch whose second run cannot be saved leaves neither run final nor
 * any entry; saved alone, the first run's entry exists with its state. */
static void
test_rows_with_final_save(void **state)
{
	struct fixture *f = *state;
	struct store_run *runs[2], *got = NULL;

	runs[0] = run_created(f, 1700000000);
	runs[1] = run_created(f, 1700000060);
	run_final(runs[0], "fake");
	run_final(runs[1], NULL);	/* sink NOT NULL: the insert fails */
	assert_int_not_equal(store_runs_save(f->st, runs, 2), 0);
	assert_int_equal(counted(f).depth, 0);
	assert_int_equal(store_run_get(f->st, runs[0]->id, &got), 0);
	assert_int_equal(got->status, RUN_PENDING);
	store_run_free(got);
	assert_int_equal(store_runs_save(f->st, runs, 1), 0);
	assert_int_equal(counted(f).depth, 1);
	assert_int_equal(store_run_get(f->st, runs[0]->id, &got), 0);
	assert_int_equal(got->status, RUN_FAILURE);
	assert_int_equal(only_entry(f).run_id, runs[0]->id);
	store_run_free(got);
	store_run_free(runs[0]);
	store_run_free(runs[1]);
}

/* outbox_plan attaches one report row per final run, through the
 * planners; rows for a sink nobody registered are dropped. */
static void
test_plan_attaches_rows(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob = ob_open(f, 0);
	struct store_run *run = run_created(f, 1700000000);

	assert_int_equal(outbox_add_planner(ob, outbox_plan_reports,
	    "elasticsearch"), 0);	/* not registered */
	outbox_plan(ob, run, NULL, RUN_PENDING);
	assert_int_equal(run->noutrows, 0);	/* not final: no report */
	run->status = RUN_SUCCESS;
	outbox_plan(ob, run, NULL, RUN_PENDING);
	assert_int_equal(run->noutrows, 1);
	assert_null(run->outrows[0].doc);	/* rendered when delivered */
	assert_string_equal(run->outrows[0].sink, "fake");
	assert_string_equal(run->outrows[0].event, "report");
	store_run_free(run);
	ob_close(f, ob);
}

/* A planner asking the fake sink for any record's "missed" entry. */
static size_t
plan_missed(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev,
    struct outbox_row *rows, size_t max)
{
	(void)arg;
	(void)def;
	(void)prev;
	if (rec->missed == 0 || max == 0)
		return 0;
	rows[0].sink = "fake";
	rows[0].event = "missed";
	return 1;
}

/* A tick that did not start: no run, its entry (run_id 0) carries the
 * job, the tick and its own document (status MISSED, the count, why,
 * the tick in the job's zone), saved through the store and delivered. */
static void
test_missed_entry(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob = ob_open(f, 0);
	struct job_def def;
	struct store_run *rec = calloc(1, sizeof(*rec));
	struct store_outbox_entry e;

	memset(&def, 0, sizeof(def));
	assert_int_equal(tz_get("Europe/Paris", &def.zone, NULL), 0);
	assert_int_equal(outbox_add_planner(ob, plan_missed, NULL), 0);
	assert_non_null(rec);
	rec->job = strdup("backup");
	rec->trigger = strdup("schedule");
	rec->reason = strdup("the previous run is still running");
	rec->scheduled_at = 1700000000;
	rec->missed = 3;
	outbox_plan(ob, rec, &def, RUN_PENDING);
	assert_int_equal(rec->noutrows, 1);	/* no report: not a run */
	assert_non_null(rec->outrows[0].doc);
	assert_int_equal(store_runs_save(f->st, &rec, 1), 0);
	store_run_free(rec);
	e = only_entry(f);
	assert_int_equal(e.run_id, 0);
	assert_string_equal(e.job, "backup");
	assert_int_equal(e.scheduled_at, 1700000000);
	assert_true(e.has_doc);
	assert_int_equal(outbox_start(ob), 0);
	wait_depth(f, 0);
	assert_int_equal(f->fake.nids, 1);
	assert_non_null(strstr(f->fake.doc, "\"status\":\"MISSED\""));
	assert_non_null(strstr(f->fake.doc, "\"missed\":{\"count\":3,"
	    "\"reason\":\"the previous run is still running\","
	    "\"tick\":\"2023-11-14T23:13:20+01:00\"}"));
	assert_non_null(strstr(f->fake.doc, "\"event\":\"missed\""));
	ob_close(f, ob);
}

/* Rows committed after start wake the thread; delivered rows are gone
 * and the sink saw the report document. */
static void
test_delivered_deleted(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob = ob_open(f, 0);
	struct outbox_sink_stats s;

	assert_int_equal(outbox_start(ob), 0);
	runs_saved(f, 1);
	wait_depth(f, 0);
	usleep(100000);		/* the thread idles: only a wake-up brings */
	runs_saved(f, 2);	/* these before its minute is up */
	wait_depth(f, 0);
	assert_int_equal(f->fake.nids, 3);
	assert_non_null(strstr(f->fake.doc, "\"event\":\"report\""));
	assert_non_null(strstr(f->fake.doc, "\"job\":\"backup\""));
	assert_non_null(strstr(f->fake.doc, "\"duration_ms\":250"));
	assert_non_null(strstr(f->fake.doc, "\"lateness_ms\":1500"));
	assert_non_null(strstr(f->fake.doc, "\"nodes\":[\"db1\",\"db2\"]"));
	assert_non_null(strstr(f->fake.doc, "\"status\":\"FAILURE\""));
	assert_non_null(strstr(f->fake.doc, "\"exit_code\":2"));
	assert_non_null(strstr(f->fake.doc,
	    "\"start\":\"2023-11-14T22:15:21+00:00\""));
	assert_int_equal(outbox_stats(ob, &s, 1), 1);
	assert_string_equal(s.sink, "fake");
	assert_int_equal(s.delivered, 3);
	assert_int_equal(s.depth, 0);
	ob_close(f, ob);
}

/* The delay doubles from 1 s up to 5 min, always within +-20 %. */
static void
test_backoff_bounds(void **state)
{
	unsigned seed;
	int64_t d, base;
	int a, i;

	(void)state;
	for (a = 1; a <= 20; a++) {
		base = 1000;
		for (i = 1; i < a && base < 300000; i++)
			base *= 2;
		base = base > 300000 ? 300000 : base;
		for (seed = 0; seed < 200; seed++) {
			d = outbox_backoff_ms(a, &seed);
			assert_true(d >= base * 8 / 10);
			assert_true(d <= base * 12 / 10);
		}
	}
}

/* RETRY counts an attempt, keeps why and pushes next_ms out; a second
 * retry waits about twice as long. */
static void
test_retry_backs_off(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	struct store_outbox_entry e;
	int64_t t;

	f->fake.answer = OUTBOX_RETRY;
	runs_saved(f, 1);
	ob = ob_open(f, 0);
	t = now_ms();
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 1);
	ob_close(f, ob);
	e = only_entry(f);
	assert_int_equal(e.attempts, 1);
	assert_string_equal(e.why, "peer 127.0.0.1 said no");
	assert_true(e.next_ms >= t + 800 && e.next_ms <= now_ms() + 1200);
	e.next_ms = 0;		/* due again now */
	assert_int_equal(store_outbox_update(f->st, &e, 1), 0);
	ob = ob_open(f, 0);
	t = now_ms();
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 2);
	ob_close(f, ob);
	assert_int_equal(f->fake.attempts, 1);	/* the sink saw attempt 1 */
	e = only_entry(f);
	assert_int_equal(e.attempts, 2);
	assert_true(e.next_ms >= t + 1600 && e.next_ms <= now_ms() + 2400);
}

/* LATER sets next_ms to the sink's time and counts no attempt. */
static void
test_later_honoured(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	struct store_outbox_entry e;

	f->fake.answer = OUTBOX_LATER;
	f->fake.later_ms = now_ms() + 3600000;
	runs_saved(f, 1);
	ob = ob_open(f, 0);
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 1);
	ob_close(f, ob);
	e = only_entry(f);
	assert_int_equal(e.attempts, 0);
	assert_int_equal(e.next_ms, f->fake.later_ms);
	assert_int_equal(f->fake.calls, 1);	/* not due: not tried again */
}

static size_t
parked_count(struct outbox *ob, struct store_outbox_entry **e)
{
	size_t n = 0;

	assert_int_equal(outbox_parked(ob, 100, e, &n), 0);
	return n;
}

/* A started outbox whose sink parked n new entries on its first call and
 * delivers from then on. */
static struct outbox *
parked_outbox(struct fixture *f, size_t n)
{
	struct outbox *ob;
	int i;

	f->fake.answer = OUTBOX_PARK;
	f->fake.deliver_calls = 1;
	f->fake.then = OUTBOX_DELIVERED;
	runs_saved(f, (int)n);
	ob = ob_open(f, 0);
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 1);
	for (i = 0; i < WAIT_TRIES && counted(f).parked < n; i++)
		usleep(10000);
	assert_int_equal(counted(f).parked, n);
	return ob;
}

/* PARK keeps the entry with why, listed with its job; a retry by id and
 * a retry of all re-queue them and they are delivered. */
static void
test_park_then_retry(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	struct store_outbox_entry *e = NULL;
	size_t n = 0;

	ob = parked_outbox(f, 3);
	assert_int_equal(parked_count(ob, &e), 3);
	assert_string_equal(e[0].job, "backup");
	assert_string_equal(e[0].sink, "fake");
	assert_string_equal(e[0].event, "report");
	assert_string_equal(e[0].why, "peer 127.0.0.1 said no");
	assert_int_equal(outbox_retry(ob, e[1].id, &n), 0);
	assert_int_equal(n, 1);
	wait_depth(f, 2);
	assert_int_equal(f->fake.seen[e[1].id], 1);
	free(e);
	assert_int_equal(outbox_retry(ob, 999999, &n), ERR_NOTFOUND);
	assert_int_equal(outbox_retry(ob, 0, &n), 0);
	assert_int_equal(n, 2);
	wait_depth(f, 0);
	ob_close(f, ob);
}

/* Past outbox_max the oldest go: counted per sink, logged with the
 * count; the newest stay. */
static void
test_max_drops_oldest(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	struct outbox_sink_stats s;
	char logp[160], line[512];
	int saved, fd, found = 0;
	FILE *lf;

	f->cfg.outbox_max = 3;
	f->fake.answer = OUTBOX_LATER;
	f->fake.later_ms = now_ms() + 3600000;
	runs_saved(f, 5);
	snprintf(logp, sizeof(logp), "%s/log", f->dir);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	dup2(fd, 2);
	ob = ob_open(f, 0);
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 1);
	ob_close(f, ob);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(counted(f).depth, 3);
	assert_non_null(lf = fopen(logp, "r"));
	while (fgets(line, sizeof(line), lf) != NULL)
		found += strstr(line, "dropped the 2 oldest entries") != NULL;
	fclose(lf);
	assert_int_equal(found, 1);
	ob = ob_open(f, 0);
	outbox_stats(ob, &s, 1);
	assert_int_equal(s.depth, 3);
	outbox_free(ob);
	/* the first sink call saw the newest three: ids 3, 4, 5 */
	assert_int_equal(f->fake.ids[0], 3);
	assert_int_equal(f->fake.ids[2], 5);
}

/* Stopped mid-way, the outbox delivers the rest after a restart: every
 * entry exactly once. */
static void
test_restart_delivers_rest(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	int i;

	f->fake.deliver_calls = 1;	/* the first batch of 2 only */
	f->fake.then = OUTBOX_LATER;
	f->fake.later_ms = now_ms() + 3600000;
	runs_saved(f, 5);
	ob = ob_open(f, 2);
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 2);
	ob_close(f, ob);
	assert_int_equal(counted(f).depth, 3);
	/* what was not delivered is due again after a restart */
	for (i = 3; i <= 5; i++) {
		struct store_outbox_entry e = { .id = i };
		assert_int_equal(store_outbox_update(f->st, &e, 1), 0);
	}
	f->fake.deliver_calls = 0;
	f->fake.answer = OUTBOX_DELIVERED;
	ob = ob_open(f, 2);
	assert_int_equal(outbox_start(ob), 0);
	wait_depth(f, 0);
	ob_close(f, ob);
	for (i = 1; i <= 5; i++)
		assert_int_equal(f->fake.seen[i], 1);
}

/* Many batches, the next read while one is delivered: each entry once,
 * oldest first, deliver calls one at a time, each after the sink's
 * prepare of its entries. */
static void
test_batches_pipelined(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	int i;

	runs_saved(f, 20);
	ob = ob_open_ops(f, &fake_prep_ops, 3);
	assert_int_equal(outbox_start(ob), 0);
	wait_depth(f, 0);
	ob_close(f, ob);
	assert_int_equal(f->fake.nids, 20);
	for (i = 0; i < 20; i++)
		assert_int_equal(f->fake.ids[i], i + 1);
	assert_int_equal(f->fake.overlaps, 0);
	assert_int_equal(f->fake.calls, 7);
	assert_int_equal(f->fake.prepared_used, 7);
	assert_int_equal(f->fake.sizes[6], 2);
}

/* An entry whose run left the store is parked with why; the others of
 * its batch go. */
static void
test_run_gone_parked(void **state)
{
	struct fixture *f = *state;
	struct store_outbox_entry *e = NULL;
	struct outbox *ob;
	sqlite3 *db = NULL;
	int i;

	runs_saved(f, 3);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM runs WHERE id = 2",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ob = ob_open(f, 0);
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 1);
	for (i = 0; i < WAIT_TRIES && counted(f).depth != 1; i++)
		usleep(10000);
	assert_int_equal(parked_count(ob, &e), 1);
	assert_int_equal(e[0].run_id, 2);
	assert_string_equal(e[0].why, "run 2 is no longer in the store");
	free(e);
	ob_close(f, ob);
	assert_int_equal(f->fake.nids, 2);
	assert_int_equal(f->fake.ids[0], 1);
	assert_int_equal(f->fake.ids[1], 3);
}

/* A sink's flush interval: a partial batch waits for more entries, a
 * batch that fills goes at once, a partial one goes once the interval
 * has passed, and a stop sends what waits. */
static void
test_flush_interval(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;

	ob = ob_open(f, 4);
	assert_int_equal(outbox_set_flush(ob, "nosuch", 500), ERR_NOTFOUND);
	assert_int_equal(outbox_set_flush(ob, "fake", 500), 0);
	f->fake.depth = -1;
	outbox_on_depth(ob, fake_depth, &f->fake);
	assert_int_equal(outbox_start(ob), 0);
	assert_int_equal(outbox_set_flush(ob, "fake", 500), ERR_BUSY);
	runs_saved(f, 1);	/* 1 of 4: a pass leaves it waiting */
	wait_pass_depth(&f->fake, 1);
	runs_saved(f, 3);	/* full: goes */
	wait_depth(f, 0);
	assert_int_equal(fake_calls(&f->fake), 1);
	assert_int_equal(f->fake.sizes[0], 4);
	runs_saved(f, 2);	/* waits, then goes as it is */
	wait_depth(f, 0);
	assert_int_equal(fake_calls(&f->fake), 2);
	assert_int_equal(f->fake.sizes[1], 2);
	ob_close(f, ob);

	ob = ob_open(f, 4);
	assert_int_equal(outbox_set_flush(ob, "fake", 3600000), 0);
	assert_int_equal(outbox_start(ob), 0);
	runs_saved(f, 2);
	ob_close(f, ob);	/* the stop sends them */
	assert_int_equal(counted(f).depth, 0);
	assert_int_equal(f->fake.calls, 3);
	assert_int_equal(f->fake.sizes[2], 2);
	assert_int_equal(f->fake.nids, 8);
}

/* POST /outbox/retry's backend (control.c) with body; returns its
 * result, with its error message or JSON in out. */
static int
api_retry(const struct api_backend *be, const char *body, char *out,
    size_t outlen)
{
	char *json = NULL;
	int r;

	out[0] = '\0';
	r = be->outbox_retry(be->ctx, body, strlen(body), &json, out, outlen);
	if (r == 0)
		snprintf(out, outlen, "%s", json);
	free(json);
	return r;
}

/* The API's backend (control.c: no loop or runner needed for /outbox),
 * behind the outbox ob, or without one when ob is NULL. */
static struct control *
backend(struct fixture *f, struct outbox *ob, struct api_backend *be)
{
	struct control *c = NULL;

	assert_int_equal(control_new(&f->cfg, NULL, NULL, NULL, NULL, NULL,
	    NULL, &c), 0);
	if (ob != NULL)
		control_set_outbox(c, &outbox_control_ops, ob);
	control_backend(c, be);
	return c;
}

/* Without a sink: nothing listed, an id is not found, all re-queues 0,
 * and a bad body is refused all the same. */
static void
test_api_without_outbox(void **state)
{
	struct api_backend be;
	struct control *c = backend(*state, NULL, &be);
	char *json = NULL, msg[256];

	assert_int_equal(be.outbox(be.ctx, &json), 0);
	assert_string_equal(json, "{\"parked\":[]}");
	free(json);
	assert_int_equal(api_retry(&be, "{\"id\": 3}", msg, sizeof(msg)),
	    ERR_NOTFOUND);
	assert_string_equal(msg, "parked outbox entry 3");
	assert_int_equal(api_retry(&be, "{\"all\": true}", msg, sizeof(msg)),
	    0);
	assert_string_equal(msg, "{\"requeued\":0}");
	assert_int_equal(api_retry(&be, "{\"all\": false}", msg,
	    sizeof(msg)), ERR_INVALID);
	control_free(c);
}

/* What /monitor, /metrics, GET /outbox and POST /outbox/retry show: per
 * sink figures, the parked entries, and clear errors for bad bodies. */
static void
test_api_views(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;
	json_object *o = json_object_new_object();
	char *json = NULL, msg[256], body[64];
	struct api_backend be;
	struct control *c;
	struct buf b;

	ob = parked_outbox(f, 2);
	c = backend(f, ob, &be);
	assert_int_equal(be.outbox(be.ctx, &json), 0);
	assert_non_null(strstr(json, "{\"parked\":[{\"id\":1,\"run_id\":1,"
	    "\"job\":\"backup\",\"sink\":\"fake\",\"event\":\"report\","
	    "\"attempts\":0,\"why\":\"peer 127.0.0.1 said no\"}"));
	free(json);
	assert_int_equal(api_retry(&be, "{\"id\": 0}", msg, sizeof(msg)),
	    ERR_INVALID);
	assert_non_null(strstr(msg, "id: "));
	assert_int_equal(api_retry(&be, "{}", msg, sizeof(msg)), ERR_INVALID);
	assert_string_equal(msg, "body: give {\"id\": N} or {\"all\": true}");
	assert_int_equal(api_retry(&be, "{\"bogus\": 1}", msg, sizeof(msg)),
	    ERR_INVALID);
	assert_non_null(strstr(msg, "bogus"));
	assert_int_equal(api_retry(&be, "{\"id\": 99999}", msg, sizeof(msg)),
	    ERR_NOTFOUND);
	assert_string_equal(msg, "parked outbox entry 99999");
	snprintf(body, sizeof(body), "{\"id\": %d}", 2);
	assert_int_equal(api_retry(&be, body, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "{\"requeued\":1}");
	wait_depth(f, 1);
	outbox_control_ops.monitor(ob, o);
	json_object_object_add(json_object_object_get(json_object_object_get(
	    o, "outbox"), "fake"), "oldest_age_s", NULL);	/* a time */
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "{\"outbox\":{\"fake\":{\"depth\":1,"
	    "\"oldest_age_s\":null,\"delivered\":1,\"retried\":0,"
	    "\"dropped\":0,\"parked\":1}}}");
	json_object_put(o);
	buf_init(&b, 65536);
	outbox_control_ops.metrics(ob, &b);
	assert_non_null(strstr(buf_str(&b),
	    "# TYPE distcron_outbox_depth gauge\n"
	    "distcron_outbox_depth{sink=\"fake\"} 1\n"));
	assert_non_null(strstr(buf_str(&b),
	    "distcron_outbox_oldest_age_seconds{sink=\"fake\"} "));
	assert_non_null(strstr(buf_str(&b),
	    "distcron_outbox_delivered_total{sink=\"fake\"} 1\n"));
	assert_non_null(strstr(buf_str(&b),
	    "distcron_outbox_retried_total{sink=\"fake\"} 0\n"));
	assert_non_null(strstr(buf_str(&b),
	    "distcron_outbox_dropped_total{sink=\"fake\"} 0\n"));
	assert_non_null(strstr(buf_str(&b),
	    "distcron_outbox_parked{sink=\"fake\"} 1\n"));
	buf_free(&b);
	control_free(c);
	ob_close(f, ob);
}

/* A sink that never returns: outbox_stop gives up at its deadline and
 * says so; the entry stays for the next start. */
static void
test_stop_deadline(void **state)
{
	struct fixture *f = *state;
	struct outbox *ob;

	f->fake.block_at = 1;
	runs_saved(f, 1);
	ob = ob_open(f, 0);
	assert_int_equal(outbox_start(ob), 0);
	wait_calls(f, 1);
	store_on_outbox(f->st, NULL, NULL);
	assert_int_equal(outbox_stop(ob, 100), ERR_TIMEOUT);
	outbox_free(ob);	/* left to the blocked thread */
	assert_int_equal(counted(f).depth, 1);
}

/* The child: ships in batches of 4, logging what was delivered; the
 * second batch blocks until SIGKILL. */
static void
crash_child(struct fixture *f, const char *logp)
{
	struct outbox *ob = NULL;

	f->fake.block_at = 2;
	f->fake.log_path = logp;
	if (outbox_new(&f->cfg, f->path, &ob) != 0 ||
	    outbox_add_sink(ob, &fake_ops, &f->fake, 4) != 0 ||
	    outbox_start(ob) != 0)
		_exit(1);
	for (;;)
		pause();
}

/* kill -9 in the middle of a batch: after reopening, every entry is
 * delivered exactly once overall (by id), none lost. */
static void
test_crash_mid_batch(void **state)
{
	struct fixture *f = *state;
	char logp[160], line[64];
	struct outbox *ob;
	int i, status, child_seen[NRUNS_MAX] = { 0 };
	FILE *lf;
	pid_t pid;

	runs_saved(f, 10);
	snprintf(logp, sizeof(logp), "%s/delivered", f->dir);
	if ((pid = fork()) == 0)
		crash_child(f, logp);
	assert_true(pid > 0);
	for (i = 0; i < WAIT_TRIES && counted(f).depth != 6; i++)
		usleep(10000);
	usleep(100000);		/* the second batch is read and blocked */
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_non_null(lf = fopen(logp, "r"));
	while (fgets(line, sizeof(line), lf) != NULL)
		child_seen[strtol(line, NULL, 10) % NRUNS_MAX]++;
	fclose(lf);
	ob = ob_open(f, 4);
	assert_int_equal(outbox_start(ob), 0);
	wait_depth(f, 0);
	ob_close(f, ob);
	for (i = 1; i <= 10; i++)
		assert_int_equal(child_seen[i] + f->fake.seen[i], 1);
	assert_int_equal(child_seen[1] + child_seen[4], 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rows_with_final_save,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_attaches_rows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missed_entry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delivered_deleted,
		    setup, teardown),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test_setup_teardown(test_retry_backs_off,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_honoured,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_park_then_retry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_drops_oldest,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_delivers_rest,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_batch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_views,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_without_outbox,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_deadline,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches_pipelined,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_interval,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_gone_parked,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
