/*
 * spill.h - results the store could not take at shutdown, kept in a file
 * whose space is reserved in advance.
 *
 * The daemon reserves SPILL_SIZE bytes (fallocate) next to the store when
 * it starts, so that when the disk is full at shutdown the final records
 * of finished runs still have room: each is appended as one JSON line
 * (with the outbox rows it carries, so its reports are not lost).  The
 * next start applies them to the store before it marks unfinished runs
 * LOST, then empties the file.  A record too big for the room left is
 * written without its captured output; if even that does not fit, the
 * caller logs it as not saved.
 */
#ifndef DISTCRON_SPILL_H
#define DISTCRON_SPILL_H

#include <stddef.h>

#include "distcron/store.h"

#define SPILL_SIZE	(1024 * 1024)

struct spill;

/* Opens path, reserving size bytes of disk, and empties it (call after
 * spill_load() has applied what it held).  Returns 0 or -errno. */
int spill_open(const char *path, size_t size, struct spill **out);

/* Appends run and makes it durable (fdatasync).  Returns 0, ERR_TOOBIG
 * when it does not fit even without output, or -errno.  Blocks on disk. */
int spill_append(struct spill *sp, const struct store_run *run);

/* Closes the file; accepts NULL. */
void spill_close(struct spill *sp);

/*
 * Reads the records in path (a missing file holds none) into *runs (*n of
 * them; free with store_runs_free()).  Returns 0, -errno, or ERR_PARSE
 * with err naming the file, line and field.
 */
int spill_load(const char *path, struct store_run ***runs, size_t *n,
    char *err, size_t errlen);

#endif
