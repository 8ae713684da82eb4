/*
 * ctlview.h - how distcronctl reads and prints the API's JSON answers.
 *
 * Every function accepts any JSON (NULL included) without trusting its
 * shape: members that are missing or of another type print as "-".
 * Printing functions write to out and report a missing list on err as
 * "distcronctl: the answer of distcrond has no "jobs" list".  None of
 * them blocks but on the FILEs.
 */
#ifndef DISTCRON_CTLVIEW_H
#define DISTCRON_CTLVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* Parses an answer's text; NULL (the problem printed on err) when it is
 * not JSON.  The caller puts the result. */
json_object *ctlview_parse(const char *text, FILE *err);

/* The member key of o (NULL when o is not an object or lacks it). */
json_object *ctlview_get(json_object *o, const char *key);

/* A string member (owned by o), or NULL. */
const char *ctlview_string(json_object *o, const char *key);

/* An integer member; false when absent or not an integer. */
bool ctlview_int(json_object *o, const char *key, int64_t *out);

/* Prints v as indented JSON ("--json"). */
void ctlview_json(json_object *v, FILE *out);

/* The tables of "jobs", "runs" and "nodes" from {"jobs": [...]},
 * {"runs": [...]} and {"nodes": [...]}.  An empty list is a note on err.
 * Runs of cluster mode add the columns MEMBER and FENCE (when a run of
 * the list has either).  Return 0, or 1 when the list is missing or a
 * write fails. */
int ctlview_jobs(json_object *root, FILE *out, FILE *err);
int ctlview_runs(json_object *root, FILE *out, FILE *err);
int ctlview_nodes(json_object *root, FILE *out, FILE *err);
/* The parked outbox entries of {"parked": [...]} (GET /outbox). */
int ctlview_outbox(json_object *root, FILE *out, FILE *err);

/* GET /cluster: the lease's state, the members (with the jobs each
 * owns) and etcd's endpoints.  Returns 0, or 1 when members are missing
 * or a write fails. */
int ctlview_cluster(json_object *root, FILE *out, FILE *err);

/* "show": a job's fields, state and definition. */
void ctlview_show(json_object *root, FILE *out);

/* A final run (GET /runs/ID) with its items' outcomes and output (and
 * in cluster mode its member and fence). */
void ctlview_run(json_object *run, int64_t id, FILE *out);

/* True while every item of the run's current attempt is WAITING for a
 * free slot (max_concurrent_runs). */
bool ctlview_run_waiting(json_object *run);

#endif
