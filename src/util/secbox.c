/*
 * secbox.c - named values sealed with crypto_secretbox_easy() of libsodium:
 * a fresh random nonce per value, and the name sealed with the value so that
 * the opening checks it.  Plaintext copies are wiped (sodium_memzero) before
 * they are freed.  Keys are hex text (sodium_hex2bin), read from a private
 * file or from the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "distcron/err.h"
#include "distcron/fileio.h"
#include "distcron/secbox.h"

#define MAGIC		"DCS1"
#define MAGIC_LEN	4
#define HEAD_LEN	(MAGIC_LEN + crypto_secretbox_NONCEBYTES)
#define KEY_TEXT_MAX	256	/* bytes read from a key file */

int
secbox_init(void)
{
	return sodium_init() < 0 ? ERR_INTERNAL : 0;
}

int
secbox_key_parse(const char *text, struct secbox_key *out,
    const char **errstr)
{
	const char *end = NULL;
	size_t n = 0, len;

	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	len = strcspn(text, " \t\r\n");
	if (text[len + strspn(text + len, " \t\r\n")] != '\0' ||
	    len != 2 * SECBOX_KEY_LEN ||
	    sodium_hex2bin(out->k, sizeof(out->k), text, len, NULL, &n,
	    &end) != 0 || n != SECBOX_KEY_LEN || end != text + len) {
		sodium_memzero(out, sizeof(*out));
		*errstr = "expected 64 hexadecimal digits (32 bytes, e.g. from "
		    "\"openssl rand -hex 32\")";
		return ERR_INVALID;
	}
	return 0;
}

/* Reads at most KEY_TEXT_MAX - 1 bytes of fd into text. */
static int
key_read(int fd, char *text, size_t cap)
{
	size_t n = 0;
	ssize_t got;

	while (n < cap - 1 && (got = read(fd, text + n, cap - 1 - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		n += (size_t)got;
	}
	text[n] = '\0';
	return 0;
}

int
secbox_key_load(const char *path, bool owner, struct secbox_key *out,
    char *err, size_t errlen)
{
	char text[KEY_TEXT_MAX];
	const char *why = NULL;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "secrets key file %s: %s", path,
		    strerror(errno));
		return ERR_CONFIG;
	}
	if (fileio_secret_check(fd, path, "secrets key file", owner, err,
	    errlen) != 0) {
		close(fd);
		return ERR_CONFIG;
	}
	r = key_read(fd, text, sizeof(text));
	close(fd);
	if (r == 0 && secbox_key_parse(text, out, &why) != 0)
		r = ERR_INVALID;
	sodium_memzero(text, sizeof(text));
	if (r != 0) {
		snprintf(err, errlen, "secrets key file %s: %s", path,
		    why != NULL ? why : err_str(r));
		return ERR_CONFIG;
	}
	return 0;
}

int
secbox_key_get(const char *path, bool owner, struct secbox_key *out,
    char *err, size_t errlen)
{
	return secbox_key_get_env(path, "DISTCRON_SECRETS_KEY", owner, out,
	    err, errlen);
}

int
secbox_key_get_env(const char *path, const char *var, bool owner,
    struct secbox_key *out, char *err, size_t errlen)
{
	const char *env = getenv(var), *why = NULL;

	if (path != NULL && path[0] != '\0')
		return secbox_key_load(path, owner, out, err, errlen);
	if (env == NULL || env[0] == '\0')
		return 1;
	if (secbox_key_parse(env, out, &why) != 0) {
		snprintf(err, errlen, "%s: %s", var, why);
		return ERR_CONFIG;
	}
	return 0;
}

void
secbox_key_wipe(struct secbox_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

int
secbox_seal(const struct secbox_key *k, const char *name,
    const char *value, size_t vlen, unsigned char **out, size_t *outlen)
{
	size_t nlen = strlen(name), plen = nlen + 1 + vlen;
	unsigned char *plain, *blob;

	*out = NULL;
	if (nlen == 0 || nlen > SECBOX_NAME_MAX || vlen > SECBOX_VALUE_MAX ||
	    memchr(value, '\0', vlen) != NULL)
		return ERR_INVALID;
	if ((plain = malloc(plen)) == NULL ||
	    (blob = malloc(HEAD_LEN + crypto_secretbox_MACBYTES + plen)) ==
	    NULL) {
		free(plain);
		return -ENOMEM;
	}
	memcpy(plain, name, nlen + 1);
	memcpy(plain + nlen + 1, value, vlen);
	memcpy(blob, MAGIC, MAGIC_LEN);
	randombytes_buf(blob + MAGIC_LEN, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(blob + HEAD_LEN, plain, plen, blob + MAGIC_LEN,
	    k->k);
	sodium_memzero(plain, plen);
	free(plain);
	*out = blob;
	*outlen = HEAD_LEN + crypto_secretbox_MACBYTES + plen;
	return 0;
}

/* The opened plaintext p (plen bytes) of name: the value, moved to *value. */
static int
open_check(const char *name, unsigned char *p, size_t plen, char **value)
{
	size_t nlen = strlen(name);

	if (plen < nlen + 1 || memcmp(p, name, nlen + 1) != 0)
		return ERR_INVALID;
	if (memchr(p + nlen + 1, '\0', plen - nlen - 1) != NULL)
		return ERR_PARSE;
	if ((*value = malloc(plen - nlen)) == NULL)
		return -ENOMEM;
	memcpy(*value, p + nlen + 1, plen - nlen - 1);
	(*value)[plen - nlen - 1] = '\0';
	return 0;
}

int
secbox_open(const struct secbox_key *k, const char *name,
    const unsigned char *blob, size_t len, char **value)
{
	unsigned char *plain;
	size_t plen;
	int r;

	*value = NULL;
	if (len < HEAD_LEN + crypto_secretbox_MACBYTES ||
	    memcmp(blob, MAGIC, MAGIC_LEN) != 0)
		return ERR_PARSE;
	plen = len - HEAD_LEN - crypto_secretbox_MACBYTES;
	if ((plain = malloc(plen + 1)) == NULL)
		return -ENOMEM;
	if (crypto_secretbox_open_easy(plain, blob + HEAD_LEN, len - HEAD_LEN,
	    blob + MAGIC_LEN, k->k) != 0)
		r = ERR_AUTH;
	else
		r = open_check(name, plain, plen, value);
	sodium_memzero(plain, plen + 1);
	free(plain);
	return r;
}

void
secbox_value_free(char *value)
{
	if (value == NULL)
		return;
	sodium_memzero(value, strlen(value));
	free(value);
}
