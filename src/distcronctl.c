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
 * The other commands (jobs, show, run, runs, cancel, nodes, pause, resume,
 * apply, delete, task) talk to a running distcrond through its REST API
 * (include/distcron/api.h) with the apiclient module: blocking requests,
 * one client per invocation.  They find the API from --url/--token, else
 * DISTCRON_URL/DISTCRON_TOKEN, else the daemon's settings (listen,
 * tls_cert, api_token or STATE_DIR/api.token); see the section "API
 * commands".
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

#include "distcron/api.h"
#include "distcron/apiclient.h"
#include "distcron/buf.h"
#include "distcron/config.h"
#include "distcron/ctlview.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/runjson.h"
#include "distcron/sched.h"
#include "distcron/sshhost.h"
#include "distcron/store.h"
#include "distcron/table.h"
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

/* API commands (see the section "API commands" below). */
#define API_TOKEN_FILE	"api.token"
#define API_TOKEN_MAX	4096
#define API_MSG_MAX	1024
#define API_POLL_MIN_MS	100
#define API_POLL_MAX_MS	1000
#define RUNS_DEFAULT	20
#define RUNS_MAX	10000

/* Continue with the command (an option parser's "no exit status yet"). */
#define PROCEED		(-1)

/* Long-only options of every API command. */
enum { OPT_URL = 256, OPT_TOKEN, OPT_CACERT };
#define OPT_API \
	{ "url", required_argument, NULL, OPT_URL }, \
	{ "token", required_argument, NULL, OPT_TOKEN }, \
	{ "cacert", required_argument, NULL, OPT_CACERT }, \
	{ "config", required_argument, NULL, 'c' }, \
	{ "json", no_argument, NULL, 'J' }
#define API_SHORTOPTS	"c:J"

#define API_OPTS_HELP \
	"      --url URL         the API, e.g. http://127.0.0.1:8080\n" \
	"      --token TOKEN     bearer token (visible in ps: prefer " \
	"DISTCRON_TOKEN)\n" \
	"      --cacert FILE     verify the server's TLS certificate with " \
	"FILE\n" \
	"  -c, --config FILE     the daemon's config file, for listen and " \
	"api_token\n" \
	"  -J, --json            print the API's JSON answer\n" \
	"Without --url/--token: DISTCRON_URL, DISTCRON_TOKEN and " \
	"DISTCRON_CA_FILE,\n" \
	"else the daemon's settings (listen, tls_cert, and api_token or\n" \
	"STATE_DIR/" API_TOKEN_FILE ").\n"

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

/* Options given before the command: the defaults of its own (main). */
static struct settings global_set;

/* Options of the API commands (see the section "API commands"). */
struct api_opts {
	const char *url;
	const char *token;
	const char *ca_file;
	const char *config_file;
	bool json;
	bool wait;		/* API errors exit 2: 1 is a failed run */
};

static struct api_opts global_api;	/* see global_set */

