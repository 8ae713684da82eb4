/*
 * sched.c - cron expressions, macros, "@every" and aligned intervals, and
 * the search for the next fire time in a time zone.
 *
 * A cron expression is parsed into one bitmask per field (seconds, minutes,
 * hours, days of the month, months, days of the week) plus the "L", "#" and
 * "nL" extras.  The next matching wall clock time is found field by field:
 * jump to the next month whose bit is set, then to the next matching day
 * (a 31-bit mask per month), hour, minute and second, so a call costs a few
 * bit scans, never a second-by-second walk.
 *
 * Wall clock times are handled as "civil" second counts (the local date and
 * time read as if it were UTC) and mapped to instants through the zone's
 * spans of constant offset; sched_next() explains how gaps and folds are
 * treated.  Interval schedules compute their ticks arithmetically.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/sched.h"

#define SCHED_EXPR_MAX	1024
#define SCHED_TMIN	INT64_C(-62135596800)	/* 0001-01-01T00:00:00Z */
#define SCHED_TMAX	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define SCHED_HORIZON	(INT64_C(50) * 366 * 86400)	/* sched_next's bound */
#define SCHED_NONE	INT64_MAX
#define SCHED_SPANS_MAX	4096

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };
enum { SCHED_CRON, SCHED_INTERVAL };

struct sched {
	int kind;
	const struct tz *zone;
	char *text;
	/* cron */
	uint64_t bits[F_COUNT];		/* bit v set: value v matches */
	uint32_t dom_last;		/* bit n: "L-n" ("L" is n = 0) */
	uint8_t dow_nth[7];		/* bit k-1 of [d]: "d#k" */
	uint8_t dow_last;		/* bit d: "dL", the month's last weekday d */
	int dom_star, dow_star;		/* the field starts with "*" */
	/* interval */
	int64_t interval;
	int32_t ref;
	int shares;			/* owners beyond the first (sched_ref) */
};

struct field {
	const char *name;
	int min, max;		/* values accepted */
	int all_max;		/* the top of "*" and "N/step" */
	int hmin, hmax;		/* what a bare "H" covers */
	const char *const *names;
};

static const char *const month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
	"NOV", "DEC", NULL
};
static const char *const day_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL
};

/* Day-of-month "H" stays within 1-28 so that it fires every month. */
static const struct field fields[F_COUNT] = {
	{ "second", 0, 59, 59, 0, 59, NULL },
	{ "minute", 0, 59, 59, 0, 59, NULL },
	{ "hour", 0, 23, 23, 0, 23, NULL },
	{ "day-of-month", 1, 31, 31, 1, 28, NULL },
	{ "month", 1, 12, 12, 1, 12, month_names },
	{ "day-of-week", 0, 7, 6, 0, 6, day_names },
};

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static __thread char sched_errbuf[256];

/* Formats an error message into the thread's buffer and returns r. */
static int __attribute__((format(printf, 3, 4)))
fail(const char **errstr, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sched_errbuf, sizeof(sched_errbuf), fmt, ap);
	va_end(ap);
	*errstr = sched_errbuf;
	return r;
}

/* ---- civil calendar helpers ---- */

