/*
 * test_sshcmd.c - the remote command line, run locally the way sshd runs
 * it: in a new session (setsid), as "SHELL -c LINE", with stdin a pipe that
 * stands for the channel.  Covers byte-exact argv and environment round
 * trips, the working directory, exit codes, signals reported as signals,
 * cancellation by closing the channel (TERM, then KILL after the grace, for
 * the whole process group), that nothing stays behind afterwards, and that
 * the command never has the watcher for a child.  Each test runs with dash
 * (Debian's /bin/sh) as the login shell, again with bash, and with zsh and
 * mksh when they are installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/exec.h"
#include "distcron/sshcmd.h"

#define LINE_MAX_LEN	(1024 * 1024)
#define GUARD_S		60	/* a test never takes this long */
#define RUN_S		20	/* nor one run of a line */
#define MAX_SESSIONS	1024

/* The shell that plays the login shell and the script's /bin/sh. */
struct shell {
	const char *path;
};

/* One run of a line: what came out and how it ended. */
struct run {
	pid_t pid;
	int in_w;		/* the "channel" write end, -1 once closed */
	int out_r, err_r;
	struct buf out, err;
	int status;
	double seconds;		/* from spawn to exit */
};

static char tmpdir[64];
static pid_t sessions[MAX_SESSIONS];	/* every run, killed at the end */
static size_t nsessions;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* True once pid is gone or a zombie, polling up to ms. */
static bool
pid_gone_within(long pid, long ms)
{
	char path[64], line[512], *p;
	double end = now_s() + (double)ms / 1000;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	do {
		if ((f = fopen(path, "r")) == NULL)
			return true;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		if (p == NULL || (p = strrchr(line, ')')) == NULL ||
		    p[2] == 'Z' || p[2] == 'X')
			return true;
		sleep_ms(10);
	} while (now_s() < end);
	return false;
}

/* Builds the line for spec, as the login shell gets it. */
static char *
build(const struct shell *sh, const struct exec_spec *spec)
{
	const char *errstr = NULL;
	struct buf b;

	if (access(sh->path, X_OK) != 0)
		skip();		/* that shell is not installed */
	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(sshcmd_build(spec, &b, &errstr), 0);
	return buf_steal(&b, NULL);
}

static void
child_exec(const struct shell *sh, const char *line, int in_r, int out_w,
    int err_w, const char *path)
{
	struct rlimit nocore = { 0, 0 };

	if (setsid() == -1 || dup2(in_r, 0) == -1 || dup2(out_w, 1) == -1 ||
	    dup2(err_w, 2) == -1 || setrlimit(RLIMIT_CORE, &nocore) == -1)
		_exit(120);
	closefrom(3);
	if (path != NULL)
		setenv("PATH", path, 1);
	execl(sh->path, sh->path, "-c", line, (char *)NULL);
	_exit(121);
}

/* Starts line as sshd would; PATH replaces the environment's when set. */
static void
spawn(struct run *r, const struct shell *sh, const char *line,
    const char *path)
{
	int in[2], out[2], err[2];

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	r->seconds = now_s();
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0)
		child_exec(sh, line, in[0], out[1], err[1], path);
	if (nsessions < MAX_SESSIONS)
		sessions[nsessions++] = r->pid;
	close(in[0]);
	close(out[1]);
	close(err[1]);
	r->in_w = in[1];
	r->out_r = out[0];
	r->err_r = err[0];
	buf_init(&r->out, LINE_MAX_LEN);
	buf_init(&r->err, LINE_MAX_LEN);
}

/* Reads one chunk of fd into b; returns false at EOF. */
static bool
drain(int fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0)
		return false;
	assert_int_equal(buf_append(b, chunk, (size_t)n), 0);
	return true;
}

/* Reads stdout and stderr to EOF, then reaps the shell; fails after
 * RUN_S seconds. */
