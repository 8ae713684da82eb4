/*
 * test_curlx.c - the shared curl layer against the HTTP(S) double
 * (httpd_fixture.c), driven by a real event loop: several transfers at
 * once each finish with their own arg and body, done() never runs inside
 * add() or remove() and never for a removed transfer, freeing the driver
 * with transfers running, a refused port, TLS verification, the
 * http(s)-only rule, and curl's codes translated into ERR_* codes and
 * messages that never show a URL's credentials, query or fragment.
 * curl_easy_init() is wrapped (--wrap) to fail on demand.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "distcron/buf.h"
#include "distcron/curlx.h"
#include "distcron/err.h"
#include "distcron/loop.h"
#include "httpd_fixture.h"

#define NXFER	5

static struct httpd_fixture fx;
static bool init_fails;		/* curl_easy_init() returns NULL */

CURL *__real_curl_easy_init(void);
CURL *__wrap_curl_easy_init(void);

/* Linked with --wrap=curl_easy_init: curl out of memory when asked. */
CURL *
__wrap_curl_easy_init(void)
{
	return init_fails ? NULL : __real_curl_easy_init();
}

static int
group_setup(void **state)
{
	return httpd_fixture_start(&fx, true);
}

static int
group_teardown(void **state)
{
	httpd_fixture_stop(&fx);
	return 0;
}

/* ---- one transfer and the loop ---- */

/* One transfer: its handle, what done() saw, the body received. */
struct xfer {
	struct test *t;
	CURL *easy;
	int done_calls;
	struct curlx_error e;
	long status;
	struct buf body;
};

struct test {
	struct loop *l;
	struct curlx_multi *m;
	int pending;		/* transfers done() still has to see */
	int done_calls;
	bool in_call;		/* inside add() or remove() */
	CURL *remove_in_done;	/* removed by the next done() */
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	return buf_append(&x->body, data, size * n) == 0 ? size * n : 0;
}

static void
on_done(void *arg, CURL *easy, const struct curlx_error *e)
{
	struct xfer *x = arg;
	struct test *t = x->t;

	assert_false(t->in_call);
	assert_ptr_equal(easy, x->easy);
	x->done_calls++;
	x->e = *e;
	x->status = curlx_response_code(easy);
	t->done_calls++;
	if (t->remove_in_done != NULL) {
		curlx_multi_remove(t->m, t->remove_in_done);
		t->remove_in_done = NULL;
		t->pending--;
	}
	if (--t->pending <= 0)
		loop_stop(t->l);
}

static void
on_guard(void *arg)
{
	fail_msg("the transfers did not finish within 20 s");
}

static void
on_stop(void *arg)
{
	loop_stop(arg);
}

static void
test_begin(struct test *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(loop_new(&t->l), 0);
	assert_int_equal(curlx_multi_new(t->l, "test", on_done, &t->m), 0);
	assert_int_equal(loop_timer_add(t->l, loop_mono_ms() + 20000,
	    on_guard, NULL, NULL), 0);
}

static void
test_end(struct test *t)
{
	curlx_multi_free(t->m);
	loop_free(t->l);
}

/* Makes x's handle for url with opts (NULL: the defaults). */
static void
xfer_new(struct test *t, struct xfer *x, const char *url,
    const struct curlx_opts *opts)
{
	struct curlx_opts none = { 0 };

	memset(x, 0, sizeof(*x));
	x->t = t;
	buf_init(&x->body, 65536);
	assert_int_equal(curlx_easy_new(opts != NULL ? opts : &none,
	    &x->easy), 0);
	assert_int_equal(curl_easy_setopt(x->easy, CURLOPT_URL, url),
	    CURLE_OK);
	assert_int_equal(curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION,
	    on_body), CURLE_OK);
	assert_int_equal(curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x),
	    CURLE_OK);
}

static void
xfer_free(struct xfer *x)
{
	curl_easy_cleanup(x->easy);
	buf_free(&x->body);
}

static void
add(struct test *t, struct xfer *x)
{
	t->in_call = true;
	assert_int_equal(curlx_multi_add(t->m, x->easy, x), 0);
	t->in_call = false;
	t->pending++;
}

static void
remove_xfer(struct test *t, struct xfer *x)
{
	t->in_call = true;
	curlx_multi_remove(t->m, x->easy);
	t->in_call = false;
	t->pending--;
}

