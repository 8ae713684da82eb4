/*
 * test_api.c - the REST API server on a loopback port, driven by libcurl.
 *
 * Each test starts the server (port 0) with a fake backend - static
 * functions below that return canned JSON or error codes and record what
 * they were asked - over a temporary state directory whose store holds a
 * few runs written with the store module.  The tests check what a client
 * sees: auth (generated, configured and read-only tokens), routing, 404 /
 * 405, hostile names, body limits, error mapping, the run endpoints and
 * reports, metrics, concurrent clients, TLS with a certificate made by the
 * openssl command, and start-up failures.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "distcron/api.h"
#include "distcron/config.h"
#include "distcron/err.h"
#include "distcron/etag.h"
#include "distcron/runjson.h"
#include "distcron/store.h"
#include "distcron/tz.h"
#include "distcron/ui.h"

#define READ_TOKEN	"read-only-token-0123456789"
#define BODY_MAX	4096
#define NTHREADS	6
#define PER_THREAD	30
#define T0_MS		INT64_C(1767225600000)	/* 2026-01-01T00:00:00Z */
#define INVALID_MSG	"schedule.cron: day-of-month: 32 out of range 1-31"
#define ETCD_DOWN_MSG	"etcd: cannot reach etcd at http://127.0.0.1:2379: Connection refused (nothing stored)"
/* A job whose definition holds secrets in each place a job file can. */
#define SECRET_JOB	"{\"name\": \"secret\", \"definition\": {" \
	"\"http\": {\"url\": \"https://admin:S3cretPW@h:8443/p?api_key=Q&x=1\", " \
	"\"headers\": {\"Authorization\": \"Bearer HDRSECRET\"}}, " \
	"\"environment\": {\"DB_PASSWORD\": \"ENVSECRET\"}, " \
	"\"description\": \"kept\"}, \"state\": {\"paused\": false}}"
#define METRICS_TEXT	"# TYPE distcron_jobs gauge\ndistcron_jobs 3\n"

extern char **environ;

/* ---- the fake backend ---- */

struct fake {
	pthread_mutex_t lock;
	int calls;
	char name[300];
	char body[BODY_MAX + 1];
	bool paused;
	int64_t cancelled;
	int limit;		/* of the last GET /jobs */
};

static struct fake fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
fake_record(const char *name, const char *body, size_t len)
{
	pthread_mutex_lock(&fake.lock);
	fake.calls++;
	snprintf(fake.name, sizeof(fake.name), "%s", name ? name : "");
	snprintf(fake.body, sizeof(fake.body), "%.*s", (int)len,
	    body ? body : "");
	pthread_mutex_unlock(&fake.lock);
}

static int
fake_calls(void)
{
	int n;

	pthread_mutex_lock(&fake.lock);
	n = fake.calls;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

/* Names that make the fake fail. */
static int
fake_name_error(const char *name)
{
	if (strcmp(name, "missing") == 0)
		return ERR_NOTFOUND;
	if (strcmp(name, "busy") == 0)
		return ERR_BUSY;
	if (strcmp(name, "conflict") == 0)
		return ERR_EXISTS;
	if (strcmp(name, "boom") == 0)
		return ERR_STORE;
	return 0;
}

/* Cluster mode's answer while etcd is down (its reason in err). */
static int
fake_etcd_down(const char *name, char *err, size_t errlen)
{
	if (strcmp(name, "etcddown") != 0)
		return 0;
	snprintf(err, errlen, "%s", ETCD_DOWN_MSG);
	return ERR_CONNECT;
}

/* Records after as the name ("" for none) and limit. */
static int
fk_jobs(void *ctx, const char *after, int limit, char **json)
{
	bool paused;

	fake_record(after, NULL, 0);
	pthread_mutex_lock(&fake.lock);
	fake.limit = limit;
	paused = fake.paused;
	pthread_mutex_unlock(&fake.lock);
	*json = strdup(paused ? "{\"jobs\": [{\"name\": \"alpha\", "
	    "\"paused\": true}]}" : "{\"jobs\": [{\"name\": \"alpha\"}]}");
	return 0;
}

static int
fk_job(void *ctx, const char *name, char **json)
{
	int r;

	fake_record(name, NULL, 0);
	if ((r = fake_name_error(name)) != 0)
		return r;
	*json = strdup(strcmp(name, "secret") == 0 ? SECRET_JOB :
	    "{\"name\": \"alpha\", \"definition\": {}}");
	return 0;
}

static int
fk_put_job(void *ctx, const char *name, const char *body, size_t len,
    bool *created, char *err, size_t errlen)
{
	int r;

	fake_record(name, body, len);
	if ((r = fake_name_error(name)) != 0 ||
	    (r = fake_etcd_down(name, err, errlen)) != 0)
		return r;
	if (strstr(body, "\"32 * * * *\"") != NULL) {
		snprintf(err, errlen, "%s", INVALID_MSG);
		return ERR_INVALID;
	}
	*created = strcmp(name, "newjob") == 0;
	return 0;
}

static int
fk_delete_job(void *ctx, const char *name, char *err, size_t errlen)
{
	int r;

	fake_record(name, NULL, 0);
	if ((r = fake_etcd_down(name, err, errlen)) != 0)
		return r;
	return fake_name_error(name);
}

static int
fk_pause(void *ctx, const char *name, bool paused)
{
	fake_record(name, NULL, 0);
	pthread_mutex_lock(&fake.lock);
	fake.paused = paused;
	pthread_mutex_unlock(&fake.lock);
	return fake_name_error(name);
}

static int
fk_run_job(void *ctx, const char *name, int64_t *id)
{
	fake_record(name, NULL, 0);
	*id = 42;
	return fake_name_error(name);
}

static int
fk_run_task(void *ctx, const char *body, size_t len, int64_t *id, char *err,
    size_t errlen)
{
	fake_record(NULL, body, len);
	if (strstr(body, "\"command\"") == NULL) {
		snprintf(err, errlen, "command: missing (or \"http\")");
		return ERR_INVALID;
	}
	*id = 43;
	return 0;
}

static int
fk_cancel(void *ctx, int64_t id)
{
	fake_record(NULL, NULL, 0);
	pthread_mutex_lock(&fake.lock);
	fake.cancelled = id;
	pthread_mutex_unlock(&fake.lock);
	return id == 999 ? ERR_NOTFOUND : id == 1 ? ERR_EXISTS : 0;
}

/* Run 3 (alpha's running one) has n1's attempt 1 executing, and an item
 * the store does not know yet; the runner's state of it is ahead of the
 * store's (started 3 s later); other runs are not in flight. */
#define LIVE_JSON	"{\"run\": {\"status\": \"STARTED\", \"attempt\": 1, " \
	"\"started\": \"2026-01-01T00:02:03Z\", \"ended\": null, " \
	"\"reason\": null, \"items\": [{\"node\": \"n1\", " \
	"\"attempt\": 1, \"status\": \"STARTED\", " \
	"\"started\": \"2026-01-01T00:02:04Z\", \"output\": null}]}, " \
	"\"items\": [{\"node\": \"n1\", \"attempt\": 1, " \
	"\"output\": \"first line\\n\", \"stderr\": \"warn\\n\", " \
	"\"truncated\": false}, {\"node\": \"n9\", \"attempt\": 1, " \
	"\"output\": \"x\", \"stderr\": \"\", \"truncated\": false}]}"

static int
fk_run_live(void *ctx, int64_t id, char **json)
{
	fake_record(NULL, NULL, 0);
	if (id != 3)
		return ERR_NOTFOUND;
	*json = strdup(LIVE_JSON);
	return 0;
}

static int
fk_nodes(void *ctx, char **json)
{
	fake_record(NULL, NULL, 0);
	*json = strdup("{\"nodes\": []}");
	return 0;
}

static int
fk_node(void *ctx, const char *name, char **json)
{
	int r;

	fake_record(name, NULL, 0);
	if ((r = fake_name_error(name)) != 0)
		return r;
	*json = strdup("{\"name\": \"local\", \"status\": \"up\"}");
	return 0;
}

static int
fk_monitor(void *ctx, char **json)
{
	fake_record(NULL, NULL, 0);
	*json = strdup("{\"uptime_s\": 5}");
	return 0;
}

static int
fk_metrics(void *ctx, char **text)
{
	fake_record(NULL, NULL, 0);
	*text = strdup(METRICS_TEXT);
	return 0;
}

#define OUTBOX_JSON	"{\"parked\": [{\"id\": 7, \"run_id\": 3, \"job\": " \
	"\"alpha\", \"sink\": \"webhook\", \"event\": \"failure\", " \
	"\"attempts\": 2, \"why\": \"127.0.0.1:9: 400 Bad Request\"}]}"

static int
fk_outbox(void *ctx, char **json)
{
	fake_record(NULL, NULL, 0);
	*json = strdup(OUTBOX_JSON);
	return 0;
}

/* {"id": 8}: no such parked entry; {"id": "x"}: invalid. */
static int
fk_outbox_retry(void *ctx, const char *body, size_t len, char **json,
    char *err, size_t errlen)
{
	fake_record(NULL, body, len);
	if (strstr(body, "\"x\"") != NULL) {
		snprintf(err, errlen, "id: expected an integer, got string");
		return ERR_INVALID;
	}
	if (strstr(body, "8") != NULL) {
		snprintf(err, errlen, "parked outbox entry 8");
		return ERR_NOTFOUND;
	}
	*json = strdup("{\"requeued\": 2}");
	return 0;
}

static const struct api_backend fake_backend = {
	.ctx = &fake,
	.jobs = fk_jobs, .job = fk_job, .put_job = fk_put_job,
	.delete_job = fk_delete_job, .pause = fk_pause,
	.run_job = fk_run_job, .run_task = fk_run_task, .cancel = fk_cancel,
	.run_live = fk_run_live,
	.nodes = fk_nodes, .node = fk_node, .monitor = fk_monitor,
	.metrics = fk_metrics, .outbox = fk_outbox,
	.outbox_retry = fk_outbox_retry,
};

/* ---- fixture: state directory, store, server ---- */

struct fixture {
	char dir[64];
	struct config cfg;
	struct api *api;
	char base[64];		/* "http://127.0.0.1:PORT" */
	char token[300];
	int64_t ids[4];		/* alpha: success, failure, running; beta */
};

static char *
xstrdup(const char *s)
{
	char *p = s != NULL ? strdup(s) : NULL;

	assert_true(s == NULL || p != NULL);
	return p;
}

static struct store_run *
mkrun(const char *job, int64_t at, enum run_status status)
{
	struct store_run *run = calloc(1, sizeof(*run));

	assert_non_null(run);
	run->job = xstrdup(job);
	run->scheduled_at = at;
	run->trigger = xstrdup("schedule");
	run->status = RUN_PENDING;
	run->attempt = 1;
	run->created_ms = at * 1000;
	run->retention = 100;
	(void)status;
	return run;
}

static void
add_item(struct store_run *run, const char *node, int code, const char *out,
    int64_t dur_ms)
{
	struct store_item *it;

	run->items = realloc(run->items, (run->nitems + 1) * sizeof(*it));
	assert_non_null(run->items);
	it = &run->items[run->nitems++];
	memset(it, 0, sizeof(*it));
	it->node = xstrdup(node);
	it->attempt = 1;
	it->exit_code = code;
	it->status = code < 0 ? RUN_STARTED : code == 0 ? RUN_SUCCESS :
	    RUN_FAILURE;
	it->started_ms = run->scheduled_at * 1000 + 10;
	it->ended_ms = code < 0 ? 0 : it->started_ms + dur_ms;
	it->out = xstrdup(out);
}

/* Finishes run with status; started/ended span dur_ms. */
static void
finish(struct store_run *run, enum run_status status, int64_t dur_ms)
{
	run->status = status;
	run->started_ms = run->scheduled_at * 1000 + 10;
	run->ended_ms = store_status_final(status) ?
	    run->started_ms + dur_ms : 0;
}

/* alpha: a success (1.5 s), a failure on two nodes (run by cluster
 * member host-a:7 under fence 42), a running run; beta: one success. */
static void
store_fill(struct fixture *f)
{
	struct store_run *runs[4];
	struct store *st = NULL;
	const char *errstr = NULL;
	char path[128];
	int64_t t = T0_MS / 1000;
	size_t i;

	snprintf(path, sizeof(path), "%s/distcron.db", f->dir);
	if (store_open(path, false, &st, &errstr) != 0)
		fail_msg("store_open: %s", errstr);
	runs[0] = mkrun("alpha", t, RUN_SUCCESS);
	runs[1] = mkrun("alpha", t + 60, RUN_FAILURE);
	runs[2] = mkrun("alpha", t + 120, RUN_STARTED);
	runs[3] = mkrun("beta", t + 180, RUN_SUCCESS);
	runs[1]->member = xstrdup("host-a:7");
	runs[1]->fence = 42;
	assert_int_equal(store_runs_create(st, runs, 4), 0);
	add_item(runs[0], "n1", 0, "hello\n", 1500);
	finish(runs[0], RUN_SUCCESS, 1500);
	add_item(runs[1], "n1", 0, "ok\n", 100);
	add_item(runs[1], "n2", 3, "broken\n", 123000);
	finish(runs[1], RUN_FAILURE, 123000);
	add_item(runs[2], "n1", -1, "", 0);
	finish(runs[2], RUN_STARTED, 0);
	add_item(runs[3], "n1", 0, "beta\n", 5);
	finish(runs[3], RUN_SUCCESS, 5);
	assert_int_equal(store_runs_save(st, runs, 4), 0);
	for (i = 0; i < 4; i++) {
		f->ids[i] = runs[i]->id;
		store_run_free(runs[i]);
	}
	store_close(st);
}

static void
cfg_defaults(struct fixture *f)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.state_dir = f->dir;
	f->cfg.listen = "127.0.0.1:0";
	f->cfg.timezone = "UTC";
	f->cfg.api_token = "";
	f->cfg.api_read_token = READ_TOKEN;
	f->cfg.tls_cert = "";
	f->cfg.tls_key = "";
	f->cfg.api_body_max = BODY_MAX;
	f->cfg.api_threads = 2;
	f->cfg.api_conn_per_ip = 64;
}