static void
finish(struct run *r)
{
	struct pollfd p[2] = { { r->out_r, POLLIN, 0 }, { r->err_r, POLLIN, 0 } };
	double end = now_s() + RUN_S;
	int open_fds = 2, i;

	while (open_fds > 0) {
		if (poll(p, 2, 100) == 0 && now_s() > end) {
			kill(-r->pid, SIGKILL);
			fail_msg("the line still runs after %d s", RUN_S);
		}
		for (i = 0; i < 2; i++)
			if (p[i].revents != 0 && !drain(p[i].fd,
			    i == 0 ? &r->out : &r->err)) {
				p[i].fd = -1;
				open_fds--;
			}
	}
	assert_int_equal(waitpid(r->pid, &r->status, 0), r->pid);
	r->seconds = now_s() - r->seconds;
	close(r->out_r);
	close(r->err_r);
}

/* sshd closes the channel's input once the command has exited. */
static void
close_channel(struct run *r)
{
	if (r->in_w >= 0)
		close(r->in_w);
	r->in_w = -1;
}

static void
run_free(struct run *r)
{
	close_channel(r);
	buf_free(&r->out);
	buf_free(&r->err);
}

/* Runs spec to completion with the channel open. */
static void
run_spec(struct run *r, const struct shell *sh, const struct exec_spec *spec,
    const char *path)
{
	char *line = build(sh, spec);

	spawn(r, sh, line, path);
	finish(r);
	close_channel(r);
	free(line);
}

/* True while a process that is not a zombie is in process group pgid. */
static bool
group_alive(pid_t pgid)
{
	char path[300], line[512], *p;
	struct dirent *de;
	bool found = false;
	long pgrp;
	FILE *f;
	DIR *d;

	assert_non_null(d = opendir("/proc"));
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		/* "pid (comm) S ppid pgrp ..." */
		if (p == NULL || (p = strrchr(line, ')')) == NULL ||
		    sscanf(p + 2, "%*c %*d %ld", &pgrp) != 1)
			continue;
		found = pgrp == (long)pgid && p[2] != 'Z' && p[2] != 'X';
	}
	closedir(d);
	return found;
}

/* True once nothing (the watcher included) is left in the group. */
static bool
group_gone_within(pid_t pgid, long ms)
{
	double end = now_s() + (double)ms / 1000;

	while (group_alive(pgid)) {
		if (now_s() > end)
			return false;
		sleep_ms(50);
	}
	return true;
}

/* Reads a decimal pid a command wrote to file, waiting up to 10 s. */
static long
read_pid(const char *file)
{
	char line[32] = "";
	double end = now_s() + 10;
	FILE *f;

	for (;;) {
		if ((f = fopen(file, "r")) != NULL) {
			if (fgets(line, sizeof(line), f) != NULL &&
			    strchr(line, '\n') != NULL) {
				fclose(f);
				return strtol(line, NULL, 10);
			}
			fclose(f);
		}
		assert_true(now_s() < end);
		sleep_ms(10);
	}
}

static char *
tmp_path(const char *name)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "%s/%s", tmpdir, name), 0);
	return buf_steal(&b, NULL);
}

/*
 * The tests, each run by every shell.
 */

static const char *const hostile[] = {
	"plain", "", " ", "two  spaces ", "'", "''", "\"", "'\\''", "\\",
	"\\n", "a\nb", "\n", "\ttab", "$HOME", "${PATH}", "$(id)", "`id`",
	";", "a; echo pwned", "&&", "|", ">x", "<", "*", "?", "[a]", "~",
	"#c", "!", "-n", "-e", "--", "-", "%s", "%%", "x=y",
	"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82",
	"\x01\x02\x7f\xff", "a'b\"c$d`e\\f g\nh",
};

#define NHOSTILE	(sizeof(hostile) / sizeof(hostile[0]))

