/*
 * priv.h - the daemon's user: looking it up, handing it the state
 * directory, and switching to it.
 *
 * With config "user" set, a daemon started as root opens what needs root
 * (the log file, the API's socket, the locked state directory) and then,
 * before it starts any thread, switches to that user
 * for good (priv_drop); a daemon started as that user stays as it is.
 * Anything else is refused with the reason.  Nothing here is thread-aware
 * beyond what glibc gives: setuid() and friends apply to every thread.
 */
#ifndef DISTCRON_PRIV_H
#define DISTCRON_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct priv {
	char name[64];		/* the user; "" when none is configured */
	uid_t uid;
	gid_t gid;
	bool drop;		/* started as root: switch in priv_drop() */
};

/*
 * Looks up user (NULL or "": none) and decides what to do: started as
 * root, drop later; started as that user, nothing; started as another
 * user, ERR_CONFIG.  Returns 0, or ERR_CONFIG with err naming the user and
 * why ("user \"x\": no such user").  Blocks on the user database.
 */
int priv_init(struct priv *p, const char *user, char *err, size_t errlen);

/*
 * Makes dir (existing) 0700 and, when p will drop, gives it and the files
 * in it (not following links) to p's user and group; a dir holding a
 * directory is no state directory and is left as it is (ERR_INVALID).
 * Returns 0, or -errno / ERR_INVALID with err naming the dir and why.
 */
int priv_state_dir(const struct priv *p, const char *dir, char *err,
    size_t errlen);

/*
 * Switches the process (all threads) to p's user, its groups (initgroups)
 * and its group, for good: fails if root could be regained.  Does nothing
 * unless p->drop.  Returns 0, or -errno / ERR_INTERNAL with err saying
 * which step failed.
 */
int priv_drop(const struct priv *p, char *err, size_t errlen);

#endif
