/*
 * exec_http.c - the HTTP executor: runs an HTTP job's request with libcurl's
 * multi interface, driven by the event loop.
 *
 * One curl multi handle per struct exec_http.  curl tells us which sockets it
 * wants watched (CURLMOPT_SOCKETFUNCTION: each socket gets one loop watch)
 * and when it next needs to run (CURLMOPT_TIMERFUNCTION: one loop timer);
 * on either event we call curl_multi_socket_action() and then collect the
 * finished transfers with curl_multi_info_read().  Nothing blocks and no
 * thread is started here (curl's threaded resolver, when built in, is
 * curl's own business).
 *
 * Each request is one easy handle.  The response body goes into a head/tail
 * capture (out), the status line and headers into another (err), both capped
 * at the spec's output_limit.  Redirects are not followed: a 3xx is the
 * response, judged against expect_status like any other.  Only http and
 * https are allowed.  The run's timeout is our own loop timer rather than
 * CURLOPT_TIMEOUT_MS, so that it ends as EXEC_TIMEOUT, not as a transport
 * failure.  curl's codes are translated here and go no further.
 *
 * Header values and bodies may hold secrets: they never appear in messages,
 * and URLs are shown without user:password@, query or fragment.
 *
 * done() never runs inside start() or cancel(): a request that fails before
 * reaching curl, or a cancelled one, is finished from a zero timer.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/exec_http.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/outcap.h"
#include "distcron/url.h"

#define USER_AGENT	"distcron/" PACKAGE_VERSION
#define NOT_ENDED	EXEC_EXITED	/* reason when we did not end it */

/* A socket curl asked us to watch. */
struct http_sock {
	struct exec_http *h;
	curl_socket_t fd;
	struct loop_watch *w;
	struct http_sock *prev, *next;
};

struct exec_http {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer *timer;	/* curl's timeout */
	struct http_sock *socks;
	struct exec_proc *procs;	/* requests not yet finished */
	bool closing;			/* in exec_http_free() */
};

