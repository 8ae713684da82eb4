/*
 * outcap.h - capture of a command's output with a cap: the first half of the
 * limit is kept from the head, the last half from the tail (a ring), and the
 * text in between is replaced by a marker line
 * "\n[... distcron: N bytes omitted ...]\n".
 */
#ifndef DISTCRON_OUTCAP_H
#define DISTCRON_OUTCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outcap {
	char *head;
	size_t head_len;
	char *tail;		/* ring of tail_cap bytes */
	size_t tail_cap;
	size_t tail_pos;	/* next write position in the ring */
	size_t tail_len;	/* bytes in the ring */
	size_t limit;
	uint64_t total;		/* bytes fed */
};

/* Starts an empty capture keeping at most limit bytes.  Returns 0 or -ENOMEM. */
int outcap_init(struct outcap *c, size_t limit);

/* Feeds n bytes.  Returns 0 or -ENOMEM. */
int outcap_feed(struct outcap *c, const void *p, size_t n);

/* True when bytes were dropped. */
bool outcap_truncated(const struct outcap *c);

/* Returns the captured text (head, marker, tail), NUL-terminated, owned by
 * the caller; *lenp receives its length.  NULL on -ENOMEM. */
char *outcap_finish(struct outcap *c, size_t *lenp);

/* outcap_finish() for storing as text: NUL bytes in the output become
 * U+FFFD (so nothing after them is lost), and out of memory gives an empty
 * text, not NULL (unless even that cannot be allocated). */
char *outcap_text(struct outcap *c, size_t *lenp);

/* Frees the capture's buffers; accepts a finished or zeroed capture. */
void outcap_free(struct outcap *c);

#endif
