/*
 * test_sshcmd.c - the remote command line, run locally the way sshd runs
 * it: in a new session (setsid), as "SHELL -c LINE", with stdin a pipe that
 * stands for the channel.  Covers byte-exact argv and environment round
 * trips, the working directory, exit codes, signals reported as signals,
 * cancellation by closing the channel (TERM, then KILL after the grace, for
 * the whole process group), that nothing stays behind afterwards, and that
 * the command never has the watcher for a child.  The guarded line (no
 * watcher, the process group reported on stderr) passes the same tests,
 * and the connection's guard is driven with its messages: a run's end,
 * timeout, check, and the end of the guard's channel.  Each test runs with
 * dash (Debian's /bin/sh) as the login shell, again with bash, and with zsh
 * and mksh when they are installed, each also standing for the remote
 * /bin/sh (the line's "exec /bin/sh" names it instead); and with fish and
 * tcsh as the login shell, with /bin/sh.  Words made to break out of each
 * shell's quoting stay words, and a line of the longest length a shell
 * takes runs, in its plain and encoded form; a longer one is refused.
 * The plain lines, for a POSIX login shell, pass the same tests (with and
 * without the watcher) run by dash, bash, zsh and mksh as the login shell.
 * The guard names the login shell of the passwd entry, and the choice of
 * form follows what it names.
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
#include <pwd.h>
#include <cmocka.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/exec.h"
#include "distcron/sshcmd.h"

#define LINE_MAX_LEN	(1024 * 1024)
#define GUARD_S		60	/* a test never takes this long */
#define RUN_S		20	/* nor one run of a line */
#define MAX_SESSIONS	1024

/* The shell that plays the login shell, the one that plays the remote
 * /bin/sh (NULL: /bin/sh itself), and which line it runs: the one with a
 * watcher or the guarded one, wrapped or plain (then the login shell runs
 * the script itself, and binsh is not used). */
struct shell {
	const char *path;
	bool guarded;
	const char *binsh;
	bool plain;
};

/* One run of a line: what came out and how it ended. */
struct run {
	pid_t pid;
	int in_w;		/* the "channel" write end, -1 once closed */
	int out_r, err_r;
	struct buf out, err;
	int status;
	double seconds;		/* from spawn to exit */
	bool reaped;		/* status already collected */
	bool marked;		/* a line, not the guard: stderr has the marker */
	char *line;		/* its line, when start_spec() built it */
	struct sshcmd_mark mark;
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

#define WRAP_HEAD	"exec /bin/sh -c '"

/* line, whose /bin/sh becomes sh->binsh; skips if a shell is missing. */
static char *
as_sh(const struct shell *sh, const char *line)
{
	struct buf b;

	if (access(sh->path, X_OK) != 0 ||
	    (sh->binsh != NULL && access(sh->binsh, X_OK) != 0))
		skip();		/* that shell is not installed */
	assert_memory_equal(line, WRAP_HEAD, strlen(WRAP_HEAD));
	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(buf_printf(&b, "exec %s -c '%s",
	    sh->binsh != NULL ? sh->binsh : "/bin/sh",
	    line + strlen(WRAP_HEAD)), 0);
	return buf_steal(&b, NULL);
}

/* Builds the line for spec, as the login shell gets it. */
static char *
build(const struct shell *sh, const struct exec_spec *spec)
{
	const char *errstr = NULL;
	struct sshcmd_lines at;
	struct buf b;
	char *line = NULL;

	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(sshcmd_build(spec, &b, &at, &errstr), 0);
	assert_true(at.guarded > 0 && at.guarded < at.plain &&
	    at.plain < at.plain_guarded && at.plain_guarded < b.len);
	assert_int_equal(b.data[at.guarded - 1], '\0');	/* four strings */
	assert_int_equal(b.data[at.plain - 1], '\0');
	assert_int_equal(strlen(b.data + at.plain), b.len - at.plain);
	if (!sh->plain)
		line = as_sh(sh, sshcmd_pick(b.data, &at, sh->guarded, 0));
	else if (access(sh->path, X_OK) != 0)
		skip();		/* that shell is not installed */
	else {
		line = strdup(sshcmd_pick(b.data, &at, sh->guarded, 1));
		assert_non_null(line);
		assert_memory_not_equal(line, WRAP_HEAD, strlen(WRAP_HEAD));
	}
	buf_free(&b);
	return line;
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
	r->marked = true;
	r->reaped = false;
	r->line = NULL;
	memset(&r->mark, 0, sizeof(r->mark));
	buf_init(&r->out, LINE_MAX_LEN);
	buf_init(&r->err, LINE_MAX_LEN);
}

static void
err_feed(void *arg, const char *data, size_t n)
{
	assert_int_equal(buf_append(arg, data, n), 0);
}

/* Reads one chunk of fd into b; returns false at EOF.  A line's stderr
 * goes through the marker scan, as in the daemon (the guard itself, which
 * writes none, never gets that far). */
static bool
drain(struct run *r, int fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0) {
		if (b == &r->err)
			sshcmd_mark_end(&r->mark, err_feed, b);
		return false;
	}
	if (b == &r->err)
		sshcmd_mark_feed(&r->mark, chunk, (size_t)n, err_feed, b);
	else
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
			if (p[i].revents != 0 && !drain(r, p[i].fd,
			    i == 0 ? &r->out : &r->err)) {
				p[i].fd = -1;
				open_fds--;
			}
	}
	if (!r->reaped)
		assert_int_equal(waitpid(r->pid, &r->status, 0), r->pid);
	r->seconds = now_s() - r->seconds;
	close(r->out_r);
	close(r->err_r);
	if (r->marked)		/* the marker names the session's group */
		assert_int_equal(r->mark.pgid, r->pid);
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
	free(r->line);
	r->line = NULL;
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

