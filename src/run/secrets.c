/*
 * secrets.c - the daemon's secrets in memory and their use by runs.
 *
 * The sealed values are read from the store once, at start (where the key
 * is checked against each), and kept in a sorted array under a mutex; the
 * API's writes go to the store first, then to the array.  A run's start
 * opens the values its job refers to (secbox_open(): microseconds, no disk)
 * and builds its environment entries, headers and body; the opened values
 * stay with the run's item until its output has been masked, then are
 * wiped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/outcap.h"
#include "distcron/secbox.h"
#include "distcron/secrets.h"
#include "distcron/storesec.h"
#include "distcron/tz.h"

struct secrets {
	pthread_mutex_t lock;		/* rows */
	pthread_mutex_t write_lock;	/* writers, one at a time: the store
					 * is written outside lock, so that a
					 * run's start never waits on the
					 * disk */
	struct store *st;
	struct secbox_key key;		/* current: seals, opens */
	struct secbox_key prev;		/* previous (rotation): opens */
	bool has_prev;
	struct storesec_row *rows;	/* by name */
	size_t n;
	void (*on_set)(void *);
	void *on_set_arg;
	secrets_write_fn remote;	/* cluster mode: etcd, not the store */
	void *remote_arg;
	secrets_rotate_fn remote_rotate;	/* cluster mode's rotation */
	void *rotate_arg;
};

/* Opens sealed (name's) with the current key, else with the previous one
 * (*prev then true).  Returns as secbox_open() does with the current key
 * when neither opens it. */
static int
sb_open(const struct secrets *s, const char *name,
    const unsigned char *sealed, size_t len, char **value, bool *prev)
{
	int r = secbox_open(&s->key, name, sealed, len, value);

	*prev = false;
	if (r == 0 || r == -ENOMEM || !s->has_prev)
		return r;
	if (secbox_open(&s->prev, name, sealed, len, value) != 0)
		return r;
	*prev = true;
	return 0;
}

void
secrets_set_remote(struct secrets *s, secrets_write_fn write, void *arg)
{
	s->remote = write;
	s->remote_arg = arg;
}

void
secrets_on_set(struct secrets *s, void (*fn)(void *), void *arg)
{
	s->on_set = fn;
	s->on_set_arg = arg;
}

/* The index of name in s->rows, or -1; *at is where it would go. */
static long
row_find(const struct secrets *s, const char *name, size_t *at)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((c = strcmp(s->rows[mid].name, name)) == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at != NULL)
		*at = lo;
	return -1;
}

/* Checks that s's key opens every row. */
static int
key_check(struct secrets *s, char *err, size_t errlen)
{
	char *value;
	size_t i;
	bool prev;
	int r;

	for (i = 0; i < s->n; i++) {
		r = sb_open(s, s->rows[i].name, s->rows[i].sealed,
		    s->rows[i].len, &value, &prev);
		secbox_value_free(value);
		if (r == -ENOMEM)
			return r;
		if (r != 0) {
			snprintf(err, errlen, "secret %s: the secrets key does "
			    "not open it (wrong key, or the value was altered)%s",
			    s->rows[i].name, s->has_prev ? "; nor does the "
			    "previous key" : "");
			return ERR_AUTH;
		}
		if (prev)
			log_info("secret %s: sealed with the previous key "
			    "(distcronctl secret rotate seals it with the "
			    "current one)", s->rows[i].name);
	}
	return 0;
}

int
secrets_new(struct store *st, const struct secbox_key *key,
    struct secrets **out, char *err, size_t errlen)
{
	return secrets_new_keys(st, key, NULL, out, err, errlen);
}

