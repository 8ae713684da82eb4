/*
 * test_storeq.c - the store thread when the store cannot write: a failed
 * save is kept and retried until the store takes it (a flush behind it
 * waits), intents are refused while the store fails and at the queue's
 * cap, a drain gives up after its limit, and with nothing queued a probe
 * finds the store back.
 *
 * The store's writing calls are wrapped at link time (-Wl,--wrap): they
 * fail with ERR_STORE_FULL while `failing` is set, block while `stalled`
 * is set, and record the ids they saved.  No SQLite file is involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/loop.h"
#include "distcron/store.h"
#include "distcron/spill.h"
#include "distcron/storeq.h"

static atomic_int failing, stalled, in_save, probes;
static atomic_llong saved[16];
static atomic_int nsaved;

int __wrap_store_runs_save(struct store *, struct store_run *const *, size_t);
int __wrap_store_runs_create(struct store *, struct store_run *const *,
    size_t);
int __wrap_store_probe(struct store *);

int
__wrap_store_runs_save(struct store *st, struct store_run *const *runs,
    size_t n)
{
	struct timespec ms = { 0, 1000000 };
	size_t i;
	int k;

	(void)st;
	atomic_store(&in_save, 1);
	while (atomic_load(&stalled))
		nanosleep(&ms, NULL);
	atomic_store(&in_save, 0);
	if (atomic_load(&failing))
		return ERR_STORE_FULL;
	for (i = 0; i < n; i++)
		if ((k = atomic_fetch_add(&nsaved, 1)) < 16)
			atomic_store(&saved[k], runs[i]->id);
	return 0;
}

int
__wrap_store_runs_create(struct store *st, struct store_run *const *runs,
    size_t n)
{
	size_t i;

	(void)st;
	if (atomic_load(&failing))
		return ERR_STORE_FULL;
	for (i = 0; i < n; i++)
		runs[i]->id = 100 + (int64_t)i;
	return 0;
}

int
__wrap_store_probe(struct store *st)
{
	(void)st;
	atomic_fetch_add(&probes, 1);
	return atomic_load(&failing) ? ERR_STORE_FULL : 0;
}

struct env {
	struct loop *loop;
	struct storeq *q;
	int flushed;
	int created_rc;
	int created_calls;
	int timed_out;		/* run_for()'s timer fired */
};

static int
setup_max(void **state, size_t max)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	atomic_store(&failing, 0);
	atomic_store(&stalled, 0);
	atomic_store(&nsaved, 0);
	atomic_store(&probes, 0);
	assert_int_equal(loop_new(&e->loop), 0);
	assert_int_equal(storeq_new(NULL, e->loop, max, &e->q), 0);
	*state = e;
	return 0;
}

static int
setup(void **state)
{
	return setup_max(state, 100);
}

static int
setup_cap3(void **state)
{
	return setup_max(state, 3);
}

static int
teardown(void **state)
{
	struct env *e = *state;

	atomic_store(&stalled, 0);
	storeq_free(e->q);
	loop_free(e->loop);
	free(e);
	return 0;
}

static struct store_run *
new_run(int64_t id)
{
	struct store_run *run = calloc(1, sizeof(*run));

	assert_non_null(run);
	run->id = id;
	run->job = strdup("job");
	run->status = RUN_SUCCESS;
	return run;
}

static void
stop(void *arg)
{
	struct env *e = arg;

	e->timed_out = 1;
	loop_stop(e->loop);
}

static void
on_flush(void *arg)
{
	struct env *e = arg;

	e->flushed = 1;
	loop_stop(e->loop);
}

static void
on_created(struct store_run **runs, size_t n, int r, void *arg)
{
	struct env *e = arg;

	(void)runs;
	(void)n;
	e->created_rc = r;
	e->created_calls++;
	loop_stop(e->loop);
}

/* Runs the loop for ms, or until a callback stops it. */
static void
run_for(struct env *e, int64_t ms)
{
	struct loop_timer *t = NULL;

	e->timed_out = 0;
	assert_int_equal(loop_timer_add(e->loop, loop_mono_ms() + ms, stop,
	    e, &t), 0);
	assert_int_equal(loop_run(e->loop), 0);
	if (!e->timed_out)
		loop_timer_del(t);
}

