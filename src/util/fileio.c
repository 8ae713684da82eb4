/*
 * fileio.c - whole, private file writes and the private-file check (see
 * fileio.h).
 *
 * fileio_write_new() makes its temporary file with mkostemp() (O_CREAT |
 * O_EXCL: a name already taken, even by a symbolic link, is never
 * opened), sets the mode with fchmod() so that the umask cannot widen or
 * narrow it, writes through fileio_write_all() and fsyncs before the
 * rename or link; the directory is fsynced afterwards, since the new name
 * is an entry in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/fileio.h"

int
fileio_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, s, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The directory part of path into out: "." when it has none. */
static int
dir_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL ? 1 : slash == path ? 1 :
	    (size_t)(slash - path);

	if (len >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, slash == NULL ? "." : path, len);
	out[len] = '\0';
	return 0;
}

int
fileio_fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, r;

	if ((r = dir_of(path, dir, sizeof(dir))) != 0)
		return r;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	r = fsync(fd) != 0 ? -errno : 0;
	close(fd);
	return r;
}

/* "DIR/.NAME.tmp.XXXXXX" for path "DIR/NAME". */
static int
temp_name(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash != NULL ? (int)(slash - path) + 1 : 0;

	if ((size_t)snprintf(out, outlen, "%.*s.%s.tmp.XXXXXX", dlen, path,
	    path + dlen) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Writes the temporary file's contents and closes it. */
static int
temp_fill(int fd, const void *p, size_t n, mode_t mode)
{
	int r = 0;

	if (fchmod(fd, mode) != 0)
		r = -errno;
	if (r == 0 && (r = fileio_write_all(fd, p, n)) == 0 && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	return r;
}

int
fileio_write_new(const char *path, const void *p, size_t n, mode_t mode,
    bool replace)
{
	char tmp[PATH_MAX];
	int fd, r;

	if ((r = temp_name(path, tmp, sizeof(tmp))) != 0)
		return r;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -errno;
	r = temp_fill(fd, p, n, mode);
	if (r == 0 && (replace ? rename(tmp, path) : link(tmp, path)) != 0)
		r = -errno;
	if (r != 0 || !replace)
		unlink(tmp);
	if (r == 0)
		r = fileio_fsync_dir(path);
	return r;
}

int
fileio_private_check(const struct stat *st, char *why, size_t whylen)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(why, whylen, "owned by uid %u, not by root or the "
		    "daemon's user (uid %u)", (unsigned)st->st_uid,
		    (unsigned)me);
		return ERR_INVALID;
	}
	return fileio_mode_check(st, why, whylen);
}

int
fileio_mode_check(const struct stat *st, char *why, size_t whylen)
{
	if ((st->st_mode & 077) != 0) {
		snprintf(why, whylen, "mode %04o is %s by group or others; "
		    "chmod 600 it", (unsigned)(st->st_mode & 07777),
		    (st->st_mode & 044) != 0 ? "readable" : "accessible");
		return ERR_INVALID;
	}
	return 0;
}

int
fileio_secret_check(int fd, const char *path, const char *what, bool owner,
    char *err, size_t errlen)
{
	char why[128];
	struct stat st;
	int r;

	if ((fd >= 0 ? fstat(fd, &st) : stat(path, &st)) != 0)
		return 0;
	r = owner ? fileio_private_check(&st, why, sizeof(why)) :
	    fileio_mode_check(&st, why, sizeof(why));
	if (r != 0)
		snprintf(err, errlen, "%s %s: %s", what, path, why);
	return r;
}
