/*
 * cluster.c - the member's lease and the list of members (cluster.h).
 *
 * One timer drives it, every TTL/3 (CL_RETRY_MS after a failed keepalive,
 * so that a lease outlives an etcd election): while the member has no
 * lease it asks for one and registers its key on it (a transaction that
 * creates the key only if no one holds it, so two daemons given the same
 * member id do not both run); while it has one, it renews it and reads
 * the members' keys.  A watch on the members' prefix makes changes known
 * at once; the range on every timer is the fallback when the watch
 * breaks.  A change of members re-computes ownership and hands the jobs
 * this member takes over to claim.c.
 *
 * The lease counts as fresh until a whole TTL after the send time of the
 * last keepalive etcd answered: etcd renewed it no earlier than that, so
 * the lease cannot have expired on etcd's side before the member notices.
 * When it is not fresh the member fails closed (claims fail, won runs do
 * not launch), says so once, and grants a new lease by itself when etcd
 * answers; the old one is revoked then, in case it still holds the key.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/rendezvous.h"
#include "cluster_int.h"

#define CL_STOP_WAIT_MS	1000	/* cluster_stop waits this long for etcd */
#define CL_RETRY_MS	250	/* a failed keepalive is tried again */
#define CL_REQUEST_MIN_MS 1000	/* etcd requests are given at least this */

static void cl_tick(void *arg);
static void cl_arm(struct cluster *c, int64_t ms);
static void cl_range(struct cluster *c);

/* ---- small helpers ---- */

static char *
cl_strcat3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

void
cl_members_free(struct cl_member *m, size_t n)
{
	size_t i;

	for (i = 0; m != NULL && i < n; i++) {
		free(m[i].id);
		free(m[i].host);
		free(m[i].version);
		free(m[i].jobs_hash);
	}
	free(m);
}

/* etcd's errors are logged when they change, not at every request. */
void
cl_etcd_error(struct cluster *c, const struct etcd_result *r)
{
	snprintf(c->last_err, sizeof(c->last_err), "%.*s",
	    (int)sizeof(c->last_err) - 1, r->msg[0] ? r->msg :
	    err_str(r->err));
	if (strcmp(c->last_err, c->logged_err) != 0) {
		log_warn("cluster: etcd: %s", c->last_err);
		memcpy(c->logged_err, c->last_err, sizeof(c->logged_err));
	}
	pthread_mutex_lock(&c->mu);
	c->view.etcd_ok = false;
	c->view.cur_ep = etcd_current(c->e);
	pthread_mutex_unlock(&c->mu);
}

static void
cl_etcd_ok(struct cluster *c)
{
	if (c->logged_err[0] != '\0')
		log_info("cluster: etcd answers again");
	c->logged_err[0] = c->last_err[0] = '\0';
	pthread_mutex_lock(&c->mu);
	c->view.etcd_ok = true;
	c->view.cur_ep = etcd_current(c->e);
	pthread_mutex_unlock(&c->mu);
}

/* For requests whose answer changes nothing (a revoke). */
static void
cl_ignore(void *arg, const struct etcd_result *r)
{
	(void)arg;
	(void)r;
}

/* ---- freshness and ownership ---- */

bool
cl_lease_fresh(const struct cluster *c)
{
	return c->state == CL_OK && loop_mono_ms() < c->ka_ok_ms + c->ttl_ms;
}

void
cl_not_fresh_why(const struct cluster *c, char *out, size_t n)
{
	if (c->state == CL_STOPPED)
		snprintf(out, n, "cluster: this member is stopping");
	else if (c->state == CL_STARTING)
		snprintf(out, n, "cluster: not registered in etcd yet%s%s",
		    c->last_err[0] ? ": " : "", c->last_err);
	else
		snprintf(out, n, "cluster: lease lost (no keepalive answered "
		    "for %lld ms; fail closed)%s%s", (long long)c->ttl_ms,
		    c->last_err[0] ? ": etcd: " : "", c->last_err);
}

