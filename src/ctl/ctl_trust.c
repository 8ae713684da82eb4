/*
 * ctl_trust.c - "distcronctl trust NODE": records (or with --check,
 * verifies) the SSH host key a node presents.
 *
 * It loads nodes_dir/NODE.json, connects to the node (blocking: TCP
 * connect within the node's connect_timeout and the SSH handshake, never
 * authentication: no credentials are sent), prints the fingerprint of the
 * key and hands it to the sshhost module, which adds it to the node's
 * known_hosts file or checks it as distcrond does.  A different key
 * already listed is never replaced.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>

#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/sshhost.h"
#include "ctl_int.h"

#define PROG		CTLOPT_PROG

#define TRUST_MSG_MAX	1024

/* An open SSH connection to a node: socket and session. */
struct ssh_conn {
	int fd;
	LIBSSH2_SESSION *s;
	char where[300];	/* "[host]:port", for messages */
};

static void
node_report(void *arg, const char *level, const char *file, const char *msg)
{
	fprintf(stderr, "%s: %s: %s\n", level, file, msg);
}

/* Loads nodes_dir/NAME.json; prints the problem and fails unless it is a
 * valid SSH node. */
static int
trust_load(const char *nodes_dir, const char *name, struct node_def **out)
{
	char err[512], *text = NULL, *path;
	struct buf b;
	size_t len = 0;
	int r;

	if (!defs_name_valid(name)) {
		fprintf(stderr, "%s: trust: '%s' is not a node name\n", PROG,
		    name);
		return ERR_INVALID;
	}
	buf_init(&b, PATH_MAX);
	if ((r = buf_printf(&b, "%s/%s.json", nodes_dir, name)) != 0 ||
	    (path = buf_steal(&b, NULL)) == NULL) {
		fprintf(stderr, "%s: trust: %s: %s\n", PROG, nodes_dir,
		    err_str(r ? r : -ENOMEM));
		return r ? r : -ENOMEM;
	}
	if ((r = ctl_read_text(path, DEFS_FILE_MAX, &text, &len)) != 0)
		fprintf(stderr, "%s: trust: node %s: %s: %s\n", PROG, name,
		    path, err_str(r));
	else if ((r = defs_node_parse(name, text, len, out, err, sizeof(err),
	    node_report, NULL)) != 0)
		fprintf(stderr, "%s: trust: %s: %s\n", PROG, path, err);
	else if ((*out)->conn != NODE_SSH) {
		fprintf(stderr, "%s: trust: node %s is not an SSH node\n", PROG,
		    name);
		defs_node_free(*out);
		*out = NULL;
		r = ERR_INVALID;
	}
	free(text);
	free(path);
	return r;
}

/* Waits for a non-blocking connect on fd; 0 or -errno. */
static int
connect_wait(int fd, int64_t timeout_ms)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	socklen_t len = sizeof(int);
	int n, err = 0;

	do
		n = poll(&p, 1, (int)timeout_ms);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	if (n == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -errno;
	return -err;
}

/* Connects to one address within timeout_ms; returns the blocking
 * socket, or -errno. */
