/*
 * test_es.c - the Elasticsearch sink against the Elasticsearch protocol
 * double (tests/integration/es_double.py, started through
 * httpd_fixture.c), its deliver() called directly as the outbox would:
 * documents indexed once under their stable id, a lost response re-sent
 * without duplicates, per-item failures retried or parked alone, whole
 * request failures, failover to the second URL, the index template
 * (composable, and legacy where the double lacks the composable API),
 * credentials sent and never shown, gzip and its fallback, documents that
 * stay valid with a 10 MB or a non-UTF-8 output, index names from the
 * pattern only, the check that lets a rendered report go into the body as
 * it is (and that this fast path writes what the slow one does), and the
 * configuration's errors.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/es.h"
#include "distcron/outbox.h"
#include "distcron/store.h"
#include "httpd_fixture.h"
#include "report/es_int.h"

#define SCHED		1765000000	/* 2025-12-06T05:46:40Z */
#define SCHED_INDEX	"distcron-2025.12.06"
#define MAXE		8

static struct httpd_fixture fx;

static int
group_setup(void **state)
{
	return httpd_fixture_start_double(&fx, "es_double.py", true);
}

static int
group_teardown(void **state)
{
	httpd_fixture_stop(&fx);
	return 0;
}

/* ---- the double's control endpoints ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

/* A request to the double; its JSON answer (json_object_put() it). */
static json_object *
dbl(const char *path, const char *body)
{
	CURL *e = curl_easy_init();
	char url[256];
	struct buf b;
	json_object *o;

	assert_non_null(e);
	buf_init(&b, 64 * 1024 * 1024);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.plain_port,
	    path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (body != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_cleanup(e);
	o = json_tokener_parse(buf_str(&b));
	buf_free(&b);
	assert_non_null(o);
	return o;
}

static void
mode(const char *json)
{
	json_object_put(dbl("/_double/mode", json));
}

static int
reset(void **state)
{
	json_object_put(dbl("/_double/reset", "{}"));
	return 0;
}

/* What the double holds: member key of GET /_double/docs. */
static json_object *
held(json_object *all, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(all, key, &v))
		fail_msg("no member \"%s\" in %.200s", key,
		    json_object_to_json_string(all));
	return v;
}

/* The stored document of id, or NULL. */
static json_object *
doc_of(json_object *all, const char *id)
{
	json_object *v = NULL;

	json_object_object_get_ex(held(all, "docs"), id, &v);
	return v;
}

static const char *
str_at(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

/* The double saw no broken line, body or template. */
static void
assert_no_violation(json_object *all)
{
	json_object *v = held(all, "violations");

	if (json_object_array_length(v) != 0)
		fail_msg("double: %s", json_object_to_json_string(v));
}

/* ---- sinks and entries ---- */

struct sink {
	const struct outbox_sink_ops *ops;
	void *arg;
};

/* A sink configured by the members in extra (may be "") after "url". */
static void
sink_new(struct sink *s, const char *url_json, const char *extra)
{
	char text[2048], err[512];
	struct es_config c;
	json_object *o;

	snprintf(text, sizeof(text), "{\"url\": %s%s%s}", url_json,
	    extra[0] != '\0' ? ", " : "", extra);
	assert_non_null(o = json_tokener_parse(text));
	if (es_config_from_json(o, &c, err, sizeof(err)) != 0)
		fail_msg("config %s: %s", text, err);
	json_object_put(o);
	assert_int_equal(es_sink_new(&c, &s->ops, &s->arg), 0);
	es_config_free(&c);
	assert_string_equal(s->ops->name, "elasticsearch");
}

static void
sink_plain(struct sink *s, const char *extra)
{
	char url[64];

	snprintf(url, sizeof(url), "\"http://127.0.0.1:%d\"", fx.plain_port);
	sink_new(s, url, extra);
}

static void
sink_free(struct sink *s)
{
	s->ops->free(s->arg);
}

/* A report document for job with output (both JSON-escaped here). */
static char *
report(const char *job, const char *output, size_t outlen)
{
	json_object *o = json_object_new_object(), *items, *it;
	char *s;

	json_object_object_add(o, "job", json_object_new_string(job));
	json_object_object_add(o, "event", json_object_new_string("report"));
	json_object_object_add(o, "status", json_object_new_string("failed"));
	json_object_object_add(o, "exit_code", json_object_new_int(2));
	json_object_object_add(o, "scheduled_at",
	    json_object_new_string("2025-12-06T05:46:40Z"));
	items = json_object_new_array();
	it = json_object_new_object();
	json_object_object_add(it, "node", json_object_new_string("db1"));
	json_object_object_add(it, "output",
	    json_object_new_string_len(output, (int)outlen));
	json_object_array_add(items, it);
	json_object_object_add(o, "items", items);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

struct batch {
	struct outbox_entry e[MAXE];
	struct outbox_outcome out[MAXE];
	char *docs[MAXE];
	size_t n;
};

static void
batch_add(struct batch *b, const char *job, const char *output,
    size_t outlen)
{
	struct outbox_entry *e = &b->e[b->n];

	b->docs[b->n] = report(job, output, outlen);
	e->id = (int64_t)b->n + 1;
	e->run_id = 100 + (int64_t)b->n;
	e->job = job;
	e->scheduled_at = SCHED;
	e->event = "report";
	e->doc = b->docs[b->n];
	b->n++;
}

/* n entries of job "backup", run ids 100... */
static void
batch_make(struct batch *b, size_t n)
{
	memset(b, 0, sizeof(*b));
	while (b->n < n)
		batch_add(b, "backup", "ok\n", 3);
}

static void
batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->docs[i]);
}