static char *
url(int port, const char *path)
{
	static char u[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(u[i], sizeof(u[i]), "http://127.0.0.1:%d%s", port, path);
	return u[i];
}

/* Runs one transfer of url to its end. */
static void
run_one(struct xfer *x, const char *u, const struct curlx_opts *opts)
{
	struct test t;

	test_begin(&t);
	xfer_new(&t, x, u, opts);
	add(&t, x);
	assert_int_equal(loop_run(t.l), 0);
	assert_int_equal(x->done_calls, 1);
	test_end(&t);
}

/* ---- the driver ---- */

/* Transfers started together each end once, with their own arg. */
static void
test_concurrent_own_arg(void **state)
{
	static const int status[NXFER] = { 200, 201, 202, 404, 500 };
	struct xfer x[NXFER];
	char path[32], want[32];
	struct test t;
	int i;

	test_begin(&t);
	for (i = 0; i < NXFER; i++) {
		snprintf(path, sizeof(path), "/status/%d", status[i]);
		xfer_new(&t, &x[i], url(fx.plain_port, path), NULL);
		add(&t, &x[i]);
	}
	assert_int_equal(t.done_calls, 0);	/* never inside add() */
	assert_int_equal(loop_run(t.l), 0);
	assert_int_equal(t.done_calls, NXFER);
	for (i = 0; i < NXFER; i++) {
		snprintf(want, sizeof(want), "status %d\n", status[i]);
		assert_int_equal(x[i].done_calls, 1);
		assert_int_equal(x[i].e.err, 0);
		assert_int_equal(x[i].e.kind, CURLX_OK);
		assert_string_equal(x[i].e.why, "");
		assert_int_equal(x[i].status, status[i]);
		assert_string_equal(buf_str(&x[i].body), want);
		xfer_free(&x[i]);
	}
	test_end(&t);
}

/* A removed transfer never reaches done(), removed before the loop runs
 * or from another transfer's done(); its handle stays usable. */
static void
test_removed_never_done(void **state)
{
	struct xfer early, late, quick, never;
	struct test t;

	test_begin(&t);
	xfer_new(&t, &early, url(fx.plain_port, "/status/200"), NULL);
	xfer_new(&t, &late, url(fx.plain_port, "/slow/5"), NULL);
	xfer_new(&t, &quick, url(fx.plain_port, "/status/204"), NULL);
	xfer_new(&t, &never, url(fx.plain_port, "/status/200"), NULL);
	add(&t, &early);
	add(&t, &late);
	add(&t, &quick);
	remove_xfer(&t, &early);
	curlx_multi_remove(t.m, never.easy);	/* not in it: a no-op */
	t.remove_in_done = late.easy;
	assert_int_equal(loop_run(t.l), 0);	/* until quick's done() */
	assert_int_equal(quick.done_calls, 1);
	assert_int_equal(quick.status, 204);
	/* Nothing else comes. */
	assert_int_equal(loop_timer_add(t.l, loop_mono_ms() + 300, on_stop,
	    t.l, NULL), 0);
	assert_int_equal(loop_run(t.l), 0);
	assert_int_equal(early.done_calls, 0);
	assert_int_equal(late.done_calls, 0);
	assert_int_equal(t.done_calls, 1);
	/* The removed handle is the caller's again: it can run. */
	add(&t, &early);
	assert_int_equal(loop_run(t.l), 0);
	assert_int_equal(early.done_calls, 1);
	assert_int_equal(early.status, 200);
	test_end(&t);
	xfer_free(&early);
	xfer_free(&late);
	xfer_free(&quick);
	xfer_free(&never);
}

/* curlx_multi_free() drops running transfers without done(); ASan checks
 * that nothing leaks or is used after. */
static void
test_free_while_running(void **state)
{
	struct xfer x[2];
	struct test t;
	int i;

	test_begin(&t);
	for (i = 0; i < 2; i++) {
		xfer_new(&t, &x[i], url(fx.plain_port, "/slow/5"), NULL);
		add(&t, &x[i]);
	}
	assert_int_equal(loop_timer_add(t.l, loop_mono_ms() + 200, on_stop,
	    t.l, NULL), 0);
	assert_int_equal(loop_run(t.l), 0);
	test_end(&t);
	assert_int_equal(t.done_calls, 0);
	for (i = 0; i < 2; i++)
		xfer_free(&x[i]);
}

/* ---- errors ---- */

static void
assert_prefix(const char *s, const char *prefix)
{
	assert_int_equal(strncmp(s, prefix, strlen(prefix)), 0);
}

static void
test_refused(void **state)
{
	struct xfer x;
	char u[128], msg[512], want[256];

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", fx.refused_port);
	run_one(&x, u, NULL);
	assert_int_equal(x.e.err, ERR_CONNECT);
	assert_int_equal(x.e.kind, CURLX_CONNECT);
	assert_int_equal(x.e.os_errno, ECONNREFUSED);
	assert_true(strlen(x.e.why) > 0);
	curlx_message(&x.e, "the peer", u, 0, msg, sizeof(msg));
	snprintf(want, sizeof(want), "cannot reach the peer at "
	    "http://127.0.0.1:%d/x: %s", fx.refused_port,
	    strerror(ECONNREFUSED));
	assert_string_equal(msg, want);
	xfer_free(&x);
}

/* The message of a failed transfer shows no credentials, query or
 * fragment, whatever the kind of failure. */
static void
test_message_hides_secrets(void **state)
{
	static const enum curlx_kind kinds[] = { CURLX_CONNECT,
	    CURLX_RESOLVE, CURLX_TIMEOUT, CURLX_TLS_VERIFY,
	    CURLX_TLS_HANDSHAKE, CURLX_OTHER };
	char u[128], msg[512], shown[64];
	struct curlx_error e;
	struct xfer x;
	size_t i;

	snprintf(u, sizeof(u), "http://bob:pa55@127.0.0.1:%d/x?token=abc#frag",
	    fx.refused_port);
	snprintf(shown, sizeof(shown), " http://127.0.0.1:%d/x",
	    fx.refused_port);
	run_one(&x, u, NULL);
	assert_int_equal(x.e.err, ERR_CONNECT);
	e = x.e;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		e.kind = kinds[i];
		curlx_message(&e, "the peer", u, 1500, msg, sizeof(msg));
		assert_non_null(strstr(msg, shown));
		assert_null(strstr(msg, "bob"));
		assert_null(strstr(msg, "pa55"));
		assert_null(strstr(msg, "token"));
		assert_null(strstr(msg, "abc"));
		assert_null(strstr(msg, "frag"));
	}
	xfer_free(&x);
}

