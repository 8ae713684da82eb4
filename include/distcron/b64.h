/*
 * b64.h - standard base64 (RFC 4648, "+/" alphabet), as SSH keys and
 * etcd's JSON gateway write bytes.
 */
#ifndef DISTCRON_B64_H
#define DISTCRON_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "distcron/buf.h"

/* The bytes b64_decode() may write for n characters. */
#define B64_DECODED_MAX(n)	((n) / 4 * 3 + 3)

/* Appends the base64 form of the n bytes at in to out, with or without
 * "=" padding.  Returns 0 or buf_append()'s error. */
int b64_encode(const void *in, size_t n, bool pad, struct buf *out);

/* Decodes n characters of base64 (padding optional) into out, which has
 * room for B64_DECODED_MAX(n) bytes.  Returns the length, or -1 when s is
 * not base64. */
ssize_t b64_decode(const char *s, size_t n, unsigned char *out);

#endif
