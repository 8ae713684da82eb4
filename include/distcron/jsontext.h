/*
 * jsontext.h - JSON text to a json-c value, with errors a person can act
 * on: where (line, column, the field being read) and what was expected,
 * instead of json-c's terse descriptions ("continue", "null expected").
 */
#ifndef DISTCRON_JSONTEXT_H
#define DISTCRON_JSONTEXT_H

#include <stddef.h>

#include <json-c/json.h>

#define JSONTEXT_STRICT	0x1	/* RFC 8259 only: no comments, no 'quotes' */

/*
 * Parses text (len bytes, a NUL inside is an error) as one JSON value
 * followed by nothing but white space.  flags: JSONTEXT_STRICT or 0 (json-c's
 * relaxed syntax: comments, single quotes).  tok is a tokener to reuse, or
 * NULL for one of its own.  Returns 0 with the value in *out (the caller
 * owns it), ERR_PARSE with a sentence in err such as "invalid JSON at
 * line 3, column 7, in schedule.cron: unexpected end of input, expected a
 * value", or -ENOMEM.  Does not block.
 */
int jsontext_parse(const char *text, size_t len, int flags,
    struct json_tokener *tok, json_object **out, char *err, size_t errlen);

#endif
