/* test_etcd.c - the etcd client's words, without a server: endpoint lists
 * refused with the entry named, request bodies as the gateway reads them
 * (base64 keys and values, prefix ends, int64 as strings), answers read
 * with absent fields as zero and a malformed one named by its path, watch
 * messages, and etcd's errors sorted into what the client does next. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/b64.h"
#include "distcron/err.h"
#include "distcron/etcd.h"
#include "distcron/jfield.h"
#include "distcron/loop.h"
#include "cluster/etcd_int.h"

#define HDR	"\"header\":{\"cluster_id\":\"1\",\"revision\":\"7\"}"

static void
test_endpoints_good(void **state)
{
	char **urls = NULL, err[256];
	size_t n = 0;

	(void)state;
	assert_int_equal(etcd_endpoints_parse("http://127.0.0.1:2379,"
	    "https://etcd.example:1/,http://[::1]:65535", &urls, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(urls[0], "http://127.0.0.1:2379");
	assert_string_equal(urls[1], "https://etcd.example:1");
	assert_string_equal(urls[2], "http://[::1]:65535");
	assert_null(urls[3]);
	jfield_strv_free(urls);
}

static void
test_endpoints_bad(void **state)
{
	static const char *const cases[][2] = {
		{ "ftp://h:1", "etcd endpoint 1 \"ftp://h:1\": the scheme "
		  "must be http or https" },
		{ "http://a:1,http://h", "etcd endpoint 2 \"http://h\": no "
		  "port" },
		{ "http://h:0", "etcd endpoint 1 \"http://h:0\": the port must "
		  "be 1-65535" },
		{ "http://h:65536", "etcd endpoint 1 \"http://h:65536\": the "
		  "port must be 1-65535" },
		{ "http://:1", "etcd endpoint 1 \"http://:1\": no host" },
		{ "http://u:pw@h:1", "etcd endpoint 1 \"http://***:***@h:1\": "
		  "credentials are not allowed in the URL (use "
		  "cluster.username and cluster.password)" },
		{ "http://h:1/v3", "etcd endpoint 1 \"http://h:1/v3\": "
		  "expected only scheme://host:port" },
		{ "http://a:1,,http://b:2", "etcd endpoint 2: empty" },
		{ "http://", "etcd endpoint 1 \"http://\": no host" },
		{ "", "etcd endpoints: none given" },
	};
	char **urls = NULL, err[256];
	struct buf many;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(etcd_endpoints_parse(cases[i][0], &urls, &n,
		    err, sizeof(err)), ERR_CONFIG);
		assert_string_equal(err, cases[i][1]);
	}
	buf_init(&many, 1024);
	for (i = 0; i < 17; i++)
		assert_int_equal(buf_puts(&many, i > 0 ? ",http://h:1" :
		    "http://h:1"), 0);
	assert_int_equal(etcd_endpoints_parse(buf_str(&many), &urls, &n, err,
	    sizeof(err)), ERR_CONFIG);
	buf_free(&many);
	assert_string_equal(err, "etcd endpoint 17 \"http://h:1\": too many "
	    "endpoints (at most 16)");
}

/* etcd_new() checks the list and the pairs of options before any request. */
static void
test_new_config(void **state)
{
	struct etcd_opts o = { .endpoints = "http://127.0.0.1:2379" };
	struct etcd *e = NULL;
	struct loop *l;
	char err[256];

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	o.cert_file = "/c.pem";
	assert_int_equal(etcd_new(l, &o, &e, err, sizeof(err)), ERR_CONFIG);
	assert_string_equal(err, "etcd: a client certificate needs both "
	    "cert_file and key_file");
	o.cert_file = NULL;
	o.username = "u";
	assert_int_equal(etcd_new(l, &o, &e, err, sizeof(err)), ERR_CONFIG);
	assert_string_equal(err, "etcd: authentication needs both a username "
	    "and a password");
	o.password = "S3cret";
	o.endpoints = "http://a:1,http://b:2";
	assert_int_equal(etcd_new(l, &o, &e, err, sizeof(err)), 0);
	assert_int_equal(etcd_nendpoints(e), 2);
	assert_string_equal(etcd_endpoint(e, 1), "http://b:2");
	assert_int_equal(etcd_current(e), 0);
	etcd_free(e);
	etcd_free(NULL);
	loop_free(l);
}

