/*
 * api.c - the REST management API on libmicrohttpd.
 *
 * The server binds its own listening socket (so a failure to bind says
 * why) and hands it to libmicrohttpd, which runs a pool of api_threads
 * threads, each with its own epoll loop.  Against floods: one client
 * address holds at most api_conn_per_ip connections (the library closes
 * the others as it accepts them), all together at most conn_limit(), and
 * a connection idle for CONN_TIMEOUT_S is closed.  The library has only
 * that idle timeout, which a client trickling a byte at a time resets, so
 * the per-address cap is what keeps a slow client from locking others out.
 * A request goes through
 * on_request() three ways: when a body is announced, the first call
 * (headers complete) checks everything that does not need the body -
 * bearer token, route, method, read-only access, path names and ids,
 * Content-Length - and answers at once on failure, before the body is
 * read; the next calls collect the body into a capped buffer; the last
 * call makes the checks for requests without a body (so that an error
 * answer keeps the connection alive) and runs the route's handler.  Paths are matched raw (the
 * library's unescaping is switched off) and each segment is percent-
 * decoded on its own, so "%2F" or "%00" can never change how a path
 * splits; query values are decoded the same way.
 *
 * Handlers answer the run endpoints from the store, through a read-only
 * connection per server thread (opened on first use, closed by
 * api_free()), and pass everything else to struct api_backend, whose
 * result codes are mapped to statuses here.  libmicrohttpd's types and
 * codes stay inside this file.  Tokens are compared in constant time over
 * a fixed length and never logged.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "distcron/api.h"
#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/etag.h"
#include "distcron/fileio.h"
#include "distcron/jfield.h"
#include "distcron/jsontext.h"
#include "distcron/log.h"
#include "distcron/runjson.h"
#include "distcron/secrets.h"
#include "distcron/store.h"
#include "distcron/tz.h"
#include "distcron/ui.h"

#define TOKEN_MAX	256		/* longest accepted token */
#define TOKEN_RANDOM	32		/* bytes of a generated token */
#define TOKEN_FILE	"api.token"
#define STORE_FILE	"distcron.db"
#define PEM_MAX		(1024 * 1024)
#define CONN_LIMIT	1000	/* all clients together; see conn_limit() */
#define CONN_FD_SHARE	2	/* ... at most 1/2 of RLIMIT_NOFILE */
#define CONN_TIMEOUT_S	10	/* idle: a head or body stalled this long */
#define DRAIN_MAX	(64 * 1024 * 1024) /* chunked bytes read past the cap */
#define NSEG_MAX	3		/* /jobs/{name}/reports */
#define QUERY_MAX	256		/* longest query value */
#define LIMIT_MAX	API_PAGE_MAX
#define RUNS_DEFAULT	100
#define JOBS_DEFAULT	100
#define REPORTS_DEFAULT	20
#define METRICS_MAX	(16 * 1024 * 1024)
#define BERR_MAX	512		/* backend error messages */

#define CT_JSON		"application/json"
#define CT_METRICS	"text/plain; version=0.0.4"

/* Statuses with their own request counter; others count as "other". */
static const unsigned counted[] = {
	200, 201, 202, 304, 400, 401, 403, 404, 405, 409, 413, 422, 500, 501, 503,
};
#define NCOUNTED	(sizeof(counted) / sizeof(counted[0]))

/* A secret padded with zeros to a fixed size, for constant-time checks. */
struct secret {
	unsigned char pad[TOKEN_MAX];
	size_t len;			/* 0: unset */
};

/* A read-only store connection of one server thread. */
struct api_store {
	struct store *st;
	struct api_store *next;
};

struct api {
	struct MHD_Daemon *mhd;
	struct api_backend be;
	struct secret token;
	struct secret read_token;
	char *db_path;
	const struct tz *zone;
	size_t body_max;
	int port;
	int listen_fd;		/* api_listen's socket until server_start; -1 */
	bool loopback;		/* listen_fd is bound to a loopback address */
	char *cert_pem;		/* kept while the server runs */
	char *key_pem;
	size_t key_len;
	pthread_key_t store_key;
	bool key_made;
	pthread_mutex_t stores_lock;
	struct api_store *stores;
	uint64_t requests[NCOUNTED + 1];	/* atomic */
	int nice;		/* of the server threads */
};

enum access { ACC_NONE, ACC_READ, ACC_FULL };

struct req;
typedef enum MHD_Result (*handler_fn)(struct req *);

/* A path pattern: literal segments, "*" (a job or node name) and "#" (a
 * run id), and the handler of each method. */
struct route {
	const char *seg[NSEG_MAX];
	size_t nseg;
	const char *kind;	/* what "*" names: "job", "node" */
	handler_fn get, put, post, del;
	const char *allow;
};

struct req {
	struct api *a;
	struct MHD_Connection *conn;
	const char *method;
	const struct route *route;
	handler_fn fn;
	char *seg[NSEG_MAX];	/* decoded path segments */
	size_t nseg;
	int64_t id;		/* the "#" segment */
	struct buf body;
	size_t dropped;		/* chunked body bytes read past the cap */
	bool too_big;
	enum access acc;	/* what the token grants */
	bool checked;		/* req_check() has run */
	bool answered;
};

static enum MHD_Result h_root(struct req *);
static enum MHD_Result h_health(struct req *);
static enum MHD_Result h_jobs(struct req *);
static enum MHD_Result h_job(struct req *);
static enum MHD_Result h_job_put(struct req *);
static enum MHD_Result h_job_delete(struct req *);
static enum MHD_Result h_reports(struct req *);
static enum MHD_Result h_pause(struct req *);
static enum MHD_Result h_resume(struct req *);
static enum MHD_Result h_run_job(struct req *);
static enum MHD_Result h_runs(struct req *);
static enum MHD_Result h_run(struct req *);
static enum MHD_Result h_cancel(struct req *);
static enum MHD_Result h_tasks(struct req *);
static enum MHD_Result h_nodes(struct req *);
static enum MHD_Result h_node(struct req *);
static enum MHD_Result h_monitor(struct req *);
static enum MHD_Result h_metrics(struct req *);
static enum MHD_Result h_outbox(struct req *);
static enum MHD_Result h_outbox_retry(struct req *);
static enum MHD_Result h_cluster(struct req *);
static enum MHD_Result h_secrets(struct req *);
static enum MHD_Result h_secret_put(struct req *);
static enum MHD_Result h_secret_delete(struct req *);
static enum MHD_Result h_secret_post(struct req *);

#define GET_ONLY	"GET, HEAD"
#define POST_ONLY	"POST"

static const struct route routes[] = {
	{ { NULL }, 0, NULL, h_root, NULL, NULL, NULL, GET_ONLY },
	{ { "health" }, 1, NULL, h_health, NULL, NULL, NULL, GET_ONLY },
	{ { "jobs" }, 1, NULL, h_jobs, NULL, NULL, NULL, GET_ONLY },
	{ { "jobs", "*" }, 2, "job", h_job, h_job_put, NULL, h_job_delete,
	  "GET, HEAD, PUT, DELETE" },
	{ { "jobs", "*", "reports" }, 3, "job", h_reports, NULL, NULL, NULL,
	  GET_ONLY },
	{ { "jobs", "*", "pause" }, 3, "job", NULL, NULL, h_pause, NULL,
	  POST_ONLY },
	{ { "jobs", "*", "resume" }, 3, "job", NULL, NULL, h_resume, NULL,
	  POST_ONLY },
	{ { "jobs", "*", "run" }, 3, "job", NULL, NULL, h_run_job, NULL,
	  POST_ONLY },
	{ { "runs" }, 1, NULL, h_runs, NULL, NULL, NULL, GET_ONLY },
	{ { "runs", "#" }, 2, NULL, h_run, NULL, NULL, h_cancel,
	  "GET, HEAD, DELETE" },
	{ { "tasks" }, 1, NULL, NULL, NULL, h_tasks, NULL, POST_ONLY },
	{ { "nodes" }, 1, NULL, h_nodes, NULL, NULL, NULL, GET_ONLY },
	{ { "nodes", "*" }, 2, "node", h_node, NULL, NULL, NULL, GET_ONLY },
	{ { "monitor" }, 1, NULL, h_monitor, NULL, NULL, NULL, GET_ONLY },
	{ { "metrics" }, 1, NULL, h_metrics, NULL, NULL, NULL, GET_ONLY },
	{ { "outbox" }, 1, NULL, h_outbox, NULL, NULL, NULL, GET_ONLY },
	{ { "outbox", "retry" }, 2, NULL, NULL, NULL, h_outbox_retry, NULL,
	  POST_ONLY },
	{ { "cluster" }, 1, NULL, h_cluster, NULL, NULL, NULL, GET_ONLY },
	{ { "secrets" }, 1, NULL, h_secrets, NULL, NULL, NULL, GET_ONLY },
	{ { "secrets", "*" }, 2, "secret", NULL, h_secret_put, h_secret_post,
	  h_secret_delete, "PUT, POST, DELETE" },
};
#define NROUTES		(sizeof(routes) / sizeof(routes[0]))

