/*
 * test_policy.c - node selection: candidates by role or name, "any" picks
 * the least busy up node with ties rotating and skips tried or down nodes,
 * "all" lists every candidate, reasons when there is none, and node status
 * carried over a reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/policy.h"

struct env {
	struct loop *loop;
	struct config cfg;
	struct policy *p;
	struct defs_set *set;
};

static struct node_def *
node(const char *name, const char *json)
{
	struct node_def *n = NULL;
	char err[256];

	assert_int_equal(defs_node_parse(name, json, strlen(json), &n, err,
	    sizeof(err), NULL, NULL), 0);
	return n;
}

static struct job_def *
job(const char *json)
{
	struct job_def *j = NULL;
	char err[256];

	assert_int_equal(defs_job_parse("j", json, strlen(json), NULL, &j, err,
	    sizeof(err), NULL, NULL), 0);
	return j;
}

/* A set of five nodes: web1..web3 (role web), db1 (db), off (web,
 * disabled), sorted by name as defs_load() sorts them. */
static struct defs_set *
five_nodes(void)
{
	struct defs_set *set = calloc(1, sizeof(*set));
	const char *local = "{\"roles\": [\"web\"], \"connection_type\": "
	    "\"local\"}";

	set->nodes = calloc(5, sizeof(*set->nodes));
	set->nodes[0] = node("db1", "{\"roles\": [\"db\"], "
	    "\"connection_type\": \"local\"}");
	set->nodes[1] = node("off", "{\"roles\": [\"web\"], "
	    "\"connection_type\": \"local\", \"enabled\": false}");
	set->nodes[2] = node("web1", local);
	set->nodes[3] = node("web2", local);
	set->nodes[4] = node("web3", local);
	set->nnodes = 5;
	return set;
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->cfg.node_check_ms = 1000;
	e->cfg.node_check_max_ms = 8000;
	assert_int_equal(loop_new(&e->loop), 0);
	assert_int_equal(policy_new(e->loop, &e->cfg, NULL, &e->p), 0);
	e->set = five_nodes();
	assert_int_equal(policy_set_nodes(e->p, e->set), 0);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	policy_free(e->p);
	defs_set_free(e->set);
	loop_free(e->loop);
	free(e);
	return 0;
}

static unsigned spin;

static const char *
pick(struct env *e, struct job_def *j, char *const *tried, size_t n,
    char *why, size_t whylen)
{
	struct policy_node *pn = policy_pick_any(e->p, j, tried, n, spin++,
	    why, whylen);

	return pn ? pn->def->name : NULL;
}

static void
test_any_rotates_ties(void **state)
{
	struct env *e = *state;
	struct job_def *j = job("{\"policy\": {\"roles\": [\"web\"]}, "
	    "\"schedule\": \"@hourly\", \"command\": [\"true\"]}");
	char why[256];
	int seen[3] = { 0, 0, 0 }, i;
	const char *name;

	for (i = 0; i < 30; i++) {
		name = pick(e, j, NULL, 0, why, sizeof(why));
		assert_non_null(name);
		assert_int_equal(strncmp(name, "web", 3), 0);	/* not db1/off */
		seen[name[3] - '1']++;
	}
	/* All three idle nodes share the work. */
	assert_true(seen[0] >= 5 && seen[1] >= 5 && seen[2] >= 5);
	defs_job_unref(j);
}

static void
test_any_least_busy(void **state)
{
	struct env *e = *state;
	struct job_def *j = job("{\"policy\": {\"roles\": [\"web\"]}, "
	    "\"schedule\": \"@hourly\", \"command\": [\"true\"]}");
	char why[256];
	int i;

	policy_node(e->p, "web1")->running = 3;
	policy_node(e->p, "web3")->running = 1;
	for (i = 0; i < 5; i++)
		assert_string_equal(pick(e, j, NULL, 0, why, sizeof(why)),
		    "web2");
	policy_node(e->p, "web2")->running = 2;
	assert_string_equal(pick(e, j, NULL, 0, why, sizeof(why)), "web3");
	defs_job_unref(j);
}