static void
assert_body(const char *want, int (*fn)(const void *, struct buf *),
    const void *what)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(fn(what, &b), 0);
	assert_string_equal(buf_str(&b), want);
	buf_free(&b);
}

static int
body_op(const void *p, struct buf *b)
{
	return etcd_body_op(p, b);
}

static int
body_txn(const void *p, struct buf *b)
{
	return etcd_body_txn(p, b);
}

static int
body_watch(const void *p, struct buf *b)
{
	return etcd_body_watch(p, b);
}

static void
test_body_op(void **state)
{
	struct etcd_op range = {
		.type = ETCD_OP_RANGE, .key = "a/", .prefix = true,
		.limit = 5, .keys_only = true,
	};
	struct etcd_op put = {
		.type = ETCD_OP_PUT, .key = "k", .value = "\0\xff",
		.value_len = 2, .lease = 7587882245155532000,
	};
	struct etcd_op del = { .type = ETCD_OP_DELETE, .key = "\xff\xff",
		.prefix = true };
	struct etcd_op tail = { .type = ETCD_OP_RANGE, .key = "a\xff",
		.prefix = true, .count_only = true };
	struct etcd_op empty = { .type = ETCD_OP_RANGE, .key = "" };
	struct buf b;

	(void)state;
	assert_body("{\"key\":\"YS8=\",\"range_end\":\"YTA=\",\"limit\":\"5\","
	    "\"keys_only\":true}", body_op, &range);
	assert_body("{\"key\":\"aw==\",\"value\":\"AP8=\","
	    "\"lease\":\"7587882245155532000\"}", body_op, &put);
	/* every key from \xff\xff on: the end is "\0" */
	assert_body("{\"key\":\"//8=\",\"range_end\":\"AA==\"}", body_op, &del);
	/* "a\xff": the end drops the 0xff and raises the 'a' */
	assert_body("{\"key\":\"Yf8=\",\"range_end\":\"Yg==\","
	    "\"count_only\":true}", body_op, &tail);
	buf_init(&b, 64);
	assert_int_equal(etcd_body_op(&empty, &b), ERR_INVALID);
	buf_free(&b);
}

static void
test_body_txn(void **state)
{
	struct etcd_cmp cmps[] = {
		{ .key = "lock", .target = ETCD_CMP_CREATE,
		  .result = ETCD_EQUAL, .number = 0 },
		{ .key = "k", .target = ETCD_CMP_VALUE,
		  .result = ETCD_NOT_EQUAL, .value = "v", .value_len = 1 },
		{ .key = "k", .target = ETCD_CMP_LEASE, .result = ETCD_GREATER,
		  .number = 12 },
	};
	struct etcd_op ok[] = {
		{ .type = ETCD_OP_PUT, .key = "lock", .value = "x",
		  .value_len = 1, .lease = 9 },
		{ .type = ETCD_OP_DELETE, .key = "k" },
	};
	struct etcd_op fail[] = { { .type = ETCD_OP_RANGE, .key = "lock" } };
	struct etcd_txn t = { cmps, 3, ok, 2, fail, 1 };
	struct etcd_txn none = { NULL, 0, NULL, 0, NULL, 0 };

	(void)state;
	assert_body("{\"compare\":["
	    "{\"target\":\"CREATE\",\"result\":\"EQUAL\",\"key\":\"bG9jaw==\","
	    "\"create_revision\":\"0\"},"
	    "{\"target\":\"VALUE\",\"result\":\"NOT_EQUAL\",\"key\":\"aw==\","
	    "\"value\":\"dg==\"},"
	    "{\"target\":\"LEASE\",\"result\":\"GREATER\",\"key\":\"aw==\","
	    "\"lease\":\"12\"}],"
	    "\"success\":[{\"request_put\":{\"key\":\"bG9jaw==\","
	    "\"value\":\"eA==\",\"lease\":\"9\"}},"
	    "{\"request_delete_range\":{\"key\":\"aw==\"}}],"
	    "\"failure\":[{\"request_range\":{\"key\":\"bG9jaw==\"}}]}",
	    body_txn, &t);
	assert_body("{\"compare\":[],\"success\":[],\"failure\":[]}",
	    body_txn, &none);
}

