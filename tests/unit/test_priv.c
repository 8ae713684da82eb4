/*
 * test_priv.c - the daemon's user (priv.h): looking it up (unknown users
 * and users the process cannot become are refused with their name), the
 * state directory made 0700 and handed over without following links (one
 * holding a directory refused), and
 * the switch itself, in a child process (it cannot be undone).  Parts that
 * need root are skipped without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/priv.h"

/* A user that is not root, to switch to ("nobody" on Debian). */
#define OTHER_USER	"nobody"

static void
test_lookup(void **state)
{
	struct passwd *me = getpwuid(geteuid());
	struct priv p;
	char err[256];

	(void)state;
	assert_int_equal(priv_init(&p, "", err, sizeof(err)), 0);
	assert_false(p.drop);
	assert_int_equal(priv_init(&p, NULL, err, sizeof(err)), 0);
	assert_false(p.drop);
	assert_int_equal(priv_init(&p, "no-such-user-dc", err, sizeof(err)),
	    ERR_CONFIG);
	assert_string_equal(err, "user \"no-such-user-dc\": no such user");
	assert_non_null(me);
	assert_int_equal(priv_init(&p, me->pw_name, err, sizeof(err)), 0);
	assert_false(p.drop);		/* started as that user */
	if (getpwnam(OTHER_USER) == NULL)
		skip();
	if (geteuid() == 0) {
		assert_int_equal(priv_init(&p, OTHER_USER, err, sizeof(err)),
		    0);
		assert_true(p.drop);
		assert_int_equal(p.uid, getpwnam(OTHER_USER)->pw_uid);
	} else {
		assert_int_equal(priv_init(&p, "root", err, sizeof(err)),
		    ERR_CONFIG);
		assert_non_null(strstr(err, "start as root or as that user"));
	}
}

/* The state directory becomes 0700; switching, it and what it holds go to
 * the user, but not what a link in it points to. */
static void
test_state_dir(void **state)
{
	char dir[] = "/tmp/test_priv.XXXXXX", f[64], ln[64], out[64], sub[64];
	struct priv p;
	struct stat st;
	char err[256];
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(priv_init(&p, "", err, sizeof(err)), 0);
	assert_int_equal(priv_state_dir(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(f, sizeof(f), "%s/distcron.db", dir);
	snprintf(ln, sizeof(ln), "%s/link", dir);
	snprintf(out, sizeof(out), "%s.outside", dir);
	assert_non_null(fp = fopen(f, "w"));
	fclose(fp);
	assert_non_null(fp = fopen(out, "w"));
	fclose(fp);
	assert_int_equal(symlink(out, ln), 0);
	if (geteuid() == 0 && getpwnam(OTHER_USER) != NULL) {
		assert_int_equal(priv_init(&p, OTHER_USER, err, sizeof(err)),
		    0);
		assert_int_equal(priv_state_dir(&p, dir, err, sizeof(err)),
		    0);
		assert_int_equal(stat(dir, &st), 0);
		assert_int_equal(st.st_uid, p.uid);
		assert_int_equal(stat(f, &st), 0);
		assert_int_equal(st.st_uid, p.uid);
		assert_int_equal(st.st_gid, p.gid);
		assert_int_equal(stat(out, &st), 0);
		assert_int_equal(st.st_uid, 0);		/* not followed */
		/* A directory in it: not a state directory, nothing given. */
		assert_int_equal(chown(f, 0, 0), 0);
		snprintf(sub, sizeof(sub), "%s/sub", dir);
		assert_int_equal(mkdir(sub, 0700), 0);
		assert_int_equal(priv_state_dir(&p, dir, err, sizeof(err)),
		    ERR_INVALID);
		assert_non_null(strstr(err, "it holds a directory (sub)"));
		assert_int_equal(stat(f, &st), 0);
		assert_int_equal(st.st_uid, 0);
		rmdir(sub);
	}
	unlink(ln);
	unlink(f);
	unlink(out);
	rmdir(dir);
}

/* The switch, in a child: afterwards it is the user and cannot go back. */
static void
test_drop(void **state)
{
	struct priv p;
	char err[256];
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0 || getpwnam(OTHER_USER) == NULL)
		skip();
	assert_int_equal(priv_init(&p, OTHER_USER, err, sizeof(err)), 0);
	if ((pid = fork()) == 0) {
		if (priv_drop(&p, err, sizeof(err)) != 0)
			_exit(2);
		_exit(getuid() == p.uid && geteuid() == p.uid &&
		    getgid() == p.gid && setuid(0) != 0 ? 0 : 3);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_state_dir),
		cmocka_unit_test(test_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
