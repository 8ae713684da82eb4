/*
 * cluster.h - cluster mode on etcd: this daemon is one member of a
 * cluster whose members share the jobs and run every tick once.
 *
 *   membership  the member holds a lease and a key on it,
 *               /distcron/NS/members/MEMBER, kept alive every TTL/3; it
 *               follows the other members' keys (a watch, and a range on
 *               every keepalive as a fallback).
 *   ownership   each job is owned by one live member: rendezvous hashing
 *               of the job's name over the member ids (rendezvous.h).
 *   claims      a scheduled tick runs only on its owner, and only after
 *               one etcd transaction created /distcron/NS/claims/JOB/TICK
 *               while the member's key still lives on its lease; the
 *               transaction's revision is the run's fence.  The claim
 *               wraps the runner's local claim (runhooks.h), which records
 *               the won intents.
 *   concurrency a forbid or replace job's runs hold a running marker on
 *               the member's lease, /distcron/NS/running/JOB, put by the
 *               claim: forbid ticks are skipped while another member's
 *               marker is there, a replace claim overwrites it and the
 *               member whose marker it was cancels its older runs; it
 *               stays (idle) between runs while the member owns the job.
 *   fail-closed a member whose keepalive has not been answered for a whole
 *               TTL (monotonic clock) holds no lease: it claims nothing and
 *               launches nothing until it has registered again, which it
 *               does by itself when etcd answers.
 *   job files   file-based jobs must be the same on every member: each
 *               publishes its set (jobset.h) with its key; the jobs that
 *               differ are named, with the members, in the logs, /health
 *               ("warnings"), /monitor, /metrics and GET /cluster.
 *
 * Everything runs on the loop thread, except the functions marked
 * thread-safe (the API's threads call them).
 */
#ifndef DISTCRON_CLUSTER_H
#define DISTCRON_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "distcron/etcd.h"
#include "distcron/loop.h"
#include "distcron/runner.h"

struct cluster;
struct buf;
struct defs_set;

/* What cluster_new needs; strings are copied. */
struct cluster_opts {
	struct etcd_opts etcd;	/* endpoints, TLS, auth */
	const char *ns;		/* cluster.namespace */
	const char *member;	/* this member's id */
	int64_t lease_ttl_ms;	/* cluster.lease_ttl (rounded up to s) */
	const char *version;	/* shown in the member's key */
	int64_t reports_per_job;	/* cluster.reports_per_job: summaries
					 * of a job's runs kept in etcd (0:
					 * 50) */
};

/*
 * Makes the cluster client on loop (etcd is not contacted yet).  Returns
 * 0 and *out, or ERR_CONFIG with err naming the setting (a bad endpoint
 * list), or -ENOMEM.
 */
int cluster_new(struct loop *loop, const struct cluster_opts *o,
    struct cluster **out, char *err, size_t errlen);

/*
 * Puts the cluster's claim in force on r, wrapping the claim r had (the
 * local one): call after runner_new, before the first runner_apply.
 * Jobs are then owned by members, the runner's own catch-up of ticks
 * missed while the daemon was down is left to the cluster (for the jobs
 * it owns, in the failover window); every record carries this member's
 * id.  Returns 0, -ENOMEM or ERR_BUSY (runner already running).
 */
int cluster_attach(struct cluster *c, struct runner *r);

/* Grants the lease, registers the member, follows the members.  Never
 * blocks; etcd down is not an error (retried every TTL/3).  Returns 0 or
 * -ENOMEM. */
int cluster_start(struct cluster *c);

/* Clean stop: revokes the member's lease (its key goes at once, so the
 * others take its jobs over), stops following; calls done(arg) when etcd
 * answered or after at most a second.  No claim is won after this.  With
 * runs holding running markers in flight, only the member's key goes at
 * once: the lease (and the markers) lives until those runs are final,
 * then it is revoked and done follows as above. */
void cluster_stop(struct cluster *c, loop_fn done, void *arg);

/* A clean leave (SIGTERM): goes on claiming and launching until no claim
 * is in flight and every tick it won has come (at most 2 s), so that no
 * tick it claimed is left unlaunched; then calls ready(arg) (stop the
 * runner) and cluster_stop(c, done, arg).  Never blocks. */
void cluster_leave(struct cluster *c, loop_fn ready, loop_fn done,
    void *arg);

/* Frees c (after cluster_stop's done, or before cluster_start).  Accepts
 * NULL. */
void cluster_free(struct cluster *c);

/* The member's own id (owned by c). */
const char *cluster_member(const struct cluster *c);

/*
 * The definitions now in force (at start, before cluster_start, and after
 * every reload): the jobs read from files under jobs_dir are this
 * member's job set; when it changed, the member's key and its set are
 * written again to etcd and the members compared.  Jobs from elsewhere
 * (the API's, stored in etcd) do not count.  Returns 0 or -ENOMEM.
 */
