/*
 * httpd_fixture.h - the HTTP(S) protocol double of the tests
 * (tests/integration/httpd_double.py) for unit tests that drive curl on
 * loopback: the double on a free port, optionally a second one speaking
 * HTTPS with a self-signed certificate made at start (openssl), and a
 * bound but not listening socket, whose port refuses connections.
 */
#ifndef DISTCRON_HTTPD_FIXTURE_H
#define DISTCRON_HTTPD_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

struct httpd_fixture {
	int plain_port;		/* the HTTP double */
	int tls_port;		/* the HTTPS double, 0 without one */
	int refused_port;	/* refuses connections */
	/* private */
	char dir[32], cert[96], key[96], port_plain[96], port_tls[96];
	char script[512];
	pid_t pid_plain, pid_tls;
	int refused_fd;
};

/* Starts the double(s) in a new temporary directory (tls: the HTTPS one
 * too) and reserves the refused port; waits up to 10 s for each double.
 * Returns 0, or -1 with the reason on stderr (call httpd_fixture_stop()
 * anyway). */
int httpd_fixture_start(struct httpd_fixture *f, bool tls);

/* As httpd_fixture_start(), with another double of tests/integration/
 * (double_py: "es_double.py") that takes the same arguments. */
int httpd_fixture_start_double(struct httpd_fixture *f, const char *double_py,
    bool tls);

/* Stops the doubles and removes the directory (and what the caller left
 * in it: call httpd_fixture_spawn()'s servers' httpd_fixture_kill()
 * first). */
void httpd_fixture_stop(struct httpd_fixture *f);

/*
 * Starts another server of the tests, argv (argv[0] from PATH or a path),
 * that writes its port to portfile once it accepts connections, as the
 * doubles do; waits up to 10 s for it.  Returns the port and *pidp, or -1
 * with the reason on stderr.
 */
int httpd_fixture_spawn(char *const argv[], const char *portfile,
    pid_t *pidp);

/* Stops a server started by httpd_fixture_spawn() (SIGTERM, waits). */
void httpd_fixture_kill(pid_t pid);

#endif
