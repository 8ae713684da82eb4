/*
 * tz.c - IANA time zones without the C library's global zone state.
 *
 * A zone is read once from its TZif file (RFC 8536, versions 1 to 3; the
 * 64-bit data of version 2+ is used) into a sorted array of transitions,
 * keeping only those that change the offset or the DST flag.  Instants after
 * the last transition in the file are governed by the POSIX TZ string in the
 * file's footer ("EST5EDT,M3.2.0,M11.1.0"), whose yearly transitions are
 * computed on demand, so 2100 and later work.  Zones are cached in a
 * mutex-protected list and handed out as shared immutable pointers.
 *
 * Civil (wall clock) times are handled as plain second counts "as if UTC"
 * with the pure day-number functions below; nothing here calls tzset() or
 * reads the C library's zone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/tz.h"

#define TZ_DEFAULT_DIR	"/usr/share/zoneinfo"
#define TZ_FILE_MAX	(1024 * 1024)
#define TZ_NAME_MAX	255
#define TZ_OFF_MAX	(26 * 3600)	/* no zone is further than this from UTC */
#define TZ_T_LIMIT	INT64_C(10000000000000)	/* ~ year 318000: clamp for rules */
#define TZ_CIVIL_MIN	(-TZ_T_LIMIT)
#define TZ_CIVIL_MAX	TZ_T_LIMIT

/* A day of the year in a POSIX TZ rule: Jn, n or Mm.w.d, plus a time. */
struct tz_rule_date {
	char kind;		/* 'J' (1-365, no Feb 29), 'D' (0-365), 'M' */
	int n, m, w, d;
	int32_t time;		/* seconds after local midnight, may be < 0 */
};

struct tz_rule {
	int32_t std_off, dst_off;	/* seconds east of UTC */
	int has_dst;
	struct tz_rule_date start, end;
};

struct tz_trans {
	int64_t at;
	int32_t off;
	int32_t isdst;
};

