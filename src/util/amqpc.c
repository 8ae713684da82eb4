/*
 * amqpc.c - a blocking AMQP 0-9-1 publisher with publisher confirms, on
 * librabbitmq (the C client of the protocol, packaged by Debian).
 *
 * A connection is a librabbitmq connection state with one channel in
 * confirm mode.  A publish sends basic.publish and then reads frames until
 * the broker's basic.ack or basic.nack for it arrives, or the broker
 * closes the channel (an exchange that does not exist: 404 NOT_FOUND) or
 * the connection, or the time is up.  librabbitmq's codes and the broker's
 * reply codes are turned into this project's error codes and a one-line
 * reason here, and nowhere else.
 *
 * Heartbeats are off, so an idle connection receives nothing unless the
 * broker closes it: amqpc_dead() polls the socket and takes anything
 * readable as the end (a broker that restarts sends connection.close and
 * closes the socket).  Every wait is bounded by the caller's timeout:
 * connect (non-blocking with a timeout), login and channel set-up (the
 * rpc and handshake timeouts), the confirm (a timed frame wait).
 *
 * amqps:// verifies the broker's certificate against the CA file (else the
 * system's CAs) and the URL's host: a name against the certificate's DNS
 * names, an IP address (which librabbitmq would compare with the DNS names
 * only) against its IP addresses, through OpenSSL's own check.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <arpa/inet.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "distcron/amqpc.h"
#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/loop.h"
#include "distcron/url.h"

#define AMQPC_CHANNEL	1
#define AMQPC_FRAME_MAX	131072
#define AMQPC_CLOSE_MS	1000	/* a polite close waits this long */

struct amqpc {
	amqp_connection_state_t st;
	char *shown;		/* the URL without credentials */
	uint64_t seq;		/* delivery tag of the last publish */
	bool chan_closed;	/* the broker closed the channel */
	bool dead;		/* the connection is lost or closed */
};

/* ---- reasons ---- */

static void
timeval_of(int64_t ms, struct timeval *tv)
{
	if (ms < 1)
		ms = 1;
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* The error code of a broker's reply code. */
static int
reply_code_err(unsigned code)
{
	if (code == AMQP_NOT_FOUND)
		return ERR_NOTFOUND;
	if (code == AMQP_ACCESS_REFUSED)
		return ERR_AUTH;
	return ERR_PROTOCOL;
}

/* A library status as an error code. */
static int
status_err(int status)
{
	if (status == AMQP_STATUS_TIMEOUT)
		return ERR_TIMEOUT;
	if (status == AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED ||
	    status == AMQP_STATUS_SOCKET_ERROR ||
	    status == AMQP_STATUS_CONNECTION_CLOSED ||
	    status == AMQP_STATUS_SOCKET_CLOSED ||
	    status == AMQP_STATUS_TCP_ERROR)
		return ERR_CONNECT;
	if (status == AMQP_STATUS_SSL_ERROR ||
	    status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED ||
	    status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
	    status == AMQP_STATUS_SSL_CONNECTION_FAILED)
		return ERR_CONNECT;
	return ERR_PROTOCOL;
}

/* "the broker closed the channel: 404 NOT_FOUND - no exchange..." */
static int
close_reason(bool channel, unsigned code, amqp_bytes_t text, const char *what,
    char *why, size_t n)
{
	snprintf(why, n, "%s: the broker closed the %s: %u %.*s", what,
	    channel ? "channel" : "connection", code,
	    (int)(text.len > 200 ? 200 : text.len), (const char *)text.bytes);
	return reply_code_err(code);
}

/* The reason of a failed RPC (login, channel.open, confirm.select). */
static int
rpc_reason(struct amqpc *c, amqp_rpc_reply_t r, const char *what, char *why,
    size_t n)
{
	amqp_connection_close_t *cc;
	amqp_channel_close_t *ch;

	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		c->dead = true;
		snprintf(why, n, "%s: %s", what,
		    amqp_error_string2(r.library_error));
		if (r.library_error == AMQP_STATUS_CONNECTION_CLOSED &&
		    strcmp(what, "login") == 0)
			return ERR_AUTH;	/* refused before any reply */
		return status_err(r.library_error);
	}
	if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION) {
		snprintf(why, n, "%s: no reply", what);
		return ERR_PROTOCOL;
	}
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		c->dead = true;
		cc = r.reply.decoded;
		return close_reason(false, cc->reply_code, cc->reply_text, what,
		    why, n);
	}
	if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		c->chan_closed = true;
		ch = r.reply.decoded;
		return close_reason(true, ch->reply_code, ch->reply_text, what,
		    why, n);
	}
	snprintf(why, n, "%s: unexpected method 0x%08x", what,
	    (unsigned)r.reply.id);
	return ERR_PROTOCOL;
}

