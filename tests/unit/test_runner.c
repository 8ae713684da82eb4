/*
 * test_runner.c - the runner with a real loop, executor and store: retries,
 * "all" fan-out, no matching node, max_runs, start_at and expires_at,
 * concurrency replace and forbid, per-node and global limits, nodes the
 * version cannot run on yet, and steps of the wall clock.  Jobs fire every
 * second, so each case runs the loop for a few seconds.
 *
 * The wall clock as the runner sees it can be stepped without touching the
 * system's: loop_real_ms() and the scheduler's timerfd_settime() are wrapped
 * at link time (-Wl,--wrap), the first adding clock_offset_ms and the second
 * taking it off again, so timers still fire at the stepped clock's times.
 * What the wrap cannot show is the kernel's own notice of a step
 * (TFD_TIMER_CANCEL_ON_SET): here the step is seen at the next wake-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/loop.h"
#include "distcron/runner.h"
#include "distcron/store.h"

static _Atomic int64_t clock_offset_ms;

int64_t __real_loop_real_ms(void);
int64_t __wrap_loop_real_ms(void);
int __real_timerfd_settime(int, int, const struct itimerspec *,
    struct itimerspec *);
int __wrap_timerfd_settime(int, int, const struct itimerspec *,
    struct itimerspec *);

int64_t
__wrap_loop_real_ms(void)
{
	return __real_loop_real_ms() + atomic_load(&clock_offset_ms);
}

int
__wrap_timerfd_settime(int fd, int flags, const struct itimerspec *value,
    struct itimerspec *old)
{
	struct itimerspec its = *value;
	int64_t ns = (int64_t)its.it_value.tv_sec * 1000000000 +
	    its.it_value.tv_nsec;

	if ((flags & TFD_TIMER_ABSTIME) && ns != 0) {
		ns -= atomic_load(&clock_offset_ms) * 1000000;
		if (ns <= 0)
			ns = 1;
		its.it_value.tv_sec = ns / 1000000000;
		its.it_value.tv_nsec = ns % 1000000000;
	}
	return __real_timerfd_settime(fd, flags, &its, old);
}

struct env {
	char dir[64], jobs[96], nodes[96], db[96];
	struct config cfg;
	struct loop *loop;
	struct store *st;
	struct runner *r;
	void (*prep)(struct env *e);	/* after runner_new, before the jobs */
	void *ctx;			/* prep's */
};

static void
put(const char *dir, const char *name, const char *json)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(json, fp);
	fclose(fp);
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const char *why;

	atomic_store(&clock_offset_ms, 0);

	snprintf(e->dir, sizeof(e->dir), "/tmp/distcron-runner.XXXXXX");
	if (e == NULL || mkdtemp(e->dir) == NULL)
		return -1;
	snprintf(e->jobs, sizeof(e->jobs), "%s/jobs", e->dir);
	snprintf(e->nodes, sizeof(e->nodes), "%s/nodes", e->dir);
	snprintf(e->db, sizeof(e->db), "%s/distcron.db", e->dir);
	mkdir(e->jobs, 0700);
	mkdir(e->nodes, 0700);
	e->cfg.max_concurrent_runs = 64;
	e->cfg.allow_root_jobs = true;	/* the suite may run as root */
	if (loop_new(&e->loop) != 0 ||
	    store_open(e->db, false, &e->st, &why) != 0)
		return -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	runner_free(e->r);
	store_close(e->st);
	loop_free(e->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	if (system(cmd) != 0)
		return -1;
	free(e);
	return 0;
}

static void
stop(void *arg)
{
	loop_stop(arg);
}

/* Loads the directories, runs the loop for ms, then shuts down cleanly. */
static void
run_for(struct env *e, int64_t ms)
{
	struct defs_set *set;

	assert_int_equal(runner_new(&e->cfg, e->loop, e->st, &e->r), 0);
	if (e->prep != NULL)
		e->prep(e);
	assert_int_equal(defs_load(e->jobs, e->nodes, NULL, &set, NULL, NULL),
	    0);
	runner_apply(e->r, set, 1, NULL);
	loop_timer_add(e->loop, loop_mono_ms() + ms, stop, e->loop, NULL);
	loop_run(e->loop);
	runner_shutdown(e->r, 2000, stop, e->loop);
	loop_run(e->loop);
}

static struct store_run **
runs_of(struct env *e, const char *job, size_t *n)
{
	struct store_query q = { .job = job, .status = -1, .limit = 1000,
	    .with_output = true };
	struct store_run **runs;

	assert_int_equal(store_runs_query(e->st, &q, &runs, n), 0);
	return runs;
}

static const char *local = "{\"roles\": [\"w\"], \"connection_type\": \"local\"}";
/* An SSH node nobody listens for (port 1). */
static const char *unreachable = "{\"roles\": [\"w\"], \"connection_type\": "
    "\"ssh\", \"connection_options\": {\"ssh_user\": \"u\", \"ssh_host\":"
    " \"127.0.0.1:1\", \"ssh_private_key_file\": \"/nonexistent\"}}";

static void
test_retries(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n, i;

	put(e->nodes, "n1", local);
	put(e->jobs, "flaky", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": \"echo try "
	    "$DISTCRON_ATTEMPT; exit 1\", \"retries\": 2, \"retry_backoff\": "
	    "\"100ms\", \"concurrency\": \"forbid\"}");
	run_for(e, 1800);
	runs = runs_of(e, "flaky", &n);
	assert_true(n >= 1);
	/* the oldest run had time for all three attempts */
	assert_int_equal(runs[n - 1]->status, RUN_FAILURE);
	assert_int_equal(runs[n - 1]->attempt, 3);
	assert_int_equal(runs[n - 1]->nitems, 3);
	for (i = 0; i < 3; i++) {
		char want[32];

		snprintf(want, sizeof(want), "try %zu\n", i + 1);
		assert_int_equal(runs[n - 1]->items[i].attempt, (int)i + 1);
		assert_int_equal(runs[n - 1]->items[i].exit_code, 1);
		assert_string_equal(runs[n - 1]->items[i].out, want);
	}
	assert_non_null(strstr(runs[n - 1]->reason, "exit code 1"));
	store_runs_free(runs, n);
}

static void
test_all_nodes(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n, i;

	put(e->nodes, "a", local);
	put(e->nodes, "b", local);
	put(e->nodes, "c", local);
	put(e->nodes, "other", "{\"roles\": [\"x\"], \"connection_type\": \"local\"}");
	put(e->jobs, "fan", "{\"policy\": {\"hosts\": \"all\", \"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": \"echo $DISTCRON_NODE\"}");
	run_for(e, 1500);
	runs = runs_of(e, "fan", &n);
	assert_true(n >= 1);
	assert_int_equal(runs[n - 1]->status, RUN_SUCCESS);
	assert_int_equal(runs[n - 1]->nitems, 3);
	for (i = 0; i < 3; i++) {
		char want[8];

		snprintf(want, sizeof(want), "%c\n", 'a' + (int)i);
		assert_int_equal(runs[n - 1]->items[i].status, RUN_SUCCESS);
		assert_string_equal(runs[n - 1]->items[i].out, want);
	}
	store_runs_free(runs, n);
}

