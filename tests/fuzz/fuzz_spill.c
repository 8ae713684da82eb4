/*
 * fuzz_spill.c - libFuzzer target for the shutdown spill file's reader
 * (spill_load).  The input is the file's contents (a memfd, read through
 * /proc/self/fd).  Checks: a failure leaves no records and says where; a
 * success round-trips: the records written again with spill_append() read
 * back as the same number of runs with the same ids, jobs and statuses.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_spill
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "distcron/spill.h"
#include "distcron/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A memfd holding data; its path in path. */
static int
memfile(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("spill", MFD_CLOEXEC);

	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Writes runs to a fresh spill and reads them back: same records. */
static void
round_trip(struct store_run **runs, size_t n)
{
	struct store_run **again = NULL;
	struct spill *sp;
	char path[64], err[512];
	size_t i, m = 0;
	int fd = memfile(NULL, 0, path, sizeof(path));

	if (spill_open(path, SPILL_SIZE, &sp) != 0)
		abort();
	for (i = 0; i < n; i++)
		if (spill_append(sp, runs[i]) != 0)
			break;
	spill_close(sp);
	if (spill_load(path, &again, &m, err, sizeof(err)) != 0 || m != i)
		abort();
	for (i = 0; i < m; i++)
		if (again[i]->id != runs[i]->id ||
		    again[i]->status != runs[i]->status ||
		    strcmp(again[i]->job, runs[i]->job) != 0 ||
		    again[i]->nitems != runs[i]->nitems)
			abort();
	store_runs_free(again, m);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_run **runs = NULL;
	char path[64], err[512] = "";
	size_t n = 99;
	int fd, r;

	if (size > 64 * 1024)
		return 0;
	fd = memfile(data, size, path, sizeof(path));
	r = spill_load(path, &runs, &n, err, sizeof(err));
	if (r != 0 && (runs != NULL || n != 0 || err[0] == '\0'))
		abort();
	if (r == 0)
		round_trip(runs, n);
	store_runs_free(runs, n);
	close(fd);
	return 0;
}
