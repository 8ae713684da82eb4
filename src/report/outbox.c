/*
 * outbox.c - the durable outbox: what leaves distcron after a run.
 *
 * The runner's plan step (outbox_plan, on the loop thread) asks each
 * planner which entries a final run creates and attaches them to the final
 * record; the store thread writes them in the same transaction as the
 * run's final state and wakes the outbox (outbox_wake).  The outbox's own
 * thread, on its own store connection, then ships each sink's due entries
 * (not parked, next_ms reached) oldest first in batches: it renders each
 * entry's report from the stored run (or reads the entry's own document:
 * a start's, or a missed tick's, which has no run, both rendered when
 * planned on the loop thread), hands the batch to a thread that calls the
 * sink's deliver, reads and renders the next batch meanwhile (the entries
 * after those in flight), hands that one over when the call returns, and
 * applies the first one's outcomes in one transaction per kind (delivered
 * rows are deleted; retried ones back off exponentially with jitter;
 * LATER ones wait for their time without counting an attempt; parked ones
 * wait for an operator).  A sink with a flush interval lets a partial
 * batch wait for more entries, up to that interval after the oldest
 * became due.  It sleeps on a condition variable until woken or until
 * the earliest due entry, never polling.  Entries live in SQLite, so a
 * restart or a kill -9 mid-batch sends again what was not deleted: sinks
 * are idempotent by entry or run id.  Past outbox_max entries, the oldest
 * are dropped, counted per sink and logged (at most one line per
 * OUTBOX_DROP_LOG_MS).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "distcron/config.h"
#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/outbox.h"
#include "distcron/runjson.h"
#include "distcron/tz.h"

#define OUTBOX_WAIT_MAX_MS	60000	/* re-read the clock at least this
					 * often (it may step) */
#define OUTBOX_DROP_LOG_MS	60000	/* one drop line per minute at most */
#define OUTBOX_FAIL_LOG_MS	60000	/* one failure line per sink and
					 * minute at most */

struct ob_sink {
	const struct outbox_sink_ops *ops;
	void *arg;
	size_t batch;
	int64_t flush_ms;		/* wait to fill a batch; 0: none */
	uint64_t delivered, retried, dropped;	/* under ob->mu */
	/* failures not logged yet: the outbox's thread only */
	uint64_t fail_retried, fail_parked;
	int64_t fail_logged_ms;			/* monotonic; 0: never */
	char fail_why[OUTBOX_WHY_LEN];		/* the latest reason */
};

struct ob_planner {
	outbox_plan_fn fn;
	void *arg;
};

struct outbox {
	struct store *st;		/* the outbox's own connection */
	size_t max;			/* outbox_max */
	struct ob_sink sinks[OUTBOX_SINKS_MAX];
	size_t nsinks;
	struct ob_planner planners[OUTBOX_PLANNERS_MAX];
	size_t nplanners;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* on CLOCK_MONOTONIC */
	bool started, stopping, stopped, orphaned;
	bool kicked;			/* rows committed since the last pass */
	unsigned seed;			/* jitter, thread's own */
	uint64_t drop_pending;		/* dropped, not logged yet */
	int64_t drop_logged_ms;
	bool unknown_logged;
	outbox_depth_fn depth_fn;	/* told each sink's depth per pass */
	void *depth_arg;
};

int
outbox_new(const struct config *cfg, const char *path, struct outbox **out)
{
	pthread_condattr_t ca;
	struct outbox *ob;
	const char *errstr = NULL;
	int r;

	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return -ENOMEM;
	if ((r = store_open(path, false, &ob->st, &errstr)) != 0) {
		log_error("outbox: %s", errstr);
		free(ob);
		return r;
	}
	ob->max = cfg->outbox_max > 0 ? (size_t)cfg->outbox_max : 1;
	ob->seed = (unsigned)loop_real_ms() ^ (unsigned)(uintptr_t)ob;
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = ob;
	return 0;
}

static struct ob_sink *
sink_find(struct outbox *ob, const char *name)
{
	size_t i;

	for (i = 0; i < ob->nsinks; i++)
		if (strcmp(ob->sinks[i].ops->name, name) == 0)
			return &ob->sinks[i];
	return NULL;
}

