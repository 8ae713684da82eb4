/*
 * runjson.h - runs from the store rendered as JSON (json-c objects), shared
 * by "distcronctl history --json" and the REST API.
 *
 * Two shapes:
 *   run     {"id", "job", "scheduled_at", "status", "trigger", "attempt",
 *            "started", "ended", "items": [{"node", "attempt", "status",
 *            "queued", "exit_code", "signal", "started", "ended", "error",
 *            "output", "stderr", "truncated"}], "reason"}
 *            (an item's status is "WAITING" while it waits for a free
 *            slot: runjson_item_status(); "queued" is when it began to)
 *   report  distcrond's run report: {"job", "time": {"start", "stop"},
 *            "duration": {"milliseconds", "string"}, "success", "items":
 *            [{"node", "time", "duration", "success", "output", ...}]}
 *            plus "id", "status", "scheduled_at", "exit_code" (items carry
 *            "attempt", "status", "exit_code", "signal", "error" too).
 * Times are ISO 8601 in the given zone; unknown values are null.  Nothing
 * here blocks.
 */
#ifndef DISTCRON_RUNJSON_H
#define DISTCRON_RUNJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "distcron/store.h"
#include "distcron/tz.h"

/*
 * Returns a new object for run (the caller owns it: json_object_put()), or
 * NULL when out of memory.  Without with_output the items have no
 * "output" and "stderr" keys (use it when the run was read without them).
 * In cluster mode it has "member" and "fence" (runjson_report() too);
 * without them, neither key.  Another member's summary (remote_id) also
 * has "remote_id" (its id on that member) and "output_on" (a sentence:
 * the output stays on that member), and its items' output is null.
 */
json_object *runjson_run(const struct store_run *run, const struct tz *zone,
    bool with_output);

/* An item's status as shown: its store status, or "WAITING" for an item
 * not started that was queued for a slot (max_concurrent_runs).  A
 * string constant. */
const char *runjson_item_status(const struct store_item *it);

/* Returns a new array of runjson_run() objects for runs[0..n-1], or NULL. */
json_object *runjson_runs(struct store_run *const *runs, size_t n,
    const struct tz *zone, bool with_output);

/* Returns a new report object for run (always with output), or NULL. */
json_object *runjson_report(const struct store_run *run,
    const struct tz *zone);

/* A string, or NULL (JSON null) when s is NULL. */
json_object *runjson_str(const char *s);

/* Adds member key, a string constant not yet in o, to o with value v
 * (NULL: null); json-c neither copies the key nor looks it up first,
 * which is most of what adding costs when reports are rendered by the
 * thousand. */
void runjson_put(json_object *o, const char *key, json_object *v);

/* A millisecond timestamp as an ISO 8601 string in zone; NULL (JSON null)
 * when ms <= 0. */
json_object *runjson_time_ms(const struct tz *zone, int64_t ms);

/* Formats ms the way Go's time.Duration prints: "250ms", "1.5s", "2m3s",
 * "1h0m0s", "0s". */
void runjson_duration(int64_t ms, char *out, size_t outlen);

#endif
