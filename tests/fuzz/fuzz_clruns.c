/*
 * fuzz_clruns.c - libFuzzer target for cluster mode's reading of other
 * members' run summaries from etcd (clr_key_parse, clr_decode).  The
 * input is read as a key and as a summary.  Checks: the result is 0 or
 * one of the documented errors; a message is one line; a summary read
 * has a valid job, a member, a remote id and no id, and goes back to JSON
 * that reads the same.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_clruns
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "cluster/clruns_int.h"

#define PREFIX	"/distcron/default/runs/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one_key(const char *text)
{
	struct clr_key_parts p;
	const char *why = NULL;
	int rc = clr_key_parse(PREFIX, text, &p, &why);

	if (rc == 0 && (p.id <= 0 || p.member[0] == '\0' ||
	    !defs_name_valid(p.job)))
		abort();
	if (rc != 0 && (rc != ERR_PARSE || why == NULL))
		abort();
}

static void
one_summary(const char *text, size_t len)
{
	struct store_run *rec = NULL, *again = NULL;
	char err[200] = "", *json;
	int rc = clr_decode(text, len, &rec, err, sizeof(err));

	if (rc != 0) {
		if ((rc != ERR_PARSE && rc != -ENOMEM) || rec != NULL ||
		    (rc == ERR_PARSE && err[0] == '\0') ||
		    strchr(err, '\n') != NULL)
			abort();
		return;
	}
	if (rec->id != 0 || rec->remote_id <= 0 || rec->member == NULL ||
	    !defs_name_valid(rec->job))
		abort();
	rec->id = rec->remote_id;
	if ((json = clr_encode(rec)) != NULL) {
		if (clr_decode(json, strlen(json), &again, err,
		    sizeof(err)) != 0 || again->remote_id != rec->remote_id ||
		    strcmp(again->job, rec->job) != 0)
			abort();
		free(json);
	}
	store_run_free(again);
	store_run_free(rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	one_key(text);
	one_summary(text, size);
	free(text);
	return 0;
}