static void
test_argv_round_trip(void **state)
{
	const struct shell *sh = *state;
	char *argv[NHOSTILE + 3];
	struct exec_spec spec = { .argv = argv };
	struct buf want;
	struct run r;
	size_t i;

	argv[0] = "printf";	/* searched in PATH: not the builtin */
	argv[1] = "%s\\0";
	buf_init(&want, LINE_MAX_LEN);
	for (i = 0; i < NHOSTILE; i++) {
		argv[i + 2] = (char *)hostile[i];
		assert_int_equal(buf_append(&want, hostile[i],
		    strlen(hostile[i]) + 1), 0);
	}
	argv[NHOSTILE + 2] = NULL;
	run_spec(&r, sh, &spec, NULL);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(r.out.len, want.len);
	assert_memory_equal(r.out.data, want.data, want.len);
	assert_int_equal(r.err.len, 0);
	buf_free(&want);
	run_free(&r);
}

static void
test_each_arg_alone(void **state)
{
	const struct shell *sh = *state;
	char *argv[] = { "printf", "[%s]", NULL, NULL };
	struct exec_spec spec = { .argv = argv };
	struct buf want;
	struct run r;
	size_t i;

	for (i = 0; i < NHOSTILE; i++) {
		argv[2] = (char *)hostile[i];
		buf_init(&want, 4096);
		assert_int_equal(buf_printf(&want, "[%s]", hostile[i]), 0);
		run_spec(&r, sh, &spec, NULL);
		assert_int_equal(r.out.len, want.len);
		assert_memory_equal(r.out.data, want.data, want.len);
		buf_free(&want);
		run_free(&r);
	}
}

static void
test_shell_string(void **state)
{
	const struct shell *sh = *state;
	char *env[] = { "X=it's \"$x\" `y`", NULL };
	struct exec_spec spec = {
		.shell = "printf '%s|' \"$X\" 'a  b' $((6 * 7)); echo; exit 4",
		.env = env,
	};
	struct run r;

	run_spec(&r, sh, &spec, NULL);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 4);
	assert_string_equal(r.out.data, "it's \"$x\" `y`|a  b|42|\n");
	run_free(&r);
}

static void
test_environment(void **state)
{
	const struct shell *sh = *state;
	char *argv[] = { "/bin/sh", "-c",
	    "printf '%s\\0' \"$A\" \"$_B9\" \"$EMPTY\" \"$SAME\" \"${ss-unset}\"",
	    NULL };
	char *env[] = { "A=a'b\"c$d`e\\f\ng", "_B9=caf\xc3\xa9",
	    "EMPTY=", "SAME=first", "SAME=second", NULL };
	struct exec_spec spec = { .argv = argv, .env = env };
	static const char want[] = "a'b\"c$d`e\\f\ng\0caf\xc3\xa9\0\0second\0"
	    "unset";
	struct run r;

	run_spec(&r, sh, &spec, NULL);
	assert_int_equal(r.out.len, sizeof(want));
	assert_memory_equal(r.out.data, want, sizeof(want));
	run_free(&r);
}

static void
test_env_path_is_the_runs(void **state)
{
	const struct shell *sh = *state;
	char *argv[] = { "printf", "x", NULL };
	char *env[] = { "PATH=/nonexistent", NULL };
	struct exec_spec spec = { .argv = argv, .env = env };
	struct run r;

	run_spec(&r, sh, &spec, NULL);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 127);
	assert_int_equal(r.out.len, 0);
	assert_non_null(strstr(r.err.data, "printf"));
	run_free(&r);
}

