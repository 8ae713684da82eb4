/*
 * defs.h - job and node definitions: parsing and validating the JSON files
 * of jobs.d/ and nodes.d/, loading whole directories, and diffing reloads.
 *
 * distcrond's (Go) format is accepted unchanged; the extensions are listed in
 * README.md.  A definition's name is its file name without ".json".
 * Definitions are immutable once loaded and reference-counted, so a run in
 * progress keeps the version it started with across a reload.  Not
 * thread-safe for one object except defs_job_ref()/defs_job_unref(), which
 * are atomic.
 */
#ifndef DISTCRON_DEFS_H
#define DISTCRON_DEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "distcron/sched.h"
#include "distcron/tz.h"

#define DEFS_NAME_MAX		128
#define DEFS_OUTPUT_LIMIT	(1024 * 1024)	/* default output_limit */
#define DEFS_RETENTION		1000		/* default runs kept per job */
#define DEFS_RETRY_BACKOFF_MS	(30 * 1000)	/* default retry_backoff */
#define DEFS_KILL_GRACE_MS	(10 * 1000)	/* default kill_grace */
#define DEFS_FILE_MAX		(1024 * 1024)	/* largest definition file */

enum node_conn { NODE_LOCAL = 0, NODE_SSH };

/* A definition file's identity: a reload re-parses a file only when one of
 * these changed (or it was named as changed). */
struct defs_fileid {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;	/* st_mtim, in ns since the epoch */
};

struct node_def {
	char *name;
	char **roles;		/* NULL-terminated */
	enum node_conn conn;
	bool enabled;
	int max_concurrent_runs;	/* 0: unlimited */
	/* connection_options, for NODE_SSH */
	char *ssh_user;
	char *ssh_host;		/* host part of "host:port" */
	int ssh_port;		/* default 22 */
	char *ssh_private_key_file;
	char *ssh_private_key_passphrase_file;
	char *ssh_passphrase_secret;	/* "ssh_private_key_passphrase":
					 * {"secret": NAME}'s NAME, or NULL */
	char *ssh_known_hosts_file;	/* default /etc/distcron/known_hosts */
	char *ssh_host_key;		/* pinned public key, or NULL */
	char *ssh_host_key_policy;	/* "strict" (default) or "accept-new" */
	int64_t connect_timeout_ms;	/* default 10s */
	int max_sessions;		/* default 8 */
	char *source;		/* file it came from */
	uint64_t digest;	/* hash of the file contents */
	struct defs_fileid fid;	/* the file as it was read */
};

enum job_hosts { JOB_HOSTS_ANY = 0, JOB_HOSTS_ALL };
enum job_concurrency { JOB_CONC_FORBID = 0, JOB_CONC_ALLOW, JOB_CONC_REPLACE };
enum job_missed { JOB_MISSED_SKIP = 0, JOB_MISSED_RUN_ONCE };

struct job_owner {
	char *name;
	char *email_address;
};

struct job_http {
	char *url;
	char *method;		/* default "GET" */
	char **headers;		/* "Name: value", NULL-terminated */
	char *body;		/* or NULL */
	int64_t timeout_ms;	/* 0: the job's timeout */
	int *expect_status;	/* default {200} */
	size_t nexpect_status;
	bool tls_verify;	/* default true */
};

/* "amqp" of a job: a message published by the daemon itself (exec_amqp.h).
 * url and ca_file NULL: the config's amqp section's. */
struct job_amqp {
	char *url;		/* amqp:// or amqps://, or NULL */
	char *ca_file;		/* PEM CAs of amqps, or NULL */
	char *exchange;		/* default "" (the broker's default), or
				 * "hacron" for a tick */
	char *routing_key;	/* default "" */
	char *body;		/* or NULL (empty; a tick's JSON for a tick) */
	char **headers;		/* "Name: value", NULL-terminated */
	bool persistent;	/* delivery mode 2 */
	bool tick;		/* HACron's tick JSON as the body */
	char *username;		/* overrides the URL's user, or NULL */
	char *password;		/* overrides the URL's password, or NULL;
				 * "" when a secret reference gives it
				 * (JOB_SECREF_AMQP_PASSWORD) */
};

