/*
 * test_tz.c - the TZif reader and POSIX rule evaluator against glibc.
 *
 * glibc's localtime_r (under setenv("TZ") + tzset(), which only tests may
 * use) is the reference: for many zones and instants from 1970 through 2150
 * (every span boundary +-1 s, one instant a day, random ones) the broken-down
 * time, offset and DST flag must agree.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/tz.h"

#define T1970	INT64_C(0)
#define T2150	INT64_C(5680281600)	/* 2150-01-01T00:00:00Z */

static const char *zones[] = {
	"America/New_York", "Europe/Berlin", "Europe/London",
	"Australia/Lord_Howe", "Australia/Sydney", "Asia/Kolkata",
	"Pacific/Apia", "America/Sao_Paulo", "UTC", "Africa/Casablanca",
	"Europe/Dublin", "America/Nuuk", "Asia/Tehran",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
glibc_zone(const char *tzenv)
{
	assert_int_equal(setenv("TZ", tzenv, 1), 0);
	tzset();
}

static const struct tz *
get(const char *name)
{
	const struct tz *z = NULL;
	const char *errstr = NULL;

	if (tz_get(name, &z, &errstr) != 0)
		fail_msg("tz_get(%s): %s", name, errstr);
	return z;
}

/* Compares zone z at instant t with glibc's current TZ. */
static void
check_instant(const char *what, const struct tz *z, int64_t t)
{
	struct tm g, m;
	time_t tt = (time_t)t;

	assert_non_null(localtime_r(&tt, &g));
	tz_localtime(z, t, &m);
	if (g.tm_year != m.tm_year || g.tm_mon != m.tm_mon ||
	    g.tm_mday != m.tm_mday || g.tm_hour != m.tm_hour ||
	    g.tm_min != m.tm_min || g.tm_sec != m.tm_sec ||
	    g.tm_wday != m.tm_wday || g.tm_yday != m.tm_yday ||
	    g.tm_isdst != m.tm_isdst || g.tm_gmtoff != m.tm_gmtoff ||
	    tz_offset_at(z, t) != g.tm_gmtoff)
		fail_msg("%s at %lld: glibc %04d-%02d-%02d %02d:%02d:%02d off %ld "
		    "dst %d, tz.c %04d-%02d-%02d %02d:%02d:%02d off %ld dst %d",
		    what, (long long)t, g.tm_year + 1900, g.tm_mon + 1, g.tm_mday,
		    g.tm_hour, g.tm_min, g.tm_sec, g.tm_gmtoff, g.tm_isdst,
		    m.tm_year + 1900, m.tm_mon + 1, m.tm_mday, m.tm_hour,
		    m.tm_min, m.tm_sec, m.tm_gmtoff, m.tm_isdst);
}

static long
glibc_off(int64_t t, int *isdst)
{
	struct tm g;
	time_t tt = (time_t)t;

	localtime_r(&tt, &g);
	*isdst = g.tm_isdst;
	return g.tm_gmtoff;
}

/*
 * Walks the spans of z from 1970 to 2150: each boundary must be a real
 * change (glibc agrees the offset or DST flag changes there), spans must
 * chain, and instants around each boundary must agree with glibc.
 */
static int
check_spans(const char *what, const struct tz *z)
{
	struct tz_span sp, prev;
	int64_t t = T1970;
	int n = 0, d1, d2;

	tz_span_at(z, t, &sp);
	assert_true(sp.start <= t && t < sp.end);
	while (sp.end < T2150) {
		prev = sp;
		tz_span_at(z, prev.end, &sp);
		if (sp.start != prev.end)
			fail_msg("%s: span at %lld starts at %lld", what,
			    (long long)prev.end, (long long)sp.start);
		assert_true(sp.end > sp.start);
		if (glibc_off(sp.start - 1, &d1) == glibc_off(sp.start, &d2) &&
		    d1 == d2)
			fail_msg("%s: boundary %lld is no transition", what,
			    (long long)sp.start);
		assert_true(sp.offset != prev.offset || sp.isdst != prev.isdst);
		check_instant(what, z, sp.start - 1);
		check_instant(what, z, sp.start);
		check_instant(what, z, sp.start + 1);
		/* the span's own view of itself, from inside */
		tz_span_at(z, sp.start + (sp.end - sp.start) / 2, &prev);
		assert_int_equal(prev.start, sp.start);
		assert_int_equal(prev.end, sp.end);
		n++;
	}
	return n;
}

static void
check_zone_vs_glibc(const char *what, const struct tz *z)
{
	int64_t t;
	int i;

	check_spans(what, z);
	for (t = T1970; t < T2150; t += 86400 + 3607)
		check_instant(what, z, t);
	for (i = 0; i < 20000; i++)
		check_instant(what, z, T1970 + (int64_t)(rng() % (uint64_t)(T2150 - T1970)));
}

/* Each test starts with the system zone files and an empty cache. */
static int
reset_env(void **state)
{
	(void)state;
	unsetenv("TZDIR");
	unsetenv("TZ");
	tz_cache_clear();
	return 0;
}

static void
test_zones_match_glibc(void **state)
{
	size_t i;

	(void)state;
	unsetenv("TZDIR");
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		glibc_zone(zones[i]);
		check_zone_vs_glibc(zones[i], get(zones[i]));
	}
}

