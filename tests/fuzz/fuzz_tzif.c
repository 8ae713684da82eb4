/*
 * fuzz_tzif.c - libFuzzer target for the TZif reader and the POSIX TZ
 * footer rule (tz_parse_tzif): each input is a zone file.  A zone that is
 * read is walked span by span from the far past and probed at fixed
 * instants.  Checks: each span holds its instant and the next span starts
 * where it ends (below the rule clamp near year 318000); offsets stay
 * within 26 hours and isdst is 0 or 1; tz_localtime agrees with the span;
 * a time printed with tz_format_iso8601 parses back to the same instant
 * (years 1 to 9999, offsets under 24 hours, as RFC 3339 has them).
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_tzif
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OFF_MAX		(26 * 3600)
#define CLAMP		INT64_C(9000000000000)	/* below tz.c's rule limit */
#define ISO_MIN		INT64_C(-62135596800 + 2 * 86400)	/* 0001-01-03 */
#define ISO_MAX		INT64_C(253402300799 - 2 * 86400)	/* 9999-12-29 */

static void
check_at(const struct tz *z, int64_t t, struct tz_span *sp)
{
	struct tz_span next;
	struct tm tm;
	char iso[64];
	const char *errstr = NULL;
	int64_t back;

	tz_span_at(z, t, sp);
	if (sp->start > t || (sp->end != INT64_MAX && sp->end <= t) ||
	    sp->offset < -OFF_MAX || sp->offset > OFF_MAX ||
	    (sp->isdst != 0 && sp->isdst != 1) ||
	    tz_offset_at(z, t) != sp->offset)
		abort();
	if (sp->end != INT64_MAX && sp->end < CLAMP && sp->start > -CLAMP) {
		tz_span_at(z, sp->end, &next);
		if (next.start != sp->end)
			abort();
	}
	tz_localtime(z, t, &tm);
	if (tm.tm_gmtoff != sp->offset || tm.tm_isdst != sp->isdst ||
	    tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
	    tm.tm_sec > 59 || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_yday < 0 || tm.tm_yday > 365)
		abort();
	if (t < ISO_MIN || t > ISO_MAX || sp->offset <= -24 * 3600 ||
	    sp->offset >= 24 * 3600)
		return;
	if (tz_format_iso8601(z, t, iso, sizeof(iso)) != 0 ||
	    tz_parse_iso8601(z, iso, &back, &errstr) != 0 || back != t)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t probes[] = {
		INT64_MIN, INT64_MIN + 1, -CLAMP, INT64_C(-2208988800), -1, 0,
		INT64_C(1772953199), INT64_C(1793512799), INT64_C(2147483647),
		INT64_C(4102444800), INT64_C(253402300000), CLAMP,
		INT64_MAX - 1, INT64_MAX,
	};
	struct tz *z = NULL;
	struct tz_span sp;
	const char *errstr = NULL;
	int64_t t;
	size_t i;

	if (tz_parse_tzif("fuzz", data, size, &z, &errstr) != 0) {
		if (z != NULL || errstr == NULL)
			abort();
		return 0;
	}
	if (strcmp(tz_name(z), "fuzz") != 0)
		abort();
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		check_at(z, probes[i], &sp);
	/* Walk the first spans, the file's transitions and the rule's. */
	for (t = INT64_MIN, i = 0; i < 200; i++) {
		check_at(z, t, &sp);
		if (sp.end == INT64_MAX)
			break;
		t = sp.end;
	}
	tz_free(z);
	return 0;
}
