/*
 * es_doc.c - what the Elasticsearch sink sends and reads (see es_int.h):
 * index names from the pattern, stable document ids, the two _bulk lines
 * of a document, the index template's body, and the reading of a _bulk
 * response item by item (es_bulk_read(), in es.h for the fuzzer).
 *
 * A document that es_json_plain() passes (valid JSON and UTF-8 already,
 * no string past the cap: what outbox_render() writes for an ordinary
 * run) is copied as it is, after an action line escaped here.  Any other
 * is parsed, each of its strings made valid UTF-8 (an invalid byte
 * becomes U+FFFD: json-c passes bytes through as they are) and cut to
 * ES_FIELD_MAX bytes (its head and tail, with a marker saying how much
 * went), then written back by json-c, which escapes control characters:
 * the line is valid JSON and valid UTF-8 whatever the job printed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distcron/err.h"
#include "distcron/es.h"
#include "distcron/utf8.h"
#include "es_int.h"

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */

int
es_index_name(const char *pattern, int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	size_t n;

	if (gmtime_r(&tt, &tm) == NULL)
		return ERR_INVALID;
	/* The pattern is the configuration's, checked when it is read. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(out, len, pattern, &tm);
#pragma GCC diagnostic pop
	return n == 0 ? ERR_INVALID : 0;
}

void
es_index_glob(const char *pattern, char *out, size_t len)
{
	size_t n = strcspn(pattern, "%");

	if (pattern[n] == '\0')
		snprintf(out, len, "%s", pattern);
	else
		snprintf(out, len, "%.*s*", (int)n, pattern);
}

/* Appends s (n bytes) to b, each invalid byte replaced by U+FFFD. */
static int
utf8_fix(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	int r;

	while (i < n) {
		k = utf8_seq(p + i, n - i);
		r = k > 0 ? buf_append(b, p + i, k) : buf_puts(b, REPLACEMENT);
		if (r != 0)
			return r;
		i += k > 0 ? k : 1;
	}
	return 0;
}

/* Keeps the head and tail of the valid UTF-8 text in b (len > max): the
 * cut never splits a character. */
static int
cap_text(struct buf *b, size_t max, struct buf *out)
{
	size_t head = max / 2, tail = b->len - max / 2;

	while (head > 0 && (b->data[head] & 0xc0) == 0x80)
		head--;
	while (tail < b->len && (b->data[tail] & 0xc0) == 0x80)
		tail++;
	if (buf_append(out, b->data, head) != 0 ||
	    buf_printf(out, "\n[... %zu bytes cut by distcron ...]\n",
	    tail - head) != 0)
		return -ENOMEM;
	return buf_append(out, b->data + tail, b->len - tail);
}

/* Makes the string v valid UTF-8 and at most ES_FIELD_MAX bytes. */
static int
clean_string(json_object *v)
{
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	struct buf fixed, capped;
	int r;

	buf_init(&fixed, n * 3 + 1);
	buf_init(&capped, ES_FIELD_MAX + 128);
	if ((r = utf8_fix(&fixed, s, n)) != 0)
		goto out;
	if (fixed.len > ES_FIELD_MAX) {
		if ((r = cap_text(&fixed, ES_FIELD_MAX, &capped)) == 0 &&
		    json_object_set_string_len(v, buf_str(&capped),
		    (int)capped.len) == 0)
			r = -ENOMEM;
	} else if (fixed.len != n || (n > 0 && memcmp(fixed.data, s, n) != 0)) {
		if (json_object_set_string_len(v, buf_str(&fixed),
		    (int)fixed.len) == 0)
			r = -ENOMEM;
	}
 out:
	buf_free(&fixed);
	buf_free(&capped);
	return r;
}

/* Cleans every string in v, depth first. */
static int
clean_value(json_object *v, int depth)
{
	struct json_object_iter it;
	size_t i, n;
	int r = 0;

	if (depth > 64)
		return ERR_PARSE;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return clean_string(v);
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n && r == 0; i++)
			r = clean_value(json_object_array_get_idx(v, i),
			    depth + 1);
		return r;
	case json_type_object:
		json_object_object_foreachC(v, it) {
			if ((r = clean_value(it.val, depth + 1)) != 0)
				return r;
		}
		return 0;
	default:
		return 0;
	}
}