int
secrets_new_keys(struct store *st, const struct secbox_key *key,
    const struct secbox_key *prev, struct secrets **out, char *err,
    size_t errlen)
{
	struct secrets *s;
	int r;

	*out = NULL;
	if (secbox_init() != 0) {
		snprintf(err, errlen, "libsodium: cannot initialise");
		return ERR_INTERNAL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->write_lock, NULL);
	s->st = st;
	s->key = *key;
	if (prev != NULL) {
		s->prev = *prev;
		s->has_prev = true;
	}
	if ((r = storesec_list(st, &s->rows, &s->n)) != 0)
		snprintf(err, errlen, "secrets: cannot read them: %s",
		    err_str(r));
	else if ((r = key_check(s, err, errlen)) == 0) {
		*out = s;
		return 0;
	}
	secrets_free(s);
	return r;
}

void
secrets_free(struct secrets *s)
{
	if (s == NULL)
		return;
	storesec_rows_free(s->rows, s->n);
	secbox_key_wipe(&s->key);
	secbox_key_wipe(&s->prev);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->write_lock);
	free(s);
}

bool
secrets_exists(void *arg, const char *name)
{
	struct secrets *s = arg;
	bool found;

	if (s == NULL)
		return false;
	pthread_mutex_lock(&s->lock);
	found = row_find(s, name, NULL) >= 0;
	pthread_mutex_unlock(&s->lock);
	return found;
}