/* ---- responses ---- */

static void
count_status(struct api *a, unsigned status)
{
	size_t i;

	for (i = 0; i < NCOUNTED && counted[i] != status; i++)
		;
	__atomic_fetch_add(&a->requests[i], 1, __ATOMIC_RELAXED);
}

static bool method_reads(const struct req *r);

/*
 * A 200 to GET or HEAD gets the ETag of its body; when the request's
 * If-None-Match matches it, the body is dropped (text becomes "") and the
 * status turns 304.  Returns the ETag's status: 0 (no tag), or 200/304.
 */
static unsigned
reply_etag(struct req *r, unsigned status, char **text, char tag[ETAG_LEN])
{
	char *empty;

	if (status != 200 || !method_reads(r))
		return 0;
	etag_of(*text, strlen(*text), tag);
	if (!etag_match(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH), tag) ||
	    (empty = strdup("")) == NULL)
		return 200;
	free(*text);
	*text = empty;
	return 304;
}

/*
 * Queues text (malloc'd; taken over) as the response.  Reads that succeed
 * may be cached but must be revalidated (no-cache, by ETag), per token
 * (Vary: Authorization: the read-only token sees masked definitions);
 * everything else is no-store.
 */
static enum MHD_Result
reply(struct req *r, unsigned status, char *text, const char *ctype,
    const char *hdr, const char *hval)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char tag[ETAG_LEN];
	unsigned cached;

	if (text == NULL)
		return MHD_NO;		/* out of memory: drop the connection */
	if ((cached = reply_etag(r, status, &text, tag)) != 0)
		status = cached;
	resp = MHD_create_response_from_buffer_with_free_callback(strlen(text),
	    text, free);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	if (status != 304)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    cached != 0 ? "no-cache" : "no-store");
	if (cached != 0) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, tag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY,
		    MHD_HTTP_HEADER_AUTHORIZATION);
	}
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (hdr != NULL)
		MHD_add_response_header(resp, hdr, hval);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	if (ret == MHD_YES)
		count_status(r->a, status);
	return ret;
}

/* Serialises o (consumed) as compact JSON. */
static char *
json_text(json_object *o)
{
	char *text = NULL;

	if (o != NULL)
		text = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

static enum MHD_Result
reply_obj(struct req *r, unsigned status, json_object *o)
{
	return reply(r, status, json_text(o), CT_JSON, NULL, NULL);
}

/* {"error": msg, "field": field}, with an extra header when hdr is set. */
static enum MHD_Result
reply_error_hdr(struct req *r, unsigned status, const char *field,
    const char *hdr, const char *hval, const char *msg)
{
	json_object *o = json_object_new_object();

	if (o != NULL) {
		json_object_object_add(o, "error", json_object_new_string(msg));
		if (field != NULL)
			json_object_object_add(o, "field",
			    json_object_new_string(field));
	}
	return reply(r, status, json_text(o), CT_JSON, hdr, hval);
}

static enum MHD_Result
reply_error(struct req *r, unsigned status, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result
reply_error(struct req *r, unsigned status, const char *field,
    const char *fmt, ...)
{
	char msg[BERR_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_error_hdr(r, status, field, NULL, NULL, msg);
}

/* 422 for "field: reason"; the field is the part before the first ": "
 * when it looks like one (no spaces). */
static enum MHD_Result
reply_invalid(struct req *r, const char *err)
{
	char field[128];
	const char *colon = strstr(err, ": ");
	size_t n = colon != NULL ? (size_t)(colon - err) : 0;

	if (n == 0 || n >= sizeof(field) || memchr(err, ' ', n) != NULL)
		return reply_error(r, 422, NULL, "%s",
		    err[0] != '\0' ? err : "invalid request");
	memcpy(field, err, n);
	field[n] = '\0';
	return reply_error(r, 422, field, "%s", err);
}

/* 503 for a store that cannot take writes: "store: database or disk is
 * full" (the same reason as /health). */
static enum MHD_Result
reply_store_error(struct req *r, int rc)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "store: %s", err_str(rc));
	return reply_error_hdr(r, 503, NULL, "Retry-After", "5", msg);
}

/* Maps a backend failure to a status; subject names the object for 404
 * ("job 'x'"). */
static enum MHD_Result
reply_backend_error(struct req *r, int rc, const char *err,
    const char *subject)
{
	switch (rc) {
	case ERR_NOTFOUND:
		return reply_error(r, 404, NULL, "%s not found", subject);
	case ERR_INVALID:
		return reply_invalid(r, err);
	case ERR_PARSE:
		return reply_error(r, 400, NULL, "%s",
		    err[0] != '\0' ? err : "malformed request body");
	case ERR_EXISTS:
		return reply_error(r, 409, NULL, "%s",
		    err[0] != '\0' ? err : "conflict");
	case ERR_BUSY:
		return reply_error_hdr(r, 503, NULL, "Retry-After", "1",
		    err[0] != '\0' ? err : "daemon busy or stopping");
	case ERR_STORE_FULL:
	case ERR_STORE_QUEUE:
		return reply_store_error(r, rc);
	case -ENOSPC:		/* writing a job file */
		return reply_error_hdr(r, 503, NULL, "Retry-After", "5",
		    err_str(rc));
	case ERR_CONNECT:	/* cluster mode: etcd */
	case ERR_TIMEOUT:
		return reply_error_hdr(r, 503, NULL, "Retry-After", "5",
		    err[0] != '\0' ? err : err_str(rc));
	default:
		log_error("api: %s %s: %s%s%s", r->method, subject,
		    err_str(rc), err[0] != '\0' ? ": " : "", err);
		return reply_error(r, 500, NULL, "internal error");
	}
}

/* Answers with a backend's JSON text, or its error. */
static enum MHD_Result
reply_backend_json(struct req *r, int rc, char *json, const char *subject)
{
	if (rc != 0) {
		free(json);
		return reply_backend_error(r, rc, "", subject);
	}
	if (json == NULL)
		return reply_backend_error(r, ERR_INTERNAL, "no result",
		    subject);
	return reply(r, 200, json, CT_JSON, NULL, NULL);
}

static enum MHD_Result
reply_unimplemented(struct req *r)
{
	return reply_error(r, 501, NULL, "not supported by this daemon");
}

/* ---- paths, names and query values ---- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
api_pct_decode(char *s)
{
	char *w = s, *start = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*w++ = *s;
			continue;
		}
		if ((hi = hexval((unsigned char)s[1])) < 0 ||
		    (lo = hexval((unsigned char)s[2])) < 0)
			return -1;
		if ((hi | lo) == 0) {
			*start = '\0';
			return 1;
		}
		*w++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*w = '\0';
	return 0;
}

/*
 * Splits the raw path into decoded segments.  A trailing "/" is ignored;
 * a segment that encodes a NUL byte becomes "", which matches no literal
 * and no valid name.
 * Returns 0, ERR_NOTFOUND (too many or empty segments) or ERR_PARSE (bad
 * escape).
 */
static int
path_split(struct req *r, const char *url)
{
	const char *p = url, *end;

	if (*p++ != '/')
		return ERR_NOTFOUND;
	while (*p != '\0') {
		end = strchrnul(p, '/');
		if (end == p || r->nseg == NSEG_MAX)
			return ERR_NOTFOUND;
		if ((r->seg[r->nseg] = strndup(p, (size_t)(end - p))) == NULL)
			return -ENOMEM;
		if (api_pct_decode(r->seg[r->nseg++]) < 0)
			return ERR_PARSE;	/* a NUL leaves "": invalid */
		p = *end == '/' ? end + 1 : end;
	}
	return 0;
}

static bool
route_matches(const struct route *rt, const struct req *r)
{
	size_t i;

	if (rt->nseg != r->nseg)
		return false;
	for (i = 0; i < rt->nseg; i++)
		if (strcmp(rt->seg[i], "*") != 0 &&
		    strcmp(rt->seg[i], "#") != 0 &&
		    strcmp(rt->seg[i], r->seg[i]) != 0)
			return false;
	return true;
}

static const struct route *
route_find(const struct req *r)
{
	size_t i;

	for (i = 0; i < NROUTES; i++)
		if (route_matches(&routes[i], r))
			return &routes[i];
	return NULL;
}

static handler_fn
route_handler(const struct route *rt, const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return rt->get;
	if (strcmp(method, MHD_HTTP_METHOD_PUT) == 0)
		return rt->put;
	if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		return rt->post;
	if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0)
		return rt->del;
	return NULL;
}

