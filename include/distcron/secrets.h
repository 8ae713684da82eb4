/*
 * secrets.h - the daemon's secrets: named values sealed under the secrets
 * key (secbox.h) in the store (storesec.h), set and deleted through the API,
 * resolved into a run's environment, HTTP headers and body when the run
 * starts ({"secret": NAME} in a job, defs.h), and masked ("***") in what
 * the run printed before its output is stored or shipped.
 *
 * A struct secrets keeps the sealed values in memory (so that a run start
 * on the event loop reads no disk) and opens one only when a run needs it.
 * All functions are thread-safe (one lock): the API threads write, the
 * loop resolves, the definition parsers ask whether a name exists.
 */
#ifndef DISTCRON_SECRETS_H
#define DISTCRON_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secrets;
struct secbox_key;
struct store;
struct job_def;
struct job_http;

#define SECRETS_MASK		"***"
#define SECRETS_MASK_MIN	4	/* shorter values are not masked */

/*
 * Loads the secrets of st (which must outlive *out) under key (copied) and
 * checks that key opens every one: else ERR_AUTH with err "secret NAME:
 * the secrets key does not open it (wrong key, or the value was
 * altered)".  Blocks on the store.  Returns 0, ERR_STORE, -ENOMEM.
 */
int secrets_new(struct store *st, const struct secbox_key *key,
    struct secrets **out, char *err, size_t errlen);

/* secrets_new() with a previous key too (NULL: none), during a key
 * rotation: a value the current key does not open is opened with prev
 * (logged once at start, or when mirrored: "sealed with the previous
 * key"); new values are sealed with key only. */
int secrets_new_keys(struct store *st, const struct secbox_key *key,
    const struct secbox_key *prev, struct secrets **out, char *err,
    size_t errlen);

/* Frees s (its key wiped); accepts NULL. */
void secrets_free(struct secrets *s);

/* Has fn(arg) called (on the API's thread that made the change) after each
 * secret set through secrets_set(): the daemon reads again the job files
 * refused for a missing secret.  Set before the API starts. */
void secrets_on_set(struct secrets *s, void (*fn)(void *), void *arg);

/*
 * Cluster mode: the sealed values live elsewhere (etcd) and s mirrors
 * them.  write(arg, NAME, SEALED, LEN, UPDATED_MS, err, errlen) stores a
 * value (SEALED NULL: deletes NAME) and blocks until it is stored;
 * returns 0, ERR_NOTFOUND (a delete of none) or an error with err saying
 * why.  secrets_set() and secrets_delete() then write through it instead
 * of the store and update s at once; the mirror functions below apply
 * what the other members wrote.  Set before the API starts.
 */
typedef int (*secrets_write_fn)(void *arg, const char *name,
    const unsigned char *sealed, size_t len, int64_t updated_ms, char *err,
    size_t errlen);
void secrets_set_remote(struct secrets *s, secrets_write_fn write,
    void *arg);

/* Mirrors a sealed value written elsewhere: refused (ERR_AUTH, ERR_INVALID,
 * ERR_PARSE: s unchanged) when s's key does not open it for name, else
 * put in s (on_set told).  Any thread. */
int secrets_mirror_put(struct secrets *s, const char *name,
    const unsigned char *sealed, size_t len, int64_t updated_ms);

/* Mirrors a delete; names (n, sorted) NULL: name alone; else every secret
 * not in names goes (a whole read: name is ignored). */
void secrets_mirror_drop(struct secrets *s, const char *name,
    const char *const *names, size_t n);

/* True when s holds a secret name. */
bool secrets_exists(void *s, const char *name);

/* Opens name's value into a new *value (wipe and free it); s may be NULL
 * (no key: ERR_CONFIG).  0, ERR_NOTFOUND, ERR_AUTH, -ENOMEM.  For
 * exec_ssh_set_secrets() (a node's key passphrase). */
int secrets_value(void *s, const char *name, char **value);

/* defs_secrets_hook()'s check: 0 when s (a struct secrets, or NULL: no
 * key) holds name, else ERR_NOTFOUND, or ERR_CONFIG when s is NULL. */
int secrets_check(void *s, const char *name);

/*
 * Sets name to value (len bytes; no NUL byte, at most SECBOX_VALUE_MAX):
 * sealed, written to the store, then in effect for the next run.  Blocks
 * on the store.  Returns 0, ERR_INVALID (err says why), ERR_STORE.
 */
int secrets_set(struct secrets *s, const char *name, const char *value,
    size_t len, char *err, size_t errlen);

/* Deletes name.  Returns 0, ERR_NOTFOUND, ERR_STORE.  Blocks. */
int secrets_delete(struct secrets *s, const char *name);

