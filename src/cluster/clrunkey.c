/*
 * clrunkey.c - the pure parts of cluster mode's run summaries
 * (clruns_int.h): a summary's key, its JSON value both ways, and how
 * many of a job's oldest summaries go past the per-job cap.  Nothing
 * here talks to etcd or blocks; the unit tests call it directly.
 *
 * A summary is what another member needs to list the run: job, tick,
 * trigger, status, attempt, times, member, fence, a reason and per item
 * its node, status, exit code, signal, times and error; never output.
 * Long texts are cut (at a UTF-8 boundary) and at most CLR_ITEMS_MAX
 * items are kept, so that a summary stays small in etcd.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/config.h"
#include "distcron/defs.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/utf8.h"
#include "clruns_int.h"

#define CLR_MS_DIGITS	16
#define CLR_MEMBER_CHARS	"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"

int
clr_key(const char *prefix, const struct store_run *rec, char *out,
    size_t n)
{
	int len;

	len = snprintf(out, n, "%s%s/%0*" PRId64 "_%s_%" PRId64, prefix,
	    rec->job, CLR_MS_DIGITS, rec->created_ms > 0 ? rec->created_ms : 0,
	    rec->member != NULL ? rec->member : "", rec->id);
	return len < 0 || (size_t)len >= n ? -E2BIG : 0;
}

/* Digits only, as an int64 (at most 18 of them). */
static int
clr_digits(const char *s, size_t len, int64_t *v)
{
	size_t i;

	if (len == 0 || len > 18)
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
clr_key_parse(const char *prefix, const char *key, struct clr_key_parts *p,
    const char **errstr)
{
	size_t plen = strlen(prefix);
	const char *job, *slash, *sep1, *sep2;

	memset(p, 0, sizeof(*p));
	*errstr = "not under the runs prefix";
	if (strncmp(key, prefix, plen) != 0)
		return ERR_PARSE;
	job = key + plen;
	*errstr = "no job name";
	if ((slash = strchr(job, '/')) == NULL ||
	    (size_t)(slash - job) >= sizeof(p->job))
		return ERR_PARSE;
	memcpy(p->job, job, (size_t)(slash - job));
	*errstr = "invalid job name";
	if (!defs_name_valid(p->job))
		return ERR_PARSE;
	sep1 = strchr(slash + 1, '_');
	sep2 = strrchr(slash + 1, '_');
	*errstr = "expected TIME_MEMBER_ID after the job";
	if (sep1 == NULL || sep2 == sep1 ||
	    clr_digits(slash + 1, (size_t)(sep1 - slash - 1), &p->ms) != 0 ||
	    clr_digits(sep2 + 1, strlen(sep2 + 1), &p->id) != 0 || p->id <= 0 ||
	    (size_t)(sep2 - sep1 - 1) >= sizeof(p->member) || sep2 == sep1 + 1)
		return ERR_PARSE;
	memcpy(p->member, sep1 + 1, (size_t)(sep2 - sep1 - 1));
	*errstr = NULL;
	return 0;
}

/* s cut to CLR_TEXT_MAX bytes at a character boundary, or NULL. */
static json_object *
clr_text(const char *s)
{
	size_t n, i = 0, k;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	while (i < n && i < CLR_TEXT_MAX) {
		k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k == 0 || i + k > CLR_TEXT_MAX)
			break;
		i += k;
	}
	return json_object_new_string_len(s, (int)i);
}

static void
clr_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static json_object *
clr_item(const struct store_item *it)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "node", clr_text(it->node));
	clr_int(o, "attempt", it->attempt);
	json_object_object_add(o, "status",
	    json_object_new_string(store_status_str(it->status)));
	clr_int(o, "exit_code", it->exit_code);
	clr_int(o, "signal", it->signal);
	clr_int(o, "started_ms", it->started_ms);
	clr_int(o, "ended_ms", it->ended_ms);
	if (it->error != NULL)
		json_object_object_add(o, "error", clr_text(it->error));
	return o;
}

