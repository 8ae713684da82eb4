/*
 * etcd_json.c - the etcd client's words on the wire (see etcd_int.h):
 * the endpoint list, the JSON bodies of the gateway's requests and the
 * reading of its answers.  Nothing here talks to a server.
 *
 * The gateway writes keys and values in base64 and int64 fields as JSON
 * strings ("revision": "42"), and leaves out every field that holds its
 * zero value (false, 0, "", an empty list): a missing field reads as
 * zero.  A field of the wrong type, a number that is not one, or base64
 * that does not decode is an ERR_PROTOCOL naming the field by its path
 * ("responses[1].response_range.kvs[0].value: not base64").
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "distcron/b64.h"
#include "distcron/endpoints.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/url.h"
#include "etcd_int.h"

#define PATH_LEN	JFIELD_PATH_LEN

void
etcd_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

const char *
etcd_path(enum etcd_kind k)
{
	static const char *const paths[] = {
		[ETCD_K_RANGE] = "/v3/kv/range",
		[ETCD_K_PUT] = "/v3/kv/put",
		[ETCD_K_DELETE] = "/v3/kv/deleterange",
		[ETCD_K_TXN] = "/v3/kv/txn",
		[ETCD_K_GRANT] = "/v3/lease/grant",
		[ETCD_K_KEEPALIVE] = "/v3/lease/keepalive",
		[ETCD_K_REVOKE] = "/v3/lease/revoke",
		[ETCD_K_AUTH] = "/v3/auth/authenticate",
		[ETCD_K_WATCH] = "/v3/watch",
	};

	return paths[k];
}

/* ---- the endpoint list ---- */

int
etcd_endpoints_parse(const char *list, char ***out, size_t *np, char *err,
    size_t errlen)
{
	return endpoints_parse("etcd endpoint", list, out, np, err, errlen);
}

/* ---- request bodies ---- */

/* Appends ,"name":"<base64 of the n bytes at p>". */
static int
put_b64(struct buf *b, const char *name, const void *p, size_t n)
{
	int r;

	if ((r = buf_printf(b, ",\"%s\":\"", name)) != 0 ||
	    (r = b64_encode(p, n, true, b)) != 0)
		return r;
	return buf_puts(b, "\"");
}

/* Appends ,"range_end":... for every key starting with key: key with its
 * last byte below 0xff raised by one, the bytes after it dropped; "\0"
 * (every key) when all are 0xff. */
static int
put_range_end(struct buf *b, const char *key)
{
	size_t n = strlen(key);
	unsigned char end[n + 1];

	memcpy(end, key, n);
	while (n > 0 && end[n - 1] == 0xff)
		n--;
	if (n == 0)
		return put_b64(b, "range_end", "", 1);
	end[n - 1]++;
	return put_b64(b, "range_end", end, n);
}

/* Appends the fields of op, "key" first, without braces. */
static int
op_fields(const struct etcd_op *op, struct buf *b)
{
	int r;

	if (op->key == NULL || op->key[0] == '\0')
		return ERR_INVALID;
	if ((r = buf_puts(b, "\"key\":\"")) != 0 ||
	    (r = b64_encode(op->key, strlen(op->key), true, b)) != 0 ||
	    (r = buf_puts(b, "\"")) != 0 ||
	    (op->prefix && op->type != ETCD_OP_PUT &&
	    (r = put_range_end(b, op->key)) != 0))
		return r;
	if (op->type == ETCD_OP_PUT) {
		if ((r = put_b64(b, "value", op->value != NULL ? op->value :
		    "", op->value_len)) != 0)
			return r;
		if (op->lease != 0 && (r = buf_printf(b, ",\"lease\":\"%lld\"",
		    (long long)op->lease)) != 0)
			return r;
	}
	if (op->type != ETCD_OP_RANGE)
		return 0;
	if (op->limit > 0 && (r = buf_printf(b, ",\"limit\":\"%lld\"",
	    (long long)op->limit)) != 0)
		return r;
	if (op->keys_only && (r = buf_puts(b, ",\"keys_only\":true")) != 0)
		return r;
	if (op->count_only && (r = buf_puts(b, ",\"count_only\":true")) != 0)
		return r;
	return 0;
}

int
etcd_body_op(const struct etcd_op *op, struct buf *b)
{
	int r;

	if ((r = buf_puts(b, "{")) != 0 || (r = op_fields(op, b)) != 0)
		return r;
	return buf_puts(b, "}");
}