static void
test_no_node(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n;

	put(e->nodes, "n1", local);
	put(e->nodes, "off", "{\"roles\": [\"z\"], \"connection_type\": "
	    "\"local\", \"enabled\": false}");
	put(e->jobs, "orphan", "{\"policy\": {\"roles\": [\"z\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	run_for(e, 1500);
	runs = runs_of(e, "orphan", &n);
	assert_true(n >= 1);
	assert_int_equal(runs[n - 1]->status, RUN_FAILURE);
	assert_string_equal(runs[n - 1]->reason,
	    "no enabled node matches the job's policy (roles: z)");
	store_runs_free(runs, n);
}

/* Without allow_root_jobs, a job on an SSH node whose ssh_user is root is
 * refused at once, and so is a local job while the process is root. */
static void
test_root_refused(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n;

	e->cfg.allow_root_jobs = false;
	put(e->nodes, "n1", local);
	put(e->nodes, "r", "{\"roles\": [\"r\"], \"connection_type\": "
	    "\"ssh\", \"connection_options\": {\"ssh_user\": \"root\", "
	    "\"ssh_host\": \"127.0.0.1:1\", \"ssh_private_key_file\": "
	    "\"/nonexistent\"}}");
	put(e->jobs, "asroot", "{\"policy\": {\"roles\": [\"r\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	put(e->jobs, "here", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	run_for(e, 1500);
	runs = runs_of(e, "asroot", &n);
	assert_true(n >= 1);
	assert_int_equal(runs[n - 1]->status, RUN_FAILURE);
	assert_string_equal(runs[n - 1]->items[0].error, "refused: the node's "
	    "ssh_user is root (set allow_root_jobs to run jobs as root)");
	store_runs_free(runs, n);
	runs = runs_of(e, "here", &n);
	assert_true(n >= 1);
	assert_int_equal(runs[n - 1]->status, geteuid() == 0 ? RUN_FAILURE :
	    RUN_SUCCESS);
	if (geteuid() == 0)
		assert_non_null(strstr(runs[n - 1]->items[0].error,
		    "refused: a local job would run as root"));
	store_runs_free(runs, n);
}

static void
test_max_runs(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n;

	put(e->nodes, "n1", local);
	put(e->jobs, "twice", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"],"
	    "\"max_runs\": 2}");
	run_for(e, 3800);
	runs = runs_of(e, "twice", &n);
	assert_int_equal(n, 2);
	store_runs_free(runs, n);
}

/* UTC ISO 8601 for t. */
static void
iso_utc(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A job with start_at runs from that second on and never before; a job with
 * expires_at stops there, though the loop goes on. */
static void
test_start_and_expiry(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	int64_t now = (int64_t)time(NULL), start = now + 2, end = now + 3;
	char json[512], at[32];
	size_t n, i;

	put(e->nodes, "n1", local);
	iso_utc(start, at, sizeof(at));
	snprintf(json, sizeof(json), "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"],"
	    "\"start_at\": \"%s\"}", at);
	put(e->jobs, "later", json);
	iso_utc(end, at, sizeof(at));
	snprintf(json, sizeof(json), "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"],"
	    "\"expires_at\": \"%s\"}", at);
	put(e->jobs, "ending", json);
	run_for(e, 4800);

	runs = runs_of(e, "later", &n);
	assert_true(n >= 2);		/* start and start + 1 at least */
	for (i = 0; i < n; i++)
		assert_true(runs[i]->scheduled_at >= start);
	assert_int_equal(runs[n - 1]->scheduled_at, start);
	store_runs_free(runs, n);

	runs = runs_of(e, "ending", &n);
	assert_true(n >= 1);
	for (i = 0; i < n; i++)
		assert_true(runs[i]->scheduled_at < end);
	assert_int_equal(runs[0]->scheduled_at, end - 1);
	store_runs_free(runs, n);
}

static void
step_clock(void *arg)
{
	atomic_store(&clock_offset_ms, *(const int64_t *)arg);
}

/* Runs ticking every second, with the clock stepped by step_ms after 1.5 s
 * of 4 s; returns the runs and their count in *n. */
static struct store_run **
run_stepped(struct env *e, const int64_t *step_ms, size_t *n)
{
	struct store_run **runs;
	size_t i, j;

	put(e->nodes, "n1", local);
	put(e->jobs, "tick", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	loop_timer_add(e->loop, loop_mono_ms() + 1500, step_clock,
	    (void *)step_ms, NULL);
	run_for(e, 4000);
	atomic_store(&clock_offset_ms, 0);
	runs = runs_of(e, "tick", n);
	for (i = 0; i < *n; i++)	/* one run per tick, whatever the clock */
		for (j = i + 1; j < *n; j++)
			assert_true(runs[i]->scheduled_at !=
			    runs[j]->scheduled_at);
	return runs;
}

/* Stepped back a minute: the jobs are planned again from the new time, so
 * they go on at once instead of waiting for the old time to come back. */
static void
test_clock_step_back(void **state)
{
	static const int64_t step = -60000;
	int64_t t0 = (int64_t)time(NULL);
	struct store_run **runs;
	size_t n, i, before = 0, after = 0;

	runs = run_stepped(*state, &step, &n);
	for (i = 0; i < n; i++) {
		if (runs[i]->scheduled_at > t0)
			before++;
		else if (runs[i]->scheduled_at < t0 - 50)
			after++;
	}
	assert_true(before >= 1);
	assert_true(after >= 1);
	assert_int_equal(before + after, n);
	store_runs_free(runs, n);
}

/* Stepped back a minute while a run's intent is written and it waits for
 * its second: it still goes at that moment (its monotonic wait), not a
 * minute later when the wall clock comes back to its second. */
static void
test_clock_step_back_pending(void **state)
{
	static const int64_t step = -60000;
	struct env *e = *state;
	int64_t now = loop_real_ms(), b = (now / 1000 + 1) * 1000;
	int64_t tick = b / 1000 + 2;	/* its intent is written at -250 ms */
	struct store_run **runs;
	size_t n, i, found = 0;

	put(e->nodes, "n1", local);
	put(e->jobs, "tick", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	loop_timer_add(e->loop, loop_mono_ms() + (b + 1850 - now), step_clock,
	    (void *)&step, NULL);
	run_for(e, b + 3000 - now);
	atomic_store(&clock_offset_ms, 0);
	runs = runs_of(e, "tick", &n);
	for (i = 0; i < n; i++)
		if (runs[i]->scheduled_at == tick) {
			found++;
			assert_int_equal(runs[i]->status, RUN_SUCCESS);
		}
	assert_int_equal(found, 1);
	store_runs_free(runs, n);
}

/* Stepped forward an hour: the tick overdue by an hour is a missed one
 * (skipped by default), no hour of ticks is caught up, and the job goes on
 * at the new time. */
static void
test_clock_step_forward(void **state)
{
	static const int64_t step = 3600000;
	int64_t t0 = (int64_t)time(NULL);
	struct store_run **runs;
	size_t n, i, before = 0, after = 0;

	runs = run_stepped(*state, &step, &n);
	for (i = 0; i < n; i++) {
		if (runs[i]->scheduled_at <= t0 + 4)
			before++;
		else if (runs[i]->scheduled_at > t0 + 3600)
			after++;
	}
	assert_true(before >= 1);
	assert_true(after >= 1);
	assert_int_equal(before + after, n);
	assert_true(n <= 6);
	store_runs_free(runs, n);
}

static void
test_replace(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n;

	put(e->nodes, "n1", local);
	put(e->jobs, "long", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/sleep\", \"30\"],"
	    "\"concurrency\": \"replace\", \"kill_grace\": \"1s\"}");
	run_for(e, 2800);
	runs = runs_of(e, "long", &n);
	assert_true(n >= 2);
	assert_int_equal(runs[n - 1]->status, RUN_FAILURE);
	assert_string_equal(runs[n - 1]->reason, "replaced by a newer run");
	assert_int_equal(runs[n - 1]->items[0].signal, 15);
	store_runs_free(runs, n);
}

static void
test_forbid(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n;

	put(e->nodes, "n1", local);
	put(e->jobs, "long", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/sleep\", \"30\"],"
	    "\"kill_grace\": \"1s\"}");
	run_for(e, 2800);
	runs = runs_of(e, "long", &n);
	assert_int_equal(n, 1);		/* later ticks were skipped */
	assert_int_equal(runs[0]->status, RUN_FAILURE);
	assert_string_equal(runs[0]->reason, "killed: daemon shutting down");
	store_runs_free(runs, n);
}

/* Three jobs on a node that takes one run at a time never overlap. */
/* How many of the n intervals [s, t) overlap at most, at any instant. */
static size_t
max_overlap(const int64_t *s, const int64_t *t, size_t n)
{
	size_t i, j, k, most = 0;

	for (i = 0; i < n; i++) {	/* the busiest instant is a start */
		for (j = k = 0; j < n; j++)
			if (s[j] <= s[i] && s[i] < t[j])
				k++;
		if (k > most)
			most = k;
	}
	return most;
}

/* Jobs j0..j(n-1), each sleeping 0.3 s, fire at the same tick on the node;
 * returns how many ran at once at most.  Every one must succeed. */
static size_t
fire_together(struct env *e, const char *node, size_t n)
{
	struct store_run **runs;
	int64_t s[8], t[8];
	char name[8];
	size_t i, nr;

	assert_true(n <= 8);
	put(e->nodes, "n1", node);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "j%zu", i);
		put(e->jobs, name, "{\"policy\": {\"roles\": [\"w\"]},"
		    "\"schedule\": \"*/10 * * * * *\", \"command\": "
		    "[\"/bin/sleep\", \"0.3\"]}");
	}
	/* start 1.2 s before a multiple of 10 s so all fire together */
	while ((loop_real_ms() + 1200) % 10000 > 500)
		usleep(50000);
	run_for(e, 2000 + 300 * (int64_t)n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "j%zu", i);
		runs = runs_of(e, name, &nr);
		assert_int_equal(nr, 1);
		assert_int_equal(runs[0]->status, RUN_SUCCESS);
		s[i] = runs[0]->items[0].started_ms;
		t[i] = runs[0]->items[0].ended_ms;
		store_runs_free(runs, nr);
	}
	return max_overlap(s, t, n);
}

