/*
 * tz.h - IANA time zones read from TZif files, without touching TZ or the
 * C library's global zone state (safe in a threaded daemon).
 *
 * Zones are cached: tz_get() returns a shared, immutable zone that lives until
 * tz_cache_clear() at exit.  All functions here are thread-safe.
 */
#ifndef DISTCRON_TZ_H
#define DISTCRON_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tz;

/*
 * Returns the zone called name ("Europe/Berlin", "UTC").  NULL or "" means
 * the daemon's local zone (the TZ environment variable if set, else
 * /etc/localtime, else UTC).  Zone files are read from $TZDIR or
 * /usr/share/zoneinfo.  Names with "..", a leading "/" or control characters
 * are refused.  Returns 0 and stores a shared pointer (do not free), or
 * ERR_NOTFOUND / ERR_PARSE with *errstr set ("unknown time zone").
 * Blocks on file I/O the first time a zone is asked for.
 */
int tz_get(const char *name, const struct tz **out, const char **errstr);

/* The zone's name as given to tz_get() ("localtime" for the local zone). */
const char *tz_name(const struct tz *z);

/* Frees every cached zone.  No zone pointer may be used afterwards. */
void tz_cache_clear(void);

/*
 * Reads the zone called name from a TZif image (len bytes at data) rather
 * than from a file, outside the cache (for tests and the fuzzer).  Returns
 * 0 and a zone the caller frees with tz_free(), or ERR_PARSE ("bad time
 * zone file") or -ENOMEM with *errstr set.  Does not block.
 */
int tz_parse_tzif(const char *name, const void *data, size_t len,
    struct tz **out, const char **errstr);

/* Frees a zone from tz_parse_tzif().  Accepts NULL. */
void tz_free(struct tz *z);

/*
 * One span of constant UTC offset: [start, end) in UTC seconds, offset in
 * seconds east of UTC.  start may be INT64_MIN and end INT64_MAX.
 */
struct tz_span {
	int64_t start;
	int64_t end;
	int32_t offset;
	int isdst;
};

/*
 * Stores the span containing instant t.  Beyond the last transition in the
 * file, spans come from the file's POSIX TZ footer rule, so any year works.
 */
void tz_span_at(const struct tz *z, int64_t t, struct tz_span *out);

/* UTC offset in seconds at instant t. */
int32_t tz_offset_at(const struct tz *z, int64_t t);

/*
 * Broken-down local time of instant t (like localtime_r, but for zone z).
 * tm_gmtoff and tm_isdst are filled; tm_zone is NULL.
 */
void tz_localtime(const struct tz *z, int64_t t, struct tm *tm);

/*
 * Formats t as ISO 8601 with the zone's offset: "2026-03-08T03:30:00-04:00"
 * ("Z" is not used: the offset is always numeric).  Returns 0 or -ENOSPC.
 */
int tz_format_iso8601(const struct tz *z, int64_t t, char *out, size_t outlen);

/*
 * Parses ISO 8601 "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]" (a space may stand
 * for "T"; "YYYY-MM-DD" alone means midnight).  Without an offset the time is
 * local to zone z (a nonexistent time is moved forward by the gap, a repeated
 * one takes its first occurrence).  Returns 0 or ERR_PARSE / ERR_RANGE with
 * *errstr set.
 */
int tz_parse_iso8601(const struct tz *z, const char *s, int64_t *out,
    const char **errstr);

/*
 * Converts a local civil time (fields as in struct tm; tm_isdst ignored) to
 * UTC with the same rules as tz_parse_iso8601.
 */
int64_t tz_mktime(const struct tz *z, const struct tm *tm);

#endif