/* Reads STATE_DIR/api.token into f->token ("" when absent). */
static void
token_load(struct fixture *f)
{
	char path[128];
	FILE *fp;

	f->token[0] = '\0';
	snprintf(path, sizeof(path), "%s/api.token", f->dir);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	if (fgets(f->token, sizeof(f->token), fp) == NULL)
		f->token[0] = '\0';
	f->token[strcspn(f->token, "\n")] = '\0';
	fclose(fp);
}

static void
server_start(struct fixture *f, const char *scheme)
{
	char err[256];

	if (api_new(&f->cfg, &fake_backend, &f->api, err, sizeof(err)) != 0)
		fail_msg("api_new: %s", err);
	snprintf(f->base, sizeof(f->base), "%s://127.0.0.1:%d", scheme,
	    api_port(f->api));
	if (f->cfg.api_token[0] != '\0')
		snprintf(f->token, sizeof(f->token), "%s", f->cfg.api_token);
	else
		token_load(f);
}

static void
server_stop(struct fixture *f)
{
	api_free(f->api);
	f->api = NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_api.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	store_fill(f);
	cfg_defaults(f);
	server_start(f, "http");
	pthread_mutex_lock(&fake.lock);
	fake.calls = 0;
	fake.paused = false;
	pthread_mutex_unlock(&fake.lock);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	char p[512];
	DIR *d;

	server_stop(f);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- the client ---- */

struct resp {
	long status;
	char body[65536];
	size_t len;
	char headers[4096];
	size_t hlen;
	CURLcode cc;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (len > sizeof(r->body) - 1 - r->len)
		return 0;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t
on_discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (len < sizeof(r->headers) - 1 - r->hlen) {
		memcpy(r->headers + r->hlen, p, len);
		r->hlen += len;
		r->headers[r->hlen] = '\0';
	}
	return len;
}

struct reqopt {
	const char *body;
	size_t len;
	bool chunked;
	const char *header;	/* one more request header line, or NULL */
};

/* One request; token NULL sends no Authorization header.  Returns the
 * curl code (r->status is 0 when no response came). */
static CURLcode
http_ext(const char *base, const char *method, const char *path,
    const char *token, const struct reqopt *o, struct resp *r)
{
	struct curl_slist *hdrs = NULL;
	char url[2048], auth[400];
	CURL *c = curl_easy_init();

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (o != NULL && o->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)o->len);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, "Expect:");
		if (o->chunked)
			hdrs = curl_slist_append(hdrs,
			    "Transfer-Encoding: chunked");
	}
	if (o != NULL && o->header != NULL)
		hdrs = curl_slist_append(hdrs, o->header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	r->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r->cc;
}

static long
http(const struct fixture *f, const char *method, const char *path,
    const char *token, const char *body, struct resp *r)
{
	struct reqopt o = { body, body != NULL ? strlen(body) : 0, false,
	    NULL };
	CURLcode cc = http_ext(f->base, method, path, token, &o, r);

	if (cc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(cc));
	return r->status;
}

