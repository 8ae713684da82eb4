/*
 * storerate.c - drives the store thread and the outbox directly for
 * bench/reports.sh, as the daemon does, without a scheduler in front.
 *
 *   storerate store DIR N none|rows
 *       N final run records (one item each, already created as intents)
 *       saved through the store thread (storeq_save, one call per record,
 *       as the runner does); with "rows" every record first gets its
 *       outbox rows from outbox_plan (the runner's plan step) and the
 *       outbox's thread runs with a sink that takes everything at once,
 *       so that its reads and deletes share the store file as in the
 *       daemon.  Prints records/s from the first save to the flush.
 *   storerate prep DIR N
 *       Writes N final runs with their Elasticsearch report entries into
 *       DIR/distcron.db, and DIR/bodies: the _bulk bodies of their
 *       documents (the sink's lines, batch_docs per body), each as
 *       "LENGTH\n" then the body, for bench/bulkfloor.c.
 *   storerate ship DIR HOST PORT
 *       Starts the outbox with the Elasticsearch sink (--es-host/--es-port
 *       defaults, flush_interval included) on DIR/distcron.db and prints documents/s until the
 *       outbox is empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distcron/buf.h"
#include "distcron/config.h"
#include "distcron/es.h"
#include "distcron/loop.h"
#include "distcron/outbox.h"
#include "distcron/store.h"
#include "distcron/storeq.h"
#include "report/es_int.h"

#define JOBS		100	/* records spread over this many jobs */
#define CHUNK		1000	/* intents per create transaction */
#define WAIT_MAX_MS	600000	/* ship: give up after this long */

static struct loop *loop;

static void
die(const char *what, int r)
{
	fprintf(stderr, "storerate: %s failed (%d)\n", what, r);
	exit(1);
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("strdup", -ENOMEM);
	return p;
}

/* Run i as its intent: PENDING, one item on node "local". */
static struct store_run *
run_new(long i, long n, int64_t now_ms)
{
	struct store_run *r = calloc(1, sizeof(*r));
	char job[32];

	if (r == NULL || (r->items = calloc(1, sizeof(*r->items))) == NULL)
		die("calloc", -ENOMEM);
	snprintf(job, sizeof(job), "j%ld", i % JOBS);
	r->job = xstrdup(job);
	r->scheduled_at = now_ms / 1000 - n + i;
	r->trigger = xstrdup("schedule");
	r->attempt = 1;
	r->created_ms = now_ms;
	r->nitems = 1;
	r->items[0].node = xstrdup("local");
	r->items[0].attempt = 1;
	r->items[0].exit_code = -1;
	return r;
}

/* Makes r final: SUCCESS after 5 ms, with a line of output. */
static void
run_finish(struct store_run *r)
{
	struct store_item *it = &r->items[0];

	r->status = it->status = RUN_SUCCESS;
	r->started_ms = it->started_ms = r->scheduled_at * 1000 + 3;
	r->ended_ms = it->ended_ms = r->started_ms + 5;
	it->exit_code = 0;
	it->out = xstrdup("fine\n");
	it->err = xstrdup("");
}

/* Opens the store DIR/distcron.db (its path into path); exits on error. */
static struct store *
store_at(const char *dir, char *path, size_t len)
{
	const char *errstr = NULL;
	struct store *st;

	snprintf(path, len, "%s/distcron.db", dir);
	if (store_open(path, false, &st, &errstr) != 0) {
		fprintf(stderr, "storerate: %s\n", errstr);
		exit(1);
	}
	return st;
}

/* N runs, created in the store (ids assigned) and made final. */
static struct store_run **
runs_make(struct store *st, long n)
{
	struct store_run **runs = calloc((size_t)n, sizeof(*runs));
	int64_t now = loop_real_ms();
	long i, k;
	int r;

	if (runs == NULL)
		die("calloc", -ENOMEM);
	for (i = 0; i < n; i++)
		runs[i] = run_new(i, n, now);
	for (i = 0; i < n; i += CHUNK) {
		k = n - i < CHUNK ? n - i : CHUNK;
		if ((r = store_runs_create(st, runs + i, (size_t)k)) != 0)
			die("store_runs_create", r);
	}
	for (i = 0; i < n; i++)
		run_finish(runs[i]);
	return runs;
}

/* A sink that takes every entry at once (ops->name set by the caller). */
static int
null_deliver(void *arg, const struct outbox_entry *e, size_t n,
    struct outbox_outcome *out)
{
	size_t i;

	(void)arg;
	(void)e;
	for (i = 0; i < n; i++)
		out[i].result = OUTBOX_DELIVERED;
	return 0;
}

static struct outbox_sink_ops null_ops = { "null", null_deliver, NULL };

