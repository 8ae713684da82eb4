/*
 * config.c - daemon settings from defaults, file, environment and flags.
 *
 * One table lists every setting with its JSON key, environment variable,
 * flags, type and default.  Each source is applied in turn through the same
 * typed setter on jfield's text parsers, so a value is validated the same
 * way wherever it comes from (and as in job definitions), and every error
 * names its source, key and value.  A few settings are JSON objects
 * (sections: smtp, notify, statsd, amqp), read from the file only with jfield
 * tables, their errors naming the path ("smtp.starttls").  The cluster
 * section's keys are rows of the table ("cluster.etcd"), so that they have
 * variables and flags too: in the file they are the members of the
 * "cluster" object; a row may carry a check of its text (an etcd URL, a
 * namespace), and the pairs that go together are checked once every
 * source is read.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/config.h"
#include "distcron/dur.h"
#include "distcron/endpoints.h"
#include "distcron/err.h"
#include "distcron/fileio.h"
#include "distcron/jfield.h"
#include "distcron/jsontext.h"
#include "distcron/log.h"
#include "distcron/url.h"

/*
 * One setting: its JSON key, type, target and bounds as a jfield, and where
 * else it comes from.  Every value, from the file too, is text for
 * config_set() (jfield_json_text()), so the targets are config's own:
 * JFIELD_I64 and JFIELD_SIZE an int64_t, JFIELD_CUSTOM the log level, and
 * JFIELD_PATH a string that, relative in a config file, is taken from the
 * file's directory (in a flag or the environment: the working directory).
 */
struct ckey {
	struct jfield f;
	const char *env;	/* environment variable */
	const char *flag;	/* long option, without "--" */
	const char *alias;	/* distcrond's (Go) spelling, or NULL */
	const char *def;	/* default, parsed like any other value */
	const char *help;
	/* checks the text v, or NULL: 0, or -1 with why set */
	int (*check)(const char *v, char *why, size_t n);
};

#define KEY(k, e, fl, al, t, o, d, lo, hi, h) \
	{ .f = JFIELD_ENTRY(k, t, o, lo, hi, NULL), .env = (e), .flag = (fl), \
	  .alias = (al), .def = (d), .help = (h) }
/* A key whose text check(v, why, n) accepts first. */
#define KEYC(k, e, fl, t, o, d, lo, hi, h, ck) \
	{ .f = JFIELD_ENTRY(k, t, o, lo, hi, NULL), .env = (e), .flag = (fl), \
	  .def = (d), .help = (h), .check = (ck) }
#define OFF(f)	offsetof(struct config, f)
#define CLUSTER_PREFIX	"cluster."
#define LEASE_TTL_MIN_MS	2000	/* etcd's minimum TTL */
#define CONFIG_FILE_MAX	1048576	/* bytes of a config file */
#define STR_(x)	#x
#define STR(x)	STR_(x)

static int check_etcd(const char *, char *, size_t);
static int check_namespace(const char *, char *, size_t);
static int check_member(const char *, char *, size_t);

