/*
 * distcrond.c - the daemon: reads its settings, opens the store (turning
 * runs a previous daemon left unfinished into LOST), loads the definitions
 * and runs the event loop until SIGTERM or SIGINT.
 *
 * Reloads are incremental: the names inotify reports (and the job an API
 * call wrote) are collected and only those files are read again
 * (defs_reload()); an inotify queue overflow, too many names, or a watched
 * directory moved away turn into a scan, as SIGHUP is: every file's
 * identity is compared and only the changed ones are read.  SIGUSR2
 * re-reads every file.
 *
 * Under a service manager: the log may go to log_file, reopened on
 * SIGUSR1 (logrotate); with NOTIFY_SOCKET set (systemd's Type=notify) the
 * daemon says READY=1 when its loop is about to run (jobs scheduled, the
 * API listening), STOPPING=1 when a stop begins, and WATCHDOG=1 from the
 * loop thread at half the watchdog's interval, so a loop that hangs stops
 * the pings.
 *
 * Signals are blocked in every thread and read through a signalfd on the
 * loop.  Definitions are reloaded on SIGHUP and when inotify reports a
 * change in either directory (after reload_delay of quiet, so an editor's
 * save or a bulk copy is read once); loading runs on a short-lived thread
 * and the result is applied on the loop thread.  A lock file in the state
 * directory keeps a second daemon off the same store; it holds the pid of
 * the daemon that has it (logrotate's postrotate signals that pid, a
 * second daemon names it) and is emptied at a clean stop.  The daemon starts
 * with umask DAEMON_UMASK, so that nothing it creates (state, job files,
 * known_hosts) is readable by others; files that hold secrets also get an
 * explicit mode where they are made.  Local jobs inherit that umask.
 * With config user, a daemon started as root switches to that user
 * (priv.h) once the log file, the API's socket and the locked state
 * directory are open, before any thread starts or the store opens.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "distcron/api.h"
#include "distcron/buf.h"
#include "distcron/cluster.h"
#include "distcron/config.h"
#include "distcron/control.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/es.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/notify.h"
#include "distcron/orphan.h"
#include "distcron/outbox.h"
#include "distcron/prio.h"
#include "distcron/priv.h"
#include "distcron/runner.h"
#include "distcron/sdnotify.h"
#include "distcron/secbox.h"
#include "distcron/secrets.h"
#include "distcron/spill.h"
#include "distcron/statsd.h"
#include "distcron/store.h"
#include "distcron/tz.h"

#define DAEMON_UMASK	027	/* group may read, others nothing */
#define DAEMON_OUTBOX_STOP_MS	5000	/* a sink's delivery in progress
					 * may finish this long at exit */

extern char **environ;

struct daemon {
	struct config cfg;
	struct priv priv;	/* config user: who the daemon becomes */
	const struct tz *zone;
	struct loop *loop;
	struct store *st;
	struct spill *spill;	/* results unsaved at shutdown go here */
	struct runner *runner;
	struct outbox *outbox;	/* reports and notifications; NULL: none */
	struct notify *notify;	/* its notification planner and sinks */
	struct es_config es;	/* Elasticsearch, read once at start */
	bool es_on;		/* ... when configured */
	struct statsd *statsd;	/* NULL: no statsd section */
	int sfd, ifd, lockfd;
	bool locked;		/* lockfd is flock'ed and names our pid */
	struct loop_watch *sig_watch, *ino_watch;
	struct loop_timer *reload_timer;
	struct defs_changes pending;	/* what the next load reads again */
	int jobs_wd, nodes_wd;	/* inotify's watches */
	int loading;		/* a loader thread is running */
	int reload_again;	/* a change came in while it ran */
	int stopping;
	struct waiter *waiting;	/* told when the running load is applied */
	struct waiter *next_waiting;	/* told after the next load */
	struct control *control;	/* the API's backend */
	struct api *api;
	pthread_t api_stopper;	/* stops the API off the loop at shutdown */
	int api_stopping;
	struct sdnotify *sdn;	/* the service manager; NULL: none */
	struct loop_timer *wd_timer;	/* the next WATCHDOG=1 */
	struct cluster *cluster;	/* cluster mode; NULL: off */
	struct defs_set *files;	/* cluster mode: the file-based set, which
				 * reloads start from; the runner's adds the
				 * jobs stored in etcd */
	int stop_waits;		/* the runner and the cluster, stopping */
	struct secbox_key seckey;	/* read as started (maybe root) */
	bool seckey_set;
	struct secbox_key prevkey;	/* the previous one, in a rotation */
	bool prevkey_set;
	struct secrets *secrets;	/* NULL: no secrets key */
};

/* Someone (the API) waiting for a reload that started after it asked. */
struct waiter {
	loop_fn fn;
	void *arg;
	struct waiter *next;
};

static void
report_diag(void *arg, const char *level, const char *file, const char *msg)
{
	if (strcmp(level, "error") == 0)
		log_error("%s: %s (file skipped)", file, msg);
	else
		log_warn("%s: %s", file, msg);
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: distcrond [OPTIONS]\n\n"
	    "Runs the jobs of JOBS_DIR on the nodes of NODES_DIR when they are"
	    " due,\nrecording every run in STATE_DIR.  Runs in the foreground;"
	    " use systemd or\nsupervisor to run it as a service.\n\n"
	    "Options (precedence: defaults < config file < environment <"
	    " flags):\n");
	config_usage(fp);
	fprintf(fp, "  --help                     this text\n"
	    "  --help-table=FORMAT        every setting as a table: man or md"
	    " (the manuals')\n"
	    "  --version                  print the version\n\n"
	    "Signals: SIGHUP reloads the definitions; SIGTERM or SIGINT stop"
	    " scheduling,\nlet running jobs finish (shutdown_grace), kill what"
	    " is left (TERM, then KILL\nafter the job's kill_grace) and exit"
	    " 0: a stop takes up to shutdown_grace +\nkill_grace (5 s more for"
	    " an SSH run whose node stops answering).\n");
	fprintf(fp, "SIGUSR1 reopens log_file (after logrotate renamed it).\n"
	    "SIGHUP re-reads the definition files whose size, mtime or inode"
	    " changed;\nSIGUSR2 re-reads all of them.\n");
}

