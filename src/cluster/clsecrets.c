/*
 * clsecrets.c - cluster mode's secrets: their sealed values are kept in
 * etcd under /distcron/NS/secrets/NAME (as "UPDATED_MS SEALED": never a
 * value in the clear), and every member mirrors them into its struct
 * secrets (secrets.h), as cljobs.c mirrors the API's jobs: a range fills
 * the mirror (at start, and whenever the watch ended), then a watch from
 * the range's revision + 1 follows it (follow.c).  A sealed value the
 * member's key does not open (another key, an edit by hand) is logged
 * and left out.
 *
 * Writes come from the API's threads (secrets_set(), secrets_delete()),
 * which wait for etcd's answer: the request is posted to the loop, sent
 * there, and its answer signalled back.  A request shared between the
 * waiting thread and the loop is freed by whichever lets go of it last,
 * so a waiter that gives up (CLS_WAIT_MS) leaves nothing dangling.
 *
 * Key rotation (secrets_rotate()) goes the same way: on the loop, a range
 * of the prefix, each value the current key does not open sealed again
 * with it (the previous key opens it), and all of them written in one
 * transaction that compares each key's mod_revision with the range's: a
 * secret set or deleted through another member meanwhile fails it whole
 * (ERR_EXISTS: try again), and the watch brings the new values to every
 * member.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/secrets.h"
#include "cluster_int.h"
#include "follow_int.h"

#define CLS_RESYNC_MS	1000	/* a watch that ended: read again after */
#define CLS_WAIT_MS	15000	/* an API write waits this long for etcd */

struct cl_secrets {
	struct cluster *c;
	struct secrets *s;
	char *prefix;		/* CL_PREFIX NS "/secrets/" */
	struct cl_follow f;	/* the range and the watch of prefix */
};

/* One write from an API thread. */
struct cls_call {
	struct cl_secrets *cs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;		/* the waiter's and the loop's */
	bool done;
	int rc;
	char err[256];
	char *key;
	char *value;		/* NULL: a delete */
	size_t len;
	struct secrets_rotation rot;	/* a rotation's counts */
};

/* ---- following the prefix ---- */

/* The length of value's "UPDATED_MS " head (its number in *updated), or 0
 * when it has none. */
static size_t
cls_head(const char *value, size_t len, int64_t *updated)
{
	const char *sp = memchr(value, ' ', len);
	char num[24];

	if (sp == NULL || (size_t)(sp - value) >= sizeof(num))
		return 0;
	memcpy(num, value, (size_t)(sp - value));
	num[sp - value] = '\0';
	if (dur_parse_int(num, 0, INT64_MAX, updated) != 0)
		return 0;
	return (size_t)(sp - value) + 1;
}

/* Applies one key (value NULL: deleted) to the mirror. */
static void
cls_apply(struct cl_secrets *cs, const char *key, const char *value,
    size_t len)
{
	const char *name = key + strlen(cs->prefix);
	int64_t updated = 0;
	size_t hl;
	int r;

	if (strncmp(key, cs->prefix, strlen(cs->prefix)) != 0)
		return;
	if (value == NULL) {
		secrets_mirror_drop(cs->s, name, NULL, 0);
		return;
	}
	if ((hl = cls_head(value, len, &updated)) == 0)
		r = ERR_PARSE;
	else
		r = secrets_mirror_put(cs->s, name,
		    (const unsigned char *)value + hl, len - hl, updated);
	if (r != 0)
		log_error("cluster: secret %s in etcd: %s; left out", name,
		    r == ERR_AUTH || r == ERR_INVALID ? "the secrets key does "
		    "not open it (another key, or altered)" : err_str(r));
}

static bool
cls_event(void *arg, const struct etcd_event *ev)
{
	cls_apply(arg, ev->kv.key, ev->type == ETCD_EV_PUT ? ev->kv.value :
	    NULL, ev->kv.value_len);
	return false;
}

static void
cls_ended(void *arg, const struct etcd_watch_msg *m)
{
	(void)arg;
	log_warn("cluster: the secrets' watch ended (%s); reading them again",
	    m->msg[0] ? m->msg : err_str(m->err));
}

