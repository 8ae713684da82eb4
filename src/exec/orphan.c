/*
 * orphan.c - recognising and ending process groups left by a daemon that
 * died.
 *
 * A group is identified by its leader's pid, start time and boot id, read
 * from /proc when the run starts.  At the next start the same three are
 * compared before any signal: a recycled pid has another start time, and
 * after a reboot the boot id differs.  A group whose leader has exited is
 * left alone (its members cannot be told apart from a new group).  Ending
 * is TERM, a wait of the grace polling /proc, then KILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/orphan.h"

#define ORPHAN_POLL_MS	50
#define ORPHAN_STAT_MAX	1024
#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"

/* Reads a small file into buf (NUL-terminated).  Returns 0 or -errno. */
static int
read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((n = read(fd, buf, len - 1)) < 0)
		r = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return r;
}

static int
read_boot(char *out, size_t len)
{
	int r;

	if ((r = read_small(BOOT_ID_PATH, out, len)) != 0)
		return r;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static int
read_stat(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	return read_small(path, buf, len);
}

/* Points past the command name: "PID (COMM) S ..." -> "S ...".  The name
 * may hold spaces and parentheses, so the last ')' ends it. */
static const char *
stat_fields(const char *stat)
{
	const char *p = strrchr(stat, ')');

	return p != NULL && p[1] == ' ' ? p + 2 : NULL;
}

/* Field n (1-based, n >= 3) of a stat text, as an unsigned number. */
static int
stat_field(const char *stat, int n, uint64_t *v)
{
	const char *p = stat_fields(stat);
	char *end;
	int i;

	for (i = 3; p != NULL && i < n; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || *p < '0' || *p > '9')
		return ERR_PARSE;
	errno = 0;
	*v = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return ERR_PARSE;
	return 0;
}

int
orphan_stat_start(const char *stat, uint64_t *start)
{
	return stat_field(stat, 22, start);
}

bool
orphan_match(const struct orphan_id *id, const char *stat,
    const char *cur_boot)
{
	const char *f = stat_fields(stat);
	uint64_t pid, pgrp, start;
	char *end;

	if (f == NULL || *f == 'Z' || *f == 'X' || id->pgid <= 1 ||
	    strcmp(id->boot, cur_boot) != 0)
		return false;
	errno = 0;
	pid = strtoull(stat, &end, 10);
	if (errno != 0 || *end != ' ' || stat_field(stat, 5, &pgrp) != 0 ||
	    orphan_stat_start(stat, &start) != 0)
		return false;
	return pid == (uint64_t)id->pgid && pgrp == pid && start == id->start;
}

int
orphan_ident(pid_t pid, int64_t grace_ms, struct orphan_id *out)
{
	char stat[ORPHAN_STAT_MAX];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = read_stat(pid, stat, sizeof(stat))) != 0 ||
	    (r = read_boot(out->boot, sizeof(out->boot))) != 0)
		return r;
	if ((r = orphan_stat_start(stat, &out->start)) != 0)
		return r;
	out->pgid = pid;
	out->grace_ms = grace_ms;
	return 0;
}

void
orphan_format(const struct orphan_id *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%ld %" PRIu64 " %s %" PRId64, (long)id->pgid,
	    id->start, id->boot, id->grace_ms);
}

int
orphan_parse(const char *text, struct orphan_id *out)
{
	long pgid;
	int64_t grace;
	uint64_t start;
	int n = 0;

	memset(out, 0, sizeof(*out));
	if (sscanf(text, "%ld %" SCNu64 " %39s %" SCNd64 "%n", &pgid, &start,
	    out->boot, &grace, &n) != 4 || text[n] != '\0' || pgid <= 1 ||
	    grace < 0)
		return ERR_PARSE;
	out->pgid = (pid_t)pgid;
	out->start = start;
	out->grace_ms = grace;
	return 0;
}

/* True while the group's leader is the recorded process, not yet reaped
 * or a zombie. */
static bool
orphan_alive(const struct orphan_id *id, const char *boot)
{
	char stat[ORPHAN_STAT_MAX];

	return read_stat(id->pgid, stat, sizeof(stat)) == 0 &&
	    orphan_match(id, stat, boot);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

size_t
orphan_end(const struct orphan_id *ids, size_t n, bool *alive)
{
	char boot[ORPHAN_BOOT_MAX];
	int64_t grace = 0, waited;
	size_t i, nalive = 0, left;

	if (read_boot(boot, sizeof(boot)) != 0)
		boot[0] = '\0';		/* nothing matches */
	for (i = 0; i < n; i++) {
		alive[i] = false;
		if (!orphan_alive(&ids[i], boot) ||
		    kill(-ids[i].pgid, SIGTERM) != 0)
			continue;
		alive[i] = true;
		nalive++;
		if (ids[i].grace_ms > grace)
			grace = ids[i].grace_ms;
	}
	for (waited = 0, left = nalive; left > 0 && waited < grace;
	    waited += ORPHAN_POLL_MS) {
		sleep_ms(ORPHAN_POLL_MS);
		for (i = 0, left = 0; i < n; i++)
			if (alive[i] && orphan_alive(&ids[i], boot))
				left++;
	}
	/* The leader may be gone and members left: KILL the whole group of
	 * every match; the group id is not reused while members remain. */
	for (i = 0; i < n && nalive > 0; i++)
		if (alive[i])
			kill(-ids[i].pgid, SIGKILL);
	return nalive;
}