static void
test_known_transitions(void **state)
{
	const struct tz *ny = get("America/New_York");
	const struct tz *lh = get("Australia/Lord_Howe");
	const struct tz *apia = get("Pacific/Apia");
	struct tz_span sp;

	(void)state;
	/* 2026-03-08 02:00 EST = 07:00Z */
	tz_span_at(ny, 1772953200, &sp);
	assert_int_equal(sp.start, 1772953200);
	assert_int_equal(sp.offset, -4 * 3600);
	assert_int_equal(sp.isdst, 1);
	/* ends 2026-11-01 02:00 EDT = 06:00Z */
	assert_int_equal(sp.end, 1793512800);
	assert_int_equal(tz_offset_at(ny, 1772953199), -5 * 3600);
	/* Lord Howe: +11 until 2026-04-05 02:00 local (15:00Z on the 4th) */
	assert_int_equal(tz_offset_at(lh, 1775314799), 11 * 3600);
	assert_int_equal(tz_offset_at(lh, 1775314800), 10 * 3600 + 1800);
	/* 2100: rules from the footer */
	tz_span_at(ny, 4107542400, &sp);	/* 2100-03-01 */
	assert_int_equal(sp.offset, -5 * 3600);
	assert_int_equal(sp.end, 4108690800);	/* 2100-03-14 07:00Z */
	/* Apia skipped 2011-12-30 entirely */
	assert_int_equal(tz_offset_at(apia, 1325239199), -10 * 3600);
	assert_int_equal(tz_offset_at(apia, 1325239200), 14 * 3600);
}

/* POSIX rule strings as TZ, with no zone files to find. */
static void
test_posix_rules(void **state)
{
	static const char *rules[] = {
		"EST5EDT,M3.2.0,M11.1.0",
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
		"IST-1GMT0,M10.5.0,M3.5.0/1",
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"AAA3BBB,J60/2,J300/3",
		"AAA3BBB,59/2,299/3",
		"<-03>3<-02>,M3.2.0/-25,M11.1.0/49",
		"XXX-5:30",
		"<+0545>-5:45",
	};
	char dir[] = "/tmp/test_tz.XXXXXX";
	const struct tz *z;
	size_t i;
	int64_t t;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("TZDIR", dir, 1);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		tz_cache_clear();
		glibc_zone(rules[i]);
		z = get(NULL);
		assert_string_equal(tz_name(z), "localtime");
		check_spans(rules[i], z);
		for (t = T1970; t < T2150; t += 86400 * 3 + 3607)
			check_instant(rules[i], z, t);
	}
	/* DST all year (RFC 8536); glibc leaves the first hours of each UTC
	 * year in standard time, so this one is checked by hand */
	tz_cache_clear();
	setenv("TZ", "EST5EDT,0/0,J365/25", 1);
	z = get(NULL);
	for (t = T1970; t < T2150; t += 3600 * 7 + 13)
		assert_int_equal(tz_offset_at(z, t), -4 * 3600);
	/* "UTC" works without any file */
	tz_cache_clear();
	z = get("UTC");
	assert_int_equal(tz_offset_at(z, 1772953200), 0);
	assert_int_equal(tz_offset_at(z, INT64_MAX), 0);
	tz_cache_clear();
	unsetenv("TZDIR");
	rmdir(dir);
}

static void
test_local_zone(void **state)
{
	const struct tz *z;

	(void)state;
	tz_cache_clear();
	setenv("TZ", ":Europe/Berlin", 1);
	z = get(NULL);
	assert_string_equal(tz_name(z), "localtime");
	assert_ptr_equal(get(""), z);
	assert_int_equal(tz_offset_at(z, 1772953200), 3600);
	tz_cache_clear();
	setenv("TZ", "Australia/Lord_Howe", 1);
	assert_int_equal(tz_offset_at(get(NULL), 1775314800), 37800);
	tz_cache_clear();
	setenv("TZ", "", 1);
	assert_int_equal(tz_offset_at(get(NULL), 1775314800), 0);
	tz_cache_clear();
	unsetenv("TZ");
	get(NULL);		/* /etc/localtime or UTC: must not fail */
	tz_cache_clear();
}

