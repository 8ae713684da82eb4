/*
 * store_int.h - the store's SQLite connection, for the store module's other
 * files (storesec.c): they run their statements under the store's lock.
 */
#ifndef DISTCRON_STORE_INT_H
#define DISTCRON_STORE_INT_H

#include <sqlite3.h>

struct store;

/* Takes st's lock and returns its connection; store_db_unlock() after. */
sqlite3 *store_db_lock(struct store *st);
void store_db_unlock(struct store *st);

/* Logs the connection's last error about what; returns ERR_STORE (or
 * ERR_STORE_FULL when the disk is full). */
int store_db_fail(struct store *st, const char *what);

#endif
