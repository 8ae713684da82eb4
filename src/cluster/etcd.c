/*
 * etcd.c - the etcd v3 client's transport (see etcd.h): one curlx driver
 * (curl's sockets and timer on the event loop) runs every request and
 * watch of a client; the bodies and answers are etcd_json.c's.
 *
 * A request is one struct etcd_req: its JSON body, built once, is POSTed
 * to the endpoint the client is on (e->cur), then to the next ones while
 * the failure says the request was not applied (no connection, a TLS
 * failure, "unavailable"), once around the list.  The messages of the
 * failed attempts are kept and joined, so the final error names every
 * endpoint tried.  A write that timed out or lost its connection after
 * it was sent is not retried: ERR_TIMEOUT, the outcome unknown.
 *
 * With a username, requests wait for a token: the first one starts a POST
 * to /v3/auth/authenticate, and every request that comes meanwhile joins
 * the waiting list; when the token arrives they all start, when the login
 * fails they all fail with its message.  A token refused later ("invalid
 * auth token": etcd restarted, or the token expired) is dropped and the
 * request logs in again, once.  The password and the token live in
 * memory wiped before it is freed, and never in a message.
 *
 * "Too many requests" (HTTP 429, gRPC ResourceExhausted) makes the client
 * back off: for BUSY_MIN_MS, doubling at each such answer up to
 * BUSY_MAX_MS, one request a period goes to etcd (the probe) and the
 * others fail at once (on the loop, not inside the call) with etcd's
 * last message; any answer that is not an error ends it.
 *
 * A watch is a request whose answer never ends: the write callback cuts
 * the stream into lines, one JSON message each, and hands them to the
 * caller as they come.  When the stream breaks, the watch starts again on
 * the next endpoint from the revision after the last one seen.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/buf.h"
#include "distcron/curlx.h"
#include "distcron/err.h"
#include "distcron/etcd.h"
#include "distcron/jfield.h"
#include "distcron/log.h"
#include "distcron/url.h"
#include "etcd_int.h"

#define USER_AGENT	"distcrond/" PACKAGE_VERSION
#define CONNECT_MAX_MS	1000
#define BODY_MAX	(4 * 1024 * 1024)
#define ERRS_MAX	(4 * ETCD_MSG_LEN)
#define BUSY_MIN_MS	500	/* the first back-off from "too many requests" */
#define BUSY_MAX_MS	ETCD_TIMEOUT_DEFAULT	/* the longest */

struct etcd_req {
	struct etcd *e;
	struct etcd_req *prev, *next;	/* e->reqs: every live request */
	struct etcd_req *wait_next;	/* e->waiting: for a token */
	enum etcd_kind kind;
	struct etcd_watch *w;		/* the watch it is, or NULL */
	etcd_fn fn;
	void *arg;
	struct buf body, resp;
	CURL *easy;
	struct curl_slist *hdrs;
	char *auth_hdr;
	size_t at, tries;	/* this attempt's endpoint, attempts made */
	bool toobig, reauthed, waiting;
	bool probe;		/* sent while backing off */
	struct buf errs;	/* the failed attempts' messages */
	struct loop_timer *soon;	/* starting it, or failing it while
					 * backing off, from the loop */
};

struct etcd_watch {
	struct etcd_req req;
	struct etcd_watch_opts o;	/* o.key: a copy */
	etcd_watch_fn fn;
	void *arg;
	int64_t next_rev;	/* where a new stream starts; 0: now */
	bool in_cb, cancelled, ended;
};

struct etcd {
	struct loop *loop;
	struct curlx_multi *multi;
	char **urls;		/* without a trailing "/" */
	char **shown;		/* url_strip()ped */
	size_t n, cur;
	char *ca_file, *cert_file, *key_file;
	char *username, *password;
	char *token;		/* NULL until logged in */
	int64_t timeout_ms;
	struct etcd_req *reqs;
	struct etcd_req *waiting;	/* for auth_req's token */
	struct etcd_req *auth_req;
	int64_t busy_ms;	/* the back-off period; 0: none */
	int64_t busy_until;	/* mono: the next probe's time */
	char busy_msg[ETCD_MSG_LEN];	/* etcd's "too many requests" */
	int in_write;		/* in curl's write callback: no new transfer */
};

