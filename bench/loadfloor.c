/*
 * loadfloor.c - the floor of bench/scale.sh's load: every "*.json" file of
 * a directory opened, read and parsed by json-c (nothing else: no checks,
 * no definitions kept), on THREADS threads that split the sorted names as
 * the daemon's loader does.  It prints the wall time and the CPU time it
 * took, what the daemon's load cannot beat on the same machine.
 *
 *   loadfloor DIR THREADS
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <json-c/json.h>

struct part {
	int dirfd;
	char **names;
	size_t n, bytes;
};

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void *
part_run(void *arg)
{
	struct part *p = arg;
	struct json_tokener *tok = json_tokener_new();
	static __thread char buf[1 << 20];
	size_t i;
	ssize_t n;
	int fd;

	for (i = 0; i < p->n; i++) {
		if ((fd = openat(p->dirfd, p->names[i], O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		p->bytes += (size_t)n;
		json_tokener_reset(tok);
		json_object_put(json_tokener_parse_ex(tok, buf, (int)n));
	}
	json_tokener_free(tok);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct part parts[16];
	pthread_t th[16];
	struct dirent *de;
	struct rusage ru;
	char **names = NULL;
	size_t n = 0, cap = 0, at = 0, bytes = 0;
	int i, nt = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1;
	double t0 = now();
	DIR *d;

	if (argc < 2 || nt < 1 || nt > 16 || (d = opendir(argv[1])) == NULL) {
		fprintf(stderr, "usage: loadfloor DIR THREADS (1-16)\n");
		return 2;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".json") == NULL)
			continue;
		if (n == cap && (names = realloc(names, (cap = cap ? cap * 2 :
		    1024) * sizeof(*names))) == NULL)
			return 1;
		names[n++] = strdup(de->d_name);
	}
	qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < nt; i++) {
		parts[i] = (struct part){ dirfd(d), names + at,
		    (n - at) / (size_t)(nt - i), 0 };
		at += parts[i].n;
		if (i > 0)
			pthread_create(&th[i], NULL, part_run, &parts[i]);
	}
	part_run(&parts[0]);
	for (i = 1; i < nt; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < nt; i++)
		bytes += parts[i].bytes;
	getrusage(RUSAGE_SELF, &ru);
	printf("floor (read + json-c parse, %d thread%s): %zu files, %zu bytes "
	    "in %.2f s, %.2f s of CPU\n", nt, nt > 1 ? "s" : "", n, bytes,
	    now() - t0, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return 0;
}
