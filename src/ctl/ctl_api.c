/*
 * ctl_api.c - distcronctl's commands that talk to a running distcrond:
 * jobs, show, run, runs, cancel, nodes, pause, resume, apply, delete, task,
 * secret (set, list, delete; its rotate is offline: ctl_secret.c).
 *
 * Each one sends a request or two to distcrond's REST API
 * (include/distcron/api.h) through the apiclient module (blocking, one
 * client per invocation) and prints the answer with the ctlview module as
 * a table or text, or as the API's JSON with --json.  The API is found
 * through --url/--token, else DISTCRON_URL/DISTCRON_TOKEN, else the
 * daemon's own settings: "listen" (https when "tls_cert" is set) and
 * "api_token" or STATE_DIR/api.token.  An API error is printed as the API
 * gave it ("422: schedule.cron: ...") and exits 1; with --wait, exit 1
 * means the run failed, so API errors exit 2 instead.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "distcron/api.h"
#include "distcron/apiclient.h"
#include "distcron/buf.h"
#include "distcron/ctlview.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/secbox.h"
#include "distcron/tz.h"
#include "ctl_int.h"

#define PROG		CTLOPT_PROG
#define API_TOKEN_FILE	"api.token"

#define API_TOKEN_MAX	4096
#define API_MSG_MAX	1024
#define API_POLL_MIN_MS	100
#define API_POLL_MAX_MS	1000
#define RUNS_DEFAULT	20
#define RUNS_MAX	10000

/* A connection to the API for one command. */
struct api_ctx {
	struct apiclient *client;
	bool json;
	int fail;		/* exit status of an API error */
};

/* A flag's value, else the environment's (unset or empty: NULL). */
static const char *
flag_or_env(const char *flag, const char *name)
{
	const char *v = flag != NULL ? flag : getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * The URL of the API that cfg->listen ("ADDR:PORT") serves: a wildcard
 * address is reached on loopback, an IPv6 one in brackets.
 */
static char *
listen_url(const struct config *cfg)
{
	const char *colon = strrchr(cfg->listen, ':');
	const char *scheme = cfg->tls_cert[0] != '\0' ? "https" : "http";
	int alen = colon != NULL ? (int)(colon - cfg->listen) : 0;
	const char *addr = cfg->listen;
	struct buf b;

	if (colon == NULL)
		return NULL;
	if (alen == 0 || (alen == 7 && strncmp(addr, "0.0.0.0", 7) == 0)) {
		addr = "127.0.0.1";
		alen = 9;
	} else if ((alen == 2 && strncmp(addr, "::", 2) == 0) ||
	    (alen == 4 && strncmp(addr, "[::]", 4) == 0)) {
		addr = "[::1]";
		alen = 5;
	}
	buf_init(&b, strlen(cfg->listen) + 32);
	if (addr[0] != '[' && memchr(addr, ':', (size_t)alen) != NULL)
		(void)buf_printf(&b, "%s://[%.*s]%s", scheme, alen, addr, colon);
	else
		(void)buf_printf(&b, "%s://%.*s%s", scheme, alen, addr, colon);
	return buf_steal(&b, NULL);
}

/* The first line of a token file (refused when group or others may read
 * it), or NULL after saying why there is none. */
static char *
file_token(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = ctl_read_secret(path, "api token file", API_TOKEN_MAX, &text,
	    &len)) == ERR_CONFIG)
		return NULL;		/* said */
	if (r == 0) {
		text[strcspn(text, "\r\n")] = '\0';
		if (text[0] != '\0')
			return text;
		r = ERR_INVALID;
	}
	fprintf(stderr, "%s: no API token: %s: %s (give --token or set "
	    "DISTCRON_TOKEN)\n", PROG, path, r == ERR_INVALID ?
	    "empty file" : err_str(r));
	if (text != NULL)
		explicit_bzero(text, len);
	free(text);
	return NULL;
}

/* The daemon's token: api_token, else the first line of
 * STATE_DIR/api.token.  Prints why there is none. */
static char *
config_token(const struct config *cfg)
{
	char path[PATH_MAX];
	int n;

	if (cfg->api_token[0] != '\0')
		return strdup(cfg->api_token);
	n = snprintf(path, sizeof(path), "%s/%s", cfg->state_dir,
	    API_TOKEN_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "%s: no API token: %s/%s: %s\n", PROG,
		    cfg->state_dir, API_TOKEN_FILE, err_str(-ENAMETOOLONG));
		return NULL;
	}
	return file_token(path);
}

/* Wipes and frees a token copy. */
static void
token_free(char *token)
{
	if (token != NULL)
		explicit_bzero(token, strlen(token));
	free(token);
}

/* Fills url and token from the daemon's settings where they are NULL. */
static int
api_discover(const struct ctlopt_vals *o, char **url, char **token)
{
	struct ctl_settings s;
	int r = 0;

	if ((r = ctl_settings_load(&s, o)) != 0) {
		ctl_settings_free(&s);
		return r;
	}
	if (*url == NULL && (*url = listen_url(&s.cfg)) == NULL) {
		fprintf(stderr, "%s: listen: '%s' is not ADDR:PORT\n", PROG,
		    s.cfg.listen);
		r = ERR_CONFIG;
	}
	if (r == 0 && *token == NULL && (*token = config_token(&s.cfg)) ==
	    NULL)
		r = ERR_CONFIG;
	ctl_settings_free(&s);
	return r;
}