static int
days_in_month(int y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

/* 0 = Sunday (Sakamoto's method; y >= 1). */
static int
weekday(int y, int m, int d)
{
	static const int t[12] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };

	y -= m < 3;
	return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

static int64_t
civil_make(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- matching ---- */

/* Bits 1..31: the days of month m of year y that match. */
static uint32_t
day_mask(const struct sched *s, int y, int m)
{
	int md = days_in_month(y, m), wd1 = weekday(y, m, 1), w, n, d, first;
	uint32_t valid = (uint32_t)((UINT64_C(1) << (md + 1)) - 2);
	uint32_t dom = (uint32_t)s->bits[F_DOM], dow = 0;

	for (n = 0; n < md; n++)
		if (s->dom_last >> n & 1)
			dom |= UINT32_C(1) << (md - n);
	for (w = 0; w < 7; w++) {
		first = 1 + (w - wd1 + 7) % 7;
		if (s->bits[F_DOW] >> w & 1)
			for (d = first; d <= md; d += 7)
				dow |= UINT32_C(1) << d;
		for (n = 0; n < 5; n++)
			if ((s->dow_nth[w] >> n & 1) && first + 7 * n <= md)
				dow |= UINT32_C(1) << (first + 7 * n);
		if (s->dow_last >> w & 1)
			dow |= UINT32_C(1) << (first + 7 * ((md - first) / 7));
	}
	/* Vixie cron: either day field matches when both are restricted. */
	if (s->dom_star || s->dow_star)
		return dom & dow & valid;
	return (dom | dow) & valid;
}

/* The lowest bit >= from in mask, or -1. */
static int
next_bit(uint64_t mask, int from)
{
	if (from > 63)
		return -1;
	mask &= ~UINT64_C(0) << from;
	return mask ? __builtin_ctzll(mask) : -1;
}

/*
 * Moves (h, mi, sec) to the first matching time of day at or after it,
 * resetting the smaller fields whenever a larger one moves.  Returns -1 when
 * nothing is left that day.
 */
static int
next_time_of_day(const struct sched *s, int *h, int *mi, int *sec)
{
	int v;

	for (;;) {
		if ((v = next_bit(s->bits[F_HOUR], *h)) < 0)
			return -1;
		if (v != *h) {
			*h = v;
			*mi = *sec = 0;
		}
		if ((v = next_bit(s->bits[F_MIN], *mi)) < 0) {
			++*h;
			*mi = *sec = 0;
			continue;
		}
		if (v != *mi) {
			*mi = v;
			*sec = 0;
		}
		if ((v = next_bit(s->bits[F_SEC], *sec)) < 0) {
			++*mi;
			*sec = 0;
			continue;
		}
		*sec = v;
		return 0;
	}
}

/*
 * The first civil time >= c and < limit whose fields all match, or
 * SCHED_NONE: jump to the next matching month, then day (from the month's
 * day mask), then time of day, carrying into the next day or month when a
 * field has nothing left.
 */
static int64_t
civil_next(const struct sched *s, int64_t c, int64_t limit)
{
	struct tm tm;
	time_t tt = (time_t)c;
	int y, mo, d, h, mi, sec, v, days_of = -1;
	uint32_t days = 0;
	int64_t r;

	if (c >= limit || gmtime_r(&tt, &tm) == NULL)
		return SCHED_NONE;
	y = tm.tm_year + 1900;
	mo = tm.tm_mon + 1;
	d = tm.tm_mday;
	h = tm.tm_hour;
	mi = tm.tm_min;
	sec = tm.tm_sec;
	for (;;) {
		if ((v = next_bit(s->bits[F_MON], mo)) != mo) {
			if (v < 0) {		/* none left this year */
				y++;
				v = next_bit(s->bits[F_MON], 1);
			}
			mo = v;
			d = 1;
			h = mi = sec = 0;
			if (civil_make(y, mo, 1, 0, 0, 0) >= limit)
				return SCHED_NONE;
		}
		if (y * 16 + mo != days_of) {
			days = day_mask(s, y, mo);
			days_of = y * 16 + mo;
		}
		if ((v = next_bit(days, d)) < 0) {
			if (++mo > 12) {	/* none left this month */
				mo = 1;
				y++;
			}
			d = 1;
			h = mi = sec = 0;
			if (civil_make(y, mo, 1, 0, 0, 0) >= limit)
				return SCHED_NONE;
			continue;
		}
		if (v != d) {
			d = v;
			h = mi = sec = 0;
		}
		if (next_time_of_day(s, &h, &mi, &sec) == 0) {
			r = civil_make(y, mo, d, h, mi, sec);
			return r < limit ? r : SCHED_NONE;
		}
		d++;				/* none left this day */
		h = mi = sec = 0;
		if (civil_make(y, mo, d, 0, 0, 0) >= limit)
			return SCHED_NONE;
	}
}

/* ---- parsing ---- */

static uint64_t
hash_value(const char *key, int fi)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);	/* FNV-1a */
	const char *p;

	for (p = key != NULL ? key : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= UINT64_C(0x100000001b3);
	}
	/* Mix in the field, then finish with splitmix64: FNV-1a's low bits
	 * alone cluster for keys that differ only in their last character. */
	h ^= (uint64_t)(fi + 1) * UINT64_C(0x9e3779b97f4a7c15);
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return h;
}