static int cmd_check(int, char **);
static int cmd_next(int, char **);
static int cmd_history(int, char **);
static int cmd_trust(int, char **);
static int cmd_jobs(int, char **);
static int cmd_show(int, char **);
static int cmd_run(int, char **);
static int cmd_runs(int, char **);
static int cmd_cancel(int, char **);
static int cmd_nodes(int, char **);
static int cmd_pause(int, char **);
static int cmd_resume(int, char **);
static int cmd_apply(int, char **);
static int cmd_delete(int, char **);
static int cmd_task(int, char **);
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
	{ "jobs", "[API OPTIONS]", "list the jobs of a running distcrond",
	  "Columns: NAME, SCHEDULE, NEXT RUN, LAST STATUS (of the last run),\n"
	  "RUNNING (runs in progress), PAUSED.\n" API_OPTS_HELP,
	  cmd_jobs },
	{ "show", "JOB [API OPTIONS]", "show a job's definition and state",
	  "Prints the job's state (paused, next run, last run...) and its\n"
	  "definition as the daemon loaded it.\n" API_OPTS_HELP,
	  cmd_show },
	{ "run", "JOB [--wait [--timeout DUR]] [API OPTIONS]",
	  "start a run of a job now",
	  "  -w, --wait            wait for the run to finish and print its "
	  "result\n"
	  "                        on every node (status, exit code, output)\n"
	  "  -t, --timeout DUR     stop waiting after DUR (10s, 5m); the run "
	  "goes on\n"
	  API_OPTS_HELP
	  "Prints the id of the new run.  With --wait, exits 0 if the run "
	  "succeeded,\n"
	  "1 if it failed or was lost, 2 on a usage or API error or when\n"
	  "--timeout passed.\n",
	  cmd_run },
	{ "runs", "[--job JOB] [--status S] [--since T] [-n N] "
	  "[API OPTIONS]",
	  "list recent runs (of all jobs and tasks)",
	  "  -j, --job JOB         runs of JOB only\n"
	  "  -s, --status S        runs in status S (SUCCESS, FAILURE, "
	  "STARTED...)\n"
	  "  -S, --since T         runs since T: ISO 8601, or a duration ago "
	  "(2h)\n"
	  "  -n, --limit N         newest N runs (default 20, max 10000)\n"
	  API_OPTS_HELP
	  "See also 'history', which reads the store without the daemon.\n",
	  cmd_runs },
	{ "cancel", "ID [API OPTIONS]", "cancel a pending or running run",
	  API_OPTS_HELP
	  "Exits 1 if the run is unknown or already finished.\n",
	  cmd_cancel },
	{ "nodes", "[API OPTIONS]", "list the nodes and their health",
	  "Columns: NAME, TYPE (local, ssh), ROLES, STATUS (up, down, "
	  "disabled),\n"
	  "SINCE (when it changed), RUNNING (runs on it), LAST ERROR.\n"
	  API_OPTS_HELP,
	  cmd_nodes },
	{ "pause", "JOB [API OPTIONS]", "stop scheduling a job",
	  "Scheduled runs stop until 'resume' (kept across restarts); "
	  "'run' still\n"
	  "works.\n" API_OPTS_HELP,
	  cmd_pause },
	{ "resume", "JOB [API OPTIONS]", "schedule a paused job again",
	  API_OPTS_HELP, cmd_resume },
	{ "apply", "FILE [--name JOB] [API OPTIONS]",
	  "create or replace a job from a JSON file",
	  "  -k, --name JOB        the job's name (default: FILE's name "
	  "without .json;\n"
	  "                        needed when FILE is - for stdin)\n"
	  API_OPTS_HELP
	  "The daemon validates the job, writes it to its jobs directory and "
	  "schedules\n"
	  "it; prints \"created JOB\" or \"replaced JOB\".  An invalid job "
	  "exits 1 with\n"
	  "the daemon's message (422: FIELD: REASON).\n",
	  cmd_apply },
	{ "delete", "JOB [API OPTIONS]", "remove a job (and its file)",
	  API_OPTS_HELP, cmd_delete },
	{ "task", "[--node N... | --role R...] [--all] [--timeout DUR] "
	  "[--wait]\n"
	  "       [API OPTIONS] [--] CMD [ARG...]",
	  "run a command once on chosen nodes",
	  "  -N, --node N          run on node N (repeatable)\n"
	  "  -r, --role R          run on nodes with role R (repeatable)\n"
	  "  -a, --all             on every chosen node (default: any one)\n"
	  "  -t, --timeout DUR     kill the command after DUR (10s, 5m)\n"
	  "  -w, --wait            wait for the run and print its result, as "
	  "'run --wait'\n"
	  API_OPTS_HELP
	  "Options end at CMD: CMD's own options are passed to it.  CMD runs "
	  "without\n"
	  "a shell.  Prints the id of the run; exit statuses as for 'run'.\n",
	  cmd_task },
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

	fprintf(f, "usage: %s [--help] [--version] [OPTIONS] COMMAND [ARGS]\n\n"
	    "Commands:\n", PROG);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n"
	    "These work before the command too, for every command that takes "
	    "them:\n"
	    "--config FILE, --json, --url, --token, --cacert, --jobs-dir, "
	    "--nodes-dir,\n"
	    "--state-dir; one given after the command wins.\n"
	    "Environment: DISTCRON_JOBS_DIR, DISTCRON_NODES_DIR, "
	    "DISTCRON_STATE_DIR.\n", PROG);
	fprintf(f, "\nThe commands from 'jobs' on talk to a running distcrond "
	    "through its REST\n"
	    "API, found with --url URL and --token TOKEN, "
	    "else\n"
	    "DISTCRON_URL and DISTCRON_TOKEN, else the daemon's config: "
	    "listen (https\n"
	    "when tls_cert is set), and api_token or STATE_DIR/api.token.  "
	    "--cacert FILE\n"
	    "or DISTCRON_CA_FILE verifies the server's certificate.\n");
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
	struct settings s = global_set;
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
	struct settings s = global_set;
	int64_t limit = HISTORY_DEFAULT;
	bool json = global_api.json;
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
	struct settings s = global_set;
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
 * API commands: jobs, show, run, runs, cancel, nodes, pause, resume,
 * apply, delete, task.  Each one sends a request or two to distcrond's REST
 * API through the apiclient module (blocking) and prints the answer as a
 * table or text, or as the API's JSON with --json.  The API is found
 * through --url/--token, else DISTCRON_URL/DISTCRON_TOKEN, else the
 * daemon's own settings: "listen" (https when "tls_cert" is set) and
 * "api_token" or STATE_DIR/api.token.  An API error is printed as the API
 * gave it ("422: schedule.cron: ...") and exits 1; with --wait, exit 1
 * means the run failed, so API errors exit 2 instead.
 */

