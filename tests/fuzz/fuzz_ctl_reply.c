/*
 * fuzz_ctl_reply.c - libFuzzer target for the JSON answers distcronctl
 * reads: each input is an answer body, given to the error formatter
 * (apiclient_error_text) and, when it parses (ctlview_parse), to every
 * view distcronctl prints from an answer: the jobs, runs and nodes tables,
 * "show" and a finished run.  Checks: the error text is a NUL-terminated
 * string that fits and starts with the status; a table fails exactly when
 * its list is missing; typed member access returns only members of that
 * type.  Output goes to /dev/null.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_ctl_reply
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/apiclient.h"
#include "distcron/ctlview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
has_list(json_object *root, const char *key)
{
	return json_object_is_type(ctlview_get(root, key), json_type_array);
}

static void
check_members(json_object *root)
{
	const char *s = ctlview_string(root, "status");
	int64_t id = 0;

	if (s != NULL && !json_object_is_type(ctlview_get(root, "status"),
	    json_type_string))
		abort();
	if (ctlview_int(root, "id", &id) && !json_object_is_type(
	    ctlview_get(root, "id"), json_type_int))
		abort();
	if (!json_object_is_type(root, json_type_object) &&
	    ctlview_get(root, "id") != NULL)
		abort();
}

static void
check_error_text(long status, const char *text)
{
	char msg[128], head[32];

	memset(msg, 'x', sizeof(msg));
	apiclient_error_text(status, text, msg, sizeof(msg));
	if (memchr(msg, '\0', sizeof(msg)) == NULL)
		abort();
	snprintf(head, sizeof(head), "%ld", status);
	if (strncmp(msg, head, strlen(head)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	json_object *root;
	char *text;
	int64_t id = 1;

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		abort();
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_error_text(404, text);
	check_error_text(503, text);
	if ((root = ctlview_parse(text, null)) != NULL) {
		check_members(root);
		if ((ctlview_jobs(root, null, null) == 0) !=
		    has_list(root, "jobs") ||
		    (ctlview_runs(root, null, null) == 0) !=
		    has_list(root, "runs") ||
		    (ctlview_nodes(root, null, null) == 0) !=
		    has_list(root, "nodes"))
			abort();
		ctlview_show(root, null);
		(void)ctlview_int(root, "id", &id);
		ctlview_run(root, id, null);
		ctlview_json(root, null);
		json_object_put(root);
	}
	free(text);
	return 0;
}
