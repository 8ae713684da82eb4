/*
 * utf8.h - UTF-8 sequences checked strictly (no overlong forms, no
 * surrogates, nothing past U+10FFFF), for text that must stay valid when
 * it leaves distcron (documents, messages).  Nothing here allocates or
 * blocks.
 */
#ifndef DISTCRON_UTF8_H
#define DISTCRON_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the valid UTF-8 sequence at p, which has n > 0
 * bytes left, or 0 when p does not start one. */
size_t utf8_seq(const unsigned char *p, size_t n);

#endif