/* deliver() fills every outcome; when it says nothing could be tried,
 * every entry is retried. */
static int
deliver(struct sink *s, struct batch *b)
{
	size_t i;
	int r;

	memset(b->out, 0xff, sizeof(b->out));
	r = s->ops->deliver(s->arg, b->e, b->n, b->out);
	for (i = 0; i < b->n; i++) {
		assert_true(b->out[i].result <= OUTBOX_PARK);
		assert_non_null(memchr(b->out[i].why, '\0', OUTBOX_WHY_LEN));
		if (r != 0)
			assert_int_equal(b->out[i].result, OUTBOX_RETRY);
	}
	return r;
}

static void
assert_all(struct batch *b, enum outbox_result r)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->out[i].result != r)
			fail_msg("entry %zu: result %d, want %d (%s)", i,
			    (int)b->out[i].result, (int)r, b->out[i].why);
}

/* The number of stored documents. */
static size_t
ndocs(json_object *all)
{
	return (size_t)json_object_object_length(held(all, "docs"));
}

/* The last request the double recorded whose path is path. */
static json_object *
last_request(json_object *all, const char *path)
{
	json_object *reqs = held(all, "requests"), *r, *found = NULL;
	size_t i;

	for (i = 0; i < json_object_array_length(reqs); i++) {
		r = json_object_array_get_idx(reqs, i);
		if (strcmp(str_at(r, "path"), path) == 0)
			found = r;
	}
	assert_non_null(found);
	return found;
}

/* ---- delivery ---- */

/* The type of property path ("items.output") in mappings. */
static const char *
prop_type(json_object *m, const char *a, const char *b)
{
	json_object *p = held(held(m, "properties"), a);

	if (b != NULL)
		p = held(held(p, "properties"), b);
	return str_at(p, "type");
}

/* The mapping the issue asks for: keywords, dates, numbers, text with a
 * capped keyword subfield. */
static void
assert_mapping(json_object *m)
{
	static const char *const kw[] = { "job", "node", "nodes", "status",
	    "owners", "member", "event", NULL };
	static const char *const dates[] = { "scheduled_at", "start", "stop",
	    NULL };
	static const char *const nums[] = { "duration_ms", "exit_code",
	    "lateness_ms", "attempt", "fence", NULL };
	json_object *out;
	size_t i;

	for (i = 0; kw[i] != NULL; i++)
		assert_string_equal(prop_type(m, kw[i], NULL), "keyword");
	for (i = 0; dates[i] != NULL; i++)
		assert_string_equal(prop_type(m, dates[i], NULL), "date");
	for (i = 0; nums[i] != NULL; i++)
		assert_string_equal(prop_type(m, nums[i], NULL), "long");
	assert_string_equal(prop_type(m, "items", "node"), "keyword");
	assert_string_equal(prop_type(m, "items", "output"), "text");
	out = held(held(held(m, "properties"), "output"), "fields");
	out = held(out, "keyword");
	assert_string_equal(str_at(out, "type"), "keyword");
	assert_int_equal(json_object_get_int(held(out, "ignore_above")), 1024);
}

/* Three reports: indexed once each, under "job:scheduled:run", in the
 * pattern's index, gzipped NDJSON, after the composable template; sent
 * again, they update the same documents over the same connection. */
static void
test_indexed_once(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all, *d, *t, *r;
	int port;

	sink_plain(&s, "");
	batch_make(&b, 3);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	port = json_object_get_int(held(last_request(all, "/_bulk"),
	    "client_port"));
	json_object_put(all);
	deliver(&s, &b);		/* again: the same connection */
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_int_equal(json_object_get_int(held(last_request(all, "/_bulk"),
	    "client_port")), port);
	assert_no_violation(all);
	assert_int_equal(ndocs(all), 3);
	assert_non_null(d = doc_of(all, "backup:1765000000:100"));
	assert_string_equal(str_at(d, "_index"), SCHED_INDEX);
	assert_non_null(doc_of(all, "backup:1765000000:102"));
	r = last_request(all, "/_bulk");
	assert_string_equal(str_at(r, "content_type"), "application/x-ndjson");
	assert_string_equal(str_at(r, "content_encoding"), "gzip");
	t = held(held(all, "templates"), "composable");
	assert_true(json_object_object_get_ex(t, "distcron", &t));
	assert_string_equal(json_object_to_json_string_ext(held(t,
	    "index_patterns"), JSON_C_TO_STRING_PLAIN), "[\"distcron-*\"]");
	assert_mapping(held(held(t, "template"), "mappings"));
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* The answer is cut after the double indexed the batch: every entry is
 * retried, and the retry updates the same documents. */
static void
test_lost_response_no_duplicate(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all;

	sink_plain(&s, "");
	batch_make(&b, 2);
	mode("{\"cut\": 1}");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[0].why, "elasticsearch at "
	    "http://127.0.0.1:"));
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_int_equal(ndocs(all), 2);
	assert_int_equal(json_object_get_int(held(doc_of(all,
	    "backup:1765000000:101"), "_version")), 2);
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* Items failing inside a 200 answer: only they are retried; a mapping
 * error is parked with the error's type and reason. */
