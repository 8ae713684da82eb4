/*
 * jsontext.c - parsing JSON text with errors that say where and what.
 *
 * json-c does the parsing.  When it fails, it reports a byte offset and a
 * code; this module turns the offset into a line and a column, rescans the
 * text up to it with a small lexer that follows objects and arrays to name
 * the field being read ("policy.nodes[2]") and what may come next there
 * ("',' or '}'"), and words the code as a sentence.  The lexer never
 * allocates: the field names point into the text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/jsontext.h"

#define DEPTH_MAX	32	/* levels of field path kept */
#define KEY_SHOWN	64	/* bytes of one field name shown */
#define PATH_MAX_LEN	256
#define TOKEN_SHOWN	16

/* What may come next at a level. */
enum want { W_VALUE, W_KEY, W_COLON, W_SEP, W_END };

struct level {
	char kind;		/* '{', '[' or 0 (the top) */
	enum want want;
	const char *key;	/* the object's current field name */
	size_t klen;
	size_t idx;		/* the array's current element */
};

struct scan {
	const char *text;
	size_t len;
	size_t off;		/* where json-c stopped */
	struct level lv[DEPTH_MAX];
	int depth;		/* levels in use, beyond DEPTH_MAX too */
	size_t tok;		/* start of the token holding off */
};

static struct level *
top(struct scan *s)
{
	return &s->lv[s->depth < DEPTH_MAX ? s->depth - 1 : DEPTH_MAX - 1];
}

/* A value ended at the current level. */
static void
value_done(struct scan *s)
{
	struct level *l = top(s);

	l->want = l->kind == 0 ? W_END : W_SEP;
}

/* End of a string starting at i (its quote q); len + 1 if unclosed. */
static size_t
string_end(const struct scan *s, size_t i, char q)
{
	for (i++; i < s->len; i++) {
		if (s->text[i] == '\\')
			i++;
		else if (s->text[i] == q)
			return i + 1;
	}
	return s->len + 1;
}

/* End of a comment starting at i ("//" or a slash and a star). */
static size_t
comment_end(const struct scan *s, size_t i)
{
	const char *t = s->text;

	if (i + 1 < s->len && t[i + 1] == '/') {
		while (i < s->len && t[i] != '\n')
			i++;
		return i;
	}
	for (i += 2; i + 1 < s->len; i++)
		if (t[i] == '*' && t[i + 1] == '/')
			return i + 2;
	return s->len + 1;
}

static bool
literal_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

/* End of the token starting at i. */
static size_t
token_end(const struct scan *s, size_t i)
{
	const char *t = s->text;

	if (t[i] == '"' || t[i] == '\'')
		return string_end(s, i, t[i]);
	if (t[i] == '/')
		return comment_end(s, i);
	if (!literal_char(t[i]))
		return i + 1;
	while (i < s->len && literal_char(t[i]))
		i++;
	return i;
}

static void
open_level(struct scan *s, char kind)
{
	struct level *l;

	if (++s->depth > DEPTH_MAX)
		return;
	l = top(s);
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->want = kind == '{' ? W_KEY : W_VALUE;
}

static void
close_level(struct scan *s)
{
	if (s->depth > 1)
		s->depth--;
	value_done(s);
}

/* One punctuation character at i. */
static void
punct(struct scan *s, char c)
{
	struct level *l = top(s);

	if (c == '{' || c == '[')
		open_level(s, c);
	else if (c == '}' || c == ']')
		close_level(s);
	else if (c == ':')
		l->want = W_VALUE;
	else if (c == ',' && l->kind == '{')
		l->want = W_KEY;
	else if (c == ',') {
		l->idx++;
		l->want = W_VALUE;
	}
}

/* A string or a literal from i to end (before off). */
static void
token(struct scan *s, size_t i, size_t end)
{
	struct level *l = top(s);

	if (l->want == W_KEY) {
		l->key = s->text + i + 1;
		l->klen = end - i >= 2 ? end - i - 2 : 0;
		l->want = W_COLON;
	} else
		value_done(s);
}