int
secrets_value(void *arg, const char *name, char **value)
{
	struct secrets *s = arg;
	long i;
	bool prev;
	int r = ERR_NOTFOUND;

	*value = NULL;
	if (s == NULL)
		return ERR_CONFIG;
	pthread_mutex_lock(&s->lock);
	if ((i = row_find(s, name, NULL)) >= 0)
		r = sb_open(s, name, s->rows[i].sealed, s->rows[i].len, value,
		    &prev);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
secrets_check(void *s, const char *name)
{
	if (s == NULL)
		return ERR_CONFIG;
	return secrets_exists(s, name) ? 0 : ERR_NOTFOUND;
}

/* Takes row i out of the array. */
static void
row_remove(struct secrets *s, size_t i)
{
	free(s->rows[i].name);
	free(s->rows[i].sealed);
	memmove(&s->rows[i], &s->rows[i + 1],
	    (s->n - i - 1) * sizeof(*s->rows));
	s->n--;
}

/* Puts row (taken over) into the array, replacing one of its name. */
static int
row_put(struct secrets *s, struct storesec_row *row)
{
	struct storesec_row *v;
	size_t at = 0;
	long i = row_find(s, row->name, &at);

	if (i >= 0) {
		free(s->rows[i].name);
		free(s->rows[i].sealed);
		s->rows[i] = *row;
		return 0;
	}
	if ((v = realloc(s->rows, (s->n + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	s->rows = v;
	memmove(&v[at + 1], &v[at], (s->n - at) * sizeof(*v));
	v[at] = *row;
	s->n++;
	return 0;
}

/* Puts row (taken over: freed on failure) into the array and tells
 * on_set. */
static int
row_keep(struct secrets *s, struct storesec_row *row)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = row_put(s, row);
	pthread_mutex_unlock(&s->lock);
	if (r != 0) {
		free(row->name);
		free(row->sealed);
	} else if (s->on_set != NULL)
		s->on_set(s->on_set_arg);
	return r;
}

int
secrets_set(struct secrets *s, const char *name, const char *value,
    size_t len, char *err, size_t errlen)
{
	struct storesec_row row = { 0 };
	int r;

	if (len > SECBOX_VALUE_MAX || memchr(value, '\0', len) != NULL) {
		snprintf(err, errlen, "value: %s", len > SECBOX_VALUE_MAX ?
		    "longer than 65536 bytes" : "contains a NUL byte");
		return ERR_INVALID;
	}
	row.updated_ms = loop_real_ms();
	if ((row.name = strdup(name)) == NULL ||
	    (r = secbox_seal(&s->key, name, value, len, &row.sealed,
	    &row.len)) != 0) {
		free(row.name);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->write_lock);
	if (s->remote != NULL)
		r = s->remote(s->remote_arg, name, row.sealed, row.len,
		    row.updated_ms, err, errlen);
	else
		r = storesec_put(s->st, name, row.sealed, row.len,
		    row.updated_ms);
	if (r == 0)
		r = row_keep(s, &row);
	else {
		free(row.name);
		free(row.sealed);
	}
	pthread_mutex_unlock(&s->write_lock);
	return r;
}

int
secrets_mirror_put(struct secrets *s, const char *name,
    const unsigned char *sealed, size_t len, int64_t updated_ms)
{
	struct storesec_row row = { .len = len, .updated_ms = updated_ms };
	char *value = NULL;
	bool prev;
	int r;

	if ((r = sb_open(s, name, sealed, len, &value, &prev)) != 0)
		return r;
	secbox_value_free(value);
	if (prev)
		log_info("secret %s: sealed with the previous key", name);
	if ((row.name = strdup(name)) == NULL ||
	    (row.sealed = malloc(len)) == NULL) {
		free(row.name);
		return -ENOMEM;
	}
	memcpy(row.sealed, sealed, len);
	return row_keep(s, &row);
}

/* True when name is one of names (n, sorted). */
static bool
listed(const char *name, const char *const *names, size_t n)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((c = strcmp(names[mid], name)) == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void
secrets_mirror_drop(struct secrets *s, const char *name,
    const char *const *names, size_t n)
{
	long i;
	size_t k;

	pthread_mutex_lock(&s->lock);
	if (names == NULL && (i = row_find(s, name, NULL)) >= 0)
		row_remove(s, (size_t)i);
	for (k = s->n; names != NULL && k > 0; k--)
		if (!listed(s->rows[k - 1].name, names, n))
			row_remove(s, k - 1);
	pthread_mutex_unlock(&s->lock);
}

int
secrets_delete(struct secrets *s, const char *name)
{
	long i;
	int r;

	char err[256];

	pthread_mutex_lock(&s->write_lock);
	r = s->remote != NULL ? s->remote(s->remote_arg, name, NULL, 0, 0,
	    err, sizeof(err)) : storesec_delete(s->st, name);
	pthread_mutex_lock(&s->lock);
	if (r == 0 && (i = row_find(s, name, NULL)) >= 0)
		row_remove(s, (size_t)i);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->write_lock);
	if (r != 0 && r != ERR_NOTFOUND && s->remote != NULL)
		log_warn("secret %s: not deleted: %s", name, err);
	return r;
}

/* {"name", "updated"} of row. */
static json_object *
row_json(const struct storesec_row *row, const struct tz *utc)
{
	json_object *o = json_object_new_object();
	char when[64] = "";

	tz_format_iso8601(utc, row->updated_ms / 1000, when, sizeof(when));
	if (o == NULL ||
	    json_object_object_add(o, "name",
	    json_object_new_string(row->name)) != 0 ||
	    json_object_object_add(o, "updated",
	    json_object_new_string(when)) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
secrets_list_json(struct secrets *s, char **json)
{
	json_object *root = json_object_new_object(), *arr, *o;
	const struct tz *utc = NULL;
	const char *errstr;
	size_t i;
	int r = -ENOMEM;

	*json = NULL;
	if (tz_get("UTC", &utc, &errstr) != 0 || root == NULL ||
	    (arr = json_object_new_array()) == NULL ||
	    json_object_object_add(root, "secrets", arr) != 0)
		goto out;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n; i++)
		if ((o = row_json(&s->rows[i], utc)) == NULL ||
		    json_object_array_add(arr, o) != 0)
			break;
	r = i == s->n ? 0 : -ENOMEM;
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && (*json = strdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN))) == NULL)
		r = -ENOMEM;
 out:
	json_object_put(root);
	return r;
}

/* ---- key rotation ---- */

void
secrets_set_remote_rotate(struct secrets *s, secrets_rotate_fn fn,
    void *arg)
{
	s->remote_rotate = fn;
	s->rotate_arg = arg;
}

int
secrets_reseal(const struct secrets *s, const char *name,
    const unsigned char *sealed, size_t len, unsigned char **out,
    size_t *outlen, char *err, size_t errlen)
{
	char *value = NULL;
	bool prev;
	int r;

	*out = NULL;
	*outlen = 0;
	if ((r = sb_open(s, name, sealed, len, &value, &prev)) != 0) {
		if (r != -ENOMEM)
			snprintf(err, errlen, "secret %s: %s (wrong key, or "
			    "the value was altered); nothing was re-sealed",
			    name, s->has_prev ? "neither the current nor the "
			    "previous key opens it" : "the current key does "
			    "not open it and there is no previous key");
		return r == -ENOMEM ? r : ERR_INVALID;
	}
	if (prev)
		r = secbox_seal(&s->key, name, value, strlen(value), out,
		    outlen);
	secbox_value_free(value);
	return r;
}

/* The rows the current key does not open yet, sealed with it. */
static int
fresh_rows(struct secrets *s, struct storesec_row **fresh, size_t *nfresh,
    struct secrets_rotation *res, char *err, size_t errlen)
{
	struct storesec_row *v = calloc(s->n + 1, sizeof(*v)), *row;
	size_t i;
	int r = v == NULL ? -ENOMEM : 0;

	*nfresh = 0;
	for (i = 0; r == 0 && i < s->n; i++) {
		row = &v[*nfresh];
		if ((r = secrets_reseal(s, s->rows[i].name, s->rows[i].sealed,
		    s->rows[i].len, &row->sealed, &row->len, err,
		    errlen)) != 0 || row->sealed == NULL) {
			res->current += r == 0;
			continue;
		}
		(*nfresh)++;
		if ((row->name = strdup(s->rows[i].name)) == NULL)
			r = -ENOMEM;
	}
	*fresh = v;
	return r;
}

/* Puts the re-sealed values in place of the old ones. */
static void
fresh_keep(struct secrets *s, struct storesec_row *fresh, size_t n)
{
	size_t i;
	long k;

	for (i = 0; i < n; i++)
		if ((k = row_find(s, fresh[i].name, NULL)) >= 0) {
			free(s->rows[k].sealed);
			s->rows[k].sealed = fresh[i].sealed;
			s->rows[k].len = fresh[i].len;
			fresh[i].sealed = NULL;
		}
}

/* Single-daemon rotation: the store, in one transaction. */
static int
rotate_store(struct secrets *s, struct secrets_rotation *res, char *err,
    size_t errlen)
{
	struct storesec_row *fresh = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	r = fresh_rows(s, &fresh, &n, res, err, errlen);
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && n > 0 && (r = storesec_put_all(s->st, fresh, n)) != 0)
		snprintf(err, errlen, "secrets: cannot write them: %s "
		    "(nothing was re-sealed)", err_str(r));
	if (r == 0) {
		pthread_mutex_lock(&s->lock);
		fresh_keep(s, fresh, n);
		pthread_mutex_unlock(&s->lock);
		res->resealed = n;
	} else
		res->current = 0;
	storesec_rows_free(fresh, n);
	return r;
}

int
secrets_rotate(struct secrets *s, struct secrets_rotation *res, char *err,
    size_t errlen)
{
	int r;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&s->write_lock);
	if (s->remote_rotate != NULL)
		r = s->remote_rotate(s->rotate_arg, s, res, err, errlen);
	else
		r = rotate_store(s, res, err, errlen);
	pthread_mutex_unlock(&s->write_lock);
	if (r == 0)
		log_info("secrets: rotation: %zu re-sealed with the current "
		    "key, %zu already were", res->resealed, res->current);
	return r;
}

