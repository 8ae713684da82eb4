/*
 * config.h - daemon settings.
 *
 * Each setting comes from, in increasing precedence: the built-in default,
 * the config file (JSON, comments allowed), the environment (DISTCRON_*),
 * and the command line.  The table in config.c is the single list of
 * settings; etc/distcrond.conf documents every key with its default.
 */
#ifndef DISTCRON_CONFIG_H
#define DISTCRON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#include "distcron/defs.h"
#include "distcron/log.h"

#define CONFIG_DEFAULT_FILE	SYSCONFDIR "/distcron/distcrond.conf"

/* smtp.starttls */
enum config_starttls {
	CONFIG_STARTTLS_TRY = 0,	/* when the server offers it */
	CONFIG_STARTTLS_ALWAYS,		/* refuse to send in the clear */
	CONFIG_STARTTLS_NEVER,
};

/* Section "smtp" (config file only): where notification mail goes. */
struct config_smtp {
	char *url;		/* smtp://host:port or smtps://; NULL: no mail */
	char *username;		/* or NULL: no AUTH */
	char *password;		/* a secret: never logged */
	char *password_secret;	/* {"secret": NAME}'s NAME instead (opened
				 * when a mail is sent), or NULL */
	char *from;		/* envelope and From: address */
	int starttls;		/* enum config_starttls */
	char *ca_file;		/* PEM CAs, or NULL: the system's */
};

/* Section "statsd" (config file only). */
struct config_statsd {
	char *host;		/* NULL: off */
	int64_t port;		/* default 8125 */
	char *prefix;		/* default "distcron." */
	bool tags;		/* DogStatsD tags (|#job:x,status:y) */
};

/*
 * Section "cluster": cluster mode on etcd, on when etcd is not "".  Every
 * key is also a variable and (but the password) a flag: --etcd.
 */
struct config_cluster {
	char *etcd;		/* "URL[,URL...]", each http:// or https://
				 * (checked); "": cluster mode off */
	char *ca_file;		/* PEM CAs of etcd's TLS, or "": the system's */
	char *cert_file;	/* client certificate and key: both or "" */
	char *key_file;
	char *username;		/* etcd auth: both or "" */
	char *password;		/* a secret: never logged or shown */
	char *namespace;	/* key prefix of this cluster in etcd: 1-64
				 * bytes of letters, digits, '-', '_', '.' */
	char *member;		/* this daemon's member id (those characters
				 * and ':', at most 128 bytes); in cluster mode
				 * "hostname:pid" when not set */
	int64_t lease_ttl_ms;	/* the member's lease, at least 2 s */
	int64_t reports_per_job;	/* run summaries of a job kept in etcd
					 * (and of the others' in the store) */
};

/* Section "amqp" (config file only): the broker of AMQP jobs and of the
 * amqp notification channel that give no url of their own. */
struct config_amqp {
	char *url;		/* amqp(s)://user:password@host:port/vhost, or
				 * NULL; a secret (the password): never
				 * logged or shown */
	char *ca_file;		/* PEM CAs of amqps, or NULL: the system's */
	char *username;		/* replaces the URL's user, or NULL */
	char *password;		/* replaces the URL's password, or NULL */
	char *password_secret;	/* {"secret": NAME}'s NAME instead (opened
				 * when a message is published), or NULL */
};

/* Bytes of cluster.namespace and cluster.member at most. */
#define CONFIG_NAMESPACE_MAX	64
#define CONFIG_MEMBER_MAX	128

