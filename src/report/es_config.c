/*
 * es_config.c - the "elasticsearch" configuration section (see es.h).
 *
 * The section is read with a jfield table, strictly (a misspelt key is an
 * error, not a silent default).  "url" is a string or a list of strings,
 * each an http(s) base URL (a path prefix, no query); "index" is a strftime pattern checked by rendering
 * it once: the result must be a valid index name (lowercase, none of
 * \ / * ? " < > | , # or a space, not starting with - _ +) and the pattern
 * must start with a fixed prefix, from which the index template's pattern
 * is made.  Messages quote values through jfield, except the password and
 * the key, which are never echoed.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "distcron/err.h"
#include "distcron/es.h"
#include "distcron/jfield.h"
#include "es_int.h"

#define PRE		"elasticsearch."
#define BATCH_DOCS_MAX	100000
#define BATCH_BYTES_MAX	(100 * 1024 * 1024)	/* Elasticsearch's default
						 * http.max_content_length */

void
es_config_init(struct es_config *c)
{
	memset(c, 0, sizeof(*c));
	c->tls_verify = true;
	c->batch_docs = 1000;
	c->batch_bytes = 5 * 1024 * 1024;
	c->flush_interval_ms = 1000;
	c->timeout_ms = 30000;
	c->compress = true;
}

static void
wipe_free(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
	free(s);
}

void
es_config_free(struct es_config *c)
{
	if (c == NULL)
		return;
	jfield_strv_free(c->urls);
	free(c->index);
	free(c->username);
	wipe_free(c->password);
	wipe_free(c->api_key);
	free(c->ca_file);
	es_config_init(c);
}

