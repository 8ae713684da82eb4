/*
 * test_defs.c - job and node definitions: distcrond's README examples,
 * every extension field and its default, exact error messages, warnings for
 * unknown fields, loading directories (bad files skipped and reported,
 * results sorted, cross-checks), digests and reference counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/sched.h"
#include "distcron/tz.h"

#define MAXDIAG	16

struct diags {
	int n;
	struct {
		char level[16];
		char file[512];
		char msg[512];
	} d[MAXDIAG];
};

static void
collect(void *arg, const char *level, const char *file, const char *msg)
{
	struct diags *ds = arg;

	assert_true(ds->n < MAXDIAG);
	snprintf(ds->d[ds->n].level, sizeof(ds->d[0].level), "%s", level);
	snprintf(ds->d[ds->n].file, sizeof(ds->d[0].file), "%s", file);
	snprintf(ds->d[ds->n].msg, sizeof(ds->d[0].msg), "%s", msg);
	ds->n++;
}

/* Index of the diagnostic with this level, file and message, or -1. */
static int
find_diag(const struct diags *ds, const char *level, const char *file,
    const char *msg)
{
	int i;

	for (i = 0; i < ds->n; i++)
		if (strcmp(ds->d[i].level, level) == 0 &&
		    strcmp(ds->d[i].file, file) == 0 &&
		    strcmp(ds->d[i].msg, msg) == 0)
			return i;
	return -1;
}

static const struct tz *
zone(const char *name)
{
	const struct tz *z = NULL;
	const char *errstr = NULL;

	assert_int_equal(tz_get(name, &z, &errstr), 0);
	return z;
}

static int64_t
iso(const char *s)
{
	const char *errstr = NULL;
	int64_t t = 0;

	assert_int_equal(tz_parse_iso8601(zone("UTC"), s, &t, &errstr), 0);
	return t;
}

/* Parses a job that must load; warnings go to ds (may be NULL). */
static struct job_def *
job_ok(const char *text, struct diags *ds)
{
	struct job_def *job = NULL;
	char err[512] = "";
	int r;

	r = defs_job_parse("job1", text, strlen(text), zone("UTC"), &job, err,
	    sizeof(err), ds ? collect : NULL, ds);
	if (r != 0)
		fail_msg("unexpected error %d: %s", r, err);
	assert_non_null(job);
	return job;
}

/* Parses a job that must fail with exactly this message. */
static void
job_err(const char *text, const char *want)
{
	struct job_def *job = (struct job_def *)1;
	char err[512] = "";
	int r;

	r = defs_job_parse("job1", text, strlen(text), zone("UTC"), &job, err,
	    sizeof(err), NULL, NULL);
	assert_true(r < 0);
	assert_null(job);
	assert_string_equal(err, want);
}

static struct node_def *
node_ok(const char *text, struct diags *ds)
{
	struct node_def *node = NULL;
	char err[512] = "";
	int r;

	r = defs_node_parse("node1", text, strlen(text), &node, err,
	    sizeof(err), ds ? collect : NULL, ds);
	if (r != 0)
		fail_msg("unexpected error %d: %s", r, err);
	assert_non_null(node);
	return node;
}

static void
node_err(const char *text, const char *want)
{
	struct node_def *node = (struct node_def *)1;
	char err[512] = "";

	assert_true(defs_node_parse("node1", text, strlen(text), &node, err,
	    sizeof(err), NULL, NULL) < 0);
	assert_null(node);
	assert_string_equal(err, want);
}

static size_t
strv_len(char **sv)
{
	size_t n = 0;

	while (sv != NULL && sv[n] != NULL)
		n++;
	return n;
}

/* A valid job with the given extra members spliced in. */
#define JOB(extra) "{\"policy\": {\"roles\": [\"web\"]}, " \
	"\"schedule\": {\"interval\": \"10m\"}, " \
	"\"command\": [\"/bin/true\"]" extra "}"
/* The same without a command. */
#define JOB_NOCMD(extra) "{\"policy\": {\"roles\": [\"web\"]}, " \
	"\"schedule\": {\"interval\": \"10m\"}" extra "}"

/* ---- distcrond's README ---- */

static const char readme_ssh_node[] =
"{\n"
"    \"roles\": [\"role1\", \"role2\"],\n"
"    \"connection_type\": \"ssh\",\n"
"    \"connection_options\": {\n"
"        \"ssh_user\": \"mhelmich\",\n"
"        \"ssh_host\": \"your.remote.host:22\",\n"
"        \"ssh_private_key_file\": \"/home/mhelmich/.ssh/id_rsa\"\n"
"    }\n"
"}\n";

static const char readme_local_node[] =
"{\n"
"    \"roles\": [\"role1\", \"role2\"],\n"
"    \"connection_type\": \"local\"\n"
"}\n";

static const char readme_job[] =
"{\n"
"    \"description\": \"Do something!\",\n"
"    \"owners\": [\n"
"        {\n"
"            \"name\": \"Martin Helmich\",\n"
"            \"email_address\": \"kontakt@martin-helmich.de\"\n"
"        }\n"
"    ],\n"
"    \"policy\": {\n"
"        \"hosts\": \"any\",\n"
"        \"roles\": [\"web\", \"db\"]\n"
"    },\n"
"    \"schedule\": {\n"
"        \"interval\": \"10m\",\n"
"        \"reference\": \"03:10\"\n"
"    },\n"
"    \"command\": [\"/usr/bin/rm\", \"-r\", \"-f\", \"/\"]\n"
"}\n";

static void
test_readme_nodes(void **state)
{
	struct diags ds = { 0 };
	struct node_def *n;

	n = node_ok(readme_ssh_node, &ds);
	assert_int_equal(ds.n, 0);
	assert_string_equal(n->name, "node1");
	assert_int_equal(strv_len(n->roles), 2);
	assert_string_equal(n->roles[0], "role1");
	assert_string_equal(n->roles[1], "role2");
	assert_int_equal(n->conn, NODE_SSH);
	assert_string_equal(n->ssh_user, "mhelmich");
	assert_string_equal(n->ssh_host, "your.remote.host");
	assert_int_equal(n->ssh_port, 22);
	assert_string_equal(n->ssh_private_key_file,
	    "/home/mhelmich/.ssh/id_rsa");
	/* extension defaults */
	assert_string_equal(n->ssh_known_hosts_file,
	    SYSCONFDIR "/distcron/known_hosts");
	assert_null(n->ssh_host_key);
	assert_null(n->ssh_private_key_passphrase_file);
	assert_string_equal(n->ssh_host_key_policy, "strict");
	assert_int_equal(n->connect_timeout_ms, 10000);
	assert_int_equal(n->max_sessions, 8);
	assert_true(n->enabled);
	assert_int_equal(n->max_concurrent_runs, 0);
	defs_node_free(n);

	n = node_ok(readme_local_node, &ds);
	assert_int_equal(ds.n, 0);
	assert_int_equal(n->conn, NODE_LOCAL);
	assert_int_equal(strv_len(n->roles), 2);
	assert_null(n->ssh_user);
	assert_null(n->ssh_host);
	assert_true(n->enabled);
	defs_node_free(n);
}

static void
test_readme_job(void **state)
{
	struct diags ds = { 0 };
	struct job_def *j;
	int64_t next = 0;

	j = job_ok(readme_job, &ds);
	assert_int_equal(ds.n, 0);
	assert_string_equal(j->name, "job1");
	assert_string_equal(j->description, "Do something!");
	assert_int_equal(j->nowners, 1);
	assert_string_equal(j->owners[0].name, "Martin Helmich");
	assert_string_equal(j->owners[0].email_address,
	    "kontakt@martin-helmich.de");
	assert_int_equal(j->hosts, JOB_HOSTS_ANY);
	assert_int_equal(strv_len(j->roles), 2);
	assert_string_equal(j->roles[0], "web");
	assert_string_equal(j->roles[1], "db");
	assert_null(j->nodes);
	assert_int_equal(strv_len(j->argv), 4);
	assert_string_equal(j->argv[0], "/usr/bin/rm");
	assert_string_equal(j->argv[3], "/");
	assert_null(j->shell);
	assert_null(j->http);
	assert_null(j->env);
	assert_ptr_equal(j->zone, zone("UTC"));
	/* 10 minutes aligned to 03:10: ticks at :00, :10, ... */
	assert_non_null(j->sched);
	assert_int_equal(sched_next(j->sched, iso("2026-01-05T12:01:00Z"),
	    &next), 0);
	assert_int_equal(next, iso("2026-01-05T12:10:00Z"));
	/* defaults of the extensions */
	assert_int_equal(j->timeout_ms, 0);
	assert_int_equal(j->kill_grace_ms, DEFS_KILL_GRACE_MS);
	assert_true(j->enabled);
	assert_int_equal(j->concurrency, JOB_CONC_FORBID);
	assert_int_equal(j->retries, 0);
	assert_int_equal(j->retry_backoff_ms, DEFS_RETRY_BACKOFF_MS);
	assert_int_equal(j->missed, JOB_MISSED_SKIP);
	assert_int_equal(j->missed_max_age_ms, 0);
	assert_int_equal(j->start_at, 0);
	assert_int_equal(j->expires_at, 0);
	assert_int_equal(j->max_runs, 0);
	assert_int_equal(j->output_limit, DEFS_OUTPUT_LIMIT);
	assert_int_equal(j->retention, DEFS_RETENTION);
	assert_null(j->working_dir);
	assert_int_equal(j->refs, 1);
	defs_job_unref(j);
}

/* ---- extensions ---- */

