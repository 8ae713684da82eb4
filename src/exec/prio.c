/*
 * prio.c - CPU priority of the threads that start runs.
 *
 * A raised thread gets a lower nice value with setpriority() on its thread
 * id.  The loop raises itself with SCHED_RESET_ON_FORK, so the threads it
 * creates later (reloads, name lookups) start at nice 0 and do not share
 * its priority.  A spawner thread raises its nice value without that flag:
 * the process it starts inherits the raise through exec, the part of a
 * start that posix_spawn() waits for and that otherwise queues behind every
 * process already running (measured: the raise is what keeps a burst of
 * starts, or a flood of API requests, from delaying the next starts).
 *
 * posix_spawn() cannot lower the new process between the end of exec and
 * its first instruction, so the spawner lowers it right after, and must
 * get the CPU at once to do so: it also runs SCHED_FIFO, which preempts
 * the new process the moment exec lets posix_spawn() return.  The new
 * process leaves SCHED_FIFO before exec (POSIX_SPAWN_SETSCHEDULER back to
 * the daemon's policy; the raised nice value stays), so no job code ever
 * runs real-time.  The spawner lowers the whole process group of the run
 * (PRIO_PGRP; each run leads a group of its own), which also catches
 * anything the run forked in between.
 */
#include <errno.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "distcron/log.h"
#include "distcron/prio.h"

static int base_nice;		/* the daemon's own */
static int base_policy;		/* the daemon's scheduling policy */
static struct sched_param base_param;
static int raised_nice;
static bool enabled;		/* raised_nice < min(0, base_nice) */
static atomic_bool refused;	/* the system said no once: do not retry */
static __thread bool raised;

void
prio_init(int nice)
{
	errno = 0;
	base_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno != 0)
		base_nice = 0;
	if ((base_policy = sched_getscheduler(0)) < 0 ||
	    sched_getparam(0, &base_param) != 0) {
		base_policy = SCHED_OTHER;
		memset(&base_param, 0, sizeof(base_param));
	}
	raised_nice = nice < -20 ? -20 : nice > 19 ? 19 : nice;
	enabled = raised_nice < 0 && raised_nice < base_nice;
}

int
prio_raise(bool reset_children)
{
	struct sched_param sp;
	int r;

	if (!enabled || refused)
		return 0;
	if (reset_children) {
		sp = base_param;
		if (sched_setscheduler(0, base_policy | SCHED_RESET_ON_FORK,
		    &sp) != 0)
			log_debug("SCHED_RESET_ON_FORK: %s", strerror(errno));
	}
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), raised_nice) != 0) {
		r = -errno;
		refused = true;
		log_info("runs are started at the daemon's own priority: "
		    "nice %d needs CAP_SYS_NICE (%s)", raised_nice,
		    strerror(-r));
		return r;
	}
	raised = true;
	return 0;
}

int
prio_raise_spawner(void)
{
	struct sched_param sp;
	int r;

	if ((r = prio_raise(false)) != 0 || !raised)
		return r;
	memset(&sp, 0, sizeof(sp));
	sp.sched_priority = sched_get_priority_min(SCHED_FIFO);
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
		/* Without it a run could keep the raise for its first
		 * moments: start runs at the daemon's priority instead. */
		r = -errno;
		setpriority(PRIO_PROCESS, (id_t)gettid(), base_nice);
		raised = false;
		log_info("spawner thread: SCHED_FIFO: %s; runs are started at "
		    "the daemon's own priority", strerror(-r));
		return r;
	}
	return 0;
}

int
prio_spawn_attr(posix_spawnattr_t *attr, short *flags)
{
	int r;

	if (!enabled)
		return 0;
	if ((r = posix_spawnattr_setschedpolicy(attr, base_policy)) != 0 ||
	    (r = posix_spawnattr_setschedparam(attr, &base_param)) != 0)
		return -r;
	*flags |= POSIX_SPAWN_SETSCHEDULER;
	return 0;
}

int
prio_lower_group(pid_t pgid)
{
	if (!raised)
		return 0;
	if (setpriority(PRIO_PGRP, (id_t)pgid, base_nice) != 0 &&
	    errno != ESRCH)
		return -errno;
	return 0;
}