/* A connection to the API for one command. */
struct api_ctx {
	struct apiclient *client;
	bool json;
	int fail;		/* exit status of an API error */
};

/* Takes an option common to API commands; false if c is not one. */
static bool
api_opt(struct api_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_URL: o->url = arg; return true;
	case OPT_TOKEN: o->token = arg; return true;
	case OPT_CACERT: o->ca_file = arg; return true;
	case 'c': o->config_file = arg; return true;
	case 'J': o->json = true; return true;
	default: return false;
	}
}

/* Checks that exactly nargs operands (named what) follow the options. */
static int
api_operands(const char *cmd, int argc, char **argv, int nargs,
    const char *what)
{
	if (argc - optind < nargs)
		return usage_error(cmd, "%s: missing %s", cmd, what);
	if (argc - optind > nargs)
		return usage_error(cmd, "%s: unexpected argument '%s'", cmd,
		    argv[optind + nargs]);
	return PROCEED;
}

/* Parses a command that takes only the API options and nargs operands. */
static int
api_args(const char *cmd, int argc, char **argv, struct api_opts *o,
    int nargs, const char *what)
{
	static const struct option opts[] = { OPT_API, OPT_HELP, OPT_END };
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, API_SHORTOPTS "h", opts,
	    NULL)) != -1) {
		if (api_opt(o, c, optarg))
			continue;
		if (c == 'h')
			return command_help(cmd);
		return usage_hint(cmd);
	}
	return api_operands(cmd, argc, argv, nargs, what);
}

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

/* The daemon's token: api_token, else the first line of
 * STATE_DIR/api.token.  Prints why there is none. */
