/*
 * sshrun.c - drives the SSH executor (exec_ssh) directly for the remote
 * benchmarks, on one event loop like the daemon.
 *
 *   sshrun seq NODES_DIR NODE COUNT PARALLEL
 *       COUNT runs of "true" on NODE, PARALLEL at a time, through one pool;
 *       prints runs/s, the connections the pool opened, and how many runs
 *       were guarded and sent the plain line (POSIX login shell).
 *   sshrun fanout NODES_DIR ROUNDS
 *       ROUNDS rounds; each starts one "true" on every node of NODES_DIR at
 *       once and waits for all (like one "hosts": "all" run).  Round 1 is
 *       cold (no connection yet); later rounds reuse the pooled connections.
 *       Prints each round's wall time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/defs.h"
#include "distcron/exec_ssh.h"
#include "distcron/loop.h"

static struct loop *loop;
static struct exec_ssh *pool;
static struct exec_spec spec;
static const struct node_def *target;
static long todo, running, done_n, failed, parallel;

static void start_more(void);

static void
on_done(struct exec_result *res, void *arg)
{
	(void)arg;
	if (!res->ok) {
		if (failed++ < 5)
			fprintf(stderr, "run failed: %s %s\n",
			    exec_outcome_str(res->outcome), res->error);
	}
	exec_result_free(res);
	running--;
	done_n++;
	start_more();
	if (running == 0 && todo == 0)
		loop_stop(loop);
}

static void
start_one(const struct node_def *node)
{
	struct exec_proc *p;

	spec.target = node;
	spec.node = node->name;
	running++;
	if (exec_ssh_ops.start(loop, &spec, on_done, NULL, &p) != 0) {
		fprintf(stderr, "start failed\n");
		exit(1);
	}
}

static void
start_more(void)
{
	while (target != NULL && todo > 0 && running < parallel) {
		todo--;
		start_one(target);
	}
}

static struct defs_set *
load_nodes(const char *dir)
{
	struct defs_set *set = NULL;

	if (defs_load(dir, dir, NULL, &set, NULL, NULL) != 0 ||
	    set->nnodes == 0) {
		fprintf(stderr, "no nodes in %s\n", dir);
		exit(1);
	}
	return set;
}

static int
run_seq(struct defs_set *set, const char *name, long count)
{
	struct exec_ssh_stats st;
	int64_t t0, t1;

	if ((target = defs_find_node(set, name)) == NULL) {
		fprintf(stderr, "no node %s\n", name);
		return 1;
	}
	todo = count;
	t0 = loop_mono_ms();
	start_more();
	loop_run(loop);
	t1 = loop_mono_ms();
	exec_ssh_stats(pool, &st);
	printf("%ld runs in %.3f s: %.0f runs/s (%llu connection(s), "
	    "%llu guarded, %llu plain, %ld failed)\n", done_n,
	    (t1 - t0) / 1e3, done_n * 1e3 / (double)(t1 - t0 ? t1 - t0 : 1),
	    (unsigned long long)st.connects, (unsigned long long)st.guarded,
	    (unsigned long long)st.plain, failed);
	return failed ? 1 : 0;
}

static int
run_fanout(struct defs_set *set, int rounds)
{
	int64_t t0, t1;
	size_t i;
	int r;

	for (r = 1; r <= rounds; r++) {
		t0 = loop_mono_ms();
		for (i = 0; i < set->nnodes; i++)
			start_one(set->nodes[i]);
		loop_run(loop);
		t1 = loop_mono_ms();
		printf("round %d (%s): %zu nodes in %.3f s (%ld failed)\n", r,
		    r == 1 ? "cold" : "warm", set->nnodes, (t1 - t0) / 1e3,
		    failed);
	}
	return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static char *args[] = { "true", NULL };
	struct exec_ssh_config cfg = { .idle_timeout_ms = 600000,
	    .keepalive_ms = 0 };
	struct defs_set *set;
	int rc;

	if (argc < 4 || (strcmp(argv[1], "seq") == 0 && argc != 6)) {
		fprintf(stderr, "usage: sshrun seq NODES_DIR NODE COUNT PARALLEL"
		    "\n       sshrun fanout NODES_DIR ROUNDS\n");
		return 2;
	}
	spec.argv = args;
	spec.output_limit = 65536;
	spec.kill_grace_ms = 1000;
	if (loop_new(&loop) != 0 || exec_ssh_new(loop, &cfg, &pool) != 0)
		return 1;
	spec.ctx = pool;
	set = load_nodes(argv[2]);
	if (strcmp(argv[1], "seq") == 0) {
		parallel = strtol(argv[5], NULL, 10);
		rc = run_seq(set, argv[3], strtol(argv[4], NULL, 10));
	} else
		rc = run_fanout(set, (int)strtol(argv[3], NULL, 10));
	exec_ssh_free(pool);
	defs_set_free(set);
	loop_free(loop);
	return rc;
}