struct config {
	char *config_file;	/* the file read, or NULL when none */
	char *jobs_dir;
	char *nodes_dir;
	char *state_dir;
	char *listen;		/* "ADDR:PORT" of the REST API */
	enum log_level log_level;
	bool syslog;
	char *log_file;		/* "" : stderr (or syslog); else appended to,
				 * reopened on SIGUSR1 */
	char *timezone;		/* default zone of jobs; "" = local */
	int64_t max_concurrent_runs;	/* across all nodes */
	int64_t output_memory_max;	/* bytes of captured output held in
					 * memory, all runs together */
	int64_t shutdown_grace_ms;	/* SIGTERM: wait this long for runs,
					 * then for a failing store */
	int64_t store_queue_max;	/* 0: 60 x max_concurrent_runs */
	int64_t outbox_max;		/* outbox entries kept, oldest
					 * dropped beyond */
	int64_t reload_delay_ms;	/* settle time after a file change */
	int64_t ssh_idle_timeout_ms;	/* close pooled SSH connections idle
					 * this long */
	int64_t ssh_keepalive_ms;	/* SSH keepalive interval; 0: off */
	int64_t ssh_max_conns;		/* connections to one SSH node */
	int64_t node_check_ms;		/* first health check of a down node */
	int64_t node_check_max_ms;	/* backoff cap of health checks */
	char *api_token;	/* "" : STATE_DIR/api.token (generated) */
	char *api_read_token;	/* "" : none; GET-only access */
	char *tls_cert;		/* PEM files; both "" : plain HTTP */
	char *tls_key;
	int64_t api_body_max;	/* bytes */
	int64_t api_conn_per_ip;	/* connections from one address */
	int64_t api_threads;	/* server threads */
	int64_t api_nice;	/* of the API server threads */
	int64_t scheduler_nice;	/* of the loop and spawner threads */
	char *es_host;		/* Elasticsearch (reports; later) */
	int64_t es_port;
	int64_t notify_min_interval_ms;	/* one message per job and channel
					 * at most this often */
	struct job_notify *notify;	/* section "notify": the default of
					 * jobs without one, or NULL */
	struct config_smtp smtp;
	struct config_statsd statsd;
	struct config_cluster cluster;
	char *user;		/* run as this user ("": as started) */
	bool allow_root_jobs;	/* jobs may run as root */
	char *secrets_key_file;	/* "": DISTCRON_SECRETS_KEY, or none */
	char *secrets_previous_key_file; /* "": DISTCRON_SECRETS_PREVIOUS_KEY */
	struct json_object *elasticsearch;	/* section "elasticsearch" as
					 * written (es_config_from_json reads
					 * it: the sink's module), or NULL */
	struct config_amqp amqp;
};

/*
 * Fills cfg from defaults, the config file, the environment (envp, NULL-
 * terminated "NAME=VALUE"; pass environ) and argv.  Stops at the first
 * non-option argument (stored in *optind_out when not NULL).  On error
 * returns ERR_CONFIG with a message naming the source, key and value in err
 * ("distcrond.conf: max_concurrent_runs: expected an integer").
 * --help and --version are not handled here.  In cluster mode an unset
 * cluster.member becomes "hostname:pid" (of the caller).  Blocks on
 * reading the file.
 */
int config_load(struct config *cfg, int argc, char **argv, char **envp,
    char *err, size_t errlen);

/* True in cluster mode: cluster.etcd (--etcd, DISTCRON_ETCD) is set. */
bool config_cluster_on(const struct config *cfg);

/* Frees the strings of cfg (not cfg itself); the etcd password is wiped
 * first. */
void config_free(struct config *cfg);

/* Prints the option summary for --help to fp (a FILE *). */
void config_usage(void *fp);

/*
 * Prints the table of every setting (key, environment variable, flag,
 * default, meaning), the config file's sections included, to fp (a
 * FILE *): format "man" gives tagged paragraphs for distcrond(8) and
 * distcron.json(5), "md" a Markdown table for README.md (directories as
 * $(sysconfdir) and $(localstatedir), so that it does not depend on the
 * build).  The same table as config_usage(): --help and the manuals cannot
 * disagree.  Returns 0, or ERR_INVALID for another format.
 */
int config_table(void *fp, const char *format);

#endif