static void
test_invalid_env(void **state)
{
	static char *bad[][2] = {
		{ "NOEQUALS", NULL }, { "=value", NULL }, { "1A=x", NULL },
		{ "A-B=x", NULL }, { "A B=x", NULL }, { "\xc3\xa9=x", NULL },
		{ "A;B=x", NULL },
	};
	char *argv[] = { "true", NULL };
	struct exec_spec spec = { .argv = argv };
	const char *errstr;
	struct buf b;
	size_t i;

	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(buf_puts(&b, "kept"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spec.env = bad[i];
		errstr = NULL;
		assert_int_equal(sshcmd_build(&spec, &b, &errstr),
		    ERR_INVALID);
		assert_non_null(errstr);
		assert_non_null(strstr(errstr, "environment"));
		assert_string_equal(buf_str(&b), "kept");
	}
	buf_free(&b);
}

static void
test_no_command(void **state)
{
	char *empty[] = { NULL };
	struct exec_spec spec = { .argv = empty };
	struct exec_spec none = { .argv = NULL, .shell = NULL };
	const char *errstr = NULL;
	struct buf b;

	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(sshcmd_build(&spec, &b, &errstr), ERR_INVALID);
	assert_non_null(errstr);
	assert_int_equal(sshcmd_build(&none, &b, &errstr), ERR_INVALID);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_cap(void **state)
{
	char *argv[] = { "echo", "hello", NULL };
	struct exec_spec spec = { .argv = argv };
	const char *errstr = NULL;
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_puts(&b, "kept"), 0);
	assert_int_equal(sshcmd_build(&spec, &b, &errstr), -E2BIG);
	assert_string_equal(buf_str(&b), "kept");
	buf_free(&b);
}

static void
test_quote(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(sshcmd_quote("", &b), 0);
	assert_string_equal(buf_str(&b), "''");
	buf_reset(&b);
	assert_int_equal(sshcmd_quote("it's", &b), 0);
	assert_string_equal(buf_str(&b), "'it'\\''s'");
	buf_reset(&b);
	assert_int_equal(sshcmd_quote("''", &b), 0);
	assert_string_equal(buf_str(&b), "''\\'''\\'''");
	buf_free(&b);
}

static void
test_working_dir(void **state)
{
	const struct shell *sh = *state;
	char *dir = tmp_path("it's a \"dir\" $x");
	char *argv[] = { "pwd", NULL };
	struct exec_spec spec = { .argv = argv, .working_dir = dir };
	struct buf want;
	struct run r;

	if (mkdir(dir, 0755) != 0)
		assert_int_equal(errno, EEXIST);
	buf_init(&want, 4096);
	assert_int_equal(buf_printf(&want, "%s\n", dir), 0);
	run_spec(&r, sh, &spec, NULL);
	assert_string_equal(r.out.data, want.data);
	run_free(&r);
	spec.working_dir = NULL;
	run_spec(&r, sh, &spec, NULL);
	assert_string_equal(r.out.data, "/\n");
	run_free(&r);
	buf_free(&want);
	free(dir);
}

static void
test_missing_working_dir(void **state)
{
	const struct shell *sh = *state;
	char *dir = tmp_path("no such dir");
	char *ran = tmp_path("ran");
	char *argv[] = { "touch", ran, NULL };
	struct exec_spec spec = { .argv = argv, .working_dir = dir };
	struct run r;

	run_spec(&r, sh, &spec, NULL);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 126);
	assert_non_null(strstr(r.err.data, "distcron: cannot change to the "
	    "working directory"));
	assert_non_null(strstr(r.err.data, "no such dir"));	/* from cd */
	assert_int_equal(r.out.len, 0);
	assert_int_equal(access(ran, F_OK), -1);
	run_free(&r);
	free(ran);
	free(dir);
}

static void
test_exit_codes(void **state)
{
	const struct shell *sh = *state;
	static const int codes[] = { 0, 1, 2, 42, 125, 126, 128, 255 };
	char code[16];
	char *argv[] = { "/bin/sh", "-c", "exit $1", "sh", code, NULL };
	struct exec_spec spec = { .argv = argv };
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(code, sizeof(code), "%d", codes[i]);
		run_spec(&r, sh, &spec, NULL);
		assert_true(WIFEXITED(r.status));
		assert_int_equal(WEXITSTATUS(r.status), codes[i]);
		run_free(&r);
	}
}

static void
test_no_such_program(void **state)
{
	const struct shell *sh = *state;
	char *argv[] = { "distcron-no-such-program", "x", NULL };
	struct exec_spec spec = { .argv = argv };
	struct run r;

	run_spec(&r, sh, &spec, NULL);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 127);
	assert_non_null(strstr(r.err.data, "distcron-no-such-program"));
	run_free(&r);
}