int cluster_set_jobs(struct cluster *c, const struct defs_set *set,
    const char *jobs_dir);

/* Thread-safe: /health's warnings as a JSON array text (new, the caller
 * frees it), or NULL when there are none: the jobs whose files differ
 * between members, one string each. */
char *cluster_warnings_json(struct cluster *c);

/* Thread-safe.  0 while the member holds its lease; else ERR_CONNECT
 * (etcd unreachable) or ERR_TIMEOUT (lease lost) with why (n bytes)
 * saying what, for /health. */
int cluster_health(struct cluster *c, char *why, size_t n);

/* Thread-safe: adds GET /monitor's "cluster" member to o: {"member",
 * "members", "lease_ok", "reason", "claims": {"won", "lost",
 * "failed"}, "mismatch": ["job \"x\" is missing on m2", ...],
 * "mismatch_jobs"}. */
void cluster_monitor(struct cluster *c, json_object *o);

/* Thread-safe: appends the distcron_cluster_* families to /metrics'
 * text in b. */
void cluster_metrics(struct cluster *c, struct buf *b);

/* Thread-safe: GET /cluster: {"member", "namespace", "lease_ok",
 * "reason", "lease_ttl_s", "mismatch", "mismatch_jobs", "members":
 * [{"member", "host", "pid", "started", "age_s", "version",
 * "owned_jobs", "self"}], "endpoints": [{"url", "current", "healthy"}]}.
 * Returns a new JSON text or NULL without memory. */
char *cluster_status_json(struct cluster *c);

/* ---- jobs stored in etcd (cljobs.c) ----
 *
 * In cluster mode PUT /jobs/NAME and DELETE /jobs/NAME write
 * /distcron/NS/jobs/NAME (the job file's JSON, no lease) instead of a job
 * file.  Every member reads that prefix (a range at start and after its
 * watch ends, then the watch) and schedules the valid definitions beside
 * its job files; their job_def.source is CLUSTER_SOURCE_ETCD followed by
 * the key.  A job file of the same name wins.
 */
#define CLUSTER_SOURCE_ETCD	"etcd:"

struct defs_set;
struct tz;

/* Told on the loop thread when the jobs from etcd changed. */
typedef void (*cluster_jobs_fn)(void *arg);

/* Starts reading the jobs from etcd (call after cluster_start): their
 * definitions are parsed with zone as the default zone; changed(arg)
 * follows every change.  Never blocks.  Returns 0 or -ENOMEM. */
int cluster_jobs_start(struct cluster *c, const struct tz *zone,
    cluster_jobs_fn changed, void *arg);

struct secrets;

/* Keeps the secrets in etcd (/distcron/NS/secrets/NAME, sealed) instead of
 * the store: s mirrors them (read, then watched) and its writes go to etcd
 * (secrets_set_remote()).  Call after cluster_start, before the API
 * starts; s must outlive c.  Never blocks.  Returns 0 or -ENOMEM. */
int cluster_secrets_start(struct cluster *c, struct secrets *s);

/* Loop thread.  A new set (defs_set_free() it, or hand it to
 * runner_apply) holding files' jobs, nodes and bad files plus the jobs
 * from etcd whose name no file has (jobs and nodes are referenced or
 * copied: files is not changed).  A job refused because of a file is
 * logged once, naming the key and the file (in jobs_dir).  Returns 0 or
 * -ENOMEM. */
int cluster_jobs_merge(struct cluster *c, const struct defs_set *files,
    const char *jobs_dir, struct defs_set **out);

/* What a write of cluster_job_write came to: rc 0 (created: the key is
 * new), ERR_NOTFOUND (a delete of a key that was not there), ERR_CONNECT
 * (etcd refused it or could not be reached: nothing changed) or
 * ERR_TIMEOUT (no answer in time: it may have been applied), err saying
 * why ("" when rc is 0). */
typedef void (*cluster_job_done_fn)(void *arg, int rc, bool created,
    const char *err);

/* Loop thread.  Stores text (a valid job's JSON, len bytes) under the
 * job's key, or deletes the key when text is NULL; once etcd answered,
 * applies the change on this member and calls done(arg, ...) (on the
 * loop, never from inside this call).  Returns 0, ERR_BUSY (stopping) or
 * -ENOMEM (done is not called then). */
int cluster_job_write(struct cluster *c, const char *name, const char *text,
    size_t len, cluster_job_done_fn done, void *arg);

/* Thread-safe: a copy of the JSON stored for the job (free() it), or
 * NULL (none, or no memory). */
char *cluster_job_text(struct cluster *c, const char *name);

#endif
