/*
 * orphan.h - finding and ending the local process groups a previous daemon
 * left running.
 *
 * When a local run's process group starts, the daemon records its identity
 * with the run: the group id, the leader's start time (field 22 of
 * /proc/PID/stat, clock ticks since boot) and the boot id.  After a crash,
 * the next daemon ends a group only when its leader still has that start
 * time in that boot, so a pid reused by another process is never signalled.
 */
#ifndef DISTCRON_ORPHAN_H
#define DISTCRON_ORPHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ORPHAN_BOOT_MAX		40	/* a boot id is 36 characters */
#define ORPHAN_TEXT_MAX		96	/* orphan_format()'s output */

struct orphan_id {
	pid_t pgid;			/* group id = the leader's pid */
	uint64_t start;			/* leader start time, ticks since boot */
	char boot[ORPHAN_BOOT_MAX];	/* /proc/sys/kernel/random/boot_id */
	int64_t grace_ms;		/* TERM -> KILL delay */
};

/* Reads the identity of the group led by pid (its start time, this boot's
 * id) into *out with grace_ms.  Returns 0 or a negative errno. */
int orphan_ident(pid_t pid, int64_t grace_ms, struct orphan_id *out);

/* Parses the start time (field 22) out of the text of /proc/PID/stat.
 * Returns 0, or ERR_PARSE when the text has no such field. */
int orphan_stat_start(const char *stat, uint64_t *start);

/* True when the text of /proc/PID/stat, read in the boot cur_boot, is
 * the live (not zombie) leader of the group id recorded. */
bool orphan_match(const struct orphan_id *id, const char *stat,
    const char *cur_boot);

/* Formats id as "PGID START BOOT GRACE_MS" for the store. */
void orphan_format(const struct orphan_id *id, char *out, size_t outlen);

/* Parses orphan_format()'s text.  Returns 0 or ERR_PARSE. */
int orphan_parse(const char *text, struct orphan_id *out);

/*
 * Ends the n groups of ids that still exist and match (orphan_match):
 * TERM to each, then, after the longest of their grace_ms (or once all are
 * gone), KILL to those groups.  alive[i] (n entries) tells whether ids[i]
 * was found and ended.  Blocks up to that grace.  Returns the number ended.
 */
size_t orphan_end(const struct orphan_id *ids, size_t n, bool *alive);

#endif