const char *
cl_owner(const struct cluster *c, const char *job)
{
	long i = rendezvous_owner(c->ids, c->nmem, job);
	bool in = false;
	size_t k;

	for (k = 0; k < c->nmem; k++)
		in = in || strcmp(c->ids[k], c->member) == 0;
	/* this member counts even before its key shows in a range */
	if (!in && (i < 0 || rendezvous_score(c->member, job) >
	    rendezvous_score(c->ids[i], job)))
		return c->member;
	return c->ids[i];
}

/* ---- lease ---- */

void
cl_lease_lost(struct cluster *c, const char *why)
{
	if (c->state != CL_OK)
		return;
	c->state = CL_LOST;
	c->lost_since_ms = loop_mono_ms();
	c->old_lease = c->lease;
	c->lease = 0;
	log_error("cluster: member %s lost its lease (%s): no tick is claimed "
	    "or launched here until it has registered again", c->member, why);
	cl_view_state(c);
}

/* The member's key: who, where, since when, which job files. */
char *
cl_member_value(const struct cluster *c)
{
	json_object *o = json_object_new_object();
	char *s;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "member", json_object_new_string(c->member));
	json_object_object_add(o, "host", json_object_new_string(c->host));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "started",
	    json_object_new_int64(c->started));
	json_object_object_add(o, "version",
	    json_object_new_string(c->version));
	if (c->jobs_hash != NULL)
		json_object_object_add(o, "jobs_hash",
		    json_object_new_string(c->jobs_hash));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* A lease request in flight: its lease and when it was sent. */
struct cl_req {
	struct cluster *c;
	int64_t lease;
	int64_t sent_ms;
};

static void
cl_registered(void *arg, const struct etcd_result *r)
{
	struct cl_req *g = arg;
	struct cluster *c = g->c;
	const struct etcd_op_result *cur = r->nops > 0 ? &r->ops[0] : NULL;

	c->grant_busy = false;
	if (c->state == CL_STOPPED) {
		free(g);
		return;
	}
	if (r->err != 0 || !r->succeeded) {
		if (r->err != 0)
			cl_etcd_error(c, r);
		else if (cur != NULL && cur->nkvs > 0 &&
		    cur->kvs[0].lease != c->old_lease)
			snprintf(c->last_err, sizeof(c->last_err), "member id "
			    "%s is held by another daemon (%.*s)", c->member,
			    (int)(cur->kvs[0].value_len > 120 ? 120 :
			    cur->kvs[0].value_len), cur->kvs[0].value);
		else
			snprintf(c->last_err, sizeof(c->last_err), "its key "
			    "still lives on its previous lease");
		log_warn("cluster: member %s cannot register yet: %s",
		    c->member, c->last_err);
		etcd_lease_revoke(c->e, g->lease, cl_ignore, NULL);
		free(g);
		return;
	}
	cl_etcd_ok(c);
	cl_mm_registered(c);
	c->old_lease = 0;
	log_info("cluster: member %s registered (lease %llx, ttl %lld s%s)",
	    c->member, (unsigned long long)g->lease,
	    (long long)(c->ttl_ms / 1000), c->state == CL_LOST ?
	    "; claiming again" : "");
	c->lease = g->lease;
	c->ka_ok_ms = g->sent_ms;
	c->state = CL_OK;
	free(g);
	cl_view_state(c);
	cl_range(c);
}

/* Creates the member's key and its job set on the new lease, if no one
 * holds the key. */