char *
clr_encode(const struct store_run *rec)
{
	json_object *o = json_object_new_object(), *items;
	size_t i;
	char *s;

	if (o == NULL || (items = json_object_new_array()) == NULL) {
		json_object_put(o);
		return NULL;
	}
	clr_int(o, "id", rec->id);
	json_object_object_add(o, "job", json_object_new_string(rec->job));
	clr_int(o, "scheduled_at", rec->scheduled_at);
	json_object_object_add(o, "trigger", clr_text(rec->trigger));
	json_object_object_add(o, "status",
	    json_object_new_string(store_status_str(rec->status)));
	clr_int(o, "attempt", rec->attempt);
	clr_int(o, "created_ms", rec->created_ms);
	clr_int(o, "started_ms", rec->started_ms);
	clr_int(o, "ended_ms", rec->ended_ms);
	json_object_object_add(o, "member", clr_text(rec->member));
	clr_int(o, "fence", rec->fence);
	if (rec->reason != NULL)
		json_object_object_add(o, "reason", clr_text(rec->reason));
	for (i = 0; i < rec->nitems && i < CLR_ITEMS_MAX; i++)
		json_object_array_add(items, clr_item(&rec->items[i]));
	json_object_object_add(o, "items", items);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* ---- decoding ---- */

struct clr_dec {
	char *err;
	size_t errlen;
	int rc;
};

static json_object *
clr_get(struct clr_dec *d, json_object *o, const char *key,
    enum json_type type, bool need)
{
	char q[JFIELD_QUOTE_LEN];
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
		if (need && d->rc == 0) {
			snprintf(d->err, d->errlen, "field %s: missing", key);
			d->rc = ERR_PARSE;
		}
		return NULL;
	}
	if (!json_object_is_type(v, type)) {
		if (d->rc == 0) {
			snprintf(d->err, d->errlen, "field %s: expected %s, got "
			    "%s %s", key, json_type_to_name(type),
			    jfield_type_name(v), jfield_quote(
			    json_object_get_string(v), q, sizeof(q)));
			d->rc = ERR_PARSE;
		}
		return NULL;
	}
	return v;
}

static int64_t
clr_get_int(struct clr_dec *d, json_object *o, const char *key)
{
	json_object *v = clr_get(d, o, key, json_type_int, false);

	return v != NULL ? json_object_get_int64(v) : 0;
}

/* A copy of string field key (NULL when absent and not needed). */
static char *
clr_get_str(struct clr_dec *d, json_object *o, const char *key, bool need)
{
	json_object *v = clr_get(d, o, key, json_type_string, need);
	char *s;

	if (v == NULL)
		return NULL;
	if ((s = strdup(json_object_get_string(v))) == NULL && d->rc == 0)
		d->rc = -ENOMEM;
	return s;
}

static enum run_status
clr_get_status(struct clr_dec *d, json_object *o, bool final)
{
	json_object *v = clr_get(d, o, "status", json_type_string, true);
	enum run_status st = RUN_LOST;
	char q[JFIELD_QUOTE_LEN];

	if (v == NULL)
		return st;
	if (store_status_parse(json_object_get_string(v), &st) != 0 ||
	    (final && !store_status_final(st))) {
		if (d->rc == 0) {
			snprintf(d->err, d->errlen, "field status: expected a "
			    "final status, got %s",
			    jfield_quote(json_object_get_string(v), q, sizeof(q)));
			d->rc = ERR_PARSE;
		}
	}
	return st;
}

static void
clr_dec_item(struct clr_dec *d, json_object *o, struct store_item *it)
{
	if (!json_object_is_type(o, json_type_object)) {
		if (d->rc == 0) {
			snprintf(d->err, d->errlen, "field items: expected "
			    "objects");
			d->rc = ERR_PARSE;
		}
		return;
	}
	it->node = clr_get_str(d, o, "node", true);
	it->attempt = (int)clr_get_int(d, o, "attempt");
	it->status = clr_get_status(d, o, false);
	it->exit_code = (int)clr_get_int(d, o, "exit_code");
	it->signal = (int)clr_get_int(d, o, "signal");
	it->started_ms = clr_get_int(d, o, "started_ms");
	it->ended_ms = clr_get_int(d, o, "ended_ms");
	it->error = clr_get_str(d, o, "error", false);
}

