/*
 * loop.c - the daemon's event loop.
 *
 * One thread waits in epoll_wait() (level-triggered) with a timeout taken
 * from the nearest timer.  Timers live in a binary min-heap ordered by
 * (due time, insertion number), so timers due at the same millisecond fire in
 * the order they were added; each timer remembers its heap slot, which makes
 * cancelling O(log n).  Other threads hand work to the loop with loop_post():
 * the call is queued under a mutex and an eventfd wakes epoll_wait().
 *
 * Watches are never freed while an epoll batch may still name them: a deleted
 * watch is removed from epoll at once, marked dead (so pending events for it
 * are skipped) and freed at the end of the iteration.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "distcron/heap.h"
#include "distcron/loop.h"

#define LOOP_BATCH	256		/* epoll events per wait */

struct loop_watch {
	struct loop *loop;
	int fd;
	uint32_t events;	/* as last given to epoll */
	loop_io_fn fn;
	void *arg;
	bool dead;
	struct loop_watch *prev, *next;	/* live list, or dead list (next) */
};

struct loop_timer {
	struct loop *loop;
	int64_t due_ms;
	uint64_t seq;		/* insertion number: ties fire in order */
	struct heap_node node;
	bool firing;		/* its callback is running */
	loop_fn fn;
	void *arg;
};

struct loop_post {
	loop_fn fn;
	void *arg;
	struct loop_post *next;
};

struct loop {
	int epfd;
	int evfd;
	struct loop_watch *watches;	/* live watches */
	struct loop_watch *dead;	/* deleted, freed after the batch */
	struct heap timers;
	uint64_t seq;
	pthread_mutex_t mu;		/* protects posts and wake_pending */
	struct loop_post *posts, **posts_tail;
	bool wake_pending;
	atomic_bool stop;
};

#define LOOP_TIMER_BATCH	16	/* timers fired per iteration */

#define TIMER(n)	((struct loop_timer *)((char *)(n) - \
			    offsetof(struct loop_timer, node)))

static int
timer_less(const struct heap_node *na, const struct heap_node *nb)
{
	const struct loop_timer *a = TIMER(na), *b = TIMER(nb);

	if (a->due_ms != b->due_ms)
		return a->due_ms < b->due_ms;
	return a->seq < b->seq;
}

/* The eventfd's epoll data: an address no watch can have. */
static char evfd_tag;

int64_t
loop_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
loop_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
loop_mono_timespec(int64_t mono_ms, struct timespec *out)
{
	out->tv_sec = (time_t)(mono_ms / 1000);
	out->tv_nsec = (long)(mono_ms % 1000) * 1000000;
}

int
loop_new(struct loop **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &evfd_tag };
	struct loop *l;
	int r;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->evfd = -1;
	heap_init(&l->timers, timer_less);
	pthread_mutex_init(&l->mu, NULL);
	l->posts_tail = &l->posts;
	atomic_init(&l->stop, false);
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) == -1) {
		r = -errno;
		goto fail;
	}
	*out = l;
	return 0;
 fail:
	loop_free(l);
	return r;
}

static void
free_watch_list(struct loop_watch *w)
{
	struct loop_watch *next;

	for (; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
}

void
loop_free(struct loop *l)
{
	struct loop_post *p, *next;
	size_t i;

	if (l == NULL)
		return;
	free_watch_list(l->watches);
	free_watch_list(l->dead);
	for (i = 0; i < l->timers.n; i++)
		free(TIMER(l->timers.v[i]));
	heap_free(&l->timers);
	for (p = l->posts; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	if (l->epfd != -1)
		close(l->epfd);
	if (l->evfd != -1)
		close(l->evfd);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* ---- watches ---- */

int
loop_watch_add(struct loop *l, int fd, uint32_t events, loop_io_fn fn,
    void *arg, struct loop_watch **out)
{
	struct epoll_event ev;
	struct loop_watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->loop = l;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		free(w);
		return -errno;
	}
	w->next = l->watches;
	if (l->watches != NULL)
		l->watches->prev = w;
	l->watches = w;
	*out = w;
	return 0;
}

int
loop_watch_mod(struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	/* Level-triggered: the same events again change nothing, and the
	 * SSH connections ask after every step (one syscall and a poll of
	 * the socket saved per step in a burst). */
	if (events == w->events)
		return 0;
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) == -1)
		return -errno;
	w->events = events;
	return 0;
}