struct tz {
	char *name;
	int is_local;
	struct tz_trans *trans;		/* only real changes, ascending */
	size_t ntrans;
	int32_t init_off;		/* before the first transition */
	int init_isdst;
	int has_rule;
	struct tz_rule rule;
	int64_t rule_from;		/* the rule governs instants >= this */
	struct tz *next;
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *tz_cache;

/* ---- civil calendar arithmetic (proleptic Gregorian, pure) ---- */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* Days since 1970-01-01 of y-m-d (m 1-12); H. Hinnant's algorithm. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- POSIX TZ strings ---- */

static const char *
parse_abbr(const char *p)
{
	const char *s;

	if (*p == '<') {
		for (s = ++p; *p != '>'; p++) {
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
				return NULL;
		}
		return p - s >= 3 ? p + 1 : NULL;
	}
	for (s = p; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'); p++)
		;
	return p - s >= 3 ? p : NULL;
}

static const char *
parse_uint(const char *p, int maxdigits, int max, int *out)
{
	int n = 0, i;

	for (i = 0; i < maxdigits && *p >= '0' && *p <= '9'; i++, p++)
		n = n * 10 + (*p - '0');
	if (i == 0 || n > max)
		return NULL;
	*out = n;
	return p;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh; stores signed seconds. */
static const char *
parse_hms(const char *p, int maxh, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if ((p = parse_uint(p, 3, maxh, &h)) == NULL)
		return NULL;
	if (*p == ':') {
		if ((p = parse_uint(p + 1, 2, 59, &m)) == NULL)
			return NULL;
		if (*p == ':' && (p = parse_uint(p + 1, 2, 59, &s)) == NULL)
			return NULL;
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *
parse_rule_date(const char *p, struct tz_rule_date *rd)
{
	rd->time = 2 * 3600;
	if (*p == 'J') {
		rd->kind = 'J';
		if ((p = parse_uint(p + 1, 3, 365, &rd->n)) == NULL || rd->n < 1)
			return NULL;
	} else if (*p == 'M') {
		rd->kind = 'M';
		if ((p = parse_uint(p + 1, 2, 12, &rd->m)) == NULL || rd->m < 1 ||
		    *p != '.' || (p = parse_uint(p + 1, 1, 5, &rd->w)) == NULL ||
		    rd->w < 1 || *p != '.' ||
		    (p = parse_uint(p + 1, 1, 6, &rd->d)) == NULL)
			return NULL;
	} else {
		rd->kind = 'D';
		if ((p = parse_uint(p, 3, 365, &rd->n)) == NULL)
			return NULL;
	}
	if (*p == '/')
		p = parse_hms(p + 1, 167, &rd->time);
	return p;
}

/* Parses a POSIX TZ string such as "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0". */
static int
rule_parse(const char *p, struct tz_rule *r)
{
	int32_t v;

	memset(r, 0, sizeof(*r));
	if ((p = parse_abbr(p)) == NULL || (p = parse_hms(p, 24, &v)) == NULL)
		return ERR_PARSE;
	r->std_off = -v;
	if (*p == '\0')
		return 0;
	if ((p = parse_abbr(p)) == NULL)
		return ERR_PARSE;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = parse_hms(p, 24, &v)) == NULL)
			return ERR_PARSE;
		r->dst_off = -v;
	}
	if (*p == '\0')		/* no rule: the US rules, like glibc */
		p = ",M3.2.0,M11.1.0";
	if (*p != ',' || (p = parse_rule_date(p + 1, &r->start)) == NULL ||
	    *p != ',' || (p = parse_rule_date(p + 1, &r->end)) == NULL ||
	    *p != '\0')
		return ERR_PARSE;
	return 0;
}

/* UTC instant of a rule date in year y, whose wall clock is at offset off. */
static int64_t
rule_instant(const struct tz_rule_date *rd, int64_t y, int32_t off)
{
	int64_t jan1 = days_from_civil(y, 1, 1), day;
	int64_t first;
	int wd;

	if (rd->kind == 'J')
		day = jan1 + rd->n - 1 + (is_leap(y) && rd->n >= 60);
	else if (rd->kind == 'D')
		day = jan1 + rd->n;
	else {
		first = days_from_civil(y, rd->m, 1);
		wd = (int)((first % 7 + 11) % 7);	/* 1970-01-01 was a Thursday */
		day = (rd->d - wd + 7) % 7 + 7 * (rd->w - 1);
		while (day >= month_days(y, rd->m))
			day -= 7;
		day += first;
	}
	return day * 86400 + rd->time - off;
}

struct tz_event {
	int64_t at;
	int isdst;
};

/*
 * The span containing t under rule r, not starting before lower.  The state
 * at t is set by the last rule transition <= t; transitions are listed for
 * five years around t and sorted, a start of DST sorting after an end at the
 * same instant (so "0/0,J365/25" means DST all year, as RFC 8536 says).
 */
static void
rule_span(const struct tz_rule *r, int64_t t, int64_t lower, struct tz_span *out)
{
	struct tz_event ev[10], tmp;
	int64_t tc = clamp64(t, -TZ_T_LIMIT, TZ_T_LIMIT), y, start, end;
	int n = 0, g, i, j, state, m, d;

	out->start = lower;
	out->end = INT64_MAX;
	out->offset = r->std_off;
	out->isdst = 0;
	if (!r->has_dst)
		return;
	civil_from_days(floor_div(tc, 86400), &y, &m, &d);
	for (i = -2; i <= 2; i++) {
		ev[n].at = rule_instant(&r->start, y + i, r->std_off);
		ev[n++].isdst = 1;
		ev[n].at = rule_instant(&r->end, y + i, r->dst_off);
		ev[n++].isdst = 0;
	}
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && (ev[j - 1].at > ev[j].at ||
		    (ev[j - 1].at == ev[j].at && ev[j - 1].isdst > ev[j].isdst)); j--) {
			tmp = ev[j];
			ev[j] = ev[j - 1];
			ev[j - 1] = tmp;
		}
	}
	/* Keep the last event at each instant, then walk the changes of state.
	 * The first and last instants only bound the window: the state before
	 * the first and after the last belong to years not listed. */
	for (i = 1, g = 1; i < n; i++) {
		if (ev[g - 1].at == ev[i].at)
			ev[g - 1] = ev[i];
		else
			ev[g++] = ev[i];
	}
	state = ev[0].isdst;
	start = INT64_MIN;
	end = INT64_MAX;
	for (i = 1; i + 1 < g; i++) {
		if (ev[i].isdst == state)
			continue;
		if (ev[i].at > tc) {
			end = ev[i].at;
			break;
		}
		start = ev[i].at;
		state = ev[i].isdst;
	}
	if (start > out->start && t >= -TZ_T_LIMIT)
		out->start = start;
	if (t <= TZ_T_LIMIT)
		out->end = end;
	out->offset = state ? r->dst_off : r->std_off;
	out->isdst = state;
}

