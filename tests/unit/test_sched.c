/*
 * test_sched.c - cron parsing, next-fire search, DST handling and interval
 * schedules.
 *
 * Expected fire times are written as ISO 8601 with the zone's offset, so a
 * failure shows the wall clock and the offset that were expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/sched.h"
#include "distcron/tz.h"

static const struct tz *
zone(const char *name)
{
	const struct tz *z = NULL;
	const char *errstr = NULL;

	if (tz_get(name, &z, &errstr) != 0)
		fail_msg("tz_get(%s): %s", name, errstr);
	return z;
}

/* An instant from ISO 8601; without an offset, local to zone z. */
static int64_t
at(const char *z, const char *iso)
{
	const char *errstr = NULL;
	int64_t t = 0;

	if (tz_parse_iso8601(zone(z), iso, &t, &errstr) != 0)
		fail_msg("bad time %s: %s", iso, errstr);
	return t;
}

static struct sched *
parse_key(const char *z, const char *expr, const char *key)
{
	struct sched *s = NULL;
	const char *errstr = NULL;
	int r;

	if ((r = sched_parse_cron(expr, key, zone(z), &s, &errstr)) != 0)
		fail_msg("\"%s\": %d %s", expr, r, errstr);
	return s;
}

static struct sched *
parse(const char *z, const char *expr)
{
	return parse_key(z, expr, "job");
}

/*
 * Checks that the fire times of s after `after` (local to z) are exactly
 * the NULL-terminated list want, formatted in z.
 */
static void
expect_seq_s(const char *z, struct sched *s, const char *after,
    const char *const *want)
{
	char buf[64];
	int64_t t = at(z, after), n = 0;
	int i, r;

	for (i = 0; want[i] != NULL; i++) {
		if ((r = sched_next(s, t, &n)) != 0)
			fail_msg("\"%s\" #%d: sched_next returned %d", sched_text(s),
			    i, r);
		assert_true(n > t);
		assert_int_equal(tz_format_iso8601(zone(z), n, buf, sizeof(buf)), 0);
		if (strcmp(buf, want[i]) != 0)
			fail_msg("\"%s\" in %s after %s, #%d: got %s, want %s",
			    sched_text(s), z, after, i, buf, want[i]);
		t = n;
	}
}

static void
expect_seq(const char *z, const char *expr, const char *after,
    const char *const *want)
{
	struct sched *s = parse(z, expr);

	expect_seq_s(z, s, after, want);
	sched_free(s);
}

#define SEQ(...)	((const char *const[]){ __VA_ARGS__, NULL })

