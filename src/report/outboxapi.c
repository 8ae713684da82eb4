/*
 * outboxapi.c - the durable outbox as operators see it: GET /monitor's
 * "outbox" member, the distcron_outbox_* metric families, GET /outbox
 * (parked entries) and POST /outbox/retry, handed to the API's backend as
 * a struct control_outbox_ops (control.h).  Everything here runs on API
 * threads and reads the outbox's own store connection (outbox_stats,
 * outbox_parked, outbox_retry; control.c checks POST /outbox/retry's
 * body); nothing here touches a sink.  What is
 * shown is the sink's name, counts and the sink's own reason (why),
 * which sinks write without secrets (outbox.h).
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/control.h"
#include "distcron/err.h"
#include "distcron/outbox.h"

#define OUTBOX_LIST_MAX	1000	/* parked entries GET /outbox lists */

static json_object *
sink_json(const struct outbox_sink_stats *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "depth",
	    json_object_new_int64((int64_t)s->depth));
	json_object_object_add(o, "oldest_age_s",
	    json_object_new_int64(s->oldest_age_s));
	json_object_object_add(o, "delivered",
	    json_object_new_int64((int64_t)s->delivered));
	json_object_object_add(o, "retried",
	    json_object_new_int64((int64_t)s->retried));
	json_object_object_add(o, "dropped",
	    json_object_new_int64((int64_t)s->dropped));
	json_object_object_add(o, "parked",
	    json_object_new_int64((int64_t)s->parked));
	return o;
}

static void
api_monitor(void *arg, json_object *o)
{
	struct outbox_sink_stats s[OUTBOX_SINKS_MAX];
	json_object *ob = json_object_new_object();
	size_t i, n = outbox_stats(arg, s, OUTBOX_SINKS_MAX);

	for (i = 0; ob != NULL && i < n; i++)
		json_object_object_add(ob, s[i].sink, sink_json(&s[i]));
	json_object_object_add(o, "outbox", ob);
}

/* One family: its HELP and TYPE lines, then v[i] for each sink. */
static void
metric_family(struct buf *b, const char *const *fam,
    const struct outbox_sink_stats *s, const uint64_t *v, size_t n)
{
	size_t i;

	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam[0], fam[1], fam[0],
	    fam[2]);
	for (i = 0; i < n; i++)
		buf_printf(b, "%s{sink=\"%s\"} %" PRIu64 "\n", fam[0],
		    s[i].sink, v[i]);
}

/* name, help, type of each family, in the order api_metrics fills. */
static const char *const families[][3] = {
	{ "distcron_outbox_depth", "Outbox entries waiting, parked "
	  "included.", "gauge" },
	{ "distcron_outbox_oldest_age_seconds", "Age of the oldest outbox "
	  "entry.", "gauge" },
	{ "distcron_outbox_delivered_total", "Outbox entries delivered since "
	  "start.", "counter" },
	{ "distcron_outbox_retried_total", "Outbox deliveries that failed "
	  "and were retried.", "counter" },
	{ "distcron_outbox_dropped_total", "Outbox entries dropped past "
	  "outbox_max.", "counter" },
	{ "distcron_outbox_parked", "Outbox entries a sink refused for good, "
	  "waiting for an operator.", "gauge" },
};
#define NFAMILIES	(sizeof(families) / sizeof(families[0]))

static void
api_metrics(void *arg, struct buf *b)
{
	struct outbox_sink_stats s[OUTBOX_SINKS_MAX];
	uint64_t v[NFAMILIES][OUTBOX_SINKS_MAX];
	size_t n = outbox_stats(arg, s, OUTBOX_SINKS_MAX), i;

	for (i = 0; i < n && i < OUTBOX_SINKS_MAX; i++) {
		v[0][i] = s[i].depth;
		v[1][i] = (uint64_t)s[i].oldest_age_s;
		v[2][i] = s[i].delivered;
		v[3][i] = s[i].retried;
		v[4][i] = s[i].dropped;
		v[5][i] = s[i].parked;
	}
	for (i = 0; i < NFAMILIES; i++)
		metric_family(b, families[i], s, v[i], n);
}

static json_object *
parked_json(const struct store_outbox_entry *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(e->id));
	json_object_object_add(o, "run_id", json_object_new_int64(e->run_id));
	json_object_object_add(o, "job", json_object_new_string(e->job));
	json_object_object_add(o, "sink", json_object_new_string(e->sink));
	json_object_object_add(o, "event", json_object_new_string(e->event));
	json_object_object_add(o, "attempts",
	    json_object_new_int(e->attempts));
	json_object_object_add(o, "why", json_object_new_string(e->why));
	return o;
}

static int
api_list(void *arg, char **json)
{
	struct store_outbox_entry *e = NULL;
	json_object *o, *a;
	size_t i, n = 0;
	int r;

	*json = NULL;
	if ((r = outbox_parked(arg, OUTBOX_LIST_MAX, &e, &n)) != 0)
		return r;
	o = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; a != NULL && i < n; i++)
		json_object_array_add(a, parked_json(&e[i]));
	json_object_object_add(o, "parked", a);
	free(e);
	if (o != NULL)
		*json = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return *json != NULL ? 0 : -ENOMEM;
}

static int
api_retry(void *arg, int64_t id, size_t *n)
{
	return outbox_retry(arg, id, n);
}

const struct control_outbox_ops outbox_control_ops = {
	.monitor = api_monitor,
	.metrics = api_metrics,
	.list = api_list,
	.retry = api_retry,
};
