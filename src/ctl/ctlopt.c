/*
 * ctlopt.c - distcronctl's option parser, driven by each command's tables.
 *
 * A parse builds getopt_long's tables from the command's own options, its
 * group's and -h/--help (at most CTLOPT_MAX in all), so getopt's messages
 * ("option '--limit' requires an argument") and its abbreviations stay
 * what they were when every command wrote its own loop.  Each option met
 * fills its field of struct ctlopt_vals right away: a bad count or
 * duration is a usage error naming the option and the value, as soon as
 * it is seen.  Then the number of operands is checked.  The help of a
 * command is printed from the same tables, one line per option.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/ctlopt.h"
#include "distcron/dur.h"

#define PROG		CTLOPT_PROG
#define CTLOPT_MAX	32
#define LONG_ONLY	256	/* getopt value of the long-only option 0 */
#define HELP_COLUMN	24	/* where the help text of an option starts */

/* The implicit option of every command. */
static const struct ctlopt help_opt =
    CTLOPT_OPT("help", 'h', NULL, CTLOPT_STOP, stop, "print this help");

/* getopt_long's view of a command's options. */
struct table {
	const struct ctlopt *spec[CTLOPT_MAX];
	struct option longopts[CTLOPT_MAX + 1];
	char shortopts[2 + 2 * CTLOPT_MAX + 1];
	size_t n;
};

static void
table_add(struct table *t, const struct ctlopt *o)
{
	size_t len = strlen(t->shortopts);

	if (t->n == CTLOPT_MAX)
		abort();	/* a table too long is a bug of distcronctl */
	t->spec[t->n] = o;
	t->longopts[t->n] = (struct option){ o->name,
	    o->arg != NULL ? required_argument : no_argument, NULL,
	    o->letter != 0 ? o->letter : LONG_ONLY + (int)t->n };
	if (o->letter != 0) {
		t->shortopts[len++] = o->letter;
		if (o->arg != NULL)
			t->shortopts[len++] = ':';
		t->shortopts[len] = '\0';
	}
	t->n++;
}

static void
table_add_all(struct table *t, const struct ctlopt *opts)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		table_add(t, opts);
}

/* Builds the tables of cmd: its options, its group's, then --help. */
static void
table_build(struct table *t, const struct ctlopt_cmd *cmd)
{
	memset(t, 0, sizeof(*t));
	if (cmd->in_order)
		t->shortopts[0] = '+';
	table_add_all(t, cmd->opts);
	if (cmd->group != NULL)
		table_add_all(t, cmd->group->opts);
	table_add(t, &help_opt);
}

/* The option getopt_long returned c for, or NULL ('?': an error). */
static const struct ctlopt *
table_find(const struct table *t, int c)
{
	size_t i;

	if (c >= LONG_ONLY && (size_t)(c - LONG_ONLY) < t->n)
		return t->spec[c - LONG_ONLY];
	for (i = 0; i < t->n; i++)
		if (t->spec[i]->letter != 0 && t->spec[i]->letter == c)
			return t->spec[i];
	return NULL;
}

int
ctlopt_usage_hint(const char *cmd)
{
	fprintf(stderr, "Try '%s%s%s --help'.\n", PROG, cmd ? " " : "",
	    cmd ? cmd : "");
	return CTLOPT_USAGE;
}

int
ctlopt_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ctlopt_usage_hint(cmd);
}

/* A count into [1, max]: the message names the option as "-n". */
static int
take_count(const char *cmd, const struct ctlopt *o, const char *s,
    int64_t *out)
{
	if (dur_parse_int(s, 1, o->max, out) == 0)
		return CTLOPT_PROCEED;
	if (o->letter != 0)
		fprintf(stderr, "%s: -%c: '%s' is not a number from 1 to "
		    "%lld\n", PROG, o->letter, s, (long long)o->max);
	else
		fprintf(stderr, "%s: --%s: '%s' is not a number from 1 to "
		    "%lld\n", PROG, o->name, s, (long long)o->max);
	return ctlopt_usage_hint(cmd);
}

/* A duration above 0 ("10s", "5m"). */
static int
take_dur(const char *cmd, const struct ctlopt *o, const char *s,
    struct ctlopt_dur *out)
{
	const char *errstr = NULL;
	int64_t ms;

