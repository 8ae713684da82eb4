/*
 * heap.c - intrusive binary min-heap: an array of node pointers where each
 * node knows its index, so an element can be removed or re-keyed in place.
 */
#include <errno.h>
#include <stdlib.h>

#include "distcron/heap.h"

void
heap_init(struct heap *h, heap_less_fn less)
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->less = less;
}

void
heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static void
heap_place(struct heap *h, size_t i, struct heap_node *x)
{
	h->v[i] = x;
	x->idx = i;
}

static void
heap_up(struct heap *h, size_t i)
{
	struct heap_node *x = h->v[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!h->less(x, h->v[parent]))
			break;
		heap_place(h, i, h->v[parent]);
		i = parent;
	}
	heap_place(h, i, x);
}

static void
heap_down(struct heap *h, size_t i)
{
	struct heap_node *x = h->v[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->less(h->v[child + 1], h->v[child]))
			child++;
		if (!h->less(h->v[child], x))
			break;
		heap_place(h, i, h->v[child]);
		i = child;
	}
	heap_place(h, i, x);
}

int
heap_push(struct heap *h, struct heap_node *x)
{
	struct heap_node **nv;
	size_t ncap;

	if (h->n == h->cap) {
		ncap = h->cap ? h->cap * 2 : 64;
		if ((nv = realloc(h->v, ncap * sizeof(*nv))) == NULL)
			return -ENOMEM;
		h->v = nv;
		h->cap = ncap;
	}
	heap_place(h, h->n++, x);
	heap_up(h, x->idx);
	return 0;
}

void
heap_update(struct heap *h, struct heap_node *x)
{
	size_t i = x->idx;

	if (i > 0 && h->less(x, h->v[(i - 1) / 2]))
		heap_up(h, i);
	else
		heap_down(h, i);
}

void
heap_remove(struct heap *h, struct heap_node *x)
{
	size_t i = x->idx;
	struct heap_node *last;

	if (i == HEAP_NONE)
		return;
	x->idx = HEAP_NONE;
	last = h->v[--h->n];
	if (i == h->n)
		return;
	heap_place(h, i, last);
	heap_update(h, last);
}
