/*
 * fuzz_pct.c - libFuzzer target for the API's percent-decoding of path
 * segments and query values (api_pct_decode).  The input, up to its first
 * NUL, is one raw segment.  Checks: the result matches a reference decoder
 * written here (result code and bytes); the decoded text is never longer
 * than the raw one; a NUL escape leaves ""; and whatever distcronctl
 * escapes (apiclient_escape) decodes back to the same bytes.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_pct
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/api.h"
#include "distcron/apiclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Left to right: the first bad escape or NUL escape decides. */
static int
ref_decode(const char *s, char *out, size_t *outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if ((hi = ref_hex((unsigned char)s[i + 1])) < 0 ||
		    (lo = ref_hex((unsigned char)s[i + 2])) < 0)
			return -1;
		if (hi == 0 && lo == 0)
			return 1;
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	*outlen = o;
	return 0;
}

/* apiclient_escape(s) must decode to s. */
static void
check_escape(const char *s)
{
	char *esc = apiclient_escape(s);

	if (esc == NULL)
		return;
	if (strlen(esc) > 3 * strlen(s) || api_pct_decode(esc) != 0 ||
	    strcmp(esc, s) != 0)
		abort();
	free(esc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *ref;
	size_t n, reflen = 0;
	int r, want;

	if ((s = malloc(size + 1)) == NULL || (ref = malloc(size + 1)) ==
	    NULL) {
		free(s);
		return 0;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);
	check_escape(s);
	want = ref_decode(s, ref, &reflen);
	r = api_pct_decode(s);
	if (r != want)
		abort();
	if (r == 1 && s[0] != '\0')
		abort();
	if (r == 0) {
		if (strlen(s) != reflen || reflen > n ||
		    memcmp(s, ref, reflen) != 0)
			abort();
		check_escape(s);
	}
	free(ref);
	free(s);
	return 0;
}
