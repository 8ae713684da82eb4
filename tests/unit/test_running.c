/* test_running.c - the running marker's part in a claim transaction
 * (src/cluster/running.c): what forbid and replace add to the claim, what
 * a forbid claim that failed on the marker does next (and how long it
 * waits for another member's marker), and the batched delete of idle
 * markers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster_int.h"

#define LEASE	0x1234

/* A claim's arrays as claim.c fills them: 2 compares, 1 put, 2 ranges. */
struct txn {
	struct etcd_cmp cmp[3];
	struct etcd_op put[2], get[3];
	size_t ncmp, nput, nget;
};

static void
build(enum job_concurrency conc, bool own, struct txn *t)
{
	struct cl_mark_req q = { .conc = conc, .own = own,
	    .key = (char *)"/distcron/ns/running/j" };

	memset(t, 0, sizeof(*t));
	t->ncmp = 2;
	t->nput = 1;
	t->nget = 2;
	cl_mark_txn(&q, LEASE, "{\"member\":\"m1\"}", t->cmp, &t->ncmp,
	    t->put, &t->nput, t->get, &t->nget);
}

/* The marker goes on the member lease, with its value. */
static void
put_is_marker(const struct txn *t)
{
	assert_int_equal(t->put[1].type, ETCD_OP_PUT);
	assert_string_equal(t->put[1].key, "/distcron/ns/running/j");
	assert_int_equal(t->put[1].lease, LEASE);
	assert_int_equal(t->put[1].value_len, strlen("{\"member\":\"m1\"}"));
}

static void
test_allow_adds_nothing(void **state)
{
	struct txn t;

	(void)state;
	build(JOB_CONC_ALLOW, false, &t);
	assert_int_equal(t.ncmp, 2);
	assert_int_equal(t.nput, 1);
	assert_int_equal(t.nget, 2);
}

/* forbid, no marker of ours: it must be absent; read it on failure. */
static void
test_forbid_absent(void **state)
{
	struct txn t;

	(void)state;
	build(JOB_CONC_FORBID, false, &t);
	assert_int_equal(t.ncmp, 3);
	assert_string_equal(t.cmp[2].key, "/distcron/ns/running/j");
	assert_int_equal(t.cmp[2].target, ETCD_CMP_CREATE);
	assert_int_equal(t.cmp[2].result, ETCD_EQUAL);
	assert_int_equal(t.cmp[2].number, 0);
	assert_int_equal(t.nput, 2);
	put_is_marker(&t);
	assert_int_equal(t.nget, 3);
	assert_int_equal(t.get[2].type, ETCD_OP_RANGE);
	assert_string_equal(t.get[2].key, "/distcron/ns/running/j");
}

/* forbid, the marker is ours: it must still be on our lease. */
static void
test_forbid_own(void **state)
{
	struct txn t;

	(void)state;
	build(JOB_CONC_FORBID, true, &t);
	assert_int_equal(t.ncmp, 3);
	assert_int_equal(t.cmp[2].target, ETCD_CMP_LEASE);
	assert_int_equal(t.cmp[2].number, LEASE);
	put_is_marker(&t);
}

/* replace: the marker is put whoever holds it; no compare. */
static void
test_replace_overwrites(void **state)
{
	struct txn t;

	(void)state;
	build(JOB_CONC_REPLACE, false, &t);
	assert_int_equal(t.ncmp, 2);
	assert_int_equal(t.nput, 2);
	put_is_marker(&t);
	assert_int_equal(t.nget, 2);
}

static int
failed_at(struct cl_mark_req *q, struct etcd_kv *kv, int64_t now, char *why,
    size_t n)
{
	struct cluster c;
	struct etcd_op_result got = { .kvs = kv, .nkvs = kv != NULL };

	memset(&c, 0, sizeof(c));
	c.lease = LEASE;
	c.member = (char *)"m1";
	return cl_mark_failed(&c, q, &got, now, why, n);
}

static int
failed(struct cl_mark_req *q, struct etcd_kv *kv, char *why, size_t n)
{
	return failed_at(q, kv, 0, why, n);
}

/* Another member's marker: the tick is skipped, naming it. */
static void
test_failed_other_member(void **state)
{
	struct cl_mark_req q = { .conc = JOB_CONC_FORBID };
	struct etcd_kv kv = { .value = (char *)"{\"member\":\"m2\",\"tick\":5}",
	    .lease = 0x999 };
	char why[256];

	(void)state;
	assert_int_equal(failed(&q, &kv, why, sizeof(why)), 0);
	assert_string_equal(why, "the previous run is still running on "
	    "member m2 (concurrency: forbid)");
}

/* Another member's marker while the tick leaves time: claimed again a
 * moment later (the old owner's idle marker goes when it hears of the
 * join), until the wait is over; then skipped, naming it. */
