/*
 * test_exec_http.c - the HTTP executor against a protocol double
 * (tests/integration/httpd_double.py), driven by a real event loop: status
 * and expect_status, method, headers and body on the wire, body truncation,
 * timeouts, refused connections, TLS verification with a self-signed
 * certificate made at test time, cancel, freeing with requests running, and
 * many concurrent requests on one loop.
 *
 * The group setup starts two doubles (HTTP and HTTPS) on loopback ports and
 * keeps a bound but not listening socket, whose port refuses connections
 * (httpd_fixture.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/exec_http.h"
#include "distcron/loop.h"
#include "httpd_fixture.h"

#define NCONCURRENT	20

static struct httpd_fixture fx;
static int plain_port, tls_port, refused_port;

/* ---- fixtures ---- */

static int
group_setup(void **state)
{
	if (httpd_fixture_start(&fx, true) != 0)
		return -1;
	plain_port = fx.plain_port;
	tls_port = fx.tls_port;
	refused_port = fx.refused_port;
	return 0;
}

static int
group_teardown(void **state)
{
	httpd_fixture_stop(&fx);
	return 0;
}

/* ---- running requests ---- */

struct run {
	struct loop *l;
	struct exec_http *h;
	struct exec_proc *proc;
	struct exec_result *res;
	int done_calls;
	int pending;		/* requests still running on the loop */
	bool in_cancel;
};

static void
on_done(struct exec_result *res, void *arg)
{
	struct run *r = arg;

	assert_false(r->in_cancel);
	/* Cancel from inside done() is a no-op. */
	exec_http_ops.cancel(r->proc);
	r->res = res;
	r->done_calls++;
	loop_stop(r->l);
}

static void
on_guard(void *arg)
{
	fail_msg("the request did not finish within 20 s");
}

static void
on_cancel(void *arg)
{
	struct run *r = arg;

	r->in_cancel = true;
	exec_http_ops.cancel(r->proc);
	r->in_cancel = false;
	assert_int_equal(r->done_calls, 0);	/* done() comes later */
}

