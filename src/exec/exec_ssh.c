/*
 * exec_ssh.c - the SSH executor: a pool of libssh2 connections per node,
 * driven by the event loop in non-blocking mode.
 *
 * Objects:
 *   pool_node  one node definition (copied, so reloads cannot pull it away)
 *              with its connections and a FIFO of runs waiting for a channel;
 *   conn       one TCP connection + libssh2 session, going through
 *              RESOLVING -> CONNECTING -> HANDSHAKE -> AUTH -> READY;
 *   exec_proc  one run = one channel: QUEUED -> OPEN -> EXEC -> RUN ->
 *              CLOSE -> WAITCLOSE -> FREE.
 *
 * Runs wait for a channel in the node's FIFO and are given one, in order,
 * only on a READY connection with a free session slot: a connection still
 * setting up holds none.  New connections open only while the queue holds
 * more than those setting up will take and, once one is ready, only when
 * the queue has not moved for as long as the node's last set-up took (a
 * burst of short runs keeps it moving: more connections would cost sshd
 * and the loop their set-ups for no more runs per second; long runs that
 * hold every slot stall it), CONN_SETUP_MAX at most setting up
 * at once (sshd's MaxStartups refuses unauthenticated connections past its
 * limit), max_conns_per_node in all; one that sshd closes during the
 * handshake is tried again after a backoff, with fewer set-ups at once.
 *
 * libssh2 multiplexes every channel of a session over one socket, so a
 * readable socket can move any of them: after each event the connection
 * steps its handshake or, once READY, every channel, until a pass makes no
 * progress and reads nothing from the socket (libssh2 queues what it reads
 * for any channel, also for those already stepped in that pass), at most
 * STEP_PASSES_MAX passes per wake-up, then asks libssh2 which direction it
 * is blocked on to set the epoll events.  Nothing calls back into the runner from inside a
 * step: finished runs are handed back through a zero timer, and start()
 * only queues work and arms a zero "kick" timer.  That keeps the runner's
 * done() callback (which may start more runs) out of libssh2's stack.
 *
 * Killing the remote side (sshcmd.h): once a connection has had a run's
 * channel, it opens one more, its guard, a shell loop that every guarded
 * run tells its process group (every run's line writes it at the head of
 * its stderr, and the daemon strips it).
 * Runs started before the guard is ready, or when it cannot be had
 * (max_sessions 1, sshd refuses the session, the guard ended), run the line
 * with a watcher of their own.  The guard's first line names the login
 * shell: once it has named a POSIX one, the connection's runs send the
 * plain line (no exec of /bin/sh); until then, and for any other shell, the
 * wrapped one.  A run that times out or is cancelled gets a line ("k")
 * and EOF on its channel, which its watcher acts on, and a guarded one
 * also a "t" to the guard; either kills the command's process group, TERM
 * and later KILL, and the channel closes with the exit status.  If that has not
 * happened kill_grace + FINISH_MARGIN_MS later, the result is delivered
 * anyway and the channel is left to close in the background.  A guarded
 * run's end is reported to the guard ("-", one TERM for what it left
 * behind); one still open after CHECK_MS is checked every CHECK_MS ("?"),
 * in case its command has ended but something it left holds the output.
 *
 * When a connection breaks, runs whose channel was not executing yet are
 * queued again once (the pooled connection was stale); runs in progress
 * fail.  When a new connection cannot be established (TCP, host key,
 * authentication, or SETUP_RETRIES refused handshakes in a row) and no
 * other connection to the node is ready or setting up, every run waiting
 * for the node ends EXEC_UNREACHABLE.
 * Host names that are not numeric addresses are looked up on one worker
 * thread, so DNS never blocks the loop.  A key or passphrase file that group
 * or others may read, or another user owns, is refused before connecting:
 * the node is down with that reason until the file is made private.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libssh2.h>

#include "distcron/buf.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/exec_ssh.h"
#include "distcron/fileio.h"
#include "distcron/log.h"
#include "distcron/outcap.h"
#include "distcron/sshcmd.h"
#include "distcron/sshhost.h"

#define MAX_CONNS_DEFAULT	16
#define FINISH_MARGIN_MS	5000	/* after kill_grace, give up waiting */
#define READ_CHUNK		32768
#define CMD_MAX			(4 * 1024 * 1024)
#define PASSPHRASE_MAX		1024
#define NOT_KILLED		EXEC_EXITED
#define GUARD_OUT_MAX		(1024 * 1024)	/* messages not yet written */
#define CHECK_MS		1000	/* long runs: asks the guard this often */
#define STEP_PASSES_MAX		16	/* per wake-up and connection */
#define READ_ROUNDS		4	/* READ_CHUNKs per stream and pass */
#define CONN_SETUP_MAX		4	/* connections setting up at once */
#define SETUP_RETRIES		5	/* refused set-ups with nothing else */
#define RETRY_MS		100	/* first wait after a refused set-up */
#define RETRY_MAX_MS		2000

enum conn_state { C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_AUTH, C_READY };
/* The connection's guard channel (sshcmd.h): wanted (OPEN) once a run has
 * had a channel, then EXEC, READY; CLOSE and GONE once it is lost; NONE
 * when max_sessions leaves no room for it. */
enum guard_state { G_NONE, G_OPEN, G_EXEC, G_READY, G_CLOSE, G_GONE };
enum proc_state { P_QUEUED, P_OPEN, P_EXEC, P_RUN, P_CLOSE, P_WAITCLOSE,
	P_FREE, P_GONE };

struct conn;
struct resolve;

struct probe {
	exec_ssh_probe_fn fn;
	void *arg;
	int rc;
	char msg[256];
	struct exec_ssh *pool;
	struct probe *next;
};

struct pool_node {
	struct exec_ssh *pool;
	struct node_def *def;		/* private copy */
	struct conn *conns;
	int nconns;
	struct exec_proc *qhead, *qtail;	/* waiting for a channel */
	size_t qlen;
	int setup_max;			/* connections setting up at once */
	int retries;			/* set-ups failed since the last ready */
	struct loop_timer *t_retry;	/* no new connection before it fires */
	int64_t moved_ms;		/* a run last left the queue, or it filled */
	int64_t setup_ms;		/* the last connection's set-up took */
	struct loop_timer *t_grow;	/* has the queue moved since? */
	struct probe *probes;		/* waiting for a ready connection */
	int retired;
	struct pool_node *next;
};

struct conn {
	struct pool_node *pn;
	enum conn_state state;
	int fd;
	struct loop_watch *w;
	LIBSSH2_SESSION *s;
	struct exec_proc *procs;	/* channels, doubly linked */
	const void *opener;		/* its channel open is in flight */
	int refused;			/* sshd closed it during the handshake */
	int nchan;
	int had_channel;		/* a run's channel has opened */
	enum guard_state gstate;
	LIBSSH2_CHANNEL *gch;
	struct buf gout;		/* guard messages not yet written */
	struct sshcmd_shell shell;	/* the login shell, from the guard */
	struct loop_timer *t_check;	/* asks the guard about long runs */
	struct loop_timer *t_deadline;	/* connect/handshake/auth */
	struct loop_timer *t_tick;	/* keepalive and idle close */
	struct loop_timer *t_kick;	/* step soon */
	uint64_t rx;			/* socket reads that brought bytes */
	int64_t idle_since;		/* monotonic ms, when nchan hit 0 */
	int64_t started_ms;		/* monotonic ms, when it was opened */
	struct resolve *rq;
	char *passphrase;
	struct conn *next;
};