/* How many processes have ppid for their parent: zombies included, or
 * with live only those still running. */
static int
children_of_ex(pid_t ppid, bool live)
{
	char path[300], line[512], *p;
	struct dirent *de;
	long parent;
	int n = 0;
	FILE *f;
	DIR *d;

	assert_non_null(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		if (p != NULL && (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 2, "%*c %ld", &parent) == 1 && parent == ppid &&
		    (!live || (p[2] != 'Z' && p[2] != 'X')))
			n++;
	}
	closedir(d);
	return n;
}

static int
children_of(pid_t ppid)
{
	return children_of_ex(ppid, false);
}

/* True once ppid's children have all ended (zombies at most), within
 * ms. */
static bool
children_ended_within(pid_t ppid, long ms)
{
	double end = now_s() + (double)ms / 1000;

	while (children_of_ex(ppid, true) > 0) {
		if (now_s() > end)
			return false;
		sleep_ms(50);
	}
	return true;
}

/* True once ppid has no child left, zombies included, within ms. */
static bool
children_gone_within(pid_t ppid, long ms)
{
	double end = now_s() + (double)ms / 1000;

	while (children_of(ppid) > 0) {
		if (now_s() > end)
			return false;
		sleep_ms(50);
	}
	return true;
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
	"a\n1", "\x01" "234", "\t0x", "\xc3\xa9" "7",	/* \NNN, then a digit */
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
		assert_int_equal(sshcmd_build(&spec, &b, NULL, &errstr),
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
	assert_int_equal(sshcmd_build(&spec, &b, NULL, &errstr), ERR_INVALID);
	assert_non_null(errstr);
	assert_int_equal(sshcmd_build(&none, &b, NULL, &errstr), ERR_INVALID);
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
	assert_int_equal(sshcmd_build(&spec, &b, NULL, &errstr), -E2BIG);
	assert_string_equal(buf_str(&b), "kept");
	buf_free(&b);
}

static void
test_quote(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(sshcmd_quote("", &b), 0);
	assert_string_equal(buf_str(&b), "\"\"");
	buf_reset(&b);
	assert_int_equal(sshcmd_quote("it's", &b), 0);
	assert_string_equal(buf_str(&b), "\"it's\"");
	buf_reset(&b);
	assert_int_equal(sshcmd_quote("\"$`\\x\\", &b), 0);
	assert_string_equal(buf_str(&b), "\"\\\"\\$\\`\\\\x\\\\\"");
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
		assert_int_equal(sshcmd_build(&spec, &b, NULL, &errstr), 0);
		assert_non_null(strstr(b.data, cases[i].want));
		buf_free(&b);
	}
}

/* Words made to end the quoting of one shell or another: fish reads \' and
 * \\ inside single quotes, csh expands ! there and ends a line at a
 * newline, sh ends "..." at " and expands $ and ` inside it.  Each word
 * arrives as it is and no touch runs. */
static void
test_no_injection(void **state)
{
	const struct shell *sh = *state;
	char *pwned = tmp_path("pwned");
	static const char *const tricks[] = {	/* @ stands for pwned */
		"x\\", "'; touch @; echo '", "\\'; touch @ #",
		"\\\\'; touch @ #", "'\"'\"'; touch @ #", "\"; touch @; \"",
		"\\\"; touch @; \\\"", "$(touch @)", "`touch @`",
		"!touch @", "a\n touch @", "'\n touch @\n'", "% touch @ %s",
	};
	char *argv[2 + sizeof(tricks) / sizeof(tricks[0]) + 1];
	struct exec_spec spec = { .argv = argv };
	struct buf words[sizeof(tricks) / sizeof(tricks[0])], want;
	const char *at;
	struct run r;
	size_t i;

	argv[0] = "printf";
	argv[1] = "[%s]";
	buf_init(&want, LINE_MAX_LEN);
	for (i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		buf_init(&words[i], 4096);
		if ((at = strchr(tricks[i], '@')) == NULL)
			at = tricks[i] + strlen(tricks[i]);
		assert_int_equal(buf_printf(&words[i], "%.*s%s%s",
		    (int)(at - tricks[i]), tricks[i], *at ? pwned : "",
		    *at ? at + 1 : ""), 0);
		argv[2 + i] = words[i].data;
		assert_int_equal(buf_printf(&want, "[%s]", words[i].data), 0);
	}
	argv[2 + i] = NULL;
	unlink(pwned);
	run_spec(&r, sh, &spec, NULL);
	assert_int_equal(access(pwned, F_OK), -1);
	assert_string_equal(r.out.data, want.data);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	run_free(&r);
	for (i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++)
		buf_free(&words[i]);
	buf_free(&want);
	free(pwned);
}