/* A number or a name in field f. */
static int
parse_value(const struct field *f, const char *s, int *out, const char **errstr)
{
	long v = 0;
	int i;

	if (f->names != NULL && strlen(s) == 3 && isalpha((unsigned char)*s)) {
		for (i = 0; f->names[i] != NULL; i++) {
			if (strcasecmp(s, f->names[i]) == 0) {
				*out = f == &fields[F_DOW] ? i : i + 1;
				return 0;
			}
		}
	}
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return fail(errstr, ERR_PARSE, "%s: bad value \"%s\"", f->name, s);
	for (i = 0; s[i] && v <= 1000000; i++)
		v = v * 10 + (s[i] - '0');
	if (v < f->min || v > f->max)
		return fail(errstr, ERR_RANGE, "%s: %s out of range %d-%d",
		    f->name, s, f->min, f->max);
	*out = (int)v;
	return 0;
}

static int
parse_step(const struct field *f, const char *s, int *step, const char **errstr)
{
	int range = f->max - f->min + 1, v = 0, i;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return fail(errstr, ERR_PARSE, "%s: bad step \"%s\"", f->name, s);
	for (i = 0; s[i] && v <= range; i++)
		v = v * 10 + (s[i] - '0');
	if (v < 1)
		return fail(errstr, ERR_RANGE, "%s: step must be at least 1", f->name);
	if (v > range)
		return fail(errstr, ERR_RANGE, "%s: step %s out of range 1-%d",
		    f->name, s, range);
	*step = v;
	return 0;
}

/* "a-b" or "a" into [lo, hi]; with a step, "a" alone means a to the top. */
static int
parse_range(const struct field *f, char *s, int has_step, int *lo, int *hi,
    const char **errstr)
{
	char *dash = strchr(s, '-');
	int r;

	if (dash == s || (dash != NULL && dash[1] == '\0'))
		return fail(errstr, ERR_PARSE, "%s: bad value \"%s\"", f->name, s);
	if (dash != NULL)
		*dash = '\0';
	if ((r = parse_value(f, s, lo, errstr)) != 0)
		return r;
	if (dash == NULL) {
		*hi = has_step ? f->all_max : *lo;
		return 0;
	}
	if ((r = parse_value(f, dash + 1, hi, errstr)) != 0)
		return r;
	if (f == &fields[F_DOW] && *hi == 0 && *lo > 0)
		*hi = 7;	/* "MON-SUN" */
	if (*lo > *hi)
		return fail(errstr, ERR_RANGE, "%s: range %s-%s runs backwards",
		    f->name, s, dash + 1);
	return 0;
}

/* "H" or "H(a-b)", then a step or not: a stable value from the job's key. */
static int
parse_hash(int fi, char *s, int step, uint64_t h, int *lo, int *hi,
    const char **errstr)
{
	const struct field *f = &fields[fi];
	char *close;
	int r, n;

	*lo = f->hmin;
	*hi = f->hmax;
	if (s[1] == '(') {
		close = strchr(s, ')');
		if (close == NULL || close[1] != '\0')
			return fail(errstr, ERR_PARSE, "%s: bad value \"%s\"",
			    f->name, s);
		*close = '\0';
		if ((r = parse_range(f, s + 2, 0, lo, hi, errstr)) != 0)
			return r;
	} else if (s[1] != '\0') {
		return fail(errstr, ERR_PARSE, "%s: bad value \"%s\"", f->name, s);
	}
	n = *hi - *lo + 1;
	if (step == 0) {
		*lo += (int)(h % (uint64_t)n);
		*hi = *lo;
	} else {
		*lo += (int)(h % (uint64_t)(step < n ? step : n));
	}
	return 0;
}