/* The response body parsed as JSON (fails the test if it is not). */
static json_object *
body_json(const struct resp *r)
{
	json_object *o = json_tokener_parse(r->body);

	if (o == NULL)
		fail_msg("not JSON: %s", r->body);
	return o;
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Follows a path like "items.0.output" (numbers index arrays). */
static json_object *
jget(json_object *o, const char *path)
{
	char buf[128], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); o != NULL && k != NULL;
	    k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o,
			    (size_t)strtoul(k, NULL, 10));
		else if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	}
	return o;
}

/* Asserts status and, when field is not NULL, the error's "field". */
static void
expect_error(const struct resp *r, long status, const char *field)
{
	json_object *o;

	if (r->status != status)
		fail_msg("expected %ld, got %ld: %s", status, r->status,
		    r->body);
	o = body_json(r);
	assert_non_null(jstr(o, "error"));
	if (field != NULL && (jstr(o, "field") == NULL ||
	    strcmp(jstr(o, "field"), field) != 0))
		fail_msg("expected field %s: %s", field, r->body);
	json_object_put(o);
}

static bool
has_header(const struct resp *r, const char *line)
{
	return strcasestr(r->headers, line) != NULL;
}

/* A GET or HEAD with If-None-Match: inm (NULL: none). */
static long
http_inm(const struct fixture *f, const char *method, const char *path,
    const char *token, const char *inm, struct resp *r)
{
	char line[256];
	struct reqopt o = { NULL, 0, false, NULL };

	if (inm != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %s", inm);
		o.header = line;
	}
	if (http_ext(f->base, method, path, token, &o, r) != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(r->cc));
	return r->status;
}

/* The answer's ETag header value into tag ("" when there is none). */
static void
etag_get(const struct resp *r, char *tag, size_t n)
{
	const char *h = strcasestr(r->headers, "\nETag: ");

	tag[0] = '\0';
	if (h != NULL)
		snprintf(tag, n, "%.*s", (int)strcspn(h + 7, "\r\n"), h + 7);
}

/* ---- tests ---- */

static void
test_health_without_token(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	json_object *o;

	assert_int_equal(http(f, "GET", "/health", NULL, NULL, &r), 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "status"), "ok");
	json_object_put(o);
	assert_true(has_header(&r, "Content-Type: application/json"));
	assert_int_equal(http(f, "HEAD", "/health", NULL, NULL, &r), 200);
}

static const char *const endpoints[][2] = {
	{ "GET", "/" }, { "GET", "/jobs" }, { "GET", "/jobs/alpha" },
	{ "GET", "/jobs/alpha/reports" }, { "PUT", "/jobs/alpha" },
	{ "DELETE", "/jobs/alpha" }, { "POST", "/jobs/alpha/pause" },
	{ "POST", "/jobs/alpha/resume" }, { "POST", "/jobs/alpha/run" },
	{ "GET", "/runs" }, { "GET", "/runs/1" }, { "DELETE", "/runs/1" },
	{ "POST", "/tasks" }, { "GET", "/nodes" }, { "GET", "/nodes/local" },
	{ "GET", "/monitor" }, { "GET", "/metrics" }, { "POST", "/health" },
	{ "GET", "/outbox" }, { "POST", "/outbox/retry" },
	{ "GET", "/nope" }, { "GET", "/jobs/.." },
};
#define NENDPOINTS	(sizeof(endpoints) / sizeof(endpoints[0]))

static void
test_auth_required(void **state)
{
	struct fixture *f = *state;
	char longer[320], shorter[300];
	const char *bad[] = { NULL, "wrong", "", longer, shorter };
	struct resp r;
	size_t i, k;

	snprintf(longer, sizeof(longer), "%sx", f->token);
	snprintf(shorter, sizeof(shorter), "%.*s", (int)strlen(f->token) - 1,
	    f->token);
	assert_int_equal(strlen(f->token), 64);
	for (i = 0; i < NENDPOINTS; i++) {
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			http(f, endpoints[i][0], endpoints[i][1], bad[k], "{}",
			    &r);
			if (r.status != 401)
				fail_msg("%s %s with token %zu: %ld",
				    endpoints[i][0], endpoints[i][1], k,
				    r.status);
			expect_error(&r, 401, NULL);
			assert_true(has_header(&r, "WWW-Authenticate: Bearer"));
		}
	}
	assert_int_equal(fake_calls(), 0);
}

/* Error answers to requests without a body keep the connection open. */
static void
test_errors_keep_alive(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "/jobs", "/nope", "/jobs/..",
	    "/runs?limit=0", "/health" };
	char url[256], auth[400];
	struct curl_slist *hdrs = NULL;
	CURL *c = curl_easy_init();
	long status, connects;
	size_t i;

	assert_non_null(c);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->token);
	hdrs = curl_slist_append(hdrs, auth);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(url, sizeof(url), "%s%s", f->base, paths[i]);
		curl_easy_setopt(c, CURLOPT_URL, url);
		/* The first request goes without a token: 401. */
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, i > 0 ? hdrs : NULL);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		assert_int_equal(status, i == 0 ? 401 : i == 1 ? 404 :
		    i < 4 ? 400 : 200);
		assert_int_equal(connects, i == 0 ? 1 : 0);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static void
test_generated_token(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	struct api *a = NULL;
	struct stat sb;
	struct resp r;
	size_t i;

	snprintf(path, sizeof(path), "%s/api.token", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(strlen(f->token), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", f->token[i]));
	assert_int_equal(http(f, "GET", "/jobs", f->token, NULL, &r), 200);
	/* A restart reads the same file. */
	server_stop(f);
	server_start(f, "http");
	assert_int_equal(http(f, "GET", "/jobs", f->token, NULL, &r), 200);
	assert_int_equal(strlen(f->token), 64);
	/* A token file others may read is refused, naming it and its mode. */
	server_stop(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	assert_null(a);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "mode 0644 is readable by group or "
	    "others"));
	assert_int_equal(chmod(path, 0600), 0);
	server_start(f, "http");
}

static void
test_configured_token(void **state)
{
	struct fixture *f = *state;
	char generated[300];
	struct resp r;

	snprintf(generated, sizeof(generated), "%s", f->token);
	server_stop(f);
	f->cfg.api_token = "configured-token-abcdefghijkl";
	f->cfg.api_threads = 1;		/* no pool: one polling thread */
	server_start(f, "http");
	assert_int_equal(http(f, "GET", "/jobs", f->cfg.api_token, NULL, &r),
	    200);
	assert_int_equal(http(f, "GET", "/jobs", generated, NULL, &r), 401);
}

static void
test_read_only_token(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	assert_int_equal(http(f, "GET", "/jobs", READ_TOKEN, NULL, &r), 200);
	assert_int_equal(http(f, "HEAD", "/jobs", READ_TOKEN, NULL, &r), 200);
	assert_int_equal(http(f, "GET", "/runs", READ_TOKEN, NULL, &r), 200);
	http(f, "PUT", "/jobs/alpha", READ_TOKEN, "{}", &r);
	expect_error(&r, 403, NULL);
	http(f, "POST", "/jobs/alpha/run", READ_TOKEN, NULL, &r);
	expect_error(&r, 403, NULL);
	http(f, "DELETE", "/runs/5", READ_TOKEN, NULL, &r);
	expect_error(&r, 403, NULL);
	http(f, "POST", "/tasks", READ_TOKEN, "{}", &r);
	expect_error(&r, 403, NULL);
	assert_int_equal(fake_calls(), 2);	/* GET and HEAD /jobs */
}

/* A read-only token sees a job's secrets masked, the full token as
 * written. */
static void
test_read_only_masks_secrets(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	json_object *o;

	assert_int_equal(http(f, "GET", "/jobs/secret", READ_TOKEN, NULL, &r),
	    200);
	o = body_json(&r);
	assert_string_equal(json_object_get_string(jget(o,
	    "definition.http.url")), "https://***:***@h:8443/p?api_key=***&x=***");
	assert_string_equal(json_object_get_string(jget(o,
	    "definition.http.headers.Authorization")), "***");
	assert_string_equal(json_object_get_string(jget(o,
	    "definition.environment.DB_PASSWORD")), "***");
	assert_string_equal(json_object_get_string(jget(o,
	    "definition.description")), "kept");
	assert_non_null(jget(o, "state.paused"));
	json_object_put(o);
	assert_null(strstr(r.body, "S3cretPW"));
	assert_null(strstr(r.body, "HDRSECRET"));
	assert_null(strstr(r.body, "ENVSECRET"));
	assert_int_equal(http(f, "GET", "/jobs/secret", f->token, NULL, &r),
	    200);
	o = body_json(&r);
	assert_string_equal(json_object_get_string(jget(o,
	    "definition.http.url")),
	    "https://admin:S3cretPW@h:8443/p?api_key=Q&x=1");
	assert_string_equal(json_object_get_string(jget(o,
	    "definition.environment.DB_PASSWORD")), "ENVSECRET");
	json_object_put(o);
}

static void
test_not_found_and_method(void **state)
{
	struct fixture *f = *state;
	static const char *const missing[] = {
		"/nope", "/jobs/alpha/nope", "/jobs/alpha/reports/x", "//jobs",
		"/runs/1/x", "/healthz",
	};
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		http(f, "GET", missing[i], f->token, NULL, &r);
		expect_error(&r, 404, NULL);
	}
	http(f, "DELETE", "/jobs", f->token, NULL, &r);
	expect_error(&r, 405, NULL);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	http(f, "POST", "/runs/3", f->token, "{}", &r);
	expect_error(&r, 405, NULL);
	assert_true(has_header(&r, "Allow: GET, HEAD, DELETE"));
	http(f, "GET", "/tasks", f->token, NULL, &r);
	expect_error(&r, 405, NULL);
	assert_true(has_header(&r, "Allow: POST"));
	http(f, "PATCH", "/jobs/alpha", f->token, "{}", &r);
	expect_error(&r, 405, NULL);
	assert_true(has_header(&r, "Allow: GET, HEAD, PUT, DELETE"));
	/* A trailing slash is the same path. */
	assert_int_equal(http(f, "GET", "/jobs/", f->token, NULL, &r), 200);
	assert_int_equal(fake_calls(), 1);
}