static void
test_item_failures(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all;

	sink_plain(&s, "");
	batch_make(&b, 4);
	mode("{\"fail_ids\": {\"backup:1765000000:101\": 429, "
	    "\"backup:1765000000:102\": 400, "
	    "\"backup:1765000000:103\": 403}}");
	deliver(&s, &b);
	assert_int_equal(b.out[0].result, OUTBOX_DELIVERED);
	assert_int_equal(b.out[1].result, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[1].why, "429"));
	assert_int_equal(b.out[2].result, OUTBOX_PARK);
	assert_non_null(strstr(b.out[2].why, "mapper_parsing_exception: "
	    "failed to parse field [exit_code]"));
	assert_int_equal(b.out[3].result, OUTBOX_RETRY);	/* privileges */
	all = dbl("/_double/docs", NULL);
	assert_int_equal(ndocs(all), 1);
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* 429 and 503 for the whole request: every entry retried. */
static void
test_whole_request_status(void **state)
{
	static const int statuses[] = { 429, 503, 500 };
	char text[64];
	struct sink s;
	struct batch b;
	size_t i;

	sink_plain(&s, "");
	batch_make(&b, 2);
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "{\"status\": %d, "
		    "\"status_count\": 1}", statuses[i]);
		mode(text);
		deliver(&s, &b);
		assert_all(&b, OUTBOX_RETRY);
		snprintf(text, sizeof(text), "answered HTTP %d", statuses[i]);
		assert_non_null(strstr(b.out[1].why, text));
	}
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	batch_free(&b);
	sink_free(&s);
}

/* A stalled server: retried after the sink's timeout. */
static void
test_stall_timeout(void **state)
{
	struct sink s;
	struct batch b;

	sink_plain(&s, "\"timeout\": \"300ms\"");
	batch_make(&b, 1);
	deliver(&s, &b);		/* template, first document */
	mode("{\"stall\": 2, \"stall_count\": 1}");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[0].why, "no answer from elasticsearch"));
	batch_free(&b);
	sink_free(&s);
}

/* The first URL refuses connections: the sink delivers to the second;
 * none reachable: retried with the reason. */
static void
test_failover(void **state)
{
	struct sink s;
	struct batch b;
	char urls[256];

	snprintf(urls, sizeof(urls), "[\"http://127.0.0.1:%d\", "
	    "\"http://127.0.0.1:%d\"]", fx.refused_port, fx.plain_port);
	sink_new(&s, urls, "");
	batch_make(&b, 2);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	sink_free(&s);
	snprintf(urls, sizeof(urls), "[\"http://es:t0psecret@127.0.0.1:%d/\"]",
	    fx.refused_port);
	sink_new(&s, urls, "");
	assert_int_equal(deliver(&s, &b), ERR_CONNECT);
	assert_all(&b, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[1].why, "cannot reach elasticsearch"));
	assert_null(strstr(b.out[1].why, "t0psecret"));
	batch_free(&b);
	sink_free(&s);
}

/* HTTPS: a server whose certificate the CAs do not vouch for is retried
 * with a message saying so; the right ca_file, or tls_verify false,
 * delivers. */
static void
test_tls_ca(void **state)
{
	struct sink s;
	struct batch b;
	char url[64], extra[256];

	(void)state;
	snprintf(url, sizeof(url), "\"https://127.0.0.1:%d\"", fx.tls_port);
	batch_make(&b, 2);
	sink_new(&s, url, "");		/* the system's CAs */
	assert_int_not_equal(deliver(&s, &b), 0);
	assert_all(&b, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[0].why, "127.0.0.1"));
	assert_true(strstr(b.out[0].why, "certificate") != NULL ||
	    strstr(b.out[0].why, "TLS") != NULL);
	sink_free(&s);
	snprintf(extra, sizeof(extra), "\"ca_file\": \"%s\"", fx.cert);
	sink_new(&s, url, extra);
	assert_int_equal(deliver(&s, &b), 0);
	assert_all(&b, OUTBOX_DELIVERED);
	sink_free(&s);
	sink_new(&s, url, "\"tls_verify\": false");
	assert_int_equal(deliver(&s, &b), 0);
	assert_all(&b, OUTBOX_DELIVERED);
	sink_free(&s);
	batch_free(&b);
}

/* The double stops listening while the sink holds a kept-alive
 * connection, then comes back: retried, then delivered. */
