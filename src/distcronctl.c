/*
 * distcronctl.c - the command-line client of distcron.
 *
 * Commands live in one table (name, synopsis, summary, handler); main()
 * parses the global options, finds the command and hands it the rest of
 * argv, where it runs its own getopt_long.  The offline commands read what
 * the daemon reads, without talking to it: "check" loads jobs.d/ and
 * nodes.d/ with defs_load() and prints every diagnostic, "next" evaluates a
 * schedule in a time zone, and "history" reads the run store through a
 * read-only SQLite handle (WAL lets it read while distcrond writes).
 * "trust" connects to an SSH node (blocking: TCP connect and the SSH
 * handshake, never authentication) and records or verifies its host key
 * through the sshhost module.
 *
 * Paths come from, in order of preference: the command's flags, the JSON
 * file given with --config (keys "jobs_dir", "nodes_dir", "state_dir",
 * "timezone"; comments allowed), the environment (DISTCRON_JOBS_DIR,
 * DISTCRON_NODES_DIR, DISTCRON_STATE_DIR), and the defaults chosen at
 * configure time.  Exit status: 0 success, 1 failure, 2 usage error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libssh2.h>

#include "distcron/buf.h"
#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/runjson.h"
#include "distcron/sched.h"
#include "distcron/sshhost.h"
#include "distcron/store.h"
#include "distcron/tz.h"

#define PROG		"distcronctl"
#define EXIT_USAGE	2

#define DEFAULT_JOBS_DIR	SYSCONFDIR "/distcron/jobs.d"
#define DEFAULT_NODES_DIR	SYSCONFDIR "/distcron/nodes.d"
#define DEFAULT_STATE_DIR	LOCALSTATEDIR "/lib/distcron"
#define STORE_FILE		"distcron.db"

#define NEXT_DEFAULT	5
#define NEXT_MAX	10000
#define HISTORY_DEFAULT	20
#define HISTORY_MAX	100000

/* Long options shared by every command; short letters are per command. */
#define OPT_HELP	{ "help", no_argument, NULL, 'h' }
#define OPT_END		{ NULL, 0, NULL, 0 }

struct command {
	const char *name;
	const char *synopsis;	/* arguments, for usage lines */
	const char *summary;	/* one line for --help */
	const char *details;	/* options and notes for COMMAND --help */
	int (*run)(int argc, char **argv);	/* returns the exit status */
};

/* Settings of one invocation; the strings belong to argv, the environment
 * or conf. */
struct settings {
	const char *config_file;
	const char *jobs_dir;
	const char *nodes_dir;
	const char *state_dir;
	const char *timezone;	/* NULL: the local zone */
	struct config cfg;	/* the daemon's settings, for what is unset */
};