int
outbox_add_sink(struct outbox *ob, const struct outbox_sink_ops *ops,
    void *arg, size_t batch)
{
	struct ob_sink *s;

	if (ob->started)
		return ERR_BUSY;
	if (sink_find(ob, ops->name) != NULL)
		return ERR_EXISTS;
	if (ob->nsinks == OUTBOX_SINKS_MAX)
		return -ENOSPC;
	s = &ob->sinks[ob->nsinks++];
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->arg = arg;
	s->batch = batch > 0 ? batch : OUTBOX_BATCH;
	return 0;
}

int
outbox_set_flush(struct outbox *ob, const char *sink, int64_t ms)
{
	struct ob_sink *s;

	if (ob->started)
		return ERR_BUSY;
	if ((s = sink_find(ob, sink)) == NULL)
		return ERR_NOTFOUND;
	s->flush_ms = ms > 0 ? ms : 0;
	return 0;
}

int
outbox_add_planner(struct outbox *ob, outbox_plan_fn fn, void *arg)
{
	if (ob->started)
		return ERR_BUSY;
	if (ob->nplanners == OUTBOX_PLANNERS_MAX)
		return -ENOSPC;
	ob->planners[ob->nplanners].fn = fn;
	ob->planners[ob->nplanners].arg = arg;
	ob->nplanners++;
	return 0;
}

size_t
outbox_plan_reports(void *arg, const struct store_run *rec,
    const struct job_def *def, enum run_status prev, struct outbox_row *rows,
    size_t max)
{
	(void)def;
	(void)prev;
	if (max == 0 || rec->missed > 0 || !store_status_final(rec->status))
		return 0;	/* a start or a missed tick: no report */
	rows[0].sink = arg;
	rows[0].event = "report";
	return 1;
}

static char *render_now(const struct store_run *rec,
    const struct job_def *def, const char *event);

/* Appends a row to rec's outbox rows; false without memory.  A record
 * that is not final (a start, a missed tick) gets its document now: the
 * run will have changed by the time the entry is delivered. */
static bool
outrow_add(struct store_run *rec, const struct job_def *def,
    const struct outbox_row *row, size_t cap)
{
	struct store_outrow *o;

	if (rec->outrows == NULL &&
	    (rec->outrows = calloc(cap, sizeof(*rec->outrows))) == NULL)
		return false;
	o = &rec->outrows[rec->noutrows];
	o->sink = strdup(row->sink);
	o->event = strdup(row->event);
	rec->noutrows++;	/* freed with the record even if half made */
	if (o->event != NULL && (rec->missed > 0 ||
	    !store_status_final(rec->status)) &&
	    (o->doc = render_now(rec, def, o->event)) == NULL)
		return false;
	return o->sink != NULL && o->event != NULL;
}

/* Keeps the rows of registered sinks with valid names. */
static bool
row_ok(struct outbox *ob, const struct outbox_row *row)
{
	if (row->sink != NULL && row->event != NULL &&
	    strlen(row->event) < STORE_OUTBOX_NAME &&
	    sink_find(ob, row->sink) != NULL)
		return true;
	if (!ob->unknown_logged)
		log_warn("outbox: a planner asked for sink %s, event %s: no "
		    "such sink (or a name too long); entry dropped",
		    row->sink != NULL ? row->sink : "(null)",
		    row->event != NULL ? row->event : "(null)");
	ob->unknown_logged = true;
	return false;
}

void
outbox_plan(void *arg, struct store_run *rec, const struct job_def *def,
    enum run_status prev)
{
	struct outbox *ob = arg;
	struct outbox_row rows[OUTBOX_ROWS_MAX];
	size_t i, j, n, total = 0;