static const char full_job[] =
"{\"description\": \"nightly\",\n"
" \"policy\": {\"hosts\": \"all\", \"nodes\": [\"n1\", \"n2\"]},\n"
" \"schedule\": {\"cron\": \"30 2 * * *\", \"timezone\": \"Europe/Berlin\"},\n"
" \"command\": \"pg_dump db | gzip > /backup/db.gz\",\n"
" \"environment\": {\"PGUSER\": \"backup\", \"N\": 5, \"RATIO\": 1.5},\n"
" \"timeout\": \"1h30m\", \"kill_grace\": 5, \"working_dir\": \"/srv\",\n"
" \"enabled\": false, \"concurrency\": \"replace\", \"retries\": 3,\n"
" \"retry_backoff\": \"2m\", \"missed\": \"run_once\",\n"
" \"missed_max_age\": \"6h\", \"start_at\": \"2026-01-01T00:00:00\",\n"
" \"expires_at\": \"2026-06-30T12:00:00+02:00\", \"max_runs\": 50,\n"
" \"output_limit\": \"512k\", \"retention\": 10}\n";

static void
test_job_extensions(void **state)
{
	struct diags ds = { 0 };
	struct job_def *j;
	int64_t next = 0;

	j = job_ok(full_job, &ds);
	assert_int_equal(ds.n, 0);
	assert_int_equal(j->hosts, JOB_HOSTS_ALL);
	assert_null(j->roles);
	assert_int_equal(strv_len(j->nodes), 2);
	assert_string_equal(j->nodes[1], "n2");
	assert_string_equal(tz_name(j->zone), "Europe/Berlin");
	/* 02:30 in Berlin (CET, UTC+1) */
	assert_int_equal(sched_next(j->sched, iso("2026-01-10T12:00:00Z"),
	    &next), 0);
	assert_int_equal(next, iso("2026-01-11T01:30:00Z"));
	assert_null(j->argv);
	assert_string_equal(j->shell, "pg_dump db | gzip > /backup/db.gz");
	assert_int_equal(strv_len(j->env), 3);
	assert_string_equal(j->env[0], "PGUSER=backup");
	assert_string_equal(j->env[1], "N=5");
	assert_string_equal(j->env[2], "RATIO=1.5");
	assert_int_equal(j->timeout_ms, 5400 * 1000);
	assert_int_equal(j->kill_grace_ms, 5000);
	assert_string_equal(j->working_dir, "/srv");
	assert_false(j->enabled);
	assert_int_equal(j->concurrency, JOB_CONC_REPLACE);
	assert_int_equal(j->retries, 3);
	assert_int_equal(j->retry_backoff_ms, 120 * 1000);
	assert_int_equal(j->missed, JOB_MISSED_RUN_ONCE);
	assert_int_equal(j->missed_max_age_ms, 6 * 3600 * 1000);
	/* local to the job's zone, unless an offset is given */
	assert_int_equal(j->start_at, iso("2025-12-31T23:00:00Z"));
	assert_int_equal(j->expires_at, iso("2026-06-30T10:00:00Z"));
	assert_int_equal(j->max_runs, 50);
	assert_int_equal(j->output_limit, 512 * 1024);
	assert_int_equal(j->retention, 10);
	defs_job_unref(j);
}

static void
test_interval_reference_and_zone(void **state)
{
	struct job_def *j;
	int64_t next = 0;

	j = job_ok("{\"policy\": {\"roles\": [\"web\"]}, \"command\": [\"/x\"],"
	    " \"schedule\": {\"interval\": 600, \"reference\": \"03:07:30\","
	    " \"timezone\": \"Europe/Berlin\"}}", NULL);
	assert_string_equal(tz_name(j->zone), "Europe/Berlin");
	assert_int_equal(sched_next(j->sched, iso("2026-01-05T12:00:00Z"),
	    &next), 0);
	assert_int_equal(next, iso("2026-01-05T12:07:30Z"));
	defs_job_unref(j);

	/* a bare string is a cron expression; a default zone applies */
	j = job_ok("{\"policy\": {\"roles\": [\"web\"]}, \"command\": [\"/x\"],"
	    " \"schedule\": \"*/5 * * * *\"}", NULL);
	assert_ptr_equal(j->zone, zone("UTC"));
	assert_int_equal(sched_next(j->sched, iso("2026-01-05T12:01:00Z"),
	    &next), 0);
	assert_int_equal(next, iso("2026-01-05T12:05:00Z"));
	defs_job_unref(j);
}

static void
test_output_limit_units(void **state)
{
	static const struct { const char *json; size_t want; } cases[] = {
		{ JOB(", \"output_limit\": 2048"), 2048 },
		{ JOB(", \"output_limit\": \"1M\""), 1024 * 1024 },
		{ JOB(", \"output_limit\": \"1MiB\""), 1024 * 1024 },
		{ JOB(", \"output_limit\": \"64KB\""), 64 * 1024 },
		{ JOB(", \"output_limit\": \"64kb\""), 64 * 1024 },
		{ JOB(", \"output_limit\": \"64M\""), 64 * 1024 * 1024 },
		{ JOB(", \"output_limit\": \"1k\""), 1024 },
	};
	struct job_def *j;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = job_ok(cases[i].json, NULL);
		assert_int_equal(j->output_limit, cases[i].want);
		defs_job_unref(j);
	}
}

static void
test_http_job(void **state)
{
	struct job_def *j;

	j = job_ok(JOB_NOCMD(", \"http\": {"
	    "\"url\": \"https://example.org/hook\", \"method\": \"POST\", "
	    "\"headers\": {\"X-Token\": \"abc\","
	    " \"Content-Type\": \"application/json\"}, \"body\": \"{}\","
	    " \"timeout\": \"15s\", \"expect_status\": [200, 204],"
	    " \"tls_verify\": false}"), NULL);
	assert_null(j->argv);
	assert_null(j->shell);
	assert_non_null(j->http);
	assert_string_equal(j->http->url, "https://example.org/hook");
	assert_string_equal(j->http->method, "POST");
	assert_int_equal(strv_len(j->http->headers), 2);
	assert_string_equal(j->http->headers[0], "X-Token: abc");
	assert_string_equal(j->http->headers[1],
	    "Content-Type: application/json");
	assert_string_equal(j->http->body, "{}");
	assert_int_equal(j->http->timeout_ms, 15000);
	assert_int_equal(j->http->nexpect_status, 2);
	assert_int_equal(j->http->expect_status[1], 204);
	assert_false(j->http->tls_verify);
	defs_job_unref(j);

	j = job_ok(JOB_NOCMD(", \"http\": "
	    "{\"url\": \"http://127.0.0.1:8080/\"}"), NULL);
	assert_string_equal(j->http->method, "GET");
	assert_int_equal(strv_len(j->http->headers), 0);
	assert_null(j->http->body);
	assert_int_equal(j->http->timeout_ms, 0);
	assert_int_equal(j->http->nexpect_status, 1);
	assert_int_equal(j->http->expect_status[0], 200);
	assert_true(j->http->tls_verify);
	defs_job_unref(j);
}

/* AMQP jobs: every field, the defaults (a tick's exchange "hacron"), and
 * bad fields named by their path. */
static void
test_amqp_job(void **state)
{
	struct job_def *j;

	(void)state;
	j = job_ok(JOB_NOCMD(", \"amqp\": {\"url\": \"amqps://u:p@mq:5671/v\", "
	    "\"ca_file\": \"/etc/ca.pem\", \"exchange\": \"ev\", "
	    "\"routing_key\": \"a.b\", \"body\": \"hi\", "
	    "\"headers\": {\"X-A\": \"1\"}, \"persistent\": true}"), NULL);
	assert_null(j->argv);
	assert_null(j->http);
	assert_string_equal(j->amqp->url, "amqps://u:p@mq:5671/v");
	assert_string_equal(j->amqp->ca_file, "/etc/ca.pem");
	assert_string_equal(j->amqp->exchange, "ev");
	assert_string_equal(j->amqp->routing_key, "a.b");
	assert_string_equal(j->amqp->body, "hi");
	assert_string_equal(j->amqp->headers[0], "X-A: 1");
	assert_true(j->amqp->persistent);
	assert_false(j->amqp->tick);
	defs_job_unref(j);

	j = job_ok(JOB_NOCMD(", \"amqp\": {\"tick\": true}"), NULL);
	assert_null(j->amqp->url);
	assert_string_equal(j->amqp->exchange, "hacron");
	assert_string_equal(j->amqp->routing_key, "");
	assert_null(j->amqp->body);
	assert_int_equal(strv_len(j->amqp->headers), 0);
	assert_true(j->amqp->tick);
	defs_job_unref(j);

	j = job_ok(JOB_NOCMD(", \"amqp\": {\"body\": \"x\"}"), NULL);
	assert_string_equal(j->amqp->exchange, "");
	defs_job_unref(j);
}

