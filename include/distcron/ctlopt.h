/*
 * ctlopt.h - distcronctl's option parser: one table per command, one parser.
 *
 * A command declares its own options and the shared group it takes (the
 * API options) as tables of struct ctlopt: long name, short letter, the
 * argument's name, what it fills in struct ctlopt_vals and its help line.
 * ctlopt_parse() runs getopt_long over those tables (so getopt's own
 * messages stay what users know), converts counts and durations, checks
 * the number of operands and prints every usage error as
 * "distcronctl: MESSAGE" + "Try 'distcronctl CMD --help'.".  ctlopt_help()
 * prints a command's help from the same tables.  Nothing here blocks but
 * on the FILEs written to.
 */
#ifndef DISTCRON_CTLOPT_H
#define DISTCRON_CTLOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTLOPT_PROG	"distcronctl"
#define CTLOPT_USAGE	2	/* exit status of a usage error */
#define CTLOPT_PROCEED	(-1)	/* ctlopt_parse: go on with the command */
#define CTLOPT_STOPPED	(-2)	/* ctlopt_parse: a CTLOPT_STOP option */

/* What an option fills. */
enum ctlopt_kind {
	CTLOPT_STR,	/* const char *: the argument (the last one wins) */
	CTLOPT_FLAG,	/* bool: set */
	CTLOPT_COUNT,	/* int64_t: a number from 1 to max, default def */
	CTLOPT_DUR,	/* struct ctlopt_dur: a duration above 0 */
	CTLOPT_LIST,	/* struct ctlopt_list: every argument, in order */
	CTLOPT_STOP,	/* ends parsing: vals.stop = the letter (--help) */
};

/* A duration option: its text and its value in ms (0: not given). */
struct ctlopt_dur {
	const char *text;
	int64_t ms;
};

/* A repeatable option's arguments (pointers into argv). */
struct ctlopt_list {
	const char **v;
	size_t n;
};

/* What the options of a command line say; strings point into argv. */
struct ctlopt_vals {
	/* where the definitions and the store are */
	const char *config_file;
	const char *jobs_dir;
	const char *nodes_dir;
	const char *state_dir;
	/* how to reach the API */
	const char *url;
	const char *token;
	const char *token_file;	/* the token's file (--token-file) */
	const char *ca_file;
	bool json;
	/* options of single commands */
	const char *tz;
	const char *from;
	const char *name;
	const char *interval;
	const char *reference;
	const char *job;
	const char *status;
	const char *since;
	const char *new_key;	/* secret rotate --new-key */
	int64_t count;
	struct ctlopt_dur timeout;
	struct ctlopt_list nodes;
	struct ctlopt_list roles;
	bool check;
	bool wait;
	bool all;
	char stop;		/* the letter of the CTLOPT_STOP option met */
};

/* One option.  A table ends with an entry whose name is NULL. */
struct ctlopt {
	const char *name;	/* long name, without "--" */
	char letter;		/* short letter, 0: long only */
	const char *arg;	/* the argument in help ("DIR"); NULL: none */
	enum ctlopt_kind kind;
	size_t off;		/* offsetof(struct ctlopt_vals, FIELD) */
	int64_t def, max;	/* CTLOPT_COUNT: default and largest value */
	const char *help;	/* help text; more lines indented 24 columns */
};

/* Table entries: CTLOPT_OPT(NAME, LETTER, ARG, KIND, FIELD, HELP). */
#define CTLOPT_OPT(name, letter, arg, kind, field, help) \
	{ name, letter, arg, kind, offsetof(struct ctlopt_vals, field), 0, 0, \
	  help }
#define CTLOPT_COUNT_OPT(name, letter, arg, def, max, help) \
	{ name, letter, arg, CTLOPT_COUNT, \
	  offsetof(struct ctlopt_vals, count), def, max, help }
#define CTLOPT_END	{ NULL, 0, NULL, CTLOPT_STR, 0, 0, 0, NULL }

/* Options several commands take, with a note printed after them. */
struct ctlopt_group {
	const struct ctlopt *opts;
	const char *notes;
};

/* A command as the parser and its help see it. */
struct ctlopt_cmd {
	const char *name;	/* NULL: the global options, before any command */
	const char *synopsis;	/* the arguments, for the usage line */
	const char *summary;	/* one line */
	const struct ctlopt *opts;	/* its own options, or NULL */
	const struct ctlopt_group *group;	/* shared options, or NULL */
	const char *notes;	/* printed after the options, or NULL */
	int nargs;		/* exactly so many operands; -1: any */
	const char *operand;	/* the missing operand's name ("JOB") */
	bool in_order;		/* options end at the first operand */
};

/*
 * Parses argv[1..argc-1] (argv[0] names the program in getopt's messages)
 * with cmd's options plus -h/--help into *v, which holds the defaults on
 * entry (counts get their def first).  On CTLOPT_PROCEED, *first is the
 * index of the first operand.  Returns CTLOPT_PROCEED, CTLOPT_STOPPED (a
 * CTLOPT_STOP option, named by v->stop; 'h' for --help), or CTLOPT_USAGE
 * after printing the usage error on stderr.  Lists are allocated: free
 * them with ctlopt_vals_free().
 */
int ctlopt_parse(const struct ctlopt_cmd *cmd, int argc, char **argv,
    struct ctlopt_vals *v, int *first);

/* Frees the lists of v (not v). */
void ctlopt_vals_free(struct ctlopt_vals *v);

/* Prints "usage: distcronctl CMD SYNOPSIS", the summary, every option
 * with its help, and the notes. */
void ctlopt_help(FILE *f, const struct ctlopt_cmd *cmd);

/* Prints "Try 'distcronctl [CMD] --help'." on stderr; returns
 * CTLOPT_USAGE.  cmd NULL: the global help. */
int ctlopt_usage_hint(const char *cmd);

/* Prints "distcronctl: MESSAGE" and the hint; returns CTLOPT_USAGE. */
int ctlopt_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
