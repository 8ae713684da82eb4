/*
 * rendezvous.h - which member owns a job: rendezvous (highest random
 * weight) hashing of the job's name over the live members' ids.
 *
 * Every member computes the same answer from the same list, on any
 * machine and build: the score is a fixed 64-bit hash of (member, job),
 * and the member with the highest score owns the job (ties, which need
 * equal hashes, go to the smaller id).  When a member joins, it takes
 * about 1/N of the jobs, each from its previous owner; when one leaves,
 * only its jobs move.  Pure functions: no allocation, no state.
 */
#ifndef DISTCRON_RENDEZVOUS_H
#define DISTCRON_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

/* The score of member for job: FNV-1a 64 over member, a NUL byte and job,
 * finished with splitmix64's mixer.  Both strings must be non-NULL. */
uint64_t rendezvous_score(const char *member, const char *job);

/* The index in members[0..n-1] of the owner of job, or -1 when n is 0.
 * NULL entries are skipped (never owners). */
long rendezvous_owner(const char *const *members, size_t n, const char *job);

#endif
