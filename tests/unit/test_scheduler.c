/* test_scheduler.c - the due-time heap on a real event loop and timerfd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "distcron/loop.h"
#include "distcron/scheduler.h"

#define N 2000

struct ctx {
	struct loop *loop;
	struct scheduler *s;
	struct scheduler_item items[N];
	int64_t fired_due[N];
	int64_t fired_ms[N];
	size_t nfired;
	size_t stop_after;
	int timed_out;
};

static void
on_due(struct scheduler_item *it, void *arg)
{
	struct ctx *c = arg;

	c->fired_due[c->nfired] = it->due;
	c->fired_ms[c->nfired] = loop_real_ms();
	c->nfired++;
	if (c->nfired == c->stop_after)
		loop_stop(c->loop);
}

static void
on_timeout(void *arg)
{
	struct ctx *c = arg;

	c->timed_out = 1;
	loop_stop(c->loop);
}

static struct ctx *
ctx_new(int64_t lead_ms)
{
	struct ctx *c = calloc(1, sizeof(*c));
	size_t i;

	assert_non_null(c);
	assert_int_equal(loop_new(&c->loop), 0);
	assert_int_equal(scheduler_new(c->loop, lead_ms, on_due, NULL, c,
	    &c->s), 0);
	for (i = 0; i < N; i++)
		scheduler_item_init(&c->items[i]);
	return c;
}

static void
ctx_run(struct ctx *c, int64_t max_ms)
{
	loop_timer_add(c->loop, loop_mono_ms() + max_ms, on_timeout, c, NULL);
	loop_run(c->loop);
}

static void
ctx_free(struct ctx *c)
{
	scheduler_free(c->s);
	loop_free(c->loop);
	free(c);
}

/* Overdue items all fire at once, earliest first. */
static void
test_order(void **state)
{
	struct ctx *c = ctx_new(0);
	int64_t now = loop_real_ms() / 1000;
	size_t i;

	srand(7);
	for (i = 0; i < N; i++)
		assert_int_equal(scheduler_set(c->s, &c->items[i],
		    now - 1 - rand() % 100000), 0);
	assert_int_equal(scheduler_size(c->s), N);
	c->stop_after = N;
	ctx_run(c, 5000);
	assert_false(c->timed_out);
	assert_int_equal(c->nfired, N);
	for (i = 1; i < N; i++)
		assert_true(c->fired_due[i - 1] <= c->fired_due[i]);
	assert_int_equal(scheduler_size(c->s), 0);
	ctx_free(c);
}

/* A future item fires at its second (minus the lead), not before. */
static void
test_fires_on_time(void **state)
{
	struct ctx *c = ctx_new(100);
	int64_t due = loop_real_ms() / 1000 + 2;

	scheduler_set(c->s, &c->items[0], due);
	assert_int_equal(scheduler_earliest(c->s), due);
	c->stop_after = 1;
	ctx_run(c, 5000);
	assert_int_equal(c->nfired, 1);
	assert_true(c->fired_ms[0] >= due * 1000 - 100);
	assert_true(c->fired_ms[0] < due * 1000 + 500);
	ctx_free(c);
}

/* Removed items never fire; moved items fire at their new time. */
static void
test_remove_and_move(void **state)
{
	struct ctx *c = ctx_new(0);
	int64_t now = loop_real_ms() / 1000;

	scheduler_set(c->s, &c->items[0], now - 10);
	scheduler_set(c->s, &c->items[1], now - 5);
	scheduler_set(c->s, &c->items[2], now + 3600);
	scheduler_remove(c->s, &c->items[0]);
	scheduler_remove(c->s, &c->items[0]);	/* twice is harmless */
	scheduler_set(c->s, &c->items[2], now - 1);	/* moved earlier */
	scheduler_set(c->s, &c->items[1], now + 3600);	/* moved later */
	assert_int_equal(scheduler_size(c->s), 2);
	c->stop_after = 1;
	ctx_run(c, 3000);
	assert_int_equal(c->nfired, 1);
	assert_int_equal(c->fired_due[0], now - 1);
	assert_int_equal(scheduler_earliest(c->s), now + 3600);
	ctx_free(c);
}

/* A paused scheduler hands out nothing. */
static void
test_pause(void **state)
{
	struct ctx *c = ctx_new(0);

	scheduler_set(c->s, &c->items[0], loop_real_ms() / 1000 - 1);
	scheduler_pause(c->s);
	c->stop_after = 1;
	ctx_run(c, 1500);
	assert_true(c->timed_out);
	assert_int_equal(c->nfired, 0);
	ctx_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_fires_on_time),
		cmocka_unit_test(test_remove_and_move),
		cmocka_unit_test(test_pause),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
