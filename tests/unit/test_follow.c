/* test_follow.c - the follower of an etcd prefix (src/cluster/follow.c)
 * against a fake etcd and loop timer (the linker's --wrap): a range,
 * then a watch from its revision + 1, the owner told after the watch is
 * made; a watch that ends starts nothing inside its callback but reads
 * the prefix again from the timer; a failed range is tried again; a
 * stopped follower ignores a late answer; without a range it watches
 * from now and is made again by the owner's next start. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "cluster/follow_int.h"

#define PREFIX	"/distcron/default/things/"

/* What the fakes saw, and what the owner was told. */
static struct {
	int ranges, watches, cancels, timers, timer_dels;
	etcd_fn range_fn;
	void *range_arg;
	etcd_watch_fn watch_fn;
	void *watch_arg;
	int64_t watch_from;
	loop_fn timer_fn;
	void *timer_arg;
	int64_t timer_in;
	int fail_range;		/* etcd_do's return */
	int ranged_rc;		/* the owner's ranged() return */
	int nranged, nevents, nchanged, nended, nwatching;
	int watches_at_changed;
	size_t last_n;
	int64_t last_rev;
} t;

static struct etcd_watch *fake_watch = (struct etcd_watch *)&t;
static struct loop_timer *fake_timer = (struct loop_timer *)&t.timers;

int __wrap_etcd_do(struct etcd *e, const struct etcd_op *op, etcd_fn fn,
    void *arg);
int __wrap_etcd_watch(struct etcd *e, const struct etcd_watch_opts *o,
    etcd_watch_fn fn, void *arg, struct etcd_watch **out);
void __wrap_etcd_watch_cancel(struct etcd_watch *w);
int __wrap_loop_timer_add(struct loop *l, int64_t due_ms, loop_fn fn,
    void *arg, struct loop_timer **out);
void __wrap_loop_timer_del(struct loop_timer *tm);

int
__wrap_etcd_do(struct etcd *e, const struct etcd_op *op, etcd_fn fn,
    void *arg)
{
	(void)e;
	assert_int_equal(op->type, ETCD_OP_RANGE);
	assert_string_equal(op->key, PREFIX);
	assert_true(op->prefix);
	t.ranges++;
	t.range_fn = fn;
	t.range_arg = arg;
	return t.fail_range;
}

int
__wrap_etcd_watch(struct etcd *e, const struct etcd_watch_opts *o,
    etcd_watch_fn fn, void *arg, struct etcd_watch **out)
{
	(void)e;
	assert_string_equal(o->key, PREFIX);
	assert_true(o->prefix);
	t.watches++;
	t.watch_fn = fn;
	t.watch_arg = arg;
	t.watch_from = o->start_revision;
	*out = fake_watch;
	return 0;
}

void
__wrap_etcd_watch_cancel(struct etcd_watch *w)
{
	if (w != NULL)
		t.cancels++;
}

int
__wrap_loop_timer_add(struct loop *l, int64_t due_ms, loop_fn fn,
    void *arg, struct loop_timer **out)
{
	(void)l;
	t.timers++;
	t.timer_fn = fn;
	t.timer_arg = arg;
	t.timer_in = due_ms - loop_mono_ms();
	*out = fake_timer;
	return 0;
}

void
__wrap_loop_timer_del(struct loop_timer *tm)
{
	assert_ptr_equal(tm, fake_timer);
	t.timer_dels++;
}

/* ---- the owner ---- */

static int
o_ranged(void *arg, const struct etcd_kv *kvs, size_t n, int64_t rev)
{
	assert_ptr_equal(arg, &t);
	(void)kvs;
	t.nranged++;
	t.last_n = n;
	t.last_rev = rev;
	return t.ranged_rc;
}

static bool
o_event(void *arg, const struct etcd_event *ev)
{
	(void)arg;
	t.nevents++;
	return ev->type == ETCD_EV_PUT;	/* a delete changes nothing here */
}

static void
o_changed(void *arg)
{
	(void)arg;
	t.nchanged++;
	t.watches_at_changed = t.watches;
}

static void
o_ended(void *arg, const struct etcd_watch_msg *m)
{
	(void)arg;
	assert_int_not_equal(m->err, 0);
	t.nended++;
}

static void
o_watching(void *arg)
{
	(void)arg;
	t.nwatching++;
}

static const struct cl_follow_ops ranged_ops = {
	.ranged = o_ranged, .event = o_event, .changed = o_changed,
	.ended = o_ended,
};

static const struct cl_follow_ops watch_ops = {
	.event = o_event, .ended = o_ended, .watching = o_watching,
};

static struct cl_follow
follower(const struct cl_follow_ops *ops, int64_t resync_ms)
{
	struct cl_follow f = { .prefix = PREFIX, .what = "the things",
	    .resync_ms = resync_ms, .ops = ops, .arg = &t };

	memset(&t, 0, sizeof(t));
	return f;
}

/* etcd answers the range with two keys at revision rev (err: fails). */
static void
answer_range(int err, int64_t rev)
{
	struct etcd_kv kvs[2] = {
		{ .key = (char *)PREFIX "a", .value = (char *)"1" },
		{ .key = (char *)PREFIX "b", .value = (char *)"2" },
	};
	struct etcd_result r = { .err = err, .revision = rev };

	r.op.kvs = kvs;
	r.op.nkvs = 2;
	if (err != 0)
		snprintf(r.msg, sizeof(r.msg), "connection refused");
	t.range_fn(t.range_arg, &r);
}