struct exec_proc {
	struct exec_ssh *pool;
	struct pool_node *pn;
	struct conn *conn;
	enum proc_state state;
	LIBSSH2_CHANNEL *ch;
	char *cmd;			/* the lines (sshcmd_build()) */
	struct sshcmd_lines at;		/* where each starts in cmd */
	int guarded;			/* runs the guarded line */
	int plain;			/* runs the plain (POSIX) line */
	int registered;			/* the guard knows its group */
	int kill_sent;			/* the guard (or the watcher) was
					 * told to kill it */
	struct sshcmd_mark mark;	/* its group, from stderr */
	int64_t run_mono;		/* when the command started */
	struct outcap cap[2];
	exec_done_fn done;
	void *arg;
	int64_t timeout_ms, grace_ms;
	struct loop_timer *t_timeout, *t_give_up, *t_done;
	enum exec_outcome kill_reason;	/* TIMEOUT, CANCELLED or NOT_KILLED */
	enum exec_outcome fail;		/* FAILED/UNREACHABLE, or NOT_KILLED */
	int eof_sent;
	int requeued;
	int delivered;			/* done() called or scheduled */
	int exit_code, signal;
	int64_t started_ms;
	char fields[256];		/* the spec's log_fields, or "" */
	char error[256];
	struct exec_proc *next, *prev;	/* in conn->procs or the queue */
};

struct resolve {
	struct conn *conn;		/* NULL once the conn is gone */
	char *host;
	int port;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int rc;				/* 0 or EAI_* */
	struct resolve *next;
};

struct exec_ssh {
	struct loop *loop;
	struct exec_ssh_config cfg;
	int (*secret_get)(void *, const char *, char **);	/* or NULL */
	void *secret_arg;
	struct pool_node *nodes;
	struct exec_ssh_stats stats;
	/* name lookups */
	pthread_t thr;
	int thr_started, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct resolve *todo, *resolved;
	int efd;
	struct loop_watch *w_efd;
};

static void conn_step(struct conn *c);
static void conn_fail(struct conn *c, const char *msg);
static void conn_kick(struct conn *c);
static void pn_dispatch(struct pool_node *pn);
static void proc_deliver(struct exec_proc *p);

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void
ssh_init(void)
{
	ssh_init_rc = libssh2_init(0);
}

/* ---- small helpers ---- */

static const char *
sess_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;

	if (s == NULL || libssh2_session_last_error(s, &msg, NULL, 0) == 0 ||
	    msg == NULL || *msg == '\0')
		return "unknown SSH error";
	return msg;
}

static void
endpoint(const struct node_def *d, char *out, size_t n)
{
	if (strchr(d->ssh_host, ':') != NULL)
		snprintf(out, n, "[%s]:%d", d->ssh_host, d->ssh_port);
	else
		snprintf(out, n, "%s:%d", d->ssh_host, d->ssh_port);
}