	for (i = 0; i < ob->nplanners && total < OUTBOX_ROWS_MAX; i++) {
		n = ob->planners[i].fn(ob->planners[i].arg, rec, def, prev,
		    rows, OUTBOX_ROWS_MAX - total);
		for (j = 0; j < n && total < OUTBOX_ROWS_MAX; j++) {
			if (!row_ok(ob, &rows[j]))
				continue;
			if (!outrow_add(rec, def, &rows[j],
			    OUTBOX_ROWS_MAX)) {
				log_error("outbox: job %s, run %" PRId64 ": out "
				    "of memory planning its entries job=%s "
				    "run=%" PRId64 " node=%s", rec->job, rec->id,
				    rec->job, rec->id, store_run_node(rec));
				return;
			}
			total++;
		}
	}
}

void
outbox_wake(void *arg)
{
	struct outbox *ob = arg;

	pthread_mutex_lock(&ob->mu);
	ob->kicked = true;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
}

int64_t
outbox_backoff_ms(int attempts, unsigned *seed)
{
	int64_t d = OUTBOX_BACKOFF_MIN_MS;
	int i;

	for (i = 1; i < attempts && d < OUTBOX_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > OUTBOX_BACKOFF_MAX_MS)
		d = OUTBOX_BACKOFF_MAX_MS;
	/* a factor in [0.8, 1.2] */
	return d * 8 / 10 + (int64_t)(rand_r(seed) % (d * 4 / 10 + 1));
}

/* ---- the report document ---- */

/* The earliest start of an item, 0 if none started. */
static int64_t
first_start_ms(const struct store_run *run)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; i < run->nitems; i++)
		if (run->items[i].started_ms > 0 &&
		    (t == 0 || run->items[i].started_ms < t))
			t = run->items[i].started_ms;
	return t;
}

/* The distinct node names of the run's items, in order. */
static json_object *
nodes_json(const struct store_run *run)
{
	json_object *a = json_object_new_array();
	size_t i, j;

	for (i = 0; a != NULL && i < run->nitems; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(run->items[j].node, run->items[i].node) == 0)
				break;
		if (j == i)
			json_object_array_add(a,
			    runjson_str(run->items[i].node));
	}
	return a;
}

static json_object *
ms_or_null(bool known, int64_t ms)
{
	return known ? json_object_new_int64(ms) : NULL;
}

/* outbox_render's document as an object (NULL without memory). */
static json_object *
render_json(const struct store_run *run, const char *event)
{
	const struct tz *utc = NULL;
	json_object *o;
	int64_t first = first_start_ms(run);

	if (tz_get("UTC", &utc, NULL) != 0 ||
	    (o = runjson_report(run, utc)) == NULL)
		return NULL;
	runjson_put(o, "event", runjson_str(event));
	runjson_put(o, "trigger", runjson_str(run->trigger));
	runjson_put(o, "start",
	    runjson_time_ms(utc, run->started_ms));
	runjson_put(o, "stop", runjson_time_ms(utc, run->ended_ms));
	runjson_put(o, "duration_ms", ms_or_null(
	    run->started_ms > 0 && run->ended_ms >= run->started_ms,
	    run->ended_ms - run->started_ms));
	runjson_put(o, "lateness_ms", ms_or_null(first > 0,
	    first - run->scheduled_at * 1000));
	runjson_put(o, "attempt",
	    json_object_new_int(run->attempt));
	runjson_put(o, "nodes", nodes_json(run));
	return o;
}

/* The object as JSON text, malloc'd; o is put.  NULL without memory. */
static char *
render_text(json_object *o)
{
	const char *s;
	char *doc = NULL;

	if (o != NULL && (s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) != NULL)
		doc = strdup(s);
	json_object_put(o);
	return doc;
}

char *
outbox_render(const struct store_run *run, const char *event)
{
	return render_text(render_json(run, event));
}

/* "missed": {"count", "reason", "tick"}: the tick in the job's zone. */
static json_object *
missed_json(const struct store_run *rec, const struct job_def *def)
{
	json_object *m = json_object_new_object();
	char tick[64];

	if (tz_format_iso8601(def->zone, rec->scheduled_at, tick,
	    sizeof(tick)) != 0)
		snprintf(tick, sizeof(tick), "@%" PRId64, rec->scheduled_at);
	if (m == NULL)
		return NULL;
	json_object_object_add(m, "count", json_object_new_int64(rec->missed));
	json_object_object_add(m, "reason", runjson_str(rec->reason != NULL ?
	    rec->reason : "unknown"));
	json_object_object_add(m, "tick", runjson_str(tick));
	return m;
}

