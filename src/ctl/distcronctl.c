/*
 * distcronctl.c - the command-line client of distcron: global options,
 * the command table, help and exit statuses.
 *
 * main() parses the options given before the command (the defaults of
 * every command that takes them), finds the command, parses its own
 * options with the ctlopt module from the tables the command declares,
 * and runs it.  The offline commands (check, next, history in
 * ctl_offline.c, trust in ctl_trust.c) read what the daemon reads without
 * talking to it; the others (ctl_api.c) talk to a running distcrond
 * through its REST API.  "distcronctl help CMD" and "distcronctl CMD
 * --help" print the command's help from its option tables.
 *
 * Exit status: 0 success, 1 failure, 2 usage error.  A write error on
 * stdout (full disk, closed pipe) fails the run.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "distcron/ctlopt.h"
#include "distcron/tz.h"
#include "ctl_int.h"

#define PROG		CTLOPT_PROG

static int help_main(const struct ctlopt_vals *, int, char **);

static const struct ctl_command ctl_help = {
	{ .name = "help", .synopsis = "[COMMAND]",
	  .summary = "show help for a command", .nargs = -1 },
	help_main,
};

static const struct ctl_command *const commands[] = {
	&ctl_check, &ctl_next, &ctl_history, &ctl_trust,
	&ctl_jobs, &ctl_show, &ctl_run, &ctl_runs, &ctl_cancel, &ctl_nodes,
	&ctl_pause, &ctl_resume, &ctl_apply, &ctl_delete, &ctl_task,
	&ctl_outbox, &ctl_cluster, &ctl_secret, &ctl_help,
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* Options given before the command.  Long only where a short letter
 * means different things per command. */
static const struct ctlopt global_opts[] = {
	CTLOPT_OPT("version", 'V', NULL, CTLOPT_STOP, stop, NULL),
	CTLOPT_OPT("config", 'c', "FILE", CTLOPT_STR, config_file, NULL),
	CTLOPT_OPT("json", 'J', NULL, CTLOPT_FLAG, json, NULL),
	CTLOPT_OPT("url", 0, "URL", CTLOPT_STR, url, NULL),
	CTLOPT_OPT("token", 0, "TOKEN", CTLOPT_STR, token, NULL),
	CTLOPT_OPT("token-file", 0, "FILE", CTLOPT_STR, token_file, NULL),
	CTLOPT_OPT("cacert", 0, "FILE", CTLOPT_STR, ca_file, NULL),
	CTLOPT_OPT("jobs-dir", 0, "DIR", CTLOPT_STR, jobs_dir, NULL),
	CTLOPT_OPT("nodes-dir", 0, "DIR", CTLOPT_STR, nodes_dir, NULL),
	CTLOPT_OPT("state-dir", 0, "DIR", CTLOPT_STR, state_dir, NULL),
	CTLOPT_END,
};

/* The global level: no name, so usage errors point at 'distcronctl
 * --help'; options end at the command. */
static const struct ctlopt_cmd global_cmd = {
	.opts = global_opts, .nargs = -1, .in_order = true,
};

static const struct ctl_command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->spec.name, name) == 0)
			return commands[i];
	return NULL;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [--help] [--version] [OPTIONS] COMMAND [ARGS]\n\n"
	    "Commands:\n", PROG);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->spec.name,
		    commands[i]->spec.summary);
	fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n"
	    "These work before the command too, for every command that takes "
	    "them:\n"
	    "--config FILE, --json, --url, --token, --token-file, --cacert,\n"
	    "--jobs-dir, --nodes-dir, --state-dir; one given after the command "
	    "wins.\n"
	    "Environment: DISTCRON_JOBS_DIR, DISTCRON_NODES_DIR, "
	    "DISTCRON_STATE_DIR.\n", PROG);
	fprintf(f, "\nThe commands from 'jobs' on talk to a running distcrond "
	    "through its REST\n"
	    "API, found with --url URL and --token TOKEN (or --token-file "
	    "FILE), else\n"
	    "DISTCRON_URL and DISTCRON_TOKEN, else the daemon's config: "
	    "listen (https\n"
	    "when tls_cert is set), and api_token or STATE_DIR/api.token.  "
	    "--cacert FILE\n"
	    "or DISTCRON_CA_FILE verifies the server's certificate.\n");
}

/* help [COMMAND]: the list of commands, or one command's help. */
static int
help_main(const struct ctlopt_vals *v, int argc, char **argv)
{
	const struct ctl_command *cmd;

	(void)v;
	if (argc < 1) {
		usage(stdout);
		return 0;
	}
	if ((cmd = command_find(argv[0])) == NULL)
		return ctlopt_usage_error(NULL, "unknown command '%s'", argv[0]);
	ctlopt_help(stdout, &cmd->spec);
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

/* Parses the command's options over the global ones in *v and runs it. */
static int
command_run(const struct ctl_command *cmd, int argc, char **argv,
    struct ctlopt_vals *v)
{
	int first, status;

	status = ctlopt_parse(&cmd->spec, argc, argv, v, &first);
	if (status == CTLOPT_STOPPED) {
		ctlopt_help(stdout, &cmd->spec);
		status = 0;
	} else if (status == CTLOPT_PROCEED)
		status = cmd->run(v, argc - first, argv + first);
	ctlopt_vals_free(v);
	return status;
}

int
main(int argc, char **argv)
{
	static char progname[64];
	struct ctlopt_vals v = { 0 };
	const struct ctl_command *cmd;
	int first, status;

	argv[0] = progname;	/* getopt's messages name the program */
	snprintf(progname, sizeof(progname), "%s", PROG);
	status = ctlopt_parse(&global_cmd, argc, argv, &v, &first);
	if (status == CTLOPT_STOPPED && v.stop == 'V') {
		printf("%s %s\n", PROG, PACKAGE_VERSION);
		return finish_output(0);
	}
	if (status == CTLOPT_STOPPED) {
		usage(stdout);
		return finish_output(0);
	}
	if (status != CTLOPT_PROCEED)
		return status;
	if (first >= argc)
		return ctlopt_usage_error(NULL, "missing command");
	if ((cmd = command_find(argv[first])) == NULL)
		return ctlopt_usage_error(NULL, "unknown command '%s'",
		    argv[first]);
	/* ... and then the command: "distcronctl next: ..." */
	snprintf(progname, sizeof(progname), "%s %s", PROG, cmd->spec.name);
	argv[first] = progname;
	status = finish_output(command_run(cmd, argc - first, argv + first,
	    &v));
	tz_cache_clear();
	return status;
}