/* A new JSON text {"secrets": [{"name", "updated": ISO 8601 UTC}]} in
 * name order (never a value).  Returns 0 or -ENOMEM. */
int secrets_list_json(struct secrets *s, char **json);

/* What a key rotation did. */
struct secrets_rotation {
	size_t resealed;	/* opened with the previous key, sealed again */
	size_t current;		/* already sealed with the current key */
};

/*
 * Key rotation: every value the current key does not open but the
 * previous one does is sealed again with the current key, all in one
 * write (the store's transaction, or the remote rotation's: etcd).  A
 * value neither key opens refuses the whole rotation: ERR_INVALID, err
 * naming the secret, nothing written.  Blocks (writers wait).  Returns 0,
 * ERR_INVALID, ERR_EXISTS (cluster mode: a secret changed meanwhile),
 * ERR_STORE, ERR_CONNECT, ERR_TIMEOUT, -ENOMEM.
 */
int secrets_rotate(struct secrets *s, struct secrets_rotation *res,
    char *err, size_t errlen);

/*
 * One value for a rotation: *out NULL when the current key opens sealed
 * (nothing to do), else a new value (free it) sealed with the current
 * key.  ERR_INVALID with err naming name when neither key opens it.
 * Reads only the keys: any thread, no lock.
 */
int secrets_reseal(const struct secrets *s, const char *name,
    const unsigned char *sealed, size_t len, unsigned char **out,
    size_t *outlen, char *err, size_t errlen);

/* Cluster mode: secrets_rotate() calls fn(arg, s, res, err, errlen)
 * instead (writers held off), which re-seals what etcd holds
 * (secrets_reseal()) in one transaction.  Set before the API starts. */
typedef int (*secrets_rotate_fn)(void *arg, struct secrets *s,
    struct secrets_rotation *res, char *err, size_t errlen);
void secrets_set_remote_rotate(struct secrets *s, secrets_rotate_fn fn,
    void *arg);

/* The values resolved for one run, for masking its output. */
struct secrets_use {
	char **values;		/* opened values (wiped when freed) */
	size_t nvalues;
	char **made;		/* env entries and headers made for the run */
	size_t nmade;
	char **headers;		/* the run's http headers, or NULL */
	struct job_http *http;	/* the run's copy of def->http, or NULL */
	struct job_amqp *amqp;	/* the run's copy of def->amqp with its
				 * password, or NULL */
};

/*
 * Resolves def's references (def->secrefs) for a run: env (the run's
 * environment, whose first entries are def->env's) gets the values in
 * place; *http is def->http, or a copy with the values in its headers and
 * body; an amqp.password reference goes into u->amqp (secrets_amqp()).  u owns what was made (secrets_use_free() after the executor's
 * start) and the values (secrets_use_values_free() once the output is
 * masked).  s may be NULL (no key).  Returns 0, or ERR_NOTFOUND /
 * ERR_INVALID / ERR_AUTH with err "FIELD: secret \"NAME\" ..." naming the
 * field and the secret, never a value.
 */
int secrets_apply(struct secrets *s, const struct job_def *def, char **env,
    const struct job_http **http, struct secrets_use *u, char *err,
    size_t errlen);

/* The message the run publishes: u's copy of def->amqp holding the
 * password secrets_apply() opened, else def->amqp itself. */
const struct job_amqp *secrets_amqp(const struct secrets_use *u,
    const struct job_def *def);

/* Frees what secrets_apply() made for the executor (not the values). */
void secrets_use_free(struct secrets_use *u);

/* Wipes and frees the values. */
void secrets_use_values_free(struct secrets_use *u);

/*
 * Replaces in place, in text (*len bytes, NUL-terminated), each occurrence
 * of each value of u at least SECRETS_MASK_MIN bytes long by SECRETS_MASK
 * (never longer, so nothing is allocated); *len shrinks accordingly.
 */
void secrets_mask(const struct secrets_use *u, char *text, size_t *len);

/*
 * secrets_mask() for the output of a command still running: also cuts
 * from the end of text the start of a value that may be going out (text
 * ending "pw=hun" while the value is "hunter22"), so that no part of a
 * value shows before the rest comes and the whole is masked.
 */
void secrets_mask_live(const struct secrets_use *u, char *text, size_t *len);

/*
 * For an output cut at its cap (secrets_mask() done first): masks the
 * pieces of u's values that the cut split, the start of one just before
 * the marker of the dropped bytes (outcap.h) and the end of one just
 * after, down to a single byte, each as SECRETS_MASK; *text may be
 * reallocated and *len grow.  Every marker-like line is taken for a cut.
 * Without memory the pieces go unmarked, or the whole text.
 */
void secrets_mask_cut(const struct secrets_use *u, char **text, size_t *len);

#endif