/* Day-of-month "L" or "L-n" (n days before the last). */
static int
parse_last_dom(struct sched *s, const char *item, const char **errstr)
{
	int n = 0, i;

	if (item[1] == '-') {
		for (i = 2; item[i] >= '0' && item[i] <= '9' && n < 100; i++)
			n = n * 10 + (item[i] - '0');
		if (i == 2 || item[i] != '\0' || n > 30)
			return fail(errstr, ERR_PARSE, "day-of-month: bad value \"%s\"",
			    item);
	} else if (item[1] != '\0') {
		return fail(errstr, ERR_PARSE, "day-of-month: bad value \"%s\"", item);
	}
	s->dom_last |= UINT32_C(1) << n;
	return 0;
}

/* Day-of-week "d#k" (the k-th weekday d of the month) and "dL" (the last). */
static int
parse_nth_dow(struct sched *s, char *item, const char **errstr)
{
	const struct field *f = &fields[F_DOW];
	char *hash = strchr(item, '#');
	size_t len = strlen(item);
	int d, k, r;

	if (hash == item || len < 2)
		return fail(errstr, ERR_PARSE, "day-of-week: bad value \"%s\"", item);
	if (hash == NULL) {
		item[len - 1] = '\0';
		if ((r = parse_value(f, item, &d, errstr)) != 0)
			return r;
		s->dow_last |= (uint8_t)(1u << (d % 7));
		return 0;
	}
	*hash = '\0';
	if ((r = parse_value(f, item, &d, errstr)) != 0)
		return r;
	if (hash[1] < '1' || hash[1] > '5' || hash[2] != '\0')
		return fail(errstr, ERR_RANGE,
		    "day-of-week: bad occurrence \"#%s\" (use #1 to #5)", hash + 1);
	k = hash[1] - '0';
	s->dow_nth[d % 7] |= (uint8_t)(1u << (k - 1));
	return 0;
}

static int
is_nth_dow(const char *item)
{
	size_t len = strlen(item);

	return strchr(item, '#') != NULL ||
	    (len > 1 && (item[len - 1] == 'L' || item[len - 1] == 'l'));
}

/* One comma-separated item of field fi. */
static int
parse_item(struct sched *s, int fi, char *item, uint64_t h, const char **errstr)
{
	const struct field *f = &fields[fi];
	char *slash = strchr(item, '/');
	int lo, hi, step = 0, v, r;

	if (*item == '\0')
		return fail(errstr, ERR_PARSE, "%s: empty list item", f->name);
	if (slash != NULL) {
		*slash = '\0';
		if ((r = parse_step(f, slash + 1, &step, errstr)) != 0)
			return r;
	}
	if (step == 0 && fi == F_DOM && (item[0] == 'L' || item[0] == 'l'))
		return parse_last_dom(s, item, errstr);
	if (step == 0 && fi == F_DOW && is_nth_dow(item))
		return parse_nth_dow(s, item, errstr);
	if (item[0] == 'H' || item[0] == 'h') {
		r = parse_hash(fi, item, step, h, &lo, &hi, errstr);
	} else if (strcmp(item, "*") == 0 ||
	    (strcmp(item, "?") == 0 && (fi == F_DOM || fi == F_DOW))) {
		lo = f->min;
		hi = f->all_max;
		r = 0;
	} else {
		r = parse_range(f, item, step != 0, &lo, &hi, errstr);
	}
	if (r != 0)
		return r;
	for (v = lo; v <= hi; v += step ? step : 1)
		s->bits[fi] |= UINT64_C(1) << (fi == F_DOW ? v % 7 : v);
	return 0;
}

