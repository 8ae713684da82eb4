/*
 * ideal_loop.c - the reference for the lateness benchmark: the least a
 * scheduler can do.  For each of SECONDS seconds it sleeps until the second
 * starts (clock_nanosleep on absolute CLOCK_REALTIME), then posix_spawns
 * /bin/true JOBS times, printing each spawn's lateness in ms (time just
 * before posix_spawn minus the second).  Children are reaped as they exit.
 * With "capture" as a third argument it also does what any executor that
 * records output must do per run: two pipes for stdout and stderr, its own
 * process group, and a pidfd; each run's descriptors are closed 16 spawns
 * later (as distcrond reaps finished runs between batches of 16 launches).
 * At the end it prints its own CPU time per run on stderr.
 * usage: ideal_loop JOBS SECONDS [capture]
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* One spawn with output pipes, a process group and a pidfd.  The caller
 * closes the returned descriptors (fds[0..2]). */
static void
spawn_capture(char **args, int *fds)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int po[2], pe[2];
	pid_t pid;

	pipe2(po, O_CLOEXEC);
	pipe2(pe, O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawn(&pid, args[0], &fa, &at, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	fds[0] = po[0];
	fds[1] = pe[0];
	fds[2] = (int)syscall(SYS_pidfd_open, pid, 0);
}

static void
close_run(int *fds)
{
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
}

int
main(int argc, char **argv)
{
	int capture = argc > 3 && strcmp(argv[3], "capture") == 0;
	struct rusage ru;
	int *fds;
	char *args[] = { "/bin/true", NULL };
	struct timespec next, now;
	long jobs, secs, s, j;
	pid_t pid;

	if (argc < 3)
		return 2;
	jobs = strtol(argv[1], NULL, 10);
	if ((fds = calloc((size_t)jobs * 3, sizeof(*fds))) == NULL)
		return 1;
	secs = strtol(argv[2], NULL, 10);
	clock_gettime(CLOCK_REALTIME, &next);
	next.tv_sec += 1;
	next.tv_nsec = 0;
	for (s = 0; s < secs; s++, next.tv_sec++) {
		clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &next, NULL);
		for (j = 0; j < jobs; j++) {
			clock_gettime(CLOCK_REALTIME, &now);
			printf("%.3f\n", (now.tv_sec - next.tv_sec) * 1e3 +
			    (now.tv_nsec - next.tv_nsec) / 1e6);
			if (capture)
				spawn_capture(args, &fds[j * 3]);
			else
				posix_spawn(&pid, args[0], NULL, NULL, args,
				    environ);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (capture && j >= 16)
				close_run(&fds[(j - 16) * 3]);
		}
		for (j = jobs > 16 ? jobs - 16 : 0; capture && j < jobs; j++)
			close_run(&fds[j * 3]);
	}
	while (wait(NULL) > 0)
		;
	getrusage(RUSAGE_SELF, &ru);	/* this process only, not children */
	fprintf(stderr, "cpu_us_per_run %.1f\n", (ru.ru_utime.tv_sec +
	    ru.ru_stime.tv_sec) * 1e6 / (double)(jobs * secs) +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / (double)(jobs * secs));
	free(fds);
	return 0;
}
