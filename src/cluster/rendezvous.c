/*
 * rendezvous.c - rendezvous hashing (rendezvous.h): each member scores
 * the job with a stable 64-bit hash of (member, job) and the highest
 * score owns it.  FNV-1a spreads the bytes; splitmix64's finishing mixer
 * makes the high bits of the score depend on every input bit, so that
 * ids differing in one character ("m1", "m2") still get independent
 * scores.  The constants are fixed here, never taken from the platform,
 * so every machine and build agrees.
 */
#include <string.h>

#include "distcron/rendezvous.h"

#define FNV64_OFFSET	0xcbf29ce484222325ULL
#define FNV64_PRIME	0x100000001b3ULL

static uint64_t
fnv1a(uint64_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/* splitmix64's finalizer. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
rendezvous_score(const char *member, const char *job)
{
	uint64_t h = fnv1a(FNV64_OFFSET, member, strlen(member) + 1);

	return mix64(fnv1a(h, job, strlen(job)));
}

long
rendezvous_owner(const char *const *members, size_t n, const char *job)
{
	uint64_t best = 0, s;
	long owner = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (members[i] == NULL)
			continue;
		s = rendezvous_score(members[i], job);
		if (owner < 0 || s > best || (s == best &&
		    strcmp(members[i], members[owner]) < 0)) {
			best = s;
			owner = (long)i;
		}
	}
	return owner;
}