/* Each kind of failure has its own words; curl's own text is kept. */
static void
test_translate(void **state)
{
	struct curlx_error e;
	char msg[256];

	assert_int_equal(curlx_translate(NULL, CURLE_OK, NULL, &e), 0);
	assert_int_equal(e.kind, CURLX_OK);
	assert_int_equal(curlx_translate(NULL, CURLE_COULDNT_RESOLVE_HOST,
	    "Could not resolve host: nowhere", &e), ERR_CONNECT);
	assert_int_equal(e.kind, CURLX_RESOLVE);
	curlx_message(&e, "P", "https://u:p@nowhere/a?b", 0, msg,
	    sizeof(msg));
	assert_string_equal(msg, "cannot reach P at https://nowhere/a: "
	    "Could not resolve host: nowhere");
	assert_int_equal(curlx_translate(NULL, CURLE_OPERATION_TIMEDOUT, "",
	    &e), ERR_TIMEOUT);
	curlx_message(&e, "P", "http://h", 1500, msg, sizeof(msg));
	assert_string_equal(msg, "no answer from P at http://h within "
	    "1500 ms");
	assert_int_equal(curlx_translate(NULL, CURLE_OUT_OF_MEMORY, NULL, &e),
	    -ENOMEM);
	curlx_message(&e, "P", "http://h", 0, msg, sizeof(msg));
	assert_string_equal(msg, "out of memory");
	/* Without the error buffer, curl's text for the code. */
	assert_int_equal(curlx_translate(NULL, CURLE_SSL_CONNECT_ERROR, NULL,
	    &e), ERR_PROTOCOL);
	assert_int_equal(e.kind, CURLX_TLS_HANDSHAKE);
	assert_string_equal(e.why, curl_easy_strerror(CURLE_SSL_CONNECT_ERROR));
	curlx_message(&e, "P", "https://h", 0, msg, sizeof(msg));
	assert_prefix(msg, "TLS handshake with P at https://h failed: ");
}

/* A handle that cannot be made says why in the error buffer. */
static void
test_easy_new_fails(void **state)
{
	char errbuf[CURLX_ERRBUF_SIZE] = "";
	struct curlx_opts o = { .errbuf = errbuf };
	CURL *e = NULL;

	init_fails = true;
	assert_int_equal(curlx_easy_new(&o, &e), -ENOMEM);
	init_fails = false;
	assert_null(e);
	assert_string_equal(errbuf, curl_easy_strerror(CURLE_OUT_OF_MEMORY));
}

/* A self-signed certificate is refused unless TLS checks are off. */
static void
test_tls(void **state)
{
	struct curlx_opts insecure = { .tls_insecure = true };
	char u[128], msg[512];
	struct xfer x;

	snprintf(u, sizeof(u), "https://127.0.0.1:%d/status/200", fx.tls_port);
	run_one(&x, u, NULL);
	assert_int_equal(x.e.err, ERR_PROTOCOL);
	assert_int_equal(x.e.kind, CURLX_TLS_VERIFY);
	assert_non_null(strstr(x.e.why, "certificate"));
	curlx_message(&x.e, "P", u, 0, msg, sizeof(msg));
	assert_prefix(msg, "cannot verify the TLS certificate of P at "
	    "https://127.0.0.1:");
	xfer_free(&x);

	run_one(&x, u, &insecure);
	assert_int_equal(x.e.err, 0);
	assert_int_equal(x.status, 200);
	assert_string_equal(buf_str(&x.body), "status 200\n");
	xfer_free(&x);
}

/* Only http and https are fetched. */
static void
test_scheme_refused(void **state)
{
	struct xfer x;

	run_one(&x, "ftp://127.0.0.1/file", NULL);
	assert_int_equal(x.e.err, ERR_PROTOCOL);
	assert_int_equal(x.e.kind, CURLX_OTHER);
	assert_int_equal(x.status, 0);
	xfer_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_own_arg),
		cmocka_unit_test(test_removed_never_done),
		cmocka_unit_test(test_free_while_running),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_message_hides_secrets),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_easy_new_fails),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_scheme_refused),
	};

	if (curlx_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