/* Copies src into dst[n], cut if needed. */
static void
text_copy(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void
timer_clear(struct loop_timer **t)
{
	if (*t != NULL) {
		loop_timer_del(*t);
		*t = NULL;
	}
}

/* ---- the queue of runs waiting for a channel ---- */

static void
queue_push(struct pool_node *pn, struct exec_proc *p, int front)
{
	p->state = P_QUEUED;
	p->conn = NULL;
	p->prev = p->next = NULL;
	pn->qlen++;
	if (pn->qhead == NULL) {
		pn->moved_ms = loop_mono_ms();
		pn->qhead = pn->qtail = p;
	} else if (front) {
		p->next = pn->qhead;
		pn->qhead->prev = p;
		pn->qhead = p;
	} else {
		p->prev = pn->qtail;
		pn->qtail->next = p;
		pn->qtail = p;
	}
}

static void
queue_remove(struct pool_node *pn, struct exec_proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		pn->qhead = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		pn->qtail = p->prev;
	p->next = p->prev = NULL;
	pn->qlen--;
}

/* Appends: channels are stepped, so opened, in the order they came. */
static void
conn_attach(struct conn *c, struct exec_proc *p)
{
	struct exec_proc **pp = &c->procs, *prev = NULL;

	while (*pp != NULL) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	p->conn = c;
	p->state = P_OPEN;
	p->prev = prev;
	p->next = NULL;
	*pp = p;
	c->nchan++;
}

static void
conn_detach(struct conn *c, struct exec_proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		c->procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	p->conn = NULL;
	if (--c->nchan == 0)
		c->idle_since = loop_mono_ms();
}

/* ---- results ---- */

static void
proc_free(struct exec_proc *p)
{
	timer_clear(&p->t_timeout);
	timer_clear(&p->t_give_up);
	timer_clear(&p->t_done);
	outcap_free(&p->cap[0]);
	outcap_free(&p->cap[1]);
	free(p->cmd);
	free(p);
}

static struct exec_result *
proc_result(struct exec_proc *p)
{
	struct exec_result *res = calloc(1, sizeof(*res));

	if (res == NULL)
		return NULL;
	res->exit_code = p->exit_code;
	res->signal = p->signal;
	if (p->kill_reason != NOT_KILLED)
		res->outcome = p->kill_reason;
	else if (p->fail != NOT_KILLED)
		res->outcome = p->fail;
	else if (p->signal != 0)
		res->outcome = EXEC_SIGNALED;
	else
		res->outcome = EXEC_EXITED;
	res->ok = res->outcome == EXEC_EXITED && res->exit_code == 0;
	if (p->kill_reason == EXEC_TIMEOUT) {
		exec_timed_out(res, NULL, p->timeout_ms);
		if (p->error[0] != '\0') {
			size_t len = strlen(res->error);

			text_copy(res->error + len, sizeof(res->error) - len, "; ");
			len = strlen(res->error);
			text_copy(res->error + len, sizeof(res->error) - len,
			    p->error);
		}
	} else
		text_copy(res->error, sizeof(res->error), p->error);
	exec_result_output(res, p->cap);
	res->started_ms = p->started_ms ? p->started_ms : loop_real_ms();
	res->ended_ms = loop_real_ms();
	return res;
}

static void
proc_done_cb(void *arg)
{
	struct exec_proc *p = arg;
	struct exec_result *res;
	exec_done_fn done = p->done;
	void *darg = p->arg;

	p->t_done = NULL;
	res = proc_result(p);
	timer_clear(&p->t_timeout);
	timer_clear(&p->t_give_up);
	if (p->conn == NULL)	/* else the channel still closes; freed then */
		proc_free(p);
	else
		p->done = NULL;
	if (res != NULL)
		done(res, darg);
	else
		log_error("SSH run: out of memory building its result %s",
		    p->fields);
}

/* Hands the result back through a zero timer (never inside a step). */
static void
proc_deliver(struct exec_proc *p)
{
	if (p->delivered)
		return;
	p->delivered = 1;
	if (loop_timer_add(p->pool->loop, 0, proc_done_cb, p, &p->t_done) != 0)
		log_error("SSH run: cannot schedule its result %s", p->fields);
}

/* The channel is gone: frees the run, or delivers it if not done yet. */
static void
proc_channel_gone(struct exec_proc *p)
{
	struct conn *c = p->conn;

	p->ch = NULL;
	p->state = P_GONE;
	if (c != NULL)
		conn_detach(c, p);
	if (!p->delivered)
		proc_deliver(p);
	else if (p->t_done == NULL)	/* result already handed over */
		proc_free(p);
	if (c != NULL)
		pn_dispatch(c->pn);
}

static void
proc_fail(struct exec_proc *p, enum exec_outcome why, const char *msg)
{
	if (p->fail == NOT_KILLED) {
		p->fail = why;
		text_copy(p->error, sizeof(p->error), msg);
	}
}

/* True for the libssh2 errors after which the session is unusable. */
static int
sess_broken(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_TIMEOUT ||
	    rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	    rc == LIBSSH2_ERROR_BAD_USE || rc == LIBSSH2_ERROR_DECRYPT;
}

/* ---- the guard channel: one per connection, told about every guarded
 * run's process group; steps return like the channels' below ---- */

/* The guard is lost: runs started from now on bring their own watcher. */
static void
guard_lost(struct conn *c, const char *why)
{
	log_warn("node %s: %s; runs on this connection start a watcher of "
	    "their own from now on", c->pn->def->name, why);
	c->gstate = c->gch != NULL ? G_CLOSE : G_GONE;
	buf_reset(&c->gout);
}

static int sess_rc(struct conn *c, struct exec_proc *p, int rc,
    const char *what);

/* Queues one message for the guard; 0, or -1 if the guard cannot take
 * it (then the run has no guard). */
static int
guard_send(struct conn *c, char op, const struct exec_proc *p)
{
	if (c->gstate != G_READY)
		return -1;
	if (sshcmd_guard_msg(&c->gout, op, p->mark.pgid, p->grace_ms) != 0) {
		guard_lost(c, "the guard does not read its messages");
		return -1;
	}
	return 0;	/* written by the guard's next step */
}

static int
guard_open(struct conn *c)
{
	int rc;

	if (c->opener != NULL && c->opener != &c->gstate)
		return 0;
	c->opener = &c->gstate;
	if ((c->gch = libssh2_channel_open_session(c->s)) == NULL) {
		rc = libssh2_session_last_errno(c->s);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		c->opener = NULL;
		return sess_rc(c, NULL, rc, "cannot open a guard channel");
	}
	c->opener = NULL;
	c->gstate = G_EXEC;
	return 1;
}

/* As step_exec(): LIBSSH2_ERROR_SOCKET_NONE means the request went out. */
static int
guard_exec(struct conn *c)
{
	int rc = libssh2_channel_exec(c->gch, sshcmd_guard());

	if (rc != 0 && rc != LIBSSH2_ERROR_SOCKET_NONE)
		return sess_rc(c, NULL, rc, "cannot start the guard");
	c->gstate = G_READY;
	log_debug("node %s: guard channel ready", c->pn->def->name);
	return 1;
}

/* The guard's stdout: its first line names the login shell. */
static void
guard_heard(struct conn *c, const char *data, size_t n)
{
	if (c->shell.form != SSHCMD_UNKNOWN)
		return;
	if (sshcmd_shell_feed(&c->shell, data, n) == SSHCMD_PLAIN)
		log_debug("node %s: login shell %s: runs send the plain line",
		    c->pn->def->name, c->shell.head);
	else if (c->shell.form == SSHCMD_WRAPPED)
		log_debug("node %s: login shell %s: runs send the line wrapped "
		    "for /bin/sh", c->pn->def->name,
		    c->shell.head[0] ? c->shell.head : "not known");
}

/* Writes what is queued, notices the login shell and the guard's end. */
static int
guard_io(struct conn *c)
{
	char buf[256];
	ssize_t n;
	int progress = 0, stream;

	while (c->gout.len > 0) {
		n = libssh2_channel_write(c->gch, c->gout.data, c->gout.len);
		if (n == LIBSSH2_ERROR_EAGAIN)
			break;
		if (n < 0)
			return sess_rc(c, NULL, (int)n,
			    "cannot write to the guard");
		buf_consume(&c->gout, (size_t)n);
		progress = 1;
	}
	for (stream = 0; stream < 2; stream++)
		while ((n = libssh2_channel_read_ex(c->gch, stream, buf,
		    sizeof(buf))) > 0) {
			if (stream == 0)
				guard_heard(c, buf, (size_t)n);
			progress = 1;
		}
	if (libssh2_channel_eof(c->gch)) {
		guard_lost(c, "the guard ended");
		return 1;
	}
	return progress;
}

static int
guard_close(struct conn *c)
{
	if (libssh2_channel_free(c->gch) == LIBSSH2_ERROR_EAGAIN)
		return 0;
	c->gch = NULL;
	c->gstate = G_GONE;
	return 1;
}

static int
step_guard(struct conn *c)
{
	switch (c->gstate) {
	case G_OPEN:
		return c->had_channel ? guard_open(c) : 0;
	case G_EXEC:
		return guard_exec(c);
	case G_READY:
		return guard_io(c);
	case G_CLOSE:
		return guard_close(c);
	default:
		return 0;
	}
}

/* Channels one connection to the node may open (the node's max_sessions). */
static int
pn_sessions(const struct pool_node *pn)
{
	return pn->def->max_sessions > 0 ? pn->def->max_sessions : 8;
}

/* Runs a connection can hold: one channel of max_sessions is the guard's. */
static int
conn_slots(const struct conn *c)
{
	int max = pn_sessions(c->pn);

	return c->gstate == G_NONE || c->gstate == G_GONE ? max : max - 1;
}

static void
conn_check(void *arg)
{
	struct conn *c = arg;
	struct exec_proc *p;
	int64_t now = loop_mono_ms();
	int any = 0;

	c->t_check = NULL;
	for (p = c->procs; p != NULL; p = p->next) {
		if (!p->registered)
			continue;
		any = 1;
		if (p->state == P_RUN && now - p->run_mono >= CHECK_MS)
			guard_send(c, '?', p);
	}
	if (any) {
		loop_timer_add(c->pn->pool->loop, now + CHECK_MS, conn_check, c,
		    &c->t_check);
		conn_kick(c);
	}
}

/* The run's group is known: the guard watches it from now on. */
static void
proc_register(struct conn *c, struct exec_proc *p)
{
	if (guard_send(c, '+', p) != 0)
		return;
	p->registered = 1;
	if (p->kill_reason != NOT_KILLED && guard_send(c, 't', p) == 0)
		p->kill_sent = 1;
	if (c->t_check == NULL)
		loop_timer_add(c->pn->pool->loop, loop_mono_ms() + CHECK_MS,
		    conn_check, c, &c->t_check);
}

/* The run's channel has closed, so its command has ended and sshd has sent
 * its exit status: the guard forgets it, after one TERM to what it left in
 * the background.  Not at the end of the output: a command that closes its
 * stdout and stderr before it exits (coreutils programs do, at exit) would
 * get the TERM too, and be recorded as killed by it. */
static void
proc_unregister(struct conn *c, struct exec_proc *p)
{
	if (!p->registered)
		return;
	p->registered = 0;
	guard_send(c, '-', p);
}

/* ---- one channel's steps; each returns 1 on progress, 0 if blocked,
 * negative when the session broke ---- */

/* What a libssh2 error means for run p's channel, or the guard's when p is
 * NULL: nothing yet (EAGAIN), the connection broke (c is gone), or the
 * channel failed. */
static int
sess_rc(struct conn *c, struct exec_proc *p, int rc, const char *what)
{
	char msg[256];

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	snprintf(msg, sizeof(msg), "%s: %s", what, sess_error(c->s));
	if (sess_broken(rc)) {
		conn_fail(c, msg);
		return -1;
	}
	if (p == NULL)
		guard_lost(c, msg);
	else
		proc_fail(p, EXEC_FAILED, msg);
	return 1;
}

/*
 * libssh2 keeps the state of a channel being opened in the session, not the
 * channel: one open at a time per connection, or a second caller would
 * continue (and receive) the first one's channel.  c->opener is the run
 * whose open is in flight; the others wait their turn.
 */
static int
step_open(struct conn *c, struct exec_proc *p)
{
	int rc;

	if (c->opener != NULL && c->opener != p)
		return 0;
	if (p->kill_reason != NOT_KILLED && c->opener == NULL) {
		proc_channel_gone(p);	/* killed before it ran */
		return 1;
	}
	c->opener = p;
	p->ch = libssh2_channel_open_session(c->s);
	if (p->ch == NULL) {
		rc = libssh2_session_last_errno(c->s);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		c->opener = NULL;
		if ((rc = sess_rc(c, p, rc, "cannot open a channel")) > 0)
			proc_channel_gone(p);
		return rc;
	}
	c->opener = NULL;
	c->had_channel = 1;
	c->pn->pool->stats.channels++;
	p->guarded = c->gstate == G_READY;
	p->plain = c->shell.form == SSHCMD_PLAIN;
	c->pn->pool->stats.guarded += (uint64_t)p->guarded;
	c->pn->pool->stats.plain += (uint64_t)p->plain;
	/* killed while its channel was opening: close it unused */
	p->state = p->kill_reason != NOT_KILLED ? P_CLOSE : P_EXEC;
	return 1;
}

/*
 * libssh2 1.10 can give up waiting for the reply to the exec request with
 * LIBSSH2_ERROR_SOCKET_NONE ("no packet available yet") although the
 * request has been sent: the command is starting, so the run goes on
 * (calling exec again would send a second request).
 */
static int
step_exec(struct conn *c, struct exec_proc *p)
{
	int rc = libssh2_channel_exec(p->ch, sshcmd_pick(p->cmd, &p->at,
	    p->guarded, p->plain));

	if (rc == LIBSSH2_ERROR_SOCKET_NONE)
		rc = 0;
	if (rc != 0) {
		rc = sess_rc(c, p, rc, "cannot start the command");
		if (rc > 0)
			p->state = P_CLOSE;
		return rc;
	}
	p->started_ms = loop_real_ms();
	p->run_mono = loop_mono_ms();
	p->state = P_RUN;
	return 1;
}

static void
cap_feed(void *arg, const char *data, size_t n)
{
	outcap_feed(arg, data, n);
}

/* Reads what one stream has; returns 1 if bytes came, 0, or < 0. */
static int
read_stream(struct conn *c, struct exec_proc *p, int stream)
{
	char buf[READ_CHUNK];
	ssize_t n = 0;
	int got = 0, rounds = 0;

	while (rounds++ < READ_ROUNDS && (n = libssh2_channel_read_ex(p->ch,
	    stream, buf, sizeof(buf))) > 0) {
		if (stream == 1) {	/* the group's marker comes first */
			if (sshcmd_mark_feed(&p->mark, buf, (size_t)n, cap_feed,
			    &p->cap[1]) && p->guarded)
				proc_register(c, p);
		} else
			outcap_feed(&p->cap[stream], buf, (size_t)n);
		got = 1;
	}
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
		return sess_rc(c, p, (int)n, "reading the output");
	return got;
}

static int
step_run(struct conn *c, struct exec_proc *p)
{
	int a, b, rc;

	if (p->kill_reason != NOT_KILLED && !p->guarded && !p->kill_sent) {
		/* the watcher's kill: a line, then the EOF (sshcmd.c) */
		rc = (int)libssh2_channel_write(p->ch, "k\n", 2);
		if (rc == 2)
			p->kill_sent = 1;
		else if (rc >= 0 || rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		else if ((rc = sess_rc(c, p, rc, "telling the watcher")) < 0)
			return rc;
		else
			p->kill_sent = 1;	/* failed: the EOF still tells */
	}
	if (p->kill_reason != NOT_KILLED && !p->eof_sent) {
		rc = libssh2_channel_send_eof(p->ch);
		if (rc == 0)
			p->eof_sent = 1;
		else if ((rc = sess_rc(c, p, rc, "sending EOF")) < 0)
			return rc;
	}
	if (p->kill_reason != NOT_KILLED && p->guarded && !p->kill_sent) {
		if (p->registered && guard_send(c, 't', p) == 0)
			p->kill_sent = 1;
		else if (p->error[0] == '\0' && c->gstate != G_READY)
			snprintf(p->error, sizeof(p->error), "the connection's "
			    "guard is gone: the remote command (process group "
			    "%ld) may still run", p->mark.pgid);
		else if (p->error[0] == '\0' && p->mark.done && !p->registered)
			text_copy(p->error, sizeof(p->error), "the remote shell "
			    "did not report the command's process group: the "
			    "remote command may still run");
	}
	if ((a = read_stream(c, p, 0)) < 0 || (b = read_stream(c, p, 1)) < 0)
		return -1;
	if (p->fail != NOT_KILLED || libssh2_channel_eof(p->ch)) {
		sshcmd_mark_end(&p->mark, cap_feed, &p->cap[1]);
		p->state = P_CLOSE;
		return 1;
	}
	return a || b;
}

static int
signal_number(const char *name)
{
	int i;

	for (i = 1; i < NSIG; i++)
		if (sigabbrev_np(i) && strcmp(sigabbrev_np(i), name) == 0)
			return i;
	return SIGTERM;
}

static void
collect_exit(struct conn *c, struct exec_proc *p)
{
	char *sig = NULL;
	size_t len = 0;

	p->exit_code = libssh2_channel_get_exit_status(p->ch);
	if (libssh2_channel_get_exit_signal(p->ch, &sig, &len, NULL, NULL,
	    NULL, NULL) == 0 && sig != NULL) {
		p->signal = signal_number(sig);
		p->exit_code = -1;
		libssh2_free(c->s, sig);
	}
}

/* A close that fails (not EAGAIN) is given up: the channel is freed. */
static int
close_rc(struct conn *c, struct exec_proc *p, int rc)
{
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (sess_rc(c, p, rc, "closing the channel") < 0)
		return -1;
	proc_unregister(c, p);
	p->state = P_FREE;
	return 1;
}

static int
step_close(struct conn *c, struct exec_proc *p)
{
	int rc;

	if (p->state == P_CLOSE) {
		if ((rc = libssh2_channel_close(p->ch)) != 0)
			return close_rc(c, p, rc);
		p->state = P_WAITCLOSE;
	}
	if (p->state == P_WAITCLOSE) {
		if ((rc = libssh2_channel_wait_closed(p->ch)) != 0)
			return close_rc(c, p, rc);
		collect_exit(c, p);
		proc_unregister(c, p);
		p->state = P_FREE;
	}
	if (libssh2_channel_free(p->ch) == LIBSSH2_ERROR_EAGAIN)
		return 0;
	proc_channel_gone(p);
	return 1;
}

static int
proc_step(struct conn *c, struct exec_proc *p)
{
	switch (p->state) {
	case P_OPEN:
		return step_open(c, p);
	case P_EXEC:
		return step_exec(c, p);
	case P_RUN:
		return step_run(c, p);
	case P_CLOSE:
	case P_WAITCLOSE:
	case P_FREE:
		return step_close(c, p);
	default:
		return 0;
	}
}

/* ---- connection set-up ---- */

void
exec_ssh_set_secrets(struct exec_ssh *p,
    int (*get)(void *arg, const char *name, char **value), void *arg)
{
	p->secret_get = get;
	p->secret_arg = arg;
}

/* The passphrase of a node's "ssh_private_key_passphrase" secret. */
static int
secret_passphrase(struct conn *c)
{
	struct exec_ssh *p = c->pn->pool;

	if (p->secret_get == NULL)
		return ERR_CONFIG;
	return p->secret_get(p->secret_arg, c->pn->def->ssh_passphrase_secret,
	    &c->passphrase);
}

static int
read_passphrase(struct conn *c)
{
	const char *file = c->pn->def->ssh_private_key_passphrase_file;
	char buf[PASSPHRASE_MAX];
	ssize_t n;
	int fd;

	if (c->pn->def->ssh_passphrase_secret != NULL)
		return secret_passphrase(c);
	if (file == NULL)
		return 0;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	c->passphrase = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return c->passphrase ? 0 : -ENOMEM;
}

static int
step_handshake(struct conn *c)
{
	char msg[512];
	int rc = libssh2_session_handshake(c->s, c->fd);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "SSH handshake failed: %s",
		    sess_error(c->s));
		c->refused = 1;	/* e.g. sshd's MaxStartups: tried again */
		conn_fail(c, msg);
		return -1;
	}
	if (sshhost_verify(c->s, c->pn->def, msg, sizeof(msg)) != 0) {
		conn_fail(c, msg);
		return -1;
	}
	if (strstr(msg, "; added to ") != NULL)
		log_warn("%s", msg);	/* accept-new recorded a key */
	else
		log_debug("%s", msg);
	if ((rc = read_passphrase(c)) != 0) {
		if (c->pn->def->ssh_passphrase_secret != NULL)
			snprintf(msg, sizeof(msg), "ssh_private_key_passphrase: "
			    "secret \"%s\": %s", c->pn->def->ssh_passphrase_secret,
			    rc == ERR_NOTFOUND ? "not found" : rc == ERR_CONFIG ?
			    "no secrets key" : err_str(rc));
		else
			snprintf(msg, sizeof(msg), "cannot read %s: %s",
			    c->pn->def->ssh_private_key_passphrase_file,
			    err_str(rc));
		conn_fail(c, msg);
		return -1;
	}
	c->state = C_AUTH;
	return 1;
}