static int
api_client_new(const char *url, const char *token, const char *ca_file,
    struct apiclient **out)
{
	int r;

	if ((r = apiclient_open(url, token, out)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, r == ERR_INVALID ?
		    "bad URL or token (the URL must start with http:// or "
		    "https://)" : "cannot set up the API client", err_str(r));
		return r;
	}
	if (ca_file != NULL && (r = apiclient_set_ca_file(*out,
	    ca_file)) != 0)
		fprintf(stderr, "%s: --cacert: %s\n", PROG, err_str(r));
	return r;
}

/* Finds the API and opens a client; prints why not. */
static int
api_open(const struct ctlopt_vals *o, struct api_ctx *a)
{
	const char *url = flag_or_env(o->url, "DISTCRON_URL");
	const char *token = o->token;
	char *url_found = NULL, *token_found = NULL;
	int r = 0;

	a->client = NULL;
	a->json = o->json;
	a->fail = o->wait ? CTLOPT_USAGE : 1;
	signal(SIGPIPE, SIG_IGN);	/* a server that hangs up is an error */
	if (token == NULL && o->token_file != NULL) {
		if ((token_found = file_token(o->token_file)) == NULL)
			return ERR_CONFIG;
		token = token_found;
	} else if (token == NULL)
		token = flag_or_env(NULL, "DISTCRON_TOKEN");
	if (url == NULL || token == NULL) {
		if (url != NULL && (url_found = strdup(url)) == NULL)
			r = -ENOMEM;
		if (token != NULL && token_found == NULL &&
		    (token_found = strdup(token)) == NULL)
			r = -ENOMEM;
		if (r == 0)
			r = api_discover(o, &url_found, &token_found);
		url = url_found;
		token = token_found;
	}
	if (r == 0)
		r = api_client_new(url, token, flag_or_env(o->ca_file,
		    "DISTCRON_CA_FILE"), &a->client);
	free(url_found);
	token_free(token_found);
	return r;
}

static void
api_close(struct api_ctx *a)
{
	apiclient_free(a->client);
	a->client = NULL;
}

/*
 * Sends a request and parses its JSON answer into *root (the caller puts
 * it).  A failure or an error status is printed; returns 0 or the exit
 * status of an API error.
 */
static int
api_call(struct api_ctx *a, const char *method, const char *path,
    const char *body, size_t len, long *statusp, json_object **root)
{
	char msg[API_MSG_MAX], *text = NULL;
	long status = 0;

	*root = NULL;
	if (apiclient_request(a->client, method, path, body, len, &status,
	    &text) != 0) {
		fprintf(stderr, "%s: %s\n", PROG, apiclient_error(a->client));
		return a->fail;
	}
	if (status < 200 || status > 299) {
		apiclient_error_text(status, text, msg, sizeof(msg));
		fprintf(stderr, "%s: %s\n", PROG, msg);
	} else
		*root = ctlview_parse(text, stderr);
	free(text);
	if (statusp != NULL)
		*statusp = status;
	return *root != NULL ? 0 : a->fail;
}

/* "/PREFIX/NAME[SUFFIX]" with the name escaped; NULL on no memory. */
static char *
api_path(const char *prefix, const char *name, const char *suffix)
{
	char *esc = apiclient_escape(name);
	struct buf b;

	if (esc == NULL)
		return NULL;
	buf_init(&b, strlen(prefix) + strlen(esc) + strlen(suffix) + 2);
	(void)buf_printf(&b, "%s/%s%s", prefix, esc, suffix);
	free(esc);
	return buf_steal(&b, NULL);
}

/* Sends a request about one object ("/jobs" + name + suffix). */
static int
api_call_on(struct api_ctx *a, const char *method, const char *prefix,
    const char *name, const char *suffix, const char *body, size_t len,
    long *status, json_object **root)
{
	char *path = api_path(prefix, name, suffix);
	int r;

	if (path == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, strerror(ENOMEM));
		return a->fail;
	}
	r = api_call(a, method, path, body, len, status, root);
	free(path);
	return r;
}

/*
 * jobs, show
 */

/* GET /jobs?limit=API_PAGE_MAX[&after=AFTER]; after is escaped. */
static int
jobs_get_page(struct api_ctx *a, const char *after, json_object **page)
{
	struct buf b;
	char *esc = NULL;
	int status;

	buf_init(&b, 1024);
	if ((after != NULL && (esc = apiclient_escape(after)) == NULL) ||
	    buf_printf(&b, "/jobs?limit=%d%s%s", API_PAGE_MAX,
	    esc != NULL ? "&after=" : "", esc != NULL ? esc : "") != 0) {
		fprintf(stderr, "%s: jobs: %s\n", PROG, strerror(ENOMEM));
		status = a->fail;
	} else
		status = api_call(a, "GET", buf_str(&b), NULL, 0, NULL, page);
	free(esc);
	buf_free(&b);
	return status;
}

/*
 * Every job, page after page (GET /jobs answers API_PAGE_MAX at most and
 * names the page's last job in "next_after" while more follow), gathered
 * into *all = {"jobs": [...]}.  A server whose next page does not move
 * forward is an error, never a loop.
 */