static int cmd_check(int, char **);
static int cmd_next(int, char **);
static int cmd_history(int, char **);
static int cmd_trust(int, char **);
static int cmd_help(int, char **);
static int usage_error(const char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static const struct command commands[] = {
	{ "check", "[--jobs-dir DIR] [--nodes-dir DIR] [--config FILE]",
	  "validate job and node definitions",
	  "  -j, --jobs-dir DIR    job definitions\n"
	  "                        (default " DEFAULT_JOBS_DIR ")\n"
	  "  -N, --nodes-dir DIR   node definitions\n"
	  "                        (default " DEFAULT_NODES_DIR ")\n"
	  "  -c, --config FILE     read jobs_dir, nodes_dir and timezone "
	  "from FILE\n"
	  "Prints each problem on stderr as \"error: FILE: MESSAGE\" or\n"
	  "\"warning: FILE: MESSAGE\", then a summary on stdout.\n"
	  "Exits 1 if any file has an error, 0 otherwise (warnings allowed).\n",
	  cmd_check },
	{ "next", "[--tz ZONE] [--from TIME] [-n COUNT] [--name JOB] EXPR\n"
	  "       " PROG " next [--tz ZONE] [--from TIME] [-n COUNT] "
	  "--interval DUR [--reference HH:MM]",
	  "print the next fire times of a schedule",
	  "  -z, --tz ZONE         evaluate in ZONE (default: the local zone)\n"
	  "  -f, --from TIME       start after TIME, ISO 8601 (default: now)\n"
	  "  -n, --count COUNT     how many times to print "
	  "(default 5, max 10000)\n"
	  "  -k, --name JOB        job name that seeds H fields\n"
	  "  -i, --interval DUR    an interval schedule (10m, 1h30m) "
	  "instead of EXPR\n"
	  "  -r, --reference HH:MM time of day intervals align to "
	  "(default 00:00)\n"
	  "EXPR is a cron expression (5 or 6 fields), a macro or "
	  "\"@every DUR\".\n"
	  "Exits 1 if the schedule is invalid or never fires.\n",
	  cmd_next },
	{ "history",
	  "JOB [--state-dir DIR] [-n LIMIT] [--json] [--config FILE]",
	  "show the recorded runs of a job",
	  "  -s, --state-dir DIR   directory of " STORE_FILE "\n"
	  "                        (default " DEFAULT_STATE_DIR ")\n"
	  "  -n, --limit LIMIT     newest LIMIT runs (default 20)\n"
	  "  -J, --json            print a JSON array, with each node's output, instead\n"
	  "                        of a table\n"
	  "  -c, --config FILE     read state_dir from FILE\n"
	  "Reads the store read-only; safe while distcrond runs.  A job\n"
	  "with no runs prints \"no runs recorded for JOB\" on stderr and\n"
	  "exits 0.\n",
	  cmd_history },
	{ "trust", "NODE [--check] [--nodes-dir DIR] [--config FILE]",
	  "record (or check) the SSH host key of a node",
	  "  -N, --nodes-dir DIR   node definitions\n"
	  "                        (default " DEFAULT_NODES_DIR ")\n"
	  "  -c, --config FILE     read nodes_dir from FILE\n"
	  "  -C, --check           verify the key as distcrond does, without "
	  "recording it\n"
	  "Connects to the node (TCP and the SSH handshake only: no "
	  "credentials are\n"
	  "sent), prints the fingerprint of the host key it presents and adds "
	  "the key\n"
	  "to the node's known_hosts file (ssh_known_hosts_file) unless it is "
	  "already\n"
	  "there.  A different key already listed for the host is never "
	  "replaced:\n"
	  "the message names the file and line to remove if the change is "
	  "expected.\n"
	  "With --check, nothing is recorded, except that a node whose\n"
	  "ssh_host_key_policy is accept-new gets a new host's key added, as "
	  "the\n"
	  "daemon would.\n"
	  "Exits 0 when the key is trusted (added or already there), 1 when "
	  "it is\n"
	  "refused or the node cannot be reached.\n",
	  cmd_trust },
	{ "help", "[COMMAND]", "show help for a command", "", cmd_help },
};
extern char **environ;

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [--help] [--version] COMMAND [ARGS]\n\n"
	    "Commands:\n", PROG);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n"
	    "Environment: DISTCRON_JOBS_DIR, DISTCRON_NODES_DIR, "
	    "DISTCRON_STATE_DIR.\n", PROG);
}

static void
usage_command(FILE *f, const struct command *cmd)
{
	fprintf(f, "usage: %s %s %s\n%s.\n\n%s", PROG, cmd->name,
	    cmd->synopsis, cmd->summary, cmd->details);
}

/* Prints the help of a command; returns exit status 0. */
static int
command_help(const char *name)
{
	usage_command(stdout, command_find(name));
	return 0;
}

/* Points at the command's --help; returns the usage exit status. */
static int
usage_hint(const char *cmd)
{
	fprintf(stderr, "Try '%s%s%s --help'.\n", PROG, cmd ? " " : "",
	    cmd ? cmd : "");
	return EXIT_USAGE;
}

/* Reports a usage error of cmd (NULL: global); returns EXIT_USAGE. */
static int
usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return usage_hint(cmd);
}

/* Parses a count option into [1, max]; prints the problem. */
static int
parse_count(const char *cmd, const char *opt, const char *s, int64_t max,
    int64_t *out)
{
	int r;

	if ((r = dur_parse_int(s, 1, max, out)) == 0)
		return 0;
	fprintf(stderr, "%s: %s: '%s' is not a number from 1 to %lld\n",
	    PROG, opt, s, (long long)max);
	return usage_hint(cmd);
}

/*
 * Settings.
 */

/*
 * Takes what the flags left unset from the daemon's own settings (config
 * module: defaults < config file < DISTCRON_* environment), so distcronctl
 * finds the same directories as the daemon would.
 */
