/*
 * test_exec_local.c - the local executor, driven by a real event loop: exit
 * codes, signals, output capture and truncation, timeouts that kill the whole
 * process group, environment, working directory, argv without a shell, spawn
 * failures, cancel, and many concurrent runs.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "distcron/buf.h"
#include "distcron/exec_local.h"
#include "distcron/loop.h"

struct run {
	struct loop *l;
	struct exec_proc *proc;
	struct exec_result *res;
	int done_calls;
	int cancel_after_ms;
};

static void
on_done(struct exec_result *res, void *arg)
{
	struct run *r = arg;

	r->res = res;
	r->done_calls++;
	loop_stop(r->l);
}

static void
on_guard(void *arg)
{
	fail_msg("the run did not finish within 20 s");
}

static void
on_cancel(void *arg)
{
	struct run *r = arg;

	exec_local_ops.cancel(r->proc);
}

/* Starts spec on a new loop and runs the loop until done() fires. */
static struct exec_result *
run_spec(const struct exec_spec *spec, int cancel_after_ms)
{
	struct run r = { 0 };

	assert_int_equal(loop_new(&r.l), 0);
	assert_int_equal(exec_local_ops.start(r.l, spec, on_done, &r, &r.proc),
	    0);
	assert_int_equal(r.done_calls, 0);	/* never inside start() */
	assert_int_equal(loop_timer_add(r.l, loop_mono_ms() + 20000, on_guard,
	    NULL, NULL), 0);
	if (cancel_after_ms > 0)
		assert_int_equal(loop_timer_add(r.l, loop_mono_ms() +
		    cancel_after_ms, on_cancel, &r, NULL), 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_int_equal(r.done_calls, 1);
	loop_free(r.l);
	assert_non_null(r.res->out);
	assert_non_null(r.res->err);
	assert_true(r.res->ended_ms >= r.res->started_ms);
	return r.res;
}

static struct exec_result *
run_sh(const char *cmd)
{
	struct exec_spec spec = { .shell = cmd, .output_limit = 65536 };

	return run_spec(&spec, 0);
}

static struct exec_result *
run_argv(char *const *argv)
{
	struct exec_spec spec = { .argv = argv, .output_limit = 65536 };

	return run_spec(&spec, 0);
}

/* True once pid is gone or a zombie (waits up to 5 s). */
static bool
pid_gone(long pid)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char path[64], line[512], *p;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	for (i = 0; i < 500; i++) {
		if ((f = fopen(path, "r")) == NULL)
			return true;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		if (p == NULL || (p = strrchr(line, ')')) == NULL)
			return true;
		if (p[2] == 'Z' || p[2] == 'X')
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void
test_exit_codes(void **state)
{
	struct exec_result *res = run_sh("exit 0");

	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_int_equal(res->exit_code, 0);
	assert_int_equal(res->signal, 0);
	assert_string_equal(res->error, "");
	assert_string_equal(exec_outcome_str(res->outcome), "exited");
	exec_result_free(res);
	res = run_sh("exit 3");
	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_int_equal(res->exit_code, 3);
	exec_result_free(res);
}

static void
test_killed_by_signal(void **state)
{
	struct exec_result *res = run_sh("kill -9 $$");

	assert_int_equal(res->outcome, EXEC_SIGNALED);
	assert_int_equal(res->signal, 9);
	assert_int_equal(res->exit_code, -1);
	assert_string_equal(exec_outcome_str(res->outcome), "signaled");
	exec_result_free(res);
}

static void
test_stdout_stderr(void **state)
{
	struct exec_result *res = run_sh("echo out; echo err >&2; echo more");

	assert_string_equal(res->out, "out\nmore\n");
	assert_int_equal(res->out_len, 9);
	assert_int_equal(res->out_total, 9);
	assert_string_equal(res->err, "err\n");
	assert_int_equal(res->err_total, 4);
	assert_false(res->truncated);
	exec_result_free(res);
}

static void
test_stdin_is_dev_null(void **state)
{
	struct exec_result *res = run_sh("cat; echo rc=$?");

	assert_string_equal(res->out, "rc=0\n");
	exec_result_free(res);
}

static void
test_output_truncated(void **state)
{
	char *argv[] = { "seq", "1", "200000", NULL };
	struct exec_spec spec = { .argv = argv, .output_limit = 4096 };
	struct exec_result *res;
	struct buf want, marker;
	int i;

	buf_init(&want, 1 << 22);
	for (i = 1; i <= 200000; i++)
		assert_int_equal(buf_printf(&want, "%d\n", i), 0);
	res = run_spec(&spec, 0);
	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_true(res->truncated);
	assert_int_equal(res->out_total, want.len);
	buf_init(&marker, 200);
	assert_int_equal(buf_printf(&marker,
	    "\n[... distcron: %zu bytes omitted ...]\n", want.len - 4096), 0);
	assert_int_equal(res->out_len, 4096 + marker.len);
	assert_memory_equal(res->out, want.data, 2048);
	assert_memory_equal(res->out + 2048, marker.data, marker.len);
	assert_memory_equal(res->out + 2048 + marker.len,
	    want.data + want.len - 2048, 2048);
	buf_free(&want);
	buf_free(&marker);
	exec_result_free(res);
}

static void
test_timeout(void **state)
{
	char *argv[] = { "sleep", "30", NULL };
	struct exec_spec spec = { .argv = argv, .timeout_ms = 1000,
	    .kill_grace_ms = 1000, .output_limit = 1024 };
	struct exec_result *res;
	int64_t t0 = loop_mono_ms();

	res = run_spec(&spec, 0);
	assert_true(loop_mono_ms() - t0 < 5000);
	assert_true(loop_mono_ms() - t0 >= 1000);
	assert_int_equal(res->outcome, EXEC_TIMEOUT);
	assert_int_equal(res->signal, SIGTERM);
	assert_int_equal(res->exit_code, -1);
	assert_string_equal(res->error, "timed out after 1s");
	exec_result_free(res);
}

static void
test_timeout_term_ignored(void **state)
{
	struct exec_spec spec = { .shell = "trap '' TERM; sleep 30",
	    .timeout_ms = 500, .kill_grace_ms = 500, .output_limit = 1024 };
	struct exec_result *res;
	int64_t t0 = loop_mono_ms();

	res = run_spec(&spec, 0);
	/* Killed only after timeout + grace, and not much later. */
	assert_true(loop_mono_ms() - t0 >= 1000);
	assert_true(loop_mono_ms() - t0 < 5000);
	assert_int_equal(res->outcome, EXEC_TIMEOUT);
	assert_int_equal(res->signal, SIGKILL);
	exec_result_free(res);
}

/* Reads "shell-pid background-pid" from a run's output. */
static void
two_pids(const char *out, long *a, long *b)
{
	char *end;

	*a = strtol(out, &end, 10);
	*b = strtol(end, &end, 10);
	assert_true(*a > 1 && *b > 1);
	assert_int_equal(*end, '\n');
}

static void
test_timeout_kills_group(void **state)
{
	struct exec_spec spec = {
	    .shell = "sleep 100 & echo $$ $!; sleep 100; wait",
	    .timeout_ms = 500, .kill_grace_ms = 1000, .output_limit = 1024 };
	struct exec_result *res;
	int64_t t0 = loop_mono_ms();
	long sh, bg;

	res = run_spec(&spec, 0);
	assert_true(loop_mono_ms() - t0 < 5000);
	assert_int_equal(res->outcome, EXEC_TIMEOUT);
	two_pids(res->out, &sh, &bg);
	assert_true(pid_gone(sh));
	assert_true(pid_gone(bg));
	exec_result_free(res);
}

static void
test_background_child_does_not_hang(void **state)
{
	/* The shell exits at once; its background child keeps the pipes. */
	struct exec_result *res;
	int64_t t0 = loop_mono_ms();
	long sh, bg;

	res = run_sh("sleep 100 & echo $$ $!; exit 5");
	assert_true(loop_mono_ms() - t0 < 5000);
	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_int_equal(res->exit_code, 5);
	two_pids(res->out, &sh, &bg);
	assert_true(pid_gone(bg));
	exec_result_free(res);
}

static void
test_cancel(void **state)
{
	char *argv[] = { "sleep", "30", NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 1000,
	    .output_limit = 1024 };
	struct exec_result *res;
	int64_t t0 = loop_mono_ms();

	res = run_spec(&spec, 100);
	assert_true(loop_mono_ms() - t0 < 5000);
	assert_int_equal(res->outcome, EXEC_CANCELLED);
	assert_int_equal(res->signal, SIGTERM);
	assert_string_equal(exec_outcome_str(res->outcome), "cancelled");
	exec_result_free(res);
}

static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void
test_environment(void **state)
{
	char *argv[] = { "env", NULL };
	char *env[] = { "DISTCRON_JOB=backup", "MYVAR=1", "MYVAR=2",
	    "noequals", NULL };
	struct exec_spec spec = { .argv = argv, .env = env,
	    .output_limit = 65536 };
	struct exec_result *res;

	setenv("FOO_SECRET", "hunter2", 1);
	res = run_spec(&spec, 0);
	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_true(has_line(res->out, "DISTCRON_JOB=backup"));
	assert_true(has_line(res->out, "MYVAR=2"));
	assert_false(has_line(res->out, "MYVAR=1"));
	assert_null(strstr(res->out, "FOO_SECRET"));
	assert_null(strstr(res->out, "noequals"));
	assert_true(has_line(res->out, "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin"));
	assert_true(has_line(res->out, "SHELL=/bin/sh"));
	assert_non_null(strstr(res->out, "HOME="));
	unsetenv("FOO_SECRET");
	exec_result_free(res);
}

static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/distcron-exec-XXXXXX", *d, *real;

	assert_non_null((d = mkdtemp(tmpl)));
	assert_non_null((real = realpath(d, NULL)));
	return real;
}

static void
test_path_from_run_env(void **state)
{
	char *dir = make_tmpdir(), script[PATH_MAX], pathvar[PATH_MAX + 8];
	char *argv[] = { "distcron-test-prog", NULL };
	char *env[] = { pathvar, NULL };
	struct exec_spec spec = { .argv = argv, .env = env,
	    .output_limit = 1024 };
	struct exec_result *res;
	FILE *f;

	snprintf(script, sizeof(script), "%s/distcron-test-prog", dir);
	assert_non_null((f = fopen(script, "w")));
	fputs("#!/bin/sh\necho found it\n", f);
	fclose(f);
	assert_int_equal(chmod(script, 0755), 0);
	snprintf(pathvar, sizeof(pathvar), "PATH=%s", dir);
	res = run_spec(&spec, 0);
	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_string_equal(res->out, "found it\n");
	exec_result_free(res);
	/* Not in the default PATH. */
	res = run_argv(argv);
	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_string_equal(res->error, "cannot execute distcron-test-prog: "
	    "No such file or directory");
	exec_result_free(res);
	unlink(script);
	rmdir(dir);
	free(dir);
}

static void
test_working_dir(void **state)
{
	char *dir = make_tmpdir(), want[PATH_MAX + 2];
	struct exec_spec spec = { .shell = "pwd", .working_dir = dir,
	    .output_limit = 1024 };
	struct exec_result *res;

	res = run_spec(&spec, 0);
	snprintf(want, sizeof(want), "%s\n", dir);
	assert_string_equal(res->out, want);
	exec_result_free(res);
	res = run_sh("pwd");		/* default: "/" */
	assert_string_equal(res->out, "/\n");
	exec_result_free(res);
	rmdir(dir);
	free(dir);
}

static void
test_bad_working_dir(void **state)
{
	struct exec_spec spec = { .shell = "true",
	    .working_dir = "/nonexistent-distcron-dir", .output_limit = 1024 };
	struct exec_result *res = run_spec(&spec, 0);

	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_string_equal(res->error, "working_dir /nonexistent-distcron-dir:"
	    " No such file or directory");
	exec_result_free(res);
}

static void
test_argv_verbatim(void **state)
{
	char *argv[] = { "printf", "%s|\n", "a b", "it's \"q\"", "$HOME",
	    "a;b", "", "*", "`id`", NULL };
	struct exec_result *res = run_argv(argv);

	assert_int_equal(res->outcome, EXEC_EXITED);
	assert_string_equal(res->out,
	    "a b|\nit's \"q\"|\n$HOME|\na;b|\n|\n*|\n`id`|\n");
	exec_result_free(res);
}

static void
test_shell_string(void **state)
{
	struct exec_result *res = run_sh("echo $((2 + 3)) | tr 5 x; exit 4");

	assert_string_equal(res->out, "x\n");
	assert_int_equal(res->exit_code, 4);
	exec_result_free(res);
}

static void
test_no_such_program(void **state)
{
	char *argv[] = { "/no/such/prog", "arg", NULL };
	struct exec_result *res = run_argv(argv);

	assert_int_equal(res->outcome, EXEC_FAILED);
	assert_string_equal(res->error,
	    "cannot execute /no/such/prog: No such file or directory");
	assert_string_equal(res->out, "");
	assert_string_equal(exec_outcome_str(res->outcome), "failed");
	exec_result_free(res);
}

static void
test_signals_reset(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigset_t usr1, oldmask;
	struct exec_result *res;
	char *argv[] = { "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status",
	    NULL };
	unsigned long long blk, ignored;
	const char *p;

	/* The daemon ignores SIGPIPE and blocks SIGUSR1: jobs must not. */
	sigaction(SIGPIPE, &ign, &old);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &oldmask);
	/* grep reads its own status: what the spawn handed over.  (Through a
	 * shell we could catch it with signals blocked around a fork.) */
	res = run_argv(argv);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	sigaction(SIGPIPE, &old, NULL);
	assert_non_null((p = strstr(res->out, "SigBlk:\t")));
	blk = strtoull(p + 8, NULL, 16);
	assert_non_null((p = strstr(res->out, "SigIgn:\t")));
	ignored = strtoull(p + 8, NULL, 16);
	assert_int_equal(blk, 0);
	/*
	 * glibc's posix_spawn() leaves its two internal signals (32 and 33,
	 * below SIGRTMIN and unusable by glibc programs) ignored; nothing
	 * else may be.
	 */
	assert_int_equal(ignored & ~0x180000000ULL, 0);
	exec_result_free(res);
}

