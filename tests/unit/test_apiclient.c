/* test_apiclient.c - the API client's pure parts (URL checks, escaping,
 * error messages, a refused connection) and the text tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "distcron/apiclient.h"
#include "distcron/ctlview.h"
#include "distcron/err.h"
#include "distcron/table.h"

static void
test_open_checks_url(void **state)
{
	struct apiclient *c = NULL;

	assert_int_equal(apiclient_open("ftp://x", "t", &c), ERR_INVALID);
	assert_null(c);
	assert_int_equal(apiclient_open("http://", "t", &c), ERR_INVALID);
	assert_int_equal(apiclient_open("http://h:1", "a\r\nX: y", &c),
	    ERR_INVALID);
	assert_int_equal(apiclient_open("HTTPS://u:pw@h:1//", "t", &c), 0);
	assert_string_equal(apiclient_url(c), "HTTPS://h:1");
	apiclient_free(c);
	apiclient_free(NULL);
}

static void
test_escape(void **state)
{
	char *s = apiclient_escape("a-b_c.d~e f/g?h&i%");

	assert_string_equal(s, "a-b_c.d~e%20f%2Fg%3Fh%26i%25");
	free(s);
	s = apiclient_escape("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_error_text(void **state)
{
	char out[256];

	apiclient_error_text(422, "{\"error\": \"day-of-month: 32 out of "
	    "range 1-31\", \"field\": \"schedule.cron\"}", out, sizeof(out));
	assert_string_equal(out, "422: schedule.cron: day-of-month: 32 out "
	    "of range 1-31");
	/* The field already leads the message: not repeated. */
	apiclient_error_text(422, "{\"error\": \"schedule: missing\", "
	    "\"field\": \"schedule\"}", out, sizeof(out));
	assert_string_equal(out, "422: schedule: missing");
	apiclient_error_text(404, "{\"error\": \"no job x\"}", out,
	    sizeof(out));
	assert_string_equal(out, "404: no job x");
	apiclient_error_text(502, "Bad gateway\nmore", out, sizeof(out));
	assert_string_equal(out, "502: Bad gateway");
	apiclient_error_text(500, "", out, sizeof(out));
	assert_string_equal(out, "500: HTTP status 500");
}

/*
 * A loopback port with nobody listening: bound but not listening, so a
 * connection is refused, and held bound (*fd) until the test closes it, so
 * no other socket (the client's own, by TCP simultaneous open) can take it.
 */
static int
dead_port(int *held)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	*held = fd;
	return port;
}

static void
test_refused(void **state)
{
	char url[64], want[128], *text = NULL;
	struct apiclient *c = NULL;
	long status = 0;
	int held = -1, port = dead_port(&held);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	assert_int_equal(apiclient_open(url, "sekrit", &c), 0);
	assert_int_equal(apiclient_request(c, "GET", "/jobs", NULL, 0,
	    &status, &text), ERR_CONNECT);
	assert_null(text);
	snprintf(want, sizeof(want), "cannot reach distcrond at %s: "
	    "Connection refused", url);
	assert_string_equal(apiclient_error(c), want);
	assert_null(strstr(apiclient_error(c), "sekrit"));
	apiclient_free(c);
	close(held);
}

static void
test_table(void **state)
{
	static const char *const head[] = { "A", "LONG HEADER", "C" };
	const char *row1[] = { "wide cell", "x", "last" };
	const char *row2[] = { "b", NULL, "two\nlines" };
	struct table *t = NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	assert_int_equal(table_new(0, head, &t), ERR_RANGE);
	assert_int_equal(table_new(3, head, &t), 0);
	assert_int_equal(table_rows(t), 0);
	assert_int_equal(table_add(t, row1), 0);
	assert_int_equal(table_add(t, row2), 0);
	assert_int_equal(table_rows(t), 2);
	assert_non_null(f = open_memstream(&text, &size));
	assert_int_equal(table_print(t, f), 0);
	fclose(f);
	assert_string_equal(text,
	    "A          LONG HEADER  C\n"
	    "wide cell  x            last\n"
	    "b          -            two lines\n");
	free(text);
	table_free(t);
	table_free(NULL);
}

/* distcronctl says where an answer stops being JSON, in its own words. */
static void
test_answer_not_json(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	json_object *o;

	assert_non_null(err);
	assert_null(ctlview_parse("{\"jobs\": [\n  {\"name\": tru}]}", err));
	o = ctlview_parse(" {\"jobs\": []}\n", err);
	assert_non_null(o);
	json_object_put(o);
	fclose(err);
	assert_string_equal(text, "distcronctl: the answer of distcrond is "
	    "not JSON: invalid JSON at line 2, column 12, in jobs[0].name: "
	    "'tru' is not a value (expected a string in double quotes, a "
	    "number, true, false, null, an object or an array)\n");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_checks_url),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_answer_not_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