/* An outbox on path whose one sink and report planner are named name. */
static struct outbox *
outbox_make(const char *path, const char *name)
{
	static struct config cfg;
	struct outbox *ob;
	int r;

	cfg.outbox_max = 100000000;
	null_ops.name = name;
	if ((r = outbox_new(&cfg, path, &ob)) != 0 ||
	    (r = outbox_add_sink(ob, &null_ops, NULL, 0)) != 0 ||
	    (r = outbox_add_planner(ob, outbox_plan_reports,
	    (void *)name)) != 0)
		die("outbox", r);
	return ob;
}

/* Entries waiting in ob's first sink, and how many it delivered. */
static size_t
outbox_depth(struct outbox *ob, uint64_t *delivered)
{
	struct outbox_sink_stats s;

	if (outbox_stats(ob, &s, 1) != 1)
		die("outbox_stats", -EINVAL);
	if (delivered != NULL)
		*delivered = s.delivered;
	return s.depth;
}

static void
flushed(void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static int
cmd_store(const char *dir, long n, bool rows)
{
	struct store_run **runs;
	struct outbox *ob = NULL;
	struct storeq *q;
	struct store *st;
	char path[4096];
	int64_t t0, t1, t2;
	long i;
	int r;

	st = store_at(dir, path, sizeof(path));
	runs = runs_make(st, n);
	if (rows) {
		ob = outbox_make(path, "null");
		store_on_outbox(st, outbox_wake, ob);
		if ((r = outbox_start(ob)) != 0)
			die("outbox_start", r);
	}
	if ((r = loop_new(&loop)) != 0 ||
	    (r = storeq_new(st, loop, (size_t)n + 16, &q)) != 0)
		die("storeq_new", r);
	t0 = loop_mono_ms();
	for (i = 0; i < n; i++) {
		if (rows)
			outbox_plan(ob, runs[i], NULL, RUN_PENDING);
		if ((r = storeq_save(q, runs[i])) != 0)
			die("storeq_save", r);
	}
	if ((r = storeq_flush(q, flushed, NULL)) != 0)
		die("storeq_flush", r);
	loop_run(loop);
	t1 = loop_mono_ms();
	printf("stored %ld records in %.3f s: %.0f records/s (outbox rows: "
	    "%s)\n", n, (t1 - t0) / 1e3, n * 1e3 / (double)(t1 > t0 ?
	    t1 - t0 : 1), rows ? "yes" : "no");
	storeq_free(q);
	if (rows) {
		while (outbox_depth(ob, NULL) > 0 &&
		    loop_mono_ms() - t0 < WAIT_MAX_MS)
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
		t2 = loop_mono_ms();
		printf("outbox emptied by its thread %.3f s after the first "
		    "save\n", (t2 - t0) / 1e3);
		store_on_outbox(st, NULL, NULL);
		outbox_stop(ob, 10000);
		outbox_free(ob);
	}
	free(runs);
	loop_free(loop);
	store_close(st);
	return 0;
}

/* Writes the _bulk bodies of runs[0..n-1] to f, batch documents each. */
static void
bodies_write(FILE *f, struct store_run **runs, long n, long batch)
{
	struct outbox_entry e = { 0 };
	char index[ES_INDEX_LEN], id[ES_ID_LEN], why[OUTBOX_WHY_LEN];
	struct buf b;
	char *doc;
	long i;
	int r;

	buf_init(&b, SIZE_MAX / 2);
	for (i = 0; i < n; i++) {
		if ((doc = outbox_render(runs[i], "report")) == NULL)
			die("outbox_render", -ENOMEM);
		e.id = i + 1;
		e.run_id = runs[i]->id;
		e.job = runs[i]->job;
		e.scheduled_at = runs[i]->scheduled_at;
		e.event = "report";
		e.doc = doc;
		es_doc_id(&e, id, sizeof(id));
		if ((r = es_index_name(ES_INDEX_DEFAULT, e.scheduled_at,
		    index, sizeof(index))) != 0 ||
		    (r = es_doc_append(&b, &e, index, id, why,
		    sizeof(why))) != 0)
			die("es_doc_append", r);
		free(doc);
		if ((i + 1) % batch == 0 || i + 1 == n) {
			fprintf(f, "%zu\n", b.len);
			fwrite(b.data, 1, b.len, f);
			buf_reset(&b);
		}
	}
	buf_free(&b);
}

static int
cmd_prep(const char *dir, long n)
{
	struct store_run **runs;
	struct es_config ec;
	struct outbox *ob;
	struct store *st;
	char path[4096];
	FILE *f;
	long i, k;
	int r;

	st = store_at(dir, path, sizeof(path));
	runs = runs_make(st, n);
	ob = outbox_make(path, ES_SINK_NAME);
	for (i = 0; i < n; i++)
		outbox_plan(ob, runs[i], NULL, RUN_PENDING);
	for (i = 0; i < n; i += CHUNK) {
		k = n - i < CHUNK ? n - i : CHUNK;
		if ((r = store_runs_save(st, runs + i, (size_t)k)) != 0)
			die("store_runs_save", r);
	}
	es_config_init(&ec);
	snprintf(path, sizeof(path), "%s/bodies", dir);
	if ((f = fopen(path, "w")) == NULL)
		die(path, -errno);
	bodies_write(f, runs, n, (long)ec.batch_docs);
	if (fclose(f) != 0)
		die(path, -errno);
	printf("prepared %ld runs, bodies of %lld documents\n", n,
	    (long long)ec.batch_docs);
	es_config_free(&ec);
	store_runs_free(runs, (size_t)n);
	outbox_free(ob);
	store_close(st);
	return 0;
}

/* The Elasticsearch sink, wrapped to count what it delivered: the clock
 * stops when every entry was taken, without asking the store (a count of
 * the outbox table would take the outbox's connection from its thread). */
static const struct outbox_sink_ops *es_ops;
static pthread_mutex_t ship_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ship_cv = PTHREAD_COND_INITIALIZER;
static size_t shipped;

static int
count_deliver(void *arg, const struct outbox_entry *e, size_t n,
    struct outbox_outcome *out)
{
	size_t i, k = 0;
	int r = es_ops->deliver(arg, e, n, out);

	for (i = 0; r == 0 && i < n; i++)
		k += out[i].result == OUTBOX_DELIVERED;
	pthread_mutex_lock(&ship_mu);
	shipped += k;
	pthread_cond_signal(&ship_cv);
	pthread_mutex_unlock(&ship_mu);
	return r;
}

static void
count_free(void *arg)
{
	es_ops->free(arg);
}

static struct outbox_sink_ops count_ops = { ES_SINK_NAME, count_deliver,
    count_free };

/* The outbox on path with the sink --es-host host --es-port port makes. */
static struct outbox *
outbox_es(const char *path, const char *host, long port, size_t *batch)
{
	static struct config cfg;
	struct es_config ec;
	struct outbox *ob;
	char err[256];
	void *arg;
	int r;

	cfg.outbox_max = 100000000;
	if ((r = es_config_from_legacy(host, port, &ec, err,
	    sizeof(err))) != 0) {
		fprintf(stderr, "storerate: %s\n", err);
		exit(1);
	}
	*batch = (size_t)ec.batch_docs;
	if ((r = outbox_new(&cfg, path, &ob)) != 0 ||
	    (r = es_sink_new(&ec, &es_ops, &arg)) != 0 ||
	    (count_ops.prepare = es_ops->prepare, 0) != 0 ||
	    (r = outbox_add_sink(ob, &count_ops, arg, *batch)) != 0 ||
	    (r = outbox_set_flush(ob, ES_SINK_NAME,
	    ec.flush_interval_ms)) != 0)
		die("outbox with the Elasticsearch sink", r);
	es_config_free(&ec);
	return ob;
}

/* Waits until n entries were delivered (or WAIT_MAX_MS passed). */
static void
ship_wait(size_t n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);	/* the cv's clock */
	ts.tv_sec += WAIT_MAX_MS / 1000;
	pthread_mutex_lock(&ship_mu);
	while (shipped < n &&
	    pthread_cond_timedwait(&ship_cv, &ship_mu, &ts) == 0)
		;
	pthread_mutex_unlock(&ship_mu);
}