static void
test_body_watch_auth(void **state)
{
	struct etcd_watch_opts w = { .key = "w/", .prefix = true,
		.start_revision = 42 };
	struct buf b;

	(void)state;
	assert_body("{\"create_request\":{\"key\":\"dy8=\","
	    "\"range_end\":\"dzA=\",\"start_revision\":\"42\"}}", body_watch,
	    &w);
	buf_init(&b, 256);
	assert_int_equal(etcd_body_auth("al\"ice", "p\\w", &b), 0);
	assert_string_equal(buf_str(&b),
	    "{\"name\":\"al\\\"ice\",\"password\":\"p\\\\w\"}");
	buf_free(&b);
}

static void
test_parse_range(void **state)
{
	const char *text = "{" HDR ",\"kvs\":[{\"key\":\"YS8x\","
	    "\"create_revision\":\"3\",\"mod_revision\":\"5\","
	    "\"version\":\"2\",\"value\":\"AP8A\",\"lease\":\"99\"},"
	    "{\"key\":\"YS8y\",\"create_revision\":4,\"mod_revision\":4,"
	    "\"version\":1}],\"more\":true,\"count\":\"3\"}\n";
	struct etcd_result r;

	(void)state;
	assert_int_equal(etcd_parse(ETCD_K_RANGE, text, strlen(text), &r), 0);
	assert_int_equal(r.revision, 7);
	assert_int_equal(r.op.revision, 7);
	assert_int_equal(r.op.nkvs, 2);
	assert_string_equal(r.op.kvs[0].key, "a/1");
	assert_int_equal(r.op.kvs[0].value_len, 3);
	assert_memory_equal(r.op.kvs[0].value, "\0\xff\0", 3);
	assert_int_equal(r.op.kvs[0].create_revision, 3);
	assert_int_equal(r.op.kvs[0].mod_revision, 5);
	assert_int_equal(r.op.kvs[0].version, 2);
	assert_int_equal(r.op.kvs[0].lease, 99);
	/* an empty value is left out by the gateway */
	assert_string_equal(r.op.kvs[1].value, "");
	assert_int_equal(r.op.kvs[1].value_len, 0);
	assert_int_equal(r.op.kvs[1].lease, 0);
	assert_int_equal(r.op.count, 3);
	assert_true(r.op.more);
	etcd_result_clear(&r);

	text = "{" HDR "}";
	assert_int_equal(etcd_parse(ETCD_K_RANGE, text, strlen(text), &r), 0);
	assert_int_equal(r.op.nkvs, 0);
	assert_int_equal(r.op.count, 0);
	etcd_result_clear(&r);
	text = "{" HDR ",\"deleted\":\"2\"}";
	assert_int_equal(etcd_parse(ETCD_K_DELETE, text, strlen(text), &r), 0);
	assert_int_equal(r.op.count, 2);
	etcd_result_clear(&r);
}