struct many {
	struct loop *l;
	int done;
	int ok;
};

static void
on_many_done(struct exec_result *res, void *arg)
{
	struct many *m = arg;

	if (res->outcome == EXEC_EXITED && res->exit_code == 0)
		m->ok++;
	exec_result_free(res);
	if (++m->done == 200)
		loop_stop(m->l);
}

static void
test_concurrent_runs(void **state)
{
	char *argv[] = { "true", NULL };
	struct exec_spec spec = { .argv = argv, .output_limit = 1 << 20 };
	struct exec_proc *p;
	struct many m = { 0 };
	int i;

	assert_int_equal(loop_new(&m.l), 0);
	for (i = 0; i < 200; i++)
		assert_int_equal(exec_local_ops.start(m.l, &spec, on_many_done,
		    &m, &p), 0);
	assert_int_equal(loop_timer_add(m.l, loop_mono_ms() + 20000, on_guard,
	    NULL, NULL), 0);
	assert_int_equal(loop_run(m.l), 0);
	assert_int_equal(m.done, 200);
	assert_int_equal(m.ok, 200);
	loop_free(m.l);
}

/* The spec and everything it points to may be freed once start()
 * returns: the spawn happens later, on a spawner thread. */
static void
test_spec_freed_after_start(void **state)
{
	struct exec_spec *spec = calloc(1, sizeof(*spec));
	char **argv = calloc(4, sizeof(*argv)), **env = calloc(2, sizeof(*env));
	struct run r = { 0 };
	int i;

	argv[0] = strdup("/bin/sh");
	argv[1] = strdup("-c");
	argv[2] = strdup("echo \"$GREETING from $(pwd)\"");
	env[0] = strdup("GREETING=hello");
	spec->argv = argv;
	spec->env = env;
	spec->working_dir = strdup("/tmp");
	spec->output_limit = 4096;
	assert_int_equal(loop_new(&r.l), 0);
	assert_int_equal(exec_local_ops.start(r.l, spec, on_done, &r, &r.proc),
	    0);
	for (i = 0; i < 3; i++) {		/* scribble, then free */
		memset(argv[i], 'x', strlen(argv[i]));
		free(argv[i]);
	}
	memset(env[0], 'x', strlen(env[0]));
	free(env[0]);
	free(argv);
	free(env);
	free((char *)spec->working_dir);
	free(spec);
	assert_int_equal(loop_timer_add(r.l, loop_mono_ms() + 20000, on_guard,
	    NULL, NULL), 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_int_equal(r.done_calls, 1);
	loop_free(r.l);
	assert_int_equal(r.res->outcome, EXEC_EXITED);
	assert_string_equal(r.res->out, "hello from /tmp\n");
	exec_result_free(r.res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_stdout_stderr),
		cmocka_unit_test(test_stdin_is_dev_null),
		cmocka_unit_test(test_output_truncated),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_term_ignored),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_background_child_does_not_hang),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_path_from_run_env),
		cmocka_unit_test(test_working_dir),
		cmocka_unit_test(test_bad_working_dir),
		cmocka_unit_test(test_argv_verbatim),
		cmocka_unit_test(test_shell_string),
		cmocka_unit_test(test_no_such_program),
		cmocka_unit_test(test_spec_freed_after_start),
		cmocka_unit_test(test_signals_reset),
		cmocka_unit_test(test_concurrent_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
