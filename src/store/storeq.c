/*
 * storeq.c - one worker thread in front of the store.
 *
 * The loop thread appends operations to a mutex-protected FIFO and signals a
 * condition variable.  The worker takes the whole FIFO at once and applies
 * it in order; runs of consecutive saves become one store_runs_save() call,
 * so a burst of a thousand finishing runs is one transaction.  Saves are
 * gathered: the worker writes once the queue has been quiet for
 * STOREQ_QUIET_MS (or STOREQ_MAX_WAIT_MS after the first pending save), so
 * during a burst of launches it stays off the CPU the spawns need.  Intents
 * and flush barriers are written at once.
 *
 * A write that fails (a full disk) puts the store in error: failed saves go
 * back to the head of the FIFO, in order, and are tried again after a delay
 * that doubles from STOREQ_RETRY_MIN_MS up to STOREQ_RETRY_MAX_MS; a flush
 * barrier behind them waits too.  Nothing is dropped until a drain's time
 * limit (shutdown) has passed: then each record still unsaved goes to the
 * spill file (space reserved in advance, see spill.h), or is logged NOT
 * SAVED when there is none or it is full.
 *
 * While in error, new intents are refused at once (the run is not
 * launched) until the next try is due; with nothing queued, the worker
 * probes the store at that time, so the state clears by itself once space
 * is freed; the loop hears of it (storeq_on_writable).  Intents are also
 * refused while the queue holds `max` operations; saves never are (they
 * are bounded by the runs in flight).  The worker blocks every signal so
 * signals reach the loop's signalfd.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/spill.h"
#include "distcron/storeq.h"

#define STOREQ_NICE	10	/* niceness of the worker thread */
#define STOREQ_QUIET_MS	20	/* write saves after this much quiet */
#define STOREQ_MAX_WAIT_MS 1000	/* ... or this long after the first */
#define STOREQ_RETRY_MIN_MS 100	/* first delay after a failed write */
#define STOREQ_RETRY_MAX_MS 2000 /* longest delay between tries */
#define STOREQ_BATCH	512	/* saves in one transaction */

enum op_type { OP_CREATE, OP_SAVE, OP_FLUSH };

struct op {
	enum op_type type;
	struct store_run **runs;	/* OP_CREATE: borrowed runs */
	size_t n;
	struct store_run *run;		/* OP_SAVE: owned */
	storeq_created_fn created;
	loop_fn fn;			/* OP_FLUSH */
	void *arg;
	int result;
	struct op *next;
};

struct storeq {
	struct store *st;
	struct loop *loop;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct op *head, **tailp;
	size_t depth;
	size_t max;		/* intents refused at this depth */
	int stopping;
	int urgent;		/* an intent or flush is queued */
	int64_t first_ms;	/* CLOCK_MONOTONIC of the oldest queued op */
	int64_t last_ms;	/* ... and of the newest */
	int err;		/* why the last write failed; 0: writing */
	int64_t retry_ms;	/* while err: when to try again */
	int64_t backoff_ms;	/* while err: the current delay */
	int64_t give_up_ms;	/* 0, or: drop failing saves from then on */
	uint64_t failed;	/* failed writes */
	uint64_t rejected;	/* intents refused */
	loop_fn writable_fn;	/* posted when the store writes again */
	void *writable_arg;
	struct spill *spill;	/* where a drain that gives up puts saves */
};

/* Unsaved records are held back at the head of the queue, in order. */
struct held {
	struct op *head, **tailp;
};

static void
op_free(struct op *op)
{
	if (op->type == OP_SAVE)
		store_run_free(op->run);
	free(op->runs);
	free(op);
}

