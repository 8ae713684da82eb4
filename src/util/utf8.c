/*
 * utf8.c - one strict UTF-8 sequence check: the lead byte gives the length
 * (C0, C1 and F5-FF never lead), each continuation byte is 10xxxxxx, and
 * the decoded code point must need that length and be no surrogate and at
 * most U+10FFFF.
 */
#include <stdint.h>

#include "distcron/utf8.h"

size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t want, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		want = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		want = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		want = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < want)
		return 0;
	for (i = 1; i < want; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((want == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (want == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return want;
}