/* ---- the dashboard's files (ui.c) ---- */

/* GET or HEAD of a /ui path without a token, with an optional extra
 * header line; returns the status. */
static long
ui_get(const struct fixture *f, const char *method, const char *path,
    const char *header, struct resp *r)
{
	struct reqopt o = { NULL, 0, false, header };

	if (http_ext(f->base, method, path, NULL, &o, r) != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(r->cc));
	return r->status;
}

/* The value of response header name (first one), "" when absent. */
static void
header_value(const struct resp *r, const char *name, char *out, size_t len)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\n%s: ", name);
	out[0] = '\0';
	if ((p = strcasestr(r->headers, want)) == NULL)
		return;
	p += strlen(want);
	snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* Every /ui answer carries the security headers. */
static void
expect_ui_headers(const struct resp *r)
{
	char v[512];

	header_value(r, "Content-Security-Policy", v, sizeof(v));
	assert_string_equal(v, UI_CSP);
	assert_null(strstr(v, "unsafe"));
	assert_true(has_header(r, "X-Content-Type-Options: nosniff"));
	assert_true(has_header(r, "Referrer-Policy: no-referrer"));
	assert_true(has_header(r, "X-Frame-Options: DENY"));
	assert_true(has_header(r, "Cache-Control: no-cache"));
}

/* The file under the source tree's ui/, as read from disk. */
static size_t
ui_source(const char *name, char *out, size_t len)
{
	char path[512];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ui/%s", TEST_SRCDIR, name);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(out, 1, len - 1, fp);
	out[n] = '\0';
	fclose(fp);
	return n;
}

static void
test_ui_files(void **state)
{
	static const char *const files[][2] = {
		{ "/ui/", "text/html; charset=utf-8" },
		{ "/ui/index.html", "text/html; charset=utf-8" },
		{ "/ui/app.js", "text/javascript; charset=utf-8" },
		{ "/ui/dom.js", "text/javascript; charset=utf-8" },
		{ "/ui/style.css", "text/css; charset=utf-8" },
	};
	struct fixture *f = *state;
	static char want[65536];
	struct resp r;
	char v[128];
	size_t i, n;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		/* No token: the files hold no data. */
		assert_int_equal(ui_get(f, "GET", files[i][0], NULL, &r), 200);
		expect_ui_headers(&r);
		header_value(&r, "Content-Type", v, sizeof(v));
		assert_string_equal(v, files[i][1]);
		header_value(&r, "ETag", v, sizeof(v));
		assert_true(strlen(v) > 2 && v[0] == '"' && v[strlen(v) - 1] == '"');
		/* The bytes served are the source file's. */
		n = ui_source(i == 0 ? "index.html" : files[i][0] + 4, want,
		    sizeof(want));
		assert_int_equal(r.len, n);
		assert_memory_equal(r.body, want, n);
		assert_int_equal(ui_get(f, "HEAD", files[i][0], NULL, &r), 200);
		assert_int_equal(r.len, 0);
		expect_ui_headers(&r);
	}
	/* The API itself still wants its token. */
	assert_int_equal(http(f, "GET", "/jobs", NULL, NULL, &r), 401);
	assert_int_equal(http(f, "GET", "/uix", NULL, NULL, &r), 401);
}

static void
test_ui_etag(void **state)
{
	struct fixture *f = *state;
	char etag[128], line[300], other[128];
	struct resp r;

	ui_get(f, "GET", "/ui/app.js", NULL, &r);
	header_value(&r, "ETag", etag, sizeof(etag));
	snprintf(line, sizeof(line), "If-None-Match: %s", etag);
	assert_int_equal(ui_get(f, "GET", "/ui/app.js", line, &r), 304);
	assert_int_equal(r.len, 0);
	expect_ui_headers(&r);
	header_value(&r, "ETag", other, sizeof(other));
	assert_string_equal(other, etag);
	snprintf(line, sizeof(line), "If-None-Match: \"x\", W/%s", etag);
	assert_int_equal(ui_get(f, "GET", "/ui/app.js", line, &r), 304);
	/* Another file's tag, or a changed one, gets the file. */
	assert_int_equal(ui_get(f, "GET", "/ui/style.css", NULL, &r), 200);
	header_value(&r, "ETag", other, sizeof(other));
	assert_string_not_equal(other, etag);
	snprintf(line, sizeof(line), "If-None-Match: %s", other);
	assert_int_equal(ui_get(f, "GET", "/ui/app.js", line, &r), 200);
	assert_true(r.len > 0);
	assert_int_equal(ui_get(f, "GET", "/ui/app.js",
	    "If-None-Match: \"0-0\"", &r), 200);
}

static void
test_ui_errors(void **state)
{
	static const char *const missing[] = {
		"/ui/../api.token", "/ui/%2e%2e/api.token",
		"/ui/%2E%2E%2Fapi.token", "/ui/..%2fapi.token", "/ui//index.html",
		"/ui/./index.html", "/ui/nope.js", "/ui/index.html/",
		"/ui/INDEX.HTML", "/ui/%69ndex.html",
	};
	struct fixture *f = *state;
	struct resp r;
	char v[64];
	size_t i;

	for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		if (ui_get(f, "GET", missing[i], NULL, &r) != 404)
			fail_msg("GET %s: %ld, expected 404", missing[i],
			    r.status);
		expect_ui_headers(&r);
		assert_null(strstr(r.body, f->token));
		assert_non_null(strstr(r.body, "not found"));
	}
	/* /ui without its slash: to /ui/, so that relative names work. */
	assert_int_equal(ui_get(f, "GET", "/ui", NULL, &r), 308);
	header_value(&r, "Location", v, sizeof(v));
	assert_string_equal(v, "/ui/");
	expect_ui_headers(&r);
	/* A browser opening the daemon's address gets the dashboard; API
	 * clients get GET / as before. */
	assert_int_equal(ui_get(f, "GET", "/",
	    "Accept: text/html,application/xhtml+xml,*/*;q=0.8", &r), 303);
	header_value(&r, "Location", v, sizeof(v));
	assert_string_equal(v, "/ui/");
	assert_int_equal(ui_get(f, "GET", "/", NULL, &r), 401);
	assert_int_equal(http(f, "GET", "/", f->token, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"links\""));
	assert_int_equal(http(f, "POST", "/ui/", NULL, "{}", &r), 405);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	expect_ui_headers(&r);
	assert_int_equal(http(f, "DELETE", "/ui/app.js", f->token, NULL, &r),
	    405);
	assert_int_equal(http(f, "PUT", "/ui", NULL, "x", &r), 405);
}