static int
settings_resolve(struct settings *s)
{
	char *argv[] = { PROG, "--config", (char *)s->config_file, NULL };
	char err[512];

	if (config_load(&s->cfg, s->config_file ? 3 : 1, argv, environ, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return ERR_CONFIG;
	}
	if (s->jobs_dir == NULL)
		s->jobs_dir = s->cfg.jobs_dir;
	if (s->nodes_dir == NULL)
		s->nodes_dir = s->cfg.nodes_dir;
	if (s->state_dir == NULL)
		s->state_dir = s->cfg.state_dir;
	if (s->timezone == NULL && s->cfg.timezone[0] != '\0')
		s->timezone = s->cfg.timezone;
	return 0;
}

static void
settings_free(struct settings *s)
{
	config_free(&s->cfg);
}

/* Looks up a zone (NULL: local), printing the problem. */
static int
zone_get(const char *name, const struct tz **zone)
{
	const char *errstr = NULL;
	int r;

	if ((r = tz_get(name, zone, &errstr)) != 0)
		fprintf(stderr, "%s: time zone '%s': %s\n", PROG,
		    name ? name : "localtime", errstr ? errstr : err_str(r));
	return r;
}

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
check_run(const struct settings *s)
{
	struct check_counts counts = { 0, 0 };
	struct defs_set *set = NULL;
	const struct tz *zone;
	int r;

	if ((r = zone_get(s->timezone, &zone)) != 0 ||
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
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs-dir", required_argument, NULL, 'j' },
		{ "nodes-dir", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		OPT_HELP, OPT_END,
	};
	struct settings s = { 0 };
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "j:N:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': s.jobs_dir = optarg; break;
		case 'N': s.nodes_dir = optarg; break;
		case 'c': s.config_file = optarg; break;
		case 'h': return command_help("check");
		default: return usage_hint("check");
		}
	}
	if (optind < argc)
		return usage_error("check", "check: unexpected argument '%s'",
		    argv[optind]);
	status = settings_resolve(&s) == 0 ? check_run(&s) : 1;
	settings_free(&s);
	return status;
}

/*
 * next
 */

struct next_opts {
	const char *tz;
	const char *from;
	const char *name;
	const char *interval;
	const char *reference;
	int64_t count;
	char *expr;		/* the remaining arguments joined by spaces */
};

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
next_interval(const struct next_opts *o, const struct tz *zone,
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
next_sched(const struct next_opts *o, const struct tz *zone,
    struct sched **sp)
{
	const char *errstr = NULL;
	int r;

	if (o->interval != NULL)
		return next_interval(o, zone, sp);
	r = sched_parse_cron(o->expr, o->name, zone, sp, &errstr);
	if (r == ERR_NEVER)
		fprintf(stderr, "%s: cron: '%s': %s\n", PROG, o->expr,
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
next_run(const struct next_opts *o)
{
	const struct tz *zone;
	struct sched *s = NULL;
	const char *errstr = NULL;
	int64_t from = (int64_t)time(NULL);
	int r;

	if ((r = zone_get(o->tz, &zone)) != 0)
		goto out;
	if (o->from != NULL &&
	    (r = tz_parse_iso8601(zone, o->from, &from, &errstr)) != 0) {
		fprintf(stderr, "%s: --from: '%s': %s\n", PROG, o->from,
		    errstr ? errstr : err_str(r));
		goto out;
	}
	if ((r = next_sched(o, zone, &s)) != 0)
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
next_check_args(struct next_opts *o, int argc, char **argv)
{
	if (o->interval != NULL && optind < argc)
		return usage_error("next", "next: give either EXPR or "
		    "--interval, not both");
	if (o->interval == NULL && optind >= argc)
		return usage_error("next", "next: missing EXPR");
	if (o->reference != NULL && o->interval == NULL)
		return usage_error("next", "next: --reference needs "
		    "--interval");
	if (o->interval == NULL &&
	    (o->expr = join_args(argc, argv, optind)) == NULL) {
		fprintf(stderr, "%s: next: expression too long\n", PROG);
		return EXIT_USAGE;
	}
	return 0;
}

static int
cmd_next(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tz", required_argument, NULL, 'z' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "name", required_argument, NULL, 'k' },
		{ "interval", required_argument, NULL, 'i' },
		{ "reference", required_argument, NULL, 'r' },
		OPT_HELP, OPT_END,
	};
	struct next_opts o = { .count = NEXT_DEFAULT };
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "z:f:n:k:i:r:h", opts,
	    NULL)) != -1) {
		switch (c) {
		case 'z': o.tz = optarg; break;
		case 'f': o.from = optarg; break;
		case 'k': o.name = optarg; break;
		case 'i': o.interval = optarg; break;
		case 'r': o.reference = optarg; break;
		case 'n':
			if (parse_count("next", "-n", optarg, NEXT_MAX,
			    &o.count) != 0)
				return EXIT_USAGE;
			break;
		case 'h': return command_help("next");
		default: return usage_hint("next");
		}
	}
	if ((status = next_check_args(&o, argc, argv)) == 0)
		status = next_run(&o);
	free(o.expr);
	return status;
}