/* An http(s) URL with a host, without spaces or control characters. */
static int
url_check(struct jfield_ctx *c, const char *path, const char *u)
{
	const unsigned char *p;
	const char *host;

	if (strncasecmp(u, "http://", 7) == 0)
		host = u + 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		host = u + 8;
	else
		return jfield_fail(c, path, "must start with http:// or "
		    "https://");
	if (*host == '\0' || *host == '/')
		return jfield_fail(c, path, "has no host");
	if (strpbrk(u, "?#") != NULL)
		return jfield_fail(c, path, "has a query or fragment (the "
		    "server's base URL only)");
	for (p = (const unsigned char *)u; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return jfield_fail(c, path, "contains a space or a "
			    "control character");
	return 0;
}

/* "url": a string or a non-empty list of strings. */
static int
read_urls(struct jfield_ctx *c, json_object *v, const char *path, void *base)
{
	struct es_config *cf = base;
	char ep[JFIELD_PATH_LEN];
	size_t i;
	int r;

	jfield_strv_free(cf->urls);
	cf->urls = NULL;
	if (json_object_is_type(v, json_type_string)) {
		if ((cf->urls = calloc(2, sizeof(char *))) == NULL)
			return jfield_oom(c);
		r = jfield_str(c, v, path, 1, &cf->urls[0]);
	} else
		r = jfield_strv(c, v, path, 1, true, &cf->urls);
	if (r != 0)
		return r;
	for (i = 0; cf->urls[i] != NULL; i++) {
		if (json_object_is_type(v, json_type_string))
			snprintf(ep, sizeof(ep), "%s", path);
		else
			snprintf(ep, sizeof(ep), "%s[%zu]", path, i);
		if ((r = url_check(c, ep, cf->urls[i])) != 0)
			return r;
	}
	return 0;
}

/* Why name is not a valid index name, or NULL. */
static const char *
index_name_why(const char *name)
{
	if (name[0] == '\0')
		return "is empty";
	if (strlen(name) > 255)
		return "is longer than 255 bytes";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "cannot be \".\" or \"..\"";
	if (strchr("-_+", name[0]) != NULL)
		return "cannot start with -, _ or +";
	if (strpbrk(name, "\\/*?\"<>|, #:") != NULL)
		return "cannot contain \\ / * ? \" < > | , # : or a space";
	for (; *name != '\0'; name++)
		if ((*name >= 'A' && *name <= 'Z') ||
		    (unsigned char)*name < ' ')
			return "must be lowercase, without control characters";
	return NULL;
}

/* "index": a strftime pattern making valid index names. */
static int
read_index(struct jfield_ctx *c, json_object *v, const char *path,
    void *base)
{
	struct es_config *cf = base;
	char name[ES_INDEX_LEN], q[JFIELD_QUOTE_LEN];
	const char *why;
	int r;

	if ((r = jfield_str(c, v, path, 1, &cf->index)) != 0)
		return r;
	jfield_quote(cf->index, q, sizeof(q));
	if (cf->index[0] == '%')
		return jfield_fail(c, path, "%s must start with a fixed prefix "
		    "(\"distcron-%%Y.%%m.%%d\")", q);
	if (es_index_name(cf->index, 0, name, sizeof(name)) != 0)
		return jfield_fail(c, path, "%s makes no index name", q);
	if ((why = index_name_why(name)) != NULL)
		return jfield_fail(c, path, "%s: index name %s", q, why);
	return 0;
}

#define OFF(f)	offsetof(struct es_config, f)
static const struct jfield fields[] = {
	{ .key = "url", .type = JFIELD_CUSTOM, .custom = read_urls },
	{ .key = "index", .type = JFIELD_CUSTOM, .custom = read_index },
	JFIELD_ENTRY("username", JFIELD_STR, OFF(username), 1, 0, NULL),
	JFIELD_ENTRY("password", JFIELD_STR, OFF(password), 1, 0, NULL),
	JFIELD_ENTRY("api_key", JFIELD_STR, OFF(api_key), 1, 0, NULL),
	JFIELD_ENTRY("ca_file", JFIELD_PATH, OFF(ca_file), 1, 0, NULL),
	JFIELD_ENTRY("tls_verify", JFIELD_BOOL, OFF(tls_verify), 0, 0, NULL),
	JFIELD_ENTRY("batch_docs", JFIELD_I64, OFF(batch_docs), 1,
	    BATCH_DOCS_MAX, NULL),
	JFIELD_ENTRY("batch_bytes", JFIELD_SIZE, OFF(batch_bytes), 1024,
	    BATCH_BYTES_MAX, NULL),
	JFIELD_ENTRY("flush_interval", JFIELD_DUR, OFF(flush_interval_ms), 1,
	    0, NULL),
	JFIELD_ENTRY("timeout", JFIELD_DUR, OFF(timeout_ms), 1, 0, NULL),
	JFIELD_ENTRY("compress", JFIELD_BOOL, OFF(compress), 0, 0, NULL),
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/* What no single field can say: a URL, one kind of credentials. */
static int
config_check(struct jfield_ctx *jc, const struct es_config *c)
{
	if (c->urls == NULL)
		return jfield_fail(jc, PRE "url", "missing (the Elasticsearch "
		    "server, \"http://localhost:9200\")");
	if ((c->username == NULL) != (c->password == NULL))
		return jfield_fail(jc, c->username == NULL ? PRE "username" :
		    PRE "password", "username and password go together");
	if (c->api_key != NULL && c->username != NULL)
		return jfield_fail(jc, PRE "api_key", "set either api_key or "
		    "username and password, not both");
	if (c->api_key != NULL && strpbrk(c->api_key, "\r\n") != NULL)
		return jfield_fail(jc, PRE "api_key", "contains a line break");
	return 0;
}

int
es_config_from_json(json_object *obj, struct es_config *c, char *err,
    size_t errlen)
{
	struct jfield_ctx jc;
	int r;

	es_config_init(c);
	jfield_ctx_init(&jc, err, errlen, NULL, NULL);
	jc.strict = true;
	if ((r = jfield_object(&jc, obj, "elasticsearch", PRE, fields,
	    NFIELDS)) == 0 &&
	    (r = jfield_read(&jc, obj, PRE, fields, NFIELDS, c)) == 0 &&
	    (r = config_check(&jc, c)) == 0 &&
	    (c->index != NULL || (c->index = strdup(ES_INDEX_DEFAULT)) != NULL))
		return 0;
	if (r == 0)
		r = jfield_oom(&jc);
	es_config_free(c);
	return r;
}

int
es_config_from_legacy(const char *host, int64_t port, struct es_config *c,
    char *err, size_t errlen)
{
	json_object *o;
	char url[1024];
	int r;

	if (host == NULL || host[0] == '\0') {
		snprintf(err, errlen, "es_host: empty");
		return ERR_INVALID;
	}
	if (strstr(host, "://") != NULL)
		snprintf(url, sizeof(url), "%s", host);
	else if (strchr(host, ':') != NULL && host[0] != '[')
		snprintf(url, sizeof(url), "http://[%s]:%lld", host,
		    (long long)port);
	else
		snprintf(url, sizeof(url), "http://%s:%lld", host,
		    (long long)port);
	if ((o = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "url", json_object_new_string(url)) != 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	r = es_config_from_json(o, c, err, errlen);
	json_object_put(o);
	return r;
}

/* *dst = a copy of s (NULL stays NULL); returns false when out of memory. */
static bool
dup_str(const char *s, char **dst)
{
	*dst = s != NULL ? strdup(s) : NULL;
	return s == NULL || *dst != NULL;
}

int
es_config_copy(const struct es_config *src, struct es_config *dst)
{
	size_t i, n = 0;

	*dst = *src;
	dst->urls = NULL;
	dst->index = dst->username = dst->password = dst->api_key =
	    dst->ca_file = NULL;
	while (src->urls != NULL && src->urls[n] != NULL)
		n++;
	if ((dst->urls = calloc(n + 1, sizeof(char *))) == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		if (!dup_str(src->urls[i], &dst->urls[i]))
			goto oom;
	if (dup_str(src->index != NULL ? src->index : ES_INDEX_DEFAULT,
	    &dst->index) && dup_str(src->username, &dst->username) &&
	    dup_str(src->password, &dst->password) &&
	    dup_str(src->api_key, &dst->api_key) &&
	    dup_str(src->ca_file, &dst->ca_file))
		return 0;
 oom:
	es_config_free(dst);
	return -ENOMEM;
}