void
es_doc_id(const struct outbox_entry *e, char *out, size_t len)
{
	const char *job = e->job != NULL ? e->job : "";
	size_t n = strlen(job);
	struct buf b;

	if (n > ES_ID_JOB_MAX)
		n = ES_ID_JOB_MAX;
	buf_init(&b, n * 3 + 1);
	if (utf8_fix(&b, job, n) != 0) {
		snprintf(out, len, "%" PRId64 ":%" PRId64, e->scheduled_at,
		    e->run_id);
	} else {
		snprintf(out, len, "%s:%" PRId64 ":%" PRId64, buf_str(&b),
		    e->scheduled_at, e->run_id);
	}
	buf_free(&b);
}

/* Appends s as a JSON string, escaped as json-c escapes it (with
 * JSON_C_TO_STRING_NOSLASHESCAPE): quote, backslash and control
 * characters; other bytes as they are (s is valid UTF-8). */
static int
json_str_append(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[8] = "\\u00";
	size_t k;
	int r = buf_puts(b, "\"");

	for (; r == 0 && *s != '\0'; s++) {
		k = 2;
		switch (*s) {
		case '"': case '\\': esc[1] = *s; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if ((unsigned char)*s >= ' ')
				continue;
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[(unsigned char)*s >> 4];
			esc[5] = hex[*s & 0xf];
			k = 6;
		}
		if ((r = buf_append(b, run, (size_t)(s - run))) == 0)
			r = buf_append(b, esc, k);
		run = s + 1;
	}
	if (r == 0 && (r = buf_append(b, run, (size_t)(s - run))) == 0)
		r = buf_puts(b, "\"");
	return r;
}

/* The action line: {"index":{"_index":INDEX,"_id":ID}}. */
static int
action_append(struct buf *b, const char *index, const char *id)
{
	int r;

	if ((r = buf_puts(b, "{\"index\":{\"_index\":")) == 0 &&
	    (r = json_str_append(b, index)) == 0 &&
	    (r = buf_puts(b, ",\"_id\":")) == 0 &&
	    (r = json_str_append(b, id)) == 0)
		r = buf_puts(b, "}}\n");
	return r;
}

/* Takes b back to mark after a failure: nothing half-written. */
static void
doc_undo(struct buf *b, size_t mark, const struct outbox_entry *e, int r,
    char *why, size_t whylen)
{
	b->len = mark;
	if (b->data != NULL)
		b->data[mark] = '\0';
	snprintf(why, whylen, "the report of run %" PRId64 ": %s", e->run_id,
	    err_str(r));
}

