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
 *   fail-closed a member whose keepalive has not been answered for a whole
 *               TTL (monotonic clock) holds no lease: it claims nothing and
 *               launches nothing until it has registered again, which it
 *               does by itself when etcd answers.
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

/* What cluster_new needs; strings are copied. */
struct cluster_opts {
	struct etcd_opts etcd;	/* endpoints, TLS, auth */
	const char *ns;		/* cluster.namespace */
	const char *member;	/* this member's id */
	int64_t lease_ttl_ms;	/* cluster.lease_ttl (rounded up to s) */
	const char *version;	/* shown in the member's key */
	const char *jobs_hash;	/* the file-based job set's hash, or NULL */
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
 * answered or after at most a second.  No claim is won after this. */
void cluster_stop(struct cluster *c, loop_fn done, void *arg);

/* Frees c (after cluster_stop's done, or before cluster_start).  Accepts
 * NULL. */
void cluster_free(struct cluster *c);

/* The member's own id (owned by c). */
const char *cluster_member(const struct cluster *c);

/* Thread-safe.  0 while the member holds its lease; else ERR_CONNECT
 * (etcd unreachable) or ERR_TIMEOUT (lease lost) with why (n bytes)
 * saying what, for /health. */
int cluster_health(struct cluster *c, char *why, size_t n);

/* Thread-safe: adds GET /monitor's "cluster" member to o: {"member",
 * "members", "lease_ok", "reason", "claims": {"won", "lost",
 * "failed"}}. */
void cluster_monitor(struct cluster *c, json_object *o);

/* Thread-safe: appends the distcron_cluster_* families to /metrics'
 * text in b. */
void cluster_metrics(struct cluster *c, struct buf *b);

/* Thread-safe: GET /cluster: {"member", "namespace", "lease_ok",
 * "reason", "lease_ttl_s", "members": [{"member", "host", "pid",
 * "started", "age_s", "version", "owned_jobs", "self"}], "endpoints":
 * [{"url", "current", "healthy"}]}.  Returns a new JSON text or NULL
 * without memory. */
char *cluster_status_json(struct cluster *c);

#endif