static int
txn_ops(const char *name, const struct etcd_op *ops, size_t n, struct buf *b)
{
	static const char *const req[] = {
		[ETCD_OP_RANGE] = "request_range",
		[ETCD_OP_PUT] = "request_put",
		[ETCD_OP_DELETE] = "request_delete_range",
	};
	size_t i;
	int r;

	if ((r = buf_printf(b, ",\"%s\":[", name)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = buf_printf(b, "%s{\"%s\":{", i > 0 ? "," : "",
		    req[ops[i].type])) != 0 ||
		    (r = op_fields(&ops[i], b)) != 0 ||
		    (r = buf_puts(b, "}}")) != 0)
			return r;
	}
	return buf_puts(b, "]");
}

static int
txn_cmp(const struct etcd_cmp *c, struct buf *b)
{
	static const char *const target[] = {
		[ETCD_CMP_VERSION] = "VERSION", [ETCD_CMP_CREATE] = "CREATE",
		[ETCD_CMP_MOD] = "MOD", [ETCD_CMP_VALUE] = "VALUE",
		[ETCD_CMP_LEASE] = "LEASE",
	};
	static const char *const field[] = {
		[ETCD_CMP_VERSION] = "version",
		[ETCD_CMP_CREATE] = "create_revision",
		[ETCD_CMP_MOD] = "mod_revision", [ETCD_CMP_LEASE] = "lease",
	};
	static const char *const result[] = {
		[ETCD_EQUAL] = "EQUAL", [ETCD_GREATER] = "GREATER",
		[ETCD_LESS] = "LESS", [ETCD_NOT_EQUAL] = "NOT_EQUAL",
	};
	int r;

	if (c->key == NULL || c->key[0] == '\0' ||
	    (unsigned)c->target > ETCD_CMP_LEASE ||
	    (unsigned)c->result > ETCD_NOT_EQUAL)
		return ERR_INVALID;
	if ((r = buf_printf(b, "{\"target\":\"%s\",\"result\":\"%s\"",
	    target[c->target], result[c->result])) != 0 ||
	    (r = put_b64(b, "key", c->key, strlen(c->key))) != 0)
		return r;
	if (c->target == ETCD_CMP_VALUE)
		r = put_b64(b, "value", c->value != NULL ? c->value : "",
		    c->value_len);
	else
		r = buf_printf(b, ",\"%s\":\"%lld\"", field[c->target],
		    (long long)c->number);
	return r != 0 ? r : buf_puts(b, "}");
}

int
etcd_body_txn(const struct etcd_txn *t, struct buf *b)
{
	size_t i;
	int r;

	if ((r = buf_puts(b, "{\"compare\":[")) != 0)
		return r;
	for (i = 0; i < t->ncmps; i++)
		if ((i > 0 && (r = buf_puts(b, ",")) != 0) ||
		    (r = txn_cmp(&t->cmps[i], b)) != 0)
			return r;
	if ((r = buf_puts(b, "]")) != 0 ||
	    (r = txn_ops("success", t->success, t->nsuccess, b)) != 0 ||
	    (r = txn_ops("failure", t->failure, t->nfailure, b)) != 0)
		return r;
	return buf_puts(b, "}");
}

int
etcd_body_watch(const struct etcd_watch_opts *o, struct buf *b)
{
	struct etcd_op op = {
		.type = ETCD_OP_RANGE, .key = o->key, .prefix = o->prefix,
	};
	int r;

	if ((r = buf_puts(b, "{\"create_request\":{")) != 0 ||
	    (r = op_fields(&op, b)) != 0)
		return r;
	if (o->start_revision > 0 && (r = buf_printf(b,
	    ",\"start_revision\":\"%lld\"", (long long)o->start_revision)) != 0)
		return r;
	return buf_puts(b, "}}");
}

int
etcd_body_auth(const char *user, const char *password, struct buf *b)
{
	json_object *o;
	int r = -ENOMEM;

	if ((o = json_object_new_object()) == NULL)
		return -ENOMEM;
	if (json_object_object_add(o, "name",
	    json_object_new_string(user)) == 0 &&
	    json_object_object_add(o, "password",
	    json_object_new_string(password)) == 0)
		r = buf_puts(b, json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);	/* json-c's copy of the password: the
				 * caller's own body is wiped after use */
	return r;
}