/* Events a notification may be sent for (struct job_notify.on). */
enum defs_notify_event {
	DEFS_NOTIFY_FAILURE = 1 << 0,	/* a final FAILURE or LOST */
	DEFS_NOTIFY_RECOVERY = 1 << 1,	/* the first SUCCESS after those */
	DEFS_NOTIFY_SUCCESS = 1 << 2,	/* every SUCCESS */
	DEFS_NOTIFY_START = 1 << 3,	/* a run started */
	DEFS_NOTIFY_MISSED = 1 << 4,	/* a tick that did not start */
};
#define DEFS_NOTIFY_DEFAULT	(DEFS_NOTIFY_FAILURE | DEFS_NOTIFY_RECOVERY)

/* "notify" of a job, or the daemon-wide default of the config. */
struct job_notify {
	unsigned on;		/* DEFS_NOTIFY_* bits; default
				 * DEFS_NOTIFY_DEFAULT */
	char **email;		/* addresses, NULL-terminated, or NULL */
	char *webhook_url;	/* http(s), or NULL */
	char **webhook_headers;	/* "Name: value", NULL-terminated, or NULL */
	char **webhook_secrets;	/* by index of webhook_headers: the NAME of
				 * the secret whose value follows "Name: "
				 * (put in when a message is sent), else
				 * NULL; the array NULL when none is */
	char *slack_url;	/* http(s) incoming webhook, or NULL */
	struct job_amqp *amqp;	/* the run report published (url, ca_file,
				 * exchange, routing_key: NULL for
				 * "distcron.EVENT.JOB"), or NULL */
};

/* A {"secret": NAME} reference of a job (secrets.h resolves it when a run
 * starts): the value it stands for goes after env[idx] ("VAR=") or
 * http->headers[idx] ("Name: "), or is http->body or amqp->password. */
enum job_secref_kind { JOB_SECREF_ENV, JOB_SECREF_HEADER, JOB_SECREF_BODY,
	JOB_SECREF_AMQP_PASSWORD };
struct job_secref {
	char *name;		/* the secret's */
	char *field;		/* where: "environment.DB_PASSWORD" */
	enum job_secref_kind kind;
	size_t idx;
};

struct job_def {
	char *name;
	char *description;
	struct job_owner *owners;
	size_t nowners;
	/* policy */
	enum job_hosts hosts;
	char **roles;		/* NULL-terminated, or NULL */
	char **nodes;		/* explicit node names, NULL-terminated, or NULL */
	/* schedule */
	struct sched *sched;
	const struct tz *zone;	/* shared (tz_get) */
	/* what to run: exactly one of argv, shell, http, amqp */
	char **argv;		/* NULL-terminated */
	char *shell;		/* "command": "string" -> /bin/sh -c */
	struct job_http *http;
	struct job_amqp *amqp;
	char **env;		/* "NAME=VALUE", NULL-terminated, or NULL */
	char *working_dir;
	int64_t timeout_ms;	/* 0: none */
	int64_t kill_grace_ms;
	bool enabled;
	enum job_concurrency concurrency;
	int retries;
	int64_t retry_backoff_ms;
	enum job_missed missed;
	int64_t missed_max_age_ms;	/* 0: no limit */
	int64_t start_at;	/* UTC seconds; 0: none */
	int64_t expires_at;	/* UTC seconds; 0: none */
	int64_t max_runs;	/* 0: unlimited */
	size_t output_limit;
	int retention;
	bool packed;		/* argv, roles, nodes: one block each */
	struct job_notify *notify;	/* NULL: none given (the config's
					 * default applies) */
	char *source;
	uint64_t digest;	/* hash of the file contents, for reload diffs */
	struct defs_fileid fid;	/* the file as it was read */
	int refs;
	struct job_secref *secrefs;	/* its secret references */
	size_t nsecrefs;
};

/* Receives one diagnostic: level "error" or "warning", the file (or the
 * name given to a parse function) and "field: reason". */
typedef void (*defs_report_fn)(void *arg, const char *level,
    const char *file, const char *msg);

/* True if name is a valid job/node name: 1-128 of [A-Za-z0-9._-], not
 * starting with "." or "-". */
bool defs_name_valid(const char *name);

/*
 * Replaces the secrets of a job file's JSON (def, parsed; anything else is
 * left alone) by URL_MASK ("***"), for readers that may not see them: each
 * value of "environment", "http.headers" and "notify.webhook.headers"
 * (names kept), in "http.url" and "notify.webhook.url" the user, password,
 * query values and fragment (url_mask()), and "notify.slack.url" whole (its
 * path is the token).  Never fails:
 * a value that cannot be masked in part is masked whole.
 */
struct json_object;
void defs_job_mask(struct json_object *def);