static const struct ckey keys[] = {
	KEY("jobs_dir", "DISTCRON_JOBS_DIR", "jobs-dir", "jobsDirectory",
	    JFIELD_PATH, OFF(jobs_dir), SYSCONFDIR "/distcron/jobs.d", 0, 0,
	    "directory of job definitions (*.json)"),
	KEY("nodes_dir", "DISTCRON_NODES_DIR", "nodes-dir", "nodesDirectory",
	    JFIELD_PATH, OFF(nodes_dir), SYSCONFDIR "/distcron/nodes.d", 0, 0,
	    "directory of node definitions (*.json)"),
	KEY("state_dir", "DISTCRON_STATE_DIR", "state-dir", NULL,
	    JFIELD_PATH, OFF(state_dir), LOCALSTATEDIR "/lib/distcron", 0, 0,
	    "directory of the run store and other state"),
	KEY("listen", "DISTCRON_LISTEN", "listen", NULL,
	    JFIELD_STR, OFF(listen), "127.0.0.1:8080", 0, 0,
	    "ADDR:PORT of the REST API"),
	KEY("log_level", "DISTCRON_LOG_LEVEL", "log-level", NULL,
	    JFIELD_CUSTOM, OFF(log_level), "info", 0, 0,
	    "error, warn, info or debug"),
	KEY("syslog", "DISTCRON_SYSLOG", "syslog", NULL,
	    JFIELD_BOOL, OFF(syslog), "false", 0, 0,
	    "log to syslog instead of stderr"),
	KEY("log_file", "DISTCRON_LOG_FILE", "log-file", NULL,
	    JFIELD_PATH, OFF(log_file), "", 0, 0,
	    "append the log to this file instead of stderr (reopened on "
	    "SIGUSR1, for logrotate)"),
	KEY("timezone", "DISTCRON_TIMEZONE", "timezone", NULL,
	    JFIELD_STR, OFF(timezone), "", 0, 0,
	    "default time zone of jobs (empty: the system's)"),
	KEY("max_concurrent_runs", "DISTCRON_MAX_CONCURRENT_RUNS",
	    "max-concurrent-runs", NULL, JFIELD_I64, OFF(max_concurrent_runs),
	    "1024", 1, 1000000, "runs executing at once, all nodes together"),
	KEY("output_memory_max", "DISTCRON_OUTPUT_MEMORY_MAX",
	    "output-memory-max", NULL, JFIELD_SIZE, OFF(output_memory_max),
	    "256M", 0, INT64_C(1) << 40,
	    "memory for captured output, all runs together, past which output "
	    "goes to files in state_dir (0: no limit)"),
	KEY("shutdown_grace", "DISTCRON_SHUTDOWN_GRACE", "shutdown-grace", NULL,
	    JFIELD_DUR, OFF(shutdown_grace_ms), "30s", 0, 0,
	    "on SIGTERM, how long running jobs may finish before being killed"
	    " (TERM, then KILL after their kill_grace), then how long unsaved"
	    " results are retried if the store cannot write"),
	KEY("store_queue_max", "DISTCRON_STORE_QUEUE_MAX", "store-queue-max",
	    NULL, JFIELD_I64, OFF(store_queue_max), "0", 0, 100000000,
	    "records waiting for the store before new runs are refused "
	    "(0: 60 x max_concurrent_runs)"),
	KEY("outbox_max", "DISTCRON_OUTBOX_MAX", "outbox-max", NULL,
	    JFIELD_I64, OFF(outbox_max), "100000", 1, 100000000,
	    "entries the outbox keeps for reports and notifications; when "
	    "full, the oldest are dropped (logged, counted)"),
	KEY("reload_delay", "DISTCRON_RELOAD_DELAY", "reload-delay", NULL,
	    JFIELD_DUR, OFF(reload_delay_ms), "200ms", 0, 0,
	    "how long files must be quiet before a change is reloaded"),
	KEY("ssh_idle_timeout", "DISTCRON_SSH_IDLE_TIMEOUT", "ssh-idle-timeout",
	    NULL, JFIELD_DUR, OFF(ssh_idle_timeout_ms), "5m", 0, 0,
	    "close pooled SSH connections unused this long"),
	KEY("ssh_keepalive", "DISTCRON_SSH_KEEPALIVE", "ssh-keepalive", NULL,
	    JFIELD_DUR, OFF(ssh_keepalive_ms), "30s", 0, 0,
	    "SSH keepalive interval on pooled connections (0: off)"),
	KEY("ssh_max_conns", "DISTCRON_SSH_MAX_CONNS", "ssh-max-conns", NULL,
	    JFIELD_I64, OFF(ssh_max_conns), "16", 1, 1024,
	    "pooled SSH connections to one node at most"),
	KEY("node_check_interval", "DISTCRON_NODE_CHECK_INTERVAL",
	    "node-check-interval", NULL, JFIELD_DUR, OFF(node_check_ms), "5s",
	    0, 0,
	    "first health check of a node marked down (doubles each failure)"),
	KEY("node_check_max", "DISTCRON_NODE_CHECK_MAX", "node-check-max", NULL,
	    JFIELD_DUR, OFF(node_check_max_ms), "5m", 0, 0,
	    "longest wait between health checks of a down node"),
	KEY("api_token", "DISTCRON_API_TOKEN", "api-token", NULL,
	    JFIELD_STR, OFF(api_token), "", 0, 0,
	    "bearer token of the API (empty: STATE_DIR/api.token, generated)"),
	KEY("api_read_token", "DISTCRON_API_READ_TOKEN", "api-read-token", NULL,
	    JFIELD_STR, OFF(api_read_token), "", 0, 0,
	    "optional token allowed to read (GET) only, secrets masked"),
	KEY("tls_cert", "DISTCRON_TLS_CERT", "tls-cert", NULL,
	    JFIELD_PATH, OFF(tls_cert), "", 0, 0,
	    "PEM certificate for HTTPS on the API (with tls_key)"),
	KEY("tls_key", "DISTCRON_TLS_KEY", "tls-key", NULL,
	    JFIELD_PATH, OFF(tls_key), "", 0, 0,
	    "PEM private key for tls_cert"),
	KEY("api_body_max", "DISTCRON_API_BODY_MAX", "api-body-max", NULL,
	    JFIELD_I64, OFF(api_body_max), "1048576", 1024, 64 * 1024 * 1024,
	    "largest request body accepted by the API, in bytes"),
	KEY("api_conn_per_ip", "DISTCRON_API_CONN_PER_IP", "api-conn-per-ip",
	    NULL, JFIELD_I64, OFF(api_conn_per_ip), "64", 1, 10000,
	    "API connections open at once from one client address (more are "
	    "closed at once)"),
	KEY("api_threads", "DISTCRON_API_THREADS", "api-threads", NULL,
	    JFIELD_I64, OFF(api_threads), "2", 1, 64, "API server threads"),
	KEY("api_nice", "DISTCRON_API_NICE", "api-nice", NULL,
	    JFIELD_I64, OFF(api_nice), "0", -20, 19,
	    "nice value of the API server threads"),
	KEY("scheduler_nice", "DISTCRON_SCHEDULER_NICE", "scheduler-nice", NULL,
	    JFIELD_I64, OFF(scheduler_nice), "0", -20, 19,
	    "nice value of the threads that start runs; negative raises them "
	    "(runs keep the daemon's), 0 or more: off"),
	KEY("es_host", "DISTCRON_ES_HOST", "es-host", "esHost",
	    JFIELD_STR, OFF(es_host), "", 0, 0,
	    "Elasticsearch host for run reports (empty: none)"),
	KEY("es_port", "DISTCRON_ES_PORT", "es-port", "esPort",
	    JFIELD_I64, OFF(es_port), "9200", 1, 65535, "Elasticsearch port"),
	KEY("notify_min_interval", "DISTCRON_NOTIFY_MIN_INTERVAL",
	    "notify-min-interval", NULL, JFIELD_DUR, OFF(notify_min_interval_ms),
	    "1m", 0, 0, "at most one notification per job and channel this "
	    "often (a burst becomes one message with a count)"),
	KEY("user", "DISTCRON_USER", "user", NULL,
	    JFIELD_STR, OFF(user), "", 0, 0,
	    "user the daemon runs as: started as root, it switches to that "
	    "user once the API socket and state directory are open (empty: "
	    "stay as started)"),
	KEY("allow_root_jobs", "DISTCRON_ALLOW_ROOT_JOBS", "allow-root-jobs",
	    NULL, JFIELD_BOOL, OFF(allow_root_jobs), "false", 0, 0,
	    "let jobs run as root (local jobs of a daemon running as root, "
	    "SSH jobs on nodes whose ssh_user is root); refused otherwise"),
	KEY("secrets_key_file", "DISTCRON_SECRETS_KEY_FILE", "secrets-key-file",
	    NULL, JFIELD_PATH, OFF(secrets_key_file), "", 0, 0,
	    "file (mode 0600) holding the 32-byte key of the encrypted secrets "
	    "as 64 hex digits (empty: the variable DISTCRON_SECRETS_KEY, else "
	    "no secrets)"),
	KEY("secrets_previous_key_file", "DISTCRON_SECRETS_PREVIOUS_KEY_FILE",
	    "secrets-previous-key-file", NULL, JFIELD_PATH,
	    OFF(secrets_previous_key_file), "", 0, 0,
	    "during a key rotation, the file (mode 0600) of the previous key: "
	    "values the current key does not open are opened with it (empty: "
	    "the variable DISTCRON_SECRETS_PREVIOUS_KEY, else none)"),
	KEYC("cluster.etcd", "DISTCRON_ETCD", "etcd", JFIELD_STR,
	    OFF(cluster.etcd), "", 0, 0, "etcd endpoints (URL[,URL...], "
	    "each http(s)://HOST:PORT): cluster mode on etcd (empty: off)",
	    check_etcd),
	KEYC("cluster.ca_file", "DISTCRON_ETCD_CA_FILE", "etcd-ca-file",
	    JFIELD_PATH, OFF(cluster.ca_file), "", 0, 0, "PEM CAs that "
	    "etcd's certificate must chain to (empty: the system's)", NULL),
	KEYC("cluster.cert_file", "DISTCRON_ETCD_CERT_FILE", "etcd-cert-file",
	    JFIELD_PATH, OFF(cluster.cert_file), "", 0, 0, "PEM client "
	    "certificate for etcd (with cluster.key_file)", NULL),
	KEYC("cluster.key_file", "DISTCRON_ETCD_KEY_FILE", "etcd-key-file",
	    JFIELD_PATH, OFF(cluster.key_file), "", 0, 0, "PEM private key of "
	    "cluster.cert_file", NULL),
	KEYC("cluster.username", "DISTCRON_ETCD_USERNAME", "etcd-username",
	    JFIELD_STR, OFF(cluster.username), "", 0, 0, "etcd user (with "
	    "cluster.password)", NULL),
	KEYC("cluster.password", "DISTCRON_ETCD_PASSWORD", NULL,
	    JFIELD_STR, OFF(cluster.password), "", 0, 0, "password of "
	    "cluster.username, a secret: no flag, never logged", NULL),
	KEYC("cluster.namespace", "DISTCRON_CLUSTER_NAMESPACE",
	    "cluster-namespace", JFIELD_STR, OFF(cluster.namespace), "default",
	    0, 0, "this cluster's part of etcd (1-" STR(CONFIG_NAMESPACE_MAX)
	    " letters, digits, '-', '_', '.')", check_namespace),
	KEYC("cluster.member", "DISTCRON_CLUSTER_MEMBER", "cluster-member",
	    JFIELD_STR, OFF(cluster.member), "", 0, 0, "this daemon's member "
	    "id (as the namespace, ':' too, at most " STR(CONFIG_MEMBER_MAX)
	    " bytes; empty: hostname:pid)", check_member),
	KEYC("cluster.lease_ttl", "DISTCRON_CLUSTER_LEASE_TTL",
	    "cluster-lease-ttl", JFIELD_DUR, OFF(cluster.lease_ttl_ms), "3s",
	    LEASE_TTL_MIN_MS, 0, "the member's etcd lease: a member silent "
	    "this long is gone (at least 2s)", NULL),
	KEYC("cluster.reports_per_job", "DISTCRON_CLUSTER_REPORTS_PER_JOB",
	    "cluster-reports-per-job", JFIELD_I64, OFF(cluster.reports_per_job),
	    "50", 1, 1000, "summaries of a job's newest runs kept in etcd, so "
	    "that every member lists every member's runs", NULL),
};
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define NKEYS	NELEM(keys)