static void
test_bad_names(void **state)
{
	static const char *bad[] = {
		"../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd",
		"Europe/Ber\nlin", "..", "a\x7f",
	};
	const struct tz *z = NULL;
	const char *errstr = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tz_get(bad[i], &z, &errstr), ERR_PARSE);
		assert_string_equal(errstr, "invalid time zone name");
	}
	assert_int_equal(tz_get("Mars/Olympus_Mons", &z, &errstr), ERR_NOTFOUND);
	assert_string_equal(errstr, "unknown time zone");
	assert_int_equal(tz_get("Europe", &z, &errstr), ERR_NOTFOUND);	/* a directory */
}

static void
test_corrupt_file(void **state)
{
	char dir[] = "/tmp/test_tz.XXXXXX", path[256];
	const struct tz *z = NULL;
	const char *errstr = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Bad", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("TZif2 this is not a real zone file, just long enough to try", f);
	fclose(f);
	setenv("TZDIR", dir, 1);
	assert_int_equal(tz_get("Bad", &z, &errstr), ERR_PARSE);
	unsetenv("TZDIR");
	unlink(path);
	rmdir(dir);
}

static void
check_format(const char *zone, int64_t t, const char *want)
{
	char buf[64];
	int64_t back = 0;
	const char *errstr = NULL;

	assert_int_equal(tz_format_iso8601(get(zone), t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(tz_parse_iso8601(get("UTC"), buf, &back, &errstr), 0);
	assert_int_equal(back, t);
}

static void
test_format(void **state)
{
	char buf[64];

	(void)state;
	check_format("America/New_York", 1772955000, "2026-03-08T03:30:00-04:00");
	check_format("America/New_York", 1772951400, "2026-03-08T01:30:00-05:00");
	check_format("Australia/Lord_Howe", 1775313000, "2026-04-05T01:30:00+11:00");
	check_format("Australia/Lord_Howe", 1775314800, "2026-04-05T01:30:00+10:30");
	check_format("Asia/Kolkata", 0, "1970-01-01T05:30:00+05:30");
	check_format("UTC", 4102444800, "2100-01-01T00:00:00+00:00");
	/* Amsterdam kept +00:19:32 until 1937 */
	check_format("Europe/Amsterdam", -1420070400, "1925-01-01T00:19:32+00:19:32");
	assert_int_equal(tz_format_iso8601(get("UTC"), 0, buf, 10), -ENOSPC);
}

static void
test_format_parse_roundtrip(void **state)
{
	const char *errstr = NULL;
	char buf[64];
	size_t i;
	int64_t t, back;
	int k;

	(void)state;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		for (k = 0; k < 2000; k++) {
			t = T1970 + (int64_t)(rng() % (uint64_t)(T2150 - T1970));
			assert_int_equal(tz_format_iso8601(get(zones[i]), t, buf,
			    sizeof(buf)), 0);
			assert_int_equal(tz_parse_iso8601(get(zones[i]), buf,
			    &back, &errstr), 0);
			assert_int_equal(back, t);
			/* without the offset: local time in the zone; the same
			 * instant unless it is the second of a repeated time */
			buf[19] = '\0';
			assert_int_equal(tz_parse_iso8601(get(zones[i]), buf,
			    &back, &errstr), 0);
			if (back != t)
				assert_true(back < t && tz_offset_at(get(zones[i]),
				    back) > tz_offset_at(get(zones[i]), t));
		}
	}
}

static int64_t
parse_ok(const char *zone, const char *s)
{
	const char *errstr = NULL;
	int64_t t = 0;

	if (tz_parse_iso8601(get(zone), s, &t, &errstr) != 0)
		fail_msg("parse %s: %s", s, errstr);
	return t;
}

static void
test_parse_gap_fold(void **state)
{
	(void)state;
	/* New York, spring: 02:30 does not exist -> 03:30 EDT */
	assert_int_equal(parse_ok("America/New_York", "2026-03-08T02:30"),
	    parse_ok("UTC", "2026-03-08T03:30:00-04:00"));
	assert_int_equal(parse_ok("America/New_York", "2026-03-08T02:00:00"),
	    parse_ok("UTC", "2026-03-08T03:00-04:00"));
	assert_int_equal(parse_ok("America/New_York", "2026-03-08T03:00:00"),
	    parse_ok("UTC", "2026-03-08T03:00-04:00"));
	/* New York, fall: 01:30 happens twice -> the first (EDT) */
	assert_int_equal(parse_ok("America/New_York", "2026-11-01T01:30"),
	    parse_ok("UTC", "2026-11-01T01:30-04:00"));
	assert_int_equal(parse_ok("America/New_York", "2026-11-01 02:00"),
	    parse_ok("UTC", "2026-11-01T02:00-05:00"));
	/* Berlin */
	assert_int_equal(parse_ok("Europe/Berlin", "2026-03-29T02:15:00"),
	    parse_ok("UTC", "2026-03-29T03:15:00+02:00"));
	assert_int_equal(parse_ok("Europe/Berlin", "2026-10-25T02:15:00"),
	    parse_ok("UTC", "2026-10-25T02:15:00+02:00"));
	/* Lord Howe: 30-minute gap and fold */
	assert_int_equal(parse_ok("Australia/Lord_Howe", "2026-10-04T02:15"),
	    parse_ok("UTC", "2026-10-04T02:45+11:00"));
	assert_int_equal(parse_ok("Australia/Lord_Howe", "2026-04-05T01:45"),
	    parse_ok("UTC", "2026-04-05T01:45+11:00"));
	assert_int_equal(parse_ok("Australia/Lord_Howe", "2026-04-05T02:00"),
	    parse_ok("UTC", "2026-04-05T02:00+10:30"));
	/* Apia: the whole of 2011-12-30 is missing */
	assert_int_equal(parse_ok("Pacific/Apia", "2011-12-30T12:00"),
	    parse_ok("UTC", "2011-12-31T12:00+14:00"));
	/* forms */
	assert_int_equal(parse_ok("America/New_York", "2026-07-04"),
	    parse_ok("UTC", "2026-07-04T04:00:00Z"));
	assert_int_equal(parse_ok("UTC", "2026-07-04t10:00:00z"), 1783159200);
	assert_int_equal(parse_ok("UTC", "2026-07-04T15:30:00+0530"), 1783159200);
	assert_int_equal(parse_ok("UTC", "2026-07-04T05:00:00-05"), 1783159200);
	assert_int_equal(parse_ok("UTC", "2024-02-29T00:00:00Z"), 1709164800);
	assert_int_equal(parse_ok("UTC", "1969-12-31T23:59:59Z"), -1);
}

static void
test_parse_errors(void **state)
{
	static const struct { const char *s; int r; const char *err; } bad[] = {
		{ "", ERR_PARSE, NULL },
		{ "2026", ERR_PARSE, NULL },
		{ "2026-3-8", ERR_PARSE, NULL },
		{ "26-03-08", ERR_PARSE, NULL },
		{ "2026-03-08T10", ERR_PARSE, NULL },
		{ "2026-03-08T10:0", ERR_PARSE, NULL },
		{ "2026-03-08T10:00:0", ERR_PARSE, NULL },
		{ "2026-03-08T10:00:00.5", ERR_PARSE, NULL },
		{ "2026-03-08T10:00:00 ", ERR_PARSE, NULL },
		{ "2026-03-08T10:00+1", ERR_PARSE, NULL },
		{ "2026-03-08T10:00Zjunk", ERR_PARSE, NULL },
		{ "2026-03-08x", ERR_PARSE, NULL },
		{ "2026-13-01", ERR_RANGE, "month out of range 01-12" },
		{ "2026-00-01", ERR_RANGE, "month out of range 01-12" },
		{ "2026-02-29", ERR_RANGE, "day out of range for the month" },
		{ "2026-04-31", ERR_RANGE, "day out of range for the month" },
		{ "2026-04-00", ERR_RANGE, "day out of range for the month" },
		{ "2026-04-01T24:00", ERR_RANGE, "hour out of range 00-23" },
		{ "2026-04-01T23:60", ERR_RANGE, "minute out of range 00-59" },
		{ "2026-04-01T23:59:60", ERR_RANGE, "second out of range 00-59" },
		{ "2026-04-01T23:59:00+24:00", ERR_RANGE, "offset out of range" },
		{ "2026-04-01T23:59:00+01:60", ERR_RANGE, "offset out of range" },
	};
	const char *errstr;
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errstr = NULL;
		if (tz_parse_iso8601(get("UTC"), bad[i].s, &t, &errstr) != bad[i].r)
			fail_msg("\"%s\" should fail with %d", bad[i].s, bad[i].r);
		assert_non_null(errstr);
		if (bad[i].err != NULL)
			assert_string_equal(errstr, bad[i].err);
	}
	assert_int_equal(tz_parse_iso8601(get("UTC"), NULL, &t, &errstr), ERR_PARSE);
}

