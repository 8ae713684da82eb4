/*
 * loop.h - the daemon's single event loop: epoll for file descriptors, a
 * min-heap of monotonic timers, and a thread-safe queue of posted calls
 * (woken through an eventfd).
 *
 * Everything except loop_post() and loop_stop() must be called on the loop
 * thread.  Callbacks run on the loop thread and must not block.
 */
#ifndef DISTCRON_LOOP_H
#define DISTCRON_LOOP_H

#include <stdint.h>

struct loop;
struct loop_watch;
struct loop_timer;

typedef void (*loop_io_fn)(int fd, uint32_t events, void *arg);
typedef void (*loop_fn)(void *arg);

/* Returns 0 and a new loop, or -errno. */
int loop_new(struct loop **out);

/* Frees the loop; pending timers, watches and posted calls are dropped
 * without being called.  Accepts NULL. */
void loop_free(struct loop *l);

/*
 * Watches fd for events (EPOLLIN, EPOLLOUT, ...; level-triggered).  fn gets
 * the returned events (EPOLLHUP/EPOLLERR included).  The loop does not own
 * fd.  Returns 0 and a handle, or -errno.
 */
int loop_watch_add(struct loop *l, int fd, uint32_t events, loop_io_fn fn,
    void *arg, struct loop_watch **out);

/* Changes the events of a watch (no system call when they are the same).
 * Returns 0 or -errno. */
int loop_watch_mod(struct loop_watch *w, uint32_t events);

/* Stops and frees a watch (before closing its fd).  Safe inside its own
 * callback and for other watches whose events are already pending. */
void loop_watch_del(struct loop_watch *w);

/*
 * Calls fn(arg) once at monotonic time due_ms (see loop_mono_ms()).  The
 * handle is freed by the loop after fn returns; do not use it afterwards.
 * Returns 0, or -ENOMEM.  out may be NULL when the timer is never cancelled.
 */
int loop_timer_add(struct loop *l, int64_t due_ms, loop_fn fn, void *arg,
    struct loop_timer **out);

/* Cancels and frees a timer that has not fired yet. */
void loop_timer_del(struct loop_timer *t);

/* Queues fn(arg) to run on the loop thread soon.  Thread-safe.  Returns 0 or
 * -ENOMEM. */
int loop_post(struct loop *l, loop_fn fn, void *arg);

/* Runs until loop_stop().  Returns 0, or -errno if epoll failed. */
int loop_run(struct loop *l);

/* Makes loop_run() return after the current iteration.  Thread-safe. */
void loop_stop(struct loop *l);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
int64_t loop_mono_ms(void);
int64_t loop_real_ms(void);

struct timespec;
/* A CLOCK_MONOTONIC time in ms as a timespec, for a timed wait on a
 * condition variable made with pthread_condattr_setclock(MONOTONIC). */
void loop_mono_timespec(int64_t mono_ms, struct timespec *out);

#endif
