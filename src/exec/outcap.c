/*
 * outcap.c - capped capture of a command's output.
 *
 * The first half of the limit (rounded up) is kept as the head; once it is
 * full, bytes go to a ring holding the last half, so the end of a long output
 * survives too.  Buffers grow with the output instead of being reserved up
 * front: their allocated size is a pure function of the bytes they hold
 * (the next power of two, at least OUTCAP_MIN, at most the half-limit), so no
 * extra bookkeeping is needed and thousands of small captures stay small.  The
 * ring only wraps once it has grown to its full size.
 *
 * With a limit of 0 nothing is kept (the text is empty) but the bytes are
 * still counted and the capture reports itself truncated.
 *
 * Each growth of a buffer is charged to the budget (one atomic counter for
 * the daemon) before it is made.  When a charge would pass the budget, the
 * capture spills: the file gets the head at offset 0 and the ring at offset
 * head_cap(), the same layout as in memory, the buffers are freed and
 * their charge given back, and from then on bytes are written where they
 * would have been copied; outcap_finish() reads both back.  A capture that
 * cannot spill (no directory, no file, a failed write) is cut: it keeps its
 * head, drops its ring and everything after, and says so in its text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distcron/outcap.h"

#define OUTCAP_MIN	256
/* The markers of dropped bytes: before and after their count. */
#define MARKER_PRE	"\n[... distcron: "
#define MARKER_POST	" bytes omitted ...]\n"
#define CUT_PRE		"\n[distcron: output cut: daemon output memory budget " \
			"reached, "
#define CUT_POST	" bytes dropped]\n"
#define OUTCAP_MARKER	MARKER_PRE "%llu" MARKER_POST
#define OUTCAP_CUT	CUT_PRE "%llu" CUT_POST
#define OUTCAP_OVER	1	/* reserve(): the budget would be passed */
#define SPILL_NAME	"/.outcap.XXXXXX"

static char *replace_nuls(char *s, size_t *lenp);

void
outcap_budget_init(struct outcap_budget *b, size_t max, const char *dir)
{
	atomic_init(&b->held, 0);
	atomic_init(&b->spills, 0);
	atomic_init(&b->cuts, 0);
	b->max = max;
	b->dir = dir;
}

void
outcap_budget_stats(const struct outcap_budget *b, size_t *held,
    uint64_t *spills,
    uint64_t *cuts)
{
	*held = atomic_load(&b->held);
	*spills = atomic_load(&b->spills);
	*cuts = atomic_load(&b->cuts);
}

int
outcap_init(struct outcap *c, size_t limit, struct outcap_budget *budget)
{
	memset(c, 0, sizeof(*c));
	c->limit = limit;
	c->tail_cap = limit / 2;
	c->budget = budget;
	c->fd = -1;
	return 0;
}

/* Charges n more bytes to the budget; false when that would pass it. */
static bool
budget_take(struct outcap *c, size_t n)
{
	struct outcap_budget *b = c->budget;

	if (b == NULL)
		return true;
	if (atomic_fetch_add(&b->held, n) + n > b->max) {
		atomic_fetch_sub(&b->held, n);
		return false;
	}
	c->held += n;
	return true;
}

/* Gives n bytes of the capture's charge back. */
static void
budget_give(struct outcap *c, size_t n)
{
	if (c->budget == NULL || n == 0)
		return;
	atomic_fetch_sub(&c->budget->held, n);
	c->held -= n;
}

static size_t
head_cap(const struct outcap *c)
{
	return c->limit - c->tail_cap;
}

/* Allocated size of a buffer holding len bytes (len > 0) out of max. */
static size_t
alloc_size(size_t len, size_t max)
{
	size_t n = OUTCAP_MIN;

	while (n < len && n < max)
		n *= 2;
	return n < max ? n : max;
}

/* Bytes allocated for a buffer holding len bytes out of max. */
static size_t
alloc_held(const char *buf, size_t len, size_t max)
{
	return buf != NULL ? alloc_size(len > 0 ? len : 1, max) : 0;
}

/* Makes *bufp, holding len bytes, big enough for want bytes (want <= max),
 * charging the growth to the budget.  Returns 0, -ENOMEM or OUTCAP_OVER. */
static int
reserve(struct outcap *c, char **bufp, size_t len, size_t want, size_t max)
{
	size_t have = alloc_held(*bufp, len, max);
	size_t need = alloc_size(want, max);
	char *p;

	if (*bufp != NULL && need <= have)
		return 0;
	if (!budget_take(c, need - have))
		return OUTCAP_OVER;
	if ((p = realloc(*bufp, need)) == NULL) {
		budget_give(c, need - have);
		return -ENOMEM;
	}
	*bufp = p;
	return 0;
}

