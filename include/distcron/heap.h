/*
 * heap.h - an intrusive binary min-heap of pointers.
 *
 * The element type embeds a struct heap_node, which records the element's
 * slot so removal and re-keying are O(log n).  The order comes from a
 * "less" function over two nodes (use container_of-style arithmetic to reach
 * the element).  Not thread-safe.
 */
#ifndef DISTCRON_HEAP_H
#define DISTCRON_HEAP_H

#include <stddef.h>

#define HEAP_NONE	((size_t)-1)	/* idx of a node not in a heap */

struct heap_node {
	size_t idx;
};

typedef int (*heap_less_fn)(const struct heap_node *a,
    const struct heap_node *b);

struct heap {
	struct heap_node **v;
	size_t n, cap;
	heap_less_fn less;
};

/* Makes an empty heap ordered by less. */
void heap_init(struct heap *h, heap_less_fn less);

/* Frees the heap's array; the heap is then empty.  The nodes are not
 * touched (they may already be freed) and their idx is stale. */
void heap_free(struct heap *h);

/* Adds x (not in a heap).  Returns 0 or -ENOMEM. */
int heap_push(struct heap *h, struct heap_node *x);

/* Takes x out of the heap; no-op when x->idx is HEAP_NONE. */
void heap_remove(struct heap *h, struct heap_node *x);

/* Restores the order after x's key changed. */
void heap_update(struct heap *h, struct heap_node *x);

/* The smallest node, or NULL when empty. */
static inline struct heap_node *
heap_top(const struct heap *h)
{
	return h->n ? h->v[0] : NULL;
}

#endif