/* ---- answers ---- */

/* Where a parse writes its complaint. */
struct pctx {
	char *msg;
	size_t msglen;
};

static int __attribute__((format(printf, 3, 4)))
bad(struct pctx *c, const char *path, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->msg, c->msglen, "%s: %s", path, what);
	return ERR_PROTOCOL;
}

/* Reads text as one JSON object (white space around it) into *out. */
static int
parse_object(struct pctx *c, const char *text, size_t len, json_object **out)
{
	json_tokener *tok;
	json_object *o;
	size_t end;

	if (len > INT_MAX)
		return bad(c, "answer", "too long");
	if ((tok = json_tokener_new()) == NULL)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && text[end] != '\0' &&
	    strchr(" \t\r\n", text[end]) != NULL)
		end++;
	if (o == NULL || end != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return bad(c, "answer", "not a JSON object");
	}
	*out = o;
	return 0;
}

/* The int64 member key of o (a string of digits or a number; 0 when
 * absent) into *out. */
static int
get_i64(struct pctx *c, json_object *o, const char *pre, const char *key,
    int64_t *out)
{
	char path[PATH_LEN], q[JFIELD_QUOTE_LEN];
	json_object *v = jfield_get(o, key);

	*out = 0;
	if (v == NULL)
		return 0;
	jfield_join(path, pre, key);
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return bad(c, path, "expected an integer, got %s",
		    jfield_type_name(v));
	if (jfield_parse_int(json_object_get_string(v), INT64_MIN, INT64_MAX,
	    out) != 0)
		return bad(c, path, "not an integer: %s",
		    jfield_quote(json_object_get_string(v), q, sizeof(q)));
	return 0;
}

static int
get_bool(struct pctx *c, json_object *o, const char *pre, const char *key,
    bool *out)
{
	char path[PATH_LEN];
	json_object *v = jfield_get(o, key);

	*out = false;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		jfield_join(path, pre, key);
		return bad(c, path, "expected a boolean, got %s",
		    jfield_type_name(v));
	}
	*out = json_object_get_boolean(v);
	return 0;
}

/* The base64 member key of o, decoded into *out (malloc'ed,
 * NUL-terminated; "" when absent) and *len. */
static int
get_bytes(struct pctx *c, json_object *o, const char *pre, const char *key,
    char **out, size_t *len)
{
	char path[PATH_LEN];
	json_object *v = jfield_get(o, key);
	const char *s = "";
	size_t n = 0;
	ssize_t got;

	jfield_join(path, pre, key);
	if (v != NULL && !json_object_is_type(v, json_type_string))
		return bad(c, path, "expected a string, got %s",
		    jfield_type_name(v));
	if (v != NULL) {
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
	}
	if ((*out = malloc(B64_DECODED_MAX(n) + 1)) == NULL)
		return -ENOMEM;
	if ((got = b64_decode(s, n, (unsigned char *)*out)) < 0) {
		free(*out);
		*out = NULL;
		return bad(c, path, "not base64");
	}
	(*out)[got] = '\0';
	*len = (size_t)got;
	return 0;
}

/* The member key of o of type t (NULL when absent), or an error naming
 * what it is instead. */
static int
get_typed(struct pctx *c, json_object *o, const char *pre, const char *key,
    json_type t, json_object **out)
{
	char path[PATH_LEN];

	*out = jfield_get(o, key);
	if (*out != NULL && !json_object_is_type(*out, t)) {
		jfield_join(path, pre, key);
		return bad(c, path, "expected an %s, got %s",
		    t == json_type_array ? "array" : "object",
		    jfield_type_name(*out));
	}
	return 0;
}

static int
get_array(struct pctx *c, json_object *o, const char *pre, const char *key,
    json_object **out)
{
	return get_typed(c, o, pre, key, json_type_array, out);
}

static int
get_object(struct pctx *c, json_object *o, const char *pre, const char *key,
    json_object **out)
{
	return get_typed(c, o, pre, key, json_type_object, out);
}

/* pre ("kvs[0]." or "") without its final dot: the path of the object
 * itself, for messages about it. */
static const char *
undot(const char *pre, char *out)
{
	size_t n = strlen(pre);

	if (n > 0 && pre[n - 1] == '.')
		n--;
	snprintf(out, PATH_LEN, "%.*s", (int)n, pre);
	return n > 0 ? out : "answer";
}