static int
storeq_push(struct storeq *q, struct op *op)
{
	int64_t now = loop_mono_ms();
	int wake;

	pthread_mutex_lock(&q->mu);
	op->next = NULL;
	wake = q->head == NULL || op->type != OP_SAVE;
	if (q->head == NULL)
		q->first_ms = now;
	q->last_ms = now;
	*q->tailp = op;
	q->tailp = &op->next;
	q->depth++;
	if (op->type != OP_SAVE)
		q->urgent = 1;
	if (wake)	/* otherwise the worker is already counting down */
		pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* With q->mu held: how long the worker should still wait before taking
 * the queue (0: take it now, or probe the store if the queue is empty;
 * -1: until signalled). */
static int64_t
worker_wait_ms(const struct storeq *q)
{
	int64_t now = loop_mono_ms(), until;

	if (q->err != 0) {
		until = q->retry_ms;
		if (q->head != NULL && q->give_up_ms != 0 &&
		    q->give_up_ms < until)
			until = q->give_up_ms;
		return until > now ? until - now : 0;
	}
	if (q->head == NULL)
		return -1;
	if (q->urgent || q->stopping)
		return 0;
	until = q->last_ms + STOREQ_QUIET_MS;
	if (until > q->first_ms + STOREQ_MAX_WAIT_MS)
		until = q->first_ms + STOREQ_MAX_WAIT_MS;
	return until > now ? until - now : 0;
}

/* With q->mu held: sleeps up to ms on the condition variable. */
static void
timed_wait(struct storeq *q, int64_t ms)
{
	struct timespec ts;

	loop_mono_timespec(loop_mono_ms() + ms, &ts);
	pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

/* Whether a write may be tried now: not while a failed store waits for
 * its next try. */
static int
may_try(struct storeq *q)
{
	int ok;

	pthread_mutex_lock(&q->mu);
	ok = q->err == 0 || loop_mono_ms() >= q->retry_ms;
	pthread_mutex_unlock(&q->mu);
	return ok;
}

/* Records the outcome of a write: the error state, its log lines and the
 * next try. */
static void
write_result(struct storeq *q, int r)
{
	loop_fn back;
	int was;

	pthread_mutex_lock(&q->mu);
	was = q->err;
	back = q->writable_fn;
	if (r == 0) {
		q->err = 0;
		q->backoff_ms = 0;
	} else {
		q->failed++;
		q->err = r;
		q->backoff_ms = q->backoff_ms == 0 ? STOREQ_RETRY_MIN_MS :
		    q->backoff_ms * 2;
		if (q->backoff_ms > STOREQ_RETRY_MAX_MS)
			q->backoff_ms = STOREQ_RETRY_MAX_MS;
		q->retry_ms = loop_mono_ms() + q->backoff_ms;
	}
	pthread_mutex_unlock(&q->mu);
	if (r == 0 && was != 0) {
		log_info("store: writing again");
		if (back != NULL)
			loop_post(q->loop, back, q->writable_arg);
	} else if (r != 0 && was == 0)
		log_error("store: cannot write: %s; finished runs are kept in "
		    "memory and saved once it can, new runs are not launched",
		    err_str(r));
}

/* With q->mu held: whether failing saves are dropped now (a drain's time
 * limit has passed). */
static int
giving_up(const struct storeq *q)
{
	return q->give_up_ms != 0 && loop_mono_ms() >= q->give_up_ms;
}

/* A record the store did not take before a drain gave up: into the spill
 * file if there is room, else logged, so the loss is never silent. */
static void
spill_unsaved(struct storeq *q, const struct store_run *run, int r)
{
	int rs;

	if (run->remote_id > 0) {	/* a copy: its member keeps the run */
		log_info("store: another member's run summary not saved (%s): "
		    "member %s run %lld job=%s", err_str(r), run->member ?
		    run->member : "?", (long long)run->remote_id, run->job);
		return;
	}
	rs = q->spill != NULL ? spill_append(q->spill, run) : ERR_STORE;
	if (rs == 0) {
		log_warn("store: run %lld job=%s status=%s kept in the spill "
		    "file (%s); the next start saves it run=%lld node=%s",
		    (long long)run->id, run->job, store_status_str(run->status),
		    err_str(r), (long long)run->id, store_run_node(run));
		return;
	}
	log_error("store: NOT SAVED: run %lld job=%s status=%s attempt=%d "
	    "ended_ms=%lld (%s; spill file: %s); the next start records it "
	    "LOST run=%lld node=%s", (long long)run->id, run->job,
	    store_status_str(run->status), run->attempt,
	    (long long)run->ended_ms, err_str(r),
	    q->spill != NULL ? err_str(rs) : "none", (long long)run->id,
	    store_run_node(run));
}

static void
created_post(void *arg)
{
	struct op *op = arg;

	op->created(op->runs, op->n, op->result, op->arg);
	op_free(op);
}

static void
held_add(struct held *h, struct op *op)
{
	op->next = NULL;
	*h->tailp = op;
	h->tailp = &op->next;
}

/* Puts the held operations back at the head of the queue. */
static void
held_requeue(struct storeq *q, struct held *h)
{
	if (h->head == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	*h->tailp = q->head;
	if (q->head == NULL)
		q->tailp = h->tailp;
	q->head = h->head;
	pthread_mutex_unlock(&q->mu);
}

/*
 * Saves the consecutive OP_SAVE ops starting at op in one transaction;
 * returns the first op after them.  Written or dropped ones are freed and
 * counted in *np; if the store fails they are held, unless a drain has
 * given up: then they are spilled (or logged) and dropped.
 */
static struct op *
apply_saves(struct storeq *q, struct op *op, struct held *h, size_t *np)
{
	struct store_run *batch[STOREQ_BATCH];
	struct op *first = op, *next;
	size_t n = 0, i;
	int r = ERR_STORE_FULL, drop;

	for (; op != NULL && op->type == OP_SAVE && n < STOREQ_BATCH;
	    op = op->next)
		batch[n++] = op->run;
	if (may_try(q)) {
		r = store_runs_save(q->st, batch, n);
		write_result(q, r);
	}
	pthread_mutex_lock(&q->mu);
	if (r != 0)
		r = q->err;
	drop = r == 0 || giving_up(q);
	pthread_mutex_unlock(&q->mu);
	for (op = first, i = 0; i < n; i++, op = next) {
		next = op->next;
		if (!drop) {
			held_add(h, op);
			continue;
		}
		if (r != 0)
			spill_unsaved(q, op->run, r);
		op_free(op);
	}
	*np = drop ? n : 0;
	return op;
}

/* Writes intents, or refuses them at once while the store waits for its
 * next try. */
static void
apply_create(struct storeq *q, struct op *op)
{
	if (may_try(q)) {
		op->result = store_runs_create(q->st, op->runs, op->n);
		write_result(q, op->result);
	} else {
		pthread_mutex_lock(&q->mu);
		op->result = q->err;
		q->rejected += op->n;
		pthread_mutex_unlock(&q->mu);
	}
	loop_post(q->loop, created_post, op);
}

/* Counts n operations off the queue. */
static void
queue_done(struct storeq *q, size_t n)
{
	pthread_mutex_lock(&q->mu);
	q->depth -= n;
	pthread_mutex_unlock(&q->mu);
}

/* Applies a batch in order.  An intent or flush leaves the count before
 * its answer is posted, so whoever the answer wakes sees the queue without
 * it. */
static void
apply_ops(struct storeq *q, struct op *op)
{
	struct held h = { NULL, &h.head };
	struct op *next;
	size_t done;

	while (op != NULL) {
		next = op->next;	/* op may be freed once posted */
		if (op->type == OP_SAVE) {
			next = apply_saves(q, op, &h, &done);
			queue_done(q, done);
		} else if (op->type == OP_FLUSH && h.head != NULL) {
			held_add(&h, op);	/* behind unsaved records */
		} else {
			queue_done(q, 1);
			if (op->type == OP_CREATE)
				apply_create(q, op);
			else {
				loop_post(q->loop, op->fn, op->arg);
				free(op);
			}
		}
		op = next;
	}
	held_requeue(q, &h);
}

/* With nothing queued while in error: a small write tells whether the
 * store is back. */
static void
probe(struct storeq *q)
{
	write_result(q, store_probe(q->st));
}

static void *
storeq_main(void *arg)
{
	struct storeq *q = arg;
	struct op *batch;
	int64_t wait;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* Below the loop and the jobs: at a burst of launches this thread
	 * catches up afterwards instead of taking CPU from the spawns. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), STOREQ_NICE) != 0)
		log_debug("store thread: setpriority: %s", strerror(errno));
	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->head == NULL && q->stopping)
			break;
		if ((wait = worker_wait_ms(q)) != 0) {
			if (wait < 0)
				pthread_cond_wait(&q->cv, &q->mu);
			else
				timed_wait(q, wait);
			continue;
		}
		batch = q->head;
		q->head = NULL;
		q->tailp = &q->head;
		q->urgent = 0;
		pthread_mutex_unlock(&q->mu);
		if (batch == NULL)
			probe(q);
		else
			apply_ops(q, batch);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int