/* The command replaces the shell, so sshd sees the signal itself. */
static void
test_signal_reported(void **state)
{
	const struct shell *sh = *state;
	static const int sigs[] = { SIGTERM, SIGKILL, SIGUSR1, SIGHUP,
	    SIGSEGV };
	char sig[16];
	char *argv[] = { "/bin/sh", "-c", "kill -s $1 $$", "sh", sig, NULL };
	struct exec_spec spec = { .argv = argv, .working_dir = tmpdir };
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		snprintf(sig, sizeof(sig), "%s", sigabbrev_np(sigs[i]));
		run_spec(&r, sh, &spec, NULL);
		assert_true(WIFSIGNALED(r.status));
		assert_int_equal(WTERMSIG(r.status), sigs[i]);
		assert_int_equal(r.err.len, 0);	/* no "Terminated" */
		run_free(&r);
	}
}

static void
test_stdin_is_not_the_channel(void **state)
{
	const struct shell *sh = *state;
	char *argv[] = { "/bin/sh", "-c", "cat; echo rc=$?; ls /proc/self/fd",
	    NULL };
	struct exec_spec spec = { .argv = argv };
	char *line = build(sh, &spec);
	struct run r;

	spawn(&r, sh, line, NULL);
	assert_int_equal(write(r.in_w, "data\n", 5), 5);
	finish(&r);
	/* only 0, 1, 2 and ls's own directory descriptor */
	assert_string_equal(r.out.data, "rc=0\n0\n1\n2\n3\n");
	run_free(&r);
	free(line);
}

/* Closing the channel kills the command and its children; normal shells
 * die of the TERM. */
static void
test_channel_close_kills_group(void **state)
{
	const struct shell *sh = *state;
	char *pids = tmp_path("group.pids");
	char *argv[] = { "/bin/sh", "-c",
	    "sleep 100 & echo $! >\"$1.tmp\"; echo $$ >>\"$1.tmp\"; "
	    "mv \"$1.tmp\" \"$1\"; wait", "sh", pids, NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 5000 };
	char *line = build(sh, &spec);
	long sleep_pid, sh_pid;
	FILE *f;
	struct run r;

	unlink(pids);
	spawn(&r, sh, line, NULL);
	sleep_pid = read_pid(pids);
	assert_non_null(f = fopen(pids, "r"));
	assert_int_equal(fscanf(f, "%ld %ld", &sleep_pid, &sh_pid), 2);
	fclose(f);
	close_channel(&r);
	finish(&r);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGTERM);
	assert_true(r.seconds < 5);	/* TERM was enough: no grace */
	assert_int_equal(r.err.len, 0);
	assert_true(pid_gone_within(sleep_pid, 2000));
	assert_true(pid_gone_within(sh_pid, 2000));
	assert_true(group_gone_within(r.pid, 3000));
	run_free(&r);
	free(line);
	free(pids);
}

/* A command that ignores TERM is killed once the grace has passed. */
static void
test_channel_close_kill_after_grace(void **state)
{
	const struct shell *sh = *state;
	char *pidf = tmp_path("stubborn.pid");
	char *argv[] = { "/bin/sh", "-c",
	    "trap '' TERM; echo $$ >\"$1\"; while :; do sleep 1; done", "sh",
	    pidf, NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 1500 };
	char *line = build(sh, &spec);
	double t0;
	long pid;
	struct run r;

	unlink(pidf);
	spawn(&r, sh, line, NULL);
	pid = read_pid(pidf);
	t0 = now_s();
	close_channel(&r);
	finish(&r);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGKILL);
	/* 1.5 s round up to 2 s, polled every second */
	assert_true(now_s() - t0 >= 1.9);
	assert_true(now_s() - t0 < 6);
	assert_true(pid_gone_within(pid, 2000));
	assert_true(group_gone_within(r.pid, 3000));
	run_free(&r);
	free(line);
	free(pidf);
}

/* A command that exits normally leaves no watcher once sshd closes the
 * channel, and a background child it left behind is killed then. */
