/* test_url.c - URLs stripped for messages and masked for read-only API
 * answers: no byte of a credential, query value or fragment survives,
 * whatever the text looks like. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/url.h"

/* Each case: the URL, as stripped, as masked. */
static const char *const cases[][3] = {
	{ "http://admin:S3cretPW@host/x?api_key=Q",
	  "http://host/x", "http://***:***@host/x?api_key=***" },
	{ "https://u:p@h:8443/a/b?k=v&flag&e=#frag",
	  "https://h:8443/a/b", "https://***:***@h:8443/a/b?k=***&***&e=***#***" },
	{ "http://token@h", "http://h", "http://***@h" },
	{ "http://h/p@x?q=1", "http://h/p@x", "http://h/p@x?q=***" },
	{ "http://a@b@h:1?", "http://h:1", "http://***@h:1?" },
	{ "http://[::1]:8080/x#t", "http://[::1]:8080/x", "http://[::1]:8080/x#***" },
	{ "http://h?a=1&&b=2", "http://h", "http://h?a=***&&b=***" },
	{ "ftp://u:pw@h/a b", "ftp://h/a b", "ftp://***:***@h/a b" },
	{ "user:pw@host/x?s=1", "host/x", "***:***@host/x?s=***" },
	{ "http:///x?k=v", "http:///x", "http:///x?k=***" },
	{ "h/x?r=http://u:pw@y", "h/x", "h/x?r=***" },
	{ "u@h?r=a://b", "h", "***@h?r=***" },
	{ "", "", "" },
};

/* Runs fn over every case and compares with column col. */
static void
each_case(int (*fn)(const char *, struct buf *), size_t col)
{
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 1024);
		assert_int_equal(fn(cases[i][0], &b), 0);
		assert_string_equal(buf_str(&b), cases[i][col]);
		buf_free(&b);
	}
}

static void
test_strip(void **state)
{
	char *s;

	(void)state;
	each_case(url_strip, 1);
	s = url_stripped(cases[0][0]);
	assert_string_equal(s, cases[0][1]);
	free(s);
}

static void
test_mask(void **state)
{
	(void)state;
	each_case(url_mask, 2);
}

/* Past the cap: an error, and nothing of the secrets in what was kept. */
static void
test_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 12);
	assert_int_equal(url_strip("http://u:pw@host/long/path", &b), -E2BIG);
	assert_null(strstr(buf_str(&b), "pw"));
	buf_free(&b);
	buf_init(&b, 20);
	assert_int_equal(url_mask("http://u:pw@h/?key=secretvalue", &b), -E2BIG);
	assert_null(strstr(buf_str(&b), "secret"));
	buf_free(&b);
}

/* What holds a secret: user information, a query, a fragment. */
static void
test_has_secret(void **state)
{
	(void)state;
	assert_true(url_has_secret("https://u:pw@h/x"));
	assert_true(url_has_secret("https://token@h/x"));
	assert_true(url_has_secret("https://h/x?sig=abc"));
	assert_true(url_has_secret("https://h/x#frag"));
	assert_false(url_has_secret("https://h:8443/x/y"));
	assert_false(url_has_secret("http://h/a@b"));	/* '@' in the path */
	assert_false(url_has_secret(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_has_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
