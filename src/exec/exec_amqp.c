/*
 * exec_amqp.c - the AMQP executor: publishes a job's message (or HACron's
 * tick) with publisher confirms, off the event loop.
 *
 * librabbitmq (amqpc.h) blocks, so each broker connection ("conn": one
 * URL and CA file) has a thread that publishes the messages queued for it,
 * one at a time, and keeps the connection open between runs.  The loop
 * side keeps the runs ("procs") and their timers; it hands a copy of each
 * message (a "pub") to its conn's queue under the publisher's mutex, and
 * the thread puts the pub, with its result, on the done list and writes
 * the eventfd the loop watches.  A pub names its run by id, not by
 * pointer: a run that timed out or was cancelled is gone when its pub
 * comes back, and the result is then dropped.
 *
 * Before each publish the thread checks its idle connection (amqpc_dead():
 * a broker that restarted closed it) and opens it again if needed, so the
 * first run after a broker restart succeeds; a run whose publish fails on
 * a dead connection is not published twice.  At most EXEC_AMQP_CONNS_MAX
 * conns exist: a new URL closes an idle conn to make room, or fails its
 * run when every conn is busy.
 *
 * The tick body is built here too: HACron's fields for the run's tick, in
 * the job's zone.
 *
 * Credentials given apart from the URL (the job's amqp.username and
 * amqp.password, the latter opened from a secret by the run's start, or
 * the config's, a secret opened here) are percent-encoded into the URL
 * the conn is keyed by, so that a changed password opens a new
 * connection at the next run; that URL is wiped when freed and messages
 * show the URL as written, stripped.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "distcron/amqpc.h"
#include "distcron/config.h"
#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/exec_amqp.h"
#include "distcron/jfield.h"
#include "distcron/log.h"
#include "distcron/secbox.h"
#include "distcron/tz.h"
#include "distcron/url.h"

#define TICK_JSON_MAX	1024
#define OUT_MAX		(TICK_JSON_MAX + 512)

struct conn;

/* One message on its way to the broker, owned by its conn's thread while
 * queued or publishing, then by the loop. */
struct pub {
	struct pub *next;
	uint64_t id;			/* the run's */
	char *exchange, *routing_key, *body, **headers;
	bool persistent, tick;
	int64_t deadline;		/* loop_mono_ms() */
	int rc;				/* the result */
	char why[AMQPC_WHY_MAX];
};

struct conn {
	struct exec_amqp *a;
	struct conn *next;
	char *url, *ca_file;
	pthread_t th;
	struct pub *head, *tail;	/* queued */
	bool busy, stop;
	struct amqpc *c;		/* the thread's */
};

struct exec_amqp {
	struct loop *loop;
	char *url, *ca_file;		/* the defaults */
	const struct config_amqp *creds;	/* the config's user and
						 * password, or NULL */
	int (*value)(void *, const char *, char **);	/* opens a secret */
	void *value_arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn *conns, *dying;	/* dying: stopping, joined at free */
	size_t nconns;
	struct pub *done;		/* results for the loop */
	int efd;
	struct loop_watch *w;
	struct exec_proc *procs;
	uint64_t next_id;
};

struct exec_proc {
	struct exec_amqp *a;
	struct exec_proc *next;
	uint64_t id;
	exec_done_fn done;
	void *arg;
	char fields[256];
	char *shown;			/* the URL without credentials */
	int64_t timeout_ms;
	struct loop_timer *t_timeout, *t_finish;
	struct exec_result *res;
};

/* ---- the tick ---- */

/* "+02:00" of an offset in seconds. */
static void
offset_text(long off, char *out, size_t n)
{
	char sign = off < 0 ? '-' : '+';

	if (off < 0)
		off = -off;
	off %= 100 * 3600;	/* offsets are within a day */
	snprintf(out, n, "%c%02d:%02d", sign, (int)(off / 3600),
	    (int)(off / 60 % 60));
}