int
es_doc_append_parsed(struct buf *b, const struct outbox_entry *e,
    const char *index, const char *id, char *why, size_t whylen)
{
	size_t mark = b->len;
	json_object *doc;
	int r;

	doc = json_tokener_parse(e->doc != NULL ? e->doc : "");
	if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
		snprintf(why, whylen, "the report of run %" PRId64 " is not a "
		    "JSON object", e->run_id);
		json_object_put(doc);
		return ERR_PARSE;
	}
	if ((r = clean_value(doc, 0)) == 0 &&
	    (r = action_append(b, index, id)) == 0)
		r = buf_printf(b, "%s\n", json_object_to_json_string_ext(doc,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	if (r != 0)
		doc_undo(b, mark, e, r, why, whylen);
	return r;
}

/* A document es_json_plain() passes goes as it is (the normal case: it
 * is outbox_render()'s JSON); any other is parsed, cleaned and printed
 * again. */
int
es_doc_append(struct buf *b, const struct outbox_entry *e,
    const char *index, const char *id, char *why, size_t whylen)
{
	size_t mark = b->len, n;
	int r;

	if (e->doc == NULL || !es_json_plain(e->doc, (n = strlen(e->doc)),
	    ES_FIELD_MAX))
		return es_doc_append_parsed(b, e, index, id, why, whylen);
	if ((r = action_append(b, index, id)) == 0 &&
	    (r = buf_append(b, e->doc, n)) == 0)
		r = buf_puts(b, "\n");
	if (r != 0)
		doc_undo(b, mark, e, r, why, whylen);
	return r;
}

/* {"type": TYPE} plus extra (may be NULL), as a mapping property. */
static json_object *
prop(const char *type, json_object *extra)
{
	json_object *p = extra != NULL ? extra : json_object_new_object();

	if (p != NULL)
		json_object_object_add(p, "type", json_object_new_string(type));
	return p;
}

/* Text with a keyword subfield "keyword" capped at 1024 bytes. */
static json_object *
prop_text(void)
{
	json_object *kw = prop("keyword", NULL), *f = json_object_new_object();
	json_object *p = json_object_new_object();

	if (kw != NULL)
		json_object_object_add(kw, "ignore_above",
		    json_object_new_int(1024));
	json_object_object_add(f, "keyword", kw);
	json_object_object_add(p, "fields", f);
	return prop("text", p);
}

static json_object *
properties(bool items)
{
	static const char *const keywords[] = { "job", "node", "nodes",
	    "status", "owners", "member", "event", "trigger", NULL };
	static const char *const dates[] = { "scheduled_at", "start", "stop",
	    "started", "ended", NULL };
	static const char *const longs[] = { "duration_ms", "exit_code",
	    "lateness_ms", "attempt", "signal", "fence", NULL };
	json_object *p = json_object_new_object(), *it;
	size_t i;

	for (i = 0; keywords[i] != NULL; i++)
		json_object_object_add(p, keywords[i], prop("keyword", NULL));
	for (i = 0; dates[i] != NULL; i++)
		json_object_object_add(p, dates[i], prop("date", NULL));
	for (i = 0; longs[i] != NULL; i++)
		json_object_object_add(p, longs[i], prop("long", NULL));
	json_object_object_add(p, "output", prop_text());
	json_object_object_add(p, "stderr", prop_text());
	json_object_object_add(p, "error", prop_text());
	if (items) {
		it = json_object_new_object();
		json_object_object_add(it, "properties", properties(false));
		json_object_object_add(p, "items", it);
	}
	return p;
}

json_object *
es_template_body(const char *glob, bool legacy)
{
	json_object *t = json_object_new_object(), *m = json_object_new_object();
	json_object *pats = json_object_new_array(), *inner;

	if (t == NULL || m == NULL || pats == NULL) {
		json_object_put(t);
		json_object_put(m);
		json_object_put(pats);
		return NULL;
	}
	json_object_array_add(pats, json_object_new_string(glob));
	json_object_object_add(t, "index_patterns", pats);
	json_object_object_add(m, "properties", properties(true));
	if (legacy) {
		json_object_object_add(t, "order", json_object_new_int(0));
		json_object_object_add(t, "mappings", m);
		return t;
	}
	json_object_object_add(t, "priority", json_object_new_int(150));
	inner = json_object_new_object();
	json_object_object_add(inner, "mappings", m);
	json_object_object_add(t, "template", inner);
	inner = json_object_new_object();
	json_object_object_add(inner, "description",
	    json_object_new_string("distcron run reports"));
	json_object_object_add(t, "_meta", inner);
	return t;
}

/* ---- _bulk responses ---- */

/* Copies s into out, control characters as '?', never splitting a UTF-8
 * sequence at the end. */
static void
copy_line(char *out, size_t len, const char *s)
{
	size_t i = 0;

	for (; s != NULL && *s != '\0' && i + 1 < len; s++, i++)
		out[i] = (unsigned char)*s < ' ' ? '?' : *s;
	while (i > 0 && s != NULL && *s != '\0' &&
	    ((unsigned char)out[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && s != NULL && *s != '\0' &&
	    ((unsigned char)out[i - 1] & 0xc0) == 0xc0)
		i--;
	out[i] = '\0';
}

static const char *
member_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The outcome of one item: {"index": {"_id", "status", "error"}}. */
static void
item_read(json_object *item, const char *id, const char *peer,
    struct outbox_outcome *o, bool *reinstall)
{
	struct json_object_iter it = { 0 };
	json_object *st, *er;
	const char *type = "", *reason = "", *got;
	char msg[OUTBOX_WHY_LEN];
	int status;

	o->result = OUTBOX_RETRY;
	if (json_object_is_type(item, json_type_object))
		json_object_object_foreachC(item, it)
			break;
	if (it.val == NULL || !json_object_is_type(it.val, json_type_object) ||
	    !json_object_object_get_ex(it.val, "status", &st) ||
	    !json_object_is_type(st, json_type_int)) {
		snprintf(o->why, sizeof(o->why), "%s: a bulk item without a "
		    "status", peer);
		return;
	}
	if ((got = member_str(it.val, "_id")) != NULL && strcmp(got, id) != 0) {
		snprintf(o->why, sizeof(o->why), "%s: bulk items out of order",
		    peer);
		return;
	}
	status = json_object_get_int(st);
	if (status >= 200 && status < 300) {
		o->result = OUTBOX_DELIVERED;
		o->why[0] = '\0';
		return;
	}
	if (json_object_object_get_ex(it.val, "error", &er)) {
		if (json_object_is_type(er, json_type_object)) {
			type = member_str(er, "type") ? member_str(er, "type") : "";
			reason = member_str(er, "reason") ?
			    member_str(er, "reason") : "";
		} else if (json_object_is_type(er, json_type_string))
			reason = json_object_get_string(er);
	}
	if (strcmp(type, "index_not_found_exception") == 0)
		*reinstall = true;
	else if (status != 429 && status != 401 && status != 403 &&
	    status < 500)	/* the document itself is refused */
		o->result = OUTBOX_PARK;
	snprintf(msg, sizeof(msg), "%s: HTTP %d %s%s%s", peer, status, type,
	    type[0] != '\0' ? ": " : "", reason);
	copy_line(o->why, sizeof(o->why), msg);
}

void
es_all_retry(struct outbox_outcome *out, size_t n, const char *why)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i].result = OUTBOX_RETRY;
		out[i].not_before_ms = 0;
		copy_line(out[i].why, sizeof(out[i].why), why);
	}
}

int
es_bulk_read(const char *body, size_t len, const char *const *ids,
    size_t n, const char *peer, struct outbox_outcome *out, bool *reinstall)
{
	json_tokener *tok;
	json_object *root = NULL, *items;
	char why[OUTBOX_WHY_LEN];
	size_t i, k = 0;

	if (es_bulk_all_ok(body, len, n)) {	/* the usual answer */
		for (i = 0; i < n; i++) {
			out[i].result = OUTBOX_DELIVERED;
			out[i].not_before_ms = 0;
			out[i].why[0] = '\0';
		}
		return 0;
	}
	if ((tok = json_tokener_new()) != NULL && len <= INT32_MAX)
		root = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		snprintf(why, sizeof(why), "%s: not a bulk response", peer);
		es_all_retry(out, n, why);
		json_object_put(root);
		return ERR_PARSE;
	}
	k = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		out[i].not_before_ms = 0;
		if (i < k)
			item_read(json_object_array_get_idx(items, i), ids[i],
			    peer, &out[i], reinstall);
		else {
			out[i].result = OUTBOX_RETRY;
			snprintf(out[i].why, sizeof(out[i].why), "%s: no bulk "
			    "item for this document", peer);
		}
	}
	json_object_put(root);
	return 0;
}