static void on_transfer(void *arg, CURL *easy, const struct curlx_error *ce);
static void req_next(struct etcd_req *q, int err, const char *msg);
static void req_end(struct etcd_req *q, int err, const char *msg);
static int req_attempt(struct etcd_req *q, size_t at);

/* ---- small helpers ---- */

static void
str_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
buf_wipe_free(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

static bool
kind_is_read(enum etcd_kind k)
{
	return k == ETCD_K_RANGE || k == ETCD_K_KEEPALIVE ||
	    k == ETCD_K_REVOKE || k == ETCD_K_AUTH || k == ETCD_K_WATCH;
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	return (*out = strdup(s)) != NULL ? 0 : -ENOMEM;
}

/* ---- requests ---- */

static void
req_free(struct etcd_req *q)
{
	struct etcd *e = q->e;
	struct etcd_req **pp;

	for (pp = &e->waiting; q->waiting && *pp != NULL;
	    pp = &(*pp)->wait_next)
		if (*pp == q) {
			*pp = q->wait_next;
			break;
		}
	if (e->auth_req == q)
		e->auth_req = NULL;
	if (q->soon != NULL)
		loop_timer_del(q->soon);
	if (q->prev != NULL)
		q->prev->next = q->next;
	else if (e->reqs == q)
		e->reqs = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (q->easy != NULL) {
		curlx_multi_remove(e->multi, q->easy);
		curl_easy_cleanup(q->easy);
	}
	curl_slist_free_all(q->hdrs);
	str_wipe_free(q->auth_hdr);
	buf_wipe_free(&q->body);
	buf_wipe_free(&q->resp);
	buf_free(&q->errs);
	if (q->w != NULL) {
		free((char *)q->w->o.key);
		free(q->w);
	} else {
		free(q);
	}
}

/* Sets up q (already allocated, zeroed) and links it into e. */
static int
req_init(struct etcd *e, struct etcd_req *q, enum etcd_kind kind)
{
	struct curlx_opts o = {
		.user_agent = USER_AGENT, .ca_file = e->ca_file,
		.connect_timeout_ms = e->timeout_ms < CONNECT_MAX_MS ?
		    e->timeout_ms : CONNECT_MAX_MS,
	};
	int r;

	q->e = e;
	q->kind = kind;
	buf_init(&q->body, BODY_MAX);
	buf_init(&q->resp, ETCD_ANSWER_MAX);
	buf_init(&q->errs, ERRS_MAX);
	q->next = e->reqs;
	if (e->reqs != NULL)
		e->reqs->prev = q;
	e->reqs = q;
	if ((r = curlx_easy_new(&o, &q->easy)) != 0)
		return r;
	if ((e->cert_file != NULL && (curl_easy_setopt(q->easy,
	    CURLOPT_SSLCERT, e->cert_file) != CURLE_OK ||
	    curl_easy_setopt(q->easy, CURLOPT_SSLKEY, e->key_file) !=
	    CURLE_OK)) ||
	    curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS,
	    kind == ETCD_K_WATCH ? 0L : (long)e->timeout_ms) != CURLE_OK)
		return ERR_INTERNAL;
	return 0;
}

static int
req_new(struct etcd *e, enum etcd_kind kind, etcd_fn fn, void *arg,
    struct etcd_req **out)
{
	struct etcd_req *q;
	int r;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->fn = fn;
	q->arg = arg;
	if ((r = req_init(e, q, kind)) != 0) {
		req_free(q);
		return r;
	}
	*out = q;
	return 0;
}