static void
expect_err(const char *expr, int code, const char *msg)
{
	struct sched *s = NULL;
	const char *errstr = NULL;
	int r;

	r = sched_parse_cron(expr, "job", zone("UTC"), &s, &errstr);
	if (r != code)
		fail_msg("\"%s\": got %d (%s), want %d", expr, r,
		    r ? errstr : "ok", code);
	assert_null(s);
	if (msg != NULL && strcmp(errstr, msg) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", expr, errstr, msg);
}

static void
test_lists_ranges_steps(void **state)
{
	(void)state;
	expect_seq("UTC", "5,10-12,*/20 * * * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00",
	    "2026-01-01T00:11:00+00:00", "2026-01-01T00:12:00+00:00",
	    "2026-01-01T00:20:00+00:00", "2026-01-01T00:40:00+00:00",
	    "2026-01-01T01:00:00+00:00"));
	expect_seq("UTC", "10/20 * * * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-01T00:10:00+00:00", "2026-01-01T00:30:00+00:00",
	    "2026-01-01T00:50:00+00:00", "2026-01-01T01:10:00+00:00"));
	expect_seq("UTC", "0 9-17/4 * * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-01T09:00:00+00:00", "2026-01-01T13:00:00+00:00",
	    "2026-01-01T17:00:00+00:00", "2026-01-02T09:00:00+00:00"));
	expect_seq("UTC", "0 0 1 jan,Mar *", "2026-01-01T00:00:00",
	    SEQ("2026-03-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"));
	expect_seq("UTC", "0 0 1 FEB-apr/2 *", "2026-01-01T00:00:00",
	    SEQ("2026-02-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00",
	    "2027-02-01T00:00:00+00:00"));
	/* 2026-01-01 is a Thursday */
	expect_seq("UTC", "0 0 * * mon-FRI", "2026-01-01T00:00:00",
	    SEQ("2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * 7", "2026-01-01T00:00:00",
	    SEQ("2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * 5-7", "2026-01-01T00:00:00",
	    SEQ("2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
	    "2026-01-04T00:00:00+00:00", "2026-01-09T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * SAT-SUN", "2026-01-01T00:00:00",
	    SEQ("2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
	    "2026-01-10T00:00:00+00:00"));
	expect_seq("UTC", "0 0 ? * 0", "2026-01-01T00:00:00",
	    SEQ("2026-01-04T00:00:00+00:00"));
	expect_seq("UTC", "59 23 31 12 *", "2026-06-01T00:00:00",
	    SEQ("2026-12-31T23:59:00+00:00", "2027-12-31T23:59:00+00:00"));
}

static void
test_seconds_field(void **state)
{
	(void)state;
	expect_seq("UTC", "*/20 * * * * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00",
	    "2026-01-01T00:01:00+00:00"));
	expect_seq("UTC", "30 0 0 1 1 *", "2026-01-01T00:00:00",
	    SEQ("2026-01-01T00:00:30+00:00", "2027-01-01T00:00:30+00:00"));
	expect_seq("UTC", "15,45 30 12 * * MON", "2026-01-01T00:00:00",
	    SEQ("2026-01-05T12:30:15+00:00", "2026-01-05T12:30:45+00:00",
	    "2026-01-12T12:30:15+00:00"));
}

static void
test_errors(void **state)
{
	(void)state;
	expect_err("0 0 32 * *", ERR_RANGE, "day-of-month: 32 out of range 1-31");
	expect_err("0 0 0 * *", ERR_RANGE, "day-of-month: 0 out of range 1-31");
	expect_err("*/0 * * * *", ERR_RANGE, "minute: step must be at least 1");
	expect_err("0 ab * * *", ERR_PARSE, "hour: bad value \"ab\"");
	expect_err("0 0 * * * * *", ERR_PARSE, "expected 5 or 6 fields, got 7");
	expect_err("0 0 * *", ERR_PARSE, "expected 5 or 6 fields, got 4");
	expect_err("", ERR_PARSE, "expected 5 or 6 fields, got 0");
	expect_err("@foo", ERR_PARSE, "unknown macro \"@foo\"");
	expect_err("@reboot", ERR_PARSE, "unknown macro \"@reboot\"");
	expect_err("0 0 31 2 *", ERR_NEVER,
	    "never fires (day 31 never occurs in month 2)");
	expect_err("0 0 30 2 *", ERR_NEVER,
	    "never fires (day 30 never occurs in month 2)");
	expect_err("0 0 31 4,6 *", ERR_NEVER,
	    "never fires (day 31 never occurs in months 4,6)");
	expect_err("0 0 L-30 2 *", ERR_NEVER, "never fires");
	expect_err("60 * * * *", ERR_RANGE, "minute: 60 out of range 0-59");
	expect_err("0 24 * * *", ERR_RANGE, "hour: 24 out of range 0-23");
	expect_err("0 0 * 13 *", ERR_RANGE, "month: 13 out of range 1-12");
	expect_err("0 0 * * 8", ERR_RANGE, "day-of-week: 8 out of range 0-7");
	expect_err("60 * * * * *", ERR_RANGE, "second: 60 out of range 0-59");
	expect_err("0 0 * JANUARY *", ERR_PARSE, "month: bad value \"JANUARY\"");
	expect_err("0 0 * * FRY", ERR_PARSE, "day-of-week: bad value \"FRY\"");
	expect_err("JAN * * * *", ERR_PARSE, "minute: bad value \"JAN\"");
	expect_err("1,,2 * * * *", ERR_PARSE, "minute: empty list item");
	expect_err("5-1 * * * *", ERR_RANGE, "minute: range 5-1 runs backwards");
	expect_err("-5 * * * *", ERR_PARSE, "minute: bad value \"-5\"");
	expect_err("5- * * * *", ERR_PARSE, "minute: bad value \"5-\"");
	expect_err("*/x * * * *", ERR_PARSE, "minute: bad step \"x\"");
	expect_err("*/61 * * * *", ERR_RANGE, "minute: step 61 out of range 1-60");
	expect_err("0 0 * * 5#6", ERR_RANGE,
	    "day-of-week: bad occurrence \"#6\" (use #1 to #5)");
	expect_err("0 0 * * #2", ERR_PARSE, "day-of-week: bad value \"#2\"");
	expect_err("0 0 L-31 * *", ERR_PARSE, "day-of-month: bad value \"L-31\"");
	expect_err("0 0 LW * *", ERR_PARSE, "day-of-month: bad value \"LW\"");
	expect_err("? * * * *", ERR_PARSE, "minute: bad value \"?\"");
	expect_err("H(5-70) * * * *", ERR_RANGE, "minute: 70 out of range 0-59");
	expect_err("H(30-5) * * * *", ERR_RANGE, "minute: range 30-5 runs backwards");
	expect_err("H5 * * * *", ERR_PARSE, "minute: bad value \"H5\"");
	expect_err("99999999999 * * * *", ERR_RANGE,
	    "minute: 99999999999 out of range 0-59");
	expect_err("@daily now", ERR_PARSE, "@daily takes no argument");
	expect_err("@every", ERR_PARSE, "@every: empty duration");
	expect_err("@every 0s", ERR_RANGE, "@every: interval must be at least 1s");
	expect_err("@every 1500ms", ERR_RANGE,
	    "@every: interval must be a whole number of seconds");
	expect_err("@every 10", ERR_PARSE,
	    "@every: missing or unknown unit (use ms, s, m, h or d)");
	expect_err(NULL, ERR_PARSE, "expected 5 or 6 fields, got 0");
}

static void
test_vixie_or_rule(void **state)
{
	(void)state;
	/* both restricted: the 13th OR any Friday (2026-01-02 is a Friday) */
	expect_seq("UTC", "0 0 13 * FRI", "2026-01-01T00:00:00",
	    SEQ("2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
	    "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"));
	/* Friday the 13th needs a star-less AND: with "*" only one counts */
	expect_seq("UTC", "0 0 13 * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * FRI", "2026-01-01T00:00:00",
	    SEQ("2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00"));
	/* "*" with a step still counts as unrestricted: AND (odd days that
	 * are Mondays) */
	expect_seq("UTC", "0 0 */2 * MON", "2026-01-01T00:00:00",
	    SEQ("2026-01-05T00:00:00+00:00", "2026-01-19T00:00:00+00:00",
	    "2026-02-09T00:00:00+00:00"));
	/* the 1st when it is a Sunday, Wednesday or Saturday */
	expect_seq("UTC", "0 0 1 * */3", "2026-01-01T00:00:00",
	    SEQ("2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00",
	    "2026-04-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00"));
	/* L with a weekday: the last day OR the weekday */
	expect_seq("UTC", "0 0 L * MON", "2026-01-20T00:00:00",
	    SEQ("2026-01-26T00:00:00+00:00", "2026-01-31T00:00:00+00:00",
	    "2026-02-02T00:00:00+00:00"));
}

static void
test_last_and_nth(void **state)
{
	(void)state;
	expect_seq("UTC", "0 0 L * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00",
	    "2026-03-31T00:00:00+00:00", "2026-04-30T00:00:00+00:00"));
	expect_seq("UTC", "0 0 L 2 *", "2027-03-01T00:00:00",
	    SEQ("2028-02-29T00:00:00+00:00", "2029-02-28T00:00:00+00:00"));
	expect_seq("UTC", "0 0 L-3 * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-28T00:00:00+00:00", "2026-02-25T00:00:00+00:00"));
	expect_seq("UTC", "0 0 1,L * *", "2026-01-01T00:00:00",
	    SEQ("2026-01-31T00:00:00+00:00", "2026-02-01T00:00:00+00:00",
	    "2026-02-28T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * 5#2", "2026-01-01T00:00:00",
	    SEQ("2026-01-09T00:00:00+00:00", "2026-02-13T00:00:00+00:00",
	    "2026-03-13T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * FRI#2,mon#1", "2026-01-01T00:00:00",
	    SEQ("2026-01-05T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
	    "2026-02-02T00:00:00+00:00", "2026-02-13T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * 5L", "2026-01-01T00:00:00",
	    SEQ("2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00",
	    "2026-03-27T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * SUNL", "2026-01-01T00:00:00",
	    SEQ("2026-01-25T00:00:00+00:00", "2026-02-22T00:00:00+00:00"));
	/* months with five Mondays in 2026: March, June, August, November */
	expect_seq("UTC", "0 0 * * 1#5", "2026-01-01T00:00:00",
	    SEQ("2026-03-30T00:00:00+00:00", "2026-06-29T00:00:00+00:00",
	    "2026-08-31T00:00:00+00:00", "2026-11-30T00:00:00+00:00"));
	expect_seq("UTC", "0 0 * * 7#1", "2026-01-01T00:00:00",
	    SEQ("2026-01-04T00:00:00+00:00", "2026-02-01T00:00:00+00:00"));
}

static void
check_text(const char *expr, const char *text)
{
	struct sched *s = parse("UTC", expr);

	assert_string_equal(sched_text(s), text);
	sched_free(s);
}

static void
test_macros(void **state)
{
	(void)state;
	expect_seq("UTC", "@yearly", "2026-05-01T00:00:00",
	    SEQ("2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"));
	expect_seq("UTC", "@annually", "2026-05-01T00:00:00",
	    SEQ("2027-01-01T00:00:00+00:00"));
	expect_seq("UTC", "@monthly", "2026-05-01T00:00:00",
	    SEQ("2026-06-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00"));
	expect_seq("UTC", "@weekly", "2026-05-01T00:00:00",
	    SEQ("2026-05-03T00:00:00+00:00", "2026-05-10T00:00:00+00:00"));
	expect_seq("UTC", "@daily", "2026-05-01T00:00:00",
	    SEQ("2026-05-02T00:00:00+00:00", "2026-05-03T00:00:00+00:00"));
	expect_seq("UTC", "@midnight", "2026-05-01T00:00:00",
	    SEQ("2026-05-02T00:00:00+00:00"));
	expect_seq("UTC", "@hourly", "2026-05-01T00:00:00",
	    SEQ("2026-05-01T01:00:00+00:00", "2026-05-01T02:00:00+00:00"));
	expect_seq("America/New_York", "@DAILY", "2026-05-01T00:00:00",
	    SEQ("2026-05-02T00:00:00-04:00"));
	check_text("@daily", "@daily");
	check_text("  @HOURLY ", "@hourly");
	check_text(" */5  *\t* * * ", "*/5 * * * *");
	check_text("0 0 1 jan *", "0 0 1 jan *");
	check_text("@every 90s", "@every 1m30s");
	check_text("@every 10m \n", "@every 10m");
	check_text("\t0 0 * * *\n", "0 0 * * *");
}

static void
test_every(void **state)
{
	struct sched *a = parse("America/New_York", "@every 10m");
	struct sched *b = parse("America/New_York", "@every 7h");

	(void)state;
	/* aligned to local midnight, not to when the daemon started */
	expect_seq_s("America/New_York", a, "2026-05-01T00:03:17",
	    SEQ("2026-05-01T00:10:00-04:00", "2026-05-01T00:20:00-04:00"));
	expect_seq_s("America/New_York", a, "2026-05-01T23:55:00",
	    SEQ("2026-05-02T00:00:00-04:00"));
	/* 7h does not divide a day: steps from 1970-01-01 00:00 local
	 * (05:00Z); 2026-05-01T00:00Z is 493771 hours after that, 5 past a
	 * multiple of 7 */
	expect_seq_s("America/New_York", b, "2026-05-01T00:00:00Z",
	    SEQ("2026-04-30T22:00:00-04:00", "2026-05-01T05:00:00-04:00"));
	sched_free(a);
	sched_free(b);
	expect_seq("UTC", "@every 1s", "2026-05-01T00:00:00",
	    SEQ("2026-05-01T00:00:01+00:00", "2026-05-01T00:00:02+00:00"));
}

static struct sched *
interval(const char *z, int64_t iv, int32_t ref)
{
	struct sched *s = NULL;
	const char *errstr = NULL;

	if (sched_new_interval(iv, ref, zone(z), &s, &errstr) != 0)
		fail_msg("interval: %s", errstr);
	return s;
}

/*
 * The same ticks whatever `after` is: every tick of the sequence computed
 * from one start must be what sched_next gives from any instant before it.
 */
static void
check_start_independence(const char *z, struct sched *s, const char *from,
    int n)
{
	int64_t ticks[64], t = at(z, from), u, got;
	int i, k;

	assert_true(n <= 64);
	for (i = 0; i < n; i++) {
		assert_int_equal(sched_next(s, t, &ticks[i]), 0);
		t = ticks[i];
	}
	for (i = 1; i < n; i++) {
		for (k = 0; k < 5; k++) {
			u = ticks[i - 1] + (int64_t)((ticks[i] - ticks[i - 1]) * k / 5);
			assert_int_equal(sched_next(s, u, &got), 0);
			assert_int_equal(got, ticks[i]);
		}
		assert_int_equal(sched_next(s, ticks[i] - 1, &got), 0);
		assert_int_equal(got, ticks[i]);
	}
}

static void
test_interval(void **state)
{
	struct sched *s;
	const char *errstr = NULL;
	int64_t t, n;
	int i;

	(void)state;
	s = interval("America/New_York", 600, 3 * 3600 + 600);
	assert_string_equal(sched_text(s), "every 10m from 03:10");
	expect_seq_s("America/New_York", s, "2026-05-01T03:05:00",
	    SEQ("2026-05-01T03:10:00-04:00", "2026-05-01T03:20:00-04:00",
	    "2026-05-01T03:30:00-04:00"));
	check_start_independence("America/New_York", s, "2026-03-07T22:00", 64);
	sched_free(s);

	/* 8h from 03:10: 03:10, 11:10, 19:10 each day, DST or not: the
	 * 25-hour day gets no extra tick an hour before the next 03:10 */
	s = interval("America/New_York", 8 * 3600, 3 * 3600 + 600);
	assert_string_equal(sched_text(s), "every 8h from 03:10");
	expect_seq_s("America/New_York", s, "2026-03-07T12:00",
	    SEQ("2026-03-07T19:10:00-05:00", "2026-03-08T03:10:00-04:00",
	    "2026-03-08T11:10:00-04:00"));
	expect_seq_s("America/New_York", s, "2026-10-31T12:00",
	    SEQ("2026-10-31T19:10:00-04:00", "2026-11-01T03:10:00-05:00",
	    "2026-11-01T11:10:00-05:00"));
	check_start_independence("America/New_York", s, "2026-10-30T00:00", 12);
	sched_free(s);

	/* 10m keeps ticking every 600 s through the repeated hour */
	s = interval("America/New_York", 600, 3 * 3600 + 600);
	t = at("America/New_York", "2026-11-01T00:05");
	for (i = 0; i < 40; i++) {
		assert_int_equal(sched_next(s, t, &n), 0);
		assert_int_equal(n - t, i == 0 ? 300 : 600);
		t = n;
	}
	sched_free(s);

	/* the reference inside the spring gap: 02:30 becomes 03:30 that day */
	s = interval("America/New_York", 86400, 2 * 3600 + 1800);
	assert_string_equal(sched_text(s), "every 1d from 02:30");
	expect_seq_s("America/New_York", s, "2026-03-07T12:00",
	    SEQ("2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"));
	/* and at a repeated time, its first occurrence */
	s = (sched_free(s), interval("America/New_York", 86400, 3600 + 1800));
	expect_seq_s("America/New_York", s, "2026-10-31T12:00",
	    SEQ("2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"));
	sched_free(s);

	/* whole days: every other local day at 06:00, whatever the offset */
	s = interval("Europe/Berlin", 2 * 86400, 6 * 3600);
	assert_string_equal(sched_text(s), "every 2d from 06:00");
	expect_seq_s("Europe/Berlin", s, "2026-03-26T12:00",
	    SEQ("2026-03-28T06:00:00+01:00", "2026-03-30T06:00:00+02:00",
	    "2026-04-01T06:00:00+02:00"));
	check_start_independence("Europe/Berlin", s, "2026-03-20T00:00", 10);
	sched_free(s);

	s = interval("UTC", 3600, 30);
	assert_string_equal(sched_text(s), "every 1h from 00:00:30");
	expect_seq_s("UTC", s, "2026-05-01T00:00:30",
	    SEQ("2026-05-01T01:00:30+00:00"));
	sched_free(s);

	/* Lord Howe: 30-minute shifts keep 10-minute ticks on the grid */
	s = interval("Australia/Lord_Howe", 600, 0);
	check_start_independence("Australia/Lord_Howe", s, "2026-10-04T00:00", 64);
	check_start_independence("Australia/Lord_Howe", s, "2026-04-05T00:30", 64);
	sched_free(s);

	assert_int_equal(sched_new_interval(0, 0, zone("UTC"), &s, &errstr), ERR_RANGE);
	assert_string_equal(errstr, "interval must be between 1s and 50 years");
	assert_int_equal(sched_new_interval(60, -1, zone("UTC"), &s, &errstr), ERR_RANGE);
	assert_int_equal(sched_new_interval(60, 86400, zone("UTC"), &s, &errstr),
	    ERR_RANGE);
	assert_string_equal(errstr,
	    "reference must be a time of day, 00:00:00 to 23:59:59");
}

static void
test_dst_new_york(void **state)
{
	(void)state;
	/* spring forward 2026-03-08 02:00 -> 03:00 */
	expect_seq("America/New_York", "30 2 * * *", "2026-03-07T12:00",
	    SEQ("2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"));
	expect_seq("America/New_York", "0 2 * * *", "2026-03-07T12:00",
	    SEQ("2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"));
	expect_seq("America/New_York", "0 * * * *", "2026-03-08T00:30",
	    SEQ("2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00",
	    "2026-03-08T04:00:00-04:00"));
	/* fall back 2026-11-01 02:00 -> 01:00: 01:30 fires once, the first */
	expect_seq("America/New_York", "30 1 * * *", "2026-10-31T12:00",
	    SEQ("2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"));
	expect_seq("America/New_York", "0 * * * *", "2026-11-01T00:00",
	    SEQ("2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00",
	    "2026-11-01T03:00:00-05:00"));
	/* asked during the second 01:xx: the repeated times are not due */
	expect_seq("America/New_York", "30 1 * * *", "2026-11-01T01:10:00-05:00",
	    SEQ("2026-11-02T01:30:00-05:00"));
	expect_seq("America/New_York", "*/20 * * * *", "2026-11-01T01:10:00-05:00",
	    SEQ("2026-11-01T02:00:00-05:00"));
	/* every second of the missing hour: onto the hour after the jump */
	expect_seq("America/New_York", "* * 1,2 * * *", "2026-03-08T01:59:58",
	    SEQ("2026-03-08T01:59:59-05:00", "2026-03-08T03:00:00-04:00",
	    "2026-03-08T03:00:01-04:00"));
	expect_seq("America/New_York", "* * 1,2 * * *", "2026-03-08T03:59:58-04:00",
	    SEQ("2026-03-08T03:59:59-04:00", "2026-03-09T01:00:00-04:00"));
}

static void
test_dst_berlin_lord_howe(void **state)
{
	(void)state;
	expect_seq("Europe/Berlin", "30 2 * * *", "2026-03-28T12:00",
	    SEQ("2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"));
	expect_seq("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00",
	    SEQ("2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"));
	expect_seq("Europe/Berlin", "0 2,3 * * *", "2026-10-24T12:00",
	    SEQ("2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"));
	/* Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 2026-10-04 */
	expect_seq("Australia/Lord_Howe", "15 2 * * *", "2026-10-03T12:00",
	    SEQ("2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"));
	expect_seq("Australia/Lord_Howe", "*/20 * * * *", "2026-10-04T01:30",
	    SEQ("2026-10-04T01:40:00+10:30", "2026-10-04T02:30:00+11:00",
	    "2026-10-04T02:40:00+11:00", "2026-10-04T02:50:00+11:00",
	    "2026-10-04T03:00:00+11:00"));
	/* and 02:00 -> 01:30 on 2026-04-05 */
	expect_seq("Australia/Lord_Howe", "45 1 * * *", "2026-04-04T12:00",
	    SEQ("2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"));
	expect_seq("Australia/Lord_Howe", "*/20 * * * *", "2026-04-05T01:10",
	    SEQ("2026-04-05T01:20:00+11:00", "2026-04-05T01:40:00+11:00",
	    "2026-04-05T02:00:00+10:30", "2026-04-05T02:20:00+10:30"));
	/* Apia skipped 2011-12-30: its noon maps onto the 31st's noon */
	expect_seq("Pacific/Apia", "0 12 * * *", "2011-12-29T00:00",
	    SEQ("2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00",
	    "2012-01-01T12:00:00+14:00"));
}

/*
 * "*\/15 * * * *" across a whole transition day: strictly increasing,
 * no instant twice, and every wall clock quarter hour of the day fires
 * exactly once except those in the spring gap.
 */
static void
check_quarter_hours(const char *z, const char *day, const char *next_day,
    int want_fires, int gap_hour)
{
	struct sched *s = parse(z, "*/15 * * * *");
	int seen[24 * 4] = { 0 }, fires = 0, i;
	int64_t t = at(z, day) - 1, end = at(z, next_day), n, prev = INT64_MIN;
	struct tm tm;

	for (;;) {
		assert_int_equal(sched_next(s, t, &n), 0);
		if (n >= end)
			break;
		assert_true(n > prev);
		assert_int_equal(n % 900, 0);
		tz_localtime(zone(z), n, &tm);
		seen[tm.tm_hour * 4 + tm.tm_min / 15]++;
		prev = t = n;
		fires++;
	}
	assert_int_equal(fires, want_fires);
	for (i = 0; i < 96; i++)
		assert_int_equal(seen[i], i / 4 == gap_hour ? 0 : 1);
	sched_free(s);
}

static void
test_quarter_hours_across_dst(void **state)
{
	(void)state;
	check_quarter_hours("America/New_York", "2026-03-08", "2026-03-09", 92, 2);
	check_quarter_hours("America/New_York", "2026-11-01", "2026-11-02", 96, -1);
	check_quarter_hours("Europe/Berlin", "2026-03-29", "2026-03-30", 92, 2);
	check_quarter_hours("Europe/Berlin", "2026-10-25", "2026-10-26", 96, -1);
}

/*
 * The reference semantics, computed another way: in UTC a schedule fires
 * at exactly the matching civil times; mapping each through
 * tz_parse_iso8601 (first occurrence, gaps moved forward) and removing
 * duplicates must give the zone's fire times.
 */
static void
check_against_civil(const char *z, const char *expr, const char *from,
    int days)
{
	struct sched *u = parse("UTC", expr), *s = parse(z, expr);
	int64_t c = at("UTC", from) - 2 * 86400, cend = c + (int64_t)(days + 4) * 86400;
	int64_t want[4096], got, last = INT64_MIN, t0 = at(z, from);
	int64_t tend = t0 + (int64_t)days * 86400, inst;
	int n = 0, i, j;
	char iso[32];
	struct tm tm;

	while (sched_next(u, c, &c) == 0 && c < cend) {
		time_t tt = (time_t)c;

		gmtime_r(&tt, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
		inst = at(z, iso);
		if (inst <= t0 || inst > tend)
			continue;
		for (j = 0; j < n && want[j] != inst; j++)
			;
		if (j == n) {
			assert_true(n < 4096);
			want[n++] = inst;
		}
	}
	/* insertion sort: the mapping may reorder a few */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && want[j - 1] > want[j]; j--) {
			got = want[j];
			want[j] = want[j - 1];
			want[j - 1] = got;
		}
	got = t0;
	for (i = 0; i < n; i++) {
		assert_int_equal(sched_next(s, got, &got), 0);
		if (got != want[i])
			fail_msg("%s \"%s\" from %s: fire #%d at %lld, want %lld",
			    z, expr, from, i, (long long)got, (long long)want[i]);
		assert_true(got > last);
		last = got;
	}
	assert_int_equal(sched_next(s, got, &got), 0);
	if (got <= tend)
		fail_msg("%s \"%s\" from %s: extra fire at %lld after %d", z, expr,
		    from, (long long)got, n);
	sched_free(u);
	sched_free(s);
}

static void
test_dst_matches_civil_mapping(void **state)
{
	static const char *exprs[] = {
		"*/15 * * * *", "0 * * * *", "30 1,2,3 * * *", "*/7 1-3 * * *",
		"10,40 0-4 * * *", "0 0 * * *", "59 1 * * *", "*/20 2 * * *",
		"0 30 2 * * *", "*/45 * * * * *", "0 2 * * 0", "30 0 L * *",
		"0 0,1 * * *",
	};
	static const struct { const char *zone, *from; } days[] = {
		{ "America/New_York", "2026-03-07T00:00" },
		{ "America/New_York", "2026-10-31T00:00" },
		{ "Europe/Berlin", "2026-03-28T00:00" },
		{ "Europe/Berlin", "2026-10-24T00:00" },
		{ "Australia/Lord_Howe", "2026-04-04T00:00" },
		{ "Australia/Lord_Howe", "2026-10-03T00:00" },
		{ "Pacific/Apia", "2011-12-28T00:00" },
		{ "America/Sao_Paulo", "2018-11-03T00:00" },
		{ "America/Sao_Paulo", "2019-02-16T00:00" },
		{ "America/New_York", "2150-03-07T00:00" },
		{ "America/New_York", "2150-10-31T00:00" },
		{ "Europe/London", "2026-03-28T00:00" },
		{ "Europe/Berlin", "2123-10-29T00:00" },
		{ "Australia/Sydney", "2026-04-04T00:00" },
		{ "Australia/Lord_Howe", "2140-10-01T00:00" },
		{ "Australia/Lord_Howe", "2140-04-02T00:00" },
		{ "Europe/Dublin", "2026-10-24T00:00" },
		{ "America/Nuuk", "2026-03-27T00:00" },
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		for (k = 0; k < sizeof(exprs) / sizeof(exprs[0]); k++) {
			check_against_civil(days[i].zone, exprs[k], days[i].from,
			    strcmp(exprs[k], "*/45 * * * * *") == 0 ? 1 : 3);
		}
}

static void
test_strictly_after(void **state)
{
	struct sched *s = parse("UTC", "*/5 * * * *");
	int64_t t = at("UTC", "2026-01-01T00:05:00"), n;

	(void)state;
	assert_int_equal(sched_next(s, t, &n), 0);
	assert_int_equal(n, t + 300);
	assert_int_equal(sched_next(s, t - 1, &n), 0);
	assert_int_equal(n, t);
	sched_free(s);
	s = parse("UTC", "* * * * * *");
	assert_int_equal(sched_next(s, t, &n), 0);
	assert_int_equal(n, t + 1);
	sched_free(s);
	s = interval("UTC", 60, 0);
	assert_int_equal(sched_next(s, t, &n), 0);
	assert_int_equal(n, t + 60);
	sched_free(s);
}

static void
test_bounds(void **state)
{
	struct sched *s = parse("America/New_York", "@yearly");
	struct sched *feb29 = parse("UTC", "0 0 29 2 *");
	struct sched *rare = parse("UTC", "0 0 29 2 MON");
	struct sched *rarer = parse("UTC", "0 0 */28 2 */7");
	int64_t n;

	(void)state;
	assert_int_equal(sched_next(s, INT64_MAX, &n), ERR_NEVER);
	assert_int_equal(sched_next(s, INT64_MAX - 10, &n), ERR_NEVER);
	assert_int_equal(sched_next(s, at("UTC", "9999-12-31T23:59:59Z"), &n),
	    ERR_NEVER);
	assert_int_equal(sched_next(s, INT64_MIN, &n), 0);
	assert_int_equal(sched_next(s, at("UTC", "9998-06-01T00:00:00Z"), &n), 0);
	/* Feb 29 in 2096, then 2104: 2100 is no leap year */
	assert_int_equal(sched_next(feb29, at("UTC", "2096-03-01T00:00:00"), &n), 0);
	assert_int_equal(n, at("UTC", "2104-02-29T00:00:00"));
	/* OR: Feb 29 or any Monday in February */
	assert_int_equal(sched_next(rare, at("UTC", "2026-03-01T00:00:00"), &n), 0);
	assert_int_equal(n, at("UTC", "2027-02-01T00:00:00"));
	/* AND: a Feb 1 or 29 that is a Sunday: 2032-02-01 */
	assert_int_equal(sched_next(rarer, at("UTC", "2026-03-01T00:00:00"), &n), 0);
	assert_int_equal(n, at("UTC", "2032-02-01T00:00:00"));
	sched_free(s);
	sched_free(feb29);
	sched_free(rare);
	sched_free(rarer);
}

static void
test_hash(void **state)
{
	struct sched *s;
	char key[32];
	int buckets[60] = { 0 }, i, m, max = 0;
	int64_t base = at("UTC", "2026-01-01T00:00:00"), n, n2;
	struct sched *a, *b;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "job%d", i);
		s = parse_key("UTC", "H * * * *", key);
		assert_int_equal(sched_next(s, base - 1, &n), 0);
		m = (int)((n - base) / 60);
		assert_true(m >= 0 && m < 60);
		buckets[m]++;
		/* hourly: the next one is an hour later */
		assert_int_equal(sched_next(s, n, &n2), 0);
		assert_int_equal(n2 - n, 3600);
		sched_free(s);
	}
	for (i = 0; i < 60; i++) {
		assert_true(buckets[i] > 0);
		if (buckets[i] > max)
			max = buckets[i];
	}
	assert_true(max < 3 * 1000 / 60);

	/* stable: the same key gives the same times */
	a = parse_key("UTC", "H H * * *", "backup");
	b = parse_key("UTC", "H H * * *", "backup");
	assert_int_equal(sched_next(a, base, &n), 0);
	assert_int_equal(sched_next(b, base, &n2), 0);
	assert_int_equal(n, n2);
	sched_free(a);
	sched_free(b);
	/* no key: key "" */
	a = parse_key("UTC", "H H * * *", NULL);
	b = parse_key("UTC", "H H * * *", "");
	assert_int_equal(sched_next(a, base, &n), 0);
	assert_int_equal(sched_next(b, base, &n2), 0);
	assert_int_equal(n, n2);
	sched_free(a);
	sched_free(b);

	/* H(0-29)/10: one value in 0-9, then +10, +20 */
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		s = parse_key("UTC", "H(0-29)/10 * * * *", key);
		assert_int_equal(sched_next(s, base - 1, &n), 0);
		m = (int)((n - base) / 60);
		assert_true(m >= 0 && m < 10);
		assert_int_equal(sched_next(s, n, &n2), 0);
		assert_int_equal(n2 - n, 600);
		assert_int_equal(sched_next(s, n2, &n2), 0);
		assert_int_equal(n2 - n, 1200);
		assert_int_equal(sched_next(s, n2, &n2), 0);
		assert_int_equal(n2 - n, 3600);
		sched_free(s);
		s = parse_key("UTC", "H/15 * * * *", key);
		assert_int_equal(sched_next(s, base - 1, &n), 0);
		assert_true((n - base) / 60 < 15);
		assert_int_equal(sched_next(s, n, &n2), 0);
		assert_int_equal(n2 - n, 900);
		sched_free(s);
		/* H in day-of-month stays in 1-28; H in day-of-week in 0-6 */
		s = parse_key("UTC", "0 0 H * *", key);
		assert_int_equal(sched_next(s, at("UTC", "2026-02-01T00:00:00") - 1, &n), 0);
		assert_true(n < at("UTC", "2026-03-01T00:00:00"));
		sched_free(s);
		s = parse_key("UTC", "0 0 * * H", key);
		assert_int_equal(sched_next(s, base, &n), 0);
		assert_int_equal(sched_next(s, n, &n2), 0);
		assert_int_equal(n2 - n, 7 * 86400);
		sched_free(s);
		s = parse_key("UTC", "H(1-5) H(9-17) * * *", key);
		assert_int_equal(sched_next(s, base, &n), 0);
		assert_true((n - base) % 86400 >= 9 * 3600 + 60);
		assert_true((n - base) % 86400 <= 17 * 3600 + 300);
		sched_free(s);
	}
	/* different fields hash differently */
	s = parse_key("UTC", "H H * * *", "x");
	assert_string_equal(sched_text(s), "H H * * *");
	sched_free(s);
}

static void
test_many_random_nexts(void **state)
{
	static const char *exprs[] = {
		"*/7 3-20/2 * * *", "0 0 13 * FRI", "0 12 L * *", "0 9 * * 1#2",
		"5 4 * * SUN", "0 22 * * 1-5", "23 0-23/2 * * *", "0 0,12 1 */2 *",
		"@hourly", "*/10 * * * * *", "0 3 * * 5L",
	};
	static const char *zs[] = {
		"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC",
	};
	uint64_t x = 88172645463325252ULL;
	int64_t after, n, n2;
	struct sched *s;
	size_t i, k;
	int j;

	(void)state;
	for (i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
		for (k = 0; k < sizeof(zs) / sizeof(zs[0]); k++) {
			s = parse(zs[k], exprs[i]);
			for (j = 0; j < 300; j++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				after = (int64_t)(x % (UINT64_C(5680281600)));
				assert_int_equal(sched_next(s, after, &n), 0);
				assert_true(n > after);
				/* nothing between: asking from just before n gives n,
				 * and from n - (n - after) / 2 too */
				assert_int_equal(sched_next(s, n - 1, &n2), 0);
				assert_int_equal(n2, n);
				assert_int_equal(sched_next(s, after + (n - after) / 2, &n2), 0);
				assert_int_equal(n2, n);
			}
			sched_free(s);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists_ranges_steps),
		cmocka_unit_test(test_seconds_field),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_vixie_or_rule),
		cmocka_unit_test(test_last_and_nth),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_every),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_dst_new_york),
		cmocka_unit_test(test_dst_berlin_lord_howe),
		cmocka_unit_test(test_quarter_hours_across_dst),
		cmocka_unit_test(test_dst_matches_civil_mapping),
		cmocka_unit_test(test_strictly_after),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_many_random_nexts),
	};
	int r;

	unsetenv("TZDIR");
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tz_cache_clear();
	return r;
}
