/*
 * exec.c - helpers shared by the executors: freeing a run's result,
 * naming its outcome, moving the captures into it, saying it timed out,
 * and arming the first timer of a run just started (HTTP and AMQP, whose
 * runs end by a timer).
 */
#include <stdio.h>
#include <stdlib.h>

#include "distcron/dur.h"
#include "distcron/exec.h"
#include "distcron/loop.h"
#include "distcron/outcap.h"

void
exec_result_free(struct exec_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	free(res);
}

const char *
exec_outcome_str(enum exec_outcome o)
{
	switch (o) {
	case EXEC_EXITED:
		return "exited";
	case EXEC_SIGNALED:
		return "signaled";
	case EXEC_TIMEOUT:
		return "timeout";
	case EXEC_CANCELLED:
		return "cancelled";
	case EXEC_FAILED:
		return "failed";
	case EXEC_UNREACHABLE:
		return "unreachable";
	}
	return "unknown";
}

void
exec_result_output(struct exec_result *res, struct outcap *cap)
{
	res->out = outcap_text(&cap[0], &res->out_len);
	res->err = outcap_text(&cap[1], &res->err_len);
	res->out_total = cap[0].total;
	res->err_total = cap[1].total;
	res->truncated = outcap_truncated(&cap[0]) ||
	    outcap_truncated(&cap[1]);
}

int
exec_arm(struct loop *loop, void *p, bool failed, void (*end)(void *),
    struct loop_timer **t_end, int64_t timeout_ms, void (*timeout)(void *),
    struct loop_timer **t_timeout)
{
	if (failed)
		return loop_timer_add(loop, loop_mono_ms(), end, p, t_end);
	if (timeout_ms <= 0)
		return 0;
	return loop_timer_add(loop, loop_mono_ms() + timeout_ms, timeout, p,
	    t_timeout);
}

void
exec_timed_out(struct exec_result *res, const char *what, int64_t timeout_ms)
{
	char d[32];

	dur_format(timeout_ms, d, sizeof(d));
	snprintf(res->error, sizeof(res->error), "%s%stimed out after %s",
	    what != NULL ? what : "", what != NULL ? ": " : "", d);
}