static void conn_tick(void *arg);

static void
conn_arm_tick(struct conn *c)
{
	const struct exec_ssh_config *cfg = &c->pn->pool->cfg;
	int64_t now = loop_mono_ms(), due = now + cfg->idle_timeout_ms;

	timer_clear(&c->t_tick);
	if (c->nchan == 0 && c->idle_since + cfg->idle_timeout_ms < due)
		due = c->idle_since + cfg->idle_timeout_ms;
	if (cfg->keepalive_ms > 0 && now + cfg->keepalive_ms < due)
		due = now + cfg->keepalive_ms;
	loop_timer_add(c->pn->pool->loop, due, conn_tick, c, &c->t_tick);
}

static void
probes_finish(struct pool_node *pn, int rc, const char *msg);

static int
step_auth(struct conn *c)
{
	const struct node_def *d = c->pn->def;
	char msg[512];
	int rc;

	rc = libssh2_userauth_publickey_fromfile_ex(c->s, d->ssh_user,
	    (unsigned)strlen(d->ssh_user), NULL, d->ssh_private_key_file,
	    c->passphrase);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (c->passphrase) {
		explicit_bzero(c->passphrase, strlen(c->passphrase));
		free(c->passphrase);
		c->passphrase = NULL;
	}
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "public key authentication as %s with "
		    "%s failed: %s", d->ssh_user,
		    d->ssh_private_key_file, sess_error(c->s));
		conn_fail(c, msg);
		return -1;
	}
	timer_clear(&c->t_deadline);
	c->state = C_READY;
	c->idle_since = loop_mono_ms();
	c->pn->setup_ms = c->idle_since - c->started_ms;
	c->pn->pool->stats.connects++;
	c->pn->retries = 0;
	if (c->pn->setup_max < CONN_SETUP_MAX)
		c->pn->setup_max++;
	/* No reply wanted: libssh2 would queue the replies on the session;
	 * a dead peer shows as a failed send or through TCP keepalive. */
	if (c->pn->pool->cfg.keepalive_ms > 0)
		libssh2_keepalive_config(c->s, 0,
		    (unsigned)((c->pn->pool->cfg.keepalive_ms + 999) / 1000));
	conn_arm_tick(c);
	log_debug("node %s: SSH connection ready", d->name);
	probes_finish(c->pn, 0, "");
	pn_dispatch(c->pn);	/* the head of the queue gets its slots */
	return 1;
}

