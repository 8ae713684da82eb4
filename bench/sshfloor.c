/*
 * sshfloor.c - the floor for pooled remote runs: a bare blocking libssh2
 * client that runs one command line per channel, one at a time, over one
 * connection, and does nothing else (no capture limits, no watcher or
 * guard, no event loop, no result records).
 *
 *   sshfloor PORT USER KEY COUNT LINE
 *       COUNT channels on 127.0.0.1:PORT, each "exec LINE", read to EOF,
 *       closed; prints runs/s.  The host key is not checked (loopback
 *       benchmark servers only).
 *
 * With LINE "exec true" it shows what a pooled channel that execs `true`
 * costs on this machine, sshd and login shell included: the best any
 * pooled executor could do with the same remote program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libssh2.h>

#include "distcron/loop.h"

static int
run_one(LIBSSH2_SESSION *s, const char *line)
{
	LIBSSH2_CHANNEL *ch;
	char buf[4096];
	int status;

	if ((ch = libssh2_channel_open_session(s)) == NULL ||
	    libssh2_channel_exec(ch, line) != 0)
		return -1;
	while (libssh2_channel_read(ch, buf, sizeof(buf)) > 0)
		;
	while (libssh2_channel_read_stderr(ch, buf, sizeof(buf)) > 0)
		;
	libssh2_channel_close(ch);
	libssh2_channel_wait_closed(ch);
	status = libssh2_channel_get_exit_status(ch);
	libssh2_channel_free(ch);
	return status;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	LIBSSH2_SESSION *s;
	long count, i, failed = 0;
	int64_t t0, ms;
	int fd, one = 1;

	if (argc != 6 || (count = strtol(argv[4], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: sshfloor PORT USER KEY COUNT LINE\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)strtol(argv[1], NULL, 10));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (libssh2_init(0) != 0 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("sshfloor: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((s = libssh2_session_init()) == NULL ||
	    libssh2_session_handshake(s, fd) != 0 ||
	    libssh2_userauth_publickey_fromfile(s, argv[2], NULL, argv[3],
	    NULL) != 0) {
		fprintf(stderr, "sshfloor: cannot log in\n");
		return 1;
	}
	t0 = loop_mono_ms();
	for (i = 0; i < count; i++)
		if (run_one(s, argv[5]) != 0)
			failed++;
	ms = loop_mono_ms() - t0;
	printf("%ld runs in %.3f s: %.0f runs/s (%ld failed)\n", count,
	    ms / 1e3, count * 1e3 / (double)(ms ? ms : 1), failed);
	libssh2_session_disconnect(s, "done");
	libssh2_session_free(s);
	close(fd);
	return failed ? 1 : 0;
}
