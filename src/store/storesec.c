/*
 * storesec.c - the secrets table of the store (schema 9): sealed values by
 * name.  Statements are prepared per call (secrets change rarely) on the
 * store's connection, under its lock (store_int.h).  Rotation reads and
 * rewrites every row in one BEGIN IMMEDIATE transaction, so that a failure
 * anywhere leaves every value as it was.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/secbox.h"
#include "distcron/store.h"
#include "distcron/storesec.h"
#include "store_int.h"

/* Runs sql (one statement), bound with text a (?1), blob b (?2) when
 * given and i (?3) when sql has it. */
static int
exec1(struct store *st, sqlite3 *db, const char *sql, const char *a,
    const unsigned char *b, size_t blen, int64_t i, const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK && a != NULL)
		rc = sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && b != NULL)
		rc = sqlite3_bind_blob(s, 2, b, (int)blen, SQLITE_STATIC);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(s) >= 3)
		rc = sqlite3_bind_int64(s, 3, i);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_db_fail(st, what);
	sqlite3_finalize(s);
	return r;
}

int
storesec_put(struct store *st, const char *name,
    const unsigned char *sealed, size_t len, int64_t now_ms)
{
	sqlite3 *db = store_db_lock(st);
	int r;

	r = exec1(st, db, "INSERT OR REPLACE INTO secrets (name, sealed, "
	    "updated_ms) VALUES (?1, ?2, ?3)", name, sealed, len, now_ms,
	    "write secret");
	store_db_unlock(st);
	return r;
}

int
storesec_delete(struct store *st, const char *name)
{
	sqlite3 *db = store_db_lock(st);
	int r;

	r = exec1(st, db, "DELETE FROM secrets WHERE name = ?1", name, NULL,
	    0, 0, "delete secret");
	if (r == 0 && sqlite3_changes(db) == 0)
		r = ERR_NOTFOUND;
	store_db_unlock(st);
	return r;
}

void
storesec_rows_free(struct storesec_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++) {
		free(rows[i].name);
		free(rows[i].sealed);
	}
	free(rows);
}

/* Appends the current row of s to *rows. */
static int
row_add(sqlite3_stmt *s, struct storesec_row **rows, size_t *n)
{
	struct storesec_row *v, *row;
	const void *blob = sqlite3_column_blob(s, 1);
	size_t len = (size_t)sqlite3_column_bytes(s, 1);

	if ((v = realloc(*rows, (*n + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	*rows = v;
	row = &v[*n];
	memset(row, 0, sizeof(*row));
	row->name = strdup(sqlite3_column_text(s, 0) != NULL ?
	    (const char *)sqlite3_column_text(s, 0) : "");
	row->sealed = malloc(len > 0 ? len : 1);
	row->len = len;
	row->updated_ms = sqlite3_column_int64(s, 2);
	(*n)++;
	if (row->name == NULL || row->sealed == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(row->sealed, blob, len);
	return 0;
}

/* storesec_list() with the lock held. */
static int
list_locked(struct store *st, sqlite3 *db, struct storesec_row **rows,
    size_t *n)
{
	sqlite3_stmt *s = NULL;
	int rc, r = 0;

	*rows = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT name, sealed, updated_ms FROM "
	    "secrets ORDER BY name", -1, &s, NULL) != SQLITE_OK)
		return store_db_fail(st, "list secrets");
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		r = row_add(s, rows, n);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_fail(st, "list secrets");
	sqlite3_finalize(s);
	if (r != 0) {
		storesec_rows_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return r;
}

int
storesec_list(struct store *st, struct storesec_row **rows, size_t *n)
{
	sqlite3 *db = store_db_lock(st);
	int r = list_locked(st, db, rows, n);

	store_db_unlock(st);
	return r;
}

/* Seals row again under newk and writes it back. */
static int
rekey_one(struct store *st, sqlite3 *db, const struct storesec_row *row,
    const struct secbox_key *oldk, const struct secbox_key *newk,
    char *err, size_t errlen)
{
	unsigned char *sealed = NULL;
	char *value = NULL;
	size_t len = 0;
	int r;

	if ((r = secbox_open(oldk, row->name, row->sealed, row->len,
	    &value)) != 0) {
		snprintf(err, errlen, "secret %s: %s", row->name,
		    r == ERR_AUTH ? "wrong key or altered" : r == ERR_INVALID ?
		    "sealed for another name" : err_str(r));
		return r;
	}
	r = secbox_seal(newk, row->name, value, strlen(value), &sealed, &len);
	secbox_value_free(value);
	if (r == 0)
		r = exec1(st, db, "UPDATE secrets SET sealed = ?2 WHERE "
		    "name = ?1", row->name, sealed, len, 0, "write secret");
	free(sealed);
	return r;
}

int
storesec_rekey(struct store *st, const struct secbox_key *oldk,
    const struct secbox_key *newk, size_t *count, char *err, size_t errlen)
{
	sqlite3 *db = store_db_lock(st);
	struct storesec_row *rows = NULL;
	size_t n = 0, i;
	int r;

	*count = 0;
	if ((r = exec1(st, db, "BEGIN IMMEDIATE", NULL, NULL, 0, 0,
	    "begin")) != 0)
		goto out;
	if ((r = list_locked(st, db, &rows, &n)) == 0)
		for (i = 0; i < n && r == 0; i++)
			r = rekey_one(st, db, &rows[i], oldk, newk, err,
			    errlen);
	if (r == 0)
		r = exec1(st, db, "COMMIT", NULL, NULL, 0, 0, "commit");
	if (r != 0 && !sqlite3_get_autocommit(db))
		exec1(st, db, "ROLLBACK", NULL, NULL, 0, 0, "rollback");
	if (r == 0)
		*count = n;
 out:
	store_db_unlock(st);
	storesec_rows_free(rows, n);
	return r;
}

int
storesec_put_all(struct store *st, const struct storesec_row *rows,
    size_t n)
{
	sqlite3 *db = store_db_lock(st);
	size_t i;
	int r;

	if ((r = exec1(st, db, "BEGIN IMMEDIATE", NULL, NULL, 0, 0,
	    "begin")) != 0)
		goto out;
	for (i = 0; i < n && r == 0; i++)
		r = exec1(st, db, "UPDATE secrets SET sealed = ?2 WHERE "
		    "name = ?1", rows[i].name, rows[i].sealed, rows[i].len, 0,
		    "write secret");
	if (r == 0)
		r = exec1(st, db, "COMMIT", NULL, NULL, 0, 0, "commit");
	if (r != 0 && !sqlite3_get_autocommit(db))
		exec1(st, db, "ROLLBACK", NULL, NULL, 0, 0, "rollback");
 out:
	store_db_unlock(st);
	return r;
}
