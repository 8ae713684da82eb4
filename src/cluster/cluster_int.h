/*
 * cluster_int.h - private to the cluster's files: cluster.c (lease and
 * membership), claim.c (the per-tick claim and the take-over of jobs)
 * and clusterview.c (what the API shows).  Loop thread, except the
 * snapshot (struct cl_view), which the API threads read under mu.
 */
#ifndef DISTCRON_CLUSTER_INT_H
#define DISTCRON_CLUSTER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "distcron/cluster.h"
#include "distcron/runhooks.h"

#define CL_REASON_MAX	256
#define CL_ERR_MAX	160	/* etcd's last error, in reasons */
#define CL_PREFIX	"/distcron/"
#define CL_REPORTS_DEFAULT 50	/* cluster.reports_per_job */

enum cl_state {
	CL_STARTING,	/* no lease yet: ticks are left to the others */
	CL_OK,		/* lease held and fresh */
	CL_LOST,	/* had one, lost it: fail closed until registered */
	CL_STOPPED,	/* cluster_stop: no more claims */
};

/* A member as its key says. */
struct cl_member {
	char *id;
	char *host;
	char *version;
	int64_t pid;
	int64_t started;	/* UTC seconds */
	int64_t lease;
	size_t owned;		/* jobs it owns (of ours) */
};

/* What the API threads read (under mu). */
struct cl_view {
	struct cl_member *members;
	size_t nmembers;
	bool lease_ok;
	int err;		/* cluster_health's answer */
	char reason[CL_REASON_MAX];
	uint64_t won, lost, failed;	/* claims */
	bool etcd_ok;		/* the last request answered */
	size_t cur_ep;		/* the endpoint in use */
	int64_t ttl_s;		/* the lease's TTL */
};

struct cluster {
	struct loop *loop;
	struct etcd *e;
	struct runner *r;
	const struct run_claim_ops *local;	/* the claim we wrap */
	void *local_arg;
	char *ns, *member, *version, *jobs_hash, *host;
	char *members_prefix;	/* CL_PREFIX NS "/members/" */
	char *member_key;	/* ... MEMBER */
	char *claims_prefix;	/* CL_PREFIX NS "/claims/" */
	int64_t ttl_ask_s;	/* cluster.lease_ttl, in s */
	int64_t ttl_ms;		/* the TTL etcd granted */
	int64_t started;	/* UTC seconds */
	enum cl_state state;
	int64_t lease, old_lease;	/* old: lost, to revoke */
	int64_t ka_ok_ms;	/* mono: the last answered keepalive's send */
	int64_t lost_since_ms;	/* mono: when it was lost */
	bool ka_busy, grant_busy, range_busy, range_again, claims_busy;
	int64_t claims_lease;	/* the claims' long lease */
	int64_t claims_ttl_s;
	int64_t claims_rotate_ms;	/* mono: grant a new one then */
	struct loop_timer *tick;
	struct etcd_watch *watch;
	struct cl_member *mem;	/* the last range's, sorted by id */
	size_t nmem;
	const char **ids;	/* mem[i].id, for rendezvous_owner */
	bool have_view;		/* a range answered (members is known) */
	char last_err[CL_ERR_MAX];	/* etcd's last error */
	char logged_err[CL_ERR_MAX];	/* ... as last logged ("": none) */
	uint64_t nonce_seq;
	uint64_t nonce_base;
	loop_fn stop_done;
	void *stop_arg;
	struct loop_timer *stop_timer;
	pthread_mutex_t mu;
	struct cl_view view;
	struct cl_runs *runs;	/* clruns.c: run summaries */
};

/* ---- cluster.c ---- */

/* The lease is held and its last answered keepalive was sent less than a
 * TTL ago (monotonic): claims may be made and runs launched. */
bool cl_lease_fresh(const struct cluster *c);
/* Why not (for a claim's or a launch's reason), in out (n bytes). */
void cl_not_fresh_why(const struct cluster *c, char *out, size_t n);
/* The owner of job among the live members and this one (which counts as
 * live while its lease is fresh). */
const char *cl_owner(const struct cluster *c, const char *job);
/* Records etcd's error (logged by the caller) for the view. */
void cl_etcd_error(struct cluster *c, const struct etcd_result *r);
/* The lease is gone (etcd said so, or a whole TTL unanswered): fail
 * closed, logged once. */
void cl_lease_lost(struct cluster *c, const char *why);

/* ---- claim.c ---- */

extern const struct run_claim_ops cl_claim_ops;
/* The members changed from old[0..nold-1] to the current list: jobs this
 * member now owns and did not catch up on the ticks nobody claimed in
 * the failover window. */
void cl_take_over(struct cluster *c, const char **old, size_t nold);
/* A new claims lease, when due (every claims_ttl_s / 2). */
void cl_claims_lease(struct cluster *c);

/* ---- clruns.c: run summaries in etcd, other members' in the store ---- */

struct cl_runs;
/* c->runs, with the per-job cap (0: CL_REPORTS_DEFAULT).  0 or -ENOMEM. */
int cl_runs_new(struct cluster *c, int64_t cap);
/* Adds the finish hook that sends summaries (c->r set).  0 or < 0. */
int cl_runs_attach(struct cluster *c);
/* Sends what waits; watches the summaries, reads them when it must. */
void cl_runs_tick(struct cluster *c);
/* Stops watching (cluster_stop); cl_runs_free frees (NULL-safe). */
void cl_runs_stop(struct cluster *c);
void cl_runs_free(struct cluster *c);

/* ---- clusterview.c ---- */

/* Rebuilds the view's members (with the jobs each owns) from c's list. */
void cl_view_members(struct cluster *c);
/* Sets the view's lease state and reason from c. */
void cl_view_state(struct cluster *c);
/* Counts a claim: +1 won, 0 lost, -1 failed. */
void cl_view_claim(struct cluster *c, int result);
/* Frees members[0..n-1]'s strings and the array. */
void cl_members_free(struct cl_member *m, size_t n);

#endif
