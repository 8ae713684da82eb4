/*
 * clruns_int.h - private to clruns.c (run summaries in etcd) and its
 * pure helpers in clrunkey.c, which the unit tests call.
 *
 * A final run's summary lives at PREFIX JOB "/" MS "_" MEMBER "_" ID
 * (PREFIX is /distcron/NS/runs/; MS the run's created_ms, 16 digits, so
 * that a job's keys sort by time, oldest first, as etcd ranges them; ID
 * its id on MEMBER).  Its value is a short JSON object: no output.
 */
#ifndef DISTCRON_CLRUNS_INT_H
#define DISTCRON_CLRUNS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "distcron/store.h"

#define CLR_KEY_MAX	512	/* bytes of a key, with NUL */
#define CLR_ITEMS_MAX	16	/* items kept in a summary */
#define CLR_TEXT_MAX	256	/* bytes of a reason or an item's error */

/* Writes rec's key under prefix into out (n bytes).  Returns 0, or
 * -E2BIG when it does not fit. */
int clr_key(const char *prefix, const struct store_run *rec, char *out,
    size_t n);

/* A key's parts. */
struct clr_key_parts {
	char job[DEFS_NAME_MAX + 1];
	char member[160];
	int64_t ms;
	int64_t id;
};

/* Parses key (under prefix) into *p.  Returns 0, or ERR_PARSE with
 * *errstr saying what is wrong (a static string). */
int clr_key_parse(const char *prefix, const char *key,
    struct clr_key_parts *p, const char **errstr);

/* rec's summary (status, times, member, fence, items without output) as
 * JSON text, malloc'd; NULL without memory. */
char *clr_encode(const struct store_run *rec);

/* A summary back into a new record (*out: store_run_free() it) with
 * remote_id set to its id and id 0.  Returns 0, -ENOMEM, or ERR_PARSE
 * with err (errlen bytes) naming the field and its value. */
int clr_decode(const char *text, size_t len, struct store_run **out,
    char *err, size_t errlen);

/* etcd holds (or will, after a batch's puts) count summaries of a job of
 * which the oldest nkeys are known (in key order): how many of those to
 * delete so that at most cap remain (all the known ones at most; the
 * rest goes with the job's next put). */
size_t clr_excess(int64_t count, int64_t cap, size_t nkeys);

#endif