/*
 * history
 */

enum { COL_ID, COL_SCHED, COL_STATUS, COL_NODES, COL_EXIT, COL_DUR,
	COL_TRIGGER, NCOLS };
#define CELL_MAX	80

static const char *const col_names[NCOLS] = {
	"ID", "SCHEDULED", "STATUS", "NODE(S)", "EXIT", "DURATION", "TRIGGER",
};

struct row {
	char cell[NCOLS][CELL_MAX];
};

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
	snprintf(c[COL_STATUS], CELL_MAX, "%s", store_status_str(run->status));
	cell_nodes(run, c[COL_NODES], CELL_MAX);
	cell_exit(run, c[COL_EXIT], CELL_MAX);
	if (run->started_ms > 0 && run->ended_ms >= run->started_ms)
		dur_format(run->ended_ms - run->started_ms, c[COL_DUR],
		    CELL_MAX);
	else
		snprintf(c[COL_DUR], CELL_MAX, "-");
	snprintf(c[COL_TRIGGER], CELL_MAX, "%s",
	    run->trigger ? run->trigger : "-");
}

static void
row_print(const char *const *cells, const int *width)
{
	int i;

	for (i = 0; i < NCOLS - 1; i++)
		printf("%-*s  ", width[i], cells[i]);
	printf("%s\n", cells[NCOLS - 1]);
}

static int
history_table(struct store_run **runs, size_t n, const struct tz *zone)
{
	struct row *rows;
	const char *cells[NCOLS];
	int width[NCOLS], i;
	size_t k;

	if ((rows = calloc(n, sizeof(*rows))) == NULL)
		return -ENOMEM;
	for (i = 0; i < NCOLS; i++)
		width[i] = (int)strlen(col_names[i]);
	for (k = 0; k < n; k++) {
		row_fill(&rows[k], runs[k], zone);
		for (i = 0; i < NCOLS; i++)
			if ((int)strlen(rows[k].cell[i]) > width[i])
				width[i] = (int)strlen(rows[k].cell[i]);
	}
	row_print(col_names, width);
	for (k = 0; k < n; k++) {
		for (i = 0; i < NCOLS; i++)
			cells[i] = rows[k].cell[i];
		row_print(cells, width);
	}
	free(rows);
	return 0;
}

static int
history_json(struct store_run **runs, size_t n, const struct tz *zone)
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
		printf("%s\n", text);
	json_object_put(arr);
	return text != NULL ? 0 : -ENOMEM;
}

static int
history_run(const struct settings *s, const char *job, int64_t limit,
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
	if ((r = zone_get(NULL, &zone)) != 0 ||
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
		r = history_json(runs, n, zone);
	else if (n > 0)
		r = history_table(runs, n, zone);
	if (r != 0)
		fprintf(stderr, "%s: %s\n", PROG, err_str(r));
 out:
	store_runs_free(runs, n);
	store_close(st);
	return r == 0 ? 0 : 1;
}

static int
cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "config", required_argument, NULL, 'c' },
		OPT_HELP, OPT_END,
	};
	struct settings s = { 0 };
	int64_t limit = HISTORY_DEFAULT;
	bool json = false;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:n:Jc:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': s.state_dir = optarg; break;
		case 'c': s.config_file = optarg; break;
		case 'J': json = true; break;
		case 'n':
			if (parse_count("history", "-n", optarg, HISTORY_MAX,
			    &limit) != 0)
				return EXIT_USAGE;
			break;
		case 'h': return command_help("history");
		default: return usage_hint("history");
		}
	}
	if (optind >= argc)
		return usage_error("history", "history: missing JOB");
	if (argc - optind > 1)
		return usage_error("history", "history: unexpected argument "
		    "'%s'", argv[optind + 1]);
	status = settings_resolve(&s) == 0 ?
	    history_run(&s, argv[optind], limit, json) : 1;
	settings_free(&s);
	return status;
}

/*
 * trust
 */

#define TRUST_MSG_MAX	1024

/* An open SSH connection to a node: socket and session. */
struct ssh_conn {
	int fd;
	LIBSSH2_SESSION *s;
	char where[300];	/* "[host]:port", for messages */
};