/* Waits (off the loop) until the store thread's state says err. */
static int
wait_err(struct env *e, int err)
{
	struct timespec ms = { 0, 10000000 };
	struct storeq_status s;
	int i;

	for (i = 0; i < 500; i++) {
		storeq_status(e->q, &s);
		if (s.err == err)
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

/* A save that fails is kept, tried again, and written once the store is
 * back; the flush queued behind it waits for it. */
static void
test_save_kept_until_written(void **state)
{
	struct env *e = *state;
	struct storeq_status s;

	atomic_store(&failing, 1);
	assert_int_equal(storeq_save(e->q, new_run(7)), 0);
	assert_int_equal(storeq_flush(e->q, on_flush, e), 0);
	run_for(e, 2000);	/* longer than the old 5 tries (1.6 s) */
	assert_false(e->flushed);
	storeq_status(e->q, &s);
	assert_int_equal(s.err, ERR_STORE_FULL);
	assert_int_equal(s.depth, 2);		/* the save and the flush */
	assert_true(s.failed >= 2);		/* tried again meanwhile */
	assert_int_equal(atomic_load(&nsaved), 0);
	atomic_store(&failing, 0);
	run_for(e, 5000);
	assert_true(e->flushed);
	assert_int_equal(atomic_load(&nsaved), 1);
	assert_int_equal(atomic_load(&saved[0]), 7);
	storeq_status(e->q, &s);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.depth, 0);
}

/* While the store fails, a new intent is refused at once with its error,
 * and counted. */
static void
test_intent_refused_while_failing(void **state)
{
	struct env *e = *state;
	struct store_run *run = new_run(0), *runs[1] = { run };
	struct storeq_status s;

	atomic_store(&failing, 1);
	assert_int_equal(storeq_save(e->q, new_run(8)), 0);
	assert_true(wait_err(e, ERR_STORE_FULL));
	assert_int_equal(storeq_create(e->q, runs, 1, on_created, e),
	    ERR_STORE_FULL);
	storeq_status(e->q, &s);
	assert_int_equal(s.rejected, 1);
	assert_int_equal(e->created_calls, 0);
	store_run_free(run);
}

/* At the cap, intents are refused (ERR_STORE_QUEUE) but saves are not. */
static void
test_cap(void **state)
{
	struct env *e = *state;
	struct store_run *run = new_run(0), *runs[1] = { run };
	struct timespec ms = { 0, 1000000 };
	struct storeq_status s;
	int i;

	atomic_store(&stalled, 1);
	assert_int_equal(storeq_save(e->q, new_run(1)), 0);
	for (i = 0; i < 5000 && !atomic_load(&in_save); i++)
		nanosleep(&ms, NULL);
	assert_true(atomic_load(&in_save));	/* the worker holds save 1 */
	assert_int_equal(storeq_save(e->q, new_run(2)), 0);
	assert_int_equal(storeq_save(e->q, new_run(3)), 0);
	assert_int_equal(storeq_save(e->q, new_run(4)), 0);	/* over cap */
	assert_int_equal(storeq_create(e->q, runs, 1, on_created, e),
	    ERR_STORE_QUEUE);
	storeq_status(e->q, &s);
	assert_int_equal(s.depth, 4);
	assert_int_equal(s.max, 3);
	assert_int_equal(s.rejected, 1);
	atomic_store(&stalled, 0);
	assert_int_equal(storeq_flush(e->q, on_flush, e), 0);
	run_for(e, 5000);
	assert_true(e->flushed);
	assert_int_equal(atomic_load(&nsaved), 4);
	assert_int_equal(storeq_create(e->q, runs, 1, on_created, e), 0);
	run_for(e, 5000);
	assert_int_equal(e->created_rc, 0);
	store_run_free(run);
}

/* A drain gives up on a store that stays full after its limit: the flush
 * completes, nothing was written, nothing is left queued. */
static void
test_drain_gives_up(void **state)
{
	struct env *e = *state;
	struct storeq_status s;

	atomic_store(&failing, 1);
	assert_int_equal(storeq_save(e->q, new_run(9)), 0);
	assert_true(wait_err(e, ERR_STORE_FULL));
	assert_int_equal(storeq_drain(e->q, 300, on_flush, e), 0);
	run_for(e, 5000);
	assert_true(e->flushed);
	assert_int_equal(atomic_load(&nsaved), 0);
	storeq_status(e->q, &s);
	assert_int_equal(s.depth, 0);
}

/* A drain that gives up spills this daemon's runs for the next start but
 * not another member's summary (cluster mode): its member keeps the run,
 * and the next start could not save it as a run of this store. */
static void
test_drain_spills_own_runs_only(void **state)
{
	struct env *e = *state;
	struct store_run *remote = new_run(0), **got = NULL;
	struct spill *sp = NULL;
	char path[] = "/tmp/test_storeq_spill.XXXXXX", err[200];
	size_t n = 0;
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	assert_int_equal(spill_open(path, SPILL_SIZE, &sp), 0);
	storeq_set_spill(e->q, sp);
	remote->remote_id = 31;
	remote->member = strdup("m2");
	atomic_store(&failing, 1);
	assert_int_equal(storeq_save(e->q, new_run(9)), 0);
	assert_int_equal(storeq_save(e->q, remote), 0);
	assert_true(wait_err(e, ERR_STORE_FULL));
	assert_int_equal(storeq_drain(e->q, 300, on_flush, e), 0);
	run_for(e, 5000);
	assert_true(e->flushed);
	spill_close(sp);
	assert_int_equal(spill_load(path, &got, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(got[0]->id, 9);
	store_runs_free(got, n);
	unlink(path);
}

/* An intent that fails sets the error; with nothing queued, a probe
 * clears it once the store writes again. */
static void
test_probe_clears(void **state)
{
	struct env *e = *state;
	struct store_run *run = new_run(0), *runs[1] = { run };

	atomic_store(&failing, 1);
	assert_int_equal(storeq_create(e->q, runs, 1, on_created, e), 0);
	run_for(e, 5000);
	assert_int_equal(e->created_rc, ERR_STORE_FULL);
	assert_int_equal(run->id, 0);
	atomic_store(&failing, 0);
	assert_true(wait_err(e, 0));
	assert_true(atomic_load(&probes) >= 1);
	store_run_free(run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_kept_until_written,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_intent_refused_while_failing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup_cap3,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain_gives_up, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_probe_clears, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_drain_spills_own_runs_only, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
