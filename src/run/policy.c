/*
 * policy.c - node selection and node health.
 *
 * The table is an array of pointers to individually allocated
 * policy_node entries, sorted like the defs set's nodes (by name), so a
 * reload carries each node's entry over (status, running count, pending
 * health check) and only swaps its definition.  A node removed while its
 * health check is in flight is parked until the check answers.
 *
 * Health checks apply to SSH nodes only: a local node cannot be
 * unreachable.  A check is exec_ssh_probe(): a full connect, host key
 * verification and authentication, whose connection then stays pooled for
 * the next run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/dur.h"
#include "distcron/log.h"
#include "distcron/policy.h"
#include "distcron/tz.h"

struct policy {
	struct loop *loop;
	const struct config *cfg;
	struct exec_ssh *ssh;
	const struct defs_set *set;	/* the nodes' definitions */
	struct policy_node **nodes;	/* parallel to set->nodes */
	size_t n;
	struct policy_node **parked;	/* removed, check in flight */
	size_t nparked;
};

static void check_arm(struct policy *p, struct policy_node *n);

int
policy_new(struct loop *loop, const struct config *cfg, struct exec_ssh *ssh,
    struct policy **out)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->cfg = cfg;
	p->ssh = ssh;
	*out = p;
	return 0;
}

static void
node_free(struct policy_node *n)
{
	if (n->t_check != NULL)
		loop_timer_del(n->t_check);
	free(n);
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		node_free(p->nodes[i]);
	for (i = 0; i < p->nparked; i++)
		node_free(p->parked[i]);
	free(p->nodes);
	free(p->parked);
	free(p);
}

struct policy_node *
policy_node(struct policy *p, const char *name)
{
	ssize_t i = p->set ? defs_node_index(p->set, name) : -1;

	return i < 0 ? NULL : p->nodes[i];
}

size_t
policy_count(const struct policy *p)
{
	return p->n;
}

struct policy_node *
policy_at(struct policy *p, size_t i)
{
	return i < p->n ? p->nodes[i] : NULL;
}

/* Drops an entry that left the set, or parks it while its check runs. */
static int
node_retire(struct policy *p, struct policy_node *n)
{
	struct policy_node **np;

	if (!n->checking) {
		node_free(n);
		return 0;
	}
	np = realloc(p->parked, (p->nparked + 1) * sizeof(*np));
	if (np == NULL)
		return -ENOMEM;
	p->parked = np;
	n->removed = 1;
	n->def = NULL;
	p->parked[p->nparked++] = n;
	return 0;
}

