/*
 * table.h - aligned text tables for command-line output.
 *
 * Rows are collected first, then printed with every column as wide as its
 * widest cell (the last column is not padded), two spaces apart, under a
 * header row.  Cells are copied; control characters in them (newlines,
 * tabs) are shown as spaces so that a row stays on one line.
 */
#ifndef DISTCRON_TABLE_H
#define DISTCRON_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* A table of ncols columns (1..TABLE_COLS_MAX) under the given headers
 * (copied).  Returns 0, ERR_RANGE or -ENOMEM. */
#define TABLE_COLS_MAX	32
int table_new(size_t ncols, const char *const *headers, struct table **out);

/* Appends a row of ncols cells (NULL cells print as "-").  Returns 0 or
 * -ENOMEM. */
int table_add(struct table *t, const char *const *cells);

/* The number of rows added. */
size_t table_rows(const struct table *t);

/* Prints the header and the rows to f.  Returns 0 or -EIO. */
int table_print(const struct table *t, FILE *f);

/* Accepts NULL. */
void table_free(struct table *t);

#endif
