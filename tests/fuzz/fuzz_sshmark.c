/*
 * fuzz_sshmark.c - libFuzzer target for the scan that strips the
 * "distcron-pgid N" marker line from a guarded run's stderr
 * (sshcmd_mark_feed), fed in splits the input chooses.
 *
 * Input: one byte K (K % 16 chunk lengths follow), K % 16 bytes of chunk
 * lengths (0 to 255; a 0 is an empty feed), then the stream; what the
 * lengths leave over goes in one last feed.  Checks, against a reference
 * scan of the whole stream written here: the bytes passed on are the
 * stream without the marker line, whatever the splits; the pgid found is
 * the reference's; exactly one feed returns 1 when there is a marker, none
 * when there is not; nothing is passed on twice or out of order.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_sshmark
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/sshcmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	char *data;
	size_t len, cap;
};

static void
on_out(void *arg, const char *data, size_t n)
{
	struct sink *s = arg;

	if (n == 0 || s->len + n > s->cap)
		abort();	/* empty calls or more bytes than were fed */
	memcpy(s->data + s->len, data, n);
	s->len += n;
}

/*
 * The reference: the first line (at the start or after a '\n') within the
 * first SSHCMD_MARK_SCAN bytes that is SSHCMD_MARK, 1 to 10 digits worth
 * 2 to INT32_MAX, and '\n'.  Returns its start and stores its end and
 * value, or returns -1.
 */
static long
ref_find(const char *s, size_t n, size_t *endp, long *pgid)
{
	size_t ml = sizeof(SSHCMD_MARK) - 1, i, j;
	long v;

	if (n > SSHCMD_MARK_SCAN)
		n = SSHCMD_MARK_SCAN;
	for (i = 0; i < n; i++) {
		if ((i > 0 && s[i - 1] != '\n') || n - i < ml + 2 ||
		    memcmp(s + i, SSHCMD_MARK, ml) != 0)
			continue;
		v = 0;
		for (j = i + ml; j < n && j - i - ml < 10 && s[j] >= '0' &&
		    s[j] <= '9'; j++)
			v = v * 10 + (s[j] - '0');
		if (j > i + ml && j < n && s[j] == '\n' && v >= 2 &&
		    v <= INT32_MAX) {
			*endp = j + 1;
			*pgid = v;
			return (long)i;
		}
	}
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshcmd_mark m;
	struct sink out = { 0 };
	const uint8_t *lens;
	const char *stream;
	size_t nlens, n, off = 0, chunk, end = 0, i;
	long at, pgid = 0;
	int found = 0;

	if (size == 0)
		return 0;
	nlens = data[0] % 16;
	if (1 + nlens > size)
		return 0;
	lens = data + 1;
	stream = (const char *)data + 1 + nlens;
	n = size - 1 - nlens;
	if ((out.data = malloc(n + 1)) == NULL)
		return 0;
	out.cap = n;
	memset(&m, 0, sizeof(m));
	for (i = 0; i <= nlens; i++) {
		chunk = i < nlens ? lens[i] : n - off;
		if (chunk > n - off)
			chunk = n - off;
		if (sshcmd_mark_feed(&m, stream + off, chunk, on_out, &out) ==
		    1)
			found++;
		off += chunk;
		/* Bytes come out in order: what is out is a prefix of the
		 * reference's answer (checked below, in full). */
		if (out.len > off)
			abort();
	}
	sshcmd_mark_end(&m, on_out, &out);
	sshcmd_mark_end(&m, on_out, &out);	/* twice: nothing more */
	at = ref_find(stream, n, &end, &pgid);
	if (at < 0) {
		if (found != 0 || m.pgid != 0 || out.len != n ||
		    memcmp(out.data, stream, n) != 0)
			abort();
	} else {
		if (found != 1 || m.pgid != pgid ||
		    out.len != n - (end - (size_t)at) ||
		    memcmp(out.data, stream, (size_t)at) != 0 ||
		    memcmp(out.data + at, stream + end, n - end) != 0)
			abort();
	}
	free(out.data);
	return 0;
}
