/*
 * ctlhist.c - how "distcronctl history" prints the runs it reads from the
 * store: a table, or the JSON array of the API's run objects.
 *
 * The table has one row per run: id, scheduled time (in the zone given),
 * status, the distinct nodes (cut with "..." when they do not fit), the
 * exit of the current attempt ("mixed" when nodes disagree), duration and
 * trigger, and in cluster mode (when a run of the list has one) member and
 * fence; every column as wide as its widest cell.  The JSON goes
 * through the runjson module, so it reads like the API's, output included.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/ctlhist.h"
#include "distcron/dur.h"
#include "distcron/runjson.h"
#include "distcron/store.h"
#include "distcron/tz.h"

enum { COL_ID, COL_SCHED, COL_STATUS, COL_NODES, COL_EXIT, COL_DUR,
	COL_TRIGGER, COL_MEMBER, COL_FENCE, NCOLS };
#define NCOLS_LOCAL	COL_MEMBER	/* the columns outside cluster mode */
#define CELL_MAX	80

static const char *const col_names[NCOLS] = {
	"ID", "SCHEDULED", "STATUS", "NODE(S)", "EXIT", "DURATION", "TRIGGER",
	"MEMBER", "FENCE",
};

struct row {
	char cell[NCOLS][CELL_MAX];
};

/* True if an earlier item of run names the same node as item i. */
static bool
node_seen(const struct store_run *run, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(run->items[j].node, run->items[i].node) == 0)
			return true;
	return false;
}

/* Distinct node names, comma-separated, ending in "..." if they do not
 * fit; "-" when there are none. */
static void
cell_nodes(const struct store_run *run, char *out, size_t outlen)
{
	size_t i, off = 0;
	int n;

	snprintf(out, outlen, "-");
	for (i = 0; i < run->nitems; i++) {
		if (run->items[i].node == NULL || node_seen(run, i))
			continue;
		n = snprintf(out + off, outlen - off, "%s%s", off ? "," : "",
		    run->items[i].node);
		if (n < 0 || (size_t)n >= outlen - off) {
			memcpy(out + outlen - 4, "...", 4);
			return;
		}
		off += (size_t)n;
	}
}

static void
item_exit(const struct store_item *it, char *out, size_t outlen)
{
	const char *name;

	if (it->signal > 0) {
		name = sigabbrev_np(it->signal);
		if (name != NULL)
			snprintf(out, outlen, "SIG%s", name);
		else
			snprintf(out, outlen, "signal %d", it->signal);
	} else if (it->exit_code >= 0)
		snprintf(out, outlen, "%d", it->exit_code);
	else
		snprintf(out, outlen, "-");
}

/* The exit of the current attempt's items: their common value, "mixed"
 * when nodes disagree, "-" when none has finished. */
static void
cell_exit(const struct store_run *run, char *out, size_t outlen)
{
	const struct store_item *it, *first = NULL;
	size_t i;

	snprintf(out, outlen, "-");
	for (i = 0; i < run->nitems; i++) {
		it = &run->items[i];
		if (it->attempt != run->attempt)
			continue;
		if (first == NULL) {
			first = it;
			item_exit(it, out, outlen);
		} else if (it->exit_code != first->exit_code ||
		    it->signal != first->signal) {
			snprintf(out, outlen, "mixed");
			return;
		}
	}
}

/* The run's status, or "WAITING" while every item of its current attempt
 * waits for a free slot (runjson_item_status()). */
static const char *
run_status_cell(const struct store_run *run)
{
	size_t i, n = 0;

	for (i = 0; i < run->nitems; i++) {
		if (run->items[i].attempt != run->attempt)
			continue;
		if (strcmp(runjson_item_status(&run->items[i]), "WAITING") != 0)
			return store_status_str(run->status);
		n++;
	}
	return n > 0 ? "WAITING" : store_status_str(run->status);
}

static void
row_fill(struct row *row, const struct store_run *run, const struct tz *zone)
{
	char *c[NCOLS];
	int i;

	for (i = 0; i < NCOLS; i++)
		c[i] = row->cell[i];
	snprintf(c[COL_ID], CELL_MAX, "%lld", (long long)run->id);
	if (tz_format_iso8601(zone, run->scheduled_at, c[COL_SCHED],
	    CELL_MAX) != 0)
		snprintf(c[COL_SCHED], CELL_MAX, "?");
	snprintf(c[COL_STATUS], CELL_MAX, "%s", run_status_cell(run));
	cell_nodes(run, c[COL_NODES], CELL_MAX);
	cell_exit(run, c[COL_EXIT], CELL_MAX);
	if (run->started_ms > 0 && run->ended_ms >= run->started_ms)
		dur_format(run->ended_ms - run->started_ms, c[COL_DUR],
		    CELL_MAX);
	else
		snprintf(c[COL_DUR], CELL_MAX, "-");
	snprintf(c[COL_TRIGGER], CELL_MAX, "%s",
	    run->trigger ? run->trigger : "-");
	snprintf(c[COL_MEMBER], CELL_MAX, "%s",
	    run->member && run->member[0] ? run->member : "-");
	if (run->fence > 0)
		snprintf(c[COL_FENCE], CELL_MAX, "%lld",
		    (long long)run->fence);
	else
		snprintf(c[COL_FENCE], CELL_MAX, "-");
}

static void
row_print(const char *const *cells, const int *width, int ncols,
    FILE *out)
{
	int i;

	for (i = 0; i < ncols - 1; i++)
		fprintf(out, "%-*s  ", width[i], cells[i]);
	fprintf(out, "%s\n", cells[ncols - 1]);
}

int
ctlhist_table(struct store_run **runs, size_t n, const struct tz *zone,
    FILE *out)
{
	struct row *rows;
	const char *cells[NCOLS];
	int width[NCOLS], i, ncols = NCOLS_LOCAL;
	size_t k;

	if ((rows = calloc(n, sizeof(*rows))) == NULL)
		return -ENOMEM;
	for (i = 0; i < NCOLS; i++)
		width[i] = (int)strlen(col_names[i]);
	for (k = 0; k < n; k++) {
		if ((runs[k]->member != NULL && runs[k]->member[0] != '\0') ||
		    runs[k]->fence > 0)
			ncols = NCOLS;
		row_fill(&rows[k], runs[k], zone);
		for (i = 0; i < NCOLS; i++)
			if ((int)strlen(rows[k].cell[i]) > width[i])
				width[i] = (int)strlen(rows[k].cell[i]);
	}
	row_print(col_names, width, ncols, out);
	for (k = 0; k < n; k++) {
		for (i = 0; i < NCOLS; i++)
			cells[i] = rows[k].cell[i];
		row_print(cells, width, ncols, out);
	}
	free(rows);
	return 0;
}

int
ctlhist_json(struct store_run **runs, size_t n, const struct tz *zone,
    FILE *out)
{
	json_object *arr = runjson_runs(runs, n, zone, true);
	const char *text = NULL;

	if (arr != NULL && n == 0)
		text = "[]";	/* json-c would spread it over two lines */
	else if (arr != NULL)
		text = json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text != NULL)
		fprintf(out, "%s\n", text);
	json_object_put(arr);
	return text != NULL ? 0 : -ENOMEM;
}