/* ---- runs ---- */

/* Opens the value of ref for a run into *value. */
static int
value_open(struct secrets *s, const struct job_secref *ref, char **value,
    char *err, size_t errlen)
{
	int r = secrets_value(s, ref->name, value);

	if (r == 0 && ref->kind == JOB_SECREF_HEADER &&
	    strpbrk(*value, "\r\n") != NULL)
		r = ERR_INVALID;
	if (r != 0 && r != -ENOMEM)
		snprintf(err, errlen, "%s: secret \"%s\" %s", ref->field,
		    ref->name, s == NULL ? "cannot be read: no secrets key "
		    "(secrets_key_file or DISTCRON_SECRETS_KEY)" :
		    r == ERR_NOTFOUND ? "not found" : r == ERR_INVALID ?
		    "contains a line break (not allowed in a header)" :
		    "cannot be opened (wrong key, or altered)");
	if (r != 0) {
		secbox_value_free(*value);
		*value = NULL;
	}
	return r;
}

/* Appends p (taken over; NULL: out of memory) to v. */
static int
push(char ***v, size_t *n, char *p)
{
	char **nv;

	if (p == NULL || (nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL) {
		free(p);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = p;
	nv[*n] = NULL;
	return 0;
}

/* base (an entry "VAR=" or a header "Name: ") followed by value. */
static char *
joined(const char *base, const char *value)
{
	size_t a = strlen(base), b = strlen(value);
	char *p = malloc(a + b + 1);

	if (p != NULL) {
		memcpy(p, base, a);
		memcpy(p + a, value, b + 1);
	}
	return p;
}

/* The run's copy of def->http, its headers its own. */
static int
http_copy(const struct job_def *def, struct secrets_use *u)
{
	size_t n = 0;

	while (def->http->headers[n] != NULL)
		n++;
	if ((u->http = malloc(sizeof(*u->http))) == NULL ||
	    (u->headers = calloc(n + 1, sizeof(char *))) == NULL)
		return -ENOMEM;
	*u->http = *def->http;
	memcpy(u->headers, def->http->headers, n * sizeof(char *));
	u->http->headers = u->headers;
	return 0;
}

/* The run's copy of def->amqp, its password value (owned by u->values). */
static int
amqp_put(const struct job_def *def, char *value, struct secrets_use *u)
{
	if (u->amqp == NULL &&
	    (u->amqp = malloc(sizeof(*u->amqp))) == NULL)
		return -ENOMEM;
	*u->amqp = *def->amqp;
	u->amqp->password = value;
	return 0;
}

const struct job_amqp *
secrets_amqp(const struct secrets_use *u, const struct job_def *def)
{
	return u->amqp != NULL ? u->amqp : def->amqp;
}

/* Puts value where ref says. */
static int
apply_one(const struct job_def *def, const struct job_secref *ref,
    const char *value, char **env, struct secrets_use *u)
{
	char *p;

	switch (ref->kind) {
	case JOB_SECREF_ENV:
		if ((p = joined(def->env[ref->idx], value)) == NULL ||
		    push(&u->made, &u->nmade, p) != 0)
			return -ENOMEM;
		env[ref->idx] = p;
		return 0;
	case JOB_SECREF_HEADER:
		if ((p = joined(def->http->headers[ref->idx], value)) == NULL ||
		    push(&u->made, &u->nmade, p) != 0)
			return -ENOMEM;
		u->headers[ref->idx] = p;
		return 0;
	case JOB_SECREF_BODY:
		u->http->body = u->values[u->nvalues - 1];
		return 0;
	case JOB_SECREF_AMQP_PASSWORD:
		return amqp_put(def, u->values[u->nvalues - 1], u);
	}
	return ERR_INTERNAL;
}

int
secrets_apply(struct secrets *s, const struct job_def *def, char **env,
    const struct job_http **http, struct secrets_use *u, char *err,
    size_t errlen)
{
	char *value;
	size_t i;
	int r = 0;

	memset(u, 0, sizeof(*u));
	*http = def->http;
	if (def->nsecrefs == 0)
		return 0;
	if (def->http != NULL && (r = http_copy(def, u)) != 0)
		return r;
	for (i = 0; i < def->nsecrefs && r == 0; i++) {
		if ((r = value_open(s, &def->secrefs[i], &value, err,
		    errlen)) != 0)
			break;
		if ((r = push(&u->values, &u->nvalues, value)) == 0)
			r = apply_one(def, &def->secrefs[i], value, env, u);
	}
	if (r == 0 && u->http != NULL)
		*http = u->http;
	return r;
}

void
secrets_use_free(struct secrets_use *u)
{
	size_t i;

	for (i = 0; i < u->nmade; i++) {
		explicit_bzero(u->made[i], strlen(u->made[i]));
		free(u->made[i]);
	}
	free(u->made);
	free(u->headers);
	free(u->http);
	free(u->amqp);
	u->made = u->headers = NULL;
	u->http = NULL;
	u->amqp = NULL;
	u->nmade = 0;
}

void
secrets_use_values_free(struct secrets_use *u)
{
	size_t i;

	for (i = 0; i < u->nvalues; i++)
		secbox_value_free(u->values[i]);
	free(u->values);
	u->values = NULL;
	u->nvalues = 0;
}

/* Masks every occurrence of value (vlen bytes) in text. */
static void
mask_one(const char *value, size_t vlen, char *text, size_t *len)
{
	char *p = text, *hit;
	size_t mlen = sizeof(SECRETS_MASK) - 1;

	while ((hit = memmem(p, *len - (size_t)(p - text), value, vlen)) !=
	    NULL) {
		memcpy(hit, SECRETS_MASK, mlen);
		memmove(hit + mlen, hit + vlen,
		    *len - (size_t)(hit + vlen - text) + 1);
		*len -= vlen - mlen;
		p = hit + mlen;
	}
}

void
secrets_mask(const struct secrets_use *u, char *text, size_t *len)
{
	size_t i, vlen;

	for (i = 0; text != NULL && i < u->nvalues; i++)
		if ((vlen = strlen(u->values[i])) >= SECRETS_MASK_MIN)
			mask_one(u->values[i], vlen, text, len);
}

/* s[i], or s[n - 1 - i] when rev (reading s, n bytes, backwards). */
static char
at(const char *s, size_t n, size_t i, bool rev)
{
	return rev ? s[n - 1 - i] : s[i];
}

/* The KMP failure function of value (vlen bytes; read backwards when
 * rev), or NULL without memory. */
static size_t *
fail_make(const char *value, size_t vlen, bool rev)
{
	size_t *fail = malloc(vlen * sizeof(*fail)), i, k = 0;

	if (fail == NULL)
		return NULL;
	fail[0] = 0;
	for (i = 1; i < vlen; i++) {
		while (k > 0 && at(value, vlen, i, rev) !=
		    at(value, vlen, k, rev))
			k = fail[k - 1];
		k += at(value, vlen, i, rev) == at(value, vlen, k, rev);
		fail[i] = k;
	}
	return fail;
}

/*
 * How many bytes at the end of text[0..len) are a proper start of value
 * (vlen bytes), or with rev how many at its start are a proper end of it:
 * the longest such, found with value's failure function fail (fail_make()
 * with the same rev) in O(vlen) (a quadratic search could stall the loop
 * on a long value).  Without fail (no memory): as many as could be.
 */
static size_t
partial(const char *value, size_t vlen, const size_t *fail, bool rev,
    const char *text, size_t len)
{
	size_t from = len > vlen - 1 ? len - (vlen - 1) : 0, i, k = 0;
	char c;

	if (fail == NULL)
		return len - from;
	for (i = from; i < len; i++) {
		c = at(text, len, i, rev);
		while (k > 0 && (k == vlen || c != at(value, vlen, k, rev)))
			k = fail[k - 1];
		k += c == at(value, vlen, k, rev);
	}
	return k;
}

/* partial() at the end of text, for one value. */
static size_t
partial_tail(const char *value, size_t vlen, const char *text, size_t len)
{
	size_t *fail = fail_make(value, vlen, false);
	size_t k = partial(value, vlen, fail, false, text, len);

	free(fail);
	return k;
}

void
secrets_mask_live(const struct secrets_use *u, char *text, size_t *len)
{
	size_t i, vlen, k, cut = 0;

	if (text == NULL)
		return;
	secrets_mask(u, text, len);
	for (i = 0; i < u->nvalues; i++)
		if ((vlen = strlen(u->values[i])) >= SECRETS_MASK_MIN &&
		    (k = partial_tail(u->values[i], vlen, text, *len)) > cut)
			cut = k;
	*len -= cut;
	text[*len] = '\0';
}

/* A value of a run for secrets_mask_cut(). */
struct part {
	size_t n;		/* its length; 0: too short to be masked */
	size_t *fail[2];	/* fail_make() forwards, backwards */
};

/* The parts of u's values (u->nvalues > 0), or NULL without memory. */
static struct part *
parts_make(const struct secrets_use *u)
{
	struct part *p = calloc(u->nvalues, sizeof(*p));
	size_t i, n;

	for (i = 0; p != NULL && i < u->nvalues; i++)
		if ((n = strlen(u->values[i])) >= SECRETS_MASK_MIN) {
			p[i].n = n;
			p[i].fail[0] = fail_make(u->values[i], n, false);
			p[i].fail[1] = fail_make(u->values[i], n, true);
		}
	return p;
}

static void
parts_free(struct part *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].fail[0]);
		free(p[i].fail[1]);
	}
	free(p);
}