/* Calls q's callback with res and frees q. */
static void
req_finish(struct etcd_req *q, struct etcd_result *res)
{
	q->fn(q->arg, res);
	req_free(q);
}

static void
req_fail(struct etcd_req *q, int err, const char *msg)
{
	struct etcd_result res;

	memset(&res, 0, sizeof(res));
	res.err = err;
	etcd_fmt(res.msg, sizeof(res.msg), "%s", msg);
	req_finish(q, &res);
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct etcd_req *q = arg;

	if (buf_append(&q->resp, p, size * n) != 0) {
		q->toobig = true;
		return 0;
	}
	return size * n;
}

static size_t on_watch_write(char *p, size_t size, size_t n, void *arg);

/* The per-attempt options of q: URL, headers, body, write callback. */
static int
req_setup(struct etcd_req *q)
{
	struct etcd *e = q->e;
	struct curl_slist *h = NULL, *h2;
	char url[1024];

	snprintf(url, sizeof(url), "%s%s", e->urls[q->at], etcd_path(q->kind));
	curl_slist_free_all(q->hdrs);
	str_wipe_free(q->auth_hdr);
	q->hdrs = NULL;
	q->auth_hdr = NULL;
	if ((h = curl_slist_append(NULL, "Content-Type: application/json")) ==
	    NULL)
		return -ENOMEM;
	q->hdrs = h;
	if ((h = curl_slist_append(h, "Expect:")) == NULL)	/* no 100 wait */
		return -ENOMEM;
	if (e->token != NULL && q->kind != ETCD_K_AUTH) {
		size_t len = strlen(e->token) + sizeof("Authorization: ");

		if ((q->auth_hdr = malloc(len)) == NULL)
			return -ENOMEM;
		snprintf(q->auth_hdr, len, "Authorization: %s", e->token);
		if ((h2 = curl_slist_append(h, q->auth_hdr)) == NULL)
			return -ENOMEM;
		q->hdrs = h2;
	}
	if (curl_easy_setopt(q->easy, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs) !=
	    CURLE_OK ||
	    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, buf_str(&q->body)) !=
	    CURLE_OK ||
	    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)q->body.len) != CURLE_OK ||
	    curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION,
	    q->w != NULL ? on_watch_write : on_write) != CURLE_OK ||
	    curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q) != CURLE_OK)
		return ERR_INTERNAL;
	return 0;
}

/* Starts an attempt of q on endpoint at. */
static int
req_attempt(struct etcd_req *q, size_t at)
{
	int r;

	q->at = at % q->e->n;
	q->tries++;
	q->toobig = false;
	buf_reset(&q->resp);
	if ((r = req_setup(q)) != 0)
		return r;
	return curlx_multi_add(q->e->multi, q->easy, q);
}

/* ---- auth ---- */

static void
auth_done(void *arg, const struct etcd_result *res)
{
	struct etcd *e = arg;
	struct etcd_req *q, *list = e->waiting;
	int r;

	e->waiting = NULL;
	e->auth_req = NULL;
	while ((q = list) != NULL) {
		list = q->wait_next;
		q->wait_next = NULL;
		q->waiting = false;
		if (res->err != 0) {
			req_end(q, res->err, res->msg);
			continue;
		}
		if ((r = req_attempt(q, e->cur)) != 0)
			req_next(q, r, err_str(r));
	}
}

/* Puts q on the waiting list; logs in unless a login is under way. */
static int
auth_wait(struct etcd_req *q)
{
	struct etcd *e = q->e;
	struct etcd_req *a = NULL;
	int r;

	q->waiting = true;
	q->wait_next = e->waiting;
	e->waiting = q;
	if (e->auth_req != NULL)
		return 0;
	if ((r = req_new(e, ETCD_K_AUTH, auth_done, e, &a)) != 0 ||
	    (r = etcd_body_auth(e->username, e->password, &a->body)) != 0 ||
	    (r = req_attempt(a, e->cur)) != 0) {
		if (a != NULL && r != 0)
			req_free(a);
		e->waiting = q->wait_next;
		q->waiting = false;
		return r;
	}
	e->auth_req = a;
	return 0;
}

