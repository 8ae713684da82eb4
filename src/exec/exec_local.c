/*
 * exec_local.c - the local executor: runs a command as a child process.
 *
 * A run is started with posix_spawn() (glibc uses clone(CLONE_VFORK), never a
 * full fork, and reports exec errors synchronously) on a spawner thread,
 * which runs raised above the rest of the machine when scheduler_nice asks
 * for it (prio.h); the new process group then gets the daemon's priority
 * back as soon as posix_spawn() returns.  The child gets its own process
 * group, an empty signal mask with every signal at its default
 * action, stdin from /dev/null, stdout and stderr on two pipes, no other
 * descriptors, the run's working directory and a small fixed environment
 * (built once, on first use) overlaid with the spec's entries.  A program
 * name without a slash is searched in the PATH of the run's environment, not
 * the daemon's.  (glibc leaves its two internal signals, 32 and 33, ignored
 * in the child; no program linked with glibc can use them anyway.)
 *
 * Everything else happens on the loop: the pipes are read into head/tail
 * captures as they become readable, and the exit is noticed through a pidfd
 * and collected with waitid().  A run is complete when the process has exited
 * and both pipes are at EOF; if a background grandchild keeps the pipes open,
 * the group is killed and the pipes closed LINGER_MS after the exit.  A
 * timeout or cancel() sends SIGTERM to the whole group, then SIGKILL after the
 * grace period.  A run that cannot be started is reported through a zero
 * timer, so done() never runs inside start().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/exec_local.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/outcap.h"
#include "distcron/prio.h"

#define BASE_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define LINGER_MS	2000	/* wait for the pipes after the exit */
#define GRACE_MS	10000	/* default SIGTERM -> SIGKILL delay */
#define POLL_MS		20	/* exit polling when pidfds are unavailable */
#define READ_CHUNK	65536
#define NOT_KILLED	EXEC_EXITED	/* kill_reason when we did not kill */
#define FIELDS_LEN	256	/* the spec's log_fields, cut past it */

struct exec_proc {
	struct loop *loop;
	exec_done_fn done;
	void (*spawned)(void *, int);
	void *arg;
	pid_t pid;			/* also the process group id */
	int pidfd;
	int fd[2];			/* stdout, stderr read ends; -1: closed */
	struct loop_watch *w_fd[2];
	struct loop_watch *w_pid;
	struct loop_timer *t_timeout, *t_kill, *t_linger, *t_poll;
	struct outcap cap[2];
	int64_t timeout_ms;
	int64_t grace_ms;
	enum exec_outcome kill_reason;	/* TIMEOUT, CANCELLED or NOT_KILLED */
	bool failed;			/* never started */
	bool exited;			/* reaped (or never started) */
	bool finished;			/* done() called or being called */
	bool spawning;			/* a spawner thread has it */
	char fields[FIELDS_LEN];	/* the spec's log_fields, or "" */
	bool cancel_pending;		/* cancel() came while spawning */
	int cld_code;			/* CLD_EXITED, CLD_KILLED, ... */
	int cld_status;
	struct exec_result *res;	/* filled in along the way */
};

/* Built once: the base environment and the spawn attributes. */
static pthread_once_t base_once = PTHREAD_ONCE_INIT;
static char **base_env;
static size_t base_n;
static posix_spawnattr_t base_attr;
static int base_err;

/*
 * Spawner threads.  posix_spawn() blocks the caller until the child has
 * called execve (CLONE_VFORK), which is most of a spawn's cost; doing it
 * on SPAWNERS threads overlaps those waits, so a burst of launches is not
 * serialised behind one thread, and the event loop stays free meanwhile.
 */
#define SPAWNERS	2