/*
 * Steps every channel until a pass makes no progress and read nothing from
 * the socket.  libssh2 reads whatever the socket has into the session
 * whichever channel asks, so a pass can queue packets for channels it has
 * already stepped: the socket is then empty and epoll would not wake the
 * connection again until something else arrives (or a timer fires), so such
 * a pass is followed by another.  After STEP_PASSES_MAX passes the
 * connection yields to the loop and continues from a zero timer, so a busy
 * connection cannot hold the loop.
 */
static int
step_channels(struct conn *c)
{
	struct exec_proc *p, *next;
	int progress, rc, any = 0, passes = 0;
	uint64_t rx;

	do {
		if (++passes > STEP_PASSES_MAX) {
			conn_kick(c);
			break;
		}
		rx = c->rx;
		if ((progress = step_guard(c)) < 0)
			return -1;
		for (p = c->procs; p != NULL; p = next) {
			next = p->next;
			if ((rc = proc_step(c, p)) < 0)
				return -1;
			progress |= rc;
		}
		any |= progress;
	} while (progress || c->rx != rx);
	return any;
}

static void
conn_update_watch(struct conn *c)
{
	int dir = libssh2_session_block_directions(c->s);
	uint32_t ev = EPOLLIN;

	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		ev |= EPOLLOUT;
	loop_watch_mod(c->w, ev);
}

/* Advances the connection as far as it goes without blocking.  Returns
 * with c possibly freed (after a failure). */
static void
conn_step(struct conn *c)
{
	int rc;

	for (;;) {
		switch (c->state) {
		case C_HANDSHAKE:
			rc = step_handshake(c);
			break;
		case C_AUTH:
			rc = step_auth(c);
			break;
		case C_READY:
			rc = step_channels(c);
			if (rc == 0 && c->procs == NULL && c->pn->retired) {
				conn_fail(c, NULL);
				return;
			}
			if (rc >= 0)
				conn_update_watch(c);
			return;
		default:
			return;
		}
		if (rc < 0)
			return;
		if (rc == 0) {
			conn_update_watch(c);
			return;
		}
	}
}

static void
conn_kicked(void *arg)
{
	struct conn *c = arg;

	c->t_kick = NULL;
	conn_step(c);
}

static void
conn_kick(struct conn *c)
{
	if (c->t_kick == NULL && c->state == C_READY)
		loop_timer_add(c->pn->pool->loop, 0, conn_kicked, c, &c->t_kick);
}

static void
conn_connected(struct conn *c)
{
	char msg[400], ep[200];
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		endpoint(c->pn->def, ep, sizeof(ep));
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s", ep, strerror(err));
		conn_fail(c, msg);
		return;
	}
	c->state = C_HANDSHAKE;
	conn_step(c);
}

static void
conn_io(int fd, uint32_t events, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (c->state == C_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connected(c);
		return;
	}
	conn_step(c);
}

static void
conn_deadline(void *arg)
{
	struct conn *c = arg;
	char msg[400], ep[200], d[32];

	c->t_deadline = NULL;
	endpoint(c->pn->def, ep, sizeof(ep));
	dur_format(c->pn->def->connect_timeout_ms, d, sizeof(d));
	snprintf(msg, sizeof(msg), "no SSH session with %s within %s "
	    "(connect_timeout)", ep, d);
	conn_fail(c, msg);
}

static void
conn_tick(void *arg)
{
	struct conn *c = arg;
	const struct exec_ssh_config *cfg = &c->pn->pool->cfg;
	int next = 0;

	c->t_tick = NULL;
	if (c->nchan == 0 &&
	    loop_mono_ms() >= c->idle_since + cfg->idle_timeout_ms) {
		log_debug("node %s: closing idle SSH connection",
		    c->pn->def->name);
		conn_fail(c, NULL);
		return;
	}
	if (cfg->keepalive_ms > 0 && libssh2_keepalive_send(c->s, &next) != 0 &&
	    libssh2_session_last_errno(c->s) != LIBSSH2_ERROR_EAGAIN) {
		conn_fail(c, "keepalive failed: connection lost");
		return;
	}
	conn_arm_tick(c);
	conn_step(c);
}

/* Starts the TCP connection to addr.  Returns 0 or -errno. */
static int
conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	int one = 1, idle = 60, intvl = 10, cnt = 3;

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	if (connect(c->fd, sa, len) != 0 && errno != EINPROGRESS)
		return -errno;
	c->state = C_CONNECTING;
	return loop_watch_add(c->pn->pool->loop, c->fd, EPOLLOUT, conn_io, c,
	    &c->w);
}

/* Connects, or fails the connection with a message; returns 0 or the
 * error (c is then gone). */
static int
conn_connect_or_fail(struct conn *c, const struct sockaddr *sa,
    socklen_t len)
{
	char msg[400], ep[200];
	int rc = conn_connect(c, sa, len);

	if (rc != 0) {
		endpoint(c->pn->def, ep, sizeof(ep));
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s", ep, err_str(rc));
		conn_fail(c, msg);
	}
	return rc;
}

/* ---- name lookups on the worker thread ---- */