/* Fills spec with "printf %s WORD" whose line is n bytes longer than the
 * longest a shell takes (n <= 0: that many bytes shorter); c is WORD's
 * every byte. */
static char *
long_word(struct exec_spec *spec, char **argv, char c, long n)
{
	const char *errstr = NULL;
	size_t len, each = 1;
	struct buf b;
	char *w;

	argv[0] = "printf";
	argv[1] = "%s";
	argv[2] = w = strdup("xx");
	argv[3] = NULL;
	spec->argv = argv;
	w[0] = w[1] = c;
	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(sshcmd_build(spec, &b, NULL, &errstr), 0);
	len = b.len;
	buf_reset(&b);
	w[1] = '\0';
	assert_int_equal(sshcmd_build(spec, &b, NULL, &errstr), 0);
	each = len - b.len;	/* in the form the long word takes */
	len = b.len - each;
	buf_free(&b);
	free(w);
	len = (SSHCMD_LINE_MAX + n - (long)len) / (long)each;
	assert_non_null(w = malloc(len + 1));
	memset(w, c, len);
	w[len] = '\0';
	argv[2] = w;
	return w;
}

/* A line of SSHCMD_LINE_MAX bytes runs in every login shell, in the plain
 * form and the encoded one; one byte more is refused, with the limit. */
static void
test_longest_line(void **state)
{
	const struct shell *sh = *state;
	static const char chars[] = { 'a', '\n' };
	struct exec_spec spec = { .kill_grace_ms = 1000 };
	const char *errstr = NULL;
	char *argv[4], *w, *line;
	struct run r;
	struct buf b;
	size_t i;

	if (access(sh->path, X_OK) != 0)
		skip();
	for (i = 0; i < sizeof(chars); i++) {
		w = long_word(&spec, argv, chars[i], 0);
		buf_init(&b, LINE_MAX_LEN);
		assert_int_equal(sshcmd_build(&spec, &b, NULL, &errstr), 0);
		assert_true(b.len > SSHCMD_LINE_MAX - 8);
		assert_true(b.len <= SSHCMD_LINE_MAX);
		assert_non_null(line = buf_steal(&b, NULL));
		spawn(&r, sh, line, NULL);	/* this machine's /bin/sh */
		finish(&r);
		assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
		assert_int_equal(r.out.len, strlen(w));
		assert_memory_equal(r.out.data, w, strlen(w));
		run_free(&r);
		free(line);
		free(w);

		w = long_word(&spec, argv, chars[i], 8);
		buf_init(&b, LINE_MAX_LEN);
		assert_int_equal(buf_puts(&b, "kept"), 0);
		assert_int_equal(sshcmd_build(&spec, &b, NULL, &errstr),
		    ERR_TOOBIG);
		assert_non_null(strstr(errstr, "longer than 131071 bytes"));
		assert_string_equal(buf_str(&b), "kept");
		buf_free(&b);
		free(w);
	}
}

/* ---- the guard (one per connection) and guarded lines ---- */

/* Starts the guard the way sshd starts any session, in sh's shell. */
static void
guard_start(struct run *g, const struct shell *sh)
{
	char *line = as_sh(sh, sshcmd_guard());

	spawn(g, sh, line, NULL);
	g->marked = false;
	g->line = line;
}

static void
guard_say(struct run *g, char op, pid_t pgid, int64_t grace_ms)
{
	struct buf m;

	buf_init(&m, 64);
	assert_int_equal(sshcmd_guard_msg(&m, op, (long)pgid, grace_ms), 0);
	assert_int_equal(write(g->in_w, m.data, m.len), (ssize_t)m.len);
	buf_free(&m);
}

/* This user's login shell as sshd sees it: the passwd entry's, else
 * $SHELL. */
static const char *
login_shell(void)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *env = getenv("SHELL");

	if (pw != NULL && pw->pw_shell != NULL && pw->pw_shell[0] != '\0')
		return pw->pw_shell;
	return env != NULL ? env : "";
}

/* Closes the guard's channel; it ends, exit status 0, having said only
 * which login shell the user has, in a line the daemon reads as such. */