static void
test_amqp_job_errors(void **state)
{
	(void)state;
	job_err(JOB(", \"amqp\": {\"tick\": true}"), "amqp: give one of "
	    "\"command\", \"http\" and \"amqp\", not several");
	job_err(JOB_NOCMD(", \"amqp\": {\"url\": \"http://u:pw@mq/\"}"),
	    "amqp.url: must start with amqp:// or amqps:// "
	    "\"http://mq/\"");
	job_err(JOB_NOCMD(", \"amqp\": {\"url\": \"amqp:///v\"}"),
	    "amqp.url: no host in \"amqp:///v\"");
	job_err(JOB_NOCMD(", \"amqp\": {\"tick\": true, \"body\": \"x\"}"),
	    "amqp.body: a tick's body is the tick (give either \"body\" or "
	    "\"tick\": true)");
	job_err(JOB_NOCMD(", \"amqp\": {\"persistent\": \"yes\"}"),
	    "amqp.persistent: expected a boolean, got string");
	job_err(JOB_NOCMD(", \"amqp\": {\"exchange\": 3}"),
	    "amqp.exchange: expected a string, got integer");
	job_err(JOB_NOCMD(", \"amqp\": {\"headers\": {\"A\": \"x\\ny\"}}"),
	    "amqp.headers.A: contains a line break");
	job_err(JOB_NOCMD(", \"amqp\": {\"ca_file\": \"ca.pem\"}"),
	    "amqp.ca_file: must be an absolute path (got \"ca.pem\")");
	job_err(JOB(", \"notify\": {\"amqp\": {\"url\": \"mq:5672\"}}"),
	    "notify.amqp.url: must start with amqp:// or amqps:// "
	    "\"mq:5672\"");
	job_err(JOB(", \"notify\": {\"amqp\": {\"routing_key\": []}}"),
	    "notify.amqp.routing_key: expected a string, got array");
	job_err(JOB_NOCMD(", \"amqp\": {\"username\": \"u\"}"),
	    "amqp.username: given without amqp.password");
	job_err(JOB_NOCMD(", \"amqp\": {\"password\": 7}"),
	    "amqp.password: expected a string, got integer");
	job_err(JOB_NOCMD(", \"amqp\": {\"password\": {\"secret\": \"a\", "
	    "\"x\": 1}}"), "amqp.password: expected a string or "
	    "{\"secret\": NAME}");
}

/* notify.webhook.headers values may be secret references, kept by the
 * header's index and put in when a message is sent. */
static void
test_webhook_header_secret(void **state)
{
	struct job_def *j;

	(void)state;
	j = job_ok(JOB(", \"notify\": {\"webhook\": {\"url\": "
	    "\"https://h/x\", \"headers\": {\"X-A\": \"1\", "
	    "\"Authorization\": {\"secret\": \"hook-tok\"}}}}"), NULL);
	assert_string_equal(j->notify->webhook_headers[0], "X-A: 1");
	assert_string_equal(j->notify->webhook_headers[1], "Authorization: ");
	assert_non_null(j->notify->webhook_secrets);
	assert_null(j->notify->webhook_secrets[0]);
	assert_string_equal(j->notify->webhook_secrets[1], "hook-tok");
	assert_int_equal(j->nsecrefs, 0);	/* not the run's */
	defs_job_unref(j);
	j = job_ok(JOB(", \"notify\": {\"webhook\": {\"url\": "
	    "\"https://h/x\", \"headers\": {\"X-A\": \"1\"}}}"), NULL);
	assert_null(j->notify->webhook_secrets);
	defs_job_unref(j);
	job_err(JOB(", \"notify\": {\"webhook\": {\"url\": \"https://h/x\", "
	    "\"headers\": {\"A\": {\"secret\": \"x y\"}}}}"),
	    "notify.webhook.headers.A: invalid secret name \"x y\"");
}

/* amqp.username and amqp.password override the URL's; the password may
 * be a secret reference, put in when a run starts. */
static void
test_amqp_credentials(void **state)
{
	struct job_def *j;

	(void)state;
	j = job_ok(JOB_NOCMD(", \"amqp\": {\"url\": \"amqp://mq/\", "
	    "\"username\": \"pub\", \"password\": \"pw\"}"), NULL);
	assert_string_equal(j->amqp->username, "pub");
	assert_string_equal(j->amqp->password, "pw");
	assert_int_equal(j->nsecrefs, 0);
	defs_job_unref(j);
	j = job_ok(JOB_NOCMD(", \"amqp\": {\"password\": {\"secret\": "
	    "\"mq-pw\"}}"), NULL);
	assert_null(j->amqp->username);
	assert_string_equal(j->amqp->password, "");
	assert_int_equal(j->nsecrefs, 1);
	assert_string_equal(j->secrefs[0].name, "mq-pw");
	assert_string_equal(j->secrefs[0].field, "amqp.password");
	assert_int_equal(j->secrefs[0].kind, JOB_SECREF_AMQP_PASSWORD);
	defs_job_unref(j);
}

/* The amqp notification channel: its defaults and fields. */
static void
test_amqp_notify(void **state)
{
	struct job_def *j;

	(void)state;
	j = job_ok(JOB(", \"notify\": {\"amqp\": {}}"), NULL);
	assert_null(j->notify->amqp->url);
	assert_string_equal(j->notify->amqp->exchange, "amq.topic");
	assert_null(j->notify->amqp->routing_key);
	defs_job_unref(j);
	j = job_ok(JOB(", \"notify\": {\"amqp\": {\"url\": \"amqp://mq/\", "
	    "\"exchange\": \"ev\", \"routing_key\": \"k\"}}"), NULL);
	assert_string_equal(j->notify->amqp->url, "amqp://mq/");
	assert_string_equal(j->notify->amqp->exchange, "ev");
	assert_string_equal(j->notify->amqp->routing_key, "k");
	defs_job_unref(j);
}

/* The daemon sends HTTP requests itself: no policy needed, one ignored. */
static void
test_http_job_policy(void **state)
{
	struct diags ds = { 0 };
	struct job_def *j;

	(void)state;
	j = job_ok("{\"schedule\": \"@hourly\", \"http\": "
	    "{\"url\": \"http://127.0.0.1:8080/ping\"}}", &ds);
	assert_int_equal(ds.n, 0);
	assert_null(j->roles);
	assert_null(j->nodes);
	defs_job_unref(j);
	j = job_ok(JOB_NOCMD(", \"http\": {\"url\": \"http://h/\"}"), &ds);
	assert_int_equal(ds.n, 1);
	assert_string_equal(ds.d[0].msg, "policy: ignored for an http job (the "
	    "daemon itself sends the request)");
	defs_job_unref(j);
	job_err("{\"schedule\": \"@hourly\", \"command\": [\"true\"]}",
	    "policy: missing (write \"policy\": {\"roles\": [\"web\"]} or "
	    "{\"nodes\": [\"node1\"]})");
}

static void
test_node_extensions(void **state)
{
	struct node_def *n;

	n = node_ok("{\"roles\": [], \"connection_type\": \"ssh\","
	    " \"enabled\": false, \"max_concurrent_runs\": 4,"
	    " \"connection_options\": {\"ssh_user\": \"cron\","
	    " \"ssh_host\": \"[::1]:2222\", \"ssh_private_key_file\": \"/k\","
	    " \"ssh_known_hosts_file\": \"/etc/kh\","
	    " \"ssh_host_key\": \"ssh-ed25519 AAAAC3Nz\","
	    " \"ssh_private_key_passphrase_file\": \"/k.pass\","
	    " \"ssh_host_key_policy\": \"accept-new\","
	    " \"connect_timeout\": \"3s\", \"max_sessions\": 64}}", NULL);
	assert_int_equal(strv_len(n->roles), 0);
	assert_false(n->enabled);
	assert_int_equal(n->max_concurrent_runs, 4);
	assert_string_equal(n->ssh_host, "::1");
	assert_int_equal(n->ssh_port, 2222);
	assert_string_equal(n->ssh_known_hosts_file, "/etc/kh");
	assert_string_equal(n->ssh_host_key, "ssh-ed25519 AAAAC3Nz");
	assert_string_equal(n->ssh_private_key_passphrase_file, "/k.pass");
	assert_string_equal(n->ssh_host_key_policy, "accept-new");
	assert_int_equal(n->connect_timeout_ms, 3000);
	assert_int_equal(n->max_sessions, 64);
	defs_node_free(n);

	/* the port is optional */
	n = node_ok("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_host\": \"db1.example\", "
	    "\"ssh_private_key_file\": \"/k\"}}", NULL);
	assert_string_equal(n->ssh_host, "db1.example");
	assert_int_equal(n->ssh_port, 22);
	assert_int_equal(strv_len(n->roles), 0);
	defs_node_free(n);
}

/* ---- errors ---- */

static void
test_job_errors(void **state)
{
	job_err(JOB_NOCMD(""), "command: missing (write \"command\": "
	    "[\"/path/to/program\", \"arg\"], a shell command string, an "
	    "\"http\" or an \"amqp\" object)");
	job_err(JOB(", \"http\": {\"url\": \"http://x/\"}"),
	    "command: give either \"command\" or \"http\", not both");
	job_err(JOB(", \"timeout\": \"10x\""), "timeout: invalid duration "
	    "\"10x\": missing or unknown unit (use ms, s, m, h or d)");
	job_err(JOB(", \"environment\": {\"1X\": \"a\"}"), "environment: "
	    "invalid variable name \"1X\" (use letters, digits and _, not "
	    "starting with a digit)");
	job_err(JOB(", \"environment\": {\"DISTCRON_JOB\": \"x\"}"),
	    "environment.DISTCRON_JOB: names starting with DISTCRON_ are "
	    "reserved");
	job_err(JOB(", \"environment\": {\"A\": true}"),
	    "environment.A: expected a string or a number, got boolean");
	job_err(JOB(", \"retries\": \"3\""),
	    "retries: expected an integer, got string");
	job_err(JOB(", \"retries\": 101"), "retries: 101 out of range 0-100");
	job_err(JOB(", \"retries\": 1.5"),
	    "retries: expected an integer, got number");
	job_err(JOB(", \"enabled\": 1"),
	    "enabled: expected a boolean, got integer");
	job_err(JOB(", \"concurrency\": \"sometimes\""), "concurrency: unknown "
	    "value \"sometimes\" (expected \"forbid\", \"allow\" or "
	    "\"replace\")");
	job_err(JOB(", \"working_dir\": \"tmp\""),
	    "working_dir: must be an absolute path (got \"tmp\")");
	job_err(JOB(", \"output_limit\": 100"),
	    "output_limit: 100 out of range 1024-67108864 bytes");
	job_err(JOB(", \"output_limit\": \"65M\""),
	    "output_limit: \"65M\" out of range 1024-67108864 bytes");
	job_err(JOB(", \"output_limit\": \"5x\""), "output_limit: invalid size "
	    "\"5x\" (use bytes or a unit: \"512k\", \"1M\", \"1MiB\", "
	    "\"64KB\")");
	job_err(JOB(", \"start_at\": \"2026-02-01\", \"expires_at\": "
	    "\"2026-01-01\""), "expires_at: must be after start_at");
	job_err(JOB(", \"owners\": [{\"name\": 7}]"),
	    "owners[0].name: expected a string, got integer");
	job_err("{\"policy\": {\"roles\": [\"web\"]}, \"command\": [\"/x\"]}",
	    "schedule: missing (write \"schedule\": {\"interval\": \"10m\"} or "
	    "\"schedule\": \"*/5 * * * *\")");
}