static char *
config_token(const struct config *cfg)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int n, r;

	if (cfg->api_token[0] != '\0')
		return strdup(cfg->api_token);
	n = snprintf(path, sizeof(path), "%s/%s", cfg->state_dir,
	    API_TOKEN_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		r = -ENAMETOOLONG;
	else if ((r = read_text(path, API_TOKEN_MAX, &text, &len)) == 0) {
		text[strcspn(text, "\r\n")] = '\0';
		if (text[0] != '\0')
			return text;
		r = ERR_INVALID;
	}
	fprintf(stderr, "%s: no API token: %s: %s (give --token or set "
	    "DISTCRON_TOKEN)\n", PROG, path, r == ERR_INVALID ?
	    "empty file" : err_str(r));
	free(text);
	return NULL;
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
api_discover(const struct api_opts *o, char **url, char **token)
{
	struct settings s = { .config_file = o->config_file };
	int r = 0;

	if ((r = settings_resolve(&s)) != 0)
		return r;
	if (*url == NULL && (*url = listen_url(&s.cfg)) == NULL) {
		fprintf(stderr, "%s: listen: '%s' is not ADDR:PORT\n", PROG,
		    s.cfg.listen);
		r = ERR_CONFIG;
	}
	if (r == 0 && *token == NULL && (*token = config_token(&s.cfg)) ==
	    NULL)
		r = ERR_CONFIG;
	settings_free(&s);
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
api_open(const struct api_opts *o, struct api_ctx *a)
{
	const char *url = flag_or_env(o->url, "DISTCRON_URL");
	const char *token = flag_or_env(o->token, "DISTCRON_TOKEN");
	char *url_found = NULL, *token_found = NULL;
	int r = 0;

	a->client = NULL;
	a->json = o->json;
	a->fail = o->wait ? EXIT_USAGE : 1;
	signal(SIGPIPE, SIG_IGN);	/* a server that hangs up is an error */
	if (url == NULL || token == NULL) {
		if (url != NULL && (url_found = strdup(url)) == NULL)
			r = -ENOMEM;
		if (token != NULL && (token_found = strdup(token)) == NULL)
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
 * Reading answers.
 */









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
cmd_jobs(int argc, char **argv)
{
	struct api_opts o = global_api;
	struct api_ctx a;
	json_object *root = NULL;
	int status;

	if ((status = api_args("jobs", argc, argv, &o, 0, "")) != PROCEED)
		return status;
	if (api_open(&o, &a) != 0)
		return 1;
	if ((status = jobs_get_all(&a, &root)) == 0)
		status = o.json ? (ctlview_json(root, stdout), 0) :
		    ctlview_jobs(root, stdout, stderr);
	json_object_put(root);
	api_close(&a);
	return status;
}




static int
cmd_show(int argc, char **argv)
{
	struct api_opts o = global_api;
	struct api_ctx a;
	json_object *root = NULL;
	int status;

	if ((status = api_args("show", argc, argv, &o, 1, "JOB")) != PROCEED)
		return status;
	if (api_open(&o, &a) != 0)
		return 1;
	status = api_call_on(&a, "GET", "/jobs", argv[optind], "", NULL, 0,
	    NULL, &root);
	if (status == 0 && o.json)
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
	int status;

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
		if (timeout_ms > 0 && mono_ms() >= deadline) {
			fprintf(stderr, "%s: run %lld is still %s after the "
			    "--timeout; it goes on\n", PROG, (long long)id, st);
			json_object_put(run);
			return EXIT_USAGE;
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

/* Parses a --timeout DUR; prints the problem. */
static int
parse_timeout(const char *cmd, const char *s, int64_t *ms)
{
	const char *errstr = NULL;

	if (dur_parse(s, ms, &errstr) == 0 && *ms > 0)
		return PROCEED;
	return usage_error(cmd, "%s: --timeout: '%s': %s", cmd, s,
	    errstr ? errstr : "must be more than 0");
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		OPT_API, OPT_HELP, OPT_END,
	};
	struct api_opts o = global_api;
	int64_t timeout_ms = 0;
	json_object *root = NULL;
	struct api_ctx a;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "wt:" API_SHORTOPTS "h", opts,
	    NULL)) != -1) {
		if (api_opt(&o, c, optarg))
			continue;
		switch (c) {
		case 'w': o.wait = true; break;
		case 't':
			if ((status = parse_timeout("run", optarg,
			    &timeout_ms)) != PROCEED)
				return status;
			break;
		case 'h': return command_help("run");
		default: return usage_hint("run");
		}
	}
	if ((status = api_operands("run", argc, argv, 1, "JOB")) != PROCEED)
		return status;
	if (timeout_ms > 0 && !o.wait)
		return usage_error("run", "run: --timeout needs --wait");
	if (api_open(&o, &a) != 0)
		return o.wait ? EXIT_USAGE : 1;
	if ((status = api_call_on(&a, "POST", "/jobs", argv[optind], "/run",
	    NULL, 0, NULL, &root)) == 0)
		status = run_started(&a, root, o.wait, timeout_ms);
	json_object_put(root);
	api_close(&a);
	return status;
}

/*
 * runs, cancel
 */

struct runs_opts {
	const char *job;
	const char *status;
	const char *since;
	int64_t limit;
};

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
	if (zone_get(NULL, &zone) != 0)
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
runs_path(const struct runs_opts *ro)
{
	char since[64], limit[24];
	struct buf b;

	snprintf(limit, sizeof(limit), "%lld", (long long)ro->limit);
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
runs_run(const struct api_opts *o, const struct runs_opts *ro)
{
	json_object *root = NULL;
	struct api_ctx a;
	char *path;
	int status;

	if ((path = runs_path(ro)) == NULL) {
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
cmd_runs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "status", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'n' },
		OPT_API, OPT_HELP, OPT_END,
	};
	struct runs_opts ro = { .limit = RUNS_DEFAULT };
	struct api_opts o = global_api;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "j:s:S:n:" API_SHORTOPTS "h",
	    opts, NULL)) != -1) {
		if (api_opt(&o, c, optarg))
			continue;
		switch (c) {
		case 'j': ro.job = optarg; break;
		case 's': ro.status = optarg; break;
		case 'S': ro.since = optarg; break;
		case 'n':
			if (parse_count("runs", "-n", optarg, RUNS_MAX,
			    &ro.limit) != 0)
				return EXIT_USAGE;
			break;
		case 'h': return command_help("runs");
		default: return usage_hint("runs");
		}
	}
	if ((status = api_operands("runs", argc, argv, 0, "")) != PROCEED)
		return status;
	return runs_run(&o, &ro);
}