static void
guard_stop(struct run *g)
{
	struct sshcmd_shell heard;
	struct buf want;

	close_channel(g);
	finish(g);
	assert_true(WIFEXITED(g->status));
	assert_int_equal(WEXITSTATUS(g->status), 0);
	buf_init(&want, 4096);
	assert_int_equal(buf_printf(&want, SSHCMD_SHELL "%s\n", login_shell()),
	    0);
	assert_string_equal(buf_str(&g->out), buf_str(&want));
	assert_int_equal(g->err.len, 0);
	memset(&heard, 0, sizeof(heard));
	assert_int_equal(sshcmd_shell_feed(&heard, g->out.data, g->out.len),
	    sshcmd_shell_posix(login_shell()) ? SSHCMD_PLAIN : SSHCMD_WRAPPED);
	assert_string_equal(heard.head, login_shell());
	buf_free(&want);
	run_free(g);
}

/* The guard names the login shell first, whichever shell runs it. */
static void
test_guard_names_login_shell(void **state)
{
	struct run g;

	guard_start(&g, *state);
	guard_stop(&g);
}

/* Reads the run's stderr until its group's marker has come, as the daemon
 * does before it tells the guard about the run. */
static void
await_mark(struct run *r)
{
	struct pollfd p = { r->err_r, POLLIN, 0 };
	double end = now_s() + RUN_S;

	while (r->mark.pgid == 0) {
		assert_true(now_s() < end);
		if (poll(&p, 1, 100) > 0)
			assert_true(drain(r, r->err_r, &r->err));
	}
	assert_int_equal(r->mark.pgid, r->pid);
}

/* Starts spec's line, and returns once its marker has come: when the
 * daemon could tell the guard about it. */
static void
start_spec(struct run *r, const struct shell *sh, const struct exec_spec *spec)
{
	char *line = build(sh, spec);

	spawn(r, sh, line, NULL);
	r->line = line;
	await_mark(r);
}

/* A command that dies of TERM, and one that ignores it (and says when it
 * does). */
static char *meek[] = { "sleep", "100", NULL };
static char *stubborn[] = { "/bin/sh", "-c",
    "trap '' TERM; echo started; while :; do sleep 1; done", NULL };

/* What a run left in the background is TERMed when its end is reported
 * ("-"), not before. */
static void
test_guard_end_terms_leftovers(void **state)
{
	const struct shell *sh = *state;
	char *pidf = tmp_path("gleft.pid");
	char *argv[] = { "/bin/sh", "-c",
	    "sleep 100 >/dev/null 2>&1 & echo $! >\"$1\"; echo done", "sh",
	    pidf, NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 5000 };
	struct run g, r;
	long pid;

	unlink(pidf);
	guard_start(&g, sh);
	run_spec(&r, sh, &spec, NULL);
	assert_string_equal(r.out.data, "done\n");
	assert_int_equal(r.err.len, 0);		/* the marker is stripped */
	guard_say(&g, '+', r.pid, 5000);
	pid = read_pid(pidf);
	assert_false(pid_gone_within(pid, 300));
	guard_say(&g, '-', r.pid, 0);
	assert_true(pid_gone_within(pid, 3000));
	assert_true(group_gone_within(r.pid, 3000));
	run_free(&r);
	guard_stop(&g);
	free(pidf);
}

/* "t": TERM to the group; KILL once the grace has passed if it stays. */
static void
test_guard_timeout_term_then_kill(void **state)
{
	const struct shell *sh = *state;
	struct exec_spec s1 = { .argv = meek, .kill_grace_ms = 5000 };
	struct exec_spec s2 = { .argv = stubborn, .kill_grace_ms = 1500 };
	struct run g, r1, r2;
	double t0;

	guard_start(&g, sh);
	start_spec(&r1, sh, &s1);
	start_spec(&r2, sh, &s2);
	assert_true(drain(&r2, r2.out_r, &r2.out));	/* "started" */
	guard_say(&g, '+', r1.pid, s1.kill_grace_ms);
	guard_say(&g, '+', r2.pid, s2.kill_grace_ms);
	t0 = now_s();
	guard_say(&g, 't', r1.pid, s1.kill_grace_ms);
	guard_say(&g, 't', r2.pid, s2.kill_grace_ms);
	finish(&r1);
	assert_true(WIFSIGNALED(r1.status));
	assert_int_equal(WTERMSIG(r1.status), SIGTERM);
	assert_true(now_s() - t0 < 1.5);	/* TERM was enough */
	finish(&r2);
	assert_true(WIFSIGNALED(r2.status));
	assert_int_equal(WTERMSIG(r2.status), SIGKILL);
	assert_true(now_s() - t0 >= 1.9);	/* 1.5 s rounded up to 2 */
	assert_true(now_s() - t0 < 6);
	assert_true(group_gone_within(r2.pid, 3000));
	/* the guard's ended timeout subshells do not pile up as zombies:
	 * the shell reaps them by the next message at the latest (the one
	 * after they ended: a subshell may still be exiting just after its
	 * KILL, so wait for it to end first) */
	assert_true(children_ended_within(g.pid, 3000));
	guard_say(&g, '-', r1.pid, 0);
	assert_true(children_gone_within(g.pid, 3000));
	run_free(&r1);
	run_free(&r2);
	guard_stop(&g);
}