/* ---- backing off ---- */

/* etcd answered q "too many requests" (msg): a back-off, longer when q
 * was a probe (answers to requests sent before it began change nothing). */
static void
busy_note(struct etcd_req *q, const char *msg)
{
	struct etcd *e = q->e;

	if (e->busy_ms != 0 && !q->probe)
		return;
	e->busy_ms = e->busy_ms == 0 ? BUSY_MIN_MS : e->busy_ms * 2;
	if (e->busy_ms > BUSY_MAX_MS)
		e->busy_ms = BUSY_MAX_MS;
	e->busy_until = loop_mono_ms() + e->busy_ms;
	etcd_fmt(e->busy_msg, sizeof(e->busy_msg), "%s", msg);
}

static void
busy_fail(void *arg)
{
	struct etcd_req *q = arg;

	q->soon = NULL;
	req_end(q, ERR_BUSY, q->e->busy_msg);
}

/* Whether q is failed (soon, by a timer) instead of sent: backing off,
 * and the period's probe has gone already. */
static bool
busy_refuse(struct etcd_req *q)
{
	struct etcd *e = q->e;
	int64_t now = loop_mono_ms();

	if (e->busy_ms == 0)
		return false;
	if (now >= e->busy_until) {	/* this one is the probe */
		e->busy_until = now + e->busy_ms;
		q->probe = true;
		return false;
	}
	return loop_timer_add(e->loop, now, busy_fail, q, &q->soon) == 0;
}

static int req_submit(struct etcd_req *q);

static void
req_deferred(void *arg)
{
	struct etcd_req *q = arg;
	int r;

	q->soon = NULL;
	if ((r = req_submit(q)) != 0)
		req_end(q, r, err_str(r));
}

/* Starts q: logs in first when there is no token yet; fails it soon
 * while backing off.  Asked from a watch's callback (within curl's write
 * callback, where curl refuses a new transfer), it starts from the loop. */
static int
req_submit(struct etcd_req *q)
{
	if (q->e->in_write > 0)
		return loop_timer_add(q->e->loop, loop_mono_ms(), req_deferred,
		    q, &q->soon);
	if (busy_refuse(q))
		return 0;
	if (q->e->username != NULL && q->e->token == NULL)
		return auth_wait(q);
	return req_attempt(q, q->e->cur);
}

/* ---- answers ---- */

/*
 * The failed attempt's message joins the others'; the next endpoint is
 * tried unless every one has been (then the joined messages are the
 * error, with the last attempt's code).
 */
static void
req_next(struct etcd_req *q, int err, const char *msg)
{
	int r;

	if (q->errs.len > 0)
		(void)buf_puts(&q->errs, "; ");
	(void)buf_puts(&q->errs, msg);
	if (q->tries >= q->e->n || err == ERR_AUTH) {
		req_end(q, err, buf_str(&q->errs));
		return;
	}
	if ((r = req_attempt(q, q->at + 1)) != 0)
		req_end(q, r, err_str(r));
}

/* "etcd at URL: authentication failed: WHY" and the like. */
static void
answer_message(struct etcd_req *q, int err, const char *why, char *out,
    size_t len)
{
	etcd_fmt(out, len, "etcd at %s: %s%s", q->e->shown[q->at],
	    err == ERR_AUTH ? "authentication failed: " : "", why);
}