struct exec_proc {
	struct exec_http *h;
	struct exec_proc *prev, *next;
	exec_done_fn done;
	void *arg;
	CURL *easy;
	bool in_multi;			/* added to h->multi */
	struct curl_slist *headers;
	char *method;			/* for messages */
	char *url_shown;		/* for messages: no secrets */
	int *expect;
	size_t nexpect;
	int64_t timeout_ms;
	struct loop_timer *t_timeout, *t_finish;
	struct outcap cap[2];		/* body, status line + headers */
	enum exec_outcome reason;	/* TIMEOUT, CANCELLED, FAILED or
					 * NOT_ENDED */
	CURLcode code;			/* curl's result for the transfer */
	char errbuf[CURL_ERROR_SIZE];
	struct exec_result *res;	/* filled in along the way */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_code;

static void
global_init(void)
{
	global_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- messages ---- */

/* "GET http://host/path: <curl's reason>"; a long URL is cut first, so
 * that the reason survives. */
static void
transport_error(struct exec_proc *p, CURLcode code)
{
	const char *why = p->errbuf[0] != '\0' ? p->errbuf :
	    curl_easy_strerror(code);
	size_t size = sizeof(p->res->error), fixed, ulen;
	int keep;

	fixed = strlen(p->method) + strlen(why) + 4;	/* " ", ": ", NUL */
	ulen = strlen(p->url_shown);
	keep = (int)(fixed + ulen <= size ? ulen : fixed < size - 32 ?
	    size - fixed : 32);
	(void)snprintf(p->res->error, size, "%s %.*s: %s", p->method, keep,
	    p->url_shown, why);
}

/* "HTTP status 500 (expected 200, 204)" */
static void
status_error(struct exec_proc *p, long status)
{
	struct buf b;
	size_t i;

	buf_init(&b, sizeof(p->res->error) - 1);
	(void)buf_printf(&b, "HTTP status %ld (expected", status);
	for (i = 0; i < p->nexpect; i++)
		if (buf_printf(&b, "%s %d", i > 0 ? "," : "",
		    p->expect[i]) != 0)
			break;
	(void)buf_puts(&b, ")");
	snprintf(p->res->error, sizeof(p->res->error), "%s", buf_str(&b));
	buf_free(&b);
}

/* ---- completion ---- */

static bool
status_expected(const struct exec_proc *p, long status)
{
	size_t i;

	for (i = 0; i < p->nexpect; i++)
		if (p->expect[i] == status)
			return true;
	return false;
}

static void
result_fill(struct exec_proc *p, struct exec_result *res)
{
	long status = 0;

	res->exit_code = -1;
	if (p->reason != NOT_ENDED)
		res->outcome = p->reason;	/* error already set */
	else if (p->code != CURLE_OK) {
		res->outcome = EXEC_FAILED;
		transport_error(p, p->code);
	} else {
		(void)curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE,
		    &status);
		res->outcome = EXEC_EXITED;
		res->exit_code = (int)status;
		res->ok = status_expected(p, status);
		if (!res->ok)
			status_error(p, status);
	}
	exec_result_output(res, p->cap);
	res->ended_ms = loop_real_ms();
}

/* Stops the transfer and the run's timers; the easy handle stays. */
static void
proc_detach(struct exec_proc *p)
{
	if (p->in_multi)
		(void)curl_multi_remove_handle(p->h->multi, p->easy);
	p->in_multi = false;
	loop_timer_del(p->t_timeout);
	loop_timer_del(p->t_finish);
	p->t_timeout = p->t_finish = NULL;
}

static void
proc_unlink(struct exec_proc *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else if (p->h->procs == p)
		p->h->procs = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/* Frees a request that is off the list and out of the multi handle. */
static void
proc_free(struct exec_proc *p)
{
	if (p->easy != NULL)
		curl_easy_cleanup(p->easy);
	curl_slist_free_all(p->headers);
	free(p->method);
	free(p->url_shown);
	free(p->expect);
	outcap_free(&p->cap[0]);
	outcap_free(&p->cap[1]);
	exec_result_free(p->res);
	free(p);
}

/* Takes a request off the client without calling done(). */
static void
proc_drop(struct exec_proc *p)
{
	proc_detach(p);
	proc_unlink(p);
	proc_free(p);
}

static void
finish(struct exec_proc *p)
{
	struct exec_result *res = p->res;

	proc_detach(p);
	proc_unlink(p);
	result_fill(p, res);		/* needs p->easy, for the status */
	p->res = NULL;			/* the callback's now */
	p->done(res, p->arg);
	proc_free(p);
}

static void
on_finish(void *arg)
{
	struct exec_proc *p = arg;

	p->t_finish = NULL;
	finish(p);
}

/* Ends the run as reason (the error is set) from a zero timer, so that the
 * caller (start or cancel) returns before done() runs.  Returns 0 or
 * -ENOMEM. */
static int
finish_later(struct exec_proc *p, enum exec_outcome reason)
{
	p->reason = reason;
	proc_detach(p);
	return loop_timer_add(p->h->loop, loop_mono_ms(), on_finish, p,
	    &p->t_finish);
}

/* Finishes the transfers curl reports done.  done() may start or cancel
 * other requests meanwhile: removing a handle drops its pending message. */
static void
collect(struct exec_http *h)
{
	struct exec_proc *p;
	CURLMsg *m;
	char *priv;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    &priv);
		if ((p = (struct exec_proc *)priv) == NULL)
			continue;
		p->code = m->data.result;
		finish(p);
	}
}

/* ---- curl on the loop ---- */

static void
socket_action(struct exec_http *h, curl_socket_t fd, int mask)
{
	CURLMcode mc;
	int running;

	mc = curl_multi_socket_action(h->multi, fd, mask, &running);
	if (mc != CURLM_OK)
		log_error("exec_http: %s", curl_multi_strerror(mc));
	collect(h);
}

static void
on_socket(int fd, uint32_t events, void *arg)
{
	struct http_sock *s = arg;
	int mask = 0;

	if ((events & (EPOLLIN | EPOLLHUP)) != 0)
		mask |= CURL_CSELECT_IN;
	if ((events & EPOLLOUT) != 0)
		mask |= CURL_CSELECT_OUT;
	if ((events & EPOLLERR) != 0)
		mask |= CURL_CSELECT_ERR;
	/* s may be freed inside: curl can drop the socket. */
	socket_action(s->h, fd, mask);
}

static void
on_timer(void *arg)
{
	struct exec_http *h = arg;

	h->timer = NULL;		/* freed by the loop when we return */
	socket_action(h, CURL_SOCKET_TIMEOUT, 0);
}

static void
sock_free(struct http_sock *s)
{
	loop_watch_del(s->w);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->h->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
}