static int
parse_field(struct sched *s, int fi, char *text, const char *key,
    const char **errstr)
{
	uint64_t h = hash_value(key, fi);
	char *item = text, *comma;
	int r;

	if (fi == F_DOM)
		s->dom_star = text[0] == '*' || text[0] == '?';
	if (fi == F_DOW)
		s->dow_star = text[0] == '*' || text[0] == '?';
	for (;;) {
		if ((comma = strchr(item, ',')) != NULL)
			*comma = '\0';
		if ((r = parse_item(s, fi, item, h, errstr)) != 0)
			return r;
		if (comma == NULL)
			return 0;
		item = comma + 1;
	}
}

/*
 * Explains an expression that never matches: the usual cause is a day of
 * the month that none of the chosen months has ("0 0 31 2 *").
 */
static int
fail_never(const struct sched *s, const char **errstr)
{
	char months[64];
	size_t off = 0;
	int day, m, longest = 0, n = 0;

	day = next_bit(s->bits[F_DOM], 1);
	if (s->dom_last != 0 || day < 0 || !s->dow_star)
		return fail(errstr, ERR_NEVER, "never fires");
	for (m = 1; m <= 12; m++) {
		if (!(s->bits[F_MON] >> m & 1))
			continue;
		if (days_in_month(2000, m) > longest)
			longest = days_in_month(2000, m);
		off += (size_t)snprintf(months + off, sizeof(months) - off,
		    "%s%d", n++ ? "," : "", m);
	}
	if (day <= longest)
		return fail(errstr, ERR_NEVER, "never fires");
	return fail(errstr, ERR_NEVER, "never fires (day %d never occurs in month%s %s)",
	    day, n > 1 ? "s" : "", months);
}

/* Splits text at blanks into at most max words; returns the word count. */
static int
split_words(char *text, char **words, int max)
{
	int n = 0;
	char *p = text;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			*p++ = '\0';
		if (*p == '\0')
			return n;
		if (n < max)
			words[n] = p;
		n++;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
	}
}

static int
parse_fields(struct sched *s, char *buf, const char *key, const char **errstr)
{
	char *words[F_COUNT + 1], text[SCHED_EXPR_MAX];
	int n, i, r, first;
	size_t off = 0;

	n = split_words(buf, words, F_COUNT + 1);
	if (n != 5 && n != 6)
		return fail(errstr, ERR_PARSE, "expected 5 or 6 fields, got %d", n);
	for (i = 0; i < n; i++) {
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%s",
		    i ? " " : "", words[i]);
	}
	first = n == 6 ? F_SEC : F_MIN;
	if (n == 5)
		s->bits[F_SEC] = 1;
	for (i = 0; i < n; i++)
		if ((r = parse_field(s, first + i, words[i], key, errstr)) != 0)
			return r;
	if ((s->text = strdup(text)) == NULL)
		return fail(errstr, -ENOMEM, "out of memory");
	/* Every Gregorian date pattern repeats within 400 years. */
	if (civil_next(s, civil_make(2001, 1, 1, 0, 0, 0),
	    civil_make(2402, 1, 1, 0, 0, 0)) == SCHED_NONE)
		return fail_never(s, errstr);
	return 0;
}

/* Replaces the text of a new schedule; frees it on failure. */
static int
set_text(struct sched **out, const char *text, const char **errstr)
{
	char *copy;

	if ((copy = strdup(text)) == NULL) {
		sched_free(*out);
		*out = NULL;
		return fail(errstr, -ENOMEM, "out of memory");
	}
	free((*out)->text);
	(*out)->text = copy;
	return 0;
}

