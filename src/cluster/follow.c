/*
 * follow.c - the follower of an etcd prefix (follow_int.h): a range,
 * then a watch from its revision + 1, and when the watch ends a read
 * again after a delay, the owner told of each key through callbacks.
 * The watch's end is handled inside the watch's callback, where no
 * request may start (curl refuses it): the read again waits for the
 * timer, or for the owner's next cl_follow_start().  Loop thread.
 */
#include "config.h"

#include "distcron/err.h"
#include "distcron/log.h"
#include "follow_int.h"

static void clf_sync(void *arg);

static void
clf_later(struct cl_follow *f)
{
	if (f->resync_ms > 0 && f->timer == NULL && !f->stopped)
		loop_timer_add(f->loop, loop_mono_ms() + f->resync_ms,
		    clf_sync, f, &f->timer);
}

static void
clf_watched(void *arg, const struct etcd_watch_msg *m)
{
	struct cl_follow *f = arg;
	bool any = false;
	size_t i;

	if (m->err != 0) {	/* over: read everything again */
		if (f->ops->ended != NULL)
			f->ops->ended(f->arg, m);
		etcd_watch_cancel(f->watch);
		f->watch = NULL;
		clf_later(f);
		return;
	}
	for (i = 0; i < m->nevents; i++)
		any |= f->ops->event(f->arg, &m->events[i]);
	if (any && f->ops->changed != NULL)
		f->ops->changed(f->arg);
}

/* Watches from o's revision (0: now). */
static void
clf_watch(struct cl_follow *f, int64_t from)
{
	struct etcd_watch_opts o = { .key = f->prefix, .prefix = true,
	    .start_revision = from };

	if (etcd_watch(f->e, &o, clf_watched, f, &f->watch) != 0) {
		f->watch = NULL;
		clf_later(f);
	} else if (f->ops->watching != NULL)
		f->ops->watching(f->arg);
}

static void
clf_ranged(void *arg, const struct etcd_result *r)
{
	struct cl_follow *f = arg;
	int rc = 0;

	f->busy = false;
	if (f->stopped)
		return;
	if (r->err != 0 || (rc = f->ops->ranged(f->arg, r->op.kvs,
	    r->op.nkvs, r->revision)) < 0) {
		log_debug("cluster: reading %s from etcd: %s", f->what,
		    r->err != 0 ? r->msg : err_str(rc));
		clf_later(f);
		return;
	}
	clf_watch(f, r->revision + 1);
	if (rc > 0 && f->ops->changed != NULL)
		f->ops->changed(f->arg);
}

/* Reads the whole prefix (then watches it), or only watches; the
 * timer's callback. */
static void
clf_sync(void *arg)
{
	struct cl_follow *f = arg;
	struct etcd_op op = { .type = ETCD_OP_RANGE, .key = f->prefix,
	    .prefix = true };

	f->timer = NULL;
	if (f->busy || f->stopped || f->watch != NULL)
		return;
	if (f->ops->ranged == NULL) {
		clf_watch(f, 0);
		return;
	}
	f->busy = true;
	if (etcd_do(f->e, &op, clf_ranged, f) != 0) {
		f->busy = false;
		clf_later(f);
	}
}

void
cl_follow_start(struct cl_follow *f)
{
	if (f->timer == NULL)	/* else the timer will */
		clf_sync(f);
}

void
cl_follow_stop(struct cl_follow *f)
{
	f->stopped = true;
	etcd_watch_cancel(f->watch);
	f->watch = NULL;
	if (f->timer != NULL)
		loop_timer_del(f->timer);
	f->timer = NULL;
}
