/*
 * runstats.c - the runner's counters and histograms (runner.c has the map):
 * item lateness against the tick and run durations in fixed buckets
 * (RUNNER_HIST_BOUNDS), final runs by status (the runner's and each job's),
 * and, when asked, the store queue's and the output budget's figures.  The
 * other counters are bumped where they happen; all on the loop thread.
 */
#include <stdint.h>

#include "runner_int.h"

/* Adds one observation (ms) to a histogram of runner_stats. */
static void
hist_add(uint64_t *hist, uint64_t *count, double *sum, int64_t ms)
{
	static const int64_t bounds[RUNNER_HIST_N] = RUNNER_HIST_BOUNDS;
	size_t i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < RUNNER_HIST_N && ms > bounds[i]; i++)
		;
	hist[i]++;
	(*count)++;
	*sum += (double)ms;
}

void
runstats_lateness(struct runner *r, int64_t ms)
{
	hist_add(r->stats.lateness_hist, &r->stats.lateness_count,
	    &r->stats.lateness_sum_ms, ms);
}

void
runstats_duration(struct runner *r, int64_t ms)
{
	hist_add(r->stats.duration_hist, &r->stats.duration_count,
	    &r->stats.duration_sum_ms, ms);
}

void
runstats_final(struct slot *slot, enum run_status st)
{
	slot->r->stats.finals[st]++;
}

void
runstats_last(struct slot *slot, int d)
{
	if (slot->last_id > 0 && !slot->transient && !slot->gone &&
	    slot->last_status >= RUN_PENDING && slot->last_status <= RUN_LOST)
		slot->r->stats.jobs_last[slot->last_status] += (uint64_t)d;
}

void
runner_stats(const struct runner *r, struct runner_stats *out)
{
	struct storeq_status qs;

	*out = r->stats;
	storeq_status(r->q, &qs);
	out->store_queue = qs.depth;
	out->store_queue_max = qs.max;
	out->store_err = qs.err;
	out->store_failed = qs.failed;
	out->store_rejected = qs.rejected;
	outcap_budget_stats(&r->outbudget, &out->output_held,
	    &out->output_spills, &out->output_cuts);
}
