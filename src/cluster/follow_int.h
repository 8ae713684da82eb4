/*
 * follow_int.h - private to the cluster's files that mirror an etcd
 * prefix (cljobs.c, clsecrets.c, clruns.c): the follower (follow.c).
 *
 * A follower reads the whole prefix (a range), then watches it from the
 * range's revision + 1; when the watch ends (a compaction, an error, an
 * etcd that restarted) it is cancelled and the prefix read again after
 * resync_ms.  Without a range (ops->ranged NULL) it only watches, from
 * now, and tells the owner of each new watch (ops->watching), which then
 * catches up its own way.  Requests never start inside a watch's
 * callback (curl refuses them there): a read again starts from a timer,
 * or (resync_ms 0) from the owner's next cl_follow_start().  Loop
 * thread only; the owner's mutexes stay the owner's.
 */
#ifndef DISTCRON_FOLLOW_INT_H
#define DISTCRON_FOLLOW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distcron/etcd.h"
#include "distcron/loop.h"

/* What a follower tells its owner (arg: cl_follow.arg). */
struct cl_follow_ops {
	/* The whole prefix at revision rev: kvs[0..n), in key order.
	 * Returns 1 when the owner's mirror changed, 0 when not, or a
	 * negative error (logged; the prefix is read again later).  NULL:
	 * no range, the watch starts from now. */
	int (*ranged)(void *arg, const struct etcd_kv *kvs, size_t n,
	    int64_t rev);
	/* One event of the watch; returns whether the mirror changed. */
	bool (*event)(void *arg, const struct etcd_event *ev);
	/* Optional: after a range or a watch message that changed the
	 * mirror (once the watch is made, after a range). */
	void (*changed)(void *arg);
	/* Optional: the watch ended (m->err, m->msg say why), to log it. */
	void (*ended)(void *arg, const struct etcd_watch_msg *m);
	/* Optional: a new watch was made. */
	void (*watching)(void *arg);
};

/* One followed prefix.  The owner sets the first fields (the rest
 * zeroed), keeps prefix and what alive, and embeds it. */
struct cl_follow {
	struct etcd *e;
	struct loop *loop;
	const char *prefix;
	const char *what;	/* "the jobs": "cluster: reading the jobs
				 * from etcd: ..." */
	int64_t resync_ms;	/* a watch that ended: read again after;
				 * 0: at the next cl_follow_start() */
	const struct cl_follow_ops *ops;
	void *arg;
	struct etcd_watch *watch;
	struct loop_timer *timer;
	bool busy;		/* a range in flight */
	bool stopped;
};

/* Starts following f's prefix; when it is followed already, being
 * read, or due to be read on the timer, does nothing (so an owner
 * without a timer calls it from its tick to follow again). */
void cl_follow_start(struct cl_follow *f);

/* Stops: cancels the watch and the timer; a range in flight is ignored
 * when it answers.  Idempotent; f holds nothing more to free. */
void cl_follow_stop(struct cl_follow *f);

#endif