static void
test_hostile_names(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {
		"..", ".", "a%2Fb", "a%2fb", "%2e%2e", "..%2Fetc", "a%00b",
		"%00", "a%0Ab", "a%1Bb", "a%7Fb", "-rf", ".hidden", "a%20b",
		"a%C3%A9", "a%5Cb",
	};
	static const char *const fmts[][2] = {
		{ "/jobs/", "" }, { "/jobs/", "/reports" }, { "/jobs/", "/run" },
		{ "/nodes/", "" },
	};
	char path[512], longname[301];
	struct resp r;
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
			snprintf(path, sizeof(path), "%s%s%s", fmts[k][0],
			    names[i], fmts[k][1]);
			http(f, k == 2 ? "POST" : "GET", path, f->token, NULL,
			    &r);
			if (r.status != 400)
				fail_msg("%s: %ld %s", path, r.status, r.body);
			expect_error(&r, 400, "name");
		}
	}
	memset(longname, 'a', 300);
	longname[300] = '\0';
	snprintf(path, sizeof(path), "/jobs/%s", longname);
	http(f, "PUT", path, f->token, "{}", &r);
	expect_error(&r, 400, "name");
	http(f, "GET", "/jobs/a%zz", f->token, NULL, &r);
	expect_error(&r, 400, NULL);
	http(f, "GET", "/jobs/a%2", f->token, NULL, &r);
	expect_error(&r, 400, NULL);
	http(f, "GET", "/runs/abc", f->token, NULL, &r);
	expect_error(&r, 400, "id");
	http(f, "GET", "/runs/0", f->token, NULL, &r);
	expect_error(&r, 400, "id");
	http(f, "DELETE", "/runs/-1", f->token, NULL, &r);
	expect_error(&r, 400, "id");
	http(f, "GET", "/runs/99999999999999999999", f->token, NULL, &r);
	expect_error(&r, 400, "id");
	assert_int_equal(fake_calls(), 0);
}

static void
test_body_limits(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"", "not json", "{\"a\": ", "[1, 2]", "\"str\"", "null",
		"{} x", "{}{}",
	};
	struct reqopt o = { NULL, BODY_MAX + 1, false, NULL };
	char *big = malloc(BODY_MAX * 4);
	json_object *o2;
	struct resp r;
	size_t i;

	assert_non_null(big);
	memset(big, ' ', BODY_MAX * 4);
	big[0] = '{';
	big[BODY_MAX * 4 - 1] = '}';
	o.body = big;
	http_ext(f->base, "PUT", "/jobs/alpha", f->token, &o, &r);
	expect_error(&r, 413, NULL);
	o.len = BODY_MAX * 4;
	o.chunked = true;	/* no Content-Length: caught while reading */
	http_ext(f->base, "PUT", "/jobs/alpha", f->token, &o, &r);
	expect_error(&r, 413, NULL);
	o.len = BODY_MAX;	/* exactly the cap is allowed */
	big[BODY_MAX - 1] = '}';
	o.chunked = false;
	http_ext(f->base, "PUT", "/jobs/alpha", f->token, &o, &r);
	assert_int_equal(r.status, 200);
	free(big);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		http(f, "PUT", "/jobs/alpha", f->token, bad[i], &r);
		expect_error(&r, 400, NULL);
		http(f, "POST", "/tasks", f->token, bad[i], &r);
		expect_error(&r, 400, NULL);
	}
	/* where and what, not json-c's words ("null expected") */
	http(f, "PUT", "/jobs/alpha", f->token,
	    "{\"command\": [\"true\"],\n \"timeout\": nul}", &r);
	expect_error(&r, 400, NULL);
	o2 = body_json(&r);
	assert_string_equal(jstr(o2, "error"), "body: invalid JSON at line 2, "
	    "column 13, in timeout: 'nul' is not a value (expected a string "
	    "in double quotes, a number, true, false, null, an object or an "
	    "array)");
	json_object_put(o2);
	http(f, "POST", "/tasks", f->token, "[1]", &r);
	o2 = body_json(&r);
	assert_string_equal(jstr(o2, "error"), "body: expected a JSON object, "
	    "got array");
	json_object_put(o2);
	assert_int_equal(fake_calls(), 1);
}

static void
test_backend_errors(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	json_object *o;

	http(f, "PUT", "/jobs/alpha", f->token,
	    "{\"schedule\": \"32 * * * *\"}", &r);
	expect_error(&r, 422, "schedule.cron");
	o = body_json(&r);
	assert_string_equal(jstr(o, "error"), INVALID_MSG);
	json_object_put(o);
	http(f, "POST", "/tasks", f->token, "{\"timeout\": \"1s\"}", &r);
	expect_error(&r, 422, "command");
	http(f, "GET", "/jobs/missing", f->token, NULL, &r);
	expect_error(&r, 404, NULL);
	http(f, "DELETE", "/jobs/missing", f->token, NULL, &r);
	expect_error(&r, 404, NULL);
	http(f, "GET", "/nodes/missing", f->token, NULL, &r);
	expect_error(&r, 404, NULL);
	http(f, "PUT", "/jobs/conflict", f->token, "{}", &r);
	expect_error(&r, 409, NULL);
	/* cluster mode, etcd down: 503 with the reason */
	http(f, "PUT", "/jobs/etcddown", f->token, "{}", &r);
	expect_error(&r, 503, NULL);
	o = body_json(&r);
	assert_string_equal(jstr(o, "error"), ETCD_DOWN_MSG);
	json_object_put(o);
	http(f, "DELETE", "/jobs/etcddown", f->token, NULL, &r);
	expect_error(&r, 503, NULL);
	o = body_json(&r);
	assert_string_equal(jstr(o, "error"), ETCD_DOWN_MSG);
	json_object_put(o);
	http(f, "POST", "/jobs/busy/run", f->token, NULL, &r);
	expect_error(&r, 503, NULL);
	http(f, "GET", "/jobs/boom", f->token, NULL, &r);
	expect_error(&r, 500, NULL);
	http(f, "DELETE", "/runs/999", f->token, NULL, &r);
	expect_error(&r, 404, NULL);
	http(f, "DELETE", "/runs/1", f->token, NULL, &r);
	expect_error(&r, 409, NULL);
}

/* The JSON body equals want (compared as JSON). */
static void
expect_json(const struct resp *r, long status, const char *want)
{
	json_object *got, *exp = json_tokener_parse(want);

	if (r->status != status)
		fail_msg("expected %ld, got %ld: %s", status, r->status,
		    r->body);
	got = body_json(r);
	if (!json_object_equal(got, exp))
		fail_msg("got %s, expected %s", r->body, want);
	json_object_put(got);
	json_object_put(exp);
}

static void
test_backend_success(void **state)
{
	struct fixture *f = *state;
	const char *job = "{\"schedule\": \"@daily\", \"command\": [\"/bin/true\"]}";
	struct resp r;

	http(f, "PUT", "/jobs/newjob", f->token, job, &r);
	expect_json(&r, 201, "{\"name\": \"newjob\", \"created\": true}");
	assert_string_equal(fake.name, "newjob");
	assert_string_equal(fake.body, job);
	http(f, "PUT", "/jobs/alpha", f->token, job, &r);
	expect_json(&r, 200, "{\"name\": \"alpha\", \"created\": false}");
	http(f, "DELETE", "/jobs/alpha", f->token, NULL, &r);
	expect_json(&r, 200, "{\"name\": \"alpha\", \"deleted\": true}");
	http(f, "POST", "/jobs/alpha/pause", f->token, NULL, &r);
	expect_json(&r, 200, "{\"name\": \"alpha\", \"paused\": true}");
	assert_true(fake.paused);
	http(f, "POST", "/jobs/alpha/resume", f->token, NULL, &r);
	expect_json(&r, 200, "{\"name\": \"alpha\", \"paused\": false}");
	assert_false(fake.paused);
	http(f, "POST", "/jobs/alpha/run", f->token, NULL, &r);
	expect_json(&r, 202, "{\"id\": 42}");
	http(f, "POST", "/tasks", f->token, "{\"command\": [\"true\"]}", &r);
	expect_json(&r, 202, "{\"id\": 43}");
	http(f, "DELETE", "/runs/5", f->token, NULL, &r);
	expect_json(&r, 202, "{\"id\": 5, \"cancelling\": true}");
	assert_int_equal(fake.cancelled, 5);
	http(f, "GET", "/jobs", f->token, NULL, &r);
	assert_string_equal(r.body, "{\"jobs\": [{\"name\": \"alpha\"}]}");
	assert_true(has_header(&r, "Content-Type: application/json"));
	http(f, "GET", "/jobs/alpha", f->token, NULL, &r);
	expect_json(&r, 200, "{\"name\": \"alpha\", \"definition\": {}}");
	http(f, "GET", "/nodes", f->token, NULL, &r);
	expect_json(&r, 200, "{\"nodes\": []}");
	http(f, "GET", "/nodes/local", f->token, NULL, &r);
	expect_json(&r, 200, "{\"name\": \"local\", \"status\": \"up\"}");
	http(f, "GET", "/monitor", f->token, NULL, &r);
	expect_json(&r, 200, "{\"uptime_s\": 5}");
	http(f, "GET", "/", f->token, NULL, &r);
	expect_json(&r, 200, "{\"links\": {\"jobs\": \"/jobs\", \"runs\": "
	    "\"/runs\", \"nodes\": \"/nodes\", \"health\": \"/health\", "
	    "\"monitor\": \"/monitor\", \"metrics\": \"/metrics\", "
	    "\"tasks\": \"/tasks\", \"outbox\": \"/outbox\"}, "
	    "\"access\": \"full\"}");
}

