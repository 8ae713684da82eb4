/* test_buf.c - the capped growable buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/buf.h"

static void
test_append_and_str(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_puts(&b, "hello"), 0);
	assert_int_equal(buf_printf(&b, ", %s %d", "world", 42), 0);
	assert_string_equal(buf_str(&b), "hello, world 42");
	assert_int_equal(b.len, 15);
	buf_free(&b);
}

static void
test_cap_refuses_whole_append(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	assert_int_equal(buf_puts(&b, "6789"), -E2BIG);
	assert_string_equal(buf_str(&b), "12345");	/* nothing partial */
	assert_int_equal(buf_printf(&b, "%s", "abcd"), -E2BIG);
	assert_int_equal(buf_puts(&b, "678"), 0);
	assert_string_equal(buf_str(&b), "12345678");
	assert_int_equal(buf_puts(&b, "x"), -E2BIG);
	buf_free(&b);
}

static void
test_growth_keeps_content(void **state)
{
	struct buf b;
	char chunk[1000];
	int i;

	memset(chunk, 'a', sizeof(chunk));
	buf_init(&b, 1 << 20);
	for (i = 0; i < 500; i++) {
		chunk[0] = (char)('A' + i % 26);
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, 500000);
	for (i = 0; i < 500; i++)
		assert_int_equal(b.data[i * 1000], 'A' + i % 26);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

static void
test_steal_and_reset(void **state)
{
	struct buf b;
	size_t len;
	char *s;

	buf_init(&b, 64);
	buf_puts(&b, "abc");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_puts(&b, "xyz");
	s = buf_steal(&b, &len);
	assert_string_equal(s, "xyz");
	assert_int_equal(len, 3);
	assert_null(b.data);
	free(s);
	s = buf_steal(&b, &len);	/* empty buffer: "" not NULL */
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	buf_free(&b);
}

static void
test_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	buf_consume(&b, 3);		/* nothing yet: no-op */
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_puts(&b, "+12 2\n-12\n"), 0);
	buf_consume(&b, 6);
	assert_string_equal(buf_str(&b), "-12\n");
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_puts(&b, "?7\n"), 0);
	assert_string_equal(buf_str(&b), "-12\n?7\n");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_str),
		cmocka_unit_test(test_cap_refuses_whole_append),
		cmocka_unit_test(test_growth_keeps_content),
		cmocka_unit_test(test_steal_and_reset),
		cmocka_unit_test(test_consume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
