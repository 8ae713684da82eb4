/*
 * curlx.h - the one layer between distcron and libcurl: the process-wide
 * init, the options every HTTP(S) client shares, curl's error codes turned
 * into ERR_* codes and messages, and a driver that runs many transfers at
 * once on the event loop.
 *
 * Every easy handle made here fetches http and https only (or, for mail,
 * smtp and smtps only), never follows a redirect, never uses signals and
 * verifies TLS peers unless told not to.  Clients still set their own
 * request options (URL, method, headers, write callbacks) with
 * curl_easy_setopt(), but curl's codes go through
 * curlx_translate(): they are never compared or printed elsewhere.
 * Messages show URLs through url_strip(): no user:password@, query or
 * fragment.
 */
#ifndef DISTCRON_CURLX_H
#define DISTCRON_CURLX_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "distcron/loop.h"

/* The size of an error buffer given in struct curlx_opts. */
#define CURLX_ERRBUF_SIZE	CURL_ERROR_SIZE

/* Options of a new easy handle; a zeroed struct is the safe default. */
struct curlx_opts {
	const char *user_agent;		/* NULL: no User-Agent header */
	const char *ca_file;		/* PEM CAs; NULL: the system's store */
	int64_t connect_timeout_ms;	/* 0: curl's default */
	bool tls_insecure;		/* skip the peer's certificate and
					 * name checks */
	bool smtp;			/* smtp and smtps instead of http
					 * and https (mail) */
	char *errbuf;			/* CURLX_ERRBUF_SIZE bytes for curl's
					 * own words, or NULL */
};

/* What kind of failure a transfer had (see curlx_translate()). */
enum curlx_kind {
	CURLX_OK = 0,
	CURLX_CONNECT,		/* connection refused or unreachable */
	CURLX_RESOLVE,		/* host or proxy name not resolved */
	CURLX_TIMEOUT,		/* one of curl's own time limits */
	CURLX_TLS_VERIFY,	/* the peer's certificate or name refused */
	CURLX_TLS_HANDSHAKE,	/* TLS could not be set up */
	CURLX_NOMEM,
	CURLX_AUTH,		/* login refused (SMTP 535): ERR_AUTH */
	CURLX_OTHER,		/* anything else: protocol, scheme, I/O */
};

/* A transfer's result, curl's code translated. */
struct curlx_error {
	int err;		/* 0, ERR_CONNECT (CONNECT, RESOLVE),
				 * ERR_TIMEOUT, ERR_PROTOCOL (TLS_*, OTHER)
				 * or -ENOMEM */
	enum curlx_kind kind;
	int os_errno;		/* the system's error for CONNECT, or 0 */
	char why[CURLX_ERRBUF_SIZE];	/* curl's words ("" when err is 0) */
};

/* Initialises libcurl once per process; thread-safe, every later call
 * returns the first one's result.  Returns 0 or ERR_INTERNAL. */
int curlx_global_init(void);

/*
 * Makes an easy handle with the shared options (curlx_easy_setup()).
 * Returns 0 and *out (curl_easy_cleanup() it), -ENOMEM, or ERR_INTERNAL
 * when curl cannot be initialised or refuses an option; on failure
 * o->errbuf, if given, holds curl's words.  Does not block.
 */
int curlx_easy_new(const struct curlx_opts *o, CURL **out);

/* Sets the shared options on e: http and https only (o->smtp: smtp and
 * smtps only), no redirects, no signals, TLS verified unless
 * o->tls_insecure, and o's user agent, CA file, connect timeout and error
 * buffer when given.  Returns 0, or
 * ERR_INTERNAL with curl's words in o->errbuf if given. */
int curlx_easy_setup(CURL *e, const struct curlx_opts *o);

/* Verifies TLS peers of e against the PEM file path.  Returns 0 or
 * -ENOMEM. */
int curlx_easy_ca_file(CURL *e, const char *path);

/* The HTTP status of e's last response, 0 if none. */
long curlx_response_code(CURL *e);

/*
 * Translates curl's code for a transfer (or option) on easy (may be NULL)
 * into *out; errbuf (may be NULL or empty) is the handle's error buffer,
 * whose words are preferred to the code's generic text.  Returns out->err.
 */
int curlx_translate(CURL *easy, CURLcode code, const char *errbuf,
    struct curlx_error *out);

/*
 * Writes the message for a failed request to peer (a name such as
 * "distcrond") at url into out (size bytes, always NUL-terminated):
 * "cannot reach PEER at URL: WHY", "no answer from PEER at URL within N ms"
 * (timeout_ms), "cannot verify the TLS certificate of PEER at URL: WHY",
 * "TLS handshake with PEER at URL failed: WHY", "out of memory" or
 * "PEER at URL: WHY".  url is shown as url_strip() makes it.
 */
void curlx_message(const struct curlx_error *e, const char *peer,
    const char *url, int64_t timeout_ms, char *out, size_t size);

/* ---- many transfers on the event loop ---- */

struct curlx_multi;

/* Called on the loop thread once per finished transfer, with the arg given
 * to curlx_multi_add().  easy is already out of the driver: the callback
 * owns it again and may free it, and may add or remove other transfers. */
typedef void (*curlx_done_fn)(void *arg, CURL *easy,
    const struct curlx_error *e);

/*
 * Creates a driver on loop: one curl multi handle whose sockets become loop
 * watches and whose timeout one loop timer; connections are kept for reuse.
 * name prefixes the driver's log lines.  Returns 0 and *out, -ENOMEM, or
 * ERR_INTERNAL (curl could not be initialised).
 */
int curlx_multi_new(struct loop *loop, const char *name, curlx_done_fn done,
    struct curlx_multi **out);

/*
 * Starts the transfer easy (set up by the caller) on m; done(arg, ...)
 * follows from the loop, never from inside this call.  CURLOPT_PRIVATE
 * and CURLOPT_ERRORBUFFER belong to the driver: it sets them here and
 * clears them when the transfer leaves it, and callers never set them on
 * a handle they give to a driver.  Returns 0, -ENOMEM, or ERR_INTERNAL
 * (curl refused the handle).
 */
int curlx_multi_add(struct curlx_multi *m, CURL *easy, void *arg);

/* Stops the transfer easy without calling done(); easy stays the caller's.
 * A no-op for a handle that is not in m (never added, finished or removed
 * already).  Safe inside done(). */
void curlx_multi_remove(struct curlx_multi *m, CURL *easy);

/* Stops every transfer still running, without done(), and frees m.  Call
 * it on the loop thread, before loop_free() and not from inside done().
 * The easy handles stay their owners'.  Accepts NULL. */
void curlx_multi_free(struct curlx_multi *m);

#endif
