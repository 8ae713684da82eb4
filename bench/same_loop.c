/*
 * same_loop.c - the reference of bench/same.sh: the least a scheduler can
 * do for JOBS runs due in the same second with at most MAXC alive.  It
 * sleeps until second AT (clock_nanosleep on absolute CLOCK_REALTIME),
 * then posix_spawns /bin/true JOBS times as fast as it can, waiting for a
 * child to exit whenever MAXC are alive, and prints each spawn's lateness
 * in ms (the time just before posix_spawn minus AT).  On stderr it prints
 * the most children alive at once ("peak N").
 * usage: same_loop JOBS MAXC AT
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
	struct timespec at = { 0, 0 }, now;
	long jobs, maxc, j, alive = 0, peak = 0;
	double *late;
	pid_t pid;

	if (argc != 4)
		return 2;
	jobs = strtol(argv[1], NULL, 10);
	maxc = strtol(argv[2], NULL, 10);
	at.tv_sec = (time_t)strtoll(argv[3], NULL, 10);
	if (jobs <= 0 || maxc <= 0 ||
	    (late = calloc((size_t)jobs, sizeof(*late))) == NULL)
		return 2;
	clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL);
	for (j = 0; j < jobs; j++) {
		while (alive > 0 && waitpid(-1, NULL, alive >= maxc ? 0 :
		    WNOHANG) > 0)
			alive--;
		clock_gettime(CLOCK_REALTIME, &now);
		late[j] = (now.tv_sec - at.tv_sec) * 1e3 +
		    (now.tv_nsec - at.tv_nsec) / 1e6;
		if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0)
			return 1;
		if (++alive > peak)
			peak = alive;
	}
	while (wait(NULL) > 0)
		;
	for (j = 0; j < jobs; j++)	/* printed after: no I/O in the loop */
		printf("%.3f\n", late[j]);
	fprintf(stderr, "peak %ld\n", peak);
	free(late);
	return 0;
}