/* Checks the "*" and "#" segments of the matched route. */
static enum MHD_Result
path_params_check(struct req *r, bool *ok)
{
	size_t i;

	*ok = false;
	for (i = 0; i < r->nseg; i++) {
		if (strcmp(r->route->seg[i], "*") == 0 &&
		    !defs_name_valid(r->seg[i]))
			return reply_error(r, 400, "name", "invalid %s name "
			    "(letters, digits, '.', '_' and '-', at most %d, "
			    "not starting with '.' or '-')", r->route->kind,
			    DEFS_NAME_MAX);
		if (strcmp(r->route->seg[i], "#") == 0 &&
		    dur_parse_int(r->seg[i], 1, INT64_MAX, &r->id) != 0)
			return reply_error(r, 400, "id", "invalid run id "
			    "(a positive integer expected)");
	}
	*ok = true;
	return MHD_YES;
}

/*
 * Copies the decoded query value of key into out.  Returns 1 when present,
 * 0 when absent, -1 when malformed (too long, bad escape).
 */
static int
query_get(struct req *r, const char *key, char *out, size_t outlen)
{
	const char *v = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, key);

	if (v == NULL)
		return 0;
	if (strlen(v) >= outlen)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return api_pct_decode(out) == 0 ? 1 : -1;	/* a NUL is malformed */
}

/* ---- auth ---- */

static void
secret_set(struct secret *s, const char *text, size_t len)
{
	explicit_bzero(s, sizeof(*s));
	memcpy(s->pad, text, len);
	s->len = len;
}

/* Constant time over TOKEN_MAX bytes, whatever the lengths. */
static bool
secret_equal(const struct secret *s, const struct secret *given)
{
	volatile unsigned char diff = 0;
	size_t i;

	for (i = 0; i < TOKEN_MAX; i++)
		diff |= s->pad[i] ^ given->pad[i];
	return s->len != 0 && s->len == given->len && diff == 0;
}

/* Which access the Authorization header grants. */
static enum access
auth_check(struct api *a, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	struct secret given;
	bool full, read;
	size_t len;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return ACC_NONE;
	for (h += 7; *h == ' '; h++)
		;
	if ((len = strnlen(h, TOKEN_MAX + 1)) > TOKEN_MAX)
		return ACC_NONE;
	secret_set(&given, h, len);
	full = secret_equal(&a->token, &given);
	read = secret_equal(&a->read_token, &given);
	explicit_bzero(&given, sizeof(given));
	return full ? ACC_FULL : read ? ACC_READ : ACC_NONE;
}

/* ---- request flow ---- */

static bool
method_is(const struct req *r, const char *m)
{
	return strcmp(r->method, m) == 0;
}

static bool
method_reads(const struct req *r)
{
	return method_is(r, MHD_HTTP_METHOD_GET) ||
	    method_is(r, MHD_HTTP_METHOD_HEAD);
}

/* 413 up front when Content-Length announces too much. */
static enum MHD_Result
length_check(struct req *r, bool *ok)
{
	const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t n;

	*ok = false;
	if (v != NULL && dur_parse_int(v, 0, INT64_MAX, &n) != 0)
		return reply_error(r, 400, NULL, "malformed Content-Length");
	if (v != NULL && (uint64_t)n > r->a->body_max)
		return reply_error(r, 413, NULL, "request body over %zu bytes",
		    r->a->body_max);
	*ok = true;
	return MHD_YES;
}

/* Resolves route and method for the decoded path. */
static enum MHD_Result
route_check(struct req *r, const char *url, bool *ok)
{
	int rc;

	*ok = false;
	if ((rc = path_split(r, url)) == -ENOMEM)
		return MHD_NO;
	if (rc == ERR_PARSE)
		return reply_error(r, 400, NULL, "malformed path");
	if (rc != 0 || (r->route = route_find(r)) == NULL)
		return reply_error(r, 404, NULL, "no such endpoint");
	if ((r->fn = route_handler(r->route, r->method)) == NULL)
		return reply_error_hdr(r, 405, NULL, MHD_HTTP_HEADER_ALLOW,
		    r->route->allow, "method not allowed");
	*ok = true;
	return MHD_YES;
}

/* The dashboard's files (ui.c): no token, they hold no data; a browser's
 * GET / goes to them too. */
static enum MHD_Result
ui_reply(struct req *r, const char *url)
{
	unsigned status;

	r->answered = true;
	if (ui_answer(r->conn, url, r->method, &status) != 0)
		return MHD_NO;
	count_status(r->a, status);
	return MHD_YES;
}

/* The checks that need only the headers; answers on the first failure. */
static enum MHD_Result
req_check(struct req *r, const char *url)
{
	enum access acc = ACC_FULL;
	enum MHD_Result ret;
	bool ok;

	if (ui_path(url) || ui_for_browser(r->conn, url, r->method))
		return ui_reply(r, url);
	if (!(method_reads(r) && strcmp(url, "/health") == 0) &&
	    (acc = auth_check(r->a, r->conn)) == ACC_NONE)
		return reply_error_hdr(r, 401, NULL,
		    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"distcron\"",
		    "missing or wrong bearer token");
	if ((ret = route_check(r, url, &ok)) != MHD_YES || !ok)
		return ret;
	r->acc = acc;
	if (acc == ACC_READ && !method_reads(r))
		return reply_error(r, 403, NULL, "read-only token");
	if ((ret = path_params_check(r, &ok)) != MHD_YES || !ok)
		return ret;
	return length_check(r, &ok);
}

static void
req_free(struct req *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nseg; i++)
		free(r->seg[i]);
	buf_free(&r->body);
	free(r);
}

/*
 * True when a body follows the headers.  Only then are the checks made on
 * the first call, so that a refused request is answered before its body is
 * read (and the connection closed).  A request without a body is checked
 * on the last call, where an error answer keeps the connection alive.
 */
static bool
has_body(const struct req *r)
{
	const char *len = MHD_lookup_connection_value(r->conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len != NULL && strcmp(len, "0") != 0) ||
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result
req_begin(struct api *a, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return MHD_NO;
	r->a = a;
	r->conn = c;
	r->method = method;
	buf_init(&r->body, a->body_max);
	*con_cls = r;
	if (!has_body(r))
		return MHD_YES;		/* checked on the last call */
	r->checked = true;
	return req_check(r, url);
}

/*
 * Collects body bytes; past the cap they are read and dropped, and the
 * request is answered 413 on the last call.  Only a chunked body gets past
 * the cap (a Content-Length over it is refused before its body), and only
 * once its token has been checked.  The whole body is read because
 * libmicrohttpd (0.9.75) cannot queue an answer in the middle of an upload:
 * cutting the connection there leaves the client without one.  The
 * reading is bounded: past DRAIN_MAX dropped bytes the connection is cut
 * (no answer), so a client cannot hold a thread with an endless body.  A
 * client that stops sending is dropped by the connection timeout.
 */
static enum MHD_Result
req_body(struct req *r, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	if (r->too_big) {
		r->dropped += n;
		return r->dropped <= DRAIN_MAX ? MHD_YES : MHD_NO;
	}
	if (r->answered)
		return MHD_YES;
	if (buf_append(&r->body, data, n) == 0)
		return MHD_YES;
	r->too_big = true;
	buf_free(&r->body);
	return MHD_YES;
}

/*
 * The server's threads run at api_nice (10: they yield to the jobs; a
 * negative scheduler_nice raises the threads that start runs, and the
 * processes they start exec at that value, so the same api_nice keeps
 * requests from queueing behind a burst of starts; see prio.h).  Linux
 * applies a nice value per thread (setpriority on the thread id); done
 * once per server thread, on its first request.  A refusal (a negative
 * value without CAP_SYS_NICE) is logged once.
 */
static void
api_thread_nice(const struct api *a)
{
	static __thread bool done;
	static atomic_flag told = ATOMIC_FLAG_INIT;

	if (done)
		return;
	done = true;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), a->nice) != 0 &&
	    !atomic_flag_test_and_set(&told))
		log_info("api: the server's threads stay at the daemon's "
		    "priority: nice %d: %s", a->nice, strerror(errno));
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *size, void **con_cls)
{
	struct req *r = *con_cls;
	enum MHD_Result ret;

	if (r == NULL) {
		api_thread_nice(cls);
		return req_begin(cls, c, url, method, con_cls);
	}
	if (*size > 0)
		return req_body(r, data, size);
	if (!r->checked) {
		r->checked = true;
		if ((ret = req_check(r, url)) != MHD_YES || r->answered)
			return ret;
	}
	if (r->answered)
		return MHD_YES;
	if (r->too_big)
		return reply_error(r, 413, NULL, "request body over %zu bytes",
		    r->a->body_max);
	return r->fn(r);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	req_free(*con_cls);
	*con_cls = NULL;
}