static void
test_command_errors(void **state)
{
	job_err(JOB_NOCMD(", \"command\": []"), "command: must not be empty");
	job_err(JOB_NOCMD(", \"command\": [\"\", \"x\"]"),
	    "command[0]: empty program name");
	job_err(JOB_NOCMD(", \"command\": [\"/bin/echo\", true]"),
	    "command[1]: expected a string, got boolean");
	job_err(JOB_NOCMD(", \"command\": \"\""), "command: must not be empty");
	job_err(JOB_NOCMD(", \"command\": {}"), "command: expected an array of "
	    "strings or a shell command string, got object");
	job_err(JOB_NOCMD(", \"command\": [\"/bin/echo\", \"a\\u0000b\"]"),
	    "command[1]: contains a NUL character");
	job_err(JOB_NOCMD(", \"http\": {\"url\": \"ftp://x/\"}"),
	    "http.url: must start with http:// or https:// (got \"ftp://x/\")");
	job_err(JOB_NOCMD(", \"http\": {\"method\": \"GET\"}"),
	    "http.url: missing");
	/* A URL in a message loses its credentials and query. */
	job_err(JOB_NOCMD(", \"http\": {\"url\": "
	    "\"ftp://admin:S3cretPW@host/x?api_key=Q\"}"),
	    "http.url: must start with http:// or https:// (got "
	    "\"ftp://host/x\")");
	job_err(JOB_NOCMD(", \"http\": {\"url\": "
	    "\"http://admin:S3cretPW@host/a b?api_key=Q\"}"),
	    "http.url: contains a space or control character: "
	    "\"http://host/a b\"");
	job_err(JOB_NOCMD(", \"http\": {\"url\": \"https:///x?api_key=Q\"}"),
	    "http.url: no host in \"https:///x\"");
	job_err(JOB_NOCMD(", \"http\": {\"url\": \"http://x/\", \"headers\": "
	    "{\"X-A\": \"a\\r\\nEvil: 1\"}}"),
	    "http.headers.X-A: contains a line break");
	job_err(JOB_NOCMD(", \"http\": {\"url\": \"http://x/\", \"headers\": "
	    "{\"Bad Name\": \"v\"}}"),
	    "http.headers: invalid header name \"Bad Name\"");
	job_err(JOB_NOCMD(", \"http\": {\"url\": \"http://x/\", "
	    "\"expect_status\": [200, 99]}"),
	    "http.expect_status[1]: 99 out of range 100-599");
	job_err(JOB_NOCMD(", \"http\": {\"url\": \"http://x/\", \"method\": "
	    "\"GE T\"}"), "http.method: invalid method \"GE T\"");
}

/* "notify": events, channels, the default events, none given. */
static void
test_notify(void **state)
{
	struct job_def *j;

	(void)state;
	j = job_ok(JOB(", \"notify\": {\"on\": [\"failure\", \"success\", "
	    "\"missed\"], \"email\": [\"ops@example.org\", \"a.b@c.d\"], "
	    "\"webhook\": {\"url\": \"https://h.example/hook?k=s\", "
	    "\"headers\": {\"X-Token\": \"s3\"}}, \"slack\": {\"url\": "
	    "\"https://hooks.slack.com/services/T/B/x\"}}"), NULL);
	assert_non_null(j->notify);
	assert_int_equal(j->notify->on, DEFS_NOTIFY_FAILURE |
	    DEFS_NOTIFY_SUCCESS | DEFS_NOTIFY_MISSED);
	assert_int_equal(strv_len(j->notify->email), 2);
	assert_string_equal(j->notify->email[1], "a.b@c.d");
	assert_string_equal(j->notify->webhook_url,
	    "https://h.example/hook?k=s");
	assert_string_equal(j->notify->webhook_headers[0], "X-Token: s3");
	assert_string_equal(j->notify->slack_url,
	    "https://hooks.slack.com/services/T/B/x");
	defs_job_unref(j);

	j = job_ok(JOB(", \"notify\": {\"email\": [\"a@b\"]}"), NULL);
	assert_int_equal(j->notify->on, DEFS_NOTIFY_DEFAULT);
	assert_null(j->notify->webhook_url);
	assert_null(j->notify->webhook_headers);
	assert_null(j->notify->slack_url);
	defs_job_unref(j);

	j = job_ok(JOB(""), NULL);
	assert_null(j->notify);
	defs_job_unref(j);
	assert_string_equal(defs_notify_event_name(DEFS_NOTIFY_RECOVERY),
	    "recovery");
	assert_null(defs_notify_event_name(0));
}

/* Each bad "notify" names its field and value; URLs lose their secrets. */
static void
test_notify_errors(void **state)
{
	(void)state;
	job_err(JOB(", \"notify\": []"),
	    "notify: expected an object, got array");
	job_err(JOB(", \"notify\": {\"on\": [\"failure\", \"sucess\"]}"),
	    "notify.on[1]: unknown event \"sucess\" (expected \"failure\", "
	    "\"recovery\", \"success\", \"start\" or \"missed\")");
	job_err(JOB(", \"notify\": {\"on\": \"failure\"}"),
	    "notify.on: expected an array of strings, got string");
	job_err(JOB(", \"notify\": {\"email\": [\"ops@x\", \"ops.x\"]}"),
	    "notify.email[1]: invalid address \"ops.x\"");
	job_err(JOB(", \"notify\": {\"email\": [\"a b@x\"]}"),
	    "notify.email[0]: invalid address \"a b@x\"");
	job_err(JOB(", \"notify\": {\"email\": [\"a@x>\"]}"),
	    "notify.email[0]: invalid address \"a@x>\"");
	job_err(JOB(", \"notify\": {\"webhook\": {\"url\": "
	    "\"ftp://u:pw@h/x?t=s\"}}"),
	    "notify.webhook.url: must start with http:// or https:// (got "
	    "\"ftp://h/x\")");
	job_err(JOB(", \"notify\": {\"webhook\": {\"headers\": {}}}"),
	    "notify.webhook.url: missing");
	job_err(JOB(", \"notify\": {\"webhook\": {\"url\": \"http://h/\", "
	    "\"headers\": {\"A\": \"x\\ny\"}}}"),
	    "notify.webhook.headers.A: contains a line break");
	job_err(JOB(", \"notify\": {\"slack\": {\"url\": \"smtp://h/\"}}"),
	    "notify.slack.url: must start with http:// or https:// (got "
	    "\"smtp://h/\")");
	job_err(JOB(", \"notify\": {\"slack\": {}}"),
	    "notify.slack.url: missing");
}

/* defs_job_mask() on what a job file may hold, good or not. */
static void
test_mask(void **state)
{
	static const char *const cases[][2] = {
		{ "{\"http\": {\"url\": \"http://u:p@h/x?k=v\", \"headers\": "
		  "{\"A\": \"s\", \"B\": 7}}, \"environment\": {\"E\": \"s\"}, "
		  "\"command\": [\"x\"]}",
		  "{\"http\":{\"url\":\"http://***:***@h/x?k=***\",\"headers\":"
		  "{\"A\":\"***\",\"B\":\"***\"}},\"environment\":{\"E\":\"***\"},"
		  "\"command\":[\"x\"]}" },
		{ "{\"http\": {\"url\": {\"x\": \"secret\"}}}",
		  "{\"http\":{\"url\":\"***\"}}" },
		{ "{\"http\": \"x\", \"environment\": [\"a\"]}",
		  "{\"http\":\"x\",\"environment\":[\"a\"]}" },
		{ "[1]", "[1]" },
		{ "{\"notify\": {\"webhook\": {\"url\": \"https://h/x?t=s\", "
		  "\"headers\": {\"Authorization\": \"Bearer s\"}}, "
		  "\"slack\": {\"url\": \"https://hooks.slack.com/T/B/s\"}, "
		  "\"email\": [\"a@b\"]}}",
		  "{\"notify\":{\"webhook\":{\"url\":\"https://h/x?t=***\","
		  "\"headers\":{\"Authorization\":\"***\"}},"
		  "\"slack\":{\"url\":\"***\"},\"email\":[\"a@b\"]}}" },
		{ "{\"amqp\": {\"username\": \"u\", \"password\": \"pw\"}}",
		  "{\"amqp\":{\"username\":\"u\",\"password\":\"***\"}}" },
		{ "{\"amqp\": {\"password\": {\"secret\": \"mq\"}}}",
		  "{\"amqp\":{\"password\":{\"secret\":\"mq\"}}}" },
	};
	json_object *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(o = json_tokener_parse(cases[i][0]));
		defs_job_mask(o);
		assert_string_equal(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		    cases[i][1]);
		json_object_put(o);
	}
	defs_job_mask(NULL);
}