struct spawn_job {
	struct exec_proc *p;
	char **argv;		/* deep copy */
	char **envp;		/* base_env, or one owned block (env_dup) */
	char *wd;
	int r;
	struct spawn_job *next;
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static struct spawn_job *pool_head, **pool_tail = &pool_head;

/* ---- one-time setup ---- */

/* Appends "name=value" to base_env (sized by the caller). */
static int
base_add(const char *name, const char *value)
{
	struct buf b;
	char *s;

	buf_init(&b, 65536);
	if (buf_printf(&b, "%s=%s", name, value) != 0 ||
	    (s = buf_steal(&b, NULL)) == NULL) {
		buf_free(&b);
		return -ENOMEM;
	}
	base_env[base_n++] = s;
	return 0;
}

static int
base_env_build(void)
{
	static const char *const copied[] = { "LANG", "LC_ALL", "TZ" };
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	const char *v;
	size_t i;
	int r = 0;

	if ((base_env = calloc(16, sizeof(*base_env))) == NULL)
		return -ENOMEM;
	(void)getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &pwp);
	r |= base_add("PATH", BASE_PATH);
	r |= base_add("HOME", pwp != NULL ? pwp->pw_dir : "/");
	r |= base_add("SHELL", "/bin/sh");
	if (pwp != NULL) {
		r |= base_add("LOGNAME", pwp->pw_name);
		r |= base_add("USER", pwp->pw_name);
	}
	for (i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		if ((v = getenv(copied[i])) != NULL)
			r |= base_add(copied[i], v);
	return r != 0 ? -ENOMEM : 0;
}

static int
base_attr_build(void)
{
	short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF;
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	if ((r = posix_spawnattr_init(&base_attr)) != 0)
		return -r;
	if ((r = prio_spawn_attr(&base_attr, &flags)) != 0)
		return r;
	if ((r = posix_spawnattr_setflags(&base_attr, flags)) != 0 ||
	    (r = posix_spawnattr_setpgroup(&base_attr, 0)) != 0 ||
	    (r = posix_spawnattr_setsigmask(&base_attr, &none)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&base_attr, &all)) != 0)
		return -r;
	return 0;
}

static int spawn_child(struct exec_proc *, char *const *, char **,
    const char *);
static void spawn_done(void *);

static void *
spawner_main(void *arg)
{
	struct spawn_job *job;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	prio_raise_spawner();
	for (;;) {
		pthread_mutex_lock(&pool_mu);
		while (pool_head == NULL)
			pthread_cond_wait(&pool_cv, &pool_mu);
		job = pool_head;
		if ((pool_head = job->next) == NULL)
			pool_tail = &pool_head;
		pthread_mutex_unlock(&pool_mu);
		job->p->res->started_ms = loop_real_ms();
		job->r = spawn_child(job->p, job->argv, job->envp, job->wd);
		/* The run would hang without its answer: insist. */
		while (loop_post(job->p->loop, spawn_done, job) != 0)
			usleep(1000);
	}
	return NULL;
}

static int
pool_start(void)
{
	pthread_attr_t attr;
	pthread_t t;
	int i, n = 0, r = 0;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < SPAWNERS; i++) {
		if ((r = pthread_create(&t, &attr, spawner_main, NULL)) == 0)
			n++;
	}
	pthread_attr_destroy(&attr);
	return n > 0 ? 0 : -r;		/* one thread will do */
}

static void
base_init(void)
{
	if ((base_err = base_env_build()) == 0)
		base_err = base_attr_build();
	if (base_err == 0)
		base_err = pool_start();
}

/* ---- environment and program lookup ---- */

/* Length of the NAME in "NAME=VALUE", or 0 when s has no '=' or no name. */
static size_t
env_name_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq != NULL ? (size_t)(eq - s) : 0;
}

/*
 * Sets *envp to the base environment overlaid with extra (later entries
 * replace earlier ones of the same name; entries without a name are
 * skipped).  *envp is base_env itself when there is nothing to add, else a
 * new array of borrowed strings the caller frees.
 */
static int
env_build(char *const *extra, char ***envp)
{
	size_t n = 0, i, k, len;
	char **e;

	*envp = base_env;
	while (extra != NULL && extra[n] != NULL)
		n++;
	if (n == 0)
		return 0;
	if ((e = calloc(base_n + n + 1, sizeof(*e))) == NULL)
		return -ENOMEM;
	memcpy(e, base_env, base_n * sizeof(*e));
	k = base_n;
	for (; *extra != NULL; extra++) {
		if ((len = env_name_len(*extra)) == 0)
			continue;
		for (i = 0; i < k; i++)
			if (strncmp(e[i], *extra, len + 1) == 0)
				break;
		e[i] = *extra;
		if (i == k)
			k++;
	}
	*envp = e;
	return 0;
}

static const char *
env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/*
 * Finds name in the run's PATH, like execvp(): the first regular file with
 * an execute bit wins; -EACCES if only unusable candidates were seen, else
 * -ENOENT.  Empty PATH elements are skipped (they would mean the daemon's
 * directory, not the run's).
 */