/* The document of an entry planned before its run is final (a start:
 * the run as it starts) or without a run (a missed tick: status MISSED
 * and "missed"), rendered on the loop thread when planned. */
static char *
render_now(const struct store_run *rec, const struct job_def *def,
    const char *event)
{
	json_object *o = render_json(rec, event);

	if (o == NULL || rec->missed == 0)
		return render_text(o);
	json_object_object_add(o, "status", runjson_str("MISSED"));
	json_object_object_add(o, "missed", missed_json(rec, def));
	return render_text(o);
}

/* ---- shipping (the outbox's thread) ---- */

static bool
stopping(struct outbox *ob)
{
	bool v;

	pthread_mutex_lock(&ob->mu);
	v = ob->stopping;
	pthread_mutex_unlock(&ob->mu);
	return v;
}


/* One batch: the rows, what the sink sees, what it answered, and the
 * thread delivering it. */
struct ob_batch {
	struct store_outbox_entry *rows;
	size_t n;			/* entries handed to the sink */
	size_t slots;			/* rows read (runs, docs) */
	struct outbox_entry *entries;
	struct outbox_outcome *out;
	struct store_run **runs;
	char **docs;
	struct ob_sink *s;
	pthread_t thread;
	bool started;			/* handed to the sink */
	bool running;			/* on its thread, not joined */
};

static void
batch_clear(struct ob_batch *b)
{
	size_t i;

	for (i = 0; i < b->slots; i++) {
		if (b->runs != NULL)
			store_run_free(b->runs[i]);
		if (b->docs != NULL)
			free(b->docs[i]);
	}
	free(b->rows);
	free(b->entries);
	free(b->out);
	free(b->runs);
	free(b->docs);
	memset(b, 0, sizeof(*b));
}

/* Renders the document of row i, whose run was loaded, or reads the
 * row's own; a run that is gone parks the entry instead: *ok false. */
static int
batch_prepare_one(struct outbox *ob, struct ob_batch *b, size_t i, bool *ok)
{
	struct store_outbox_entry *row = &b->rows[i];
	int r;

	*ok = false;
	if (row->has_doc) {	/* its own document: a start, a missed tick */
		if ((r = store_outbox_doc(ob->st, row->id, &b->docs[i])) != 0)
			return r == ERR_NOTFOUND ? 0 : r;	/* deleted since */
		if ((b->runs[i] = calloc(1, sizeof(*b->runs[i]))) == NULL ||
		    (b->runs[i]->job = strdup(row->job)) == NULL)
			return -ENOMEM;
		b->runs[i]->scheduled_at = row->scheduled_at;
	} else if (b->runs[i] == NULL) {
		row->parked = true;
		snprintf(row->why, sizeof(row->why), "run %" PRId64
		    " is no longer in the store", row->run_id);
		return 0;
	} else if ((b->docs[i] = outbox_render(b->runs[i], row->event)) ==
	    NULL)
		return -ENOMEM;
	b->entries[i].id = row->id;
	b->entries[i].run_id = row->run_id;
	b->entries[i].job = b->runs[i]->job;
	b->entries[i].scheduled_at = b->runs[i]->scheduled_at;
	b->entries[i].event = row->event;
	b->entries[i].doc = b->docs[i];
	b->entries[i].attempts = row->attempts;
	*ok = true;
	return 0;
}

/* Loads the runs of b's rows, in one read of the store; rows with their
 * own document (a start, a missed tick) load none. */
static int
batch_runs(struct outbox *ob, struct ob_batch *b)
{
	int64_t *ids = calloc(b->n, sizeof(*ids));
	size_t i;
	int r;

	if (ids == NULL)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		ids[i] = b->rows[i].has_doc ? 0 : b->rows[i].run_id;
	r = store_runs_get(ob->st, ids, b->n, b->runs);
	free(ids);
	return r;
}