/* Leaves escapes alone: paths and query values are decoded per segment
 * and value (see api_pct_decode). */
static size_t
unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug("api: %s", msg);
}

/* ---- the store ---- */

/* This thread's read-only store connection, opened on first use. */
static int
thread_store(struct api *a, struct store **out)
{
	struct api_store *s;
	const char *errstr = NULL;
	int r;

	if ((*out = pthread_getspecific(a->store_key)) != NULL)
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if ((r = store_open(a->db_path, true, &s->st, &errstr)) != 0) {
		log_warn("api: %s: %s", a->db_path,
		    errstr != NULL ? errstr : err_str(r));
		free(s);
		return r;
	}
	pthread_mutex_lock(&a->stores_lock);
	s->next = a->stores;
	a->stores = s;
	pthread_mutex_unlock(&a->stores_lock);
	pthread_setspecific(a->store_key, s->st);
	*out = s->st;
	return 0;
}

/* Runs matching q, or an answered error. */
static enum MHD_Result
runs_query(struct req *r, const struct store_query *q,
    struct store_run ***runs, size_t *n, bool *ok)
{
	struct store *st;
	int rc;

	*ok = false;
	if (thread_store(r->a, &st) != 0)
		return reply_error_hdr(r, 503, NULL, "Retry-After", "1",
		    "run store unavailable");
	if ((rc = store_runs_query(st, q, runs, n)) != 0)
		return reply_backend_error(r, rc, "reading runs", "runs");
	*ok = true;
	return MHD_YES;
}

/* ---- query parameters ---- */

static enum MHD_Result
bad_param(struct req *r, const char *key, const char *what)
{
	return reply_error(r, 400, key, "%s: %s", key, what);
}

/* limit, shared by /jobs, /runs and reports; *limit is left as it is
 * when the query has none. */
static enum MHD_Result
param_limit(struct req *r, int *limit, bool *ok)
{
	char v[QUERY_MAX];
	int64_t n = 0;
	int got;

	*ok = false;
	if ((got = query_get(r, "limit", v, sizeof(v))) < 0 ||
	    (got > 0 && dur_parse_int(v, 1, LIMIT_MAX, &n) != 0))
		return reply_error(r, 400, "limit", "limit: expected an "
		    "integer from 1 to %d", LIMIT_MAX);
	if (got > 0)
		*limit = (int)n;
	*ok = true;
	return MHD_YES;
}

/* limit and before, shared by /runs and reports. */
static enum MHD_Result
params_paging(struct req *r, struct store_query *q, bool *ok)
{
	char v[QUERY_MAX];
	enum MHD_Result ret;
	int got;

	if ((ret = param_limit(r, &q->limit, ok)) != MHD_YES || !*ok)
		return ret;
	*ok = false;
	if ((got = query_get(r, "before", v, sizeof(v))) < 0 ||
	    (got > 0 && dur_parse_int(v, 1, INT64_MAX, &q->before_id) != 0))
		return bad_param(r, "before", "expected a positive run id");
	*ok = true;
	return MHD_YES;
}

/* since: ISO 8601 (in the daemon's zone unless it has an offset) or
 * epoch milliseconds. */
static int
parse_since(struct api *a, const char *v, int64_t *ms, const char **why)
{
	int64_t t;

	*why = "expected ISO 8601 or epoch milliseconds";
	if (v[0] >= '0' && v[0] <= '9' && strspn(v, "0123456789") ==
	    strlen(v))
		return dur_parse_int(v, 1, INT64_MAX, ms);
	if (tz_parse_iso8601(a->zone, v, &t, why) != 0)
		return ERR_PARSE;
	if (t <= 0 || t > INT64_MAX / 1000) {
		*why = "out of range";
		return ERR_RANGE;
	}
	*ms = t * 1000;
	return 0;
}

/* job, status, since and output of /runs; job is copied into jobbuf. */
static enum MHD_Result
params_filter(struct req *r, struct store_query *q, char *jobbuf,
    size_t joblen, bool *ok)
{
	char v[QUERY_MAX];
	enum run_status st;
	const char *why;
	int got;

	*ok = false;
	if ((got = query_get(r, "job", jobbuf, joblen)) < 0 ||
	    (got > 0 && !defs_name_valid(jobbuf)))
		return bad_param(r, "job", "invalid job name");
	q->job = got > 0 ? jobbuf : NULL;
	if ((got = query_get(r, "status", v, sizeof(v))) < 0 ||
	    (got > 0 && store_status_parse(v, &st) != 0))
		return bad_param(r, "status", "expected PENDING, STARTED, "
		    "RETRY, FAILURE, SUCCESS or LOST");
	q->status = got > 0 ? (int)st : -1;
	if ((got = query_get(r, "since", v, sizeof(v))) < 0)
		return bad_param(r, "since", "malformed");
	if (got > 0 && parse_since(r->a, v, &q->since_ms, &why) != 0)
		return bad_param(r, "since", why);
	if ((got = query_get(r, "output", v, sizeof(v))) < 0 ||
	    (got > 0 && strcmp(v, "0") != 0 && strcmp(v, "1") != 0 &&
	    strcmp(v, "true") != 0 && strcmp(v, "false") != 0))
		return bad_param(r, "output", "expected 0 or 1");
	q->with_output = got > 0 && (v[0] == '1' || v[0] == 't');
	*ok = true;
	return MHD_YES;
}

/* ---- handlers: runs, from the store ---- */

static enum MHD_Result
h_runs(struct req *r)
{
	struct store_query q = { .status = -1, .limit = RUNS_DEFAULT };
	char job[QUERY_MAX];
	struct store_run **runs = NULL;
	enum MHD_Result ret;
	json_object *o;
	size_t n = 0;
	bool ok;

	if ((ret = params_paging(r, &q, &ok)) != MHD_YES || !ok ||
	    (ret = params_filter(r, &q, job, sizeof(job), &ok)) != MHD_YES ||
	    !ok || (ret = runs_query(r, &q, &runs, &n, &ok)) != MHD_YES || !ok)
		return ret;
	if ((o = json_object_new_object()) != NULL)
		json_object_object_add(o, "runs",
		    runjson_runs(runs, n, r->a->zone, q.with_output));
	store_runs_free(runs, n);
	return reply_obj(r, 200, o);
}

static enum MHD_Result
h_reports(struct req *r)
{
	struct store_query q = {
		.job = r->seg[1], .status = -1, .limit = REPORTS_DEFAULT,
		.with_output = true,
	};
	struct store_run **runs = NULL;
	json_object *o, *arr;
	enum MHD_Result ret;
	size_t i, n = 0;
	bool ok;

	if ((ret = params_paging(r, &q, &ok)) != MHD_YES || !ok ||
	    (ret = runs_query(r, &q, &runs, &n, &ok)) != MHD_YES || !ok)
		return ret;
	arr = json_object_new_array();
	for (i = 0; arr != NULL && i < n; i++)
		json_object_array_add(arr,
		    runjson_report(runs[i], r->a->zone));
	if ((o = json_object_new_object()) != NULL)
		json_object_object_add(o, "reports", arr);
	else
		json_object_put(arr);
	store_runs_free(runs, n);
	return reply_obj(r, 200, o);
}

/* Whether items a and b (a run's JSON) are the same node and attempt. */
static bool
item_same(json_object *a, json_object *b)
{
	json_object *na, *nb, *aa, *ab;

	return json_object_object_get_ex(a, "node", &na) &&
	    json_object_object_get_ex(b, "node", &nb) &&
	    json_object_is_type(na, json_type_string) &&
	    json_object_is_type(nb, json_type_string) &&
	    strcmp(json_object_get_string(na), json_object_get_string(nb)) ==
	    0 && json_object_object_get_ex(a, "attempt", &aa) &&
	    json_object_object_get_ex(b, "attempt", &ab) &&
	    json_object_get_int(aa) == json_object_get_int(ab);
}

/* The item of items that is the live item li, or NULL. */
static json_object *
item_find(json_object *items, json_object *li)
{
	size_t i, n = json_object_array_length(items);

	for (i = 0; i < n; i++)
		if (item_same(json_object_array_get_idx(items, i), li))
			return json_object_array_get_idx(items, i);
	return NULL;
}

