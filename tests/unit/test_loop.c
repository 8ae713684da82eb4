/*
 * test_loop.c - the event loop: timer order and cancel, many timers and
 * watches, deleting watches from callbacks, changing a watch's events
 * (only real changes reach epoll), posts and stop from threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "distcron/loop.h"

struct rec {
	struct loop *l;
	int order[16];
	int n;
	int stop_after;
	int early;		/* timers that fired before their due time */
};

struct tmr {
	struct rec *rec;
	int id;
	int64_t due;
};

static void
on_tmr(void *arg)
{
	struct tmr *t = arg;
	struct rec *r = t->rec;

	if (loop_mono_ms() < t->due)
		r->early++;
	r->order[r->n++] = t->id;
	if (r->n == r->stop_after)
		loop_stop(r->l);
}

static void
add_tmr(struct loop *l, struct tmr *t, struct rec *r, int id, int64_t due,
    struct loop_timer **out)
{
	t->rec = r;
	t->id = id;
	t->due = due;
	assert_int_equal(loop_timer_add(l, due, on_tmr, t, out), 0);
}

static void
test_timers_order(void **state)
{
	struct loop *l;
	struct rec r = { .stop_after = 5 };
	struct tmr t[5];
	int64_t now;

	assert_int_equal(loop_new(&l), 0);
	r.l = l;
	now = loop_mono_ms();
	add_tmr(l, &t[0], &r, 30, now + 30, NULL);
	add_tmr(l, &t[1], &r, 10, now + 10, NULL);
	add_tmr(l, &t[2], &r, 151, now + 15, NULL);
	add_tmr(l, &t[3], &r, 20, now + 20, NULL);
	add_tmr(l, &t[4], &r, 152, now + 15, NULL);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.order[0], 10);
	assert_int_equal(r.order[1], 151);	/* same due: insertion order */
	assert_int_equal(r.order[2], 152);
	assert_int_equal(r.order[3], 20);
	assert_int_equal(r.order[4], 30);
	assert_int_equal(r.early, 0);
	loop_free(l);
}

struct del_ctx {
	struct loop_timer *victim;
};

static void
on_del_tmr(void *arg)
{
	struct del_ctx *d = arg;

	loop_timer_del(d->victim);
}

static void
test_timer_cancel(void **state)
{
	struct loop *l;
	struct rec r = { .stop_after = 1 };
	struct tmr t[4];
	struct loop_timer *a, *b;
	struct del_ctx d;
	int64_t now;

	assert_int_equal(loop_new(&l), 0);
	r.l = l;
	now = loop_mono_ms();
	add_tmr(l, &t[0], &r, 1, now + 5, &a);
	add_tmr(l, &t[1], &r, 2, now + 20, &b);
	add_tmr(l, &t[2], &r, 3, now + 40, NULL);
	loop_timer_del(a);		/* cancelled before the loop runs */
	d.victim = b;			/* cancelled by an earlier timer */
	assert_int_equal(loop_timer_add(l, now + 10, on_del_tmr, &d, NULL), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.order[0], 3);
	loop_free(l);
}

#define NTIMERS 100000

struct many {
	struct loop *l;
	int64_t last_due;
	int last_idx;
	int fired;
	int bad;
	int64_t due[NTIMERS];
	struct loop_timer *h[NTIMERS];
};

static struct many *many_g;

static void
on_many(void *arg)
{
	struct many *m = many_g;
	int i = (int)(intptr_t)arg;

	if (m->due[i] < m->last_due ||
	    (m->due[i] == m->last_due && i < m->last_idx) ||
	    loop_mono_ms() < m->due[i] || i % 3 == 0)
		m->bad++;
	m->last_due = m->due[i];
	m->last_idx = i;
	if (++m->fired == NTIMERS - (NTIMERS + 2) / 3)
		loop_stop(m->l);
}

static void
test_many_timers(void **state)
{
	struct many *m = calloc(1, sizeof(*m));
	unsigned seed = 12345;
	int64_t now;
	int i;

	assert_non_null(m);
	many_g = m;
	assert_int_equal(loop_new(&m->l), 0);
	now = loop_mono_ms();
	for (i = 0; i < NTIMERS; i++) {
		seed = seed * 1103515245 + 12345;
		m->due[i] = now + (seed >> 8) % 200;
		assert_int_equal(loop_timer_add(m->l, m->due[i], on_many,
		    (void *)(intptr_t)i, &m->h[i]), 0);
	}
	for (i = 0; i < NTIMERS; i += 3)
		loop_timer_del(m->h[i]);
	assert_int_equal(loop_run(m->l), 0);
	assert_int_equal(m->fired, NTIMERS - (NTIMERS + 2) / 3);
	assert_int_equal(m->bad, 0);
	loop_free(m->l);
	free(m);
}