/*
 * Reads the sink's due entries into b: at most its batch, after those of
 * busy (the batch being delivered, still in the table; its rows are in id
 * order).  When fewer than a batch are due and the sink has a flush
 * interval, they wait until the interval has passed since the oldest of
 * them became due, unless the outbox is stopping: b stays empty and
 * *hold says until when.
 */
static int
batch_rows(struct outbox *ob, struct ob_sink *s, const struct ob_batch *busy,
    struct ob_batch *b, int64_t *hold)
{
	int64_t now = loop_real_ms(), oldest = INT64_MAX, due, after = -1;
	size_t i;
	int r;

	if (busy != NULL && busy->n > 0)
		after = busy->rows[busy->n - 1].id;
	if ((r = store_outbox_due_after(ob->st, s->ops->name, now, after,
	    s->batch, &b->rows, &b->n)) != 0 || b->n == 0)
		return r;
	for (i = 0; i < b->n; i++) {
		due = b->rows[i].next_ms > b->rows[i].created_ms ?
		    b->rows[i].next_ms : b->rows[i].created_ms;
		oldest = due < oldest ? due : oldest;
	}
	if (b->n < s->batch && s->flush_ms > 0 && !stopping(ob) &&
	    now < oldest + s->flush_ms) {
		*hold = oldest + s->flush_ms;
		b->n = 0;
	}
	return 0;
}

/* Reads the sink's due entries (batch_rows) and prepares what deliver
 * gets.  Rows that cannot be delivered (run gone) are parked at once. */
static int
batch_load(struct outbox *ob, struct ob_sink *s, const struct ob_batch *busy,
    struct ob_batch *b, int64_t *hold)
{
	struct store_outbox_entry *gone;
	size_t i, k = 0, ngone = 0;
	bool ok;
	int r;

	memset(b, 0, sizeof(*b));
	b->s = s;
	if ((r = batch_rows(ob, s, busy, b, hold)) != 0 || b->n == 0)
		return r;
	b->slots = b->n;
	b->entries = calloc(b->n, sizeof(*b->entries));
	b->out = calloc(b->n, sizeof(*b->out));
	b->runs = calloc(b->n, sizeof(*b->runs));
	b->docs = calloc(b->n, sizeof(*b->docs));
	gone = calloc(b->n, sizeof(*gone));
	if (b->entries == NULL || b->out == NULL || b->runs == NULL ||
	    b->docs == NULL || gone == NULL)
		r = -ENOMEM;
	else
		r = batch_runs(ob, b);
	for (i = 0; r == 0 && i < b->n; i++) {
		if ((r = batch_prepare_one(ob, b, i, &ok)) == 0 && !ok)
			gone[ngone++] = b->rows[i];
		else if (r == 0 && k != i) {	/* compact */
			b->entries[k] = b->entries[i];
			b->rows[k] = b->rows[i];
		}
		k += r == 0 && ok;
	}
	if (r == 0 && ngone > 0)
		r = store_outbox_update(ob->st, gone, ngone);
	free(gone);
	if (r == 0)	/* runs and docs stay indexed by the original slots */
		b->n = k;
	if (r == 0 && b->n > 0 && s->ops->prepare != NULL)
		s->ops->prepare(s->arg, b->entries, b->n);
	return r;
}

/*
 * Says in the log why sink s could not deliver: its latest reason (URLs
 * already stripped by the sink, as distcronctl outbox shows them) and the
 * entries retried and parked since the last such line.  The first failure
 * is logged at once, then at most one line per OUTBOX_FAIL_LOG_MS, so that
 * a server down or a wrong password shows without flooding the log.
 */
static void
fail_log(struct ob_sink *s)
{
	int64_t now = loop_mono_ms();

	if (s->fail_retried + s->fail_parked == 0 || (s->fail_logged_ms != 0 &&
	    now - s->fail_logged_ms < OUTBOX_FAIL_LOG_MS))
		return;
	log_warn("outbox: %s: %s (%" PRIu64 " retried, %" PRIu64 " parked "
	    "since the last such line; one a minute at most)", s->ops->name,
	    s->fail_why, s->fail_retried, s->fail_parked);
	s->fail_logged_ms = now;
	s->fail_retried = 0;
	s->fail_parked = 0;
}