/* ---- connections ---- */

/* Prefixes why with the broker's URL: "amqp://host:5672/: ...". */
static void
why_prefix(const struct amqpc *c, char *why, size_t n)
{
	char tmp[AMQPC_WHY_MAX];

	snprintf(tmp, sizeof(tmp), "%s", why);
	snprintf(why, n, "%s: %s", c->shown, tmp);
}

/* Opens channel AMQPC_CHANNEL in confirm mode. */
static int
channel_setup(struct amqpc *c, char *why, size_t n)
{
	amqp_channel_open(c->st, AMQPC_CHANNEL);
	if (amqp_get_rpc_reply(c->st).reply_type != AMQP_RESPONSE_NORMAL)
		return rpc_reason(c, amqp_get_rpc_reply(c->st),
		    "opening a channel", why, n);
	amqp_confirm_select(c->st, AMQPC_CHANNEL);
	if (amqp_get_rpc_reply(c->st).reply_type != AMQP_RESPONSE_NORMAL)
		return rpc_reason(c, amqp_get_rpc_reply(c->st),
		    "turning confirms on", why, n);
	c->chan_closed = false;
	c->seq = 0;
	return 0;
}

/* true if host is an IPv4 or IPv6 address. */
static bool
is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* TLS on s: the peer verified against ca_file (NULL: the system's CAs)
 * and host (see the top). */
static int
tls_setup(amqp_socket_t *s, const char *host, const char *ca_file,
    char *why, size_t n)
{
	SSL_CTX *ctx = amqp_ssl_socket_get_context(s);
	int st;

	amqp_ssl_socket_set_verify_peer(s, 1);
	amqp_ssl_socket_set_verify_hostname(s, !is_ip(host));
	if (is_ip(host) && (ctx == NULL || X509_VERIFY_PARAM_set1_ip_asc(
	    SSL_CTX_get0_param(ctx), host) != 1)) {
		snprintf(why, n, "TLS: cannot check the certificate's address");
		return -ENOMEM;
	}
	if (ca_file != NULL && (st = amqp_ssl_socket_set_cacert(s,
	    ca_file)) != AMQP_STATUS_OK) {
		snprintf(why, n, "CA file %s: %s", ca_file,
		    amqp_error_string2(st));
		return ERR_CONFIG;
	}
	return 0;
}

/* The reason of a failed connect: a TLS verification says what failed
 * (for an IP address, OpenSSL's one verdict covers the CA and the
 * address). */
static void
connect_reason(int st, const char *host, const char *ca_file, char *why,
    size_t n)
{
	const char *ca = ca_file != NULL ? ca_file : "one of the system's CAs";

	if (st == AMQP_STATUS_SSL_PEER_VERIFY_FAILED)
		snprintf(why, n, "connect: TLS: certificate verify failed: the "
		    "broker's certificate is %s%s%snot signed by %s%s",
		    is_ip(host) ? "not for " : "", is_ip(host) ? host : "",
		    is_ip(host) ? " or " : "", ca_file != NULL ?
		    "the CA file " : "", ca);
	else if (st == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED)
		snprintf(why, n, "connect: TLS: certificate verify failed: the "
		    "broker's certificate is not for host %s", host);
	else
		snprintf(why, n, "connect: %s", amqp_error_string2(st));
}

/* The socket of ci (TLS for amqps), verified against ca_file. */
static int
socket_setup(struct amqpc *c, const struct amqp_connection_info *ci,
    const char *ca_file, int64_t timeout_ms, char *why, size_t n)
{
	amqp_socket_t *s;
	struct timeval tv;
	int st;

	s = ci->ssl ? amqp_ssl_socket_new(c->st) : amqp_tcp_socket_new(c->st);
	if (s == NULL) {
		snprintf(why, n, "cannot create a socket");
		return -ENOMEM;
	}
	if (ci->ssl && (st = tls_setup(s, ci->host, ca_file, why, n)) != 0)
		return st;
	timeval_of(timeout_ms, &tv);
	if ((st = amqp_socket_open_noblock(s, ci->host, ci->port,
	    &tv)) != AMQP_STATUS_OK) {
		connect_reason(st, ci->host, ca_file, why, n);
		c->dead = true;
		return status_err(st);
	}
	(void)amqp_set_handshake_timeout(c->st, &tv);
	(void)amqp_set_rpc_timeout(c->st, &tv);
	return 0;
}

/* Connects and logs in with the URL's credentials. */
static int
connect_login(struct amqpc *c, char *url, const char *ca_file,
    int64_t timeout_ms, char *why, size_t n)
{
	struct amqp_connection_info ci;
	amqp_rpc_reply_t r;
	int rc;

	amqp_default_connection_info(&ci);
	if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
		snprintf(why, n, "not an AMQP URL "
		    "(amqp://user:password@host:port/vhost)");
		return ERR_INVALID;
	}
	if ((c->st = amqp_new_connection()) == NULL) {
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	if ((rc = socket_setup(c, &ci, ca_file, timeout_ms, why, n)) != 0)
		return rc;
	r = amqp_login(c->st, ci.vhost, 0, AMQPC_FRAME_MAX, 0,
	    AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		return rpc_reason(c, r, "login", why, n);
	return channel_setup(c, why, n);
}

int
amqpc_open(const char *url, const char *ca_file, int64_t timeout_ms,
    struct amqpc **out, char *why, size_t whylen)
{
	struct amqpc *c;
	char *copy;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->shown = url_stripped(url)) == NULL) {
		free(c);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	if ((copy = strdup(url)) == NULL)
		r = -ENOMEM;
	else
		r = connect_login(c, copy, ca_file, timeout_ms, why, whylen);
	if (copy != NULL) {
		explicit_bzero(copy, strlen(url));
		free(copy);
	}
	if (r == -ENOMEM && why[0] == '\0')
		snprintf(why, whylen, "out of memory");
	if (r != 0) {
		why_prefix(c, why, whylen);
		c->dead = true;
		amqpc_close(c);
		return r;
	}
	*out = c;
	return 0;
}

bool
amqpc_dead(struct amqpc *c)
{
	struct pollfd p;

	if (c->dead)
		return true;
	p.fd = amqp_get_sockfd(c->st);
	p.events = POLLIN;
	if (p.fd < 0 || amqp_frames_enqueued(c->st) ||
	    amqp_data_in_buffer(c->st) || poll(&p, 1, 0) != 0)
		c->dead = true;
	return c->dead;
}

const char *
amqpc_shown(const struct amqpc *c)
{
	return c->shown;
}

void
amqpc_close(struct amqpc *c)
{
	struct timeval tv;

	if (c == NULL)
		return;
	if (c->st != NULL) {
		if (!c->dead) {
			timeval_of(AMQPC_CLOSE_MS, &tv);
			(void)amqp_set_rpc_timeout(c->st, &tv);
			(void)amqp_connection_close(c->st, AMQP_REPLY_SUCCESS);
		}
		(void)amqp_destroy_connection(c->st);
	}
	free(c->shown);
	free(c);
}

/* ---- publishing ---- */

/* The headers "Name: value" as a table of strings in entries (n of them,
 * allocated by the caller). */
static void
headers_table(char *const *h, amqp_table_entry_t *e, amqp_table_t *t)
{
	const char *colon;
	int i;

	for (i = 0; h != NULL && h[i] != NULL; i++) {
		colon = strchr(h[i], ':');
		e[i].key.bytes = h[i];
		e[i].key.len = colon != NULL ? (size_t)(colon - h[i]) :
		    strlen(h[i]);
		e[i].value.kind = AMQP_FIELD_KIND_UTF8;
		colon = colon != NULL ? colon + 1 : "";
		while (*colon == ' ')
			colon++;
		e[i].value.value.bytes = amqp_cstring_bytes(colon);
	}
	t->num_entries = i;
	t->entries = e;
}

/* Sends the close-ok of a close the broker sent. */
static void
close_ok(struct amqpc *c, bool channel)
{
	amqp_channel_close_ok_t chok = { 0 };
	amqp_connection_close_ok_t cok = { 0 };

	if (channel)
		(void)amqp_send_method(c->st, AMQPC_CHANNEL,
		    AMQP_CHANNEL_CLOSE_OK_METHOD, &chok);
	else
		(void)amqp_send_method(c->st, 0,
		    AMQP_CONNECTION_CLOSE_OK_METHOD, &cok);
}

/* One method frame while waiting for the confirm: 0 acked, 1 not yet,
 * else the error. */
static int
confirm_frame(struct amqpc *c, const amqp_frame_t *f, char *why, size_t n)
{
	const amqp_method_t *m = &f->payload.method;
	const amqp_channel_close_t *ch;
	const amqp_connection_close_t *cc;
	const amqp_basic_ack_t *ack;

	switch (m->id) {
	case AMQP_BASIC_ACK_METHOD:
		ack = m->decoded;
		return ack->delivery_tag >= c->seq ? 0 : 1;
	case AMQP_BASIC_NACK_METHOD:
		snprintf(why, n, "the broker refused the message (basic.nack)");
		return ERR_PROTOCOL;
	case AMQP_CHANNEL_CLOSE_METHOD:
		ch = m->decoded;
		c->chan_closed = true;
		close_ok(c, true);
		return close_reason(true, ch->reply_code, ch->reply_text,
		    "publish", why, n);
	case AMQP_CONNECTION_CLOSE_METHOD:
		cc = m->decoded;
		c->dead = true;
		close_ok(c, false);
		return close_reason(false, cc->reply_code, cc->reply_text,
		    "publish", why, n);
	default:
		return 1;	/* basic.return and others: not ours */
	}
}

/* Reads frames until the confirm of the last publish, or deadline. */
static int
confirm_wait(struct amqpc *c, int64_t deadline, char *why, size_t n)
{
	amqp_frame_t f;
	struct timeval tv;
	int st, r;

	for (;;) {
		timeval_of(deadline - loop_mono_ms(), &tv);
		st = amqp_simple_wait_frame_noblock(c->st, &f, &tv);
		if (st == AMQP_STATUS_TIMEOUT) {
			c->dead = true;	/* its state is unknown now */
			snprintf(why, n, "publish: no confirm from the broker "
			    "in time");
			return ERR_TIMEOUT;
		}
		if (st != AMQP_STATUS_OK) {
			c->dead = true;
			snprintf(why, n, "publish: connection lost waiting for "
			    "the confirm: %s", amqp_error_string2(st));
			return status_err(st);
		}
		if (f.frame_type != AMQP_FRAME_METHOD ||
		    (f.channel != AMQPC_CHANNEL && f.channel != 0))
			continue;
		if ((r = confirm_frame(c, &f, why, n)) != 1)
			return r;
	}
}

int
amqpc_publish(struct amqpc *c, const struct amqpc_msg *m,
    int64_t timeout_ms, char *why, size_t whylen)
{
	int64_t deadline = loop_mono_ms() + timeout_ms;
	amqp_basic_properties_t p = { 0 };
	amqp_table_entry_t *e;
	amqp_bytes_t body = { m->body_len, (void *)(uintptr_t)m->body };
	size_t nh = 0;
	int st, r;

	if (c->dead) {
		snprintf(why, whylen, "%s: not connected", c->shown);
		return ERR_CONNECT;
	}
	if (c->chan_closed && (r = channel_setup(c, why, whylen)) != 0)
		goto out;
	while (m->headers != NULL && m->headers[nh] != NULL)
		nh++;
	if ((e = calloc(nh + 1, sizeof(*e))) == NULL) {
		snprintf(why, whylen, "%s: out of memory", c->shown);
		return -ENOMEM;
	}
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = m->persistent ? 2 : 1;
	if (nh > 0) {
		headers_table(m->headers, e, &p.headers);
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
	}
	if (m->content_type != NULL) {
		p.content_type = amqp_cstring_bytes(m->content_type);
		p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
	}
	st = amqp_basic_publish(c->st, AMQPC_CHANNEL,
	    amqp_cstring_bytes(m->exchange), amqp_cstring_bytes(m->routing_key),
	    0, 0, &p, body);
	free(e);
	c->seq++;
	if (st != AMQP_STATUS_OK) {
		c->dead = true;
		snprintf(why, whylen, "publish: %s", amqp_error_string2(st));
		r = status_err(st);
	} else
		r = confirm_wait(c, deadline, why, whylen);
	amqp_maybe_release_buffers(c->st);
 out:
	if (r != 0)
		why_prefix(c, why, whylen);
	return r;
}

int
amqpc_send(const char *url, const char *ca_file, const struct amqpc_msg *m,
    int64_t timeout_ms, char *why, size_t whylen)
{
	struct amqpc *c = NULL;
	int r;

	if ((r = amqpc_open(url, ca_file, timeout_ms, &c, why, whylen)) != 0)
		return r;
	r = amqpc_publish(c, m, timeout_ms, why, whylen);
	amqpc_close(c);
	return r;
}

/* Appends s to b, each byte but RFC 3986's unreserved ones as %XX. */
static int
pct_put(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char ch;
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
			r = buf_append(b, &s[i], 1);
		else
			r = buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
	}
	return r;
}

