/*
 * etcdc.c - runs the etcd client (etcd.h) on an event loop against a real
 * etcd and prints what it got, for tests/integration/etcd_client.sh.
 *
 *   etcdc [-e ENDPOINTS] [-c CA] [-C CERT -K KEY] [-u USER -p PASS]
 *         [-t TIMEOUT_MS] [-n TIMES [-i MS]] COMMAND ARGS...
 *
 * -n runs the command TIMES times in all, MS ms apart (default 500), on
 * the same client.
 *
 *   put KEY VALUE [LEASE]     "revision N"; VALUE "@FILE": FILE's bytes
 *   get KEY                   "KEY=VALUE version V lease L" (or "none");
 *   getraw KEY                the value's bytes alone
 *   prefix KEY                every key under KEY, then "count N"
 *   del KEY                   "deleted N"
 *   create KEY VALUE [LEASE]  a txn: put if KEY does not exist:
 *                             "won revision N", or "lost to VALUE mod M"
 *   grant TTL                 "lease ID ttl N"
 *   keepalive LEASE           "ttl N"
 *   revoke LEASE              "revoked"
 *   watch KEY[/] N            prints "created", then each event ("PUT KEY
 *                             VALUE" or "DELETE KEY") until N events; a
 *                             KEY ending in "/" watches the prefix
 *   watchget KEY[/] N         the same, but each PUT is read back with a
 *                             range started from the watch's callback:
 *                             "read KEY=VALUE", until N reads
 *
 * ENDPOINTS defaults to $ETCD_ENDPOINTS.  An error prints "error: WHAT:
 * MESSAGE" (WHAT as err_str() names the code) on stderr and exits 1; bad
 * usage exits 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/etcd.h"
#include "distcron/jfield.h"
#include "distcron/loop.h"

struct ctx {
	struct loop *loop;
	struct etcd *e;
	const char *cmd;
	const char *key;
	int64_t left;		/* results (or events) still to print */
	int64_t every_ms;	/* -i: between repeats */
	int argc;
	char **argv;
	struct buf *val;
	struct etcd_watch *w;
	int status;
};

static int start(struct ctx *c);

static int
usage(void)
{
	fprintf(stderr, "usage: etcdc [-e ENDPOINTS] [-c CA] [-C CERT -K KEY] "
	    "[-u USER -p PASS] [-t MS] COMMAND ARGS...\n");
	return 2;
}

