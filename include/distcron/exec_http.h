/*
 * exec_http.h - HTTP jobs ("http": {...} instead of "command"), executed by
 * the daemon itself with libcurl's multi interface on the event loop: no
 * thread per request.
 *
 * A run sends the job's method, headers and body to its URL (TLS verified
 * unless the job sets "tls_verify": false) and records the response:
 * exit_code is the HTTP status, out the response body (capped at the
 * spec's output_limit, head and tail kept, the cut marked), err the status
 * line and response headers.  The run is ok when the status is one of
 * "expect_status"; otherwise error says "HTTP status 500 (expected 200)".
 * A request that gets no response (DNS, connect, TLS failure) ends as
 * EXEC_FAILED with curl's reason; running past the timeout (http.timeout,
 * else the job's timeout) ends as EXEC_TIMEOUT.
 *
 * Redirects are not followed (a 3xx is the response) and only http and
 * https URLs are fetched.  Messages name the request as "GET <url>" with the
 * URL's user:password@, query and fragment left out; header values and
 * bodies never appear in them.  A header with an empty value ("Accept: ")
 * removes that header from the request (curl's rule), and
 * "Expect: 100-continue" is never sent unless the job sets Expect itself.
 */
#ifndef DISTCRON_EXEC_HTTP_H
#define DISTCRON_EXEC_HTTP_H

#include "distcron/exec.h"
#include "distcron/loop.h"

struct exec_http;

/* Creates the HTTP client on loop (one curl multi handle; connections are
 * kept for reuse between requests).  Returns 0 or a negative error. */
int exec_http_new(struct loop *loop, struct exec_http **out);

/* Frees the client; requests still running are dropped without their
 * done() callback.  Call it on the loop thread, before loop_free() and not
 * from inside one of its own done() callbacks.  Accepts NULL. */
void exec_http_free(struct exec_http *h);

/* The executor; spec->ctx is the struct exec_http (created on the same
 * loop), spec->http the request; start() returns ERR_INVALID without them.
 * cancel() aborts the transfer at once; done() follows from the loop with
 * EXEC_CANCELLED. */
extern const struct exec_ops exec_http_ops;

#endif
