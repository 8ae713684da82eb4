/*
 * ctl_offline.c - distcronctl's commands that read what the daemon reads,
 * without talking to it: check, next and history.
 *
 * "check" loads jobs.d/ and nodes.d/ with defs_load() and prints every
 * diagnostic; "next" evaluates a schedule (cron expression or interval) in
 * a time zone and prints its next fire times; "history" reads the run
 * store through a read-only SQLite handle (WAL lets it read while
 * distcrond writes) and prints it with the ctlhist module.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "distcron/buf.h"
#include "distcron/ctlhist.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/sched.h"
#include "distcron/store.h"
#include "distcron/tz.h"
#include "ctl_int.h"

#define PROG		CTLOPT_PROG
#define DEFAULT_JOBS_DIR	SYSCONFDIR "/distcron/jobs.d"
#define DEFAULT_STATE_DIR	LOCALSTATEDIR "/lib/distcron"
#define STORE_FILE	"distcron.db"

#define NEXT_DEFAULT	5
#define NEXT_MAX	10000
#define HISTORY_DEFAULT	20
#define HISTORY_MAX	100000

/*
 * check
 */

struct check_counts {
	int errors;
	int warnings;
};

static void
check_report(void *arg, const char *level, const char *file, const char *msg)
{
	struct check_counts *c = arg;

	if (strcmp(level, "error") == 0)
		c->errors++;
	else
		c->warnings++;
	fprintf(stderr, "%s: %s: %s\n", level, file, msg);
}

/* Fails with a message naming path unless it is a readable directory. */
static int
check_dir(const char *what, const char *path)
{
	struct stat sb;
	int r;

	if (stat(path, &sb) != 0) {
		r = -errno;
		fprintf(stderr, "%s: %s directory %s: %s\n", PROG, what, path,
		    strerror(-r));
		return r;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "%s: %s directory %s: not a directory\n", PROG,
		    what, path);
		return -ENOTDIR;
	}
	return 0;
}

static int
check_run(const struct ctl_settings *s)
{
	struct check_counts counts = { 0, 0 };
	struct defs_set *set = NULL;
	const struct tz *zone;
	int r;

	if ((r = ctl_zone_get(s->timezone, &zone)) != 0 ||
	    (r = check_dir("jobs", s->jobs_dir)) != 0 ||
	    (r = check_dir("nodes", s->nodes_dir)) != 0)
		return 1;
	r = defs_load(s->jobs_dir, s->nodes_dir, zone, &set, check_report,
	    &counts);
	if (r != 0) {
		fprintf(stderr, "%s: cannot load %s and %s: %s\n", PROG,
		    s->jobs_dir, s->nodes_dir, err_str(r));
		return 1;
	}
	printf("%zu jobs, %zu nodes, %d errors, %d warnings\n", set->njobs,
	    set->nnodes, counts.errors, counts.warnings);
	defs_set_free(set);
	return counts.errors > 0 ? 1 : 0;
}
static int
check_main(const struct ctlopt_vals *v, int argc, char **argv)
{
	struct ctl_settings s;
	int status;

	(void)argc;
	(void)argv;
	status = ctl_settings_load(&s, v) == 0 ? check_run(&s) : 1;
	ctl_settings_free(&s);
	return status;
}

static const struct ctlopt check_opts[] = {
	CTLOPT_OPT("jobs-dir", 'j', "DIR", CTLOPT_STR, jobs_dir,
	    "job definitions\n"
	    "                        (default " DEFAULT_JOBS_DIR ")"),
	CTL_OPT_NODES_DIR,
	CTLOPT_OPT("config", 'c', "FILE", CTLOPT_STR, config_file,
	    "read jobs_dir, nodes_dir and timezone from FILE"),
	CTLOPT_END,
};

