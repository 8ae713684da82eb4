/* test_dur.c - durations and bounded integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "distcron/dur.h"
#include "distcron/err.h"

static int64_t
ms(const char *s)
{
	const char *why = NULL;
	int64_t v = -1;

	assert_int_equal(dur_parse(s, &v, &why), 0);
	return v;
}

static void
test_units(void **state)
{
	assert_int_equal(ms("90s"), 90000);
	assert_int_equal(ms("10m"), 600000);
	assert_int_equal(ms("1h30m"), 5400000);
	assert_int_equal(ms("500ms"), 500);
	assert_int_equal(ms("2d"), 172800000);
	assert_int_equal(ms("1m30s250ms"), 90250);
	assert_int_equal(ms("0s"), 0);
}

static void
test_errors(void **state)
{
	const char *why = NULL;
	int64_t v;

	assert_int_equal(dur_parse("", &v, &why), ERR_PARSE);
	assert_string_equal(why, "empty duration");
	assert_int_equal(dur_parse("10", &v, &why), ERR_PARSE);
	assert_string_equal(why, "missing or unknown unit (use ms, s, m, h or d)");
	assert_int_equal(dur_parse("5x", &v, &why), ERR_PARSE);
	assert_int_equal(dur_parse("m", &v, &why), ERR_PARSE);
	assert_int_equal(dur_parse("-5s", &v, &why), ERR_PARSE);
	assert_int_equal(dur_parse("1h 30m", &v, &why), ERR_PARSE);
	assert_int_equal(dur_parse("99999999999999999999d", &v, &why),
	    ERR_RANGE);
	assert_string_equal(why, "duration too large");
	assert_int_equal(dur_parse("40000d", &v, &why), ERR_RANGE);
}

static void
test_format(void **state)
{
	char out[32];

	dur_format(5400000, out, sizeof(out));
	assert_string_equal(out, "1h30m");
	dur_format(250, out, sizeof(out));
	assert_string_equal(out, "250ms");
	dur_format(0, out, sizeof(out));
	assert_string_equal(out, "0s");
	dur_format(90061001, out, sizeof(out));
	assert_string_equal(out, "1d1h1m1s1ms");
	dur_format(ms("1h30m"), out, sizeof(out));
	assert_int_equal(ms(out), 5400000);	/* round trip */
}

static void
test_parse_int(void **state)
{
	int64_t v;

	assert_int_equal(dur_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(dur_parse_int("-3", -10, 10, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(dur_parse_int("-3", 0, 10, &v), ERR_PARSE);
	assert_int_equal(dur_parse_int("101", 0, 100, &v), ERR_RANGE);
	assert_int_equal(dur_parse_int("12a", 0, 100, &v), ERR_PARSE);
	assert_int_equal(dur_parse_int("", 0, 100, &v), ERR_PARSE);
	assert_int_equal(dur_parse_int(" 1", 0, 100, &v), ERR_PARSE);
	assert_int_equal(dur_parse_int("9223372036854775808", 0, INT64_MAX,
	    &v), ERR_RANGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse_int),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
