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

#include "distcron/loop.h"
#include "distcron/store.h"

struct storeq;

/* Called on the loop thread when a create batch is written; r is 0 or the
 * store's error (then no run got an id). */
typedef void (*storeq_created_fn)(struct store_run **runs, size_t n, int r,
    void *arg);

/* Starts the worker thread for st.  Returns 0 or a negative error. */
int storeq_new(struct store *st, struct loop *loop, struct storeq **out);

/*
 * Queues the intents of n runs.  The array is copied; the runs stay the
 * caller's but must not be touched until cb runs (the worker fills in their
 * ids).  Returns 0 or -ENOMEM.
 */
int storeq_create(struct storeq *q, struct store_run **runs, size_t n,
    storeq_created_fn cb, void *arg);

/* Queues a save of run and takes ownership of it.  Returns 0 or -ENOMEM
 * (the run is freed either way). */
int storeq_save(struct storeq *q, struct store_run *run);

/* Calls fn(arg) on the loop thread once everything queued before is
 * written.  Returns 0 or -ENOMEM. */
int storeq_flush(struct storeq *q, loop_fn fn, void *arg);

/* Operations queued and not yet written. */
size_t storeq_depth(struct storeq *q);

/* Writes what is queued, stops the thread and frees q; accepts NULL.
 * Completions of the last operations are posted but may never run. */
void storeq_free(struct storeq *q);

#endif
