/*
 * fuzz_es_doc.c - libFuzzer target for the check that lets a rendered
 * report go into a _bulk body as it is (es_json_plain).  The input is the
 * document.  Checks: whatever passes is one line, valid UTF-8, and what
 * json-c reads as one JSON object with nothing after it; es_doc_append
 * then writes two lines, and a document that is not an object is refused
 * (ERR_PARSE), never appended.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_es_doc
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/utf8.h"
#include "report/es_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether text (len bytes) is one JSON object for json-c, all of it. */
static bool
one_object(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;
	bool ok;

	if (tok == NULL)
		abort();
	o = json_tokener_parse_ex(tok, text, (int)len);
	ok = o != NULL && json_object_is_type(o, json_type_object) &&
	    json_tokener_get_error(tok) == json_tokener_success &&
	    (size_t)json_tokener_get_parse_end(tok) == len;
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

static void
check_plain(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, k;

	if (memchr(text, '\n', len) != NULL || memchr(text, '\r', len) != NULL)
		abort();
	while (i < len) {
		if ((k = utf8_seq(p + i, len - i)) == 0)
			abort();
		i += k;
	}
	if (!one_object(text, len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbox_entry e = { .id = 1, .run_id = 2, .job = "j",
	    .scheduled_at = 3, .event = "report" };
	char *text, why[OUTBOX_WHY_LEN];
	struct buf b;
	int r;

	if (size > 65536 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strlen(text) == size && es_json_plain(text, size, ES_FIELD_MAX))
		check_plain(text, size);
	e.doc = text;
	buf_init(&b, SIZE_MAX / 2);
	r = es_doc_append(&b, &e, "i", "j:3:2", why, sizeof(why));
	if (r == 0 && (b.len == 0 || b.data[b.len - 1] != '\n'))
		abort();
	if (r != 0 && (b.len != 0 || memchr(why, '\0', sizeof(why)) == NULL))
		abort();
	buf_free(&b);
	free(text);
	return 0;
}
