/*
 * test_exec_amqp.c - HACron's tick message as the AMQP executor builds it:
 * the exact JSON for a tick in zones east and west of UTC (half-hour
 * offsets, summer time), its field order, and the buffer's cap.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "distcron/buf.h"
#include "distcron/exec_amqp.h"
#include "distcron/tz.h"

/* The tick of job at t in zone, as text. */
static void
tick_is(const char *zone, int64_t t, const char *want)
{
	const struct tz *z = NULL;
	const char *err = NULL;
	struct buf b;

	assert_int_equal(tz_get(zone, &z, &err), 0);
	buf_init(&b, 1024);
	assert_int_equal(exec_amqp_tick_json("job-1", t, z, &b), 0);
	assert_string_equal(buf_str(&b), want);
	buf_free(&b);
}

static void
test_tick_fields(void **state)
{
	(void)state;
	/* 2026-12-06T16:50:54Z, a Sunday: day_of_week 0, month 12 */
	tick_is("Asia/Kolkata", 1796575854, "{\"id\":\"job-1@1796575854\","
	    "\"minute\":20,\"hour\":22,\"day_of_month\":6,\"day_of_week\":0,"
	    "\"month\":12,\"year\":2026,"
	    "\"iso\":\"2026-12-06T22:20:54+05:30\","
	    "\"timestamp\":1796575854000,\"timezone_offset\":\"+05:30\"}");
	/* west of UTC with a half hour, in summer time: a Tuesday */
	tick_is("America/St_Johns", 1782820800, "{\"id\":\"job-1@1782820800\","
	    "\"minute\":30,\"hour\":9,\"day_of_month\":30,\"day_of_week\":2,"
	    "\"month\":6,\"year\":2026,"
	    "\"iso\":\"2026-06-30T09:30:00-02:30\","
	    "\"timestamp\":1782820800000,\"timezone_offset\":\"-02:30\"}");
	/* the last second of a year in UTC */
	tick_is("UTC", 1767225599, "{\"id\":\"job-1@1767225599\","
	    "\"minute\":59,\"hour\":23,\"day_of_month\":31,\"day_of_week\":3,"
	    "\"month\":12,\"year\":2025,"
	    "\"iso\":\"2025-12-31T23:59:59+00:00\","
	    "\"timestamp\":1767225599000,\"timezone_offset\":\"+00:00\"}");
}

static void
test_tick_cap(void **state)
{
	const struct tz *z = NULL;
	const char *err = NULL;
	struct buf b;

	(void)state;
	assert_int_equal(tz_get("UTC", &z, &err), 0);
	buf_init(&b, 32);
	assert_int_equal(exec_amqp_tick_json("job-1", 0, z, &b), -E2BIG);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tick_fields),
		cmocka_unit_test(test_tick_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