static void
test_parse_txn(void **state)
{
	/* etcd 3.4's answers to a create-if-absent txn, lost then won */
	const char *lost = "{" HDR ",\"responses\":[{\"response_range\":"
	    "{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"Zm9v\","
	    "\"create_revision\":\"2\",\"mod_revision\":\"2\","
	    "\"version\":\"1\",\"value\":\"YmFy\"}],\"count\":\"1\"}}]}";
	const char *won = "{" HDR ",\"succeeded\":true,\"responses\":["
	    "{\"response_put\":{\"header\":{\"revision\":\"8\"}}},"
	    "{\"response_delete_range\":{\"header\":{\"revision\":\"8\"},"
	    "\"deleted\":\"1\"}}]}";
	struct etcd_result r;

	(void)state;
	assert_int_equal(etcd_parse(ETCD_K_TXN, lost, strlen(lost), &r), 0);
	assert_false(r.succeeded);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, ETCD_OP_RANGE);
	assert_int_equal(r.ops[0].nkvs, 1);
	assert_string_equal(r.ops[0].kvs[0].value, "bar");
	etcd_result_clear(&r);
	assert_int_equal(etcd_parse(ETCD_K_TXN, won, strlen(won), &r), 0);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 2);
	assert_int_equal(r.ops[0].type, ETCD_OP_PUT);
	assert_int_equal(r.ops[0].revision, 8);
	assert_int_equal(r.ops[1].type, ETCD_OP_DELETE);
	assert_int_equal(r.ops[1].count, 1);
	etcd_result_clear(&r);
}

static void
test_parse_lease(void **state)
{
	const char *grant = "{" HDR ",\"ID\":\"7587882245155532000\","
	    "\"TTL\":\"5\"}";
	const char *alive = "{\"result\":{" HDR ",\"ID\":\"12\",\"TTL\":\"3\"}}";
	const char *gone = "{\"result\":{" HDR ",\"ID\":\"12\"}}";
	struct etcd_result r;

	(void)state;
	assert_int_equal(etcd_parse(ETCD_K_GRANT, grant, strlen(grant), &r),
	    0);
	assert_int_equal(r.lease, 7587882245155532000);
	assert_int_equal(r.ttl, 5);
	assert_int_equal(etcd_parse(ETCD_K_KEEPALIVE, alive, strlen(alive),
	    &r), 0);
	assert_int_equal(r.ttl, 3);
	assert_int_equal(etcd_parse(ETCD_K_KEEPALIVE, gone, strlen(gone), &r),
	    ERR_NOTFOUND);
	assert_string_equal(r.msg, "lease 12 not found (expired or revoked)");
}

static void
test_parse_malformed(void **state)
{
	static const char *const cases[][2] = {
		{ "{\"header\":{\"revision\":\"12x\"}}",
		  "header.revision: not an integer: \"12x\"" },
		{ "{\"header\":[]}", "header: expected an object, got array" },
		{ "{\"kvs\":{}}", "kvs: expected an array, got object" },
		{ "{\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"!!\"}]}",
		  "kvs[1].key: not base64" },
		{ "{\"kvs\":[{\"key\":\"YQ==\",\"value\":7}]}",
		  "kvs[0].value: expected a string, got integer" },
		{ "{\"kvs\":[{\"value\":\"YQ==\"}]}",
		  "kvs[0]: a key-value without a key" },
		{ "{\"kvs\":[3]}", "kvs[0]: expected an object, got integer" },
		{ "{\"more\":\"yes\"}", "more: expected a boolean, got string" },
		{ "{} x", "answer: not a JSON object" },
		{ "[]", "answer: not a JSON object" },
		{ "", "answer: not a JSON object" },
	};
	const char *txn = "{\"responses\":[{\"response_put\":{}},{}]}";
	struct etcd_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(etcd_parse(ETCD_K_RANGE, cases[i][0],
		    strlen(cases[i][0]), &r), ERR_PROTOCOL);
		assert_string_equal(r.msg, cases[i][1]);
		etcd_result_clear(&r);
	}
	assert_int_equal(etcd_parse(ETCD_K_TXN, txn, strlen(txn), &r),
	    ERR_PROTOCOL);
	assert_string_equal(r.msg, "responses[1]: no response_range, "
	    "response_put or response_delete_range");
	etcd_result_clear(&r);
	assert_int_equal(etcd_parse(ETCD_K_GRANT, "{}", 2, &r), ERR_PROTOCOL);
	assert_string_equal(r.msg, "ID: missing");
}

