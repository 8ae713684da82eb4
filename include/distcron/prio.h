/*
 * prio.h - CPU priority of the threads that start runs.
 *
 * With a negative scheduler_nice, the event loop and the spawner threads
 * run at a lower nice value (higher priority) than everything else in the
 * daemon and than the runs they start, so that a busy machine - a flood of
 * API requests, jobs burning CPU - does not delay the start of the next
 * runs.  The runs themselves get the daemon's own nice value as soon as
 * their program is in place (prio.c says how).  Raising a priority needs
 * CAP_SYS_NICE (root has it); without it everything keeps the daemon's
 * nice value and the first refusal is logged.
 *
 * Linux keeps a nice value per thread, and a new thread or process takes
 * its creator's; the functions below act on the calling thread.
 */
#ifndef DISTCRON_PRIO_H
#define DISTCRON_PRIO_H

#include <stdbool.h>
#include <spawn.h>
#include <sys/types.h>

/*
 * Sets the nice value for prio_raise() (clamped to -20..19) and records the
 * daemon's own, read from the calling thread.  Before it is called, or when
 * nice is not negative and below the daemon's own, prio_raise() and
 * prio_lower_group() do nothing.  Call once, before any thread is raised.
 */
void prio_init(int nice);

/*
 * Raises the calling thread to the nice value of prio_init().  With
 * reset_children, the threads and processes it creates from now on start
 * at nice 0 instead of inheriting the raised value (SCHED_RESET_ON_FORK).
 * Returns 0, or -errno when the system refused (the thread then keeps its
 * priority; the first refusal is logged, later ones are not).
 */
int prio_raise(bool reset_children);

/*
 * Raises the calling spawner thread: the nice value of prio_raise(false),
 * and SCHED_FIFO so that it preempts the processes it starts.  Returns 0,
 * or -errno when either was refused; the thread then keeps the daemon's
 * priority (logged).
 */
int prio_raise_spawner(void);

/*
 * Adds to attr (and POSIX_SPAWN_SETSCHEDULER to *flags) the daemon's own
 * scheduling policy, so that a process started by a SCHED_FIFO spawner
 * leaves it before exec.  Does nothing before prio_init() or when raising
 * is off.  Returns 0 or -errno.
 */
int prio_spawn_attr(posix_spawnattr_t *attr, short *flags);

/*
 * Gives every process of group pgid, a run just started by a raised thread
 * (and what it forked so far), the daemon's own nice value.  Returns 0
 * (also when the group has already gone), or -errno.
 */
int prio_lower_group(pid_t pgid);

#endif
