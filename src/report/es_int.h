/*
 * es_int.h - what the files of the Elasticsearch sink share: index names,
 * document ids, the lines of a _bulk body and the index template
 * (es_doc.c), for the sink (es.c) and the configuration (es_config.c).
 */
#ifndef DISTCRON_ES_INT_H
#define DISTCRON_ES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/es.h"
#include "distcron/outbox.h"

#define ES_INDEX_LEN	256	/* an index name, with its NUL */
#define ES_ID_LEN	512	/* a document id, with its NUL */

/* Renders the strftime pattern for t (UTC seconds) into out.  Returns 0,
 * or ERR_INVALID when the result is empty or does not fit. */
int es_index_name(const char *pattern, int64_t t, char *out, size_t len);

/* The template's index pattern: the pattern's text before its first '%'
 * followed by "*", or the pattern itself when it has no '%'. */
void es_index_glob(const char *pattern, char *out, size_t len);

/* The stable id of e's document: "JOB:SCHEDULED_AT:RUN_ID", the job cut
 * at ES_ID_JOB_MAX bytes, invalid UTF-8 replaced. */
void es_doc_id(const struct outbox_entry *e, char *out, size_t len);

#define ES_JSON_DEPTH	16	/* nesting es_json_plain() takes */

/*
 * Whether the JSON text (len bytes) can be copied into a _bulk body as it
 * is: one object, valid syntax, no line break, valid UTF-8, no \u
 * escape of a surrogate, nesting at most ES_JSON_DEPTH, and no string
 * longer than str_max bytes as written (an escape is never shorter than
 * what it stands for).  Reads text only, never allocates; false says the
 * slow path must look at it, not that it is wrong.  In es_json.c.
 */
bool es_json_plain(const char *text, size_t len, size_t str_max);

/* Whether body (len bytes) is a _bulk answer in which all of n items went:
 * a JSON object whose "errors" is false and whose "items" is an array of
 * n items {"ACTION": {..., "status": 2xx}}.  Reads body only, never
 * allocates; false says es_bulk_read() must read it item by item.  In
 * es_json.c. */
bool es_bulk_all_ok(const char *body, size_t len, size_t n);

/*
 * Appends to b the _bulk lines for e: the index action (index, id) and
 * the document, every string of it valid UTF-8 (invalid bytes become
 * U+FFFD) and at most ES_FIELD_MAX bytes (head and tail kept, the cut
 * marked).  Returns 0, ERR_PARSE when e->doc is not a JSON object (why
 * says so), or buf_append()'s errors.
 */
int es_doc_append(struct buf *b, const struct outbox_entry *e,
    const char *index, const char *id, char *why, size_t whylen);

/* es_doc_append()'s slow path, which it takes when es_json_plain() says
 * no: parses e->doc, cleans every string and prints it again.  Same
 * returns.  Exported for the test that both paths write the same lines. */
int es_doc_append_parsed(struct buf *b, const struct outbox_entry *e,
    const char *index, const char *id, char *why, size_t whylen);

/* The body of the index template for index glob glob: composable
 * (_index_template) or legacy (_template).  NULL when out of memory. */
json_object *es_template_body(const char *glob, bool legacy);

/* Sets out[0..n-1] to OUTBOX_RETRY with why (kept on one line). */
void es_all_retry(struct outbox_outcome *out, size_t n, const char *why);

/* Makes dst a deep copy of src.  Returns 0 or -ENOMEM (dst then holds
 * nothing to free). */
int es_config_copy(const struct es_config *src, struct es_config *dst);

#endif