int
exec_amqp_tick_json(const char *job, int64_t t, const struct tz *zone,
    struct buf *b)
{
	json_object *o;
	struct tm tm;
	char iso[64], off[16], id[300];
	int r;

	tz_localtime(zone, t, &tm);
	if ((r = tz_format_iso8601(zone, t, iso, sizeof(iso))) != 0)
		return r;
	offset_text(tm.tm_gmtoff, off, sizeof(off));
	snprintf(id, sizeof(id), "%s@%lld", job, (long long)t);
	if ((o = json_object_new_object()) == NULL)
		return -ENOMEM;
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "minute", json_object_new_int(tm.tm_min));
	json_object_object_add(o, "hour", json_object_new_int(tm.tm_hour));
	json_object_object_add(o, "day_of_month",
	    json_object_new_int(tm.tm_mday));
	json_object_object_add(o, "day_of_week",
	    json_object_new_int(tm.tm_wday));
	json_object_object_add(o, "month", json_object_new_int(tm.tm_mon + 1));
	json_object_object_add(o, "year",
	    json_object_new_int(tm.tm_year + 1900));
	json_object_object_add(o, "iso", json_object_new_string(iso));
	json_object_object_add(o, "timestamp",
	    json_object_new_int64(t * 1000));
	json_object_object_add(o, "timezone_offset",
	    json_object_new_string(off));
	r = buf_puts(b, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return r;
}

/* ---- pubs ---- */

static void
pub_free(struct pub *p)
{
	if (p == NULL)
		return;
	free(p->exchange);
	free(p->routing_key);
	free(p->body);
	jfield_strv_free(p->headers);
	free(p);
}