struct io {
	struct loop *l;
	struct loop_watch *w[2];
	int fd[2];
	int calls;
	uint32_t events;
};

static void
on_pipe_read(int fd, uint32_t events, void *arg)
{
	struct io *io = arg;
	char c;

	io->calls++;
	io->events = events;
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'x');
	loop_stop(io->l);
}

static void
test_watch_pipe(void **state)
{
	struct io io = { 0 };
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_new(&io.l), 0);
	assert_int_equal(loop_watch_add(io.l, p[0], EPOLLIN, on_pipe_read, &io,
	    &io.w[0]), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run(io.l), 0);
	assert_int_equal(io.calls, 1);
	assert_true(io.events & EPOLLIN);
	loop_watch_del(io.w[0]);
	loop_free(io.l);
	close(p[0]);
	close(p[1]);
}

static void
on_stop(void *arg)
{
	loop_stop(arg);
}

/* Deletes its own watch (and the other one) without reading: with
 * level-triggered epoll it would fire again if the delete did not work. */
static void
on_del_watches(int fd, uint32_t events, void *arg)
{
	struct io *io = arg;

	io->calls++;
	loop_watch_del(io->w[0]);
	loop_watch_del(io->w[1]);
	io->w[0] = io->w[1] = NULL;
}

static void
run_del_watches(int nwatch)
{
	struct io io = { 0 };
	int p[2][2], i;

	assert_int_equal(loop_new(&io.l), 0);
	for (i = 0; i < nwatch; i++) {
		assert_int_equal(pipe(p[i]), 0);
		assert_int_equal(write(p[i][1], "x", 1), 1);
		assert_int_equal(loop_watch_add(io.l, p[i][0], EPOLLIN,
		    on_del_watches, &io, &io.w[i]), 0);
	}
	assert_int_equal(loop_timer_add(io.l, loop_mono_ms() + 50, on_stop,
	    io.l, NULL), 0);
	assert_int_equal(loop_run(io.l), 0);
	assert_int_equal(io.calls, 1);
	loop_free(io.l);
	for (i = 0; i < nwatch; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

static void
test_watch_del_self(void **state)
{
	run_del_watches(1);
}

static void
test_watch_del_other_pending(void **state)
{
	/* Both pipes are readable, so both events are in the same batch. */
	run_del_watches(2);
}

struct evs {
	struct loop *l;
	int left;
};

static void
on_eventfd(int fd, uint32_t events, void *arg)
{
	struct evs *e = arg;
	uint64_t v;

	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	if (--e->left == 0)
		loop_stop(e->l);
}

static void
test_many_watches(void **state)
{
	struct rlimit rl;
	struct evs e = { 0 };
	struct loop_watch **w;
	int *fds, n = 10000, i;
	uint64_t one = 1;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)n + 100 && rl.rlim_max >= (rlim_t)n + 100) {
		rl.rlim_cur = (rlim_t)n + 100;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)n + 100)
		skip();
	fds = calloc((size_t)n, sizeof(*fds));
	w = calloc((size_t)n, sizeof(*w));
	assert_int_equal(loop_new(&e.l), 0);
	for (i = 0; i < n; i++) {
		assert_true((fds[i] = eventfd(0, EFD_CLOEXEC)) >= 0);
		assert_int_equal(loop_watch_add(e.l, fds[i], EPOLLIN,
		    on_eventfd, &e, &w[i]), 0);
		assert_int_equal(write(fds[i], &one, sizeof(one)), sizeof(one));
	}
	e.left = n;
	assert_int_equal(loop_run(e.l), 0);
	assert_int_equal(e.left, 0);
	for (i = 0; i < n; i++) {
		loop_watch_del(w[i]);
		close(fds[i]);
	}
	loop_free(e.l);
	free(fds);
	free(w);
}

/* epoll_ctl() as the loop calls it, counting the changes of events. */
static int nmods;