static void
test_policy_errors(void **state)
{
	static const char hint[] = "(write \"policy\": {\"roles\": [\"web\"]} "
	    "or {\"nodes\": [\"node1\"]})";
	char want[256];

	snprintf(want, sizeof(want), "policy: no roles or nodes %s", hint);
	job_err("{\"policy\": {\"hosts\": \"any\"}, \"schedule\": \"@daily\", "
	    "\"command\": [\"/x\"]}", want);
	job_err("{\"policy\": {\"roles\": []}, \"schedule\": \"@daily\", "
	    "\"command\": [\"/x\"]}", want);
	snprintf(want, sizeof(want), "policy: missing %s", hint);
	job_err("{\"schedule\": \"@daily\", \"command\": [\"/x\"]}", want);
	job_err("{\"policy\": {\"roles\": [\"a\", 2]}, "
	    "\"schedule\": \"@daily\", \"command\": [\"/x\"]}",
	    "policy.roles[1]: expected a string, got integer");
	job_err("{\"policy\": {\"roles\": [\"\"]}, \"schedule\": \"@daily\","
	    " \"command\": [\"/x\"]}", "policy.roles[0]: must not be empty");
	job_err("{\"policy\": {\"hosts\": \"some\", \"roles\": [\"a\"]}, "
	    "\"schedule\": \"@daily\", \"command\": [\"/x\"]}",
	    "policy.hosts: unknown value \"some\" "
	    "(expected \"any\" or \"all\")");
	job_err("{\"policy\": {\"nodes\": [\"../etc\"]}, \"schedule\": "
	    "\"@daily\", \"command\": [\"/x\"]}",
	    "policy.nodes[0]: invalid node name \"../etc\"");
	job_err("{\"policy\": \"web\", \"schedule\": \"@daily\", "
	    "\"command\": [\"/x\"]}", "policy: expected an object, got string");
}

static void
test_schedule_errors(void **state)
{
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"cron\": \"0 0 32 * *\"}}",
	    "schedule.cron: day-of-month: 32 out of range 1-31");
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"interval\": \"500ms\"}}",
	    "schedule.interval: must be at least 1s");
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"interval\": \"1500ms\"}}",
	    "schedule.interval: must be a whole number of seconds");
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"interval\": \"1h\", \"reference\": \"25:00\"}}",
	    "schedule.reference: invalid time of day \"25:00\" (expected "
	    "HH:MM or HH:MM:SS)");
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"interval\": \"1h\", \"cron\": \"@daily\"}}",
	    "schedule: give either interval or cron, not both");
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"timezone\": \"UTC\"}}",
	    "schedule: needs \"interval\" or \"cron\"");
	job_err("{\"policy\": {\"roles\": [\"w\"]}, \"command\": [\"/x\"], "
	    "\"schedule\": {\"cron\": \"@daily\", \"timezone\": 5}}",
	    "schedule.timezone: expected a string, got integer");
}

static void
test_unknown_zone(void **state)
{
	static const char text[] = "{\"policy\": {\"roles\": [\"w\"]}, "
	    "\"command\": [\"/x\"], \"schedule\": {\"cron\": \"@daily\", "
	    "\"timezone\": \"Mars/Olympus_Mons\"}}";
	struct job_def *job = NULL;
	char err[512];

	assert_true(defs_job_parse("j", text, strlen(text), zone("UTC"), &job,
	    err, sizeof(err), NULL, NULL) < 0);
	assert_null(job);
	assert_true(strncmp(err, "schedule.timezone: ", 19) == 0);
	assert_non_null(strstr(err, "\"Mars/Olympus_Mons\""));
}

static void
test_invalid_json(void **state)
{
	/* where (line, column, field) and what was expected, never json-c's
	 * own words ("unexpected character", "null expected") */
	static const struct { const char *text, *want; } cases[] = {
		{ "{\n  \"policy\": }", "line 2, column 13, in policy: "
		  "unexpected '}', expected a value" },
		{ "{\"policy\": {}", "line 1, column 14, in policy: unexpected "
		  "end of input, expected ',' or '}'" },
		{ "{} trailing", "line 1, column 4: unexpected 't' after the "
		  "end of the JSON value" },
		{ "{\"a\": 1,}", "line 1, column 9: unexpected '}', expected a "
		  "field name in double quotes" },
		{ "", "line 1, column 1: unexpected end of input, expected a "
		  "value" },
		{ "{\"schedule\": {\"cron\": nul}}", "line 1, column 23, in "
		  "schedule.cron: 'nul' is not a value (expected a string in "
		  "double quotes, a number, true, false, null, an object or an "
		  "array)" },
		{ "{\"command\": [\"a\",\n tru]}", "line 2, column 2, in "
		  "command[1]: 'tru' is not a value (expected a string in "
		  "double quotes, a number, true, false, null, an object or an "
		  "array)" },
		{ "{\"policy\" {}}", "line 1, column 11, in policy: unexpected "
		  "'{', expected ':' after the field name" },
		{ "{\"command\": [\"a\" \"b\"]}", "line 1, column 18, in "
		  "command[0]: unexpected '\"', expected ',' or ']'" },
		{ "{\"command\": \"x", "line 1, column 15, in command: "
		  "unexpected end of input inside a string" },
	};
	struct job_def *job = NULL;
	char err[512], want[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(defs_job_parse("j", cases[i].text,
		    strlen(cases[i].text), zone("UTC"), &job, err, sizeof(err),
		    NULL, NULL), ERR_PARSE);
		assert_null(job);
		snprintf(want, sizeof(want), "invalid JSON at %s",
		    cases[i].want);
		assert_string_equal(err, want);
	}
	job_err("[1, 2]", "expected a JSON object, got array");
	/* a NUL byte inside the text is not the end of it */
	assert_int_equal(defs_job_parse("j", "{}\0{}", 5, zone("UTC"), &job,
	    err, sizeof(err), NULL, NULL), ERR_PARSE);
	assert_string_equal(err, "invalid JSON at line 1, column 3: NUL byte");
}

static void
test_node_errors(void **state)
{
	node_err("{\"roles\": [\"web\"]}",
	    "connection_type: missing (expected \"local\" or \"ssh\")");
	node_err("{\"connection_type\": \"telnet\"}",
	    "connection_type: unknown value \"telnet\" "
	    "(expected \"local\" or \"ssh\")");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_private_key_file\": \"/k\"}}",
	    "connection_options.ssh_host: missing");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_host\": \"h\", \"ssh_private_key_file\": \"/k\"}}",
	    "connection_options.ssh_user: missing");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_host\": \"h\"}}",
	    "connection_options.ssh_private_key_file: missing");
	node_err("{\"connection_type\": \"ssh\"}",
	    "connection_options: missing (ssh nodes need ssh_user, ssh_host "
	    "and ssh_private_key_file)");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_host\": \"h:99999\", "
	    "\"ssh_private_key_file\": \"/k\"}}",
	    "connection_options.ssh_host: invalid host \"h:99999\" (expected "
	    "\"host\", \"host:port\" or \"[::1]:port\", port 1-65535)");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_host\": \"::1\", "
	    "\"ssh_private_key_file\": \"/k\"}}",
	    "connection_options.ssh_host: IPv6 addresses need brackets: "
	    "\"[::1]:22\"");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_host\": \"h\", "
	    "\"ssh_private_key_file\": \"/k\", \"max_sessions\": 65}}",
	    "connection_options.max_sessions: 65 out of range 1-64");
	node_err("{\"connection_type\": \"ssh\", \"connection_options\": "
	    "{\"ssh_user\": \"u\", \"ssh_host\": \"h\", "
	    "\"ssh_private_key_file\": \"/k\", \"ssh_host_key_policy\": "
	    "\"yes\"}}", "connection_options.ssh_host_key_policy: unknown "
	    "value \"yes\" (expected \"strict\" or \"accept-new\")");
	node_err("{\"connection_type\": \"local\", \"roles\": \"web\"}",
	    "roles: expected an array of strings, got string");
	node_err("{\"connection_type\": \"local\", "
	    "\"max_concurrent_runs\": -1}",
	    "max_concurrent_runs: -1 out of range 0-1000000");
}

/* Values echoed in messages are truncated and control characters escaped. */
static void
test_echo_escaped(void **state)
{
	char cs[67], text[1024], want[256];

	memset(cs, 'c', 66);
	cs[66] = '\0';
	snprintf(text, sizeof(text),
	    JOB(", \"concurrency\": \"a\\nb\\u0001%s\""), cs);
	/* 60 input bytes are shown: a, newline, b, 0x01 and 56 c */
	snprintf(want, sizeof(want), "concurrency: unknown value "
	    "\"a\\nb\\x01%.56s...\" (expected \"forbid\", \"allow\" or "
	    "\"replace\")", cs);
	job_err(text, want);
}

static void
test_invalid_name(void **state)
{
	struct job_def *job = NULL;
	char err[512];

	assert_int_equal(defs_job_parse("../passwd", JOB(""), strlen(JOB("")),
	    zone("UTC"), &job, err, sizeof(err), NULL, NULL), ERR_INVALID);
	assert_null(job);
	assert_string_equal(err, "name: invalid job name \"../passwd\" (use "
	    "1-128 of A-Z a-z 0-9 . _ -, not starting with . or -)");
	assert_true(defs_name_valid("backup.db-1_x"));
	assert_false(defs_name_valid(".hidden"));
	assert_false(defs_name_valid("-x"));
	assert_false(defs_name_valid(""));
	assert_false(defs_name_valid("a b"));
}

