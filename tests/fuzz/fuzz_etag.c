/*
 * fuzz_etag.c - libFuzzer target for the API's If-None-Match reading
 * (etag_match).  The input, up to its first NUL, is the header's value;
 * the tag compared is etag_of() of the whole input.  Checks: a value with
 * no '"' and no '*' never matches; the tag alone, weak ("W/"), or after
 * another tag in a list always matches; and the input followed by ", "
 * and the tag matches exactly when the input is a well-formed list (its
 * own match result or a clean end) - at least it must not crash.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_etag
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/etag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* hdr must (want) or must not match tag. */
static void
expect(const char *hdr, const char *tag, int want)
{
	if (etag_match(hdr, tag) != (want != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tag[ETAG_LEN], forms[3 * ETAG_LEN + 16], *s, *joined;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	etag_of(data, size, tag);
	if (strpbrk(s, "\"*") == NULL)
		expect(s, tag, 0);
	(void)etag_match(s, "\"a\"");
	expect(tag, tag, 1);
	snprintf(forms, sizeof(forms), "W/%s", tag);
	expect(forms, tag, 1);
	snprintf(forms, sizeof(forms), " \"x\" ,, W/%s ", tag);
	expect(forms, tag, 1);
	if ((joined = malloc(size + sizeof(forms))) != NULL) {
		snprintf(joined, size + sizeof(forms), "%s, %s", s, tag);
		(void)etag_match(joined, tag);
		free(joined);
	}
	free(s);
	return 0;
}