/* ---- TZif files ---- */

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static int
tzif_header(const unsigned char *p, size_t len, struct tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return ERR_PARSE;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	if (c->type == 0 || c->type > 256 || c->time > 200000 ||
	    c->leap > 100000 || c->chars > 65536 || c->isut > 256 ||
	    c->isstd > 256)
		return ERR_PARSE;
	return 0;
}

static size_t
tzif_block_len(const struct tzif_counts *c, size_t tsize)
{
	return c->time * tsize + c->time + c->type * 6 + c->chars +
	    c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Reads the transitions of one data block, keeping only real changes. */
static int
tzif_load_block(struct tz *z, const unsigned char *p,
    const struct tzif_counts *c, size_t tsize)
{
	const unsigned char *idx = p + c->time * tsize, *types = idx + c->time;
	int32_t off, prev_off;
	int isdst, prev_isdst;
	uint32_t i;
	int64_t at, last = INT64_MIN;

	for (i = 0; i < c->type; i++) {
		off = (int32_t)be32(types + 6 * i);
		if (off < -TZ_OFF_MAX || off > TZ_OFF_MAX || types[6 * i + 4] > 1)
			return ERR_PARSE;
	}
	if ((z->trans = calloc(c->time ? c->time : 1, sizeof(*z->trans))) == NULL)
		return -ENOMEM;
	z->init_off = prev_off = (int32_t)be32(types);
	z->init_isdst = prev_isdst = types[4];
	for (i = 0; i < c->time; i++) {
		at = tsize == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
		if ((i > 0 && at <= last) || idx[i] >= c->type)
			return ERR_PARSE;
		last = at;
		off = (int32_t)be32(types + 6 * idx[i]);
		isdst = types[6 * idx[i] + 4];
		if (off == prev_off && isdst == prev_isdst)
			continue;
		z->trans[z->ntrans].at = at;
		z->trans[z->ntrans].off = prev_off = off;
		z->trans[z->ntrans++].isdst = prev_isdst = isdst;
	}
	z->rule_from = c->time ? last : INT64_MIN;
	return 0;
}

/* Parses a whole TZif file image into z. */
static int
tzif_parse(struct tz *z, const unsigned char *p, size_t len)
{
	struct tzif_counts c;
	size_t blen, tsize = 4;
	const unsigned char *footer, *nl;
	char rule[256];
	int r;

	if ((r = tzif_header(p, len, &c)) != 0)
		return r;
	blen = tzif_block_len(&c, 4);
	if (p[4] >= '2') {
		if (44 + blen > len)
			return ERR_PARSE;
		p += 44 + blen;
		len -= 44 + blen;
		if ((r = tzif_header(p, len, &c)) != 0)
			return r;
		tsize = 8;
		blen = tzif_block_len(&c, 8);
	}
	if (44 + blen > len)
		return ERR_PARSE;
	if ((r = tzif_load_block(z, p + 44, &c, tsize)) != 0)
		return r;
	footer = p + 44 + blen;
	len -= 44 + blen;
	if (tsize == 8 && len >= 2 && footer[0] == '\n' &&
	    (nl = memchr(footer + 1, '\n', len - 1)) != NULL &&
	    nl - footer - 1 > 0 && (size_t)(nl - footer - 1) < sizeof(rule)) {
		memcpy(rule, footer + 1, (size_t)(nl - footer - 1));
		rule[nl - footer - 1] = '\0';
		if (rule_parse(rule, &z->rule) == 0)
			z->has_rule = 1;
	}
	return 0;
}

static int
read_file(const char *path, unsigned char **out, size_t *outlen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t off = 0;
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	r = -ENOENT;		/* a directory such as "Europe" is no zone */
	if (!S_ISREG(st.st_mode))
		goto out;
	r = ERR_PARSE;
	if (st.st_size < 44 || st.st_size > TZ_FILE_MAX)
		goto out;
	r = -ENOMEM;
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		goto out;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n == 0 ? ERR_PARSE : -errno;
			goto out;
		}
		off += (size_t)n;
	}
	*out = buf;
	*outlen = off;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	close(fd);
	return r;
}

