/*
 * test_fileio.c - whole, private file writes and the private-file check.
 *
 * write() and fsync() are wrapped at link time (-Wl,--wrap, see
 * Makefile.am): the wrappers can cut each write() short, fail the first
 * one with EINTR or make it write nothing, and they count the fsync()s of
 * directories, so the tests see the loop, the error path and the
 * directory fsync that fileio_write_new() promises.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/fileio.h"

#define TEXT	"{\"schedule\": \"@daily\", \"command\": [\"true\"]}\n"

/* ---- the wrapped calls ---- */

ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n);
int __real_fsync(int fd);
int __wrap_fsync(int fd);

static size_t write_max;	/* 0: no limit */
static int write_eintr;		/* calls left that fail with EINTR */
static bool write_stuck;	/* write() returns 0 */
static int write_calls, dir_fsyncs;

ssize_t
__wrap_write(int fd, const void *p, size_t n)
{
	write_calls++;
	if (write_eintr > 0) {
		write_eintr--;
		errno = EINTR;
		return -1;
	}
	if (write_stuck)
		return 0;
	return __real_write(fd, p, write_max > 0 && n > write_max ?
	    write_max : n);
}

int
__wrap_fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		dir_fsyncs++;
	return __real_fsync(fd);
}

/* ---- fixture: a temporary directory ---- */

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_fileio.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/job.json", f->dir);
	write_max = 0;
	write_eintr = 0;
	write_stuck = false;
	write_calls = dir_fsyncs = 0;
	*state = f;
	return 0;
}

/* The number of entries in the directory (besides . and ..). */
static int
entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	char p[512];
	DIR *d = opendir(f->dir);

	while (d != NULL && (de = readdir(d)) != NULL) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		(void)unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Asserts path holds text with the given mode. */
static void
expect_file(const char *path, const char *text, mode_t mode)
{
	char got[256] = "";
	struct stat st;
	ssize_t n;
	int fd;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, text);
}

/* ---- tests ---- */

/* The mode is the one asked for, whatever the umask. */
static void
test_write_mode_and_contents(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(0);

	assert_int_equal(fileio_write_new(f->path, TEXT, strlen(TEXT), 0640,
	    true), 0);
	expect_file(f->path, TEXT, 0640);
	umask(077);
	assert_int_equal(fileio_write_new(f->path, "v2", 2, 0640, true), 0);
	expect_file(f->path, "v2", 0640);
	umask(old);
	assert_true(dir_fsyncs >= 2);		/* once per rename */
	assert_int_equal(entries(f->dir), 1);	/* no temp file left */
}

/* Short writes and EINTR: the whole text still arrives. */
static void
test_short_writes(void **state)
{
	struct fx *f = *state;

	write_max = 3;
	write_eintr = 1;
	assert_int_equal(fileio_write_new(f->path, TEXT, strlen(TEXT), 0600,
	    true), 0);
	expect_file(f->path, TEXT, 0600);
	assert_true(write_calls > (int)(strlen(TEXT) / 3));
}

/* write() that makes no progress: an error, no file, no temp file. */
static void
test_stuck_write(void **state)
{
	struct fx *f = *state;

	write_stuck = true;
	assert_int_equal(fileio_write_new(f->path, TEXT, strlen(TEXT), 0600,
	    true), -EIO);
	assert_int_equal(entries(f->dir), 0);
	assert_int_equal(dir_fsyncs, 0);
}

/* Without replace, an existing file stays as it was. */
static void
test_no_replace(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fileio_write_new(f->path, "first", 5, 0600, false),
	    0);
	assert_int_equal(fileio_write_new(f->path, "second", 6, 0600, false),
	    -EEXIST);
	expect_file(f->path, "first", 0600);
	assert_int_equal(entries(f->dir), 1);
}

static void
test_private_check(void **state)
{
	struct stat st;
	char why[128];

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_uid = geteuid();
	st.st_mode = S_IFREG | 0600;
	assert_int_equal(fileio_private_check(&st, why, sizeof(why)), 0);
	st.st_mode = S_IFREG | 0400;
	assert_int_equal(fileio_private_check(&st, why, sizeof(why)), 0);
	st.st_mode = S_IFREG | 0644;
	assert_int_equal(fileio_private_check(&st, why, sizeof(why)),
	    ERR_INVALID);
	assert_string_equal(why, "mode 0644 is readable by group or others; "
	    "chmod 600 it");
	st.st_mode = S_IFREG | 0602;
	assert_int_equal(fileio_private_check(&st, why, sizeof(why)),
	    ERR_INVALID);
	assert_string_equal(why, "mode 0602 is accessible by group or others; "
	    "chmod 600 it");
	st.st_mode = S_IFREG | 0600;
	st.st_uid = geteuid() + 1;
	assert_int_equal(fileio_private_check(&st, why, sizeof(why)),
	    ERR_INVALID);
	assert_non_null(strstr(why, "not by root or the daemon's user"));
	st.st_uid = 0;
	assert_int_equal(fileio_private_check(&st, why, sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_mode_and_contents,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_writes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stuck_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_replace, setup,
		    teardown),
		cmocka_unit_test(test_private_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
