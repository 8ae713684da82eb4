/*
 * b64.c - standard base64: three bytes make four characters of the "+/"
 * alphabet; decoding takes the padding as optional and refuses any other
 * character or a dangling one.
 */
#include <stdint.h>
#include <string.h>

#include "distcron/b64.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
b64_encode(const void *inp, size_t n, bool pad, struct buf *out)
{
	const unsigned char *in = inp;
	char q[4];
	uint32_t v;
	size_t i, k;
	int r;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		for (k = 0; k < 4; k++)
			q[k] = b64chars[(v >> (18 - 6 * k)) & 0x3f];
		k = n - i >= 3 ? 4 : n - i + 1;	/* characters that carry bits */
		if ((r = buf_append(out, q, k)) != 0 ||
		    (pad && k < 4 && (r = buf_append(out, "==", 4 - k)) != 0))
			return r;
	}
	return 0;
}

static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64chars, c) : NULL;

	return p != NULL ? (int)(p - b64chars) : -1;
}

ssize_t
b64_decode(const char *s, size_t n, unsigned char *out)
{
	uint32_t acc = 0;
	size_t i, bits = 0, len = 0;
	int v;

	while (n > 0 && s[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++) {
		if ((v = b64_value(s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	return bits >= 6 ? -1 : (ssize_t)len;	/* a dangling character */
}