/* "?": nothing while the command runs; once it has ended, TERM to what it
 * left running with the output still open, so the channel can close. */
static void
test_guard_check_ends_leftover_holding_output(void **state)
{
	const struct shell *sh = *state;
	char *pidf = tmp_path("ghold.pid");
	char *busy[] = { "sleep", "100", NULL };
	char *argv[] = { "/bin/sh", "-c",
	    "sleep 100 & echo $! >\"$1\"; echo started", "sh", pidf, NULL };
	struct exec_spec s1 = { .argv = busy, .kill_grace_ms = 1000 };
	struct exec_spec s2 = { .argv = argv, .kill_grace_ms = 1000 };
	struct run g, r1, r2;
	long pid;

	unlink(pidf);
	guard_start(&g, sh);
	start_spec(&r1, sh, &s1);
	start_spec(&r2, sh, &s2);
	guard_say(&g, '+', r1.pid, 1000);
	guard_say(&g, '+', r2.pid, 1000);
	guard_say(&g, '?', r1.pid, 0);
	assert_false(pid_gone_within(r1.pid, 300));	/* still working */
	pid = read_pid(pidf);
	/* the command ends; sshd reaps it (a zombie still counts as alive) */
	assert_int_equal(waitpid(r2.pid, &r2.status, 0), r2.pid);
	r2.reaped = true;
	assert_false(pid_gone_within(pid, 300));	/* its leftover holds on */
	guard_say(&g, '?', r2.pid, 0);
	finish(&r2);
	assert_true(WIFEXITED(r2.status) && WEXITSTATUS(r2.status) == 0);
	assert_string_equal(r2.out.data, "started\n");
	assert_true(pid_gone_within(pid, 3000));
	guard_say(&g, 't', r1.pid, 1000);
	finish(&r1);
	assert_true(WIFSIGNALED(r1.status));
	run_free(&r1);
	run_free(&r2);
	guard_stop(&g);
	free(pidf);
}

/* When its channel ends (the daemon or the connection is gone), the guard
 * kills the groups still registered, TERM then KILL after the longest
 * grace, and leaves alone those never registered or already forgotten. */
static void
test_guard_eof_kills_registered(void **state)
{
	const struct shell *sh = *state;
	struct exec_spec s1 = { .argv = meek, .kill_grace_ms = 1000 };
	struct exec_spec s2 = { .argv = stubborn, .kill_grace_ms = 1500 };
	struct run g, r1, r2, r3, r4;
	double t0;

	guard_start(&g, sh);
	start_spec(&r1, sh, &s1);	/* registered, obeys TERM */
	start_spec(&r2, sh, &s2);	/* registered, ignores TERM */
	start_spec(&r3, sh, &s1);	/* never registered */
	start_spec(&r4, sh, &s2);	/* registered, then forgotten */
	assert_true(drain(&r2, r2.out_r, &r2.out));
	assert_true(drain(&r4, r4.out_r, &r4.out));
	guard_say(&g, '+', r1.pid, s1.kill_grace_ms);
	guard_say(&g, '+', r4.pid, s2.kill_grace_ms);
	guard_say(&g, '+', r2.pid, s2.kill_grace_ms);
	guard_say(&g, '-', r4.pid, 0);	/* TERM, which it ignores */
	t0 = now_s();
	close_channel(&g);
	finish(&r1);
	assert_true(WIFSIGNALED(r1.status));
	assert_int_equal(WTERMSIG(r1.status), SIGTERM);
	finish(&r2);
	assert_int_equal(WTERMSIG(r2.status), SIGKILL);
	assert_true(now_s() - t0 >= 1.9);
	finish(&g);
	assert_true(WIFEXITED(g.status) && WEXITSTATUS(g.status) == 0);
	assert_false(pid_gone_within(r3.pid, 100));
	assert_false(pid_gone_within(r4.pid, 100));
	kill(-r3.pid, SIGKILL);
	kill(-r4.pid, SIGKILL);
	finish(&r3);
	finish(&r4);
	run_free(&r1);
	run_free(&r2);
	run_free(&r3);
	run_free(&r4);
	run_free(&g);
}

static void
mark_run(const char *const *chunks, struct buf *out, struct sshcmd_mark *m)
{
	memset(m, 0, sizeof(*m));
	for (; *chunks != NULL; chunks++)
		sshcmd_mark_feed(m, *chunks, strlen(*chunks), err_feed, out);
	sshcmd_mark_end(m, err_feed, out);
}

/* The marker line is found whole, in any split, after what a login
 * shell's start-up files may print; everything else passes in order. */
