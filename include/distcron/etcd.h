/*
 * etcd.h - an asynchronous etcd v3 client on the event loop, speaking to
 * etcd's JSON gateway (/v3/kv/..., /v3/lease/..., /v3/watch) over libcurl:
 * no gRPC.  Works with etcd 3.4 (Debian's) and 3.5+.
 *
 * Every operation returns at once; its callback follows on the loop
 * thread, never from inside the call that started it, exactly once
 * (unless etcd_free() comes first: then never).  Keys are C strings,
 * values bytes with a length; the base64 of the gateway and its int64
 * fields written as JSON strings stay inside this module.
 *
 * Endpoints: a request that cannot connect to one endpoint (refused,
 * unreachable, TLS failure, connect time-out, an "unavailable"/"no
 * leader" answer) is tried on the next, once around the list; the client
 * stays on the endpoint that last answered.  A read (range, keepalive,
 * revoke) that times out after it was sent is also tried on the next; a
 * write (put, delete, txn, lease grant) that times out after it was sent
 * is reported as ERR_TIMEOUT without a retry: it may have been applied,
 * and only the caller knows whether doing it twice is harmless.
 *
 * Errors (etcd_result.err and its message) are one of: ERR_CONNECT (no
 * endpoint could be reached; the message names them), ERR_TIMEOUT,
 * ERR_AUTH ("etcd at URL: authentication failed: ..."), ERR_BUSY (too
 * many requests: the client then backs off, 0.5 s doubling up to 5 s,
 * sending one request a period and failing the others at once with the
 * same message, until an answer is no error), ERR_NOTFOUND (the lease is gone), ERR_TOOBIG (an
 * answer past ETCD_ANSWER_MAX), ERR_PROTOCOL (a malformed answer, naming
 * the field; a TLS failure), ERR_INVALID (etcd refused the request), or
 * -ENOMEM.  URLs in messages are url_strip()ped; the password and the
 * auth token never appear in any message or log line.
 */
#ifndef DISTCRON_ETCD_H
#define DISTCRON_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distcron/endpoints.h"
#include "distcron/loop.h"

#define ETCD_MSG_LEN		512	/* a result's message, with NUL */
#define ETCD_ANSWER_MAX		(16 * 1024 * 1024)	/* bytes of one answer
							 * (one watch message) */
#define ETCD_TIMEOUT_DEFAULT	5000	/* ms, one attempt on one endpoint */
#define ETCD_ENDPOINTS_MAX	ENDPOINTS_MAX

struct etcd;
struct etcd_watch;

/* How to reach etcd.  Strings are copied by etcd_new(). */
struct etcd_opts {
	const char *endpoints;	/* "http://127.0.0.1:2379,https://h:2379" */
	const char *ca_file;	/* PEM CAs for https; NULL: the system's */
	const char *cert_file;	/* client certificate (PEM), with key_file */
	const char *key_file;
	const char *username;	/* etcd auth, with password; NULL: none */
	const char *password;
	int64_t timeout_ms;	/* one attempt, connect to last byte;
				 * 0: ETCD_TIMEOUT_DEFAULT.  Connecting
				 * gives up after min(timeout_ms, 1000). */
};

/* A key and its value as etcd holds them.  key and value are
 * NUL-terminated (the NUL not counted in the lengths); value may hold
 * NULs of its own. */
struct etcd_kv {
	char *key;
	size_t key_len;
	char *value;		/* "" for keys_only ranges and deletes */
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};

enum etcd_op_type { ETCD_OP_RANGE, ETCD_OP_PUT, ETCD_OP_DELETE };

/* One operation: a range, a put or a delete, alone or inside a txn. */
struct etcd_op {
	enum etcd_op_type type;
	const char *key;
	bool prefix;		/* range/delete: every key starting with key */
	const void *value;	/* put: value_len bytes */
	size_t value_len;
	int64_t lease;		/* put: 0 or the lease the key goes with */
	int64_t limit;		/* range: 0 = no limit */
	bool keys_only;		/* range: no values */
	bool count_only;	/* range: only the count */
};

/* The answer to one operation (a whole range/put/delete, or one of a
 * txn's). */
struct etcd_op_result {
	enum etcd_op_type type;
	int64_t revision;	/* the header's revision (put: the put's) */
	struct etcd_kv *kvs;	/* range: the keys found */
	size_t nkvs;
	int64_t count;		/* range: keys in the range; delete: deleted */
	bool more;		/* range: more keys than limit */
};

/* What a request got.  Valid only during the callback. */
struct etcd_result {
	int err;		/* 0 or an error above */
	char msg[ETCD_MSG_LEN];	/* "" when err is 0 */
	int64_t revision;	/* the store's revision (answer header) */
	bool succeeded;		/* txn: the compares held */
	struct etcd_op_result op;	/* range, put, delete */
	struct etcd_op_result *ops;	/* txn: the branch taken, in order */
	size_t nops;
	int64_t lease;		/* lease grant: its ID */
	int64_t ttl;		/* grant: the TTL etcd gave (s);
				 * keepalive: the new TTL */
};

typedef void (*etcd_fn)(void *arg, const struct etcd_result *r);