static int64_t
num(const char *s)
{
	int64_t v = 0;

	if (s != NULL && jfield_parse_int(s, INT64_MIN, INT64_MAX, &v) != 0) {
		fprintf(stderr, "etcdc: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

/* Reports r's error; true when there was one. */
static bool
failed(struct ctx *c, int err, const char *msg)
{
	if (err == 0)
		return false;
	fprintf(stderr, "error: %s: %s\n", err_str(err), msg);
	c->status = 1;
	loop_stop(c->loop);
	return true;
}

static void
print_value(const struct etcd_kv *kv)
{
	fwrite(kv->value, 1, kv->value_len, stdout);
}

static void
again(void *arg)
{
	struct ctx *c = arg;
	int r;

	if ((r = start(c)) != 0)
		(void)failed(c, r, "cannot start the command again");
}

static void
on_result(void *arg, const struct etcd_result *r)
{
	struct ctx *c = arg;
	const struct etcd_kv *kv = r->op.kvs;
	size_t i;

	if (failed(c, r->err, r->msg))
		return;
	if (strcmp(c->cmd, "put") == 0)
		printf("revision %" PRId64 "\n", r->op.revision);
	else if (strcmp(c->cmd, "getraw") == 0 && r->op.nkvs == 1)
		print_value(kv);
	else if (strcmp(c->cmd, "get") == 0 || strcmp(c->cmd, "prefix") == 0) {
		for (i = 0; i < r->op.nkvs; i++) {
			printf("%s=", kv[i].key);
			print_value(&kv[i]);
			printf(" version %" PRId64 " lease %" PRId64 "\n",
			    kv[i].version, kv[i].lease);
		}
		if (r->op.nkvs == 0 && strcmp(c->cmd, "get") == 0)
			printf("none\n");
		if (strcmp(c->cmd, "prefix") == 0)
			printf("count %" PRId64 "\n", r->op.count);
	} else if (strcmp(c->cmd, "del") == 0)
		printf("deleted %" PRId64 "\n", r->op.count);
	else if (strcmp(c->cmd, "create") == 0) {
		if (r->succeeded && r->nops == 1)
			printf("won revision %" PRId64 "\n",
			    r->ops[0].revision);
		else if (!r->succeeded && r->nops == 1 && r->ops[0].nkvs == 1) {
			printf("lost to ");
			print_value(&r->ops[0].kvs[0]);
			printf(" mod %" PRId64 "\n",
			    r->ops[0].kvs[0].mod_revision);
		} else
			printf("odd answer: succeeded %d, %zu ops\n",
			    r->succeeded, r->nops);
	} else if (strcmp(c->cmd, "grant") == 0)
		printf("lease %" PRId64 " ttl %" PRId64 "\n", r->lease, r->ttl);
	else if (strcmp(c->cmd, "revoke") == 0)
		printf("revoked\n");
	else
		printf("ttl %" PRId64 "\n", r->ttl);
	fflush(stdout);
	if (--c->left <= 0)
		loop_stop(c->loop);
	else
		(void)loop_timer_add(c->loop, loop_mono_ms() + c->every_ms,
		    again, c, NULL);
}

/* watchget's read of a key a watch saw. */
static void
on_read(void *arg, const struct etcd_result *r)
{
	struct ctx *c = arg;

	if (failed(c, r->err, r->msg))
		return;
	if (r->op.nkvs == 1) {
		printf("read %s=", r->op.kvs[0].key);
		print_value(&r->op.kvs[0]);
		printf("\n");
	}
	fflush(stdout);
	if (--c->left <= 0)
		loop_stop(c->loop);
}

/* watchget: reads back each key put, from the watch's callback. */
static void
read_back(struct ctx *c, const struct etcd_watch_msg *m)
{
	struct etcd_op op = { .type = ETCD_OP_RANGE };
	size_t i;
	int r;

	for (i = 0; i < m->nevents; i++) {
		if (m->events[i].type != ETCD_EV_PUT)
			continue;
		op.key = m->events[i].kv.key;
		if ((r = etcd_do(c->e, &op, on_read, c)) != 0) {
			(void)failed(c, r, "cannot read from the watch's "
			    "callback");
			return;
		}
	}
}

static void
on_watch(void *arg, const struct etcd_watch_msg *m)
{
	struct ctx *c = arg;
	size_t i;

	if (failed(c, m->err, m->msg))
		return;
	if (m->created)
		printf("created\n");
	if (strcmp(c->cmd, "watchget") == 0) {
		fflush(stdout);
		read_back(c, m);
		return;
	}
	for (i = 0; i < m->nevents; i++) {
		if (m->events[i].type == ETCD_EV_PUT) {
			printf("PUT %s ", m->events[i].kv.key);
			print_value(&m->events[i].kv);
			printf("\n");
		} else
			printf("DELETE %s\n", m->events[i].kv.key);
		c->left--;
	}
	fflush(stdout);
	if (c->left <= 0)
		loop_stop(c->loop);
}

/* VALUE, or the bytes of FILE for "@FILE", into b. */
static void
read_value(const char *v, struct buf *b)
{
	char chunk[4096];
	ssize_t n;
	int fd;

	if (v[0] != '@') {
		(void)buf_puts(b, v);
		return;
	}
	if ((fd = open(v + 1, O_RDONLY)) < 0) {
		perror(v + 1);
		exit(2);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		(void)buf_append(b, chunk, (size_t)n);
	close(fd);
}

/* Starts the command c->argv[0] with its arguments. */
static int
start(struct ctx *c)
{
	int argc = c->argc;
	char **argv = c->argv;
	struct buf *val = c->val;
	struct etcd_op op = { .type = ETCD_OP_RANGE, .key = argv[1] };
	struct etcd_cmp cmp = {
		.key = argv[1], .target = ETCD_CMP_CREATE,
		.result = ETCD_EQUAL, .number = 0,
	};
	struct etcd_op get = { .type = ETCD_OP_RANGE, .key = argv[1] };
	struct etcd_txn txn = { &cmp, 1, &op, 1, &get, 1 };
	struct etcd_watch_opts wo = { .key = argv[1] };
	const char *cmd = argv[0];

	if (strcmp(cmd, "grant") == 0)
		return etcd_lease_grant(c->e, num(argv[1]), on_result, c);
	if (strcmp(cmd, "keepalive") == 0)
		return etcd_lease_keepalive(c->e, num(argv[1]), on_result, c);
	if (strcmp(cmd, "revoke") == 0)
		return etcd_lease_revoke(c->e, num(argv[1]), on_result, c);
	if (strcmp(cmd, "watch") == 0 || strcmp(cmd, "watchget") == 0) {
		size_t n = strlen(argv[1]);

		wo.prefix = n > 0 && argv[1][n - 1] == '/';
		c->left = argc > 2 ? num(argv[2]) : 1;
		return etcd_watch(c->e, &wo, on_watch, c, &c->w);
	}
	if (strcmp(cmd, "put") == 0 || strcmp(cmd, "create") == 0) {
		if (argc < 3)
			return usage();
		buf_reset(val);
		read_value(argv[2], val);
		op.type = ETCD_OP_PUT;
		op.value = buf_str(val);
		op.value_len = val->len;
		op.lease = argc > 3 ? num(argv[3]) : 0;
	} else if (strcmp(cmd, "del") == 0)
		op.type = ETCD_OP_DELETE;
	else if (strcmp(cmd, "prefix") == 0)
		op.prefix = true;
	else if (strcmp(cmd, "get") != 0 && strcmp(cmd, "getraw") != 0)
		return usage();
	if (strcmp(cmd, "create") == 0)
		return etcd_txn(c->e, &txn, on_result, c);
	return etcd_do(c->e, &op, on_result, c);
}

int
main(int argc, char **argv)
{
	struct etcd_opts o = { .endpoints = getenv("ETCD_ENDPOINTS") };
	struct ctx c = { .left = 1, .every_ms = 500 };
	struct buf val;
	char err[512];
	int opt, r;

	while ((opt = getopt(argc, argv, "e:c:C:K:u:p:t:n:i:")) != -1) {
		switch (opt) {
		case 'e': o.endpoints = optarg; break;
		case 'c': o.ca_file = optarg; break;
		case 'C': o.cert_file = optarg; break;
		case 'K': o.key_file = optarg; break;
		case 'u': o.username = optarg; break;
		case 'p': o.password = optarg; break;
		case 't': o.timeout_ms = num(optarg); break;
		case 'n': c.left = num(optarg); break;
		case 'i': c.every_ms = num(optarg); break;
		default: return usage();
		}
	}
	if (argc - optind < 2)
		return usage();
	buf_init(&val, 1024 * 1024);
	c.cmd = argv[optind];
	c.argc = argc - optind;
	c.argv = argv + optind;
	c.val = &val;
	if (loop_new(&c.loop) != 0)
		return 99;
	if ((r = etcd_new(c.loop, &o, &c.e, err, sizeof(err))) != 0) {
		fprintf(stderr, "error: %s: %s\n", err_str(r), err);
		loop_free(c.loop);	/* no leak report after the error */
		buf_free(&val);
		return 1;
	}
	if ((r = start(&c)) != 0) {
		fprintf(stderr, "error: %s: cannot start %s\n", err_str(r),
		    c.cmd);
		return r == 2 ? 2 : 1;
	}
	loop_run(c.loop);
	etcd_watch_cancel(c.w);
	etcd_free(c.e);
	loop_free(c.loop);
	buf_free(&val);
	return c.status;
}