static void
kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

static void
kvs_free(struct etcd_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		kv_clear(&kvs[i]);
	free(kvs);
}

static int
read_kv(struct pctx *c, json_object *o, const char *pre, struct etcd_kv *kv)
{
	char here[PATH_LEN];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return bad(c, undot(pre, here), "expected an object, got %s",
		    jfield_type_name(o));
	if ((r = get_bytes(c, o, pre, "key", &kv->key, &kv->key_len)) != 0 ||
	    (r = get_bytes(c, o, pre, "value", &kv->value,
	    &kv->value_len)) != 0 ||
	    (r = get_i64(c, o, pre, "create_revision",
	    &kv->create_revision)) != 0 ||
	    (r = get_i64(c, o, pre, "mod_revision", &kv->mod_revision)) != 0 ||
	    (r = get_i64(c, o, pre, "version", &kv->version)) != 0 ||
	    (r = get_i64(c, o, pre, "lease", &kv->lease)) != 0)
		return r;
	if (kv->key_len == 0)
		return bad(c, undot(pre, here), "a key-value without a key");
	return 0;
}

static int
read_kvs(struct pctx *c, json_object *o, const char *pre,
    struct etcd_kv **out, size_t *np)
{
	char path[PATH_LEN], item[PATH_LEN];
	json_object *a;
	size_t i, n;
	int r;

	if ((r = get_array(c, o, pre, "kvs", &a)) != 0 || a == NULL)
		return r;
	jfield_join(path, pre, "kvs");
	n = json_object_array_length(a);
	if ((*out = calloc(n + 1, sizeof(**out))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		etcd_fmt(item, sizeof(item), "%s[%zu].", path, i);
		*np = i + 1;
		if ((r = read_kv(c, json_object_array_get_idx(a, i), item,
		    &(*out)[i])) != 0)
			return r;
	}
	return 0;
}

/* The revision of o's "header" (pre names o). */
static int
read_header(struct pctx *c, json_object *o, const char *pre, int64_t *rev)
{
	char path[PATH_LEN];
	json_object *h;
	int r;

	*rev = 0;
	if ((r = get_object(c, o, pre, "header", &h)) != 0 || h == NULL)
		return r;
	jfield_join(path, pre, "header.");
	return get_i64(c, h, path, "revision", rev);
}

static int
read_op(struct pctx *c, json_object *o, const char *pre,
    enum etcd_op_type type, struct etcd_op_result *op)
{
	int r;

	op->type = type;
	if ((r = read_header(c, o, pre, &op->revision)) != 0)
		return r;
	if (type == ETCD_OP_DELETE)
		return get_i64(c, o, pre, "deleted", &op->count);
	if (type == ETCD_OP_PUT)
		return 0;
	if ((r = read_kvs(c, o, pre, &op->kvs, &op->nkvs)) != 0 ||
	    (r = get_i64(c, o, pre, "count", &op->count)) != 0)
		return r;
	return get_bool(c, o, pre, "more", &op->more);
}

/* One of a txn's responses: {"response_range": {...}} or put or delete. */
static int
read_txn_item(struct pctx *c, json_object *o, const char *pre,
    struct etcd_op_result *op)
{
	static const char *const names[] = {
		[ETCD_OP_RANGE] = "response_range",
		[ETCD_OP_PUT] = "response_put",
		[ETCD_OP_DELETE] = "response_delete_range",
	};
	char path[PATH_LEN];
	json_object *v;
	int t, r;