static void
test_any_skips_tried_and_down(void **state)
{
	struct env *e = *state;
	struct job_def *j = job("{\"policy\": {\"roles\": [\"web\"]}, "
	    "\"schedule\": \"@hourly\", \"command\": [\"true\"]}");
	char why[512], *tried[] = { "web1" };
	struct policy_node *w2 = policy_node(e->p, "web2");
	int i;

	policy_node_failed(e->p, w2, "cannot connect: refused");
	assert_true(w2->down);
	assert_string_equal(w2->last_error, "cannot connect: refused");
	for (i = 0; i < 6; i++)
		assert_string_equal(pick(e, j, tried, 1, why, sizeof(why)),
		    "web3");
	policy_node_failed(e->p, policy_node(e->p, "web3"), "timeout");
	assert_null(pick(e, j, tried, 1, why, sizeof(why)));
	assert_non_null(strstr(why, "web2 (cannot connect: refused)"));
	assert_non_null(strstr(why, "web3 (timeout)"));
	policy_node_ok(e->p, w2);
	assert_false(w2->down);
	assert_string_equal(pick(e, j, tried, 1, why, sizeof(why)), "web2");
	defs_job_unref(j);
}

static void
test_no_candidate(void **state)
{
	struct env *e = *state;
	struct job_def *j = job("{\"policy\": {\"roles\": [\"cache\", "
	    "\"queue\"]}, \"schedule\": \"@hourly\", \"command\": [\"true\"]}");
	struct job_def *k = job("{\"policy\": {\"hosts\": \"all\", "
	    "\"nodes\": [\"off\"]}, \"schedule\": \"@hourly\", "
	    "\"command\": [\"true\"]}");
	struct policy_node *out[8];
	char why[256];

	assert_null(pick(e, j, NULL, 0, why, sizeof(why)));
	assert_string_equal(why, "no enabled node matches the job's policy "
	    "(roles: cache queue)");
	assert_int_equal(policy_pick_all(e->p, k, out, why, sizeof(why)), 0);
	assert_string_equal(why, "no enabled node matches the job's policy "
	    "(nodes: off)");
	defs_job_unref(j);
	defs_job_unref(k);
}

static void
test_all_includes_down(void **state)
{
	struct env *e = *state;
	struct job_def *j = job("{\"policy\": {\"hosts\": \"all\", "
	    "\"roles\": [\"web\", \"db\"]}, \"schedule\": \"@hourly\", "
	    "\"command\": [\"true\"]}");
	struct policy_node *out[8];
	char why[256];

	policy_node_failed(e->p, policy_node(e->p, "db1"), "gone");
	assert_int_equal(policy_pick_all(e->p, j, out, why, sizeof(why)), 4);
	assert_string_equal(out[0]->def->name, "db1");
	assert_true(out[0]->down);
	policy_down_reason(out[0], why, sizeof(why));
	assert_int_equal(strncmp(why, "node db1 is down since ", 23), 0);
	assert_non_null(strstr(why, ": gone"));
	defs_job_unref(j);
}

static void
test_reload_carries_status(void **state)
{
	struct env *e = *state;
	struct defs_set *next = five_nodes();
	struct policy_node *w1 = policy_node(e->p, "web1");

	w1->running = 2;
	policy_node_failed(e->p, w1, "broken pipe");
	/* Drop web2 from the new set. */
	defs_node_free(next->nodes[3]);
	memmove(&next->nodes[3], &next->nodes[4], sizeof(next->nodes[0]));
	next->nnodes = 4;
	assert_int_equal(policy_set_nodes(e->p, next), 0);
	defs_set_free(e->set);
	e->set = next;
	assert_ptr_equal(policy_node(e->p, "web1"), w1);
	assert_ptr_equal(w1->def, next->nodes[2]);
	assert_int_equal(w1->running, 2);
	assert_true(w1->down);
	assert_null(policy_node(e->p, "web2"));
	assert_int_equal(policy_count(e->p), 4);
	assert_string_equal(policy_at(e->p, 3)->def->name, "web3");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_any_rotates_ties, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_any_least_busy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_any_skips_tried_and_down,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_candidate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_all_includes_down, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_carries_status,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