static char *
url(const char *scheme, int port, const char *path)
{
	static char u[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(u[i], sizeof(u[i]), "%s://127.0.0.1:%d%s", scheme, port,
	    path);
	return u[i];
}

static struct job_http
get(char *u)
{
	static int ok200[] = { 200 };
	struct job_http hj = { .url = u, .method = "GET",
	    .expect_status = ok200, .nexpect_status = 1, .tls_verify = true };

	return hj;
}

static void
run_begin(struct run *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(loop_new(&r->l), 0);
	assert_int_equal(exec_http_new(r->l, &r->h), 0);
	assert_int_equal(loop_timer_add(r->l, loop_mono_ms() + 20000, on_guard,
	    NULL, NULL), 0);
}

static void
run_end(struct run *r)
{
	exec_http_free(r->h);
	loop_free(r->l);
}

/* Runs one request on a new loop until done(); cancels it after
 * cancel_after_ms when positive. */
static struct exec_result *
run_spec(struct exec_spec *spec, int cancel_after_ms)
{
	struct run r;

	run_begin(&r);
	spec->ctx = r.h;
	assert_int_equal(exec_http_ops.start(r.l, spec, on_done, &r, &r.proc),
	    0);
	assert_int_equal(r.done_calls, 0);	/* never inside start() */
	if (cancel_after_ms > 0)
		assert_int_equal(loop_timer_add(r.l, loop_mono_ms() +
		    cancel_after_ms, on_cancel, &r, NULL), 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_int_equal(r.done_calls, 1);
	run_end(&r);
	assert_non_null(r.res->out);
	assert_non_null(r.res->err);
	assert_true(r.res->started_ms > 0);
	assert_true(r.res->ended_ms >= r.res->started_ms);
	return r.res;
}

static struct exec_result *
run_http(const struct job_http *hj)
{
	struct exec_spec spec = { .http = hj, .output_limit = 65536 };

	return run_spec(&spec, 0);
}

/* ---- tests ---- */

static void
test_status_ok(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/status/200"));
	struct exec_result *res = run_http(&hj);

	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_true(res->ok);
	assert_int_equal(res->exit_code, 200);
	assert_string_equal(res->error, "");
	assert_string_equal(res->out, "status 200\n");
	assert_int_equal(res->out_len, strlen("status 200\n"));
	assert_int_equal(res->out_total, res->out_len);
	assert_false(res->truncated);
	/* Status line and headers, CRLF turned into LF. */
	assert_memory_equal(res->err, "HTTP/1.1 200 OK\n", 16);
	assert_non_null(strstr(res->err, "\nContent-Length: 11\n"));
	assert_null(strchr(res->err, '\r'));
	exec_result_free(res);
}

static void
test_status_unexpected(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/status/500"));
	struct exec_result *res = run_http(&hj);

	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_false(res->ok);
	assert_int_equal(res->exit_code, 500);
	assert_string_equal(res->error, "HTTP status 500 (expected 200)");
	assert_string_equal(res->out, "status 500\n");
	exec_result_free(res);
}

static void
test_expect_status(void **state)
{
	int only204[] = { 204 }, two[] = { 200, 204 };
	struct job_http hj = get(url("http", plain_port, "/status/204"));
	struct exec_result *res;

	hj.expect_status = only204;
	res = run_http(&hj);
	assert_true(res->ok);
	assert_int_equal(res->exit_code, 204);
	assert_string_equal(res->out, "");
	exec_result_free(res);

	hj = get(url("http", plain_port, "/status/200"));
	hj.expect_status = only204;
	res = run_http(&hj);
	assert_false(res->ok);
	assert_string_equal(res->error, "HTTP status 200 (expected 204)");
	exec_result_free(res);

	hj = get(url("http", plain_port, "/status/503"));
	hj.expect_status = two;
	hj.nexpect_status = 2;
	res = run_http(&hj);
	assert_false(res->ok);
	assert_string_equal(res->error,
	    "HTTP status 503 (expected 200, 204)");
	exec_result_free(res);

	/* A redirect is not followed: it is the response. */
	hj = get(url("http", plain_port, "/status/302"));
	res = run_http(&hj);
	assert_int_equal(res->exit_code, 302);
	assert_false(res->ok);
	exec_result_free(res);
}

/* The value of header name in the echo's [[name, value], ...], or NULL. */
static const char *
echo_header(json_object *doc, const char *name)
{
	json_object *hs = json_object_object_get(doc, "headers"), *pair;
	size_t i;

	for (i = 0; i < json_object_array_length(hs); i++) {
		pair = json_object_array_get_idx(hs, i);
		if (strcasecmp(json_object_get_string(
		    json_object_array_get_idx(pair, 0)), name) == 0)
			return json_object_get_string(
			    json_object_array_get_idx(pair, 1));
	}
	return NULL;
}

static const char *
echo_str(json_object *doc, const char *field)
{
	return json_object_get_string(json_object_object_get(doc, field));
}

/* Sends hj to /echo and returns the echo, parsed. */
static json_object *
echo(struct job_http *hj)
{
	struct exec_result *res;
	json_object *doc;

	hj->url = url("http", plain_port, "/echo");
	res = run_http(hj);
	assert_true(res->ok);
	assert_non_null((doc = json_tokener_parse(res->out)));
	exec_result_free(res);
	return doc;
}

static void
test_request_on_the_wire(void **state)
{
	char *headers[] = { "X-Token: s3cret", "Content-Type: text/plain",
	    "Accept: ", NULL };
	struct job_http hj = get(NULL);
	json_object *doc;

	hj.method = "POST";
	hj.headers = headers;
	hj.body = "hello body";
	doc = echo(&hj);
	assert_string_equal(echo_str(doc, "method"), "POST");
	assert_string_equal(echo_str(doc, "body"), "hello body");
	assert_string_equal(echo_header(doc, "X-Token"), "s3cret");
	assert_string_equal(echo_header(doc, "Content-Type"), "text/plain");
	assert_string_equal(echo_header(doc, "Content-Length"), "10");
	assert_string_equal(echo_header(doc, "User-Agent"),
	    "distcron/" PACKAGE_VERSION);
	assert_null(echo_header(doc, "Expect"));
	assert_null(echo_header(doc, "Accept"));	/* empty: removed */
	json_object_put(doc);

	hj.method = "PUT";
	doc = echo(&hj);
	assert_string_equal(echo_str(doc, "method"), "PUT");
	assert_string_equal(echo_str(doc, "body"), "hello body");
	json_object_put(doc);
}

static void
test_methods_without_body(void **state)
{
	struct job_http hj = get(NULL);
	struct exec_result *res;
	json_object *doc;

	hj.method = "DELETE";
	doc = echo(&hj);
	assert_string_equal(echo_str(doc, "method"), "DELETE");
	assert_string_equal(echo_str(doc, "body"), "");
	json_object_put(doc);

	hj.method = "POST";		/* an empty body, with its length */
	doc = echo(&hj);
	assert_string_equal(echo_str(doc, "method"), "POST");
	assert_string_equal(echo_header(doc, "Content-Length"), "0");
	json_object_put(doc);

	hj.method = "HEAD";		/* no body back, and no hang */
	hj.url = url("http", plain_port, "/big/5000");
	res = run_http(&hj);
	assert_true(res->ok);
	assert_int_equal(res->out_len, 0);
	assert_non_null(strstr(res->err, "Content-Length: 5000\n"));
	exec_result_free(res);
}

static void
test_body_truncated(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/big/300000"));
	struct exec_spec spec = { .http = &hj, .output_limit = 1000 };
	struct exec_result *res = run_spec(&spec, 0);

	assert_true(res->ok);
	assert_true(res->truncated);
	assert_int_equal(res->out_total, 300000);
	assert_true(res->out_len > 900 && res->out_len < 1100);
	assert_int_equal(strlen(res->out), res->out_len);
	assert_memory_equal(res->out, "BEGINxxx", 8);
	assert_string_equal(res->out + res->out_len - 8, "xxxxEND\n");
	assert_non_null(strstr(res->out, "bytes omitted"));
	exec_result_free(res);
}

static void
test_timeout(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/slow/10"));
	struct exec_spec spec = { .http = &hj, .output_limit = 65536,
	    .timeout_ms = 60000 };
	struct exec_result *res;
	int64_t t0 = loop_mono_ms();

	hj.timeout_ms = 300;		/* wins over the job's timeout */
	res = run_spec(&spec, 0);
	assert_int_equal(res->outcome, EXEC_TIMEOUT);
	assert_false(res->ok);
	assert_int_equal(res->exit_code, -1);
	assert_string_equal(res->error, "timed out after 300ms");
	assert_true(loop_mono_ms() - t0 < 5000);
	assert_string_equal(exec_outcome_str(res->outcome), "timeout");
	exec_result_free(res);

	hj.timeout_ms = 0;		/* the job's timeout then */
	spec.timeout_ms = 200;
	t0 = loop_mono_ms();
	res = run_spec(&spec, 0);
	assert_int_equal(res->outcome, EXEC_TIMEOUT);
	assert_string_equal(res->error, "timed out after 200ms");
	assert_true(loop_mono_ms() - t0 < 5000);
	exec_result_free(res);
}

static void
test_connection_refused(void **state)
{
	struct job_http hj = get(url("http", refused_port, "/status/200"));
	struct exec_result *res = run_http(&hj);
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "GET http://127.0.0.1:%d/status/200: ",
	    refused_port);
	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_false(res->ok);
	assert_int_equal(res->exit_code, -1);
	assert_memory_equal(res->error, prefix, strlen(prefix));
	assert_true(strlen(res->error) > strlen(prefix));
	exec_result_free(res);
}

/* Messages never show credentials or the query string. */
static void
test_url_secrets_hidden(void **state)
{
	char u[256], want[128];
	struct job_http hj = get(u);
	struct exec_result *res;

	snprintf(u, sizeof(u), "http://bob:pa55@127.0.0.1:%d/x?token=abc#f",
	    refused_port);
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/x: ",
	    refused_port);
	res = run_http(&hj);
	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_memory_equal(res->error, want, strlen(want));
	assert_null(strstr(res->error, "pa55"));
	assert_null(strstr(res->error, "abc"));
	exec_result_free(res);
}

