/*
 * amqpcat.c - a tiny AMQP consumer and set-up tool for the tests (on
 * librabbitmq, as the daemon): the tests see what the broker delivered.
 *
 *   amqpcat URL declare EXCHANGE TYPE          a durable exchange
 *   amqpcat URL consume EXCHANGE KEY COUNT SECS [READY]
 *       binds a new exclusive queue to EXCHANGE with KEY (creates READY, if
 *       given, once bound), then prints COUNT messages, each one JSON line
 *       {"exchange", "routing_key", "body", "delivery_mode",
 *       "content_type", "headers": {...}}; exits 1 when SECS pass first.
 *
 * Not a model of anything: errors just print and exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <json-c/json.h>

static void
die_reply(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return;
	fprintf(stderr, "amqpcat: %s failed (reply type %d)\n", what,
	    (int)r.reply_type);
	exit(2);
}

static amqp_connection_state_t
connect_to(char *url)
{
	struct amqp_connection_info ci;
	amqp_connection_state_t st = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(st);

	amqp_default_connection_info(&ci);
	if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK ||
	    amqp_socket_open(s, ci.host, ci.port) != AMQP_STATUS_OK) {
		fprintf(stderr, "amqpcat: cannot connect\n");
		exit(2);
	}
	die_reply(amqp_login(st, ci.vhost, 0, 131072, 0,
	    AMQP_SASL_METHOD_PLAIN, ci.user, ci.password), "login");
	amqp_channel_open(st, 1);
	die_reply(amqp_get_rpc_reply(st), "channel.open");
	return st;
}

static json_object *
bytes_str(amqp_bytes_t b)
{
	return json_object_new_string_len(b.bytes, (int)b.len);
}

static void
print_message(const amqp_envelope_t *e)
{
	const amqp_basic_properties_t *p = &e->message.properties;
	json_object *o = json_object_new_object(), *h = json_object_new_object();
	int i;

	json_object_object_add(o, "exchange", bytes_str(e->exchange));
	json_object_object_add(o, "routing_key", bytes_str(e->routing_key));
	json_object_object_add(o, "body", bytes_str(e->message.body));
	json_object_object_add(o, "delivery_mode", json_object_new_int(
	    p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG ? p->delivery_mode : 0));
	if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
		json_object_object_add(o, "content_type",
		    bytes_str(p->content_type));
	for (i = 0; (p->_flags & AMQP_BASIC_HEADERS_FLAG) &&
	    i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *x = &p->headers.entries[i];
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)x->key.len,
		    (const char *)x->key.bytes);
		if (x->value.kind == AMQP_FIELD_KIND_UTF8 ||
		    x->value.kind == AMQP_FIELD_KIND_BYTES)
			json_object_object_add(h, key,
			    bytes_str(x->value.value.bytes));
	}
	json_object_object_add(o, "headers", h);
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

static int
consume(amqp_connection_state_t st, char **av)
{
	amqp_queue_declare_ok_t *q;
	amqp_envelope_t e;
	struct timeval tv = { atoi(av[3]), 0 };
	int n = atoi(av[2]), got = 0;
	FILE *f;

	q = amqp_queue_declare(st, 1, amqp_empty_bytes, 0, 0, 1, 1,
	    amqp_empty_table);
	die_reply(amqp_get_rpc_reply(st), "queue.declare");
	amqp_queue_bind(st, 1, q->queue, amqp_cstring_bytes(av[0]),
	    amqp_cstring_bytes(av[1]), amqp_empty_table);
	die_reply(amqp_get_rpc_reply(st), "queue.bind");
	amqp_basic_consume(st, 1, q->queue, amqp_empty_bytes, 0, 1, 1,
	    amqp_empty_table);
	die_reply(amqp_get_rpc_reply(st), "basic.consume");
	if (av[4] != NULL && (f = fopen(av[4], "w")) != NULL)
		fclose(f);
	while (got < n) {
		amqp_maybe_release_buffers(st);
		if (amqp_consume_message(st, &e, &tv, 0).reply_type !=
		    AMQP_RESPONSE_NORMAL)
			return 1;
		print_message(&e);
		amqp_destroy_envelope(&e);
		got++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	amqp_connection_state_t st;
	int r = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: amqpcat URL declare|consume ...\n");
		return 2;
	}
	st = connect_to(argv[1]);
	if (strcmp(argv[2], "declare") == 0 && argc == 5) {
		amqp_exchange_declare(st, 1, amqp_cstring_bytes(argv[3]),
		    amqp_cstring_bytes(argv[4]), 0, 1, 0, 0, amqp_empty_table);
		die_reply(amqp_get_rpc_reply(st), "exchange.declare");
	} else if (strcmp(argv[2], "consume") == 0 && argc >= 7)
		r = consume(st, argv + 3);
	else {
		fprintf(stderr, "amqpcat: bad arguments\n");
		return 2;
	}
	amqp_connection_close(st, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(st);
	return r;
}