/* Every 200 to a read carries a strong ETag of its body, to be revalidated
 * per token; If-None-Match with it (or "*", or in a list, or weak) gets
 * 304 without a body; a changed body gets a new tag. */
static void
test_etag(void **state)
{
	struct fixture *f = *state;
	char tag[128], again[128], list[300], weak[140];
	struct resp r;

	assert_int_equal(http(f, "GET", "/jobs", f->token, NULL, &r), 200);
	etag_get(&r, tag, sizeof(tag));
	assert_int_equal(strlen(tag), 34);
	assert_true(tag[0] == '"' && tag[33] == '"');
	assert_int_equal(strspn(tag + 1, "0123456789abcdef"), 32);
	assert_true(has_header(&r, "Cache-Control: no-cache"));
	assert_true(has_header(&r, "Vary: Authorization"));
	assert_int_equal(http(f, "GET", "/jobs", f->token, NULL, &r), 200);
	etag_get(&r, again, sizeof(again));
	assert_string_equal(again, tag);	/* same state, same tag */
	assert_int_equal(http_inm(f, "GET", "/jobs", f->token, tag, &r), 304);
	assert_int_equal(r.len, 0);
	etag_get(&r, again, sizeof(again));
	assert_string_equal(again, tag);
	assert_int_equal(http_inm(f, "GET", "/jobs", f->token,
	    "\"0123\"", &r), 200);
	assert_string_equal(r.body, "{\"jobs\": [{\"name\": \"alpha\"}]}");
	snprintf(list, sizeof(list), "\"x\", W/\"y\" ,%s", tag);
	assert_int_equal(http_inm(f, "GET", "/jobs", f->token, list, &r), 304);
	snprintf(weak, sizeof(weak), "W/%s", tag);
	assert_int_equal(http_inm(f, "GET", "/jobs", f->token, weak, &r), 304);
	assert_int_equal(http_inm(f, "GET", "/jobs", f->token, "*", &r), 304);
	assert_int_equal(http_inm(f, "HEAD", "/jobs", f->token, tag, &r), 304);
	assert_int_equal(http_inm(f, "HEAD", "/jobs", f->token, NULL, &r), 200);
	etag_get(&r, again, sizeof(again));
	assert_string_equal(again, tag);	/* HEAD: the GET's tag */
	/* The state changes: a new tag, and the old one gets the body. */
	assert_int_equal(http(f, "POST", "/jobs/alpha/pause", f->token, NULL,
	    &r), 200);
	assert_false(has_header(&r, "ETag:"));	/* not on writes */
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_int_equal(http_inm(f, "GET", "/jobs", f->token, tag, &r), 200);
	assert_non_null(strstr(r.body, "\"paused\": true"));
	etag_get(&r, again, sizeof(again));
	assert_int_equal(strlen(again), 34);
	assert_string_not_equal(again, tag);
}

/* Errors carry no ETag and If-None-Match does not turn them into 304;
 * each token's view of a job has its own tag; runs from the store and
 * /health have tags too. */
static void
test_etag_not_on_errors(void **state)
{
	struct fixture *f = *state;
	char full[128], ro[128], path[64];
	struct resp r;

	assert_int_equal(http_inm(f, "GET", "/jobs/missing", f->token, "*",
	    &r), 404);
	assert_false(has_header(&r, "ETag:"));
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_int_equal(http_inm(f, "GET", "/jobs", NULL, "*", &r), 401);
	assert_false(has_header(&r, "ETag:"));
	assert_int_equal(http_inm(f, "GET", "/jobs?limit=0", f->token, "*",
	    &r), 400);
	assert_int_equal(http(f, "GET", "/jobs/secret", f->token, NULL, &r),
	    200);
	etag_get(&r, full, sizeof(full));
	assert_int_equal(http(f, "GET", "/jobs/secret", READ_TOKEN, NULL, &r),
	    200);
	etag_get(&r, ro, sizeof(ro));
	assert_int_equal(strlen(ro), 34);
	assert_string_not_equal(full, ro);
	assert_int_equal(http_inm(f, "GET", "/jobs/secret", READ_TOKEN, full,
	    &r), 200);
	assert_null(strstr(r.body, "S3cretPW"));
	snprintf(path, sizeof(path), "/runs/%lld", (long long)f->ids[0]);
	assert_int_equal(http(f, "GET", path, f->token, NULL, &r), 200);
	etag_get(&r, full, sizeof(full));
	assert_int_equal(http_inm(f, "GET", path, f->token, full, &r), 304);
	assert_int_equal(http(f, "GET", "/health", NULL, NULL, &r), 200);
	etag_get(&r, full, sizeof(full));
	assert_int_equal(http_inm(f, "GET", "/health", NULL, full, &r), 304);
}

/* The If-None-Match grammar (RFC 9110): "*", lists with optional
 * whitespace and empty elements, W/ ignored; malformed: no match. */
static void
test_etag_match(void **state)
{
	static const struct { const char *hdr; bool want; } cases[] = {
		{ "\"abc\"", true }, { "W/\"abc\"", true },
		{ " \"x\" , \"abc\" ", true }, { ",,\"abc\",", true },
		{ "\"x\",\tW/\"abc\"", true }, { "*", true }, { " * ", true },
		{ "\"abd\"", false }, { "\"ab\"", false }, { "abc", false },
		{ "\"abc", false }, { "", false }, { "w/\"abc\"", false },
		{ "\"x\" \"abc\"", false }, { "junk, \"abc\"", false },
		{ "*, \"abc\"", false }, { "\"a\"bc\"", false },
		{ "\"abc\"x", false },
	};
	char tag[ETAG_LEN], tag2[ETAG_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (etag_match(cases[i].hdr, "\"abc\"") != cases[i].want)
			fail_msg("If-None-Match: %s: expected %s", cases[i].hdr,
			    cases[i].want ? "a match" : "none");
	assert_false(etag_match(NULL, "\"abc\""));
	etag_of("{}", 2, tag);
	etag_of("{ }", 3, tag2);
	assert_string_not_equal(tag, tag2);
	etag_of("{ }", 3, tag);
	assert_string_equal(tag, tag2);
	assert_true(etag_match(tag, tag2));
	(void)state;
}

/* GET / tells the client what its token may do: a read-only token gets
 * "read" (a dashboard hides its buttons), the full token "full". */
static void
test_root_access(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	json_object *o;

	assert_int_equal(http(f, "GET", "/", READ_TOKEN, NULL, &r), 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "access"), "read");
	assert_non_null(jget(o, "links.jobs"));
	json_object_put(o);
	assert_int_equal(http(f, "GET", "/", f->token, NULL, &r), 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "access"), "full");
	json_object_put(o);
}

/* GET /outbox for either token; POST /outbox/retry for the full token
 * only, its body handed over, the backend's errors mapped. */
static void
test_outbox_routes(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	json_object *o;

	http(f, "GET", "/outbox", READ_TOKEN, NULL, &r);
	expect_json(&r, 200, OUTBOX_JSON);
	http(f, "POST", "/outbox/retry", READ_TOKEN, "{\"all\": true}", &r);
	expect_error(&r, 403, NULL);
	assert_int_equal(fake_calls(), 1);
	http(f, "POST", "/outbox/retry", f->token, "{\"all\": true}", &r);
	expect_json(&r, 200, "{\"requeued\": 2}");
	assert_string_equal(fake.body, "{\"all\": true}");
	http(f, "POST", "/outbox/retry", f->token, "{\"id\": 8}", &r);
	expect_error(&r, 404, NULL);
	o = body_json(&r);
	assert_string_equal(jstr(o, "error"), "parked outbox entry 8 not found");
	json_object_put(o);
	http(f, "POST", "/outbox/retry", f->token, "{\"id\": \"x\"}", &r);
	expect_error(&r, 422, "id");
	http(f, "POST", "/outbox/retry", f->token, "[1]", &r);
	expect_error(&r, 400, NULL);
	http(f, "GET", "/outbox/retry", f->token, NULL, &r);
	expect_error(&r, 405, NULL);
}

/* GET path; returns the "runs" array's length, *first the first run. */
static size_t
runs_get(struct fixture *f, const char *path, json_object **all)
{
	struct resp r;
	json_object *runs;

	http(f, "GET", path, f->token, NULL, &r);
	if (r.status != 200)
		fail_msg("%s: %ld %s", path, r.status, r.body);
	*all = body_json(&r);
	runs = jget(*all, "runs");
	assert_non_null(runs);
	return json_object_array_length(runs);
}