const struct ctl_command ctl_check = {
	{ .name = "check",
	  .synopsis = "[--jobs-dir DIR] [--nodes-dir DIR] [--config FILE]",
	  .summary = "validate job and node definitions",
	  .opts = check_opts,
	  .notes = "Prints each problem on stderr as \"error: FILE: MESSAGE\" "
	  "or\n"
	  "\"warning: FILE: MESSAGE\", then a summary on stdout.\n"
	  "Exits 1 if any file has an error, 0 otherwise (warnings "
	  "allowed).\n",
	  .nargs = 0 },
	check_main,
};

/*
 * next
 */

/* Parses "HH:MM" or "HH:MM:SS" into seconds after midnight. */
static int
parse_clock(const char *s, int32_t *out)
{
	static const int64_t max[3] = { 23, 59, 59 };
	int64_t v[3] = { 0, 0, 0 };
	char tmp[16], *rest = tmp, *tok;
	int n = 0;

	if (strlen(s) >= sizeof(tmp))
		return ERR_PARSE;
	memcpy(tmp, s, strlen(s) + 1);
	while ((tok = strsep(&rest, ":")) != NULL) {
		if (n == 3 || dur_parse_int(tok, 0, max[n], &v[n]) != 0)
			return ERR_PARSE;
		n++;
	}
	if (n < 2)
		return ERR_PARSE;
	*out = (int32_t)(v[0] * 3600 + v[1] * 60 + v[2]);
	return 0;
}

static int
next_interval(const struct ctlopt_vals *o, const struct tz *zone,
    struct sched **sp)
{
	const char *errstr = NULL;
	int64_t ms;
	int32_t ref = 0;
	int r;

	if ((r = dur_parse(o->interval, &ms, &errstr)) != 0) {
		fprintf(stderr, "%s: --interval: %s\n", PROG, errstr);
		return r;
	}
	if (ms < 1000 || ms % 1000 != 0) {
		fprintf(stderr, "%s: --interval: must be whole seconds, at "
		    "least 1s\n", PROG);
		return ERR_RANGE;
	}
	if (o->reference != NULL &&
	    (r = parse_clock(o->reference, &ref)) != 0) {
		fprintf(stderr, "%s: --reference: '%s' is not a time of day "
		    "(HH:MM or HH:MM:SS)\n", PROG, o->reference);
		return r;
	}
	if ((r = sched_new_interval(ms / 1000, ref, zone, sp, &errstr)) != 0)
		fprintf(stderr, "%s: interval: %s\n", PROG,
		    errstr ? errstr : err_str(r));
	return r;
}

static int
next_sched(const struct ctlopt_vals *o, const char *expr,
    const struct tz *zone, struct sched **sp)
{
	const char *errstr = NULL;
	int r;

	if (o->interval != NULL)
		return next_interval(o, zone, sp);
	r = sched_parse_cron(expr, o->name, zone, sp, &errstr);
	if (r == ERR_NEVER)
		fprintf(stderr, "%s: cron: '%s': %s\n", PROG, expr,
		    errstr ? errstr : err_str(r));
	else if (r != 0)
		fprintf(stderr, "%s: cron: %s\n", PROG,
		    errstr ? errstr : err_str(r));
	return r;
}

/* Prints count fire times after from, one per line. */
static int
next_print(const struct sched *s, const struct tz *zone, int64_t from,
    int64_t count)
{
	char when[64];
	int64_t i, t = from;
	int r;

	for (i = 0; i < count; i++) {
		if ((r = sched_next(s, t, &t)) != 0) {
			fprintf(stderr, "%s: %s: %s within 50 years\n", PROG,
			    sched_text(s), i == 0 ? "never fires" :
			    "no further fire time");
			return r;
		}
		if ((r = tz_format_iso8601(zone, t, when, sizeof(when))) != 0)
			return r;
		printf("%s\n", when);
	}
	return 0;
}

