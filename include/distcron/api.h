/*
 * api.h - the REST management API (libmicrohttpd, thread pool with epoll).
 *
 * The server owns HTTP: listening (optionally TLS), bearer-token auth on
 * every endpoint but GET /health, routing, request limits, name checks and
 * JSON error bodies.  It answers the run endpoints itself from the store
 * (read-only SQLite connections of its own), and asks the daemon for
 * everything else through struct api_backend.  Handlers run on the
 * server's threads and never block on the event loop for long: backend
 * calls are thread-safe and bounded (see api_backend).
 *
 * Endpoints (distcrond's paths keep working), all JSON unless noted:
 *   GET    /health                      {"status": "ok"} (no auth)
 *   GET    /                            {"links": {...}, "access": "full"
 *                                        or "read" (the token's access)}
 *   GET    /jobs?after=&limit=          {"jobs": [summary...], "next_after"}
 *   GET    /jobs/{name}                 {"name", "definition", "state"}
 *   GET    /jobs/{name}/reports?limit=&before=   {"reports": [report...]}
 *   PUT    /jobs/{name}                 201/200 {"name", "created"}
 *   DELETE /jobs/{name}                 200 {"name", "deleted": true}
 *   POST   /jobs/{name}/pause|resume    200 {"name", "paused"}
 *   POST   /jobs/{name}/run             202 {"id"}
 *   GET    /runs/{id}                   run (with items and output; an
 *                                        item executing now: its output so
 *                                        far and "live": true; a run not
 *                                        final: the runner's state of it
 *                                        and of its items, ahead of the
 *                                        store's, and "live": true)
 *   GET    /runs?job=&status=&since=&before=&limit=&output=1  {"runs": [run...]}
 *   DELETE /runs/{id}                   202 {"id", "cancelling": true}
 *   POST   /tasks                       202 {"id"}
 *   GET    /nodes                       {"nodes": [node...]}
 *   GET    /nodes/{name}                node
 *   GET    /monitor                     process and scheduler figures
 *   GET    /metrics                     Prometheus text format
 *   GET    /secrets                     {"secrets": [{"name", "updated"}]}
 *   PUT    /secrets/{name}              201/200 {"name", "created"} (body:
 *                                        the value, as is; never echoed)
 *   DELETE /secrets/{name}              200 {"name", "deleted": true}
 * A 200 to GET or HEAD carries ETag (etag.h: a hash of the body),
 * Cache-Control: no-cache and Vary: Authorization; If-None-Match with
 * that tag gets 304 without a body.  Others are Cache-Control: no-store.
 * Errors: {"error": "...", "field": "..."} with 400 (bad body or query),
 * 401 (token missing or wrong; WWW-Authenticate: Bearer), 403 (read-only
 * token on a write), 404, 405 (with Allow), 409 (conflict), 413 (body over
 * api_body_max), 422 (invalid job or task), 503 (daemon busy or stopping).
 */
#ifndef DISTCRON_API_H
#define DISTCRON_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distcron/config.h"

#define API_PAGE_MAX	1000	/* largest limit of a listing page */

struct api;
struct sockaddr;

/*
 * What the daemon provides.  Every function is called on a server thread,
 * must be thread-safe, and returns within a few seconds.  JSON results are
 * malloc'd NUL-terminated texts the server frees.  Errors: ERR_NOTFOUND
 * (404), ERR_INVALID with "field: reason" in err (422; the part before the
 * first ": " is reported as "field"), ERR_EXISTS (409), ERR_BUSY (503), or
 * another negative code (500, logged).
 */