/* An answer other than 200: etcd's error. */
static void
req_refused(struct etcd_req *q, long status)
{
	struct etcd *e = q->e;
	char why[ETCD_MSG_LEN], msg[ETCD_MSG_LEN];
	enum etcd_fail f;
	int err, r;

	f = etcd_classify(status, q->resp.data != NULL ? q->resp.data : "",
	    q->resp.len, &err, why, sizeof(why));
	answer_message(q, err, why, msg, sizeof(msg));
	if (err == ERR_BUSY)
		busy_note(q, msg);
	if (f == ETCD_F_FINAL || f == ETCD_F_REAUTH)
		e->cur = q->at;		/* it answered for itself */
	if (f == ETCD_F_REAUTH && e->username != NULL && !q->reauthed &&
	    q->kind != ETCD_K_AUTH) {
		q->reauthed = true;
		str_wipe_free(e->token);
		e->token = NULL;
		if ((r = auth_wait(q)) != 0)
			req_end(q, r, err_str(r));
		return;
	}
	if (f == ETCD_F_NEXT || (f == ETCD_F_UNSURE && kind_is_read(q->kind)))
		req_next(q, err, msg);
	else
		req_end(q, f == ETCD_F_UNSURE ? ERR_TIMEOUT : err, msg);
}

/* A 200 answer to a request (not a watch). */
static void
req_answered(struct etcd_req *q)
{
	struct etcd *e = q->e;
	struct etcd_result res;
	char why[ETCD_MSG_LEN];
	int r;

	memset(&res, 0, sizeof(res));
	if (q->kind == ETCD_K_AUTH) {
		str_wipe_free(e->token);
		e->token = NULL;
		r = etcd_parse_token(buf_str(&q->resp), q->resp.len, &e->token,
		    why, sizeof(why));
	} else {
		r = etcd_parse(q->kind, buf_str(&q->resp), q->resp.len, &res);
		snprintf(why, sizeof(why), "%s", res.msg);
	}
	if (r != 0) {
		etcd_result_clear(&res);
		res.err = r;
		etcd_fmt(res.msg, sizeof(res.msg), "etcd at %s: %s%s",
		    e->shown[q->at], r == ERR_PROTOCOL ?
		    "malformed answer: " : "", why);
	}
	req_finish(q, &res);
	etcd_result_clear(&res);
}

/* A transfer that failed: no answer, or not all of it. */
static void
req_broken(struct etcd_req *q, const struct curlx_error *ce)
{
	struct etcd *e = q->e;
	char msg[ETCD_MSG_LEN];
	long sent = 0;

	if (q->toobig) {
		snprintf(msg, sizeof(msg), "etcd at %s: an answer larger "
		    "than %d bytes", e->shown[q->at], ETCD_ANSWER_MAX);
		req_end(q, ERR_TOOBIG, msg);
		return;
	}
	curlx_message(ce, "etcd", e->urls[q->at], e->timeout_ms, msg,
	    sizeof(msg));
	if (curl_easy_getinfo(q->easy, CURLINFO_REQUEST_SIZE, &sent) !=
	    CURLE_OK)
		sent = 1;
	if (sent > 0 && !kind_is_read(q->kind) &&
	    (ce->kind == CURLX_TIMEOUT || ce->kind == CURLX_OTHER)) {
		char full[ETCD_MSG_LEN + 48];

		snprintf(full, sizeof(full), "%s (the request may have been "
		    "applied)", msg);
		req_end(q, ERR_TIMEOUT, full);
		return;
	}
	req_next(q, ce->err, msg);
}

static void watch_transfer_done(struct etcd_watch *w,
    const struct curlx_error *ce);

static void
on_transfer(void *arg, CURL *easy, const struct curlx_error *ce)
{
	struct etcd_req *q = arg;
	long status;

	(void)easy;
	if (q->w != NULL) {
		watch_transfer_done(q->w, ce);
		return;
	}
	if (ce->err != 0) {
		req_broken(q, ce);
		return;
	}
	if ((status = curlx_response_code(q->easy)) == 200) {
		q->e->cur = q->at;
		q->e->busy_ms = 0;	/* etcd copes again */
		req_answered(q);
	} else
		req_refused(q, status);
}

/* ---- watches ---- */