static int
next_run(const struct ctlopt_vals *o, const char *expr)
{
	const struct tz *zone;
	struct sched *s = NULL;
	const char *errstr = NULL;
	int64_t from = (int64_t)time(NULL);
	int r;

	if ((r = ctl_zone_get(o->tz, &zone)) != 0)
		goto out;
	if (o->from != NULL &&
	    (r = tz_parse_iso8601(zone, o->from, &from, &errstr)) != 0) {
		fprintf(stderr, "%s: --from: '%s': %s\n", PROG, o->from,
		    errstr ? errstr : err_str(r));
		goto out;
	}
	if ((r = next_sched(o, expr, zone, &s)) != 0)
		goto out;
	r = next_print(s, zone, from, o->count);
 out:
	sched_free(s);
	return r == 0 ? 0 : 1;
}

/* Joins argv[first..argc-1] with spaces (so unquoted fields work too). */
static char *
join_args(int argc, char **argv, int first)
{
	struct buf b;
	int i;

	buf_init(&b, 4096);
	for (i = first; i < argc; i++)
		if ((i > first && buf_puts(&b, " ") != 0) ||
		    buf_puts(&b, argv[i]) != 0) {
			buf_free(&b);
			return NULL;
		}
	return buf_steal(&b, NULL);
}

static int
next_check_args(const struct ctlopt_vals *o, int argc, char **argv,
    char **expr)
{
	if (o->interval != NULL && argc > 0)
		return ctlopt_usage_error("next", "next: give either EXPR or "
		    "--interval, not both");
	if (o->interval == NULL && argc == 0)
		return ctlopt_usage_error("next", "next: missing EXPR");
	if (o->reference != NULL && o->interval == NULL)
		return ctlopt_usage_error("next", "next: --reference needs "
		    "--interval");
	if (o->interval == NULL &&
	    (*expr = join_args(argc, argv, 0)) == NULL) {
		fprintf(stderr, "%s: next: expression too long\n", PROG);
		return CTLOPT_USAGE;
	}
	return 0;
}

static int
next_main(const struct ctlopt_vals *v, int argc, char **argv)
{
	char *expr = NULL;
	int status;

	if ((status = next_check_args(v, argc, argv, &expr)) == 0)
		status = next_run(v, expr);
	free(expr);
	return status;
}

static const struct ctlopt next_opts[] = {
	CTLOPT_OPT("tz", 'z', "ZONE", CTLOPT_STR, tz,
	    "evaluate in ZONE (default: the local zone)"),
	CTLOPT_OPT("from", 'f', "TIME", CTLOPT_STR, from,
	    "start after TIME, ISO 8601 (default: now)"),
	CTLOPT_COUNT_OPT("count", 'n', "COUNT", NEXT_DEFAULT, NEXT_MAX,
	    "how many times to print (default 5, max 10000)"),
	CTLOPT_OPT("name", 'k', "JOB", CTLOPT_STR, name,
	    "job name that seeds H fields"),
	CTLOPT_OPT("interval", 'i', "DUR", CTLOPT_STR, interval,
	    "an interval schedule (10m, 1h30m) instead of EXPR"),
	CTLOPT_OPT("reference", 'r', "HH:MM", CTLOPT_STR, reference,
	    "time of day intervals align to (default 00:00)"),
	CTLOPT_END,
};

const struct ctl_command ctl_next = {
	{ .name = "next",
	  .synopsis = "[--tz ZONE] [--from TIME] [-n COUNT] [--name JOB] "
	  "EXPR\n"
	  "       " PROG " next [--tz ZONE] [--from TIME] [-n COUNT] "
	  "--interval DUR [--reference HH:MM]",
	  .summary = "print the next fire times of a schedule",
	  .opts = next_opts,
	  .notes = "EXPR is a cron expression (5 or 6 fields), a macro or "
	  "\"@every DUR\".\n"
	  "Exits 1 if the schedule is invalid or never fires.\n",
	  .nargs = -1 },
	next_main,
};