static void
test_mktime(void **state)
{
	const struct tz *ny = get("America/New_York");
	struct tm tm;

	(void)state;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 126;
	tm.tm_mon = 2;
	tm.tm_mday = 8;
	tm.tm_hour = 2;
	tm.tm_min = 30;
	tm.tm_isdst = 0;		/* ignored */
	assert_int_equal(tz_mktime(ny, &tm), parse_ok("UTC", "2026-03-08T03:30-04:00"));
	tm.tm_mon = 14;			/* normalised: 2027-03-08 */
	tm.tm_hour = 12;
	assert_int_equal(tz_mktime(ny, &tm), parse_ok("UTC", "2027-03-08T12:30-05:00"));
	tm.tm_mon = -1;			/* 2025-12-08 */
	tm.tm_mday = 40;		/* 2026-01-09 */
	assert_int_equal(tz_mktime(ny, &tm), parse_ok("UTC", "2026-01-09T12:30-05:00"));
	/* localtime and mktime invert each other outside gaps and folds */
	tz_localtime(ny, 1790000000, &tm);
	assert_int_equal(tz_mktime(ny, &tm), 1790000000);
}

static void
test_extremes(void **state)
{
	const struct tz *ny = get("America/New_York");
	struct tz_span sp;
	struct tm tm;
	char buf[64];

	(void)state;
	tz_span_at(ny, INT64_MAX, &sp);
	assert_true(sp.start <= INT64_MAX && sp.end == INT64_MAX);
	tz_span_at(ny, INT64_MIN, &sp);
	assert_true(sp.start == INT64_MIN && sp.end > INT64_MIN);
	tz_localtime(ny, INT64_MAX, &tm);
	tz_localtime(ny, INT64_MIN, &tm);
	assert_int_equal(tz_format_iso8601(ny, INT64_MAX, buf, sizeof(buf)), 0);
	/* tz_mktime takes any int fields without overflowing */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = INT32_MAX;
	tm.tm_mon = INT32_MAX;
	tm.tm_mday = INT32_MAX;
	tm.tm_hour = INT32_MAX;
	tm.tm_min = INT32_MAX;
	tm.tm_sec = INT32_MAX;
	tz_mktime(ny, &tm);
	tm.tm_year = INT32_MIN;
	tm.tm_mon = INT32_MIN;
	tm.tm_mday = INT32_MIN;
	tm.tm_hour = INT32_MIN;
	tm.tm_min = INT32_MIN;
	tm.tm_sec = INT32_MIN;
	tz_mktime(ny, &tm);
	tz_mktime(get("UTC"), &tm);
	/* year 10000+ in a rule zone still alternates */
	assert_int_not_equal(tz_offset_at(ny, INT64_C(320000000000)),
	    tz_offset_at(ny, INT64_C(320000000000) + 86400 * 180));
}