storeq_new(struct store *st, struct loop *loop, size_t max,
    struct storeq **out)
{
	pthread_condattr_t ca;
	struct storeq *q;
	int r;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->st = st;
	q->loop = loop;
	q->max = max > 0 ? max : 1;
	q->tailp = &q->head;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = pthread_create(&q->thread, NULL, storeq_main, q)) != 0) {
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->cv);
		free(q);
		return -r;
	}
	*out = q;
	return 0;
}

/* Whether n new intents are taken: not at the cap, nor while a failed
 * store waits for its next try.  Returns 0 or the reason; counts the runs
 * refused. */
static int
create_admit(struct storeq *q, size_t n)
{
	int r = 0;

	pthread_mutex_lock(&q->mu);
	if (q->err != 0 && loop_mono_ms() < q->retry_ms)
		r = q->err;
	else if (q->depth >= q->max)
		r = ERR_STORE_QUEUE;
	if (r != 0)
		q->rejected += n;
	pthread_mutex_unlock(&q->mu);
	return r;
}

int
storeq_create(struct storeq *q, struct store_run **runs, size_t n,
    storeq_created_fn cb, void *arg)
{
	struct op *op;
	int r;

	if ((r = create_admit(q, n)) != 0)
		return r;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return -ENOMEM;
	if ((op->runs = malloc(n * sizeof(*runs))) == NULL) {
		free(op);
		return -ENOMEM;
	}
	memcpy(op->runs, runs, n * sizeof(*runs));
	op->type = OP_CREATE;
	op->n = n;
	op->created = cb;
	op->arg = arg;
	return storeq_push(q, op);
}

