/* test_rendezvous.c - job ownership among members: a fair share each,
 * and when a member joins or leaves only the jobs that must move do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "distcron/rendezvous.h"

#define NAMES	10000
#define MAXM	8

static const char *const members[MAXM] = {
	"alpha:101", "bravo:202", "charlie:303", "host-a:1", "host-b:1",
	"host-c:1", "m1", "m2",
};

static void
name_of(int i, char *out, size_t n)
{
	snprintf(out, n, "job-%05d", i);
}

/* The owner of every name among members[0..n-1]. */
static void
owners(const char *const *m, size_t n, long *out)
{
	char name[32];
	int i;

	for (i = 0; i < NAMES; i++) {
		name_of(i, name, sizeof(name));
		out[i] = rendezvous_owner(m, n, name);
	}
}

/* The score is fixed: every machine and build must agree on it. */
static void
test_stable(void **state)
{
	(void)state;
	assert_true(rendezvous_score("m1", "job") ==
	    rendezvous_score("m1", "job"));
	assert_true(rendezvous_score("m1", "job") == 0xd20aabb61096d43eULL);
	/* the separator counts: ("ab", "c") is not ("a", "bc") */
	assert_true(rendezvous_score("ab", "c") != rendezvous_score("a", "bc"));
	assert_int_equal(rendezvous_owner(members, 0, "job"), -1);
	assert_int_equal(rendezvous_owner(members, 1, "job"), 0);
}

/* Each of n members gets 1/n of the names, within 12%. */
static void
test_fair(void **state)
{
	static long own[NAMES];
	size_t n, m, count[MAXM];
	int i;

	(void)state;
	for (n = 2; n <= MAXM; n++) {
		owners(members, n, own);
		for (m = 0; m < n; m++)
			count[m] = 0;
		for (i = 0; i < NAMES; i++) {
			assert_true(own[i] >= 0 && (size_t)own[i] < n);
			count[own[i]]++;
		}
		for (m = 0; m < n; m++) {
			assert_true(count[m] * n * 100 >= (size_t)NAMES * 88);
			assert_true(count[m] * n * 100 <= (size_t)NAMES * 112);
		}
	}
}

/* A member joining takes about 1/(n+1) of the names, each from its
 * previous owner; nothing else moves. */
static void
test_join(void **state)
{
	static long before[NAMES], after[NAMES];
	size_t n, moved;
	int i;

	(void)state;
	for (n = 2; n < MAXM; n++) {
		owners(members, n, before);
		owners(members, n + 1, after);
		moved = 0;
		for (i = 0; i < NAMES; i++) {
			if (before[i] == after[i])
				continue;
			assert_int_equal(after[i], (long)n);	/* to it */
			moved++;
		}
		assert_true(moved * (n + 1) * 100 >= (size_t)NAMES * 88);
		assert_true(moved * (n + 1) * 100 <= (size_t)NAMES * 112);
	}
}

/* A member leaving: only its names move, spread over the others. */
static void
test_leave(void **state)
{
	static long before[NAMES], after[NAMES];
	const char *left[MAXM];
	size_t gone, m, got[MAXM];
	int i;

	(void)state;
	for (gone = 0; gone < 5; gone++) {
		for (m = 0; m < 5; m++) {
			left[m] = m == gone ? NULL : members[m];
			got[m] = 0;
		}
		owners(members, 5, before);
		owners(left, 5, after);
		for (i = 0; i < NAMES; i++) {
			assert_true(after[i] != (long)gone);
			if ((size_t)before[i] != gone)
				assert_int_equal(after[i], before[i]);
			else
				got[after[i]]++;
		}
		for (m = 0; m < 5; m++)
			if (m != gone)	/* each survivor takes a share */
				assert_true(got[m] > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_fair),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_leave),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