/* Moves key's value from the live item li to the run's item it. */
static void
live_move(json_object *li, json_object *it, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(li, key, &v))
		json_object_object_add(it, key, json_object_get(v));
}

/*
 * The runner's record of a run not final (the backend's "run"), which
 * the store's lags behind, over the stored one: its status, attempt,
 * times, reason and items, and "live": true on the run.
 */
static void
run_overlay(json_object *live, json_object *run)
{
	static const char *const keys[] = { "status", "attempt", "started",
	    "ended", "reason", "items" };
	json_object *lr, *v;
	size_t i;

	if (!json_object_object_get_ex(live, "run", &lr) ||
	    !json_object_is_type(lr, json_type_object))
		return;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(lr, keys[i], &v))
			json_object_object_add(run, keys[i],
			    json_object_get(v));
	json_object_object_add(run, "live", json_object_new_boolean(true));
}

/*
 * A run not final yet: the runner's record of it (run_overlay), and each
 * of its items executing now on this daemon gets its output so far
 * ("output", "stderr", "truncated") and "live": true, from the backend
 * (which asks the loop, bounded in time).  The run shows as stored when
 * there is none (another member's run, a run that just ended, a loop too
 * busy to answer).
 */
static void
run_add_live(struct req *r, json_object *run)
{
	json_object *live = NULL, *litems, *items, *li, *it;
	char *json = NULL;
	size_t i, n;

	if (r->a->be.run_live != NULL &&
	    r->a->be.run_live(r->a->be.ctx, r->id, &json) == 0 &&
	    json != NULL)
		live = json_tokener_parse(json);
	free(json);
	if (live != NULL)
		run_overlay(live, run);
	if (live == NULL || !json_object_object_get_ex(live, "items",
	    &litems) || !json_object_object_get_ex(run, "items", &items) ||
	    !json_object_is_type(items, json_type_array) ||
	    !json_object_is_type(litems, json_type_array)) {
		json_object_put(live);
		return;
	}
	n = json_object_array_length(litems);
	for (i = 0; i < n; i++) {
		li = json_object_array_get_idx(litems, i);
		if ((it = item_find(items, li)) == NULL)
			continue;
		live_move(li, it, "output");
		live_move(li, it, "stderr");
		live_move(li, it, "truncated");
		json_object_object_add(it, "live",
		    json_object_new_boolean(true));
	}
	json_object_put(live);
}

static enum MHD_Result
h_run(struct req *r)
{
	struct store_run *run = NULL;
	struct store *st;
	json_object *o;
	int rc;

	if (thread_store(r->a, &st) != 0)
		return reply_error_hdr(r, 503, NULL, "Retry-After", "1",
		    "run store unavailable");
	if ((rc = store_run_get(st, r->id, &run)) == ERR_NOTFOUND)
		return reply_error(r, 404, NULL, "run %" PRId64 " not found",
		    r->id);
	if (rc != 0)
		return reply_backend_error(r, rc, "reading a run", "run");
	o = runjson_run(run, r->a->zone, true);
	if (o != NULL && !store_status_final(run->status))
		run_add_live(r, o);
	store_run_free(run);
	return reply_obj(r, 200, o);
}

/* ---- handlers: the daemon's side ---- */

/* "job 'name'" for messages. */
static const char *
subject(struct req *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s '%s'", r->route->kind, r->seg[1]);
	return out;
}

/* The links, and what the token may do: "access": "full" or "read" (a
 * client such as the dashboard hides the writes a read token cannot). */
static enum MHD_Result
h_root(struct req *r)
{
	static const char *const names[] = {
		"jobs", "runs", "nodes", "health", "monitor", "metrics",
		"tasks", "outbox", "cluster", "secrets",
	};
	json_object *o = json_object_new_object(), *links;
	char path[32];
	size_t i;

	if (o == NULL || (links = json_object_new_object()) == NULL)
		return reply_obj(r, 200, o);	/* NULL: dropped */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i], "cluster") == 0 && r->a->be.cluster == NULL)
			continue;	/* not in cluster mode */
		if (strcmp(names[i], "secrets") == 0 && r->a->be.secrets == NULL)
			continue;	/* no secrets key */
		snprintf(path, sizeof(path), "/%s", names[i]);
		json_object_object_add(links, names[i],
		    json_object_new_string(path));
	}
	json_object_object_add(o, "links", links);
	json_object_object_add(o, "access", json_object_new_string(
	    r->acc == ACC_FULL ? "full" : "read"));
	return reply_obj(r, 200, o);
}

/* Adds "warnings": [...] to o when the backend has some. */
static void
health_warnings(struct req *r, json_object *o)
{
	char *text = r->a->be.health_warnings != NULL ?
	    r->a->be.health_warnings(r->a->be.ctx) : NULL;
	json_object *w = text != NULL ? json_tokener_parse(text) : NULL;

	if (w != NULL)
		json_object_object_add(o, "warnings", w);
	free(text);
}

/* 200 {"status": "ok"}, or 503 {"status": "unavailable", "reason":
 * "store: ..."} while the store cannot write, or with the cluster's
 * reason while this member may not launch (etcd, its lease).  Either
 * may add "warnings": [...], what is wrong without stopping this member
 * (job files that differ between members). */
static enum MHD_Result
h_health(struct req *r)
{
	json_object *o = json_object_new_object();
	char msg[320];
	int rc;

	rc = r->a->be.store_error != NULL ?
	    r->a->be.store_error(r->a->be.ctx) : 0;
	if (rc != 0)
		snprintf(msg, sizeof(msg), "store: %s", err_str(rc));
	else if (r->a->be.cluster_health != NULL)
		rc = r->a->be.cluster_health(r->a->be.ctx, msg, sizeof(msg));
	json_object_object_add(o, "status",
	    json_object_new_string(rc == 0 ? "ok" : "unavailable"));
	if (rc != 0)
		json_object_object_add(o, "reason", json_object_new_string(msg));
	health_warnings(r, o);
	if (rc == 0)
		return reply(r, 200, json_text(o), CT_JSON, NULL, NULL);
	return reply(r, 503, json_text(o), CT_JSON, "Retry-After", "5");
}

/* GET /jobs?after=NAME&limit=N: a page of jobs in name order. */
static enum MHD_Result
h_jobs(struct req *r)
{
	char after[QUERY_MAX], q[JFIELD_QUOTE_LEN], *json = NULL;
	int limit = JOBS_DEFAULT, got, rc;
	enum MHD_Result ret;
	bool ok;

	if (r->a->be.jobs == NULL)
		return reply_unimplemented(r);
	if ((ret = param_limit(r, &limit, &ok)) != MHD_YES || !ok)
		return ret;
	if ((got = query_get(r, "after", after, sizeof(after))) < 0)
		return bad_param(r, "after", "expected a job name");
	if (got > 0 && !defs_name_valid(after))
		return reply_error(r, 400, "after", "after: expected a job name "
		    "(letters, digits, '.', '_' and '-', at most %d, not "
		    "starting with '.' or '-'), got %s", DEFS_NAME_MAX,
		    jfield_quote(after, q, sizeof(q)));
	rc = r->a->be.jobs(r->a->be.ctx, got > 0 ? after : NULL, limit,
	    &json);
	return reply_backend_json(r, rc, json, "jobs");
}

/* The backend's answer for a job with its definition's secrets masked
 * (defs_job_mask()); json is freed.  NULL when out of memory. */
static char *
job_masked(char *json)
{
	json_object *o = json_tokener_parse(json), *def;

	explicit_bzero(json, strlen(json));
	free(json);
	if (o == NULL)
		return NULL;
	if (json_object_object_get_ex(o, "definition", &def))
		defs_job_mask(def);
	return json_text(o);
}

/* A read-only token sees the definition's secrets masked. */
static enum MHD_Result
h_job(struct req *r)
{
	char *json = NULL, subj[160];
	int rc;

	if (r->a->be.job == NULL)
		return reply_unimplemented(r);
	rc = r->a->be.job(r->a->be.ctx, r->seg[1], &json);
	if (rc == 0 && r->acc != ACC_FULL && (json = job_masked(json)) ==
	    NULL)
		rc = -ENOMEM;
	return reply_backend_json(r, rc, json,
	    subject(r, subj, sizeof(subj)));
}

static enum MHD_Result
h_nodes(struct req *r)
{
	char *json = NULL;
	int rc;

	if (r->a->be.nodes == NULL)
		return reply_unimplemented(r);
	rc = r->a->be.nodes(r->a->be.ctx, &json);
	return reply_backend_json(r, rc, json, "nodes");
}

