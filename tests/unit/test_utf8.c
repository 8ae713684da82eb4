/* test_utf8.c - the strict UTF-8 sequence check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "distcron/utf8.h"

#define SEQ(s)	utf8_seq((const unsigned char *)(s), sizeof(s) - 1)

static void
test_valid(void **state)
{
	(void)state;
	assert_int_equal(SEQ("a"), 1);
	assert_int_equal(SEQ("\x7f"), 1);
	assert_int_equal(SEQ("\xc3\xa9x"), 2);		/* é */
	assert_int_equal(SEQ("\xe2\x82\xac"), 3);	/* € */
	assert_int_equal(SEQ("\xef\xbf\xbd"), 3);	/* U+FFFD */
	assert_int_equal(SEQ("\xf0\x9f\x98\x80"), 4);	/* U+1F600 */
	assert_int_equal(SEQ("\xf4\x8f\xbf\xbf"), 4);	/* U+10FFFF */
}

static void
test_invalid(void **state)
{
	(void)state;
	assert_int_equal(SEQ("\x80"), 0);		/* continuation */
	assert_int_equal(SEQ("\xc0\x80"), 0);		/* overlong NUL */
	assert_int_equal(SEQ("\xc1\xbf"), 0);
	assert_int_equal(SEQ("\xe0\x80\x80"), 0);	/* overlong */
	assert_int_equal(SEQ("\xed\xa0\x80"), 0);	/* surrogate */
	assert_int_equal(SEQ("\xf0\x80\x80\x80"), 0);	/* overlong */
	assert_int_equal(SEQ("\xf4\x90\x80\x80"), 0);	/* > U+10FFFF */
	assert_int_equal(SEQ("\xf5\x80\x80\x80"), 0);
	assert_int_equal(SEQ("\xff"), 0);
	assert_int_equal(SEQ("\xc3"), 0);		/* cut short */
	assert_int_equal(SEQ("\xe2\x82"), 0);
	assert_int_equal(SEQ("\xe2\x28\xa1"), 0);	/* bad continuation */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