static void
test_runs_list(void **state)
{
	struct fixture *f = *state;
	char path[128];
	json_object *o;

	assert_int_equal(runs_get(f, "/runs", &o), 4);
	json_object_put(o);
	assert_int_equal(runs_get(f, "/runs?job=alpha&limit=2", &o), 2);
	assert_int_equal(json_object_get_int64(jget(o, "runs.0.id")),
	    f->ids[2]);
	assert_string_equal(json_object_get_string(jget(o, "runs.1.job")),
	    "alpha");
	assert_null(jget(o, "runs.1.items.0.output"));	/* no output=1 */
	assert_string_equal(json_object_get_string(jget(o,
	    "runs.1.items.1.node")), "n2");
	json_object_put(o);
	assert_int_equal(runs_get(f, "/runs?job=alpha&output=1", &o), 3);
	assert_string_equal(json_object_get_string(jget(o,
	    "runs.2.items.0.output")), "hello\n");
	json_object_put(o);
	assert_int_equal(runs_get(f, "/runs?status=failure", &o), 1);
	assert_string_equal(json_object_get_string(jget(o, "runs.0.status")),
	    "FAILURE");
	json_object_put(o);
	snprintf(path, sizeof(path), "/runs?before=%lld",
	    (long long)f->ids[2]);
	assert_int_equal(runs_get(f, path, &o), 2);
	json_object_put(o);
	assert_int_equal(runs_get(f, "/runs?since=2026-01-01T00:02:00Z", &o),
	    2);
	json_object_put(o);
	assert_int_equal(runs_get(f, "/runs?since=2026-01-01T01:02:00%2B01:00",
	    &o), 2);
	json_object_put(o);
	snprintf(path, sizeof(path), "/runs?since=%lld",
	    (long long)(T0_MS + 180000));
	assert_int_equal(runs_get(f, path, &o), 1);
	json_object_put(o);
	assert_int_equal(runs_get(f, "/runs?job=nosuchjob", &o), 0);
	json_object_put(o);
}

static void
test_runs_bad_params(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[][2] = {
		{ "limit=0", "limit" }, { "limit=1001", "limit" },
		{ "limit=abc", "limit" }, { "limit=-5", "limit" },
		{ "limit=", "limit" }, { "before=0", "before" },
		{ "before=x", "before" }, { "status=bogus", "status" },
		{ "since=yesterday", "since" }, { "since=2026-13-01", "since" },
		{ "job=a%2Fb", "job" }, { "job=..", "job" },
		{ "output=2", "output" }, { "limit=1%00", "limit" },
		{ "job=%2561lpha", "job" },	/* decoded once only */
	};
	char path[128];
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/runs?%s", bad[i][0]);
		http(f, "GET", path, f->token, NULL, &r);
		expect_error(&r, 400, bad[i][1]);
		snprintf(path, sizeof(path), "/jobs/alpha/reports?%s",
		    bad[i][0]);
		http(f, "GET", path, f->token, NULL, &r);
		if (strncmp(bad[i][0], "limit", 5) == 0 ||
		    strncmp(bad[i][0], "before", 6) == 0)
			expect_error(&r, 400, bad[i][1]);
	}
}

/* GET /jobs pages like /runs: limit (default 100, 1 to 1000) and after (a
 * job name) reach the backend; bad values are 400 naming the parameter,
 * and the backend is not asked. */
static void
test_jobs_paging(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[][2] = {
		{ "limit=0", "limit" }, { "limit=1001", "limit" },
		{ "limit=abc", "limit" }, { "limit=", "limit" },
		{ "after=..", "after" }, { "after=a%2Fb", "after" },
		{ "after=a%00", "after" }, { "after=", "after" },
	};
	char path[128];
	struct resp r;
	size_t i;

	http(f, "GET", "/jobs", f->token, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.name, "");
	assert_int_equal(fake.limit, 100);
	http(f, "GET", "/jobs?limit=2&after=alpha%2Dx", f->token, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.name, "alpha-x");
	assert_int_equal(fake.limit, 2);
	http(f, "GET", "/jobs?limit=1000", f->token, NULL, &r);
	assert_int_equal(fake.limit, 1000);
	assert_int_equal(fake_calls(), 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/jobs?%s", bad[i][0]);
		http(f, "GET", path, f->token, NULL, &r);
		expect_error(&r, 400, bad[i][1]);
	}
	assert_int_equal(fake_calls(), 3);
}

static void
test_run_get(void **state)
{
	struct fixture *f = *state;
	char path[64];
	struct resp r;
	json_object *o;

	snprintf(path, sizeof(path), "/runs/%lld", (long long)f->ids[1]);
	assert_int_equal(http(f, "GET", path, f->token, NULL, &r), 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "job"), "alpha");
	assert_string_equal(jstr(o, "status"), "FAILURE");
	assert_string_equal(jstr(o, "scheduled_at"), "2026-01-01T00:01:00+00:00");
	assert_int_equal(json_object_array_length(jget(o, "items")), 2);
	assert_string_equal(json_object_get_string(jget(o, "items.1.output")),
	    "broken\n");
	assert_int_equal(json_object_get_int(jget(o, "items.1.exit_code")), 3);
	assert_string_equal(jstr(o, "member"), "host-a:7");	/* cluster */
	assert_int_equal(json_object_get_int64(jget(o, "fence")), 42);
	json_object_put(o);
	snprintf(path, sizeof(path), "/runs/%lld", (long long)f->ids[0]);
	assert_int_equal(http(f, "GET", path, f->token, NULL, &r), 200);
	o = body_json(&r);
	assert_false(json_object_object_get_ex(o, "member", NULL));
	assert_false(json_object_object_get_ex(o, "fence", NULL));
	json_object_put(o);
	http(f, "GET", "/runs/424242", f->token, NULL, &r);
	expect_error(&r, 404, NULL);
}

/* A run still going: its items executing now carry their output so far
 * and "live": true; the others, and runs that ended, are as stored (the
 * backend is not asked for those). */
static void
test_run_live(void **state)
{
	struct fixture *f = *state;
	char path[64];
	struct resp r;
	json_object *o;

	assert_int_equal(f->ids[2], 3);
	snprintf(path, sizeof(path), "/runs/%lld", (long long)f->ids[2]);
	assert_int_equal(http(f, "GET", path, READ_TOKEN, NULL, &r), 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "status"), "STARTED");
	assert_int_equal(json_object_array_length(jget(o, "items")), 1);
	assert_string_equal(json_object_get_string(jget(o, "items.0.output")),
	    "first line\n");
	assert_string_equal(json_object_get_string(jget(o, "items.0.stderr")),
	    "warn\n");
	assert_true(json_object_get_boolean(jget(o, "items.0.live")));
	/* the runner's state over the store's lagging one */
	assert_true(json_object_get_boolean(jget(o, "live")));
	assert_string_equal(jstr(o, "started"), "2026-01-01T00:02:03Z");
	assert_string_equal(json_object_get_string(jget(o, "items.0.started")),
	    "2026-01-01T00:02:04Z");
	json_object_put(o);
	assert_int_equal(fake_calls(), 1);
	snprintf(path, sizeof(path), "/runs/%lld", (long long)f->ids[1]);
	assert_int_equal(http(f, "GET", path, f->token, NULL, &r), 200);
	o = body_json(&r);
	assert_null(jget(o, "items.0.live"));
	assert_null(jget(o, "items.1.live"));
	assert_null(jget(o, "live"));
	assert_string_equal(json_object_get_string(jget(o, "items.1.output")),
	    "broken\n");
	json_object_put(o);
	assert_int_equal(fake_calls(), 1);	/* a final run: not asked */
}

static void
test_reports(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	json_object *o, *rep;

	http(f, "GET", "/jobs/alpha/reports", f->token, NULL, &r);
	assert_int_equal(r.status, 200);
	o = body_json(&r);
	assert_int_equal(json_object_array_length(jget(o, "reports")), 3);
	rep = jget(o, "reports.2");		/* the oldest: a success */
	assert_string_equal(jstr(rep, "job"), "alpha");
	assert_true(json_object_get_boolean(jget(rep, "success")));
	assert_int_equal(json_object_get_int64(jget(rep,
	    "duration.milliseconds")), 1500);
	assert_string_equal(json_object_get_string(jget(rep,
	    "duration.string")), "1.5s");
	assert_string_equal(json_object_get_string(jget(rep, "time.start")),
	    "2026-01-01T00:00:00+00:00");
	assert_string_equal(json_object_get_string(jget(rep,
	    "items.0.output")), "hello\n");
	assert_true(json_object_get_boolean(jget(rep, "items.0.success")));
	assert_int_equal(json_object_get_int(jget(rep, "exit_code")), 0);
	assert_false(json_object_object_get_ex(rep, "member", NULL));
	assert_false(json_object_object_get_ex(rep, "fence", NULL));
	rep = jget(o, "reports.1");		/* the failure */
	assert_string_equal(jstr(rep, "member"), "host-a:7");
	assert_int_equal(json_object_get_int64(jget(rep, "fence")), 42);
	assert_false(json_object_get_boolean(jget(rep, "success")));
	assert_int_equal(json_object_get_int(jget(rep, "exit_code")), 3);
	assert_string_equal(json_object_get_string(jget(rep,
	    "duration.string")), "2m3s");
	assert_false(json_object_get_boolean(jget(rep, "items.1.success")));
	assert_string_equal(json_object_get_string(jget(rep,
	    "items.1.status")), "FAILURE");
	rep = jget(o, "reports.0");		/* still running */
	assert_null(jget(rep, "time.stop"));
	assert_null(jget(rep, "duration.milliseconds"));
	json_object_put(o);
	http(f, "GET", "/jobs/alpha/reports?limit=1", f->token, NULL, &r);
	o = body_json(&r);
	assert_int_equal(json_object_array_length(jget(o, "reports")), 1);
	json_object_put(o);
}

