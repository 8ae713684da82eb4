/*
 * fileio.h - writing files whole and privately, and checking that a file
 * holding a secret is private.
 *
 * Files that can hold secrets (job files written by the API, the API token)
 * are written through fileio_write_new(): a fresh temporary file next to
 * the target (O_EXCL, so never through a planted link), given its mode
 * explicitly (whatever the umask), written in full, fsynced, then renamed
 * or linked into place and the directory fsynced, so that a crash leaves
 * the old file or the new one, never half of one.  Everything here blocks
 * on the disk: call it off the event loop.
 */
#ifndef DISTCRON_FILEIO_H
#define DISTCRON_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Writes all n bytes of p to fd, again after a short write or EINTR.
 * Returns 0, -errno, or -EIO when write() makes no progress. */
int fileio_write_all(int fd, const void *p, size_t n);

/* fsyncs the directory holding path (so that a rename or link in it
 * lasts).  Returns 0 or -errno. */
int fileio_fsync_dir(const char *path);

/* Writes n bytes of p to path with the given mode through a temporary
 * file ".NAME.tmp.XXXXXX" in the same directory.  replace: rename over an
 * existing file; otherwise link, and -EEXIST if path exists.  Returns 0 or
 * -errno; the temporary file never remains. */
int fileio_write_new(const char *path, const void *p, size_t n, mode_t mode,
    bool replace);

/* Checks that a file holding a secret (st: its stat) is private, as
 * OpenSSH does for keys: owned by root or the effective user, and no access
 * for group or others.  Returns 0, or ERR_INVALID with why set to "mode
 * 0644 is readable by group or others; chmod 600 it" or "owned by uid N,
 * not by root or the daemon's user (uid M)". */
int fileio_private_check(const struct stat *st, char *why, size_t whylen);

/* fileio_private_check's mode half alone (for a client, which may read a
 * file the daemon's user owns): 0, or ERR_INVALID with why "mode 0644 is
 * readable by group or others; chmod 600 it". */
int fileio_mode_check(const struct stat *st, char *why, size_t whylen);

/* The check of a file holding a secret, fd open on it (or -1: path is
 * stat'ed), what naming it ("api token file"): fileio_private_check with
 * owner, else fileio_mode_check.  Returns 0 (also when the file cannot be
 * stat'ed: that is left to the step that reads it), or ERR_INVALID with
 * err "WHAT PATH: mode 0644 is readable by group or others; chmod 600
 * it", the form the daemon and distcronctl share. */
int fileio_secret_check(int fd, const char *path, const char *what,
    bool owner, char *err, size_t errlen);

#endif