	if (!json_object_is_type(o, json_type_object))
		return bad(c, undot(pre, path), "expected an object, got %s",
		    jfield_type_name(o));
	for (t = ETCD_OP_RANGE; t <= ETCD_OP_DELETE; t++) {
		if ((r = get_object(c, o, pre, names[t], &v)) != 0)
			return r;
		if (v != NULL) {
			etcd_fmt(path, sizeof(path), "%s%s.", pre, names[t]);
			return read_op(c, v, path, (enum etcd_op_type)t, op);
		}
	}
	return bad(c, undot(pre, path), "no response_range, response_put or "
	    "response_delete_range");
}

static int
read_txn(struct pctx *c, json_object *o, struct etcd_result *res)
{
	char path[PATH_LEN];
	json_object *a;
	size_t i, n;
	int r;

	if ((r = get_bool(c, o, "", "succeeded", &res->succeeded)) != 0 ||
	    (r = get_array(c, o, "", "responses", &a)) != 0 || a == NULL)
		return r;
	n = json_object_array_length(a);
	if ((res->ops = calloc(n + 1, sizeof(*res->ops))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		res->nops = i + 1;
		snprintf(path, sizeof(path), "responses[%zu].", i);
		if ((r = read_txn_item(c, json_object_array_get_idx(a, i),
		    path, &res->ops[i])) != 0)
			return r;
	}
	return 0;
}

/* A keepalive answer: {"result": {"ID", "TTL"}}; no TTL: the lease is
 * gone. */
static int
read_keepalive(struct pctx *c, json_object *o, struct etcd_result *res)
{
	json_object *v;
	int r;

	if ((r = get_object(c, o, "", "result", &v)) != 0)
		return r;
	if (v == NULL)
		return bad(c, "result", "missing");
	if ((r = read_header(c, v, "result.", &res->revision)) != 0 ||
	    (r = get_i64(c, v, "result.", "ID", &res->lease)) != 0 ||
	    (r = get_i64(c, v, "result.", "TTL", &res->ttl)) != 0)
		return r;
	if (res->ttl > 0)
		return 0;
	snprintf(res->msg, sizeof(res->msg), "lease %lld not found "
	    "(expired or revoked)", (long long)res->lease);
	return ERR_NOTFOUND;
}

static int
read_answer(struct pctx *c, enum etcd_kind k, json_object *o,
    struct etcd_result *res)
{
	int r;

	if (k == ETCD_K_KEEPALIVE)
		return read_keepalive(c, o, res);
	if ((r = read_header(c, o, "", &res->revision)) != 0)
		return r;
	switch (k) {
	case ETCD_K_RANGE:
		return read_op(c, o, "", ETCD_OP_RANGE, &res->op);
	case ETCD_K_PUT:
		return read_op(c, o, "", ETCD_OP_PUT, &res->op);
	case ETCD_K_DELETE:
		return read_op(c, o, "", ETCD_OP_DELETE, &res->op);
	case ETCD_K_TXN:
		return read_txn(c, o, res);
	case ETCD_K_GRANT:
		if ((r = get_i64(c, o, "", "ID", &res->lease)) != 0 ||
		    (r = get_i64(c, o, "", "TTL", &res->ttl)) != 0)
			return r;
		return res->lease != 0 ? 0 : bad(c, "ID", "missing");
	default:
		return 0;
	}
}

int
etcd_parse(enum etcd_kind k, const char *text, size_t len,
    struct etcd_result *res)
{
	struct pctx c = { res->msg, sizeof(res->msg) };
	json_object *o;
	int r;

	memset(res, 0, sizeof(*res));
	if ((r = parse_object(&c, text, len, &o)) != 0)
		return r;
	r = read_answer(&c, k, o, res);
	json_object_put(o);
	if (r == -ENOMEM)
		snprintf(res->msg, sizeof(res->msg), "out of memory");
	if (r != 0 && r != ERR_NOTFOUND)
		etcd_result_clear(res);
	return r;
}

void
etcd_result_clear(struct etcd_result *r)
{
	size_t i;

	kvs_free(r->op.kvs, r->op.nkvs);
	for (i = 0; i < r->nops; i++)
		kvs_free(r->ops[i].kvs, r->ops[i].nkvs);
	free(r->ops);
	r->op.kvs = NULL;
	r->op.nkvs = 0;
	r->ops = NULL;
	r->nops = 0;
}

int
etcd_parse_token(const char *text, size_t len, char **token, char *msg,
    size_t msglen)
{
	struct pctx c = { msg, msglen };
	json_object *o, *v;
	int r;

	if ((r = parse_object(&c, text, len, &o)) != 0)
		return r;
	v = jfield_get(o, "token");
	if (v == NULL || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		r = bad(&c, "token", v == NULL ? "missing" : "not a token");
	else if ((*token = strdup(json_object_get_string(v))) == NULL)
		r = -ENOMEM;
	json_object_put(o);
	return r;
}

/* ---- watch streams ---- */

static int
read_event(struct pctx *c, json_object *o, const char *pre,
    struct etcd_event *ev)
{
	char path[PATH_LEN];
	json_object *t, *kv;
	int r;

	if ((r = get_object(c, o, pre, "kv", &kv)) != 0)
		return r;
	t = jfield_get(o, "type");
	jfield_join(path, pre, "type");
	if (t == NULL || (json_object_is_type(t, json_type_string) &&
	    strcmp(json_object_get_string(t), "PUT") == 0))
		ev->type = ETCD_EV_PUT;
	else if (json_object_is_type(t, json_type_string) &&
	    strcmp(json_object_get_string(t), "DELETE") == 0)
		ev->type = ETCD_EV_DELETE;
	else
		return bad(c, path, "expected \"PUT\" or \"DELETE\"");
	if (kv == NULL)
		return bad(c, undot(pre, path), "an event without kv");
	jfield_join(path, pre, "kv.");
	return read_kv(c, kv, path, &ev->kv);
}

static int
read_events(struct pctx *c, json_object *o, struct etcd_watch_msg *m)
{
	char path[PATH_LEN];
	json_object *a;
	size_t i, n;
	int r;

	if ((r = get_array(c, o, "result.", "events", &a)) != 0 || a == NULL)
		return r;
	n = json_object_array_length(a);
	if ((m->events = calloc(n + 1, sizeof(*m->events))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		m->nevents = i + 1;
		snprintf(path, sizeof(path), "result.events[%zu].", i);
		if ((r = read_event(c, json_object_array_get_idx(a, i), path,
		    &m->events[i])) != 0)
			return r;
	}
	return 0;
}

/* A canceled watch: compacted (ERR_NOTFOUND) or for etcd's reason. */
static void
watch_canceled(json_object *res, struct etcd_watch_msg *m)
{
	json_object *why = jfield_get(res, "cancel_reason");
	char q[JFIELD_QUOTE_LEN];

	if (m->compact_revision > 0) {
		m->err = ERR_NOTFOUND;
		snprintf(m->msg, sizeof(m->msg), "watch canceled: revision "
		    "%lld was compacted away", (long long)m->compact_revision);
		return;
	}
	m->err = ERR_INVALID;
	snprintf(m->msg, sizeof(m->msg), "watch canceled by etcd: %s",
	    why != NULL ? jfield_quote(json_object_get_string(why), q,
	    sizeof(q)) : "no reason given");
}

/* {"error": {"message", "grpc_code", ...}} in a stream, or 3.5's
 * {"error": "...", "code": N} shape: the watch is over. */
static int
watch_error(json_object *o, struct etcd_watch_msg *m)
{
	json_object *e = jfield_get(o, "error");
	char why[ETCD_MSG_LEN];
	const char *text;

	if (!json_object_is_type(e, json_type_object))
		e = o;
	text = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
	(void)etcd_classify(500, text, strlen(text), &m->err, why,
	    sizeof(why));
	etcd_fmt(m->msg, sizeof(m->msg), "watch ended by etcd: %s", why);
	return 0;
}

int
etcd_parse_watch(const char *text, size_t len, struct etcd_watch_msg *m)
{
	struct pctx c = { m->msg, sizeof(m->msg) };
	json_object *o, *res = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = parse_object(&c, text, len, &o)) != 0)
		return r;
	if (jfield_get(o, "error") != NULL) {
		r = watch_error(o, m);
		goto out;
	}
	if ((r = get_object(&c, o, "", "result", &res)) != 0)
		goto out;
	if (res == NULL) {
		r = bad(&c, "result", "missing");
		goto out;
	}
	if ((r = read_header(&c, res, "result.", &m->revision)) != 0 ||
	    (r = get_bool(&c, res, "result.", "created", &m->created)) != 0 ||
	    (r = get_bool(&c, res, "result.", "canceled",
	    &m->canceled)) != 0 ||
	    (r = get_i64(&c, res, "result.", "compact_revision",
	    &m->compact_revision)) != 0 ||
	    (r = read_events(&c, res, m)) != 0)
		goto out;
	if (m->canceled)
		watch_canceled(res, m);
	else if (!m->created && m->nevents == 0)
		m->progress = true;
 out:
	json_object_put(o);
	if (r != 0)
		etcd_watch_msg_clear(m);
	return r;
}

void
etcd_watch_msg_clear(struct etcd_watch_msg *m)
{
	size_t i;

	for (i = 0; i < m->nevents; i++)
		kv_clear(&m->events[i].kv);
	free(m->events);
	m->events = NULL;
	m->nevents = 0;
}

/* ---- error answers ---- */

/* gRPC status codes the gateway puts in "code". */
enum {
	GRPC_INVALID_ARGUMENT = 3, GRPC_NOT_FOUND = 5,
	GRPC_PERMISSION_DENIED = 7, GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_OUT_OF_RANGE = 11, GRPC_UNAVAILABLE = 14,
	GRPC_UNAUTHENTICATED = 16,
};

/* Copies s (at most n bytes, up to its first line break or NUL) into out
 * (len bytes), control characters replaced by '?'. */
static void
words_copy(const char *s, size_t n, char *out, size_t len)
{
	size_t i;

	for (i = 0; i < n && i + 1 < len && s[i] != '\0' && s[i] != '\n';
	    i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	out[i] = '\0';
}

/* etcd's words and gRPC code from an error body; false when the body is
 * not one. */
static bool
error_body(const char *text, size_t len, char *why, size_t whylen,
    int64_t *code)
{
	char msg[8];
	struct pctx c = { msg, sizeof(msg) };
	json_object *o, *w, *v;

	if (parse_object(&c, text, len, &o) != 0)
		return false;
	if ((w = jfield_get(o, "message")) == NULL ||
	    !json_object_is_type(w, json_type_string))
		w = jfield_get(o, "error");
	if ((v = jfield_get(o, "code")) == NULL)
		v = jfield_get(o, "grpc_code");
	if (w == NULL || !json_object_is_type(w, json_type_string) ||
	    v == NULL || !json_object_is_type(v, json_type_int)) {
		json_object_put(o);
		return false;
	}
	*code = json_object_get_int64(v);
	words_copy(json_object_get_string(w), SIZE_MAX, why, whylen);
	json_object_put(o);
	return true;
}

/* How etcd's answer with gRPC code and words why is handled. */
static enum etcd_fail
classify_code(int64_t code, const char *why, int *err)
{
	*err = ERR_INVALID;
	if (strstr(why, "invalid auth token") != NULL) {
		*err = ERR_AUTH;
		return ETCD_F_REAUTH;
	}
	if (code == GRPC_UNAUTHENTICATED || code == GRPC_PERMISSION_DENIED ||
	    strstr(why, "authentication failed") != NULL ||
	    strstr(why, "user name is empty") != NULL ||
	    strstr(why, "permission denied") != NULL) {
		*err = ERR_AUTH;
		return ETCD_F_FINAL;
	}
	if (code == GRPC_RESOURCE_EXHAUSTED) {
		*err = ERR_BUSY;
		return ETCD_F_FINAL;
	}
	if (code == GRPC_NOT_FOUND || code == GRPC_OUT_OF_RANGE) {
		*err = ERR_NOTFOUND;
		return ETCD_F_FINAL;
	}
	if (code == GRPC_UNAVAILABLE) {
		*err = ERR_CONNECT;
		return strstr(why, "timed out") != NULL ||
		    strstr(why, "leader changed") != NULL ? ETCD_F_UNSURE :
		    ETCD_F_NEXT;
	}
	return ETCD_F_FINAL;
}

/* "HTTP status N: FIRST LINE OF THE BODY" for a body that is no etcd
 * error (a proxy's page, the gateway's own refusals). */
static void
body_words(long status, const char *text, size_t len, char *why,
    size_t whylen)
{
	char line[200];

	words_copy(text, len, line, sizeof(line));
	if (line[0] == '\0')
		etcd_fmt(why, whylen, "HTTP status %ld without an etcd error",
		    status);
	else
		etcd_fmt(why, whylen, "HTTP status %ld: %s", status, line);
}

enum etcd_fail
etcd_classify(long status, const char *text, size_t len, int *err,
    char *why, size_t whylen)
{
	int64_t code;

	if (error_body(text, len, why, whylen, &code)) {
		if (status == 429)
			code = GRPC_RESOURCE_EXHAUSTED;
		return classify_code(code, why, err);
	}
	body_words(status, text, len, why, whylen);
	if (status == 429) {
		*err = ERR_BUSY;
		snprintf(why, whylen, "too many requests");
		return ETCD_F_FINAL;
	}
	*err = ERR_PROTOCOL;
	return status == 502 || status == 503 || status == 504 ?
	    ETCD_F_NEXT : ETCD_F_FINAL;
}