/* Hands m to w's caller.  Returns false when w was cancelled meanwhile. */
static bool
watch_deliver(struct etcd_watch *w, const struct etcd_watch_msg *m)
{
	w->in_cb = true;
	w->fn(w->arg, m);
	w->in_cb = false;
	return !w->cancelled;
}

/* Where a new stream starts after m: past its events, or past the
 * revision it was created or made progress at. */
static void
watch_advance(struct etcd_watch *w, const struct etcd_watch_msg *m)
{
	int64_t next = 0;

	if (m->nevents > 0)
		next = m->events[m->nevents - 1].kv.mod_revision + 1;
	else if (m->progress || (m->created && w->next_rev == 0))
		next = m->revision + 1;
	if (next > w->next_rev)
		w->next_rev = next;
}

/* Ends w with an error message (the handle stays the caller's). */
static void
watch_fail(struct etcd_watch *w, int err, const char *msg)
{
	struct etcd_watch_msg m;

	memset(&m, 0, sizeof(m));
	m.err = err;
	etcd_fmt(m.msg, sizeof(m.msg), "%s", msg);
	w->ended = true;
	if (!watch_deliver(w, &m))
		req_free(&w->req);
}

static void
req_end(struct etcd_req *q, int err, const char *msg)
{
	if (q->w != NULL)
		watch_fail(q->w, err, msg);
	else
		req_fail(q, err, msg);
}

/* One line of the stream.  Returns false to stop the transfer. */
static bool
watch_line(struct etcd_watch *w, const char *line, size_t len)
{
	struct etcd_req *q = &w->req;
	struct etcd_watch_msg m;
	char msg[ETCD_MSG_LEN];
	bool go;
	int r;

	if ((r = etcd_parse_watch(line, len, &m)) != 0) {
		etcd_fmt(msg, sizeof(msg), "etcd at %s: malformed watch "
		    "message: %s", q->e->shown[q->at], m.msg);
		etcd_watch_msg_clear(&m);
		m.err = r;
		etcd_fmt(m.msg, sizeof(m.msg), "%s", msg);
	}
	if (m.err != 0)
		w->ended = true;
	else {
		q->tries = 0;		/* the stream works */
		buf_reset(&q->errs);
		q->e->cur = q->at;
		watch_advance(w, &m);
	}
	go = watch_deliver(w, &m) && !w->ended;
	etcd_watch_msg_clear(&m);
	return go;
}

static size_t
on_watch_write(char *p, size_t size, size_t n, void *arg)
{
	struct etcd_req *q = arg;
	struct etcd_watch *w = q->w;
	struct etcd *e = q->e;
	size_t len, ret = size * n;
	char *nl;

	if (buf_append(&q->resp, p, size * n) != 0) {
		q->toobig = true;
		return 0;
	}
	if (curlx_response_code(q->easy) != 200)
		return ret;	/* an error: read at the end */
	e->in_write++;
	while (q->resp.len > 0 &&
	    (nl = memchr(q->resp.data, '\n', q->resp.len)) != NULL) {
		len = (size_t)(nl - q->resp.data);
		if (len > 0 && !watch_line(w, q->resp.data, len)) {
			ret = 0;
			break;
		}
		buf_consume(&q->resp, len + 1);
	}
	e->in_write--;
	return ret;
}

/* Opens w's stream on endpoint at, from w->next_rev. */
static int
watch_open(struct etcd_watch *w, size_t at)
{
	struct etcd_watch_opts o = w->o;
	int r;

	if (w->next_rev > 0)
		o.start_revision = w->next_rev;
	buf_reset(&w->req.body);
	if ((r = etcd_body_watch(&o, &w->req.body)) != 0)
		return r;
	return req_attempt(&w->req, at);
}

