/*
 * spawn.c - spawn throughput of the local executor: runs COUNT /bin/true
 * through exec_local_ops with at most PARALLEL at a time, on one event loop,
 * and prints runs per second.  usage: spawn COUNT PARALLEL
 */
#include <stdio.h>
#include <stdlib.h>

#include "distcron/exec_local.h"
#include "distcron/loop.h"

static struct loop *loop;
static long todo, running, done_n, parallel;
static struct exec_spec spec;

static void start_more(void);

static void
on_done(struct exec_result *res, void *arg)
{
	if (res->outcome != EXEC_EXITED || res->exit_code != 0)
		fprintf(stderr, "run failed: %s\n", res->error);
	exec_result_free(res);
	running--;
	done_n++;
	start_more();
	if (running == 0 && todo == 0)
		loop_stop(loop);
}

static void
start_more(void)
{
	struct exec_proc *p;

	while (todo > 0 && running < parallel) {
		todo--;
		running++;
		if (exec_local_ops.start(loop, &spec, on_done, NULL, &p) != 0) {
			fprintf(stderr, "start failed\n");
			exit(1);
		}
	}
}

int
main(int argc, char **argv)
{
	static char *args[] = { "/bin/true", NULL };
	int64_t t0, t1;
	long count;

	if (argc != 3)
		return 2;
	count = todo = strtol(argv[1], NULL, 10);
	parallel = strtol(argv[2], NULL, 10);
	spec.argv = args;
	spec.output_limit = 1024 * 1024;
	if (loop_new(&loop) != 0)
		return 1;
	t0 = loop_mono_ms();
	start_more();
	loop_run(loop);
	t1 = loop_mono_ms();
	printf("%ld runs in %.3f s: %.0f runs/s\n", done_n, (t1 - t0) / 1e3,
	    done_n * 1e3 / (double)(t1 - t0 ? t1 - t0 : 1));
	loop_free(loop);
	return done_n == count ? 0 : 1;
}