static int
jobs_get_all(struct api_ctx *a, json_object **all)
{
	json_object *page = NULL, *jobs, *arr = json_object_new_array();
	char after[DEFS_NAME_MAX + 1] = "";
	const char *next;
	bool more;
	size_t i;
	int status;

	*all = json_object_new_object();
	json_object_object_add(*all, "jobs", arr);
	do {
		if ((status = jobs_get_page(a, after[0] != '\0' ? after : NULL,
		    &page)) != 0)
			return status;
		jobs = ctlview_get(page, "jobs");
		for (i = 0; json_object_is_type(jobs, json_type_array) &&
		    i < json_object_array_length(jobs); i++)
			json_object_array_add(arr, json_object_get(
			    json_object_array_get_idx(jobs, i)));
		if ((next = ctlview_string(page, "next_after")) != NULL &&
		    (strcmp(next, after) <= 0 || strlen(next) >= sizeof(after))) {
			fprintf(stderr, "%s: jobs: the server's next page "
			    "(after '%s') does not follow '%s'\n", PROG, next,
			    after);
			status = a->fail;
			next = NULL;
		} else if (next != NULL)
			snprintf(after, sizeof(after), "%s", next);
		more = next != NULL;
		json_object_put(page);
	} while (more);
	return status;
}

static int
jobs_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	struct api_ctx a;
	json_object *root = NULL;
	int status;

	(void)argc;
	(void)argv;
	if (api_open(o, &a) != 0)
		return 1;
	if ((status = jobs_get_all(&a, &root)) == 0)
		status = o->json ? (ctlview_json(root, stdout), 0) :
		    ctlview_jobs(root, stdout, stderr);
	json_object_put(root);
	api_close(&a);
	return status;
}

static int
show_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	struct api_ctx a;
	json_object *root = NULL;
	int status;

	(void)argc;
	if (api_open(o, &a) != 0)
		return 1;
	status = api_call_on(&a, "GET", "/jobs", argv[0], "", NULL, 0,
	    NULL, &root);
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		ctlview_show(root, stdout);
	json_object_put(root);
	api_close(&a);
	return status;
}

/*
 * run, task: waiting for a run
 */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* True once a run's status will not change (SUCCESS, FAILURE, LOST, or
 * a status this client does not know). */
static bool
run_final(const char *status)
{
	return strcmp(status, "PENDING") != 0 &&
	    strcmp(status, "STARTED") != 0 && strcmp(status, "RETRY") != 0;
}

/* Sleeps *delay ms, but not past deadline (0: none); doubles *delay up
 * to API_POLL_MAX_MS. */
static void
poll_sleep(int64_t deadline, int64_t *delay)
{
	int64_t ms = *delay, left = deadline - mono_ms();

	if (deadline > 0 && left < ms)
		ms = left > 0 ? left : 1;
	sleep_ms(ms);
	*delay = *delay * 2 > API_POLL_MAX_MS ? API_POLL_MAX_MS : *delay * 2;
}

/*
 * Polls GET /runs/ID until the run is final or timeout_ms (0: none)
 * passes.  Returns 0 on SUCCESS, 1 on another final status, 2 on an API
 * error or when the time runs out.
 */
static int
run_wait(struct api_ctx *a, int64_t id, int64_t timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms, delay = API_POLL_MIN_MS;
	json_object *run = NULL;
	char path[64];
	const char *st;
	int status, told = 0;

	snprintf(path, sizeof(path), "/runs/%lld", (long long)id);
	for (;;) {
		if ((status = api_call(a, "GET", path, NULL, 0, NULL,
		    &run)) != 0)
			return status;
		if ((st = ctlview_string(run, "status")) == NULL) {
			fprintf(stderr, "%s: the answer of distcrond has no "
			    "run status\n", PROG);
			json_object_put(run);
			return a->fail;
		}
		if (run_final(st))
			break;
		if (!told && ctlview_run_waiting(run)) {
			fprintf(stderr, "%s: run %lld is WAITING for a free slot "
			    "(max_concurrent_runs)\n", PROG, (long long)id);
			told = 1;
		}
		if (timeout_ms > 0 && mono_ms() >= deadline) {
			fprintf(stderr, "%s: run %lld is still %s after the "
			    "--timeout; it goes on\n", PROG, (long long)id, st);
			json_object_put(run);
			return CTLOPT_USAGE;
		}
		json_object_put(run);
		poll_sleep(timeout_ms > 0 ? deadline : 0, &delay);
	}
	if (a->json)
		ctlview_json(run, stdout);
	else
		ctlview_run(run, id, stdout);
	status = strcmp(st, "SUCCESS") == 0 ? 0 : 1;
	json_object_put(run);
	return status;
}

/* After POST .../run or /tasks: prints the id, or waits for the run. */
static int
run_started(struct api_ctx *a, json_object *root, bool wait,
    int64_t timeout_ms)
{
	int64_t id;

	if (!ctlview_int(root, "id", &id)) {
		fprintf(stderr, "%s: the answer of distcrond has no run id\n",
		    PROG);
		return a->fail;
	}
	if (wait)
		return run_wait(a, id, timeout_ms);
	if (a->json)
		ctlview_json(root, stdout);
	else
		printf("%lld\n", (long long)id);
	return 0;
}

static int
run_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	json_object *root = NULL;
	struct api_ctx a;
	int status;

	(void)argc;
	if (o->timeout.ms > 0 && !o->wait)
		return ctlopt_usage_error("run", "run: --timeout needs --wait");
	if (api_open(o, &a) != 0)
		return o->wait ? CTLOPT_USAGE : 1;
	if ((status = api_call_on(&a, "POST", "/jobs", argv[0], "/run",
	    NULL, 0, NULL, &root)) == 0)
		status = run_started(&a, root, o->wait, o->timeout.ms);
	json_object_put(root);
	api_close(&a);
	return status;
}

