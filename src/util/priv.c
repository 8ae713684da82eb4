/*
 * priv.c - the daemon's user (priv.h).
 *
 * The user is looked up once at start (getpwnam_r).  The state directory
 * is made 0700; when the daemon will switch users it is handed over, with
 * every entry in it (fchownat without following links: a link planted in
 * it gives away nothing but itself; the directory is flat, and one holding
 * a directory is refused), once it is locked and before the switch: the
 * store, the spill and the token are then made by the user itself.  The
 * switch is initgroups(), setgid(),
 * setuid() in that order (the group calls need root), then a check that
 * setuid(0) fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/priv.h"

#define PRIV_PWBUF	16384	/* getpwnam_r's buffer */

int
priv_init(struct priv *p, const char *user, char *err, size_t errlen)
{
	struct passwd pw, *found = NULL;
	char *pwbuf;
	int r;

	memset(p, 0, sizeof(*p));
	if (user == NULL || user[0] == '\0')
		return 0;
	if (snprintf(p->name, sizeof(p->name), "%s", user) >=
	    (int)sizeof(p->name)) {
		snprintf(err, errlen, "user: name too long");
		return ERR_CONFIG;
	}
	if ((pwbuf = malloc(PRIV_PWBUF)) == NULL)
		return -ENOMEM;
	r = getpwnam_r(user, &pw, pwbuf, PRIV_PWBUF, &found);
	if (found != NULL) {
		p->uid = pw.pw_uid;
		p->gid = pw.pw_gid;
	}
	free(pwbuf);
	if (found == NULL) {
		snprintf(err, errlen, "user \"%s\": %s", p->name, r != 0 ?
		    strerror(r) : "no such user");
		return ERR_CONFIG;
	}
	if (geteuid() == p->uid)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "user \"%s\" (uid %u): started as uid "
		    "%u, which cannot switch to it; start as root or as that "
		    "user", p->name, (unsigned)p->uid, (unsigned)geteuid());
		return ERR_CONFIG;
	}
	p->drop = true;
	return 0;
}

/*
 * Gives dir's entries to uid:gid, not following links.  The state
 * directory is flat: one holding a directory is refused (a state_dir set
 * to /var by mistake is not given away), before anything is changed.
 * Returns 0, or -errno / ERR_INVALID with err naming the entry.
 */
static int
chown_entries(const char *dir, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	struct dirent *de;
	struct stat st;
	int pass, r = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -errno;
	for (pass = 0; pass < 2 && r == 0; pass++) {
		rewinddir(d);
		while (r == 0 && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0)
				r = -errno;
			else if (S_ISDIR(st.st_mode)) {
				snprintf(err, errlen, "it holds a directory "
				    "(%.64s): not a distcron state directory",
				    de->d_name);
				r = ERR_INVALID;
			} else if (pass == 1 && fchownat(dirfd(d), de->d_name,
			    uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
				r = -errno;
			if (r < 0 && r != ERR_INVALID)
				snprintf(err, errlen, "%.64s: %s", de->d_name,
				    strerror(-r));
		}
	}
	closedir(d);
	return r;
}

int
priv_state_dir(const struct priv *p, const char *dir, char *err,
    size_t errlen)
{
	char why[256] = "";
	struct stat st;
	int r;

	if (stat(dir, &st) != 0 || ((st.st_mode & 077) != 0 &&
	    chmod(dir, 0700) != 0)) {
		r = -errno;
		snprintf(err, errlen, "state_dir %s (mode %04o): cannot make "
		    "it 0700: %s", dir, (unsigned)(st.st_mode & 07777),
		    strerror(-r));
		return r;
	}
	if (!p->drop)
		return 0;
	if ((r = chown_entries(dir, p->uid, p->gid, why, sizeof(why))) == 0 &&
	    chown(dir, p->uid, p->gid) != 0) {
		r = -errno;
		snprintf(why, sizeof(why), "%s", strerror(-r));
	}
	if (r != 0)
		snprintf(err, errlen, "state_dir %s: cannot give it to user "
		    "\"%s\": %s", dir, p->name, why[0] != '\0' ? why :
		    strerror(-r));
	return r;
}

int
priv_drop(const struct priv *p, char *err, size_t errlen)
{
	const char *step = NULL;
	int e;

	if (!p->drop)
		return 0;
	if (initgroups(p->name, p->gid) != 0)
		step = "initgroups";
	else if (setgid(p->gid) != 0)
		step = "setgid";
	else if (setuid(p->uid) != 0)
		step = "setuid";
	if (step != NULL) {
		e = errno;
		snprintf(err, errlen, "user \"%s\": %s: %s", p->name, step,
		    strerror(e));
		return -e;
	}
	if (setuid(0) == 0 || geteuid() != p->uid || getegid() != p->gid) {
		snprintf(err, errlen, "user \"%s\": root could be regained "
		    "after the switch", p->name);
		return ERR_INTERNAL;
	}
	return 0;
}