static int cerr(char *, size_t, const char *, const char *, const char *, ...)
    __attribute__((format(printf, 5, 6)));

static int
cerr(char *err, size_t errlen, const char *src, const char *key,
    const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s: %s", src, key, what);
	return ERR_CONFIG;
}

/* ---- checks of cluster settings' text ---- */

/* cluster.etcd: "" (off) or the endpoints etcd_new() takes (etcd.h). */
static int
check_etcd(const char *v, char *why, size_t n)
{
	return *v == '\0' || endpoints_check(v, why, n) == 0 ? 0 : -1;
}

/* v: at most max bytes of letters, digits, '-', '_', '.' and the
 * characters of extra; at least one unless it may be empty. */
static int
check_name(const char *v, const char *extra, size_t max, bool may_be_empty,
    char *why, size_t n)
{
	char q[JFIELD_QUOTE_LEN];
	size_t len = strlen(v), bad;

	if (len == 0 && !may_be_empty) {
		snprintf(why, n, "must not be empty");
		return -1;
	}
	if (len > max) {
		snprintf(why, n, "%s: longer than %zu bytes", jfield_quote(v, q,
		    sizeof(q)), max);
		return -1;
	}
	for (bad = 0; bad < len; bad++)
		if (!(isalnum((unsigned char)v[bad]) || strchr("-_.", v[bad]) ||
		    strchr(extra, v[bad])))
			break;
	if (bad == len)
		return 0;
	snprintf(why, n, "%s: '%c' is not allowed (letters, digits, '-', '_', "
	    "'.'%s only)", jfield_quote(v, q, sizeof(q)),
	    isprint((unsigned char)v[bad]) ? v[bad] : '?',
	    *extra != '\0' ? ", ':'" : "");
	return -1;
}

static int
check_namespace(const char *v, char *why, size_t n)
{
	return check_name(v, "", CONFIG_NAMESPACE_MAX, false, why, n);
}

static int
check_member(const char *v, char *why, size_t n)
{
	return check_name(v, ":", CONFIG_MEMBER_MAX, true, why, n);
}

/* Stores the text value v of setting k into cfg. */
static int
config_set(struct config *cfg, const struct ckey *k, const char *v,
    const char *src, char *err, size_t errlen)
{
	char *base = (char *)cfg + k->f.off, *dup, q[JFIELD_QUOTE_LEN];
	char why2[JFIELD_QUOTE_LEN + 128];
	const char *why;

	switch (k->f.type) {
	case JFIELD_STR:
	case JFIELD_PATH:
		if (k->check != NULL && k->check(v, why2, sizeof(why2)) != 0)
			return cerr(err, errlen, src, k->f.key, "%s", why2);
		if ((dup = strdup(v)) == NULL)
			return -ENOMEM;
		free(*(char **)base);
		*(char **)base = dup;
		return 0;
	case JFIELD_I64:
		if (jfield_parse_int(v, k->f.min, k->f.max,
		    (int64_t *)base) != 0)
			return cerr(err, errlen, src, k->f.key,
			    "expected an integer in range, got \"%s\"",
			    jfield_escape(v, q, sizeof(q)));
		return 0;
	case JFIELD_SIZE:
		if (jfield_parse_size(v, k->f.min, k->f.max,
		    (int64_t *)base) != 0)
			return cerr(err, errlen, src, k->f.key,
			    "expected a size from %lld to %lld bytes (like "
			    "256M, 1G, 65536), got \"%s\"",
			    (long long)k->f.min, (long long)k->f.max,
			    jfield_escape(v, q, sizeof(q)));
		return 0;
	case JFIELD_BOOL:
		if (jfield_parse_bool(v, (bool *)base) != 0)
			return cerr(err, errlen, src, k->f.key,
			    "expected true or false, got \"%s\"",
			    jfield_escape(v, q, sizeof(q)));
		return 0;
	case JFIELD_DUR:
		if (jfield_parse_dur(v, (int64_t *)base, &why) != 0)
			return cerr(err, errlen, src, k->f.key,
			    "bad duration \"%s\" (like 30s, 5m, 1h30m)",
			    jfield_escape(v, q, sizeof(q)));
		if (*(int64_t *)base >= k->f.min)
			return 0;
		dur_format(k->f.min, why2, sizeof(why2));
		return cerr(err, errlen, src, k->f.key, "must be at least "
		    "%s, got \"%s\"", why2, jfield_escape(v, q, sizeof(q)));
	case JFIELD_CUSTOM:
		if (log_level_parse(v, (enum log_level *)base) != 0)
			return cerr(err, errlen, src, k->f.key,
			    "expected error, warn, info or debug, got \"%s\"",
			    jfield_escape(v, q, sizeof(q)));
		return 0;
	default:
		break;
	}
	return ERR_INTERNAL;
}