static void
test_unknown_fields_warn(void **state)
{
	struct diags ds = { 0 };
	struct job_def *j;
	struct node_def *n;

	j = job_ok(JOB(", \"foo\": 1, \"owners\": [{\"name\": \"x\", "
	    "\"phone\": \"1\"}]"), &ds);
	assert_int_equal(ds.n, 2);
	assert_true(find_diag(&ds, "warning", "job1",
	    "unknown field \"foo\" (ignored)") >= 0);
	assert_true(find_diag(&ds, "warning", "job1",
	    "unknown field \"owners[0].phone\" (ignored)") >= 0);
	assert_int_equal(j->retries, 0);
	defs_job_unref(j);

	ds.n = 0;
	n = node_ok("{\"connection_type\": \"local\", \"colour\": \"red\"}",
	    &ds);
	assert_int_equal(ds.n, 1);
	assert_string_equal(ds.d[0].file, "node1");
	assert_string_equal(ds.d[0].msg, "unknown field \"colour\" (ignored)");
	defs_node_free(n);
}

static void
test_digest_and_refs(void **state)
{
	struct job_def *a, *b, *c;

	a = job_ok(JOB(", \"retries\": 1"), NULL);
	b = job_ok(JOB(", \"retries\": 1"), NULL);
	c = job_ok(JOB(", \"retries\": 2"), NULL);
	assert_int_equal(a->digest, b->digest);
	assert_int_not_equal(a->digest, c->digest);
	assert_ptr_equal(defs_job_ref(a), a);
	assert_int_equal(a->refs, 2);
	defs_job_unref(a);
	assert_int_equal(a->refs, 1);
	assert_string_equal(a->name, "job1");	/* still alive */
	defs_job_unref(a);
	defs_job_unref(b);
	defs_job_unref(c);
	defs_job_unref(NULL);
	defs_node_free(NULL);
	defs_set_free(NULL);
}

/* ---- loading directories ---- */

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Makes the temporary directory tmp (a mkdtemp template) with jobs.d and
 * nodes.d in it, their paths in jobs and nodes (256 bytes each). */
static void
tmp_dirs(char *tmp, char *jobs, char *nodes)
{
	assert_non_null(mkdtemp(tmp));
	snprintf(jobs, 256, "%s/jobs.d", tmp);
	snprintf(nodes, 256, "%s/nodes.d", tmp);
	assert_int_equal(mkdir(jobs, 0700), 0);
	assert_int_equal(mkdir(nodes, 0700), 0);
}

static void
test_load_dirs(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	char path[PATH_MAX], msg[512];
	struct diags ds = { 0 };
	struct defs_set *set = NULL;

	tmp_dirs(tmp, jobs, nodes);
	write_file(jobs, "c-cache.json", "{\"policy\": "
	    "{\"roles\": [\"cache\"]}, \"schedule\": \"@hourly\", "
	    "\"command\": [\"/x\"]}");
	write_file(jobs, "a-web.json", readme_job);
	write_file(jobs, "b-nodes.json", "{\"policy\": {\"nodes\": [\"n1\", "
	    "\"ghost\"]}, \"schedule\": \"@daily\", \"command\": \"true\"}");
	write_file(jobs, "broken.json", "{\"policy\": {\"roles\": [\"web\"]}, "
	    "\"schedule\": \"@daily\"}");
	write_file(jobs, "README.txt", "not a job");
	write_file(jobs, ".editor-swap.json", "{garbage");
	snprintf(path, sizeof(path), "%s/fifo.json", jobs);
	assert_int_equal(mkfifo(path, 0600), 0);
	write_file(nodes, "n2.json", readme_ssh_node);
	write_file(nodes, "n1.json", "{\"roles\": [\"web\", \"db\"], "
	    "\"connection_type\": \"local\"}");

	assert_int_equal(defs_load(jobs, nodes, zone("UTC"), &set, collect,
	    &ds), 0);
	assert_non_null(set);
	assert_int_equal(set->nerrors, 1);
	assert_int_equal(set->nbad_jobs, 1);	/* kept by a reload */
	assert_true(defs_job_is_bad(set, "broken"));
	assert_false(defs_job_is_bad(set, "a-web"));
	assert_false(defs_job_is_bad(set, "fifo"));	/* not a job file */
	assert_int_equal(set->njobs, 3);
	assert_string_equal(set->jobs[0]->name, "a-web");
	assert_string_equal(set->jobs[1]->name, "b-nodes");
	assert_string_equal(set->jobs[2]->name, "c-cache");
	assert_int_equal(set->nnodes, 2);
	assert_string_equal(set->nodes[0]->name, "n1");
	assert_string_equal(set->nodes[1]->name, "n2");
	snprintf(path, sizeof(path), "%s/a-web.json", jobs);
	assert_string_equal(set->jobs[0]->source, path);
	snprintf(path, sizeof(path), "%s/n2.json", nodes);
	assert_string_equal(set->nodes[1]->source, path);
	assert_ptr_equal(defs_find_job(set, "b-nodes"), set->jobs[1]);
	assert_null(defs_find_job(set, "broken"));
	assert_null(defs_find_job(set, "zzz"));
	assert_ptr_equal(defs_find_node(set, "n2"), set->nodes[1]);
	assert_null(defs_find_node(set, "ghost"));

	/* the error names the file; the loader reports the fifo and
	 * cross-checks; nothing about README.txt or the dotfile */
	snprintf(path, sizeof(path), "%s/broken.json", jobs);
	snprintf(msg, sizeof(msg), "command: missing (write \"command\": "
	    "[\"/path/to/program\", \"arg\"], a shell command string, an "
	    "\"http\" or an \"amqp\" object)");
	assert_true(find_diag(&ds, "error", path, msg) >= 0);
	snprintf(path, sizeof(path), "%s/fifo.json", jobs);
	assert_true(find_diag(&ds, "warning", path,
	    "not a regular file (ignored)") >= 0);
	snprintf(path, sizeof(path), "%s/b-nodes.json", jobs);
	assert_true(find_diag(&ds, "warning", path,
	    "policy.nodes: no node named \"ghost\"") >= 0);
	snprintf(path, sizeof(path), "%s/c-cache.json", jobs);
	assert_true(find_diag(&ds, "warning", path,
	    "policy.roles: no node has role \"cache\"") >= 0);
	assert_int_equal(ds.n, 4);
	defs_set_free(set);
	rm_rf(tmp);
}

/* A directory big enough to load on several threads: every job once, in
 * name order ("a" before "a-b", as the names sort, not the file names),
 * and the reports in name order too, as one thread would give them. */
static void
test_load_many_in_order(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	char name[64], path[PATH_MAX];
	const char *job = "{\"policy\": {\"roles\": [\"w\"]}, "
	    "\"schedule\": \"@hourly\", \"command\": [\"/bin/true\"]}";
	struct defs_changes ch = { .all = true };
	struct diags ds = { 0 };
	struct defs_set *set = NULL, *again = NULL;
	int i;

	(void)state;
	tmp_dirs(tmp, jobs, nodes);
	write_file(nodes, "n.json", "{\"roles\": [\"w\"], "
	    "\"connection_type\": \"local\"}");
	for (i = 2999; i >= 0; i--) {
		snprintf(name, sizeof(name), "j%04d.json", i);
		write_file(jobs, name, i == 7 ? "{\"schedule\": " :
		    i == 2999 ? "{\"schedule\": \"@daily\"}" : i == 1501 ?
		    "{\"policy\": {\"roles\": [\"w\"]}, \"schedule\": "
		    "\"@daily\", \"command\": \"true\", \"colour\": 1}" : job);
	}
	write_file(jobs, "a-b.json", job);
	write_file(jobs, "a.json", job);

	assert_int_equal(defs_load(jobs, nodes, zone("UTC"), &set, collect,
	    &ds), 0);
	assert_int_equal(set->njobs, 3000);
	assert_string_equal(set->jobs[0]->name, "a");
	assert_string_equal(set->jobs[1]->name, "a-b");
	for (i = 2; i < 3000; i++) {
		snprintf(name, sizeof(name), "j%04d", i - 2 + (i - 2 >= 7));
		assert_string_equal(set->jobs[i]->name, name);
	}
	assert_int_equal(set->nerrors, 2);
	assert_int_equal(set->nbad_jobs, 2);
	assert_string_equal(set->bad_jobs[0], "j0007");
	assert_string_equal(set->bad_jobs[1], "j2999");
	assert_int_equal(ds.n, 3);
	snprintf(path, sizeof(path), "%s/j0007.json", jobs);
	assert_string_equal(ds.d[0].file, path);
	assert_string_equal(ds.d[0].level, "error");
	snprintf(path, sizeof(path), "%s/j1501.json", jobs);
	assert_string_equal(ds.d[1].file, path);
	assert_string_equal(ds.d[1].level, "warning");
	snprintf(path, sizeof(path), "%s/j2999.json", jobs);
	assert_string_equal(ds.d[2].file, path);
	assert_string_equal(ds.d[2].level, "error");
	assert_int_equal(set->nparsed, 3003);	/* both halves and the node */

	/* a scan from it shares everything: the bad files of both halves
	 * kept their file identities, so nothing is read or told again */
	assert_int_equal(defs_reload(jobs, nodes, zone("UTC"), set, &ch,
	    &again, collect, &ds), 0);
	assert_int_equal(again->nparsed, 0);
	assert_int_equal(ds.n, 3);
	assert_int_equal(again->nbad_jobs, 2);
	assert_int_equal(again->nchanged_jobs, 0);
	defs_set_replace(set, again);
	defs_set_free(again);
	rm_rf(tmp);
}