/* True if s is a mail address as SMTP takes it: local@domain, one '@',
 * no space, control character or any of <>(),;:\"[]. */
bool defs_email_valid(const char *s);

/* The name of one DEFS_NOTIFY_* bit ("failure", ...), or NULL. */
const char *defs_notify_event_name(unsigned ev);

/*
 * Reads a "notify" object (v, at path, for messages: "notify") into a new
 * *out (defs_notify_free() it): "on" (event names; default failure and
 * recovery), "email" (addresses), "webhook" {"url", "headers"} and
 * "slack" {"url"}, URLs http(s) only.  Returns 0 or the error, c->err
 * naming the field and value ("notify.on[1]: unknown event \"sucess\"").
 * Messages show URLs through url_strip().
 */
struct jfield_ctx;
int defs_notify_parse(struct jfield_ctx *c, struct json_object *v,
    const char *path, struct job_notify **out);

/* Frees a notify; accepts NULL. */
void defs_notify_free(struct job_notify *n);

/*
 * Parses one job from JSON text.  default_zone applies when the schedule
 * names none.  On error returns ERR_PARSE/ERR_INVALID and writes
 * "field: reason" to err (e.g. "schedule.cron: day-of-month: 32 out of range
 * 1-31"); warnings (unknown fields) go to report with file = name.  The new
 * job has refs = 1.
 */
int defs_job_parse(const char *name, const char *text, size_t len,
    const struct tz *default_zone, struct job_def **out, char *err,
    size_t errlen, defs_report_fn report, void *arg);

/* Parses one node, same conventions. */
int defs_node_parse(const char *name, const char *text, size_t len,
    struct node_def **out, char *err, size_t errlen, defs_report_fn report,
    void *arg);

/*
 * Makes the parsers check that each {"secret": NAME} names a secret:
 * check(arg, NAME) is called (from any thread that parses) and returns 0,
 * ERR_NOTFOUND (the error "environment.X: secret \"NAME\" not found") or
 * ERR_CONFIG (no secrets key: "... cannot be read: no secrets key").  Set
 * once before any parse; NULL (the default): references are not checked.
 */
void defs_secrets_hook(int (*check)(void *arg, const char *name), void *arg);

/*
 * The NAME of a secret reference v ({"secret": NAME}) at path, into
 * *namep (v's): 0, or ERR_INVALID with c's error ("expected a string or
 * {\"secret\": NAME}", "invalid secret name"); whether the secret exists
 * is not checked.  For every field that takes one (jobs, nodes, config).
 */
struct jfield_ctx;
int defs_secret_ref(struct jfield_ctx *c, struct json_object *v,
    const char *path, const char **namep);

struct job_def *defs_job_ref(struct job_def *job);
void defs_job_unref(struct job_def *job);	/* frees at zero; accepts NULL */
void defs_node_free(struct node_def *node);	/* accepts NULL */

/* A deep copy of a node (for holders that outlive reloads), or NULL. */
struct node_def *defs_node_dup(const struct node_def *node);

/* A loaded pair of directories, sorted by name. */
struct defs_set {
	struct job_def **jobs;
	size_t njobs;
	struct node_def **nodes;
	size_t nnodes;
	int nerrors;		/* files skipped */
	char **bad_jobs;	/* names of job files present but not loaded
				 * (invalid, unreadable), sorted */
	size_t nbad_jobs;
	char **bad_nodes;	/* the same for node files */
	size_t nbad_nodes;
	struct defs_fileid *bad_job_fids;	/* bad_jobs' files */
	struct defs_fileid *bad_node_fids;	/* bad_nodes' files */
	size_t nparsed;		/* files the load that made it parsed */
	uint64_t gen;		/* unique to this set */
	/*
	 * A delta (defs_reload() of named files, or a scan): the set it was
	 * made from, whose unchanged jobs it shares without references of
	 * its own until defs_set_replace() hands them over, and the job
	 * names that may differ from it (sorted; each is now in jobs, in
	 * bad_jobs or gone).
	 */
	struct defs_set *base;	/* NULL: not a delta */
	uint64_t base_gen;
	char **changed_jobs;
	size_t nchanged_jobs;
	bool nodes_changed;	/* a node file was looked at */
	/* private to defs.c */
	bool borrowed;
	struct job_def **fresh, **dropped;
	size_t nfresh, ndropped, freshcap, droppedcap;
};

/* The changes a reload is asked to read.  Names are stems (a job's or
 * node's name, without ".json"). */