static void
node_report(void *arg, const char *level, const char *file, const char *msg)
{
	fprintf(stderr, "%s: %s: %s\n", level, file, msg);
}

/* Reads a whole file of at most max bytes into a NUL-terminated string. */
static int
read_text(const char *path, size_t max, char **textp, size_t *lenp)
{
	char chunk[4096];
	struct buf b;
	size_t n;
	FILE *f;
	int r = 0;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	buf_init(&b, max);
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = buf_append(&b, chunk, n);
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r == 0 && (*textp = buf_steal(&b, lenp)) == NULL)
		r = -ENOMEM;
	buf_free(&b);
	return r;
}

/* Loads nodes_dir/NAME.json; prints the problem and fails unless it is a
 * valid SSH node. */
static int
trust_load(const char *nodes_dir, const char *name, struct node_def **out)
{
	char err[512], *text = NULL, *path;
	struct buf b;
	size_t len = 0;
	int r;

	if (!defs_name_valid(name)) {
		fprintf(stderr, "%s: trust: '%s' is not a node name\n", PROG,
		    name);
		return ERR_INVALID;
	}
	buf_init(&b, PATH_MAX);
	if ((r = buf_printf(&b, "%s/%s.json", nodes_dir, name)) != 0 ||
	    (path = buf_steal(&b, NULL)) == NULL) {
		fprintf(stderr, "%s: trust: %s: %s\n", PROG, nodes_dir,
		    err_str(r ? r : -ENOMEM));
		return r ? r : -ENOMEM;
	}
	if ((r = read_text(path, DEFS_FILE_MAX, &text, &len)) != 0)
		fprintf(stderr, "%s: trust: node %s: %s: %s\n", PROG, name,
		    path, err_str(r));
	else if ((r = defs_node_parse(name, text, len, out, err, sizeof(err),
	    node_report, NULL)) != 0)
		fprintf(stderr, "%s: trust: %s: %s\n", PROG, path, err);
	else if ((*out)->conn != NODE_SSH) {
		fprintf(stderr, "%s: trust: node %s is not an SSH node\n", PROG,
		    name);
		defs_node_free(*out);
		*out = NULL;
		r = ERR_INVALID;
	}
	free(text);
	free(path);
	return r;
}

/* Waits for a non-blocking connect on fd; 0 or -errno. */
static int
connect_wait(int fd, int64_t timeout_ms)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	socklen_t len = sizeof(int);
	int n, err = 0;

	do
		n = poll(&p, 1, (int)timeout_ms);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	if (n == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -errno;
	return -err;
}

/* Connects to one address within timeout_ms; returns the blocking
 * socket, or -errno. */
