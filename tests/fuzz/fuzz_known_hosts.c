/*
 * fuzz_known_hosts.c - libFuzzer target for the known_hosts reader
 * (sshhost_kh_check) and the public key line parser (sshhost_key_decode).
 *
 * Input: a key line ("ssh-ed25519 AAAA..."), '\n', then a known_hosts file
 * (an in-memory file).  The file is read for host "[fuzz.example]:2222"
 * with the key line's key, or a made-up key when the line does not parse.
 * Checks: a decoded key names its type and survives a base64 round trip;
 * the verdict is one of the five and its line is in the file; and once the
 * entry distcron itself writes for the key (accept-new, "trust") is
 * appended, a key of a type libssh2 knows is found: listed, or revoked by
 * a "@revoked" line of the fuzzed part.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_known_hosts
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libssh2.h>

#include "distcron/err.h"
#include "distcron/sshhost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATTERN	"[fuzz.example]:2222"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding; out holds 4 * (n + 2) / 3 + 1 bytes. */
static void
b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
		    (i + 2 < n ? in[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

/* The types libssh2's known_hosts parser reads. */
static int
known_type(const char *line)
{
	static const char *const types[] = { "ssh-ed25519 ",
		"ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
		"ecdsa-sha2-nistp521 ", "ssh-rsa ", "ssh-dss " };
	size_t i;

	line += strspn(line, " \t");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncmp(line, types[i], strlen(types[i])) == 0)
			return 1;
	return 0;
}

static long
count_lines(const char *s, size_t n)
{
	long lines = 0;
	size_t i;

	for (i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines + (n > 0 && s[n - 1] != '\n');
}

static void
write_file(int fd, const void *data, size_t n)
{
	if (ftruncate(fd, 0) != 0 || (n > 0 && pwrite(fd, data, n, 0) !=
	    (ssize_t)n))
		abort();
}

/* Checks a decoded key; returns the file entry for it (malloc'd). */
static char *
key_entry(const char *line, const unsigned char *blob, size_t len)
{
	const char *type = line + strspn(line, " \t");
	size_t tlen = strcspn(type, " \t"), len2 = 0;
	unsigned char *blob2 = NULL;
	const char *errstr = NULL;
	char *enc, *entry, *again;
	size_t n = sizeof(PATTERN) + tlen + 4 * (len + 2) / 3 + 8;

	if (len < 4 + tlen || memcmp(blob + 4, type, tlen) != 0)
		abort();	/* the blob names the line's type */
	if ((enc = malloc(4 * (len + 2) / 3 + 1)) == NULL ||
	    (entry = malloc(n)) == NULL)
		abort();
	b64_encode(blob, len, enc);
	snprintf(entry, n, "\n%s %.*s %s\n", PATTERN, (int)tlen, type, enc);
	again = entry + sizeof(PATTERN) + 1;	/* "type base64\n" */
	if (sshhost_key_decode(again, &blob2, &len2, &errstr) != 0 ||
	    len2 != len || memcmp(blob2, blob, len) != 0)
		abort();
	free(blob2);
	free(enc);
	return entry;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char nokey[] = "distcron: no key";
	static LIBSSH2_SESSION *s;
	static int fd = -1;
	static char path[64];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t klen = nl != NULL ? (size_t)(nl - data) : size, flen, len = 0;
	const char *file = nl != NULL ? (const char *)nl + 1 : "";
	const char *errstr = NULL;
	unsigned char *blob = NULL;
	char *line, *entry = NULL, *all;
	long at = 0;
	int v = 0, r;

	if (s == NULL) {
		if (libssh2_init(0) != 0 || (s = libssh2_session_init()) ==
		    NULL || (fd = memfd_create("known_hosts", 0)) == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	flen = nl != NULL ? size - klen - 1 : 0;
	if ((line = strndup((const char *)data, klen)) == NULL)
		return 0;
	r = sshhost_key_decode(line, &blob, &len, &errstr);
	if (r != 0 && (r != ERR_INVALID || errstr == NULL || blob != NULL))
		abort();
	if (r == 0)
		entry = key_entry(line, blob, len);
	write_file(fd, file, flen);
	r = sshhost_kh_check(s, path, PATTERN, blob ? blob : nokey,
	    blob ? len : sizeof(nokey) - 1, &v, &at);
	if (r != 0 && r != ERR_INTERNAL)
		abort();
	if (r == 0 && (v < SSHHOST_KH_NONE || v > SSHHOST_KH_REVOKED ||
	    at < 0 || at > count_lines(file, flen) ||
	    (v != SSHHOST_KH_NONE) != (at != 0)))
		abort();
	if (entry != NULL && known_type(line) && memchr(file, '\0', flen) ==
	    NULL && (all = malloc(flen + strlen(entry))) != NULL) {
		memcpy(all, file, flen);
		memcpy(all + flen, entry, strlen(entry));
		write_file(fd, all, flen + strlen(entry));
		r = sshhost_kh_check(s, path, PATTERN, blob, len, &v, &at);
		if (r == 0 && v != SSHHOST_KH_MATCH && v != SSHHOST_KH_REVOKED)
			abort();
		free(all);
	}
	free(entry);
	free(blob);
	free(line);
	return 0;
}
