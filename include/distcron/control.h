/*
 * control.h - the daemon's side of the REST API: a struct api_backend whose
 * functions run on the API server's threads and reach the runner on the
 * event loop.
 *
 * Each call copies its arguments into a request, posts it to the loop and
 * waits (at most CONTROL_WAIT_MS) for the loop to fill in the answer; a
 * request the loop has not answered in time is abandoned (ERR_BUSY) and
 * freed by whichever side lets go of it last, so nothing on the loop ever
 * points at a caller's stack.  Job files are validated and written on the
 * caller's thread (temp file + rename in the jobs directory), then a reload
 * is requested and awaited, so a job created through the API is scheduled
 * when the call returns and stays a file like any other.  In cluster mode
 * (control_set_cluster) a job is stored in etcd instead, through the
 * loop, and the call returns once etcd answered and the job is applied.
 */
#ifndef DISTCRON_CONTROL_H
#define DISTCRON_CONTROL_H

#include <json-c/json.h>

#include "distcron/api.h"
#include "distcron/config.h"
#include "distcron/loop.h"
#include "distcron/runner.h"
#include "distcron/store.h"
#include "distcron/tz.h"

#define CONTROL_WAIT_MS	10000

struct control;

/* Asks the daemon to reload the definitions (job: the one job whose file
 * changed; NULL: any file may have) and calls done(arg) on the loop once a
 * load that started after this call has been applied. */
typedef void (*control_reload_fn)(void *ctx, const char *job, loop_fn done,
    void *arg);

/* Creates the backend.  All pointers must outlive it.  Returns 0 or
 * -ENOMEM. */
int control_new(const struct config *cfg, const struct tz *zone,
    struct loop *loop, struct runner *runner, struct store *st,
    control_reload_fn reload, void *reload_ctx, struct control **out);

struct buf;

/*
 * The durable outbox as the API shows it (outbox.h is in the report
 * group, which this one cannot include: the daemon hands its functions
 * over).  Called on API threads; each may block briefly on the outbox's
 * store connection, never on a sink.
 */
struct control_outbox_ops {
	/* Adds GET /monitor's "outbox" member to o. */
	void (*monitor)(void *arg, json_object *o);
	/* Appends the distcron_outbox_* families to /metrics' text. */
	void (*metrics)(void *arg, struct buf *b);
	/* GET /outbox (api.h: struct api_backend, outbox). */
	int (*list)(void *arg, char **json);
	/* Re-queues parked entry id (0: all); *n receives the count.
	 * Returns 0, ERR_NOTFOUND (id is not parked) or an error. */
	int (*retry)(void *arg, int64_t id, size_t *n);
};

/* Puts the outbox's functions (ops and arg outlive c) behind /monitor's
 * "outbox", /metrics and /outbox.  Without: "outbox" is {}, GET /outbox
 * lists nothing, a retry finds nothing (POST /outbox/retry's body is
 * checked here either way). */
void control_set_outbox(struct control *c, const struct control_outbox_ops *ops,
    void *arg);

/*
 * Cluster mode as the API shows it (cluster.h is in the cluster group,
 * which the API does not include: the daemon hands its functions over).
 * Called on API threads; none blocks.
 */
struct control_cluster_ops {
	/* 0 while the member may launch, else an error and why (/health). */
	int (*health)(void *arg, char *why, size_t n);
	/* Adds GET /monitor's "cluster" member to o. */
	void (*monitor)(void *arg, json_object *o);
	/* Appends the distcron_cluster_* families to /metrics' text. */
	void (*metrics)(void *arg, struct buf *b);
	/* /health's warnings: a new JSON array text, NULL when none. */
	char *(*warnings)(void *arg);
	/* GET /cluster: a new JSON text, NULL without memory. */
	char *(*status)(void *arg);
	/* Jobs stored in etcd (PUT and DELETE /jobs/NAME in cluster mode).
	 * On the loop thread: stores text (len bytes; NULL: deletes the
	 * job) and calls done(done_arg, rc, created, err) on the loop once
	 * etcd answered and the change is applied (cluster.h,
	 * cluster_job_write); returns 0 or an error (done not called). */
	int (*job_write)(void *arg, const char *name, const char *text,
	    size_t len, void (*done)(void *done_arg, int rc, bool created,
	    const char *err), void *done_arg);
	/* Thread-safe: a copy of the JSON stored for an etcd job, or NULL. */
	char *(*job_text)(void *arg, const char *name);
};

/* Puts cluster mode's functions (ops and arg outlive c) behind /health,
 * /monitor, /metrics and GET /cluster; call before control_backend.
 * Without: no "cluster" in /monitor, GET /cluster answers 501. */
void control_set_cluster(struct control *c,
    const struct control_cluster_ops *ops, void *arg);

/* Fills be with the backend's functions. */
void control_backend(struct control *c, struct api_backend *be);

/* From now on every call answers ERR_BUSY (the daemon is stopping).  c may
 * be NULL (a daemon that stops before its API started). */
void control_close(struct control *c);

/* Frees the backend (after the API server is gone).  Accepts NULL. */
void control_free(struct control *c);

#endif
