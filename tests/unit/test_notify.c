/*
 * test_notify.c - notifications: the planner's rows for each final run,
 * and each sink's deliveries to real peers on loopback: mail to a real
 * SMTP server (tests/integration/smtp_server.py, Debian's aiosmtpd), plain
 * and with STARTTLS and AUTH, webhook and Slack requests to the HTTP
 * double (httpd_fixture.c), and a burst coalesced into one message.
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
#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/notify.h"
#include "distcron/outbox.h"
#include "distcron/runjson.h"
#include "distcron/store.h"
#include "distcron/tz.h"
#include "httpd_fixture.h"

#define SMTP_SERVER	TEST_SRCDIR "/tests/integration/smtp_server.py"
#define PASSWORD	"s3cret-PW"
#define T0		INT64_C(1765000000)	/* scheduled_at of the first runs */

static struct httpd_fixture fx;
static pid_t smtp_pid = -1, smtps_pid = -1;
static int smtp_port, smtps_port;
static char mail_out[128], mails_out[128], port1[128], port2[128];
static struct config cfg;
static char smtp_url[128], smtp_from[] = "cron@example.org";
static int64_t fake_now;

static int64_t
clock_fake(void)
{
	return fake_now;
}

/* Debian's python3 has python3-aiosmtpd; a pyenv one may not. */
static char *
system_python(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" :
	    "python3";
}

static int
group_setup(void **state)
{
	char *plain[] = { system_python(), SMTP_SERVER, "--port-file", port1,
	    "--out", mail_out, NULL };
	char *secure[] = { system_python(), SMTP_SERVER, "--port-file", port2,
	    "--out", mails_out, "--tls", fx.cert, fx.key, "--auth", "u",
	    PASSWORD, NULL };

	(void)state;
	if (httpd_fixture_start(&fx, true) != 0)
		return -1;
	snprintf(port1, sizeof(port1), "%s/smtp.port", fx.dir);
	snprintf(port2, sizeof(port2), "%s/smtps.port", fx.dir);
	snprintf(mail_out, sizeof(mail_out), "%s/smtp.out", fx.dir);
	snprintf(mails_out, sizeof(mails_out), "%s/smtps.out", fx.dir);
	plain[3] = port1;
	plain[5] = mail_out;
	secure[3] = port2;
	secure[5] = mails_out;
	secure[7] = fx.cert;
	secure[8] = fx.key;
	if ((smtp_port = httpd_fixture_spawn(plain, port1, &smtp_pid)) < 0 ||
	    (smtps_port = httpd_fixture_spawn(secure, port2, &smtps_pid)) < 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	httpd_fixture_kill(smtp_pid);
	httpd_fixture_kill(smtps_pid);
	unlink(port1);
	unlink(port2);
	unlink(mail_out);
	unlink(mails_out);
	httpd_fixture_stop(&fx);
	return 0;
}

/* A config with SMTP to the plain server and a 1 minute interval. */
static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(smtp_url, sizeof(smtp_url), "smtp://127.0.0.1:%d",
	    smtp_port);
	cfg.smtp.url = smtp_url;
	cfg.smtp.from = smtp_from;
	cfg.notify_min_interval_ms = 60000;
	fake_now = (int64_t)T0 * 1000;
	unlink(mail_out);
	unlink(mails_out);
	return 0;
}

static struct job_def *
job(const char *name, const char *extra)
{
	char text[2048], err[512] = "";
	struct job_def *j = NULL;
	const struct tz *utc = NULL;
	const char *errstr = NULL;

	assert_int_equal(tz_get("UTC", &utc, &errstr), 0);
	snprintf(text, sizeof(text), "{\"schedule\": \"@hourly\", "
	    "\"policy\": {\"nodes\": [\"db1\"]}, \"command\": [\"/bin/true\"]"
	    "%s}", extra);
	if (defs_job_parse(name, text, strlen(text), utc, &j, err,
	    sizeof(err), NULL, NULL) != 0)
		fail_msg("job: %s", err);
	return j;
}

/* Cluster mode's member and fence of the runs report() makes (NULL and
 * 0: none). */
static const char *report_member;
static int64_t report_fence;

/* The report of a run of job on db1 (exit code, or signal when exit is
 * -1), started at sched + 1 s, 1.5 s long. */
static char *
report(const char *jobname, enum run_status st, int exit, int sig,
    const char *output, int64_t sched)
{
	struct store_item it = { .node = "db1", .attempt = 1, .status = st,
	    .exit_code = exit, .signal = sig, .out = (char *)output,
	    .started_ms = (sched + 1) * 1000,
	    .ended_ms = (sched + 1) * 1000 + 1500 };
	struct store_run run = { .id = sched - T0 + 1, .job = (char *)jobname,
	    .scheduled_at = sched, .status = st, .attempt = 1,
	    .started_ms = it.started_ms, .ended_ms = it.ended_ms,
	    .items = &it, .nitems = 1, .member = (char *)report_member,
	    .fence = report_fence };
	const struct tz *utc = NULL;
	const char *errstr = NULL;
	json_object *o;
	char *s;

	assert_int_equal(tz_get("UTC", &utc, &errstr), 0);
	assert_non_null(o = runjson_report(&run, utc));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	assert_non_null(s);
	return s;
}

