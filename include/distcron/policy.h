/*
 * policy.h - which nodes run a job, and the health of every node.
 *
 * Candidates of a job are the enabled nodes having any of its roles, or the
 * nodes it names in "policy.nodes".  "any" runs on the up candidate with
 * the fewest running items (ties rotate so load spreads); "all" runs on
 * every candidate, and the caller records down ones as failed items.
 *
 * A node is marked down when a run cannot reach it (policy_node_failed());
 * SSH nodes that are down are then health-checked in the background with
 * doubling backoff (config node_check_interval .. node_check_max) and come
 * back up when a check connects and authenticates, or when a run gets
 * through.  Status (up/down, since when, last error, running count) is kept
 * for the API.  Everything runs on the loop thread.
 */
#ifndef DISTCRON_POLICY_H
#define DISTCRON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/exec_ssh.h"
#include "distcron/loop.h"

#define POLICY_ERROR_MAX	256

struct policy_node {
	const struct node_def *def;	/* owned by the current defs set */
	int running;			/* items executing on it now */
	bool down;
	int64_t since_ms;	/* CLOCK_REALTIME ms of the last up/down change */
	char last_error[POLICY_ERROR_MAX];	/* "" if none yet */
	/* private: health checks */
	int64_t backoff_ms;
	struct loop_timer *t_check;
	int checking;
	int removed;
	struct policy *policy;
};

struct policy;

/* Creates the node table.  ssh may be NULL (no health checks then).
 * Returns 0 or -ENOMEM. */
int policy_new(struct loop *loop, const struct config *cfg,
    struct exec_ssh *ssh, struct policy **out);

/* Frees the table and cancels health checks.  Accepts NULL. */
void policy_free(struct policy *p);

/* Takes the nodes of a freshly loaded set (which must outlive the next
 * call); status and running counts carry over by name.  Returns 0 or
 * -ENOMEM (the old table is kept). */
int policy_set_nodes(struct policy *p, const struct defs_set *set);

/* The node named name, or NULL. */
struct policy_node *policy_node(struct policy *p, const char *name);

/* The nodes, in name order, for listings. */
size_t policy_count(const struct policy *p);
struct policy_node *policy_at(struct policy *p, size_t i);

/* True if node is a candidate of job (enabled, and a role or name
 * matches). */
bool policy_matches(const struct job_def *job, const struct node_def *node);

/*
 * "any": the up candidate with the fewest running items whose name is not
 * in tried[0..ntried-1]; among equals, the first at or after position spin
 * (mod the node count), so a caller that counts its runs in spin spreads
 * them over the candidates.  Returns it, or NULL with why filled in ("no
 * enabled node matches the job's policy (roles: web)", "every candidate is
 * down or was tried: web1 (...)").
 */
struct policy_node *policy_pick_any(struct policy *p,
    const struct job_def *job, char *const *tried, size_t ntried,
    unsigned spin, char *why, size_t whylen);

/* "all": writes every candidate, down ones included, to out (room for
 * policy_count() entries).  Returns how many; 0 fills why. */
size_t policy_pick_all(struct policy *p, const struct job_def *job,
    struct policy_node **out, char *why, size_t whylen);

/* A run could not reach n: marks it down (logging the change) with error,
 * and schedules health checks. */
void policy_node_failed(struct policy *p, struct policy_node *n,
    const char *error);

/* A run or a check reached n: marks it up again if it was down. */
void policy_node_ok(struct policy *p, struct policy_node *n);

/* Describes why n is down, for failed items: "node web1 is down since
 * 2026-11-24T08:00:00Z: <last error>". */
void policy_down_reason(const struct policy_node *n, char *out, size_t len);

#endif