/* --help-table=FORMAT: the table of settings the manuals are made from. */
static int
help_table(const char *format)
{
	if (config_table(stdout, format) != 0) {
		fprintf(stderr, "distcrond: --help-table: unknown format \"%.20s\""
		    " (man or md)\n", format);
		return 2;
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* ---- reloading ---- */

struct load_job {
	struct daemon *d;
	struct defs_changes ch;	/* what it reads again */
	struct defs_set *prev;	/* the runner's set, read only */
	struct defs_set *set;
	int rc;
	struct timespec t0;	/* started (CLOCK_MONOTONIC) */
};

static void reload_start(struct daemon *d);
static void cluster_files_reloaded(struct daemon *d);

/* Calls and frees a list of waiters. */
static void
waiters_call(struct waiter **list)
{
	struct waiter *w;

	while ((w = *list) != NULL) {
		*list = w->next;
		w->fn(w->arg);
		free(w);
	}
}

/* "N jobs (K kept with its previous definition: a.json)" */
static void
kept_text(size_t n, const char *what, size_t kept, const char *files,
    char *out, size_t outlen)
{
	if (kept == 0)
		snprintf(out, outlen, "%zu %s", n, what);
	else
		snprintf(out, outlen, "%zu %s (%zu kept with %s previous "
		    "definition: %s)", n, what, kept, kept == 1 ? "its" : "their",
		    files);
}

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The reload's line: what is in force now, the kept definitions counted,
 * how many files it parsed and how long it took, from its start to the
 * jobs planned. */
static void
log_reloaded(const struct runner_applied *a, int nerrors, size_t nparsed,
    double ms)
{
	char jobs[RUNNER_KEPT_MAX + 80], nodes[RUNNER_KEPT_MAX + 80];

	kept_text(a->jobs, "jobs", a->kept_jobs, a->kept_job_files, jobs,
	    sizeof(jobs));
	kept_text(a->nodes, "nodes", a->kept_nodes, a->kept_node_files, nodes,
	    sizeof(nodes));
	log_info("reloaded: %s, %s, %d file(s) with errors, %zu file%s parsed "
	    "in %.2f ms", jobs, nodes, nerrors, nparsed, nparsed == 1 ? "" : "s",
	    ms);
}

/* Puts set (a load of the files) in force.  In cluster mode it becomes
 * d->files, and the runner gets it merged with the jobs from etcd. */
static int
apply_defs(struct daemon *d, struct defs_set *set, int at_startup,
    struct runner_applied *a)
{
	struct defs_set *merged = set;

	if (d->cluster != NULL) {
		if (set != NULL) {
			defs_set_replace(d->files, set);
			d->files = set;
		}
		if (cluster_jobs_merge(d->cluster, d->files, d->cfg.jobs_dir,
		    &merged) != 0)
			return -ENOMEM;
	}
	if (d->notify != NULL && notify_set_jobs(d->notify, merged) != 0)
		log_error("notify: %s", strerror(ENOMEM));
	return runner_apply(d->runner, merged, at_startup, a);
}

/* Cluster mode: the jobs stored in etcd changed. */
static void
etcd_jobs_changed(void *arg)
{
	struct daemon *d = arg;
	struct runner_applied a;

	if (d->stopping || d->files == NULL)
		return;
	if (apply_defs(d, NULL, 0, &a) != 0)
		log_error("cluster: applying the jobs from etcd: out of memory");
	else
		log_info("cluster: %zu jobs in force (files and etcd)",
		    a.jobs);
}

static void
reload_done(void *arg)
{
	struct load_job *lj = arg;
	struct daemon *d = lj->d;
	struct runner_applied a;
	size_t nparsed;
	int nerrors;

	d->loading = 0;
	if (lj->rc != 0)
		log_error("reload failed: %s; keeping the old definitions",
		    err_str(lj->rc));
	else if (!d->stopping) {
		nerrors = lj->set->nerrors;
		nparsed = lj->set->nparsed;
		if ((lj->rc = apply_defs(d, lj->set, 0, &a)) == 0)
			log_reloaded(&a, nerrors, nparsed, ms_since(&lj->t0));
		lj->set = NULL;
	}
	if (lj->rc != 0)	/* what it should have read: all, next time */
		d->pending.all = true;
	else if (d->cluster != NULL && !d->stopping)
		cluster_files_reloaded(d);
	defs_set_free(lj->set);
	defs_changes_clear(&lj->ch);
	free(lj);
	waiters_call(&d->waiting);
	if (d->reload_again && !d->stopping) {
		d->reload_again = 0;
		reload_start(d);
	}
	if (!d->loading)	/* stopping, or the loader did not start */
		waiters_call(&d->next_waiting);
}

static void *
reload_thread(void *arg)
{
	struct load_job *lj = arg;
	struct daemon *d = lj->d;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	lj->rc = defs_reload(d->cfg.jobs_dir, d->cfg.nodes_dir, d->zone,
	    lj->prev, &lj->ch, &lj->set, report_diag, NULL);
	loop_post(d->loop, reload_done, lj);
	return NULL;
}

static void
reload_start(struct daemon *d)
{
	struct load_job *lj;
	pthread_attr_t attr;
	pthread_t t;

	if (d->loading) {
		d->reload_again = 1;
		return;
	}
	if ((lj = calloc(1, sizeof(*lj))) == NULL) {
		log_error("reload: out of memory");
		return;
	}
	lj->d = d;
	lj->ch = d->pending;	/* the changes go with the load */
	memset(&d->pending, 0, sizeof(d->pending));
	lj->prev = d->files != NULL ? d->files : runner_defs(d->runner);
	clock_gettime(CLOCK_MONOTONIC, &lj->t0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, reload_thread, lj) != 0) {
		log_error("reload: cannot start the loader thread");
		d->pending = lj->ch;
		free(lj);
	} else {
		d->loading = 1;
		d->waiting = d->next_waiting;	/* this load sees their files */
		d->next_waiting = NULL;
	}
	pthread_attr_destroy(&attr);
}

/* control.h's reload hook: reloads job's file (NULL: scans all) now, or
 * after the load in progress, which may have read it before the caller's
 * change, and calls done(arg) once that load is applied (at once when
 * stopping). */
static void
reload_for(void *ctx, const char *job, loop_fn done, void *arg)
{
	struct daemon *d = ctx;
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL || d->stopping) {
		free(w);
		done(arg);
		return;
	}
	if (job != NULL)
		defs_changes_add_name(&d->pending, true, job);
	else
		d->pending.all = true;
	w->fn = done;
	w->arg = arg;
	w->next = d->next_waiting;
	d->next_waiting = w;
	if (d->loading)
		d->reload_again = 1;
	else
		reload_start(d);
	if (!d->loading)	/* could not start a loader */
		waiters_call(&d->next_waiting);
}