static void
test_normal_exit_leaves_nothing(void **state)
{
	const struct shell *sh = *state;
	char *pidf = tmp_path("left.pid");
	char *argv[] = { "/bin/sh", "-c",
	    "sleep 100 >/dev/null 2>&1 & echo $! >\"$1\"; echo done", "sh",
	    pidf, NULL };
	char *quick[] = { "true", NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 5000 };
	struct exec_spec spec2 = { .argv = quick, .kill_grace_ms = 5000 };
	struct run r;
	long pid;

	unlink(pidf);
	run_spec(&r, sh, &spec2, NULL);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_true(r.seconds < 3);
	assert_true(group_gone_within(r.pid, 2000));
	run_free(&r);

	run_spec(&r, sh, &spec, NULL);
	assert_string_equal(r.out.data, "done\n");
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	pid = read_pid(pidf);
	assert_true(pid_gone_within(pid, 3000));
	assert_true(group_gone_within(r.pid, 3000));
	run_free(&r);
	free(pidf);
}

/* A command that waits for every child it has (until ECHILD) must not find
 * the watcher among them, or it would wait for the end of the channel,
 * which comes only after its own end. */
static void
test_watcher_is_not_the_commands_child(void **state)
{
	const struct shell *sh = *state;
	char *argv[] = { "python3", "-c",
	    "import os\n"
	    "try:\n"
	    "    while True: os.wait()\n"
	    "except ChildProcessError:\n"
	    "    print('no child')\n", NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 1000 };
	struct run r;

	run_spec(&r, sh, &spec, NULL);
	assert_string_equal(r.out.data, "no child\n");
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_true(r.seconds < 5);
	assert_true(group_gone_within(r.pid, 3000));
	run_free(&r);
}

static void
test_grace_rounding(void **state)
{
	static const struct { int64_t ms; const char *want; } cases[] = {
		{ 0, "[ \"$n\" -lt 1 ]" },
		{ 1, "[ \"$n\" -lt 1 ]" },
		{ 1000, "[ \"$n\" -lt 1 ]" },
		{ 1001, "[ \"$n\" -lt 2 ]" },
		{ 10000, "[ \"$n\" -lt 10 ]" },
		{ -5, "[ \"$n\" -lt 1 ]" },
	};
	char *argv[] = { "true", NULL };
	struct exec_spec spec = { .argv = argv };
	const char *errstr;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, LINE_MAX_LEN);
		spec.kill_grace_ms = cases[i].ms;
		assert_int_equal(sshcmd_build(&spec, &b, &errstr), 0);
		assert_non_null(strstr(b.data, cases[i].want));
		buf_free(&b);
	}
}

static int
setup_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/dc-sshcmd.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	alarm(GUARD_S * 10);
	return 0;
}

static int
teardown_tmpdir(void **state)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };
	pid_t pid;
	size_t i;
	int status;

	for (i = 0; i < nsessions; i++)	/* left by a failed test */
		kill(-sessions[i], SIGKILL);
	pid = fork();

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	return waitpid(pid, &status, 0) == pid && status == 0 ? 0 : -1;
}

static const struct shell dash = { "/bin/dash" };
static const struct shell bash = { "/bin/bash" };
static const struct shell zsh = { "/bin/zsh" };
static const struct shell mksh = { "/bin/mksh" };

#define EACH(t) \
	cmocka_unit_test_prestate(t, (void *)&dash), \
	cmocka_unit_test_prestate(t, (void *)&bash), \
	cmocka_unit_test_prestate(t, (void *)&zsh), \
	cmocka_unit_test_prestate(t, (void *)&mksh)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_invalid_env),
		cmocka_unit_test(test_no_command),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_grace_rounding),
		EACH(test_argv_round_trip),
		EACH(test_each_arg_alone),
		EACH(test_shell_string),
		EACH(test_environment),
		EACH(test_env_path_is_the_runs),
		EACH(test_working_dir),
		EACH(test_missing_working_dir),
		EACH(test_exit_codes),
		EACH(test_no_such_program),
		EACH(test_signal_reported),
		EACH(test_stdin_is_not_the_channel),
		EACH(test_channel_close_kills_group),
		EACH(test_channel_close_kill_after_grace),
		EACH(test_normal_exit_leaves_nothing),
		EACH(test_watcher_is_not_the_commands_child),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