#define DEFS_CHANGES_MAX	4096	/* more names: scan everything */
struct defs_changes {
	char **jobs;		/* job files named as changed */
	size_t njobs;
	char **nodes;		/* node files named as changed */
	size_t nnodes;
	bool all;		/* scan both directories: re-parse the files
				 * whose identity changed */
	bool full;		/* re-parse every file */
};

/*
 * Loads every "*.json" file of both directories (other files and dotfiles
 * are ignored).  A bad file is reported through report ("error",
 * "jobs.d/backup.json", "schedule.cron: ...") and skipped; good files still
 * load.  Cross-checks are warnings: a job naming an unknown node, a job
 * whose roles match no node.  Returns 0 (even with bad files) or -errno when
 * a directory cannot be read at all.  Blocks on file I/O.
 */
int defs_load(const char *jobs_dir, const char *nodes_dir,
    const struct tz *default_zone, struct defs_set **out,
    defs_report_fn report, void *arg);

/*
 * Adds a directory entry's name (file, e.g. "backup.json"; jobs: of the
 * jobs directory, else of the nodes one) to ch; anything but a
 * "*.json" file not starting with "." is ignored (returns false).  Past
 * DEFS_CHANGES_MAX names, or out of memory, ch turns into a scan of
 * everything (all).  defs_changes_add_name() takes a name without ".json".
 */
bool defs_changes_add_file(struct defs_changes *ch, bool jobs,
    const char *file);
void defs_changes_add_name(struct defs_changes *ch, bool jobs,
    const char *name);

/* Empties ch (frees its names, clears all and full). */
void defs_changes_clear(struct defs_changes *ch);

/*
 * Loads the definitions again, re-reading only what ch names (prev is
 * the set in force, read and not changed; it must outlive *out until
 * defs_set_replace(prev, *out) or defs_set_free(*out)):
 *  - ch->full, or prev NULL: every file, as defs_load();
 *  - ch->all: both directories are scanned; a file whose name, size,
 *    mtime and inode match a definition (or bad file) of prev shares it,
 *    the others are read and parsed, the ones gone are dropped.  *out is
 *    a delta (changed_jobs lists what differs);
 *  - else the named files are read and parsed (a name without a file
 *    drops the job or node), everything else is shared with prev: the
 *    cost is the named files', not the directory's.  *out is a delta.
 * Cross-checks warn about the jobs parsed, or every job when a node file
 * changed.  (*out)->nparsed counts the files read.  Returns 0 or -errno
 * (a directory that cannot be read, -ENOMEM).  Blocks on file I/O.
 */
int defs_reload(const char *jobs_dir, const char *nodes_dir,
    const struct tz *default_zone, struct defs_set *prev,
    const struct defs_changes *ch, struct defs_set **out,
    defs_report_fn report, void *arg);

/*
 * Frees old, which set replaces: when set is a delta made from old, old's
 * references to the jobs both share become set's (no job is touched but
 * the changed ones).  Accepts old NULL.
 */
void defs_set_replace(struct defs_set *old, struct defs_set *set);

/* Where name is, or goes, in v[0..n) sorted by name (as
 * defs_find_named()); *found says whether it is there. */
size_t defs_named_pos(void *const *v, size_t n, const char *name,
    bool *found);

/* Finds a job or node by name in a set (binary search); NULL if absent. */
struct job_def *defs_find_job(const struct defs_set *set, const char *name);
struct node_def *defs_find_node(const struct defs_set *set, const char *name);

/* Binary search in v[0..n), sorted by name, of pointers to structs whose
 * first member is their "char *name" (job_def, node_def, and the runner's
 * slots).  Returns the index, or -1. */
ssize_t defs_find_named(void *const *v, size_t n, const char *name);

/* The position of the named node in set->nodes, or -1. */
ssize_t defs_node_index(const struct defs_set *set, const char *name);

/* True if the job's (node's) file is in the directory but could not be
 * loaded. */
bool defs_job_is_bad(const struct defs_set *set, const char *name);
bool defs_node_is_bad(const struct defs_set *set, const char *name);

/* Adds a copy of a node from an earlier set (a reload keeping the last
 * good definition of a node whose file broke).  Returns 0, ERR_EXISTS if
 * the set has that node, or -ENOMEM. */
int defs_set_keep_node(struct defs_set *set, const struct node_def *old);

/* Frees a set, dropping its references to jobs; accepts NULL. */
void defs_set_free(struct defs_set *set);

#endif
