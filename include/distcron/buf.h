/*
 * buf.h - growable byte buffer with a mandatory size cap.
 *
 * The data is always NUL-terminated (the terminator is not counted in len and
 * not counted against max).  Appends that would pass max append nothing and
 * return -E2BIG.  A zeroed struct buf is not valid: call buf_init() first.
 */
#ifndef DISTCRON_BUF_H
#define DISTCRON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* NULL until the first append */
	size_t len;	/* bytes used */
	size_t cap;	/* bytes allocated */
	size_t max;	/* hard cap on len */
};

/* Initialises an empty buffer that will never hold more than max bytes. */
void buf_init(struct buf *b, size_t max);

/* Makes room for n more bytes (and the NUL) without changing len, so that
 * a producer may write up to n bytes at data + len itself, then add what it
 * wrote to len and terminate.  Returns 0, -E2BIG past the cap, or
 * -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);

/* Appends n bytes.  Returns 0, -E2BIG past the cap, or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends a C string (without its NUL). Same returns as buf_append(). */
int buf_puts(struct buf *b, const char *s);

/* Appends formatted text.  Same returns as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Returns the contents as a C string ("" when empty); owned by b. */
const char *buf_str(const struct buf *b);

/* Empties the buffer, keeping its allocation and cap. */
void buf_reset(struct buf *b);

/* Removes the first n bytes (all of them if n >= len). */
void buf_consume(struct buf *b, size_t n);

/* Hands the contents to the caller (free() it) and empties b; never NULL
 * unless out of memory.  *lenp, if not NULL, receives the length. */
char *buf_steal(struct buf *b, size_t *lenp);

/* Frees the contents; b may then be reused after buf_init(). */
void buf_free(struct buf *b);

#endif
