/*
 * ideal_loop.c - the reference for the lateness benchmark: the least a
 * scheduler can do.  For each of SECONDS seconds it sleeps until the second
 * starts (clock_nanosleep on absolute CLOCK_REALTIME), then posix_spawns
 * /bin/true JOBS times, printing each spawn's lateness in ms (time just
 * before posix_spawn minus the second).  Children are reaped as they exit.
 * usage: ideal_loop JOBS SECONDS
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int
main(int argc, char **argv)
{
	char *args[] = { "/bin/true", NULL };
	struct timespec next, now;
	long jobs, secs, s, j;
	pid_t pid;

	if (argc != 3)
		return 2;
	jobs = strtol(argv[1], NULL, 10);
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
			posix_spawn(&pid, args[0], NULL, NULL, args, environ);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
