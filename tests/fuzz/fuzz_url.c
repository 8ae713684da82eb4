/*
 * fuzz_url.c - libFuzzer target for the URL helpers (url_strip,
 * url_mask).  The input, up to its first NUL, is one URL.  Checks: the
 * stripped URL is never longer and keeps no '?' or '#'; masking twice changes nothing more; stripping the masked URL
 * gives the stripped URL (masking keeps host, port and path as they were);
 * and a masked query keeps no byte of a value: every item is "***" or
 * "key=***".
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_url
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
apply(int (*fn)(const char *, struct buf *), const char *s)
{
	struct buf b;

	buf_init(&b, 3 * strlen(s) + 64);
	if (fn(s, &b) != 0)
		abort();
	return buf_steal(&b, NULL);
}

/* Each query item of the masked URL m is "***" or ends in "=***". */
static void
check_query(const char *m)
{
	const char *q = strchr(m, '?'), *end;
	size_t n, item;

	if (q == NULL || (strchr(m, '#') != NULL && strchr(m, '#') < q))
		return;
	q++;
	end = q + strcspn(q, "#");
	while (q < end) {
		item = strcspn(q, "&");
		n = item < (size_t)(end - q) ? item : (size_t)(end - q);
		if (n > 0 && !(n == 3 && memcmp(q, URL_MASK, 3) == 0) &&
		    !(n >= 4 && memcmp(q + n - 4, "=" URL_MASK, 4) == 0))
			abort();
		q += n + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size > 4096 ? 4096 : size);
	char *st, *m, *mm, *sm;

	if (s == NULL)
		return 0;
	st = apply(url_strip, s);
	m = apply(url_mask, s);
	mm = apply(url_mask, m);
	sm = apply(url_strip, m);
	if (strlen(st) > strlen(s) || strcmp(m, mm) != 0 ||
	    strcmp(st, sm) != 0 || strpbrk(st, "?#") != NULL)
		abort();
	check_query(m);
	free(s);
	free(st);
	free(m);
	free(mm);
	free(sm);
	return 0;
}