static void
test_node_limit(void **state)
{
	assert_int_equal(fire_together(*state, "{\"roles\": [\"w\"], "
	    "\"connection_type\": \"local\", \"max_concurrent_runs\": 1}",
	    3), 1);
}

/* The daemon's max_concurrent_runs holds across nodes and jobs. */
static void
test_global_limit(void **state)
{
	struct env *e = *state;

	e->cfg.max_concurrent_runs = 2;
	assert_int_equal(fire_together(e, local, 5), 2);
}

/*
 * "any" with an unreachable SSH node and a local one: a run that picks the
 * SSH node fails over to the local node within the same run (a second
 * attempt, not a retry), the SSH node is marked down, and later runs go
 * straight to the local node.  A job that can only use the SSH node fails
 * with the reason.
 */
static void
test_failover(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n, i, failovers = 0, after = 0;
	int64_t failed_at = 0;

	put(e->nodes, "n1", local);
	put(e->nodes, "remote", unreachable);
	put(e->jobs, "spread", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	run_for(e, 3500);
	runs = runs_of(e, "spread", &n);
	assert_true(n >= 3);
	for (i = 0; i < n; i++) {
		if (runs[i]->status == RUN_LOST)	/* cut by the shutdown */
			continue;
		assert_int_equal(runs[i]->status, RUN_SUCCESS);
		if (runs[i]->nitems != 2)
			continue;
		failovers++;
		failed_at = runs[i]->scheduled_at;
		assert_string_equal(runs[i]->items[0].node, "remote");
		assert_int_equal(runs[i]->items[0].status, RUN_FAILURE);
		assert_non_null(strstr(runs[i]->items[0].error,
		    "cannot connect to 127.0.0.1:1"));
		assert_string_equal(runs[i]->items[1].node, "n1");
		assert_int_equal(runs[i]->items[1].attempt, 2);
		assert_int_equal(runs[i]->items[1].status, RUN_SUCCESS);
	}
	for (i = 0; i < n; i++)
		if (runs[i]->status == RUN_SUCCESS &&
		    runs[i]->scheduled_at > failed_at) {
			after++;
			assert_int_equal(runs[i]->nitems, 1);
			assert_string_equal(runs[i]->items[0].node, "n1");
		}
	/* ties rotate, so the second run tries remote; once it is down it
	 * is not tried again */
	assert_int_equal(failovers, 1);
	assert_true(after >= 1);
	store_runs_free(runs, n);
}

/* A run and its items start and end at their scheduled second or later. */
static void
not_before_tick(const struct store_run *run)
{
	int64_t due = run->scheduled_at * 1000;
	size_t i;

	if (run->started_ms != 0 && run->started_ms < due)
		fail_msg("run %lld started %lld ms before its tick",
		    (long long)run->id, (long long)(due - run->started_ms));
	if (run->ended_ms < due)
		fail_msg("run %lld (%s) ended %lld ms before its tick",
		    (long long)run->id, run->reason ? run->reason : "",
		    (long long)(due - run->ended_ms));
	for (i = 0; i < run->nitems; i++)
		if (run->items[i].ended_ms != 0 && run->items[i].ended_ms < due)
			fail_msg("run %lld: node %s ended %lld ms before the "
			    "tick", (long long)run->id, run->items[i].node,
			    (long long)(due - run->items[i].ended_ms));
}

static void
test_unreachable(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n, i;

	put(e->nodes, "remote", unreachable);
	put(e->jobs, "pinned", "{\"policy\": {\"nodes\": [\"remote\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	run_for(e, 2500);
	runs = runs_of(e, "pinned", &n);
	assert_true(n >= 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(runs[i]->status, RUN_FAILURE);
		assert_non_null(strstr(runs[i]->reason,
		    "cannot connect to 127.0.0.1:1"));
		not_before_tick(runs[i]);
	}
	store_runs_free(runs, n);
}

/* A node found down ends its runs at their second, never before it (the
 * intent is written ahead of the tick). */
static void
test_down_node_not_early(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	const char *job[] = { "any", "all" };
	char json[256];
	size_t n, i, j;

	put(e->nodes, "remote", unreachable);
	for (j = 0; j < 2; j++) {
		snprintf(json, sizeof(json), "{\"policy\": {\"hosts\": \"%s\","
		    " \"nodes\": [\"remote\"]}, \"schedule\": \"* * * * * *\","
		    " \"command\": [\"/bin/true\"]}", job[j]);
		put(e->jobs, job[j], json);
	}
	run_for(e, 3500);
	for (j = 0; j < 2; j++) {
		runs = runs_of(e, job[j], &n);
		assert_true(n >= 3);
		for (i = 0; i < n; i++) {
			if (runs[i]->status == RUN_LOST)	/* the shutdown */
				continue;
			assert_int_equal(runs[i]->status, RUN_FAILURE);
			not_before_tick(runs[i]);
		}
		store_runs_free(runs, n);
	}
}

/* HTTP jobs need no node: the daemon sends the request (here to a port
 * nobody listens on, so the run fails with curl's reason). */
static void
test_http_job(void **state)
{
	struct env *e = *state;
	struct store_run **runs;
	size_t n, i;

	put(e->jobs, "hook", "{\"schedule\": \"* * * * * *\", \"http\": "
	    "{\"url\": \"http://127.0.0.1:1/ping\"}}");
	run_for(e, 1500);
	runs = runs_of(e, "hook", &n);
	for (i = 0; i < n && runs[i]->status == RUN_LOST; i++)
		;	/* the tick cut by the shutdown */
	assert_true(i < n);
	assert_int_equal(runs[i]->status, RUN_FAILURE);
	assert_int_equal(runs[i]->nitems, 1);
	assert_string_equal(runs[i]->items[0].node, "(daemon)");
	assert_non_null(strstr(runs[i]->items[0].error,
	    "GET http://127.0.0.1:1/ping: "));
	store_runs_free(runs, n);
}

/* ---- management calls (the API's backend) ---- */

struct manage {
	struct env *e;
	int64_t manual_id, task_id, long_id;
	int manual_rc, task_rc, long_rc, busy_rc, missing_rc;
};

static void
got_manual(void *arg, int64_t id, int rc)
{
	struct manage *m = arg;

	m->manual_id = id;
	m->manual_rc = rc;
}

static void
got_task(void *arg, int64_t id, int rc)
{
	struct manage *m = arg;

	m->task_id = id;
	m->task_rc = rc;
}

static void
got_long(void *arg, int64_t id, int rc)
{
	struct manage *m = arg;

	m->long_id = id;
	m->long_rc = rc;
}

static void
manage_start(void *arg)
{
	struct manage *m = arg;
	struct runner *r = m->e->r;
	struct job_def *task = NULL;
	const char *json = "{\"policy\": {\"roles\": [\"w\"]}, "
	    "\"schedule\": \"@yearly\", \"command\": [\"echo\", \"task\"]}";
	char err[256];

	assert_int_equal(runner_trigger(r, "yearly", got_manual, m), 0);
	assert_int_equal(runner_trigger(r, "long", got_long, m), 0);
	m->missing_rc = runner_trigger(r, "nope", got_manual, m);
	assert_int_equal(defs_job_parse("task-1", json, strlen(json), NULL,
	    &task, err, sizeof(err), NULL, NULL), 0);
	assert_int_equal(runner_task(r, task, got_task, m), 0);
	defs_job_unref(task);	/* the runner keeps its own reference */
}

static void
manage_cancel(void *arg)
{
	struct manage *m = arg;
	struct runner_job_info ji;

	assert_true(m->long_id > 0);
	assert_int_equal(runner_job_find(m->e->r, "long", &ji), 0);
	assert_int_equal(ji.running, 1);
	/* concurrency forbid: no second run while one is going */
	m->busy_rc = runner_trigger(m->e->r, "long", got_long, m);
	assert_int_equal(runner_cancel(m->e->r, m->long_id, "cancelled by "
	    "test"), 0);
	assert_int_equal(runner_cancel(m->e->r, 999999, "x"), ERR_NOTFOUND);
}

/*
 * A job run by hand gets its id once recorded; a task runs once under its
 * own name; a paused job (kept in the store) is not scheduled; a run in
 * flight is cancelled; forbid refuses a second manual run.
 */
static void
test_manage(void **state)
{
	struct env *e = *state;
	struct manage m = { .e = e };
	struct runner_job_info ji;
	struct store_run **runs;
	struct defs_set *set;
	size_t n;

	put(e->nodes, "n1", local);
	put(e->jobs, "yearly", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"@yearly\", \"command\": [\"echo\", \"hand\"]}");
	put(e->jobs, "long", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"@yearly\", \"command\": [\"sleep\", \"30\"]}");
	put(e->jobs, "ticking", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"true\"]}");
	assert_int_equal(store_job_pause_set(e->st, "ticking", true), 0);
	assert_int_equal(runner_new(&e->cfg, e->loop, e->st, &e->r), 0);
	assert_int_equal(defs_load(e->jobs, e->nodes, NULL, &set, NULL, NULL),
	    0);
	runner_apply(e->r, set, 1, NULL);
	assert_int_equal(runner_job_find(e->r, "ticking", &ji), 0);
	assert_true(ji.paused);
	assert_int_equal(runner_job_count(e->r), 3);
	loop_timer_add(e->loop, loop_mono_ms() + 50, manage_start, &m, NULL);
	loop_timer_add(e->loop, loop_mono_ms() + 700, manage_cancel, &m, NULL);
	loop_timer_add(e->loop, loop_mono_ms() + 2500, stop, e->loop, NULL);
	loop_run(e->loop);
	runner_shutdown(e->r, 2000, stop, e->loop);
	loop_run(e->loop);

	assert_int_equal(m.manual_rc, 0);
	assert_int_equal(m.missing_rc, ERR_NOTFOUND);
	assert_int_equal(m.busy_rc, ERR_EXISTS);
	runs = runs_of(e, "yearly", &n);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0]->id, m.manual_id);
	assert_string_equal(runs[0]->trigger, "manual");
	assert_int_equal(runs[0]->status, RUN_SUCCESS);
	assert_string_equal(runs[0]->items[0].out, "hand\n");
	store_runs_free(runs, n);
	runs = runs_of(e, "task-1", &n);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0]->id, m.task_id);
	assert_string_equal(runs[0]->trigger, "task");
	assert_string_equal(runs[0]->items[0].out, "task\n");
	store_runs_free(runs, n);
	runs = runs_of(e, "long", &n);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0]->status, RUN_FAILURE);
	assert_string_equal(runs[0]->reason, "cancelled by test");
	store_runs_free(runs, n);
	runs = runs_of(e, "ticking", &n);
	assert_int_equal(n, 0);		/* paused */
	store_runs_free(runs, n);
}

