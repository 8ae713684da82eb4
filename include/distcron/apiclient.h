/*
 * apiclient.h - a small blocking client of distcrond's REST API (libcurl).
 *
 * One handle talks to one base URL ("http://127.0.0.1:8080") with one
 * bearer token.  Requests carry and return JSON text; the client does not
 * interpret bodies, except apiclient_error_text(), which formats the API's
 * {"error", "field"} body for a message.  TLS peers are verified (the
 * system's CA store, or the file given to apiclient_set_ca_file()).  The
 * token is sent only in the Authorization header and never appears in an
 * error message.  A handle is for one thread at a time.
 */
#ifndef DISTCRON_APICLIENT_H
#define DISTCRON_APICLIENT_H

#include <stddef.h>
#include <stdint.h>

#define APICLIENT_TIMEOUT_MS	30000	/* default time limit per request */
#define APICLIENT_BODY_MAX	(64u << 20)	/* cap on a response body */

struct apiclient;

/*
 * Opens a client of the API at url (http:// or https://, no path needed;
 * a trailing '/' is ignored) sending token (NULL or "": none).  Does not
 * connect.  Returns 0, ERR_INVALID for a URL that is not http(s), or
 * -ENOMEM.  Free the handle with apiclient_free().
 */
int apiclient_open(const char *url, const char *token, struct apiclient **out);

/* Closes the handle and wipes the token.  Accepts NULL. */
void apiclient_free(struct apiclient *c);

/* Verifies TLS peers against the PEM CA file path instead of the system
 * store.  Returns 0 or -ENOMEM. */
int apiclient_set_ca_file(struct apiclient *c, const char *path);

/* Sets the time limit of each request (connect and transfer), in ms. */
void apiclient_set_timeout(struct apiclient *c, int64_t ms);

/*
 * Sends one request and waits for the answer (blocks up to the timeout).
 * method is "GET", "PUT", "POST" or "DELETE"; path starts with '/' and may
 * hold a query (escape names with apiclient_escape()); body (len bytes,
 * NULL for none) is sent as application/json.  On 0, *status is the HTTP
 * status, whatever it is, and *text the response body, NUL-terminated,
 * malloc'd (the caller frees it).  Fails, with a message for
 * apiclient_error(), with ERR_CONNECT (cannot reach the server),
 * ERR_TIMEOUT, ERR_TOOBIG (body over APICLIENT_BODY_MAX), ERR_PROTOCOL
 * (TLS or HTTP failure) or -ENOMEM.
 */
int apiclient_request(struct apiclient *c, const char *method,
    const char *path, const char *body, size_t len, long *status,
    char **text);

/* The message of the last failed request ("cannot reach distcrond at
 * http://127.0.0.1:8080: Connection refused"); owned by c. */
const char *apiclient_error(const struct apiclient *c);

/* The base URL, as messages show it; owned by c. */
const char *apiclient_url(const struct apiclient *c);

/*
 * Percent-escapes s for a path segment or query value (everything but
 * A-Z a-z 0-9 - . _ ~).  Returns a malloc'd string, or NULL when out of
 * memory.
 */
char *apiclient_escape(const char *s);

/*
 * Formats an error answer for a message: "STATUS: FIELD: ERROR" from the
 * API's {"error", "field"} body (the field is left out when absent or
 * when the error already starts with it), or "STATUS: REASON" when the body
 * is not such an object.  Writes a NUL-terminated string into out.
 */
void apiclient_error_text(long status, const char *text, char *out,
    size_t outlen);

#endif