/* ---- sections: objects read with jfield ---- */

static const char *const starttls_names[] = { "try", "always", "never",
	NULL };

#define SOFF(f)	offsetof(struct config_smtp, f)
static const struct jfield smtp_fields[] = {
	JFIELD_ENTRY("url", JFIELD_STR, SOFF(url), 1, 0, NULL),
	JFIELD_ENTRY("username", JFIELD_STR, SOFF(username), 1, 0, NULL),
	JFIELD_KNOWN("password"),
	JFIELD_ENTRY("from", JFIELD_STR, SOFF(from), 1, 0, NULL),
	JFIELD_ENTRY("starttls", JFIELD_ENUM, SOFF(starttls), 0, 0,
	    starttls_names),
	JFIELD_ENTRY("ca_file", JFIELD_PATH, SOFF(ca_file), 1, 0, NULL),
};

#define TOFF(f)	offsetof(struct config_statsd, f)
static const struct jfield statsd_fields[] = {
	JFIELD_ENTRY("host", JFIELD_STR, TOFF(host), 1, 0, NULL),
	JFIELD_ENTRY("port", JFIELD_I64, TOFF(port), 1, 65535, NULL),
	JFIELD_ENTRY("prefix", JFIELD_STR, TOFF(prefix), 0, 0, NULL),
	JFIELD_ENTRY("tags", JFIELD_BOOL, TOFF(tags), 0, 0, NULL),
};

/* A password at path: a string into *pw, or {"secret": NAME} with NAME
 * into *secret (the secret is opened when it is used: the secrets are not
 * read yet). */
static int
password_field(struct jfield_ctx *c, json_object *v, const char *path,
    char **pw, char **secret)
{
	const char *name;

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return jfield_str(c, v, path, 0, pw);
	if (defs_secret_ref(c, v, path, &name) != 0)
		return ERR_INVALID;
	free(*secret);
	return (*secret = strdup(name)) == NULL ? jfield_oom(c) : 0;
}

static int
section_smtp(struct jfield_ctx *c, json_object *v, struct config *cfg)
{
	struct config_smtp *s = &cfg->smtp;
	char q[JFIELD_QUOTE_LEN];
	char *shown;
	int r;

	if ((r = jfield_object(c, v, "smtp", "smtp.", smtp_fields,
	    NELEM(smtp_fields))) != 0 ||
	    (r = jfield_read(c, v, "smtp.", smtp_fields, NELEM(smtp_fields),
	    s)) != 0 ||
	    (r = password_field(c, jfield_get(v, "password"),
	    "smtp.password", &s->password, &s->password_secret)) != 0)
		return r;
	if (s->url == NULL)
		return jfield_fail(c, "smtp.url", "missing");
	if (strncasecmp(s->url, "smtp://", 7) != 0 &&
	    strncasecmp(s->url, "smtps://", 8) != 0) {
		if ((shown = url_stripped(s->url)) == NULL)
			return jfield_oom(c);
		r = jfield_fail(c, "smtp.url", "must start with smtp:// or "
		    "smtps:// (got %s)", jfield_quote(shown, q, sizeof(q)));
		free(shown);
		return r;
	}
	if (s->from == NULL)
		return jfield_fail(c, "smtp.from", "missing");
	if (!defs_email_valid(s->from))
		return jfield_fail(c, "smtp.from", "invalid address %s",
		    jfield_quote(s->from, q, sizeof(q)));
	return 0;
}

static int
section_notify(struct jfield_ctx *c, json_object *v, struct config *cfg)
{
	defs_notify_free(cfg->notify);
	return defs_notify_parse(c, v, "notify", &cfg->notify);
}

#define QOFF(f)	offsetof(struct config_amqp, f)
static const struct jfield amqp_fields[] = {
	JFIELD_ENTRY("url", JFIELD_STR, QOFF(url), 1, 0, NULL),
	JFIELD_ENTRY("ca_file", JFIELD_PATH, QOFF(ca_file), 1, 0, NULL),
	JFIELD_ENTRY("username", JFIELD_STR, QOFF(username), 1, 0, NULL),
	JFIELD_KNOWN("password"),
};

/* The default broker of AMQP jobs and notifications. */
static int
section_amqp(struct jfield_ctx *c, json_object *v, struct config *cfg)
{
	char q[JFIELD_QUOTE_LEN], *shown;
	const char *u;
	int r;

	if ((r = jfield_object(c, v, "amqp", "amqp.", amqp_fields,
	    NELEM(amqp_fields))) != 0 ||
	    (r = jfield_read(c, v, "amqp.", amqp_fields, NELEM(amqp_fields),
	    &cfg->amqp)) != 0 ||
	    (r = password_field(c, jfield_get(v, "password"), "amqp.password",
	    &cfg->amqp.password, &cfg->amqp.password_secret)) != 0)
		return r;
	if (cfg->amqp.username != NULL && cfg->amqp.password == NULL &&
	    cfg->amqp.password_secret == NULL)
		return jfield_fail(c, "amqp.username", "given without "
		    "amqp.password");
	if ((u = cfg->amqp.url) == NULL || strncasecmp(u, "amqp://", 7) == 0 ||
	    strncasecmp(u, "amqps://", 8) == 0)
		return 0;
	if ((shown = url_stripped(u)) == NULL)
		return jfield_oom(c);
	r = jfield_fail(c, "amqp.url", "must start with amqp:// or amqps:// "
	    "(got %s)", jfield_quote(shown, q, sizeof(q)));
	free(shown);
	return r;
}