/* The longest piece of one of u's values at an edge of a cut: a start of
 * one at the end of text[0..len), or with rev an end of one at its
 * start. */
static size_t
edge(const struct secrets_use *u, const struct part *p, bool rev,
    const char *text, size_t len)
{
	size_t i, k, most = 0;

	for (i = 0; i < u->nvalues; i++)
		if (p[i].n > 0 && (k = partial(u->values[i], p[i].n,
		    p[i].fail[rev], rev, text, len)) > most)
			most = k;
	return most;
}

/* Replaces text[at..at + k) with SECRETS_MASK, growing *text when k is
 * shorter (without memory the k bytes go, unmarked); the mask's length. */
static size_t
mask_span(char **text, size_t *len, size_t at, size_t k)
{
	size_t m = sizeof(SECRETS_MASK) - 1;
	char *t = *text;

	if (k == 0)
		return 0;
	if (k < m && (t = realloc(*text, *len + m - k + 1)) == NULL) {
		t = *text;
		m = 0;
	}
	memmove(t + at + m, t + at + k, *len - at - k + 1);
	memcpy(t + at, SECRETS_MASK, m);
	*text = t;
	*len = *len - k + m;
	return m;
}

void
secrets_mask_cut(const struct secrets_use *u, char **text, size_t *len)
{
	struct part *p;
	size_t lo = 0, s, e, ns = 0, ne = 0, k, m;
	bool more;

	if (*text == NULL || u->nvalues == 0)
		return;
	if ((p = parts_make(u)) == NULL) {
		(*text)[*len = 0] = '\0';	/* nothing shown, nothing leaked */
		return;
	}
	more = outcap_marker_find(*text, *len, 0, &s, &e);
	while (more) {
		k = edge(u, p, false, *text + lo, s - lo);
		m = mask_span(text, len, s - k, k);
		e = e + m - k;
		more = outcap_marker_find(*text, *len, e, &ns, &ne);
		k = edge(u, p, true, *text + e, (more ? ns : *len) - e);
		m = mask_span(text, len, e, k);
		lo = e + m;
		s = ns + m - k;
		e = ne + m - k;
	}
	parts_free(p, u->nvalues);
}