static void
test_refused_then_back(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all;

	sink_plain(&s, "");
	batch_make(&b, 2);
	deliver(&s, &b);
	mode("{\"refuse_for\": 1}");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_RETRY);
	sleep(2);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_int_equal(ndocs(all), 2);
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* Without the composable API the legacy template is installed. */
static void
test_template_legacy(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all, *t;

	mode("{\"no_composable\": 404}");
	sink_plain(&s, "\"index\": \"cron-%Y.%m\"");
	batch_make(&b, 1);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_no_violation(all);
	assert_int_equal(json_object_object_length(held(held(all, "templates"),
	    "composable")), 0);
	t = held(held(all, "templates"), "legacy");
	assert_true(json_object_object_get_ex(t, "distcron", &t));
	assert_string_equal(json_object_to_json_string_ext(held(t,
	    "index_patterns"), JSON_C_TO_STRING_PLAIN), "[\"cron-*\"]");
	assert_string_equal(str_at(doc_of(all, "backup:1765000000:100"),
	    "_index"), "cron-2025.12");
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* The PUTs of the composable template the double saw. */
static size_t
template_puts(void)
{
	json_object *all = dbl("/_double/docs", NULL), *reqs, *r;
	size_t i, n = 0;

	reqs = held(all, "requests");
	for (i = 0; i < json_object_array_length(reqs); i++) {
		r = json_object_array_get_idx(reqs, i);
		if (strcmp(str_at(r, "path"), "/_index_template/distcron") == 0)
			n++;
	}
	json_object_put(all);
	return n;
}

/* An index the server says is missing: the document is retried, and the
 * template installed again before the next delivery. */
static void
test_template_reinstalled(void **state)
{
	struct sink s;
	struct batch b;

	sink_plain(&s, "");
	batch_make(&b, 2);
	mode("{\"fail_ids\": {\"backup:1765000000:101\": 404}}");
	deliver(&s, &b);
	assert_int_equal(b.out[0].result, OUTBOX_DELIVERED);
	assert_int_equal(b.out[1].result, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[1].why, "index_not_found_exception"));
	assert_int_equal(template_puts(), 1);
	mode("{\"fail_ids\": {}}");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	assert_int_equal(template_puts(), 2);
	batch_free(&b);
	sink_free(&s);
}

/* Basic auth and API keys reach the server; a refused password is
 * retried, and never shown. */