static void
reload_timer_fired(void *arg)
{
	struct daemon *d = arg;

	d->reload_timer = NULL;
	reload_start(d);
}

/* Collects the names of one read's events; a queue overflow or a watched
 * directory moved away or deleted calls for a scan of everything.  True
 * if any event was about a definition (or called for a scan). */
static bool
inotify_names(struct daemon *d, const char *buf, ssize_t len)
{
	const struct inotify_event *ev;
	bool any = false;
	ssize_t off;

	for (off = 0; off + (ssize_t)sizeof(*ev) <= len;
	    off += (ssize_t)sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)(buf + off);
		if ((ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF |
		    IN_MOVE_SELF | IN_IGNORED)) != 0)
			any = d->pending.all = true;
		else if (ev->len > 0 && (ev->wd == d->jobs_wd ||
		    ev->wd == d->nodes_wd))
			any |= defs_changes_add_file(&d->pending,
			    ev->wd == d->jobs_wd, ev->name);
	}
	return any;
}

/* A file changed: reload once things have been quiet for reload_delay. */
static void
on_inotify(int fd, uint32_t events, void *arg)
{
	struct daemon *d = arg;
	char buf[16384] __attribute__((aligned(8)));
	bool any = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		any |= inotify_names(d, buf, n);
	if (d->stopping || !any)
		return;		/* only files that are not definitions */
	if (d->reload_timer != NULL)
		loop_timer_del(d->reload_timer);
	loop_timer_add(d->loop, loop_mono_ms() + d->cfg.reload_delay_ms,
	    reload_timer_fired, d, &d->reload_timer);
}

static int
watch_dirs(struct daemon *d)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
	    IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

	if ((d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -errno;
	if ((d->jobs_wd = inotify_add_watch(d->ifd, d->cfg.jobs_dir,
	    mask)) < 0 || (d->nodes_wd = inotify_add_watch(d->ifd,
	    d->cfg.nodes_dir, mask)) < 0)
		log_warn("inotify: %s; changes are picked up on SIGHUP only",
		    strerror(errno));
	return loop_watch_add(d->loop, d->ifd, EPOLLIN, on_inotify, d,
	    &d->ino_watch);
}

/* ---- the service manager and the log file ---- */

/* WATCHDOG=1 now, and again in half the watchdog's interval: from the
 * loop thread, so that a loop that hangs stops the pings. */
static void
watchdog_ping(void *arg)
{
	struct daemon *d = arg;

	d->wd_timer = NULL;
	(void)sdnotify_send(d->sdn, "WATCHDOG=1");
	if (loop_timer_add(d->loop, loop_mono_ms() +
	    sdnotify_watchdog_ms(d->sdn), watchdog_ping, d, &d->wd_timer) != 0)
		log_error("watchdog: out of memory; no more WATCHDOG=1");
}

/* READY=1 (jobs scheduled, the API listening), then the watchdog. */
static void
service_ready(struct daemon *d)
{
	struct runner_stats stats;
	char msg[128];
	int rc;

	if (d->sdn == NULL)
		return;
	runner_stats(d->runner, &stats);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=scheduling %zu jobs",
	    stats.jobs);
	if ((rc = sdnotify_send(d->sdn, msg)) != 0)
		log_warn("NOTIFY_SOCKET: cannot send READY=1: %s", err_str(rc));
	if (sdnotify_watchdog_ms(d->sdn) > 0)
		watchdog_ping(d);
}

/* SIGUSR1: logrotate has renamed the log file away. */
static void
log_file_reopen(struct daemon *d)
{
	int rc;

	if (d->cfg.log_file[0] == '\0')
		log_info("SIGUSR1: no log_file to reopen");
	else if ((rc = log_reopen()) != 0)
		log_error("SIGUSR1: cannot reopen log_file %s: %s; still "
		    "writing to the file it had", d->cfg.log_file, err_str(rc));
	else
		log_info("SIGUSR1: log_file reopened");
}

/*
 * The log file, if any, then the service manager's socket
 * (NOTIFY_SOCKET).  Returns 0, or an error said on stderr (the log has
 * nowhere else to go).
 */
static int
service_setup(struct daemon *d)
{
	char err[512];
	int rc;

	if (d->cfg.syslog && d->cfg.log_file[0] != '\0') {
		fprintf(stderr, "distcrond: log_file \"%s\" and syslog are "
		    "both set: choose one\n", d->cfg.log_file);
		return ERR_CONFIG;
	}
	if (d->cfg.log_file[0] != '\0' &&
	    (rc = log_open_file(d->cfg.log_file)) != 0) {
		fprintf(stderr, "distcrond: log_file %s: %s\n",
		    d->cfg.log_file, err_str(rc));
		return rc;
	}
	if ((rc = sdnotify_new(&d->sdn, err, sizeof(err))) != 0)
		log_warn("%s; the service manager will not hear from "
		    "distcrond", rc == -ENOMEM ? strerror(ENOMEM) : err);
	return 0;
}

