/*
 * scheduler.c - min-heap of due times behind one realtime timerfd.
 *
 * The timerfd is armed with TFD_TIMER_ABSTIME on CLOCK_REALTIME at the
 * earliest due time minus the lead.  Sleeping on the wall clock (not a
 * relative monotonic delay) means a tick fires at the right wall-clock second
 * even after the clock is stepped.
 *
 * Clocks: the wall clock can be stepped by an administrator or by NTP.
 * TFD_TIMER_CANCEL_ON_SET makes read() fail with ECANCELED when that happens,
 * and each wake-up also compares the realtime and monotonic clocks against the
 * previous wake-up.  A step forward needs nothing special: items now in the
 * past are simply due, and the caller decides what an overdue tick means
 * (the runner treats ticks more than a minute late as missed).  A step back
 * leaves items due later than planned; the jump callback lets the caller
 * re-plan from the new time.  Small drifts (slewing) are below the tolerance
 * and ignored.  DST is not a clock jump: UTC does not change, and schedules
 * are computed in UTC from the zone's rules (see sched.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "distcron/heap.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/scheduler.h"

#define JUMP_TOLERANCE_MS	2000

struct scheduler {
	struct loop *loop;
	struct loop_watch *watch;
	int tfd;
	int64_t lead_ms;
	struct heap heap;
	scheduler_due_fn due_fn;
	scheduler_jump_fn jump_fn;
	void *arg;
	int64_t armed_ms;	/* what the timerfd is set to; -1: disarmed */
	int64_t last_real_ms, last_mono_ms;
	int paused;
};

#define ITEM(n)	((struct scheduler_item *)((char *)(n) - \
		    offsetof(struct scheduler_item, node)))

static int
item_less(const struct heap_node *a, const struct heap_node *b)
{
	return ITEM(a)->due < ITEM(b)->due;
}

void
scheduler_item_init(struct scheduler_item *it)
{
	it->due = 0;
	it->node.idx = HEAP_NONE;
}

/* Arms the timerfd for the earliest item, or disarms it. */
static void
scheduler_arm(struct scheduler *s)
{
	struct itimerspec its;
	int64_t at;

	memset(&its, 0, sizeof(its));
	at = (heap_top(&s->heap) == NULL || s->paused) ? -1 :
	    ITEM(heap_top(&s->heap))->due * 1000 - s->lead_ms;
	if (at == s->armed_ms)
		return;
	if (at >= 0) {
		if (at == 0)
			at = 1;		/* zero would disarm */
		its.it_value.tv_sec = at / 1000;
		its.it_value.tv_nsec = (at % 1000) * 1000000;
	}
	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME |
	    TFD_TIMER_CANCEL_ON_SET, &its, NULL) != 0)
		log_error("scheduler: timerfd_settime: %s", strerror(errno));
	s->armed_ms = at;
}

/* Detects a wall-clock step since the last wake-up. */
static void
scheduler_check_jump(struct scheduler *s)
{
	int64_t real = loop_real_ms(), mono = loop_mono_ms(), delta;

	delta = (real - s->last_real_ms) - (mono - s->last_mono_ms);
	s->last_real_ms = real;
	s->last_mono_ms = mono;
	if (delta > -JUMP_TOLERANCE_MS && delta < JUMP_TOLERANCE_MS)
		return;
	log_warn("wall clock jumped by %+lld ms", (long long)delta);
	if (s->jump_fn != NULL)
		s->jump_fn(delta, s->arg);
}

static void
scheduler_fire(int fd, uint32_t events, void *arg)
{
	struct scheduler *s = arg;
	struct scheduler_item *it;
	uint64_t expirations;
	int64_t now;
	size_t budget;

	if (read(fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN && errno != ECANCELED)
		log_error("scheduler: timerfd read: %s", strerror(errno));
	s->armed_ms = -1;
	scheduler_check_jump(s);
	now = loop_real_ms();
	/* Items re-queued by the callback wait for the next wake-up. */
	for (budget = s->heap.n; budget > 0 && !s->paused; budget--) {
		if (heap_top(&s->heap) == NULL)
			break;
		it = ITEM(heap_top(&s->heap));
		if (it->due * 1000 - s->lead_ms > now)
			break;
		heap_remove(&s->heap, &it->node);
		s->due_fn(it, s->arg);
	}
	scheduler_arm(s);
}

int
scheduler_new(struct loop *loop, int64_t lead_ms, scheduler_due_fn due,
    scheduler_jump_fn jump, void *arg, struct scheduler **out)
{
	struct scheduler *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->lead_ms = lead_ms;
	s->due_fn = due;
	s->jump_fn = jump;
	s->arg = arg;
	s->armed_ms = -1;
	heap_init(&s->heap, item_less);
	s->last_real_ms = loop_real_ms();
	s->last_mono_ms = loop_mono_ms();
	s->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tfd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	if ((r = loop_watch_add(loop, s->tfd, EPOLLIN, scheduler_fire, s,
	    &s->watch)) != 0) {
		close(s->tfd);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void
scheduler_free(struct scheduler *s)
{
	if (s == NULL)
		return;
	heap_free(&s->heap);
	loop_watch_del(s->watch);
	close(s->tfd);
	free(s);
}

int
scheduler_set(struct scheduler *s, struct scheduler_item *it, int64_t due)
{
	int r = 0;

	it->due = due;
	if (it->node.idx != HEAP_NONE)
		heap_update(&s->heap, &it->node);
	else
		r = heap_push(&s->heap, &it->node);
	scheduler_arm(s);
	return r;
}

void
scheduler_remove(struct scheduler *s, struct scheduler_item *it)
{
	if (it->node.idx == HEAP_NONE)
		return;
	heap_remove(&s->heap, &it->node);
	scheduler_arm(s);
}

size_t
scheduler_size(const struct scheduler *s)
{
	return s->heap.n;
}

int64_t
scheduler_earliest(const struct scheduler *s)
{
	return heap_top(&s->heap) ? ITEM(heap_top(&s->heap))->due : INT64_MAX;
}

void
scheduler_pause(struct scheduler *s)
{
	s->paused = 1;
	scheduler_arm(s);
}
