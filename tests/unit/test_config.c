/* test_config.c - settings precedence, aliases, and error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "distcron/config.h"
#include "distcron/err.h"

static char dir[64];
static char file[128];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/distcron-config.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(file, sizeof(file), "%s/distcrond.conf", dir);
	return 0;
}

static int
teardown(void **state)
{
	unlink(file);
	rmdir(dir);
	return 0;
}

static void
write_file(const char *text)
{
	FILE *fp = fopen(file, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(file, 0600), 0);	/* may hold a secret */
}

static int
load(struct config *cfg, int argc, char **argv, char **envp, char *err)
{
	return config_load(cfg, argc, argv, envp, err, 256);
}

static void
test_defaults(void **state)
{
	char *argv[] = { "distcrond", "--config", "/dev/null", NULL };
	struct config cfg;
	char err[256];

	/* an empty file (here /dev/null) holds no settings */
	assert_int_equal(load(&cfg, 3, argv, NULL, err), 0);
	assert_string_equal(cfg.jobs_dir, SYSCONFDIR "/distcron/jobs.d");
	assert_string_equal(cfg.nodes_dir, SYSCONFDIR "/distcron/nodes.d");
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_int_equal(cfg.log_level, LOG_LVL_INFO);
	assert_false(cfg.syslog);
	assert_int_equal(cfg.max_concurrent_runs, 1024);
	assert_int_equal(cfg.shutdown_grace_ms, 30000);
	assert_int_equal(cfg.es_port, 9200);
	assert_int_equal(cfg.output_memory_max, 256 << 20);
	assert_int_equal(cfg.api_conn_per_ip, 64);
	config_free(&cfg);
}

static void
test_precedence(void **state)
{
	char *argv[] = { "distcrond", "--config", file, "--nodes-dir", "/flag/nodes",
	    "--log-level=debug", "--syslog", NULL };
	char *envp[] = { "DISTCRON_JOBS_DIR=/env/jobs",
	    "DISTCRON_NODES_DIR=/env/nodes", "OTHER=1", NULL };
	struct config cfg;
	char err[256];

	write_file("/* comments are fine */\n{\"jobs_dir\": \"/file/jobs\",\n"
	    " \"nodes_dir\": \"/file/nodes\", \"state_dir\": \"/file/state\",\n"
	    " \"max_concurrent_runs\": 7, \"shutdown_grace\": 5}\n");
	assert_int_equal(load(&cfg, 7, argv, envp, err), 0);
	assert_string_equal(cfg.state_dir, "/file/state");	/* file */
	assert_string_equal(cfg.jobs_dir, "/env/jobs");		/* env > file */
	assert_string_equal(cfg.nodes_dir, "/flag/nodes");	/* flag > env */
	assert_int_equal(cfg.max_concurrent_runs, 7);
	assert_int_equal(cfg.shutdown_grace_ms, 5000);	/* number = seconds */
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	assert_true(cfg.syslog);
	assert_string_equal(cfg.config_file, file);
	config_free(&cfg);
}

static void
test_distcrond_aliases(void **state)
{
	char *argv[] = { "distcrond", "--config", file, "--jobsDirectory=/a",
	    "--nodesDirectory", "/b", "--esHost", "es.local", "--esPort", "9201",
	    NULL };
	struct config cfg;
	char err[256];

	write_file("{}");
	assert_int_equal(load(&cfg, 10, argv, NULL, err), 0);
	assert_string_equal(cfg.jobs_dir, "/a");
	assert_string_equal(cfg.nodes_dir, "/b");
	assert_string_equal(cfg.es_host, "es.local");
	assert_int_equal(cfg.es_port, 9201);
	config_free(&cfg);
}

static void
test_config_file_from_env(void **state)
{
	char *argv[] = { "distcrond", NULL };
	char envbuf[200], *envp[] = { envbuf, NULL };
	struct config cfg;
	char err[256];

	write_file("{\"state_dir\": \"/from/env/file\"}");
	snprintf(envbuf, sizeof(envbuf), "DISTCRON_CONFIG=%s", file);
	assert_int_equal(load(&cfg, 1, argv, envp, err), 0);
	assert_string_equal(cfg.state_dir, "/from/env/file");
	config_free(&cfg);
}

