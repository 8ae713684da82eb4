/*
 * exec.c - helpers shared by every executor: freeing a run's result and
 * naming its outcome.
 */
#include <stdlib.h>

#include "distcron/exec.h"
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