static int
path_search(const char *name, char *const *envp, char *out, size_t outlen)
{
	const char *p, *end, *path = env_get(envp, "PATH");
	size_t dlen, nlen = strlen(name);
	struct stat st;
	int r = -ENOENT;

	for (p = path != NULL ? path : BASE_PATH; nlen > 0; p = end + 1) {
		end = strchrnul(p, ':');
		dlen = (size_t)(end - p);
		if (dlen > 0 && dlen + nlen + 2 <= outlen) {
			memcpy(out, p, dlen);
			out[dlen] = '/';
			memcpy(out + dlen + 1, name, nlen + 1);
			if (stat(out, &st) == 0) {
				if (S_ISREG(st.st_mode) &&
				    (st.st_mode & 0111) != 0)
					return 0;
				r = -EACCES;
			} else if (errno == EACCES)
				r = -EACCES;
		}
		if (*end == '\0')
			break;
	}
	return r;
}

/* ---- spawning ---- */

static void
set_error(struct exec_proc *p, const char *what, const char *arg, int err)
{
	snprintf(p->res->error, sizeof(p->res->error), "%s%s: %s", what, arg,
	    strerror(err));
}

/* Explains a failed spawn: a bad working directory, or the program. */
static void
explain_spawn_error(struct exec_proc *p, const char *wd, const char *prog,
    int err)
{
	struct stat st;
	int werr = 0;

	if (strcmp(wd, "/") != 0) {
		if (stat(wd, &st) != 0)
			werr = errno;
		else if (!S_ISDIR(st.st_mode))
			werr = ENOTDIR;
		else if (access(wd, X_OK) != 0)
			werr = errno;
	}
	if (werr != 0)
		set_error(p, "working_dir ", wd, werr);
	else
		set_error(p, "cannot execute ", prog, err);
}

static int
file_actions(posix_spawn_file_actions_t *fa, int out_w, int err_w,
    const char *wd)
{
	int r;

	if ((r = posix_spawn_file_actions_init(fa)) != 0)
		return r;
	if ((r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null",
	    O_RDONLY, 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(fa, out_w, 1)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(fa, err_w, 2)) != 0 ||
	    (r = posix_spawn_file_actions_addclosefrom_np(fa, 3)) != 0 ||
	    (r = posix_spawn_file_actions_addchdir_np(fa, wd)) != 0)
		posix_spawn_file_actions_destroy(fa);
	return r;
}

