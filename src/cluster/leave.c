/*
 * leave.c - a member's clean leave (cluster.h, cluster_leave).
 *
 * A member claims each tick a fraction of a second before it is due.  A
 * stop that revoked the lease at once would leave the ticks it had just
 * won unlaunched (the runner ends them LOST) with their claims still in
 * etcd, so the member taking its jobs over could not run them either:
 * they would be lost.  So the member goes on as before, claiming and
 * launching, until no claim of its is in flight and every tick it won has
 * come (checked every CL_LEAVE_POLL_MS, at most CL_LEAVE_MAX_MS), and
 * only then stops its runner and revokes its lease: the others see it
 * leave at once, well before their next claims.
 */
#include <stdint.h>

#include "cluster_int.h"

#define CL_LEAVE_POLL_MS	20
#define CL_LEAVE_MAX_MS		2000
#define CL_LAUNCH_MARGIN_MS	100	/* a won tick launches this soon */

static void
cl_leave_check(void *arg)
{
	struct cluster *c = arg;
	int64_t now = loop_mono_ms();
	bool busy = c->claims_inflight > 0 || loop_real_ms() <
	    c->won_until * 1000 + CL_LAUNCH_MARGIN_MS;

	c->leave_timer = NULL;
	if (busy && cl_lease_fresh(c) && now < c->leave_deadline) {
		loop_timer_add(c->loop, now + CL_LEAVE_POLL_MS, cl_leave_check,
		    c, &c->leave_timer);
		return;
	}
	c->leave_ready(c->leave_arg);
	cluster_stop(c, c->leave_done, c->leave_arg);
}

void
cluster_leave(struct cluster *c, loop_fn ready, loop_fn done, void *arg)
{
	c->leave_ready = ready;
	c->leave_done = done;
	c->leave_arg = arg;
	c->leave_deadline = loop_mono_ms() + CL_LEAVE_MAX_MS;
	cl_leave_check(c);
}