static int
parse_every(const char *arg, const struct tz *zone, struct sched **out,
    const char **errstr)
{
	const char *derr = NULL;
	char text[64];
	int64_t ms;
	int r;

	while (*arg == ' ' || *arg == '\t')
		arg++;
	if ((r = dur_parse(arg, &ms, &derr)) != 0)
		return fail(errstr, r, "@every: %s", derr);
	if (ms < 1000)
		return fail(errstr, ERR_RANGE, "@every: interval must be at least 1s");
	if (ms % 1000 != 0)
		return fail(errstr, ERR_RANGE,
		    "@every: interval must be a whole number of seconds");
	if ((r = sched_new_interval(ms / 1000, 0, zone, out, errstr)) != 0)
		return fail(errstr, r, "@every: %s", *errstr);
	memcpy(text, "@every ", 7);
	dur_format(ms, text + 7, sizeof(text) - 7);
	return set_text(out, text, errstr);
}

static int
parse_macro(char *buf, const char *key, const struct tz *zone,
    struct sched **out, const char **errstr)
{
	char *end = buf + strcspn(buf, " \t\r\n"), *rest;
	size_t i;

	rest = end + strspn(end, " \t\r\n");
	*end = '\0';
	if (strcasecmp(buf, "@every") == 0)
		return parse_every(rest, zone, out, errstr);
	for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		if (strcasecmp(buf, macros[i].name) != 0)
			continue;
		if (*rest != '\0')
			return fail(errstr, ERR_PARSE, "%s takes no argument",
			    macros[i].name);
		if (sched_parse_cron(macros[i].expr, key, zone, out, errstr) != 0)
			return ERR_INTERNAL;
		return set_text(out, macros[i].name, errstr);
	}
	return fail(errstr, ERR_PARSE, "unknown macro \"%.64s\"", buf);
}

/* A NULL zone means the daemon's local zone. */
static const struct tz *
zone_or_local(const struct tz *zone)
{
	const char *errstr;

	if (zone == NULL && tz_get(NULL, &zone, &errstr) != 0)
		zone = NULL;
	return zone;
}

int
sched_parse_cron(const char *expr, const char *hash_key,
    const struct tz *zone, struct sched **out, const char **errstr)
{
	char buf[SCHED_EXPR_MAX];
	struct sched *s = NULL;
	const char *p;
	size_t len;
	int r;

	*out = NULL;
	if (expr == NULL)
		expr = "";
	if (strlen(expr) >= sizeof(buf))
		return fail(errstr, ERR_PARSE, "schedule too long (over %d characters)",
		    SCHED_EXPR_MAX - 1);
	for (p = expr; *p == ' ' || *p == '\t'; p++)
		;
	len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (buf[0] == '@')
		return parse_macro(buf, hash_key, zone, out, errstr);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return fail(errstr, -ENOMEM, "out of memory");
	s->kind = SCHED_CRON;
	if ((s->zone = zone_or_local(zone)) == NULL) {
		r = fail(errstr, ERR_INTERNAL, "no time zone");
		goto out;
	}
	if ((r = parse_fields(s, buf, hash_key, errstr)) != 0)
		goto out;
	*out = s;
	s = NULL;
 out:
	sched_free(s);
	return r;
}

int
sched_new_interval(int64_t interval_s, int32_t ref_s, const struct tz *zone,
    struct sched **out, const char **errstr)
{
	struct sched *s;
	char text[64];
	int n;