/* The stream ended: cancelled, ended by a message, or broken. */
static void
watch_transfer_done(struct etcd_watch *w, const struct curlx_error *ce)
{
	struct etcd_req *q = &w->req;
	long status = curlx_response_code(q->easy);
	char msg[ETCD_MSG_LEN];
	int r;

	if (w->cancelled) {
		req_free(q);
		return;
	}
	if (w->ended)
		return;
	if (ce->err == 0 && status != 200 && !q->toobig) {
		req_refused(q, status);
		return;
	}
	if (ce->err != 0 && !q->toobig) {
		curlx_message(ce, "etcd", q->e->urls[q->at], 0, msg,
		    sizeof(msg));
	} else if (q->toobig) {
		snprintf(msg, sizeof(msg), "etcd at %s: a watch message "
		    "larger than %d bytes", q->e->shown[q->at],
		    ETCD_ANSWER_MAX);
		watch_fail(w, ERR_TOOBIG, msg);
		return;
	} else {
		snprintf(msg, sizeof(msg), "etcd at %s: the watch stream "
		    "ended", q->e->shown[q->at]);
	}
	if (q->errs.len > 0)
		(void)buf_puts(&q->errs, "; ");
	(void)buf_puts(&q->errs, msg);
	if (q->tries >= q->e->n) {
		watch_fail(w, ce->err != 0 ? ce->err : ERR_CONNECT,
		    buf_str(&q->errs));
		return;
	}
	if ((r = watch_open(w, q->at + 1)) != 0)
		watch_fail(w, r, err_str(r));
}

/* ---- the client ---- */

/* Copies o's files and credentials into e. */
static int
opts_copy(struct etcd *e, const struct etcd_opts *o, char *err,
    size_t errlen)
{
	if ((o->cert_file == NULL) != (o->key_file == NULL)) {
		snprintf(err, errlen, "etcd: a client certificate needs both "
		    "cert_file and key_file");
		return ERR_CONFIG;
	}
	if ((o->username == NULL) != (o->password == NULL)) {
		snprintf(err, errlen, "etcd: authentication needs both a "
		    "username and a password");
		return ERR_CONFIG;
	}
	if (o->timeout_ms < 0) {
		snprintf(err, errlen, "etcd: timeout %lld ms is negative",
		    (long long)o->timeout_ms);
		return ERR_CONFIG;
	}
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms :
	    ETCD_TIMEOUT_DEFAULT;
	if (dup_opt(o->ca_file, &e->ca_file) != 0 ||
	    dup_opt(o->cert_file, &e->cert_file) != 0 ||
	    dup_opt(o->key_file, &e->key_file) != 0 ||
	    dup_opt(o->username, &e->username) != 0 ||
	    dup_opt(o->password, &e->password) != 0)
		return -ENOMEM;
	return 0;
}

static int
shown_make(struct etcd *e)
{
	size_t i;

	if ((e->shown = calloc(e->n + 1, sizeof(*e->shown))) == NULL)
		return -ENOMEM;
	for (i = 0; i < e->n; i++)
		if ((e->shown[i] = url_stripped(e->urls[i])) == NULL)
			return -ENOMEM;
	return 0;
}

int
etcd_new(struct loop *loop, const struct etcd_opts *o, struct etcd **out,
    char *err, size_t errlen)
{
	struct etcd *e;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	e->loop = loop;
	if ((r = etcd_endpoints_parse(o->endpoints, &e->urls, &e->n, err,
	    errlen)) != 0 ||
	    (r = opts_copy(e, o, err, errlen)) != 0 ||
	    (r = shown_make(e)) != 0 ||
	    (r = curlx_multi_new(loop, "etcd", on_transfer, &e->multi)) != 0) {
		if (r != ERR_CONFIG)
			snprintf(err, errlen, "etcd: %s", err_str(r));
		etcd_free(e);
		return r;
	}
	*out = e;
	return 0;
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	curlx_multi_free(e->multi);
	e->multi = NULL;
	while (e->reqs != NULL)
		req_free(e->reqs);
	jfield_strv_free(e->urls);
	jfield_strv_free(e->shown);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	free(e->username);
	str_wipe_free(e->password);
	str_wipe_free(e->token);
	free(e);
}

