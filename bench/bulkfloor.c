/*
 * bulkfloor.c - the floor of bench/reports.sh: a bare libcurl client that
 * posts pre-built _bulk bodies to an Elasticsearch server one after the
 * other on one keep-alive connection, and does nothing else.
 *
 *   bulkfloor URL BODIES [gzip]
 *       BODIES holds the bodies as "LENGTH\n" then the body (as
 *       "storerate prep" writes them).  With gzip every body is compressed
 *       before the clock starts and sent with Content-Encoding: gzip, as
 *       the Elasticsearch sink does by default.  Each answer must be HTTP
 *       200 without "errors": true.  Prints documents/s (a document is two
 *       lines of a body).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <zlib.h>

struct body {
	char *data;
	size_t len;
	long docs;
};

struct resp {
	char *data;
	size_t len;
};

static void
die(const char *what)
{
	fprintf(stderr, "bulkfloor: %s\n", what);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads the bodies of path; *n receives their count. */
static struct body *
bodies_read(const char *path, size_t *n)
{
	struct body *v = NULL;
	size_t cap = 0, len, i;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		die("cannot open the bodies");
	*n = 0;
	while (fscanf(f, "%zu", &len) == 1 && fgetc(f) == '\n') {
		if (*n == cap && (v = realloc(v, (cap = cap * 2 + 16) *
		    sizeof(*v))) == NULL)
			die("out of memory");
		if ((v[*n].data = malloc(len)) == NULL ||
		    fread(v[*n].data, 1, len, f) != len)
			die("short body");
		v[*n].len = len;
		v[*n].docs = 0;
		for (i = 0; i < len; i++)
			v[*n].docs += v[*n].data[i] == '\n';
		v[*n].docs /= 2;
		(*n)++;
	}
	fclose(f);
	return v;
}

/* Replaces b's data by its gzip form. */
static void
body_gzip(struct body *b)
{
	z_stream z = { 0 };
	size_t cap = compressBound(b->len) + 64;
	char *out = malloc(cap);

	if (out == NULL || deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		die("gzip");
	z.next_in = (unsigned char *)b->data;
	z.avail_in = (unsigned)b->len;
	z.next_out = (unsigned char *)out;
	z.avail_out = (unsigned)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		die("gzip");
	free(b->data);
	b->data = out;
	b->len = z.total_out;
	deflateEnd(&z);
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	if ((r->data = realloc(r->data, r->len + size * n + 1)) == NULL)
		die("out of memory");
	memcpy(r->data + r->len, p, size * n);
	r->len += size * n;
	r->data[r->len] = '\0';
	return size * n;
}

/* Posts one body; dies unless every item was indexed. */
static void
post(CURL *c, const struct body *b, struct resp *r)
{
	long status = 0;

	r->len = 0;
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	if (curl_easy_perform(c) != CURLE_OK)
		die("request failed");
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || r->data == NULL ||
	    strstr(r->data, "\"errors\": true") != NULL ||
	    strstr(r->data, "\"errors\":true") != NULL)
		die("the server did not index every document");
}

int
main(int argc, char **argv)
{
	struct curl_slist *h = NULL;
	struct resp r = { 0 };
	struct body *v;
	char url[1024];
	bool gz = argc == 4 && strcmp(argv[3], "gzip") == 0;
	size_t n, i;
	long docs = 0;
	double t0, t1;
	CURL *c;

	if (argc < 3 || argc > 4)
		die("usage: bulkfloor URL BODIES [gzip]");
	v = bodies_read(argv[2], &n);
	for (i = 0; i < n; i++) {
		docs += v[i].docs;
		if (gz)
			body_gzip(&v[i]);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((c = curl_easy_init()) == NULL)
		die("curl");
	snprintf(url, sizeof(url), "%s/_bulk", argv[1]);
	h = curl_slist_append(h, "Content-Type: application/x-ndjson");
	if (gz)
		h = curl_slist_append(h, "Content-Encoding: gzip");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	t0 = now_s();
	for (i = 0; i < n; i++)
		post(c, &v[i], &r);
	t1 = now_s();
	printf("floor posted %ld documents in %.3f s: %.0f docs/s (%zu "
	    "bodies%s)\n", docs, t1 - t0, docs / (t1 - t0), n,
	    gz ? ", gzip" : "");
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	curl_global_cleanup();
	for (i = 0; i < n; i++)
		free(v[i].data);
	free(v);
	free(r.data);
	return 0;
}