static void
test_parse_token(void **state)
{
	const char *ok = "{" HDR ",\"token\":\"FAqqaESOqhDPLMGC.18\"}";
	char *token = NULL, msg[128];

	(void)state;
	assert_int_equal(etcd_parse_token(ok, strlen(ok), &token, msg,
	    sizeof(msg)), 0);
	assert_string_equal(token, "FAqqaESOqhDPLMGC.18");
	free(token);
	assert_int_equal(etcd_parse_token("{}", 2, &token, msg, sizeof(msg)),
	    ERR_PROTOCOL);
	assert_string_equal(msg, "token: missing");
}

static void
test_parse_watch(void **state)
{
	const char *created = "{\"result\":{" HDR ",\"created\":true}}";
	const char *events = "{\"result\":{" HDR ",\"events\":[{\"kv\":"
	    "{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"2\","
	    "\"version\":\"1\",\"value\":\"YmFy\"}},{\"type\":\"DELETE\","
	    "\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"3\"}}]}}";
	const char *progress = "{\"result\":{" HDR "}}";
	const char *compacted = "{\"result\":{\"header\":{},\"canceled\":true,"
	    "\"compact_revision\":\"3\"}}";
	const char *stream_err = "{\"error\":{\"grpc_code\":14,"
	    "\"http_code\":503,\"message\":\"etcdserver: no leader\","
	    "\"http_status\":\"Service Unavailable\"}}";
	const char *bad_type = "{\"result\":{\"events\":[{\"type\":\"X\","
	    "\"kv\":{\"key\":\"YQ==\"}}]}}";
	struct etcd_watch_msg m;

	(void)state;
	assert_int_equal(etcd_parse_watch(created, strlen(created), &m), 0);
	assert_true(m.created);
	assert_false(m.progress);
	assert_int_equal(m.revision, 7);
	assert_int_equal(etcd_parse_watch(events, strlen(events), &m), 0);
	assert_int_equal(m.nevents, 2);
	assert_int_equal(m.events[0].type, ETCD_EV_PUT);
	assert_string_equal(m.events[0].kv.value, "bar");
	assert_int_equal(m.events[1].type, ETCD_EV_DELETE);
	assert_string_equal(m.events[1].kv.key, "foo");
	assert_int_equal(m.events[1].kv.mod_revision, 3);
	etcd_watch_msg_clear(&m);
	assert_int_equal(etcd_parse_watch(progress, strlen(progress), &m), 0);
	assert_true(m.progress);
	assert_int_equal(m.err, 0);
	assert_int_equal(etcd_parse_watch(compacted, strlen(compacted), &m),
	    0);
	assert_true(m.canceled);
	assert_int_equal(m.err, ERR_NOTFOUND);
	assert_string_equal(m.msg, "watch canceled: revision 3 was compacted "
	    "away");
	assert_int_equal(etcd_parse_watch(stream_err, strlen(stream_err), &m),
	    0);
	assert_int_equal(m.err, ERR_CONNECT);
	assert_string_equal(m.msg, "watch ended by etcd: etcdserver: no "
	    "leader");
	assert_int_equal(etcd_parse_watch(bad_type, strlen(bad_type), &m),
	    ERR_PROTOCOL);
	assert_string_equal(m.msg, "result.events[0].type: expected \"PUT\" "
	    "or \"DELETE\"");
	etcd_watch_msg_clear(&m);
}