int
storeq_save(struct storeq *q, struct store_run *run)
{
	struct op *op;

	if ((op = calloc(1, sizeof(*op))) == NULL) {
		log_error("store: out of memory, result of run %lld lost "
		    "job=%s run=%lld node=%s", (long long)run->id, run->job,
		    (long long)run->id, store_run_node(run));
		store_run_free(run);
		return -ENOMEM;
	}
	op->type = OP_SAVE;
	op->run = run;
	return storeq_push(q, op);
}

int
storeq_flush(struct storeq *q, loop_fn fn, void *arg)
{
	struct op *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return -ENOMEM;
	op->type = OP_FLUSH;
	op->fn = fn;
	op->arg = arg;
	return storeq_push(q, op);
}

int
storeq_drain(struct storeq *q, int64_t limit_ms, loop_fn fn, void *arg)
{
	pthread_mutex_lock(&q->mu);
	q->give_up_ms = loop_mono_ms() + (limit_ms > 0 ? limit_ms : 0);
	if (q->give_up_ms == 0)
		q->give_up_ms = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return storeq_flush(q, fn, arg);
}

void
storeq_on_writable(struct storeq *q, loop_fn fn, void *arg)
{
	pthread_mutex_lock(&q->mu);
	q->writable_fn = fn;
	q->writable_arg = arg;
	pthread_mutex_unlock(&q->mu);
}

void
storeq_set_spill(struct storeq *q, struct spill *sp)
{
	pthread_mutex_lock(&q->mu);
	q->spill = sp;
	pthread_mutex_unlock(&q->mu);
}

void
storeq_status(struct storeq *q, struct storeq_status *out)
{
	pthread_mutex_lock(&q->mu);
	out->err = q->err;
	out->depth = q->depth;
	out->max = q->max;
	out->failed = q->failed;
	out->rejected = q->rejected;
	pthread_mutex_unlock(&q->mu);
}

size_t
storeq_depth(struct storeq *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->depth;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void
storeq_free(struct storeq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	if (q->give_up_ms == 0 || q->give_up_ms > loop_mono_ms())
		q->give_up_ms = loop_mono_ms();	/* one last try */
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