static int
open_pipes(struct exec_proc *p, int out_w[1], int err_w[1])
{
	int po[2], pe[2];

	if (pipe2(po, O_CLOEXEC) == -1)
		return errno;
	if (pipe2(pe, O_CLOEXEC) == -1) {
		close(po[0]);
		close(po[1]);
		return errno;
	}
	p->fd[0] = po[0];
	p->fd[1] = pe[0];
	*out_w = po[1];
	*err_w = pe[1];
	(void)fcntl(po[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(pe[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* A run started by a raised spawner gets the daemon's own priority; the
 * run leads its process group. */
static void
lower_child(const struct exec_proc *p, const char *prog)
{
	int r;

	if ((r = prio_lower_group(p->pid)) != 0)
		log_warn("%s (pid %ld) keeps the scheduler's priority: %s %s",
		    prog, (long)p->pid, strerror(-r), p->fields);
}

/* Spawns the child with its argv and environment.  Returns 0 or an errno
 * value (positive) with the reason already in p->res->error. */
static int
spawn_child(struct exec_proc *p, char *const *argv, char **envp,
    const char *wd)
{
	posix_spawn_file_actions_t fa;
	char pathbuf[4096];
	const char *prog = argv[0];
	int out_w = -1, err_w = -1, r;

	if (strchr(prog, '/') == NULL) {
		if ((r = -path_search(prog, envp, pathbuf,
		    sizeof(pathbuf))) != 0) {
			set_error(p, "cannot execute ", argv[0], r);
			return r;
		}
		prog = pathbuf;
	}
	if ((r = open_pipes(p, &out_w, &err_w)) != 0) {
		set_error(p, "cannot create pipes", "", r);
		return r;
	}
	if ((r = file_actions(&fa, out_w, err_w, wd)) != 0) {
		set_error(p, "cannot set up spawn", "", r);
		goto out;
	}
	r = posix_spawn(&p->pid, prog, &fa, &base_attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		explain_spawn_error(p, wd, argv[0], r);
	else
		lower_child(p, argv[0]);
 out:
	close(out_w);
	close(err_w);
	return r;
}

/* ---- running ---- */

static void finish(struct exec_proc *);

static void
pipe_close(struct exec_proc *p, int i)
{
	loop_watch_del(p->w_fd[i]);
	p->w_fd[i] = NULL;
	if (p->fd[i] != -1)
		close(p->fd[i]);
	p->fd[i] = -1;
}

static void
maybe_finish(struct exec_proc *p)
{
	if (p->exited && p->fd[0] == -1 && p->fd[1] == -1)
		finish(p);
}

/* Reads once from a pipe; closes it at EOF or on error. */
static bool
pipe_read(struct exec_proc *p, int i)
{
	char buf[READ_CHUNK];
	ssize_t n;

	n = read(p->fd[i], buf, sizeof(buf));
	if (n > 0) {
		/* On ENOMEM the bytes are counted but not kept. */
		(void)outcap_feed(&p->cap[i], buf, (size_t)n);
		return true;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return false;
	pipe_close(p, i);
	return false;
}

static void
on_pipe(int fd, uint32_t events, void *arg)
{
	struct exec_proc *p = arg;

	(void)pipe_read(p, fd == p->fd[0] ? 0 : 1);
	maybe_finish(p);
}

/* Sends sig to the run's process group.  The group id cannot be reused
 * while one of its members (here: a holder of our pipes) is alive. */
static void
signal_group(struct exec_proc *p, int sig)
{
	if (killpg(p->pid, sig) == -1 && errno != ESRCH)
		log_warn("exec: killpg %d: %s %s", (int)p->pid,
		    strerror(errno), p->fields);
}

/* The main process exited LINGER_MS ago but the pipes are still open. */
static void
on_linger(void *arg)
{
	struct exec_proc *p = arg;
	int i, n;

	p->t_linger = NULL;
	signal_group(p, SIGKILL);
	for (i = 0; i < 2; i++) {
		for (n = 0; n < 16 && p->fd[i] != -1 && pipe_read(p, i); n++)
			continue;
		pipe_close(p, i);
	}
	maybe_finish(p);
}

static void
exited(struct exec_proc *p, int code, int status)
{
	p->exited = true;
	p->cld_code = code;
	p->cld_status = status;
	loop_watch_del(p->w_pid);
	p->w_pid = NULL;
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	if ((p->fd[0] != -1 || p->fd[1] != -1) &&
	    loop_timer_add(p->loop, loop_mono_ms() + LINGER_MS, on_linger, p,
	    &p->t_linger) != 0)
		on_linger(p);
	else
		maybe_finish(p);
}

/* Collects the exit status if the child has exited.  Returns true then. */
static bool
reap(struct exec_proc *p)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG) == -1) {
		if (errno == EINTR)
			return false;
		/* ECHILD: reaped behind our back (SIGCHLD ignored?). */
		log_warn("exec: waitid %d: %s %s", (int)p->pid,
		    strerror(errno), p->fields);
		exited(p, 0, -1);
		return true;
	}
	if (si.si_pid == 0)
		return false;
	exited(p, si.si_code, si.si_status);
	return true;
}

static void
on_pidfd(int fd, uint32_t events, void *arg)
{
	(void)reap(arg);
}

static void
on_poll(void *arg)
{
	struct exec_proc *p = arg;

	p->t_poll = NULL;
	if (!reap(p) && loop_timer_add(p->loop, loop_mono_ms() + POLL_MS,
	    on_poll, p, &p->t_poll) != 0)
		log_error("exec: cannot poll pid %d %s", (int)p->pid,
		    p->fields);
}

static void
on_kill(void *arg)
{
	struct exec_proc *p = arg;

	p->t_kill = NULL;
	signal_group(p, SIGKILL);
}

/* Timeout or cancel: SIGTERM now, SIGKILL after the grace period. */
static void
begin_kill(struct exec_proc *p, enum exec_outcome reason)
{
	if (p->kill_reason != NOT_KILLED)
		return;
	p->kill_reason = reason;
	signal_group(p, SIGTERM);
	if (loop_timer_add(p->loop, loop_mono_ms() + p->grace_ms, on_kill, p,
	    &p->t_kill) != 0)
		signal_group(p, SIGKILL);
}

static void
on_timeout(void *arg)
{
	struct exec_proc *p = arg;

	p->t_timeout = NULL;
	if (p->kill_reason != NOT_KILLED)
		return;
	exec_timed_out(p->res, NULL, p->timeout_ms);
	begin_kill(p, EXEC_TIMEOUT);
}

/* Puts the running child on the loop.  Returns 0 or -errno. */
static int
watch_child(struct exec_proc *p)
{
	int i, r;

	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd != -1)
		r = loop_watch_add(p->loop, p->pidfd, EPOLLIN, on_pidfd, p,
		    &p->w_pid);
	else
		r = loop_timer_add(p->loop, loop_mono_ms() + POLL_MS, on_poll,
		    p, &p->t_poll);
	for (i = 0; i < 2 && r == 0; i++)
		r = loop_watch_add(p->loop, p->fd[i], EPOLLIN, on_pipe, p,
		    &p->w_fd[i]);
	if (r == 0 && p->timeout_ms > 0)
		r = loop_timer_add(p->loop, loop_mono_ms() + p->timeout_ms,
		    on_timeout, p, &p->t_timeout);
	return r;
}

/* ---- completion ---- */

static void
result_fill(struct exec_proc *p, struct exec_result *res)
{
	res->exit_code = -1;
	if (p->cld_code == CLD_EXITED)
		res->exit_code = p->cld_status;
	else if (p->cld_code == CLD_KILLED || p->cld_code == CLD_DUMPED)
		res->signal = p->cld_status;
	if (p->failed)
		res->outcome = EXEC_FAILED;
	else if (p->kill_reason != NOT_KILLED)
		res->outcome = p->kill_reason;
	else if (p->cld_code == CLD_EXITED)
		res->outcome = EXEC_EXITED;
	else if (res->signal != 0)
		res->outcome = EXEC_SIGNALED;
	else {
		res->outcome = EXEC_FAILED;
		snprintf(res->error, sizeof(res->error),
		    "exit status of pid %d lost", (int)p->pid);
	}
	res->ok = res->outcome == EXEC_EXITED && res->exit_code == 0;
	exec_result_output(res, p->cap);
	res->ended_ms = loop_real_ms();
}

/* Takes the run off the loop: timers, watches and descriptors. */
static void
proc_unwatch(struct exec_proc *p)
{
	loop_timer_del(p->t_timeout);
	loop_timer_del(p->t_kill);
	loop_timer_del(p->t_linger);
	loop_timer_del(p->t_poll);
	p->t_timeout = p->t_kill = p->t_linger = p->t_poll = NULL;
	loop_watch_del(p->w_pid);
	p->w_pid = NULL;
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	pipe_close(p, 0);
	pipe_close(p, 1);
}

static void
proc_release(struct exec_proc *p)
{
	proc_unwatch(p);
	outcap_free(&p->cap[0]);
	outcap_free(&p->cap[1]);
	exec_result_free(p->res);
	free(p);
}

static void
finish(struct exec_proc *p)
{
	struct exec_result *res = p->res;

	p->finished = true;
	p->res = NULL;
	result_fill(p, res);
	p->done(res, p->arg);
	proc_release(p);
}

/* ---- the executor ---- */

static int
proc_new(struct loop *loop, const struct exec_spec *spec, exec_done_fn done,
    void *arg, struct exec_proc **out)
{
	struct exec_proc *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->res = calloc(1, sizeof(*p->res))) == NULL) {
		free(p);
		return -ENOMEM;
	}
	p->loop = loop;
	p->done = done;
	p->spawned = spec->spawned;
	p->arg = arg;
	p->pid = -1;
	p->pidfd = p->fd[0] = p->fd[1] = -1;
	p->timeout_ms = spec->timeout_ms;
	snprintf(p->fields, sizeof(p->fields), "%s",
	    spec->log_fields != NULL ? spec->log_fields : "");
	p->grace_ms = spec->kill_grace_ms > 0 ? spec->kill_grace_ms : GRACE_MS;
	p->kill_reason = NOT_KILLED;
	outcap_init(&p->cap[0], spec->output_limit, spec->output_budget);
	outcap_init(&p->cap[1], spec->output_limit, spec->output_budget);
	p->res->started_ms = loop_real_ms();
	*out = p;
	return 0;
}

/* The child is running but cannot be watched: kill it and wait for it. */
static void
abandon_child(struct exec_proc *p, int r)
{
	int status;

	proc_unwatch(p);
	signal_group(p, SIGKILL);
	while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
		continue;
	set_error(p, "cannot watch the process", "", -r);
}

static void
spawn_job_free(struct spawn_job *job)
{
	char **a;

	for (a = job->argv; a != NULL && *a != NULL; a++)
		free(*a);
	free(job->argv);
	if (job->envp != base_env)
		free(job->envp);	/* NULL-safe */
	free(job->wd);
	free(job);
}

/* Copies an environment into one allocation: the pointers, then the
 * strings.  Returns NULL when out of memory. */
static char **
env_dup(char **envp)
{
	size_t n = 0, len = 0, i, l;
	char **e, *q;

	for (; envp[n] != NULL; n++)
		len += strlen(envp[n]) + 1;
	if ((e = malloc((n + 1) * sizeof(*e) + len)) == NULL)
		return NULL;
	q = (char *)(e + n + 1);
	for (i = 0; i < n; i++) {
		l = strlen(envp[i]) + 1;
		memcpy(q, envp[i], l);
		e[i] = q;
		q += l;
	}
	e[n] = NULL;
	return e;
}

/* Copies what the spawner needs: the spec may be gone when it runs.
 * envp stays the caller's. */
static struct spawn_job *
spawn_job_new(struct exec_proc *p, char *const *argv, char **envp,
    const char *wd)
{
	struct spawn_job *job;
	size_t n = 0, i;

	while (argv[n] != NULL)
		n++;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->p = p;
	job->envp = envp == base_env ? base_env : env_dup(envp);
	job->argv = calloc(n + 1, sizeof(*job->argv));
	job->wd = strdup(wd);
	for (i = 0; job->argv != NULL && i < n; i++)
		if ((job->argv[i] = strdup(argv[i])) == NULL)
			break;
	if (job->argv == NULL || i < n || job->wd == NULL ||
	    job->envp == NULL) {
		spawn_job_free(job);
		return NULL;
	}
	return job;
}

/* A spawner thread has answered: watch the child, or report the failure. */
static void
spawn_done(void *arg)
{
	struct spawn_job *job = arg;
	struct exec_proc *p = job->p;
	int r;

	p->spawning = false;
	if (job->r != 0)
		p->failed = p->exited = true;
	else if ((r = watch_child(p)) != 0) {
		abandon_child(p, r);
		p->failed = p->exited = true;
	}
	spawn_job_free(job);
	if (!p->failed && p->spawned != NULL)
		p->spawned(p->arg, (int)p->pid);
	if (p->failed)
		finish(p);
	else if (p->cancel_pending)
		begin_kill(p, EXEC_CANCELLED);
}

static int
local_start(struct loop *loop, const struct exec_spec *spec,
    exec_done_fn done, void *arg, struct exec_proc **out)
{
	char *sh_argv[] = { "/bin/sh", "-c", (char *)spec->shell, NULL };
	char *const *argv = spec->argv != NULL ? spec->argv : sh_argv;
	const char *wd = spec->working_dir != NULL ? spec->working_dir : "/";
	struct exec_proc *p = NULL;
	struct spawn_job *job;
	char **envp = NULL;
	int r;

	if (argv[0] == NULL || (spec->argv == NULL && spec->shell == NULL))
		return ERR_INVALID;
	pthread_once(&base_once, base_init);
	if (base_err != 0)
		return base_err;
	if ((r = env_build(spec->env, &envp)) != 0 ||
	    (r = proc_new(loop, spec, done, arg, &p)) != 0)
		goto out;
	if ((job = spawn_job_new(p, argv, envp, wd)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	p->spawning = true;
	pthread_mutex_lock(&pool_mu);
	*pool_tail = job;
	pool_tail = &job->next;
	pthread_cond_signal(&pool_cv);
	pthread_mutex_unlock(&pool_mu);
	*out = p;
	p = NULL;
	r = 0;
 out:
	if (p != NULL)
		proc_release(p);
	if (envp != base_env)
		free(envp);
	return r;
}

/* The handle is freed after done() returns; called from inside done() (or
 * for a run that never started) this is a no-op. */
static void
local_cancel(struct exec_proc *p)
{
	if (p == NULL || p->finished || p->failed)
		return;
	if (p->spawning) {		/* killed once it exists */
		p->cancel_pending = true;
		return;
	}
	begin_kill(p, EXEC_CANCELLED);
}

/* The captures so far, for a look at a command still running. */
static const struct outcap *
local_output(const struct exec_proc *p)
{
	return p->cap;
}

const struct exec_ops exec_local_ops = {
	.name = "local",
	.start = local_start,
	.cancel = local_cancel,
	.output = local_output,
};
