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
	char *jobs_hash;	/* its file-based jobs' (mismatch.c) */
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
	struct cl_mismatch *mm;	/* mismatch.c's: the job files compared */
	char last_err[CL_ERR_MAX];	/* etcd's last error */
	char logged_err[CL_ERR_MAX];	/* ... as last logged ("": none) */
	uint64_t nonce_seq;
	uint64_t nonce_base;
	loop_fn stop_done;
	void *stop_arg;
	struct loop_timer *stop_timer;
	/* leave.c: a clean stop waits for the ticks this member claimed */
	size_t claims_inflight;	/* claim batches not answered yet */
	int64_t won_until;	/* UTC s: the latest tick won */
	struct loop_timer *leave_timer;
	int64_t leave_deadline;	/* mono ms */
	loop_fn leave_ready, leave_done;
	void *leave_arg;
	pthread_mutex_t mu;
	struct cl_view view;
	struct cl_jobs *jobs;	/* cljobs.c; NULL until cluster_jobs_start */
	struct cl_secrets *secrets;	/* clsecrets.c; NULL: none */
	struct cl_running *running;	/* running.c's markers */
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

/* Revokes lease (0: none) and calls cluster_stop's done when etcd
 * answered or after at most a second. */
void cl_leave(struct cluster *c, int64_t lease);

/* ---- claim.c ---- */

extern const struct run_claim_ops cl_claim_ops;
/* The string field name of a JSON value (a claim's, a marker's) into out
 * (n bytes; "?" if none). */
void cl_claim_field(const struct etcd_kv *kv, const char *name, char *out,
    size_t n);
/* The members changed from old[0..nold-1] to the current list: jobs this
 * member now owns and did not catch up on the ticks nobody claimed in
 * the failover window. */
void cl_take_over(struct cluster *c, const char **old, size_t nold);
/* A new claims lease, when due (every claims_ttl_s / 2). */
void cl_claims_lease(struct cluster *c);

/* ---- cljobs.c ---- */

/* Stops following the jobs (cluster_stop); cl_jobs_free frees them
 * (cluster_free).  Both accept c->jobs NULL. */
void cl_jobs_stop(struct cluster *c);
void cl_jobs_free(struct cluster *c);

/* ---- clsecrets.c ---- */

/* Stops following the secrets (cluster_stop); cl_secrets_free frees them
 * (cluster_free).  Both accept c->secrets NULL. */
void cl_secrets_stop(struct cluster *c);
void cl_secrets_free(struct cluster *c);

/* A key rotation's etcd transaction, built from a range of the secrets'
 * prefix: for each value (kvs, "UPDATED_MS SEALED") the current key does
 * not open, a compare "mod_revision unchanged" and a put of the value
 * sealed with the current key (secrets_reseal()).  Apart from the counts,
 * freed with cl_secrets_rotation_free(). */
struct cl_rotation {
	struct etcd_cmp *cmps;
	struct etcd_op *ops;
	char **values;
	size_t n;		/* cmps, ops, values: re-sealed */
	size_t current;		/* already under the current key */
};
/* Returns 0, ERR_INVALID (a value neither key opens, or malformed: err
 * names it; out empty) or -ENOMEM. */
int cl_secrets_rotation(const char *prefix, const struct secrets *s,
    const struct etcd_kv *kvs, size_t nkvs, struct cl_rotation *out,
    char *err, size_t errlen);
void cl_secrets_rotation_free(struct cl_rotation *rot);

/* ---- running.c: running markers (concurrency forbid/replace) ---- */

#define CL_MARK_WAIT_MS		150	/* another member's marker: claim
					 * again after this long... */
#define CL_MARK_WAIT_MAX_MS	900	/* ...for up to this long */
#define CL_UNMARK_MAX		64	/* markers deleted in a transaction */

/* One claim's part in its job's running marker. */
struct cl_mark_req {
	enum job_concurrency conc;	/* JOB_CONC_ALLOW: no marker */
	bool own;		/* forbid: compare that the marker is on our
				 * lease (else that it is absent) */
	int retries;		/* claims sent again with the other compare */
	int64_t until;		/* mono ms: another member's marker is
				 * waited for until then (0: not at all) */
	char *key;		/* the marker's key; NULL: no marker */
};

/* What a forbid claim that failed on the marker does next. */
enum cl_mark_next {
	CL_MARK_SKIP,		/* the tick is skipped (why says so) */
	CL_MARK_AGAIN,		/* sent again now, the compare turned */
	CL_MARK_LATER,		/* sent again in CL_MARK_WAIT_MS */
};

/* The table of markers, its watch and the finish hook; 0 or -ENOMEM. */
int cl_running_new(struct cluster *c);
int cl_running_attach(struct cluster *c, struct runner *r);
/* From the timer: (re)makes the markers' watch, then reads them. */
void cl_running_tick(struct cluster *c);
/* cluster_stop with the member's lease: true when marked runs are in
 * flight; the member key is deleted at once and the lease kept alive
 * until they are final, then cl_leave.  False: nothing held. */
