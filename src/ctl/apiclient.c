/*
 * apiclient.c - blocking client of distcrond's REST API.
 *
 * One curl easy handle per client, reused across requests so that a
 * polling loop keeps its connection.  The fixed headers (Authorization,
 * Content-Type, Accept, an empty Expect) are built once at open; the
 * token's temporary copy is wiped and the handle never follows redirects,
 * so the token goes only to the URL the user chose.  The response body is
 * collected in a capped buffer.  The shared curl options (http(s) only,
 * TLS verified, no signals) and the translation of curl's codes into
 * ERR_* codes and a message that names the server's URL (without any
 * user:password@ or query) and never the token come from curlx.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "distcron/apiclient.h"
#include "distcron/buf.h"
#include "distcron/curlx.h"
#include "distcron/err.h"
#include "distcron/url.h"

#define USER_AGENT	"distcronctl/" PACKAGE_VERSION
#define TOKEN_MAX	4096
#define ERROR_MAX	512
#define REASON_MAX	200	/* bytes of a non-JSON error body shown */

struct apiclient {
	CURL *easy;
	char *url;		/* base, without a trailing '/' */
	char *shown;		/* url_stripped(url), for messages */
	struct curl_slist *headers;
	int64_t timeout_ms;
	struct buf body;	/* the response being received */
	bool too_big;		/* the response passed APICLIENT_BODY_MAX */
	char errbuf[CURLX_ERRBUF_SIZE];
	char error[ERROR_MAX];
};

/* Adds "Authorization: Bearer TOKEN", wiping the temporary copy. */
static int
header_token(struct apiclient *c, const char *token)
{
	struct curl_slist *l;
	struct buf b;
	int r;

	if (token == NULL || token[0] == '\0')
		return 0;
	if (strpbrk(token, "\r\n") != NULL)
		return ERR_INVALID;
	buf_init(&b, TOKEN_MAX + 32);
	if ((r = buf_printf(&b, "Authorization: Bearer %s", token)) != 0)
		return r == -E2BIG ? ERR_INVALID : r;
	l = curl_slist_append(c->headers, buf_str(&b));
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	if (l == NULL)
		return -ENOMEM;
	c->headers = l;
	return 0;
}

static int
headers_build(struct apiclient *c, const char *token)
{
	static const char *const fixed[] = {
		"Content-Type: application/json", "Accept: application/json",
		"Expect:",
	};
	struct curl_slist *l;
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((l = curl_slist_append(c->headers, fixed[i])) == NULL)
			return -ENOMEM;
		c->headers = l;
	}
	return header_token(c, token);
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct apiclient *c = arg;

	if (buf_append(&c->body, p, n) != 0) {
		c->too_big = true;
		return 0;	/* curl fails the transfer with a write error */
	}
	return n;
}

/* The handle with curlx's shared options and ours, which stay for its
 * life. */
static int
easy_setup(struct apiclient *c)
{
	struct curlx_opts o = { .user_agent = USER_AGENT,
	    .errbuf = c->errbuf };
	CURL *e;
	int r;

	if ((r = curlx_easy_new(&o, &c->easy)) != 0)
		return r;
	e = c->easy;
	if (curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, c) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK)
		return ERR_INTERNAL;
	return 0;
}

static bool
url_valid(const char *url)
{
	return (strncasecmp(url, "http://", 7) == 0 && url[7] != '\0') ||
	    (strncasecmp(url, "https://", 8) == 0 && url[8] != '\0');
}

int
apiclient_open(const char *url, const char *token, struct apiclient **out)
{
	struct apiclient *c;
	size_t len;
	int r;

	*out = NULL;
	if (!url_valid(url))
		return ERR_INVALID;
	if ((r = curlx_global_init()) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->timeout_ms = APICLIENT_TIMEOUT_MS;
	buf_init(&c->body, APICLIENT_BODY_MAX);
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	r = -ENOMEM;
	if ((c->url = strndup(url, len)) == NULL ||
	    (c->shown = url_stripped(c->url)) == NULL ||
	    (r = headers_build(c, token)) != 0 || (r = easy_setup(c)) != 0) {
		apiclient_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void
apiclient_free(struct apiclient *c)
{
	struct curl_slist *l;

	if (c == NULL)
		return;
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	for (l = c->headers; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(c->headers);
	buf_free(&c->body);
	free(c->url);
	free(c->shown);
	free(c);
}

int
apiclient_set_ca_file(struct apiclient *c, const char *path)
{
	return curlx_easy_ca_file(c->easy, path);
}

void
apiclient_set_timeout(struct apiclient *c, int64_t ms)
{
	c->timeout_ms = ms > 0 ? ms : APICLIENT_TIMEOUT_MS;
}

const char *
apiclient_error(const struct apiclient *c)
{
	return c->error;
}

const char *
apiclient_url(const struct apiclient *c)
{
	return c->shown;
}

/* Sets the method and body of the next request. */
static CURLcode
set_method(CURL *e, const char *method, const char *body, size_t len)
{
	CURLcode code;

	if (body == NULL && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "DELETE") == 0)) {
		if ((code = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L)) !=
		    CURLE_OK)
			return code;
		return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
		    strcmp(method, "GET") == 0 ? NULL : method);
	}
	/* POST and PUT always send a body, if empty: Content-Length: 0. */
	if ((code = curl_easy_setopt(e, CURLOPT_POSTFIELDS,
	    body != NULL ? body : "")) != CURLE_OK ||
	    (code = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(body != NULL ? len : 0))) != CURLE_OK)
		return code;
	return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

