/*
 * runjson.c - runs rendered as JSON for distcronctl and the REST API.
 *
 * Each shape is built field by field with json-c from a struct store_run;
 * a NULL from a json-c constructor becomes JSON null, so the only failure
 * is the container itself not being allocated.  Reports follow the format
 * of distcrond's (Go) run reports, with our ids, statuses and exit codes
 * added; durations are printed as Go prints a time.Duration.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "distcron/runjson.h"

json_object *
runjson_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

void
runjson_put(json_object *o, const char *key, json_object *v)
{
	if (json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW |
	    JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0)
		json_object_put(v);
}

json_object *
runjson_time_ms(const struct tz *zone, int64_t ms)
{
	char when[64];

	if (ms <= 0 || tz_format_iso8601(zone, ms / 1000, when,
	    sizeof(when)) != 0)
		return NULL;
	return json_object_new_string(when);
}

/* Seconds with up to three decimals, trailing zeros dropped: "3", "1.5". */
static void
seconds_format(int64_t ms, char *out, size_t outlen)
{
	size_t n;

	if (ms % 1000 == 0) {
		snprintf(out, outlen, "%" PRId64, ms / 1000);
		return;
	}
	snprintf(out, outlen, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
	n = strlen(out);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
}

void
runjson_duration(int64_t ms, char *out, size_t outlen)
{
	char sec[32];

	if (ms <= 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(out, outlen, "%" PRId64 "ms", ms);
		return;
	}
	seconds_format(ms % 60000, sec, sizeof(sec));
	if (ms >= 3600000)
		snprintf(out, outlen, "%" PRId64 "h%dm%ss", ms / 3600000,
		    (int)(ms / 60000 % 60), sec);
	else if (ms >= 60000)
		snprintf(out, outlen, "%dm%ss", (int)(ms / 60000), sec);
	else
		snprintf(out, outlen, "%ss", sec);
}

/* An exit code, or null when there is none (-1: not exited). */
static json_object *
exit_json(int code)
{
	return code >= 0 ? json_object_new_int(code) : NULL;
}

static json_object *
status_json(enum run_status s)
{
	return json_object_new_string(store_status_str(s));
}

const char *
runjson_item_status(const struct store_item *it)
{
	if (it->status == RUN_PENDING && it->queued_ms > 0)
		return "WAITING";
	return store_status_str(it->status);
}

static json_object *
item_json(const struct store_item *it, const struct tz *zone,
    bool with_output)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	runjson_put(o, "node", runjson_str(it->node));
	runjson_put(o, "attempt", json_object_new_int(it->attempt));
	runjson_put(o, "status",
	    json_object_new_string(runjson_item_status(it)));
	runjson_put(o, "queued", runjson_time_ms(zone, it->queued_ms));
	runjson_put(o, "exit_code", exit_json(it->exit_code));
	runjson_put(o, "signal", it->signal > 0 ?
	    json_object_new_int(it->signal) : NULL);
	runjson_put(o, "started",
	    runjson_time_ms(zone, it->started_ms));
	runjson_put(o, "ended", runjson_time_ms(zone, it->ended_ms));
	runjson_put(o, "error", runjson_str(it->error));
	if (with_output) {
		runjson_put(o, "output", runjson_str(it->out));
		runjson_put(o, "stderr", runjson_str(it->err));
	}
	runjson_put(o, "truncated",
	    json_object_new_boolean(it->truncated));
	return o;
}

/* Cluster mode's "member" and "fence" of run, each only when set; for
 * another member's summary, its id there and where its output is. */
static void
cluster_json(json_object *o, const struct store_run *run)
{
	char where[300];

	if (run->member != NULL && run->member[0] != '\0')
		runjson_put(o, "member", runjson_str(run->member));
	if (run->fence > 0)
		runjson_put(o, "fence", json_object_new_int64(run->fence));
	if (run->remote_id <= 0)
		return;
	snprintf(where, sizeof(where), "a summary: the output stays on "
	    "member %s (its run %lld) and in Elasticsearch", run->member ?
	    run->member : "?", (long long)run->remote_id);
	runjson_put(o, "remote_id", json_object_new_int64(run->remote_id));
	runjson_put(o, "output_on", json_object_new_string(where));
}