static int
connect_addr(const struct addrinfo *ai, int64_t timeout_ms)
{
	int fd, r = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		r = errno == EINPROGRESS ? connect_wait(fd, timeout_ms) : -errno;
	if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ==
	    -1)
		r = -errno;
	if (r != 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Opens a TCP connection to the node; prints why not. */
static int
tcp_connect(const struct node_def *node, struct ssh_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[16];
	int r;

	snprintf(port, sizeof(port), "%d", node->ssh_port);
	if ((r = getaddrinfo(node->ssh_host, port, &hints, &res)) != 0) {
		fprintf(stderr, "%s: trust: cannot reach node %s at %s: %s\n",
		    PROG, node->name, c->where, gai_strerror(r));
		return ERR_CONNECT;
	}
	r = -EHOSTUNREACH;
	for (ai = res; ai != NULL && r < 0; ai = ai->ai_next)
		r = connect_addr(ai, node->connect_timeout_ms);
	freeaddrinfo(res);
	if (r < 0) {
		fprintf(stderr, "%s: trust: cannot reach node %s at %s: %s\n",
		    PROG, node->name, c->where, r == -ETIMEDOUT ?
		    "connection timed out" : err_str(r));
		return ERR_CONNECT;
	}
	c->fd = r;
	return 0;
}

/* TCP connect and SSH handshake, preferring the host key types we know. */
static int
ssh_open(const struct node_def *node, struct ssh_conn *c)
{
	char *err = NULL;
	int r;

	c->fd = -1;
	c->s = NULL;
	if ((r = sshhost_pattern(node->ssh_host, node->ssh_port, c->where,
	    sizeof(c->where))) != 0 || (r = tcp_connect(node, c)) != 0)
		return r;
	if ((c->s = libssh2_session_init()) == NULL) {
		fprintf(stderr, "%s: trust: cannot create an SSH session\n",
		    PROG);
		return -ENOMEM;
	}
	libssh2_session_set_timeout(c->s, (long)node->connect_timeout_ms);
	if (sshhost_prefer(c->s, node) != 0 ||
	    libssh2_session_handshake(c->s, c->fd) != 0) {
		libssh2_session_last_error(c->s, &err, NULL, 0);
		fprintf(stderr, "%s: trust: SSH handshake with node %s at %s "
		    "failed: %s\n", PROG, node->name, c->where, err);
		return ERR_PROTOCOL;
	}
	return 0;
}

static void
ssh_close(struct ssh_conn *c)
{
	if (c->s != NULL) {
		libssh2_session_disconnect(c->s, "distcronctl trust: done");
		libssh2_session_free(c->s);
	}
	if (c->fd >= 0)
		close(c->fd);
}

/* Records (or, with check, verifies) the key; returns the exit status. */
static int
trust_key(const struct node_def *node, struct ssh_conn *c, bool check)
{
	char fp[128], msg[TRUST_MSG_MAX];
	int r;

	if ((r = sshhost_fingerprint(c->s, fp, sizeof(fp))) != 0) {
		fprintf(stderr, "%s: trust: node %s at %s presented no host "
		    "key\n", PROG, node->name, c->where);
		return 1;
	}
	printf("node %s at %s presents %s\n", node->name, c->where, fp);
	fflush(stdout);		/* before any message on stderr */
	r = check ? sshhost_verify(c->s, node, msg, sizeof(msg)) :
	    sshhost_trust(c->s, node, msg, sizeof(msg));
	if (r == 0 || r == ERR_EXISTS) {
		printf("%s\n", msg);
		return 0;
	}
	fprintf(stderr, "%s: trust: %s\n", PROG, msg);
	return 1;
}

static int
trust_run(const struct settings *s, const char *name, bool check)
{
	struct node_def *node = NULL;
	struct ssh_conn c = { .fd = -1 };
	int status = 1;

	if (trust_load(s->nodes_dir, name, &node) != 0)
		return 1;
	if (libssh2_init(0) != 0) {
		fprintf(stderr, "%s: trust: libssh2 initialisation failed\n",
		    PROG);
		defs_node_free(node);
		return 1;
	}
	if (ssh_open(node, &c) == 0)
		status = trust_key(node, &c, check);
	ssh_close(&c);
	libssh2_exit();
	defs_node_free(node);
	return status;
}

static int
cmd_trust(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nodes-dir", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		OPT_HELP, OPT_END,
	};
	struct settings s = { 0 };
	bool check = false;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "N:c:Ch", opts, NULL)) != -1) {
		switch (c) {
		case 'N': s.nodes_dir = optarg; break;
		case 'c': s.config_file = optarg; break;
		case 'C': check = true; break;
		case 'h': return command_help("trust");
		default: return usage_hint("trust");
		}
	}
	if (optind >= argc)
		return usage_error("trust", "trust: missing NODE");
	if (argc - optind > 1)
		return usage_error("trust", "trust: unexpected argument '%s'",
		    argv[optind + 1]);
	signal(SIGPIPE, SIG_IGN);	/* a peer that hangs up is an error */
	status = settings_resolve(&s) == 0 ?
	    trust_run(&s, argv[optind], check) : 1;
	settings_free(&s);
	return status;
}

/*
 * help, main
 */

static int
cmd_help(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if ((cmd = command_find(argv[1])) == NULL)
		return usage_error(NULL, "unknown command '%s'", argv[1]);
	usage_command(stdout, cmd);
	return 0;
}

/* Flushes stdout; a write error (full disk, closed pipe) fails the run. */
static int
finish_output(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error: %s\n", PROG, strerror(errno));
		return 1;
	}
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		OPT_HELP, OPT_END,
	};
	static char progname[64];
	const struct command *cmd;
	int c, status;

	argv[0] = progname;	/* getopt's messages name the program */
	snprintf(progname, sizeof(progname), "%s", PROG);
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return finish_output(0);
		case 'V':
			printf("%s %s\n", PROG, PACKAGE_VERSION);
			return finish_output(0);
		default: return usage_hint(NULL);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "missing command");
	if ((cmd = command_find(argv[optind])) == NULL)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);
	/* ... and then the command: "distcronctl next: ..." */
	snprintf(progname, sizeof(progname), "%s %s", PROG, cmd->name);
	argv[optind] = progname;
	status = cmd->run(argc - optind, argv + optind);
	status = finish_output(status);
	tz_cache_clear();
	return status;
}