/* ---- signals and shutdown ---- */

/* The runner has stopped, and the cluster (if any) has left. */
static void
shutdown_done(void *arg)
{
	struct daemon *d = arg;

	if (--d->stop_waits <= 0)
		loop_stop(d->loop);
}

/* Stops the runner (after the cluster's claimed ticks have launched). */
static void
shutdown_runner(void *arg)
{
	struct daemon *d = arg;

	runner_shutdown(d->runner, d->cfg.shutdown_grace_ms, shutdown_done,
	    d);
}

static void *
api_stopper(void *arg)
{
	struct daemon *d = arg;

	api_free(d->api);
	return NULL;
}

/*
 * Stops the API server without blocking the loop: requests in progress
 * may be waiting for the loop, so the server is stopped (which waits for
 * them) on a thread of its own while the loop goes on.  New requests are
 * answered 503 from now on.
 */
static void
api_stop(struct daemon *d)
{
	if (d->api == NULL)
		return;
	control_close(d->control);
	if (pthread_create(&d->api_stopper, NULL, api_stopper, d) == 0)
		d->api_stopping = 1;
	else
		api_free(d->api);
	d->api = NULL;
}

/* SIGHUP: the files whose identity changed; SIGUSR2 (full): all of them. */
static void
reload_signal(struct daemon *d, bool full)
{
	log_info("%s: reloading definitions (%s)", full ? "SIGUSR2" : "SIGHUP",
	    full ? "every file" : "the files that changed");
	if (full)
		d->pending.full = true;
	else
		d->pending.all = true;
	reload_start(d);
}

static void
on_signal(int fd, uint32_t events, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR2) {
			reload_signal(d, si.ssi_signo == SIGUSR2);
			continue;
		}
		if (si.ssi_signo == SIGUSR1) {
			log_file_reopen(d);
			continue;
		}
		if (d->stopping)
			continue;
		log_info("%s: stopping", strsignal((int)si.ssi_signo));
		(void)sdnotify_send(d->sdn, "STOPPING=1\nSTATUS=stopping: "
		    "running jobs may finish");
		d->stopping = 1;
		api_stop(d);
		if (d->reload_timer != NULL) {
			loop_timer_del(d->reload_timer);
			d->reload_timer = NULL;
		}
		d->stop_waits = d->cluster != NULL ? 2 : 1;
		if (d->cluster != NULL)	/* its claimed ticks launch first */
			cluster_leave(d->cluster, shutdown_runner,
			    shutdown_done, d);
		else
			shutdown_runner(d);
	}
}

static int
setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	if ((d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -errno;
	return loop_watch_add(d->loop, d->sfd, EPOLLIN, on_signal, d,
	    &d->sig_watch);
}

/* ---- startup ---- */

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

#define ORPHAN_REASON	"ended at restart: the daemon that started it had died"
#define ORPHANS_MAX	1024

struct orphans {
	struct orphan_id ids[ORPHANS_MAX];
	int64_t run[ORPHANS_MAX];
	bool alive[ORPHANS_MAX];
	size_t n;
};

static int
orphan_add(int64_t run_id, const char *proc, void *arg)
{
	struct orphans *o = arg;

	if (o->n < ORPHANS_MAX && orphan_parse(proc, &o->ids[o->n]) == 0)
		o->run[o->n++] = run_id;
	return 0;
}

/*
 * Before the unfinished runs become LOST: ends the local process groups
 * the previous daemon left running (orphan.h), so that no run of the last
 * daemon goes on beside the new one's.  Blocks up to their kill_grace.
 */
static void
orphans_end(struct daemon *d, struct orphans *o)
{
	size_t n;

	if (store_orphans(d->st, orphan_add, o) != 0 || o->n == 0)
		return;
	if ((n = orphan_end(o->ids, o->n, o->alive)) > 0)
		log_warn("ended %zu process group(s) of runs left by the "
		    "previous daemon", n);
}

static void
orphans_reason(struct daemon *d, const struct orphans *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (o->alive[i])
			store_run_reason_set(d->st, o->run[i], ORPHAN_REASON);
}

/* Saves what the last daemon spilled at shutdown (before unfinished runs
 * become LOST: those runs had finished), then reserves the spill file
 * again.  Returns 0, or an error when the spill cannot be applied (the
 * daemon does not start, so nothing is marked LOST). */
static int
spill_start(struct daemon *d)
{
	struct store_run **runs = NULL;
	char path[4096], err[512];
	size_t n = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/unsaved.spill", d->cfg.state_dir);
	if ((rc = spill_load(path, &runs, &n, err, sizeof(err))) != 0) {
		log_error("%s; remove the file to start without it", err);
		return rc;
	}
	if (n > 0 && (rc = store_runs_save(d->st, runs, n)) != 0)
		log_error("%s: %zu result(s) kept at the last shutdown cannot "
		    "be saved (store: %s); not starting, so that their runs are "
		    "not marked LOST", path, n, err_str(rc));
	else if (n > 0)
		log_info("%s: %zu result(s) kept at the last shutdown saved",
		    path, n);
	store_runs_free(runs, n);
	if (rc != 0)
		return rc;
	if ((rc = spill_open(path, SPILL_SIZE, &d->spill)) != 0)
		log_warn("%s: cannot reserve %d bytes (%s); results the store "
		    "cannot take at shutdown will only be logged", path,
		    SPILL_SIZE, err_str(rc));
	return 0;
}

static int es_settings(const struct config *cfg, struct es_config *ec);

/* Reads the Elasticsearch settings once (d->es), before the store
 * recovers: runs the previous daemon left unfinished become LOST, and with
 * Elasticsearch configured each gets its report entry as any final run
 * does (in the same transaction); each also gets a "failure" entry for
 * every notification sink, which sends it if the job asks for it. */
static int
recover_reports(struct daemon *d)
{
	static const char *const es_sink[] = { ES_SINK_NAME };
	static const char *notify_names[NOTIFY_SINKS];
	int rc;

	store_recover_failures(d->st, notify_names,
	    notify_sink_names(&d->cfg, notify_names, NOTIFY_SINKS));
	if ((rc = es_settings(&d->cfg, &d->es)) == 1)
		return 0;
	if (rc != 0)
		return rc;
	d->es_on = true;
	store_recover_reports(d->st, es_sink, 1);
	return 0;
}

/* The state directory is 0700 and, when the daemon switches users, that
 * user's with all it holds (priv.h). */
static int
state_private(struct daemon *d)
{
	char err[512];
	int rc;

	if ((rc = priv_state_dir(&d->priv, d->cfg.state_dir, err,
	    sizeof(err))) != 0)
		log_error("%s", err);
	return rc;
}

/* The pid the lock file names (the daemon holding it wrote it), or 0. */
static long
lock_holder(int fd)
{
	char text[32];
	int64_t pid;
	ssize_t n;

	if ((n = pread(fd, text, sizeof(text) - 1, 0)) <= 0)
		return 0;
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	return dur_parse_int(text, 1, INT32_MAX, &pid) == 0 ? (long)pid : 0;
}

/* Puts our pid in the lock file we hold ("PID\n" alone): logrotate's
 * postrotate signals it, a second daemon names it.  Returns 0 or -errno. */
static int
lock_write_pid(int fd)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

/* Takes the state directory's lock file, or says who holds it. */
static int
lock_take(struct daemon *d, const char *path)
{
	long holder;
	int e, rc;

	d->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lockfd >= 0)
		(void)fchmod(d->lockfd, 0600);	/* an older daemon's 0640 */
	if (d->lockfd >= 0 && flock(d->lockfd, LOCK_EX | LOCK_NB) == 0) {
		d->locked = true;
		if ((rc = lock_write_pid(d->lockfd)) != 0)
			log_warn("%s: cannot write the pid: %s (logrotate will "
			    "not signal this daemon)", path, err_str(rc));
		return 0;
	}
	if ((e = errno) == EWOULDBLOCK && (holder = lock_holder(d->lockfd)) >
	    0)
		log_error("%s: already running as pid %ld (another distcrond "
		    "is using this state directory)", path, holder);
	else
		log_error("%s: %s", path, e == EWOULDBLOCK ?
		    "another distcrond is using this state directory" :
		    strerror(e));
	return ERR_BUSY;
}