/* Notes a failed entry of s with its reason, for fail_log(). */
static void
fail_note(struct ob_sink *s, enum outbox_result res, const char *why)
{
	if (res == OUTBOX_RETRY)
		s->fail_retried++;
	else
		s->fail_parked++;
	if (why[0] != '\0')
		snprintf(s->fail_why, sizeof(s->fail_why), "%s", why);
}

/* Applies the sink's answer: deletes, re-schedules, parks. */
static int
batch_apply(struct outbox *ob, struct ob_sink *s, struct ob_batch *b)
{
	int64_t *done, now = loop_real_ms();
	size_t i, ndone = 0, nretry = 0;
	struct store_outbox_entry *row;
	int r;

	if ((done = calloc(b->n, sizeof(*done))) == NULL)
		return -ENOMEM;
	for (i = 0; i < b->n; i++) {
		row = &b->rows[i];
		switch (b->out[i].result) {
		case OUTBOX_DELIVERED:
			done[ndone++] = row->id;
			continue;
		case OUTBOX_RETRY:
			row->attempts++;
			row->next_ms = now + outbox_backoff_ms(row->attempts,
			    &ob->seed);
			nretry++;
			break;
		case OUTBOX_LATER:
			row->next_ms = b->out[i].not_before_ms;
			break;
		case OUTBOX_PARK:
			row->parked = true;
			break;
		}
		if (b->out[i].result != OUTBOX_LATER) {
			snprintf(row->why, sizeof(row->why), "%s",
			    b->out[i].why);
			fail_note(s, b->out[i].result, b->out[i].why);
		}
		b->rows[i - ndone] = *row;
	}
	fail_log(s);
	r = store_outbox_delete(ob->st, done, ndone);
	if (r == 0)
		r = store_outbox_update(ob->st, b->rows, b->n - ndone);
	free(done);
	pthread_mutex_lock(&ob->mu);
	s->delivered += r == 0 ? ndone : 0;
	s->retried += r == 0 ? nretry : 0;
	pthread_mutex_unlock(&ob->mu);
	return r;
}

/* A deliver that could try nothing: every entry is retried. */
static void
batch_all_retry(struct ob_batch *b, int rc)
{
	char why[OUTBOX_WHY_LEN];
	size_t i;

	if (b->out[0].why[0] != '\0')
		snprintf(why, sizeof(why), "%s", b->out[0].why);
	else
		snprintf(why, sizeof(why), "%s", err_str(rc));
	for (i = 0; i < b->n; i++) {
		b->out[i].result = OUTBOX_RETRY;
		snprintf(b->out[i].why, sizeof(b->out[i].why), "%s", why);
	}
}

/* The deliver call of b, on its own thread (all signals blocked, as the
 * outbox's thread that starts it). */
static void *
batch_deliver(void *arg)
{
	struct ob_batch *b = arg;
	size_t i;
	int r;

	for (i = 0; i < b->n; i++)
		b->out[i].result = OUTBOX_RETRY;	/* what a sink left unset */
	if ((r = b->s->ops->deliver(b->s->arg, b->entries, b->n, b->out)) < 0)
		batch_all_retry(b, r);
	return NULL;
}

/* Starts delivering b on its own thread (on this one if none starts). */
static void
batch_start(struct ob_batch *b)
{
	b->started = true;
	b->running = pthread_create(&b->thread, NULL, batch_deliver, b) == 0;
	if (!b->running)
		(void)batch_deliver(b);
}

/* Waits for the end of b's delivery. */
static void
batch_wait(struct ob_batch *b)
{
	if (b->running)
		pthread_join(b->thread, NULL);
	b->running = false;
}