static void
cl_register(struct cluster *c, struct cl_req *g)
{
	struct etcd_cmp cmp = { .key = c->member_key,
	    .target = ETCD_CMP_CREATE, .result = ETCD_EQUAL, .number = 0 };
	struct etcd_op put[2] = { { .type = ETCD_OP_PUT,
	    .key = c->member_key, .lease = g->lease } };
	struct etcd_op get = { .type = ETCD_OP_RANGE, .key = c->member_key };
	struct etcd_txn t = { &cmp, 1, put, 2, &get, 1 };
	char *v = cl_member_value(c);
	int rc = -ENOMEM;

	cl_mm_put_op(c, g->lease, &put[1]);
	if (v != NULL) {
		put[0].value = v;
		put[0].value_len = strlen(v);
		rc = etcd_txn(c->e, &t, cl_registered, g);
	}
	free(v);
	if (rc != 0) {
		c->grant_busy = false;
		free(g);
	}
}

static void
cl_granted(void *arg, const struct etcd_result *r)
{
	struct cl_req *g = arg;
	struct cluster *c = g->c;

	if (r->err != 0 || c->state == CL_STOPPED) {
		if (r->err != 0)
			cl_etcd_error(c, r);
		c->grant_busy = false;
		free(g);
		return;
	}
	g->lease = r->lease;
	c->ttl_ms = (r->ttl > 0 ? r->ttl : c->ttl_ask_s) * 1000;
	if (c->old_lease != 0)	/* it may still hold our key */
		etcd_lease_revoke(c->e, c->old_lease, cl_ignore, NULL);
	cl_register(c, g);
}

static void
cl_grant(struct cluster *c)
{
	struct cl_req *g;

	if (c->grant_busy || (g = calloc(1, sizeof(*g))) == NULL)
		return;
	g->c = c;
	g->sent_ms = loop_mono_ms();
	c->grant_busy = true;
	if (etcd_lease_grant(c->e, c->ttl_ask_s, cl_granted, g) != 0) {
		c->grant_busy = false;
		free(g);
	}
}

static void
cl_renewed(void *arg, const struct etcd_result *r)
{
	struct cl_req *k = arg;
	struct cluster *c = k->c;

	c->ka_busy = false;
	if (c->state != CL_OK || k->lease != c->lease) {
		free(k);
		return;
	}
	if (r->err == ERR_NOTFOUND) {
		cl_etcd_error(c, r);
		cl_lease_lost(c, "etcd says the lease is gone");
	} else if (r->err != 0) {
		cl_etcd_error(c, r);
		/* etcd electing a leader fails it at once: try again soon,
		 * so that the lease outlives an election shorter than it */
		cl_arm(c, CL_RETRY_MS);
	} else {
		cl_etcd_ok(c);
		if (k->sent_ms > c->ka_ok_ms)
			c->ka_ok_ms = k->sent_ms;
		if (r->ttl > 0)
			c->ttl_ms = r->ttl * 1000;
	}
	free(k);
}

static void
cl_renew(struct cluster *c)
{
	struct cl_req *k;

	if (c->ka_busy || (k = calloc(1, sizeof(*k))) == NULL)
		return;
	k->c = c;
	k->lease = c->lease;
	k->sent_ms = loop_mono_ms();
	c->ka_busy = true;
	if (etcd_lease_keepalive(c->e, c->lease, cl_renewed, k) != 0) {
		c->ka_busy = false;
		free(k);
	}
}

/* ---- members ---- */

/* One member from its key (PREFIX + id) and JSON value. */
static int
cl_member_parse(const struct cluster *c, const struct etcd_kv *kv,
    struct cl_member *m)
{
	size_t plen = strlen(c->members_prefix);
	json_object *o, *f;

	memset(m, 0, sizeof(*m));
	if (kv->key_len <= plen || (m->id = strdup(kv->key + plen)) == NULL)
		return -1;
	m->lease = kv->lease;
	if ((o = json_tokener_parse(kv->value)) != NULL) {
		if (json_object_object_get_ex(o, "host", &f))
			m->host = strdup(json_object_get_string(f));
		if (json_object_object_get_ex(o, "version", &f))
			m->version = strdup(json_object_get_string(f));
		if (json_object_object_get_ex(o, "pid", &f))
			m->pid = json_object_get_int64(f);
		if (json_object_object_get_ex(o, "started", &f))
			m->started = json_object_get_int64(f);
		if (json_object_object_get_ex(o, "jobs_hash", &f))
			m->jobs_hash = strdup(json_object_get_string(f));
		json_object_put(o);
	}
	return 0;
}

