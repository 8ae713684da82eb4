/*
 * fuzz_job.c - libFuzzer target for the definition parsers: each input is
 * parsed as a job (zone UTC) and as a node; results are freed, diagnostics
 * are checked to be NUL-terminated printable lines.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_job
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/defs.h"
#include "distcron/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Messages must be single printable lines: values are escaped. */
static void
check_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			abort();
}

static void
on_report(void *arg, const char *level, const char *file, const char *msg)
{
	check_line(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tz *utc;
	const char *errstr = NULL;
	struct job_def *job = NULL;
	struct node_def *node = NULL;
	char err[512];

	if (utc == NULL && tz_get("UTC", &utc, &errstr) != 0)
		abort();
	if (defs_job_parse("fuzz", (const char *)data, size, utc, &job, err,
	    sizeof(err), on_report, NULL) != 0) {
		if (job != NULL)
			abort();
		check_line(err);
	}
	defs_job_unref(job);
	if (defs_node_parse("fuzz", (const char *)data, size, &node, err,
	    sizeof(err), on_report, NULL) != 0) {
		if (node != NULL)
			abort();
		check_line(err);
	}
	defs_node_free(node);
	return 0;
}
