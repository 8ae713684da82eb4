/*
 * dur.c - duration, byte count and bounded integer parsing.  Numbers are
 * accumulated digit by digit with overflow checks; no strtol/atoi
 * surprises.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "distcron/dur.h"
#include "distcron/err.h"


static int
unit_ms(const char **pp, int64_t *mult)
{
	const char *p = *pp;

	if (p[0] == 'm' && p[1] == 's') {
		*mult = 1;
		*pp = p + 2;
		return 0;
	}
	switch (*p) {
	case 's': *mult = 1000; break;
	case 'm': *mult = 60 * 1000; break;
	case 'h': *mult = 3600 * 1000; break;
	case 'd': *mult = 86400 * 1000; break;
	default: return ERR_PARSE;
	}
	*pp = p + 1;
	return 0;
}

int
dur_parse(const char *s, int64_t *ms, const char **errstr)
{
	const char *p = s;
	int64_t total = 0, n, mult;
	int digits;

	if (s == NULL || *s == '\0') {
		*errstr = "empty duration";
		return ERR_PARSE;
	}
	while (*p) {
		for (n = 0, digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
			if (n > DUR_MAX_MS / 10) {
				*errstr = "duration too large";
				return ERR_RANGE;
			}
			n = n * 10 + (*p - '0');
		}
		if (digits == 0) {
			*errstr = "expected a number (durations look like 90s, 10m, 1h30m)";
			return ERR_PARSE;
		}
		if (unit_ms(&p, &mult) != 0) {
			*errstr = "missing or unknown unit (use ms, s, m, h or d)";
			return ERR_PARSE;
		}
		if (n > (DUR_MAX_MS - total) / mult) {
			*errstr = "duration too large";
			return ERR_RANGE;
		}
		total += n * mult;
	}
	*ms = total;
	return 0;
}

void
dur_format(int64_t ms, char *out, size_t outlen)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t i, off = 0;
	int n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (ms <= 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && off < outlen; i++) {
		if (ms < units[i].ms)
			continue;
		n = snprintf(out + off, outlen - off, "%lld%s",
		    (long long)(ms / units[i].ms), units[i].u);
		if (n < 0)
			break;
		off += (size_t)n;
		ms %= units[i].ms;
	}
}

int
dur_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *p = s;
	int neg = 0;
	int64_t n = 0;

	if (s == NULL || *s == '\0')
		return ERR_PARSE;
	if (*p == '-' && min < 0) {
		neg = 1;
		p++;
	}
	if (*p == '\0')
		return ERR_PARSE;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return ERR_PARSE;
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return ERR_RANGE;
		n = n * 10 + (*p - '0');
	}
	if (neg)
		n = -n;
	if (n < min || n > max)
		return ERR_RANGE;
	*out = n;
	return 0;
}

int
dur_parse_size(const char *s, int64_t *out)
{
	static const struct { const char *u; int64_t mult; } units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1 << 10 }, { "kb", 1 << 10 },
		{ "kib", 1 << 10 }, { "m", 1 << 20 }, { "mb", 1 << 20 },
		{ "mib", 1 << 20 }, { "g", 1 << 30 }, { "gb", 1 << 30 },
		{ "gib", 1 << 30 },
	};
	char num[24];
	size_t i, nd;
	int64_t n;

	for (nd = 0; isdigit((unsigned char)s[nd]); nd++)
		;
	if (nd == 0 || nd >= sizeof(num))
		return ERR_PARSE;
	memcpy(num, s, nd);
	num[nd] = '\0';
	if (dur_parse_int(num, 0, INT64_MAX >> 30, &n) != 0)
		n = INT64_MAX >> 30;	/* too large: fails the range check */
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(s + nd, units[i].u) == 0) {
			*out = n * units[i].mult;
			return 0;
		}
	}
	return ERR_PARSE;
}