void
loop_watch_del(struct loop_watch *w)
{
	struct loop *l;

	if (w == NULL || w->dead)
		return;
	l = w->loop;
	/* Can fail only if the fd was closed already; epoll dropped it then. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		l->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->dead = true;
	w->prev = NULL;
	w->next = l->dead;
	l->dead = w;
}

/* ---- timers: a min-heap on (due_ms, seq) ---- */

int
loop_timer_add(struct loop *l, int64_t due_ms, loop_fn fn, void *arg,
    struct loop_timer **out)
{
	struct loop_timer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->loop = l;
	t->due_ms = due_ms;
	t->seq = l->seq++;
	t->fn = fn;
	t->arg = arg;
	if (heap_push(&l->timers, &t->node) != 0) {
		free(t);
		return -ENOMEM;
	}
	if (out != NULL)
		*out = t;
	return 0;
}

void
loop_timer_del(struct loop_timer *t)
{
	if (t == NULL)
		return;
	/* Deleted from its own callback: it is freed when that returns. */
	if (t->firing)
		return;
	heap_remove(&t->loop->timers, &t->node);
	free(t);
}

/*
 * Fires the timers that are due, at most LOOP_TIMER_BATCH per iteration so
 * file descriptor events are handled in between.  That matters when a burst
 * of timers each spawns a process: reaping the early children as the burst
 * goes on keeps the daemon's descriptor table small, and every spawn copies
 * and closes that table.  Timers added by these callbacks wait for the next
 * iteration (their seq is past the snapshot), so a callback that re-arms
 * itself for "now" cannot starve the loop.
 */
static void
run_timers(struct loop *l)
{
	uint64_t seq_end = l->seq;
	int64_t now = loop_mono_ms();
	struct loop_timer *t;
	int n;

	for (n = 0; n < LOOP_TIMER_BATCH && heap_top(&l->timers); n++) {
		t = TIMER(heap_top(&l->timers));
		if (t->due_ms > now || t->seq >= seq_end)
			break;
		heap_remove(&l->timers, &t->node);
		t->firing = true;
		t->fn(t->arg);
		free(t);
	}
}

/* Milliseconds epoll_wait() may sleep: until the nearest timer, rounded so
 * that the wait never ends before it is due. */
static int
wait_ms(struct loop *l)
{
	int64_t d;

	if (atomic_load(&l->stop))
		return 0;
	if (heap_top(&l->timers) == NULL)
		return -1;
	d = TIMER(heap_top(&l->timers))->due_ms - loop_mono_ms();
	if (d <= 0)
		return 0;
	/* loop_mono_ms() truncates, so now+d ms is never before due_ms. */
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* ---- posted calls ---- */

int
loop_post(struct loop *l, loop_fn fn, void *arg)
{
	struct loop_post *p;
	uint64_t one = 1;
	bool wake;

	if ((p = malloc(sizeof(*p))) == NULL)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&l->mu);
	*l->posts_tail = p;
	l->posts_tail = &p->next;
	wake = !l->wake_pending;
	l->wake_pending = true;
	pthread_mutex_unlock(&l->mu);
	/* EAGAIN would mean the counter is full, i.e. already readable. */
	if (wake)
		(void)write(l->evfd, &one, sizeof(one));
	return 0;
}

/* Drains the eventfd, then runs the calls queued so far. */
static void
run_posts(struct loop *l)
{
	struct loop_post *p, *next;
	uint64_t n;

	(void)read(l->evfd, &n, sizeof(n));
	pthread_mutex_lock(&l->mu);
	p = l->posts;
	l->posts = NULL;
	l->posts_tail = &l->posts;
	l->wake_pending = false;
	pthread_mutex_unlock(&l->mu);
	for (; p != NULL; p = next) {
		next = p->next;
		p->fn(p->arg);
		free(p);
	}
}

void
loop_stop(struct loop *l)
{
	uint64_t one = 1;

	atomic_store(&l->stop, true);
	(void)write(l->evfd, &one, sizeof(one));
}

/* ---- the loop ---- */

static void
dispatch(struct loop *l, const struct epoll_event *evs, int n)
{
	struct loop_watch *w;
	bool posted = false;
	int i;

	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == &evfd_tag) {
			posted = true;
			continue;
		}
		w = evs[i].data.ptr;
		if (!w->dead)
			w->fn(w->fd, evs[i].events, w->arg);
	}
	free_watch_list(l->dead);
	l->dead = NULL;
	if (posted)
		run_posts(l);
}

int
loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_BATCH];
	int n, r = 0;

	while (!atomic_load(&l->stop)) {
		n = epoll_wait(l->epfd, evs, LOOP_BATCH, wait_ms(l));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		dispatch(l, evs, n);
		run_timers(l);
		free_watch_list(l->dead);
		l->dead = NULL;
	}
	atomic_store(&l->stop, false);
	return r;
}