static int
cl_member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cl_member *)a)->id,
	    ((const struct cl_member *)b)->id);
}

/* Whether the ids changed; logs who joined and who left. */
static bool
cl_members_changed(const struct cluster *c, const char **old, size_t nold)
{
	size_t i = 0, j = 0;
	bool changed = nold != c->nmem;
	int d;

	while (i < nold || j < c->nmem) {
		d = i == nold ? 1 : j == c->nmem ? -1 :
		    strcmp(old[i], c->ids[j]);
		if (d < 0)
			log_info("cluster: member %s left", old[i]);
		else if (d > 0)
			log_info("cluster: member %s joined", c->ids[j]);
		changed = changed || d != 0;
		i += d <= 0;
		j += d >= 0;
	}
	return changed;
}

/* Takes the range's members as the list; ownership follows. */
static void
cl_members_set(struct cluster *c, struct cl_member *m, size_t n)
{
	const char **old = c->ids, **ids;
	struct cl_member *oldm = c->mem;
	size_t nold = c->nmem, i;
	bool first = !c->have_view;

	if ((ids = calloc(n + 1, sizeof(*ids))) == NULL) {
		cl_members_free(m, n);
		return;
	}
	qsort(m, n, sizeof(*m), cl_member_cmp);
	for (i = 0; i < n; i++)
		ids[i] = m[i].id;
	c->mem = m;
	c->nmem = n;
	c->ids = ids;
	c->have_view = true;
	if (cl_members_changed(c, old, first ? 0 : nold) || first) {
		cl_view_members(c);
		cl_take_over(c, first ? NULL : old, first ? 0 : nold);
	}
	free(old);
	cl_members_free(oldm, nold);
}

static void
cl_ranged(void *arg, const struct etcd_result *r)
{
	struct cluster *c = arg;
	struct cl_member *m;
	size_t i, n = 0;

	c->range_busy = false;
	if (c->state == CL_STOPPED)
		return;
	if (r->err != 0) {
		cl_etcd_error(c, r);
		return;
	}
	cl_etcd_ok(c);
	if ((m = calloc(r->op.nkvs + 1, sizeof(*m))) == NULL)
		return;
	for (i = 0; i < r->op.nkvs; i++)
		if (cl_member_parse(c, &r->op.kvs[i], &m[n]) == 0)
			n++;
	cl_members_set(c, m, n);
	cl_mm_members(c);
	if (c->range_again) {
		c->range_again = false;
		cl_range(c);
	}
}

static void
cl_range(struct cluster *c)
{
	struct etcd_op op = { .type = ETCD_OP_RANGE,
	    .key = c->members_prefix, .prefix = true };

	if (c->range_busy) {
		c->range_again = true;
		return;
	}
	c->range_busy = true;
	if (etcd_do(c->e, &op, cl_ranged, c) != 0)
		c->range_busy = false;
}

static void
cl_watched(void *arg, const struct etcd_watch_msg *m)
{
	struct cluster *c = arg;

	if (m->err != 0) {	/* over: the timer makes a new one */
		log_debug("cluster: members' watch ended: %s", m->msg);
		etcd_watch_cancel(c->watch);
		c->watch = NULL;
		return;
	}
	if (m->nevents > 0)
		cl_range(c);
}

static void
cl_watch(struct cluster *c)
{
	struct etcd_watch_opts o = { .key = c->members_prefix,
	    .prefix = true };

	if (c->watch == NULL && etcd_watch(c->e, &o, cl_watched, c,
	    &c->watch) != 0)
		c->watch = NULL;
}

/* ---- the timer ---- */