bool cl_running_drain(struct cluster *c, int64_t lease);
/* Frees the table, its timers and its watch (cluster_free). */
void cl_running_free(struct cluster *c);
/* Fills q for rec's tick (no marker for allow jobs) and counts the claim
 * as in flight until cl_mark_end.  0 or -ENOMEM. */
int cl_mark_begin(struct cluster *c, const struct store_run *rec,
    struct cl_mark_req *q);
/* Adds q's compare (forbid), put (value, on lease) and range (forbid) to
 * a claim's transaction, after the *ncmp, *nput, *nget there.  Pure. */
void cl_mark_txn(const struct cl_mark_req *q, int64_t lease,
    const char *value, struct etcd_cmp *cmp, size_t *ncmp,
    struct etcd_op *put, size_t *nput, struct etcd_op *get, size_t *nget);
/* The marker's value {"member", "tick", "nonce"}, malloc'd, or NULL. */
char *cl_mark_value(const struct cluster *c, int64_t tick,
    const char *nonce);
/* A forbid claim failed on the marker (got: its range) at mono time
 * now_ms: CL_MARK_AGAIN when the marker was absent or ours (q's compare
 * is turned; twice at most), CL_MARK_LATER when it is another member's
 * and q->until leaves time to wait once more, else CL_MARK_SKIP; why
 * names the member whose marker it is (LATER and SKIP).  Pure. */
int cl_mark_failed(const struct cluster *c, struct cl_mark_req *q,
    const struct etcd_op_result *got, int64_t now_ms, char *why, size_t n);
/* The mono time until which a claim waits for another member's marker:
 * CL_MARK_WAIT_MAX_MS after mono_ms, but CL_MARK_WAIT_MS before the next
 * tick next_s (real seconds; real_ms is now) and no later than end_ms
 * (mono: the lease TTL after the members changed); 0 if that leaves no
 * wait.  Pure. */
int64_t cl_mark_until(int64_t mono_ms, int64_t real_ms, int64_t next_s,
    int64_t end_ms);
/* Fills cmp[0..n-1] (each key's mod revision is revs[i]), del[0..n-1]
 * (its delete) and get[0..n-1] (its read, when a compare fails): the
 * batched delete of idle markers.  Returns n.  Pure. */
size_t cl_unmark_txn(char *const *keys, const int64_t *revs, size_t n,
    struct etcd_cmp *cmp, struct etcd_op *del, struct etcd_op *get);
/* After such a batch failed (r: its reads): still[i] says whether key i
 * is there with mod revision revs[i], ours to delete still.  Pure. */
void cl_unmark_still(const struct etcd_result *r, const int64_t *revs,
    size_t n, bool *still);
/* The members changed: the idle markers of jobs this member no longer
 * owns are deleted (one transaction for up to CL_UNMARK_MAX). */
void cl_running_moved(struct cluster *c);
/* The claim won at revision rev: the marker is ours at rev. */
void cl_mark_won(struct cluster *c, const struct cl_mark_req *q,
    const char *job, int64_t rev);
/* The claim is over: a run recorded (id > 0, its fence) holds the marker
 * until it is final; else (id 0) nothing does.  Frees q's key. */
void cl_mark_end(struct cluster *c, struct cl_mark_req *q, const char *job,
    int64_t id, int64_t fence);
/* ---- clruns.c: run summaries in etcd, other members' in the store ---- */

struct cl_runs;
/* c->runs (c->e made), with the per-job cap (0: CL_REPORTS_DEFAULT).
 * 0 or -ENOMEM. */
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

/* ---- mismatch.c: the members' job files compared ---- */

struct cl_mismatch;
struct etcd_op;
/* c->mm for c's namespace and member (0 or -ENOMEM); freed by
 * cl_mm_free (accepts none). */
int cl_mm_new(struct cluster *c);
void cl_mm_free(struct cluster *c);
/* The member's key's JSON value (with the job set's hash), or NULL. */
char *cl_member_value(const struct cluster *c);
/* Fills op: the put of this member's job set on lease, for the
 * registration's transaction; cl_mm_registered when it succeeded. */
void cl_mm_put_op(struct cluster *c, int64_t lease, struct etcd_op *op);
void cl_mm_registered(struct cluster *c);
/* Writes the member's key and job set again if the set changed since
 * they were written (timer tick; once at a time). */
void cl_mm_publish(struct cluster *c);
/* After a range of the members: compares the job sets when the members'
 * hashes changed and differ. */
void cl_mm_members(struct cluster *c);
/* Under c->mu: adds "mismatch" (the report's lines) and
 * "mismatch_jobs" to o; the number of jobs that differ. */
void cl_mm_view_json(struct cluster *c, json_object *o);
size_t cl_mm_view_count(const struct cluster *c);

#endif
