/*
 * url.c - URLs without their secrets (see url.h).
 *
 * A URL is cut into the parts RFC 3986 names, by the first characters that
 * end each: the scheme ends at "://" (unless a '/', '?', '#' or '@' comes
 * first: then there is no scheme), the authority at the first '/', '?'
 * or '#', its userinfo at the last '@' inside it, the path at '?' or '#',
 * the query at '#'.  No part is decoded or checked: the aim is only that
 * no byte of a credential, query value or fragment is copied, whatever
 * the text looks like.
 */
#include <stdbool.h>
#include <string.h>

#include "distcron/url.h"

/* The parts of a URL, as offsets into it. */
struct url_parts {
	size_t host;		/* after "scheme://" (0 without one) */
	const char *at;		/* the userinfo's '@', or NULL */
	size_t path;		/* end of the authority */
	size_t query;		/* end of the path: '?', '#' or NUL */
	size_t frag;		/* end of the query: '#' or NUL */
};

static void
url_split(const char *url, struct url_parts *u)
{
	const char *s = strstr(url, "://");
	size_t alen;

	/* "://" further on (in a path or query) is no scheme's end. */
	if (s != NULL && strcspn(url, "/?#@") < (size_t)(s - url))
		s = NULL;
	u->host = s != NULL ? (size_t)(s - url) + 3 : 0;
	alen = strcspn(url + u->host, "/?#");
	u->at = memrchr(url + u->host, '@', alen);
	u->path = u->host + alen;
	u->query = u->path + strcspn(url + u->path, "?#");
	u->frag = u->query + strcspn(url + u->query, "#");
}

/* The authority's host and port: after the '@' if there is one. */
static size_t
host_start(const char *url, const struct url_parts *u)
{
	return u->at != NULL ? (size_t)(u->at - url) + 1 : u->host;
}

/* Appends url up to its query (scheme, authority, path), with the user
 * information left out, or masked when mask is set. */
static int
append_head(const char *url, const struct url_parts *u, bool mask,
    struct buf *b)
{
	size_t h = host_start(url, u);
	int r;

	if ((r = buf_append(b, url, u->host)) != 0)
		return r;
	if (mask && u->at != NULL && (r = buf_puts(b, memchr(url + u->host,
	    ':', h - u->host) != NULL ? URL_MASK ":" URL_MASK "@" :
	    URL_MASK "@")) != 0)
		return r;
	return buf_append(b, url + h, u->query - h);
}

int
url_strip(const char *url, struct buf *b)
{
	struct url_parts u;

	url_split(url, &u);
	return append_head(url, &u, false, b);
}

char *
url_stripped(const char *url)
{
	struct buf b;

	buf_init(&b, strlen(url));
	(void)url_strip(url, &b);
	return buf_steal(&b, NULL);
}

/* Appends the query items of q (n bytes, without the '?'), each value
 * masked. */
static int
mask_query(const char *q, size_t n, struct buf *b)
{
	size_t item, key;
	int r = 0;

	while (r == 0) {
		item = strcspn(q, "&");
		item = item < n ? item : n;
		key = strcspn(q, "=");
		if (key < item)
			r = buf_append(b, q, key + 1);
		if (r == 0 && item > 0)
			r = buf_puts(b, URL_MASK);
		if (r != 0 || item >= n)
			break;
		r = buf_puts(b, "&");
		q += item + 1;
		n -= item + 1;
	}
	return r;
}

int
url_mask(const char *url, struct buf *b)
{
	struct url_parts u;
	int r;

	url_split(url, &u);
	if ((r = append_head(url, &u, true, b)) != 0)
		return r;
	if (url[u.query] == '?' && ((r = buf_puts(b, "?")) != 0 ||
	    (r = mask_query(url + u.query + 1, u.frag - u.query - 1, b)) != 0))
		return r;
	if (url[u.frag] == '#')
		r = buf_puts(b, "#" URL_MASK);
	return r;
}

bool
url_has_secret(const char *url)
{
	struct url_parts u;

	url_split(url, &u);
	return u.at != NULL || url[u.query] != '\0';
}