	*out = NULL;
	if (interval_s < 1 || interval_s > 50 * 365 * INT64_C(86400)) {
		*errstr = "interval must be between 1s and 50 years";
		return ERR_RANGE;
	}
	if (ref_s < 0 || ref_s >= 86400) {
		*errstr = "reference must be a time of day, 00:00:00 to 23:59:59";
		return ERR_RANGE;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		*errstr = "out of memory";
		return -ENOMEM;
	}
	s->kind = SCHED_INTERVAL;
	s->interval = interval_s;
	s->ref = ref_s;
	s->zone = zone_or_local(zone);
	memcpy(text, "every ", 6);
	dur_format(interval_s * 1000, text + 6, sizeof(text) - 6);
	n = (int)strlen(text);
	snprintf(text + n, sizeof(text) - (size_t)n, ref_s % 60 ?
	    " from %02d:%02d:%02d" : " from %02d:%02d", ref_s / 3600,
	    ref_s / 60 % 60, ref_s % 60);
	if (s->zone == NULL || (s->text = strdup(text)) == NULL) {
		sched_free(s);
		*errstr = "out of memory";
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

/* ---- next fire time ---- */

/*
 * The first fire time >= t_min (and < bound) contributed by span sp, whose
 * predecessor had offset prev_off.  See cron_next().
 */
static int64_t
span_first(const struct sched *s, const struct tz_span *sp, int32_t prev_off,
    int64_t t_min, int64_t bound)
{
	int64_t a = sp->start, b = sp->end < bound ? sp->end : bound, lo, c;
	int64_t best = SCHED_NONE;
	int32_t o = sp->offset;

	/* t_min lies in [a, b) */
	if (a != INT64_MIN && o > prev_off) {
		/* the gap: [a + prev_off, a + o) keeps the old offset */
		if ((c = civil_next(s, t_min + prev_off, a + o)) != SCHED_NONE)
			best = c - prev_off;
	}
	lo = t_min + o;
	if (a != INT64_MIN && prev_off > o && lo < a + prev_off)
		lo = a + prev_off;	/* the fold: these fired in the span before */
	if ((c = civil_next(s, lo, b + o)) != SCHED_NONE && c - o < best)
		best = c - o;
	return best;
}

/*
 * Cron schedules follow the wall clock of the zone.  The zone is a sequence
 * of spans of constant offset; span k with offset o covers the instants
 * [a, b) and so the wall clock times [a + o, b + o).  With prev the offset
 * of the span before:
 *
 *  - normally, a matching wall clock time c in that range fires at c - o;
 *  - a fold (clocks set back, prev > o): wall clock times below a + prev
 *    already happened in the previous span and fired then, so they are
 *    skipped here: a repeated time fires once, at its first occurrence;
 *  - a gap (clocks set forward, o > prev): wall clock times in
 *    [a + prev, a + o) never appear; a matching one fires at c - prev, the
 *    same distance after the jump as it would have been after the old time
 *    (02:30 fires at 03:30 when 02:00 becomes 03:00).  Several such times
 *    may map onto instants that also match normally; each instant fires
 *    once.
 *
 * Every candidate of span k lies inside [a, b), so spans are visited in
 * order from the one holding after + 1 until one yields a candidate, giving
 * up after 50 years.
 */
static int
cron_next(const struct sched *s, int64_t after, int64_t *next)
{
	struct tz_span sp;
	int64_t t = after + 1, bound = after + SCHED_HORIZON, f;
	int32_t prev_off;
	int i;

	tz_span_at(s->zone, t, &sp);
	prev_off = sp.start == INT64_MIN ? sp.offset :
	    tz_offset_at(s->zone, sp.start - 1);
	for (i = 0; i < SCHED_SPANS_MAX; i++) {
		if ((f = span_first(s, &sp, prev_off, t, bound)) != SCHED_NONE) {
			*next = f;
			return 0;
		}
		if (sp.end >= bound)
			break;
		prev_off = sp.offset;
		t = sp.end;
		tz_span_at(s->zone, t, &sp);
	}
	return ERR_NEVER;
}

/* The instant of the reference time of day on local day `day` (since 1970). */
static int64_t
day_anchor(const struct sched *s, int64_t day)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 70;
	tm.tm_mday = 1 + (int)day;
	tm.tm_sec = s->ref;
	return tz_mktime(s->zone, &tm);
}

static int64_t
local_day(const struct sched *s, int64_t t)
{
	return floor_div(t + tz_offset_at(s->zone, t), 86400);
}

/*
 * Intervals dividing a day restart each local day D at A(D), the reference
 * time on D: ticks A(D) + k * interval while before A(D + 1).  A day is
 * 24 hours give or take a DST shift: on a short day the last ticks are cut
 * off by A(D + 1); on a long day the ticks past the usual count are kept
 * only when a whole interval fits before A(D + 1), so "10m" keeps ticking
 * through the extra hour while "1d" does not fire twice and "8h" does not
 * fire an hour before the next reference.  Days without ticks (a zone
 * skipping a date) have A(D) == A(D + 1).
 */
static int64_t
interval_next_daily(const struct sched *s, int64_t after)
{
	int64_t x = local_day(s, after) - 1, ax = 0, an = 0, k, tick;
	int i;

	for (i = 0; i < 8 && (ax = day_anchor(s, x)) > after; i++)
		x--;
	for (i = 0; i < 8 && (an = day_anchor(s, x + 1)) <= after; i++) {
		x++;
		ax = an;
	}
	/* now A(x) <= after < A(x + 1) */
	k = (after - ax) / s->interval + 1;
	tick = ax + k * s->interval;
	if (tick < an && (k < 86400 / s->interval || tick + s->interval <= an))
		return tick;
	return an;
}

/* Whole numbers of days: every n-th local day from 1970-01-01, at ref. */
static int64_t
interval_next_days(const struct sched *s, int64_t after)
{
	int64_t n = s->interval / 86400, d = local_day(s, after), x, a;
	int i;

	x = d - (d - floor_div(d, n) * n) - n;
	for (i = 0; i < 4; i++, x += n)
		if ((a = day_anchor(s, x)) > after)
			return a;
	return day_anchor(s, x);
}

static int
interval_next(const struct sched *s, int64_t after, int64_t *next)
{
	int64_t e;

	if (86400 % s->interval == 0) {
		*next = interval_next_daily(s, after);
	} else if (s->interval % 86400 == 0) {
		*next = interval_next_days(s, after);
	} else {
		/* anything else: plain steps from the reference on 1970-01-01 */
		e = day_anchor(s, 0);
		*next = e + (floor_div(after - e, s->interval) + 1) * s->interval;
	}
	return 0;
}

int
sched_next(const struct sched *s, int64_t after, int64_t *next)
{
	if (after >= SCHED_TMAX)
		return ERR_NEVER;
	if (after < SCHED_TMIN)
		after = SCHED_TMIN;
	if (s->kind == SCHED_INTERVAL)
		return interval_next(s, after, next);
	return cron_next(s, after, next);
}

const char *
sched_text(const struct sched *s)
{
	return s->text;
}

void
sched_free(struct sched *s)
{
	if (s == NULL ||
	    __atomic_sub_fetch(&s->shares, 1, __ATOMIC_ACQ_REL) >= 0)
		return;
	free(s->text);
	free(s);
}

struct sched *
sched_ref(struct sched *s)
{
	__atomic_add_fetch(&s->shares, 1, __ATOMIC_RELAXED);
	return s;
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

uint64_t
sched_hash(const struct sched *s)
{
	uint64_t h = 14695981039346656037ULL;

	h = fnv(h, &s->kind, sizeof(s->kind));
	h = fnv(h, &s->zone, sizeof(s->zone));
	h = fnv(h, s->text, strlen(s->text));
	h = fnv(h, s->bits, sizeof(s->bits));
	h = fnv(h, &s->dom_last, sizeof(s->dom_last));
	h = fnv(h, s->dow_nth, sizeof(s->dow_nth));
	h = fnv(h, &s->interval, sizeof(s->interval));
	return fnv(h, &s->ref, sizeof(s->ref));
}

bool
sched_same(const struct sched *a, const struct sched *b)
{
	return a->kind == b->kind && a->zone == b->zone &&
	    strcmp(a->text, b->text) == 0 &&
	    memcmp(a->bits, b->bits, sizeof(a->bits)) == 0 &&
	    a->dom_last == b->dom_last &&
	    memcmp(a->dow_nth, b->dow_nth, sizeof(a->dow_nth)) == 0 &&
	    a->dow_last == b->dow_last && a->dom_star == b->dom_star &&
	    a->dow_star == b->dow_star && a->interval == b->interval &&
	    a->ref == b->ref;
}