static struct notify_sink
sink(struct notify *n, const char *name)
{
	struct notify_sink s[NOTIFY_SINKS];
	size_t i, k = notify_sinks(n, s, NOTIFY_SINKS);

	for (i = 0; i < k; i++)
		if (strcmp(s[i].ops->name, name) == 0)
			return s[i];
	fail_msg("no sink %s", name);
	return s[0];
}

/* A notify knowing job j. */
static struct notify *
notify_with(struct job_def *j)
{
	struct defs_set set = { .jobs = &j, .njobs = 1 };
	struct notify *n = NULL;

	assert_int_equal(notify_new(&cfg, &n), 0);
	notify_set_clock(n, clock_fake);
	assert_int_equal(notify_set_jobs(n, &set), 0);
	return n;
}

/* Delivers one entry of event ev for doc to the named sink. */
static enum outbox_result
deliver1(struct notify *n, const char *name, const char *jobname,
    const char *ev, const char *doc, struct outbox_outcome *o)
{
	struct notify_sink s = sink(n, name);
	struct outbox_entry e = { .id = 7, .run_id = 1, .job = jobname,
	    .scheduled_at = T0, .event = ev, .doc = doc };

	assert_int_equal(s.ops->deliver(s.arg, &e, 1, o), 0);
	return o->result;
}

/* The whole file at path ("" when absent), for the caller to free. */
static char *
slurp(const char *path)
{
	struct buf b;
	char chunk[4096];
	size_t k;
	FILE *fp = fopen(path, "r");

	buf_init(&b, 1 << 24);
	while (fp != NULL && (k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		assert_int_equal(buf_append(&b, chunk, k), 0);
	if (fp != NULL)
		fclose(fp);
	buf_puts(&b, "");
	return buf_steal(&b, NULL);
}

/* The messages the SMTP server wrote to path: an array. */
static json_object *
mails(const char *path)
{
	char *text = slurp(path), *line, *save = NULL;
	json_object *a = json_object_new_array();

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		json_object_array_add(a, json_tokener_parse(line));
	free(text);
	return a;
}

static size_t
write_buf(char *p, size_t size, size_t nmemb, void *arg)
{
	buf_append(arg, p, size * nmemb);
	return size * nmemb;
}

/* The requests the HTTP double kept under name: an array. */
static json_object *
recorded(const char *name)
{
	char url[256];
	struct buf b;
	CURL *e = curl_easy_init();
	json_object *a;

	buf_init(&b, 1 << 24);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/recorded/%s",
	    fx.plain_port, name);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_buf);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_cleanup(e);
	a = json_tokener_parse(buf_str(&b));
	buf_free(&b);
	assert_non_null(a);
	return a;
}

/* The one request kept under name (*reqs, to put) and its JSON body. */
static json_object *
only_body(const char *name, json_object **reqs)
{
	json_object *body;
	json_object *v = NULL;

	*reqs = recorded(name);
	assert_int_equal(json_object_array_length(*reqs), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(*reqs,
	    0), "body", &v));
	assert_non_null(body = json_tokener_parse(json_object_get_string(v)));
	return body;
}

