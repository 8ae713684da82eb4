/*
 * dur.h - durations ("90s", "10m", "1h30m", "500ms", "2d") and bounded
 * integer parsing.
 */
#ifndef DISTCRON_DUR_H
#define DISTCRON_DUR_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration: 100 years, in ms. */
#define DUR_MAX_MS	(INT64_C(100) * 365 * 86400 * 1000)

/*
 * Parses a duration made of one or more <number><unit> parts, units ms, s, m,
 * h, d (e.g. "1h30m", "90s").  A bare number is rejected (the unit is
 * mandatory).  Stores milliseconds in *ms.  Returns 0, or ERR_PARSE /
 * ERR_RANGE with *errstr set to a static description.
 */
int dur_parse(const char *s, int64_t *ms, const char **errstr);

/* Formats ms as the shortest duration string ("1h30m", "250ms", "0s"). */
void dur_format(int64_t ms, char *out, size_t outlen);

/*
 * Parses a whole decimal integer in [min, max] (no sign unless min < 0, no
 * trailing junk).  Returns 0, ERR_PARSE or ERR_RANGE.
 */
int dur_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Parses a byte count: digits and an optional unit, powers of 1024, any case
 * ("512k", "1M", "1MiB", "64KB", "2g"; "" and "b" are bytes).  Returns 0 or
 * ERR_PARSE; a count too large for a unit fails the caller's range check.
 */
int dur_parse_size(const char *s, int64_t *out);

#endif