static int
section_statsd(struct jfield_ctx *c, json_object *v, struct config *cfg)
{
	int r;

	if ((r = jfield_object(c, v, "statsd", "statsd.", statsd_fields,
	    NELEM(statsd_fields))) != 0 ||
	    (r = jfield_read(c, v, "statsd.", statsd_fields,
	    NELEM(statsd_fields), &cfg->statsd)) != 0)
		return r;
	if (cfg->statsd.host == NULL)
		return jfield_fail(c, "statsd.host", "missing");
	return 0;
}

/* Kept as written: the Elasticsearch sink's module reads it (es.h), so
 * that this group does not depend on that one. */
static int
section_elasticsearch(struct jfield_ctx *c, json_object *v,
    struct config *cfg)
{
	if (!json_object_is_type(v, json_type_object))
		return jfield_fail(c, "elasticsearch", "expected an object, "
		    "got %s", json_type_to_name(json_object_get_type(v)));
	json_object_put(cfg->elasticsearch);
	cfg->elasticsearch = json_object_get(v);
	return 0;
}

static const struct {
	const char *key;
	int (*read)(struct jfield_ctx *, json_object *, struct config *);
	const char *help;	/* for config_table() */
} sections[] = {
	{ "smtp", section_smtp, "object: the mail server of notifications "
	  "(url, username, password or {\"secret\": NAME}, from, starttls, "
	  "ca_file)" },
	{ "notify", section_notify, "object: the notify of every job that "
	  "has none (on, email, webhook, slack, amqp)" },
	{ "statsd", section_statsd, "object: metrics over UDP (host, port "
	  "8125, prefix \"distcron.\", tags false)" },
	{ "elasticsearch", section_elasticsearch, "object: where run reports "
	  "go (url, index, username, password or api_key, ca_file, "
	  "tls_verify, batch_docs, batch_bytes, flush_interval, timeout, "
	  "compress)" },
	{ "amqp", section_amqp, "object: the broker of AMQP jobs and of the "
	  "amqp notification channel that give no url (url "
	  "amqp(s)://user:password@host:port/vhost, ca_file, username, "
	  "password or {\"secret\": NAME})" },
};

static void
section_warn(void *arg, const char *msg)
{
	log_warn("%s: %s", (const char *)arg, msg);
}

/* Reads the section name, if it is one, from the file src.  Returns 1
 * when name is no section, 0, or ERR_CONFIG naming the field. */
static int
config_section(struct config *cfg, const char *name, json_object *v,
    const char *src, char *err, size_t errlen)
{
	char msg[JFIELD_MSG_LEN];
	struct jfield_ctx c;
	size_t i;
	int r;

	for (i = 0; i < NELEM(sections); i++) {
		if (strcmp(sections[i].key, name) != 0)
			continue;
		jfield_ctx_init(&c, msg, sizeof(msg), section_warn,
		    (void *)src);
		if ((r = sections[i].read(&c, v, cfg)) == 0)
			return 0;
		snprintf(err, errlen, "%s: %s", src, r == -ENOMEM ?
		    strerror(ENOMEM) : msg);
		return ERR_CONFIG;
	}
	return 1;
}

static void
config_sections_free(struct config *cfg)
{
	struct config_smtp *s = &cfg->smtp;

	defs_notify_free(cfg->notify);
	cfg->notify = NULL;
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	free(s->url);
	free(s->username);
	free(s->password);
	free(s->password_secret);
	free(s->from);
	free(s->ca_file);
	memset(s, 0, sizeof(*s));
	if (cfg->amqp.url != NULL)
		explicit_bzero(cfg->amqp.url, strlen(cfg->amqp.url));
	free(cfg->amqp.url);
	free(cfg->amqp.ca_file);
	free(cfg->amqp.username);
	if (cfg->amqp.password != NULL)
		explicit_bzero(cfg->amqp.password, strlen(cfg->amqp.password));
	free(cfg->amqp.password);
	free(cfg->amqp.password_secret);
	memset(&cfg->amqp, 0, sizeof(cfg->amqp));
	free(cfg->statsd.host);
	free(cfg->statsd.prefix);
	memset(&cfg->statsd, 0, sizeof(cfg->statsd));
	json_object_put(cfg->elasticsearch);
	cfg->elasticsearch = NULL;
}

static const struct ckey *
key_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].f.key, name) == 0)
			return &keys[i];
	return NULL;
}

static const struct ckey *
key_by_flag(const char *flag, size_t len)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (keys[i].flag == NULL)	/* a secret: no flag */
			continue;
		if (strlen(keys[i].flag) == len &&
		    strncmp(keys[i].flag, flag, len) == 0)
			return &keys[i];
		if (keys[i].alias != NULL && strlen(keys[i].alias) == len &&
		    strncmp(keys[i].alias, flag, len) == 0)
			return &keys[i];
	}
	return NULL;
}

/*
 * Makes the relative path text, read from the config file src, relative to
 * src's directory instead ("../jobs.d" in etc/distcrond.conf is
 * "etc/../jobs.d"); absolute or empty paths stay as they are.
 */
static int
path_from_file(const char *src, char *text, size_t n)
{
	const char *slash = strrchr(src, '/');
	char tmp[4096];
	int len;

	if (text[0] == '\0' || text[0] == '/' || slash == NULL)
		return 0;
	len = snprintf(tmp, sizeof(tmp), "%.*s/%s", (int)(slash - src), src,
	    text);
	if (len < 0 || (size_t)len >= n || (size_t)len >= sizeof(tmp))
		return ERR_INVALID;
	memcpy(text, tmp, (size_t)len + 1);
	return 0;
}

/* Applies the value val of the key name (with its section's prefix,
 * "cluster.etcd") from the file src; an unknown key is warned about. */
static int
config_apply_key(struct config *cfg, const char *name, json_object *val,
    const char *src, char *err, size_t errlen)
{
	const struct ckey *k;
	char text[4096], q[JFIELD_QUOTE_LEN];

	if ((k = key_by_name(name)) == NULL) {
		log_warn("%s: unknown key \"%s\" (ignored)", src,
		    jfield_escape(name, q, sizeof(q)));
		return 0;
	}
	if (jfield_json_text(k->f.type, val, text, sizeof(text)) != 0)
		return cerr(err, errlen, src, k->f.key, "wrong type (%s)",
		    json_type_to_name(json_object_get_type(val)));
	if (k->f.type == JFIELD_PATH && path_from_file(src, text,
	    sizeof(text)) != 0)
		return cerr(err, errlen, src, k->f.key, "path too long "
		    "from the file's directory: \"%.60s\"", text);
	return config_set(cfg, k, text, src, err, errlen);
}

