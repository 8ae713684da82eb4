/*
 * fuzz_etcd.c - libFuzzer target for the etcd client's reading of the
 * gateway's answers (etcd_parse, etcd_parse_watch, etcd_parse_token,
 * etcd_classify).  The first byte picks what the rest is read as.
 * Checks: the result is 0 or one of the documented errors; messages are
 * NUL-terminated and one line; a failed read leaves no keys or events;
 * every key and value read is NUL-terminated at its length; a keepalive that succeeds has a TTL; clearing frees all.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_etcd
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "cluster/etcd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_msg(const char *msg, size_t len)
{
	if (memchr(msg, '\0', len) == NULL || strchr(msg, '\n') != NULL)
		abort();
}

static void
check_kvs(const struct etcd_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kvs[i].key == NULL || kvs[i].key[kvs[i].key_len] != '\0' ||
		    kvs[i].value == NULL ||
		    kvs[i].value[kvs[i].value_len] != '\0')
			abort();
}

static void
one_answer(enum etcd_kind k, const char *text, size_t len)
{
	struct etcd_result r;
	size_t i;
	int rc = etcd_parse(k, text, len, &r);

	if (rc != 0 && rc != ERR_PROTOCOL && rc != ERR_NOTFOUND &&
	    rc != -ENOMEM)
		abort();
	check_msg(r.msg, sizeof(r.msg));
	if (rc != 0 && rc != ERR_NOTFOUND && (r.op.nkvs > 0 || r.nops > 0))
		abort();
	check_kvs(r.op.kvs, r.op.nkvs);
	for (i = 0; i < r.nops; i++)
		check_kvs(r.ops[i].kvs, r.ops[i].nkvs);
	if (rc == 0 && k == ETCD_K_KEEPALIVE && r.ttl <= 0)
		abort();
	etcd_result_clear(&r);
}

static void
one_watch(const char *text, size_t len)
{
	struct etcd_watch_msg m;
	size_t i;
	int rc = etcd_parse_watch(text, len, &m);

	if (rc != 0 && rc != ERR_PROTOCOL && rc != -ENOMEM)
		abort();
	check_msg(m.msg, sizeof(m.msg));
	if (rc != 0 && m.nevents > 0)
		abort();
	for (i = 0; i < m.nevents; i++)
		check_kvs(&m.events[i].kv, 1);
	if (rc == 0 && m.canceled && m.err == 0)
		abort();
	etcd_watch_msg_clear(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[ETCD_MSG_LEN], *token = NULL;
	const char *text = (const char *)data + 1;
	enum etcd_fail f;
	int err = 0;

	if (size < 1)
		return 0;
	size--;
	switch (data[0] % 4) {
	case 0:
		one_answer((enum etcd_kind)(data[0] / 4 % (ETCD_K_REVOKE + 1)),
		    text, size);
		break;
	case 1:
		one_watch(text, size);
		break;
	case 2:
		if (etcd_parse_token(text, size, &token, why, sizeof(why)) == 0
		    && (token == NULL || token[0] == '\0'))
			abort();
		free(token);
		break;
	default:
		f = etcd_classify(400 + data[0] % 200, text, size, &err, why,
		    sizeof(why));
		if (f > ETCD_F_REAUTH || err >= 0)
			abort();
		check_msg(why, sizeof(why));
	}
	return 0;
}