/*
 * runs, cancel
 */

/* --since: a duration ("2h": that long ago) becomes a time; anything
 * else goes to the API as it is. */
static int
since_param(const char *since, char *out, size_t outlen)
{
	const char *errstr = NULL;
	const struct tz *zone;
	int64_t ms;

	if (dur_parse(since, &ms, &errstr) != 0) {
		snprintf(out, outlen, "%s", since);
		return 0;
	}
	if (ctl_zone_get(NULL, &zone) != 0)
		return ERR_CONFIG;
	return tz_format_iso8601(zone, (int64_t)time(NULL) - ms / 1000, out,
	    outlen);
}

/* Appends "&key=escaped value" (the first '&' a '?'). */
static int
query_add(struct buf *b, const char *key, const char *value)
{
	char *esc;
	int r;

	if (value == NULL)
		return 0;
	if ((esc = apiclient_escape(value)) == NULL)
		return -ENOMEM;
	r = buf_printf(b, "%c%s=%s", strchr(buf_str(b), '?') ? '&' : '?',
	    key, esc);
	free(esc);
	return r;
}

static char *
runs_path(const struct ctlopt_vals *ro)
{
	char since[64], limit[24];
	struct buf b;

	snprintf(limit, sizeof(limit), "%lld", (long long)ro->count);
	if (ro->since != NULL && since_param(ro->since, since,
	    sizeof(since)) != 0)
		return NULL;
	buf_init(&b, 4096);
	if (buf_puts(&b, "/runs") != 0 ||
	    query_add(&b, "job", ro->job) != 0 ||
	    query_add(&b, "status", ro->status) != 0 ||
	    query_add(&b, "since", ro->since ? since : NULL) != 0 ||
	    query_add(&b, "limit", limit) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static int
runs_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	json_object *root = NULL;
	struct api_ctx a;
	char *path;
	int status;

	(void)argc;
	(void)argv;
	if ((path = runs_path(o)) == NULL) {
		fprintf(stderr, "%s: runs: cannot build the query\n", PROG);
		return 1;
	}
	if (api_open(o, &a) != 0) {
		free(path);
		return 1;
	}
	if ((status = api_call(&a, "GET", path, NULL, 0, NULL, &root)) == 0)
		status = o->json ? (ctlview_json(root, stdout), 0) :
		    ctlview_runs(root, stdout, stderr);
	json_object_put(root);
	api_close(&a);
	free(path);
	return status;
}

static int
cancel_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	json_object *root = NULL;
	struct api_ctx a;
	int64_t id;
	int status;

	(void)argc;
	if (dur_parse_int(argv[0], 1, INT64_MAX, &id) != 0)
		return ctlopt_usage_error("cancel", "cancel: '%s' is not a run "
		    "id", argv[0]);
	if (api_open(o, &a) != 0)
		return 1;
	status = api_call_on(&a, "DELETE", "/runs", argv[0], "", NULL, 0,
	    NULL, &root);
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("cancelling run %lld\n", (long long)id);
	json_object_put(root);
	api_close(&a);
	return status;
}

/*
 * nodes
 */

/* GET path, printed by view (or as JSON with --json). */
static int
get_view(const struct ctlopt_vals *o, const char *path,
    int (*view)(json_object *, FILE *, FILE *))
{
	json_object *root = NULL;
	struct api_ctx a;
	int status;

	if (api_open(o, &a) != 0)
		return 1;
	if ((status = api_call(&a, "GET", path, NULL, 0, NULL, &root)) == 0)
		status = o->json ? (ctlview_json(root, stdout), 0) :
		    view(root, stdout, stderr);
	json_object_put(root);
	api_close(&a);
	return status;
}

static int
nodes_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return get_view(o, "/nodes", ctlview_nodes);
}

/*
 * cluster
 */

static int
cluster_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return get_view(o, "/cluster", ctlview_cluster);
}

/*
 * pause, resume, delete
 */

/* One request about the job name; done says what happened ("paused"). */
static int
job_action(const struct ctlopt_vals *o, const char *name,
    const char *method, const char *suffix, const char *done)
{
	json_object *root = NULL;
	struct api_ctx a;
	int status;

	if (api_open(o, &a) != 0)
		return 1;
	status = api_call_on(&a, method, "/jobs", name, suffix, NULL, 0, NULL,
	    &root);
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("%s %s\n", done, name);
	json_object_put(root);
	api_close(&a);
	return status;
}

static int
pause_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	(void)argc;
	return job_action(o, argv[0], "POST", "/pause", "paused");
}

static int
resume_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	(void)argc;
	return job_action(o, argv[0], "POST", "/resume", "resumed");
}

static int
delete_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	(void)argc;
	return job_action(o, argv[0], "DELETE", "", "deleted");
}

/*
 * outbox
 */

/* POST /outbox/retry for one id or all parked entries. */
static int
outbox_retry(const struct ctlopt_vals *o, struct api_ctx *a, const char *id)
{
	json_object *root = NULL;
	char body[64];
	int64_t n = 0;
	int status;

	if (o->all)
		snprintf(body, sizeof(body), "{\"all\": true}");
	else
		snprintf(body, sizeof(body), "{\"id\": %s}", id);
	status = api_call(a, "POST", "/outbox/retry", body, strlen(body),
	    NULL, &root);
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0) {
		ctlview_int(root, "requeued", &n);
		printf("re-queued %lld outbox entr%s\n", (long long)n,
		    n == 1 ? "y" : "ies");
	}
	json_object_put(root);
	return status;
}