/* The "cluster" object: its members are the table's "cluster." keys. */
static int
config_apply_cluster(struct config *cfg, json_object *v, const char *src,
    char *err, size_t errlen)
{
	char name[128];
	int r;

	if (!json_object_is_type(v, json_type_object))
		return cerr(err, errlen, src, "cluster", "expected an object, "
		    "got %s", json_type_to_name(json_object_get_type(v)));
	json_object_object_foreach(v, sub, val) {
		snprintf(name, sizeof(name), CLUSTER_PREFIX "%s", sub);
		if ((r = config_apply_key(cfg, name, val, src, err,
		    errlen)) != 0)
			return r;
	}
	return 0;
}

static int
config_apply_json(struct config *cfg, json_object *root, const char *src,
    char *err, size_t errlen)
{
	int r;

	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "%s: expected a JSON object", src);
		return ERR_CONFIG;
	}
	json_object_object_foreach(root, name, val) {
		if (strcmp(name, "cluster") == 0)
			r = config_apply_cluster(cfg, val, src, err, errlen);
		else if ((r = config_section(cfg, name, val, src, err,
		    errlen)) == 1)
			r = config_apply_key(cfg, name, val, src, err, errlen);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The whole file at path, up to CONFIG_FILE_MAX bytes, in b. */
static int
read_text(const char *path, struct buf *b)
{
	char chunk[4096];
	ssize_t n;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (r = buf_append(b, chunk, (size_t)n)) != 0) {
			r = n < 0 ? -errno : r;
			break;
		}
	}
	close(fd);
	return r;
}

/* Parses the file at path (relaxed JSON: comments are allowed). */
static int
load_file(const char *path, json_object **root, char *err, size_t errlen)
{
	char msg[512];
	struct buf b;
	int r;

	buf_init(&b, CONFIG_FILE_MAX);
	if ((r = read_text(path, &b)) != 0)
		snprintf(err, errlen, "%s: cannot load: %s", path, r == -E2BIG ?
		    "file over " STR(CONFIG_FILE_MAX) " bytes" : strerror(-r));
	else if ((r = jsontext_parse(buf_str(&b), b.len, 0, NULL, root, msg,
	    sizeof(msg))) != 0)
		snprintf(err, errlen, "%s: %s", path, r == -ENOMEM ?
		    strerror(ENOMEM) : msg);
	buf_free(&b);
	return r != 0 ? ERR_CONFIG : 0;
}

/* True when v, a URL or a list of URLs, holds credentials or a query
 * (url_has_secret). */
static bool
url_secret(json_object *v)
{
	size_t i, n;

	if (json_object_is_type(v, json_type_string))
		return url_has_secret(json_object_get_string(v));
	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (url_secret(json_object_array_get_idx(v, i)))
			return true;
	return false;
}

/* True when a URL of the comma-separated list holds a secret. */
static bool
url_list_secret(const char *list)
{
	char one[1024];
	const char *comma;
	size_t len;

	for (;; list = comma + 1) {
		comma = strchr(list, ',');
		len = comma ? (size_t)(comma - list) : strlen(list);
		snprintf(one, sizeof(one), "%.*s", (int)len, list);
		if (url_has_secret(one))
			return true;
		if (comma == NULL)
			return false;
	}
}

/* True when the object o has a member that is no {"secret": NAME}
 * reference (a value written in the file). */
static bool
plain_member(json_object *o)
{
	struct json_object_iter it;

	if (!json_object_is_type(o, json_type_object))
		return false;
	json_object_object_foreachC(o, it)
		if (jfield_get(it.val, "secret") == NULL)
			return true;
	return false;
}

/* The first secret the notify, smtp, elasticsearch and etcd URLs hold: a Slack
 * incoming webhook's URL (its path is the token), a webhook's headers
 * (Authorization and the like) or any URL with credentials or a query;
 * NULL when none. */
static const char *
secret_url_key(json_object *root)
{
	json_object *notify = jfield_get(root, "notify");
	json_object *hook = jfield_get(notify, "webhook"), *v;

	v = jfield_get(jfield_get(notify, "slack"), "url");
	if (json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0)
		return "notify.slack.url";
	if (url_secret(jfield_get(hook, "url")))
		return "notify.webhook.url";
	if (plain_member(jfield_get(hook, "headers")))
		return "notify.webhook.headers";
	if (url_secret(jfield_get(jfield_get(root, "smtp"), "url")))
		return "smtp.url";
	if (url_secret(jfield_get(jfield_get(root, "elasticsearch"), "url")))
		return "elasticsearch.url";
	if (url_secret(jfield_get(jfield_get(root, "amqp"), "url")))
		return "amqp.url";
	if (url_secret(jfield_get(jfield_get(notify, "amqp"), "url")))
		return "notify.amqp.url";
	v = jfield_get(jfield_get(root, "cluster"), "etcd");
	if (json_object_is_type(v, json_type_string) &&
	    url_list_secret(json_object_get_string(v)))
		return "cluster.etcd";
	return NULL;
}

/* The first setting of the file's root that holds a secret
 * ("smtp.password"), or NULL. */
static const char *
secret_key(json_object *root)
{
	static const char *const keys2[][3] = {
		{ "api_token", NULL, "api_token" },
		{ "api_read_token", NULL, "api_read_token" },
		{ "smtp", "password", "smtp.password" },
		{ "elasticsearch", "password", "elasticsearch.password" },
		{ "elasticsearch", "api_key", "elasticsearch.api_key" },
		{ "cluster", "password", "cluster.password" },
		{ "amqp", "password", "amqp.password" },
	};
	json_object *v;
	size_t i;

	for (i = 0; i < NELEM(keys2); i++) {
		if (!json_object_object_get_ex(root, keys2[i][0], &v))
			continue;
		if (keys2[i][1] != NULL && (!json_object_is_type(v,
		    json_type_object) || !json_object_object_get_ex(v,
		    keys2[i][1], &v)))
			continue;
		if (json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) > 0)
			return keys2[i][2];
	}
	return secret_url_key(root);
}

/* A config file holding a secret must be private (0600, the daemon's user's
 * or root's), as a token or key file: ERR_CONFIG naming the file, the
 * setting and the mode, else 0. */
