/*
 * runlive.c - the output so far of a run still going, for the API's
 * GET /runs/{id} (runner.h: runner_live).
 *
 * The captures belong to the executors, which feed them on the loop
 * thread; this runs on the loop too (the API asks through the control
 * queue, bounded by CONTROL_WAIT_MS), so it reads them without a lock.
 * A snapshot kept by the runner under a mutex was the other way: it
 * would cost a lock on every chunk of every run's output, and copies
 * kept for runs nobody looks at; asking costs only the runs looked at.
 * A copy of each capture is taken (outcap_peek) and masked with the
 * values of the item's attempt, which stay with the item until its final
 * output is masked; the start of a value at the end of the copy is held
 * back, since the rest of it may not have come yet, and the pieces of
 * one split by the cap are masked as in the final output.
 *
 * The run's own record is copied too (runner_live_state, with the copy
 * the store is given, run_rec_copy): the store's lags behind it, so
 * without it a run whose output comes in would still read PENDING with no
 * start.  An item's output is in the record only once it ended (capped by
 * output_limit, and only asked for runs looked at), so an item that ended
 * but is not stored yet shows whole, not half.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "runner_int.h"

/* One item's copy of its output; l is left for runner_live_free(). */
static int
live_item(const struct item_ctx *ic, struct runner_live *l)
{
	const struct store_item *it = &ic->run->rec->items[ic->idx];
	const struct outcap *cap = ic->ops->output(ic->proc);
	size_t olen, elen;

	l->attempt = it->attempt;
	if ((l->node = strdup(it->node)) == NULL ||
	    (l->out = outcap_peek(&cap[0], &olen)) == NULL ||
	    (l->err = outcap_peek(&cap[1], &elen)) == NULL)
		return -ENOMEM;
	secrets_mask_live(&ic->sec, l->out, &olen);
	secrets_mask_live(&ic->sec, l->err, &elen);
	l->truncated = outcap_truncated(&cap[0]) ||
	    outcap_truncated(&cap[1]);
	if (l->truncated) {
		secrets_mask_cut(&ic->sec, &l->out, &olen);
		secrets_mask_cut(&ic->sec, &l->err, &elen);
	}
	return 0;
}

int
runner_live(struct runner *r, int64_t id, struct runner_live **items,
    size_t *np)
{
	struct run *run = runner_run_find(r, id);
	struct runner_live *v;
	const struct item_ctx *ic;
	size_t i, n = 0;

	*items = NULL;
	*np = 0;
	if (run == NULL)
		return ERR_NOTFOUND;
	if (run->rec->nitems == 0)
		return 0;
	if ((v = calloc(run->rec->nitems, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < run->rec->nitems; i++) {
		ic = run->ic[i];
		if (ic->proc == NULL || ic->ops == NULL ||
		    ic->ops->output == NULL)
			continue;
		if (live_item(ic, &v[n++]) != 0) {
			runner_live_free(v, n);
			return -ENOMEM;
		}
	}
	*items = v;
	*np = n;
	return 0;
}

void
runner_live_free(struct runner_live *items, size_t n)
{
	size_t i;

	for (i = 0; items != NULL && i < n; i++) {
		free(items[i].node);
		free(items[i].out);
		free(items[i].err);
	}
	free(items);
}

/* Sets *dst to a copy of src (NULL stays NULL); false when out of memory. */
int
runner_live_state(struct runner *r, int64_t id, struct store_run **state)
{
	struct run *run = runner_run_find(r, id);

	*state = NULL;
	if (run == NULL)
		return ERR_NOTFOUND;
	if (store_status_final(run->rec->status))
		return 0;
	return (*state = run_rec_copy(run->rec)) != NULL ? 0 : -ENOMEM;
}