static int
outbox_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	json_object *root = NULL;
	struct api_ctx a;
	int64_t id;
	int status;

	if (argc > 0 && strcmp(argv[0], "retry") != 0)
		return ctlopt_usage_error("outbox", "outbox: unknown "
		    "subcommand '%s' (retry)", argv[0]);
	if (argc > 0 && (argc == 2) == o->all)
		return ctlopt_usage_error("outbox", "outbox: retry needs an "
		    "ID or --all");
	if (argc == 2 && dur_parse_int(argv[1], 1, INT64_MAX, &id) != 0)
		return ctlopt_usage_error("outbox", "outbox: '%s' is not an "
		    "outbox entry id", argv[1]);
	if (argc > 2 || (argc == 0 && o->all))
		return ctlopt_usage_error("outbox", "outbox: too many "
		    "operands");
	if (api_open(o, &a) != 0)
		return 1;
	if (argc > 0)
		status = outbox_retry(o, &a, argc == 2 ? argv[1] : NULL);
	else if ((status = api_call(&a, "GET", "/outbox", NULL, 0, NULL,
	    &root)) == 0)
		status = o->json ? (ctlview_json(root, stdout), 0) :
		    ctlview_outbox(root, stdout, stderr);
	json_object_put(root);
	api_close(&a);
	return status;
}

/*
 * apply
 */

/* The job name of a file: its base name without ".json". */
static char *
apply_name(const char *file)
{
	const char *base = strrchr(file, '/');
	size_t n;

	base = base != NULL ? base + 1 : file;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return strndup(base, n);
}

static int
apply_send(const struct ctlopt_vals *o, const char *name, const char *body,
    size_t len)
{
	json_object *root = NULL, *created;
	struct api_ctx a;
	long code = 0;
	int status;

	if (api_open(o, &a) != 0)
		return 1;
	status = api_call_on(&a, "PUT", "/jobs", name, "", body, len, &code,
	    &root);
	created = ctlview_get(root, "created");
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("%s %s\n", (created != NULL ?
		    json_object_get_boolean(created) : code == 201) ?
		    "created" : "replaced", name);
	json_object_put(root);
	api_close(&a);
	return status;
}

static int
apply_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	const char *file = argv[0], *name = o->name;
	char *text = NULL, *owned = NULL;
	size_t len = 0;
	int r, status = 1;

	(void)argc;
	if (name == NULL && strcmp(file, "-") == 0)
		return ctlopt_usage_error("apply", "apply: reading stdin needs "
		    "--name");
	if (name == NULL && (name = owned = apply_name(file)) == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, strerror(ENOMEM));
		return 1;
	}
	r = ctl_read_text(strcmp(file, "-") == 0 ? "/dev/stdin" : file,
	    DEFS_FILE_MAX, &text, &len);
	if (r != 0)
		fprintf(stderr, "%s: %s: %s\n", PROG, file, err_str(r));
	else
		status = apply_send(o, name, text, len);
	free(text);
	free(owned);
	return status;
}

/*
 * task
 */

/* A JSON array of the strings of l. */
static json_object *
strv_json(const struct ctlopt_list *l)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_array_add(arr, json_object_new_string(l->v[i]));
	return arr;
}

/* {"command": [argv...], "policy": {...}, "timeout": DUR}. */
static json_object *
task_body(const struct ctlopt_vals *t, int argc, char **argv)
{
	json_object *body = json_object_new_object(), *cmd, *policy = NULL;
	int i;

	cmd = json_object_new_array();
	for (i = 0; i < argc; i++)
		json_object_array_add(cmd, json_object_new_string(argv[i]));
	json_object_object_add(body, "command", cmd);
	if (t->all || t->nodes.n > 0 || t->roles.n > 0) {
		policy = json_object_new_object();
		json_object_object_add(policy, "hosts",
		    json_object_new_string(t->all ? "all" : "any"));
		if (t->nodes.n > 0)
			json_object_object_add(policy, "nodes",
			    strv_json(&t->nodes));
		if (t->roles.n > 0)
			json_object_object_add(policy, "roles",
			    strv_json(&t->roles));
		json_object_object_add(body, "policy", policy);
	}
	if (t->timeout.text != NULL)
		json_object_object_add(body, "timeout",
		    json_object_new_string(t->timeout.text));
	return body;
}

static int
task_run(const struct ctlopt_vals *o, int argc, char **argv)
{
	json_object *body = task_body(o, argc, argv), *root = NULL;
	const char *text = json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct api_ctx a;
	int status;

	if (api_open(o, &a) != 0) {
		json_object_put(body);
		return o->wait ? CTLOPT_USAGE : 1;
	}
	if ((status = api_call(&a, "POST", "/tasks", text, strlen(text), NULL,
	    &root)) == 0)
		status = run_started(&a, root, o->wait, 0);
	json_object_put(root);
	json_object_put(body);
	api_close(&a);
	return status;
}

static int
task_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	if (o->nodes.n > 0 && o->roles.n > 0)
		return ctlopt_usage_error("task", "task: give --node or --role, "
		    "not both");
	if (argc == 0)
		return ctlopt_usage_error("task", "task: missing CMD");
	return task_run(o, argc, argv);
}

/*
 * The options and help of the API commands.
 */

