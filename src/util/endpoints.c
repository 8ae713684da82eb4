/*
 * endpoints.c - a list of service endpoints, as settings give them:
 * "http(s)://HOST:PORT" entries separated by commas (etcd's cluster.etcd).
 * The daemon's config check and the etcd client read a list with the same
 * parser, so a list the check passed is one the client takes.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/buf.h"
#include "distcron/endpoints.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/url.h"

/* Why url (len bytes) is no endpoint, or NULL when it is one. */
static const char *
endpoint_why(const char *url, size_t len)
{
	const char *p, *end = url + len, *host, *colon = NULL;
	int64_t port;
	char num[8];

	if (len == 0)
		return "empty";
	if (len >= 7 && strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (len >= 8 && strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return "the scheme must be http or https";
	if (end > host && end[-1] == '/')
		end--;
	for (p = host; p < end; p++)
		if (*p == '@')
			return "credentials are not allowed in the URL (use "
			    "cluster.username and cluster.password)";
	for (p = host; p < end; p++) {
		if (*p == '/' || *p == '?' || *p == '#')
			return "expected only scheme://host:port";
		if (*p == ':')
			colon = p;
		if (*p == ']')
			colon = NULL;	/* an IPv6 address's colons */
	}
	if (host == end || colon == host)
		return "no host";
	if (colon == NULL)
		return "no port";
	if (end - colon - 1 < 1 || end - colon - 1 >= (ptrdiff_t)sizeof(num))
		return "the port must be 1-65535";
	memcpy(num, colon + 1, (size_t)(end - colon - 1));
	num[end - colon - 1] = '\0';
	if (jfield_parse_int(num, 1, 65535, &port) != 0)
		return "the port must be 1-65535";
	return NULL;
}

/* "LABEL I \"URL\": WHY" into err, the URL's credentials masked. */
static void
endpoint_err(const char *label, size_t i, const char *url, const char *why,
    char *err, size_t errlen)
{
	char q[JFIELD_QUOTE_LEN];
	struct buf b;

	if (*url == '\0') {
		snprintf(err, errlen, "%s %zu: %s", label, i + 1, why);
		return;
	}
	buf_init(&b, JFIELD_QUOTE_LEN);
	if (url_mask(url, &b) != 0)
		why = "out of memory";
	snprintf(err, errlen, "%s %zu %s: %s", label, i + 1,
	    jfield_quote(b.len > 0 ? buf_str(&b) : "", q, sizeof(q)), why);
	buf_free(&b);
}

/* Checks and copies entry i (len bytes at s) into urls[i]. */
static int
endpoint_add(const char *label, const char *s, size_t len, size_t i,
    char **urls, char *err, size_t errlen)
{
	char *copy;
	const char *why;

	if ((copy = strndup(s, len)) == NULL)
		return -ENOMEM;
	if (i >= ENDPOINTS_MAX)
		why = "too many endpoints (at most 16)";
	else
		why = endpoint_why(copy, len);
	if (why != NULL) {
		endpoint_err(label, i, copy, why, err, errlen);
		explicit_bzero(copy, len);
		free(copy);
		return ERR_CONFIG;
	}
	if (len > 0 && copy[len - 1] == '/')
		copy[len - 1] = '\0';
	urls[i] = copy;
	return 0;
}

int
endpoints_parse(const char *label, const char *list, char ***out,
    size_t *np, char *err, size_t errlen)
{
	char **urls;
	const char *p = list, *comma;
	size_t n = 0;
	int r;

	if (list == NULL || *list == '\0') {
		snprintf(err, errlen, "etcd endpoints: none given");
		return ERR_CONFIG;
	}
	if ((urls = calloc(ENDPOINTS_MAX + 1, sizeof(*urls))) == NULL)
		return -ENOMEM;
	for (;;) {
		comma = strchr(p, ',');
		r = endpoint_add(label, p, comma ? (size_t)(comma - p) :
		    strlen(p), n, urls, err, errlen);
		if (r != 0) {
			jfield_strv_free(urls);
			return r;
		}
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*out = urls;
	*np = n;
	return 0;
}

int
endpoints_check(const char *list, char *why, size_t n)
{
	char **urls = NULL;
	size_t nurls;
	int r;

	if ((r = endpoints_parse("entry", list, &urls, &nurls, why, n)) == 0)
		jfield_strv_free(urls);
	else if (r == -ENOMEM)
		snprintf(why, n, "out of memory");
	return r;
}