static void
test_auth(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all;

	mode("{\"basic\": \"distcron:s3cret-pw\"}");
	sink_plain(&s, "\"username\": \"distcron\", "
	    "\"password\": \"s3cret-pw\"");
	batch_make(&b, 1);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	sink_free(&s);
	all = dbl("/_double/docs", NULL);
	assert_string_equal(str_at(last_request(all, "/_bulk"),
	    "authorization"), "Basic ZGlzdGNyb246czNjcmV0LXB3");
	json_object_put(all);

	sink_plain(&s, "\"username\": \"distcron\", "
	    "\"password\": \"wrong-pw\"");
	assert_int_equal(deliver(&s, &b), ERR_AUTH);
	assert_all(&b, OUTBOX_RETRY);
	assert_non_null(strstr(b.out[0].why, "refused the credentials "
	    "(HTTP 401)"));
	assert_null(strstr(b.out[0].why, "wrong-pw"));
	sink_free(&s);

	json_object_put(dbl("/_double/reset", "{}"));
	mode("{\"api_key\": \"a2V5aWQ6c2VjcmV0\"}");
	sink_plain(&s, "\"api_key\": \"a2V5aWQ6c2VjcmV0\"");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_string_equal(str_at(last_request(all, "/_bulk"),
	    "authorization"), "ApiKey a2V5aWQ6c2VjcmV0");
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* A server that refuses gzip (415): the batch is re-sent plain, and so
 * are the next ones. */
static void
test_gzip_refused(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all, *r;

	mode("{\"gzip_status\": 415}");
	sink_plain(&s, "");
	batch_make(&b, 2);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	r = last_request(all, "/_bulk");
	assert_true(json_object_get_type(held(r, "content_encoding")) ==
	    json_type_null);
	assert_int_equal(ndocs(all), 2);
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* compress off: plain bodies from the start. */
static void
test_gzip_off(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all;

	sink_plain(&s, "\"compress\": false");
	batch_make(&b, 1);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_null(json_object_object_get(last_request(all, "/_bulk"),
	    "content_encoding"));
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* The first item's output of the stored document id. */
static const char *
stored_output(json_object *all, const char *id)
{
	json_object *d = doc_of(all, id), *items;

	assert_non_null(d);
	items = held(held(d, "_source"), "items");
	return str_at(json_object_array_get_idx(items, 0), "output");
}

/* A 10 MB output is kept as its head and tail; bytes that are not
 * UTF-8 are replaced: both documents are accepted. */
static void
test_big_and_binary_output(void **state)
{
	const size_t big = 10 * 1024 * 1024;
	const char bin[] = "ok \xff\xfe bad \xc3( end \xed\xa0\x80";
	struct sink s;
	struct batch b;
	json_object *all;
	const char *o;
	char *out;

	assert_non_null(out = malloc(big));
	memset(out, 'x', big);
	memcpy(out, "HEAD", 4);
	memcpy(out + big - 4, "TAIL", 4);
	memset(&b, 0, sizeof(b));
	batch_add(&b, "big", out, big);
	batch_add(&b, "bin", bin, sizeof(bin) - 1);
	free(out);
	sink_plain(&s, "");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_no_violation(all);
	o = stored_output(all, "big:1765000000:100");
	assert_true(strlen(o) <= ES_FIELD_MAX + 64);
	assert_memory_equal(o, "HEAD", 4);
	assert_string_equal(o + strlen(o) - 4, "TAIL");
	assert_non_null(strstr(o, "bytes cut by distcron"));
	o = stored_output(all, "bin:1765000000:101");
	assert_string_equal(o, "ok \xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd( "
	    "end \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* Job names that are no valid index name land in the pattern's index. */
static void
test_index_from_pattern_only(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all;

	memset(&b, 0, sizeof(b));
	batch_add(&b, "../_all", "x", 1);
	batch_add(&b, "UPPER", "x", 1);
	sink_plain(&s, "");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_string_equal(str_at(doc_of(all, "../_all:1765000000:100"),
	    "_index"), SCHED_INDEX);
	assert_string_equal(str_at(doc_of(all, "UPPER:1765000000:101"),
	    "_index"), SCHED_INDEX);
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* A report that is not JSON is parked; the others go. */
static void
test_bad_document_parked(void **state)
{
	struct sink s;
	struct batch b;

	batch_make(&b, 2);
	b.e[0].doc = "{not json";
	sink_plain(&s, "");
	deliver(&s, &b);
	assert_int_equal(b.out[0].result, OUTBOX_PARK);
	assert_non_null(strstr(b.out[0].why, "not a JSON object"));
	assert_int_equal(b.out[1].result, OUTBOX_DELIVERED);
	batch_free(&b);
	sink_free(&s);
}

/* A batch made ready by prepare goes as made (once, gzipped); one made
 * for other entries is not used for these; a prepared batch the server
 * will not take gzipped goes plain. */
static void
test_prepared(void **state)
{
	struct sink s;
	struct batch b, other;
	json_object *all;
	size_t i;

	sink_plain(&s, "");
	assert_non_null(s.ops->prepare);
	batch_make(&b, 3);
	batch_make(&other, 2);
	for (i = 0; i < other.n; i++)
		other.e[i].run_id = 200 + (int64_t)i;
	s.ops->prepare(s.arg, b.e, b.n);
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_no_violation(all);
	assert_int_equal(ndocs(all), 3);
	assert_string_equal(str_at(last_request(all, "/_bulk"),
	    "content_encoding"), "gzip");
	json_object_put(all);
	mode("{\"gzip_status\": 415}");
	s.ops->prepare(s.arg, other.e, other.n);
	deliver(&s, &b);		/* not the prepared one */
	assert_all(&b, OUTBOX_DELIVERED);
	deliver(&s, &other);		/* the prepared one, plain */
	assert_all(&other, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_no_violation(all);
	assert_int_equal(ndocs(all), 5);
	assert_non_null(doc_of(all, "backup:1765000000:201"));
	json_object_put(all);
	batch_free(&b);
	batch_free(&other);
	sink_free(&s);
}

/* ---- the fast path: a rendered report copied as it is ---- */

static bool
plain(const char *text)
{
	return es_json_plain(text, strlen(text), 16);
}

/* {"a":[[...]]}: levels containers in all, written into out. */
static const char *
nested(char *out, size_t len, size_t levels)
{
	size_t i, k = 0;

	assert_true(2 * levels + 8 < len);
	memcpy(out, "{\"a\":", 5);
	k = 5;
	for (i = 1; i < levels; i++)
		out[k++] = '[';
	for (i = 1; i < levels; i++)
		out[k++] = ']';
	out[k++] = '}';
	out[k] = '\0';
	return out;
}

/* Valid JSON objects on one line with valid UTF-8 and short strings pass;
 * anything else is left to the slow path. */
static void
test_json_plain(void **state)
{
	static const char *const yes[] = {
		"{}", " {\"a\":1} ", "{\"a\":[1,-2.5e+3,0,true,false,null]}",
		"{\"s\":\"\xc3\xa9\\u00e9\\n\\\"\\\\\\/\"}",
		"{\"a\":{\"b\":{\"c\":[[],{}]}},\"n\":-0.0}",
		"{\"k\":\"0123456789abcdef\"}",	/* at the cap: 16 */
		"{\"e\":\"\\u0041\\uffff\"}",
	};
	static const char *const no[] = {
		"", "[1]", "\"s\"", "1", "null",		/* not objects */
		"{\"a\":1", "{\"a\":\"x", "{\"a\":}", "{\"a\" 1}",
		"{\"a\":1,}", "{,}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
		"{\"a\":tru}", "{\"a\":1}x", "{\"a\":1}{}", "{a:1}",
		"{\"a\":\"\xff\"}", "{\"a\":\"\xc3(\"}",	/* not UTF-8 */
		"{\"a\":\"\xed\xa0\x80\"}", "{\"\xc3\":1}",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\ud83d\\ude00\"}",
		"{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"tab\there\"}", "{\"a\":\n1}", "{\"a\":1}\n",
		"{\"k\":\"0123456789abcdefg\"}",	/* past the cap */
		"{\"k\":\"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"}", /* 18 as written */
	};
	char deep[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!plain(yes[i]))
			fail_msg("refused: %s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (plain(no[i]))
			fail_msg("passed: %s", no[i]);
	assert_false(es_json_plain("{\"a\":1}", 5, 16));	/* cut short */
	assert_false(es_json_plain("{\"a\":\"x\"}", 7, 16));
	assert_true(plain(nested(deep, sizeof(deep), ES_JSON_DEPTH)));
	assert_false(plain(nested(deep, sizeof(deep), ES_JSON_DEPTH + 1)));
}

/* A _bulk answer whose "errors" is false with an item per document is
 * all delivered without being parsed; anything else is read item by
 * item. */
static void
test_bulk_all_ok(void **state)
{
	static const char ok[] = "{\"took\": 3, \"errors\": false, "
	    "\"items\": [{\"index\": {\"_id\": \"a\", \"status\": 201}}, "
	    "{\"index\": {\"_id\": \"b\", \"status\": 200}}]}";
	static const char *const no[] = {
#define OK	"{\"index\": {\"_id\": \"a\", \"status\": 201}}"
		"{\"took\": 3, \"errors\": true, \"items\": [" OK ", " OK "]}",
		"{\"took\": 3, \"items\": [" OK ", " OK "]}",
		"{\"errors\": false, \"items\": [" OK "]}",
		"{\"errors\": false, \"items\": [" OK ", " OK ", " OK "]}",
		"{\"errors\": false, \"items\": {}}",
		"{\"errors\": \"false\", \"items\": [" OK ", " OK "]}",
		"{\"errors\": false, \"items\": [" OK ", " OK "]",
		"{\"errors\": false, \"items\": [" OK ", {]}",
		"[{\"errors\": false, \"items\": [" OK ", " OK "]}]",
		"{\"errors\": false, \"items\": [{}, {}]}",
		"{\"errors\": false, \"items\": [" OK ", {\"index\": "
		    "{\"_id\": \"b\"}}]}",			/* no status */
		"{\"errors\": false, \"items\": [" OK ", {\"index\": "
		    "{\"status\": 409}}]}",
		"{\"errors\": false, \"items\": [" OK ", {\"index\": "
		    "{\"status\": 2000}}]}",
		"{\"errors\": false, \"items\": [" OK ", 7]}",
		"",
#undef OK
	};
	const char *ids[2] = { "a", "b" };
	struct outbox_outcome out[2];
	bool reinstall = false;
	size_t i;

	(void)state;
	assert_true(es_bulk_all_ok(ok, strlen(ok), 2));
	assert_false(es_bulk_all_ok(ok, strlen(ok) - 1, 2));	/* cut */
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (es_bulk_all_ok(no[i], strlen(no[i]), 2))
			fail_msg("passed: %s", no[i]);
	memset(out, 0xff, sizeof(out));
	assert_int_equal(es_bulk_read(ok, strlen(ok), ids, 2, "peer", out,
	    &reinstall), 0);
	assert_int_equal(out[0].result, OUTBOX_DELIVERED);
	assert_int_equal(out[1].result, OUTBOX_DELIVERED);
	assert_string_equal(out[1].why, "");
	assert_int_equal(es_bulk_read(no[9], strlen(no[9]), ids, 2, "peer",
	    out, &reinstall), 0);	/* items without a status */
	assert_int_equal(out[0].result, OUTBOX_RETRY);
	assert_false(reinstall);
}

/* An ordinary run as the outbox renders it: the fast path's lines are the
 * slow path's, byte for byte; an id with quotes and control characters
 * reads back the same from the action line.  A cluster run's document
 * has its member and fence, another neither. */
static void
test_fast_path_same_lines(void **state)
{
	struct store_item it = { .node = "db1", .attempt = 1,
	    .status = RUN_FAILURE, .exit_code = 2,
	    .started_ms = SCHED * 1000LL + 1500, .ended_ms = SCHED * 1000LL + 1750,
	    .out = "caf\xc3\xa9 / \"done\"\n\ttab\x01", .err = "" };
	struct store_run run = { .id = 7, .job = "backup",
	    .scheduled_at = SCHED, .trigger = "schedule", .attempt = 1,
	    .status = RUN_FAILURE, .started_ms = it.started_ms,
	    .ended_ms = it.ended_ms, .items = &it, .nitems = 1,
	    .member = "host-a:7", .fence = 42 };
	struct outbox_entry e = { .id = 1, .run_id = 7, .job = "backup",
	    .scheduled_at = SCHED, .event = "report" };
	const char *odd = "a\"b\\c/\x01\x1f\x7f\n\xc3\xa9";
	char why[OUTBOX_WHY_LEN], *doc;
	struct buf fast, slow;
	json_object *o, *v;

	(void)state;
	assert_non_null(doc = outbox_render(&run, "report"));
	e.doc = doc;
	assert_true(es_json_plain(doc, strlen(doc), ES_FIELD_MAX));
	buf_init(&fast, SIZE_MAX / 2);
	buf_init(&slow, SIZE_MAX / 2);
	assert_int_equal(es_doc_append(&fast, &e, SCHED_INDEX, odd, why,
	    sizeof(why)), 0);
	assert_int_equal(es_doc_append_parsed(&slow, &e, SCHED_INDEX, odd, why,
	    sizeof(why)), 0);
	assert_string_equal(buf_str(&fast), buf_str(&slow));
	assert_non_null(strstr(buf_str(&fast), "caf\xc3\xa9 / "));
	assert_non_null(strstr(buf_str(&fast), "\"member\":\"host-a:7\""));
	assert_non_null(strstr(buf_str(&fast), "\"fence\":42"));
	assert_non_null(o = json_tokener_parse(buf_str(&fast)));
	assert_true(json_object_object_get_ex(o, "index", &v));
	assert_string_equal(str_at(v, "_id"), odd);
	assert_string_equal(str_at(v, "_index"), SCHED_INDEX);
	json_object_put(o);
	e.doc = "{\"empty\":\"\",\"bad\":\"x\xff\"}";	/* slow path */
	buf_reset(&slow);
	assert_int_equal(es_doc_append(&slow, &e, SCHED_INDEX, "i", why,
	    sizeof(why)), 0);
	assert_non_null(strstr(buf_str(&slow), "{\"empty\":\"\",\"bad\":"
	    "\"x\xef\xbf\xbd\"}\n"));
	buf_free(&fast);
	buf_free(&slow);
	free(doc);
	run.member = NULL;
	run.fence = 0;
	assert_non_null(doc = outbox_render(&run, "report"));
	assert_null(strstr(doc, "\"member\""));
	assert_null(strstr(doc, "\"fence\""));
	free(doc);
}

/* batch_docs and batch_bytes cut the entries into several requests; a
 * document larger than batch_bytes goes alone. */
static void
test_batches(void **state)
{
	struct sink s;
	struct batch b;
	json_object *all, *reqs;
	size_t i, bulks = 0;
	char *out;

	assert_non_null(out = malloc(4000));
	memset(out, 'y', 4000);
	batch_make(&b, 5);
	batch_add(&b, "large", out, 4000);
	free(out);
	sink_plain(&s, "\"batch_docs\": 2, \"batch_bytes\": 2048");
	deliver(&s, &b);
	assert_all(&b, OUTBOX_DELIVERED);
	all = dbl("/_double/docs", NULL);
	assert_int_equal(ndocs(all), 6);
	reqs = held(all, "requests");
	for (i = 0; i < json_object_array_length(reqs); i++)
		if (strcmp(str_at(json_object_array_get_idx(reqs, i), "path"),
		    "/_bulk") == 0)
			bulks++;
	assert_int_equal(bulks, 4);	/* 2 + 2 + 1, then the large one */
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* ---- Kibana's saved objects ---- */

#define KIBANA	TEST_SRCDIR "/etc/kibana/distcron.ndjson"
#define NOBJ	16

/* The JSON in the string member key of o (json_object_put() it). */
static json_object *
inner_json(json_object *o, const char *key)
{
	json_object *v = json_tokener_parse(str_at(o, key));

	if (v == NULL)
		fail_msg("%s is not JSON", key);
	return v;
}

/* Each aggregation's field of a visualization is in the mapping m. */
static void
assert_vis_fields(json_object *vis, json_object *m)
{
	json_object *st = inner_json(vis, "visState"), *aggs, *params, *f;
	const char *field, *dot;
	char top[64];
	size_t i;

	aggs = held(st, "aggs");
	for (i = 0; i < json_object_array_length(aggs); i++) {
		params = held(json_object_array_get_idx(aggs, i), "params");
		if (!json_object_object_get_ex(params, "field", &f))
			continue;
		field = json_object_get_string(f);
		if ((dot = strchr(field, '.')) == NULL)
			(void)prop_type(m, field, NULL);
		else {
			snprintf(top, sizeof(top), "%.*s", (int)(dot - field),
			    field);
			(void)prop_type(m, top, dot + 1);
		}
	}
	json_object_put(st);
}

/* Every reference of o names an object of the file (ids[0..n-1]). */
static void
assert_refs(json_object *o, char ids[][64], size_t n)
{
	json_object *refs = held(o, "references");
	const char *id;
	size_t i, j;

	for (i = 0; i < json_object_array_length(refs); i++) {
		id = str_at(json_object_array_get_idx(refs, i), "id");
		for (j = 0; j < n && strcmp(ids[j], id) != 0; j++)
			continue;
		if (j == n)
			fail_msg("reference to %s: not in the file", id);
	}
}

/* The shipped file: NDJSON of saved objects, a data view "distcron-*"
 * on scheduled_at, a dashboard of four visualizations whose fields are
 * all in the index template, no dangling reference. */
static void
test_kibana_objects(void **state)
{
	json_object *objs[NOBJ], *all, *m, *attrs, *panels;
	char ids[NOBJ][64], *line = NULL;
	size_t n = 0, cap = 0, i, vis = 0;
	struct sink s;
	struct batch b;
	FILE *f;

	sink_plain(&s, "");		/* the mapping, as installed */
	batch_make(&b, 1);
	deliver(&s, &b);
	all = dbl("/_double/docs", NULL);
	m = held(held(all, "templates"), "composable");
	m = held(held(held(m, "distcron"), "template"), "mappings");
	assert_non_null(f = fopen(KIBANA, "r"));
	while (getline(&line, &cap, f) > 0 && n < NOBJ) {
		assert_non_null(objs[n] = json_tokener_parse(line));
		snprintf(ids[n], sizeof(ids[n]), "%s", str_at(objs[n], "id"));
		n++;
	}
	free(line);
	fclose(f);
	assert_true(n >= 6);
	for (i = 0; i < n; i++) {
		assert_refs(objs[i], ids, n);
		attrs = held(objs[i], "attributes");
		if (strcmp(str_at(objs[i], "type"), "index-pattern") == 0) {
			assert_string_equal(str_at(attrs, "title"), "distcron-*");
			assert_string_equal(str_at(attrs, "timeFieldName"),
			    "scheduled_at");
		} else if (strcmp(str_at(objs[i], "type"), "visualization") ==
		    0) {
			assert_vis_fields(attrs, m);
			vis++;
		} else if (strcmp(str_at(objs[i], "type"), "dashboard") == 0) {
			panels = inner_json(attrs, "panelsJSON");
			assert_int_equal(json_object_array_length(panels), 4);
			json_object_put(panels);
		}
	}
	assert_int_equal(vis, 4);
	for (i = 0; i < n; i++)
		json_object_put(objs[i]);
	json_object_put(all);
	batch_free(&b);
	sink_free(&s);
}

/* ---- configuration ---- */

static void
assert_config_error(const char *text, const char *want, const char *secret)
{
	struct es_config c;
	json_object *o = json_tokener_parse(text);
	char err[512];

	assert_non_null(o);
	assert_int_not_equal(es_config_from_json(o, &c, err, sizeof(err)), 0);
	json_object_put(o);
	if (strstr(err, want) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", text, err, want);
	if (secret != NULL)
		assert_null(strstr(err, secret));
}

static void
test_config_errors(void **state)
{
	assert_config_error("{}", "elasticsearch.url: missing", NULL);
	assert_config_error("{\"url\": \"ftp://h\"}",
	    "elasticsearch.url: must start with http:// or https://", NULL);
	assert_config_error("{\"url\": [\"http://a\", \"http:// b\"]}",
	    "elasticsearch.url[1]: contains a space", NULL);
	assert_config_error("{\"url\": []}", "elasticsearch.url", NULL);
	assert_config_error("{\"url\": \"http://a/?token=s3\"}",
	    "elasticsearch.url: has a query", "s3");
	assert_config_error("{\"url\": \"http://a\", \"index\": "
	    "\"Distcron-%Y\"}", "elasticsearch.index: \"Distcron-%Y\": index "
	    "name must be lowercase", NULL);
	assert_config_error("{\"url\": \"http://a\", \"index\": \"%Y-runs\"}",
	    "elasticsearch.index: \"%Y-runs\" must start with a fixed prefix",
	    NULL);
	assert_config_error("{\"url\": \"http://a\", \"index\": \"a/b\"}",
	    "elasticsearch.index: \"a/b\": index name cannot contain", NULL);
	assert_config_error("{\"url\": \"http://a\", \"batch_docs\": 0}",
	    "elasticsearch.batch_docs", NULL);
	assert_config_error("{\"url\": \"http://a\", \"batch_bytes\": \"1x\"}",
	    "elasticsearch.batch_bytes", NULL);
	assert_config_error("{\"url\": \"http://a\", \"flush_interval\": "
	    "\"soon\"}", "elasticsearch.flush_interval", NULL);
	assert_config_error("{\"url\": \"http://a\", \"tls_verify\": \"no\"}",
	    "elasticsearch.tls_verify", NULL);
	assert_config_error("{\"url\": \"http://a\", \"pasword\": \"hunter2\"}",
	    "elasticsearch.pasword: unknown field", "hunter2");
	assert_config_error("{\"url\": \"http://a\", \"password\": "
	    "\"hunter2\"}", "username and password go together", "hunter2");
	assert_config_error("{\"url\": \"http://a\", \"username\": \"u\", "
	    "\"password\": \"hunter2\", \"api_key\": \"k3y\"}",
	    "elasticsearch.api_key: set either", "k3y");
	assert_config_error("{\"url\": \"http://a\", \"ca_file\": \"rel.pem\"}",
	    "elasticsearch.ca_file", NULL);
}

static void
test_config_defaults_and_legacy(void **state)
{
	struct es_config c;
	json_object *o = json_tokener_parse("{\"url\": \"http://a:9200\"}");
	char err[256];

	assert_int_equal(es_config_from_json(o, &c, err, sizeof(err)), 0);
	json_object_put(o);
	assert_string_equal(c.index, "distcron-%Y.%m.%d");
	assert_int_equal(c.batch_docs, 1000);
	assert_int_equal(c.batch_bytes, 5 * 1024 * 1024);
	assert_int_equal(c.flush_interval_ms, 1000);
	assert_true(c.tls_verify);
	assert_true(c.compress);
	es_config_free(&c);
	assert_int_equal(es_config_from_legacy("db1", 9201, &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.urls[0], "http://db1:9201");
	assert_null(c.urls[1]);
	es_config_free(&c);
	assert_int_equal(es_config_from_legacy("::1", 9200, &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.urls[0], "http://[::1]:9200");
	es_config_free(&c);
	assert_int_not_equal(es_config_from_legacy("", 9200, &c, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "es_host"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_indexed_once, reset),
		cmocka_unit_test_setup(test_lost_response_no_duplicate, reset),
		cmocka_unit_test_setup(test_item_failures, reset),
		cmocka_unit_test_setup(test_whole_request_status, reset),
		cmocka_unit_test_setup(test_stall_timeout, reset),
		cmocka_unit_test_setup(test_failover, reset),
		cmocka_unit_test_setup(test_tls_ca, reset),
		cmocka_unit_test_setup(test_refused_then_back, reset),
		cmocka_unit_test_setup(test_template_legacy, reset),
		cmocka_unit_test_setup(test_template_reinstalled, reset),
		cmocka_unit_test_setup(test_auth, reset),
		cmocka_unit_test_setup(test_gzip_refused, reset),
		cmocka_unit_test_setup(test_gzip_off, reset),
		cmocka_unit_test_setup(test_big_and_binary_output, reset),
		cmocka_unit_test_setup(test_index_from_pattern_only, reset),
		cmocka_unit_test_setup(test_bad_document_parked, reset),
		cmocka_unit_test_setup(test_batches, reset),
		cmocka_unit_test_setup(test_prepared, reset),
		cmocka_unit_test(test_json_plain),
		cmocka_unit_test(test_fast_path_same_lines),
		cmocka_unit_test(test_bulk_all_ok),
		cmocka_unit_test_setup(test_kibana_objects, reset),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_defaults_and_legacy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
