/*
 * fuzz_api_job.c - libFuzzer target for what PUT /jobs/{name} feeds the
 * job parser: the input is "NAME\nBODY"; the name goes through the API's
 * check (defs_name_valid), and only a valid name reaches defs_job_parse()
 * with the body, as the daemon's put_job does.  Checks: an accepted name is
 * 1-128 safe characters; a parsed job carries that name; a refused body
 * leaves no job and a single printable error line ("field: reason", which
 * the API returns as its JSON error).
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_api_job
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/defs.h"
#include "distcron/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* A valid name is short and cannot walk out of the jobs directory. */
static void
check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > DEFS_NAME_MAX || name[0] == '.' ||
	    name[0] == '-' || strchr(name, '/') != NULL ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tz *utc;
	const uint8_t *nl = memchr(data, '\n', size);
	const char *errstr = NULL;
	struct job_def *job = NULL;
	size_t nlen = nl != NULL ? (size_t)(nl - data) : size;
	char name[512], err[512];

	if (utc == NULL && tz_get("UTC", &utc, &errstr) != 0)
		abort();
	if (nlen >= sizeof(name) || memchr(data, '\0', nlen) != NULL)
		return 0;	/* not a path segment the server would pass */
	memcpy(name, data, nlen);
	name[nlen] = '\0';
	if (!defs_name_valid(name))
		return 0;
	check_name(name);
	data += nl != NULL ? nlen + 1 : nlen;
	size -= nl != NULL ? nlen + 1 : nlen;
	if (defs_job_parse(name, (const char *)data, size, utc, &job, err,
	    sizeof(err), on_report, NULL) != 0) {
		if (job != NULL)
			abort();
		check_line(err);
		return 0;
	}
	if (job == NULL || strcmp(job->name, name) != 0)
		abort();
	defs_job_unref(job);
	return 0;
}