void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->name);
	free(z->trans);
	free(z);
}

static struct tz *
tz_alloc(const char *name, int is_local)
{
	struct tz *z;

	if ((z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	if ((z->name = strdup(name)) == NULL) {
		free(z);
		return NULL;
	}
	z->is_local = is_local;
	z->rule_from = INT64_MIN;
	return z;
}

int
tz_parse_tzif(const char *name, const void *data, size_t len,
    struct tz **out, const char **errstr)
{
	struct tz *z;
	int r;

	*out = NULL;
	if ((z = tz_alloc(name, 0)) == NULL) {
		*errstr = "out of memory";
		return -ENOMEM;
	}
	if ((r = tzif_parse(z, data, len)) != 0) {
		*errstr = r == ERR_PARSE ? "bad time zone file" : err_str(r);
		tz_free(z);
		return r;
	}
	*out = z;
	return 0;
}

/* Loads the TZif file at path into z. */
static int
tz_load_path(struct tz *z, const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = read_file(path, &buf, &len)) != 0)
		return r;
	r = tzif_parse(z, buf, len);
	free(buf);
	return r;
}

static int
tz_load_name(struct tz *z, const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[4096];
	int n;

	if (dir == NULL || *dir == '\0')
		dir = TZ_DEFAULT_DIR;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return tz_load_path(z, path);
}

static int
is_utc_name(const char *name)
{
	return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 ||
	    strcmp(name, "GMT") == 0 || strcmp(name, "Etc/GMT") == 0;
}