static void
test_mark_scan(void **state)
{
	static const char *const whole[] = { "distcron-pgid 4242\nerr\n", NULL };
	static const char *const split[] = { "dist", "cron-pgid 4", "242",
	    "\n", "e", "rr\n", NULL };
	static const char *const after[] = { "motd\ndistcron-pgid 77\nx", NULL };
	static const char *const absent[] = { "just stderr\n", NULL };
	static const char *const low[] = { "distcron-pgid 1\nx", NULL };
	static const char *const later[] = { "abcdistcron-pgid 5\n", NULL };
	struct sshcmd_mark m;
	struct buf b;
	char big[SSHCMD_MARK_SCAN + 100];
	const char *const bigc[] = { big, "distcron-pgid 9\n", NULL };

	(void)state;
	buf_init(&b, 4096);
	mark_run(whole, &b, &m);
	assert_int_equal(m.pgid, 4242);
	assert_string_equal(buf_str(&b), "err\n");
	buf_reset(&b);
	mark_run(split, &b, &m);
	assert_int_equal(m.pgid, 4242);
	assert_string_equal(buf_str(&b), "err\n");
	buf_reset(&b);
	mark_run(after, &b, &m);
	assert_int_equal(m.pgid, 77);
	assert_string_equal(buf_str(&b), "motd\nx");
	buf_reset(&b);
	mark_run(absent, &b, &m);
	assert_int_equal(m.pgid, 0);
	assert_string_equal(buf_str(&b), "just stderr\n");
	buf_reset(&b);
	mark_run(low, &b, &m);		/* never "kill -- -1" */
	assert_int_equal(m.pgid, 0);
	assert_string_equal(buf_str(&b), "distcron-pgid 1\nx");
	buf_reset(&b);
	mark_run(later, &b, &m);	/* only at the start of a line */
	assert_int_equal(m.pgid, 0);
	buf_reset(&b);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mark_run(bigc, &b, &m);		/* not within the scan: passed on */
	assert_int_equal(m.pgid, 0);
	assert_int_equal(b.len, sizeof(big) - 1 + strlen(bigc[1]));
	buf_free(&b);
}

/* Only the shells tested with the plain line take it, by the last part of
 * their path. */
static void
test_shell_posix(void **state)
{
	static const char *const posix[] = { "/bin/bash", "/usr/local/bin/zsh",
	    "/bin/sh", "/usr/bin/dash", "/bin/mksh", "/x/y/sh", "//bash" };
	static const char *const other[] = { "/usr/bin/fish", "/bin/tcsh",
	    "/bin/csh", "", "/", "/bin/", "/usr/bin/nu", "/usr/bin/rc",
	    "/bin/busybox", "/bin/ash", "/bin/ksh", "/bin/ksh93",
	    "/bin/rbash", "/bin/bash ", " /bin/bash", "/bin/bash5",
	    "/bin/Bash", "/bin/sh/", "/bin/bash\n", "/bin/zsh-5.9",
	    "/bin/-bash", "/usr/bin/xonsh", "/usr/bin/elvish", "bash", "sh", "x/sh" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(posix) / sizeof(posix[0]); i++)
		assert_true(sshcmd_shell_posix(posix[i]));
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (sshcmd_shell_posix(other[i]))
			fail_msg("\"%s\" taken for a POSIX shell", other[i]);
}

/* Feeds the chunks into a fresh scan; returns the form it ends with. */
static enum sshcmd_form
shell_run(const char *const *chunks, struct sshcmd_shell *sh)
{
	memset(sh, 0, sizeof(*sh));
	for (; *chunks != NULL; chunks++)
		sshcmd_shell_feed(sh, *chunks, strlen(*chunks));
	return sh->form;
}

/* The guard's line is found whole, in any split, after what start-up
 * files may print; anything else leaves the wrapped line. */
static void
test_shell_scan(void **state)
{
	static const char *const bash[] = { "distcron-shell /bin/bash\n", NULL };
	static const char *const split[] = { "distc", "ron-shell /usr/", "bin/z",
	    "sh", "\nmore", NULL };
	static const char *const motd[] = { "Welcome\n\ndistcron-shell /bin/sh\n",
	    NULL };
	static const char *const fish[] = { "distcron-shell /usr/bin/fish\n",
	    NULL };
	static const char *const empty[] = { "distcron-shell \n", NULL };
	static const char *const open[] = { "distcron-shell /bin/bash", NULL };
	static const char *const mid[] = { "x distcron-shell /bin/sh\n", NULL };
	static const char *const ctl[] = { "distcron-shell /bin/\033sh\n",
	    "distcron-shell /bin/bash\n", NULL };
	static const char *const twice[] = { "distcron-shell /bin/fish\n"
	    "distcron-shell /bin/sh\n", NULL };
	char big[SSHCMD_SHELL_SCAN + 10];
	const char *const late[] = { big, "\ndistcron-shell /bin/sh\n", NULL };
	struct sshcmd_shell sh;

	(void)state;
	assert_int_equal(shell_run(bash, &sh), SSHCMD_PLAIN);
	assert_string_equal(sh.head, "/bin/bash");
	assert_int_equal(shell_run(split, &sh), SSHCMD_PLAIN);
	assert_string_equal(sh.head, "/usr/bin/zsh");
	assert_int_equal(shell_run(motd, &sh), SSHCMD_PLAIN);
	assert_string_equal(sh.head, "/bin/sh");
	assert_int_equal(shell_run(fish, &sh), SSHCMD_WRAPPED);
	assert_string_equal(sh.head, "/usr/bin/fish");
	assert_int_equal(shell_run(empty, &sh), SSHCMD_WRAPPED);
	assert_string_equal(sh.head, "");
	assert_int_equal(shell_run(open, &sh), SSHCMD_UNKNOWN);	/* no end */
	assert_int_equal(shell_run(mid, &sh), SSHCMD_UNKNOWN);
	assert_int_equal(shell_run(ctl, &sh), SSHCMD_PLAIN);	/* 2nd line */
	assert_string_equal(sh.head, "/bin/bash");
	assert_int_equal(shell_run(twice, &sh), SSHCMD_WRAPPED);	/* 1st */
	assert_int_equal(sshcmd_shell_feed(&sh, "distcron-shell /bin/sh\n", 23),
	    SSHCMD_WRAPPED);	/* known: stays */
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(shell_run(late, &sh), SSHCMD_WRAPPED);
	assert_string_equal(sh.head, "");
}