int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (op == EPOLL_CTL_MOD)
		nmods++;
	return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

/* On the write end of a pipe (always writable): counts the calls, asks for
 * EPOLLIN (never ready there) twice, and stops at the second call. */
static void
on_writable(int fd, uint32_t events, void *arg)
{
	struct io *io = arg;

	(void)fd;
	io->events = events;
	assert_int_equal(loop_watch_mod(io->w[0], EPOLLIN), 0);
	assert_int_equal(loop_watch_mod(io->w[0], EPOLLIN), 0);
	if (++io->calls == 2)
		loop_stop(io->l);
}

static void
want_out(void *arg)
{
	struct io *io = arg;

	assert_int_equal(loop_watch_mod(io->w[0], EPOLLOUT), 0);
}

/* The SSH connections set their watch's events after every step, mostly
 * to what they were: those calls must not cost a system call (a burst of
 * runs spent a quarter of the loop's time in them), and real changes must
 * still take effect every time. */
static void
test_watch_mod(void **state)
{
	struct io io = { 0 };
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_new(&io.l), 0);
	assert_int_equal(loop_watch_add(io.l, p[1], EPOLLIN, on_writable, &io,
	    &io.w[0]), 0);
	nmods = 0;
	assert_int_equal(loop_watch_mod(io.w[0], EPOLLIN), 0);
	assert_int_equal(nmods, 0);
	assert_int_equal(loop_timer_add(io.l, loop_mono_ms() + 10, want_out, &io,
	    NULL), 0);
	assert_int_equal(loop_timer_add(io.l, loop_mono_ms() + 30, want_out, &io,
	    NULL), 0);
	assert_int_equal(loop_run(io.l), 0);
	assert_int_equal(io.calls, 2);
	assert_true(io.events & EPOLLOUT);
	/* EPOLLOUT, back to EPOLLIN, EPOLLOUT, back to EPOLLIN */
	assert_int_equal(nmods, 4);
	loop_watch_del(io.w[0]);
	loop_free(io.l);
	close(p[0]);
	close(p[1]);
}

struct post {
	struct loop *l;
	pthread_t loop_thread;
	int ran;
	int wrong_thread;
	int total;
};

static void
on_post(void *arg)
{
	struct post *p = arg;

	if (!pthread_equal(pthread_self(), p->loop_thread))
		p->wrong_thread++;
	if (++p->ran == p->total)
		loop_stop(p->l);
}

static void *
poster(void *arg)
{
	struct post *p = arg;
	int i;

	for (i = 0; i < p->total; i++)
		if (loop_post(p->l, on_post, p) != 0)
			abort();
	return NULL;
}

static void
test_post_from_thread(void **state)
{
	struct post p = { .total = 1000 };
	pthread_t th;

	assert_int_equal(loop_new(&p.l), 0);
	p.loop_thread = pthread_self();
	assert_int_equal(pthread_create(&th, NULL, poster, &p), 0);
	assert_int_equal(loop_run(p.l), 0);
	pthread_join(th, NULL);
	assert_int_equal(p.ran, 1000);
	assert_int_equal(p.wrong_thread, 0);
	loop_free(p.l);
}

static void *
stopper(void *arg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	loop_stop(arg);
	return NULL;
}

static void
test_stop_from_thread(void **state)
{
	struct loop *l;
	pthread_t th;
	int64_t t0;

	assert_int_equal(loop_new(&l), 0);
	/* A far timer: only loop_stop() can end this run. */
	assert_int_equal(loop_timer_add(l, loop_mono_ms() + 60000, on_stop, l,
	    NULL), 0);
	t0 = loop_mono_ms();
	assert_int_equal(pthread_create(&th, NULL, stopper, l), 0);
	assert_int_equal(loop_run(l), 0);
	pthread_join(th, NULL);
	assert_true(loop_mono_ms() - t0 < 5000);
	loop_free(l);		/* drops the pending timer */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_order),
		cmocka_unit_test(test_timer_cancel),
		cmocka_unit_test(test_many_timers),
		cmocka_unit_test(test_watch_pipe),
		cmocka_unit_test(test_watch_del_self),
		cmocka_unit_test(test_watch_del_other_pending),
		cmocka_unit_test(test_many_watches),
		cmocka_unit_test(test_watch_mod),
		cmocka_unit_test(test_post_from_thread),
		cmocka_unit_test(test_stop_from_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