static int
config_private(const char *path, json_object *root, char *err,
    size_t errlen)
{
	const char *key;
	char why[128];
	struct stat st;

	if (!json_object_is_type(root, json_type_object) ||
	    (key = secret_key(root)) == NULL || stat(path, &st) != 0 ||
	    fileio_private_check(&st, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: holds a secret (%s) but is not private: %s",
	    path, key, why);
	return ERR_CONFIG;
}

static int
config_apply_file(struct config *cfg, const char *path, bool must_exist,
    char *err, size_t errlen)
{
	json_object *root;
	struct stat st;
	int r;

	if (access(path, F_OK) != 0 && !must_exist)
		return 0;
	if (stat(path, &st) == 0 && st.st_size == 0)	/* empty: no settings */
		return (cfg->config_file = strdup(path)) ? 0 : -ENOMEM;
	if ((r = load_file(path, &root, err, errlen)) != 0)
		return r;
	if ((r = config_private(path, root, err, errlen)) == 0)
		r = config_apply_json(cfg, root, path, err, errlen);
	json_object_put(root);
	if (r == 0 && (cfg->config_file = strdup(path)) == NULL)
		r = -ENOMEM;
	return r;
}

static int
config_apply_env(struct config *cfg, char **envp, char *err, size_t errlen)
{
	size_t i, n;
	char **e;
	int r;

	for (e = envp; e != NULL && *e != NULL; e++) {
		for (i = 0; i < NKEYS; i++) {
			n = strlen(keys[i].env);
			if (strncmp(*e, keys[i].env, n) != 0 || (*e)[n] != '=')
				continue;
			if ((r = config_set(cfg, &keys[i], *e + n + 1,
			    "environment", err, errlen)) != 0)
				return r;
		}
	}
	return 0;
}

/*
 * Walks argv.  With cfg NULL only finds --config; otherwise applies every
 * flag.  Returns the index of the first operand through *next.
 */
static int
config_walk_flags(struct config *cfg, int argc, char **argv,
    const char **cfgfile, int *next, char *err, size_t errlen)
{
	const struct ckey *k;
	const char *arg, *eq, *val;
	size_t nlen;
	int i, r;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(arg, "--", 2) != 0)
			break;
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		k = key_by_flag(arg, nlen);
		if (k == NULL && !(nlen == 6 && strncmp(arg, "config", 6) == 0)) {
			snprintf(err, errlen, "unknown option --%.*s "
			    "(see --help)", (int)nlen, arg);
			return ERR_CONFIG;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (k != NULL && k->f.type == JFIELD_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			snprintf(err, errlen, "option --%.*s needs a value",
			    (int)nlen, arg);
			return ERR_CONFIG;
		}
		if (k == NULL)
			*cfgfile = val;
		else if (cfg != NULL && (r = config_set(cfg, k, val,
		    "command line", err, errlen)) != 0)
			return r;
	}
	*next = i;
	return 0;
}

static int
config_defaults(struct config *cfg, char *err, size_t errlen)
{
	size_t i;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++)
		if ((r = config_set(cfg, &keys[i], keys[i].def, "default",
		    err, errlen)) != 0)
			return r;
	cfg->statsd.port = 8125;
	if ((cfg->statsd.prefix = strdup("distcron.")) == NULL)
		return -ENOMEM;
	return 0;
}

/* Names the one of a pair (a, b: both set or neither) that is missing,
 * as "cluster: cert_file without key_file (both or neither)". */
static int
config_pair(const char *a, const char *an, const char *b, const char *bn,
    char *err, size_t errlen)
{
	if ((*a == '\0') == (*b == '\0'))
		return 0;
	snprintf(err, errlen, "cluster: %s without %s (both or neither)",
	    *a ? an : bn, *a ? bn : an);
	return ERR_CONFIG;
}

/* Once every source is read: the pairs of the cluster section, and the
 * member's default in cluster mode ("hostname:pid", the host name cut so
 * that it fits, any character a member cannot hold as '-'). */
static int
config_cluster_finish(struct config_cluster *c, char *err, size_t errlen)
{
	char host[CONFIG_MEMBER_MAX + 1], id[CONFIG_MEMBER_MAX + 1], *p;
	int r;

	if ((r = config_pair(c->cert_file, "cert_file", c->key_file,
	    "key_file", err, errlen)) != 0 ||
	    (r = config_pair(c->username, "username", c->password,
	    "password", err, errlen)) != 0)
		return r;
	if (c->etcd[0] == '\0' || c->member[0] != '\0')
		return 0;
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.", *p) == NULL)
			*p = '-';
	snprintf(id, sizeof(id), "%.*s:%ld", CONFIG_MEMBER_MAX - 12, host,
	    (long)getpid());	/* 12: room for ":pid" */
	free(c->member);
	return (c->member = strdup(id)) != NULL ? 0 : -ENOMEM;
}

int
config_load(struct config *cfg, int argc, char **argv, char **envp,
    char *err, size_t errlen)
{
	const char *file = NULL, *envfile = NULL;
	bool explicit = true;
	char **e;
	int next, r;

	if ((r = config_defaults(cfg, err, errlen)) != 0)
		return r;
	if ((r = config_walk_flags(NULL, argc, argv, &file, &next, err,
	    errlen)) != 0)
		return r;
	for (e = envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, "DISTCRON_CONFIG=", 16) == 0)
			envfile = *e + 16;
	if (file == NULL)
		file = envfile;
	if (file == NULL) {
		file = CONFIG_DEFAULT_FILE;
		explicit = false;
	}
	if ((r = config_apply_file(cfg, file, explicit, err, errlen)) != 0)
		return r;
	if ((r = config_apply_env(cfg, envp, err, errlen)) != 0)
		return r;
	if ((r = config_walk_flags(cfg, argc, argv, &file, &next, err,
	    errlen)) != 0)
		return r;
	return config_cluster_finish(&cfg->cluster, err, errlen);
}

bool
config_cluster_on(const struct config *cfg)
{
	return cfg->cluster.etcd != NULL && cfg->cluster.etcd[0] != '\0';
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg->cluster.password != NULL)
		explicit_bzero(cfg->cluster.password,
		    strlen(cfg->cluster.password));
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].f.type != JFIELD_STR &&
		    keys[i].f.type != JFIELD_PATH)
			continue;
		free(*(char **)((char *)cfg + keys[i].f.off));
		*(char **)((char *)cfg + keys[i].f.off) = NULL;
	}
	free(cfg->config_file);
	cfg->config_file = NULL;
	config_sections_free(cfg);
}