static int
cmd_cancel(int argc, char **argv)
{
	struct api_opts o = global_api;
	json_object *root = NULL;
	struct api_ctx a;
	int64_t id;
	int status;

	if ((status = api_args("cancel", argc, argv, &o, 1, "ID")) !=
	    PROCEED)
		return status;
	if (dur_parse_int(argv[optind], 1, INT64_MAX, &id) != 0)
		return usage_error("cancel", "cancel: '%s' is not a run id",
		    argv[optind]);
	if (api_open(&o, &a) != 0)
		return 1;
	status = api_call_on(&a, "DELETE", "/runs", argv[optind], "", NULL,
	    0, NULL, &root);
	if (status == 0 && o.json)
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


static int
cmd_nodes(int argc, char **argv)
{
	struct api_opts o = global_api;
	json_object *root = NULL;
	struct api_ctx a;
	int status;

	if ((status = api_args("nodes", argc, argv, &o, 0, "")) != PROCEED)
		return status;
	if (api_open(&o, &a) != 0)
		return 1;
	if ((status = api_call(&a, "GET", "/nodes", NULL, 0, NULL,
	    &root)) == 0)
		status = o.json ? (ctlview_json(root, stdout), 0) :
		    ctlview_nodes(root, stdout, stderr);
	json_object_put(root);
	api_close(&a);
	return status;
}

/*
 * pause, resume, delete
 */

/* One request about a job; done says what happened ("paused"). */
static int
job_action(const char *cmd, int argc, char **argv, const char *method,
    const char *suffix, const char *done)
{
	struct api_opts o = global_api;
	json_object *root = NULL;
	struct api_ctx a;
	int status;

	if ((status = api_args(cmd, argc, argv, &o, 1, "JOB")) != PROCEED)
		return status;
	if (api_open(&o, &a) != 0)
		return 1;
	status = api_call_on(&a, method, "/jobs", argv[optind], suffix, NULL,
	    0, NULL, &root);
	if (status == 0 && o.json)
		ctlview_json(root, stdout);
	else if (status == 0)
		printf("%s %s\n", done, argv[optind]);
	json_object_put(root);
	api_close(&a);
	return status;
}

static int
cmd_pause(int argc, char **argv)
{
	return job_action("pause", argc, argv, "POST", "/pause", "paused");
}

static int
cmd_resume(int argc, char **argv)
{
	return job_action("resume", argc, argv, "POST", "/resume",
	    "resumed");
}

static int
cmd_delete(int argc, char **argv)
{
	return job_action("delete", argc, argv, "DELETE", "", "deleted");
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
apply_send(const struct api_opts *o, const char *name, const char *body,
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
apply_run(const struct api_opts *o, const char *file, const char *name)
{
	char *text = NULL, *owned = NULL;
	size_t len = 0;
	int r, status = 1;

	if (name == NULL && strcmp(file, "-") == 0)
		return usage_error("apply", "apply: reading stdin needs "
		    "--name");
	if (name == NULL && (name = owned = apply_name(file)) == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, strerror(ENOMEM));
		return 1;
	}
	r = read_text(strcmp(file, "-") == 0 ? "/dev/stdin" : file,
	    DEFS_FILE_MAX, &text, &len);
	if (r != 0)
		fprintf(stderr, "%s: %s: %s\n", PROG, file, err_str(r));
	else
		status = apply_send(o, name, text, len);
	free(text);
	free(owned);
	return status;
}

static int
cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'k' },
		OPT_API, OPT_HELP, OPT_END,
	};
	struct api_opts o = global_api;
	const char *name = NULL;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "k:" API_SHORTOPTS "h", opts,
	    NULL)) != -1) {
		if (api_opt(&o, c, optarg))
			continue;
		switch (c) {
		case 'k': name = optarg; break;
		case 'h': return command_help("apply");
		default: return usage_hint("apply");
		}
	}
	if ((status = api_operands("apply", argc, argv, 1, "FILE")) !=
	    PROCEED)
		return status;
	return apply_run(&o, argv[optind], name);
}