/* Writes all of p[0..n) at off in fd.  Returns 0 or -errno. */
static int
pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, p, n, off)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* An unlinked file in dir, or -errno. */
static int
spill_open(const char *dir)
{
	char path[4096];
	int fd;

	if (dir == NULL)
		return -ENOENT;
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	if ((size_t)snprintf(path, sizeof(path), "%s%s", dir, SPILL_NAME) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return -errno;
	unlink(path);
	return fd;
}

/* Moves head and ring into a spill file.  Returns 0 or -errno. */
static int
spill(struct outcap *c)
{
	int fd, r;

	if ((fd = spill_open(c->budget->dir)) < 0)
		return fd;
	if ((r = pwrite_all(fd, c->head, c->head_len, 0)) != 0 ||
	    (r = pwrite_all(fd, c->tail, c->tail_len,
	    (off_t)head_cap(c))) != 0) {
		close(fd);
		return r;
	}
	free(c->head);
	free(c->tail);
	c->head = c->tail = NULL;
	budget_give(c, c->held);
	c->fd = fd;
	c->spilled = true;
	atomic_fetch_add(&c->budget->spills, 1);
	return 0;
}

/* Keeps the head, drops the ring and every later byte. */
static void
cut(struct outcap *c)
{
	if (!c->spilled)
		budget_give(c, alloc_held(c->tail, c->tail_len, c->tail_cap));
	free(c->tail);
	c->tail = NULL;
	c->tail_len = c->tail_pos = 0;
	c->cut = true;
	if (c->budget != NULL)
		atomic_fetch_add(&c->budget->cuts, 1);
}

/* reserve() for a buffer of c, spilling or cutting past the budget:
 * 0 (check c->cut) or -ENOMEM. */
static int
room(struct outcap *c, char **bufp, size_t len, size_t want, size_t max)
{
	int r;

	if (c->spilled)
		return 0;
	if ((r = reserve(c, bufp, len, want, max)) != OUTCAP_OVER)
		return r;
	if (spill(c) != 0)
		cut(c);
	return 0;
}

/* Stores p[0..n) at off of a buffer whose file offset is base. */
static void
put(struct outcap *c, char *buf, size_t base, size_t off, const char *p,
    size_t n)
{
	if (!c->spilled)
		memcpy(buf + off, p, n);
	else if (pwrite_all(c->fd, p, n, (off_t)(base + off)) != 0)
		cut(c);
}

/* Puts n bytes (n <= tail_cap) into the ring. */
static int
ring_put(struct outcap *c, const char *p, size_t n)
{
	size_t first;
	int r;

	if (c->tail_len < c->tail_cap) {
		/* Not yet wrapped: plain append, growing the buffer. */
		first = c->tail_cap - c->tail_len;
		if (first > n)
			first = n;
		if ((r = room(c, &c->tail, c->tail_len, c->tail_len + first,
		    c->tail_cap)) != 0 || c->cut)
			return r;
		put(c, c->tail, head_cap(c), c->tail_len, p, first);
		if (c->cut)
			return 0;
		c->tail_len += first;
		c->tail_pos = c->tail_len % c->tail_cap;
		p += first;
		n -= first;
	}
	while (n > 0) {
		first = c->tail_cap - c->tail_pos;
		if (first > n)
			first = n;
		put(c, c->tail, head_cap(c), c->tail_pos, p, first);
		if (c->cut)
			return 0;
		c->tail_pos = (c->tail_pos + first) % c->tail_cap;
		p += first;
		n -= first;
	}
	return 0;
}

int
outcap_feed(struct outcap *c, const void *buf, size_t n)
{
	const char *p = buf;
	size_t take;
	int r;

	c->total += n;
	take = head_cap(c) - c->head_len;
	if (take > n)
		take = n;
	if (take > 0 && !c->cut) {
		if ((r = room(c, &c->head, c->head_len, c->head_len + take,
		    head_cap(c))) != 0)
			return r;
		if (c->cut)
			return 0;
		put(c, c->head, 0, c->head_len, p, take);
		if (c->cut)
			return 0;
		c->head_len += take;
		p += take;
		n -= take;
	}
	if (n == 0 || c->tail_cap == 0 || c->cut)
		return 0;
	if (n > c->tail_cap) {
		/* Only the last tail_cap bytes can survive. */
		p += n - c->tail_cap;
		n = c->tail_cap;
	}
	return ring_put(c, p, n);
}

bool
outcap_truncated(const struct outcap *c)
{
	return c->cut || c->total > (uint64_t)c->head_len + c->tail_len;
}

/* Reads n bytes at off of the spill file into a new *bufp. */
static int
load(const struct outcap *c, char **bufp, size_t n, size_t off)
{
	ssize_t got = 0;

	if ((*bufp = malloc(n > 0 ? n : 1)) == NULL)
		return -ENOMEM;
	while ((size_t)got < n) {
		ssize_t k = pread(c->fd, *bufp + got, n - (size_t)got,
		    (off_t)off + got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		got += k;
	}
	return 0;
}

/* Brings a spilled capture's head and ring back into memory for
 * outcap_finish() (not charged: the text is about to be handed over).  A
 * file that cannot be read back leaves nothing but the cut note. */
static int
unspill(struct outcap *c)
{
	int r;

	if (!c->spilled || c->head != NULL)
		return 0;
	if ((r = load(c, &c->head, c->head_len, 0)) == -ENOMEM ||
	    (r == 0 && (r = load(c, &c->tail, c->tail_len,
	    head_cap(c))) == -ENOMEM))
		return r;
	if (r != 0) {
		c->head_len = 0;
		cut(c);
	}
	return 0;
}

/* The marker of what was dropped, into out; its length. */
static size_t
marker(const struct outcap *c, char *out, size_t outlen)
{
	unsigned long long dropped = c->total - c->head_len - c->tail_len;
	int n = 0;

	if (c->cut)
		n = snprintf(out, outlen, OUTCAP_CUT, dropped);
	else if (outcap_truncated(c) && c->limit > 0)
		n = snprintf(out, outlen, OUTCAP_MARKER, dropped);
	return n > 0 ? (size_t)n : 0;
}

/* The text of c with its head and ring at head and tail (c's own, or
 * copies read back from its spill file). */
static char *
assemble(const struct outcap *c, const char *head, const char *tail,
    size_t *lenp)
{
	char marker_text[128];
	size_t mlen, start, first, len;
	char *s;

	mlen = marker(c, marker_text, sizeof(marker_text));
	len = c->head_len + mlen + c->tail_len;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	if (c->head_len > 0)
		memcpy(s, head, c->head_len);
	memcpy(s + c->head_len, marker_text, mlen);
	if (c->tail_len > 0) {
		start = (c->tail_pos + c->tail_cap - c->tail_len) % c->tail_cap;
		first = c->tail_cap - start;
		if (first > c->tail_len)
			first = c->tail_len;
		memcpy(s + c->head_len + mlen, tail + start, first);
		memcpy(s + c->head_len + mlen + first, tail,
		    c->tail_len - first);
	}
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return s;
}

char *
outcap_finish(struct outcap *c, size_t *lenp)
{
	if (unspill(c) != 0)
		return NULL;
	return assemble(c, c->head, c->tail, lenp);
}

char *
outcap_peek(const struct outcap *c, size_t *lenp)
{
	char *head = NULL, *tail = NULL, *s = NULL;

	if (!c->spilled || c->head != NULL)
		s = assemble(c, c->head, c->tail, lenp);
	else if (load(c, &head, c->head_len, 0) == 0 &&
	    load(c, &tail, c->tail_len, head_cap(c)) == 0)
		s = assemble(c, head, tail, lenp);
	free(head);
	free(tail);
	if (s != NULL)
		s = replace_nuls(s, lenp);
	return s;
}

/* The length of the marker (pre, digits, post) at p (n bytes), or 0. */
static size_t
marker_at(const char *p, size_t n, const char *pre, const char *post)
{
	size_t a = strlen(pre), b = strlen(post), i;

	if (n < a || memcmp(p, pre, a) != 0)
		return 0;
	for (i = a; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		;
	if (i == a || n - i < b || memcmp(p + i, post, b) != 0)
		return 0;
	return i + b;
}

bool
outcap_marker_find(const char *text, size_t len, size_t from,
    size_t *start, size_t *end)
{
	const char *q;
	size_t n;

	while (from < len &&
	    (q = memmem(text + from, len - from, "\n[", 2)) != NULL) {
		*start = (size_t)(q - text);
		n = len - *start;
		if ((*end = marker_at(q, n, MARKER_PRE, MARKER_POST)) > 0 ||
		    (*end = marker_at(q, n, CUT_PRE, CUT_POST)) > 0) {
			*end += *start;
			return true;
		}
		from = *start + 1;
	}
	return false;
}

void
outcap_free(struct outcap *c)
{
	if (!c->spilled)
		budget_give(c, c->held);
	free(c->head);
	free(c->tail);
	c->head = NULL;
	c->tail = NULL;
	c->head_len = c->tail_len = c->tail_pos = 0;
	if (c->spilled)
		close(c->fd);
	c->spilled = false;
	c->fd = -1;
}

/* Replaces each NUL byte of s[0..*lenp) with U+FFFD, so the text stays one C
 * string; returns the new text (s itself when it has none), or NULL. */
static char *
replace_nuls(char *s, size_t *lenp)
{
	static const char repl[] = "\xef\xbf\xbd";
	size_t i, j, n = 0, len = *lenp;
	char *d;

	for (i = 0; i < len; i++)
		n += s[i] == '\0';
	if (n == 0)
		return s;
	if ((d = malloc(len + 2 * n + 1)) == NULL) {
		free(s);
		return NULL;
	}
	for (i = j = 0; i < len; i++) {
		if (s[i] != '\0') {
			d[j++] = s[i];
			continue;
		}
		memcpy(d + j, repl, 3);
		j += 3;
	}
	d[j] = '\0';
	*lenp = j;
	free(s);
	return d;
}

char *
outcap_text(struct outcap *c, size_t *lenp)
{
	char *s;

	if ((s = outcap_finish(c, lenp)) != NULL)
		s = replace_nuls(s, lenp);
	if (s == NULL) {
		/* Out of memory: an empty text (may itself be NULL). */
		*lenp = 0;
		s = calloc(1, 1);
	}
	return s;
}