/* An entry for def: the old one if the node existed, else a new one. */
static struct policy_node *
node_carry(struct policy *p, const struct node_def *def)
{
	struct policy_node *n = policy_node(p, def->name);

	if (n != NULL) {
		if (n->down && n->def->digest != def->digest) {
			n->backoff_ms = 0;	/* changed: check again soon */
			n->def = def;
			check_arm(p, n);
		}
		n->def = def;
		return n;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->def = def;
	n->policy = p;
	n->since_ms = loop_real_ms();
	return n;
}

int
policy_set_nodes(struct policy *p, const struct defs_set *set)
{
	struct policy_node **nn;
	size_t i, j;

	if ((nn = calloc(set->nnodes + 1, sizeof(*nn))) == NULL)
		return -ENOMEM;
	for (i = 0; i < set->nnodes; i++)
		if ((nn[i] = node_carry(p, set->nodes[i])) == NULL)
			goto nomem;
	/* Both lists are sorted by name: old entries not carried over are
	 * the ones the merge does not meet in nn. */
	for (i = 0, j = 0; j < p->n; j++) {
		while (i < set->nnodes && strcmp(nn[i]->def->name,
		    p->nodes[j]->def->name) < 0)
			i++;
		if ((i == set->nnodes || nn[i] != p->nodes[j]) &&
		    node_retire(p, p->nodes[j]) != 0)
			log_error("nodes: out of memory parking a node");
	}
	free(p->nodes);
	p->nodes = nn;
	p->n = set->nnodes;
	p->set = set;
	return 0;
 nomem:
	for (j = 0; j < i; j++)
		if (policy_node(p, nn[j]->def->name) != nn[j])
			free(nn[j]);
	free(nn);
	return -ENOMEM;
}

bool
policy_matches(const struct job_def *job, const struct node_def *node)
{
	char **a, **b;

	if (!node->enabled)
		return false;
	if (job->nodes != NULL) {
		for (a = job->nodes; *a; a++)
			if (strcmp(*a, node->name) == 0)
				return true;
		return false;
	}
	for (a = job->roles; a && *a; a++)
		for (b = node->roles; b && *b; b++)
			if (strcmp(*a, *b) == 0)
				return true;
	return false;
}

/* Why no candidate: names the roles or nodes the job asked for. */
static void
no_candidate(const struct job_def *job, char *why, size_t len)
{
	const char *what = job->nodes ? "node" : "role";
	char **v = job->nodes ? job->nodes : job->roles;
	size_t off;

	off = (size_t)snprintf(why, len, "no enabled node matches the job's "
	    "policy (%ss:", what);
	for (; v && *v && off < len; v++)
		off += (size_t)snprintf(why + off, len - off, " %s", *v);
	if (off < len)
		snprintf(why + off, len - off, ")");
}

static int
was_tried(const char *name, char *const *tried, size_t ntried)
{
	size_t i;

	for (i = 0; i < ntried; i++)
		if (strcmp(tried[i], name) == 0)
			return 1;
	return 0;
}

/* Appends "name (error)" of a down candidate to the reason. */
static void
why_down(char *why, size_t len, const struct policy_node *n, int first)
{
	size_t off = strlen(why);

	if (off + 4 < len)
		snprintf(why + off, len - off, "%s%s (%s)", first ? "" : ", ",
		    n->def->name, n->last_error[0] ? n->last_error : "down");
}

struct policy_node *
policy_pick_any(struct policy *p, const struct job_def *job,
    char *const *tried, size_t ntried, unsigned spin, char *why,
    size_t whylen)
{
	struct policy_node *best = NULL, *n;
	size_t k, ncand = 0, ndown = 0;

	why[0] = '\0';
	for (k = 0; k < p->n; k++) {
		n = p->nodes[(k + spin) % p->n];
		if (!policy_matches(job, n->def))
			continue;
		ncand++;
		if (was_tried(n->def->name, tried, ntried))
			continue;
		if (n->down) {
			if (ndown++ == 0)
				snprintf(why, whylen, "every candidate is down "
				    "or was tried: ");
			why_down(why, whylen, n, ndown == 1);
			continue;
		}
		if (best == NULL || n->running < best->running)
			best = n;
	}
	if (best != NULL)
		why[0] = '\0';
	else if (ncand == 0)
		no_candidate(job, why, whylen);
	else if (ndown == 0)
		snprintf(why, whylen, "every candidate was tried");
	return best;
}

size_t
policy_pick_all(struct policy *p, const struct job_def *job,
    struct policy_node **out, char *why, size_t whylen)
{
	size_t i, n = 0;

	for (i = 0; i < p->n; i++)
		if (policy_matches(job, p->nodes[i]->def))
			out[n++] = p->nodes[i];
	if (n == 0)
		no_candidate(job, why, whylen);
	return n;
}

/* ---- health ---- */

void
policy_down_reason(const struct policy_node *n, char *out, size_t len)
{
	const struct tz *utc = NULL;
	char when[64];

	if (tz_get("UTC", &utc, NULL) != 0 ||
	    tz_format_iso8601(utc, n->since_ms / 1000, when, sizeof(when)) != 0)
		snprintf(when, sizeof(when), "%lld ms", (long long)n->since_ms);
	snprintf(out, len, "node %s is down since %s: %s", n->def->name, when,
	    n->last_error[0] ? n->last_error : "unreachable");
}

static void
check_done(int rc, const char *msg, void *arg)
{
	struct policy_node *n = arg;
	struct policy *p = n->policy;
	size_t i;

	n->checking = 0;
	if (n->removed) {
		for (i = 0; i < p->nparked && p->parked[i] != n; i++)
			;
		if (i < p->nparked)
			p->parked[i] = p->parked[--p->nparked];
		node_free(n);
		return;
	}
	if (rc == 0) {
		policy_node_ok(p, n);
		return;
	}
	snprintf(n->last_error, sizeof(n->last_error), "%s", msg);
	if (n->down)
		check_arm(p, n);
}

static void
check_run(void *arg)
{
	struct policy_node *n = arg;
	struct policy *p = n->policy;

	n->t_check = NULL;
	if (!n->down || n->checking)
		return;
	log_debug("node %s: health check", n->def->name);
	if (exec_ssh_probe(p->ssh, n->def, check_done, n) == 0)
		n->checking = 1;
	else
		check_arm(p, n);
}

/* Schedules the next health check with doubling backoff. */
static void
check_arm(struct policy *p, struct policy_node *n)
{
	int64_t first = p->cfg->node_check_ms > 0 ? p->cfg->node_check_ms : 1000;
	int64_t max = p->cfg->node_check_max_ms > first ?
	    p->cfg->node_check_max_ms : first;

	if (p->ssh == NULL || n->def->conn != NODE_SSH || n->checking)
		return;
	n->backoff_ms = n->backoff_ms == 0 ? first :
	    (n->backoff_ms * 2 < max ? n->backoff_ms * 2 : max);
	if (n->t_check != NULL)
		loop_timer_del(n->t_check);
	n->t_check = NULL;
	loop_timer_add(p->loop, loop_mono_ms() + n->backoff_ms, check_run, n,
	    &n->t_check);
}

void
policy_node_failed(struct policy *p, struct policy_node *n, const char *error)
{
	snprintf(n->last_error, sizeof(n->last_error), "%s", error);
	if (n->down)
		return;
	n->down = true;
	n->since_ms = loop_real_ms();
	n->backoff_ms = 0;
	log_warn("node %s is down: %s", n->def->name, error);
	check_arm(p, n);
}

void
policy_node_ok(struct policy *p, struct policy_node *n)
{
	char d[32];

	(void)p;
	if (!n->down)
		return;
	dur_format(loop_real_ms() - n->since_ms, d, sizeof(d));
	n->down = false;
	n->since_ms = loop_real_ms();
	n->backoff_ms = 0;
	if (n->t_check != NULL)
		loop_timer_del(n->t_check);
	n->t_check = NULL;
	log_info("node %s is back up after %s", n->def->name, d);
}