/*
 * task
 */

struct task_opts {
	json_object *nodes;	/* --node values, or NULL */
	json_object *roles;	/* --role values, or NULL */
	bool all;
	const char *timeout;
};

/* Appends s to the array *arr, creating it. */
static void
strv_add(json_object **arr, const char *s)
{
	if (*arr == NULL)
		*arr = json_object_new_array();
	json_object_array_add(*arr, json_object_new_string(s));
}

/* {"command": [argv...], "policy": {...}, "timeout": DUR}; takes the
 * node and role lists. */
static json_object *
task_body(struct task_opts *t, int argc, char **argv)
{
	json_object *body = json_object_new_object(), *cmd, *policy = NULL;
	int i;

	cmd = json_object_new_array();
	for (i = 0; i < argc; i++)
		json_object_array_add(cmd, json_object_new_string(argv[i]));
	json_object_object_add(body, "command", cmd);
	if (t->all || t->nodes != NULL || t->roles != NULL) {
		policy = json_object_new_object();
		json_object_object_add(policy, "hosts",
		    json_object_new_string(t->all ? "all" : "any"));
		if (t->nodes != NULL)
			json_object_object_add(policy, "nodes", t->nodes);
		if (t->roles != NULL)
			json_object_object_add(policy, "roles", t->roles);
		t->nodes = t->roles = NULL;
		json_object_object_add(body, "policy", policy);
	}
	if (t->timeout != NULL)
		json_object_object_add(body, "timeout",
		    json_object_new_string(t->timeout));
	return body;
}