static int
cmd_ship(const char *dir, const char *host, long port)
{
	struct outbox *ob;
	char path[4096];
	size_t n, batch;
	int64_t t0, t1;
	int r;

	snprintf(path, sizeof(path), "%s/distcron.db", dir);
	ob = outbox_es(path, host, port, &batch);
	n = outbox_depth(ob, NULL);
	t0 = loop_mono_ms();
	if ((r = outbox_start(ob)) != 0)
		die("outbox_start", r);
	ship_wait(n);
	outbox_stop(ob, 10000);	/* the last batch's rows deleted */
	t1 = loop_mono_ms();
	outbox_free(ob);
	printf("shipped %zu of %zu documents in %.3f s: %.0f docs/s "
	    "(batches of %zu)\n", shipped, n, (t1 - t0) / 1e3,
	    shipped * 1e3 / (double)(t1 > t0 ? t1 - t0 : 1), batch);
	return shipped == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "store") == 0)
		return cmd_store(argv[2], strtol(argv[3], NULL, 10),
		    strcmp(argv[4], "rows") == 0);
	if (argc == 4 && strcmp(argv[1], "prep") == 0)
		return cmd_prep(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "ship") == 0)
		return cmd_ship(argv[2], argv[3], strtol(argv[4], NULL, 10));
	fprintf(stderr, "usage: storerate store DIR N none|rows\n"
	    "       storerate prep DIR N\n"
	    "       storerate ship DIR HOST PORT\n");
	return 2;
}