#define YEARLY	"{\"policy\": {\"roles\": [\"w\"]}, \"schedule\": \"@yearly\", " \
		"\"command\": [\"true\"]}"

/* The job's next run, or 0 if it is not in the runner. */
static int64_t
next_run(struct env *e, const char *job)
{
	struct runner_job_info ji;

	return runner_job_find(e->r, job, &ji) == 0 ? ji.next_run : 0;
}

/*
 * A delta (defs_reload() of named files) applied by its names: a changed
 * job is planned again, a new one scheduled, a removed one dropped, a
 * broken one kept; the others keep their definitions.
 */
static void
test_apply_delta(void **state)
{
	struct env *e = *state;
	struct defs_changes ch = { 0 };
	struct runner_applied a;
	struct defs_set *set;
	const char *names[] = { "a", "b", "c", "d" };
	struct job_def *keep;
	char path[300];
	size_t i;

	put(e->nodes, "n1", local);
	for (i = 0; i < 3; i++)
		put(e->jobs, names[i], YEARLY);
	put(e->jobs, "x", YEARLY);
	assert_int_equal(runner_new(&e->cfg, e->loop, e->st, &e->r), 0);
	assert_int_equal(defs_load(e->jobs, e->nodes, NULL, &set, NULL, NULL),
	    0);
	runner_apply(e->r, set, 1, NULL);
	keep = defs_find_job(set, "x");
	assert_true(next_run(e, "b") > time(NULL) + 3600);

	put(e->jobs, "a", "{\"policy\": ");			/* broken */
	put(e->jobs, "b", "{\"policy\": {\"roles\": [\"w\"]}, "	/* changed */
	    "\"schedule\": \"@hourly\", \"command\": [\"true\"]}");
	snprintf(path, sizeof(path), "%s/c.json", e->jobs);	/* removed */
	assert_int_equal(unlink(path), 0);
	put(e->jobs, "d", YEARLY);				/* new */
	for (i = 0; i < 4; i++)
		defs_changes_add_name(&ch, true, names[i]);
	assert_int_equal(defs_reload(e->jobs, e->nodes, NULL, runner_defs(e->r),
	    &ch, &set, NULL, NULL), 0);
	assert_int_equal(runner_apply(e->r, set, 0, &a), 0);
	assert_ptr_equal(runner_defs(e->r), set);
	assert_int_equal(a.jobs, 4);		/* a (kept), b, d, x */
	assert_int_equal(a.kept_jobs, 1);
	assert_string_equal(a.kept_job_files, "a.json");
	assert_int_equal(runner_job_count(e->r), 4);
	assert_true(next_run(e, "a") > 0);
	assert_true(next_run(e, "b") <= time(NULL) + 3600);
	assert_int_equal(next_run(e, "c"), 0);
	assert_true(next_run(e, "d") > 0);
	assert_ptr_equal(defs_find_job(set, "x"), keep);  /* shared */
	defs_changes_clear(&ch);
	runner_shutdown(e->r, 2000, stop, e->loop);
	loop_run(e->loop);
}