/* The buffer is reserved whole first, so that no copy of the password is
 * left in freed memory. */
char *
amqpc_creds_url(const char *url, const char *username,
    const char *password)
{
	const char *host = strstr(url, "://"), *end, *at, *colon;
	size_t need;
	struct buf b;
	int r;

	if (host == NULL)
		return strdup(url);
	host += 3;
	end = host + strcspn(host, "/");
	for (at = end; at > host && at[-1] != '@'; at--)
		;
	colon = at > host ? memchr(host, ':', (size_t)(at - 1 - host)) : NULL;
	need = 3 * (strlen(url) + strlen(username != NULL ? username : "") +
	    strlen(password)) + 16;
	buf_init(&b, need);
	if ((r = buf_reserve(&b, need)) == 0)
		r = buf_append(&b, url, (size_t)(host - url));
	if (r == 0 && username != NULL)
		r = pct_put(&b, username, strlen(username));
	else if (r == 0)
		r = at > host ? buf_append(&b, host, (size_t)((colon != NULL ?
		    colon : at - 1) - host)) : buf_puts(&b, "guest");
	if (r == 0 && (r = buf_puts(&b, ":")) == 0 &&
	    (r = pct_put(&b, password, strlen(password))) == 0 &&
	    (r = buf_puts(&b, "@")) == 0)
		r = buf_puts(&b, at);
	if (r != 0 && b.data != NULL)
		explicit_bzero(b.data, b.cap);
	return r == 0 ? buf_steal(&b, NULL) : (buf_free(&b), NULL);
}
