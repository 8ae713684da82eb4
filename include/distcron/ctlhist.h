/*
 * ctlhist.h - the table and the JSON that "distcronctl history" prints
 * from the runs of the store.  Neither blocks but on the FILE.
 */
#ifndef DISTCRON_CTLHIST_H
#define DISTCRON_CTLHIST_H

#include <stddef.h>
#include <stdio.h>

#include "distcron/store.h"
#include "distcron/tz.h"

/* Prints a header and one row per run (times in zone) on out, with the
 * columns MEMBER and FENCE when a run has either (cluster mode); 0, or
 * -ENOMEM. */
int ctlhist_table(struct store_run **runs, size_t n, const struct tz *zone,
    FILE *out);

/* Prints the runs, with each node's output, as an indented JSON array
 * ("[]" when there are none); 0, or -ENOMEM. */
int ctlhist_json(struct store_run **runs, size_t n, const struct tz *zone,
    FILE *out);

#endif