static CURLcode
set_request(struct apiclient *c, const char *url, const char *method,
    const char *body, size_t len)
{
	CURLcode code;

	if ((code = curl_easy_setopt(c->easy, CURLOPT_URL, url)) !=
	    CURLE_OK ||
	    (code = curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS,
	    (long)c->timeout_ms)) != CURLE_OK ||
	    (code = curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)c->timeout_ms)) != CURLE_OK)
		return code;
	return set_method(c->easy, method, body, len);
}

/* Translates a failed transfer into an ERR_* code and c->error. */
static int
transfer_error(struct apiclient *c, CURLcode code)
{
	struct curlx_error e;

	if (c->too_big) {	/* on_write() refused the rest */
		snprintf(c->error, sizeof(c->error), "the answer of "
		    "distcrond at %s is over %u bytes", c->shown,
		    APICLIENT_BODY_MAX);
		return ERR_TOOBIG;
	}
	(void)curlx_translate(c->easy, code, c->errbuf, &e);
	curlx_message(&e, "distcrond", c->url, c->timeout_ms, c->error,
	    sizeof(c->error));
	return e.err;
}

int
apiclient_request(struct apiclient *c, const char *method,
    const char *path, const char *body, size_t len, long *status,
    char **text)
{
	struct buf url;
	CURLcode code;
	int r;

	c->error[0] = c->errbuf[0] = '\0';
	c->too_big = false;
	buf_reset(&c->body);
	buf_init(&url, strlen(c->url) + strlen(path) + 1);
	if ((r = buf_printf(&url, "%s%s", c->url, path)) != 0) {
		snprintf(c->error, sizeof(c->error), "%s", err_str(r));
		buf_free(&url);
		return r;
	}
	code = set_request(c, buf_str(&url), method, body, len);
	if (code == CURLE_OK)
		code = curl_easy_perform(c->easy);
	buf_free(&url);
	if (code != CURLE_OK)
		return transfer_error(c, code);
	*status = curlx_response_code(c->easy);
	if ((*text = buf_steal(&c->body, NULL)) == NULL) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

char *
apiclient_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	struct buf b;
	int r = 0;

	buf_init(&b, strlen(s) * 3);
	for (p = (const unsigned char *)s; r == 0 && *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			r = buf_append(&b, p, 1);
		else
			r = buf_printf(&b, "%%%c%c", hex[*p >> 4],
			    hex[*p & 15]);
	}
	if (r != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* The first line of a non-JSON body, at most REASON_MAX bytes. */
static void
reason_line(long status, const char *text, char *out, size_t outlen)
{
	size_t n = strcspn(text, "\r\n");

	if (n == 0)
		snprintf(out, outlen, "%ld: HTTP status %ld", status, status);
	else
		snprintf(out, outlen, "%ld: %.*s", status,
		    (int)(n < REASON_MAX ? n : REASON_MAX), text);
}

void
apiclient_error_text(long status, const char *text, char *out,
    size_t outlen)
{
	json_object *root = json_tokener_parse(text), *e, *f;
	const char *msg, *field = NULL;
	size_t flen;

	if (root == NULL || !json_object_object_get_ex(root, "error", &e) ||
	    !json_object_is_type(e, json_type_string)) {
		reason_line(status, text, out, outlen);
		json_object_put(root);
		return;
	}
	msg = json_object_get_string(e);
	if (json_object_object_get_ex(root, "field", &f) &&
	    json_object_is_type(f, json_type_string))
		field = json_object_get_string(f);
	flen = field != NULL ? strlen(field) : 0;
	/* The daemon's messages may already start with "field: ". */
	if (flen == 0 || (strncmp(msg, field, flen) == 0 &&
	    strncmp(msg + flen, ": ", 2) == 0))
		snprintf(out, outlen, "%ld: %s", status, msg);
	else
		snprintf(out, outlen, "%ld: %s: %s", status, field, msg);
	json_object_put(root);
}
