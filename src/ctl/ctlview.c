/*
 * ctlview.c - distcronctl's reading of the API's JSON answers: parsing,
 * typed member access, and the tables and summaries it prints.
 *
 * Moved out of distcronctl.c so that the fuzzer (tests/fuzz/fuzz_ctl_reply)
 * runs the same code on arbitrary answers.  Nothing here trusts the shape
 * of an answer: a missing or mistyped member prints as "-" (or "?"), a
 * missing list is reported on err.  Output goes to the FILE given.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/ctlview.h"
#include "distcron/dur.h"
#include "distcron/jsontext.h"
#include "distcron/table.h"
#include "distcron/tz.h"

#define PROG		"distcronctl"
#define MSG_MAX	1024
#define CELL_MAX	256

/* Parses a JSON answer; prints the problem. */
json_object *
ctlview_parse(const char *text, FILE *err)
{
	json_object *root = NULL;
	char msg[MSG_MAX];

	if (jsontext_parse(text, strlen(text), 0, NULL, &root, msg,
	    sizeof(msg)) != 0)
		fprintf(err, "%s: the answer of distcrond is not JSON: %s\n",
		    PROG, msg);
	return root;
}

/* Prints v as indented JSON. */
void
ctlview_json(json_object *v, FILE *out)
{
	fprintf(out, "%s\n", json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

json_object *
ctlview_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A string member, or NULL. */
const char *
ctlview_string(json_object *o, const char *key)
{
	json_object *v = ctlview_get(o, key);

	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

/* An integer member; false when absent or not a number. */
bool
ctlview_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v = ctlview_get(o, key);

	if (!json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* An array member; prints the problem when it is missing. */
static json_object *
jarray(json_object *o, const char *key, FILE *err)
{
	json_object *v = ctlview_get(o, key);

	if (json_object_is_type(v, json_type_array))
		return v;
	fprintf(err, "%s: the answer of distcrond has no \"%s\" list\n",
	    PROG, key);
	return NULL;
}

/* Strings of an array joined with ','. */
static void
cell_list(json_object *v, char *out, size_t outlen)
{
	size_t i, off = 0, n = json_object_array_length(v);
	int w;

	snprintf(out, outlen, "-");
	for (i = 0; i < n && off < outlen; i++) {
		w = snprintf(out + off, outlen - off, "%s%s", i ? "," : "",
		    json_object_get_string(json_object_array_get_idx(v, i)));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* Any JSON value as a table cell: "-" for null or "", yes/no, lists
 * joined with ','. */
static void
cell_json(json_object *v, char *out, size_t outlen)
{
	const char *s;

	switch (json_object_get_type(v)) {
	case json_type_null:
		snprintf(out, outlen, "-");
		break;
	case json_type_boolean:
		snprintf(out, outlen, "%s", json_object_get_boolean(v) ?
		    "yes" : "no");
		break;
	case json_type_array:
		cell_list(v, out, outlen);
		break;
	case json_type_string:
		s = json_object_get_string(v);
		snprintf(out, outlen, "%s", s[0] != '\0' ? s : "-");
		break;
	default:
		snprintf(out, outlen, "%s", json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

/* A schedule: "cron EXPR" or "every DUR [from HH:MM]" when it is an
 * object, else the value as it is. */
static void
cell_schedule(json_object *v, char *out, size_t outlen)
{
	const char *cron = ctlview_string(v, "cron");
	const char *every = ctlview_string(v, "interval");
	const char *ref = ctlview_string(v, "reference");

	if (cron != NULL)
		snprintf(out, outlen, "%s", cron);
	else if (every != NULL)
		snprintf(out, outlen, "every %s%s%s", every,
		    ref ? " from " : "", ref ? ref : "");
	else
		cell_json(v, out, outlen);
}

/* Prints a table, or "(none)"-style note on stderr when it is empty. */
static int
table_show(struct table *t, const char *empty, FILE *out, FILE *err)
{
	if (table_rows(t) == 0) {
		fprintf(err, "%s: %s\n", PROG, empty);
		return 0;
	}
	return table_print(t, out) == 0 ? 0 : 1;
}

int
ctlview_jobs(json_object *root, FILE *out, FILE *err)
{
	static const char *const head[] = { "NAME", "SCHEDULE", "NEXT RUN",
		"LAST STATUS", "RUNNING", "PAUSED" };
	char cell[6][CELL_MAX];
	const char *cells[6];
	json_object *jobs = jarray(root, "jobs", err), *job;
	struct table *t = NULL;
	size_t i;
	int k, status = 1;

	if (jobs == NULL || table_new(6, head, &t) != 0)
		goto out;
	for (k = 0; k < 6; k++)
		cells[k] = cell[k];
	for (i = 0; i < json_object_array_length(jobs); i++) {
		job = json_object_array_get_idx(jobs, i);
		cell_json(ctlview_get(job, "name"), cell[0], CELL_MAX);
		cell_schedule(ctlview_get(job, "schedule"), cell[1], CELL_MAX);
		cell_json(ctlview_get(job, "next_run"), cell[2], CELL_MAX);
		cell_json(ctlview_get(ctlview_get(job, "last_run"), "status"),
		    cell[3],
		    CELL_MAX);
		cell_json(ctlview_get(job, "running"), cell[4], CELL_MAX);
		cell_json(ctlview_get(job, "paused"), cell[5], CELL_MAX);
		if (table_add(t, cells) != 0)
			goto out;
	}
	status = table_show(t, "no jobs defined", out, err);
 out:
	table_free(t);
	return status;
}

/* Prints "  KEY:  VALUE" for a member of o shown as a cell. */
static void
show_field(const char *label, json_object *v, FILE *out)
{
	char cell[CELL_MAX];

	cell_json(v, cell, sizeof(cell));
	fprintf(out, "%-12s %s\n", label, cell);
}

/* Prints a JSON value indented by two spaces. */
static void
json_print_indented(json_object *v, FILE *out)
{
	const char *text = json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n;

	while (*text != '\0') {
		n = strcspn(text, "\n");
		fprintf(out, "  %.*s\n", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

void
ctlview_show(json_object *root, FILE *out)
{
	json_object *state = ctlview_get(root, "state");
	json_object *last = ctlview_get(state, "last_run");
	const char *st = ctlview_string(last, "status");
	const char *ended = ctlview_string(last, "ended");
	int64_t id;

	show_field("name:", ctlview_get(root, "name"), out);
	show_field("file:", ctlview_get(root, "source"), out);
	show_field("enabled:", ctlview_get(state, "enabled"), out);
	show_field("paused:", ctlview_get(state, "paused"), out);
	show_field("next run:", ctlview_get(state, "next_run"), out);
	show_field("running:", ctlview_get(state, "running"), out);
	show_field("runs:", ctlview_get(state, "run_count"), out);
	if (last != NULL && ctlview_int(last, "id", &id))
		fprintf(out, "%-12s %lld %s, ended %s\n", "last run:",
		    (long long)id, st ? st : "?", ended ? ended : "-");
	else
		fprintf(out, "%-12s -\n", "last run:");
	fprintf(out, "definition:\n");
	json_print_indented(ctlview_get(root, "definition"), out);
}

/* Prints text with every line indented by prefix. */
static void
print_indented(const char *prefix, const char *text, FILE *out)
{
	size_t n;

	while (text != NULL && *text != '\0') {
		n = strcspn(text, "\n");
		fprintf(out, "%s%.*s\n", prefix, (int)n, text);
		text += n + (text[n] == '\n');
	}
}

/* "exit code 0", "signal 9", "exit code 1, timed out after 5s" or "no
 * exit code" for one item.  An error that only restates the exit code or
 * the signal ("exit code 3", "killed by signal 9") is not repeated. */
static void
item_outcome(json_object *it, char *out, size_t outlen)
{
	const char *error = ctlview_string(it, "error");
	size_t said;
	int64_t v;

	if (ctlview_int(it, "signal", &v) && v > 0)
		snprintf(out, outlen, "signal %lld", (long long)v);
	else if (ctlview_int(it, "exit_code", &v))
		snprintf(out, outlen, "exit code %lld", (long long)v);
	else
		snprintf(out, outlen, "no exit code");
	said = strlen(out);
	if (error == NULL || error[0] == '\0' || strcmp(error, out) == 0 ||
	    (strncmp(error, "killed by ", 10) == 0 &&
	    strcmp(error + 10, out) == 0))
		return;
	snprintf(out + said, outlen - said, ", %s", error);
}

/* Does reason only say what an item's line says ("node web1: exit code 3",
 * maybe with " (and 2 more nodes)")? */
static bool
reason_in_items(const char *reason, json_object *items)
{
	const char *node, *error, *rest;
	json_object *it;
	size_t i, n;

	for (i = 0; json_object_is_type(items, json_type_array) &&
	    i < json_object_array_length(items); i++) {
		it = json_object_array_get_idx(items, i);
		node = ctlview_string(it, "node");
		if ((error = ctlview_string(it, "error")) == NULL)
			error = "failed";
		n = node != NULL ? strlen(node) : 0;
		if (n == 0 || strncmp(reason, "node ", 5) != 0 ||
		    strncmp(reason + 5, node, n) != 0 ||
		    strncmp(reason + 5 + n, ": ", 2) != 0)
			continue;
		rest = reason + 7 + n;
		if (strncmp(rest, error, strlen(error)) == 0 &&
		    (rest[strlen(error)] == '\0' ||
		    strncmp(rest + strlen(error), " (and ", 6) == 0))
			return true;
	}
	return false;
}

static void
item_print(json_object *it, FILE *out)
{
	char outcome[MSG_MAX];
	const char *node = ctlview_string(it, "node");
	const char *st = ctlview_string(it, "status");
	const char *err = ctlview_string(it, "stderr");
	int64_t attempt = 1;

	item_outcome(it, outcome, sizeof(outcome));
	if (st != NULL && strcmp(st, "WAITING") == 0)
		snprintf(outcome, sizeof(outcome), "for a free slot since %s",
		    ctlview_string(it, "queued") ? ctlview_string(it,
		    "queued") : "?");
	(void)ctlview_int(it, "attempt", &attempt);
	fprintf(out, "  node %s: %s, %s", node ? node : "-", st ? st : "?",
	    outcome);
	if (attempt > 1)
		fprintf(out, " (attempt %lld)", (long long)attempt);
	fprintf(out, "\n");
	print_indented("    ", ctlview_string(it, "output"), out);
	if (err != NULL && err[0] != '\0') {
		fprintf(out, "    stderr:\n");
		print_indented("      ", err, out);
	}
	if (json_object_get_boolean(ctlview_get(it, "truncated")))
		fprintf(out, "    (output truncated)\n");
}

/* Does a run of the list have cluster mode's member or fence? */
static bool
runs_clustered(json_object *runs)
{
	json_object *run;
	size_t i;

	for (i = 0; i < json_object_array_length(runs); i++) {
		run = json_object_array_get_idx(runs, i);
		if (ctlview_get(run, "member") != NULL ||
		    ctlview_get(run, "fence") != NULL)
			return true;
	}
	return false;
}

/* The result of a final run, per node. */
void
ctlview_run(json_object *run, int64_t id, FILE *out)
{
	const char *job = ctlview_string(run, "job");
	const char *reason = ctlview_string(run, "reason");
	const char *st = ctlview_string(run, "status");
	json_object *items = ctlview_get(run, "items");
	size_t i;

	const char *member = ctlview_string(run, "member");
	int64_t fence = 0;

	fprintf(out, "run %lld%s%s%s: %s\n", (long long)id, job ? " (" : "",
	    job ? job : "", job ? ")" : "", st ? st : "?");
	(void)ctlview_int(run, "fence", &fence);
	if (member != NULL || fence > 0)
		fprintf(out, "  member: %s, fence %lld\n", member ? member : "-",
		    (long long)fence);
	if (reason != NULL && reason[0] != '\0' &&
	    !reason_in_items(reason, items))
		fprintf(out, "  reason: %s\n", reason);
	for (i = 0; json_object_is_type(items, json_type_array) &&
	    i < json_object_array_length(items); i++)
		item_print(json_object_array_get_idx(items, i), out);
}

bool
ctlview_run_waiting(json_object *run)
{
	json_object *items = ctlview_get(run, "items"), *it;
	size_t i, n = json_object_is_type(items, json_type_array) ?
	    json_object_array_length(items) : 0, waiting = 0, current = 0;
	const char *st;
	int64_t attempt = 1, a;

	(void)ctlview_int(run, "attempt", &attempt);
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		if (!ctlview_int(it, "attempt", &a) || a != attempt)
			continue;
		current++;
		st = ctlview_string(it, "status");
		waiting += st != NULL && strcmp(st, "WAITING") == 0;
	}
	return current > 0 && waiting == current;
}

/* The run's status, or "WAITING" while it waits for a free slot. */
static void
cell_status(json_object *run, char *out, size_t outlen)
{
	cell_json(ctlview_get(run, "status"), out, outlen);
	if (ctlview_run_waiting(run))
		snprintf(out, outlen, "WAITING");
}

/* Distinct nodes of a run's items, and their common exit ("mixed" when
 * they differ). */
static void
cell_items(json_object *run, char *nodes, char *exit_, size_t len)
{
	json_object *items = ctlview_get(run, "items"), *it;
	char seen[CELL_MAX] = ",", one[CELL_MAX], probe[CELL_MAX];
	size_t i, n = json_object_is_type(items, json_type_array) ?
	    json_object_array_length(items) : 0;
	const char *node;

	snprintf(nodes, len, "-");
	snprintf(exit_, len, "-");
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		node = ctlview_string(it, "node");
		snprintf(probe, sizeof(probe), ",%s,", node ? node : "?");
		if (strstr(seen, probe) == NULL) {
			snprintf(seen + strlen(seen), sizeof(seen) -
			    strlen(seen), "%s,", node ? node : "?");
			snprintf(nodes, len, "%.*s", (int)strlen(seen) - 2,
			    seen + 1);
		}
		cell_json(ctlview_get(it, "exit_code"), one, sizeof(one));
		if (i == 0)
			snprintf(exit_, len, "%s", one);
		else if (strcmp(exit_, one) != 0)
			snprintf(exit_, len, "mixed");
	}
}

/* The run's duration from its ISO 8601 "started" and "ended". */
static void
cell_duration(json_object *run, char *out, size_t outlen)
{
	const char *s = ctlview_string(run, "started");
	const char *e = ctlview_string(run, "ended");
	const char *errstr = NULL;
	const struct tz *utc;
	int64_t ts, te;

	snprintf(out, outlen, "-");
	if (s == NULL || e == NULL || tz_get("UTC", &utc, &errstr) != 0 ||
	    tz_parse_iso8601(utc, s, &ts, &errstr) != 0 ||
	    tz_parse_iso8601(utc, e, &te, &errstr) != 0 || te < ts)
		return;
	dur_format((te - ts) * 1000, out, outlen);
}

int
ctlview_runs(json_object *root, FILE *out, FILE *err)
{
	static const char *const head[] = { "ID", "JOB", "STATUS",
		"TRIGGER", "STARTED", "DURATION", "NODE(S)", "EXIT", "MEMBER",
		"FENCE" };
	char cell[10][CELL_MAX];
	const char *cells[10];
	json_object *runs = jarray(root, "runs", err), *run;
	struct table *t = NULL;
	size_t i;
	int k, status = 1;
	int ncols = runs != NULL && runs_clustered(runs) ? 10 : 8;

	if (runs == NULL || table_new(ncols, head, &t) != 0)
		goto out;
	for (k = 0; k < 10; k++)
		cells[k] = cell[k];
	for (i = 0; i < json_object_array_length(runs); i++) {
		run = json_object_array_get_idx(runs, i);
		cell_json(ctlview_get(run, "id"), cell[0], CELL_MAX);
		cell_json(ctlview_get(run, "job"), cell[1], CELL_MAX);
		cell_status(run, cell[2], CELL_MAX);
		cell_json(ctlview_get(run, "trigger"), cell[3], CELL_MAX);
		cell_json(ctlview_get(run, "started"), cell[4], CELL_MAX);
		cell_duration(run, cell[5], CELL_MAX);
		cell_items(run, cell[6], cell[7], CELL_MAX);
		cell_json(ctlview_get(run, "member"), cell[8], CELL_MAX);
		cell_json(ctlview_get(run, "fence"), cell[9], CELL_MAX);
		if (table_add(t, cells) != 0)
			goto out;
	}
	status = table_show(t, "no runs found", out, err);
 out:
	table_free(t);
	return status;
}

#define KEYED_COLS	7	/* columns of a keyed table, at most */

/* A row's cells beyond what its keys give (a table's own columns). */
typedef void (*keyed_fix_fn)(json_object *row, char cell[][CELL_MAX]);

/*
 * The table of list (an array of objects): column k shows key keys[k]
 * of each object (NULL: left to fix, which may also change the others).
 * empty is the note for an empty list.  Returns 0, or 1 when the list
 * is missing or a write fails.
 */
static int
keyed_table(json_object *list, size_t ncols, const char *const *head,
    const char *const *keys, keyed_fix_fn fix, const char *empty, FILE *out,
    FILE *err)
{
	char cell[KEYED_COLS][CELL_MAX];
	const char *cells[KEYED_COLS];
	json_object *e;
	struct table *t = NULL;
	size_t i, k;
	int status = 1;

	if (list == NULL || ncols > KEYED_COLS ||
	    table_new(ncols, head, &t) != 0)
		goto out;
	for (k = 0; k < ncols; k++)
		cells[k] = cell[k];
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		for (k = 0; k < ncols; k++) {
			cell[k][0] = '\0';
			if (keys[k] != NULL)
				cell_json(ctlview_get(e, keys[k]), cell[k],
				    CELL_MAX);
		}
		if (fix != NULL)
			fix(e, cell);
		if (table_add(t, cells) != 0)
			goto out;
	}
	status = table_show(t, empty, out, err);
 out:
	table_free(t);
	return status;
}

int
ctlview_outbox(json_object *root, FILE *out, FILE *err)
{
	static const char *const head[] = { "ID", "RUN", "JOB", "SINK",
		"EVENT", "ATTEMPTS", "WHY" };
	static const char *const keys[] = { "id", "run_id", "job", "sink",
		"event", "attempts", "why" };

	return keyed_table(jarray(root, "parked", err), 7, head, keys, NULL,
	    "no parked outbox entries", out, err);
}

/* The lease line and etcd's endpoints around the members' table. */
static void
cluster_head(json_object *root, FILE *out)
{
	json_object *ok = ctlview_get(root, "lease_ok");
	char member[CELL_MAX], ns[CELL_MAX], why[CELL_MAX];

	cell_json(ctlview_get(root, "member"), member, CELL_MAX);
	cell_json(ctlview_get(root, "namespace"), ns, CELL_MAX);
	cell_json(ctlview_get(root, "reason"), why, CELL_MAX);
	fprintf(out, "member %s of namespace %s: %s%s\n", member, ns,
	    ok != NULL && json_object_get_boolean(ok) ? "lease held" :
	    "NOT LAUNCHING: ", ok != NULL && json_object_get_boolean(ok) ?
	    "" : why);
}

static void
cluster_endpoints(json_object *root, FILE *out)
{
	json_object *eps = ctlview_get(root, "endpoints"), *e, *h;
	char url[CELL_MAX];
	size_t i;

	if (eps == NULL || !json_object_is_type(eps, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(eps); i++) {
		e = json_object_array_get_idx(eps, i);
		cell_json(ctlview_get(e, "url"), url, CELL_MAX);
		h = ctlview_get(e, "healthy");
		fprintf(out, "etcd %s%s\n", url, h == NULL ? "" :
		    json_object_get_boolean(h) ? " (in use, answering)" :
		    " (in use, NOT answering)");
	}
}

/* The jobs whose files differ between members, if any. */
static void
cluster_mismatch(json_object *root, FILE *out)
{
	json_object *a = ctlview_get(root, "mismatch");
	char line[4 * CELL_MAX];
	int64_t n = 0;
	size_t i;

	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) == 0)
		return;
	ctlview_int(root, "mismatch_jobs", &n);
	fprintf(out, "Job files differ between members (%lld job%s):\n",
	    (long long)n, n == 1 ? "" : "s");
	for (i = 0; i < json_object_array_length(a); i++) {
		cell_json(json_object_array_get_idx(a, i), line, sizeof(line));
		fprintf(out, "  %s\n", line);
	}
}

/* A member's UP (since it registered) and whether it is this daemon. */
static void
cluster_fix(json_object *m, char cell[][CELL_MAX])
{
	json_object *self = ctlview_get(m, "self");
	int64_t age;

	dur_format(ctlview_int(m, "age_s", &age) ? age * 1000 : 0, cell[3],
	    CELL_MAX);
	snprintf(cell[6], CELL_MAX, "%s", self != NULL &&
	    json_object_get_boolean(self) ? "(this daemon)" : "");
}

int
ctlview_cluster(json_object *root, FILE *out, FILE *err)
{
	static const char *const head[] = { "MEMBER", "HOST", "PID", "UP",
		"JOBS", "VERSION", "" };
	static const char *const keys[] = { "member", "host", "pid", NULL,
		"owned_jobs", "version", NULL };
	json_object *list = jarray(root, "members", err);
	int status;

	if (list == NULL)
		return 1;
	cluster_head(root, out);
	status = keyed_table(list, 7, head, keys, cluster_fix,
	    "no members registered", out, err);
	cluster_endpoints(root, out);
	cluster_mismatch(root, out);
	return status;
}

int
ctlview_nodes(json_object *root, FILE *out, FILE *err)
{
	static const char *const head[] = { "NAME", "TYPE", "ROLES",
		"STATUS", "SINCE", "RUNNING", "LAST ERROR" };
	char cell[7][CELL_MAX];
	const char *cells[7];
	json_object *nodes = jarray(root, "nodes", err), *node, *enabled;
	struct table *t = NULL;
	size_t i;
	int k, status = 1;

	if (nodes == NULL || table_new(7, head, &t) != 0)
		goto out;
	for (k = 0; k < 7; k++)
		cells[k] = cell[k];
	for (i = 0; i < json_object_array_length(nodes); i++) {
		node = json_object_array_get_idx(nodes, i);
		enabled = ctlview_get(node, "enabled");
		cell_json(ctlview_get(node, "name"), cell[0], CELL_MAX);
		cell_json(ctlview_get(node, "connection_type"), cell[1],
		    CELL_MAX);
		cell_json(ctlview_get(node, "roles"), cell[2], CELL_MAX);
		cell_json(ctlview_get(node, "status"), cell[3], CELL_MAX);
		if (enabled != NULL && !json_object_get_boolean(enabled))
			snprintf(cell[3], CELL_MAX, "disabled");
		cell_json(ctlview_get(node, "since"), cell[4], CELL_MAX);
		cell_json(ctlview_get(node, "running"), cell[5], CELL_MAX);
		cell_json(ctlview_get(node, "last_error"), cell[6], CELL_MAX);
		if (table_add(t, cells) != 0)
			goto out;
	}
	status = table_show(t, "no nodes defined", out, err);
 out:
	table_free(t);
	return status;
}