json_object *
runjson_run(const struct store_run *run, const struct tz *zone,
    bool with_output)
{
	json_object *o = json_object_new_object(), *items;
	size_t i;

	if (o == NULL)
		return NULL;
	runjson_put(o, "id", json_object_new_int64(run->id));
	runjson_put(o, "job", runjson_str(run->job));
	runjson_put(o, "scheduled_at",
	    runjson_time_ms(zone, run->scheduled_at * 1000));
	runjson_put(o, "status", status_json(run->status));
	runjson_put(o, "trigger", runjson_str(run->trigger));
	runjson_put(o, "attempt", json_object_new_int(run->attempt));
	runjson_put(o, "started",
	    runjson_time_ms(zone, run->started_ms));
	runjson_put(o, "ended", runjson_time_ms(zone, run->ended_ms));
	items = json_object_new_array();
	for (i = 0; items != NULL && i < run->nitems; i++)
		json_object_array_add(items,
		    item_json(&run->items[i], zone, with_output));
	runjson_put(o, "items", items);
	runjson_put(o, "reason", runjson_str(run->reason));
	cluster_json(o, run);
	return o;
}

json_object *
runjson_runs(struct store_run *const *runs, size_t n, const struct tz *zone,
    bool with_output)
{
	json_object *arr = json_object_new_array();
	size_t k;

	for (k = 0; arr != NULL && k < n; k++)
		json_object_array_add(arr,
		    runjson_run(runs[k], zone, with_output));
	return arr;
}

/* ---- reports ---- */

/* {"start", "stop"} */
static json_object *
span_json(const struct tz *zone, int64_t start_ms, int64_t stop_ms)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	runjson_put(o, "start", runjson_time_ms(zone, start_ms));
	runjson_put(o, "stop", runjson_time_ms(zone, stop_ms));
	return o;
}

/* {"milliseconds", "string"}; both null until the span has ended. */
static json_object *
duration_json(int64_t start_ms, int64_t stop_ms)
{
	json_object *o = json_object_new_object();
	char s[64];
	bool known = start_ms > 0 && stop_ms >= start_ms;

	if (o == NULL)
		return NULL;
	runjson_duration(stop_ms - start_ms, s, sizeof(s));
	runjson_put(o, "milliseconds", known ?
	    json_object_new_int64(stop_ms - start_ms) : NULL);
	runjson_put(o, "string", known ?
	    json_object_new_string(s) : NULL);
	return o;
}

static json_object *
report_item_json(const struct store_item *it, const struct tz *zone)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	runjson_put(o, "node", runjson_str(it->node));
	runjson_put(o, "time",
	    span_json(zone, it->started_ms, it->ended_ms));
	runjson_put(o, "duration",
	    duration_json(it->started_ms, it->ended_ms));
	runjson_put(o, "success",
	    json_object_new_boolean(it->status == RUN_SUCCESS));
	runjson_put(o, "output", runjson_str(it->out));
	runjson_put(o, "attempt", json_object_new_int(it->attempt));
	runjson_put(o, "status", status_json(it->status));
	runjson_put(o, "exit_code", exit_json(it->exit_code));
	runjson_put(o, "signal", it->signal > 0 ?
	    json_object_new_int(it->signal) : NULL);
	runjson_put(o, "error", runjson_str(it->error));
	return o;
}

/*
 * The run's exit code: the first non-zero exit code among the current
 * attempt's items, else 0 when one of them exited 0, else -1 (none
 * exited: not finished, killed by a signal, never started).
 */
static int
run_exit_code(const struct store_run *run)
{
	int code = -1;
	size_t i;

	for (i = 0; i < run->nitems; i++) {
		if (run->items[i].attempt != run->attempt ||
		    run->items[i].exit_code < 0)
			continue;
		if (run->items[i].exit_code != 0)
			return run->items[i].exit_code;
		code = 0;
	}
	return code;
}

json_object *
runjson_report(const struct store_run *run, const struct tz *zone)
{
	json_object *o = json_object_new_object(), *items;
	size_t i;

	if (o == NULL)
		return NULL;
	runjson_put(o, "id", json_object_new_int64(run->id));
	runjson_put(o, "job", runjson_str(run->job));
	runjson_put(o, "scheduled_at",
	    runjson_time_ms(zone, run->scheduled_at * 1000));
	runjson_put(o, "time",
	    span_json(zone, run->started_ms, run->ended_ms));
	runjson_put(o, "duration",
	    duration_json(run->started_ms, run->ended_ms));
	runjson_put(o, "success",
	    json_object_new_boolean(run->status == RUN_SUCCESS));
	runjson_put(o, "status", status_json(run->status));
	runjson_put(o, "exit_code", exit_json(run_exit_code(run)));
	cluster_json(o, run);
	items = json_object_new_array();
	for (i = 0; items != NULL && i < run->nitems; i++)
		json_object_array_add(items,
		    report_item_json(&run->items[i], zone));
	runjson_put(o, "items", items);
	return o;
}