static enum MHD_Result
h_node(struct req *r)
{
	char *json = NULL, subj[160];
	int rc;

	if (r->a->be.node == NULL)
		return reply_unimplemented(r);
	rc = r->a->be.node(r->a->be.ctx, r->seg[1], &json);
	return reply_backend_json(r, rc, json,
	    subject(r, subj, sizeof(subj)));
}

static enum MHD_Result
h_monitor(struct req *r)
{
	char *json = NULL;
	int rc;

	if (r->a->be.monitor == NULL)
		return reply_unimplemented(r);
	rc = r->a->be.monitor(r->a->be.ctx, &json);
	return reply_backend_json(r, rc, json, "monitor");
}

/* The server's own counters, in Prometheus text format. */
static int
metrics_own(struct api *a, struct buf *b)
{
	uint64_t v;
	size_t i;
	int rc;

	rc = buf_puts(b, "# HELP distcron_api_requests_total API requests "
	    "answered, by HTTP status.\n"
	    "# TYPE distcron_api_requests_total counter\n");
	for (i = 0; rc == 0 && i <= NCOUNTED; i++) {
		v = __atomic_load_n(&a->requests[i], __ATOMIC_RELAXED);
		if (v == 0)
			continue;
		if (i < NCOUNTED)
			rc = buf_printf(b, "distcron_api_requests_total{code="
			    "\"%u\"} %" PRIu64 "\n", counted[i], v);
		else
			rc = buf_printf(b, "distcron_api_requests_total{code="
			    "\"other\"} %" PRIu64 "\n", v);
	}
	return rc;
}

static enum MHD_Result
h_metrics(struct req *r)
{
	char *text = NULL;
	struct buf b;
	int rc = 0;

	buf_init(&b, METRICS_MAX);
	if (r->a->be.metrics != NULL &&
	    (rc = r->a->be.metrics(r->a->be.ctx, &text)) != 0) {
		free(text);
		return reply_backend_error(r, rc, "", "metrics");
	}
	if (text != NULL && (rc = buf_puts(&b, text)) == 0 && b.len > 0 &&
	    b.data[b.len - 1] != '\n')
		rc = buf_puts(&b, "\n");
	free(text);
	if (rc == 0)
		rc = metrics_own(r->a, &b);
	text = rc == 0 ? buf_steal(&b, NULL) : NULL;
	buf_free(&b);
	if (rc != 0)
		return reply_backend_error(r, rc, "rendering metrics",
		    "metrics");
	return reply(r, 200, text, CT_METRICS, NULL, NULL);
}

/* A body that must be a JSON object.  Answers 400 when it is not. */
static enum MHD_Result
body_json_check(struct req *r, bool *ok)
{
	json_object *o = NULL;
	char msg[512];
	int rc;

	*ok = false;
	if (r->body.len == 0)
		return reply_error(r, 400, NULL, "empty body: a JSON object "
		    "expected");
	rc = jsontext_parse(buf_str(&r->body), r->body.len, 0, NULL, &o, msg,
	    sizeof(msg));
	if (rc == -ENOMEM)
		return MHD_NO;
	if (rc != 0)
		return reply_error(r, 400, NULL, "body: %s", msg);
	*ok = json_object_is_type(o, json_type_object);
	if (!*ok)
		reply_error(r, 400, NULL, "body: expected a JSON object, got %s",
		    json_type_to_name(json_object_get_type(o)));
	json_object_put(o);
	return *ok || r->answered ? MHD_YES : MHD_NO;
}

/* {"name": NAME, key: value} */
static json_object *
name_obj(const char *name, const char *key, bool value)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, key, json_object_new_boolean(value));
	return o;
}

static json_object *
id_obj(int64_t id)
{
	json_object *o = json_object_new_object();

	if (o != NULL)
		json_object_object_add(o, "id", json_object_new_int64(id));
	return o;
}

static enum MHD_Result
h_job_put(struct req *r)
{
	char err[BERR_MAX] = "", subj[160];
	enum MHD_Result ret;
	bool ok, created = false;
	int rc;

	if (r->a->be.put_job == NULL)
		return reply_unimplemented(r);
	if ((ret = body_json_check(r, &ok)) != MHD_YES || !ok)
		return ret;
	rc = r->a->be.put_job(r->a->be.ctx, r->seg[1], buf_str(&r->body),
	    r->body.len, &created, err, sizeof(err));
	if (rc != 0)
		return reply_backend_error(r, rc, err,
		    subject(r, subj, sizeof(subj)));
	return reply_obj(r, created ? 201 : 200,
	    name_obj(r->seg[1], "created", created));
}

static enum MHD_Result
h_job_delete(struct req *r)
{
	char subj[160], err[BERR_MAX] = "";
	int rc;

	if (r->a->be.delete_job == NULL)
		return reply_unimplemented(r);
	if ((rc = r->a->be.delete_job(r->a->be.ctx, r->seg[1], err,
	    sizeof(err))) != 0)
		return reply_backend_error(r, rc, err,
		    subject(r, subj, sizeof(subj)));
	return reply_obj(r, 200, name_obj(r->seg[1], "deleted", true));
}

static enum MHD_Result
pause_set(struct req *r, bool paused)
{
	char subj[160];
	int rc;

	if (r->a->be.pause == NULL)
		return reply_unimplemented(r);
	if ((rc = r->a->be.pause(r->a->be.ctx, r->seg[1], paused)) != 0)
		return reply_backend_error(r, rc, "",
		    subject(r, subj, sizeof(subj)));
	return reply_obj(r, 200, name_obj(r->seg[1], "paused", paused));
}

static enum MHD_Result
h_pause(struct req *r)
{
	return pause_set(r, true);
}

static enum MHD_Result
h_resume(struct req *r)
{
	return pause_set(r, false);
}

static enum MHD_Result
h_run_job(struct req *r)
{
	char subj[160];
	int64_t id = 0;
	int rc;

	if (r->a->be.run_job == NULL)
		return reply_unimplemented(r);
	if ((rc = r->a->be.run_job(r->a->be.ctx, r->seg[1], &id)) != 0)
		return reply_backend_error(r, rc, rc == ERR_EXISTS ? "a run of "
		    "the job is in progress and its concurrency is forbid" : "",
		    subject(r, subj, sizeof(subj)));
	return reply_obj(r, 202, id_obj(id));
}

static enum MHD_Result
h_cancel(struct req *r)
{
	char subj[64], err[96] = "";
	json_object *o;
	int rc;

	if (r->a->be.cancel == NULL)
		return reply_unimplemented(r);
	snprintf(subj, sizeof(subj), "run %" PRId64, r->id);
	if ((rc = r->a->be.cancel(r->a->be.ctx, r->id)) == ERR_EXISTS)
		snprintf(err, sizeof(err), "run %" PRId64 " has already "
		    "finished", r->id);
	if (rc != 0)
		return reply_backend_error(r, rc, err, subj);
	if ((o = id_obj(r->id)) != NULL)
		json_object_object_add(o, "cancelling",
		    json_object_new_boolean(true));
	return reply_obj(r, 202, o);
}

static enum MHD_Result
h_tasks(struct req *r)
{
	char err[BERR_MAX] = "";
	enum MHD_Result ret;
	int64_t id = 0;
	bool ok;
	int rc;

	if (r->a->be.run_task == NULL)
		return reply_unimplemented(r);
	if ((ret = body_json_check(r, &ok)) != MHD_YES || !ok)
		return ret;
	rc = r->a->be.run_task(r->a->be.ctx, buf_str(&r->body), r->body.len,
	    &id, err, sizeof(err));
	if (rc != 0)
		return reply_backend_error(r, rc, err, "task");
	return reply_obj(r, 202, id_obj(id));
}

static enum MHD_Result
h_outbox(struct req *r)
{
	char *json = NULL;
	int rc;

	if (r->a->be.outbox == NULL)
		return reply_unimplemented(r);
	rc = r->a->be.outbox(r->a->be.ctx, &json);
	return reply_backend_json(r, rc, json, "outbox");
}

/* GET /cluster: members, ownership, the lease, etcd's endpoints. */
static enum MHD_Result
h_cluster(struct req *r)
{
	char *json = NULL;
	int rc;

	if (r->a->be.cluster == NULL)
		return reply_error(r, 404, NULL, "not in cluster mode (set "
		    "cluster.etcd or --etcd)");
	rc = r->a->be.cluster(r->a->be.ctx, &json);
	return reply_backend_json(r, rc, json, "cluster");
}

/* ---- secrets: names only ever go out, values only ever come in ---- */

static enum MHD_Result
reply_no_secrets(struct req *r)
{
	return reply_error(r, 503, NULL, "no secrets key: set "
	    "secrets_key_file or DISTCRON_SECRETS_KEY");
}