/* ---- the table of settings (--help-table) ---- */

/* One row of the table: a section has no env and no flag, --config no
 * key. */
struct trow {
	const char *key, *env, *flag, *alias, *def, *help;
	const char *arg;	/* what the flag takes, or NULL */
};

/* Calls row for each setting: --config, the keys, the sections. */
static void
trows_each(FILE *fp, void (*row)(FILE *, const struct trow *))
{
	struct trow r = { NULL, "DISTCRON_CONFIG", "config", NULL,
	    CONFIG_DEFAULT_FILE, "the config file to read (not a key of "
	    "the file)", "FILE" };
	size_t i;

	row(fp, &r);
	for (i = 0; i < NKEYS; i++) {
		r = (struct trow){ keys[i].f.key, keys[i].env, keys[i].flag,
		    keys[i].alias, keys[i].def, keys[i].help,
		    keys[i].f.type == JFIELD_BOOL ? NULL : "VALUE" };
		row(fp, &r);
	}
	for (i = 0; i < NELEM(sections); i++) {
		r = (struct trow){ sections[i].key, NULL, NULL, NULL, NULL,
		    sections[i].help, NULL };
		row(fp, &r);
	}
}

/* The default as the table shows it: in Markdown (README, the same text
 * whatever the build's paths) the configured directories by name. */
static void
trow_default(const struct trow *r, bool md, char *out, size_t n)
{
	static const struct { const char *dir, *name; } dirs[] = {
		{ SYSCONFDIR, "$(sysconfdir)" },
		{ LOCALSTATEDIR, "$(localstatedir)" },
	};
	size_t i, len;

	if (r->def == NULL) {
		snprintf(out, n, "none");
		return;
	}
	for (i = 0; md && i < NELEM(dirs); i++) {
		len = strlen(dirs[i].dir);
		if (strncmp(r->def, dirs[i].dir, len) == 0 &&
		    r->def[len] == '/') {
			snprintf(out, n, "%s%s", dirs[i].name, r->def + len);
			return;
		}
	}
	snprintf(out, n, "%s", r->def);
}

/* text with what would end a Markdown cell escaped */
static void
md_text(FILE *fp, const char *text)
{
	for (; *text != '\0'; text++) {
		if (*text == '|')
			fputc('\\', fp);
		fputc(*text, fp);
	}
}

static void
trow_md(FILE *fp, const struct trow *r)
{
	char def[256];

	trow_default(r, true, def, sizeof(def));
	fprintf(fp, "| %s%s%s | %s%s%s | ", r->key ? "`" : "",
	    r->key ? r->key : "(none)", r->key ? "`" : "", r->env ? "`" : "",
	    r->env ? r->env : "file only", r->env ? "`" : "");
	if (r->flag != NULL)
		fprintf(fp, "`--%s%s%s`", r->flag, r->arg ? " " : "",
		    r->arg ? r->arg : "");
	if (r->alias != NULL)
		fprintf(fp, " (`--%s`)", r->alias);
	fprintf(fp, " | %s%s%s | ", r->env ? "`\"" : "", def,
	    r->env ? "\"`" : "");
	md_text(fp, r->help);
	fputs(" |\n", fp);
}

/* text for roff: backslashes escaped, hyphens as minus signs when
 * minus is set (options, names), a leading control character neutral */
static void
roff_text(FILE *fp, const char *text, bool minus)
{
	if (*text == '.' || *text == '\'')
		fputs("\\&", fp);
	for (; *text != '\0'; text++) {
		if (*text == '\\')
			fputs("\\e", fp);
		else if (*text == '-' && minus)
			fputs("\\-", fp);
		else
			fputc(*text, fp);
	}
}

static void
trow_man(FILE *fp, const struct trow *r)
{
	char def[256];

	trow_default(r, false, def, sizeof(def));
	fputs(".TP\n", fp);
	if (r->key != NULL) {
		fputs(".B ", fp);
		roff_text(fp, r->key, true);
	} else
		fputs("(no key)", fp);
	fputs("\n", fp);
	if (r->env == NULL)
		fputs("Config file only; default: none.\n", fp);
	else {
		fputs("\\fB", fp);
		roff_text(fp, r->env, true);
		fputs("\\fR", fp);
		if (r->flag != NULL) {
			fputs(", \\fB\\-\\-", fp);
			roff_text(fp, r->flag, true);
			fputs("\\fR", fp);
		}
		if (r->flag != NULL && r->arg != NULL)
			fprintf(fp, " \\fI%s\\fR", r->arg);
		if (r->alias != NULL) {
			fputs(" (\\fB\\-\\-", fp);
			roff_text(fp, r->alias, true);
			fputs("\\fR)", fp);
		}
		fputs("; default \\(lq", fp);
		roff_text(fp, def, false);
		fputs("\\(rq.\n", fp);
	}
	fputs(".br\n", fp);
	roff_text(fp, r->help, false);
	fputs(".\n", fp);
}

int
config_table(void *fp, const char *format)
{
	if (strcmp(format, "md") == 0) {
		fputs("| key | environment | flag | default | meaning |\n"
		    "|---|---|---|---|---|\n", fp);
		trows_each(fp, trow_md);
	} else if (strcmp(format, "man") == 0)
		trows_each(fp, trow_man);
	else
		return ERR_INVALID;
	return 0;
}

/* One line of --help; sections are told of after the rows. */
static void
trow_help(FILE *fp, const struct trow *r)
{
	char flag[64];

	if (r->env == NULL)
		return;
	if (r->flag == NULL)	/* a secret: from the environment or file */
		snprintf(flag, sizeof(flag), "(%s)", r->env);
	else
		snprintf(flag, sizeof(flag), "--%s%s%s", r->flag,
		    r->arg ? " " : "", r->arg ? r->arg : "");
	fprintf(fp, "  %-26s %s (default \"%s\"; env %s)\n", flag, r->help,
	    r->def, r->env);
}

void
config_usage(void *fp)
{
	trows_each(fp, trow_help);
	fprintf(fp, "  distcrond's --jobsDirectory, --nodesDirectory, --esHost"
	    " and --esPort are accepted too.\n");
	fprintf(fp, "  The sections smtp, notify, statsd, elasticsearch and "
	    "amqp (objects) are read\n  from the config file only; "
	    "etc/distcrond.conf describes them.\n");
}