static int
tz_name_ok(const char *name)
{
	const char *p;

	if (name[0] == '/' || strstr(name, "..") != NULL ||
	    strlen(name) > TZ_NAME_MAX)
		return 0;
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Forgets whatever a failed load left in z. */
static void
tz_reset(struct tz *z)
{
	free(z->trans);
	z->trans = NULL;
	z->ntrans = 0;
	z->init_off = 0;
	z->init_isdst = 0;
	z->has_rule = 0;
	z->rule_from = INT64_MIN;
}

/*
 * The local zone: TZ (":Name", "Name", an absolute path, or a POSIX rule
 * string when no such file exists; "" is UTC), else /etc/localtime, else UTC.
 */
static void
tz_load_local(struct tz *z)
{
	const char *env = getenv("TZ"), *name;

	if (env == NULL) {
		if (tz_load_path(z, "/etc/localtime") != 0)
			tz_reset(z);
		return;
	}
	name = env[0] == ':' ? env + 1 : env;
	if (*name == '\0')
		return;
	if (name[0] == '/' ? tz_load_path(z, name) == 0 :
	    tz_name_ok(name) && tz_load_name(z, name) == 0)
		return;
	tz_reset(z);
	if (rule_parse(name, &z->rule) == 0)
		z->has_rule = 1;
	else
		memset(&z->rule, 0, sizeof(z->rule));
}

static struct tz *
cache_find(const char *name, int is_local)
{
	struct tz *z;

	for (z = tz_cache; z != NULL; z = z->next)
		if (z->is_local == is_local && strcmp(z->name, name) == 0)
			return z;
	return NULL;
}

static int
tz_load(const char *name, int is_local, struct tz **out, const char **errstr)
{
	struct tz *z;
	int r;

	if ((z = tz_alloc(is_local ? "localtime" : name, is_local)) == NULL) {
		*errstr = "out of memory";
		return -ENOMEM;
	}
	if (is_local) {
		tz_load_local(z);
	} else if ((r = tz_load_name(z, name)) != 0) {
		tz_reset(z);
		if (!is_utc_name(name)) {
			*errstr = r == ERR_PARSE ? "bad time zone file" :
			    "unknown time zone";
			tz_free(z);
			return r == ERR_PARSE ? ERR_PARSE : ERR_NOTFOUND;
		}
	}
	*out = z;
	return 0;
}

int
tz_get(const char *name, const struct tz **out, const char **errstr)
{
	int is_local = name == NULL || *name == '\0';
	struct tz *z, *found;
	int r;

	if (!is_local && !tz_name_ok(name)) {
		*errstr = "invalid time zone name";
		return ERR_PARSE;
	}
	pthread_mutex_lock(&tz_lock);
	z = cache_find(is_local ? "localtime" : name, is_local);
	pthread_mutex_unlock(&tz_lock);
	if (z != NULL) {
		*out = z;
		return 0;
	}
	/* Load without the lock; if another thread won the race, use its copy. */
	if ((r = tz_load(name, is_local, &z, errstr)) != 0)
		return r;
	pthread_mutex_lock(&tz_lock);
	if ((found = cache_find(z->name, is_local)) != NULL) {
		tz_free(z);
		z = found;
	} else {
		z->next = tz_cache;
		tz_cache = z;
	}
	pthread_mutex_unlock(&tz_lock);
	*out = z;
	return 0;
}

const char *
tz_name(const struct tz *z)
{
	return z->name;
}

void
tz_cache_clear(void)
{
	struct tz *z, *next;

	pthread_mutex_lock(&tz_lock);
	for (z = tz_cache; z != NULL; z = next) {
		next = z->next;
		tz_free(z);
	}
	tz_cache = NULL;
	pthread_mutex_unlock(&tz_lock);
}

/* ---- lookups ---- */

/* The span of the file data containing t (t < z->rule_from if a rule). */
static void
file_span(const struct tz *z, int64_t t, struct tz_span *out)
{
	size_t lo = 0, hi = z->ntrans, mid;

	while (lo < hi) {		/* first transition > t */
		mid = lo + (hi - lo) / 2;
		if (z->trans[mid].at <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0) {
		out->start = INT64_MIN;
		out->offset = z->init_off;
		out->isdst = z->init_isdst;
	} else {
		out->start = z->trans[lo - 1].at;
		out->offset = z->trans[lo - 1].off;
		out->isdst = z->trans[lo - 1].isdst;
	}
	out->end = lo < z->ntrans ? z->trans[lo].at : INT64_MAX;
	if (z->has_rule && out->end > z->rule_from)
		out->end = z->rule_from;
}

static int
same_span_kind(const struct tz_span *a, const struct tz_span *b)
{
	return a->offset == b->offset && a->isdst == b->isdst;
}

/*
 * The file data and the footer rule meet at rule_from; when the offset does
 * not change there, the two halves are joined into one span.
 */
void
tz_span_at(const struct tz *z, int64_t t, struct tz_span *out)
{
	struct tz_span other;

	if (!z->has_rule || t < z->rule_from) {
		file_span(z, t, out);
		if (z->has_rule && out->end == z->rule_from) {
			rule_span(&z->rule, z->rule_from, z->rule_from, &other);
			if (same_span_kind(out, &other))
				out->end = other.end;
		}
		return;
	}
	rule_span(&z->rule, t, z->rule_from, out);
	if (out->start == z->rule_from && z->rule_from != INT64_MIN) {
		file_span(z, z->rule_from - 1, &other);
		if (same_span_kind(out, &other))
			out->start = other.start;
	}
}

int32_t
tz_offset_at(const struct tz *z, int64_t t)
{
	struct tz_span sp;

	tz_span_at(z, t, &sp);
	return sp.offset;
}

void
tz_localtime(const struct tz *z, int64_t t, struct tm *tm)
{
	struct tz_span sp;
	int64_t c, days, secs, y;
	int m, d;

	tz_span_at(z, t, &sp);
	c = clamp64(t, TZ_CIVIL_MIN, TZ_CIVIL_MAX) + sp.offset;
	days = floor_div(c, 86400);
	secs = c - days * 86400;
	civil_from_days(days, &y, &m, &d);
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = (int)(y - 1900);
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = (int)((days % 7 + 11) % 7);
	tm->tm_yday = (int)(days - days_from_civil(y, 1, 1));
	tm->tm_isdst = sp.isdst;
	tm->tm_gmtoff = sp.offset;
	tm->tm_zone = NULL;
}

/* tz_format_iso8601 for years outside 0-9999 or a short out. */
static int
iso8601_slow(char *out, size_t outlen, const struct tm *tm)
{
	long off = tm->tm_gmtoff;
	int n, sign;

	sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	n = snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
	    (long long)tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
	    tm->tm_hour, tm->tm_min, tm->tm_sec, sign, off / 3600,
	    off / 60 % 60);
	if (n >= 0 && (size_t)n < outlen && off % 60 != 0)
		n += snprintf(out + n, outlen - (size_t)n, ":%02ld", off % 60);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	return 0;
}

/* Writes v (>= 0) as width digits, zero-padded, at p; returns p + width. */
static char *
put_digits(char *p, long v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

int
tz_format_iso8601(const struct tz *z, int64_t t, char *out, size_t outlen)
{
	struct tm tm;
	long off, year;
	char *p = out;

	tz_localtime(z, t, &tm);
	off = tm.tm_gmtoff;
	year = (long)tm.tm_year + 1900;
	/* "YYYY-MM-DDTHH:MM:SS+HH:MM[:SS]" by hand: reports and listings
	 * print thousands of these, and snprintf was most of their cost. */
	if (year < 0 || year > 9999 || outlen < sizeof("0000-00-00T00:00:00"
	    "+00:00:00"))
		return iso8601_slow(out, outlen, &tm);
	p = put_digits(p, year, 4);
	*p++ = '-';
	p = put_digits(p, tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_sec, 2);
	*p++ = off < 0 ? '-' : '+';
	off = off < 0 ? -off : off;
	p = put_digits(p, off / 3600, 2);
	*p++ = ':';
	p = put_digits(p, off / 60 % 60, 2);
	if (off % 60 != 0) {
		*p++ = ':';
		p = put_digits(p, off % 60, 2);
	}
	*p = '\0';
	return 0;
}

/*
 * Local civil time c (seconds, as if UTC) to an instant.  Spans are visited
 * in order from well before c; the first span whose wall clock range holds c
 * gives the first occurrence.  If c falls between the wall clock ranges of
 * two spans (a gap), it keeps the offset from before the gap, which moves it
 * forward by the gap's length (02:30 -> 03:30).
 */
static int64_t
civil_to_utc(const struct tz *z, int64_t c)
{
	struct tz_span sp;
	int64_t t;
	int32_t prev_off;
	int i;

	c = clamp64(c, TZ_CIVIL_MIN, TZ_CIVIL_MAX);
	t = c - 2 * TZ_OFF_MAX;
	tz_span_at(z, t, &sp);
	prev_off = sp.offset;
	for (i = 0; i < 64; i++) {
		if (sp.start != INT64_MIN && c < sp.start + (int64_t)sp.offset)
			return c - prev_off;	/* in the gap before sp */
		if (sp.end == INT64_MAX || c < sp.end + (int64_t)sp.offset)
			return c - sp.offset;
		prev_off = sp.offset;
		tz_span_at(z, sp.end, &sp);
	}
	return c - tz_offset_at(z, c);
}

int64_t
tz_mktime(const struct tz *z, const struct tm *tm)
{
	int64_t y = (int64_t)tm->tm_year + 1900, mon = tm->tm_mon, c;

	y += floor_div(mon, 12);
	mon -= floor_div(mon, 12) * 12;
	y = clamp64(y, -100000000, 100000000);
	c = days_from_civil(y, (int)mon + 1, 1) + tm->tm_mday - 1;
	c = c * 86400 + (int64_t)tm->tm_hour * 3600 + (int64_t)tm->tm_min * 60 +
	    tm->tm_sec;
	return civil_to_utc(z, c);
}

/* Reads exactly n digits. */
static const char *
digits(const char *p, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, p++) {
		if (*p < '0' || *p > '9')
			return NULL;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return p;
}

/*
 * Parses "Z", "+HH:MM", "+HHMM", "+HH" or "+HH:MM:SS" (as printed for the
 * old local mean times) into seconds east.
 */
static int
parse_offset(const char *p, int *has_off, int32_t *off, const char **errstr)
{
	int sign, h, m = 0, s = 0;

	*has_off = 0;
	if (*p == '\0')
		return 0;
	*has_off = 1;
	*off = 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	*errstr = "expected Z or an offset like +02:00 after the time";
	if (*p != '+' && *p != '-')
		return ERR_PARSE;
	sign = *p++ == '-' ? -1 : 1;
	if ((p = digits(p, 2, &h)) == NULL)
		return ERR_PARSE;
	if (*p == ':' && p[1] != '\0')
		p++;
	if (*p != '\0' && (p = digits(p, 2, &m)) == NULL)
		return ERR_PARSE;
	if (*p == ':' && (p = digits(p + 1, 2, &s)) == NULL)
		return ERR_PARSE;
	if (*p != '\0')
		return ERR_PARSE;
	if (h > 23 || m > 59 || s > 59) {
		*errstr = "offset out of range";
		return ERR_RANGE;
	}
	*off = sign * (h * 3600 + m * 60 + s);
	return 0;
}

/* "YYYY-MM-DD[THH:MM[:SS]]": stores the civil fields, returns the rest. */
static const char *
parse_civil(const char *p, int f[6])
{
	memset(f, 0, 6 * sizeof(f[0]));
	if ((p = digits(p, 4, &f[0])) == NULL || *p != '-' ||
	    (p = digits(p + 1, 2, &f[1])) == NULL || *p != '-' ||
	    (p = digits(p + 1, 2, &f[2])) == NULL)
		return NULL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return p;
	if ((p = digits(p + 1, 2, &f[3])) == NULL || *p != ':' ||
	    (p = digits(p + 1, 2, &f[4])) == NULL)
		return NULL;
	if (*p == ':' && (p = digits(p + 1, 2, &f[5])) == NULL)
		return NULL;
	return p;
}

int
tz_parse_iso8601(const struct tz *z, const char *s, int64_t *out,
    const char **errstr)
{
	const char *p;
	int f[6], has_off, r;
	int32_t off = 0;
	int64_t c;

	*errstr = "expected a time like 2026-03-08T03:30:00+01:00";
	if (s == NULL || (p = parse_civil(s, f)) == NULL)
		return ERR_PARSE;
	if ((r = parse_offset(p, &has_off, &off, errstr)) != 0)
		return r;
	*errstr = f[1] < 1 || f[1] > 12 ? "month out of range 01-12" :
	    f[2] < 1 || f[2] > month_days(f[0], f[1]) ? "day out of range for the month" :
	    f[3] > 23 ? "hour out of range 00-23" :
	    f[4] > 59 ? "minute out of range 00-59" :
	    f[5] > 59 ? "second out of range 00-59" : NULL;
	if (*errstr != NULL)
		return ERR_RANGE;
	c = (days_from_civil(f[0], f[1], f[2]) * 86400) + f[3] * 3600 +
	    f[4] * 60 + f[5];
	*out = has_off ? c - off : civil_to_utc(z, c);
	return 0;
}
