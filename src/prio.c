/*
 * prio.c - CPU priority of the threads that start runs.
 *
 * A raised thread gets a lower nice value with setpriority() on its thread
 * id.  The loop raises itself with SCHED_RESET_ON_FORK, so the threads it
 * creates later (reloads, name lookups) start at nice 0 and do not share
 * its priority.  A spawner thread raises itself without that flag, so the
 * process it starts stays raised until exec has replaced it with the job's
 * program - the part of a start that posix_spawn() waits for - and is then
 * lowered to the daemon's nice value by prio_lower_child(), microseconds
 * later and long before a dynamically linked program has run a line of its
 * own.  On a machine busy with other work, this is what keeps a burst of
 * starts from waiting behind it.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "distcron/log.h"
#include "distcron/prio.h"

static int base_nice;		/* the daemon's own */
static int raised_nice;
static bool enabled;		/* raised_nice < base_nice */
static atomic_bool refused;	/* the system said no once: do not retry */
static __thread bool raised;

void
prio_init(int nice)
{
	errno = 0;
	base_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno != 0)
		base_nice = 0;
	raised_nice = nice < -20 ? -20 : nice > 19 ? 19 : nice;
	enabled = raised_nice < base_nice;
}

int
prio_raise(bool reset_children)
{
	struct sched_param sp;
	int r;

	if (!enabled || refused)
		return 0;
	if (reset_children) {
		memset(&sp, 0, sizeof(sp));
		if (sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK,
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
prio_lower_child(pid_t pid)
{
	if (!raised)
		return 0;
	if (setpriority(PRIO_PROCESS, (id_t)pid, base_nice) != 0 &&
	    errno != ESRCH)
		return -errno;
	return 0;
}