/*
 * Ships sink s's due entries a batch at a time, two batches at once:
 * while one is delivered on its own thread, the next (the entries after
 * it) is read and rendered here; once the delivery ends, the next is
 * handed over and the outcomes of the first are applied while it goes.
 * So the store's reads, the rendering and the applying overlap the
 * peer's work, deliver calls never overlap, and an entry is in one call
 * at a time.  Stops after a batch that is not full, on an error, or when
 * the outbox stops.  *hold says until when a partial batch waits for the
 * sink's flush interval.
 */
static int
ship_sink(struct outbox *ob, struct ob_sink *s, int64_t *hold)
{
	struct ob_batch b[2], *cur = &b[0], *next = &b[1], *t;
	int r, r2;

	memset(b, 0, sizeof(b));
	if ((r = batch_load(ob, s, NULL, cur, hold)) == 0 && cur->n > 0)
		batch_start(cur);
	while (cur->started) {
		if (r == 0 && cur->slots == s->batch && !stopping(ob))
			r = batch_load(ob, s, cur, next, hold);
		batch_wait(cur);
		if (r == 0 && next->n > 0)
			batch_start(next);
		if ((r2 = batch_apply(ob, s, cur)) != 0 && r == 0)
			r = r2;
		batch_clear(cur);
		t = cur;
		cur = next;
		next = t;
	}
	batch_clear(cur);
	return r;
}

static void
drop_count(const char *sink, size_t count, void *arg)
{
	struct outbox *ob = arg;
	struct ob_sink *s = sink_find(ob, sink);

	pthread_mutex_lock(&ob->mu);
	if (s != NULL)
		s->dropped += count;
	ob->drop_pending += count;
	pthread_mutex_unlock(&ob->mu);
}

/* Drops the oldest entries beyond outbox_max; says so, rate-limited. */
static void
trim(struct outbox *ob)
{
	int64_t now = loop_mono_ms();
	uint64_t n = 0;

	if (store_outbox_trim(ob->st, ob->max, drop_count, ob) != 0)
		return;
	pthread_mutex_lock(&ob->mu);
	if (ob->drop_pending > 0 && (ob->drop_logged_ms == 0 ||
	    now - ob->drop_logged_ms >= OUTBOX_DROP_LOG_MS)) {
		n = ob->drop_pending;
		ob->drop_pending = 0;
		ob->drop_logged_ms = now;
	}
	pthread_mutex_unlock(&ob->mu);
	if (n > 0)
		log_warn("outbox: full (outbox_max %zu): dropped the %" PRIu64
		    " oldest entries", ob->max, n);
}

/* One pass over the sinks (flush_only: those with a flush interval);
 * returns when the next entry is due, or a partial batch's flush
 * interval ends (CLOCK_REALTIME ms; 0: nothing waits). */
static int64_t
ship_all(struct outbox *ob, bool flush_only)
{
	struct store_outbox_count c;
	struct ob_sink *s;
	int64_t next = 0, hold, due;
	size_t i;

	trim(ob);
	for (i = 0; i < ob->nsinks; i++) {
		s = &ob->sinks[i];
		if (flush_only && s->flush_ms == 0)
			continue;
		hold = 0;
		(void)ship_sink(ob, s, &hold);
		if (store_outbox_count(ob->st, s->ops->name, &c) != 0)
			continue;
		if (ob->depth_fn != NULL)
			ob->depth_fn(ob->depth_arg, s->ops->name,
			    (int64_t)c.depth);
		if (c.next_ms < 0 || c.depth <= c.parked)
			continue;
		due = hold > c.next_ms ? hold : c.next_ms;
		if (next == 0 || due < next)
			next = due > 0 ? due : 1;
	}
	return next;
}

void
outbox_on_depth(struct outbox *ob, outbox_depth_fn fn, void *arg)
{
	ob->depth_fn = fn;
	ob->depth_arg = arg;
}

/* With ob->mu held: sleeps until woken, stopped or next (real ms). */
static void
idle(struct outbox *ob, int64_t next)
{
	struct timespec ts;
	int64_t ms = next > 0 ? next - loop_real_ms() : OUTBOX_WAIT_MAX_MS;

	if (ob->kicked || ob->stopping || (next > 0 && ms <= 0))
		return;
	if (ms > OUTBOX_WAIT_MAX_MS)
		ms = OUTBOX_WAIT_MAX_MS;
	loop_mono_timespec(loop_mono_ms() + ms, &ts);
	pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
}

