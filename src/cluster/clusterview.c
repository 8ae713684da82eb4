/*
 * clusterview.c - what the API shows of the cluster (cluster.h): the loop
 * thread keeps a snapshot (struct cl_view: the members with the jobs
 * each owns, the lease's state and why, the claims' counters) under a
 * mutex, and the API's threads render it: /health, /monitor, /metrics
 * and GET /cluster, with mismatch.c's report of the job files that
 * differ.  The jobs each member owns are counted when the members
 * change, not when the API asks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/rendezvous.h"
#include "cluster_int.h"

/* ---- the loop's side ---- */

static int
cl_member_copy(const struct cl_member *s, struct cl_member *d)
{
	*d = *s;
	d->id = strdup(s->id);
	d->host = s->host ? strdup(s->host) : NULL;
	d->version = s->version ? strdup(s->version) : NULL;
	d->jobs_hash = NULL;
	d->owned = 0;
	return d->id != NULL ? 0 : -1;
}

void
cl_view_members(struct cluster *c)
{
	struct runner_job_info ji;
	struct cl_member *m;
	size_t i, n = 0, njobs = c->r ? runner_job_count(c->r) : 0;
	long o;

	if ((m = calloc(c->nmem + 1, sizeof(*m))) == NULL)
		return;
	for (i = 0; i < c->nmem; i++)
		if (cl_member_copy(&c->mem[i], &m[n]) == 0)
			n++;
	for (i = 0; i < njobs && n == c->nmem; i++) {
		runner_job_at(c->r, i, &ji);
		if ((o = rendezvous_owner(c->ids, c->nmem, ji.def->name)) >= 0)
			m[o].owned++;
	}
	pthread_mutex_lock(&c->mu);
	cl_members_free(c->view.members, c->view.nmembers);
	c->view.members = m;
	c->view.nmembers = n;
	pthread_mutex_unlock(&c->mu);
}

void
cl_view_state(struct cluster *c)
{
	bool ok = cl_lease_fresh(c);
	char why[CL_REASON_MAX] = "";

	if (!ok)
		cl_not_fresh_why(c, why, sizeof(why));
	pthread_mutex_lock(&c->mu);
	c->view.lease_ok = ok;
	c->view.ttl_s = c->ttl_ms / 1000;
	c->view.err = ok ? 0 : c->state == CL_LOST ? ERR_TIMEOUT : ERR_CONNECT;
	snprintf(c->view.reason, sizeof(c->view.reason), "%s", why);
	pthread_mutex_unlock(&c->mu);
}

void
cl_view_claim(struct cluster *c, int result)
{
	pthread_mutex_lock(&c->mu);
	if (result > 0)
		c->view.won++;
	else if (result == 0)
		c->view.lost++;
	else
		c->view.failed++;
	pthread_mutex_unlock(&c->mu);
}

/* ---- the API's side ---- */

int
cluster_health(struct cluster *c, char *why, size_t n)
{
	int err;

	pthread_mutex_lock(&c->mu);
	err = c->view.err;
	snprintf(why, n, "%s", c->view.reason);
	pthread_mutex_unlock(&c->mu);
	return err;
}

static json_object *
cl_claims_json(const struct cl_view *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "won", json_object_new_int64(
	    (int64_t)v->won));
	json_object_object_add(o, "lost", json_object_new_int64(
	    (int64_t)v->lost));
	json_object_object_add(o, "failed", json_object_new_int64(
	    (int64_t)v->failed));
	return o;
}

/* The fields /monitor and /cluster share. */
static void
cl_state_json(struct cluster *c, json_object *o)
{
	json_object_object_add(o, "member", json_object_new_string(c->member));
	json_object_object_add(o, "namespace", json_object_new_string(c->ns));
	json_object_object_add(o, "lease_ok",
	    json_object_new_boolean(c->view.lease_ok));
	json_object_object_add(o, "reason", c->view.reason[0] ?
	    json_object_new_string(c->view.reason) : NULL);
	json_object_object_add(o, "claims", cl_claims_json(&c->view));
	cl_mm_view_json(c, o);
}

