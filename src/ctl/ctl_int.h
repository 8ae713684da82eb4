/*
 * ctl_int.h - what distcronctl's files share: the command type, the
 * commands, the settings of the offline commands and a few helpers.
 *
 * distcronctl.c dispatches (global options, the command table, help);
 * ctl_offline.c holds check, next and history, ctl_trust.c trust,
 * ctl_api.c the commands that talk to distcrond; ctl_common.c the helpers
 * below.  Every command returns its exit status: 0 success, 1 failure,
 * CTLOPT_USAGE (2) a usage error.
 */
#ifndef DISTCRON_CTL_INT_H
#define DISTCRON_CTL_INT_H

#include <stddef.h>

#include "distcron/config.h"
#include "distcron/ctlopt.h"
#include "distcron/tz.h"

#define CTL_DEFAULT_NODES_DIR	SYSCONFDIR "/distcron/nodes.d"

/* The option of the commands that read node definitions (check, trust). */
#define CTL_OPT_NODES_DIR \
	CTLOPT_OPT("nodes-dir", 'N', "DIR", CTLOPT_STR, nodes_dir, \
	    "node definitions\n" \
	    "                        (default " CTL_DEFAULT_NODES_DIR ")")

/* A command: its options and help, and what runs it with the parsed
 * options and its operands (argv[0..argc-1]); returns the exit status. */
struct ctl_command {
	struct ctlopt_cmd spec;
	int (*run)(const struct ctlopt_vals *v, int argc, char **argv);
};

extern const struct ctl_command ctl_check, ctl_next, ctl_history,
    ctl_trust;
extern const struct ctl_command ctl_jobs, ctl_show, ctl_run, ctl_runs,
    ctl_cancel, ctl_nodes, ctl_pause, ctl_resume, ctl_apply, ctl_delete,
    ctl_task, ctl_outbox, ctl_cluster;
extern const struct ctl_command ctl_secret;

/* "secret rotate --new-key FILE" (ctl_secret.c): offline, on the state
 * directory of a stopped daemon.  Returns the exit status. */
int ctl_secret_rotate(const struct ctlopt_vals *v);

/* Directories and zone of the offline commands; the strings belong to
 * argv, the environment or cfg. */
struct ctl_settings {
	const char *config_file;
	const char *jobs_dir;
	const char *nodes_dir;
	const char *state_dir;
	const char *timezone;	/* NULL: the local zone */
	struct config cfg;	/* the daemon's settings, for what is unset */
};

/* Takes the directories and --config of v and fills what they leave
 * unset from the daemon's own settings (config module: defaults < config
 * file < DISTCRON_* environment).  Prints the problem; 0 or ERR_CONFIG.
 * Free with ctl_settings_free() in any case. */
int ctl_settings_load(struct ctl_settings *s, const struct ctlopt_vals *v);
void ctl_settings_free(struct ctl_settings *s);

/* Looks up a zone (NULL: local), printing the problem; 0 or negative. */
int ctl_zone_get(const char *name, const struct tz **zone);

/* Reads a whole file of at most max bytes into a NUL-terminated string
 * (the caller frees it); 0 or negative (-errno, -E2BIG).  Blocks. */
int ctl_read_text(const char *path, size_t max, char **textp, size_t *lenp);

/* ctl_read_text for a file holding a secret (what names it: "api token
 * file"): one group or others may read is refused as the daemon refuses
 * its own (fileio_secret_check, the mode alone: the daemon's user may own
 * it), printed as "distcronctl: WHAT PATH: mode 0644 is readable by group
 * or others; chmod 600 it" and ERR_CONFIG returned.  Blocks. */
int ctl_read_secret(const char *path, const char *what, size_t max,
    char **textp, size_t *lenp);

#endif