/* Jobs of a directory with the same schedule (text, zone, fields) share
 * one; "H" makes each job's its own, as does another zone. */
#define P "\"policy\": {\"hosts\": \"any\", \"roles\": [\"w\"]}, "
static void
test_load_shares_schedules(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	struct defs_set *set = NULL;
	int64_t t1, t2;

	(void)state;
	tmp_dirs(tmp, jobs, nodes);
	write_file(jobs, "a.json", "{" P "\"schedule\": \"0 * * * *\", "
	    "\"command\": [\"/x\"]}");
	write_file(jobs, "b.json", "{" P "\"schedule\": {\"cron\": \"0 * * * *\"}, "
	    "\"command\": [\"/y\"]}");
	write_file(jobs, "c.json", "{" P "\"schedule\": {\"cron\": \"0 * * * *\", "
	    "\"timezone\": \"Asia/Kolkata\"}, \"command\": [\"/x\"]}");
	write_file(jobs, "d.json", "{" P "\"schedule\": \"H * * * *\", "
	    "\"command\": [\"/x\"]}");
	write_file(jobs, "e.json", "{" P "\"schedule\": \"H * * * *\", "
	    "\"command\": [\"/x\"]}");
	assert_int_equal(defs_load(jobs, nodes, zone("UTC"), &set, NULL,
	    NULL), 0);
	assert_int_equal(set->njobs, 5);
	assert_ptr_equal(set->jobs[0]->sched, set->jobs[1]->sched);
	assert_ptr_not_equal(set->jobs[0]->sched, set->jobs[2]->sched);
	assert_ptr_not_equal(set->jobs[3]->sched, set->jobs[4]->sched);
	/* a shared schedule outlives the job that made it */
	assert_int_equal(sched_next(set->jobs[2]->sched, 0, &t1), 0);
	assert_int_equal(t1, 1800);	/* Kolkata is UTC+5:30 */
	defs_job_unref(set->jobs[0]);
	set->jobs[0] = defs_job_ref(set->jobs[2]);
	assert_int_equal(sched_next(set->jobs[1]->sched, 0, &t2), 0);
	assert_int_equal(t2, 3600);
	defs_set_free(set);
	rm_rf(tmp);
}
#undef P

static void
test_load_bad_names_and_sizes(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	char path[PATH_MAX], *big;
	struct diags ds = { 0 };
	struct defs_set *set = NULL;
	int fd;

	tmp_dirs(tmp, jobs, nodes);
	write_file(nodes, "-dash.json", readme_local_node);
	write_file(nodes, "ok.json", readme_local_node);
	snprintf(path, sizeof(path), "%s/huge.json", nodes);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_non_null(big = malloc(DEFS_FILE_MAX + 1));
	memset(big, ' ', DEFS_FILE_MAX + 1);
	assert_int_equal(write(fd, big, DEFS_FILE_MAX + 1), DEFS_FILE_MAX + 1);
	close(fd);
	free(big);

	assert_int_equal(defs_load(jobs, nodes, zone("UTC"), &set, collect,
	    &ds), 0);
	assert_int_equal(set->njobs, 0);
	assert_int_equal(set->nnodes, 1);
	assert_string_equal(set->nodes[0]->name, "ok");
	assert_int_equal(set->nerrors, 1);
	assert_int_equal(ds.n, 2);
	assert_true(find_diag(&ds, "error", path,
	    "file too large (limit 1048576 bytes)") >= 0);
	snprintf(path, sizeof(path), "%s/-dash.json", nodes);
	assert_true(find_diag(&ds, "warning", path, "invalid name \"-dash\" "
	    "(use 1-128 of A-Z a-z 0-9 . _ -, not starting with . or -); "
	    "file ignored") >= 0);
	defs_set_free(set);
	rm_rf(tmp);
}

static void
test_load_missing_dir(void **state)
{
	struct defs_set *set = (struct defs_set *)1;

	assert_int_equal(defs_load("/nonexistent/jobs.d", "/nonexistent/n",
	    zone("UTC"), &set, NULL, NULL), -ENOENT);
	assert_null(set);
}

/* A reload keeps the last good definition of a node whose file broke:
 * defs_set_keep_node() copies it into the new set, in name order. */
static void
test_keep_node(void **state)
{
	struct defs_set *set = calloc(1, sizeof(*set));
	struct node_def *old = node_ok(readme_local_node, NULL);

	(void)state;
	free(old->name);
	old->name = strdup("m");
	set->nodes = calloc(2, sizeof(*set->nodes));
	set->nodes[0] = node_ok(readme_local_node, NULL);	/* "node1" */
	set->nodes[1] = node_ok(readme_local_node, NULL);
	free(set->nodes[1]->name);
	set->nodes[1]->name = strdup("z");
	set->nnodes = 2;
	assert_int_equal(defs_set_keep_node(set, old), 0);
	assert_int_equal(set->nnodes, 3);
	assert_string_equal(set->nodes[0]->name, "m");	/* m < node1 < z */
	assert_string_equal(set->nodes[1]->name, "node1");
	assert_ptr_not_equal(set->nodes[0], old);	/* a copy */
	assert_ptr_equal(defs_find_node(set, "m"), set->nodes[0]);
	assert_int_equal(defs_set_keep_node(set, old), ERR_EXISTS);
	assert_false(defs_node_is_bad(set, "m"));
	defs_node_free(old);
	defs_set_free(set);
}

/* ---- incremental reloads ---- */

#define JOB_HOURLY	"{\"policy\": {\"roles\": [\"web\"]}, " \
			"\"schedule\": \"@hourly\", \"command\": [\"/x\"]}"
#define JOB_DAILY	"{\"policy\": {\"roles\": [\"web\"]}, " \
			"\"schedule\": \"@daily\", \"command\": [\"/x\"]}"
#define JOB_BROKEN	"{\"policy\": {\"roles\": [\"web\"]}}"

/* jobs.d and nodes.d in a new temporary directory tmp: jobs a, b, c, d
 * (hourly), e (broken), node n1 (role web); prev loaded from them. */
static void
reload_fixture(char *tmp, char *jobs, char *nodes, struct defs_set **prev)
{
	const char *names[] = { "a", "b", "c", "d" };
	char file[32];
	size_t i;

	assert_non_null(mkdtemp(tmp));
	snprintf(jobs, 256, "%s/jobs.d", tmp);
	snprintf(nodes, 256, "%s/nodes.d", tmp);
	assert_int_equal(mkdir(jobs, 0700), 0);
	assert_int_equal(mkdir(nodes, 0700), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(file, sizeof(file), "%s.json", names[i]);
		write_file(jobs, file, JOB_HOURLY);
	}
	write_file(jobs, "e.json", JOB_BROKEN);
	write_file(nodes, "n1.json", "{\"roles\": [\"web\"], "
	    "\"connection_type\": \"local\"}");
	assert_int_equal(defs_load(jobs, nodes, zone("UTC"), prev, NULL,
	    NULL), 0);
	assert_int_equal((*prev)->njobs, 4);
	assert_int_equal((*prev)->nparsed, 6);
}

