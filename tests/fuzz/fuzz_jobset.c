/*
 * fuzz_jobset.c - libFuzzer target for cluster mode's reading of another
 * member's job set (jobset_parse) and the comparison of sets
 * (jobset_compare).  The input is two sets separated by a newline.
 * Checks: a set read is sorted by name with valid names and hex digests,
 * and reads back the same from its own JSON; a failed read leaves
 * nothing and says why on one line; the comparison names at most the
 * cap of jobs, one line each, plus one for the rest, and none for two
 * equal sets.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_jobset
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/jobset.h"

#define CAP	3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads text into s; checks what it got. */
static int
read_set(const char *text, size_t len, struct jobset *s)
{
	char err[256] = "", *json;
	struct jobset again;
	size_t i;
	int r = jobset_parse(text, len, s, err, sizeof(err));

	if (r != 0) {
		if (s->njobs != 0 || s->jobs != NULL || (r == ERR_PARSE &&
		    (err[0] == '\0' || strchr(err, '\n') != NULL)))
			abort();
		return r;
	}
	for (i = 0; i < s->njobs; i++)
		if (!defs_name_valid(s->jobs[i].name) || (i > 0 &&
		    strcmp(s->jobs[i - 1].name, s->jobs[i].name) >= 0))
			abort();
	if ((json = jobset_json(s)) == NULL)
		return 0;
	if (jobset_parse(json, strlen(json), &again, err, sizeof(err)) != 0 ||
	    again.njobs != s->njobs)
		abort();
	jobset_clear(&again);
	free(json);
	return 0;
}

static void
check_compare(const struct jobset *sets, size_t n, size_t want_none)
{
	static const char *const ids[] = { "m1", "m2" };
	struct jobset_diff d;
	size_t i;

	if (jobset_compare(ids, sets, n, CAP, &d) != 0)
		return;
	if (d.nlines > CAP + 1 || d.nlines > d.njobs + 1 ||
	    (d.njobs <= CAP && d.nlines != d.njobs) || (want_none && d.njobs))
		abort();
	for (i = 0; i < d.nlines; i++)
		if (d.lines[i] == NULL || strchr(d.lines[i], '\n') != NULL)
			abort();
	jobset_diff_clear(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t a = nl != NULL ? (size_t)(nl - text) : size;
	struct jobset sets[2] = { { NULL, 0 }, { NULL, 0 } };

	if (read_set(text, a, &sets[0]) != 0)
		return 0;
	check_compare(sets, 1, 1);
	sets[1] = sets[0];
	check_compare(sets, 2, 1);
	memset(&sets[1], 0, sizeof(sets[1]));
	if (nl != NULL && read_set(nl + 1, size - a - 1, &sets[1]) == 0)
		check_compare(sets, 2, 0);
	jobset_clear(&sets[0]);
	jobset_clear(&sets[1]);
	return 0;
}