static int
connect_addr(const struct addrinfo *ai, int64_t timeout_ms)
{
	int fd, r = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		r = errno == EINPROGRESS ? connect_wait(fd, timeout_ms) : -errno;
	if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ==
	    -1)
		r = -errno;
	if (r != 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Opens a TCP connection to the node; prints why not. */
static int
tcp_connect(const struct node_def *node, struct ssh_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[16];
	int r;

	snprintf(port, sizeof(port), "%d", node->ssh_port);
	if ((r = getaddrinfo(node->ssh_host, port, &hints, &res)) != 0) {
		fprintf(stderr, "%s: trust: cannot reach node %s at %s: %s\n",
		    PROG, node->name, c->where, gai_strerror(r));
		return ERR_CONNECT;
	}
	r = -EHOSTUNREACH;
	for (ai = res; ai != NULL && r < 0; ai = ai->ai_next)
		r = connect_addr(ai, node->connect_timeout_ms);
	freeaddrinfo(res);
	if (r < 0) {
		fprintf(stderr, "%s: trust: cannot reach node %s at %s: %s\n",
		    PROG, node->name, c->where, r == -ETIMEDOUT ?
		    "connection timed out" : err_str(r));
		return ERR_CONNECT;
	}
	c->fd = r;
	return 0;
}

/* TCP connect and SSH handshake, preferring the host key types we know. */
static int
ssh_open(const struct node_def *node, struct ssh_conn *c)
{
	char *err = NULL;
	int r;

	c->fd = -1;
	c->s = NULL;
	if ((r = sshhost_pattern(node->ssh_host, node->ssh_port, c->where,
	    sizeof(c->where))) != 0 || (r = tcp_connect(node, c)) != 0)
		return r;
	if ((c->s = libssh2_session_init()) == NULL) {
		fprintf(stderr, "%s: trust: cannot create an SSH session\n",
		    PROG);
		return -ENOMEM;
	}
	libssh2_session_set_timeout(c->s, (long)node->connect_timeout_ms);
	if (sshhost_prefer(c->s, node) != 0 ||
	    libssh2_session_handshake(c->s, c->fd) != 0) {
		libssh2_session_last_error(c->s, &err, NULL, 0);
		fprintf(stderr, "%s: trust: SSH handshake with node %s at %s "
		    "failed: %s\n", PROG, node->name, c->where, err);
		return ERR_PROTOCOL;
	}
	return 0;
}

static void
ssh_close(struct ssh_conn *c)
{
	if (c->s != NULL) {
		libssh2_session_disconnect(c->s, "distcronctl trust: done");
		libssh2_session_free(c->s);
	}
	if (c->fd >= 0)
		close(c->fd);
}

/* Records (or, with check, verifies) the key; returns the exit status. */
static int
trust_key(const struct node_def *node, struct ssh_conn *c, bool check)
{
	char fp[128], msg[TRUST_MSG_MAX];
	int r;

	if ((r = sshhost_fingerprint(c->s, fp, sizeof(fp))) != 0) {
		fprintf(stderr, "%s: trust: node %s at %s presented no host "
		    "key\n", PROG, node->name, c->where);
		return 1;
	}
	printf("node %s at %s presents %s\n", node->name, c->where, fp);
	fflush(stdout);		/* before any message on stderr */
	r = check ? sshhost_verify(c->s, node, msg, sizeof(msg)) :
	    sshhost_trust(c->s, node, msg, sizeof(msg));
	if (r == 0 || r == ERR_EXISTS) {
		printf("%s\n", msg);
		return 0;
	}
	fprintf(stderr, "%s: trust: %s\n", PROG, msg);
	return 1;
}

static int
trust_run(const struct ctl_settings *s, const char *name, bool check)
{
	struct node_def *node = NULL;
	struct ssh_conn c = { .fd = -1 };
	int status = 1;

	if (trust_load(s->nodes_dir, name, &node) != 0)
		return 1;
	if (libssh2_init(0) != 0) {
		fprintf(stderr, "%s: trust: libssh2 initialisation failed\n",
		    PROG);
		defs_node_free(node);
		return 1;
	}
	if (ssh_open(node, &c) == 0)
		status = trust_key(node, &c, check);
	ssh_close(&c);
	libssh2_exit();
	defs_node_free(node);
	return status;
}

static int
trust_main(const struct ctlopt_vals *v, int argc, char **argv)
{
	struct ctl_settings s;
	int status;

	(void)argc;
	signal(SIGPIPE, SIG_IGN);	/* a peer that hangs up is an error */
	status = ctl_settings_load(&s, v) == 0 ?
	    trust_run(&s, argv[0], v->check) : 1;
	ctl_settings_free(&s);
	return status;
}

static const struct ctlopt trust_opts[] = {
	CTL_OPT_NODES_DIR,
	CTLOPT_OPT("config", 'c', "FILE", CTLOPT_STR, config_file,
	    "read nodes_dir from FILE"),
	CTLOPT_OPT("check", 'C', NULL, CTLOPT_FLAG, check,
	    "verify the key as distcrond does, without recording it"),
	CTLOPT_END,
};

const struct ctl_command ctl_trust = {
	{ .name = "trust",
	  .synopsis = "NODE [--check] [--nodes-dir DIR] [--config FILE]",
	  .summary = "record (or check) the SSH host key of a node",
	  .opts = trust_opts,
	  .notes = "Connects to the node (TCP and the SSH handshake only: no "
	  "credentials are\n"
	  "sent), prints the fingerprint of the host key it presents and adds "
	  "the key\n"
	  "to the node's known_hosts file (ssh_known_hosts_file) unless it is "
	  "already\n"
	  "there.  A different key already listed for the host is never "
	  "replaced:\n"
	  "the message names the file and line to remove if the change is "
	  "expected.\n"
	  "With --check, nothing is recorded, except that a node whose\n"
	  "ssh_host_key_policy is accept-new gets a new host's key added, as "
	  "the\n"
	  "daemon would.\n"
	  "Exits 0 when the key is trusted (added or already there), 1 when "
	  "it is\n"
	  "refused or the node cannot be reached.\n",
	  .nargs = 1, .operand = "NODE" },
	trust_main,
};