static const char *
member(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

/* ---- the planner ---- */

/* Rows of rec (status st, previous prev) as "sink:event ..." text. */
static void
plan_text(struct notify *n, const struct job_def *j, enum run_status st,
    enum run_status prev, char *out, size_t outlen)
{
	struct store_run rec = { .job = j->name, .status = st };
	struct outbox_row rows[8];
	size_t i, k = notify_plan(n, &rec, j, prev, rows, 8);
	int len = 0;

	out[0] = '\0';
	for (i = 0; i < k; i++)
		len += snprintf(out + len, outlen - (size_t)len, "%s%s:%s",
		    i > 0 ? " " : "", rows[i].sink, rows[i].event);
}

#define ALL_CHANNELS	", \"notify\": {\"on\": [\"failure\", \"recovery\", " \
	"\"success\"], \"email\": [\"ops@example.org\"], \"webhook\": " \
	"{\"url\": \"http://127.0.0.1:1/x\"}, \"slack\": {\"url\": " \
	"\"http://127.0.0.1:1/y\"}}"

static void
test_plan_events(void **state)
{
	struct job_def *j = job("backup", ALL_CHANNELS);
	struct notify *n = notify_with(j);
	char got[256];

	(void)state;
	plan_text(n, j, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "email:failure webhook:failure slack:failure");
	plan_text(n, j, RUN_LOST, RUN_PENDING, got, sizeof(got));
	assert_string_equal(got, "email:failure webhook:failure slack:failure");
	plan_text(n, j, RUN_SUCCESS, RUN_FAILURE, got, sizeof(got));
	assert_string_equal(got,
	    "email:recovery webhook:recovery slack:recovery");
	plan_text(n, j, RUN_SUCCESS, RUN_LOST, got, sizeof(got));
	assert_string_equal(got,
	    "email:recovery webhook:recovery slack:recovery");
	plan_text(n, j, RUN_SUCCESS, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "email:success webhook:success slack:success");
	plan_text(n, j, RUN_SUCCESS, RUN_PENDING, got, sizeof(got));
	assert_string_equal(got, "email:success webhook:success slack:success");
	plan_text(n, j, RUN_STARTED, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");
	/* at most max rows */
	{
		struct store_run rec = { .job = j->name, .status = RUN_FAILURE };
		struct outbox_row rows[2];

		assert_int_equal(notify_plan(n, &rec, j, RUN_PENDING, rows, 2),
		    2);
	}
	notify_free(n);
	defs_job_unref(j);
}

/* The default events (failure, recovery), owners' mail, the config's
 * default notify, and no mail without SMTP. */
static void
test_plan_defaults(void **state)
{
	struct job_def *plain = job("plain", "");
	struct job_def *owned = job("owned", ", \"owners\": [{\"name\": \"Ann\","
	    " \"email_address\": \"ann@example.org\"}]");
	struct job_def *hook = job("hook", ", \"notify\": {\"webhook\": "
	    "{\"url\": \"http://127.0.0.1:1/x\"}}");
	struct job_notify dflt = { .on = DEFS_NOTIFY_DEFAULT,
	    .slack_url = "http://127.0.0.1:1/s" };
	struct notify *n = notify_with(plain);
	char got[256];

	(void)state;
	plan_text(n, plain, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");
	plan_text(n, owned, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "email:failure");
	plan_text(n, owned, RUN_SUCCESS, RUN_FAILURE, got, sizeof(got));
	assert_string_equal(got, "");	/* owners get failures only */
	plan_text(n, hook, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "webhook:failure");
	plan_text(n, hook, RUN_SUCCESS, RUN_FAILURE, got, sizeof(got));
	assert_string_equal(got, "webhook:recovery");
	plan_text(n, hook, RUN_SUCCESS, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");	/* success is not a default event */
	cfg.notify = &dflt;
	plan_text(n, plain, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "slack:failure");
	plan_text(n, hook, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "webhook:failure");	/* its own wins */
	cfg.notify = NULL;
	dflt.on = DEFS_NOTIFY_START | DEFS_NOTIFY_MISSED;	/* not sent yet */
	cfg.notify = &dflt;
	plan_text(n, plain, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");
	plan_text(n, plain, RUN_SUCCESS, RUN_FAILURE, got, sizeof(got));
	assert_string_equal(got, "");
	cfg.notify = NULL;
	cfg.smtp.url = NULL;
	plan_text(n, owned, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");
	notify_free(n);
	defs_job_unref(plain);
	defs_job_unref(owned);
	defs_job_unref(hook);
}

/* ---- e-mail ---- */

/* 30 numbered lines: the message shows lines 11 to 30. */
static char *
thirty_lines(void)
{
	struct buf b;
	int i;

	buf_init(&b, 4096);
	for (i = 1; i <= 30; i++)
		buf_printf(&b, "line %d of the output\n", i);
	return buf_steal(&b, NULL);
}

static void
test_email(void **state)
{
	struct job_def *j = job("backup", ", \"owners\": [{\"name\": \"Ann\", "
	    "\"email_address\": \"ann@example.org\"}], \"notify\": {\"email\": "
	    "[\"ops@example.org\", \"ann@example.org\"]}");
	struct notify *n = notify_with(j);
	char *out = thirty_lines(), *doc = report("backup", RUN_FAILURE, 2, 0,
	    out, T0);
	struct outbox_outcome o;
	json_object *m, *to;
	const char *data;
	size_t i;

	(void)state;
	assert_int_equal(deliver1(n, "email", "backup", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	m = mails(mail_out);
	assert_int_equal(json_object_array_length(m), 1);
	data = member(json_object_array_get_idx(m, 0), "data");
	assert_string_equal(member(json_object_array_get_idx(m, 0), "from"),
	    "cron@example.org");
	to = json_object_object_get(json_object_array_get_idx(m, 0), "to");
	assert_int_equal(json_object_array_length(to), 2);	/* once each */
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(to, 0)), "ops@example.org");
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(to, 1)), "ann@example.org");
	assert_non_null(strstr(data, "\r\nSubject: [distcron] FAILURE backup "
	    "on db1 (exit 2)\r\n"));
	assert_non_null(strstr(data, "From: <cron@example.org>\r\n"));
	assert_non_null(strstr(data, "\r\nDate: "));
	assert_non_null(strstr(data, " +0000\r\n"));
	assert_non_null(strstr(data, "\r\nMessage-ID: <distcron."));
	assert_non_null(strstr(data, "\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\n"));
	assert_non_null(strstr(data, "Node:      db1\r\n"));
	assert_non_null(strstr(data, "Exit code: 2\r\n"));
	assert_non_null(strstr(data, "Scheduled: 2025-12-06T05:46:40+00:00\r\n"));
	assert_non_null(strstr(data, "Started:   2025-12-06T05:46:41+00:00\r\n"));
	assert_non_null(strstr(data, "Stopped:   2025-12-06T05:46:42+00:00\r\n"));
	assert_non_null(strstr(data, "Duration:  1.5s\r\n"));
	assert_non_null(strstr(data, "line 11 of the output\r\n"));
	assert_non_null(strstr(data, "line 30 of the output\r\n"));
	assert_null(strstr(data, "line 10 of the output"));
	for (i = 1; data[i] != '\0'; i++)	/* no bare LF */
		if (data[i] == '\n' && data[i - 1] != '\r')
			fail_msg("bare LF at %zu", i);
	json_object_put(m);
	free(doc);
	free(out);
	notify_free(n);
	defs_job_unref(j);
}

/* A 10 MB output with bytes that are not UTF-8: the mail holds its tail
 * only, as valid text. */
static void
test_email_big_output(void **state)
{
	struct job_def *j = job("big", ", \"notify\": {\"email\": "
	    "[\"ops@example.org\"]}");
	struct notify *n = notify_with(j);
	size_t len = 10 * 1024 * 1024, i;
	char *out = malloc(len + 1), *doc;
	struct outbox_outcome o;
	json_object *m;
	const char *data;

	(void)state;
	assert_non_null(out);
	for (i = 0; i < len; i++)
		out[i] = i % 100 == 99 ? '\n' : i % 7 == 0 ? '\xfe' : 'x';
	out[len] = '\0';
	doc = report("big", RUN_FAILURE, 1, 0, out, T0);
	assert_int_equal(deliver1(n, "email", "big", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	m = mails(mail_out);
	assert_int_equal(json_object_array_length(m), 1);
	data = member(json_object_array_get_idx(m, 0), "data");
	assert_true(strlen(data) < 4096 + 1024);
	assert_null(strstr(data, "\xfe"));
	assert_non_null(strstr(data, "?xxxxxx?xxxxxx"));
	json_object_put(m);
	free(doc);
	free(out);
	notify_free(n);
	defs_job_unref(j);
}

/* STARTTLS and AUTH; a wrong password is retried and never shown. */
static void
test_email_starttls_auth(void **state)
{
	struct job_def *j = job("backup", ", \"notify\": {\"email\": "
	    "[\"ops@example.org\"]}");
	char *doc = report("backup", RUN_LOST, -1, 9, "", T0);
	char user[] = "u", pw[] = PASSWORD, bad[] = "wrong-PW-42";
	struct outbox_outcome o;
	struct notify *n;
	json_object *m;
	char want[256];

	(void)state;
	snprintf(smtp_url, sizeof(smtp_url), "smtp://localhost:%d",
	    smtps_port);
	cfg.smtp.username = user;
	cfg.smtp.password = pw;
	cfg.smtp.starttls = CONFIG_STARTTLS_ALWAYS;
	cfg.smtp.ca_file = fx.cert;
	n = notify_with(j);
	assert_int_equal(deliver1(n, "email", "backup", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	m = mails(mails_out);
	assert_int_equal(json_object_array_length(m), 1);
	assert_true(json_object_get_boolean(json_object_object_get(
	    json_object_array_get_idx(m, 0), "tls")));
	assert_string_equal(member(json_object_array_get_idx(m, 0), "auth"),
	    "u");
	assert_non_null(strstr(member(json_object_array_get_idx(m, 0),
	    "data"), "Subject: [distcron] LOST backup on db1 (signal 9)\r\n"));
	json_object_put(m);

	cfg.smtp.password = bad;
	fake_now += 120000;	/* past the interval */
	assert_int_equal(deliver1(n, "email", "backup", "failure", doc, &o),
	    OUTBOX_PARK);	/* 535: a wrong password is not retried */
	snprintf(want, sizeof(want), "the mail server at smtp://localhost:%d "
	    "refused the credentials", smtps_port);
	if (strstr(o.why, want) == NULL)
		fail_msg("why: %s", o.why);
	assert_null(strstr(o.why, bad));
	m = mails(mails_out);
	assert_int_equal(json_object_array_length(m), 1);
	json_object_put(m);
	free(doc);
	notify_free(n);
	defs_job_unref(j);
}

/* ---- webhook and Slack ---- */

static struct job_def *
hook_job(const char *name, const char *path)
{
	char extra[512];

	snprintf(extra, sizeof(extra), ", \"notify\": {\"webhook\": {\"url\": "
	    "\"http://127.0.0.1:%d%s\", \"headers\": {\"X-Token\": \"tok1\"}},"
	    " \"slack\": {\"url\": \"http://127.0.0.1:%d%s\"}}",
	    fx.plain_port, path, fx.plain_port, path);
	return job(name, extra);
}

/* The value of header name in a recorded request, or NULL. */
static const char *
header_of(json_object *req, const char *name)
{
	json_object *h = json_object_object_get(req, "headers"), *kv;
	size_t i;

	for (i = 0; i < json_object_array_length(h); i++) {
		kv = json_object_array_get_idx(h, i);
		if (strcasecmp(json_object_get_string(
		    json_object_array_get_idx(kv, 0)), name) == 0)
			return json_object_get_string(
			    json_object_array_get_idx(kv, 1));
	}
	return NULL;
}

static void
test_webhook(void **state)
{
	struct job_def *j = hook_job("backup", "/record/hook");
	struct notify *n = notify_with(j);
	char *doc = report("backup", RUN_FAILURE, 2, 0, "bad \xff byte\n", T0);
	struct outbox_outcome o;
	json_object *reqs, *body;

	(void)state;
	assert_int_equal(deliver1(n, "webhook", "backup", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	body = only_body("hook", &reqs);
	assert_string_equal(member(json_object_array_get_idx(reqs, 0),
	    "method"), "POST");
	assert_string_equal(header_of(json_object_array_get_idx(reqs, 0),
	    "X-Token"), "tok1");
	assert_string_equal(header_of(json_object_array_get_idx(reqs, 0),
	    "Content-Type"), "application/json");
	assert_string_equal(member(body, "job"), "backup");
	assert_string_equal(member(body, "status"), "FAILURE");
	assert_string_equal(member(body, "event"), "failure");
	assert_int_equal(json_object_get_int(json_object_object_get(body,
	    "exit_code")), 2);
	assert_string_equal(member(json_object_array_get_idx(
	    json_object_object_get(body, "items"), 0), "output"),
	    "bad ? byte\n");
	json_object_put(body);
	json_object_put(reqs);
	free(doc);
	notify_free(n);
	defs_job_unref(j);
}

/* 400, 401, 403 and 404 park, 408, 429, 500 and 503 retry, a refused
 * connection retries; messages name the peer, never the query. */
static void
test_webhook_statuses(void **state)
{
	static const struct { const char *path; enum outbox_result res; }
	    cases[] = {
		{ "/record/st-400?token=QQ", OUTBOX_PARK },
		{ "/record/st-401", OUTBOX_PARK },	/* credentials */
		{ "/record/st-403", OUTBOX_PARK },
		{ "/record/st-404", OUTBOX_PARK },
		{ "/record/st-500", OUTBOX_RETRY },
		{ "/record/st-408", OUTBOX_RETRY },
		{ "/record/st-429", OUTBOX_RETRY },
		{ "/record/st-503", OUTBOX_RETRY },
		{ "/record/st-204", OUTBOX_DELIVERED },
	};
	char *doc = report("backup", RUN_FAILURE, 2, 0, "", T0), want[256];
	struct outbox_outcome o;
	struct job_def *j;
	struct notify *n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = hook_job("backup", cases[i].path);
		n = notify_with(j);
		assert_int_equal(deliver1(n, "webhook", "backup", "failure",
		    doc, &o), cases[i].res);
		assert_null(strstr(o.why, "QQ"));
		notify_free(n);
		defs_job_unref(j);
	}
	j = hook_job("backup", "/record/st-400?token=QQ");
	n = notify_with(j);
	assert_int_equal(deliver1(n, "webhook", "backup", "failure", doc, &o),
	    OUTBOX_PARK);
	snprintf(want, sizeof(want), "webhook at http://127.0.0.1:%d/record/"
	    "st-400: HTTP 400", fx.plain_port);
	assert_string_equal(o.why, want);
	/* Slack's URL is its token: shown without the path */
	assert_int_equal(deliver1(n, "slack", "backup", "failure", doc, &o),
	    OUTBOX_PARK);
	snprintf(want, sizeof(want), "slack at http://127.0.0.1:%d: HTTP 400",
	    fx.plain_port);
	assert_string_equal(o.why, want);
	notify_free(n);
	defs_job_unref(j);
	snprintf(want, sizeof(want), ", \"notify\": {\"webhook\": {\"url\": "
	    "\"http://127.0.0.1:%d/x\"}}", fx.refused_port);
	j = job("backup", want);
	n = notify_with(j);
	assert_int_equal(deliver1(n, "webhook", "backup", "failure", doc, &o),
	    OUTBOX_RETRY);
	assert_non_null(strstr(o.why, "cannot reach webhook at "));
	notify_free(n);
	defs_job_unref(j);
	free(doc);
}

static void
test_slack(void **state)
{
	struct job_def *j = hook_job("backup", "/record/slack");
	struct notify *n = notify_with(j);
	char *doc = report("backup", RUN_FAILURE, 2, 0,
	    "a <b> & c\nlast line\n", T0);
	struct outbox_outcome o;
	json_object *reqs, *body;

	(void)state;
	assert_int_equal(deliver1(n, "slack", "backup", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	body = only_body("slack", &reqs);
	assert_int_equal(json_object_object_length(body), 1);
	assert_string_equal(member(body, "text"),
	    "*FAILURE* backup on db1 (exit 2), took 1.5s\n"
	    "db1:\n```\na &lt;b&gt; &amp; c\nlast line\n```");
	assert_null(header_of(json_object_array_get_idx(reqs, 0), "X-Token"));
	json_object_put(body);
	json_object_put(reqs);
	free(doc);
	notify_free(n);
	defs_job_unref(j);
}

/* A run of cluster mode: the mail says which member ran it under which
 * fence, the subject and Slack show the fence beside the exit code or
 * signal. */
static void
test_cluster_fields(void **state)
{
	struct job_def *j;
	struct notify *n;
	char *doc, *sig, extra[256];
	struct outbox_outcome o;
	json_object *m, *reqs, *body;
	const char *data;

	(void)state;
	snprintf(extra, sizeof(extra), ", \"notify\": {\"email\": "
	    "[\"ops@example.org\"], \"slack\": {\"url\": "
	    "\"http://127.0.0.1:%d/record/slackfence\"}}", fx.plain_port);
	n = notify_with(j = job("backup", extra));
	report_member = "host-a:7";
	report_fence = 42;
	doc = report("backup", RUN_FAILURE, 2, 0, "x\n", T0);
	sig = report("backup", RUN_FAILURE, -1, 9, "", T0);
	report_member = NULL;
	report_fence = 0;
	assert_int_equal(deliver1(n, "email", "backup", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	m = mails(mail_out);
	data = member(json_object_array_get_idx(m, 0), "data");
	assert_non_null(strstr(data, "\r\nSubject: [distcron] FAILURE backup "
	    "on db1 (exit 2, fence 42)\r\n"));
	assert_non_null(strstr(data, "Member:    host-a:7\r\n"));
	assert_non_null(strstr(data, "Fence:     42\r\n"));
	json_object_put(m);
	assert_int_equal(deliver1(n, "slack", "backup", "failure", sig, &o),
	    OUTBOX_DELIVERED);
	body = only_body("slackfence", &reqs);
	assert_string_equal(member(body, "text"),
	    "*FAILURE* backup on db1 (signal 9, fence 42), took 1.5s");
	json_object_put(body);
	json_object_put(reqs);
	free(doc);
	free(sig);
	notify_free(n);
	defs_job_unref(j);
}

/* ---- coalescing ---- */

/* A message at T0, then 10 failures inside the interval: each LATER until
 * the interval ends; then delivered together as one message. */
static void
test_burst(void **state)
{
	struct job_def *j = job("backup", ", \"notify\": {\"email\": "
	    "[\"ops@example.org\"]}");
	struct notify *n = notify_with(j);
	struct notify_sink s = sink(n, "email");
	struct outbox_entry e[10];
	struct outbox_outcome o[10];
	char *docs[10], *first = report("backup", RUN_FAILURE, 1, 0, "", T0);
	json_object *m;
	const char *data;
	size_t i;

	(void)state;
	assert_int_equal(deliver1(n, "email", "backup", "failure", first,
	    &o[0]), OUTBOX_DELIVERED);
	for (i = 0; i < 10; i++) {
		docs[i] = report("backup", RUN_FAILURE, (int)i + 3, 0, "",
		    T0 + 5 + 5 * (int64_t)i);
		e[i] = (struct outbox_entry){ .id = 100 + (int64_t)i,
		    .run_id = 2 + (int64_t)i, .job = "backup",
		    .scheduled_at = T0 + 5 + 5 * (int64_t)i,
		    .event = "failure", .doc = docs[i] };
		fake_now = (T0 + 6 + 5 * (int64_t)i) * 1000;
		assert_int_equal(s.ops->deliver(s.arg, &e[i], 1, &o[i]), 0);
		assert_int_equal(o[i].result, OUTBOX_LATER);
		assert_int_equal(o[i].not_before_ms, (T0 + 60) * 1000);
	}
	m = mails(mail_out);
	assert_int_equal(json_object_array_length(m), 1);
	json_object_put(m);
	fake_now = (T0 + 60) * 1000;
	assert_int_equal(s.ops->deliver(s.arg, e, 10, o), 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(o[i].result, OUTBOX_DELIVERED);
	m = mails(mail_out);
	assert_int_equal(json_object_array_length(m), 2);
	data = member(json_object_array_get_idx(m, 1), "data");
	assert_non_null(strstr(data, "\r\n\r\n10 failures since 05:46:45 UTC; "
	    "latest:\r\n\r\nJob:       backup\r\n"));
	assert_non_null(strstr(data, "Subject: [distcron] FAILURE backup on "
	    "db1 (exit 12)\r\n"));
	json_object_put(m);
	/* and the next one waits for the interval again */
	fake_now += 1000;
	assert_int_equal(deliver1(n, "email", "backup", "failure", first,
	    &o[0]), OUTBOX_LATER);
	for (i = 0; i < 10; i++)
		free(docs[i]);
	free(first);
	notify_free(n);
	defs_job_unref(j);
}

/* Webhook and Slack say what a coalesced message stands for too. */
static void
test_burst_webhook_slack(void **state)
{
	struct job_def *j = hook_job("backup", "/record/burst");
	struct notify *n = notify_with(j);
	struct notify_sink hook = sink(n, "webhook"), slack = sink(n, "slack");
	struct outbox_entry e[3];
	struct outbox_outcome o[3];
	char *docs[3];
	json_object *reqs, *body, *c;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		docs[i] = report("backup", RUN_FAILURE, 1, 0, "",
		    T0 + 10 * (int64_t)i);
		e[i] = (struct outbox_entry){ .id = 10 + (int64_t)i,
		    .run_id = 1 + (int64_t)i, .job = "backup",
		    .scheduled_at = T0 + 10 * (int64_t)i, .event = "failure",
		    .doc = docs[i] };
	}
	assert_int_equal(hook.ops->deliver(hook.arg, e, 3, o), 0);
	assert_int_equal(slack.ops->deliver(slack.arg, e, 3, o), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(o[i].result, OUTBOX_DELIVERED);
	reqs = recorded("burst");
	assert_int_equal(json_object_array_length(reqs), 2);
	body = json_tokener_parse(member(json_object_array_get_idx(reqs, 0),
	    "body"));
	assert_int_equal(json_object_get_int64(json_object_object_get(body,
	    "id")), 21);	/* the latest run: T0 + 20 */
	c = json_object_object_get(body, "coalesced");
	assert_int_equal(json_object_get_int(json_object_object_get(c,
	    "count")), 3);
	assert_string_equal(member(c, "since"), "2025-12-06T05:46:40Z");
	json_object_put(body);
	body = json_tokener_parse(member(json_object_array_get_idx(reqs, 1),
	    "body"));
	assert_string_equal(member(body, "text"), "3 failures since 05:46:40 "
	    "UTC; latest: *FAILURE* backup on db1 (exit 1), took 1.5s");
	json_object_put(body);
	json_object_put(reqs);
	for (i = 0; i < 3; i++)
		free(docs[i]);
	notify_free(n);
	defs_job_unref(j);
}

/* An entry of a job no longer defined is parked; a doc that is no report
 * too. */
static void
test_unknown_job_and_bad_doc(void **state)
{
	struct job_def *j = hook_job("backup", "/record/none");
	struct notify *n = notify_with(j);
	struct outbox_outcome o;

	(void)state;
	assert_int_equal(deliver1(n, "webhook", "gone", "failure", "{}", &o),
	    OUTBOX_PARK);
	assert_string_equal(o.why, "job gone is no longer defined");
	assert_int_equal(deliver1(n, "webhook", "backup", "failure", "[1]",
	    &o), OUTBOX_PARK);
	assert_string_equal(o.why, "entry 7: not a run report");
	notify_free(n);
	defs_job_unref(j);
}

/* ---- starts and missed ticks ---- */

/* A run that launched is "start", a tick that did not start "missed",
 * each only when the job's "on" has it. */
static void
test_plan_start_missed(void **state)
{
	struct job_def *j = job("backup", ", \"notify\": {\"on\": [\"start\", "
	    "\"missed\"], \"webhook\": {\"url\": \"http://127.0.0.1:1/x\"}}");
	struct job_def *d = job("plain", ", \"notify\": {\"webhook\": "
	    "{\"url\": \"http://127.0.0.1:1/x\"}}");
	struct store_run missed = { .job = "backup", .scheduled_at = T0,
	    .status = RUN_PENDING, .missed = 2 };
	struct outbox_row rows[8];
	struct notify *n = notify_with(j);
	char got[256];

	(void)state;
	plan_text(n, j, RUN_STARTED, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "webhook:start");
	assert_int_equal(notify_plan(n, &missed, j, RUN_SUCCESS, rows, 8), 1);
	assert_string_equal(rows[0].event, "missed");
	plan_text(n, j, RUN_FAILURE, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");		/* not asked */
	plan_text(n, d, RUN_STARTED, RUN_SUCCESS, got, sizeof(got));
	assert_string_equal(got, "");		/* default: failure, recovery */
	missed.job = "plain";
	assert_int_equal(notify_plan(n, &missed, d, RUN_SUCCESS, rows, 8), 0);
	notify_free(n);
	defs_job_unref(j);
	defs_job_unref(d);
}

/* A missed tick's document, as the outbox renders it when planned. */
static char *
missed_doc(int64_t tick, int count)
{
	char *s;

	assert_true(asprintf(&s, "{\"id\": 0, \"job\": \"backup\", "
	    "\"scheduled_at\": \"x\", \"status\": \"MISSED\", \"items\": [], "
	    "\"event\": \"missed\", \"trigger\": \"schedule\", \"missed\": "
	    "{\"count\": %d, \"reason\": \"the previous run is still running "
	    "(concurrency: forbid)\", \"tick\": \"@%lld\"}}", count,
	    (long long)tick) > 0);
	return s;
}

/* Missed entries due together are one message counting the ticks they
 * stand for (2 + 3), saying which tick and why. */
static void
test_missed_message(void **state)
{
	struct job_def *j = job("backup", ", \"notify\": {\"on\": [\"missed\"], "
	    "\"email\": [\"ops@example.org\"]}");
	struct notify *n = notify_with(j);
	struct notify_sink s = sink(n, "email");
	char *d1 = missed_doc(T0, 2), *d2 = missed_doc(T0 + 60, 3);
	struct outbox_entry e[2] = {
	    { .id = 1, .job = "backup", .scheduled_at = T0, .event = "missed",
	      .doc = d1 },
	    { .id = 2, .job = "backup", .scheduled_at = T0 + 60,
	      .event = "missed", .doc = d2 } };
	struct outbox_outcome o[2];
	const char *data;
	json_object *m;
	char want[128];

	(void)state;
	assert_int_equal(s.ops->deliver(s.arg, e, 2, o), 0);
	assert_int_equal(o[0].result, OUTBOX_DELIVERED);
	assert_int_equal(o[1].result, OUTBOX_DELIVERED);
	m = mails(mail_out);
	assert_int_equal(json_object_array_length(m), 1);
	data = member(json_object_array_get_idx(m, 0), "data");
	snprintf(want, sizeof(want), "\r\nSubject: [distcron] MISSED backup at "
	    "@%lld\r\n", (long long)(T0 + 60));
	if (strstr(data, want) == NULL ||
	    strstr(data, "\r\n5 missed ticks since ") == NULL ||
	    strstr(data, "\r\nWhy:       the previous run is still running "
	    "(concurrency: forbid)\r\n") == NULL ||
	    strstr(data, "Node:") != NULL)	/* no run, no node */
		fail_msg("mail: %s", data);
	json_object_put(m);
	free(d1);
	free(d2);
	notify_free(n);
	defs_job_unref(j);
}

/* An entry its job does not ask for on a channel (the "failure" the
 * store's recovery gives every LOST run) is delivered without a message;
 * one it asks for is sent. */
static void
test_unwanted_dropped(void **state)
{
	char extra[256];
	struct job_def *j;
	struct notify *n;
	char *doc = report("quiet", RUN_LOST, -1, 0, "", T0);
	struct outbox_outcome o;
	json_object *reqs;

	(void)state;
	snprintf(extra, sizeof(extra), ", \"notify\": {\"on\": [\"success\"], "
	    "\"webhook\": {\"url\": \"http://127.0.0.1:%d/record/quiet\"}}",
	    fx.plain_port);
	j = job("quiet", extra);
	n = notify_with(j);
	assert_int_equal(deliver1(n, "webhook", "quiet", "failure", doc, &o),
	    OUTBOX_DELIVERED);
	assert_int_equal(deliver1(n, "slack", "quiet", "success", doc, &o),
	    OUTBOX_DELIVERED);	/* no Slack channel at all */
	reqs = recorded("quiet");
	assert_int_equal(json_object_array_length(reqs), 0);
	json_object_put(reqs);
	assert_int_equal(deliver1(n, "webhook", "quiet", "success", doc, &o),
	    OUTBOX_DELIVERED);
	reqs = recorded("quiet");
	assert_int_equal(json_object_array_length(reqs), 1);
	json_object_put(reqs);
	free(doc);
	notify_free(n);
	defs_job_unref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plan_events, setup),
		cmocka_unit_test_setup(test_plan_defaults, setup),
		cmocka_unit_test_setup(test_email, setup),
		cmocka_unit_test_setup(test_email_big_output, setup),
		cmocka_unit_test_setup(test_email_starttls_auth, setup),
		cmocka_unit_test_setup(test_webhook, setup),
		cmocka_unit_test_setup(test_webhook_statuses, setup),
		cmocka_unit_test_setup(test_slack, setup),
		cmocka_unit_test_setup(test_cluster_fields, setup),
		cmocka_unit_test_setup(test_burst, setup),
		cmocka_unit_test_setup(test_burst_webhook_slack, setup),
		cmocka_unit_test_setup(test_unknown_job_and_bad_doc, setup),
		cmocka_unit_test_setup(test_plan_start_missed, setup),
		cmocka_unit_test_setup(test_missed_message, setup),
		cmocka_unit_test_setup(test_unwanted_dropped, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