size_t
etcd_nendpoints(const struct etcd *e)
{
	return e->n;
}

const char *
etcd_endpoint(const struct etcd *e, size_t i)
{
	return i < e->n ? e->shown[i] : "";
}

size_t
etcd_current(const struct etcd *e)
{
	return e->cur;
}

/* Starts a request of kind whose body build() writes. */
static int
req_start(struct etcd *e, enum etcd_kind kind, etcd_fn fn, void *arg,
    int (*build)(const void *, struct buf *), const void *what)
{
	struct etcd_req *q;
	int r;

	if ((r = req_new(e, kind, fn, arg, &q)) != 0)
		return r;
	if ((r = build(what, &q->body)) != 0 || (r = req_submit(q)) != 0) {
		req_free(q);
		return r == -E2BIG ? ERR_TOOBIG : r;
	}
	return 0;
}

static int
build_op(const void *what, struct buf *b)
{
	return etcd_body_op(what, b);
}

static int
build_txn(const void *what, struct buf *b)
{
	return etcd_body_txn(what, b);
}

static int
build_lease(const void *what, struct buf *b)
{
	const int64_t *v = what;

	return buf_printf(b, "{\"%s\":\"%lld\"}", v[0] != 0 ? "TTL" : "ID",
	    (long long)(v[0] != 0 ? v[0] : v[1]));
}

int
etcd_do(struct etcd *e, const struct etcd_op *op, etcd_fn fn, void *arg)
{
	static const enum etcd_kind kinds[] = {
		[ETCD_OP_RANGE] = ETCD_K_RANGE, [ETCD_OP_PUT] = ETCD_K_PUT,
		[ETCD_OP_DELETE] = ETCD_K_DELETE,
	};

	if ((unsigned)op->type > ETCD_OP_DELETE)
		return ERR_INVALID;
	return req_start(e, kinds[op->type], fn, arg, build_op, op);
}

int
etcd_txn(struct etcd *e, const struct etcd_txn *t, etcd_fn fn, void *arg)
{
	return req_start(e, ETCD_K_TXN, fn, arg, build_txn, t);
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl_s, etcd_fn fn, void *arg)
{
	int64_t v[2] = { ttl_s, 0 };

	if (ttl_s < 1)
		return ERR_INVALID;
	return req_start(e, ETCD_K_GRANT, fn, arg, build_lease, v);
}

int
etcd_lease_keepalive(struct etcd *e, int64_t lease, etcd_fn fn, void *arg)
{
	int64_t v[2] = { 0, lease };

	return req_start(e, ETCD_K_KEEPALIVE, fn, arg, build_lease, v);
}

int
etcd_lease_revoke(struct etcd *e, int64_t lease, etcd_fn fn, void *arg)
{
	int64_t v[2] = { 0, lease };

	return req_start(e, ETCD_K_REVOKE, fn, arg, build_lease, v);
}

int
etcd_watch(struct etcd *e, const struct etcd_watch_opts *o,
    etcd_watch_fn fn, void *arg, struct etcd_watch **out)
{
	struct etcd_watch *w;
	int r;

	if (o->key == NULL || o->key[0] == '\0')
		return ERR_INVALID;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->req.w = w;
	w->fn = fn;
	w->arg = arg;
	w->o = *o;
	if ((w->o.key = strdup(o->key)) == NULL) {
		free(w);
		return -ENOMEM;
	}
	if ((r = req_init(e, &w->req, ETCD_K_WATCH)) != 0 ||
	    (r = etcd_body_watch(&w->o, &w->req.body)) != 0 ||
	    (r = req_submit(&w->req)) != 0) {
		req_free(&w->req);
		return r;
	}
	*out = w;
	return 0;
}

void
etcd_watch_cancel(struct etcd_watch *w)
{
	if (w == NULL)
		return;
	w->cancelled = true;
	if (!w->in_cb)
		req_free(&w->req);
}