static void
watch_ends(void)
{
	struct etcd_watch_msg m = { .err = ERR_NOTFOUND };

	snprintf(m.msg, sizeof(m.msg), "compacted");
	t.watch_fn(t.watch_arg, &m);
}

/* The requests made so far: ranges, watches and timers. */
static void
made(int ranges, int watches, int timers)
{
	assert_int_equal(t.ranges, ranges);
	assert_int_equal(t.watches, watches);
	assert_int_equal(t.timers, timers);
}

static void
test_range_then_watch(void **state)
{
	struct cl_follow f = follower(&ranged_ops, 1000);
	struct etcd_event ev[2] = { { .type = ETCD_EV_DELETE },
	    { .type = ETCD_EV_PUT } };
	struct etcd_watch_msg m = { .events = ev, .nevents = 1 };

	(void)state;
	t.ranged_rc = 1;
	cl_follow_start(&f);
	cl_follow_start(&f);		/* a range in flight: not another */
	made(1, 0, 0);
	answer_range(0, 41);
	assert_int_equal(t.nranged, 1);
	assert_int_equal(t.last_n, 2);
	assert_int_equal(t.last_rev, 41);
	made(1, 1, 0);
	assert_int_equal(t.watch_from, 42);
	assert_int_equal(t.nchanged, 1);
	assert_int_equal(t.watches_at_changed, 1);	/* after the watch */
	cl_follow_start(&f);		/* watched: nothing more */
	made(1, 1, 0);
	t.watch_fn(t.watch_arg, &m);	/* a delete: no change */
	assert_int_equal(t.nevents, 1);
	assert_int_equal(t.nchanged, 1);
	m.nevents = 2;
	t.watch_fn(t.watch_arg, &m);
	assert_int_equal(t.nevents, 3);
	assert_int_equal(t.nchanged, 2);
	cl_follow_stop(&f);
	assert_int_equal(t.cancels, 1);
}

static void
test_watch_ends(void **state)
{
	struct cl_follow f = follower(&ranged_ops, 1000);

	(void)state;
	cl_follow_start(&f);
	answer_range(0, 7);
	assert_int_equal(t.nchanged, 0);	/* the range changed nothing */
	watch_ends();
	assert_int_equal(t.nended, 1);
	assert_int_equal(t.cancels, 1);
	made(1, 1, 1);			/* nothing inside the callback */
	assert_true(t.timer_in > 0 && t.timer_in <= 1000);
	cl_follow_start(&f);		/* the timer will */
	made(1, 1, 1);
	t.timer_fn(t.timer_arg);
	answer_range(0, 90);
	made(2, 2, 1);
	assert_int_equal(t.watch_from, 91);
	cl_follow_stop(&f);
	cl_follow_stop(&f);		/* twice: nothing more */
	assert_int_equal(t.cancels, 2);
	assert_int_equal(t.timer_dels, 0);
}

static void
test_range_fails(void **state)
{
	struct cl_follow f = follower(&ranged_ops, 500);

	(void)state;
	t.fail_range = ERR_CONNECT;	/* not sent */
	cl_follow_start(&f);
	made(1, 0, 1);
	t.fail_range = 0;
	t.timer_fn(t.timer_arg);
	answer_range(ERR_CONNECT, 0);	/* etcd's error */
	assert_int_equal(t.nranged, 0);
	made(2, 0, 2);
	t.timer_fn(t.timer_arg);
	t.ranged_rc = -ENOMEM;		/* the owner's error */
	answer_range(0, 5);
	assert_int_equal(t.nranged, 1);
	made(3, 0, 3);
	cl_follow_stop(&f);		/* the timer goes */
	assert_int_equal(t.timer_dels, 1);
}

static void
test_stopped_ignores_answer(void **state)
{
	struct cl_follow f = follower(&ranged_ops, 1000);

	(void)state;
	cl_follow_start(&f);
	cl_follow_stop(&f);
	answer_range(0, 3);
	assert_int_equal(t.nranged, 0);
	cl_follow_start(&f);
	made(1, 0, 0);
}

static void
test_watch_only(void **state)
{
	struct cl_follow f = follower(&watch_ops, 0);

	(void)state;
	cl_follow_start(&f);
	made(0, 1, 0);
	assert_int_equal(t.watch_from, 0);	/* from now */
	assert_int_equal(t.nwatching, 1);
	cl_follow_start(&f);
	made(0, 1, 0);
	watch_ends();
	assert_int_equal(t.nended, 1);
	made(0, 1, 0);			/* the owner's next start */
	cl_follow_start(&f);
	made(0, 2, 0);
	assert_int_equal(t.nwatching, 2);
	cl_follow_stop(&f);
	assert_int_equal(t.cancels, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_then_watch),
		cmocka_unit_test(test_watch_ends),
		cmocka_unit_test(test_range_fails),
		cmocka_unit_test(test_stopped_ignores_answer),
		cmocka_unit_test(test_watch_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
