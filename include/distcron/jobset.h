/*
 * jobset.h - a member's file-based jobs as cluster mode compares them:
 * each job's name and the hash of its file (defs.h's digest, as 16 hex
 * digits), in name order.  Members publish theirs in etcd as a JSON
 * object {"NAME": "DIGEST", ...} (jobset_json) and its hash; when the
 * hashes differ, jobset_compare names the jobs that differ and the
 * members on each side.  Pure functions on the caller's data: no I/O,
 * no locks, no state.
 */
#ifndef DISTCRON_JOBSET_H
#define DISTCRON_JOBSET_H

#include <stddef.h>

#include "distcron/defs.h"

#define JOBSET_HASH_LEN		17	/* 16 hex digits and a NUL */
#define JOBSET_DIGEST_MAX	64	/* a digest read from etcd, in chars */

/* One job: its name and its file's digest (hex). */
struct jobset_job {
	char *name;
	char *digest;
};

/* A member's jobs, sorted by name, names unique. */
struct jobset {
	struct jobset_job *jobs;
	size_t njobs;
};

/*
 * The jobs of set whose file is under jobs_dir ("jobs_dir/NAME.json", as
 * defs_load() names them): jobs from anywhere else (the API's, stored in
 * etcd) are left out.  Returns 0 and *out (cleared first; free with
 * jobset_clear), or -ENOMEM.
 */
int jobset_from_defs(const struct defs_set *set, const char *jobs_dir,
    struct jobset *out);

/* The JSON text {"NAME": "DIGEST", ...} in name order, or NULL without
 * memory; the caller frees it. */
char *jobset_json(const struct jobset *s);

/* The set's hash (what members compare first): FNV-1a 64 of its
 * jobset_json() text, as 16 hex digits in out. */
void jobset_hash(const char *json, char out[JOBSET_HASH_LEN]);

/*
 * Reads a published set (len bytes of JSON, as jobset_json writes it)
 * into *out (free with jobset_clear).  Returns 0, ERR_PARSE with err
 * saying what and where ("job \"x y\": not a job name", "job \"a\": the
 * digest must be a string of 1-64 hex digits"), or -ENOMEM.
 */
int jobset_parse(const char *text, size_t len, struct jobset *out,
    char *err, size_t errlen);

/* Frees s's jobs and empties it.  Accepts NULL. */
void jobset_clear(struct jobset *s);

/* What jobset_compare found. */
struct jobset_diff {
	char **lines;	/* one per job that differs, in name order, at most
			 * cap of them, then "and N more jobs" if cut */
	size_t nlines;
	size_t njobs;	/* jobs that differ, all of them */
};

/*
 * Compares the sets of members[0..n-1] (sets[i] is members[i]'s).  Each
 * job that is missing on some members or whose digest is not the same
 * on all gets a line naming it and the members, digests cut to 8
 * digits: 'job "backup" differs: m1, m3 have 3f2a0c11, m2 has 9c01aa02'
 * or 'job "x" is missing on m2' (both: 'job "y" differs: m1 has ...,
 * m2 has ...; missing on m3').  Lines past cap are counted, not
 * written.  Returns 0 and *out (free with jobset_diff_clear), or
 * -ENOMEM.
 */
int jobset_compare(const char *const *members, const struct jobset *sets,
    size_t n, size_t cap, struct jobset_diff *out);

/* Adds a line of the caller's (text, copied) to d, counted as one job
 * that differs (a member whose set could not be compared).  Returns 0 or
 * -ENOMEM. */
int jobset_diff_note(struct jobset_diff *d, const char *text);

/* Frees d's lines and empties it.  Accepts NULL. */
void jobset_diff_clear(struct jobset_diff *d);

#endif
