/*
 * storeq.h - the store's worker thread.  The event loop queues writes here
 * and never waits on disk: intents (creates), run updates (saves, coalesced
 * into one transaction per wake-up) and flush barriers.  Operations are
 * applied in the order they were queued; completions come back to the loop
 * thread through loop_post().
 */
#ifndef DISTCRON_STOREQ_H
#define DISTCRON_STOREQ_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/loop.h"
#include "distcron/store.h"

struct storeq;

/* Called on the loop thread when a create batch is written; r is 0 or the
 * store's error (then no run got an id). */
typedef void (*storeq_created_fn)(struct store_run **runs, size_t n, int r,
    void *arg);

/* Starts the worker thread for st; max caps the queue for new intents
 * (at least 1).  Returns 0 or a negative error. */
int storeq_new(struct store *st, struct loop *loop, size_t max,
    struct storeq **out);

/*
 * Queues the intents of n runs.  The array is copied; the runs stay the
 * caller's but must not be touched until cb runs (the worker fills in their
 * ids).  Returns 0; -ENOMEM; ERR_STORE_QUEUE when max operations are
 * queued; or, while the store cannot write and its next try is not due,
 * the store's error (ERR_STORE_FULL, ERR_STORE).  cb runs only after 0.
 */
int storeq_create(struct storeq *q, struct store_run **runs, size_t n,
    storeq_created_fn cb, void *arg);

/* Queues a save of run and takes ownership of it; never refused for the
 * cap: a save that fails is kept and tried again until it is written (or
 * a drain gives up).  Returns 0 or -ENOMEM (the run is freed, logged). */
int storeq_save(struct storeq *q, struct store_run *run);

/* Calls fn(arg) on the loop thread once everything queued before is
 * written.  Returns 0 or -ENOMEM. */
int storeq_flush(struct storeq *q, loop_fn fn, void *arg);

/* Like storeq_flush(), and from now on a save that fails is retried for
 * at most limit_ms: after that it goes to the spill file, or is logged as
 * NOT SAVED, and is dropped (at shutdown, so the daemon exits).  Returns 0
 * or -ENOMEM. */
int storeq_drain(struct storeq *q, int64_t limit_ms, loop_fn fn, void *arg);

struct spill;

/* Records that a drain gives up on are appended to sp (the caller's; it
 * must outlive q) instead of only being logged. */
void storeq_set_spill(struct storeq *q, struct spill *sp);

/* Has fn(arg) called on the loop thread each time the store writes again
 * after failing. */
void storeq_on_writable(struct storeq *q, loop_fn fn, void *arg);

struct storeq_status {
	int err;		/* 0: writing; else why the last write failed */
	size_t depth;		/* operations queued, unsaved ones included */
	size_t max;		/* new intents are refused at this depth */
	uint64_t failed;	/* writes that failed (each try counts) */
	uint64_t rejected;	/* runs whose intent was refused: queue full,
				 * store failing */
};

/* A snapshot of the queue's state; thread-safe, does not block on disk. */
void storeq_status(struct storeq *q, struct storeq_status *out);

/* Operations queued and not yet written. */
size_t storeq_depth(struct storeq *q);

/* Writes what is queued (one last try if the store is failing: what
 * still fails is spilled or logged as NOT SAVED), stops the thread and
 * frees q;
 * accepts NULL.
 * Completions of the last operations are posted but may never run. */
void storeq_free(struct storeq *q);

#endif
