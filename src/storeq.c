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
 * and flush barriers are written at once.  A failed write
 * is retried with a growing delay (a full disk may recover); after the last
 * try the error is logged with what was dropped.  The worker blocks every
 * signal so signals reach the loop's signalfd.
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
#include "distcron/storeq.h"

#define STOREQ_TRIES	5
#define STOREQ_NICE	10	/* niceness of the worker thread */
#define STOREQ_QUIET_MS	20	/* write saves after this much quiet */
#define STOREQ_MAX_WAIT_MS 1000	/* ... or this long after the first */

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
	int stopping;
	int urgent;		/* an intent or flush is queued */
	int64_t first_ms;	/* CLOCK_MONOTONIC of the oldest queued op */
	int64_t last_ms;	/* ... and of the newest */
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
 * the queue (0: take it now). */
static int64_t
gather_wait_ms(const struct storeq *q)
{
	int64_t now = loop_mono_ms(), until;

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

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

/* Runs a store call, retrying on failure with 50 ms, 100 ms, ... delays. */
static int
with_retries(struct storeq *q, struct op *op, struct store_run **runs,
    size_t n)
{
	struct timespec ts;
	int r = 0, i;

	for (i = 0; i < STOREQ_TRIES; i++) {
		r = op->type == OP_CREATE ?
		    store_runs_create(q->st, runs, n) :
		    store_runs_save(q->st, runs, n);
		if (r == 0)
			return 0;
		ts.tv_sec = 0;
		ts.tv_nsec = 50000000L << i;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_nsec = 999999999L;
		nanosleep(&ts, NULL);
	}
	log_error("store: %s of %zu run(s) failed after %d tries: %s",
	    op->type == OP_CREATE ? "recording intents" : "saving results",
	    n, STOREQ_TRIES, err_str(r));
	return r;
}

static void
created_post(void *arg)
{
	struct op *op = arg;

	op->created(op->runs, op->n, op->result, op->arg);
	op_free(op);
}

/* Saves the consecutive OP_SAVE ops starting at op in one call; returns the
 * first op after them and their count in *np. */
static struct op *
apply_saves(struct storeq *q, struct op *op, size_t *np)
{
	struct store_run *batch[512];
	struct op *first = op, *next;
	size_t n = 0, i;

	for (; op != NULL && op->type == OP_SAVE && n < 512; op = op->next)
		batch[n++] = op->run;
	with_retries(q, first, batch, n);
	for (op = first, i = 0; i < n; i++, op = next) {
		next = op->next;
		op_free(op);
	}
	*np = n;
	return op;
}

static void
apply_ops(struct storeq *q, struct op *op)
{
	struct op *next;
	size_t done;

	while (op != NULL) {
		done = 1;
		next = op->next;	/* op may be freed once posted */
		if (op->type == OP_SAVE)
			next = apply_saves(q, op, &done);
		else if (op->type == OP_CREATE) {
			op->result = with_retries(q, op, op->runs, op->n);
			loop_post(q->loop, created_post, op);
		} else {
			loop_post(q->loop, op->fn, op->arg);
			free(op);
		}
		pthread_mutex_lock(&q->mu);
		q->depth -= done;
		pthread_mutex_unlock(&q->mu);
		op = next;
	}
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
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->head == NULL && q->stopping)
			break;
		if ((wait = gather_wait_ms(q)) > 0) {
			timed_wait(q, wait);
			continue;
		}
		batch = q->head;
		q->head = NULL;
		q->tailp = &q->head;
		q->urgent = 0;
		pthread_mutex_unlock(&q->mu);
		apply_ops(q, batch);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int
storeq_new(struct store *st, struct loop *loop, struct storeq **out)
{
	pthread_condattr_t ca;
	struct storeq *q;
	int r;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->st = st;
	q->loop = loop;
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

int
storeq_create(struct storeq *q, struct store_run **runs, size_t n,
    storeq_created_fn cb, void *arg)
{
	struct op *op;

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
		log_error("store: out of memory, result of run %lld lost",
		    (long long)run->id);
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
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
