/* test_heap.c - the intrusive min-heap against a brute-force reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "distcron/heap.h"

#define N 5000

struct elem {
	int key;
	struct heap_node node;
};

static struct elem *
ELEM(const struct heap_node *n)
{
	uintptr_t a = (uintptr_t)n - offsetof(struct elem, node);

	return (struct elem *)a;
}

static int
less(const struct heap_node *a, const struct heap_node *b)
{
	return ELEM(a)->key < ELEM(b)->key;
}

/* The smallest key among elements in the heap, by brute force. */
static int
ref_min(const struct elem *e, size_t n)
{
	int m = INT32_MAX;
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].node.idx != HEAP_NONE && e[i].key < m)
			m = e[i].key;
	return m;
}

static void
test_random_ops(void **state)
{
	static struct elem e[N];
	struct heap_node *top;
	struct heap h;
	size_t i, j, in = 0;
	int op;

	heap_init(&h, less);
	assert_null(heap_top(&h));
	srand(42);
	for (i = 0; i < N; i++)
		e[i].node.idx = HEAP_NONE;
	for (j = 0; j < 50000; j++) {
		i = (size_t)rand() % N;
		op = rand() % 3;
		if (e[i].node.idx == HEAP_NONE && op != 2) {
			e[i].key = rand() % 100000;
			assert_int_equal(heap_push(&h, &e[i].node), 0);
			in++;
		} else if (e[i].node.idx != HEAP_NONE && op == 1) {
			e[i].key = rand() % 100000;
			heap_update(&h, &e[i].node);
		} else {
			in -= e[i].node.idx != HEAP_NONE;
			heap_remove(&h, &e[i].node);	/* also when absent */
		}
		assert_int_equal(h.n, in);
		if (j % 97 == 0 && in > 0)
			assert_int_equal(ELEM(heap_top(&h))->key, ref_min(e, N));
	}
	/* draining gives keys in order */
	for (op = -1; (top = heap_top(&h)) != NULL; ) {
		assert_true(ELEM(top)->key >= op);
		op = ELEM(top)->key;
		heap_remove(&h, top);
	}
	heap_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