static struct http_sock *
sock_new(struct exec_http *h, curl_socket_t fd)
{
	struct http_sock *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->h = h;
	s->fd = fd;
	if ((s->next = h->socks) != NULL)
		s->next->prev = s;
	h->socks = s;
	if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
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
	struct exec_http *h = arg;
	struct http_sock *s = sockp;
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
	if (s == NULL && (s = sock_new(h, fd)) == NULL)
		r = -ENOMEM;
	else if (s->w == NULL)
		r = loop_watch_add(h->loop, fd, ev, on_socket, s, &s->w);
	else
		r = loop_watch_mod(s->w, ev);
	if (r != 0) {
		log_error("exec_http: cannot watch socket %d: %s", (int)fd,
		    err_str(r));
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, replaced at each call; -1 removes it. */
static int
on_curl_timer(CURLM *multi, long ms, void *arg)
{
	struct exec_http *h = arg;

	loop_timer_del(h->timer);
	h->timer = NULL;
	if (ms < 0 || h->closing)
		return 0;
	if (loop_timer_add(h->loop, loop_mono_ms() + ms, on_timer, h,
	    &h->timer) != 0) {
		log_error("exec_http: cannot add a timer");
		return -1;
	}
	return 0;
}

/* ---- the client ---- */

int
exec_http_new(struct loop *loop, struct exec_http **out)
{
	struct exec_http *h;

	pthread_once(&global_once, global_init);
	if (global_code != CURLE_OK)
		return ERR_INTERNAL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->loop = loop;
	if ((h->multi = curl_multi_init()) == NULL ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION,
	    on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION,
	    on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK) {
		exec_http_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void
exec_http_free(struct exec_http *h)
{
	if (h == NULL)
		return;
	h->closing = true;
	while (h->procs != NULL)
		proc_drop(h->procs);
	/* Closing cached connections may still call on_curl_socket(). */
	if (h->multi != NULL)
		(void)curl_multi_cleanup(h->multi);
	while (h->socks != NULL)
		sock_free(h->socks);
	loop_timer_del(h->timer);
	free(h);
}

/* ---- one request ---- */

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct exec_proc *p = arg;

	/* On ENOMEM the bytes are counted but not kept. */
	(void)outcap_feed(&p->cap[0], data, size * n);
	return size * n;
}

/* Response header lines, status lines included; CRLF becomes LF. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct exec_proc *p = arg;
	size_t len = size * n;

	if (len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n') {
		(void)outcap_feed(&p->cap[1], data, len - 2);
		(void)outcap_feed(&p->cap[1], "\n", 1);
	} else
		(void)outcap_feed(&p->cap[1], data, len);
	return len;
}

static bool
method_sends_body(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0;
}

/*
 * The method and body.  HEAD never sends a body (curl would wait for one
 * in the response otherwise).  POST, PUT and PATCH without a body send an
 * empty one, so that the request carries "Content-Length: 0".
 */
static CURLcode
setup_method(CURL *e, const char *m, const char *body)
{
	CURLcode c;

	if (strcmp(m, "HEAD") == 0)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (body == NULL && strcmp(m, "GET") == 0)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (body == NULL && !method_sends_body(m))
		return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	if (body == NULL)
		body = "";
	if ((c = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(body))) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body)) != CURLE_OK)
		return c;
	if (strcmp(m, "POST") == 0)
		return CURLE_OK;
	return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
}

static bool
has_header(char *const *headers, const char *name)
{
	size_t len = strlen(name);

	for (; headers != NULL && *headers != NULL; headers++)
		if (strncasecmp(*headers, name, len) == 0 &&
		    ((*headers)[len] == ':' || (*headers)[len] == ';'))
			return true;
	return false;
}

/*
 * The job's headers, copied.  curl's rules apply: "Name:" with an empty
 * value removes a header curl would add itself (Accept, User-Agent).
 * "Expect: 100-continue" is turned off unless the job sets Expect: a body
 * goes out at once instead of after a wait for a "100 Continue" many
 * servers never send.
 */
static CURLcode
setup_headers(struct exec_proc *p, char *const *headers)
{
	struct curl_slist *l;
	size_t i;

	if (!has_header(headers, "Expect")) {
		if ((l = curl_slist_append(p->headers, "Expect:")) == NULL)
			return CURLE_OUT_OF_MEMORY;
		p->headers = l;
	}
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((l = curl_slist_append(p->headers, headers[i])) == NULL)
			return CURLE_OUT_OF_MEMORY;
		p->headers = l;
	}
	return curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->headers);
}

static CURLcode
setup_protocols(CURL *e)
{
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85: the string form */
	return curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	return curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Where the response goes, and who we are. */
static CURLcode
setup_io(struct exec_proc *p)
{
	CURL *e = p->easy;
	CURLcode c;

	if ((c = curl_easy_setopt(e, CURLOPT_PRIVATE, p)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_ERRORBUFFER,
	    p->errbuf)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    on_body)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_WRITEDATA, p)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION,
	    on_header)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_HEADERDATA, p)) != CURLE_OK)
		return c;
	return curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
}