void
cluster_monitor(struct cluster *c, json_object *o)
{
	json_object *m = json_object_new_object();

	pthread_mutex_lock(&c->mu);
	cl_state_json(c, m);
	json_object_object_add(m, "members",
	    json_object_new_int64((int64_t)c->view.nmembers));
	pthread_mutex_unlock(&c->mu);
	json_object_object_add(o, "cluster", m);
}

void
cluster_metrics(struct cluster *c, struct buf *b)
{
	struct cl_view v;
	size_t mismatch;

	pthread_mutex_lock(&c->mu);
	v = c->view;
	mismatch = cl_mm_view_count(c);
	pthread_mutex_unlock(&c->mu);
	buf_printf(b, "# HELP distcron_cluster_members Live members of the "
	    "cluster (keys on a lease in etcd).\n"
	    "# TYPE distcron_cluster_members gauge\n"
	    "distcron_cluster_members %zu\n", v.nmembers);
	buf_printf(b, "# HELP distcron_cluster_lease_ok 1 while this member "
	    "holds a fresh lease; 0: it launches nothing (see /health).\n"
	    "# TYPE distcron_cluster_lease_ok gauge\n"
	    "distcron_cluster_lease_ok %d\n", v.lease_ok ? 1 : 0);
	buf_printf(b, "# HELP distcron_cluster_claims_total Claims of ticks "
	    "in etcd by result (won: run here; lost: another member's; "
	    "failed: nobody's, missed).\n"
	    "# TYPE distcron_cluster_claims_total counter\n"
	    "distcron_cluster_claims_total{result=\"won\"} %llu\n"
	    "distcron_cluster_claims_total{result=\"lost\"} %llu\n"
	    "distcron_cluster_claims_total{result=\"failed\"} %llu\n",
	    (unsigned long long)v.won, (unsigned long long)v.lost,
	    (unsigned long long)v.failed);
	buf_printf(b, "# HELP distcron_cluster_job_mismatch File-based jobs "
	    "whose files differ between members or are missing on some "
	    "(named in /health and GET /cluster).\n"
	    "# TYPE distcron_cluster_job_mismatch gauge\n"
	    "distcron_cluster_job_mismatch %zu\n", mismatch);
}

static json_object *
cl_member_json(const struct cluster *c, const struct cl_member *m,
    int64_t now)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "member", json_object_new_string(m->id));
	json_object_object_add(o, "host", m->host ?
	    json_object_new_string(m->host) : NULL);
	json_object_object_add(o, "pid", json_object_new_int64(m->pid));
	json_object_object_add(o, "started", json_object_new_int64(m->started));
	json_object_object_add(o, "age_s", json_object_new_int64(
	    m->started > 0 ? now - m->started : 0));
	json_object_object_add(o, "version", m->version ?
	    json_object_new_string(m->version) : NULL);
	json_object_object_add(o, "owned_jobs",
	    json_object_new_int64((int64_t)m->owned));
	json_object_object_add(o, "self",
	    json_object_new_boolean(strcmp(m->id, c->member) == 0));
	return o;
}

/* The endpoints; the one in use is healthy when its last answer was. */
static json_object *
cl_endpoints_json(struct cluster *c)
{
	json_object *a = json_object_new_array(), *o;
	size_t i, cur = c->view.cur_ep;

	for (i = 0; i < etcd_nendpoints(c->e); i++) {
		o = json_object_new_object();
		json_object_object_add(o, "url",
		    json_object_new_string(etcd_endpoint(c->e, i)));
		json_object_object_add(o, "current",
		    json_object_new_boolean(i == cur));
		json_object_object_add(o, "healthy", i == cur ?
		    json_object_new_boolean(c->view.etcd_ok) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

char *
cluster_status_json(struct cluster *c)
{
	json_object *o = json_object_new_object(), *a;
	int64_t now = time(NULL);
	char *s;
	size_t i;

	if (o == NULL)
		return NULL;
	pthread_mutex_lock(&c->mu);
	cl_state_json(c, o);
	json_object_object_add(o, "lease_ttl_s",
	    json_object_new_int64(c->view.ttl_s));
	a = json_object_new_array();
	for (i = 0; i < c->view.nmembers; i++)
		json_object_array_add(a, cl_member_json(c,
		    &c->view.members[i], now));
	json_object_object_add(o, "members", a);
	json_object_object_add(o, "endpoints", cl_endpoints_json(c));
	pthread_mutex_unlock(&c->mu);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}