static void
test_classify(void **state)
{
	static const struct {
		long status;
		const char *body;
		enum etcd_fail f;
		int err;
		const char *why;
	} cases[] = {
		{ 401, "{\"error\":\"etcdserver: invalid auth token\","
		  "\"code\":16}", ETCD_F_REAUTH, ERR_AUTH,
		  "etcdserver: invalid auth token" },
		{ 400, "{\"error\":\"etcdserver: authentication failed, "
		  "invalid user ID or password\",\"message\":\"etcdserver: "
		  "authentication failed, invalid user ID or password\","
		  "\"code\":3}", ETCD_F_FINAL, ERR_AUTH, "etcdserver: "
		  "authentication failed, invalid user ID or password" },
		{ 403, "{\"message\":\"etcdserver: permission denied\","
		  "\"code\":7}", ETCD_F_FINAL, ERR_AUTH,
		  "etcdserver: permission denied" },
		{ 429, "{\"message\":\"etcdserver: too many requests\","
		  "\"code\":8}", ETCD_F_FINAL, ERR_BUSY,
		  "etcdserver: too many requests" },
		{ 429, "slow down", ETCD_F_FINAL, ERR_BUSY,
		  "too many requests" },
		{ 404, "{\"error\":\"etcdserver: requested lease not found\","
		  "\"code\":5}", ETCD_F_FINAL, ERR_NOTFOUND,
		  "etcdserver: requested lease not found" },
		{ 503, "{\"error\":\"etcdserver: no leader\",\"code\":14}",
		  ETCD_F_NEXT, ERR_CONNECT, "etcdserver: no leader" },
		{ 503, "{\"error\":\"etcdserver: request timed out\","
		  "\"code\":14}", ETCD_F_UNSURE, ERR_CONNECT,
		  "etcdserver: request timed out" },
		{ 400, "{\"error\":\"etcdserver: too many operations in txn "
		  "request\",\"code\":3}", ETCD_F_FINAL, ERR_INVALID,
		  "etcdserver: too many operations in txn request" },
		{ 400, "CommonName of client sending a request against "
		  "gateway will be ignored and not used as expected\n",
		  ETCD_F_FINAL, ERR_PROTOCOL, "HTTP status 400: CommonName of "
		  "client sending a request against gateway will be ignored "
		  "and not used as expected" },
		{ 502, "", ETCD_F_NEXT, ERR_PROTOCOL,
		  "HTTP status 502 without an etcd error" },
		{ 500, "{\"error\":\"a\\u0001b\",\"code\":2}", ETCD_F_FINAL,
		  ERR_INVALID, "a?b" },
	};
	char why[ETCD_MSG_LEN];
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(etcd_classify(cases[i].status, cases[i].body,
		    strlen(cases[i].body), &err, why, sizeof(why)),
		    cases[i].f);
		assert_int_equal(err, cases[i].err);
		assert_string_equal(why, cases[i].why);
	}
}

static void
test_b64(void **state)
{
	unsigned char in[16], out[B64_DECODED_MAX(32)];
	struct buf b;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)(0xf0 + n);
	buf_init(&b, 64);
	for (n = 0; n <= sizeof(in); n++) {
		buf_reset(&b);
		assert_int_equal(b64_encode(in, n, true, &b), 0);
		assert_int_equal(b.len % 4, 0);
		assert_int_equal(b64_decode(b.data, b.len, out), (ssize_t)n);
		assert_memory_equal(out, in, n);
	}
	buf_free(&b);
	assert_int_equal(b64_decode("YQ=x", 4, out), -1);
	assert_int_equal(b64_decode("Y", 1, out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints_good),
		cmocka_unit_test(test_endpoints_bad),
		cmocka_unit_test(test_new_config),
		cmocka_unit_test(test_body_op),
		cmocka_unit_test(test_body_txn),
		cmocka_unit_test(test_body_watch_auth),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_txn),
		cmocka_unit_test(test_parse_lease),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_token),
		cmocka_unit_test(test_parse_watch),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_b64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
