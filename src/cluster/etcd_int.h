/*
 * etcd_int.h - what the etcd client's files share: the endpoint list, the
 * JSON bodies of requests and the reading of answers (etcd_json.c, pure,
 * tested without a server), for the transport (etcd.c).
 */
#ifndef DISTCRON_ETCD_INT_H
#define DISTCRON_ETCD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distcron/buf.h"
#include "distcron/etcd.h"

/* What an answer is the answer to. */
enum etcd_kind {
	ETCD_K_RANGE, ETCD_K_PUT, ETCD_K_DELETE, ETCD_K_TXN, ETCD_K_GRANT,
	ETCD_K_KEEPALIVE, ETCD_K_REVOKE, ETCD_K_AUTH, ETCD_K_WATCH,
};

/* snprintf() into out (len bytes) for messages that may be cut. */
void etcd_fmt(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The gateway path of a request of kind k: "/v3/kv/range", ... */
const char *etcd_path(enum etcd_kind k);

/*
 * Splits the comma-separated list into *urls (n entries, each a copy
 * without a trailing "/", NULL-terminated: jfield_strv_free() it).  Returns 0,
 * ERR_CONFIG with err naming the entry ("etcd endpoint 2 \"x\": ..."), or
 * -ENOMEM.
 */
int etcd_endpoints_parse(const char *list, char ***urls, size_t *n,
    char *err, size_t errlen);

/* Appends the JSON body of op (range, put or deleterange) to b.  Returns
 * 0, ERR_INVALID (an empty key), or buf_append()'s error. */
int etcd_body_op(const struct etcd_op *op, struct buf *b);

/* Appends the JSON body of the txn t to b.  Same returns. */
int etcd_body_txn(const struct etcd_txn *t, struct buf *b);

/* Appends {"create_request": ...} for o to b.  Same returns. */
int etcd_body_watch(const struct etcd_watch_opts *o, struct buf *b);

/* Appends {"name": ..., "password": ...} to b (wipe it after use).
 * Returns 0 or buf_append()'s error. */
int etcd_body_auth(const char *user, const char *password, struct buf *b);

/*
 * Reads a 200 answer of kind k (not ETCD_K_WATCH, not ETCD_K_AUTH) of len
 * bytes into r (zeroed first; etcd_result_clear() it after).  Returns 0,
 * ERR_NOTFOUND (a keepalive for a lease that is gone, r->msg says so),
 * ERR_PROTOCOL with r->msg naming the field ("kvs[0].key: not base64"),
 * or -ENOMEM; on an error r holds no keys.
 */
int etcd_parse(enum etcd_kind k, const char *text, size_t len,
    struct etcd_result *r);

/* Frees what etcd_parse() put in r. */
void etcd_result_clear(struct etcd_result *r);

/* Reads the token of an /v3/auth/authenticate answer into *token
 * (free() it).  Returns 0, ERR_PROTOCOL with msg, or -ENOMEM. */
int etcd_parse_token(const char *text, size_t len, char **token, char *msg,
    size_t msglen);

/*
 * Reads one line of a watch stream into m (zeroed first;
 * etcd_watch_msg_clear() it after).  A canceled watch or an error object
 * sets m->err and m->msg (compaction: ERR_NOTFOUND).  Returns 0 (m->err
 * may be set), ERR_PROTOCOL with m->msg, or -ENOMEM (then m holds no
 * events).
 */
int etcd_parse_watch(const char *text, size_t len, struct etcd_watch_msg *m);

/* Frees what etcd_parse_watch() put in m. */
void etcd_watch_msg_clear(struct etcd_watch_msg *m);

/* How an error answer should be handled. */
enum etcd_fail {
	ETCD_F_FINAL,		/* report it */
	ETCD_F_NEXT,		/* try the next endpoint (unavailable) */
	ETCD_F_UNSURE,		/* a write may or may not have been applied
				 * (etcd timed out): next for reads,
				 * ERR_TIMEOUT for writes */
	ETCD_F_REAUTH,		/* the token was refused: authenticate again */
};

/*
 * Classifies an error answer: the HTTP status and the body ({"error" or
 * "message", "code"} with a gRPC code, or anything else).  Writes etcd's
 * words (or a description of the body) to why and the ERR_* code to
 * *err.  Returns how to handle it.
 */
enum etcd_fail etcd_classify(long status, const char *text, size_t len,
    int *err, char *why, size_t whylen);

#endif
