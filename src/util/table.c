/*
 * table.c - aligned text tables.
 *
 * The cells live in one growing array of strings, row after row, the
 * header being row 0; widths are kept up to date as rows arrive, so
 * printing is one pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/table.h"

struct table {
	size_t ncols;
	size_t nrows;		/* including the header */
	size_t cap;		/* rows allocated */
	char **cells;		/* nrows * ncols */
	size_t width[TABLE_COLS_MAX];
};

/* A copy of s with control characters turned into spaces. */
static char *
cell_dup(const char *s)
{
	char *d = strdup(s != NULL ? s : "-"), *p;

	for (p = d; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return d;
}

static int
grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	char **cells;

	if (t->nrows < t->cap)
		return 0;
	cells = reallocarray(t->cells, cap * t->ncols, sizeof(*cells));
	if (cells == NULL)
		return -ENOMEM;
	t->cells = cells;
	t->cap = cap;
	return 0;
}

static int
row_add(struct table *t, const char *const *cells)
{
	char **row;
	size_t i, n;

	if (grow(t) != 0)
		return -ENOMEM;
	row = &t->cells[t->nrows * t->ncols];
	for (i = 0; i < t->ncols; i++) {
		if ((row[i] = cell_dup(cells[i])) == NULL) {
			while (i-- > 0)
				free(row[i]);
			return -ENOMEM;
		}
		if ((n = strlen(row[i])) > t->width[i])
			t->width[i] = n;
	}
	t->nrows++;
	return 0;
}

int
table_new(size_t ncols, const char *const *headers, struct table **out)
{
	struct table *t;
	int r;

	*out = NULL;
	if (ncols == 0 || ncols > TABLE_COLS_MAX)
		return ERR_RANGE;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->ncols = ncols;
	if ((r = row_add(t, headers)) != 0) {
		table_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int
table_add(struct table *t, const char *const *cells)
{
	return row_add(t, cells);
}

size_t
table_rows(const struct table *t)
{
	return t->nrows - 1;
}

int
table_print(const struct table *t, FILE *f)
{
	const char *cell;
	size_t r, i;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			cell = t->cells[r * t->ncols + i];
			if (i + 1 < t->ncols)
				fprintf(f, "%-*s  ", (int)t->width[i], cell);
			else
				fprintf(f, "%s\n", cell);
		}
	}
	return ferror(f) ? -EIO : 0;
}

void
table_free(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
