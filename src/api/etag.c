/*
 * etag.c - entity tags of the API's answers, and the If-None-Match test.
 *
 * A tag is libsodium's BLAKE2b (crypto_generichash) of the body, cut to
 * 128 bits and written in hex: a strong validator that depends on the
 * bytes only, so the server keeps no state for it and a body that changes
 * in any byte gets a new tag.  If-None-Match is read by the grammar of
 * RFC 9110 (section 13.1.2): "*" or a list of entity-tags, each
 * [W/]"opaque" with optional whitespace around the commas, empty elements
 * allowed; the comparison is the weak one (the opaque parts are equal).
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "distcron/etag.h"

void
etag_of(const void *body, size_t len, char out[ETAG_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[ETAG_HASH_BYTES];
	size_t i;

	crypto_generichash(h, sizeof(h), body, len, NULL, 0);
	out[0] = '"';
	for (i = 0; i < sizeof(h); i++) {
		out[1 + 2 * i] = hex[h[i] >> 4];
		out[2 + 2 * i] = hex[h[i] & 0xf];
	}
	out[1 + 2 * sizeof(h)] = '"';
	out[2 + 2 * sizeof(h)] = '\0';
}

static bool
ows(char c)
{
	return c == ' ' || c == '\t';
}

/* etagc: %x21 / %x23-7E / obs-text (any byte but controls, space, '"'
 * and DEL). */
static bool
etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/*
 * Reads one entity-tag at *p; *p moves past it.  The opaque tag (with its
 * quotes) is [*start, *start + *n).  Returns false when malformed.
 */
static bool
tag_read(const char **p, const char **start, size_t *n)
{
	const char *s = *p;

	if (s[0] == 'W' && s[1] == '/')
		s += 2;
	if (*s != '"')
		return false;
	*start = s++;
	while (etagc((unsigned char)*s))
		s++;
	if (*s != '"')
		return false;
	*n = (size_t)(++s - *start);
	*p = s;
	return true;
}

bool
etag_match(const char *hdr, const char *tag)
{
	const char *p = hdr, *start;
	size_t n, len = strlen(tag);

	if (hdr == NULL)
		return false;
	while (ows(*p))
		p++;
	if (*p == '*') {
		for (p++; ows(*p); p++)
			;
		return *p == '\0';
	}
	for (;;) {
		while (ows(*p) || *p == ',')
			p++;
		if (*p == '\0' || !tag_read(&p, &start, &n))
			return false;
		while (ows(*p))
			p++;
		if (*p != ',' && *p != '\0')
			return false;
		if (n == len && memcmp(start, tag, len) == 0)
			return true;
	}
}