/* sshcmd_pick() finds each of the four lines: the plain ones are the
 * scripts the wrapped ones carry. */
static void
test_pick(void **state)
{
	char *argv[] = { "echo", "a b", NULL };
	struct exec_spec spec = { .argv = argv, .kill_grace_ms = 1000 };
	const char *errstr = NULL, *w, *wg, *p, *pg;
	struct sshcmd_lines at;
	struct buf b;

	(void)state;
	buf_init(&b, LINE_MAX_LEN);
	assert_int_equal(sshcmd_build(&spec, &b, &at, &errstr), 0);
	w = sshcmd_pick(b.data, &at, 0, 0);
	wg = sshcmd_pick(b.data, &at, 1, 0);
	p = sshcmd_pick(b.data, &at, 0, 1);
	pg = sshcmd_pick(b.data, &at, 1, 1);
	assert_ptr_equal(w, b.data);
	assert_memory_equal(w, WRAP_HEAD, strlen(WRAP_HEAD));
	assert_memory_equal(wg, WRAP_HEAD, strlen(WRAP_HEAD));
	assert_int_equal(strlen(w), strlen(WRAP_HEAD) + strlen(p) + 1);
	assert_memory_equal(w + strlen(WRAP_HEAD), p, strlen(p));
	assert_int_equal(strlen(wg), strlen(WRAP_HEAD) + strlen(pg) + 1);
	assert_memory_equal(wg + strlen(WRAP_HEAD), pg, strlen(pg));
	assert_non_null(strstr(p, "while read"));	/* the watcher */
	assert_null(strstr(pg, "while read"));
	assert_non_null(strstr(pg, SSHCMD_MARK));
	buf_free(&b);
}