/*
 * history
 */

/*
 * history
 */

/* Opens STATE_DIR/distcron.db read-only, naming the path on failure. */
static int
history_open(const char *state_dir, struct store **stp)
{
	char path[PATH_MAX];
	const char *errstr = NULL;
	struct stat sb;
	int n, r;

	n = snprintf(path, sizeof(path), "%s/%s", state_dir, STORE_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "%s: %s: path too long\n", PROG, state_dir);
		return -ENAMETOOLONG;
	}
	if (stat(path, &sb) != 0) {
		r = -errno;
		fprintf(stderr, "%s: %s: %s (no run store: check "
		    "--state-dir)\n", PROG, path, strerror(-r));
		return r;
	}
	if ((r = store_open(path, true, stp, &errstr)) != 0)
		fprintf(stderr, "%s: %s: %s\n", PROG, path,
		    errstr ? errstr : err_str(r));
	return r;
}

static int
history_run(const struct ctl_settings *s, const char *job, int64_t limit,
    bool json)
{
	struct store_query q = {
		.job = job, .status = -1, .limit = (int)limit,
		.with_output = json,	/* the table has no room for output */
	};
	struct store_run **runs = NULL;
	struct store *st = NULL;
	const struct tz *zone;
	size_t n = 0;
	int r;

	/* Times are shown in the local zone (TZ), like ls -l or date. */
	if ((r = ctl_zone_get(NULL, &zone)) != 0 ||
	    (r = history_open(s->state_dir, &st)) != 0)
		goto out;
	if ((r = store_runs_query(st, &q, &runs, &n)) != 0) {
		fprintf(stderr, "%s: reading runs of %s: %s\n", PROG, job,
		    err_str(r));
		goto out;
	}
	if (n == 0)
		fprintf(stderr, "%s: no runs recorded for %s\n", PROG, job);
	if (json)
		r = ctlhist_json(runs, n, zone, stdout);
	else if (n > 0)
		r = ctlhist_table(runs, n, zone, stdout);
	if (r != 0)
		fprintf(stderr, "%s: %s\n", PROG, err_str(r));
 out:
	store_runs_free(runs, n);
	store_close(st);
	return r == 0 ? 0 : 1;
}

static int
history_main(const struct ctlopt_vals *v, int argc, char **argv)
{
	struct ctl_settings s;
	int status;

	(void)argc;
	status = ctl_settings_load(&s, v) == 0 ?
	    history_run(&s, argv[0], v->count, v->json) : 1;
	ctl_settings_free(&s);
	return status;
}

static const struct ctlopt history_opts[] = {
	CTLOPT_OPT("state-dir", 's', "DIR", CTLOPT_STR, state_dir,
	    "directory of " STORE_FILE "\n"
	    "                        (default " DEFAULT_STATE_DIR ")"),
	CTLOPT_COUNT_OPT("limit", 'n', "LIMIT", HISTORY_DEFAULT, HISTORY_MAX,
	    "newest LIMIT runs (default 20)"),
	CTLOPT_OPT("json", 'J', NULL, CTLOPT_FLAG, json,
	    "print a JSON array, with each node's output, instead\n"
	    "                        of a table"),
	CTLOPT_OPT("config", 'c', "FILE", CTLOPT_STR, config_file,
	    "read state_dir from FILE"),
	CTLOPT_END,
};

const struct ctl_command ctl_history = {
	{ .name = "history",
	  .synopsis = "JOB [--state-dir DIR] [-n LIMIT] [--json] "
	  "[--config FILE]",
	  .summary = "show the recorded runs of a job",
	  .opts = history_opts,
	  .notes = "Reads the store read-only; safe while distcrond runs.  "
	  "A job\n"
	  "with no runs prints \"no runs recorded for JOB\" on stderr and\n"
	  "exits 0.\n",
	  .nargs = 1, .operand = "JOB" },
	history_main,
};