static const struct ctlopt api_opts[] = {
	CTLOPT_OPT("url", 0, "URL", CTLOPT_STR, url,
	    "the API, e.g. http://127.0.0.1:8080"),
	CTLOPT_OPT("token", 0, "TOKEN", CTLOPT_STR, token,
	    "bearer token (visible in ps: prefer DISTCRON_TOKEN)"),
	CTLOPT_OPT("token-file", 0, "FILE", CTLOPT_STR, token_file,
	    "read the token from FILE's first line (mode 0600)"),
	CTLOPT_OPT("cacert", 0, "FILE", CTLOPT_STR, ca_file,
	    "verify the server's TLS certificate with FILE"),
	CTLOPT_OPT("config", 'c', "FILE", CTLOPT_STR, config_file,
	    "the daemon's config file, for listen and api_token"),
	CTLOPT_OPT("json", 'J', NULL, CTLOPT_FLAG, json,
	    "print the API's JSON answer"),
	CTLOPT_END,
};

static const struct ctlopt_group api_group = {
	api_opts,
	"Without --url/--token: DISTCRON_URL, DISTCRON_TOKEN and "
	"DISTCRON_CA_FILE,\n"
	"else the daemon's settings (listen, tls_cert, and api_token or\n"
	"STATE_DIR/" API_TOKEN_FILE ").\n",
};

/* A command with the API options: NAME, SYNOPSIS, SUMMARY, its own
 * options, NOTES, operands and their name. */
#define API_COMMAND(cname, syn, sum, own, note, n, what) \
	{ .name = cname, .synopsis = syn, .summary = sum, .opts = own, \
	  .group = &api_group, .notes = note, .nargs = n, .operand = what }

const struct ctl_command ctl_jobs = {
	API_COMMAND("jobs", "[API OPTIONS]",
	    "list the jobs of a running distcrond", NULL,
	    "Columns: NAME, SCHEDULE, NEXT RUN, LAST STATUS (of the last "
	    "run),\n"
	    "RUNNING (runs in progress), PAUSED.\n", 0, NULL),
	jobs_main,
};

const struct ctl_command ctl_show = {
	API_COMMAND("show", "JOB [API OPTIONS]",
	    "show a job's definition and state", NULL,
	    "Prints the job's state (paused, next run, last run...) and its\n"
	    "definition as the daemon loaded it.\n", 1, "JOB"),
	show_main,
};

static const struct ctlopt run_opts[] = {
	CTLOPT_OPT("wait", 'w', NULL, CTLOPT_FLAG, wait,
	    "wait for the run to finish and print its result\n"
	    "                        on every node (status, exit code, "
	    "output)"),
	CTLOPT_OPT("timeout", 't', "DUR", CTLOPT_DUR, timeout,
	    "stop waiting after DUR (10s, 5m); the run goes on"),
	CTLOPT_END,
};

const struct ctl_command ctl_run = {
	API_COMMAND("run", "JOB [--wait [--timeout DUR]] [API OPTIONS]",
	    "start a run of a job now", run_opts,
	    "Prints the id of the new run.  With --wait, exits 0 if the run "
	    "succeeded,\n"
	    "1 if it failed or was lost, 2 on a usage or API error or when\n"
	    "--timeout passed.\n", 1, "JOB"),
	run_main,
};

static const struct ctlopt runs_opts[] = {
	CTLOPT_OPT("job", 'j', "JOB", CTLOPT_STR, job, "runs of JOB only"),
	CTLOPT_OPT("status", 's', "S", CTLOPT_STR, status,
	    "runs in status S (SUCCESS, FAILURE, STARTED...)"),
	CTLOPT_OPT("since", 'S', "T", CTLOPT_STR, since,
	    "runs since T: ISO 8601, or a duration ago (2h)"),
	CTLOPT_COUNT_OPT("limit", 'n', "N", RUNS_DEFAULT, RUNS_MAX,
	    "newest N runs (default 20, max 10000)"),
	CTLOPT_END,
};

const struct ctl_command ctl_runs = {
	API_COMMAND("runs", "[--job JOB] [--status S] [--since T] [-n N] "
	    "[API OPTIONS]",
	    "list recent runs (of all jobs and tasks)", runs_opts,
	    "See also 'history', which reads the store without the daemon.\n",
	    0, NULL),
	runs_main,
};

const struct ctl_command ctl_cancel = {
	API_COMMAND("cancel", "ID [API OPTIONS]",
	    "cancel a pending or running run", NULL,
	    "Exits 1 if the run is unknown or already finished.\n", 1, "ID"),
	cancel_main,
};

const struct ctl_command ctl_nodes = {
	API_COMMAND("nodes", "[API OPTIONS]", "list the nodes and their health",
	    NULL,
	    "Columns: NAME, TYPE (local, ssh), ROLES, STATUS (up, down, "
	    "disabled),\n"
	    "SINCE (when it changed), RUNNING (runs on it), LAST ERROR.\n",
	    0, NULL),
	nodes_main,
};

const struct ctl_command ctl_cluster = {
	API_COMMAND("cluster", "[API OPTIONS]",
	    "show the cluster: members, the jobs each owns, etcd", NULL,
	    "Cluster mode (cluster.etcd): this daemon's lease (ok, or why it "
	    "launches\n"
	    "nothing), then MEMBER, HOST, PID, UP (since it registered), JOBS "
	    "(how many\n"
	    "it owns), VERSION; then etcd's endpoints (the one in use and "
	    "whether it\n"
	    "answers); then, if any, the jobs whose files differ between "
	    "members\n"
	    "(which members have which file, or miss it).  A daemon not in "
	    "cluster\n"
	    "mode answers 404.\n", 0, NULL),
	cluster_main,
};