/* Relative paths in the file are taken from the file's directory; in flags
 * and the environment, from the working directory. */
static void
test_relative_paths(void **state)
{
	char *argv[] = { "distcrond", "--config", file, "--tls-key", "k.pem",
	    NULL };
	char *envp[] = { "DISTCRON_STATE_DIR=var", NULL };
	char want[256], *argv2[] = { "distcrond", "--config", "distcrond.conf",
	    NULL };
	struct config cfg;
	char err[256], cwd[4096];

	write_file("{\"jobs_dir\": \"../jobs.d\", \"nodes_dir\": \"nodes.d\",\n"
	    " \"state_dir\": \"../var\", \"tls_cert\": \"tls/cert.pem\",\n"
	    " \"tls_key\": \"tls/key.pem\", \"api_token\": \"not/a/path\"}\n");
	assert_int_equal(load(&cfg, 5, argv, envp, err), 0);
	snprintf(want, sizeof(want), "%s/../jobs.d", dir);
	assert_string_equal(cfg.jobs_dir, want);
	snprintf(want, sizeof(want), "%s/nodes.d", dir);
	assert_string_equal(cfg.nodes_dir, want);
	snprintf(want, sizeof(want), "%s/tls/cert.pem", dir);
	assert_string_equal(cfg.tls_cert, want);
	assert_string_equal(cfg.state_dir, "var");	/* environment */
	assert_string_equal(cfg.tls_key, "k.pem");	/* flag */
	assert_string_equal(cfg.api_token, "not/a/path");
	config_free(&cfg);

	/* a file named without a directory: its paths are left as given */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(load(&cfg, 3, argv2, NULL, err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(cfg.jobs_dir, "../jobs.d");
	config_free(&cfg);

	write_file("{\"jobs_dir\": \"/abs/jobs.d\", \"state_dir\": \"\"}");
	assert_int_equal(load(&cfg, 3, argv, NULL, err), 0);
	assert_string_equal(cfg.jobs_dir, "/abs/jobs.d");
	assert_string_equal(cfg.state_dir, "");
	config_free(&cfg);
}

static void
expect_error(int argc, char **argv, char **envp, const char *msg)
{
	struct config cfg;
	char err[256];

	assert_int_equal(load(&cfg, argc, argv, envp, err), ERR_CONFIG);
	if (strstr(err, msg) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, msg);
	config_free(&cfg);
}

static void
test_errors(void **state)
{
	char *a1[] = { "distcrond", "--config", file, "--bogus", NULL };
	char *a2[] = { "distcrond", "--config", file, "--state-dir", NULL };
	char *a3[] = { "distcrond", "--config", "/nonexistent/x.conf", NULL };
	char *a4[] = { "distcrond", "--config", file, NULL };
	char *e1[] = { "DISTCRON_MAX_CONCURRENT_RUNS=lots", NULL };
	char *e2[] = { "DISTCRON_SHUTDOWN_GRACE=30", NULL };
	char *a5[] = { "distcrond", "--config", file, "--log-level", "loud", NULL };

	write_file("{}");
	expect_error(4, a1, NULL, "unknown option --bogus");
	expect_error(4, a2, NULL, "option --state-dir needs a value");
	expect_error(3, a3, NULL, "/nonexistent/x.conf");
	expect_error(3, a4, e1, "environment: max_concurrent_runs: expected an "
	    "integer in range, got \"lots\"");
	expect_error(3, a4, e2, "environment: shutdown_grace: bad duration \"30\"");
	expect_error(5, a5, NULL, "command line: log_level: expected error, warn,"
	    " info or debug, got \"loud\"");
	write_file("{\"max_concurrent_runs\": 0}");
	expect_error(3, a4, NULL, ": max_concurrent_runs: expected an integer in"
	    " range, got \"0\"");
	write_file("{\"jobs_dir\": 5}");
	expect_error(3, a4, NULL, ": jobs_dir: wrong type (int)");
	write_file("{\"jobs_dir\": ");
	expect_error(3, a4, NULL, ": invalid JSON at line 1, column 14, in "
	    "jobs_dir: unexpected end of input, expected a value");
	write_file("{\n  \"log_level\": \"info\",\n  \"api_nice\": nul\n}");
	expect_error(3, a4, NULL, ": invalid JSON at line 3, column 15, in "
	    "api_nice: 'nul' is not a value (expected a string in double "
	    "quotes, a number, true, false, null, an object or an array)");
	expect_error(3, a3, NULL, "/nonexistent/x.conf: cannot load: No such "
	    "file or directory");
}

/* output_memory_max is a size: bytes or a unit, in the file as a number
 * or a string; a bad one names the key and the value. */
static void
test_sizes(void **state)
{
	char *a4[] = { "distcrond", "--config", file, NULL };
	char *a6[] = { "distcrond", "--config", file, "--output-memory-max",
	    "1G", NULL };
	struct config cfg;
	char err[256];

	write_file("{\"output_memory_max\": 65536}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_int_equal(cfg.output_memory_max, 65536);
	config_free(&cfg);
	write_file("{\"output_memory_max\": \"64k\"}");
	assert_int_equal(load(&cfg, 5, a6, NULL, err), 0);
	assert_int_equal(cfg.output_memory_max, 1 << 30);
	config_free(&cfg);
	write_file("{\"output_memory_max\": \"12 parsecs\"}");
	expect_error(3, a4, NULL, ": output_memory_max: expected a size from 0 "
	    "to 1099511627776 bytes (like 256M, 1G, 65536), got \"12 parsecs\"");
	write_file("{\"output_memory_max\": \"2000G\"}");
	expect_error(3, a4, NULL, ": output_memory_max: expected a size");
}

/* Found by tests/fuzz/fuzz_config: a value is quoted escaped, so an
 * error is one line whatever the file holds. */
static void
test_error_value_escaped(void **state)
{
	char *a4[] = { "distcrond", "--config", file, NULL };
	char *e1[] = { "DISTCRON_API_THREADS=2\n3", NULL };

	write_file("{\"ssh_idle_timeout\": \"\\u0015m\"}");
	expect_error(3, a4, NULL, ": ssh_idle_timeout: bad duration \"\\x15m\" "
	    "(like");
	write_file("{\"log_level\": \"a\\\"b\\\\\\tc\"}");
	expect_error(3, a4, NULL, ": log_level: expected error, warn, info or "
	    "debug, got \"a\\\"b\\\\\\tc\"");
	write_file("{}");
	expect_error(3, a4, e1, "environment: api_threads: expected an integer "
	    "in range, got \"2\\n3\"");
}

/* A config file holding a secret (api_token, api_read_token,
 * smtp.password, elasticsearch.password or api_key, the default notify's
 * Slack URL, webhook headers, or a webhook, smtp or Elasticsearch URL with
 * credentials or a query) that group or others may read is refused,
 * naming the file, the setting and the mode; without a secret any mode
 * will do. */
static void
test_secret_file_private(void **state)
{
	char *a4[] = { "distcrond", "--config", file, NULL };
	static const char *const secrets[][2] = {
		{ "{\"api_token\": \"t0ken-abcdefghijklmnop\"}", "api_token" },
		{ "{\"api_read_token\": \"r3ad-abcdefghijklmnop\"}",
		  "api_read_token" },
		{ "{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
		  "\"password\": \"pw\"}}", "smtp.password" },
		{ "{\"elasticsearch\": {\"api_key\": \"k\"}}",
		  "elasticsearch.api_key" },
		{ "{\"notify\": {\"slack\": {\"url\": "
		  "\"https://hooks.slack.com/services/T0/B0/x\"}}}",
		  "notify.slack.url" },
		{ "{\"notify\": {\"webhook\": {\"url\": "
		  "\"https://u:pw@hook.example/x\"}}}", "notify.webhook.url" },
		{ "{\"notify\": {\"webhook\": {\"url\": "
		  "\"https://hook.example/x?token=s3cret\"}}}",
		  "notify.webhook.url" },
		{ "{\"notify\": {\"webhook\": {\"url\": "
		  "\"https://hook.example/x\", \"headers\": "
		  "{\"Authorization\": \"Bearer s3cret\"}}}}",
		  "notify.webhook.headers" },
		{ "{\"notify\": {\"webhook\": {\"url\": "
		  "\"https://hook.example/x\", \"headers\": "
		  "{\"X-Token\": \"s3cret\"}}}}", "notify.webhook.headers" },
		{ "{\"elasticsearch\": {\"url\": "
		  "\"https://elastic:pw@es.example:9200\"}}",
		  "elasticsearch.url" },
		{ "{\"elasticsearch\": {\"url\": [\"http://es1:9200\", "
		  "\"http://elastic:pw@es2:9200\"]}}", "elasticsearch.url" },
		{ "{\"smtp\": {\"url\": \"smtp://u:pw@h/\", \"from\": "
		  "\"a@b\"}}", "smtp.url" },
		{ "{\"cluster\": {\"username\": \"u\", \"password\": "
		  "\"pw\"}}", "cluster.password" },
		{ "{\"amqp\": {\"url\": \"amqp://u:pw@mq:5672/\"}}",
		  "amqp.url" },
		{ "{\"notify\": {\"amqp\": {\"url\": "
		  "\"amqps://u:pw@mq/v\"}}}", "notify.amqp.url" },
		{ "{\"amqp\": {\"url\": \"amqp://mq/\", \"password\": "
		  "\"pw\"}}", "amqp.password" },
	};
	static const char *const public[] = {
		"{\"api_token\": \"\", \"listen\": \"127.0.0.1:1\"}",
		"{\"notify\": {\"webhook\": {\"url\": "
		"\"https://hook.example/x\", \"headers\": {}}}}",
		"{\"elasticsearch\": {\"url\": [\"http://es1:9200\"]}}",
		"{\"amqp\": {\"url\": \"amqp://mq:5672/\"}}",
		"{\"cluster\": {\"etcd\": \"http://a:2379,http://b:2379\", "
		"\"password\": \"\"}}",
		"{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
		"\"username\": \"u\", \"password\": {\"secret\": \"pw\"}}}",
		"{\"notify\": {\"webhook\": {\"url\": "
		"\"https://hook.example/x\", \"headers\": "
		"{\"Authorization\": {\"secret\": \"tok\"}}}}}",
	};
	struct config cfg;
	char err[256], want[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		write_file(secrets[i][0]);
		assert_int_equal(chmod(file, 0644), 0);
		snprintf(want, sizeof(want), "%s: holds a secret (%s) but is "
		    "not private: mode 0644 is readable by group or others; "
		    "chmod 600 it", file, secrets[i][1]);
		expect_error(3, a4, NULL, want);
		assert_int_equal(chmod(file, 0600), 0);
		assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
		config_free(&cfg);
	}
	for (i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
		write_file(public[i]);
		assert_int_equal(chmod(file, 0644), 0);
		assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
		config_free(&cfg);
	}
	write_file("{\"api_token\": \"t0ken-abcdefghijklmnop\"}");
	assert_int_equal(chmod(file, 0604), 0);
	expect_error(3, a4, NULL, "mode 0604 is readable by group or others");
}

/* user and allow_root_jobs: empty and false unless set. */
static void
test_user_keys(void **state)
{
	char *a1[] = { "distcrond", "--config", "/dev/null", "--user",
	    "distcron", "--allow-root-jobs", NULL };
	char *e1[] = { "DISTCRON_ALLOW_ROOT_JOBS=true", NULL };
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, 3, a1, NULL, err), 0);
	assert_string_equal(cfg.user, "");
	assert_false(cfg.allow_root_jobs);
	config_free(&cfg);
	assert_int_equal(load(&cfg, 6, a1, NULL, err), 0);
	assert_string_equal(cfg.user, "distcron");
	assert_true(cfg.allow_root_jobs);
	config_free(&cfg);
	assert_int_equal(load(&cfg, 3, a1, e1, err), 0);
	assert_true(cfg.allow_root_jobs);
	config_free(&cfg);
}

/* The sections smtp, notify and statsd: objects read with jfield, their
 * defaults, and errors naming the section's field and value (a password
 * never echoed). */
static void
test_sections(void **state)
{
	char *a4[] = { "distcrond", "--config", file, NULL };
	char *e1[] = { "DISTCRON_NOTIFY_MIN_INTERVAL=5m", NULL };
	struct config cfg;
	char err[256];

	(void)state;
	write_file("{}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_null(cfg.smtp.url);
	assert_null(cfg.notify);
	assert_null(cfg.statsd.host);
	assert_int_equal(cfg.statsd.port, 8125);
	assert_string_equal(cfg.statsd.prefix, "distcron.");
	assert_false(cfg.statsd.tags);
	assert_int_equal(cfg.notify_min_interval_ms, 60000);
	config_free(&cfg);

	write_file("{\"smtp\": {\"url\": \"smtp://127.0.0.1:2525\", "
	    "\"username\": \"u\", \"password\": \"pw\", \"from\": "
	    "\"cron@example.org\", \"starttls\": \"always\", \"ca_file\": "
	    "\"/etc/ca.pem\"}, \"notify\": {\"email\": [\"ops@example.org\"]},"
	    " \"statsd\": {\"host\": \"127.0.0.1\", \"port\": 9125, "
	    "\"prefix\": \"dc.\", \"tags\": true}, \"notify_min_interval\": "
	    "\"30s\"}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_string_equal(cfg.smtp.url, "smtp://127.0.0.1:2525");
	assert_string_equal(cfg.smtp.username, "u");
	assert_string_equal(cfg.smtp.password, "pw");
	assert_string_equal(cfg.smtp.from, "cron@example.org");
	assert_int_equal(cfg.smtp.starttls, CONFIG_STARTTLS_ALWAYS);
	assert_string_equal(cfg.smtp.ca_file, "/etc/ca.pem");
	assert_non_null(cfg.notify);
	assert_int_equal(cfg.notify->on, DEFS_NOTIFY_DEFAULT);
	assert_string_equal(cfg.notify->email[0], "ops@example.org");
	assert_string_equal(cfg.statsd.host, "127.0.0.1");
	assert_int_equal(cfg.statsd.port, 9125);
	assert_string_equal(cfg.statsd.prefix, "dc.");
	assert_true(cfg.statsd.tags);
	assert_int_equal(cfg.notify_min_interval_ms, 30000);
	config_free(&cfg);
	assert_int_equal(load(&cfg, 3, a4, e1, err), 0);
	assert_int_equal(cfg.notify_min_interval_ms, 300000);
	config_free(&cfg);

	write_file("{\"smtp\": {\"url\": \"http://h/\", \"from\": \"a@b\"}}");
	expect_error(3, a4, NULL, ": smtp.url: must start with smtp:// or "
	    "smtps:// (got \"http://h/\")");
	write_file("{\"smtp\": {\"url\": \"smtp://u:secretpw@h/\", "
	    "\"from\": 5}}");
	expect_error(3, a4, NULL, ": smtp.from: expected a string, got integer");
	write_file("{\"smtp\": {\"url\": \"smtp://h/\"}}");
	expect_error(3, a4, NULL, ": smtp.from: missing");
	write_file("{\"smtp\": {\"url\": \"smtp://h/\", \"from\": "
	    "\"a@b\\r\\nBcc: x@y\"}}");
	expect_error(3, a4, NULL, ": smtp.from: invalid address "
	    "\"a@b\\r\\nBcc: x@y\"");
	write_file("{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
	    "\"starttls\": \"maybe\"}}");
	expect_error(3, a4, NULL, ": smtp.starttls: ");
	write_file("{\"smtp\": \"smtp://h\"}");
	expect_error(3, a4, NULL, ": smtp: expected an object, got string");
	write_file("{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
	    "\"password\": {\"secret\": \"mail-pw\"}}}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_null(cfg.smtp.password);
	assert_string_equal(cfg.smtp.password_secret, "mail-pw");
	config_free(&cfg);
	write_file("{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
	    "\"password\": {\"secret\": \"no way\"}}}");
	expect_error(3, a4, NULL, ": smtp.password: invalid secret name "
	    "\"no way\"");
	write_file("{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
	    "\"password\": {\"name\": \"pw\"}}}");
	expect_error(3, a4, NULL, ": smtp.password: expected a string or "
	    "{\"secret\": NAME}");
	write_file("{\"smtp\": {\"url\": \"smtp://h/\", \"from\": \"a@b\", "
	    "\"password\": 5}}");
	expect_error(3, a4, NULL, ": smtp.password: expected a string, got "
	    "integer");
	write_file("{\"notify\": {\"on\": [\"sometimes\"]}}");
	expect_error(3, a4, NULL, ": notify.on[0]: unknown event \"sometimes\"");
	write_file("{\"statsd\": {\"host\": \"h\", \"port\": 70000}}");
	expect_error(3, a4, NULL, ": statsd.port: 70000 out of range 1-65535");
	write_file("{\"amqp\": {\"url\": \"http://u:pw@mq/\"}}");
	expect_error(3, a4, NULL, ": amqp.url: must start with amqp:// or "
	    "amqps:// (got \"http://mq/\")");
	write_file("{\"amqp\": {\"url\": \"amqp://mq/\", \"ca_file\": 1}}");
	expect_error(3, a4, NULL, ": amqp.ca_file: expected a string, got "
	    "integer");
	write_file("{\"amqp\": {\"url\": \"amqp://mq/\", "
	    "\"ca_file\": \"/etc/ca.pem\"}}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_string_equal(cfg.amqp.url, "amqp://mq/");
	assert_string_equal(cfg.amqp.ca_file, "/etc/ca.pem");
	config_free(&cfg);
	assert_null(cfg.amqp.url);
	write_file("{\"amqp\": {\"url\": \"amqp://mq/\", \"username\": \"u\", "
	    "\"password\": {\"secret\": \"mq-pw\"}}}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_string_equal(cfg.amqp.username, "u");
	assert_null(cfg.amqp.password);
	assert_string_equal(cfg.amqp.password_secret, "mq-pw");
	config_free(&cfg);
	write_file("{\"amqp\": {\"url\": \"amqp://mq/\", \"username\": "
	    "\"u\"}}");
	expect_error(3, a4, NULL, ": amqp.username: given without "
	    "amqp.password");
	write_file("{\"amqp\": {\"url\": \"amqp://mq/\", \"password\": []}}");
	expect_error(3, a4, NULL, ": amqp.password: expected a string, got "
	    "array");

	/* elasticsearch is kept as written, for the sink's module to read */
	write_file("{\"elasticsearch\": {\"url\": \"http://127.0.0.1:9200\", "
	    "\"batch_docs\": 10}}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_non_null(cfg.elasticsearch);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    cfg.elasticsearch, "url")), "http://127.0.0.1:9200");
	assert_int_equal(json_object_get_int(json_object_object_get(
	    cfg.elasticsearch, "batch_docs")), 10);
	config_free(&cfg);
	assert_null(cfg.elasticsearch);
	write_file("{\"elasticsearch\": [\"http://h:9200\"]}");
	expect_error(3, a4, NULL, ": elasticsearch: expected an object, got "
	    "array");
}

/* The cluster section: off by default; in the file an object, each key
 * also a variable and a flag (--etcd), in the usual precedence; the
 * member id is hostname:pid when cluster mode is on and none is set. */
static void
test_cluster_keys(void **state)
{
	char *a4[] = { "distcrond", "--config", file, NULL };
	char *a6[] = { "distcrond", "--config", file, "--etcd",
	    "https://flag:2379", NULL };
	char *e1[] = { "DISTCRON_ETCD=http://env:2379", NULL };
	char *e2[] = { "DISTCRON_ETCD_PASSWORD=envpw", "DISTCRON_ETCD="
	    "http://127.0.0.1:2379", "DISTCRON_ETCD_USERNAME=root", NULL };
	struct config cfg;
	char err[256], want[160], host[200];

	(void)state;
	write_file("{}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_false(config_cluster_on(&cfg));
	assert_string_equal(cfg.cluster.etcd, "");
	assert_string_equal(cfg.cluster.namespace, "default");
	assert_string_equal(cfg.cluster.member, "");	/* off: none */
	assert_string_equal(cfg.cluster.password, "");
	assert_int_equal(cfg.cluster.lease_ttl_ms, 3000);
	config_free(&cfg);

	write_file("{\"cluster\": {\"etcd\": \"http://127.0.0.1:2379,"
	    "https://[::1]:2379\", \"ca_file\": \"/etc/ca.pem\", "
	    "\"cert_file\": \"/etc/c.pem\", \"key_file\": \"/etc/k.pem\", "
	    "\"username\": \"cron\", \"password\": \"pw\", \"namespace\": "
	    "\"prod-1.eu_west\", \"member\": \"host-a:7\", \"lease_ttl\": "
	    "\"5s\"}}");
	assert_int_equal(load(&cfg, 3, a4, NULL, err), 0);
	assert_true(config_cluster_on(&cfg));
	assert_string_equal(cfg.cluster.etcd,
	    "http://127.0.0.1:2379,https://[::1]:2379");
	assert_string_equal(cfg.cluster.ca_file, "/etc/ca.pem");
	assert_string_equal(cfg.cluster.cert_file, "/etc/c.pem");
	assert_string_equal(cfg.cluster.key_file, "/etc/k.pem");
	assert_string_equal(cfg.cluster.username, "cron");
	assert_string_equal(cfg.cluster.password, "pw");
	assert_string_equal(cfg.cluster.namespace, "prod-1.eu_west");
	assert_string_equal(cfg.cluster.member, "host-a:7");
	assert_int_equal(cfg.cluster.lease_ttl_ms, 5000);
	config_free(&cfg);

	/* precedence: file < DISTCRON_ETCD < --etcd */
	write_file("{\"cluster\": {\"etcd\": \"http://file:2379\"}}");
	assert_int_equal(load(&cfg, 3, a4, e1, err), 0);
	assert_string_equal(cfg.cluster.etcd, "http://env:2379");
	config_free(&cfg);
	assert_int_equal(load(&cfg, 5, a6, e1, err), 0);
	assert_string_equal(cfg.cluster.etcd, "https://flag:2379");
	/* no member set: this host's name and pid */
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), ":%ld", (long)getpid());
	assert_int_equal(strncmp(cfg.cluster.member, host, strspn(host,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "-_.")), 0);	/* what a member may hold is kept */
	assert_non_null(strstr(cfg.cluster.member, want));
	config_free(&cfg);

	/* the password from the environment (the file need not hold it) */
	write_file("{}");
	assert_int_equal(load(&cfg, 3, a4, e2, err), 0);
	assert_string_equal(cfg.cluster.password, "envpw");
	assert_string_equal(cfg.cluster.username, "root");
	config_free(&cfg);
}

/* Each bad cluster value is refused, naming the key and the value (an
 * etcd URL without its credentials); a password has no flag and makes
 * the file a secret one. */
static void
test_cluster_errors(void **state)
{
	char *a4[] = { "distcrond", "--config", file, NULL };
	char *a5[] = { "distcrond", "--config", file, "--etcd", "ftp://x",
	    NULL };
	char *a6[] = { "distcrond", "--config", file, "--etcd-password",
	    "pw", NULL };
	char *e1[] = { "DISTCRON_CLUSTER_NAMESPACE=a/b", NULL };
	char *e2[] = { "DISTCRON_CLUSTER_LEASE_TTL=1s", NULL };
	static const char *const bad[][2] = {
		{ "{\"cluster\": {\"etcd\": \"http://a:2379,ftp://u:s3cret@b/\"}}",
		  ": cluster.etcd: entry 2 \"ftp://***:***@b/\": the scheme "
		  "must be http or https" },	/* without its credentials */
		{ "{\"cluster\": {\"etcd\": \"http://a:2379,"
		  "http://u:pw@b:2379\"}}", ": cluster.etcd: entry 2 "
		  "\"http://***:***@b:2379\": credentials are not allowed in "
		  "the URL (use cluster.username and cluster.password)" },
		{ "{\"cluster\": {\"etcd\": \"http://a:2379,\"}}",
		  ": cluster.etcd: entry 2: empty" },
		{ "{\"cluster\": {\"etcd\": \"http://\"}}",
		  ": cluster.etcd: entry 1 \"http://\": no host" },
		{ "{\"cluster\": {\"etcd\": \"http://127.0.0.1\"}}",
		  ": cluster.etcd: entry 1 \"http://127.0.0.1\": no port" },
		{ "{\"cluster\": {\"etcd\": \"http://h:2379/v3\"}}",
		  ": cluster.etcd: entry 1 \"http://h:2379/v3\": expected "
		  "only scheme://host:port" },
		{ "{\"cluster\": {\"namespace\": \"\"}}",
		  ": cluster.namespace: must not be empty" },
		{ NULL, ": cluster.namespace: \"nnnnnnnn" },
		{ NULL, "\": longer than 64 bytes" },
		{ "{\"cluster\": {\"member\": \"a b\"}}",
		  ": cluster.member: \"a b\": ' ' is not allowed (letters, "
		  "digits, '-', '_', '.', ':' only)" },
		{ "{\"cluster\": {\"cert_file\": \"/c.pem\"}}",
		  "cluster: cert_file without key_file (both or neither)" },
		{ "{\"cluster\": {\"password\": \"s3cret\"}}",
		  "cluster: password without username (both or neither)" },
		{ "{\"cluster\": \"http://a:2379\"}",
		  ": cluster: expected an object, got string" },
		{ "{\"cluster\": {\"lease_ttl\": \"soon\"}}",
		  ": cluster.lease_ttl: bad duration \"soon\"" },
	};
	char long_ns[100], text[200];
	size_t i;

	(void)state;
	write_file("{}");
	expect_error(5, a5, NULL, "command line: cluster.etcd: entry 1 "
	    "\"ftp://x\": the scheme must be http or https");
	expect_error(5, a6, NULL, "unknown option --etcd-password");
	expect_error(3, a4, e1, "environment: cluster.namespace: \"a/b\": "
	    "'/' is not allowed (letters, digits, '-', '_', '.' only)");
	expect_error(3, a4, e2, "environment: cluster.lease_ttl: must be at "
	    "least 2s, got \"1s\"");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i][0] == NULL) {	/* a namespace of 65 bytes */
			memset(long_ns, 'n', 65);
			long_ns[65] = '\0';
			snprintf(text, sizeof(text), "{\"cluster\": "
			    "{\"namespace\": \"%s\"}}", long_ns);
		} else
			snprintf(text, sizeof(text), "%s", bad[i][0]);
		write_file(text);
		expect_error(3, a4, NULL, bad[i][1]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_distcrond_aliases),
		cmocka_unit_test(test_config_file_from_env),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_value_escaped),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_secret_file_private),
		cmocka_unit_test(test_user_keys),
		cmocka_unit_test(test_cluster_keys),
		cmocka_unit_test(test_cluster_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
