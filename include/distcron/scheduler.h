/*
 * scheduler.h - the timer of the daemon: a min-heap of items ordered by due
 * time, driven by one CLOCK_REALTIME timerfd on the event loop.  There is no
 * thread or timer per job; 100,000 idle jobs cost one armed timerfd.
 *
 * Items are embedded in the caller's structures.  An item is handed to the
 * due callback lead_ms before its due time (so the caller can record the
 * run's intent before the exact launch).  Loop thread only.
 */
#ifndef DISTCRON_SCHEDULER_H
#define DISTCRON_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/heap.h"

struct loop;
struct scheduler;

struct scheduler_item {
	int64_t due;		/* UTC seconds */
	struct heap_node node;	/* idx HEAP_NONE when not queued */
};

/* Called for each item that became due; the item is no longer queued. */
typedef void (*scheduler_due_fn)(struct scheduler_item *it, void *arg);

/* Called after the wall clock jumped by more than the tolerance (in ms,
 * negative when it went back); the caller may re-plan every item. */
typedef void (*scheduler_jump_fn)(int64_t delta_ms, void *arg);

/* Makes an unqueued item. */
void scheduler_item_init(struct scheduler_item *it);

/* Creates a scheduler on loop.  Returns 0 or -errno. */
int scheduler_new(struct loop *loop, int64_t lead_ms, scheduler_due_fn due,
    scheduler_jump_fn jump, void *arg, struct scheduler **out);

/* Frees the scheduler (items are the caller's); accepts NULL. */
void scheduler_free(struct scheduler *s);

/* Queues it at due (UTC seconds), or moves it there.  Returns 0 or -ENOMEM. */
int scheduler_set(struct scheduler *s, struct scheduler_item *it,
    int64_t due);

/* Unqueues it; no-op when not queued. */
void scheduler_remove(struct scheduler *s, struct scheduler_item *it);

/* Number of queued items; earliest due time (INT64_MAX when empty). */
size_t scheduler_size(const struct scheduler *s);
int64_t scheduler_earliest(const struct scheduler *s);

/* Stops handing out items (shutdown); queued items stay queued. */
void scheduler_pause(struct scheduler *s);

#endif