/* The next tick in ms from now, or at a third of the TTL when ms is 0;
 * a tick already due later is moved. */
static void
cl_arm(struct cluster *c, int64_t ms)
{
	if (ms == 0)
		ms = c->ttl_ms / 3 > 0 ? c->ttl_ms / 3 : 1000;
	if (c->tick != NULL)
		loop_timer_del(c->tick);
	c->tick = NULL;
	loop_timer_add(c->loop, loop_mono_ms() + ms, cl_tick, c, &c->tick);
}

static void
cl_tick(void *arg)
{
	struct cluster *c = arg;
	char why[CL_REASON_MAX];

	c->tick = NULL;
	if (c->state == CL_STOPPED)
		return;
	if (c->state == CL_OK && !cl_lease_fresh(c)) {
		snprintf(why, sizeof(why), "no keepalive answered for %lld ms%s%s",
		    (long long)c->ttl_ms, c->last_err[0] ? "; etcd: " : "",
		    c->last_err);
		cl_lease_lost(c, why);
	}
	if (c->state == CL_OK)
		cl_renew(c);
	else
		cl_grant(c);
	cl_mm_publish(c);
	cl_watch(c);
	cl_range(c);
	cl_claims_lease(c);
	cl_running_tick(c);
	cl_runs_tick(c);
	cl_view_state(c);
	cl_arm(c, 0);
}

/* ---- life ---- */

static int
cl_names(struct cluster *c, const struct cluster_opts *o)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	c->ns = strdup(o->ns);
	c->member = strdup(o->member);
	c->version = strdup(o->version ? o->version : PACKAGE_VERSION);
	c->host = strdup(host);
	c->members_prefix = cl_strcat3(CL_PREFIX, o->ns, "/members/");
	c->claims_prefix = cl_strcat3(CL_PREFIX, o->ns, "/claims/");
	c->member_key = c->members_prefix ?
	    cl_strcat3(c->members_prefix, o->member, "") : NULL;
	if (c->ns == NULL || c->member == NULL || c->version == NULL ||
	    c->host == NULL || c->members_prefix == NULL ||
	    c->claims_prefix == NULL || c->member_key == NULL)
		return -ENOMEM;
	return 0;
}

/* Half the lease, within [CL_REQUEST_MIN_MS, ETCD_TIMEOUT_DEFAULT]. */
static int64_t
cl_request_timeout_ms(int64_t ttl_ms)
{
	int64_t t = ttl_ms / 2;

	if (t < CL_REQUEST_MIN_MS)
		return CL_REQUEST_MIN_MS;
	return t > ETCD_TIMEOUT_DEFAULT ? ETCD_TIMEOUT_DEFAULT : t;
}

int
cluster_new(struct loop *loop, const struct cluster_opts *o,
    struct cluster **out, char *err, size_t errlen)
{
	struct etcd_opts eo = o->etcd;
	struct cluster *c;
	int rc;

	/* A request etcd does not answer (one lost with a leader that died
	 * waits for etcd's own timeout) is given up after half the lease,
	 * so that a keepalive or a claim can be tried again in time. */
	if (eo.timeout_ms == 0)
		eo.timeout_ms = cl_request_timeout_ms(o->lease_ttl_ms);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->loop = loop;
	c->ttl_ask_s = (o->lease_ttl_ms + 999) / 1000;
	c->ttl_ms = c->ttl_ask_s * 1000;
	c->started = loop_real_ms() / 1000;
	c->nonce_base = ((uint64_t)loop_real_ms() << 20) ^ (uint64_t)getpid();
	snprintf(c->last_err, sizeof(c->last_err), "no answer yet");
	if ((rc = cl_names(c, o)) != 0 || (rc = cl_mm_new(c)) != 0 ||
	    (rc = cl_running_new(c)) != 0 ||
	    (rc = etcd_new(loop, &eo, &c->e, err, errlen)) != 0 ||
	    (rc = cl_runs_new(c, o->reports_per_job)) != 0) {
		cluster_free(c);
		return rc;
	}
	cl_view_state(c);
	*out = c;
	return 0;
}

