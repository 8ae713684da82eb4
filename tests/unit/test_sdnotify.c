/*
 * test_sdnotify.c - the service manager's notify protocol, received on a
 * unix datagram socket of the test's, as systemd would: a message arrives
 * whole at a path or an abstract address, the variables are gone from the
 * environment afterwards (no job inherits them), the watchdog interval is
 * half of WATCHDOG_USEC and only for the process WATCHDOG_PID names, and
 * bad values are refused naming the variable.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "distcron/err.h"
#include "distcron/sdnotify.h"

static char dir[] = "/tmp/distcron-sdnotify.XXXXXX";
static char path[128];

/* A datagram socket bound to name ("/path", or "@name": abstract). */
static int
listener(const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd;

	assert_true(len < sizeof(a.sun_path));
	memcpy(a.sun_path, name, len);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	else
		len++;
	assert_true((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

/* The next datagram on fd (waits up to 2 s), as a string. */
static void
receive(int fd, char *out, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t got;

	assert_int_equal(poll(&p, 1, 2000), 1);
	got = recv(fd, out, n - 1, 0);
	assert_true(got >= 0);
	out[got] = '\0';
}

static void
clear_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

/* No NOTIFY_SOCKET: no handle, and sending is a no-op. */
static void
test_no_manager(void **state)
{
	struct sdnotify *n = (struct sdnotify *)1;
	char err[256];

	(void)state;
	clear_env();
	setenv("WATCHDOG_USEC", "1000000", 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_null(n);
	assert_int_equal(sdnotify_send(n, "READY=1"), 0);
	assert_int_equal(sdnotify_watchdog_ms(n), 0);
	assert_null(getenv("WATCHDOG_USEC"));
}

/* A path: READY=1 with a status arrives as one datagram; the variables
 * are gone from the environment; no watchdog was asked. */
static void
test_path(void **state)
{
	struct sdnotify *n = NULL;
	char err[256], got[256];
	int fd;

	(void)state;
	clear_env();
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_non_null(n);
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(sdnotify_watchdog_ms(n), 0);
	assert_int_equal(sdnotify_send(n, "READY=1\nSTATUS=scheduling 3 jobs"),
	    0);
	receive(fd, got, sizeof(got));
	assert_string_equal(got, "READY=1\nSTATUS=scheduling 3 jobs");
	assert_int_equal(sdnotify_send(n, "STOPPING=1"), 0);
	receive(fd, got, sizeof(got));
	assert_string_equal(got, "STOPPING=1");
	sdnotify_free(n);
	close(fd);
	unlink(path);
}

/* "@name": the abstract namespace. */
static void
test_abstract(void **state)
{
	struct sdnotify *n = NULL;
	char name[64], err[256], got[64];
	int fd;

	(void)state;
	clear_env();
	snprintf(name, sizeof(name), "@distcron-test-%ld", (long)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_int_equal(sdnotify_send(n, "WATCHDOG=1"), 0);
	receive(fd, got, sizeof(got));
	assert_string_equal(got, "WATCHDOG=1");
	sdnotify_free(n);
	close(fd);
}

/* The socket is gone: sending fails with the error, nothing blocks. */
static void
test_gone(void **state)
{
	struct sdnotify *n = NULL;
	char err[256];

	(void)state;
	clear_env();
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_int_equal(sdnotify_send(n, "READY=1"), -ENOENT);
	sdnotify_free(n);
}

/* WATCHDOG_USEC=3000000: pings every 1500 ms, when WATCHDOG_PID is
 * absent or ours; another process's watchdog is not ours. */
static void
test_watchdog(void **state)
{
	struct sdnotify *n = NULL;
	char err[256], pid[32];
	int fd;

	(void)state;
	fd = listener(path);
	clear_env();
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_int_equal(sdnotify_watchdog_ms(n), 1500);
	assert_null(getenv("WATCHDOG_USEC"));
	sdnotify_free(n);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_int_equal(sdnotify_watchdog_ms(n), 1500);
	assert_null(getenv("WATCHDOG_PID"));
	sdnotify_free(n);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), 0);
	assert_non_null(n);
	assert_int_equal(sdnotify_watchdog_ms(n), 0);
	sdnotify_free(n);
	close(fd);
	unlink(path);
}

/* Bad values: refused, the message naming the variable and the value. */
static void
test_bad(void **state)
{
	static const char *const socks[] = { "relative/notify", "@",
	    "vsock:2:1234" };
	struct sdnotify *n = NULL;
	char err[256], lng[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		clear_env();
		setenv("NOTIFY_SOCKET", socks[i], 1);
		assert_int_equal(sdnotify_new(&n, err, sizeof(err)),
		    ERR_CONFIG);
		assert_null(n);
		assert_non_null(strstr(err, "NOTIFY_SOCKET"));
		assert_non_null(strstr(err, socks[i]));
		assert_null(getenv("NOTIFY_SOCKET"));
	}
	memset(lng, 'a', sizeof(lng) - 1);
	lng[0] = '/';
	lng[sizeof(lng) - 1] = '\0';
	setenv("NOTIFY_SOCKET", lng, 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "longer than 107 bytes"));

	clear_env();
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "30s", 1);
	assert_int_equal(sdnotify_new(&n, err, sizeof(err)), ERR_CONFIG);
	assert_null(n);
	assert_non_null(strstr(err, "WATCHDOG_USEC \"30s\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_manager),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_watchdog),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