static int
task_run(const struct api_opts *o, struct task_opts *t, int argc,
    char **argv)
{
	json_object *body = task_body(t, argc, argv), *root = NULL;
	const char *text = json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct api_ctx a;
	int status;

	if (api_open(o, &a) != 0) {
		json_object_put(body);
		return o->wait ? EXIT_USAGE : 1;
	}
	if ((status = api_call(&a, "POST", "/tasks", text, strlen(text), NULL,
	    &root)) == 0)
		status = run_started(&a, root, o->wait, 0);
	json_object_put(root);
	json_object_put(body);
	api_close(&a);
	return status;
}

/* Parses the options before CMD; PROCEED or an exit status. */
static int
task_opts_parse(int argc, char **argv, struct api_opts *o,
    struct task_opts *t)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "role", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", no_argument, NULL, 'w' },
		OPT_API, OPT_HELP, OPT_END,
	};
	int64_t ms;
	int c, status;

	optind = 0;
	/* '+': the command's own options are never taken for ours. */
	while ((c = getopt_long(argc, argv, "+N:r:at:w" API_SHORTOPTS "h",
	    opts, NULL)) != -1) {
		if (api_opt(o, c, optarg))
			continue;
		switch (c) {
		case 'N': strv_add(&t->nodes, optarg); break;
		case 'r': strv_add(&t->roles, optarg); break;
		case 'a': t->all = true; break;
		case 'w': o->wait = true; break;
		case 't':
			if ((status = parse_timeout("task", optarg, &ms)) !=
			    PROCEED)
				return status;
			t->timeout = optarg;
			break;
		case 'h': return command_help("task");
		default: return usage_hint("task");
		}
	}
	if (t->nodes != NULL && t->roles != NULL)
		return usage_error("task", "task: give --node or --role, not "
		    "both");
	if (optind >= argc)
		return usage_error("task", "task: missing CMD");
	return PROCEED;
}

static int
cmd_task(int argc, char **argv)
{
	struct task_opts t = { 0 };
	struct api_opts o = global_api;
	int status;

	if ((status = task_opts_parse(argc, argv, &o, &t)) == PROCEED)
		status = task_run(&o, &t, argc - optind, argv + optind);
	json_object_put(t.nodes);
	json_object_put(t.roles);
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

/* Takes a global option (given before the command) into the defaults of
 * every command; one given after the command wins.  A command ignores the
 * ones it has no use for, as git and kubectl do. */
static void
global_opt(int c, const char *arg)
{
	switch (c) {
	case 'c': global_set.config_file = global_api.config_file = arg; break;
	case 'J': global_api.json = true; break;
	case OPT_URL: global_api.url = arg; break;
	case OPT_TOKEN: global_api.token = arg; break;
	case OPT_CACERT: global_api.ca_file = arg; break;
	case 'j': global_set.jobs_dir = arg; break;
	case 'N': global_set.nodes_dir = arg; break;
	case 's': global_set.state_dir = arg; break;
	}
}

int
main(int argc, char **argv)
{
	/* Long only where a short letter means different things per command. */
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'J' },
		{ "url", required_argument, NULL, OPT_URL },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "jobs-dir", required_argument, NULL, 'j' },
		{ "nodes-dir", required_argument, NULL, 'N' },
		{ "state-dir", required_argument, NULL, 's' },
		OPT_HELP, OPT_END,
	};
	static char progname[64];
	const struct command *cmd;
	int c, status;

	argv[0] = progname;	/* getopt's messages name the program */
	snprintf(progname, sizeof(progname), "%s", PROG);
	while ((c = getopt_long(argc, argv, "+hVc:J", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return finish_output(0);
		case 'V':
			printf("%s %s\n", PROG, PACKAGE_VERSION);
			return finish_output(0);
		case '?': return usage_hint(NULL);
		default: global_opt(c, optarg); break;
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
