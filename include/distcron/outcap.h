/*
 * outcap.h - capture of a command's output with a cap: the first half of the
 * limit is kept from the head, the last half from the tail (a ring), and the
 * text in between is replaced by a marker line
 * "\n[... distcron: N bytes omitted ...]\n".
 *
 * A budget shared by all captures of the daemon bounds the memory they hold
 * together (output_limit x runs could exhaust it): a capture whose buffers
 * would grow past it moves them to a temporary file in the budget's
 * directory (unlinked at once, so nothing is left behind) and goes on there
 * with the same head and tail; if no file can be made or written, it keeps
 * its head and drops the rest, ending with the line
 * "\n[distcron: output cut: daemon output memory budget reached, N bytes
 * dropped]\n".
 */
#ifndef DISTCRON_OUTCAP_H
#define DISTCRON_OUTCAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Memory held by captures, all threads together. */
struct outcap_budget {
	atomic_size_t held;		/* bytes of capture buffers */
	atomic_uint_fast64_t spills;	/* captures moved to a file */
	atomic_uint_fast64_t cuts;	/* captures cut (no file) */
	size_t max;
	const char *dir;		/* of spill files (borrowed) */
};

struct outcap {
	char *head;
	size_t head_len;
	char *tail;		/* ring of tail_cap bytes */
	size_t tail_cap;
	size_t tail_pos;	/* next write position in the ring */
	size_t tail_len;	/* bytes in the ring */
	size_t limit;
	uint64_t total;		/* bytes fed */
	struct outcap_budget *budget;	/* NULL: none */
	size_t held;		/* bytes charged to the budget */
	int fd;			/* the spill file, when spilled */
	bool spilled;		/* head and ring live in fd */
	bool cut;		/* budget reached, no file: bytes dropped */
};

/* Starts a budget of max bytes, spilling into dir (borrowed; must outlive
 * the budget's captures).  A budget needs no freeing. */
void outcap_budget_init(struct outcap_budget *b, size_t max,
    const char *dir);

/* The budget's figures: bytes held now, captures spilled and cut so far. */
void outcap_budget_stats(const struct outcap_budget *b, size_t *held,
    uint64_t *spills, uint64_t *cuts);

/* Starts an empty capture keeping at most limit bytes, its memory charged to
 * budget (NULL: none).  Returns 0. */
int outcap_init(struct outcap *c, size_t limit, struct outcap_budget *budget);

/* Feeds n bytes.  Returns 0 or -ENOMEM.  May open and write the spill
 * file (a local file: short blocking I/O). */
int outcap_feed(struct outcap *c, const void *p, size_t n);

/* True when bytes were dropped (past the limit or cut). */
bool outcap_truncated(const struct outcap *c);

/* Returns the captured text (head, marker, tail), NUL-terminated, owned by
 * the caller; *lenp receives its length.  NULL on -ENOMEM. */
char *outcap_finish(struct outcap *c, size_t *lenp);

/* The text captured so far, as outcap_text() would give it now (NUL bytes
 * as U+FFFD), leaving c as it is: the output of a command still running.
 * Owned by the caller; NULL without memory or when a spilled capture
 * cannot be read back.  May read the spill file (short blocking I/O). */
char *outcap_peek(const struct outcap *c, size_t *lenp);

/* outcap_finish() for storing as text: NUL bytes in the output become
 * U+FFFD (so nothing after them is lost), and out of memory gives an empty
 * text, not NULL (unless even that cannot be allocated). */
char *outcap_text(struct outcap *c, size_t *lenp);

/* Finds in text[from..len) the first marker of dropped bytes (either line
 * above, as a capture's text has them): *start is where it begins, *end
 * just after it.  False when there is none.  A command's own output may
 * hold such a line too: the caller takes every one found as a cut. */
bool outcap_marker_find(const char *text, size_t len, size_t from,
    size_t *start, size_t *end);

/* Frees the capture's buffers and spill file and gives its memory back to
 * the budget; accepts a finished or zeroed capture. */
void outcap_free(struct outcap *c);

#endif