/* Follows the text up to s->off; s->tok is the token that holds it. */
static void
scan_to(struct scan *s)
{
	const char *t = s->text;
	size_t i = 0, end;

	s->depth = 1;
	memset(&s->lv[0], 0, sizeof(s->lv[0]));
	while (i < s->off) {
		s->tok = i;
		if (isspace((unsigned char)t[i])) {
			i++;
			continue;
		}
		if ((end = token_end(s, i)) > s->off)
			return;		/* off is inside this token */
		if (t[i] == '"' || t[i] == '\'' || literal_char(t[i]))
			token(s, i, end);
		else if (t[i] != '/')
			punct(s, t[i]);
		i = end;
	}
	s->tok = s->off;
}

/* The field path ("policy.nodes[2]"), or "" at the top. */
static void
field_path(const struct scan *s, char *out, size_t outlen)
{
	int i, n = s->depth < DEPTH_MAX ? s->depth : DEPTH_MAX;
	size_t used = 0, k, klen;
	const struct level *l;

	out[0] = '\0';
	for (i = 1; i < n && used + KEY_SHOWN + 4 < outlen; i++) {
		l = &s->lv[i];
		if (l->kind == '[') {
			used += (size_t)snprintf(out + used, outlen - used,
			    "[%zu]", l->idx);
			continue;
		}
		if (l->key == NULL || l->want == W_KEY)
			break;
		if (used > 0)
			out[used++] = '.';
		klen = l->klen < KEY_SHOWN ? l->klen : KEY_SHOWN;
		for (k = 0; k < klen; k++)
			out[used++] = isprint((unsigned char)l->key[k]) ?
			    l->key[k] : '?';
		out[used] = '\0';
	}
}

static const char *
want_text(const struct level *l)
{
	switch (l->want) {
	case W_KEY:	return "a field name in double quotes";
	case W_COLON:	return "':' after the field name";
	case W_SEP:	return l->kind == '{' ? "',' or '}'" : "',' or ']'";
	case W_END:	return "nothing more";
	default:	return "a value";
	}
}

/* "'x'" for the character at off, or its byte value. */
static void
char_text(const struct scan *s, char *out, size_t outlen)
{
	unsigned char c = s->off < s->len ? (unsigned char)s->text[s->off] : 0;

	if (s->off >= s->len)
		snprintf(out, outlen, "end of input");
	else if (isprint(c))
		snprintf(out, outlen, "'%c'", c);
	else
		snprintf(out, outlen, "byte 0x%02x", c);
}

/* json-c's errors that need no context, in words. */
static const struct {
	enum json_tokener_error e;
	const char *says;
} plain[] = {
	{ json_tokener_error_parse_string,
	  "invalid string: a control character or a bad escape" },
	{ json_tokener_error_parse_utf8_string, "invalid UTF-8 in a string" },
	{ json_tokener_error_depth, "objects and arrays nested too deep" },
	{ json_tokener_error_parse_comment, "invalid comment" },
	{ json_tokener_error_size, "text too long" },
};

static bool
bad_word(enum json_tokener_error e)
{
	return e == json_tokener_error_parse_null ||
	    e == json_tokener_error_parse_boolean ||
	    e == json_tokener_error_parse_number;
}

