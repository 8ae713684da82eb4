/*
 * curlx.c - the shared libcurl layer (see curlx.h): process init, the
 * common easy options, curl's codes translated, and the multi driver.
 *
 * The driver runs one curl multi handle on the event loop.  curl tells us
 * which sockets it wants watched (CURLMOPT_SOCKETFUNCTION: each socket gets
 * one loop watch) and when it next needs to run (CURLMOPT_TIMERFUNCTION:
 * one loop timer); on either event we call curl_multi_socket_action() and
 * then collect the finished transfers with curl_multi_info_read().  Nothing
 * blocks and no thread is started here (curl's threaded resolver, when
 * built in, is curl's own business).  Each transfer has a small record,
 * found again through CURLOPT_PRIVATE, that holds the caller's arg and the
 * error buffer.  A finished transfer leaves the multi handle before done()
 * runs, so done() may free it; done() never runs inside add() or remove().
 *
 * curl's codes (CURLcode, CURLMcode) are translated here and nowhere else.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "distcron/buf.h"
#include "distcron/curlx.h"
#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/url.h"

/* ---- init and easy handles ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_code;

static void
global_init(void)
{
	global_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
curlx_global_init(void)
{
	(void)pthread_once(&global_once, global_init);
	return global_code == CURLE_OK ? 0 : ERR_INTERNAL;
}

/* http and https, or with o->smtp smtp and smtps. */
static CURLcode
setup_protocols(CURL *e, const struct curlx_opts *o)
{
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85: the string form */
	return curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, o->smtp ?
	    "smtp,smtps" : "http,https");
#else
	return curl_easy_setopt(e, CURLOPT_PROTOCOLS, o->smtp ?
	    (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS) :
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* The options given only when o sets them. */
static CURLcode
setup_given(CURL *e, const struct curlx_opts *o)
{
	CURLcode c = CURLE_OK;

	if (o->user_agent != NULL &&
	    (c = curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent)) !=
	    CURLE_OK)
		return c;
	if (o->errbuf != NULL &&
	    (c = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, o->errbuf)) !=
	    CURLE_OK)
		return c;
	if (o->ca_file != NULL &&
	    (c = curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file)) != CURLE_OK)
		return c;
	if (o->connect_timeout_ms > 0)
		c = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)o->connect_timeout_ms);
	return c;
}

/* Puts curl's words for c in o's error buffer, if any. */
static void
setup_why(const struct curlx_opts *o, CURLcode c)
{
	if (o->errbuf != NULL)
		(void)snprintf(o->errbuf, CURLX_ERRBUF_SIZE, "%s",
		    curl_easy_strerror(c));
}

int
curlx_easy_setup(CURL *e, const struct curlx_opts *o)
{
	long verify = o->tls_insecure ? 0L : 1L;
	CURLcode c;

	if ((c = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (c = setup_protocols(e, o)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L)) !=
	    CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify)) !=
	    CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify * 2)) !=
	    CURLE_OK || (c = setup_given(e, o)) != CURLE_OK) {
		setup_why(o, c);
		return ERR_INTERNAL;
	}
	return 0;
}

int
curlx_easy_new(const struct curlx_opts *o, CURL **out)
{
	CURL *e;
	int r;

	if ((r = curlx_global_init()) != 0) {
		setup_why(o, global_code);
		return r;
	}
	if ((e = curl_easy_init()) == NULL) {
		setup_why(o, CURLE_OUT_OF_MEMORY);
		return -ENOMEM;
	}
	if ((r = curlx_easy_setup(e, o)) != 0) {
		curl_easy_cleanup(e);
		return r;
	}
	*out = e;
	return 0;
}

int
curlx_easy_ca_file(CURL *e, const char *path)
{
	return curl_easy_setopt(e, CURLOPT_CAINFO, path) == CURLE_OK ? 0 :
	    -ENOMEM;
}

