/*
 * httpd_fixture.c - the HTTP(S) double for unit tests (see
 * httpd_fixture.h): posix_spawn of python3 and openssl, the double's port
 * read from the file it writes once it accepts connections, and a socket
 * bound without listen() for a port that refuses.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "httpd_fixture.h"

#define DOUBLES		TEST_SRCDIR "/tests/integration/"

extern char **environ;

/* Starts argv[0] from PATH, with stdout and stderr to /dev/null when
 * quiet.  Returns the pid or -1. */
static pid_t
spawn(char *const argv[], bool quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
		    0);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r == 0 ? pid : -1;
}

static int
make_cert(struct httpd_fixture *f)
{
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ed25519",
	    "-nodes", "-subj", "/CN=localhost", "-days", "1",
	    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
	    "-keyout", f->key, "-out", f->cert, NULL };
	pid_t pid = spawn(argv, true);
	int status;

	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Waits up to 10 s for the double to write its port. */
static int
wait_port(const char *file, pid_t pid)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i, port = -1;
	FILE *f;

	for (i = 0; i < 500 && port < 0; i++) {
		if ((f = fopen(file, "r")) != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = -1;
			fclose(f);
		}
		if (port < 0 && waitpid(pid, NULL, WNOHANG) == pid)
			return -1;		/* it died */
		if (port < 0)
			nanosleep(&ts, NULL);
	}
	return port;
}

static int
start_double(struct httpd_fixture *f, char *portfile, bool tls, pid_t *pidp,
    int *portp)
{
	char *plain[] = { "python3", f->script, "--port-file", portfile,
	    NULL };
	char *secure[] = { "python3", f->script, "--port-file", portfile,
	    "--tls", f->cert, f->key, NULL };

	if ((*pidp = spawn(tls ? secure : plain, false)) == -1)
		return -1;
	return (*portp = wait_port(portfile, *pidp)) > 0 ? 0 : -1;
}

int
httpd_fixture_spawn(char *const argv[], const char *portfile, pid_t *pidp)
{
	int port;

	if ((*pidp = spawn(argv, true)) == -1 ||
	    (port = wait_port(portfile, *pidp)) <= 0) {
		fprintf(stderr, "cannot start %s\n", argv[1]);
		return -1;
	}
	return port;
}

/* A port that refuses connections: bound, never listening. */
static int
reserve_refused_port(struct httpd_fixture *f)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((f->refused_fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(f->refused_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(f->refused_fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	f->refused_port = ntohs(sin.sin_port);
	return 0;
}

int
httpd_fixture_start(struct httpd_fixture *f, bool tls)
{
	return httpd_fixture_start_double(f, "httpd_double.py", tls);
}

int
httpd_fixture_start_double(struct httpd_fixture *f, const char *double_py,
    bool tls)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->script, sizeof(f->script), DOUBLES "%s", double_py);
	f->pid_plain = f->pid_tls = -1;
	f->refused_fd = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dc-http-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	snprintf(f->port_plain, sizeof(f->port_plain), "%s/port.plain",
	    f->dir);
	snprintf(f->port_tls, sizeof(f->port_tls), "%s/port.tls", f->dir);
	if (tls && make_cert(f) != 0) {
		fprintf(stderr, "cannot make a certificate with openssl\n");
		return -1;
	}
	if (start_double(f, f->port_plain, false, &f->pid_plain,
	    &f->plain_port) != 0 || (tls && start_double(f, f->port_tls,
	    true, &f->pid_tls, &f->tls_port) != 0)) {
		fprintf(stderr, "cannot start %s\n", f->script);
		return -1;
	}
	return reserve_refused_port(f);
}

static void
stop_double(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		continue;
}

void
httpd_fixture_kill(pid_t pid)
{
	stop_double(pid);
}

void
httpd_fixture_stop(struct httpd_fixture *f)
{
	stop_double(f->pid_plain);
	stop_double(f->pid_tls);
	if (f->refused_fd != -1)
		close(f->refused_fd);
	unlink(f->cert);
	unlink(f->key);
	unlink(f->port_plain);
	unlink(f->port_tls);
	if (f->dir[0] != '\0')
		rmdir(f->dir);
}
