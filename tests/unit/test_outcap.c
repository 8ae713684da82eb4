/*
 * test_outcap.c - capped output capture: exact under and at the limit, head +
 * marker + tail past it, chunking does not matter, limit 0, small outputs
 * stay small; the daemon-wide memory budget: past it a capture spills to an
 * unlinked file in the state directory with its text intact, and when no
 * file can be made it is cut with a note; a peek at a capture going on
 * gives the text it would have then; the marker is found in a text again,
 * a lookalike is not.
 */
#include <dirent.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "distcron/outcap.h"

/* Deterministic test data: no two nearby positions look alike. */
static char *
pattern(size_t n)
{
	char *p = malloc(n + 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (char)('!' + (i * 7 + i / 94) % 94);
	p[n] = '\0';
	return p;
}

/* Captures data[0..n) with the given limit in one feed. */
static char *
capture(const char *data, size_t n, size_t limit, size_t *lenp, bool *trunc)
{
	struct outcap c;
	char *s;

	assert_int_equal(outcap_init(&c, limit, NULL), 0);
	assert_int_equal(outcap_feed(&c, data, n), 0);
	assert_int_equal(c.total, n);
	*trunc = outcap_truncated(&c);
	s = outcap_finish(&c, lenp);
	assert_non_null(s);
	outcap_free(&c);
	return s;
}

static void
test_under_limit(void **state)
{
	size_t len;
	bool trunc;
	char *s = capture("hello world\n", 12, 100, &len, &trunc);

	assert_false(trunc);
	assert_int_equal(len, 12);
	assert_string_equal(s, "hello world\n");
	free(s);
}

static void
test_at_limit(void **state)
{
	size_t len;
	bool trunc;
	char *s = capture("0123456789", 10, 10, &len, &trunc);

	assert_false(trunc);
	assert_int_equal(len, 10);
	assert_string_equal(s, "0123456789");
	free(s);
	/* One byte more: the middle byte goes. */
	s = capture("0123456789A", 11, 10, &len, &trunc);
	assert_true(trunc);
	assert_string_equal(s,
	    "01234\n[... distcron: 1 bytes omitted ...]\n6789A");
	assert_int_equal(len, strlen(s));
	free(s);
}

static void
test_past_limit(void **state)
{
	size_t n = 1000000, len, mlen, at, end;
	char *data = pattern(n), *s, marker[100];
	bool trunc;

	s = capture(data, n, 4096, &len, &trunc);
	assert_true(trunc);
	mlen = (size_t)snprintf(marker, sizeof(marker),
	    "\n[... distcron: %zu bytes omitted ...]\n", n - 4096);
	assert_int_equal(len, 4096 + mlen);
	assert_memory_equal(s, data, 2048);
	assert_memory_equal(s + 2048, marker, mlen);
	assert_memory_equal(s + 2048 + mlen, data + n - 2048, 2048);
	assert_int_equal(s[len], '\0');
	assert_true(outcap_marker_find(s, len, 0, &at, &end));
	assert_int_equal(at, 2048);
	assert_int_equal(end, 2048 + mlen);
	assert_false(outcap_marker_find(s, len, at + 1, &at, &end));
	free(s);
	free(data);
}

/* Feeds data in pseudo-random chunks, under budget b (NULL: none), and
 * compares with a single feed without a budget. */
static void
check_chunked(const char *data, size_t n, size_t limit, unsigned seed,
    struct outcap_budget *b)
{
	struct outcap c;
	size_t off = 0, k, len1, len2;
	char *one, *many;
	bool trunc;

	one = capture(data, n, limit, &len1, &trunc);
	assert_int_equal(outcap_init(&c, limit, b), 0);
	while (off < n) {
		seed = seed * 1103515245 + 12345;
		k = 1 + (seed >> 8) % 700;
		if (k > n - off)
			k = n - off;
		assert_int_equal(outcap_feed(&c, data + off, k), 0);
		off += k;
	}
	assert_int_equal(outcap_truncated(&c), trunc);
	many = outcap_finish(&c, &len2);
	assert_non_null(many);
	assert_int_equal(len1, len2);
	assert_memory_equal(one, many, len1);
	outcap_free(&c);
	free(one);
	free(many);
}

static void
test_chunked_equals_whole(void **state)
{
	static const size_t limits[] = { 1, 7, 300, 1000, 4096, 65536 };
	static const size_t sizes[] = { 0, 5, 299, 1000, 5000, 200000 };
	char *data = pattern(200000);
	size_t i, j;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
			check_chunked(data, sizes[j], limits[i],
			    (unsigned)(i * 31 + j), NULL);
	free(data);
}

static void
test_limit_zero(void **state)
{
	size_t len = 99;
	bool trunc;
	char *s = capture("some output\n", 12, 0, &len, &trunc);

	assert_true(trunc);
	assert_int_equal(len, 0);
	assert_string_equal(s, "");
	free(s);
}

static void
test_empty(void **state)
{
	size_t len = 99;
	bool trunc;
	char *s = capture("", 0, 4096, &len, &trunc);

	assert_false(trunc);
	assert_int_equal(len, 0);
	assert_string_equal(s, "");
	free(s);
}

/* 10,000 runs with a 1 MiB limit must not reserve 1 MiB each. */
static void
test_small_output_stays_small(void **state)
{
	struct outcap c;

	assert_int_equal(outcap_init(&c, 1 << 20, NULL), 0);
	assert_int_equal(outcap_feed(&c, "tiny\n", 5), 0);
	assert_non_null(c.head);
	assert_true(malloc_usable_size(c.head) < 4096);
	assert_null(c.tail);
	outcap_free(&c);
}

/* NUL bytes would cut the stored text short: they become U+FFFD. */
static void
test_text_nul(void **state)
{
	struct outcap c;
	char *s;
	size_t len;

	(void)state;
	assert_int_equal(outcap_init(&c, 1024, NULL), 0);
	assert_int_equal(outcap_feed(&c, "a\0b\0\0c", 6), 0);
	s = outcap_text(&c, &len);
	assert_int_equal(len, 12);
	assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c");
	free(s);
	outcap_free(&c);
}

/* Files left in dir (spill files are unlinked as soon as opened). */
static int
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Past the budget a capture spills to a file: the text is the same as in
 * memory, memory held stays within the budget, no file is left behind. */
static void
test_budget_spill(void **state)
{
	static const size_t limits[] = { 300, 4096, 65536, 300000 };
	static const size_t sizes[] = { 5000, 200000 };
	char dir[] = "/tmp/test_outcap.XXXXXX", *data = pattern(200000), *s;
	struct outcap_budget b;
	struct outcap c, small;
	uint64_t spills, cuts;
	size_t i, j, held, len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	outcap_budget_init(&b, 8192, dir);
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
			check_chunked(data, sizes[j], limits[i],
			    (unsigned)(i * 7 + j), &b);
	outcap_budget_stats(&b, &held, &spills, &cuts);
	assert_int_equal(held, 0);
	assert_int_equal(spills, 2);	/* limits 65536 and 300000, 200000 bytes */
	assert_int_equal(cuts, 0);

	/* one capture holds memory; the next one past the budget spills */
	assert_int_equal(outcap_init(&small, 4096, &b), 0);
	assert_int_equal(outcap_feed(&small, data, 4096), 0);
	assert_int_equal(outcap_init(&c, 65536, &b), 0);
	assert_int_equal(outcap_feed(&c, data, 200000), 0);
	outcap_budget_stats(&b, &held, &spills, &cuts);
	assert_true(held <= 8192);
	assert_null(c.head);
	assert_null(c.tail);
	assert_int_equal(dir_entries(dir), 0);
	s = outcap_finish(&c, &len);
	assert_memory_equal(s, data, 32768);
	assert_memory_equal(s + len - 32768, data + 200000 - 32768, 32768);
	assert_non_null(strstr(s, "[... distcron: 134464 bytes omitted ...]"));
	free(s);
	outcap_free(&c);
	outcap_free(&small);
	outcap_budget_stats(&b, &held, &spills, &cuts);
	assert_int_equal(held, 0);
	assert_int_equal(rmdir(dir), 0);
	free(data);
}

/* No file can be made for a spill: the capture keeps what it holds and is
 * cut with a note saying why and how much was dropped. */
static void
test_budget_cut(void **state)
{
	static const char note[] = "\n[distcron: output cut: daemon output "
	    "memory budget reached, 4000 bytes dropped]\n";
	char *data = pattern(5000), *s;
	struct outcap_budget b;
	struct outcap c;
	uint64_t spills, cuts;
	size_t held, len, off;

	(void)state;
	outcap_budget_init(&b, 1024, "/nonexistent/distcron-test");
	assert_int_equal(outcap_init(&c, 65536, &b), 0);
	/* the head grows to 1024 bytes; the feed that needs 2048 is cut */
	for (off = 0; off < 5000; off += 100)
		assert_int_equal(outcap_feed(&c, data + off, 100), 0);
	assert_true(outcap_truncated(&c));
	s = outcap_text(&c, &len);
	assert_int_equal(len, 1000 + strlen(note));
	assert_memory_equal(s, data, 1000);
	assert_string_equal(s + 1000, note);
	assert_true(outcap_marker_find(s, len, 0, &off, &held));
	assert_int_equal(off, 1000);
	assert_int_equal(held, len);
	free(s);
	outcap_budget_stats(&b, &held, &spills, &cuts);
	assert_true(held <= 1024);
	assert_int_equal(spills, 0);
	assert_int_equal(cuts, 1);
	outcap_free(&c);
	outcap_budget_stats(&b, &held, &spills, &cuts);
	assert_int_equal(held, 0);
	free(data);
}

/* Only a whole marker line is one: a count, and both ends. */
static void
test_marker_find(void **state)
{
	static const char text[] = "a\n[... distcron:  bytes omitted ...]\n"
	    "b\n[... distcron: 7 bytes omitted ...]c\n[x\n"
	    "[... distcron: 12 bytes omitted ...]\nd";
	size_t at = 0, end = 0, len = sizeof(text) - 1;

	(void)state;
	assert_true(outcap_marker_find(text, len, 0, &at, &end));
	assert_string_equal(text + end, "d");
	assert_int_equal(end - at, strlen("\n[... distcron: 12 bytes omitted "
	    "...]\n"));
	assert_false(outcap_marker_find(text, len, at + 1, &at, &end));
	assert_false(outcap_marker_find(text, len - 2, 0, &at, &end));
}

/* Peeks at c and at the same capture finished later: the same text. */
static void
check_peek(struct outcap *c, size_t n)
{
	char *seen, *final;
	size_t slen, flen;

	seen = outcap_peek(c, &slen);
	assert_non_null(seen);
	assert_int_equal(strlen(seen), slen);
	assert_int_equal(c->total, n);		/* c goes on as it was */
	final = outcap_text(c, &flen);
	assert_int_equal(slen, flen);
	assert_memory_equal(seen, final, flen);
	free(seen);
	free(final);
}

/* The output so far of a command still running: what outcap_text() would
 * give at that point, in memory or spilled, and the capture goes on. */
static void
test_peek(void **state)
{
	char dir[] = "/tmp/test_outcap.XXXXXX", *data = pattern(200000), *s;
	struct outcap_budget b;
	struct outcap c;
	size_t len;

	(void)state;
	assert_int_equal(outcap_init(&c, 1024, NULL), 0);
	assert_int_equal(outcap_feed(&c, "line 1\n\0", 8), 0);
	s = outcap_peek(&c, &len);
	assert_string_equal(s, "line 1\n\xef\xbf\xbd");
	free(s);
	assert_int_equal(outcap_feed(&c, data, 5000), 0);
	s = outcap_peek(&c, &len);
	assert_non_null(strstr(s, "bytes omitted"));
	assert_memory_equal(s + len - 512, data + 5000 - 512, 512);
	free(s);
	check_peek(&c, 5008);
	outcap_free(&c);
	assert_non_null(mkdtemp(dir));
	outcap_budget_init(&b, 8192, dir);
	assert_int_equal(outcap_init(&c, 65536, &b), 0);
	assert_int_equal(outcap_feed(&c, data, 100000), 0);
	assert_true(c.spilled);
	s = outcap_peek(&c, &len);
	assert_memory_equal(s, data, 32768);
	assert_null(c.head);			/* still spilled */
	free(s);
	assert_int_equal(outcap_feed(&c, data, 100000), 0);
	check_peek(&c, 200000);
	outcap_free(&c);
	assert_int_equal(rmdir(dir), 0);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_under_limit),
		cmocka_unit_test(test_at_limit),
		cmocka_unit_test(test_past_limit),
		cmocka_unit_test(test_chunked_equals_whole),
		cmocka_unit_test(test_text_nul),
		cmocka_unit_test(test_limit_zero),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_small_output_stays_small),
		cmocka_unit_test(test_budget_spill),
		cmocka_unit_test(test_budget_cut),
		cmocka_unit_test(test_marker_find),
		cmocka_unit_test(test_peek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