/* The names of a range's keys, in order (they come sorted). */
static const char **
cls_names(const struct cl_secrets *cs, const struct etcd_kv *kvs, size_t n)
{
	const char **v = calloc(n + 1, sizeof(*v));
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		v[i] = kvs[i].key + strlen(cs->prefix);
	return v;
}

static int
cls_ranged(void *arg, const struct etcd_kv *kvs, size_t n, int64_t rev)
{
	struct cl_secrets *cs = arg;
	const char **names;
	size_t i;

	(void)rev;
	if ((names = cls_names(cs, kvs, n)) == NULL)
		return -ENOMEM;
	secrets_mirror_drop(cs->s, NULL, names, n);
	free(names);
	for (i = 0; i < n; i++)
		cls_apply(cs, kvs[i].key, kvs[i].value, kvs[i].value_len);
	return 0;
}

static const struct cl_follow_ops cls_follow = {
	.ranged = cls_ranged, .event = cls_event, .ended = cls_ended,
};

/* ---- writes from the API's threads ---- */

/* Lets go of q; the last one frees it. */
static void
cls_call_put(struct cls_call *q)
{
	bool last;

	pthread_mutex_lock(&q->mu);
	last = --q->refs == 0;
	pthread_mutex_unlock(&q->mu);
	if (!last)
		return;
	free(q->key);
	if (q->value != NULL)
		explicit_bzero(q->value, q->len);
	free(q->value);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

/* Answers q with rc and text (NULL: none) as its message. */
static void
cls_done(struct cls_call *q, int rc, const char *text)
{
	pthread_mutex_lock(&q->mu);
	q->rc = rc;
	if (text != NULL)
		snprintf(q->err, sizeof(q->err), "%s", text);
	q->done = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	cls_call_put(q);
}

/* Answers q with rc and etcd's msg (NULL: none). */
static void
cls_answer(struct cls_call *q, int rc, const char *msg)
{
	char text[256];

	if (msg != NULL)
		snprintf(text, sizeof(text), "etcd: %.200s (%s)", msg,
		    rc == ERR_TIMEOUT ? "it may or may not have been written" :
		    "nothing written");
	cls_done(q, rc, msg != NULL ? text : NULL);
}

static void
cls_written(void *arg, const struct etcd_result *r)
{
	struct cls_call *q = arg;

	if (r->err != 0)
		cls_answer(q, r->err == ERR_TIMEOUT ? ERR_TIMEOUT :
		    ERR_CONNECT, r->msg);
	else if (q->value == NULL && r->op.count == 0)
		cls_answer(q, ERR_NOTFOUND, NULL);
	else
		cls_answer(q, 0, NULL);
}

/* On the loop: sends q. */
static void
cls_send(void *arg)
{
	struct cls_call *q = arg;
	struct etcd_op op = { .type = q->value != NULL ? ETCD_OP_PUT :
	    ETCD_OP_DELETE, .key = q->key, .value = q->value,
	    .value_len = q->len };

	if (q->cs->f.stopped || etcd_do(q->cs->c->e, &op, cls_written, q) != 0)
		cls_answer(q, ERR_CONNECT, "the member is stopping");
}

/* Waits for q's answer, at most CLS_WAIT_MS. */
static int
cls_wait(struct cls_call *q, char *err, size_t errlen)
{
	struct timespec until;
	int rc;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CLS_WAIT_MS / 1000;
	pthread_mutex_lock(&q->mu);
	while (!q->done && pthread_cond_timedwait(&q->cv, &q->mu,
	    &until) == 0)
		;
	rc = q->done ? q->rc : ERR_TIMEOUT;
	snprintf(err, errlen, "%s", q->done ? q->err : "etcd did not "
	    "answer in time (the secret may or may not have been written)");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* A new call of cs, held by the waiter and the loop. */
static struct cls_call *
cls_call_new(struct cl_secrets *cs)
{
	struct cls_call *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->cs = cs;
	q->refs = 2;
	return q;
}

/* secrets_write_fn: one put or delete through the loop. */
static int
cls_write(void *arg, const char *name, const unsigned char *sealed,
    size_t len, int64_t updated_ms, char *err, size_t errlen)
{
	struct cl_secrets *cs = arg;
	struct cls_call *q = cls_call_new(cs);
	char head[32];
	int hl, rc;

	if (q == NULL)
		return -ENOMEM;
	hl = snprintf(head, sizeof(head), "%" PRId64 " ", updated_ms);
	q->len = sealed != NULL ? (size_t)hl + len : 0;
	if ((q->key = malloc(strlen(cs->prefix) + strlen(name) + 1)) != NULL)
		snprintf(q->key, strlen(cs->prefix) + strlen(name) + 1,
		    "%s%s", cs->prefix, name);
	if (sealed != NULL && (q->value = malloc(q->len)) != NULL) {
		memcpy(q->value, head, (size_t)hl);
		memcpy(q->value + hl, sealed, len);
	}
	if (q->key == NULL || (sealed != NULL && q->value == NULL) ||
	    loop_post(cs->c->loop, cls_send, q) != 0) {
		q->refs = 1;
		cls_call_put(q);
		return -ENOMEM;
	}
	rc = cls_wait(q, err, errlen);
	cls_call_put(q);
	return rc;
}

/* ---- key rotation ---- */

/* Adds kv's value to out: counted when the current key opens it, else
 * sealed again with it, with its compare and put. */
static int
rot_one(const char *prefix, const struct secrets *s,
    const struct etcd_kv *kv, struct cl_rotation *out, char *err,
    size_t errlen)
{
	const char *name = kv->key + strlen(prefix);
	unsigned char *sealed = NULL;
	int64_t updated;
	size_t hl, len = 0;
	char *v;
	int r;

	if (strncmp(kv->key, prefix, strlen(prefix)) != 0)
		return 0;
	if ((hl = cls_head(kv->value, kv->value_len, &updated)) == 0) {
		snprintf(err, errlen, "secret %s in etcd: not a sealed value "
		    "(\"UPDATED_MS SEALED\"); nothing was re-sealed", name);
		return ERR_INVALID;
	}
	if ((r = secrets_reseal(s, name, (const unsigned char *)kv->value +
	    hl, kv->value_len - hl, &sealed, &len, err, errlen)) != 0)
		return r;
	if (sealed == NULL) {
		out->current++;
		return 0;
	}
	v = malloc(hl + len);
	if (v != NULL) {
		memcpy(v, kv->value, hl);
		memcpy(v + hl, sealed, len);
	}
	free(sealed);
	if (v == NULL)
		return -ENOMEM;
	out->values[out->n] = v;
	out->cmps[out->n] = (struct etcd_cmp){ .key = kv->key,
	    .target = ETCD_CMP_MOD, .result = ETCD_EQUAL,
	    .number = kv->mod_revision };
	out->ops[out->n++] = (struct etcd_op){ .type = ETCD_OP_PUT,
	    .key = kv->key, .value = v, .value_len = hl + len };
	return 0;
}

int
cl_secrets_rotation(const char *prefix, const struct secrets *s,
    const struct etcd_kv *kvs, size_t nkvs, struct cl_rotation *out,
    char *err, size_t errlen)
{
	size_t i;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if ((out->cmps = calloc(nkvs + 1, sizeof(*out->cmps))) == NULL ||
	    (out->ops = calloc(nkvs + 1, sizeof(*out->ops))) == NULL ||
	    (out->values = calloc(nkvs + 1, sizeof(char *))) == NULL)
		r = -ENOMEM;
	for (i = 0; r == 0 && i < nkvs; i++)
		r = rot_one(prefix, s, &kvs[i], out, err, errlen);
	if (r != 0) {
		cl_secrets_rotation_free(out);
		out->current = 0;
	}
	return r;
}

void
cl_secrets_rotation_free(struct cl_rotation *rot)
{
	size_t i;

	for (i = 0; rot->values != NULL && i < rot->n; i++)
		free(rot->values[i]);
	free(rot->values);
	free(rot->cmps);
	free(rot->ops);
	rot->values = NULL;
	rot->cmps = NULL;
	rot->ops = NULL;
	rot->n = 0;
}

static void
cls_rotated(void *arg, const struct etcd_result *r)
{
	struct cls_call *q = arg;

	if (r->err != 0)
		cls_answer(q, r->err == ERR_TIMEOUT ? ERR_TIMEOUT :
		    ERR_CONNECT, r->msg);
	else if (!r->succeeded)
		cls_done(q, ERR_EXISTS, "a secret changed meanwhile (set or "
		    "deleted through a member): nothing was re-sealed; try "
		    "again");
	else
		cls_done(q, 0, NULL);
}

/* The range of the prefix came: the transaction goes out. */
static void
cls_rot_ranged(void *arg, const struct etcd_result *r)
{
	struct cls_call *q = arg;
	struct cl_rotation rot;
	struct etcd_txn t = { 0 };
	char err[256] = "";
	int rc;

	if (r->err != 0) {
		cls_answer(q, r->err == ERR_TIMEOUT ? ERR_TIMEOUT :
		    ERR_CONNECT, r->msg);
		return;
	}
	if ((rc = cl_secrets_rotation(q->cs->prefix, q->cs->s, r->op.kvs,
	    r->op.nkvs, &rot, err, sizeof(err))) != 0) {
		cls_done(q, rc, err[0] != '\0' ? err : NULL);
		return;
	}
	q->rot.resealed = rot.n;
	q->rot.current = rot.current;
	t.cmps = rot.cmps;
	t.ncmps = rot.n;
	t.success = rot.ops;
	t.nsuccess = rot.n;
	if (rot.n == 0)
		cls_done(q, 0, NULL);
	else if (q->cs->f.stopped || etcd_txn(q->cs->c->e, &t, cls_rotated,
	    q) != 0)
		cls_answer(q, ERR_CONNECT, "the member is stopping");
	cl_secrets_rotation_free(&rot);
}

/* On the loop: reads the prefix for a rotation. */
static void
cls_rot_send(void *arg)
{
	struct cls_call *q = arg;
	struct etcd_op op = { .type = ETCD_OP_RANGE, .key = q->cs->prefix,
	    .prefix = true };

	if (q->cs->f.stopped || etcd_do(q->cs->c->e, &op, cls_rot_ranged,
	    q) != 0)
		cls_answer(q, ERR_CONNECT, "the member is stopping");
}

/* secrets_rotate_fn: the rotation through the loop. */
static int
cls_rotate(void *arg, struct secrets *s, struct secrets_rotation *res,
    char *err, size_t errlen)
{
	struct cl_secrets *cs = arg;
	struct cls_call *q = cls_call_new(cs);
	int rc;

	(void)s;
	if (q == NULL)
		return -ENOMEM;
	if (loop_post(cs->c->loop, cls_rot_send, q) != 0) {
		q->refs = 1;
		cls_call_put(q);
		return -ENOMEM;
	}
	if ((rc = cls_wait(q, err, errlen)) == 0)
		*res = q->rot;
	cls_call_put(q);
	return rc;
}

/* ---- start and stop ---- */

int
cluster_secrets_start(struct cluster *c, struct secrets *s)
{
	struct cl_secrets *cs;
	size_t n = strlen(CL_PREFIX) + strlen(c->ns) + sizeof("/secrets/");

	if ((cs = calloc(1, sizeof(*cs))) == NULL ||
	    (cs->prefix = malloc(n)) == NULL) {
		free(cs);
		return -ENOMEM;
	}
	snprintf(cs->prefix, n, "%s%s/secrets/", CL_PREFIX, c->ns);
	cs->c = c;
	cs->s = s;
	cs->f = (struct cl_follow){ .e = c->e, .loop = c->loop,
	    .prefix = cs->prefix, .what = "the secrets",
	    .resync_ms = CLS_RESYNC_MS, .ops = &cls_follow, .arg = cs };
	c->secrets = cs;
	secrets_set_remote(s, cls_write, cs);
	secrets_set_remote_rotate(s, cls_rotate, cs);
	cl_follow_start(&cs->f);
	return 0;
}

void
cl_secrets_stop(struct cluster *c)
{
	struct cl_secrets *cs = c->secrets;

	if (cs != NULL)
		cl_follow_stop(&cs->f);
}

void
cl_secrets_free(struct cluster *c)
{
	struct cl_secrets *cs = c->secrets;

	if (cs == NULL)
		return;
	cl_secrets_stop(c);
	free(cs->prefix);
	free(cs);
	c->secrets = NULL;
}