/* A claim (runhooks.h) that loses the first tick it is asked for and
 * hands the others to the claim it wraps (the runner's local one). */
struct lose_claim {
	const struct run_claim_ops *next;
	void *next_arg;
	int64_t lost;		/* the tick it lost */
};

static int
lose_claim(void *arg, struct store_run **recs, size_t n,
    run_claim_done_fn done, void *done_arg)
{
	struct lose_claim *lc = arg;
	size_t i;

	if (lc->lost == 0)
		lc->lost = recs[0]->scheduled_at;
	for (i = 0; i < n; i++)
		if (recs[i]->scheduled_at == lc->lost) {
			done(recs, n, 0, done_arg);	/* ids stay 0: lost */
			return 0;
		}
	return lc->next->claim(lc->next_arg, recs, n, done, done_arg);
}

static const struct run_claim_ops lose_ops = {
	.name = "lose-first", .claim = lose_claim,
};

static void
prep_lose(struct env *e)
{
	struct lose_claim *lc = e->ctx;

	runner_claim(e->r, &lc->next, &lc->next_arg);
	assert_string_equal(lc->next->name, "local");
	assert_int_equal(runner_set_claim(e->r, &lose_ops, lc), 0);
}

/* Lines in a file (0 if there is none). */
static size_t
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int c;

	while (fp != NULL && (c = fgetc(fp)) != EOF)
		n += c == '\n';
	if (fp != NULL)
		fclose(fp);
	return n;
}

/*
 * A run whose claim is lost is not launched: no item of it starts, no
 * record of it is saved; the job's next tick runs.
 */
static void
test_claim_lost(void **state)
{
	struct env *e = *state;
	struct lose_claim lc = { 0 };
	struct runner_stats st;
	struct store_run **runs;
	char job[512], started[128];
	size_t n, i, launched = 0, next_ok = 0;

	snprintf(started, sizeof(started), "%s/started", e->dir);
	snprintf(job, sizeof(job), "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": \"echo "
	    "$DISTCRON_RUN_ID >> %s\"}", started);
	put(e->nodes, "n1", local);
	put(e->jobs, "tick", job);
	e->prep = prep_lose;
	e->ctx = &lc;
	run_for(e, 2800);
	assert_true(lc.lost > 0);
	runner_stats(e->r, &st);
	runs = runs_of(e, "tick", &n);
	for (i = 0; i < n; i++) {
		assert_true(runs[i]->scheduled_at != lc.lost);
		launched += runs[i]->started_ms > 0;
		next_ok += runs[i]->scheduled_at == lc.lost + 1 &&
		    runs[i]->status == RUN_SUCCESS;
	}
	assert_int_equal(next_ok, 1);
	assert_int_equal(st.started, launched);
	assert_int_equal(count_lines(started), launched);
	store_runs_free(runs, n);
	assert_int_equal(runner_set_claim(e->r, &lose_ops, &lc), ERR_BUSY);
}

/* A claim that stamps each intent with a fence (as cluster mode's does
 * with its claim's revision: here 10 x the tick) before the local claim
 * records it. */
struct fence_claim {
	const struct run_claim_ops *next;
	void *next_arg;
};