static void *
outbox_main(void *arg)
{
	struct outbox *ob = arg;
	int64_t next;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&ob->mu);
	while (!ob->stopping) {
		ob->kicked = false;
		pthread_mutex_unlock(&ob->mu);
		next = ship_all(ob, false);
		pthread_mutex_lock(&ob->mu);
		idle(ob, next);
	}
	/* A shutdown sends at once what may wait to fill a batch. */
	pthread_mutex_unlock(&ob->mu);
	(void)ship_all(ob, true);
	pthread_mutex_lock(&ob->mu);
	ob->stopped = true;
	pthread_cond_broadcast(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	return NULL;
}

int
outbox_start(struct outbox *ob)
{
	int r;

	if (ob->started)
		return ERR_BUSY;
	if ((r = pthread_create(&ob->thread, NULL, outbox_main, ob)) != 0)
		return -r;
	ob->started = true;
	return 0;
}

int
outbox_stop(struct outbox *ob, int64_t deadline_ms)
{
	struct timespec ts;
	int64_t until = loop_mono_ms() + (deadline_ms > 0 ? deadline_ms : 0);
	int rc = 0;

	if (ob == NULL || !ob->started)
		return 0;
	pthread_mutex_lock(&ob->mu);
	ob->stopping = true;
	pthread_cond_broadcast(&ob->cv);
	while (!ob->stopped && rc == 0) {
		loop_mono_timespec(until, &ts);
		rc = pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
	}
	ob->orphaned = !ob->stopped;
	pthread_mutex_unlock(&ob->mu);
	if (ob->orphaned) {
		log_warn("outbox: a sink is still delivering after %" PRId64
		    " ms; its entries are sent again at the next start",
		    deadline_ms);
		return ERR_TIMEOUT;
	}
	pthread_join(ob->thread, NULL);
	ob->started = false;
	return 0;
}

void
outbox_free(struct outbox *ob)
{
	size_t i;

	if (ob == NULL || ob->orphaned)
		return;	/* an orphaned thread still uses it: exit frees */
	for (i = 0; i < ob->nsinks; i++)
		if (ob->sinks[i].ops->free != NULL)
			ob->sinks[i].ops->free(ob->sinks[i].arg);
	store_close(ob->st);
	pthread_mutex_destroy(&ob->mu);
	pthread_cond_destroy(&ob->cv);
	free(ob);
}

/* ---- what operators see ---- */

size_t
outbox_stats(struct outbox *ob, struct outbox_sink_stats *out, size_t max)
{
	struct store_outbox_count c;
	int64_t now = loop_real_ms();
	size_t i;

	for (i = 0; i < ob->nsinks && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].sink = ob->sinks[i].ops->name;
		if (store_outbox_count(ob->st, out[i].sink, &c) == 0) {
			out[i].depth = c.depth;
			out[i].parked = c.parked;
			out[i].oldest_age_s = c.oldest_ms > 0 &&
			    now > c.oldest_ms ? (now - c.oldest_ms) / 1000 : 0;
		}
		pthread_mutex_lock(&ob->mu);
		out[i].delivered = ob->sinks[i].delivered;
		out[i].retried = ob->sinks[i].retried;
		out[i].dropped = ob->sinks[i].dropped;
		pthread_mutex_unlock(&ob->mu);
	}
	return ob->nsinks;
}

int
outbox_parked(struct outbox *ob, size_t max, struct store_outbox_entry **out,
    size_t *n)
{
	return store_outbox_parked(ob->st, max, out, n);
}

int
outbox_retry(struct outbox *ob, int64_t id, size_t *n)
{
	int r;

	if ((r = store_outbox_requeue(ob->st, id, n)) != 0)
		return r;
	if (*n == 0 && id != 0)
		return ERR_NOTFOUND;
	outbox_wake(ob);
	return 0;
}
