/*
 * es_json.c - the check that lets the Elasticsearch sink copy a rendered
 * report into a _bulk body as it is (see es_int.h, es_json_plain()).
 *
 * outbox_render() already writes JSON, so parsing it again and printing
 * it back is only needed when the text could break the body or be refused
 * by Elasticsearch: a syntax error, a line break between tokens, bytes
 * that are not UTF-8, a string past the cap es_doc.c cuts to, or nesting
 * deeper than json-c's parser takes.  The check reads the bytes once, by
 * recursive descent bounded by ES_JSON_DEPTH, and never allocates; when
 * it says no, the sink takes the slow path (parse, clean, serialise),
 * which also parks what is not a JSON object.  The same reader tells a
 * _bulk answer in which every item went (es_bulk_all_ok()) without
 * building its tree: "errors" false, and each item's status a 2xx.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "distcron/utf8.h"
#include "es_int.h"

struct jc {
	const unsigned char *p, *end;
	size_t str_max;
};

static bool jc_value(struct jc *c, int depth);

/* Skips spaces and tabs: a line break would end the _bulk line. */
static void
jc_ws(struct jc *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* Takes ch (after blanks) if it comes next. */
static bool
jc_eat(struct jc *c, unsigned char ch)
{
	jc_ws(c);
	if (c->p == c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static bool
jc_hex4(struct jc *c, unsigned *v)
{
	int i, d;

	*v = 0;
	for (i = 0; i < 4; i++, c->p++) {
		if (c->p == c->end)
			return false;
		if (*c->p >= '0' && *c->p <= '9')
			d = *c->p - '0';
		else if ((*c->p | 0x20) >= 'a' && (*c->p | 0x20) <= 'f')
			d = (*c->p | 0x20) - 'a' + 10;
		else
			return false;
		*v = *v * 16 + (unsigned)d;
	}
	return true;
}

/* One escape, after its backslash.  A \u of a surrogate is refused: the
 * slow path decides what a pair or a lone half becomes. */
static bool
jc_escape(struct jc *c)
{
	unsigned v;

	if (c->p == c->end)
		return false;
	if (*c->p != '\0' && strchr("\"\\/bfnrt", *c->p) != NULL) {
		c->p++;
		return true;
	}
	if (*c->p != 'u')
		return false;
	c->p++;
	return jc_hex4(c, &v) && (v < 0xd800 || v > 0xdfff);
}

/* A string, at its opening quote: no control character, valid UTF-8, at
 * most str_max bytes as written between the quotes. */
static bool
jc_string(struct jc *c)
{
	const unsigned char *start;
	size_t k;

	if (c->p == c->end || *c->p != '"')
		return false;
	start = ++c->p;
	while (c->p < c->end && *c->p != '"') {
		if (*c->p < 0x20)
			return false;
		if (*c->p == '\\') {
			c->p++;
			if (!jc_escape(c))
				return false;
		} else if (*c->p < 0x80)
			c->p++;
		else if ((k = utf8_seq(c->p, (size_t)(c->end - c->p))) > 0)
			c->p += k;
		else
			return false;
	}
	if (c->p == c->end || (size_t)(c->p - start) > c->str_max)
		return false;
	c->p++;
	return true;
}

/* Digits: at least one when need. */
static bool
jc_digits(struct jc *c, bool need)
{
	const unsigned char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return !need || c->p > s;
}

static bool
jc_number(struct jc *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (c->p == c->end || *c->p < '1' || *c->p > '9' ||
	    !jc_digits(c, true))
		return false;
	if (c->p < c->end && *c->p == '.' && (c->p++, !jc_digits(c, true)))
		return false;
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		return jc_digits(c, true);
	}
	return true;
}

static bool
jc_word(struct jc *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* An object, at its '{': "key": value pairs. */
static bool
jc_object(struct jc *c, int depth)
{
	c->p++;
	if (jc_eat(c, '}'))
		return true;
	do {
		jc_ws(c);
		if (!jc_string(c) || !jc_eat(c, ':') ||
		    !jc_value(c, depth + 1))
			return false;
	} while (jc_eat(c, ','));
	return jc_eat(c, '}');
}

/* An array, at its '['. */
static bool
jc_array(struct jc *c, int depth)
{
	c->p++;
	if (jc_eat(c, ']'))
		return true;
	do {
		if (!jc_value(c, depth + 1))
			return false;
	} while (jc_eat(c, ','));
	return jc_eat(c, ']');
}

static bool
jc_value(struct jc *c, int depth)
{
	if (depth > ES_JSON_DEPTH)
		return false;
	jc_ws(c);
	if (c->p == c->end)
		return false;
	switch (*c->p) {
	case '{':
		return jc_object(c, depth);
	case '[':
		return jc_array(c, depth);
	case '"':
		return jc_string(c);
	case 't':
		return jc_word(c, "true");
	case 'f':
		return jc_word(c, "false");
	case 'n':
		return jc_word(c, "null");
	default:
		return jc_number(c);
	}
}

bool
es_json_plain(const char *text, size_t len, size_t str_max)
{
	struct jc c = { (const unsigned char *)text,
	    (const unsigned char *)text + len, str_max };

	jc_ws(&c);
	if (c.p == c.end || *c.p != '{' || !jc_value(&c, 1))
		return false;
	jc_ws(&c);
	return c.p == c.end;
}

/* Whether the member name k (klen bytes, quotes included) is name. */
static bool
jc_key_is(const unsigned char *k, size_t klen, const char *name)
{
	size_t n = strlen(name);

	return klen == n + 2 && memcmp(k + 1, name, n) == 0;
}

/* A status of 2xx, at its first digit. */
static bool
jc_status_2xx(struct jc *c)
{
	const unsigned char *d = c->p;

	return jc_number(c) && c->p - d == 3 && d[0] == '2';
}

/* One _bulk item, {"ACTION": {..., "status": 2xx, ...}}: true when it
 * went. */
static bool
jc_item_ok(struct jc *c)
{
	const unsigned char *k;
	size_t klen;
	bool ok = false;

	jc_ws(c);
	if (!jc_eat(c, '{') || (jc_ws(c), !jc_string(c)) ||
	    !jc_eat(c, ':') || !jc_eat(c, '{'))
		return false;
	do {
		jc_ws(c);
		k = c->p;
		if (!jc_string(c))
			return false;
		klen = (size_t)(c->p - k);
		if (!jc_eat(c, ':'))
			return false;
		jc_ws(c);
		if (jc_key_is(k, klen, "status")) {
			if (!(ok = jc_status_2xx(c)))
				return false;
		} else if (!jc_value(c, 3))
			return false;
	} while (jc_eat(c, ','));
	return jc_eat(c, '}') && jc_eat(c, '}') && ok;
}

/* The items array, at its '[': *n receives their count; false as soon
 * as one did not go. */
static bool
jc_items_ok(struct jc *c, size_t *n)
{
	*n = 0;
	if (!jc_eat(c, '['))
		return false;
	if (jc_eat(c, ']'))
		return true;
	do {
		if (!jc_item_ok(c))
			return false;
		(*n)++;
	} while (jc_eat(c, ','));
	return jc_eat(c, ']');
}

bool
es_bulk_all_ok(const char *body, size_t len, size_t n)
{
	struct jc c = { (const unsigned char *)body,
	    (const unsigned char *)body + len, SIZE_MAX };
	const unsigned char *k;
	size_t klen, items = SIZE_MAX;
	bool ok = false;

	if (!jc_eat(&c, '{') || jc_eat(&c, '}'))
		return false;
	do {
		jc_ws(&c);
		k = c.p;
		if (!jc_string(&c))
			return false;
		klen = (size_t)(c.p - k);
		if (!jc_eat(&c, ':'))
			return false;
		jc_ws(&c);
		if (jc_key_is(k, klen, "errors") && jc_word(&c, "false"))
			ok = true;
		else if (jc_key_is(k, klen, "items")) {
			if (!jc_items_ok(&c, &items))
				return false;
		} else if (!jc_value(&c, 1))
			return false;
	} while (jc_eat(&c, ','));
	if (!jc_eat(&c, '}'))
		return false;
	jc_ws(&c);
	return c.p == c.end && ok && items == n;
}
