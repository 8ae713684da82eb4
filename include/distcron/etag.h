/*
 * etag.h - entity tags of the API's answers and If-None-Match (RFC 9110).
 *
 * An answer's tag is computed from its body bytes alone, so two answers
 * with the same body have the same tag and any change of the body changes
 * it; nothing is kept between requests.  Nothing here blocks.
 */
#ifndef DISTCRON_ETAG_H
#define DISTCRON_ETAG_H

#include <stdbool.h>
#include <stddef.h>

#define ETAG_HASH_BYTES	16	/* BLAKE2b-128 */
#define ETAG_LEN	(2 * ETAG_HASH_BYTES + 3)	/* quotes and NUL */

/*
 * Writes body's strong entity tag into out: a double-quoted lower-case
 * hex BLAKE2b-128 of its len bytes ("\"3f...\"").
 */
void etag_of(const void *body, size_t len, char out[ETAG_LEN]);

/*
 * True when the If-None-Match value hdr (NULL: no header) matches tag (an
 * etag_of() result): hdr is "*", or its comma-separated list holds an
 * entity tag whose opaque part equals tag's (the weak comparison that
 * If-None-Match uses: a "W/" prefix does not matter).  The list is read
 * left to right; a malformed element ends it without a match, so a
 * malformed header gets the full answer.
 */
bool etag_match(const char *hdr, const char *tag);

#endif