static char **
strv_dup(char *const *v)
{
	size_t i, n = 0;
	char **out;

	while (v != NULL && v[n] != NULL)
		n++;
	if ((out = calloc(n + 1, sizeof(char *))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((out[i] = strdup(v[i])) == NULL) {
			jfield_strv_free(out);
			return NULL;
		}
	return out;
}

/* The body: the job's, or the tick of the run's scheduled time. */
static char *
body_of(const struct exec_spec *spec)
{
	struct buf b;
	char *s;

	if (!spec->amqp->tick)
		return strdup(spec->amqp->body != NULL ? spec->amqp->body : "");
	buf_init(&b, TICK_JSON_MAX);
	if (exec_amqp_tick_json(spec->job, spec->scheduled_at, spec->zone,
	    &b) != 0) {
		buf_free(&b);
		return NULL;
	}
	s = buf_steal(&b, NULL);
	buf_free(&b);
	return s;
}

static struct pub *
pub_new(const struct exec_spec *spec, uint64_t id, int64_t timeout_ms)
{
	const struct job_amqp *j = spec->amqp;
	struct pub *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->id = id;
	p->persistent = j->persistent;
	p->tick = j->tick;
	p->deadline = loop_mono_ms() + timeout_ms;
	p->exchange = strdup(j->exchange != NULL ? j->exchange : "");
	p->routing_key = strdup(j->routing_key != NULL ? j->routing_key : "");
	p->body = body_of(spec);
	p->headers = strv_dup(j->headers);
	if (p->exchange == NULL || p->routing_key == NULL || p->body == NULL ||
	    p->headers == NULL) {
		pub_free(p);
		return NULL;
	}
	return p;
}

/* ---- a conn's thread ---- */

/* Publishes p on k's connection, opening it first if needed. */
static void
conn_publish(struct conn *k, struct pub *p)
{
	struct amqpc_msg m = { .exchange = p->exchange,
	    .routing_key = p->routing_key, .body = p->body,
	    .body_len = strlen(p->body), .headers = p->headers,
	    .persistent = p->persistent,
	    .content_type = p->tick ? "application/json" : NULL };
	int64_t left = p->deadline - loop_mono_ms();

	if (left <= 0) {
		p->rc = ERR_TIMEOUT;
		snprintf(p->why, sizeof(p->why), "timed out before publishing "
		    "(waiting for earlier messages to the same broker)");
		return;
	}
	if (k->c != NULL && amqpc_dead(k->c)) {
		amqpc_close(k->c);
		k->c = NULL;
	}
	if (k->c == NULL && (p->rc = amqpc_open(k->url, k->ca_file, left,
	    &k->c, p->why, sizeof(p->why))) != 0)
		return;
	p->rc = amqpc_publish(k->c, &m, p->deadline - loop_mono_ms(), p->why,
	    sizeof(p->why));
}

/* Hands p back to the loop. */
static void
conn_done(struct conn *k, struct pub *p)
{
	struct exec_amqp *a = k->a;
	uint64_t one = 1;
	struct pub **pp;

	pthread_mutex_lock(&a->mu);
	for (pp = &a->done; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	k->busy = false;
	pthread_mutex_unlock(&a->mu);
	if (write(a->efd, &one, sizeof(one)) < 0)
		log_error("exec_amqp: cannot wake the loop: %s",
		    strerror(errno));
}

static void *
conn_main(void *arg)
{
	struct conn *k = arg;
	struct exec_amqp *a = k->a;
	struct pub *p;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (!k->stop && k->head == NULL)
			pthread_cond_wait(&a->cv, &a->mu);
		if (k->stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		p = k->head;
		if ((k->head = p->next) == NULL)
			k->tail = NULL;
		p->next = NULL;
		k->busy = true;
		pthread_mutex_unlock(&a->mu);
		conn_publish(k, p);
		conn_done(k, p);
	}
	amqpc_close(k->c);
	k->c = NULL;
	return NULL;
}

/* ---- conns (under a->mu) ---- */

static bool
same(const char *x, const char *y)
{
	return (x == NULL && y == NULL) ||
	    (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static void
conn_free(struct conn *k)
{
	struct pub *p;

	while ((p = k->head) != NULL) {
		k->head = p->next;
		pub_free(p);
	}
	if (k->url != NULL)
		explicit_bzero(k->url, strlen(k->url));
	free(k->url);
	free(k->ca_file);
	free(k);
}

/* Frees the dying conns whose thread has ended (a closed connection). */
static void
dying_reap(struct exec_amqp *a)
{
	struct conn **kp = &a->dying, *k;

	while ((k = *kp) != NULL)
		if (pthread_tryjoin_np(k->th, NULL) == 0) {
			*kp = k->next;
			conn_free(k);
		} else
			kp = &k->next;
}

/* Stops an idle conn to make room: it moves to the dying list. */
static bool
conn_evict(struct exec_amqp *a)
{
	struct conn **kp, *k;

	dying_reap(a);

	for (kp = &a->conns; (k = *kp) != NULL; kp = &k->next)
		if (!k->busy && k->head == NULL)
			break;
	if (k == NULL)
		return false;
	*kp = k->next;
	k->stop = true;
	k->next = a->dying;
	a->dying = k;
	a->nconns--;
	pthread_cond_broadcast(&a->cv);
	return true;
}

/* Starts a conn's thread with the signals blocked (the loop takes them). */
static int
conn_start(struct conn *k)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&k->th, NULL, conn_main, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

/* The conn of url and ca_file, made if needed.  Returns 0, ERR_BUSY (every
 * conn busy at the cap) or a negative error. */
static int
conn_get(struct exec_amqp *a, const char *url, const char *ca_file,
    struct conn **out)
{
	struct conn *k;
	int r;

	for (k = a->conns; k != NULL; k = k->next)
		if (strcmp(k->url, url) == 0 && same(k->ca_file, ca_file)) {
			*out = k;
			return 0;
		}
	if (a->nconns >= EXEC_AMQP_CONNS_MAX && !conn_evict(a))
		return ERR_BUSY;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->url = strdup(url)) == NULL ||
	    (ca_file != NULL && (k->ca_file = strdup(ca_file)) == NULL)) {
		if (k != NULL)
			conn_free(k);
		return -ENOMEM;
	}
	k->a = a;
	if ((r = conn_start(k)) != 0) {
		conn_free(k);
		return r;
	}
	k->next = a->conns;
	a->conns = k;
	a->nconns++;
	*out = k;
	return 0;
}

/* Queues p on the conn of url.  Returns 0 or an error (p not queued). */
static int
pub_queue(struct exec_amqp *a, const char *url, const char *ca_file,
    struct pub *p)
{
	struct conn *k = NULL;
	int r;

	pthread_mutex_lock(&a->mu);
	if ((r = conn_get(a, url, ca_file, &k)) == 0) {
		if (k->tail != NULL)
			k->tail->next = p;
		else
			k->head = p;
		k->tail = p;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

/* ---- runs (loop thread) ---- */

/* Takes p off the publisher's list of runs (a short one: the runs
 * publishing at once). */
static void
proc_unlink(struct exec_proc *p)
{
	struct exec_proc **pp;

	for (pp = &p->a->procs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->next = NULL;
}

static void
proc_free(struct exec_proc *p)
{
	loop_timer_del(p->t_timeout);
	loop_timer_del(p->t_finish);
	exec_result_free(p->res);
	free(p->shown);
	free(p);
}

/* Ends the run: out and err are set from text (may be NULL). */
static void
finish(struct exec_proc *p, enum exec_outcome o, const char *out)
{
	struct exec_result *res = p->res;

	proc_unlink(p);
	res->outcome = o;
	res->ok = o == EXEC_EXITED && res->error[0] == '\0';
	res->exit_code = res->ok ? 0 : -1;
	res->out = strdup(out != NULL ? out : "");
	res->err = strdup("");
	if (res->out == NULL || res->err == NULL) {
		free(res->out);
		free(res->err);
		res->out = res->err = NULL;
		res->ok = false;
		res->outcome = EXEC_FAILED;
		snprintf(res->error, sizeof(res->error), "out of memory");
	}
	res->out_len = res->out != NULL ? strlen(res->out) : 0;
	res->out_total = res->out_len;
	res->ended_ms = loop_real_ms();
	p->res = NULL;
	p->done(res, p->arg);
	proc_free(p);
}

static struct exec_proc *
proc_find(struct exec_amqp *a, uint64_t id)
{
	struct exec_proc *p;

	for (p = a->procs; p != NULL; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* "published to exchange "x" with routing key "k" (N bytes), confirmed by
 * amqp://host:5672/" and, for a tick, its JSON. */
static void
pub_finish(struct exec_proc *p, struct pub *b)
{
	struct buf out;

	if (b->rc != 0) {
		snprintf(p->res->error, sizeof(p->res->error), "%s", b->why);
		log_warn("exec_amqp: %s %s", b->why, p->fields);
		finish(p, EXEC_FAILED, NULL);
		return;
	}
	buf_init(&out, OUT_MAX);
	(void)buf_printf(&out, "published to exchange \"%.100s\" with routing "
	    "key \"%.100s\" (%zu bytes), confirmed by %.200s\n", b->exchange,
	    b->routing_key, strlen(b->body), p->shown);
	if (b->tick)
		(void)buf_printf(&out, "%s\n", b->body);
	finish(p, EXEC_EXITED, buf_str(&out));
	buf_free(&out);
}

/* The eventfd: results of the threads. */
static void
on_results(int fd, uint32_t events, void *arg)
{
	struct exec_amqp *a = arg;
	struct exec_proc *p;
	struct pub *list, *b;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_error("exec_amqp: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&a->mu);
	list = a->done;
	a->done = NULL;
	pthread_mutex_unlock(&a->mu);
	while ((b = list) != NULL) {
		list = b->next;
		if ((p = proc_find(a, b->id)) != NULL)
			pub_finish(p, b);
		pub_free(b);
	}
}

static void
on_timeout(void *arg)
{
	struct exec_proc *p = arg;

	p->t_timeout = NULL;
	exec_timed_out(p->res, p->shown, p->timeout_ms);
	finish(p, EXEC_TIMEOUT, NULL);
}

static void
on_cancel(void *arg)
{
	struct exec_proc *p = arg;

	p->t_finish = NULL;
	finish(p, p->res->error[0] != '\0' ? EXEC_FAILED : EXEC_CANCELLED,
	    NULL);
}

/* ---- the publisher ---- */

int
exec_amqp_new(struct loop *loop, const char *url, const char *ca_file,
    struct exec_amqp **out)
{
	struct exec_amqp *a;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->loop = loop;
	a->efd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if ((url != NULL && (a->url = strdup(url)) == NULL) ||
	    (ca_file != NULL && (a->ca_file = strdup(ca_file)) == NULL))
		r = -ENOMEM;
	else if ((a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		r = -errno;
	else
		r = loop_watch_add(loop, a->efd, EPOLLIN, on_results, a,
		    &a->w);
	if (r != 0) {
		exec_amqp_free(a);
		return r;
	}
	*out = a;
	return 0;
}

/* Stops and joins the threads of list. */
static void
conns_join(struct exec_amqp *a, struct conn *list)
{
	struct conn *k;

	pthread_mutex_lock(&a->mu);
	for (k = list; k != NULL; k = k->next)
		k->stop = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	while ((k = list) != NULL) {
		list = k->next;
		pthread_join(k->th, NULL);
		conn_free(k);
	}
}

void
exec_amqp_free(struct exec_amqp *a)
{
	struct pub *b;

	if (a == NULL)
		return;
	conns_join(a, a->conns);
	conns_join(a, a->dying);
	while (a->procs != NULL) {
		struct exec_proc *p = a->procs;

		proc_unlink(p);
		proc_free(p);
	}
	while ((b = a->done) != NULL) {
		a->done = b->next;
		pub_free(b);
	}
	loop_watch_del(a->w);
	if (a->efd >= 0)
		close(a->efd);
	if (a->url != NULL)
		explicit_bzero(a->url, strlen(a->url));
	free(a->url);
	free(a->ca_file);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* ---- the executor ---- */

static int
proc_new(struct exec_amqp *a, const struct exec_spec *spec, const char *url,
    exec_done_fn done, void *arg, struct exec_proc **out)
{
	struct exec_proc *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->a = a;
	p->id = ++a->next_id;
	p->done = done;
	p->arg = arg;
	p->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms :
	    EXEC_AMQP_TIMEOUT_MS;
	snprintf(p->fields, sizeof(p->fields), "%s",
	    spec->log_fields != NULL ? spec->log_fields : "");
	if ((p->res = calloc(1, sizeof(*p->res))) == NULL ||
	    (p->shown = url_stripped(url != NULL ? url : "")) == NULL) {
		proc_free(p);
		return -ENOMEM;
	}
	p->res->started_ms = loop_real_ms();
	*out = p;
	return 0;
}

/* Queues the message; on a failure the run's error says why. */
static void
proc_launch(struct exec_proc *p, const struct exec_spec *spec,
    const char *url, const char *ca_file)
{
	struct pub *b;
	int r;

	if (url == NULL) {
		snprintf(p->res->error, sizeof(p->res->error), "amqp.url: not "
		    "set in the job nor in the config's amqp section");
		return;
	}
	if ((b = pub_new(spec, p->id, p->timeout_ms)) == NULL) {
		snprintf(p->res->error, sizeof(p->res->error),
		    "out of memory");
		return;
	}
	if ((r = pub_queue(p->a, url, ca_file, b)) != 0) {
		pub_free(b);
		if (r == ERR_BUSY)
			snprintf(p->res->error, sizeof(p->res->error), "%s: "
			    "the %d connections to AMQP brokers are all busy",
			    p->shown, EXEC_AMQP_CONNS_MAX);
		else
			snprintf(p->res->error, sizeof(p->res->error), "%s: %s",
			    p->shown, err_str(r));
	}
}

void
exec_amqp_set_creds(struct exec_amqp *a, const struct config_amqp *q,
    int (*value)(void *, const char *, char **), void *arg)
{
	a->creds = q;
	a->value = value;
	a->value_arg = arg;
}

/* The config's password (opened when it is a secret) into *pw (wipe and
 * free it), or NULL when it gives none; err says what failed. */
static int
default_password(struct exec_amqp *a, char **pw, char *err, size_t errlen)
{
	const struct config_amqp *q = a->creds;
	int r;

	*pw = NULL;
	if (q == NULL || (q->password == NULL && q->password_secret == NULL))
		return 0;
	if (q->password_secret == NULL)
		return (*pw = strdup(q->password)) == NULL ? -ENOMEM : 0;
	r = a->value != NULL ? a->value(a->value_arg, q->password_secret, pw) :
	    ERR_CONFIG;
	if (r != 0)
		snprintf(err, errlen, "the config's amqp.password: secret "
		    "\"%s\" %s", q->password_secret, r == ERR_NOTFOUND ?
		    "not found" : r == ERR_CONFIG ? "cannot be read: no "
		    "secrets key" : "cannot be opened");
	return r;
}

/* The URL the run connects to (*made: a new one to wipe and free, or
 * NULL when it is url itself): with the job's password, else, for the
 * config's URL, the config's. */
static int
run_url(struct exec_amqp *a, const char *url, const struct job_amqp *j,
    char **made, char *err, size_t errlen)
{
	char *pw = NULL;
	int r;

	*made = NULL;
	if (url == NULL)
		return 0;
	if (j->password != NULL)
		return (*made = amqpc_creds_url(url, j->username,
		    j->password)) == NULL ? -ENOMEM : 0;
	if (j->url != NULL ||
	    (r = default_password(a, &pw, err, errlen)) != 0 || pw == NULL)
		return j->url != NULL ? 0 : r;
	*made = amqpc_creds_url(url, a->creds->username, pw);
	secbox_value_free(pw);
	return *made == NULL ? -ENOMEM : 0;
}

static int
amqp_start(struct loop *loop, const struct exec_spec *spec,
    exec_done_fn done, void *arg, struct exec_proc **out)
{
	struct exec_amqp *a = spec->ctx;
	const struct job_amqp *j = spec->amqp;
	const char *url, *ca_file;
	struct exec_proc *p = NULL;
	char *made = NULL;
	int r;

	if (a == NULL || a->loop != loop || j == NULL || (j->tick &&
	    (spec->job == NULL || spec->zone == NULL)))
		return ERR_INVALID;
	url = j->url != NULL ? j->url : a->url;
	ca_file = j->url != NULL ? j->ca_file : j->ca_file != NULL ?
	    j->ca_file : a->ca_file;
	if ((r = proc_new(a, spec, url, done, arg, &p)) != 0)
		return r;
	p->next = a->procs;
	a->procs = p;
	if ((r = run_url(a, url, j, &made, p->res->error,
	    sizeof(p->res->error))) != 0) {
		if (r == -ENOMEM)
			snprintf(p->res->error, sizeof(p->res->error),
			    "out of memory");
	} else
		proc_launch(p, spec, made != NULL ? made : url, ca_file);
	if (made != NULL) {
		explicit_bzero(made, strlen(made));
		free(made);
	}
	if ((r = exec_arm(loop, p, p->res->error[0] != '\0', on_cancel,
	    &p->t_finish, p->timeout_ms, on_timeout, &p->t_timeout)) != 0) {
		proc_unlink(p);
		proc_free(p);
	} else
		*out = p;
	return r;
}

/* Called from inside done() or twice, this is a no-op. */
static void
amqp_cancel(struct exec_proc *p)
{
	if (p == NULL || p->res == NULL || p->t_finish != NULL)
		return;
	loop_timer_del(p->t_timeout);
	p->t_timeout = NULL;
	if (loop_timer_add(p->a->loop, loop_mono_ms(), on_cancel, p,
	    &p->t_finish) != 0)
		finish(p, EXEC_CANCELLED, NULL);
}

const struct exec_ops exec_amqp_ops = {
	.name = "amqp",
	.start = amqp_start,
	.cancel = amqp_cancel,
};
