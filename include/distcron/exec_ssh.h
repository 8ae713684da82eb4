/*
 * exec_ssh.h - runs commands on SSH nodes with libssh2, agentless.
 *
 * A pool keeps SSH connections per node and reuses them across runs: each
 * run is one channel, and up to the node's max_sessions channels run at
 * once on one connection (more connections are opened when they are all
 * busy).  Everything is non-blocking libssh2 driven by the event loop, so
 * thousands of remote runs need no thread each.  A connection is verified
 * (host key, see sshhost.h) before any credential is sent, authenticated
 * with the node's private key, kept alive, closed after being idle for
 * idle_timeout_ms, and reopened when it breaks.
 *
 * The command line comes from sshcmd.h: argv quoted byte for byte,
 * environment and working directory applied by the remote shell, and the
 * remote process group killed when the channel reaches EOF.  A timeout or
 * cancel therefore sends EOF, waits kill_grace_ms (plus a margin) for the
 * remote side to finish, and only then drops the channel.
 *
 * Results: EXEC_EXITED / EXEC_SIGNALED from the remote exit status or
 * signal; EXEC_UNREACHABLE when the node could not be reached, verified or
 * authenticated (nothing ran: the caller may fail over to another node);
 * EXEC_FAILED when the connection broke during the run.
 */
#ifndef DISTCRON_EXEC_SSH_H
#define DISTCRON_EXEC_SSH_H

#include <stdint.h>

#include "distcron/defs.h"
#include "distcron/exec.h"
#include "distcron/loop.h"

struct exec_ssh;

struct exec_ssh_config {
	int64_t idle_timeout_ms;	/* 0: close as soon as idle */
	int64_t keepalive_ms;		/* 0: no keepalives */
	int max_conns_per_node;		/* 0: default (16) */
};

/* Creates a pool on loop.  Returns 0 or a negative error. */
int exec_ssh_new(struct loop *loop, const struct exec_ssh_config *cfg,
    struct exec_ssh **out);

/*
 * Where a node's "ssh_private_key_passphrase" ({"secret": NAME}) comes
 * from: get(arg, NAME, &value) opens it when a connection logs in (value:
 * malloc'd, wiped and freed by the pool; returns 0 or an error, ERR_NOTFOUND
 * for no such secret).  Loop thread; get must not block.
 */
void exec_ssh_set_secrets(struct exec_ssh *p,
    int (*get)(void *arg, const char *name, char **value), void *arg);

/* Closes every connection; runs in progress are dropped without their
 * done() callback (their remote side sees EOF and is killed).  Blocks
 * until a name lookup in progress returns.  Accepts NULL. */
void exec_ssh_free(struct exec_ssh *p);

/* The executor; spec->ctx is the struct exec_ssh, spec->target the node. */
extern const struct exec_ops exec_ssh_ops;

typedef void (*exec_ssh_probe_fn)(int rc, const char *msg, void *arg);

/*
 * Health check: connects to node (or finds a live pooled connection),
 * verifies and authenticates, and calls fn(0, "", arg) or fn(rc, reason,
 * arg) on the loop thread, never from inside this call.  The connection
 * stays pooled.  Returns 0, or a negative error when fn will not be called.
 */
int exec_ssh_probe(struct exec_ssh *p, const struct node_def *node,
    exec_ssh_probe_fn fn, void *arg);

/* Forgets pooled connections of nodes whose definition changed or went
 * away: they take no new runs and close when their runs end.  nodes is the
 * new list of n definitions. */
void exec_ssh_retire(struct exec_ssh *p, struct node_def *const *nodes,
    size_t n);

struct exec_ssh_stats {
	uint64_t connects;	/* connections authenticated since start */
	uint64_t channels;	/* channels opened since start (runs') */
	uint64_t guarded;	/* runs started under a connection's guard */
	uint64_t plain;		/* runs sent the plain line (POSIX shell) */
	size_t open;		/* connections open now */
};
void exec_ssh_stats(const struct exec_ssh *p, struct exec_ssh_stats *out);

#endif
