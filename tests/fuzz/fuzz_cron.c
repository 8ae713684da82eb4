/*
 * fuzz_cron.c - libFuzzer target for the cron parser and the next-fire
 * search: any input must parse or fail cleanly, and a parsed schedule must
 * answer sched_next() without hanging, whatever `after` is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/sched.h"
#include "distcron/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t afters[] = {
		INT64_C(1772953199),	/* just before a New York DST change */
		INT64_C(1793512799),	/* just before the fall change */
		INT64_C(0), INT64_C(-1), INT64_MIN, INT64_MAX,
		INT64_C(4102444800),	/* 2100: rule territory */
		INT64_C(253402300000),	/* near 9999-12-31 */
	};
	const struct tz *zone = NULL;
	struct sched *s = NULL;
	const char *errstr = NULL;
	char *expr;
	int64_t t, next;
	size_t i;
	int k;

	if (tz_get("America/New_York", &zone, &errstr) != 0)
		abort();
	if ((expr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';
	if (sched_parse_cron(expr, "fuzz", zone, &s, &errstr) == 0) {
		if (sched_text(s) == NULL)
			abort();
		for (i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
			t = afters[i];
			for (k = 0; k < 4 && sched_next(s, t, &next) == 0; k++) {
				if (next <= t)
					abort();	/* must be strictly after */
				t = next;
			}
		}
		sched_free(s);
	} else if (errstr == NULL || s != NULL) {
		abort();
	}
	free(expr);
	return 0;
}
