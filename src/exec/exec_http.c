/*
 * exec_http.c - the HTTP executor: runs an HTTP job's request with libcurl's
 * multi interface, driven by the event loop.
 *
 * One curlx driver (curlx_multi: curl's sockets and timer on the loop) per
 * struct exec_http; this file keeps what is particular to HTTP jobs: the
 * request built from the job's spec, the captures, the verdict against
 * expect_status and the run's timeout.  Nothing blocks.
 *
 * Each request is one easy handle, with curlx's shared options.  The
 * response body goes into a head/tail capture (out), the status line and
 * headers into another (err), both capped at the spec's output_limit.
 * Redirects are not followed: a 3xx is the response, judged against
 * expect_status like any other.  Only http and https are allowed (curlx).
 * The run's timeout is our own loop timer rather than CURLOPT_TIMEOUT_MS,
 * so that it ends as EXEC_TIMEOUT, not as a transport failure.  curl's
 * codes are translated by curlx.
 *
 * Header values and bodies may hold secrets: they never appear in messages,
 * and URLs are shown without user:password@, query or fragment.
 *
 * done() never runs inside start() or cancel(): a request that fails before
 * reaching curl, or a cancelled one, is finished from a zero timer.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "distcron/buf.h"
#include "distcron/curlx.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/exec_http.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/outcap.h"
#include "distcron/url.h"

#define USER_AGENT	"distcron/" PACKAGE_VERSION
#define NOT_ENDED	EXEC_EXITED	/* reason when we did not end it */

struct exec_http {
	struct loop *loop;
	struct curlx_multi *multi;
	struct exec_proc *procs;	/* requests not yet finished */
};

struct exec_proc {
	struct exec_http *h;
	struct exec_proc *prev, *next;
	exec_done_fn done;
	void *arg;
	CURL *easy;
	bool in_multi;			/* in h->multi */
	char fields[256];		/* the spec's log_fields, or "" */
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
	char errbuf[CURLX_ERRBUF_SIZE];	/* why a setup failed */
	struct exec_result *res;	/* filled in along the way */
};

/* ---- messages ---- */

/* "GET http://host/path: <curl's reason>"; a long URL is cut first, so
 * that the reason survives. */
static void
transport_error(struct exec_proc *p, const char *why)
{
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
	long status;

	res->exit_code = -1;
	if (p->reason != NOT_ENDED)
		res->outcome = p->reason;	/* error already set */
	else {
		status = curlx_response_code(p->easy);
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
		curlx_multi_remove(p->h->multi, p->easy);
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

/* curlx's done(): the transfer is out of the driver. */
static void
on_transfer(void *arg, CURL *easy, const struct curlx_error *e)
{
	struct exec_proc *p = arg;

	p->in_multi = false;
	if (e->err != 0) {
		p->reason = EXEC_FAILED;
		transport_error(p, e->why);
	}
	finish(p);
}

/* ---- the client ---- */

int
exec_http_new(struct loop *loop, struct exec_http **out)
{
	struct exec_http *h;
	int r;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->loop = loop;
	if ((r = curlx_multi_new(loop, "exec_http", on_transfer,
	    &h->multi)) != 0) {
		exec_http_free(h);
		return r;
	}
	*out = h;
	return 0;
}

void
exec_http_free(struct exec_http *h)
{
	if (h == NULL)
		return;
	while (h->procs != NULL)
		proc_drop(h->procs);
	curlx_multi_free(h->multi);
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

/* Where the request goes, and where the response. */
static CURLcode
setup_io(struct exec_proc *p, const char *url)
{
	CURL *e = p->easy;
	CURLcode c;

	if ((c = curl_easy_setopt(e, CURLOPT_URL, url)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    on_body)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_WRITEDATA, p)) != CURLE_OK ||
	    (c = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION,
	    on_header)) != CURLE_OK)
		return c;
	return curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
}

static void
on_timeout(void *arg)
{
	struct exec_proc *p = arg;

	p->t_timeout = NULL;
	exec_timed_out(p->res, NULL, p->timeout_ms);
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
	snprintf(p->fields, sizeof(p->fields), "%s",
	    spec->log_fields != NULL ? spec->log_fields : "");
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

/*
 * Sets up the easy handle (curlx's options: http(s) only, no redirects, TLS
 * verified unless the job says otherwise) and hands it to the driver.
 * Returns 0, or a negative error with the run's error set.
 */
static int
proc_launch(struct exec_proc *p, const struct job_http *hj)
{
	struct curlx_opts o = { .user_agent = USER_AGENT,
	    .tls_insecure = !hj->tls_verify, .errbuf = p->errbuf };
	struct curlx_error e;
	CURLcode c;
	int r;

	if ((r = curlx_easy_new(&o, &p->easy)) != 0) {
		transport_error(p, p->errbuf);
		return r;
	}
	if ((c = setup_io(p, hj->url)) != CURLE_OK ||
	    (c = setup_method(p->easy, p->method, hj->body)) != CURLE_OK ||
	    (c = setup_headers(p, hj->headers)) != CURLE_OK) {
		r = curlx_translate(p->easy, c, p->errbuf, &e);
		transport_error(p, e.why);
		return r;
	}
	if ((r = curlx_multi_add(p->h->multi, p->easy, p)) != 0) {
		transport_error(p, err_str(r));
		return r;
	}
	p->in_multi = true;
	return 0;
}

static int
http_start(struct loop *loop, const struct exec_spec *spec,
    exec_done_fn done, void *arg, struct exec_proc **out)
{
	struct exec_http *h = spec->ctx;
	struct exec_proc *p = NULL;
	int r;

	if (h == NULL || h->loop != loop || spec->http == NULL ||
	    spec->http->url == NULL)
		return ERR_INVALID;
	if ((r = proc_new(h, spec, done, arg, &p)) != 0)
		return r;
	if ((p->next = h->procs) != NULL)
		p->next->prev = p;
	h->procs = p;
	if (proc_launch(p, spec->http) != 0)
		p->reason = EXEC_FAILED;
	if ((r = exec_arm(loop, p, p->reason == EXEC_FAILED, on_finish,
	    &p->t_finish, p->timeout_ms, on_timeout, &p->t_timeout)) != 0)
		proc_drop(p);
	else
		*out = p;
	return r;
}

/* Called from inside done() or twice, this is a no-op. */
static void
http_cancel(struct exec_proc *p)
{
	if (p == NULL || p->res == NULL || p->reason != NOT_ENDED)
		return;
	if (finish_later(p, EXEC_CANCELLED) != 0) {
		/* Out of memory: better done() now than never. */
		log_error("exec_http: cannot defer a cancel, finishing now %s",
		    p->fields);
		finish(p);
	}
}

/* The captures so far, for a look at a command still running. */
static const struct outcap *
http_output(const struct exec_proc *p)
{
	return p->cap;
}

const struct exec_ops exec_http_ops = {
	.name = "http",
	.start = http_start,
	.cancel = http_cancel,
	.output = http_output,
};