static void *
resolver_main(void *arg)
{
	struct exec_ssh *pool = arg;
	struct resolve *r;
	struct addrinfo hints, *ai;
	char port[16];
	uint64_t one = 1;

	pthread_mutex_lock(&pool->mu);
	while (!pool->stop) {
		if ((r = pool->todo) == NULL) {
			pthread_cond_wait(&pool->cv, &pool->mu);
			continue;
		}
		pool->todo = r->next;
		pthread_mutex_unlock(&pool->mu);
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		snprintf(port, sizeof(port), "%d", r->port);
		if ((r->rc = getaddrinfo(r->host, port, &hints, &ai)) == 0) {
			memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
			r->addrlen = ai->ai_addrlen;
			freeaddrinfo(ai);
		}
		pthread_mutex_lock(&pool->mu);
		r->next = pool->resolved;
		pool->resolved = r;
		if (write(pool->efd, &one, sizeof(one)) < 0)
			log_error("SSH resolver: cannot wake the loop");
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

static void
resolve_free(struct resolve *r)
{
	free(r->host);
	free(r);
}

static void
resolver_done(int fd, uint32_t events, void *arg)
{
	struct exec_ssh *pool = arg;
	struct resolve *r, *list;
	uint64_t v;
	char msg[300];

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("SSH resolver: %s", strerror(errno));
	pthread_mutex_lock(&pool->mu);
	list = pool->resolved;
	pool->resolved = NULL;
	pthread_mutex_unlock(&pool->mu);
	while ((r = list) != NULL) {
		list = r->next;
		if (r->conn != NULL) {
			r->conn->rq = NULL;
			if (r->rc != 0) {
				snprintf(msg, sizeof(msg), "cannot resolve "
				    "%s: %s", r->host, gai_strerror(r->rc));
				conn_fail(r->conn, msg);
			} else
				conn_connect_or_fail(r->conn,
				    (struct sockaddr *)&r->addr, r->addrlen);
		}
		resolve_free(r);
	}
}

static int
resolver_start(struct exec_ssh *pool)
{
	int rc;

	if (pool->thr_started)
		return 0;
	pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->efd < 0)
		return -errno;
	if ((rc = loop_watch_add(pool->loop, pool->efd, EPOLLIN, resolver_done,
	    pool, &pool->w_efd)) != 0)
		return rc;
	if ((rc = pthread_create(&pool->thr, NULL, resolver_main, pool)) != 0)
		return -rc;
	pool->thr_started = 1;
	return 0;
}

static int
resolve_queue(struct conn *c)
{
	struct exec_ssh *pool = c->pn->pool;
	struct resolve *r;
	int rc;

	if ((rc = resolver_start(pool)) != 0)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->host = strdup(c->pn->def->ssh_host)) == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->conn = c;
	r->port = c->pn->def->ssh_port;
	c->rq = r;
	c->state = C_RESOLVING;
	pthread_mutex_lock(&pool->mu);
	r->next = pool->todo;
	pool->todo = r;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	return 0;
}

/* ---- connections ---- */

/* A secret file that others can read or another user owns is refused,
 * as OpenSSH refuses such a key; one that is missing is left to the step
 * that reads it.  Returns 0, or ERR_INVALID with msg saying why. */
static int
secret_file_check(const char *what, const char *path, char *msg, size_t n)
{
	if (path == NULL)
		return 0;
	return fileio_secret_check(-1, path, what, true, msg, n);
}

/* Numeric addresses connect at once; names go to the resolver.  The key
 * and passphrase files are checked first.  Returns 0, or an error after
 * which c is gone. */
static int
conn_begin(struct conn *c)
{
	const struct node_def *d = c->pn->def;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	char msg[PATH_MAX + 160];

	if (secret_file_check("ssh key", d->ssh_private_key_file, msg,
	    sizeof(msg)) != 0 || secret_file_check("ssh passphrase file",
	    d->ssh_private_key_passphrase_file, msg, sizeof(msg)) != 0) {
		conn_fail(c, msg);
		return ERR_INVALID;
	}
	memset(&in4, 0, sizeof(in4));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, d->ssh_host, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		in4.sin_port = htons((uint16_t)d->ssh_port);
		return conn_connect_or_fail(c, (struct sockaddr *)&in4,
		    sizeof(in4));
	}
	if (inet_pton(AF_INET6, d->ssh_host, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		in6.sin6_port = htons((uint16_t)d->ssh_port);
		return conn_connect_or_fail(c, (struct sockaddr *)&in6,
		    sizeof(in6));
	}
	if (resolve_queue(c) != 0) {
		conn_fail(c, "cannot start a name lookup (out of resources)");
		return -ENOMEM;
	}
	return 0;
}

/* libssh2's socket reads, counted (step_channels()); errors as libssh2's
 * own reader returns them, -errno. */
static ssize_t
conn_recv(libssh2_socket_t fd, void *buf, size_t n, int flags,
    void **abstract)
{
	struct conn *c = *abstract;
	ssize_t got = recv(fd, buf, n, flags);

	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (got > 0)
		c->rx++;
	return got;
}

static struct conn *
conn_new(struct pool_node *pn)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->pn = pn;
	c->fd = -1;
	c->started_ms = loop_mono_ms();
	c->gstate = pn->def->max_sessions >= 2 ? G_OPEN : G_NONE;
	buf_init(&c->gout, GUARD_OUT_MAX);
	c->s = libssh2_session_init_ex(NULL, NULL, NULL, c);
	if (c->s == NULL) {
		free(c);
		return NULL;
	}
	libssh2_session_set_blocking(c->s, 0);
	libssh2_session_callback_set(c->s, LIBSSH2_CALLBACK_RECV,
	    (void *)conn_recv);
	/* ask for the host key type we can verify */
	if (sshhost_prefer(c->s, pn->def) != 0)
		log_warn("node %s: cannot set host key preferences",
		    pn->def->name);
	c->next = pn->conns;
	pn->conns = c;
	pn->nconns++;
	loop_timer_add(pn->pool->loop, loop_mono_ms() +
	    pn->def->connect_timeout_ms, conn_deadline, c, &c->t_deadline);
	if (conn_begin(c) != 0)
		return NULL;	/* failed and gone */
	return c;
}

static void pn_maybe_free(struct pool_node *pn);

static void
conn_unlink(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->pn->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->pn->nconns--;
}

/* Tears down the session; nothing may use c afterwards. */
static void
conn_destroy(struct conn *c)
{
	timer_clear(&c->t_deadline);
	timer_clear(&c->t_tick);
	timer_clear(&c->t_kick);
	timer_clear(&c->t_check);
	buf_free(&c->gout);
	if (c->rq != NULL) {
		pthread_mutex_lock(&c->pn->pool->mu);
		c->rq->conn = NULL;
		pthread_mutex_unlock(&c->pn->pool->mu);
	}
	if (c->w)
		loop_watch_del(c->w);
	if (c->s != NULL) {
		if (c->state == C_READY)
			libssh2_session_disconnect(c->s, "idle");
		/* Freeing closes the channels still open (the guard's, say),
		 * and a close waits for the peer's: in non-blocking mode that
		 * is EAGAIN and nothing freed.  With the socket shut, the
		 * waits fail at once and libssh2 frees them regardless. */
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
		if (libssh2_session_free(c->s) != 0)
			log_error("node %s: cannot free an SSH session",
			    c->pn->def->name);
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->passphrase) {
		explicit_bzero(c->passphrase, strlen(c->passphrase));
		free(c->passphrase);
	}
	free(c);
}

/* Moves every run off a broken connection: not yet executing and on a
 * connection that had worked -> queued again once; else failed. */
static void
conn_release_procs(struct conn *c, const char *msg, int reached)
{
	struct exec_proc *p;
	char m[300];

	while ((p = c->procs) != NULL) {
		conn_detach(c, p);
		p->ch = NULL;	/* freed with the session */
		if (p->state == P_OPEN && reached && !p->requeued &&
		    !p->delivered && p->kill_reason == NOT_KILLED) {
			p->requeued = 1;
			queue_push(c->pn, p, 1);
			continue;
		}
		if (!reached)
			proc_fail(p, EXEC_UNREACHABLE, msg);
		else {
			snprintf(m, sizeof(m), "SSH connection lost during the "
			    "run: %s", msg);
			proc_fail(p, EXEC_FAILED, m);
		}
		p->state = P_GONE;
		if (!p->delivered)
			proc_deliver(p);
		else if (p->t_done == NULL)
			proc_free(p);
	}
}