const struct ctl_command ctl_pause = {
	API_COMMAND("pause", "JOB [API OPTIONS]", "stop scheduling a job", NULL,
	    "Scheduled runs stop until 'resume' (kept across restarts); "
	    "'run' still\n"
	    "works.\n", 1, "JOB"),
	pause_main,
};

const struct ctl_command ctl_resume = {
	API_COMMAND("resume", "JOB [API OPTIONS]", "schedule a paused job again",
	    NULL, NULL, 1, "JOB"),
	resume_main,
};

static const struct ctlopt apply_opts[] = {
	CTLOPT_OPT("name", 'k', "JOB", CTLOPT_STR, name,
	    "the job's name (default: FILE's name without .json;\n"
	    "                        needed when FILE is - for stdin)"),
	CTLOPT_END,
};

const struct ctl_command ctl_apply = {
	API_COMMAND("apply", "FILE [--name JOB] [API OPTIONS]",
	    "create or replace a job from a JSON file", apply_opts,
	    "The daemon validates the job, writes it to its jobs directory "
	    "and schedules\n"
	    "it; prints \"created JOB\" or \"replaced JOB\".  An invalid job "
	    "exits 1 with\n"
	    "the daemon's message (422: FIELD: REASON).\n", 1, "FILE"),
	apply_main,
};

const struct ctl_command ctl_delete = {
	API_COMMAND("delete", "JOB [API OPTIONS]",
	    "remove a job (its file, or its etcd key)", NULL, NULL, 1, "JOB"),
	delete_main,
};

static const struct ctlopt outbox_opts[] = {
	CTLOPT_OPT("all", 'a', NULL, CTLOPT_FLAG, all,
	    "retry: every parked entry"),
	CTLOPT_END,
};

const struct ctl_command ctl_outbox = {
	API_COMMAND("outbox", "[retry ID|retry --all] [API OPTIONS]",
	    "list parked outbox entries, or re-queue them", outbox_opts,
	    "Lists the reports and notifications a sink refused for good, "
	    "with the\n"
	    "sink's reason: ID, RUN, JOB, SINK, EVENT, ATTEMPTS, WHY.  "
	    "'retry ID' or\n"
	    "'retry --all' queues them again for delivery.\n", -1, NULL),
	outbox_main,
};

static const struct ctlopt task_opts[] = {
	CTLOPT_OPT("node", 'N', "N", CTLOPT_LIST, nodes,
	    "run on node N (repeatable)"),
	CTLOPT_OPT("role", 'r', "R", CTLOPT_LIST, roles,
	    "run on nodes with role R (repeatable)"),
	CTLOPT_OPT("all", 'a', NULL, CTLOPT_FLAG, all,
	    "on every chosen node (default: any one)"),
	CTLOPT_OPT("timeout", 't', "DUR", CTLOPT_DUR, timeout,
	    "kill the command after DUR (10s, 5m)"),
	CTLOPT_OPT("wait", 'w', NULL, CTLOPT_FLAG, wait,
	    "wait for the run and print its result, as 'run --wait'"),
	CTLOPT_END,
};

/* '+' (in_order): CMD's own options are never taken for ours. */
const struct ctl_command ctl_task = {
	{ .name = "task",
	  .synopsis = "[--node N... | --role R...] [--all] [--timeout DUR] "
	  "[--wait]\n"
	  "       [API OPTIONS] [--] CMD [ARG...]",
	  .summary = "run a command once on chosen nodes",
	  .opts = task_opts, .group = &api_group,
	  .notes = "Options end at CMD: CMD's own options are passed to it.  "
	  "CMD runs without\n"
	  "a shell.  Prints the id of the run; exit statuses as for 'run'.\n",
	  .nargs = -1, .in_order = true },
	task_main,
};

/*
 * secret: values go to the daemon only (read from stdin), names come back
 */

/* secret set NAME: the value is stdin, without one trailing newline. */
static int
secret_set(const struct ctlopt_vals *o, struct api_ctx *a, const char *name)
{
	json_object *root = NULL, *created;
	char *text = NULL;
	size_t len = 0;
	long code = 0;
	int r, status;

	if ((r = ctl_read_text("/dev/stdin", SECBOX_VALUE_MAX + 2, &text,
	    &len)) != 0) {
		fprintf(stderr, "%s: secret %s: reading the value from stdin: "
		    "%s\n", PROG, name, r == -E2BIG ? "longer than 65536 "
		    "bytes" : err_str(r));
		return 1;
	}
	if (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len > 0 && text[len - 1] == '\r')
		text[--len] = '\0';
	status = api_call_on(a, "PUT", "/secrets", name, "", text, len, &code,
	    &root);
	explicit_bzero(text, len);
	free(text);
	created = ctlview_get(root, "created");
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("%s secret %s\n", created != NULL &&
		    json_object_get_boolean(created) ? "created" : "replaced",
		    name);
	json_object_put(root);
	return status;
}