static void *
getter(void *arg)
{
	const struct tz **out = arg;
	const char *errstr;

	if (tz_get("Asia/Tokyo", out, &errstr) != 0)
		*out = NULL;
	return NULL;
}

static void
test_threads_share(void **state)
{
	pthread_t th[8];
	const struct tz *got[8];
	int i;

	(void)state;
	tz_cache_clear();
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, getter, &got[i]), 0);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 8; i++)
		assert_ptr_equal(got[i], get("Asia/Tokyo"));
	assert_string_equal(tz_name(got[0]), "Asia/Tokyo");
	tz_cache_clear();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_zones_match_glibc, reset_env),
		cmocka_unit_test_setup(test_known_transitions, reset_env),
		cmocka_unit_test_setup(test_posix_rules, reset_env),
		cmocka_unit_test_setup(test_local_zone, reset_env),
		cmocka_unit_test_setup(test_bad_names, reset_env),
		cmocka_unit_test_setup(test_corrupt_file, reset_env),
		cmocka_unit_test_setup(test_format, reset_env),
		cmocka_unit_test_setup(test_format_parse_roundtrip, reset_env),
		cmocka_unit_test_setup(test_parse_gap_fold, reset_env),
		cmocka_unit_test_setup(test_parse_errors, reset_env),
		cmocka_unit_test_setup(test_mktime, reset_env),
		cmocka_unit_test_setup(test_extremes, reset_env),
		cmocka_unit_test_setup(test_threads_share, reset_env),
	};
	int r;

	unsetenv("TZDIR");
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tz_cache_clear();
	return r;
}