/* Fails every queued run of the node (it cannot be reached). */
static void
pn_fail_queue(struct pool_node *pn, const char *msg)
{
	struct exec_proc *p;

	while ((p = pn->qhead) != NULL) {
		queue_remove(pn, p);
		proc_fail(p, EXEC_UNREACHABLE, msg);
		p->state = P_GONE;
		proc_deliver(p);
	}
}

static void pn_setup_failed(struct pool_node *pn, int refused,
    const char *msg);

/*
 * Closes a connection.  msg == NULL: a normal close (idle, retired).
 * Otherwise it broke or never came up, and msg says why.
 */
static void
conn_fail(struct conn *c, const char *msg)
{
	struct pool_node *pn = c->pn;
	int reached = c->state == C_READY;

	if (msg != NULL)
		log_warn("node %s: %s", pn->def->name, msg);
	conn_unlink(c);
	conn_release_procs(c, msg ? msg : "connection closed", reached);
	if (!reached)
		pn_setup_failed(pn, c->refused, msg ? msg : "connection closed");
	conn_destroy(c);
	pn_dispatch(pn);
	pn_maybe_free(pn);
}

/* ---- nodes ---- */

static void
pn_free(struct pool_node *pn)
{
	timer_clear(&pn->t_retry);
	timer_clear(&pn->t_grow);
	defs_node_free(pn->def);
	free(pn);
}

/* A retired node goes away once its last connection and run are gone. */
static void
pn_maybe_free(struct pool_node *pn)
{
	struct pool_node **pp;

	if (!pn->retired || pn->conns != NULL || pn->qhead != NULL ||
	    pn->probes != NULL)
		return;
	for (pp = &pn->pool->nodes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == pn) {
			*pp = pn->next;
			break;
		}
	pn_free(pn);
}

static struct pool_node *
pn_get(struct exec_ssh *pool, const struct node_def *def)
{
	struct pool_node *pn;

	for (pn = pool->nodes; pn != NULL; pn = pn->next)
		if (!pn->retired && pn->def->digest == def->digest &&
		    strcmp(pn->def->name, def->name) == 0)
			return pn;
	if ((pn = calloc(1, sizeof(*pn))) == NULL)
		return NULL;
	if ((pn->def = defs_node_dup(def)) == NULL) {
		free(pn);
		return NULL;
	}
	pn->pool = pool;
	pn->setup_max = CONN_SETUP_MAX;
	pn->next = pool->nodes;
	pool->nodes = pn;
	return pn;
}

static int
pn_max_conns(const struct pool_node *pn)
{
	int m = pn->pool->cfg.max_conns_per_node;

	return m > 0 ? m : MAX_CONNS_DEFAULT;
}

/* Runs one new connection of the node will take. */
static int
pn_conn_slots(const struct pool_node *pn)
{
	int max = pn_sessions(pn);

	return max >= 2 ? max - 1 : 1;	/* one for the guard */
}

/* Connections of the node still setting up (not READY). */
static int
pn_setups(const struct pool_node *pn)
{
	const struct conn *c;
	int n = 0;

	for (c = pn->conns; c != NULL; c = c->next)
		n += c->state != C_READY;
	return n;
}

static void
pn_retry_cb(void *arg)
{
	struct pool_node *pn = arg;

	pn->t_retry = NULL;
	if (pn->probes != NULL && pn->conns == NULL && pn->qhead == NULL)
		conn_new(pn);	/* a health check alone waits for one */
	else
		pn_dispatch(pn);
}

/*
 * A connection failed before it was ready (pn no longer lists it).  While
 * another connection is ready or still setting up, or sshd closed this one
 * during its handshake (MaxStartups refuses connections past its limit of
 * unauthenticated ones) and SETUP_RETRIES are left, the queued runs stay
 * queued and the next connection opens after a backoff, with fewer set-ups
 * at once if others were in flight.  Otherwise the node cannot be reached:
 * its queued runs and health checks fail with msg.
 */
static void
pn_setup_failed(struct pool_node *pn, int refused, const char *msg)
{
	int setups = pn_setups(pn), ms;

	if (refused && setups > 0 && setups < pn->setup_max)
		pn->setup_max = setups;
	if (pn->retired || (pn->conns == NULL &&
	    (!refused || pn->retries >= SETUP_RETRIES))) {
		pn->retries = 0;
		pn_fail_queue(pn, msg);
		probes_finish(pn, ERR_CONNECT, msg);
		return;
	}
	ms = RETRY_MS << (pn->retries < 5 ? pn->retries : 5);
	pn->retries++;
	if (pn->t_retry == NULL)
		loop_timer_add(pn->pool->loop, loop_mono_ms() +
		    (ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS), pn_retry_cb, pn,
		    &pn->t_retry);
}

static void pn_grow(struct pool_node *pn);

static void
pn_grow_cb(void *arg)
{
	struct pool_node *pn = arg;

	pn->t_grow = NULL;
	pn_grow(pn);
}

/* Whether the queue is stuck: no connection is ready, or none of the
 * ready ones took a run for as long as a set-up takes.  If not, asks again
 * when that time has passed. */
static int
pn_stalled(struct pool_node *pn)
{
	const struct conn *c;
	int64_t due = pn->moved_ms + pn->setup_ms;

	for (c = pn->conns; c != NULL && c->state != C_READY; c = c->next)
		;
	if (c == NULL || loop_mono_ms() >= due)
		return 1;
	if (pn->t_grow == NULL)
		loop_timer_add(pn->pool->loop, due, pn_grow_cb, pn,
		    &pn->t_grow);
	return 0;
}

/*
 * Opens connections for the runs still queued once the ready ones are
 * full: only while the queue holds more than the connections setting up
 * will take and it is stuck (pn_stalled()), at most setup_max of them
 * setting up at once (sshd refuses unauthenticated connections past
 * MaxStartups, 10 by default), none while a retry waits, never more than
 * max_conns_per_node.
 */
static void
pn_grow(struct pool_node *pn)
{
	int setups;

	while (pn->qhead != NULL && !pn->retired && pn->t_retry == NULL &&
	    pn->nconns < pn_max_conns(pn)) {
		setups = pn_setups(pn);
		if (setups >= pn->setup_max ||
		    pn->qlen <= (size_t)setups * (size_t)pn_conn_slots(pn) ||
		    !pn_stalled(pn))
			return;
		log_debug("node %s: opening SSH connection %d: %zu run(s) "
		    "queued, the queue still for %lld ms (a set-up took "
		    "%lld ms)", pn->def->name, pn->nconns + 1, pn->qlen,
		    (long long)(loop_mono_ms() - pn->moved_ms),
		    (long long)pn->setup_ms);
		if (conn_new(pn) == NULL)
			return;
	}
}

/*
 * Gives queued runs a channel, in the order they came, on the ready
 * connections with a free session slot; a connection still setting up holds
 * none, so the first one ready takes the head of the queue.  What is left
 * may open more connections (pn_grow()).
 */
static void
pn_dispatch(struct pool_node *pn)
{
	struct conn *c = pn->conns;
	struct exec_proc *p;

	while (pn->qhead != NULL && c != NULL) {
		if (c->state != C_READY || c->nchan >= conn_slots(c)) {
			c = c->next;
			continue;
		}
		p = pn->qhead;
		queue_remove(pn, p);
		pn->moved_ms = loop_mono_ms();
		conn_attach(c, p);
		conn_kick(c);
	}
	pn_grow(pn);
}

/* ---- health checks ---- */

static void
probe_cb(void *arg)
{
	struct probe *pr = arg;

	pr->fn(pr->rc, pr->msg, pr->arg);
	free(pr);
}

static void
probe_later(struct exec_ssh *pool, struct probe *pr)
{
	if (loop_timer_add(pool->loop, 0, probe_cb, pr, NULL) != 0)
		free(pr);
}

static void
probes_finish(struct pool_node *pn, int rc, const char *msg)
{
	struct probe *pr;

	while ((pr = pn->probes) != NULL) {
		pn->probes = pr->next;
		pr->rc = rc;
		snprintf(pr->msg, sizeof(pr->msg), "%s", msg);
		probe_later(pn->pool, pr);
	}
}