static void
test_metrics(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	http(f, "GET", "/jobs", f->token, NULL, &r);
	http(f, "GET", "/nope", f->token, NULL, &r);
	assert_int_equal(http(f, "GET", "/metrics", f->token, NULL, &r), 200);
	assert_non_null(strstr(r.body, METRICS_TEXT));
	assert_non_null(strstr(r.body, "# TYPE distcron_api_requests_total "
	    "counter\n"));
	assert_non_null(strstr(r.body,
	    "distcron_api_requests_total{code=\"200\"} 1\n"));
	assert_non_null(strstr(r.body,
	    "distcron_api_requests_total{code=\"404\"} 1\n"));
	assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
}

struct worker {
	struct fixture *f;
	int ok;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char path[64];
	struct resp *r = malloc(sizeof(*r));
	int i;

	for (i = 0; r != NULL && i < PER_THREAD; i++) {
		if (i % 3 == 0)
			snprintf(path, sizeof(path), "/runs/%lld",
			    (long long)w->f->ids[i % 4]);
		else
			snprintf(path, sizeof(path), "%s", i % 3 == 1 ?
			    "/jobs" : "/jobs/alpha/reports");
		if (http_ext(w->f->base, "GET", path, w->f->token, NULL,
		    r) == CURLE_OK && r->status == 200)
			w->ok++;
	}
	free(r);
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	int i;

	for (i = 0; i < NTHREADS; i++) {
		w[i].f = f;
		w[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]),
		    0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, PER_THREAD);
	}
}

/* Runs argv quietly; returns its exit status or -1. */
static int
run_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_tls(void **state)
{
	struct fixture *f = *state;
	char cert[128], key[128], http_base[64], err[256];
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
	    "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert,
	    NULL };
	struct api *a = NULL;
	struct resp r;

	snprintf(cert, sizeof(cert), "%s/cert.pem", f->dir);
	snprintf(key, sizeof(key), "%s/key.pem", f->dir);
	assert_int_equal(run_quiet(argv), 0);
	server_stop(f);
	f->cfg.tls_cert = cert;
	f->cfg.tls_key = key;
	server_start(f, "https");
	assert_int_equal(http(f, "GET", "/health", NULL, NULL, &r), 200);
	assert_int_equal(http(f, "GET", "/jobs", f->token, NULL, &r), 200);
	snprintf(http_base, sizeof(http_base), "http://127.0.0.1:%d",
	    api_port(f->api));
	if (http_ext(http_base, "GET", "/health", NULL, NULL, &r) == CURLE_OK)
		assert_int_not_equal(r.status, 200);
	/* Unreadable or mismatched files are refused with a message. */
	f->cfg.tls_key = "/nonexistent/key.pem";
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	assert_null(a);
	assert_non_null(strstr(err, "/nonexistent/key.pem"));
	/* A key others may read is refused, naming it and its mode. */
	f->cfg.tls_key = key;
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	assert_null(a);
	assert_non_null(strstr(err, "tls_key"));
	assert_non_null(strstr(err, key));
	assert_non_null(strstr(err, "mode 0640 is readable by group or "
	    "others"));
	f->cfg.tls_key = cert;		/* private, but no key */
	assert_int_equal(chmod(cert, 0600), 0);
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	f->cfg.tls_key = "";
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	assert_non_null(strstr(err, "tls_key"));
}

/* A listening socket on 127.0.0.1; returns its port. */
static int
occupy_port(int *fdp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*fdp = fd;
	return ntohs(sin.sin_port);
}

static void
test_start_errors(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"nonsense", "127.0.0.1", "127.0.0.1:70000", "::1:80",
		"999.1.1.1:80", ":80", "127.0.0.1:x",
	};
	char listen_addr[64], err[256], want[96];
	struct api *a = NULL;
	size_t i;
	int fd, port;

	port = occupy_port(&fd);
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", port);
	f->cfg.listen = listen_addr;
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	snprintf(want, sizeof(want), "listen %s: Address already in use",
	    listen_addr);
	assert_string_equal(err, want);
	close(fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->cfg.listen = (char *)bad[i];
		assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err,
		    sizeof(err)), ERR_CONFIG);
		assert_non_null(strstr(err, bad[i]));
	}
	f->cfg.listen = "127.0.0.1:0";
	f->cfg.api_read_token = "has space";
	assert_int_equal(api_new(&f->cfg, &fake_backend, &a, err, sizeof(err)),
	    ERR_CONFIG);
	assert_non_null(strstr(err, "api_read_token"));
}

static void
test_ipv6(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct resp r;
	bool have_v6 = fd >= 0 &&
	    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;

	if (fd >= 0)
		close(fd);
	if (!have_v6)
		skip();		/* no IPv6 loopback on this machine */
	server_stop(f);
	f->cfg.listen = "[::1]:0";
	server_start(f, "http");
	snprintf(f->base, sizeof(f->base), "http://[::1]:%d", api_port(f->api));
	assert_int_equal(http(f, "GET", "/health", NULL, NULL, &r), 200);
}

/* Whether an address is loopback: what decides the start-up warning about
 * an API without TLS on a network address. */
static void
test_addr_loopback(void **state)
{
	static const struct { int family; const char *text; bool loop; }
	    cases[] = {
		{ AF_INET, "127.0.0.1", true }, { AF_INET, "127.3.2.1", true },
		{ AF_INET, "0.0.0.0", false }, { AF_INET, "10.0.0.1", false },
		{ AF_INET, "128.0.0.1", false }, { AF_INET6, "::1", true },
		{ AF_INET6, "::", false }, { AF_INET6, "fe80::1", false },
		{ AF_INET6, "::ffff:127.0.0.1", true },
		{ AF_INET6, "::ffff:192.168.1.1", false },
	};
	struct sockaddr_storage ss;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)cases[i].family;
		assert_int_equal(inet_pton(cases[i].family, cases[i].text,
		    cases[i].family == AF_INET ?
		    (void *)&((struct sockaddr_in *)&ss)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
		if (api_addr_loopback((struct sockaddr *)&ss) !=
		    cases[i].loop)
			fail_msg("%s: expected %s", cases[i].text,
			    cases[i].loop ? "loopback" : "not loopback");
	}
}

static void
test_duration_strings(void **state)
{
	static const struct { int64_t ms; const char *s; } cases[] = {
		{ 0, "0s" }, { 5, "5ms" }, { 999, "999ms" }, { 1000, "1s" },
		{ 1500, "1.5s" }, { 1250, "1.25s" }, { 1001, "1.001s" },
		{ 60000, "1m0s" }, { 123000, "2m3s" }, { 123500, "2m3.5s" },
		{ 3600000, "1h0m0s" }, { 3723000, "1h2m3s" },
		{ 90000000, "25h0m0s" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		runjson_duration(cases[i].ms, out, sizeof(out));
		assert_string_equal(out, cases[i].s);
	}
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_health_without_token),
		T(test_auth_required),
		T(test_errors_keep_alive),
		T(test_generated_token),
		T(test_configured_token),
		T(test_read_only_token),
		T(test_read_only_masks_secrets),
		T(test_not_found_and_method),
		T(test_ui_files),
		T(test_ui_etag),
		T(test_ui_errors),
		T(test_hostile_names),
		T(test_body_limits),
		T(test_backend_errors),
		T(test_backend_success),
		T(test_root_access),
		T(test_etag),
		T(test_etag_not_on_errors),
		T(test_outbox_routes),
		T(test_runs_list),
		T(test_runs_bad_params),
		T(test_jobs_paging),
		T(test_run_get),
		T(test_run_live),
		T(test_reports),
		T(test_metrics),
		T(test_concurrent),
		T(test_tls),
		T(test_start_errors),
		T(test_ipv6),
		cmocka_unit_test(test_duration_strings),
		cmocka_unit_test(test_addr_loopback),
		cmocka_unit_test(test_etag_match),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	tz_cache_clear();
	return r;
}
