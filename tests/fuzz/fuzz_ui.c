/*
 * fuzz_ui.c - libFuzzer target for what the dashboard's server reads from
 * a request (ui.c): the path (ui_path, ui_find) and the If-None-Match
 * header (ui_etag_matches).  The input, up to its first NUL, is used as
 * both.  Checks: a path finds a file only when it is exactly "/ui/" (the
 * index) or "/ui/" followed by that file's name, so no other spelling
 * ("..", "%2e", "//") reaches one; a header matches a file's ETag only
 * when it holds "*" or that tag; the index's own tag always matches.
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

static void
check_etag(const char *s)
{
	size_t i;

	for (i = 0; i < ui_nfiles; i++)
		if (ui_etag_matches(s, ui_files[i].etag) &&
		    strchr(s, '*') == NULL &&
		    strstr(s, ui_files[i].etag) == NULL)
			abort();
	if (ui_nfiles > 0 && !ui_etag_matches(ui_files[0].etag,
	    ui_files[0].etag))
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
	check_etag(s);
	free(s);
	return 0;
}