/* The state directory, made if needed, locked (one daemon per directory;
 * the lock file holds the daemon's pid), then made private
 * (state_private); before the switch of users. */
static int
lock_state(struct daemon *d)
{
	char path[4096];
	int rc;

	if ((rc = mkdir_p(d->cfg.state_dir, 0700)) != 0) {
		log_error("state_dir %s: %s", d->cfg.state_dir, err_str(rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/distcrond.lock", d->cfg.state_dir);
	if ((rc = lock_take(d, path)) != 0)
		return rc;
	return state_private(d);
}

/* The store, as the daemon's user: what the last daemon spilled and left
 * unfinished is settled before anything runs. */
static int
open_state(struct daemon *d)
{
	char path[4096];
	const char *why;
	struct orphans *o;
	int rc, nlost = 0;

	snprintf(path, sizeof(path), "%s/distcron.db", d->cfg.state_dir);
	if ((rc = store_open(path, false, &d->st, &why)) != 0) {
		log_error("%s", why);
		return rc;
	}
	if ((rc = spill_start(d)) != 0)
		return rc;
	if ((rc = recover_reports(d)) != 0)
		return rc;
	if ((o = calloc(1, sizeof(*o))) != NULL)
		orphans_end(d, o);
	rc = store_recover(d->st, loop_real_ms(), &nlost);
	if (rc == 0 && o != NULL)
		orphans_reason(d, o);
	free(o);
	if (rc != 0) {
		log_error("%s: cannot recover unfinished runs: %s", path,
		    err_str(rc));
		return rc;
	}
	if (nlost > 0)
		log_warn("%d run(s) left unfinished by the previous daemon "
		    "marked LOST", nlost);
	return 0;
}

/* ---- the outbox ---- */

/* The Elasticsearch settings: the config's section, else distcrond's
 * es_host/es_port.  Returns 1 when neither is there, 0, or ERR_CONFIG
 * (logged, naming the config file and the field). */
static int
es_settings(const struct config *cfg, struct es_config *ec)
{
	char err[512];
	int rc;

	if (cfg->elasticsearch != NULL)
		rc = es_config_from_json(cfg->elasticsearch, ec, err,
		    sizeof(err));
	else if (cfg->es_host != NULL && cfg->es_host[0] != '\0')
		rc = es_config_from_legacy(cfg->es_host, cfg->es_port, ec, err,
		    sizeof(err));
	else
		return 1;
	if (rc == 0)
		return 0;
	log_error("%s: %s", cfg->elasticsearch != NULL && cfg->config_file !=
	    NULL ? cfg->config_file : "es_host", rc == -ENOMEM ?
	    strerror(ENOMEM) : err);
	return ERR_CONFIG;
}

/* Registers the Elasticsearch sink and its report planner, if configured
 * (d->es); says once at start when it is not. */
static int
outbox_es(struct daemon *d, struct outbox *ob)
{
	const struct outbox_sink_ops *ops;
	void *arg;
	int rc;

	if (!d->es_on) {
		log_info("no Elasticsearch configured (elasticsearch section or "
		    "es_host): run reports stay in SQLite only");
		return 0;
	}
	if ((rc = es_sink_new(&d->es, &ops, &arg)) == 0 &&
	    (rc = outbox_add_sink(ob, ops, arg, (size_t)d->es.batch_docs)) !=
	    0)
		ops->free(arg);
	if (rc == 0)
		rc = outbox_set_flush(ob, ES_SINK_NAME,
		    d->es.flush_interval_ms);
	if (rc == 0)
		rc = outbox_add_planner(ob, outbox_plan_reports,
		    (void *)ES_SINK_NAME);
	if (rc != 0)
		log_error("elasticsearch: %s", err_str(rc));
	return rc;
}

/* Registers the notification sinks (e-mail when SMTP is configured,
 * webhook, Slack) and their planner: jobs may ask for them at any reload. */
static int
outbox_notify(struct daemon *d, struct outbox *ob)
{
	struct notify_sink sinks[NOTIFY_SINKS];
	size_t i, n;
	int rc;

	if ((rc = notify_new(&d->cfg, &d->notify)) != 0)
		return rc;
	notify_set_secrets(d->notify, d->secrets);
	n = notify_sinks(d->notify, sinks, NOTIFY_SINKS);
	for (i = 0; i < n; i++)
		if ((rc = outbox_add_sink(ob, sinks[i].ops, sinks[i].arg,
		    0)) != 0)
			return rc;
	return outbox_add_planner(ob, notify_plan, d->notify);
}

/* Registers the sinks (and their planners) the configuration turns on. */
static int
outbox_sinks(struct daemon *d, struct outbox *ob)
{
	int rc;

	if ((rc = outbox_es(d, ob)) != 0 ||
	    (rc = outbox_notify(d, ob)) != 0)
		return rc;
	return 0;
}

/* statsd, when configured: a finish hook of the runner. */
static int
start_statsd(struct daemon *d)
{
	struct run_finish_hook h = { "statsd", statsd_run_finished, NULL };
	char err[512];
	int rc;

	if (d->cfg.statsd.host == NULL)
		return 0;
	if ((rc = statsd_new(&d->cfg.statsd, &d->statsd, err,
	    sizeof(err))) != 0) {
		log_error("%s: %s", d->cfg.config_file != NULL ?
		    d->cfg.config_file : "statsd", err);
		return rc;
	}
	h.arg = d->statsd;
	if ((rc = runner_add_finish_hook(d->runner, &h)) < 0)
		log_error("statsd: %s", err_str(rc));
	return rc < 0 ? rc : 0;
}

/* The outbox's depth per sink, as a statsd gauge (outbox_depth_fn). */
static void
statsd_depth(void *arg, const char *sink, int64_t depth)
{
	statsd_outbox_depth(arg, sink, depth);
}

/* Creates the outbox when a sink is configured, puts its plan step into
 * the runner and starts its thread; without a sink, says once that
 * reports stay in SQLite.  The notification sinks know the jobs of set
 * before the thread starts: entries left from before (the LOST runs' among
 * them) find their job. */
static int
start_outbox(struct daemon *d, const struct defs_set *set)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/distcron.db", d->cfg.state_dir);
	if ((rc = outbox_new(&d->cfg, path, &d->outbox)) != 0 ||
	    (rc = outbox_sinks(d, d->outbox)) != 0)
		return rc;
	if (outbox_stats(d->outbox, NULL, 0) == 0) {
		log_info("no outbox sink: nothing leaves distcron after a "
		    "run");
		outbox_free(d->outbox);
		d->outbox = NULL;
		return 0;
	}
	if (d->statsd != NULL)
		outbox_on_depth(d->outbox, statsd_depth, d->statsd);
	store_on_outbox(d->st, outbox_wake, d->outbox);
	if ((rc = notify_set_jobs(d->notify, set)) != 0 ||
	    (rc = runner_set_plan(d->runner, outbox_plan, d->outbox)) != 0 ||
	    (rc = outbox_start(d->outbox)) != 0)
		log_error("outbox: %s", err_str(rc));
	return rc;
}

/* After the runner: every final record is in the store by now.  A sink
 * still delivering at the deadline keeps its thread, and the notifications
 * it may be using are left to the exit. */
static void
stop_outbox(struct daemon *d)
{
	if (d->outbox == NULL)
		return;
	store_on_outbox(d->st, NULL, NULL);
	if (outbox_stop(d->outbox, DAEMON_OUTBOX_STOP_MS) != 0)
		d->notify = NULL;
	outbox_free(d->outbox);
	d->outbox = NULL;
}

/* Once what needs root is open (the log file, the API's socket, the state
 * directory, locked and handed over): becomes the configured user for
 * good.  No thread has started yet and the store is not open, so every
 * file made from here on is that user's. */
static int
become_user(struct daemon *d)
{
	char err[512];
	int rc;

	if (!d->priv.drop && geteuid() == 0 && !d->cfg.allow_root_jobs)
		log_warn("running as root without user: local jobs are "
		    "refused (set user, or allow_root_jobs)");
	if (!d->priv.drop)
		return 0;
	if ((rc = priv_drop(&d->priv, err, sizeof(err))) != 0) {
		log_error("%s", err);
		return rc;
	}
	log_info("running as user %s (uid %u, gid %u)", d->priv.name,
	    (unsigned)d->priv.uid, (unsigned)d->priv.gid);
	return 0;
}

/* ---- cluster mode ---- */

static int
cl_health(void *arg, char *why, size_t n)
{
	return cluster_health(arg, why, n);
}

static void
cl_monitor(void *arg, json_object *o)
{
	cluster_monitor(arg, o);
}

static void
cl_metrics(void *arg, struct buf *b)
{
	cluster_metrics(arg, b);
}

static char *
cl_status(void *arg)
{
	return cluster_status_json(arg);
}

static int
cl_job_write(void *arg, const char *name, const char *text, size_t len,
    cluster_job_done_fn done, void *done_arg)
{
	return cluster_job_write(arg, name, text, len, done, done_arg);
}

static char *
cl_job_text(void *arg, const char *name)
{
	return cluster_job_text(arg, name);
}

static char *
cl_warnings(void *arg)
{
	return cluster_warnings_json(arg);
}

static const struct control_cluster_ops cluster_control_ops = {
	.health = cl_health, .monitor = cl_monitor, .metrics = cl_metrics,
	.status = cl_status, .job_write = cl_job_write,
	.job_text = cl_job_text, .warnings = cl_warnings,
};

/* Cluster mode (cluster.etcd set): the cluster's claim wraps the local
 * one before the first runner_apply. */
static int
start_cluster(struct daemon *d, const struct defs_set *set)
{
	const struct config_cluster *cc = &d->cfg.cluster;
	struct cluster_opts o = {
		.etcd = { .endpoints = cc->etcd, .timeout_ms = 0 },
		.ns = cc->namespace, .member = cc->member,
		.lease_ttl_ms = cc->lease_ttl_ms, .version = PACKAGE_VERSION,
		.reports_per_job = cc->reports_per_job,
	};
	char err[512];
	int rc;

	if (!config_cluster_on(&d->cfg))
		return 0;
	o.etcd.ca_file = cc->ca_file[0] ? cc->ca_file : NULL;
	o.etcd.cert_file = cc->cert_file[0] ? cc->cert_file : NULL;
	o.etcd.key_file = cc->key_file[0] ? cc->key_file : NULL;
	o.etcd.username = cc->username[0] ? cc->username : NULL;
	o.etcd.password = cc->password[0] ? cc->password : NULL;
	err[0] = '\0';
	if ((rc = cluster_new(d->loop, &o, &d->cluster, err, sizeof(err))) != 0 ||
	    (rc = cluster_attach(d->cluster, d->runner)) != 0 ||
	    (rc = cluster_set_jobs(d->cluster, set, d->cfg.jobs_dir)) != 0) {
		log_error("cluster: %s", err[0] ? err : err_str(rc));
		return rc;
	}
	return 0;
}

/* Cluster mode: the job files now in force (those of jobs_dir among the
 * runner's jobs), compared with the other members'. */
static void
cluster_files_reloaded(struct daemon *d)
{
	if (cluster_set_jobs(d->cluster, runner_defs(d->runner),
	    d->cfg.jobs_dir) != 0)
		log_error("cluster: job files: %s", strerror(ENOMEM));
}

/* The API server's threads, on the socket opened before the switch. */
static int
start_api(struct daemon *d)
{
	struct api_backend be;
	char err[512];
	int rc;

	if ((rc = control_new(&d->cfg, d->zone, d->loop, d->runner, d->st,
	    reload_for, d, &d->control)) != 0)
		return rc;
	if (d->outbox != NULL)
		control_set_outbox(d->control, &outbox_control_ops, d->outbox);
	if (d->cluster != NULL)
		control_set_cluster(d->control, &cluster_control_ops,
		    d->cluster);
	control_backend(d->control, &be);
	be.secrets = d->secrets;
	if ((rc = api_start(d->api, &d->cfg, &be, err, sizeof(err))) != 0) {
		log_error("API: %s", err);
		return rc;
	}
	return 0;
}

/* The secrets keys, read while the daemon may still be root: the current
 * one, and the previous one of a rotation (which needs a current one). */
static int
read_keys(struct daemon *d, char *err, size_t errlen)
{
	int rc;

	if ((rc = secbox_key_get(d->cfg.secrets_key_file, true, &d->seckey,
	    err, errlen)) < 0)
		return rc;
	d->seckey_set = rc == 0;
	if ((rc = secbox_key_get_env(d->cfg.secrets_previous_key_file,
	    "DISTCRON_SECRETS_PREVIOUS_KEY", true, &d->prevkey, err,
	    errlen)) < 0)
		return rc;
	d->prevkey_set = rc == 0;
	if (d->prevkey_set && !d->seckey_set) {
		snprintf(err, errlen, "secrets_previous_key_file (or "
		    "DISTCRON_SECRETS_PREVIOUS_KEY) is set but there is no "
		    "current key: set secrets_key_file or DISTCRON_SECRETS_KEY");
		return ERR_CONFIG;
	}
	return 0;
}

/*
 * What may need root, in a daemon started as root: the log file, the
 * state directory (locked, handed to the user), the API's socket (a port
 * below 1024) and TLS key; then the switch of users (become_user).  No
 * thread has started yet: the store, the runner's pools, the outbox and
 * the API server all start after it, as the daemon's user.
 */
static int
start_root(struct daemon *d)
{
	char err[512];
	const char *why;
	int rc;

	if ((rc = service_setup(d)) != 0)
		return rc;
	if ((rc = tz_get(d->cfg.timezone, &d->zone, &why)) != 0) {
		log_error("timezone \"%s\": %s", d->cfg.timezone, why);
		return rc;
	}
	if ((rc = loop_new(&d->loop)) != 0 || (rc = setup_signals(d)) != 0) {
		log_error("event loop: %s", err_str(rc));
		return rc;
	}
	if ((rc = lock_state(d)) != 0)
		return rc;
	if ((rc = api_listen(&d->cfg, &d->api, err, sizeof(err))) != 0) {
		log_error("API: %s", err);
		return rc;
	}
	if ((rc = read_keys(d, err, sizeof(err))) != 0) {
		log_error("%s", err);
		return rc;
	}
	return become_user(d);
}

/* A secret was set: the job and node files refused (maybe for lacking it)
 * are read again.  On the loop. */
static void
secret_set_loop(void *arg)
{
	struct daemon *d = arg;
	struct defs_set *set = d->files != NULL ? d->files :
	    runner_defs(d->runner);
	size_t i;

	if (set == NULL || set->nbad_jobs + set->nbad_nodes == 0 ||
	    d->stopping)
		return;
	for (i = 0; i < set->nbad_jobs; i++)
		defs_changes_add_name(&d->pending, true, set->bad_jobs[i]);
	for (i = 0; i < set->nbad_nodes; i++)
		defs_changes_add_name(&d->pending, false, set->bad_nodes[i]);
	if (d->loading)
		d->reload_again = 1;
	else
		reload_start(d);
}

/* secrets_on_set()'s hook, on an API thread. */
static void
secret_set_hook(void *arg)
{
	struct daemon *d = arg;

	(void)loop_post(d->loop, secret_set_loop, d);
}

/* The secrets, once the store is open: the key must open every one.  Job
 * files are checked against them from now on (defs_secrets_hook()). */
static int
start_secrets(struct daemon *d)
{
	char err[512];
	int rc;

	defs_secrets_hook(secrets_check, NULL);
	if (!d->seckey_set)
		return 0;
	rc = secrets_new_keys(d->st, &d->seckey, d->prevkey_set ?
	    &d->prevkey : NULL, &d->secrets, err, sizeof(err));
	secbox_key_wipe(&d->seckey);
	secbox_key_wipe(&d->prevkey);
	if (rc != 0) {
		log_error("%s", err[0] != '\0' ? err : err_str(rc));
		return rc;
	}
	defs_secrets_hook(secrets_check, d->secrets);
	secrets_on_set(d->secrets, secret_set_hook, d);
	return 0;
}

static int
start(struct daemon *d)
{
	struct defs_set *set = NULL;
	struct runner_stats stats;
	int rc;

	if ((rc = start_root(d)) != 0 || (rc = open_state(d)) != 0 ||
	    (rc = start_secrets(d)) != 0)
		return rc;
	if ((rc = defs_load(d->cfg.jobs_dir, d->cfg.nodes_dir, d->zone, &set,
	    report_diag, NULL)) != 0) {
		log_error("cannot read %s or %s: %s", d->cfg.jobs_dir,
		    d->cfg.nodes_dir, err_str(rc));
		return rc;
	}
	if ((rc = runner_new(&d->cfg, d->loop, d->st, &d->runner)) == 0) {
		runner_set_spill(d->runner, d->spill);
		runner_set_secrets(d->runner, d->secrets);
	}
	if (rc != 0) {
		defs_set_free(set);
		log_error("runner: %s", err_str(rc));
		return rc;
	}
	if ((rc = start_statsd(d)) != 0 || (rc = start_outbox(d, set)) != 0 ||
	    (rc = start_cluster(d, set)) != 0) {
		defs_set_free(set);
		return rc;
	}
	log_info("distcrond %s: %zu jobs, %zu nodes, %d file(s) with errors; "
	    "jobs %s, nodes %s, state %s", PACKAGE_VERSION, set->njobs,
	    set->nnodes, set->nerrors, d->cfg.jobs_dir, d->cfg.nodes_dir,
	    d->cfg.state_dir);
	if ((rc = d->cluster != NULL ? apply_defs(d, set, 1, NULL) :
	    runner_apply(d->runner, set, 1, NULL)) != 0)
		return rc;
	runner_stats(d->runner, &stats);
	log_info("scheduling %zu jobs", stats.jobs);
	if (d->cluster != NULL && ((rc = cluster_start(d->cluster)) != 0 ||
	    (rc = cluster_jobs_start(d->cluster, d->zone, etcd_jobs_changed,
	    d)) != 0))
		return rc;
	if (d->cluster != NULL && d->secrets != NULL &&
	    (rc = cluster_secrets_start(d->cluster, d->secrets)) != 0)
		return rc;
	if ((rc = start_api(d)) != 0)
		return rc;
	if ((rc = watch_dirs(d)) != 0)
		log_warn("inotify: %s; changes are picked up on SIGHUP only",
		    err_str(rc));
	return 0;
}

static void
cleanup(struct daemon *d)
{
	api_stop(d);
	if (d->api_stopping)
		pthread_join(d->api_stopper, NULL);
	control_free(d->control);
	waiters_call(&d->waiting);
	waiters_call(&d->next_waiting);
	defs_changes_clear(&d->pending);
	runner_free(d->runner);
	cluster_free(d->cluster);
	defs_set_free(d->files);
	stop_outbox(d);
	notify_free(d->notify);
	statsd_free(d->statsd);
	es_config_free(&d->es);
	spill_close(d->spill);
	defs_secrets_hook(NULL, NULL);
	secrets_free(d->secrets);
	secbox_key_wipe(&d->seckey);
	secbox_key_wipe(&d->prevkey);
	store_close(d->st);
	if (d->sig_watch)
		loop_watch_del(d->sig_watch);
	if (d->ino_watch)
		loop_watch_del(d->ino_watch);
	if (d->wd_timer != NULL)
		loop_timer_del(d->wd_timer);
	sdnotify_free(d->sdn);
	loop_free(d->loop);
	if (d->sfd > 0)
		close(d->sfd);
	if (d->ifd > 0)
		close(d->ifd);
	if (d->locked)		/* no pid for logrotate to signal */
		(void)ftruncate(d->lockfd, 0);
	if (d->lockfd >= 0)
		close(d->lockfd);
	config_free(&d->cfg);
	tz_cache_clear();
}

/* The loop, at the scheduler's priority (prio.h). */
static int
run(struct daemon *d)
{
	service_ready(d);
	prio_raise(true);
	return loop_run(d->loop);
}

int
main(int argc, char **argv)
{
	struct daemon d;
	char err[512];
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strncmp(argv[i], "--help-table=", 13) == 0)
			return help_table(argv[i] + 13);
		if (strcmp(argv[i], "--version") == 0) {
			printf("distcrond %s\n", PACKAGE_VERSION);
			return 0;
		}
	}
	(void)umask(DAEMON_UMASK);
	memset(&d, 0, sizeof(d));
	d.sfd = d.ifd = d.lockfd = -1;
	log_init("distcrond", LOG_LVL_INFO, false);
	if (config_load(&d.cfg, argc, argv, environ, err, sizeof(err)) != 0) {
		fprintf(stderr, "distcrond: %s\n", err);
		config_free(&d.cfg);
		return 2;
	}
	log_init("distcrond", d.cfg.log_level, d.cfg.syslog);
	if (priv_init(&d.priv, d.cfg.user, err, sizeof(err)) != 0) {
		fprintf(stderr, "distcrond: %s\n", err);
		config_free(&d.cfg);
		return 2;
	}
	prio_init((int)d.cfg.scheduler_nice);
	if ((rc = start(&d)) == 0 && (rc = run(&d)) == 0)
		log_info("stopped");
	cleanup(&d);
	return rc == 0 ? 0 : 1;
}
