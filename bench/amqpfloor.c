/*
 * amqpfloor.c - the floor of bench/amqp.sh: bare publishing with
 * librabbitmq, as rabbitmq-perf-test's publisher with confirms does it
 * one message at a time: one connection, one channel in confirm mode, each
 * message published and its basic.ack awaited before the next.
 *
 *   amqpfloor URL EXCHANGE N    prints "N SECONDS" (all confirmed)
 *
 * Exits 1 on any error.  No distcron code: the daemon's figure is set
 * against the library's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
ok(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "amqpfloor: %s failed\n", what);
		exit(1);
	}
}

/* Waits for the ack of the message tagged tag. */
static void
confirm(amqp_connection_state_t st, uint64_t tag)
{
	amqp_frame_t f;
	amqp_basic_ack_t *ack;

	for (;;) {
		if (amqp_simple_wait_frame(st, &f) != AMQP_STATUS_OK ||
		    f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			ack = f.payload.method.decoded;
			if (ack->delivery_tag >= tag)
				return;
			continue;
		}
		fprintf(stderr, "amqpfloor: method 0x%08x instead of an ack\n",
		    (unsigned)f.payload.method.id);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct amqp_connection_info ci;
	amqp_connection_state_t st;
	amqp_basic_properties_t p = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
	    .delivery_mode = 1 };
	const char *body = "{\"bench\":true}";
	double t0;
	long i, n;

	if (argc != 4 || (n = strtol(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: amqpfloor URL EXCHANGE N\n");
		return 2;
	}
	amqp_default_connection_info(&ci);
	st = amqp_new_connection();
	if (amqp_parse_url(argv[1], &ci) != AMQP_STATUS_OK ||
	    amqp_socket_open(amqp_tcp_socket_new(st), ci.host,
	    ci.port) != AMQP_STATUS_OK) {
		fprintf(stderr, "amqpfloor: cannot connect\n");
		return 1;
	}
	ok(amqp_login(st, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
	    ci.user, ci.password), "login");
	amqp_channel_open(st, 1);
	ok(amqp_get_rpc_reply(st), "channel.open");
	amqp_confirm_select(st, 1);
	ok(amqp_get_rpc_reply(st), "confirm.select");
	t0 = now();
	for (i = 1; i <= n; i++) {
		if (amqp_basic_publish(st, 1, amqp_cstring_bytes(argv[2]),
		    amqp_cstring_bytes("bench"), 0, 0, &p,
		    amqp_cstring_bytes(body)) != AMQP_STATUS_OK) {
			fprintf(stderr, "amqpfloor: publish failed\n");
			return 1;
		}
		confirm(st, (uint64_t)i);
		amqp_maybe_release_buffers(st);
	}
	printf("%ld %.4f\n", n, now() - t0);
	amqp_connection_close(st, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(st);
	return 0;
}
