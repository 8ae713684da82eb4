/*
 * secbox.h - sealing named secret values with libsodium's crypto_secretbox
 * (XSalsa20-Poly1305) under a 32-byte key.
 *
 * A sealed value is "DCS1" | a random 24-byte nonce | the box of
 * NAME '\0' VALUE: the name is inside the authenticated plaintext and is
 * checked on opening, so a value copied under another name is refused.
 * Keys are written as 64 hexadecimal digits (a secrets_key_file, or
 * DISTCRON_SECRETS_KEY).  Nothing here blocks except secbox_key_load(),
 * which reads a file.  Thread-safe once secbox_init() has returned 0.
 */
#ifndef DISTCRON_SECBOX_H
#define DISTCRON_SECBOX_H

#include <stdbool.h>
#include <stddef.h>

#define SECBOX_KEY_LEN		32
#define SECBOX_VALUE_MAX	65536	/* bytes of one value */
#define SECBOX_NAME_MAX		128	/* as a job name */

struct secbox_key {
	unsigned char k[SECBOX_KEY_LEN];
};

/* Initialises libsodium once.  Returns 0 or ERR_INTERNAL. */
int secbox_init(void);

/*
 * Parses a key from text: 64 hex digits, surrounding white space ignored.
 * Returns 0, or ERR_INVALID with *errstr saying why (never echoing the
 * text).
 */
int secbox_key_parse(const char *text, struct secbox_key *out,
    const char **errstr);

/*
 * Reads the key file at path (private: fileio_secret_check(), owner checked
 * when owner is true) into *out.  Returns 0, or ERR_CONFIG with err
 * "secrets key file PATH: why".  Blocks on the file.
 */
int secbox_key_load(const char *path, bool owner, struct secbox_key *out,
    char *err, size_t errlen);

/*
 * The key of a daemon or distcronctl: the file path when not NULL or "",
 * else the environment variable DISTCRON_SECRETS_KEY.  Returns 0, 1 when
 * neither is set (no secrets), or ERR_CONFIG with err naming the source.
 */
int secbox_key_get(const char *path, bool owner, struct secbox_key *out,
    char *err, size_t errlen);

/* secbox_key_get() with another variable than DISTCRON_SECRETS_KEY
 * (DISTCRON_SECRETS_PREVIOUS_KEY: the previous key of a rotation). */
int secbox_key_get_env(const char *path, const char *var, bool owner,
    struct secbox_key *out, char *err, size_t errlen);

/* Wipes a key. */
void secbox_key_wipe(struct secbox_key *k);

/*
 * Seals value (vlen bytes, no NUL byte, at most SECBOX_VALUE_MAX) under
 * name into a new *out of *outlen bytes (free it).  Returns 0, ERR_INVALID
 * (bad name or value) or -ENOMEM.
 */
int secbox_seal(const struct secbox_key *k, const char *name,
    const char *value, size_t vlen, unsigned char **out, size_t *outlen);

/*
 * Opens a sealed value of name: a new NUL-terminated *value (free it with
 * secbox_value_free()).  Returns 0, ERR_AUTH when the key does not open it
 * or it was altered ("wrong key or altered"), ERR_INVALID when it opens but
 * was sealed for another name, ERR_PARSE when it is no sealed value, or
 * -ENOMEM.  *value is NULL on error.
 */
int secbox_open(const struct secbox_key *k, const char *name,
    const unsigned char *blob, size_t len, char **value);

/* Wipes and frees a value secbox_open() returned; accepts NULL. */
void secbox_value_free(char *value);

#endif