/* GET /secrets: names and when each was set. */
static enum MHD_Result
h_secrets(struct req *r)
{
	char *json = NULL;
	int rc;

	if (r->a->be.secrets == NULL)
		return reply_no_secrets(r);
	rc = secrets_list_json(r->a->be.secrets, &json);
	return reply_backend_json(r, rc, json, "secrets");
}

/* PUT /secrets/NAME: the body is the value. */
static enum MHD_Result
h_secret_put(struct req *r)
{
	char err[BERR_MAX] = "", subj[160];
	bool created;
	int rc;

	if (r->a->be.secrets == NULL)
		return reply_no_secrets(r);
	created = !secrets_exists(r->a->be.secrets, r->seg[1]);
	rc = secrets_set(r->a->be.secrets, r->seg[1], buf_str(&r->body),
	    r->body.len, err, sizeof(err));
	explicit_bzero(r->body.data, r->body.len);
	if (rc != 0)
		return reply_backend_error(r, rc, err,
		    subject(r, subj, sizeof(subj)));
	log_info("secret %s %s through the API", r->seg[1],
	    created ? "created" : "replaced");
	return reply_obj(r, created ? 201 : 200,
	    name_obj(r->seg[1], "created", created));
}

/* DELETE /secrets/NAME. */
static enum MHD_Result
h_secret_delete(struct req *r)
{
	char subj[160];
	int rc;

	if (r->a->be.secrets == NULL)
		return reply_no_secrets(r);
	if ((rc = secrets_delete(r->a->be.secrets, r->seg[1])) != 0)
		return reply_backend_error(r, rc, "",
		    subject(r, subj, sizeof(subj)));
	log_info("secret %s deleted through the API", r->seg[1]);
	return reply_obj(r, 200, name_obj(r->seg[1], "deleted", true));
}

/* POST /secrets/rotate: every value sealed with the previous key is sealed
 * again with the current one, in one write (secrets_rotate()). */
static enum MHD_Result
h_secret_post(struct req *r)
{
	struct secrets_rotation res;
	char err[BERR_MAX] = "";
	json_object *o;
	int rc;

	if (strcmp(r->seg[1], "rotate") != 0)
		return reply_error(r, 404, NULL, "POST /secrets/%s: not "
		    "found (POST /secrets/rotate is the only one)", r->seg[1]);
	if (r->a->be.secrets == NULL)
		return reply_no_secrets(r);
	if ((rc = secrets_rotate(r->a->be.secrets, &res, err,
	    sizeof(err))) != 0)
		return reply_backend_error(r, rc, err, "secrets");
	if ((o = json_object_new_object()) != NULL &&
	    (json_object_object_add(o, "resealed",
	    json_object_new_int64((int64_t)res.resealed)) != 0 ||
	    json_object_object_add(o, "current",
	    json_object_new_int64((int64_t)res.current)) != 0)) {
		json_object_put(o);
		o = NULL;
	}
	return reply_obj(r, 200, o);
}

static enum MHD_Result
h_outbox_retry(struct req *r)
{
	char err[BERR_MAX] = "";
	char *json = NULL;
	enum MHD_Result ret;
	bool ok;
	int rc;

	if (r->a->be.outbox_retry == NULL)
		return reply_unimplemented(r);
	if ((ret = body_json_check(r, &ok)) != MHD_YES || !ok)
		return ret;
	rc = r->a->be.outbox_retry(r->a->be.ctx, buf_str(&r->body),
	    r->body.len, &json, err, sizeof(err));
	if (rc != 0) {
		free(json);
		return reply_backend_error(r, rc, err, rc == ERR_NOTFOUND &&
		    err[0] != '\0' ? err : "outbox");
	}
	return reply_backend_json(r, rc, json, "outbox");
}

/* ---- setup: tokens ---- */

/* Trims s (len bytes) and checks it is a usable token: visible ASCII. */
static int
token_clean(char *s, size_t *len, const char *what, char *err,
    size_t errlen)
{
	size_t start = 0, n = *len, i;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (start < n && isspace((unsigned char)s[start]))
		start++;
	memmove(s, s + start, n - start);
	n -= start;
	s[n] = '\0';
	*len = n;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			break;
	if (n > 0 && n <= TOKEN_MAX && i == n)
		return 0;
	snprintf(err, errlen, "%s: %s", what, n == 0 ? "empty token" :
	    n > TOKEN_MAX ? "token longer than 256 characters" :
	    "token with spaces or non-ASCII characters");
	return ERR_CONFIG;
}

/* A file holding a secret (the token file, the TLS key) that another user
 * owns or group or others may read is refused, as OpenSSH refuses such a
 * key.  Returns 0, or ERR_CONFIG with err naming the file and its mode. */
static int
secret_private(int fd, const char *what, const char *path, char *err,
    size_t errlen)
{
	return fileio_secret_check(fd, path, what, true, err, errlen) == 0 ?
	    0 : ERR_CONFIG;
}

/* Reads the token file.  Returns 0, -ENOENT, or ERR_CONFIG. */
static int
token_read(const char *path, struct secret *out, char *err, size_t errlen)
{
	char text[TOKEN_MAX + 64];
	ssize_t n;
	size_t len;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_CONFIG;
	}
	if ((r = secret_private(fd, "api token file", path, err,
	    errlen)) != 0) {
		close(fd);
		return r;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_CONFIG;
	}
	len = (size_t)n;
	if ((r = token_clean(text, &len, path, err, errlen)) == 0)
		secret_set(out, text, len);
	explicit_bzero(text, sizeof(text));
	return r;
}

/* A new random token in STATE_DIR/api.token (or the one another process
 * wrote there first). */
static int
token_generate(const char *path, struct secret *out, char *err,
    size_t errlen)
{
	unsigned char raw[TOKEN_RANDOM];
	char hex[TOKEN_RANDOM * 2 + 2];
	size_t i;
	int r;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "api token: getrandom: %s",
		    strerror(errno));
		return ERR_CONFIG;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * sizeof(raw)] = '\n';
	hex[2 * sizeof(raw) + 1] = '\0';
	explicit_bzero(raw, sizeof(raw));
	r = fileio_write_new(path, hex, strlen(hex), 0600, false);
	if (r == 0) {
		secret_set(out, hex, 2 * TOKEN_RANDOM);
		log_info("API token written to %s", path);
	} else if (r == -EEXIST)
		r = token_read(path, out, err, errlen);
	else {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		r = ERR_CONFIG;
	}
	explicit_bzero(hex, sizeof(hex));
	return r;
}

/* A configured token (cfg_value), checked and copied into out. */
static int
token_from_config(const char *cfg_value, const char *key, struct secret *out,
    char *err, size_t errlen)
{
	char text[TOKEN_MAX + 2];
	size_t len = strlen(cfg_value);
	int r;

	if (len > TOKEN_MAX) {
		snprintf(err, errlen, "%s: token longer than %d characters",
		    key, TOKEN_MAX);
		return ERR_CONFIG;
	}
	memcpy(text, cfg_value, len + 1);
	if ((r = token_clean(text, &len, key, err, errlen)) == 0)
		secret_set(out, text, len);
	explicit_bzero(text, sizeof(text));
	return r;
}

static int
tokens_setup(struct api *a, const struct config *cfg, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	int r;

	if (cfg->api_token[0] != '\0')
		r = token_from_config(cfg->api_token, "api_token", &a->token,
		    err, errlen);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s",
	    cfg->state_dir, TOKEN_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "state_dir: path too long");
		r = ERR_CONFIG;
	} else if ((r = token_read(path, &a->token, err, errlen)) == -ENOENT)
		r = token_generate(path, &a->token, err, errlen);
	if (r == 0 && cfg->api_read_token[0] != '\0')
		r = token_from_config(cfg->api_read_token, "api_read_token",
		    &a->read_token, err, errlen);
	if (r == 0 && a->read_token.len != 0 &&
	    secret_equal(&a->token, &a->read_token)) {
		snprintf(err, errlen, "api_read_token: same as the full "
		    "access token");
		r = ERR_CONFIG;
	}
	return r;
}

/* ---- setup: TLS files and the listening socket ---- */

/* Reads a PEM file whole; a private one (a key) must be the daemon's
 * user's alone.  Returns 0 or ERR_CONFIG. */