static void
test_scheme_refused(void **state)
{
	struct job_http hj = get("ftp://127.0.0.1/file");
	struct exec_result *res = run_http(&hj);

	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_memory_equal(res->error, "GET ftp://127.0.0.1/file: ", 26);
	exec_result_free(res);
}

static void
test_tls(void **state)
{
	struct job_http hj = get(url("https", tls_port, "/status/200"));
	struct exec_result *res;

	res = run_http(&hj);		/* self-signed: refused */
	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_false(res->ok);
	assert_non_null(strstr(res->error, "certificate"));
	exec_result_free(res);

	hj.tls_verify = false;
	res = run_http(&hj);
	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_true(res->ok);
	assert_string_equal(res->out, "status 200\n");
	exec_result_free(res);
}

static void
test_cancel(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/slow/10"));
	struct exec_spec spec = { .http = &hj, .output_limit = 65536 };
	int64_t t0 = loop_mono_ms();
	struct exec_result *res = run_spec(&spec, 100);

	assert_int_equal(res->outcome, EXEC_CANCELLED);
	assert_false(res->ok);
	assert_int_equal(res->exit_code, -1);
	assert_true(loop_mono_ms() - t0 < 5000);
	exec_result_free(res);
}

/* The spec and everything it points to may go once start() returns. */
static void
test_spec_freed_after_start(void **state)
{
	struct job_http *hj = calloc(1, sizeof(*hj));
	struct exec_spec *spec = calloc(1, sizeof(*spec));
	struct run r;

	run_begin(&r);
	hj->url = strdup(url("http", plain_port, "/echo"));
	hj->method = strdup("PATCH");
	hj->headers = calloc(2, sizeof(char *));
	hj->headers[0] = strdup("X-Gone: soon");
	hj->body = strdup("patch body");
	hj->expect_status = calloc(1, sizeof(int));
	hj->expect_status[0] = 200;
	hj->nexpect_status = 1;
	*spec = (struct exec_spec){ .http = hj, .output_limit = 4096,
	    .ctx = r.h, .timeout_ms = 10000 };
	assert_int_equal(exec_http_ops.start(r.l, spec, on_done, &r, &r.proc),
	    0);
	memset(hj->body, 'z', strlen(hj->body));
	free(hj->url);
	free(hj->method);
	free(hj->headers[0]);
	free(hj->headers);
	free(hj->body);
	free(hj->expect_status);
	free(hj);
	free(spec);
	assert_int_equal(loop_run(r.l), 0);
	run_end(&r);
	assert_true(r.res->ok);
	assert_non_null(strstr(r.res->out, "\"PATCH\""));
	assert_non_null(strstr(r.res->out, "\"patch body\""));
	assert_non_null(strstr(r.res->out, "\"soon\""));
	exec_result_free(r.res);
}