static void
clr_dec_items(struct clr_dec *d, json_object *o, struct store_run *rec)
{
	json_object *a = clr_get(d, o, "items", json_type_array, false);
	size_t i, n = a != NULL ? json_object_array_length(a) : 0;

	if (n > CLR_ITEMS_MAX)
		n = CLR_ITEMS_MAX;
	if (n == 0 || d->rc != 0)
		return;
	if ((rec->items = calloc(n, sizeof(*rec->items))) == NULL) {
		d->rc = -ENOMEM;
		return;
	}
	rec->nitems = n;
	for (i = 0; i < n; i++)
		clr_dec_item(d, json_object_array_get_idx(a, i),
		    &rec->items[i]);
}

/* The fields of a summary's object into rec. */
static void
clr_dec_run(struct clr_dec *d, json_object *o, struct store_run *rec)
{
	char q[JFIELD_QUOTE_LEN];

	rec->remote_id = clr_get_int(d, o, "id");
	rec->job = clr_get_str(d, o, "job", true);
	rec->scheduled_at = clr_get_int(d, o, "scheduled_at");
	rec->trigger = clr_get_str(d, o, "trigger", true);
	rec->status = clr_get_status(d, o, true);
	rec->attempt = (int)clr_get_int(d, o, "attempt");
	rec->created_ms = clr_get_int(d, o, "created_ms");
	rec->started_ms = clr_get_int(d, o, "started_ms");
	rec->ended_ms = clr_get_int(d, o, "ended_ms");
	rec->member = clr_get_str(d, o, "member", true);
	rec->fence = clr_get_int(d, o, "fence");
	rec->reason = clr_get_str(d, o, "reason", false);
	clr_dec_items(d, o, rec);
	if (d->rc != 0)
		return;
	if (rec->remote_id <= 0)
		snprintf(d->err, d->errlen, "field id: expected a run id > 0, "
		    "got %" PRId64, rec->remote_id);
	else if (!defs_name_valid(rec->job))
		snprintf(d->err, d->errlen, "field job: invalid job name %s",
		    jfield_quote(rec->job, q, sizeof(q)));
	else if (rec->member[0] == '\0' || strlen(rec->member) >
	    CONFIG_MEMBER_MAX || rec->member[strspn(rec->member,
	    CLR_MEMBER_CHARS)] != '\0')
		snprintf(d->err, d->errlen, "field member: expected a member id "
		    "(1-%d letters, digits, '-', '_', '.', ':'), got %s",
		    CONFIG_MEMBER_MAX, jfield_quote(rec->member, q, sizeof(q)));
	else
		return;
	d->rc = ERR_PARSE;
}

int
clr_decode(const char *text, size_t len, struct store_run **out, char *err,
    size_t errlen)
{
	struct clr_dec d = { err, errlen, 0 };
	enum json_tokener_error jerr = json_tokener_success;
	struct json_tokener *tok = json_tokener_new();
	struct store_run *rec = NULL;
	json_object *o = NULL;

	*out = NULL;
	if (tok == NULL || (rec = calloc(1, sizeof(*rec))) == NULL) {
		d.rc = -ENOMEM;
		goto out;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o == NULL || (jerr = json_tokener_get_error(tok)) !=
	    json_tokener_success || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "not a JSON object%s%s", o == NULL ?
		    ": " : "", o == NULL ? json_tokener_error_desc(jerr) : "");
		d.rc = ERR_PARSE;
		goto out;
	}
	clr_dec_run(&d, o, rec);
	if (d.rc == 0) {
		*out = rec;
		rec = NULL;
	}
 out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	store_run_free(rec);
	return d.rc;
}

size_t
clr_excess(int64_t count, int64_t cap, size_t nkeys)
{
	if (cap < 0 || count <= cap)
		return 0;
	return (uint64_t)(count - cap) < nkeys ? (size_t)(count - cap) : nkeys;
}
