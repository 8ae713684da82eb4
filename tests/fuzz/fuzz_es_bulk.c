/*
 * fuzz_es_bulk.c - libFuzzer target for the reading of Elasticsearch
 * _bulk responses (es_bulk_read).  The input is a response body to a
 * request of four documents with the ids "a".."d".  Checks: every
 * outcome is set to DELIVERED, RETRY or PARK with a NUL-terminated one-line
 * why; an answer that is not a bulk response retries every document; a
 * document without its own 2xx item is never DELIVERED.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_es_bulk
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/es.h"

#define N	4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ids[N] = { "a", "b", "c", "d" };
	struct outbox_outcome out[N];
	bool reinstall = false;
	size_t i;
	int r;

	memset(out, 0xa5, sizeof(out));
	r = es_bulk_read((const char *)data, size, ids, N, "es", out,
	    &reinstall);
	for (i = 0; i < N; i++) {
		if (out[i].result != OUTBOX_DELIVERED &&
		    out[i].result != OUTBOX_RETRY &&
		    out[i].result != OUTBOX_PARK)
			abort();
		if (memchr(out[i].why, '\0', sizeof(out[i].why)) == NULL ||
		    strchr(out[i].why, '\n') != NULL)
			abort();
		if (r != 0 && out[i].result != OUTBOX_RETRY)
			abort();
		if (out[i].result == OUTBOX_DELIVERED && (size == 0 ||
		    memmem(data, size, "status", 6) == NULL))
			abort();
	}
	return 0;
}