int
exec_ssh_probe(struct exec_ssh *pool, const struct node_def *node,
    exec_ssh_probe_fn fn, void *arg)
{
	struct pool_node *pn;
	struct probe *pr;
	struct conn *c;

	if (node->conn != NODE_SSH)
		return ERR_INVALID;
	if ((pn = pn_get(pool, node)) == NULL ||
	    (pr = calloc(1, sizeof(*pr))) == NULL)
		return -ENOMEM;
	pr->fn = fn;
	pr->arg = arg;
	pr->pool = pool;
	for (c = pn->conns; c != NULL; c = c->next)
		if (c->state == C_READY) {
			probe_later(pool, pr);
			return 0;
		}
	pr->next = pn->probes;
	pn->probes = pr;
	if (pn->conns == NULL && conn_new(pn) == NULL && pn->probes == pr) {
		pn->probes = NULL;
		free(pr);
		return -ENOMEM;
	}
	return 0;
}

/* ---- the executor ---- */

static void
proc_give_up(void *arg)
{
	struct exec_proc *p = arg;
	size_t len = strlen(p->error);
	char d[32];

	p->t_give_up = NULL;
	dur_format(p->grace_ms + FINISH_MARGIN_MS, d, sizeof(d));
	snprintf(p->error + len, sizeof(p->error) - len, "%sthe node did not "
	    "confirm the end of the command within %s", len ? "; " : "", d);
	proc_deliver(p);
}

/* Timeout or cancel: "k" and EOF to the remote watcher, or "t" to the guard
 * (step_run()), which kill the group. */
static void
proc_kill(struct exec_proc *p, enum exec_outcome why)
{
	if (p->delivered || p->kill_reason != NOT_KILLED)
		return;
	p->kill_reason = why;
	timer_clear(&p->t_timeout);
	if (p->state == P_QUEUED) {
		queue_remove(p->pn, p);
		p->state = P_GONE;
		proc_deliver(p);
		return;
	}
	loop_timer_add(p->pool->loop, loop_mono_ms() + p->grace_ms +
	    FINISH_MARGIN_MS, proc_give_up, p, &p->t_give_up);
	if (p->conn != NULL)
		conn_kick(p->conn);
}

static void
proc_timeout(void *arg)
{
	struct exec_proc *p = arg;

	p->t_timeout = NULL;
	proc_kill(p, EXEC_TIMEOUT);
}

static void
ssh_cancel(struct exec_proc *p)
{
	proc_kill(p, EXEC_CANCELLED);
}

static int
proc_prepare(struct exec_proc *p, const struct exec_spec *spec)
{
	struct buf b;
	const char *errstr = NULL;
	int rc;

	buf_init(&b, CMD_MAX);
	if ((rc = sshcmd_build(spec, &b, &p->at, &errstr)) != 0) {
		snprintf(p->error, sizeof(p->error), "cannot build the remote "
		    "command: %s", errstr ? errstr : err_str(rc));
		p->fail = EXEC_FAILED;
		buf_free(&b);
		return 0;
	}
	if ((p->cmd = buf_steal(&b, NULL)) == NULL)
		return -ENOMEM;
	if (outcap_init(&p->cap[0], spec->output_limit,
	    spec->output_budget) != 0 ||
	    outcap_init(&p->cap[1], spec->output_limit,
	    spec->output_budget) != 0)
		return -ENOMEM;
	return 0;
}

static int
ssh_start(struct loop *loop, const struct exec_spec *spec, exec_done_fn done,
    void *arg, struct exec_proc **out)
{
	struct exec_ssh *pool = spec->ctx;
	struct exec_proc *p;
	int rc;

	(void)loop;
	if (pool == NULL || spec->target == NULL ||
	    spec->target->conn != NODE_SSH)
		return ERR_INVALID;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->pool = pool;
	p->done = done;
	p->arg = arg;
	p->timeout_ms = spec->timeout_ms;
	p->grace_ms = spec->kill_grace_ms;
	snprintf(p->fields, sizeof(p->fields), "%s",
	    spec->log_fields != NULL ? spec->log_fields : "");
	p->kill_reason = p->fail = NOT_KILLED;
	p->exit_code = -1;
	if ((rc = proc_prepare(p, spec)) != 0 ||
	    (p->pn = pn_get(pool, spec->target)) == NULL) {
		proc_free(p);
		return rc ? rc : -ENOMEM;
	}
	*out = p;
	if (p->fail != NOT_KILLED) {	/* bad spec: report it, run nothing */
		p->state = P_GONE;
		proc_deliver(p);
		return 0;
	}
	if (p->timeout_ms > 0)
		loop_timer_add(pool->loop, loop_mono_ms() + p->timeout_ms,
		    proc_timeout, p, &p->t_timeout);
	queue_push(p->pn, p, 0);
	pn_dispatch(p->pn);
	return 0;
}

/* The captures so far, for a look at a command still running. */
static const struct outcap *
ssh_output(const struct exec_proc *p)
{
	return p->cap;
}

const struct exec_ops exec_ssh_ops = {
	.name = "ssh",
	.start = ssh_start,
	.cancel = ssh_cancel,
	.output = ssh_output,
};

/* ---- the pool ---- */

int
exec_ssh_new(struct loop *loop, const struct exec_ssh_config *cfg,
    struct exec_ssh **out)
{
	struct exec_ssh *p;

	pthread_once(&ssh_once, ssh_init);
	if (ssh_init_rc != 0)
		return ERR_INTERNAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->cfg = *cfg;
	p->efd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

void
exec_ssh_retire(struct exec_ssh *pool, struct node_def *const *nodes,
    size_t n)
{
	struct pool_node *pn, *next;
	struct conn *c, *cn;
	size_t i;

	for (pn = pool->nodes; pn != NULL; pn = next) {
		next = pn->next;
		for (i = 0; i < n; i++)
			if (nodes[i]->digest == pn->def->digest &&
			    strcmp(nodes[i]->name, pn->def->name) == 0)
				break;
		if (i < n || pn->retired)
			continue;
		pn->retired = 1;
		for (c = pn->conns; c != NULL; c = cn) {
			cn = c->next;
			if (c->nchan == 0)
				conn_fail(c, NULL);	/* may free pn */
		}
		if (pn->conns == NULL)
			pn_maybe_free(pn);
	}
}

void
exec_ssh_stats(const struct exec_ssh *pool, struct exec_ssh_stats *out)
{
	const struct pool_node *pn;

	*out = pool->stats;
	out->open = 0;
	for (pn = pool->nodes; pn != NULL; pn = pn->next)
		out->open += (size_t)pn->nconns;
}

static void
pool_drop_node(struct pool_node *pn)
{
	struct exec_proc *p;
	struct probe *pr;
	struct conn *c;

	while ((c = pn->conns) != NULL) {
		pn->conns = c->next;
		while ((p = c->procs) != NULL) {
			c->procs = p->next;
			proc_free(p);
		}
		conn_destroy(c);
	}
	while ((p = pn->qhead) != NULL) {
		pn->qhead = p->next;
		proc_free(p);
	}
	while ((pr = pn->probes) != NULL) {
		pn->probes = pr->next;
		free(pr);
	}
	pn_free(pn);
}

void
exec_ssh_free(struct exec_ssh *pool)
{
	struct pool_node *pn;
	struct resolve *r;

	if (pool == NULL)
		return;
	if (pool->thr_started) {
		pthread_mutex_lock(&pool->mu);
		pool->stop = 1;
		pthread_cond_signal(&pool->cv);
		pthread_mutex_unlock(&pool->mu);
		pthread_join(pool->thr, NULL);
	}
	while ((pn = pool->nodes) != NULL) {
		pool->nodes = pn->next;
		pool_drop_node(pn);
	}
	while ((r = pool->todo) != NULL) {
		pool->todo = r->next;
		resolve_free(r);
	}
	while ((r = pool->resolved) != NULL) {
		pool->resolved = r->next;
		resolve_free(r);
	}
	if (pool->w_efd)
		loop_watch_del(pool->w_efd);
	if (pool->efd >= 0)
		close(pool->efd);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->cv);
	free(pool);
}