static int
pem_read(const char *path, const char *key, bool private, char **out,
    size_t *lenp, char *err, size_t errlen)
{
	struct buf b;
	char chunk[4096];
	ssize_t n;
	int fd, r = 0;

	buf_init(&b, PEM_MAX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		r = -errno;
	else if (private && secret_private(fd, key, path, err, errlen) != 0) {
		close(fd);
		return ERR_CONFIG;
	}
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0)
		r = n < 0 ? -errno : buf_append(&b, chunk, (size_t)n);
	if (fd >= 0)
		close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	if (r == 0 && b.len == 0)
		r = -ENODATA;
	if (r == 0 && (*out = buf_steal(&b, lenp)) == NULL)
		r = -ENOMEM;
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	if (r == 0)
		return 0;
	snprintf(err, errlen, "%s %s: %s", key, path, r == -E2BIG ?
	    "larger than 1 MiB" : r == -ENODATA ? "empty file" :
	    strerror(-r));
	return ERR_CONFIG;
}

static int
tls_setup(struct api *a, const struct config *cfg, char *err, size_t errlen)
{
	size_t len;
	int r;

	if (cfg->tls_cert[0] == '\0' && cfg->tls_key[0] == '\0')
		return 0;
	if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		snprintf(err, errlen, "tls_cert and tls_key: set both or "
		    "neither");
		return ERR_CONFIG;
	}
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		snprintf(err, errlen, "tls_cert: libmicrohttpd was built "
		    "without TLS");
		return ERR_CONFIG;
	}
	if ((r = pem_read(cfg->tls_cert, "tls_cert", false, &a->cert_pem, &len,
	    err, errlen)) != 0)
		return r;
	return pem_read(cfg->tls_key, "tls_key", true, &a->key_pem,
	    &a->key_len, err, errlen);
}

/* Splits "ADDR:PORT" or "[ADDR6]:PORT" into host and port. */
static int
listen_split(const char *spec, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t n;
	int64_t p;

	if (colon == NULL || dur_parse_int(colon + 1, 0, 65535, &p) != 0)
		return ERR_INVALID;
	n = (size_t)(colon - spec);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	} else if (memchr(h, ':', n) != NULL)
		return ERR_INVALID;	/* IPv6 without brackets */
	if (n == 0 || n >= hostlen)
		return ERR_INVALID;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return 0;
}

bool
api_addr_loopback(const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const unsigned char *b6 = s6->sin6_addr.s6_addr;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
		    >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
		return true;
	return memcmp(b6, mapped, sizeof(mapped)) == 0 && b6[12] == 127;
}

/* A listening socket for cfg->listen; *loopback tells whether it is bound
 * to a loopback address.  Returns 0 or ERR_CONFIG. */
static int
listen_open(const char *spec, int *fdp, int *portp, bool *loopback,
    char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM,
	}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[8];
	int fd = -1, one = 1, r;

	if (listen_split(spec, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(err, errlen, "listen %s: expected ADDR:PORT or "
		    "[ADDR6]:PORT", spec);
		return ERR_CONFIG;
	}
	if ((r = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "listen %s: %s", spec,
		    gai_strerror(r));
		return ERR_CONFIG;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "listen %s: %s", spec, strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return ERR_CONFIG;
	}
	freeaddrinfo(ai);
	*loopback = api_addr_loopback((struct sockaddr *)&ss);
	*portp = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	*fdp = fd;
	return 0;
}

/*
 * The connection limit of all clients together: CONN_LIMIT, but no more
 * than a share of the descriptors the process may open, so that a flood
 * from many addresses leaves descriptors for the runs' pipes, the store
 * and SSH.  A flood from one address is held to api_conn_per_ip well
 * below it, which leaves room for the other clients.
 */
static unsigned
conn_limit(void)
{
	struct rlimit rl;
	rlim_t share;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return CONN_LIMIT;
	share = rl.rlim_cur / CONN_FD_SHARE;
	return share < CONN_LIMIT ? (unsigned)share : CONN_LIMIT;
}

/*
 * Starts libmicrohttpd on fd.  The library owns fd from here on: it closes
 * it at MHD_stop_daemon(), and also when starting fails.
 */
static int
server_start(struct api *a, const struct config *cfg, int fd, char *err,
    size_t errlen)
{
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, a->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, a->key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    (MHD_is_feature_supported(MHD_FEATURE_EPOLL) ? MHD_USE_EPOLL :
	    MHD_USE_AUTO) | (a->cert_pem != NULL ? MHD_USE_TLS : 0);

	a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->api_threads,
	    MHD_OPTION_CONNECTION_LIMIT, conn_limit(),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)cfg->api_conn_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_ARRAY, a->cert_pem != NULL ? tls : &tls[2],
	    MHD_OPTION_END);
	if (a->mhd != NULL)
		return 0;
	snprintf(err, errlen, "listen %s: cannot start the HTTP server%s",
	    cfg->listen, a->cert_pem != NULL ? " (are tls_cert and tls_key a "
	    "matching PEM certificate and key?)" : "");
	return ERR_CONFIG;
}

/* ---- lifecycle ---- */

static int
api_alloc(const struct config *cfg, struct api **out, char *err,
    size_t errlen)
{
	const char *errstr = NULL;
	struct api *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	*out = a;
	a->listen_fd = -1;
	a->body_max = (size_t)cfg->api_body_max;
	a->nice = (int)cfg->api_nice;
	pthread_mutex_init(&a->stores_lock, NULL);
	if (pthread_key_create(&a->store_key, NULL) != 0)
		return -EAGAIN;
	a->key_made = true;
	if (asprintf(&a->db_path, "%s/%s", cfg->state_dir, STORE_FILE) < 0) {
		a->db_path = NULL;
		return -ENOMEM;
	}
	if (tz_get(cfg->timezone[0] != '\0' ? cfg->timezone : NULL, &a->zone,
	    &errstr) != 0) {
		snprintf(err, errlen, "timezone %s: %s", cfg->timezone,
		    errstr != NULL ? errstr : "unknown");
		return ERR_CONFIG;
	}
	return 0;
}

/* Frees a after a failed step, with err saying why. */
static int
api_fail(struct api *a, int r, char *err, size_t errlen)
{
	if (err[0] == '\0')
		snprintf(err, errlen, "api: %s", err_str(r));
	api_free(a);
	return r == -ENOMEM ? r : ERR_CONFIG;
}

int
api_listen(const struct config *cfg, struct api **out, char *err,
    size_t errlen)
{
	struct api *a = NULL;
	int r;

	*out = NULL;
	snprintf(err, errlen, "%s", "");
	if ((r = api_alloc(cfg, &a, err, errlen)) != 0 ||
	    (r = tls_setup(a, cfg, err, errlen)) != 0 ||
	    (r = listen_open(cfg->listen, &a->listen_fd, &a->port,
	    &a->loopback, err, errlen)) != 0)
		return api_fail(a, r, err, errlen);
	*out = a;
	return 0;
}

int
api_start(struct api *a, const struct config *cfg,
    const struct api_backend *be, char *err, size_t errlen)
{
	int fd = a->listen_fd, r;

	snprintf(err, errlen, "%s", "");
	a->be = *be;
	if ((r = tokens_setup(a, cfg, err, errlen)) != 0)
		return r == -ENOMEM ? r : ERR_CONFIG;
	a->listen_fd = -1;		/* libmicrohttpd's from here on */
	if ((r = server_start(a, cfg, fd, err, errlen)) != 0)
		return ERR_CONFIG;
	log_info("API listening on %s (port %d%s)", cfg->listen, a->port,
	    a->cert_pem != NULL ? ", TLS" : "");
	if (!a->loopback && a->cert_pem == NULL)
		log_warn("API listening on %s, not a loopback address, without "
		    "TLS: tokens and job definitions cross the network in "
		    "clear text (set tls_cert and tls_key, or listen on "
		    "127.0.0.1)", cfg->listen);
	return 0;
}

int
api_new(const struct config *cfg, const struct api_backend *be,
    struct api **out, char *err, size_t errlen)
{
	struct api *a = NULL;
	int r;

	if ((r = api_listen(cfg, &a, err, errlen)) != 0)
		return r;
	if ((r = api_start(a, cfg, be, err, errlen)) != 0)
		return api_fail(a, r, err, errlen);
	*out = a;
	return 0;
}

void
api_free(struct api *a)
{
	struct api_store *s;

	if (a == NULL)
		return;
	if (a->mhd != NULL)
		MHD_stop_daemon(a->mhd);
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	while ((s = a->stores) != NULL) {
		a->stores = s->next;
		store_close(s->st);
		free(s);
	}
	if (a->key_made)
		pthread_key_delete(a->store_key);
	pthread_mutex_destroy(&a->stores_lock);
	if (a->key_pem != NULL)
		explicit_bzero(a->key_pem, a->key_len);
	free(a->key_pem);
	free(a->cert_pem);
	free(a->db_path);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

int
api_port(const struct api *a)
{
	return a->port;
}
