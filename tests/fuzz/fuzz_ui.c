/*
 * fuzz_ui.c - libFuzzer target for what the dashboard's server reads from
 * a request (ui.c): the path (ui_path, ui_find); the If-None-Match header
 * is etag_match()'s, which fuzz_etag covers.  The input, up to its first
 * NUL, is the path.  Checks: a path finds a file only when it is exactly
 * "/ui/" (the index) or "/ui/" followed by that file's name, so no other
 * spelling ("..", "%2e", "//") reaches one.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_ui
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/ui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_find(const char *s)
{
	const struct ui_file *f = ui_find(s);

	if (f == NULL)
		return;
	if (!ui_path(s) || strncmp(s, "/ui/", 4) != 0)
		abort();
	if (strcmp(s + 4, f->path) != 0 &&
	    !(s[4] == '\0' && strcmp(f->path, "index.html") == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_find(s);
	free(s);
	return 0;
}