static int
fence_claim(void *arg, struct store_run **recs, size_t n,
    run_claim_done_fn done, void *done_arg)
{
	struct fence_claim *fc = arg;
	size_t i;

	for (i = 0; i < n; i++)
		recs[i]->fence = recs[i]->scheduled_at * 10;
	return fc->next->claim(fc->next_arg, recs, n, done, done_arg);
}

static const struct run_claim_ops fence_ops = {
	.name = "fence", .claim = fence_claim,
};

static void
prep_member(struct env *e)
{
	struct fence_claim *fc = e->ctx;

	assert_int_equal(runner_set_member(e->r, "host-a:7"), 0);
	runner_claim(e->r, &fc->next, &fc->next_arg);
	assert_int_equal(runner_set_claim(e->r, &fence_ops, fc), 0);
}

/* A job printing the cluster variables ("unset" for each absent). */
static const char *member_job = "{\"policy\": {\"roles\": [\"w\"]}, "
    "\"schedule\": \"* * * * * *\", \"command\": \"echo "
    "${DISTCRON_MEMBER-unset} ${DISTCRON_FENCE-unset}\"}";

/* Every run of job has member (NULL: none) and fence (10 x its tick when
 * fenced, else 0), and each that succeeded printed them. */
static void
expect_member_runs(struct env *e, const char *job, const char *member,
    bool fenced)
{
	struct store_run **runs;
	char want[64], fence[32];
	size_t n, i, ok = 0;

	runs = runs_of(e, job, &n);
	for (i = 0; i < n; i++) {
		if (member == NULL)
			assert_null(runs[i]->member);
		else
			assert_string_equal(runs[i]->member, member);
		assert_int_equal(runs[i]->fence, fenced ?
		    runs[i]->scheduled_at * 10 : 0);
		if (runs[i]->status != RUN_SUCCESS)	/* cut at the stop */
			continue;
		snprintf(fence, sizeof(fence), "%lld",
		    (long long)runs[i]->fence);
		snprintf(want, sizeof(want), "%s %s\n", member ? member :
		    "unset", fenced ? fence : "unset");
		assert_string_equal(runs[i]->items[0].out, want);
		ok++;
	}
	assert_true(ok >= 1);
	store_runs_free(runs, n);
}

/*
 * Cluster mode: each run carries the daemon's member and its claim's
 * fence, stored with it and given to its processes as DISTCRON_MEMBER and
 * DISTCRON_FENCE.
 */
static void
test_member_fence_env(void **state)
{
	struct env *e = *state;
	struct fence_claim fc = { 0 };

	put(e->nodes, "n1", local);
	put(e->jobs, "tick", member_job);
	e->prep = prep_member;
	e->ctx = &fc;
	run_for(e, 1800);
	expect_member_runs(e, "tick", "host-a:7", true);
	assert_int_equal(runner_set_member(e->r, "late"), ERR_BUSY);
}

/* In cluster mode (cluster.etcd set) the runner takes its member from the
 * config: no fence without a claim that sets one. */
static void
test_member_from_config(void **state)
{
	struct env *e = *state;

	e->cfg.cluster.etcd = "http://127.0.0.1:1";
	e->cfg.cluster.member = "cfg-member:1";
	put(e->nodes, "n1", local);
	put(e->jobs, "tick", member_job);
	run_for(e, 1800);
	expect_member_runs(e, "tick", "cfg-member:1", false);
}

/* Outside cluster mode a run has no member and no fence, and its
 * processes see neither variable. */
static void
test_no_member_env(void **state)
{
	struct env *e = *state;

	put(e->nodes, "n1", local);
	put(e->jobs, "plain", member_job);
	run_for(e, 1800);
	expect_member_runs(e, "plain", NULL, false);
}

/* A finish hook that notes every final run it is told of. */
struct seen {
	int64_t id[64];
	enum run_status status[64];
	size_t n;
	const struct seen *before;	/* a hook told first, or NULL */
};

static void
hook_seen(void *arg, const struct store_run *rec, const struct job_def *def)
{
	struct seen *s = arg;

	assert_string_equal(def->name, rec->job);
	assert_true(rec->id > 0);
	if (s->before != NULL)		/* told after it, of the same run */
		assert_int_equal(s->before->id[s->n % 64], rec->id);
	s->id[s->n % 64] = rec->id;
	s->status[s->n % 64] = rec->status;
	s->n++;
}

static void
prep_hooks(struct env *e)
{
	struct seen *s = e->ctx;
	struct run_finish_hook one = { "one", hook_seen, &s[0] };
	struct run_finish_hook two = { "two", hook_seen, &s[1] };

	s[1].before = &s[0];
	/* "store" is hook #1 (position 0): these come after it */
	assert_int_equal(runner_add_finish_hook(e->r, &one), 1);
	assert_int_equal(runner_add_finish_hook(e->r, &two), 2);
}

/* Finds id among the runs of job; returns its status, or -1. */
static int
stored_status(struct env *e, const char *job, int64_t id)
{
	struct store_run **runs;
	size_t n, i;
	int st = -1;

	runs = runs_of(e, job, &n);
	for (i = 0; i < n; i++)
		if (runs[i]->id == id)
			st = (int)runs[i]->status;
	store_runs_free(runs, n);
	return st;
}

/*
 * Finish hooks added at start are told of every final run once, in their
 * order, with the record the store saved (its id and final status).
 */
static void
test_finish_hooks(void **state)
{
	struct env *e = *state;
	struct seen s[2];
	struct run_finish_hook late = { "late", hook_seen, &s[0] };
	struct store_run **runs;
	size_t n, m, i, j;

	memset(s, 0, sizeof(s));
	put(e->nodes, "n1", local);
	put(e->jobs, "ok", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"true\"]}");
	put(e->jobs, "bad", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"false\"]}");
	e->prep = prep_hooks;
	e->ctx = s;
	run_for(e, 2200);
	runs = runs_of(e, "ok", &n);
	store_runs_free(runs, n);
	runs = runs_of(e, "bad", &m);
	store_runs_free(runs, m);
	assert_true(n >= 1 && m >= 1 && n + m < 64);
	assert_int_equal(s[0].n, n + m);
	assert_int_equal(s[1].n, n + m);
	for (i = 0; i < s[0].n; i++) {
		for (j = 0; j < i; j++)
			assert_true(s[0].id[j] != s[0].id[i]);
		assert_int_equal(s[0].status[i], stored_status(e,
		    stored_status(e, "ok", s[0].id[i]) >= 0 ? "ok" : "bad",
		    s[0].id[i]));
	}
	assert_int_equal(runner_add_finish_hook(e->r, &late), ERR_BUSY);
}

/* The plan step under test: one row per final run, its event naming the
 * job's previous final status, so the stored rows show what prev was. */
struct plan_ctx {
	int calls;
	bool hook;		/* a finish hook after "store" */
	struct seen seen;
};

static void
plan_rows(void *arg, struct store_run *rec, const struct job_def *def,
    enum run_status prev)
{
	struct plan_ctx *p = arg;