	if (dur_parse(s, &ms, &errstr) == 0 && ms > 0) {
		out->text = s;
		out->ms = ms;
		return CTLOPT_PROCEED;
	}
	return ctlopt_usage_error(cmd, "%s: --%s: '%s': %s", cmd, o->name, s,
	    errstr ? errstr : "must be more than 0");
}

static int
take_list(struct ctlopt_list *l, const char *s)
{
	const char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, strerror(ENOMEM));
		return 1;
	}
	v[l->n++] = s;
	l->v = v;
	return CTLOPT_PROCEED;
}

/* Fills the field of o from its argument s. */
static int
take(const struct ctlopt_cmd *cmd, const struct ctlopt *o, const char *s,
    struct ctlopt_vals *v)
{
	void *field = (char *)v + o->off;

	switch (o->kind) {
	case CTLOPT_STR: *(const char **)field = s; break;
	case CTLOPT_FLAG: *(bool *)field = true; break;
	case CTLOPT_COUNT: return take_count(cmd->name, o, s, field);
	case CTLOPT_DUR: return take_dur(cmd->name, o, s, field);
	case CTLOPT_LIST: return take_list(field, s);
	case CTLOPT_STOP:
		v->stop = o->letter;
		return CTLOPT_STOPPED;
	}
	return CTLOPT_PROCEED;
}

/* Sets the defaults of the counts of opts. */
static void
set_defaults(const struct ctlopt *opts, struct ctlopt_vals *v)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		if (opts->kind == CTLOPT_COUNT)
			*(int64_t *)(void *)((char *)v + opts->off) = opts->def;
}

/* Exactly cmd->nargs operands from argv[first] on (unless -1). */
static int
check_operands(const struct ctlopt_cmd *cmd, int argc, char **argv,
    int first)
{
	if (cmd->nargs < 0)
		return CTLOPT_PROCEED;
	if (argc - first < cmd->nargs)
		return ctlopt_usage_error(cmd->name, "%s: missing %s",
		    cmd->name, cmd->operand);
	if (argc - first > cmd->nargs)
		return ctlopt_usage_error(cmd->name, "%s: unexpected argument "
		    "'%s'", cmd->name, argv[first + cmd->nargs]);
	return CTLOPT_PROCEED;
}

int
ctlopt_parse(const struct ctlopt_cmd *cmd, int argc, char **argv,
    struct ctlopt_vals *v, int *first)
{
	const struct ctlopt *o;
	struct table t;
	int c, r;

	table_build(&t, cmd);
	set_defaults(cmd->opts, v);
	if (cmd->group != NULL)
		set_defaults(cmd->group->opts, v);
	optind = 0;
	while ((c = getopt_long(argc, argv, t.shortopts, t.longopts,
	    NULL)) != -1) {
		if ((o = table_find(&t, c)) == NULL)
			return ctlopt_usage_hint(cmd->name);
		if ((r = take(cmd, o, optarg, v)) != CTLOPT_PROCEED)
			return r;
	}
	*first = optind;
	return check_operands(cmd, argc, argv, optind);
}

void
ctlopt_vals_free(struct ctlopt_vals *v)
{
	free(v->nodes.v);
	free(v->roles.v);
	v->nodes.v = v->roles.v = NULL;
	v->nodes.n = v->roles.n = 0;
}

/* "  -j, --jobs-dir DIR    job definitions" */
static void
help_line(FILE *f, const struct ctlopt *o)
{
	char head[HELP_COLUMN * 2];

	snprintf(head, sizeof(head), "  %c%c%c --%s%s%s",
	    o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
	    o->letter ? ',' : ' ', o->name, o->arg ? " " : "",
	    o->arg ? o->arg : "");
	fprintf(f, "%-*s %s\n", HELP_COLUMN - 1, head, o->help);
}

static void
help_lines(FILE *f, const struct ctlopt *opts)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		help_line(f, opts);
}

void
ctlopt_help(FILE *f, const struct ctlopt_cmd *cmd)
{
	fprintf(f, "usage: %s %s %s\n%s.\n\n", PROG, cmd->name,
	    cmd->synopsis, cmd->summary);
	help_lines(f, cmd->opts);
	if (cmd->group != NULL)
		help_lines(f, cmd->group->opts);
	help_line(f, &help_opt);
	if (cmd->group != NULL && cmd->group->notes != NULL)
		fputs(cmd->group->notes, f);
	if (cmd->notes != NULL)
		fputs(cmd->notes, f);
}
