/*
 * sched.h - schedules: cron expressions, macros, @every and intervals aligned
 * to a reference time, evaluated in an IANA time zone.
 *
 * Cron syntax: 5 fields (minute hour day-of-month month day-of-week) or 6
 * with seconds first; names (JAN-DEC, SUN-SAT), lists, ranges, steps,
 * "N/step", "L" in day-of-month, "#" in day-of-week ("FRI#2"), hashed "H"
 * (also "H(0-29)", "H/15") with a stable per-job value; macros @yearly
 * @annually @monthly @weekly @daily @midnight @hourly; "@every 10m".
 * Day-of-month and day-of-week combine with Vixie cron's OR rule when both
 * are restricted.
 *
 * DST: a local time that does not exist fires at the same offset after the
 * gap (02:30 -> 03:30); a local time that occurs twice fires once, at its
 * first occurrence.
 *
 * A parsed schedule is immutable and may be shared between threads.
 */
#ifndef DISTCRON_SCHED_H
#define DISTCRON_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "distcron/tz.h"

struct sched;

/*
 * Parses a cron expression, a macro or "@every DURATION".  hash_key (usually
 * the job name; may be NULL) seeds "H" fields.  zone is where the expression
 * is evaluated (shared, not owned).  Returns 0 and a new schedule, or
 * ERR_PARSE / ERR_RANGE / ERR_NEVER with *errstr describing the field and
 * the problem ("day-of-month: 32 out of range 1-31"), possibly in a
 * thread-local buffer valid until the next call in this thread.
 */
int sched_parse_cron(const char *expr, const char *hash_key,
    const struct tz *zone, struct sched **out, const char **errstr);

/*
 * An interval schedule: ticks every interval_s seconds aligned to the local
 * time of day ref_s (seconds after midnight).  For intervals that divide a
 * day evenly, each local day restarts at the reference (so "10m" at "03:10"
 * fires at 03:10 local time every day, DST or not); longer intervals count
 * from the reference on 1970-01-01 in the zone.  Returns 0 or ERR_RANGE.
 */
int sched_new_interval(int64_t interval_s, int32_t ref_s,
    const struct tz *zone, struct sched **out, const char **errstr);

/*
 * Stores in *next the first fire time strictly after `after` (UTC seconds).
 * Returns 0, or ERR_NEVER when no fire time exists within 50 years (the
 * search is bounded: never a hang).  Does not block.
 */
int sched_next(const struct sched *s, int64_t after, int64_t *next);

/* Canonical text of the schedule, for display ("0 3 * * 1-5", "@daily"). */
const char *sched_text(const struct sched *s);

/* Drops one owner of s (sched_ref() adds owners); the last one frees it.
 * Accepts NULL; thread-safe. */
void sched_free(struct sched *s);

/*
 * Sharing a schedule among jobs that have the same one (a million jobs
 * "0 * * * *" keep one): sched_same() says whether a and b fire alike and
 * read alike (text, zone, fields; equal ones have equal sched_hash()), and
 * sched_ref() adds an owner to s and returns it.  A schedule never changes
 * once made, so owners on any thread may read it.
 */
bool sched_same(const struct sched *a, const struct sched *b);
uint64_t sched_hash(const struct sched *s);
struct sched *sched_ref(struct sched *s);

#endif
