/*
 * outcap.c - capped capture of a command's output.
 *
 * The first half of the limit (rounded up) is kept as the head; once it is
 * full, bytes go to a ring holding the last half, so the end of a long output
 * survives too.  Buffers grow with the output instead of being reserved up
 * front: their allocated size is a pure function of the bytes they hold
 * (the next power of two, at least OUTCAP_MIN, at most the half-limit), so no
 * extra bookkeeping is needed and thousands of small captures stay small.  The
 * ring only wraps once it has grown to its full size.
 *
 * With a limit of 0 nothing is kept (the text is empty) but the bytes are
 * still counted and the capture reports itself truncated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/outcap.h"

#define OUTCAP_MIN	256
#define OUTCAP_MARKER	"\n[... distcron: %llu bytes omitted ...]\n"

int
outcap_init(struct outcap *c, size_t limit)
{
	memset(c, 0, sizeof(*c));
	c->limit = limit;
	c->tail_cap = limit / 2;
	return 0;
}

static size_t
head_cap(const struct outcap *c)
{
	return c->limit - c->tail_cap;
}

/* Allocated size of a buffer holding len bytes (len > 0) out of max. */
static size_t
alloc_size(size_t len, size_t max)
{
	size_t n = OUTCAP_MIN;

	while (n < len && n < max)
		n *= 2;
	return n < max ? n : max;
}

/* Makes *bufp, holding len bytes, big enough for want bytes (want <= max). */
static int
reserve(char **bufp, size_t len, size_t want, size_t max)
{
	size_t have = len > 0 ? alloc_size(len, max) : 0;
	size_t need = alloc_size(want, max);
	char *p;

	if (*bufp != NULL && need <= have)
		return 0;
	if ((p = realloc(*bufp, need)) == NULL)
		return -ENOMEM;
	*bufp = p;
	return 0;
}

/* Puts n bytes (n <= tail_cap) into the ring. */
static int
ring_put(struct outcap *c, const char *p, size_t n)
{
	size_t first;
	int r;

	if (c->tail_len < c->tail_cap) {
		/* Not yet wrapped: plain append, growing the buffer. */
		first = c->tail_cap - c->tail_len;
		if (first > n)
			first = n;
		if ((r = reserve(&c->tail, c->tail_len, c->tail_len + first,
		    c->tail_cap)) != 0)
			return r;
		memcpy(c->tail + c->tail_len, p, first);
		c->tail_len += first;
		c->tail_pos = c->tail_len % c->tail_cap;
		p += first;
		n -= first;
	}
	while (n > 0) {
		first = c->tail_cap - c->tail_pos;
		if (first > n)
			first = n;
		memcpy(c->tail + c->tail_pos, p, first);
		c->tail_pos = (c->tail_pos + first) % c->tail_cap;
		p += first;
		n -= first;
	}
	return 0;
}

int
outcap_feed(struct outcap *c, const void *buf, size_t n)
{
	const char *p = buf;
	size_t take;
	int r;

	c->total += n;
	take = head_cap(c) - c->head_len;
	if (take > n)
		take = n;
	if (take > 0) {
		if ((r = reserve(&c->head, c->head_len, c->head_len + take,
		    head_cap(c))) != 0)
			return r;
		memcpy(c->head + c->head_len, p, take);
		c->head_len += take;
		p += take;
		n -= take;
	}
	if (n == 0 || c->tail_cap == 0)
		return 0;
	if (n > c->tail_cap) {
		/* Only the last tail_cap bytes can survive. */
		p += n - c->tail_cap;
		n = c->tail_cap;
	}
	return ring_put(c, p, n);
}

bool
outcap_truncated(const struct outcap *c)
{
	return c->total > (uint64_t)c->head_len + c->tail_len;
}

char *
outcap_finish(struct outcap *c, size_t *lenp)
{
	char marker[80];
	size_t mlen = 0, start, first, len;
	char *s;
	int n;

	if (outcap_truncated(c) && c->limit > 0) {
		n = snprintf(marker, sizeof(marker), OUTCAP_MARKER,
		    (unsigned long long)(c->total - c->head_len - c->tail_len));
		mlen = (size_t)n;
	}
	len = c->head_len + mlen + c->tail_len;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	if (c->head_len > 0)
		memcpy(s, c->head, c->head_len);
	memcpy(s + c->head_len, marker, mlen);
	if (c->tail_len > 0) {
		start = (c->tail_pos + c->tail_cap - c->tail_len) % c->tail_cap;
		first = c->tail_cap - start;
		if (first > c->tail_len)
			first = c->tail_len;
		memcpy(s + c->head_len + mlen, c->tail + start, first);
		memcpy(s + c->head_len + mlen + first, c->tail,
		    c->tail_len - first);
	}
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return s;
}

void
outcap_free(struct outcap *c)
{
	free(c->head);
	free(c->tail);
	c->head = NULL;
	c->tail = NULL;
	c->head_len = c->tail_len = c->tail_pos = 0;
}

/* Replaces each NUL byte of s[0..*lenp) with U+FFFD, so the text stays one C
 * string; returns the new text (s itself when it has none), or NULL. */
static char *
replace_nuls(char *s, size_t *lenp)
{
	static const char repl[] = "\xef\xbf\xbd";
	size_t i, j, n = 0, len = *lenp;
	char *d;

	for (i = 0; i < len; i++)
		n += s[i] == '\0';
	if (n == 0)
		return s;
	if ((d = malloc(len + 2 * n + 1)) == NULL) {
		free(s);
		return NULL;
	}
	for (i = j = 0; i < len; i++) {
		if (s[i] != '\0') {
			d[j++] = s[i];
			continue;
		}
		memcpy(d + j, repl, 3);
		j += 3;
	}
	d[j] = '\0';
	*lenp = j;
	free(s);
	return d;
}

char *
outcap_text(struct outcap *c, size_t *lenp)
{
	char *s;

	if ((s = outcap_finish(c, lenp)) != NULL)
		s = replace_nuls(s, lenp);
	if (s == NULL) {
		/* Out of memory: an empty text (may itself be NULL). */
		*lenp = 0;
		s = calloc(1, 1);
	}
	return s;
}