static void
test_failed_other_member_waits(void **state)
{
	struct cl_mark_req q = { .conc = JOB_CONC_FORBID, .own = true,
	    .until = 10900 };
	struct etcd_kv kv = { .value = (char *)"{\"member\":\"m2\",\"tick\":5}",
	    .lease = 0x999 };
	char why[256];
	int64_t now = 10000;
	int waits = 0;

	(void)state;
	while (failed_at(&q, &kv, now, why, sizeof(why)) == CL_MARK_LATER &&
	    waits < 100) {
		assert_false(q.own);	/* the marker is not ours */
		waits++;
		now += CL_MARK_WAIT_MS;
	}
	assert_int_equal(waits, 900 / CL_MARK_WAIT_MS);
	assert_true(now <= q.until + CL_MARK_WAIT_MS);
	assert_string_equal(why, "the previous run is still running on "
	    "member m2 (concurrency: forbid)");
}

/* The wait ends CL_MARK_WAIT_MS before the next tick, at most
 * CL_MARK_WAIT_MAX_MS after the claim and at the end of the window after
 * the members changed; none when the tick is near or the window over. */
static void
test_wait_bounded(void **state)
{
	(void)state;
	/* next tick 2 s away: the whole wait */
	assert_int_equal(cl_mark_until(500, 8000, 10, 9999), 500 +
	    CL_MARK_WAIT_MAX_MS);
	/* 600 ms away: until 150 ms before it */
	assert_int_equal(cl_mark_until(500, 9400, 10, 9999), 500 + 600 -
	    CL_MARK_WAIT_MS);
	/* 200 ms away, or passed (a catch-up): no wait */
	assert_int_equal(cl_mark_until(500, 9800, 10, 9999), 0);
	assert_int_equal(cl_mark_until(500, 12000, 10, 9999), 0);
	/* the window after the members changed ends in 400 ms, or ended */
	assert_int_equal(cl_mark_until(500, 8000, 10, 900), 900);
	assert_int_equal(cl_mark_until(500, 8000, 10, 600), 0);
	assert_int_equal(cl_mark_until(500, 8000, 10, 0), 0);
}

/* Idle markers deleted in one transaction: each key's delete compares
 * the mod revision this member put, so a newer marker stays; when a
 * compare fails the keys are read instead. */
static void
test_unmark_batch(void **state)
{
	char *keys[3] = { (char *)"/distcron/ns/running/a",
	    (char *)"/distcron/ns/running/b", (char *)"/distcron/ns/running/c" };
	int64_t revs[3] = { 11, 42, 7 };
	struct etcd_cmp cmp[3];
	struct etcd_op del[3], get[3];
	size_t i;

	(void)state;
	assert_int_equal(cl_unmark_txn(keys, revs, 3, cmp, del, get), 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(cmp[i].key, keys[i]);
		assert_int_equal(cmp[i].target, ETCD_CMP_MOD);
		assert_int_equal(cmp[i].result, ETCD_EQUAL);
		assert_int_equal(cmp[i].number, revs[i]);
		assert_int_equal(del[i].type, ETCD_OP_DELETE);
		assert_string_equal(del[i].key, keys[i]);
		assert_false(del[i].prefix);
		assert_int_equal(get[i].type, ETCD_OP_RANGE);
		assert_string_equal(get[i].key, keys[i]);
	}
}

/* The batch failed: a marker gone (its member's lease, or deleted) or
 * put again (another member's replace, the job back here) is not
 * deleted again; one still at our revision is. */
static void
test_unmark_still(void **state)
{
	int64_t revs[3] = { 11, 42, 7 };
	struct etcd_kv newer = { .mod_revision = 50 }, ours = {
	    .mod_revision = 7 };
	struct etcd_op_result ops[3] = { { .nkvs = 0 },
	    { .kvs = &newer, .nkvs = 1 }, { .kvs = &ours, .nkvs = 1 } };
	struct etcd_result r = { .ops = ops, .nops = 3 };
	bool still[3];

	(void)state;
	cl_unmark_still(&r, revs, 3, still);
	assert_false(still[0]);
	assert_false(still[1]);
	assert_true(still[2]);
	r.nops = 2;		/* an answer short of reads: not ours */
	cl_unmark_still(&r, revs, 3, still);
	assert_false(still[2]);
}

/* Absent (a delete applied first) or ours (a delete not applied yet):
 * sent again with the compare that holds, at most twice. */
static void
test_failed_absent_or_ours_retries(void **state)
{
	struct cl_mark_req q = { .conc = JOB_CONC_FORBID, .own = true };
	struct etcd_kv ours = { .value = (char *)"{\"member\":\"m1\"}",
	    .lease = LEASE };
	char why[256];

	(void)state;
	assert_int_equal(failed(&q, NULL, why, sizeof(why)), 1);
	assert_false(q.own);
	assert_int_equal(failed(&q, &ours, why, sizeof(why)), 1);
	assert_true(q.own);
	assert_int_equal(failed(&q, &ours, why, sizeof(why)), 0);
	assert_string_equal(why, "the previous run is still running on "
	    "member m1 (concurrency: forbid)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_adds_nothing),
		cmocka_unit_test(test_forbid_absent),
		cmocka_unit_test(test_forbid_own),
		cmocka_unit_test(test_replace_overwrites),
		cmocka_unit_test(test_failed_other_member),
		cmocka_unit_test(test_failed_absent_or_ours_retries),
		cmocka_unit_test(test_failed_other_member_waits),
		cmocka_unit_test(test_wait_bounded),
		cmocka_unit_test(test_unmark_batch),
		cmocka_unit_test(test_unmark_still),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