long
curlx_response_code(CURL *e)
{
	long status = 0;

	(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* ---- errors ---- */

static enum curlx_kind
kind_of(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return CURLX_OK;
	case CURLE_COULDNT_CONNECT:
		return CURLX_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return CURLX_RESOLVE;
	case CURLE_OPERATION_TIMEDOUT:
		return CURLX_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		return CURLX_TLS_VERIFY;
	case CURLE_SSL_CONNECT_ERROR:
		return CURLX_TLS_HANDSHAKE;
	case CURLE_OUT_OF_MEMORY:
		return CURLX_NOMEM;
	case CURLE_LOGIN_DENIED:
		return CURLX_AUTH;
	default:
		return CURLX_OTHER;
	}
}

static int
err_of(enum curlx_kind kind)
{
	switch (kind) {
	case CURLX_OK:
		return 0;
	case CURLX_CONNECT:
	case CURLX_RESOLVE:
		return ERR_CONNECT;
	case CURLX_TIMEOUT:
		return ERR_TIMEOUT;
	case CURLX_NOMEM:
		return -ENOMEM;
	case CURLX_AUTH:
		return ERR_AUTH;
	default:
		return ERR_PROTOCOL;
	}
}

int
curlx_translate(CURL *easy, CURLcode code, const char *errbuf,
    struct curlx_error *out)
{
	long oserr = 0;

	out->kind = kind_of(code);
	out->err = err_of(out->kind);
	out->os_errno = 0;
	out->why[0] = '\0';
	if (code == CURLE_OK)
		return 0;
	if (out->kind == CURLX_CONNECT && easy != NULL &&
	    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK)
		out->os_errno = (int)oserr;
	(void)snprintf(out->why, sizeof(out->why), "%s",
	    errbuf != NULL && errbuf[0] != '\0' ? errbuf :
	    curl_easy_strerror(code));
	return out->err;
}

void
curlx_message(const struct curlx_error *e, const char *peer,
    const char *url, int64_t timeout_ms, char *out, size_t size)
{
	const char *why = e->why;
	struct buf b;

	buf_init(&b, strlen(url));
	(void)url_strip(url, &b);	/* cannot pass the cap */
	switch (e->kind) {
	case CURLX_CONNECT:
		if (e->os_errno > 0)
			why = strerror(e->os_errno);
		/* FALLTHROUGH */
	case CURLX_RESOLVE:
		snprintf(out, size, "cannot reach %s at %s: %s", peer,
		    buf_str(&b), why);
		break;
	case CURLX_TIMEOUT:
		snprintf(out, size, "no answer from %s at %s within %lld ms",
		    peer, buf_str(&b), (long long)timeout_ms);
		break;
	case CURLX_TLS_VERIFY:
		snprintf(out, size, "cannot verify the TLS certificate of %s "
		    "at %s: %s", peer, buf_str(&b), why);
		break;
	case CURLX_TLS_HANDSHAKE:
		snprintf(out, size, "TLS handshake with %s at %s failed: %s",
		    peer, buf_str(&b), why);
		break;
	case CURLX_NOMEM:
		snprintf(out, size, "out of memory");
		break;
	case CURLX_AUTH:
		snprintf(out, size, "%s at %s refused the credentials: %s",
		    peer, buf_str(&b), why);
		break;
	default:
		snprintf(out, size, "%s at %s: %s", peer, buf_str(&b), why);
		break;
	}
	buf_free(&b);
}

/* ---- the driver: state ---- */

/* A socket curl asked us to watch. */
struct curlx_sock {
	struct curlx_multi *m;
	curl_socket_t fd;
	struct loop_watch *w;
	struct curlx_sock *prev, *next;
};

/* A transfer in the driver. */
struct curlx_xfer {
	struct curlx_multi *m;
	CURL *easy;
	void *arg;
	struct curlx_xfer *prev, *next;
	char errbuf[CURLX_ERRBUF_SIZE];
};

struct curlx_multi {
	struct loop *loop;
	char *name;			/* for log lines */
	curlx_done_fn done;
	CURLM *multi;
	struct loop_timer *timer;	/* curl's timeout */
	struct curlx_sock *socks;
	struct curlx_xfer *xfers;
	bool closing;			/* in curlx_multi_free() */
};

/* ---- the driver: transfers ---- */

static struct curlx_xfer *
xfer_of(struct curlx_multi *m, CURL *easy)
{
	char *priv = NULL;
	struct curlx_xfer *x;

	(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	x = (struct curlx_xfer *)priv;
	return x != NULL && x->m == m && x->easy == easy ? x : NULL;
}

/* Takes x out of the multi handle and frees it; the easy handle stays. */
static void
xfer_drop(struct curlx_xfer *x)
{
	struct curlx_multi *m = x->m;

	(void)curl_multi_remove_handle(m->multi, x->easy);
	(void)curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
	(void)curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		m->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	free(x);
}

int
curlx_multi_add(struct curlx_multi *m, CURL *easy, void *arg)
{
	struct curlx_xfer *x;
	CURLMcode mc;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -ENOMEM;
	x->m = m;
	x->easy = easy;
	x->arg = arg;
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf) !=
	    CURLE_OK) {
		free(x);
		return ERR_INTERNAL;
	}
	if ((mc = curl_multi_add_handle(m->multi, easy)) != CURLM_OK) {
		(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		(void)curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
		free(x);
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : ERR_INTERNAL;
	}
	if ((x->next = m->xfers) != NULL)
		x->next->prev = x;
	m->xfers = x;
	return 0;
}

void
curlx_multi_remove(struct curlx_multi *m, CURL *easy)
{
	struct curlx_xfer *x;

	if (m != NULL && easy != NULL && (x = xfer_of(m, easy)) != NULL)
		xfer_drop(x);
}

/* Hands the transfers curl reports done to done().  done() may add or
 * remove others meanwhile: removing a handle drops its pending message. */
static void
collect(struct curlx_multi *m)
{
	struct curlx_error e;
	struct curlx_xfer *x;
	CURLMsg *msg;
	CURL *easy;
	void *arg;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE ||
		    (x = xfer_of(m, msg->easy_handle)) == NULL)
			continue;
		easy = x->easy;
		arg = x->arg;
		(void)curlx_translate(easy, msg->data.result, x->errbuf, &e);
		xfer_drop(x);		/* msg is invalid from here */
		m->done(arg, easy, &e);
	}
}