	assert_string_equal(def->name, rec->job);
	if (rec->status == RUN_STARTED)
		return;		/* asked at launch too: no rows then */
	assert_true(store_status_final(rec->status));
	p->calls++;
	rec->outrows = calloc(1, sizeof(*rec->outrows));
	assert_non_null(rec->outrows);
	rec->outrows[0].sink = strdup("test");
	rec->outrows[0].event = strdup(store_status_str(prev));
	rec->noutrows = 1;
}

static void
prep_plan(struct env *e)
{
	struct plan_ctx *p = e->ctx;
	struct run_finish_hook one = { "one", hook_seen, &p->seen };

	assert_int_equal(runner_set_plan(e->r, plan_rows, p), 0);
	if (p->hook)
		assert_int_equal(runner_add_finish_hook(e->r, &one), 1);
}

/* Every final run of "bad" is saved with the row its plan attached: the
 * first names no previous status (PENDING), the later ones FAILURE. */
static void
plan_check(struct env *e, bool hook)
{
	struct plan_ctx p = { .hook = hook };
	struct store_outbox_entry *ent;
	struct store_run **runs;
	size_t n, nent, i;

	e->prep = prep_plan;
	e->ctx = &p;
	put(e->nodes, "n1", local);
	put(e->jobs, "bad", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"false\"]}");
	run_for(e, 2200);
	runs = runs_of(e, "bad", &n);
	store_runs_free(runs, n);
	assert_true(n >= 2);
	assert_int_equal(p.calls, n);
	assert_int_equal(store_outbox_due(e->st, "test", INT64_MAX / 2, 100,
	    &ent, &nent), 0);
	assert_int_equal(nent, n);
	for (i = 0; i < nent; i++) {
		assert_string_equal(ent[i].job, "bad");
		assert_string_equal(ent[i].event, i == 0 ? "PENDING" :
		    "FAILURE");
	}
	free(ent);
	assert_int_equal(p.seen.n, hook ? n : 0);
	assert_int_equal(runner_set_plan(e->r, plan_rows, &p), ERR_BUSY);
}

static void
test_plan_rows_saved(void **state)
{
	plan_check(*state, false);	/* "store" takes the record itself */
}

static void
test_plan_rows_saved_with_hooks(void **state)
{
	plan_check(*state, true);	/* "store" saves a copy of it */
}

/* What the plan step was told of ticks that did not start. */
struct notices {
	int missed;		/* ticks */
	bool slot_full;		/* job "wait": a free slot awaited */
};

/* The plan step for notices: a row "start" for a run that launched, a
 * row "missed" for a tick that did not start. */
static void
plan_notices(void *arg, struct store_run *rec, const struct job_def *def,
    enum run_status prev)
{
	struct notices *nc = arg;

	(void)def;
	(void)prev;
	if (rec->status != RUN_STARTED && rec->missed == 0)
		return;
	assert_int_equal(rec->id == 0, rec->missed > 0);
	nc->missed += (int)rec->missed;
	if (rec->missed > 0 && strcmp(rec->job, "wait") == 0 &&
	    strstr(rec->reason, "max_concurrent_runs") != NULL)
		nc->slot_full = true;
	rec->outrows = calloc(1, sizeof(*rec->outrows));
	assert_non_null(rec->outrows);
	rec->outrows[0].sink = strdup("test");
	rec->outrows[0].event = strdup(rec->missed > 0 ? "missed" : "start");
	rec->noutrows = 1;
}

static void
prep_notices(struct env *e)
{
	assert_int_equal(runner_set_plan(e->r, plan_notices, e->ctx), 0);
}

/* A forbid job whose run outlasts its ticks: the run's start is saved
 * with its STARTED state, each tick skipped is one "missed" entry
 * without a run, of the job and its tick. */
static void
test_plan_start_missed(void **state)
{
	struct env *e = *state;
	struct store_outbox_entry *ent;
	size_t n, nent, i, nstart = 0, nmissed = 0;
	struct store_run **runs;
	struct notices nc = { 0 };

	e->prep = prep_notices;
	e->ctx = &nc;
	put(e->nodes, "n1", local);
	put(e->jobs, "long", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"concurrency\": \"forbid\","
	    "\"command\": [\"/bin/sleep\", \"30\"], \"kill_grace\": \"1s\"}");
	run_for(e, 2800);
	runs = runs_of(e, "long", &n);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_due(e->st, "test", INT64_MAX / 2, 100,
	    &ent, &nent), 0);
	for (i = 0; i < nent; i++) {
		assert_string_equal(ent[i].job, "long");
		if (strcmp(ent[i].event, "start") == 0) {
			nstart++;
			assert_int_equal(ent[i].run_id, runs[0]->id);
		} else {
			nmissed++;
			assert_string_equal(ent[i].event, "missed");
			assert_int_equal(ent[i].run_id, 0);
			assert_true(ent[i].scheduled_at > runs[0]->scheduled_at);
		}
	}
	assert_int_equal(nstart, 1);
	assert_true(nmissed >= 1);
	assert_int_equal(nmissed, nc.missed);
	assert_false(nc.slot_full);
	free(ent);
	store_runs_free(runs, n);
}

/* max_concurrent_runs 1 taken by a long run: a forbid job whose run waits
 * for the slot misses its next tick, saying so. */
static void
test_missed_slot_full(void **state)
{
	struct env *e = *state;
	struct notices nc = { 0 };

	e->prep = prep_notices;
	e->ctx = &nc;
	e->cfg.max_concurrent_runs = 1;
	put(e->nodes, "n1", local);
	put(e->jobs, "hog", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"concurrency\": \"forbid\","
	    "\"command\": [\"/bin/sleep\", \"30\"], \"kill_grace\": \"1s\"}");
	put(e->jobs, "wait", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"concurrency\": \"forbid\","
	    "\"command\": [\"/bin/true\"]}");
	run_for(e, 3500);
	assert_true(nc.slot_full);
}

/* Ticks missed while the daemon was down (the clock moved 5 s between
 * two runners on one store) are one "missed" entry at start, counting
 * them; a paused job's are not. */