const char *
cluster_member(const struct cluster *c)
{
	return c->member;
}

int
cluster_attach(struct cluster *c, struct runner *r)
{
	int rc;

	runner_claim(r, &c->local, &c->local_arg);
	c->r = r;
	if ((rc = runner_set_member(r, c->member)) != 0 ||
	    (rc = cl_running_attach(c, r)) != 0 ||
	    (rc = cl_runs_attach(c)) != 0)
		return rc;
	return runner_set_claim(r, &cl_claim_ops, c);
}

int
cluster_start(struct cluster *c)
{
	log_info("cluster: member %s of namespace %s on etcd %s; lease ttl "
	    "%lld s", c->member, c->ns, etcd_endpoint(c->e, 0),
	    (long long)c->ttl_ask_s);
	cl_grant(c);
	cl_watch(c);
	cl_claims_lease(c);
	cl_running_tick(c);
	cl_runs_tick(c);
	cl_arm(c, 0);
	return 0;
}

static void
cl_stopped(void *arg)
{
	struct cluster *c = arg;
	loop_fn fn = c->stop_done;

	c->stop_timer = NULL;
	c->stop_done = NULL;
	if (fn != NULL)
		fn(c->stop_arg);
}

static void
cl_revoked(void *arg, const struct etcd_result *r)
{
	struct cluster *c = arg;

	if (r->err == 0)
		log_info("cluster: member %s left (lease revoked)", c->member);
	else
		log_warn("cluster: revoking the lease failed (%s); the others "
		    "take over when it expires", r->msg[0] ? r->msg :
		    err_str(r->err));
	if (c->stop_timer != NULL) {
		loop_timer_del(c->stop_timer);
		cl_stopped(c);
	}
}

void
cluster_stop(struct cluster *c, loop_fn done, void *arg)
{
	int64_t lease = c->state == CL_OK ? c->lease : 0;

	c->state = CL_STOPPED;
	c->stop_done = done;
	c->stop_arg = arg;
	if (c->tick != NULL)
		loop_timer_del(c->tick);
	c->tick = NULL;
	etcd_watch_cancel(c->watch);
	c->watch = NULL;
	cl_jobs_stop(c);
	cl_secrets_stop(c);
	cl_runs_stop(c);
	cl_view_state(c);
	if (lease != 0 && cl_running_drain(c, lease))
		return;		/* cl_leave when its marked runs are final */
	cl_leave(c, lease);
}

void
cl_leave(struct cluster *c, int64_t lease)
{
	if (lease == 0 || etcd_lease_revoke(c->e, lease, cl_revoked, c) != 0) {
		loop_post(c->loop, cl_stopped, c);
		return;
	}
	loop_timer_add(c->loop, loop_mono_ms() + CL_STOP_WAIT_MS, cl_stopped,
	    c, &c->stop_timer);
}

void
cluster_free(struct cluster *c)
{
	if (c == NULL)
		return;
	if (c->tick != NULL)
		loop_timer_del(c->tick);
	if (c->stop_timer != NULL)
		loop_timer_del(c->stop_timer);
	if (c->leave_timer != NULL)
		loop_timer_del(c->leave_timer);
	etcd_watch_cancel(c->watch);
	cl_jobs_free(c);
	cl_secrets_free(c);
	cl_running_free(c);
	cl_runs_free(c);
	etcd_free(c->e);
	cl_members_free(c->mem, c->nmem);
	free(c->ids);
	cl_members_free(c->view.members, c->view.nmembers);
	free(c->ns);
	free(c->member);
	free(c->version);
	free(c->host);
	free(c->jobs_hash);
	free(c->members_prefix);
	free(c->claims_prefix);
	free(c->member_key);
	cl_mm_free(c);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
