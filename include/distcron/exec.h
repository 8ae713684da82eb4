/*
 * exec.h - the executor interface.  Each executor (local processes, SSH,
 * HTTP, AMQP) is a struct exec_ops; the runner drives them all the same way.
 *
 * Contract: start() copies what it needs from the spec (the caller may free
 * it when start() returns).  When start() returns 0, done() is called exactly
 * once, later, on the loop thread, never from inside start() itself - also
 * when the command cannot be started (outcome EXEC_FAILED).  The callback
 * owns the result and frees it with exec_result_free().  After done(), the
 * exec_proc handle is gone.
 */
#ifndef DISTCRON_EXEC_H
#define DISTCRON_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct exec_proc;
struct node_def;
struct job_http;
struct job_amqp;
struct tz;
struct outcap_budget;

struct exec_spec {
	char *const *argv;	/* NULL-terminated argv (no shell), or NULL */
	const char *shell;	/* command for "/bin/sh -c", when argv is NULL */
	char *const *env;	/* "NAME=VALUE" entries added to the base
				 * environment (later ones win); may be NULL */
	const char *working_dir;	/* NULL: "/" */
	int64_t timeout_ms;	/* 0: no timeout */
	int64_t kill_grace_ms;	/* SIGTERM -> SIGKILL delay on timeout/cancel */
	size_t output_limit;	/* per stream; head and tail kept past it */
	struct outcap_budget *output_budget;	/* the daemon's, or NULL */
	const char *node;	/* node name, for messages */
	const char *log_fields;	/* "job=x run=N node=y", appended to the
				 * executor's log lines about the run; NULL:
				 * none (copied at start) */
	const struct node_def *target;	/* SSH: the node to run on */
	const struct job_http *http;	/* HTTP: the request (argv/shell
					 * unused) */
	const struct job_amqp *amqp;	/* AMQP: the message (argv/shell
					 * unused) */
	const char *job;		/* AMQP: the job's name (a tick's id) */
	int64_t scheduled_at;		/* AMQP: the run's tick, UTC seconds */
	const struct tz *zone;		/* AMQP: the job's zone (a tick's
					 * fields) */
	void *ctx;		/* the executor's instance (struct exec_ssh,
				 * struct exec_http); NULL for local */	/* Local: called on the loop thread with done()'s arg and the
	 * process group id once the child exists; may be NULL. */
	void (*spawned)(void *arg, int pgid);
};

enum exec_outcome {
	EXEC_EXITED = 0,	/* exited; see exit_code */
	EXEC_SIGNALED,		/* killed by a signal it did not get from us */
	EXEC_TIMEOUT,		/* killed by us after timeout_ms */
	EXEC_CANCELLED,		/* killed by us through cancel() */
	EXEC_FAILED,		/* could not be started; see error */
	EXEC_UNREACHABLE,	/* the node could not be reached (connect,
				 * host key, authentication); nothing ran,
				 * so another node may take the run */
};

struct exec_result {
	enum exec_outcome outcome;
	bool ok;		/* succeeded by the executor's rule: exit code
				 * 0, or an expected HTTP status */
	int exit_code;		/* -1 when it did not exit normally; the
				 * response status for HTTP */
	int signal;		/* terminating signal, 0 if none */
	char *out;		/* captured stdout, NUL-terminated, never NULL */
	size_t out_len;
	char *err;		/* captured stderr, NUL-terminated, never NULL */
	size_t err_len;
	uint64_t out_total;	/* bytes the command wrote to stdout */
	uint64_t err_total;
	bool truncated;		/* some output was cut (marked in the text) */
	int64_t started_ms;	/* CLOCK_REALTIME ms */
	int64_t ended_ms;
	char error[256];	/* why it failed (any outcome); "" when ok or
				 * when the exit code says it all */
};

typedef void (*exec_done_fn)(struct exec_result *res, void *arg);

struct exec_ops {
	const char *name;
	/* Starts the command.  Returns 0 (done() will follow) or a negative
	 * error when nothing was started and done() will not be called. */
	int (*start)(struct loop *loop, const struct exec_spec *spec,
	    exec_done_fn done, void *arg, struct exec_proc **out);
	/* Terminates the run (TERM, then KILL after the grace); done() follows
	 * with EXEC_CANCELLED.  No-op once done() has been called. */
	void (*cancel)(struct exec_proc *p);
	/* The stdout and stderr captures (two) of a command not done yet,
	 * to look at its output so far (outcap_peek()); NULL for an
	 * executor that has its output only at the end. */
	const struct outcap *(*output)(const struct exec_proc *p);
};

/* Frees a result; accepts NULL. */
void exec_result_free(struct exec_result *res);

struct outcap;
/* Moves the stdout and stderr captures cap[0] and cap[1] into res (text,
 * lengths, totals, truncated). */
void exec_result_output(struct exec_result *res, struct outcap *cap);

/* Says in res->error that the run timed out after timeout_ms ("timed out
 * after 5s"), after "what: " when what is not NULL. */
void exec_timed_out(struct exec_result *res, const char *what,
    int64_t timeout_ms);

struct loop_timer;
/*
 * Arms the first timer of a run an executor's start() has just made (p, of
 * the executor's own type): when the run could not be launched (failed),
 * end(p) at once into *t_end, from a zero timer so that start() returns
 * before done() runs; else timeout(p) after timeout_ms (none when 0) into
 * *t_timeout.  Returns 0, or -ENOMEM (then start() frees the run and
 * fails: done() will not be called).
 */
int exec_arm(struct loop *loop, void *p, bool failed, void (*end)(void *),
    struct loop_timer **t_end, int64_t timeout_ms, void (*timeout)(void *),
    struct loop_timer **t_timeout);

/* Short text of an outcome: "exited", "signaled", "timeout", ... */
const char *exec_outcome_str(enum exec_outcome o);

#endif