static void
test_missed_while_down(void **state)
{
	struct env *e = *state;
	struct store_outbox_entry *ent;
	struct store_run **runs;
	size_t n, nent, i, nmissed = 0;
	struct notices nc = { 0 };

	e->prep = prep_notices;
	e->ctx = &nc;
	put(e->nodes, "n1", local);
	put(e->jobs, "tick", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	put(e->jobs, "held", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	run_for(e, 1500);
	runs = runs_of(e, "tick", &n);
	store_runs_free(runs, n);
	assert_true(n >= 1);
	assert_int_equal(nc.missed, 0);
	assert_int_equal(store_job_pause_set(e->st, "held", true), 0);
	runner_free(e->r);
	atomic_store(&clock_offset_ms, 5000);	/* down for 5 s */
	run_for(e, 200);
	atomic_store(&clock_offset_ms, 0);
	assert_true(nc.missed >= 4);
	assert_int_equal(store_outbox_due(e->st, "test", INT64_MAX / 2, 100,
	    &ent, &nent), 0);
	for (i = 0; i < nent; i++) {
		if (strcmp(ent[i].event, "missed") != 0)
			continue;	/* the runs' starts */
		nmissed++;
		assert_string_equal(ent[i].job, "tick");
		assert_int_equal(ent[i].run_id, 0);
	}
	assert_int_equal(nmissed, 1);	/* all of them in one entry */
	free(ent);
}

/*
 * A claim shared with other daemons (a cluster's, in miniature): the
 * first tick it is asked for nobody claims (missed, with why); the first
 * it wins, it refuses to launch (may_launch); the others go to the local
 * claim.  With pass set, it only passes them on.
 */
struct shared_claim {
	const struct run_claim_ops *next;
	void *next_arg;
	bool pass;
	int64_t unclaimed, refused;	/* the ticks it did that to */
	int64_t from, to;	/* runner_catch_up's range */
	struct runner *r;
};

static int
shared_claim(void *arg, struct store_run **recs, size_t n,
    run_claim_done_fn done, void *done_arg)
{
	struct shared_claim *sc = arg;

	if (!sc->pass && sc->unclaimed == 0) {
		assert_int_equal(n, 1);		/* one job, a tick a second */
		sc->unclaimed = recs[0]->scheduled_at;
		recs[0]->missed = 1;
		recs[0]->reason = strdup("etcd unreachable (test)");
		done(recs, n, 0, done_arg);
		return 0;
	}
	return sc->next->claim(sc->next_arg, recs, n, done, done_arg);
}

static int
shared_may_launch(void *arg, const struct store_run *rec, char *why,
    size_t n)
{
	struct shared_claim *sc = arg;

	if (sc->pass || sc->refused != 0)
		return 0;
	sc->refused = rec->scheduled_at;
	snprintf(why, n, "lease lost (test)");
	return -1;
}

static const struct run_claim_ops shared_ops = {
	.name = "shared", .claim = shared_claim,
	.may_launch = shared_may_launch, .shared = true,
};

static void
prep_shared(struct env *e)
{
	struct shared_claim *sc = ((void **)e->ctx)[0];

	runner_claim(e->r, &sc->next, &sc->next_arg);
	sc->r = e->r;
	assert_int_equal(runner_set_claim(e->r, &shared_ops, sc), 0);
	assert_int_equal(runner_set_plan(e->r, plan_notices,
	    ((void **)e->ctx)[1]), 0);
}

/*
 * A tick nobody claimed is not run and counts as missed at once, with
 * the claim's reason; a run won but refused at launch fails with the
 * reason, never started, its tick missed; the other ticks run.
 */
static void
test_claim_unclaimed_refused(void **state)
{
	struct env *e = *state;
	struct shared_claim sc = { 0 };
	struct notices nc = { 0 };
	void *ctx[2] = { &sc, &nc };
	struct store_run **runs;
	struct runner_stats st;
	size_t n, i, ok = 0, refused = 0;

	put(e->nodes, "n1", local);
	put(e->jobs, "tick", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	e->prep = prep_shared;
	e->ctx = ctx;
	run_for(e, 3800);
	assert_true(sc.unclaimed > 0 && sc.refused > sc.unclaimed);
	runner_stats(e->r, &st);
	assert_true(st.skipped >= 2);
	assert_true(nc.missed >= 2);
	runs = runs_of(e, "tick", &n);
	for (i = 0; i < n; i++) {
		assert_true(runs[i]->scheduled_at != sc.unclaimed);
		if (runs[i]->scheduled_at == sc.refused) {
			refused++;
			assert_int_equal(runs[i]->status, RUN_FAILURE);
			assert_int_equal(runs[i]->started_ms, 0);
			assert_string_equal(runs[i]->reason,
			    "lease lost (test)");
		} else
			ok += runs[i]->status == RUN_SUCCESS;
	}
	assert_int_equal(refused, 1);
	assert_true(ok >= 1);
	store_runs_free(runs, n);
}

static void
catch_up_now(void *arg)
{
	struct shared_claim *sc = arg;

	assert_int_equal(runner_catch_up(sc->r, "once", sc->from, sc->to,
	    "taken over (test)"), 0);
	assert_int_equal(runner_catch_up(sc->r, "skip", sc->from, sc->to,
	    "taken over (test)"), 0);
	assert_int_equal(runner_catch_up(sc->r, "nosuch", sc->from, sc->to,
	    "taken over (test)"), ERR_NOTFOUND);
}

static void
prep_catch_up(struct env *e)
{
	struct shared_claim *sc = ((void **)e->ctx)[0];

	prep_shared(e);
	loop_timer_add(e->loop, loop_mono_ms() + 300, catch_up_now, sc, NULL);
}

/*
 * runner_catch_up (a cluster member taking jobs over): of the ticks in
 * the range, a run_once job runs the latest once (trigger "missed") and
 * misses the others; a skip job misses them all.
 */
static void
test_catch_up(void **state)
{
	struct env *e = *state;
	struct shared_claim sc = { .pass = true };
	struct notices nc = { 0 };
	void *ctx[2] = { &sc, &nc };
	struct store_run **runs;
	size_t n, i, caught = 0;

	sc.to = time(NULL) - 1;
	sc.from = sc.to - 4;	/* ticks from+1 .. to-1: three */
	put(e->nodes, "n1", local);
	put(e->jobs, "once", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"missed\": \"run_once\","
	    "\"command\": [\"/bin/true\"]}");
	put(e->jobs, "skip", "{\"policy\": {\"roles\": [\"w\"]},"
	    "\"schedule\": \"* * * * * *\", \"command\": [\"/bin/true\"]}");
	e->prep = prep_catch_up;
	e->ctx = ctx;
	run_for(e, 1200);
	assert_int_equal(nc.missed, 2 + 3);
	runs = runs_of(e, "once", &n);
	for (i = 0; i < n; i++)
		if (strcmp(runs[i]->trigger, "missed") == 0) {
			caught++;
			assert_int_equal(runs[i]->scheduled_at, sc.to - 1);
			assert_int_equal(runs[i]->status, RUN_SUCCESS);
		}
	assert_int_equal(caught, 1);
	store_runs_free(runs, n);
	runs = runs_of(e, "skip", &n);
	for (i = 0; i < n; i++)
		assert_string_equal(runs[i]->trigger, "schedule");
	store_runs_free(runs, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_node_not_early, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_all_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_start_and_expiry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clock_step_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clock_step_back_pending,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_step_forward, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forbid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_delta, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_claim_lost, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_claim_unclaimed_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_hooks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plan_rows_saved, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plan_rows_saved_with_hooks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_start_missed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missed_while_down, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missed_slot_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_member_fence_env, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_member_env, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_member_from_config, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
