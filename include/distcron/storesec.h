/*
 * storesec.h - the store's table of secrets: each a name, its sealed value
 * (secbox.h: the store never holds a value in the clear) and when it was
 * last set.  Every call blocks on the store's lock and the disk; the daemon
 * calls them from the API's threads (rare, small writes), distcronctl
 * from its offline commands.
 */
#ifndef DISTCRON_STORESEC_H
#define DISTCRON_STORESEC_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct secbox_key;

struct storesec_row {
	char *name;
	unsigned char *sealed;
	size_t len;
	int64_t updated_ms;	/* CLOCK_REALTIME ms */
};

/* Creates or replaces name's sealed value.  Returns 0, ERR_STORE or
 * ERR_STORE_FULL. */
int storesec_put(struct store *st, const char *name,
    const unsigned char *sealed, size_t len, int64_t now_ms);

/* Deletes name.  Returns 0, ERR_NOTFOUND or ERR_STORE. */
int storesec_delete(struct store *st, const char *name);

/* Every secret in name order, sealed values included: *rows (n of them)
 * is freed with storesec_rows_free().  Returns 0, -ENOMEM or ERR_STORE. */
int storesec_list(struct store *st, struct storesec_row **rows, size_t *n);

/* Frees rows; accepts NULL. */
void storesec_rows_free(struct storesec_row *rows, size_t n);

/*
 * Key rotation: in one write transaction, opens every secret with oldk and
 * seals it again with newk.  Nothing is written unless every one opens:
 * on the first that does not, returns ERR_AUTH (or the error of
 * secbox_open()) with err naming it ("secret NAME: wrong key or altered").
 * *count is how many were sealed again.  Returns 0, ERR_STORE, -ENOMEM.
 */
int storesec_rekey(struct store *st, const struct secbox_key *oldk,
    const struct secbox_key *newk, size_t *count, char *err, size_t errlen);

/* Writes the sealed value of each of rows (n; their names must exist) in
 * one write transaction: all or nothing.  updated_ms is left alone (the
 * values did not change).  Returns 0, ERR_STORE or ERR_STORE_FULL. */
int storesec_put_all(struct store *st, const struct storesec_row *rows,
    size_t n);

#endif
