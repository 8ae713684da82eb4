/*
 * notify_send.c - the two transports of notifications, both blocking on
 * the outbox's thread through curlx's easy handles: mail over SMTP
 * (libcurl's smtp and smtps: STARTTLS as configured, AUTH when a username
 * is given, several recipients; curl does the dot-stuffing) and a JSON
 * POST over HTTP(S) for webhooks and Slack.
 *
 * curl's codes become ERR_* and messages through curlx_translate() and
 * curlx_message(): the server is named by a URL without credentials, and
 * the password is handed to curl only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "distcron/curlx.h"
#include "distcron/err.h"
#include "notify_int.h"

/* The message as curl reads it. */
struct reader {
	const char *p;
	size_t left;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *rd = arg;
	size_t n = size * nmemb;

	if (n > rd->left)
		n = rd->left;
	memcpy(dst, rd->p, n);
	rd->p += n;
	rd->left -= n;
	return n;
}

static size_t
discard_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

/* "<addr>" for each recipient. */
static int
rcpt_list(char *const *rcpt, struct curl_slist **out)
{
	struct curl_slist *l;
	char addr[512];
	size_t i;

	for (i = 0; rcpt[i] != NULL; i++) {
		snprintf(addr, sizeof(addr), "<%s>", rcpt[i]);
		if ((l = curl_slist_append(*out, addr)) == NULL)
			return -ENOMEM;
		*out = l;
	}
	return 0;
}

static long
use_ssl(int starttls)
{
	if (starttls == CONFIG_STARTTLS_ALWAYS)
		return (long)CURLUSESSL_ALL;
	if (starttls == CONFIG_STARTTLS_NEVER)
		return (long)CURLUSESSL_NONE;
	return (long)CURLUSESSL_TRY;
}

static CURLcode
mail_options(CURL *e, const struct config_smtp *s, struct curl_slist *to,
    struct reader *rd)
{
	char from[512];
	CURLcode c;

	snprintf(from, sizeof(from), "<%s>", s->from);
	if ((c = curl_easy_setopt(e, CURLOPT_URL, s->url)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_MAIL_FROM, from)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_MAIL_RCPT, to)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb)) !=
	    CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_READDATA, rd)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_UPLOAD, 1L)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_USE_SSL, use_ssl(s->starttls))) !=
	    CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)NOTIFY_TIMEOUT_MS)) != CURLE_OK)
		return c;
	if (s->username == NULL)
		return CURLE_OK;
	if ((c = curl_easy_setopt(e, CURLOPT_USERNAME, s->username)) !=
	    CURLE_OK)
		return c;
	return curl_easy_setopt(e, CURLOPT_PASSWORD,
	    s->password != NULL ? s->password : "");
}

/* Runs e, set up, and turns curl's answer into 0 or an ERR_* with why. */
static int
perform(CURL *e, CURLcode c, const char *errbuf, const char *peer,
    const char *url, char *why, size_t whylen)
{
	struct curlx_error ce;

	if (c == CURLE_OK)
		c = curl_easy_perform(e);
	if (curlx_translate(e, c, errbuf, &ce) == 0)
		return 0;
	curlx_message(&ce, peer, url, NOTIFY_TIMEOUT_MS, why, whylen);
	return ce.err;
}

int
notify_send_mail(const struct config_smtp *s, char *const *rcpt,
    const char *msg, char *why, size_t whylen)
{
	char errbuf[CURLX_ERRBUF_SIZE] = "";
	struct curlx_opts o = { .ca_file = s->ca_file, .smtp = true,
	    .connect_timeout_ms = NOTIFY_CONNECT_MS, .errbuf = errbuf };
	struct reader rd = { msg, strlen(msg) };
	struct curl_slist *to = NULL;
	CURL *e = NULL;
	int r;

	if ((r = curlx_easy_new(&o, &e)) != 0)
		snprintf(why, whylen, "mail: %s", errbuf);
	else if ((r = rcpt_list(rcpt, &to)) != 0)
		snprintf(why, whylen, "out of memory");
	else
		r = perform(e, mail_options(e, s, to, &rd), errbuf,
		    "the mail server", s->url, why, whylen);
	curl_slist_free_all(to);
	if (e != NULL)
		curl_easy_cleanup(e);
	return r;
}

/* Content-Type and the configured headers. */
static int
header_list(char *const *headers, struct curl_slist **out)
{
	struct curl_slist *l;
	size_t i;

	if ((*out = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL)
		return -ENOMEM;
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((l = curl_slist_append(*out, headers[i])) == NULL)
			return -ENOMEM;
		*out = l;
	}
	return 0;
}

static CURLcode
http_options(CURL *e, const char *url, struct curl_slist *hdrs,
    const char *body)
{
	CURLcode c;

	if ((c = curl_easy_setopt(e, CURLOPT_URL, url)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
	    (long)strlen(body))) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_POSTFIELDS, body)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb)) !=
	    CURLE_OK)
		return c;
	return curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)NOTIFY_TIMEOUT_MS);
}

int
notify_send_http(const char *url, char *const *headers, const char *body,
    const char *peer, const char *shown, long *status, char *why,
    size_t whylen)
{
	char errbuf[CURLX_ERRBUF_SIZE] = "";
	struct curlx_opts o = { .user_agent = "distcron",
	    .connect_timeout_ms = NOTIFY_CONNECT_MS, .errbuf = errbuf };
	struct curl_slist *hdrs = NULL;
	CURL *e = NULL;
	int r;

	*status = 0;
	if ((r = curlx_easy_new(&o, &e)) != 0)
		snprintf(why, whylen, "%s: %s", peer, errbuf);
	else if ((r = header_list(headers, &hdrs)) != 0)
		snprintf(why, whylen, "out of memory");
	else if ((r = perform(e, http_options(e, url, hdrs, body), errbuf,
	    peer, shown, why, whylen)) == 0)
		*status = curlx_response_code(e);
	curl_slist_free_all(hdrs);
	if (e != NULL)
		curl_easy_cleanup(e);
	return r;
}
