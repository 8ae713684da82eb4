/*
 * fuzz_maskcut.c - libFuzzer target for the masking of the pieces of
 * secret values an output's cap split (secrets_mask_cut, which finds the
 * cuts with outcap_marker_find).  The input, up to its first NUL, is a
 * command's output as stored, markers and lookalikes included; the values
 * are fixed: a plain one, a repetitive one (the failure function's
 * fallbacks), one with a repeated start, a long one and one too short to
 * mask.  Checks: the length given back is the text's, the same markers
 * are found before and after, and masking again changes nothing (no piece
 * of a value is left at a cut).
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_maskcut
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/outcap.h"
#include "distcron/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How many markers text (len bytes) has. */
static size_t
markers(const char *text, size_t len)
{
	size_t n = 0, from = 0, at, end;

	while (outcap_marker_find(text, len, from, &at, &end)) {
		n++;
		from = end;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char lng[301];
	char *values[] = { "hunter22", "aaaa", "abab-abc", lng, "xy" };
	struct secrets_use u = { .values = values, .nvalues = 5 };
	size_t len, len2, n, i;
	char *s, *again;

	for (i = 0; i < sizeof(lng) - 1; i++)
		lng[i] = (char)('0' + i % 10);
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	n = markers(s, len);
	secrets_mask(&u, s, &len);
	secrets_mask_cut(&u, &s, &len);
	if (strlen(s) != len || markers(s, len) != n)
		abort();
	if ((again = strdup(s)) != NULL) {
		len2 = len;
		secrets_mask_cut(&u, &again, &len2);
		if (len2 != len || strcmp(again, s) != 0)
			abort();
		free(again);
	}
	free(s);
	return 0;
}