static void
test_start_invalid(void **state)
{
	struct exec_spec spec = { .output_limit = 1024 };
	struct exec_proc *p = NULL;
	struct run r;

	run_begin(&r);
	spec.ctx = r.h;
	assert_int_equal(exec_http_ops.start(r.l, &spec, on_done, &r, &p),
	    ERR_INVALID);
	run_end(&r);
}

static void
on_stop(void *arg)
{
	loop_stop(arg);
}

/* exec_http_free() drops running requests without done(); ASan checks
 * that nothing leaks. */
static void
test_free_while_running(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/slow/10"));
	struct exec_spec spec = { .http = &hj, .output_limit = 4096,
	    .timeout_ms = 5000 };
	struct exec_proc *p;
	struct run r;
	int i;

	run_begin(&r);
	spec.ctx = r.h;
	for (i = 0; i < 3; i++)
		assert_int_equal(exec_http_ops.start(r.l, &spec, on_done, &r,
		    &p), 0);
	assert_int_equal(loop_timer_add(r.l, loop_mono_ms() + 200, on_stop,
	    r.l, NULL), 0);
	assert_int_equal(loop_run(r.l), 0);
	run_end(&r);
	assert_int_equal(r.done_calls, 0);
}

static void
on_done_many(struct exec_result *res, void *arg)
{
	struct run *r = arg;

	if (res->ok)
		r->done_calls++;
	exec_result_free(res);
	if (--r->pending == 0)
		loop_stop(r->l);
}

static void
test_concurrent_requests(void **state)
{
	struct job_http hj = get(url("http", plain_port, "/slow/0.2"));
	struct exec_spec spec = { .http = &hj, .output_limit = 4096,
	    .timeout_ms = 15000 };
	struct exec_proc *p;
	int64_t t0 = loop_mono_ms();
	struct run r;
	int i;

	run_begin(&r);
	spec.ctx = r.h;
	for (i = 0; i < NCONCURRENT; i++)
		assert_int_equal(exec_http_ops.start(r.l, &spec, on_done_many,
		    &r, &p), 0);
	r.pending = NCONCURRENT;
	assert_int_equal(loop_run(r.l), 0);
	run_end(&r);
	assert_int_equal(r.pending, 0);
	assert_int_equal(r.done_calls, NCONCURRENT);
	/* One after the other would take 20 x 0.2 s. */
	assert_true(loop_mono_ms() - t0 < NCONCURRENT * 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_ok),
		cmocka_unit_test(test_status_unexpected),
		cmocka_unit_test(test_expect_status),
		cmocka_unit_test(test_request_on_the_wire),
		cmocka_unit_test(test_methods_without_body),
		cmocka_unit_test(test_body_truncated),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_url_secrets_hidden),
		cmocka_unit_test(test_scheme_refused),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_spec_freed_after_start),
		cmocka_unit_test(test_start_invalid),
		cmocka_unit_test(test_free_while_running),
		cmocka_unit_test(test_concurrent_requests),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
