/*
 * test_statsd.c - metrics received on a UDP socket on loopback, as
 * statsd or DogStatsD would: the exact lines of a finished run with tags
 * off and on, the outbox's depth, a collector that is gone (nothing
 * blocks, datagrams counted dropped) and a host that does not resolve.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "distcron/config.h"
#include "distcron/err.h"
#include "distcron/statsd.h"

static int collector = -1;
static int64_t collector_port;

/* A UDP socket on a free loopback port (*port), or -1. */
static int
udp_loopback(int64_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
group_setup(void **state)
{
	(void)state;
	return (collector = udp_loopback(&collector_port)) < 0 ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	close(collector);
	return 0;
}

/* The next datagram, waiting up to 5 s. */
static void
receive(char *out, size_t outlen)
{
	struct pollfd p = { .fd = collector, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&p, 1, 5000), 1);
	n = recv(collector, out, outlen - 1, 0);
	assert_true(n > 0);
	out[n] = '\0';
}

static struct statsd *
open_statsd(bool tags, const char *prefix)
{
	struct config_statsd c = { .host = "127.0.0.1",
	    .port = collector_port, .prefix = (char *)prefix, .tags = tags };
	struct statsd *st = NULL;
	char err[256];

	if (statsd_new(&c, &st, err, sizeof(err)) != 0)
		fail_msg("statsd_new: %s", err);
	return st;
}

/* A scheduled run of backup started 1 s late and 1.5 s long. */
static const struct store_run run = { .id = 3, .job = "backup",
	.scheduled_at = 1765000000, .trigger = "schedule",
	.status = RUN_SUCCESS, .started_ms = INT64_C(1765000001000),
	.ended_ms = INT64_C(1765000002500) };

static void
test_run_plain(void **state)
{
	struct statsd *st = open_statsd(false, "distcron.");
	struct store_run manual = run;
	char d[2048];

	(void)state;
	statsd_run_finished(st, &run, NULL);
	receive(d, sizeof(d));
	assert_string_equal(d, "distcron.runs.success:1|c\n"
	    "distcron.run.duration:1500|ms\n"
	    "distcron.run.lateness:1000|ms");
	manual.trigger = "manual";
	manual.status = RUN_FAILURE;
	statsd_run_finished(st, &manual, NULL);
	receive(d, sizeof(d));
	assert_string_equal(d, "distcron.runs.failure:1|c\n"
	    "distcron.run.duration:1500|ms");
	statsd_outbox_depth(st, NULL, 42);
	receive(d, sizeof(d));
	assert_string_equal(d, "distcron.outbox.depth:42|g");
	statsd_outbox_depth(st, "email", 7);
	receive(d, sizeof(d));
	assert_string_equal(d, "distcron.outbox.email.depth:7|g");
	assert_int_equal(statsd_dropped(st), 0);
	statsd_free(st);
}

static void
test_run_tags(void **state)
{
	struct statsd *st = open_statsd(true, "dc.");
	struct store_run lost = run;
	char d[2048];

	(void)state;
	statsd_run_finished(st, &run, NULL);
	receive(d, sizeof(d));
	assert_string_equal(d, "dc.runs.success:1|c|#job:backup,status:SUCCESS\n"
	    "dc.run.duration:1500|ms|#job:backup,status:SUCCESS\n"
	    "dc.run.lateness:1000|ms|#job:backup,status:SUCCESS");
	lost.status = RUN_LOST;
	lost.started_ms = lost.ended_ms = 0;
	statsd_run_finished(st, &lost, NULL);
	receive(d, sizeof(d));
	assert_string_equal(d, "dc.runs.lost:1|c|#job:backup,status:LOST");
	statsd_outbox_depth(st, "elasticsearch", 0);
	receive(d, sizeof(d));
	assert_string_equal(d, "dc.outbox.depth:0|g|#sink:elasticsearch");
	statsd_free(st);
}

/* A collector that is gone: sends never block or fail the caller; what
 * the kernel refuses is counted. */
static void
test_collector_gone(void **state)
{
	struct config_statsd c = { .host = "127.0.0.1", .prefix = "x." };
	int fd = udp_loopback(&c.port);
	struct statsd *st = NULL;
	char err[256];
	int i;

	(void)state;
	assert_true(fd >= 0);
	close(fd);		/* nobody listens there now */
	assert_int_equal(statsd_new(&c, &st, err, sizeof(err)), 0);
	for (i = 0; i < 20; i++)
		statsd_run_finished(st, &run, NULL);
	assert_true(statsd_dropped(st) > 0);	/* ICMP refusals seen */
	statsd_free(st);
}

static void
test_bad_host(void **state)
{
	struct config_statsd c = { .host = "no-such-host.invalid",
	    .port = 8125, .prefix = "" };
	struct statsd *st = NULL;
	char err[256];

	(void)state;
	assert_int_equal(statsd_new(&c, &st, err, sizeof(err)), ERR_CONFIG);
	assert_null(st);
	if (strncmp(err, "statsd.host: cannot reach \"no-such-host.invalid\" "
	    "port 8125: ", 60) != 0)
		fail_msg("err: %s", err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_plain),
		cmocka_unit_test(test_run_tags),
		cmocka_unit_test(test_collector_gone),
		cmocka_unit_test(test_bad_host),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