/*
 * Makes a client on loop with its own curl driver.  Checks the endpoint
 * list (1 to ETCD_ENDPOINTS_MAX entries, each http:// or https:// with a
 * host and a port 1-65535, nothing after but an optional "/"); a bad list
 * gives ERR_CONFIG with err (errlen bytes) naming the entry: "etcd
 * endpoint 2 \"ftp://x\": the scheme must be http or https".  Also
 * ERR_CONFIG when only one of cert_file/key_file or of username/password
 * is given.  Does not contact etcd (the first request authenticates).
 * Returns 0 and *out, ERR_CONFIG, -ENOMEM or ERR_INTERNAL.
 */
int etcd_new(struct loop *loop, const struct etcd_opts *o, struct etcd **out,
    char *err, size_t errlen);

/* Stops every request and watch without calling back, wipes the password
 * and token, frees e.  Not from inside a callback of e.  Accepts NULL. */
void etcd_free(struct etcd *e);

/* The number of endpoints, and endpoint i as messages show it
 * (url_strip()ped; owned by e).  etcd_current() is the index in use. */
size_t etcd_nendpoints(const struct etcd *e);
const char *etcd_endpoint(const struct etcd *e, size_t i);
size_t etcd_current(const struct etcd *e);

/* Range, put or delete op (op's strings are copied).  The result's op
 * holds the answer.  Returns 0 (fn follows), ERR_INVALID for a bad op,
 * or -ENOMEM. */
int etcd_do(struct etcd *e, const struct etcd_op *op, etcd_fn fn, void *arg);

/* Compare on a key: its CREATE/MOD revision, VERSION, VALUE or LEASE. */
enum etcd_cmp_target {
	ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_VALUE,
	ETCD_CMP_LEASE,
};
enum etcd_cmp_result {
	ETCD_EQUAL, ETCD_GREATER, ETCD_LESS, ETCD_NOT_EQUAL,
};
struct etcd_cmp {
	const char *key;
	enum etcd_cmp_target target;
	enum etcd_cmp_result result;
	int64_t number;		/* CREATE, MOD, VERSION, LEASE */
	const void *value;	/* VALUE: value_len bytes */
	size_t value_len;
};

/* A transaction: if every compare holds, the success ops, else the
 * failure ops, atomically. */
struct etcd_txn {
	const struct etcd_cmp *cmps;
	size_t ncmps;
	const struct etcd_op *success;
	size_t nsuccess;
	const struct etcd_op *failure;
	size_t nfailure;
};

/* Runs t (copied).  The result says succeeded and holds each op's answer
 * of the branch taken in ops.  A put with a lease that expired fails the
 * whole txn with ERR_NOTFOUND ("... requested lease not found").  Not
 * retried after a time-out (see above).  Returns 0, ERR_INVALID or
 * -ENOMEM. */
int etcd_txn(struct etcd *e, const struct etcd_txn *t, etcd_fn fn,
    void *arg);

/* Grants a lease of ttl_s seconds; the result holds its lease ID and the
 * TTL etcd granted (etcd may raise it to its minimum).  Returns 0,
 * ERR_INVALID (ttl_s < 1) or -ENOMEM. */
int etcd_lease_grant(struct etcd *e, int64_t ttl_s, etcd_fn fn, void *arg);

/* Renews lease once; the result's ttl is the new TTL.  A lease that is
 * gone gives ERR_NOTFOUND.  Returns 0 or -ENOMEM. */
int etcd_lease_keepalive(struct etcd *e, int64_t lease, etcd_fn fn,
    void *arg);

/* Revokes lease: its keys are deleted.  A lease already gone gives
 * ERR_NOTFOUND.  Returns 0 or -ENOMEM. */
int etcd_lease_revoke(struct etcd *e, int64_t lease, etcd_fn fn, void *arg);

/* ---- watches ---- */

enum etcd_event_type { ETCD_EV_PUT, ETCD_EV_DELETE };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv;	/* DELETE: key and mod_revision only */
};

/* One message of a watch.  Valid only during the callback. */
struct etcd_watch_msg {
	int err;		/* non-zero: the watch has ended (msg says
				 * why); no message follows */
	char msg[ETCD_MSG_LEN];
	int64_t revision;	/* header revision */
	bool created;		/* etcd accepted the watch */
	bool progress;		/* a progress notice: no events */
	bool canceled;		/* etcd ended the watch (err is set) */
	int64_t compact_revision;	/* > 0: start_revision was compacted
					 * away (err is set: ERR_NOTFOUND) */
	struct etcd_event *events;
	size_t nevents;
};

typedef void (*etcd_watch_fn)(void *arg, const struct etcd_watch_msg *m);

struct etcd_watch_opts {
	const char *key;
	bool prefix;		/* every key starting with key */
	int64_t start_revision;	/* 0: from now */
};

/*
 * Watches a key or a prefix on a streaming POST /v3/watch.  fn gets each
 * message in order.  A stream that breaks (the endpoint died) is opened
 * again on the next endpoint from the revision after the last event
 * seen, once around the list; when no endpoint takes it, fn gets a
 * message with err set and the watch is over.  The handle stays the
 * caller's until etcd_watch_cancel(), even after the end.  Returns 0 and
 * *out, ERR_INVALID or -ENOMEM.
 */
int etcd_watch(struct etcd *e, const struct etcd_watch_opts *o,
    etcd_watch_fn fn, void *arg, struct etcd_watch **out);

/* Stops w (no further callback) and frees it.  Safe inside its callback.
 * Accepts NULL. */
void etcd_watch_cancel(struct etcd_watch *w);

#endif
