/*
 * endpoints.h - a comma-separated list of service endpoints, each
 * "http://HOST:PORT" or "https://HOST:PORT" (an optional "/" after, nothing
 * else: no path, no query, no credentials), at most ENDPOINTS_MAX.  The
 * settings that take one (cluster.etcd) and the clients that use it read it
 * with the same parser.  Pure.
 */
#ifndef DISTCRON_ENDPOINTS_H
#define DISTCRON_ENDPOINTS_H

#include <stddef.h>

#define ENDPOINTS_MAX	16

/*
 * Parses list into *out (a NULL-terminated array of malloc'd URLs without
 * their trailing "/", freed with jfield_strv_free) and *np entries.  A bad
 * list gives ERR_CONFIG with err (errlen bytes) naming the entry as "LABEL
 * I \"URL\": WHY" (credentials masked): "etcd endpoint 2 \"ftp://x\": the
 * scheme must be http or https"; or -ENOMEM.
 */
int endpoints_parse(const char *label, const char *list, char ***out,
    size_t *np, char *err, size_t errlen);

/*
 * Checks list as endpoints_parse() would, for a setting's check.  Returns
 * 0, or ERR_CONFIG with why (n bytes) naming the entry: "entry 2
 * \"http://h\": no port", or -ENOMEM (why "out of memory").
 */
int endpoints_check(const char *list, char *why, size_t n);

#endif