/* Sets a file's mtime (and atime) to ns since the epoch. */
static void
set_mtime(const char *dir, const char *name, int64_t ns)
{
	char path[PATH_MAX];
	struct timespec ts[2];

	ts[0].tv_sec = (time_t)(ns / 1000000000);
	ts[0].tv_nsec = (long)(ns % 1000000000);
	ts[1] = ts[0];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Each definition knows its file's identity. */
static void
test_reload_identity(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	char path[PATH_MAX];
	struct defs_set *set;
	struct stat st;

	(void)state;
	reload_fixture(tmp, jobs, nodes, &set);
	snprintf(path, sizeof(path), "%s/b.json", jobs);
	assert_int_equal(stat(path, &st), 0);
	assert_true(set->jobs[1]->fid.ino == st.st_ino);
	assert_true(set->jobs[1]->fid.dev == st.st_dev);
	assert_true(set->jobs[1]->fid.size == st.st_size);
	assert_true(set->jobs[1]->fid.mtime_ns == (int64_t)st.st_mtim.tv_sec *
	    1000000000 + st.st_mtim.tv_nsec);
	snprintf(path, sizeof(path), "%s/e.json", jobs);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(set->nbad_jobs, 1);
	assert_true(set->bad_job_fids[0].ino == st.st_ino);
	snprintf(path, sizeof(path), "%s/n1.json", nodes);
	assert_int_equal(stat(path, &st), 0);
	assert_true(set->nodes[0]->fid.ino == st.st_ino);
	defs_set_free(set);
	rm_rf(tmp);
}

/* The same names and file contents, in the same order. */
static void
assert_same_defs(const struct defs_set *a, const struct defs_set *b)
{
	size_t i;

	assert_int_equal(a->njobs, b->njobs);
	for (i = 0; i < a->njobs; i++) {
		assert_string_equal(a->jobs[i]->name, b->jobs[i]->name);
		assert_true(a->jobs[i]->digest == b->jobs[i]->digest);
	}
	assert_int_equal(a->nnodes, b->nnodes);
	for (i = 0; i < a->nnodes; i++)
		assert_string_equal(a->nodes[i]->name, b->nodes[i]->name);
	assert_int_equal(a->nbad_jobs, b->nbad_jobs);
	for (i = 0; i < a->nbad_jobs; i++)
		assert_string_equal(a->bad_jobs[i], b->bad_jobs[i]);
	assert_int_equal(a->nerrors, b->nerrors);
}

/* A scan re-parses only the files whose size, mtime or inode changed,
 * drops the ones gone, and ends where a fresh load does. */
static void
test_reload_scan(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	char from[PATH_MAX], to[PATH_MAX];
	struct defs_changes ch = { .all = true };
	struct diags ds = { 0 };
	struct defs_set *prev, *set, *fresh;
	struct stat st;

	(void)state;
	reload_fixture(tmp, jobs, nodes, &prev);
	assert_int_equal(defs_reload(jobs, nodes, zone("UTC"), prev, &ch,
	    &set, collect, &ds), 0);
	assert_int_equal(set->nparsed, 0);	/* nothing changed */
	assert_int_equal(ds.n, 0);	/* not even e.json's error again */
	assert_ptr_equal(set->jobs[2], prev->jobs[2]);
	assert_int_equal(set->jobs[2]->refs, 1);	/* shared */
	assert_ptr_equal(set->base, prev);
	assert_int_equal(set->nchanged_jobs, 0);
	assert_same_defs(set, prev);
	defs_set_replace(prev, set);
	prev = set;

	write_file(jobs, "b.json", JOB_DAILY);		/* size */
	set_mtime(jobs, "c.json", prev->jobs[2]->fid.mtime_ns - 1);  /* mtime */
	write_file(jobs, "a.new", JOB_HOURLY);		/* inode only */
	set_mtime(jobs, "a.new", prev->jobs[0]->fid.mtime_ns);
	snprintf(from, sizeof(from), "%s/a.new", jobs);
	snprintf(to, sizeof(to), "%s/a.json", jobs);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(stat(to, &st), 0);
	assert_true(st.st_size == prev->jobs[0]->fid.size);
	snprintf(to, sizeof(to), "%s/d.json", jobs);
	assert_int_equal(unlink(to), 0);		/* gone */
	write_file(jobs, "f.json", JOB_HOURLY);		/* new */
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(defs_reload(jobs, nodes, zone("UTC"), prev, &ch,
	    &set, collect, &ds), 0);
	assert_int_equal(set->nparsed, 4);	/* a, b, c, f */
	assert_int_equal(set->njobs, 4);
	assert_string_equal(set->jobs[3]->name, "f");
	assert_null(defs_find_job(set, "d"));
	assert_ptr_not_equal(set->jobs[0], prev->jobs[0]);
	assert_ptr_not_equal(set->jobs[1], prev->jobs[1]);
	assert_ptr_not_equal(set->jobs[2], prev->jobs[2]);
	assert_true(defs_job_is_bad(set, "e"));	/* still bad */
	assert_int_equal(set->nchanged_jobs, 5);	/* a, b, c, d, f */
	assert_string_equal(set->changed_jobs[3], "d");
	assert_int_equal(set->ndropped, 4);	/* a, b, c, d */
	assert_int_equal(defs_load(jobs, nodes, zone("UTC"), &fresh, NULL,
	    NULL), 0);
	assert_same_defs(set, fresh);
	defs_set_free(fresh);
	defs_set_replace(prev, set);
	defs_set_free(set);
	rm_rf(tmp);
}

/* A delta re-reads only the named files: the others are the previous
 * set's definitions, shared without touching their references until it
 * takes the previous set's place. */
static void
test_reload_delta(void **state)
{
	char tmp[] = "/tmp/test_defs.XXXXXX", jobs[256], nodes[256];
	char path[PATH_MAX];
	struct defs_changes ch = { 0 };
	struct diags ds = { 0 };
	struct defs_set *prev, *set;
	struct job_def *a;

	(void)state;
	reload_fixture(tmp, jobs, nodes, &prev);
	a = prev->jobs[0];
	write_file(jobs, "b.json", JOB_DAILY);
	write_file(jobs, "c.json", JOB_DAILY);	/* not named: not seen */
	snprintf(path, sizeof(path), "%s/d.json", jobs);
	assert_int_equal(unlink(path), 0);
	write_file(jobs, "bb.json", "{\"policy\": {\"roles\": [\"db\"]}, "
	    "\"schedule\": \"@daily\", \"command\": [\"/x\"]}");
	write_file(jobs, "e.json", JOB_HOURLY);	/* fixed */
	defs_changes_add_file(&ch, true, "d.json");
	defs_changes_add_file(&ch, true, "b.json");
	defs_changes_add_file(&ch, true, ".b.json.tmp");	/* ignored */
	defs_changes_add_name(&ch, true, "bb");
	defs_changes_add_name(&ch, true, "e");
	defs_changes_add_name(&ch, true, "b");	/* twice: read once */
	assert_int_equal(ch.njobs, 5);
	assert_int_equal(defs_reload(jobs, nodes, zone("UTC"), prev, &ch,
	    &set, collect, &ds), 0);
	assert_int_equal(set->nparsed, 3);	/* b, bb, e */
	assert_int_equal(set->nchanged_jobs, 4);	/* b, bb, d, e */
	assert_string_equal(set->changed_jobs[0], "b");
	assert_string_equal(set->changed_jobs[3], "e");
	assert_false(set->nodes_changed);
	assert_ptr_equal(set->base, prev);
	assert_int_equal(set->njobs, 5);	/* a, b, bb, c, e */
	assert_ptr_equal(set->jobs[0], a);
	assert_ptr_equal(set->jobs[3], prev->jobs[2]);	/* c: old */
	assert_int_equal(a->refs, 1);		/* shared, not referenced */
	assert_ptr_not_equal(set->jobs[1], prev->jobs[1]);
	assert_string_equal(set->jobs[2]->name, "bb");
	assert_string_equal(set->jobs[4]->name, "e");
	assert_null(defs_find_job(set, "d"));
	assert_int_equal(set->nbad_jobs, 0);
	assert_int_equal(set->nerrors, 0);
	/* the cross-check looked at the parsed jobs only */
	assert_int_equal(ds.n, 1);
	snprintf(path, sizeof(path), "%s/bb.json", jobs);
	assert_true(find_diag(&ds, "warning", path,
	    "policy.roles: no node has role \"db\"") >= 0);
	defs_set_replace(prev, set);
	assert_int_equal(a->refs, 1);		/* now set's */
	prev = set;

	/* a file named that broke: a bad file; a node named: every job is
	 * checked again */
	defs_changes_clear(&ch);
	write_file(jobs, "a.json", JOB_BROKEN);
	defs_changes_add_name(&ch, true, "a");
	defs_changes_add_name(&ch, false, "n1");
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(defs_reload(jobs, nodes, zone("UTC"), prev, &ch,
	    &set, collect, &ds), 0);
	assert_int_equal(set->nparsed, 2);
	assert_true(set->nodes_changed);
	assert_null(defs_find_job(set, "a"));
	assert_true(defs_job_is_bad(set, "a"));
	assert_int_equal(set->nerrors, 1);
	assert_int_equal(ds.n, 2);	/* a's error, bb's warning again */
	defs_set_free(set);		/* not adopted: prev intact */
	assert_int_equal(prev->jobs[1]->refs, 1);
	defs_set_free(prev);
	defs_changes_clear(&ch);
	rm_rf(tmp);
}

/* Too many names turn into a scan of everything. */
static void
test_reload_changes_bounded(void **state)
{
	struct defs_changes ch = { 0 };
	char name[32];
	int i;

	(void)state;
	assert_false(defs_changes_add_file(&ch, true, "x.json~"));
	assert_false(defs_changes_add_file(&ch, true, ".x.json"));
	assert_true(defs_changes_add_file(&ch, true, "-bad.json"));
	assert_int_equal(ch.njobs, 0);
	for (i = 0; i < DEFS_CHANGES_MAX; i++) {
		snprintf(name, sizeof(name), "j%d", i);
		defs_changes_add_name(&ch, i % 2, name);
	}
	assert_false(ch.all);
	assert_int_equal(ch.njobs + ch.nnodes, DEFS_CHANGES_MAX);
	defs_changes_add_name(&ch, true, "one-more");
	assert_true(ch.all);
	assert_int_equal(ch.njobs + ch.nnodes, 0);
	defs_changes_clear(&ch);
	assert_false(ch.all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readme_nodes),
		cmocka_unit_test(test_readme_job),
		cmocka_unit_test(test_job_extensions),
		cmocka_unit_test(test_interval_reference_and_zone),
		cmocka_unit_test(test_output_limit_units),
		cmocka_unit_test(test_http_job),
		cmocka_unit_test(test_amqp_job),
		cmocka_unit_test(test_amqp_job_errors),
		cmocka_unit_test(test_amqp_credentials),
		cmocka_unit_test(test_webhook_header_secret),
		cmocka_unit_test(test_amqp_notify),
		cmocka_unit_test(test_http_job_policy),
		cmocka_unit_test(test_keep_node),
		cmocka_unit_test(test_node_extensions),
		cmocka_unit_test(test_job_errors),
		cmocka_unit_test(test_command_errors),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_notify_errors),
		cmocka_unit_test(test_policy_errors),
		cmocka_unit_test(test_schedule_errors),
		cmocka_unit_test(test_unknown_zone),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_node_errors),
		cmocka_unit_test(test_echo_escaped),
		cmocka_unit_test(test_invalid_name),
		cmocka_unit_test(test_unknown_fields_warn),
		cmocka_unit_test(test_digest_and_refs),
		cmocka_unit_test(test_load_dirs),
		cmocka_unit_test(test_load_many_in_order),
		cmocka_unit_test(test_load_shares_schedules),
		cmocka_unit_test(test_load_bad_names_and_sizes),
		cmocka_unit_test(test_load_missing_dir),
		cmocka_unit_test(test_reload_identity),
		cmocka_unit_test(test_reload_scan),
		cmocka_unit_test(test_reload_delta),
		cmocka_unit_test(test_reload_changes_bounded),
	};
	int r;

	r = cmocka_run_group_tests(tests, NULL, NULL);
	tz_cache_clear();
	return r;
}