static void
test_guard_msg(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(sshcmd_guard_msg(&b, '+', 123, 1500), 0);
	assert_int_equal(sshcmd_guard_msg(&b, 't', 123, 0), 0);
	assert_int_equal(sshcmd_guard_msg(&b, '-', 123, 0), 0);
	assert_int_equal(sshcmd_guard_msg(&b, '?', 123, 0), 0);
	assert_string_equal(buf_str(&b), "+123 2\nt123 1\n-123\n?123\n");
	assert_int_equal(sshcmd_guard_msg(&b, '+', 1, 0), ERR_INVALID);
	assert_int_equal(sshcmd_guard_msg(&b, '-', 0, 0), ERR_INVALID);
	assert_int_equal(sshcmd_guard_msg(&b, 'x', 123, 0), ERR_INVALID);
	buf_free(&b);
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

/* A POSIX login shell runs the script as /bin/sh too (a remote /bin/sh
 * may be any of them); fish and tcsh hand it to this machine's /bin/sh. */
static const struct shell dash_p = { "/bin/dash", false, NULL, true };
static const struct shell bash_p = { "/bin/bash", false, NULL, true };
static const struct shell zsh_p = { "/bin/zsh", false, NULL, true };
static const struct shell mksh_p = { "/bin/mksh", false, NULL, true };
static const struct shell dash_pg = { "/bin/dash", true, NULL, true };
static const struct shell bash_pg = { "/bin/bash", true, NULL, true };
static const struct shell zsh_pg = { "/bin/zsh", true, NULL, true };
static const struct shell mksh_pg = { "/bin/mksh", true, NULL, true };
static const struct shell dash = { "/bin/dash", false, "/bin/dash", false };
static const struct shell bash = { "/bin/bash", false, "/bin/bash", false };
static const struct shell zsh = { "/bin/zsh", false, "/bin/zsh", false };
static const struct shell mksh = { "/bin/mksh", false, "/bin/mksh", false };
static const struct shell fish = { "/usr/bin/fish", false, NULL, false };
static const struct shell tcsh = { "/usr/bin/tcsh", false, NULL, false };
static const struct shell dash_g = { "/bin/dash", true, "/bin/dash", false };
static const struct shell bash_g = { "/bin/bash", true, "/bin/bash", false };
static const struct shell zsh_g = { "/bin/zsh", true, "/bin/zsh", false };
static const struct shell mksh_g = { "/bin/mksh", true, "/bin/mksh", false };
static const struct shell fish_g = { "/usr/bin/fish", true, NULL, false };
static const struct shell tcsh_g = { "/usr/bin/tcsh", true, NULL, false };

#define EACH(t) \
	cmocka_unit_test_prestate(t, (void *)&dash), \
	cmocka_unit_test_prestate(t, (void *)&bash), \
	cmocka_unit_test_prestate(t, (void *)&zsh), \
	cmocka_unit_test_prestate(t, (void *)&mksh), \
	cmocka_unit_test_prestate(t, (void *)&fish), \
	cmocka_unit_test_prestate(t, (void *)&tcsh)

/* The guarded line (and the guard) in every shell. */
#define EACH_G(t) \
	cmocka_unit_test_prestate(t, (void *)&dash_g), \
	cmocka_unit_test_prestate(t, (void *)&bash_g), \
	cmocka_unit_test_prestate(t, (void *)&zsh_g), \
	cmocka_unit_test_prestate(t, (void *)&mksh_g), \
	cmocka_unit_test_prestate(t, (void *)&fish_g), \
	cmocka_unit_test_prestate(t, (void *)&tcsh_g)

/* The plain lines, in each POSIX login shell: with the watcher (P),
 * guarded (PG).  The guard's own timeout, check and EOF are the same for
 * every form (EACH_G runs the script in the same shells). */
#define EACH_P(t) \
	cmocka_unit_test_prestate(t, (void *)&dash_p), \
	cmocka_unit_test_prestate(t, (void *)&bash_p), \
	cmocka_unit_test_prestate(t, (void *)&zsh_p), \
	cmocka_unit_test_prestate(t, (void *)&mksh_p)
#define EACH_PG(t) \
	cmocka_unit_test_prestate(t, (void *)&dash_pg), \
	cmocka_unit_test_prestate(t, (void *)&bash_pg), \
	cmocka_unit_test_prestate(t, (void *)&zsh_pg), \
	cmocka_unit_test_prestate(t, (void *)&mksh_pg)

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
		EACH(test_no_injection),
		EACH(test_longest_line),
		cmocka_unit_test(test_mark_scan),
		cmocka_unit_test(test_guard_msg),
		cmocka_unit_test(test_shell_posix),
		cmocka_unit_test(test_shell_scan),
		cmocka_unit_test(test_pick),
		EACH_G(test_guard_names_login_shell),
		EACH_G(test_argv_round_trip),
		EACH_G(test_each_arg_alone),
		EACH_G(test_shell_string),
		EACH_G(test_environment),
		EACH_G(test_env_path_is_the_runs),
		EACH_G(test_working_dir),
		EACH_G(test_missing_working_dir),
		EACH_G(test_exit_codes),
		EACH_G(test_no_such_program),
		EACH_G(test_signal_reported),
		EACH_G(test_stdin_is_not_the_channel),
		EACH_G(test_watcher_is_not_the_commands_child),
		EACH_G(test_no_injection),
		EACH_G(test_guard_end_terms_leftovers),
		EACH_G(test_guard_timeout_term_then_kill),
		EACH_G(test_guard_check_ends_leftover_holding_output),
		EACH_G(test_guard_eof_kills_registered),
		EACH_P(test_argv_round_trip),
		EACH_P(test_each_arg_alone),
		EACH_P(test_shell_string),
		EACH_P(test_environment),
		EACH_P(test_env_path_is_the_runs),
		EACH_P(test_working_dir),
		EACH_P(test_missing_working_dir),
		EACH_P(test_exit_codes),
		EACH_P(test_no_such_program),
		EACH_P(test_signal_reported),
		EACH_P(test_stdin_is_not_the_channel),
		EACH_P(test_channel_close_kills_group),
		EACH_P(test_channel_close_kill_after_grace),
		EACH_P(test_normal_exit_leaves_nothing),
		EACH_P(test_watcher_is_not_the_commands_child),
		EACH_P(test_no_injection),
		EACH_PG(test_argv_round_trip),
		EACH_PG(test_each_arg_alone),
		EACH_PG(test_shell_string),
		EACH_PG(test_environment),
		EACH_PG(test_env_path_is_the_runs),
		EACH_PG(test_working_dir),
		EACH_PG(test_missing_working_dir),
		EACH_PG(test_exit_codes),
		EACH_PG(test_no_such_program),
		EACH_PG(test_signal_reported),
		EACH_PG(test_stdin_is_not_the_channel),
		EACH_PG(test_watcher_is_not_the_commands_child),
		EACH_PG(test_no_injection),
		EACH_PG(test_guard_end_terms_leftovers),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