struct api_backend {
	void *ctx;
	/* One page of jobs in name order: up to limit (1 to API_PAGE_MAX) jobs
	 * named after after (NULL: from the first).  {"jobs": [{"name",
	 *  "description", "enabled", "paused", "schedule", "timezone",
	 *  "next_run" (ISO 8601 or null), "running", "last_run": {"id",
	 *  "status", "ended"} or null, "source": the job's file, or
	 *  "etcd:KEY"}], "next_after": the last name when
	 *  more jobs follow (the next page's after), else null} */
	int (*jobs)(void *ctx, const char *after, int limit, char **json);
	/* {"name", "definition": the job file's JSON, "source", "state":
	 *  {"enabled", "paused", "next_run", "running", "run_count",
	 *  "last_run"}} */
	int (*job)(void *ctx, const char *name, char **json);
	/* Creates or replaces the job from the body (a job file's JSON):
	 * validated, written atomically into the jobs directory (cluster
	 * mode: stored in etcd), and scheduled before returning.  *created
	 * tells which.  ERR_EXISTS, ERR_CONNECT and ERR_TIMEOUT come with
	 * err saying why (409, 503). */
	int (*put_job)(void *ctx, const char *name, const char *body,
	    size_t len, bool *created, char *err, size_t errlen);
	/* Removes the job's file (cluster mode: its etcd key) and
	 * unschedules it; errors as put_job's. */
	int (*delete_job)(void *ctx, const char *name, char *err,
	    size_t errlen);
	/* Pauses (no scheduled runs; manual runs still allowed) or resumes;
	 * kept across restarts. */
	int (*pause)(void *ctx, const char *name, bool paused);
	/* Starts a run now (trigger "manual"); *id once the store has it. */
	int (*run_job)(void *ctx, const char *name, int64_t *id);
	/* An ad-hoc run: the body is a job without schedule ("command" or
	 * "http", "policy", "timeout", "environment", ...). */
	int (*run_task)(void *ctx, const char *body, size_t len, int64_t *id,
	    char *err, size_t errlen);
	/* Cancels a pending or running run (ERR_EXISTS if already final). */
	int (*cancel)(void *ctx, int64_t id);
	/* The output so far of a run's items executing now on this daemon:
	 *  {"items": [{"node", "attempt", "output", "stderr", "truncated"}]},
	 *  secrets masked as in the final output, and while the run is not
	 *  final the runner's record of it, which the store's lags behind:
	 *  "run": a run as GET /runs/{id} gives it (status, attempt,
	 *  started, ended, reason and items are shown over the stored ones,
	 *  with "live": true on the run).  ERR_NOTFOUND when the run is not
	 *  in flight here.  NULL: GET /runs/{id} shows none. */
	int (*run_live)(void *ctx, int64_t id, char **json);
	/* {"nodes": [{"name", "roles", "connection_type", "enabled",
	 *  "status": "up"|"down", "since", "last_error", "running"}]} */
	int (*nodes)(void *ctx, char **json);
	int (*node)(void *ctx, const char *name, char **json);
	/* {"uptime_s", "rss_bytes", "cpu_user_s", "cpu_system_s", "threads",
	 *  "jobs", "nodes", "runs_in_flight", "runs_running", "runs_waiting",
	 *  "store_queue", "output_memory_bytes", "output_spilled",
	 *  "output_cut"} */
	int (*monitor)(void *ctx, char **json);
	/* Prometheus text: the daemon's metric families (the server adds
	 * its own request counters). */
	int (*metrics)(void *ctx, char **text);
	/* 0 while the run store writes, else why it cannot (/health answers
	 * 503 with it).  Must not block. */
	int (*store_error)(void *ctx);
	/* The durable outbox's parked entries, oldest first: {"parked":
	 *  [{"id", "run_id", "job", "sink", "event", "attempts", "why"}]} */
	int (*outbox)(void *ctx, char **json);
	/* Re-queues parked entries: body {"id": N} or {"all": true};
	 * {"requeued": count}.  ERR_NOTFOUND (err: what was not found),
	 * ERR_INVALID (err: "field: reason"). */
	int (*outbox_retry)(void *ctx, const char *body, size_t len,
	    char **json, char *err, size_t errlen);
	/* Cluster mode (NULL: off).  0 while this member may launch, else
	 * why not in why (/health answers 503 with it).  Must not block. */
	int (*cluster_health)(void *ctx, char *why, size_t n);
	/* GET /cluster: {"member", "namespace", "lease_ok", "reason",
	 *  "lease_ttl_s", "claims", "members": [{"member", "host", "pid",
	 *  "started", "age_s", "version", "owned_jobs", "self"}],
	 *  "endpoints": [{"url", "current", "healthy"}]} */
	int (*cluster)(void *ctx, char **json);
	/* /health's "warnings" (the member runs its jobs, but something is
	 * wrong: job files differ between members): a new JSON array text
	 * of strings, or NULL when there are none (or no memory).  Must not
	 * block. */
	char *(*health_warnings)(void *ctx);
	/* The secrets (secrets.h) the /secrets endpoints read and write, or
	 * NULL: no secrets key (they answer 503 saying so). */
	struct secrets *secrets;
};

/*
 * Starts the server on cfg->listen with backend be (copied).  The token:
 * cfg->api_token, else the contents of STATE_DIR/api.token, else a new
 * random one written there (mode 0600; the log names the file, never the
 * token).  Returns 0, or ERR_CONFIG with err saying what (bad address,
 * port in use, unreadable TLS files).
 */
int api_new(const struct config *cfg, const struct api_backend *be,
    struct api **out, char *err, size_t errlen);

/*
 * api_new in two steps, for a daemon that switches users in between:
 * api_listen reads the TLS files and binds cfg->listen (what may need root:
 * a port below 1024, a key only root reads), starting no thread;
 * api_start then takes the token (reading or writing STATE_DIR/api.token
 * as the user it now is) and starts the server's threads on backend be
 * (copied).  Errors as api_new's; after a failed api_start the caller
 * still frees a with api_free.
 */
int api_listen(const struct config *cfg, struct api **out, char *err,
    size_t errlen);
int api_start(struct api *a, const struct config *cfg,
    const struct api_backend *be, char *err, size_t errlen);

/* Stops the server (waits for requests in progress).  Accepts NULL. */
void api_free(struct api *a);

/* The port actually bound (useful with port 0). */
int api_port(const struct api *a);

/*
 * True when sa (AF_INET or AF_INET6) is a loopback address: 127.0.0.0/8,
 * ::1 or ::ffff:127.x.y.z.  The server warns at start when it listens on
 * any other address (0.0.0.0 and :: included) without TLS.
 */
bool api_addr_loopback(const struct sockaddr *sa);

/*
 * Percent-decodes s, one path segment or query value, in place (the
 * decoding of every path segment and query value; exported for its
 * fuzzer tests/fuzz/fuzz_pct).  "%XX" (either case)
 * becomes that byte, everything else stays as it is ('+' too).  Returns
 * 0, -1 on a bad escape ("%", "%4", "%zz"; s is then unspecified), or 1
 * when s encodes a NUL byte (s is left "": no valid value).  Never writes
 * past the end of s.
 */
int api_pct_decode(char *s);

#endif
