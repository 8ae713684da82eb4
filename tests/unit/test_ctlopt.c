/* test_ctlopt.c - distcronctl's table-driven option parser and help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/ctlopt.h"

static const struct ctlopt own[] = {
	CTLOPT_OPT("node", 'N', "N", CTLOPT_LIST, nodes,
	    "run on node N (repeatable)"),
	CTLOPT_COUNT_OPT("limit", 'n', "N", 20, 100, "newest N runs\n"
	    "                        (default 20)"),
	CTLOPT_OPT("timeout", 't', "DUR", CTLOPT_DUR, timeout,
	    "stop after DUR"),
	CTLOPT_OPT("wait", 'w', NULL, CTLOPT_FLAG, wait, "wait for it"),
	CTLOPT_END,
};

static const struct ctlopt shared[] = {
	CTLOPT_OPT("url", 0, "URL", CTLOPT_STR, url, "the API"),
	CTLOPT_OPT("json", 'J', NULL, CTLOPT_FLAG, json, "print JSON"),
	CTLOPT_END,
};

static const struct ctlopt_group group = { shared, "Group note.\n" };

static const struct ctlopt_cmd cmd = {
	.name = "demo", .synopsis = "JOB [OPTIONS]", .summary = "a demo",
	.opts = own, .group = &group, .notes = "Command note.\n",
	.nargs = 1, .operand = "JOB",
};

/* Parses the NULL-terminated words after "prog" with c into *v. */
static int
parse(const struct ctlopt_cmd *c, struct ctlopt_vals *v, int *first, ...)
{
	static char *argv[16];
	va_list ap;
	int argc = 0;

	argv[argc++] = "prog";
	va_start(ap, first);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return ctlopt_parse(c, argc, argv, v, first);
}

static void
test_fills(void **state)
{
	struct ctlopt_vals v = { .url = "from-global" };
	int first = 0;

	assert_int_equal(parse(&cmd, &v, &first, "-N", "a", "job1", "--node=b",
	    "-n", "7", "--timeout", "1m", "-wJ", NULL), CTLOPT_PROCEED);
	assert_int_equal(v.nodes.n, 2);
	assert_string_equal(v.nodes.v[0], "a");
	assert_string_equal(v.nodes.v[1], "b");
	assert_int_equal(v.count, 7);
	assert_string_equal(v.timeout.text, "1m");
	assert_int_equal(v.timeout.ms, 60000);
	assert_true(v.wait);
	assert_true(v.json);
	assert_string_equal(v.url, "from-global");	/* kept when not given */
	assert_int_equal(first, 9);	/* getopt moved the operand last */
	ctlopt_vals_free(&v);
	assert_null(v.nodes.v);
}

static void
test_defaults_and_group(void **state)
{
	struct ctlopt_vals v = { 0 };
	int first = 0;

	assert_int_equal(parse(&cmd, &v, &first, "--url", "http://x", "job",
	    NULL), CTLOPT_PROCEED);
	assert_int_equal(v.count, 20);
	assert_string_equal(v.url, "http://x");
	assert_null(v.timeout.text);
	assert_false(v.wait);
	ctlopt_vals_free(&v);
}

static void
test_usage_errors(void **state)
{
	struct ctlopt_vals v = { 0 };
	int first = 0;

	assert_int_equal(parse(&cmd, &v, &first, NULL), CTLOPT_USAGE);
	assert_int_equal(parse(&cmd, &v, &first, "a", "b", NULL),
	    CTLOPT_USAGE);
	assert_int_equal(parse(&cmd, &v, &first, "a", "-n", "0", NULL),
	    CTLOPT_USAGE);
	assert_int_equal(parse(&cmd, &v, &first, "a", "-n", "101", NULL),
	    CTLOPT_USAGE);
	assert_int_equal(parse(&cmd, &v, &first, "a", "-t", "0s", NULL),
	    CTLOPT_USAGE);
	assert_int_equal(parse(&cmd, &v, &first, "a", "--bogus", NULL),
	    CTLOPT_USAGE);
	assert_int_equal(parse(&cmd, &v, &first, "a", "--url", NULL),
	    CTLOPT_USAGE);
	ctlopt_vals_free(&v);
}

static void
test_help_stops(void **state)
{
	struct ctlopt_vals v = { 0 };
	int first = 0;

	/* --help wins over what follows, even a bad value. */
	assert_int_equal(parse(&cmd, &v, &first, "--help", "-n", "0", NULL),
	    CTLOPT_STOPPED);
	assert_int_equal(v.stop, 'h');
	ctlopt_vals_free(&v);
}

static void
test_in_order(void **state)
{
	struct ctlopt_cmd c = cmd;
	struct ctlopt_vals v = { 0 };
	int first = 0;

	c.in_order = true;
	c.nargs = -1;
	assert_int_equal(parse(&c, &v, &first, "-w", "ls", "-l", "--wait",
	    NULL), CTLOPT_PROCEED);
	assert_int_equal(first, 2);	/* "ls -l --wait" are operands */
	assert_true(v.wait);
	ctlopt_vals_free(&v);
}

static void
test_help_text(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ctlopt_help(f, &cmd);
	fclose(f);
	assert_string_equal(text,
	    "usage: distcronctl demo JOB [OPTIONS]\n"
	    "a demo.\n"
	    "\n"
	    "  -N, --node N          run on node N (repeatable)\n"
	    "  -n, --limit N         newest N runs\n"
	    "                        (default 20)\n"
	    "  -t, --timeout DUR     stop after DUR\n"
	    "  -w, --wait            wait for it\n"
	    "      --url URL         the API\n"
	    "  -J, --json            print JSON\n"
	    "  -h, --help            print this help\n"
	    "Group note.\n"
	    "Command note.\n");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills),
		cmocka_unit_test(test_defaults_and_group),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_stops),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_help_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
