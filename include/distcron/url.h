/*
 * url.h - URLs as messages and read-only API answers may show them.
 *
 * Credentials ("user:password@") and query strings carry secrets (API keys,
 * signatures, tokens), so a URL never appears whole outside the job file:
 * messages (logs, validation errors, run errors) show it stripped of both,
 * and the API shows a read-only token each value replaced by "***" with
 * the structure kept.  Both work on any text: one without "://" is taken
 * as starting with its host.
 */
#ifndef DISTCRON_URL_H
#define DISTCRON_URL_H

#include <stdbool.h>

#include "distcron/buf.h"

/* What replaces a secret value. */
#define URL_MASK	"***"

/* Appends url to b without "user:password@", query or fragment:
 * "http://u:p@host:8080/x?k=v#f" -> "http://host:8080/x".  Returns 0 or
 * buf_append()'s error; does not block. */
int url_strip(const char *url, struct buf *b);

/* A copy of url as url_strip() makes it (free() it); NULL when out of
 * memory. */
char *url_stripped(const char *url);

/* Appends url to b with the user, the password, each query value and the
 * fragment replaced by URL_MASK; scheme, host, port, path and query keys
 * stay: "http://u:p@host/x?k=v&flag#f" becomes "http://" URL_MASK ":"
 * URL_MASK "@host/x?k=" URL_MASK "&" URL_MASK "#" URL_MASK (a query item
 * without '=' is a value).  Returns 0 or buf_append()'s
 * error. */
int url_mask(const char *url, struct buf *b);

/* True when url holds something url_mask() would hide: user information
 * ("user:password@", "token@"), a query or a fragment. */
bool url_has_secret(const char *url);

#endif