/* The sentence for json-c's error e (or trailing text: success). */
static void
sentence(const struct scan *s, enum json_tokener_error e,
    char *out, size_t outlen)
{
	const struct level *l = &s->lv[s->depth < DEPTH_MAX ?
	    s->depth - 1 : DEPTH_MAX - 1];
	const char *t = s->text + s->off;	/* a bad word starts there */
	char what[16];
	size_t i, n;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (plain[i].e == e) {
			snprintf(out, outlen, "%s", plain[i].says);
			return;
		}
	char_text(s, what, sizeof(what));
	if (bad_word(e)) {
		for (n = 0; n < TOKEN_SHOWN && s->off + n < s->len &&
		    literal_char(t[n]); n++)
			;
		snprintf(out, outlen, "'%.*s' is not a value (expected a "
		    "string in double quotes, a number, true, false, null, an "
		    "object or an array)", (int)n, t);
	} else if (s->off >= s->len && s->tok < s->off &&
	    (s->text[s->tok] == '"' || s->text[s->tok] == '\''))
		snprintf(out, outlen, "unexpected end of input inside a string");
	else if (l->want == W_END)
		snprintf(out, outlen, "unexpected %s after the end of the JSON "
		    "value", what);
	else
		snprintf(out, outlen, "unexpected %s, expected %s", what,
		    want_text(l));
}

/* "line L, column C" of byte offset off. */
static void
position(const char *text, size_t off, char *out, size_t outlen)
{
	size_t i, bol = 0;
	int line = 1;

	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			bol = i + 1;
		}
	}
	snprintf(out, outlen, "line %d, column %zu", line, off - bol + 1);
}

/* err = "invalid JSON at line L, column C[, in FIELD]: SENTENCE". */
static void
describe(const char *text, size_t len, size_t off, enum json_tokener_error e,
    char *err, size_t errlen)
{
	struct scan s = { .text = text, .len = len, .off = off };
	char where[64], path[PATH_MAX_LEN], says[256];

	position(text, off, where, sizeof(where));
	scan_to(&s);
	field_path(&s, path, sizeof(path));
	sentence(&s, e, says, sizeof(says));
	snprintf(err, errlen, "invalid JSON at %s%s%s: %s", where,
	    path[0] ? ", in " : "", path, says);
}

/* json-c's parse of text; *off is where it stopped. */
static json_object *
tok_parse(struct json_tokener *tok, const char *text, size_t len, int flags,
    size_t *off, enum json_tokener_error *e)
{
	json_object *root;

	json_tokener_reset(tok);
	json_tokener_set_flags(tok, (flags & JSONTEXT_STRICT) ?
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 : 0);
	root = json_tokener_parse_ex(tok, text, (int)len);
	*off = json_tokener_get_parse_end(tok);
	if (root == NULL &&
	    json_tokener_get_error(tok) == json_tokener_continue) {
		root = json_tokener_parse_ex(tok, "", 1);	/* EOF */
		*off = len;
	}
	*e = json_tokener_get_error(tok);
	if (*e == json_tokener_continue)
		*e = json_tokener_error_parse_eof;
	return root;
}

int
jsontext_parse(const char *text, size_t len, int flags,
    struct json_tokener *tok, json_object **out, char *err, size_t errlen)
{
	struct json_tokener *own = NULL;
	enum json_tokener_error e;
	json_object *root;
	const char *nul;
	char where[64];
	size_t off;

	*out = NULL;
	if ((nul = memchr(text, '\0', len)) != NULL) {
		position(text, (size_t)(nul - text), where, sizeof(where));
		snprintf(err, errlen, "invalid JSON at %s: NUL byte", where);
		return ERR_PARSE;
	}
	if (tok == NULL && (tok = own = json_tokener_new()) == NULL)
		return -ENOMEM;
	root = tok_parse(tok, text, len, flags, &off, &e);
	if (own != NULL)
		json_tokener_free(own);
	if (root != NULL) {
		while (off < len && (text[off] == ' ' || text[off] == '\t' ||
		    text[off] == '\r' || text[off] == '\n'))
			off++;
		if (off == len) {
			*out = root;
			return 0;
		}
		json_object_put(root);	/* something after the value */
		e = json_tokener_success;
	}
	if (off > len)
		off = len;
	if (bad_word(e))
		while (off > 0 && literal_char(text[off - 1]))
			off--;	/* json-c stops inside the word or after it */
	describe(text, len, off, e, err, errlen);
	return ERR_PARSE;
}