/* secret list: NAME and UPDATED. */
static int
secret_list(const struct ctlopt_vals *o, struct api_ctx *a)
{
	json_object *root = NULL, *arr, *e;
	size_t i;
	int status;

	if ((status = api_call(a, "GET", "/secrets", NULL, 0, NULL,
	    &root)) != 0 || o->json) {
		if (status == 0)
			ctlview_json(root, stdout);
		json_object_put(root);
		return status;
	}
	arr = ctlview_get(root, "secrets");
	printf("%-40s %s\n", "NAME", "UPDATED");
	for (i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		printf("%-40s %s\n",
		    json_object_get_string(ctlview_get(e, "name")),
		    json_object_get_string(ctlview_get(e, "updated")));
	}
	json_object_put(root);
	return 0;
}

/* secret delete NAME. */
static int
secret_delete(const struct ctlopt_vals *o, struct api_ctx *a,
    const char *name)
{
	json_object *root = NULL;
	int status;

	status = api_call_on(a, "DELETE", "/secrets", name, "", NULL, 0, NULL,
	    &root);
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("deleted secret %s\n", name);
	json_object_put(root);
	return status;
}

/* secret rotate without --new-key: the running daemon (or cluster) seals
 * again, with its current key, what its previous key opens. */
static int
secret_rotate_api(const struct ctlopt_vals *o, struct api_ctx *a)
{
	json_object *root = NULL;
	int status;

	status = api_call_on(a, "POST", "/secrets", "rotate", "", NULL, 0,
	    NULL, &root);
	if (status == 0 && o->json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("re-sealed %" PRId64 " secret(s) with the current key; "
		    "%" PRId64 " already were\n",
		    json_object_get_int64(json_object_object_get(root,
		    "resealed")), json_object_get_int64(
		    json_object_object_get(root, "current")));
	json_object_put(root);
	return status;
}

/* Checks the operands of a subcommand: want of them after it. */
static int
secret_usage(const char *sub, int argc, int want)
{
	if (argc - 1 < want)
		return ctlopt_usage_error("secret", "secret %s: missing NAME",
		    sub);
	if (argc - 1 > want)
		return ctlopt_usage_error("secret", "secret %s: too many "
		    "operands", sub);
	return 0;
}

static int
secret_main(const struct ctlopt_vals *o, int argc, char **argv)
{
	static const int want[] = { 1, 0, 1, 0 };
	static const char *const subs[] = { "set", "list", "delete", "rotate",
	    NULL };
	struct api_ctx a;
	int i, status;

	if (argc == 0)
		return ctlopt_usage_error("secret", "secret: missing subcommand "
		    "(set, list, delete, rotate)");
	for (i = 0; subs[i] != NULL && strcmp(subs[i], argv[0]) != 0; i++)
		;
	if (subs[i] == NULL)
		return ctlopt_usage_error("secret", "secret: unknown "
		    "subcommand '%s' (set, list, delete, rotate)", argv[0]);
	if ((status = secret_usage(subs[i], argc, want[i])) != 0)
		return status;
	if (want[i] == 1 && !defs_name_valid(argv[1]))
		return ctlopt_usage_error("secret", "secret %s: invalid name "
		    "'%s' (letters, digits, '.', '_' and '-')", subs[i],
		    argv[1]);
	if (i == 3 && o->new_key != NULL)
		return ctl_secret_rotate(o);
	if (i == 3 && o->state_dir != NULL)
		return ctlopt_usage_error("secret", "secret rotate: "
		    "--state-dir goes with --new-key (offline rotation)");
	if (o->new_key != NULL)
		return ctlopt_usage_error("secret", "secret %s: --new-key is "
		    "rotate's", subs[i]);
	if (api_open(o, &a) != 0)
		return 1;
	status = i == 0 ? secret_set(o, &a, argv[1]) : i == 1 ?
	    secret_list(o, &a) : i == 2 ? secret_delete(o, &a, argv[1]) :
	    secret_rotate_api(o, &a);
	api_close(&a);
	return status;
}

static const struct ctlopt secret_opts[] = {
	CTLOPT_OPT("new-key", 'k', "FILE", CTLOPT_STR, new_key,
	    "rotate: the new key (64 hex digits, mode 0600)"),
	CTLOPT_OPT("state-dir", 's', "DIR", CTLOPT_STR, state_dir,
	    "rotate: the daemon's state directory (default:\n"
	    "                        the config's state_dir)"),
	CTLOPT_END,
};

const struct ctl_command ctl_secret = {
	API_COMMAND("secret", "set NAME | list | delete NAME | "
	    "rotate [--new-key FILE]\n"
	    "       [API OPTIONS]",
	    "set, list or delete the daemon's encrypted secrets", secret_opts,
	    "'set NAME' reads the value from stdin (one trailing newline "
	    "dropped) and\n"
	    "sends it to the daemon, which stores it encrypted; values are "
	    "never shown:\n"
	    "'list' prints NAME and UPDATED only.  Jobs use a secret as "
	    "{\"secret\": NAME}.\n"
	    "'rotate' asks the daemon (any member in cluster mode) to seal "
	    "again with its\n"
	    "current key every secret only its secrets_previous_key_file "
	    "opens, in one\n"
	    "transaction (etcd's in cluster mode).\n"
	    "'rotate --new-key FILE' works offline, on the state directory of "
	    "a stopped\n"
	    "daemon: every secret is decrypted with the current key "
	    "(secrets_key_file or\n"
	    "DISTCRON_SECRETS_KEY) and encrypted with FILE's, in one "
	    "transaction; then\n"
	    "point secrets_key_file at FILE and start distcrond.\n", -1,
	    NULL),
	secret_main,
};