/* Where the request goes: http(s) only, no redirects, TLS verified unless
 * the job says otherwise. */
static CURLcode
setup_target(CURL *e, const struct job_http *hj)
{
	long verify = hj->tls_verify ? 1L : 0L;
	CURLcode c;

	if ((c = curl_easy_setopt(e, CURLOPT_URL, hj->url)) != CURLE_OK ||
	    (c = setup_protocols(e)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION,
	    0L)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER,
	    verify)) != CURLE_OK)
		return c;
	return curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify * 2);
}

static void
on_timeout(void *arg)
{
	struct exec_proc *p = arg;
	char d[32];

	p->t_timeout = NULL;
	dur_format(p->timeout_ms, d, sizeof(d));
	snprintf(p->res->error, sizeof(p->res->error), "timed out after %s",
	    d);
	p->reason = EXEC_TIMEOUT;
	finish(p);
}

/* Copies what messages and the verdict need from the spec. */
static int
proc_new(struct exec_http *h, const struct exec_spec *spec,
    exec_done_fn done, void *arg, struct exec_proc **out)
{
	const struct job_http *hj = spec->http;
	static const int ok200[] = { 200 };
	const int *expect = hj->nexpect_status > 0 ? hj->expect_status : ok200;
	struct exec_proc *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->h = h;
	p->done = done;
	p->arg = arg;
	p->reason = NOT_ENDED;
	p->nexpect = hj->nexpect_status > 0 ? hj->nexpect_status : 1;
	p->timeout_ms = hj->timeout_ms > 0 ? hj->timeout_ms : spec->timeout_ms;
	outcap_init(&p->cap[0], spec->output_limit, spec->output_budget);
	outcap_init(&p->cap[1], spec->output_limit, spec->output_budget);
	p->res = calloc(1, sizeof(*p->res));
	p->method = strdup(hj->method != NULL ? hj->method : "GET");
	p->url_shown = url_stripped(hj->url);
	if ((p->expect = calloc(p->nexpect, sizeof(int))) != NULL)
		memcpy(p->expect, expect, p->nexpect * sizeof(int));
	if (p->res == NULL || p->method == NULL || p->url_shown == NULL ||
	    p->expect == NULL) {
		proc_free(p);
		return -ENOMEM;
	}
	p->res->started_ms = loop_real_ms();
	*out = p;
	return 0;
}

/* Sets up the easy handle and hands it to curl.  Returns curl's code. */
static CURLcode
proc_launch(struct exec_proc *p, const struct job_http *hj)
{
	CURLcode c;

	if ((p->easy = curl_easy_init()) == NULL)
		return CURLE_OUT_OF_MEMORY;
	if ((c = setup_io(p)) != CURLE_OK ||
	    (c = setup_target(p->easy, hj)) != CURLE_OK ||
	    (c = setup_method(p->easy, p->method, hj->body)) != CURLE_OK ||
	    (c = setup_headers(p, hj->headers)) != CURLE_OK)
		return c;
	if (curl_multi_add_handle(p->h->multi, p->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	p->in_multi = true;
	return CURLE_OK;
}

static int
http_start(struct loop *loop, const struct exec_spec *spec,
    exec_done_fn done, void *arg, struct exec_proc **out)
{
	struct exec_http *h = spec->ctx;
	struct exec_proc *p = NULL;
	CURLcode c;
	int r;

	if (h == NULL || h->loop != loop || spec->http == NULL ||
	    spec->http->url == NULL)
		return ERR_INVALID;
	if ((r = proc_new(h, spec, done, arg, &p)) != 0)
		return r;
	if ((p->next = h->procs) != NULL)
		p->next->prev = p;
	h->procs = p;
	if ((c = proc_launch(p, spec->http)) != CURLE_OK) {
		transport_error(p, c);
		r = finish_later(p, EXEC_FAILED);
	} else if (p->timeout_ms > 0)
		r = loop_timer_add(loop, loop_mono_ms() + p->timeout_ms,
		    on_timeout, p, &p->t_timeout);
	if (r != 0) {
		proc_drop(p);
		return r;
	}
	*out = p;
	return 0;
}

/* Called from inside done() or twice, this is a no-op. */
static void
http_cancel(struct exec_proc *p)
{
	if (p == NULL || p->res == NULL || p->reason != NOT_ENDED)
		return;
	if (finish_later(p, EXEC_CANCELLED) != 0) {
		/* Out of memory: better done() now than never. */
		log_error("exec_http: cannot defer a cancel, finishing now");
		finish(p);
	}
}

const struct exec_ops exec_http_ops = {
	.name = "http",
	.start = http_start,
	.cancel = http_cancel,
};
