/*
 * amqpc.h - a small blocking AMQP 0-9-1 publisher on librabbitmq: one
 * connection with one channel in confirm mode, so that a publish returns
 * only once the broker has confirmed (basic.ack) or refused the message.
 *
 * Every call blocks, at most for the time it is given (connect, login,
 * confirm): call it off the event loop (exec_amqp's threads, the outbox
 * thread).  A connection is used by one thread at a time.
 *
 * Errors come back as a negative code and a one-line reason naming the
 * broker by its URL without user:password@ and, where the broker gave one,
 * its reply code and text ("the broker closed the channel: 404 NOT_FOUND -
 * no exchange 'x' in vhost '/'").  The password never appears in them.
 */
#ifndef DISTCRON_AMQPC_H
#define DISTCRON_AMQPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct amqpc;

/* One message. */
struct amqpc_msg {
	const char *exchange;		/* "" : the default exchange */
	const char *routing_key;
	const char *body;		/* body_len bytes */
	size_t body_len;
	char *const *headers;		/* "Name: value", NULL-terminated, or
					 * NULL: string headers */
	const char *content_type;	/* or NULL */
	bool persistent;		/* delivery mode 2 */
};

/* The reason buffers' size the callers use. */
#define AMQPC_WHY_MAX	256

/*
 * Connects to url (amqp:// or amqps://user:password@host:port/vhost; TLS
 * verified against ca_file, or the system's CAs when it is NULL), logs in,
 * opens a channel and turns confirms on, within timeout_ms.  Returns 0 and
 * *out, or a negative error (ERR_INVALID a bad URL, ERR_CONNECT, ERR_AUTH
 * access refused, ERR_TIMEOUT, ERR_PROTOCOL) with why set.  Blocks.
 */
int amqpc_open(const char *url, const char *ca_file, int64_t timeout_ms,
    struct amqpc **out, char *why, size_t whylen);

/*
 * Publishes m and waits for the broker's confirm, at most timeout_ms.
 * Returns 0 when the broker acknowledged it; otherwise a negative error
 * with why set: ERR_NOTFOUND (no such exchange), ERR_AUTH (access
 * refused), ERR_PROTOCOL (nack, other refusals), ERR_CONNECT (connection
 * lost), ERR_TIMEOUT (no confirm in time).  A channel the broker closed is
 * opened again by the next publish; after a connection error the
 * connection is dead (amqpc_dead()).  Blocks.
 */
int amqpc_publish(struct amqpc *c, const struct amqpc_msg *m,
    int64_t timeout_ms, char *why, size_t whylen);

/* True when c can no longer publish: the connection was lost or closed,
 * or the broker sent something while it was idle (a close: a broker that
 * stops closes its connections).  Does not block. */
bool amqpc_dead(struct amqpc *c);

/* The broker's URL without credentials (for messages); owned by c. */
const char *amqpc_shown(const struct amqpc *c);

/* Closes the connection (politely, at most a second, unless it is dead)
 * and frees c.  Accepts NULL.  Blocks. */
void amqpc_close(struct amqpc *c);

/*
 * Opens, publishes m and closes: for a sender that publishes seldom (the
 * amqp notification channel).  Returns as amqpc_publish().  Blocks, at
 * most about 2 x timeout_ms.
 */
int amqpc_send(const char *url, const char *ca_file,
    const struct amqpc_msg *m, int64_t timeout_ms, char *why, size_t whylen);

/* A new URL (wipe and free it): url (amqp[s]://...) with the user info
 * username (NULL: the URL's, else "guest") and password, percent-encoded.
 * NULL when out of memory. */
char *amqpc_creds_url(const char *url, const char *username,
    const char *password);

#endif