/* ---- the driver: curl on the loop ---- */

static void
socket_action(struct curlx_multi *m, curl_socket_t fd, int mask)
{
	CURLMcode mc;
	int running;

	mc = curl_multi_socket_action(m->multi, fd, mask, &running);
	if (mc != CURLM_OK)
		log_error("%s: %s", m->name, curl_multi_strerror(mc));
	collect(m);
}

static void
on_socket(int fd, uint32_t events, void *arg)
{
	struct curlx_sock *s = arg;
	int mask = 0;

	if ((events & (EPOLLIN | EPOLLHUP)) != 0)
		mask |= CURL_CSELECT_IN;
	if ((events & EPOLLOUT) != 0)
		mask |= CURL_CSELECT_OUT;
	if ((events & EPOLLERR) != 0)
		mask |= CURL_CSELECT_ERR;
	/* s may be freed inside: curl can drop the socket. */
	socket_action(s->m, fd, mask);
}

static void
on_timer(void *arg)
{
	struct curlx_multi *m = arg;

	m->timer = NULL;		/* freed by the loop when we return */
	socket_action(m, CURL_SOCKET_TIMEOUT, 0);
}

static void
sock_free(struct curlx_sock *s)
{
	loop_watch_del(s->w);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->m->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
}

static struct curlx_sock *
sock_new(struct curlx_multi *m, curl_socket_t fd)
{
	struct curlx_sock *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->m = m;
	s->fd = fd;
	if ((s->next = m->socks) != NULL)
		s->next->prev = s;
	m->socks = s;
	if (curl_multi_assign(m->multi, fd, s) != CURLM_OK) {
		sock_free(s);
		return NULL;
	}
	return s;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl waits for. */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct curlx_multi *m = arg;
	struct curlx_sock *s = sockp;
	uint32_t ev = 0;
	int r;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			sock_free(s);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= EPOLLOUT;
	if (s == NULL && (s = sock_new(m, fd)) == NULL)
		r = -ENOMEM;
	else if (s->w == NULL)
		r = loop_watch_add(m->loop, fd, ev, on_socket, s, &s->w);
	else
		r = loop_watch_mod(s->w, ev);
	if (r != 0) {
		log_error("%s: cannot watch socket %d: %s", m->name, (int)fd,
		    err_str(r));
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, replaced at each call; -1 removes it. */
static int
on_curl_timer(CURLM *multi, long ms, void *arg)
{
	struct curlx_multi *m = arg;

	loop_timer_del(m->timer);
	m->timer = NULL;
	if (ms < 0 || m->closing)
		return 0;
	if (loop_timer_add(m->loop, loop_mono_ms() + ms, on_timer, m,
	    &m->timer) != 0) {
		log_error("%s: cannot add a timer", m->name);
		return -1;
	}
	return 0;
}

/* ---- the driver: life ---- */

int
curlx_multi_new(struct loop *loop, const char *name, curlx_done_fn done,
    struct curlx_multi **out)
{
	struct curlx_multi *m;
	int r;

	if ((r = curlx_global_init()) != 0)
		return r;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->loop = loop;
	m->done = done;
	if ((m->name = strdup(name)) == NULL ||
	    (m->multi = curl_multi_init()) == NULL ||
	    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION,
	    on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION,
	    on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m) != CURLM_OK) {
		curlx_multi_free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void
curlx_multi_free(struct curlx_multi *m)
{
	if (m == NULL)
		return;
	m->closing = true;
	while (m->xfers != NULL)
		xfer_drop(m->xfers);
	/* Closing cached connections may still call on_curl_socket(). */
	if (m->multi != NULL)
		(void)curl_multi_cleanup(m->multi);
	while (m->socks != NULL)
		sock_free(m->socks);
	loop_timer_del(m->timer);
	free(m->name);
	free(m);
}
