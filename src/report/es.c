/*
 * es.c - the Elasticsearch sink of the outbox (see es.h).
 *
 * One curl easy handle per sink, reused by every request so that the
 * connection is kept alive between batches (deliver() is called one call
 * at a time, so the handle needs no lock).  deliver() first makes sure
 * the index template is installed, then cuts the entries into _bulk
 * requests of at most batch_docs documents and batch_bytes bytes (a
 * larger document goes alone), gzips each body, and reads the answer
 * (es_bulk_read(): every document delivered when "errors" is false and
 * there is an item for each, item by item otherwise).  The outbox calls
 * prepare() with the next batch while the previous one is sent: a batch
 * that makes one request has it built and gzipped there, in the slot no
 * deliver call uses, and its deliver() only sends it.  A connection that
 * cannot be made moves the sink to the next URL, where it stays; an
 * answer that is not a bulk response (a status, a cut body, a time-out)
 * leaves every entry of that request to be retried: ids are stable, so a
 * re-sent document replaces itself.  A server that refuses gzip (415, or
 * 400 about the encoding) gets plain bodies from then on.  Messages name
 * the server through url_strip(), never the credentials, which travel in
 * curl's basic auth or the ApiKey header only.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "distcron/buf.h"
#include "distcron/curlx.h"
#include "distcron/err.h"
#include "distcron/es.h"
#include "distcron/log.h"
#include "distcron/url.h"
#include "es_int.h"

#define USER_AGENT	"distcrond/" PACKAGE_VERSION
#define RESPONSE_MAX	(64 * 1024 * 1024)
#define PEER_LEN	200

/*
 * A batch made ready by es_prepare() on the outbox's thread while the
 * previous one is being sent: its whole _bulk request (one, when every
 * document renders and they fit batch_docs and batch_bytes), plain and
 * gzipped.  Two slots: the one a deliver call sends, the one being made.
 */
struct es_prep {
	const struct outbox_entry *e;	/* the batch it was made for */
	size_t n;
	int64_t first_id;
	bool ready, busy;		/* under prep_mu */
	struct buf body, gz;
	char (*ids)[ES_ID_LEN];
	const char **idp;
	size_t cap;			/* ids and idp hold this many */
};

struct es_sink {
	struct es_config cf;
	CURL *easy;
	size_t nurls, cur;		/* cur: the URL in use */
	bool template_ok;
	bool compress;
	struct curl_slist *h_ndjson, *h_gzip, *h_json;
	struct buf resp;		/* the answer being received */
	struct buf body, one, gz;	/* a request being built, one
					 * document, the body gzipped: kept
					 * from one request to the next */
	pthread_mutex_t prep_mu;	/* the slots' tags (ready, busy) */
	struct es_prep prep[2];		/* batches made by es_prepare */
	char errbuf[CURLX_ERRBUF_SIZE];
	char peer[PEER_LEN];		/* "elasticsearch at URL" */
};

/* The answer to one request. */
struct es_answer {
	long status;			/* 0: none, see err */
	struct curlx_error err;
};

/* ---- requests ---- */

/* Writes a message into why (whylen bytes), cut when it is longer. */
static void __attribute__((format(printf, 3, 4)))
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* Sets s->peer to "elasticsearch at URL" for the URL in use. */
static void
peer_set(struct es_sink *s)
{
	struct buf b;

	buf_init(&b, PEER_LEN - 24);
	(void)url_strip(s->cf.urls[s->cur], &b);
	snprintf(s->peer, sizeof(s->peer), "elasticsearch at %s",
	    buf_str(&b));
	buf_free(&b);
}

static int
request_setup(struct es_sink *s, const char *method, const char *path,
    const struct buf *body, struct curl_slist *h)
{
	const char *base = s->cf.urls[s->cur];
	size_t n = strlen(base);
	struct buf url;
	int r;

	buf_init(&url, n + strlen(path) + 1);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if ((r = buf_append(&url, base, n)) != 0 ||
	    (r = buf_puts(&url, path)) != 0)
		goto out;
	r = ERR_INTERNAL;
	if (curl_easy_setopt(s->easy, CURLOPT_URL, buf_str(&url)) ==
	    CURLE_OK &&
	    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, method) ==
	    CURLE_OK &&
	    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, buf_str(body)) ==
	    CURLE_OK &&
	    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len) == CURLE_OK &&
	    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h) == CURLE_OK)
		r = 0;
 out:
	explicit_bzero(url.data, url.len);
	buf_free(&url);
	return r;
}

/* One request to the URL in use; the answer's body is in s->resp. */
static void
request(struct es_sink *s, const char *method, const char *path,
    const struct buf *body, struct curl_slist *h, struct es_answer *a)
{
	CURLcode code;

	buf_reset(&s->resp);
	s->errbuf[0] = '\0';
	a->status = 0;
	if (request_setup(s, method, path, body, h) != 0) {
		a->err.err = ERR_INTERNAL;
		a->err.kind = CURLX_OTHER;
		snprintf(a->err.why, sizeof(a->err.why), "cannot set up the "
		    "request");
		return;
	}
	code = curl_easy_perform(s->easy);
	if (curlx_translate(s->easy, code, s->errbuf, &a->err) == 0)
		a->status = curlx_response_code(s->easy);
}

/* Whether a failed request should move on to the next URL. */
static bool
unreachable(const struct es_answer *a)
{
	return a->status == 0 && a->err.kind != CURLX_TIMEOUT &&
	    a->err.kind != CURLX_OTHER && a->err.kind != CURLX_NOMEM;
}

/* Sends the request to the URL in use, then to each next one while none
 * can be reached; the sink stays on the last one tried. */
static void
request_any(struct es_sink *s, const char *method, const char *path,
    const struct buf *body, struct curl_slist *h, struct es_answer *a,
    char *why, size_t whylen)
{
	size_t tries;

	for (tries = 0; tries < s->nurls; tries++) {
		request(s, method, path, body, h, a);
		if (a->status != 0)
			return;
		curlx_message(&a->err, "elasticsearch", s->cf.urls[s->cur],
		    s->cf.timeout_ms, why, whylen);
		if (!unreachable(a))
			break;
		if (tries + 1 < s->nurls)
			log_warn("%s; trying the next URL", why);
		s->cur = (s->cur + 1) % s->nurls;
		peer_set(s);
	}
	if (a->err.kind == CURLX_TIMEOUT) {	/* next time, the next one */
		s->cur = (s->cur + 1) % s->nurls;
		peer_set(s);
	}
}

/* out = in, gzipped at Z_BEST_SPEED (out emptied first): a _bulk body is
 * mostly the same field names again and again, which the fastest level
 * already finds, and the sink's thread must not become the slow half of
 * the shipping.  Deflates straight into out, sized by deflateBound.
 * Returns 0, -ENOMEM or ERR_INTERNAL. */
static int
gzip_body(const struct buf *in, struct buf *out)
{
	z_stream z = { 0 };
	size_t bound;
	int r;

	buf_reset(out);
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return ERR_INTERNAL;
	bound = deflateBound(&z, in->len) + 32;
	if ((r = buf_reserve(out, bound)) != 0)
		goto out;
	z.next_in = (Bytef *)(in->data != NULL ? in->data : "");
	z.avail_in = (uInt)in->len;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)bound;
	r = ERR_INTERNAL;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
		out->len = z.total_out;
		out->data[out->len] = '\0';
		r = 0;
	}
 out:
	deflateEnd(&z);
	return r;
}

/* ---- the index template ---- */

/* Says in why that the server refused the credentials. */
static void
why_auth(struct es_sink *s, long status, char *why, size_t whylen)
{
	say(why, whylen, "%s refused the credentials (HTTP %ld): check "
	    "the username and password or the api_key", s->peer, status);
}

/* PUTs the template to path; 0 when the server took it. */
static int
template_put(struct es_sink *s, bool legacy, const char *glob,
    struct es_answer *a, char *why, size_t whylen)
{
	json_object *t = es_template_body(glob, legacy);
	struct buf b;
	int r;

	if (t == NULL)
		return -ENOMEM;
	buf_init(&b, 1024 * 1024);
	r = buf_puts(&b, json_object_to_json_string_ext(t,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(t);
	if (r == 0)
		request_any(s, "PUT", legacy ? "/_template/" ES_TEMPLATE_NAME :
		    "/_index_template/" ES_TEMPLATE_NAME, &b, s->h_json, a,
		    why, whylen);
	buf_free(&b);
	if (r != 0)
		return r;
	if (a->status == 0)
		return a->err.err;
	return a->status >= 200 && a->status < 300 ? 0 : ERR_PROTOCOL;
}

/* Installs the composable template, or the legacy one where the server
 * lacks the composable API.  Returns 0 or an error, why saying it. */
static int
template_install(struct es_sink *s, char *why, size_t whylen)
{
	char glob[ES_INDEX_LEN];
	struct es_answer a;
	bool legacy = false;
	int r;

	es_index_glob(s->cf.index, glob, sizeof(glob));
	r = template_put(s, false, glob, &a, why, whylen);
	if (r == ERR_PROTOCOL && (a.status == 404 || a.status == 400 ||
	    a.status == 405)) {
		legacy = true;
		r = template_put(s, true, glob, &a, why, whylen);
	}
	if (r == 0) {
		s->template_ok = true;
		log_info("%s: index template " ES_TEMPLATE_NAME " for %s "
		    "installed (%s)", s->peer, glob, legacy ? "_template" :
		    "_index_template");
	} else if (a.status == 401 || a.status == 403) {
		why_auth(s, a.status, why, whylen);
		r = ERR_AUTH;
	} else if (a.status != 0)
		say(why, whylen, "%s: cannot install the index template: "
		    "HTTP %ld", s->peer, a.status);
	else if (r == -ENOMEM)
		say(why, whylen, "out of memory");
	return r;
}

/* ---- _bulk ---- */

/* Whether a 400 answer is about the request's encoding. */
static bool
encoding_refused(const struct es_sink *s, long status)
{
	const char *body = buf_str(&s->resp);

	return status == 415 || (status == 400 &&
	    (strcasestr(body, "gzip") != NULL ||
	    strcasestr(body, "encod") != NULL ||
	    strcasestr(body, "compress") != NULL));
}

/* Posts body once, gzipped when the sink compresses (gz: body already
 * gzipped, or NULL). */
static int
bulk_post(struct es_sink *s, const struct buf *body, const struct buf *gz,
    struct es_answer *a, char *why, size_t whylen)
{
	int r = 0;

	if (!s->compress) {
		request_any(s, "POST", "/_bulk", body, s->h_ndjson, a, why,
		    whylen);
		return 0;
	}
	if (gz == NULL && (r = gzip_body(body, &s->gz)) == 0)
		gz = &s->gz;
	if (r == 0)
		request_any(s, "POST", "/_bulk", gz, s->h_gzip, a, why,
		    whylen);
	return r;
}

/* Sends one _bulk request of k documents (ids[]; gz: body gzipped, or
 * NULL) and fills out[0..k-1].  Returns false when no server could be
 * reached (why says so). */
static bool
bulk_send(struct es_sink *s, const struct buf *body, const struct buf *gz,
    const char *const *ids, size_t k, struct outbox_outcome *out, char *why,
    size_t whylen)
{
	struct es_answer a;
	bool reinstall = false;
	int r;

	if ((r = bulk_post(s, body, gz, &a, why, whylen)) == 0 &&
	    s->compress && a.status != 0 && encoding_refused(s, a.status)) {
		log_warn("%s refuses gzip request bodies (HTTP %ld): sending "
		    "them plain from now on", s->peer, a.status);
		s->compress = false;
		r = bulk_post(s, body, NULL, &a, why, whylen);
	}
	if (r != 0)
		say(why, whylen, "%s: %s", s->peer, err_str(r));
	else if (a.status == 200) {
		(void)es_bulk_read(buf_str(&s->resp), s->resp.len, ids, k,
		    s->peer, out, &reinstall);
		if (reinstall)
			s->template_ok = false;
		return true;
	} else if (a.status == 401 || a.status == 403)
		why_auth(s, a.status, why, whylen);
	else if (a.status != 0)
		say(why, whylen, "%s answered HTTP %ld", s->peer,
		    a.status);
	es_all_retry(out, k, why);
	return a.status != 0;
}

/* ---- deliver ---- */

/* Per-call scratch of deliver(): the ids and where each document of the
 * request being built came from. */
struct es_batch {
	char (*ids)[ES_ID_LEN];
	const char **idp;		/* the request's ids, in order */
	size_t *idx;			/* entry of each */
	struct outbox_outcome *res;	/* the request's outcomes */
};

/* Renders entry i into one (emptied first); a document that cannot be
 * rendered is parked or retried in out[i].  Returns 0 when it can go. */
static int
doc_render(struct es_sink *s, const struct outbox_entry *e, size_t i,
    struct es_batch *bt, struct buf *one, struct outbox_outcome *out)
{
	char index[ES_INDEX_LEN];
	int r;

	buf_reset(one);
	es_doc_id(&e[i], bt->ids[i], ES_ID_LEN);
	if ((r = es_index_name(s->cf.index, e[i].scheduled_at, index,
	    sizeof(index))) != 0)
		say(out[i].why, sizeof(out[i].why), "index pattern makes "
		    "no name for run %lld", (long long)e[i].run_id);
	else
		r = es_doc_append(one, &e[i], index, bt->ids[i], out[i].why,
		    sizeof(out[i].why));
	if (r != 0)
		out[i].result = r == -ENOMEM ? OUTBOX_RETRY : OUTBOX_PARK;
	return r;
}

/* Sends the entries from 'from' on that fit in one request.  Returns the
 * first entry not handled. */
static size_t
bulk_chunk(struct es_sink *s, const struct outbox_entry *e, size_t from,
    size_t n, struct es_batch *bt, struct outbox_outcome *out)
{
	struct buf *body = &s->body, *one = &s->one;
	char why[OUTBOX_WHY_LEN];
	size_t i, j, k = 0;

	buf_reset(body);
	for (i = from; i < n && k < (size_t)s->cf.batch_docs; i++) {
		if (doc_render(s, e, i, bt, one, out) != 0)
			continue;
		if (k > 0 && body->len + one->len > s->cf.batch_bytes)
			break;		/* i goes in the next request */
		if (buf_append(body, one->data, one->len) != 0) {
			es_all_retry(&out[i], 1, "out of memory");
			continue;
		}
		bt->idx[k] = i;
		bt->idp[k++] = bt->ids[i];
	}
	if (k > 0 && !bulk_send(s, body, NULL, bt->idp, k, bt->res, why,
	    sizeof(why))) {
		es_all_retry(&out[i], n - i, why);	/* nobody is there */
		i = n;
	}
	for (j = 0; j < k; j++)
		out[bt->idx[j]] = bt->res[j];
	return i;
}

/* ---- batches made ready ahead (es_prepare) ---- */

/* Makes p the one _bulk request of e[0..n-1], or fails (ERR_INVALID when
 * it takes more than one request or a document does not render). */
static int
prep_fill(struct es_sink *s, struct es_prep *p, const struct outbox_entry *e,
    size_t n)
{
	char index[ES_INDEX_LEN], why[OUTBOX_WHY_LEN];
	size_t i;
	int r = 0;

	if (n > (size_t)s->cf.batch_docs)
		return ERR_INVALID;
	if (n > p->cap) {
		free(p->ids);
		free(p->idp);
		p->cap = 0;
		p->ids = calloc(n, sizeof(*p->ids));
		p->idp = calloc(n, sizeof(*p->idp));
		if (p->ids == NULL || p->idp == NULL)
			return -ENOMEM;
		p->cap = n;
	}
	buf_reset(&p->body);
	for (i = 0; i < n && r == 0; i++) {
		es_doc_id(&e[i], p->ids[i], ES_ID_LEN);
		p->idp[i] = p->ids[i];
		if ((r = es_index_name(s->cf.index, e[i].scheduled_at, index,
		    sizeof(index))) == 0)
			r = es_doc_append(&p->body, &e[i], index, p->ids[i],
			    why, sizeof(why));
	}
	if (r == 0 && n > 1 && p->body.len > s->cf.batch_bytes)
		r = ERR_INVALID;
	if (r == 0 && s->cf.compress)
		r = gzip_body(&p->body, &p->gz);
	return r;
}

/* outbox_sink_ops.prepare: makes the request of e[0..n-1] in the slot
 * no deliver call sends, for the call that comes next. */
static void
es_prepare(void *arg, const struct outbox_entry *e, size_t n)
{
	struct es_sink *s = arg;
	struct es_prep *p;

	pthread_mutex_lock(&s->prep_mu);
	p = s->prep[0].busy ? &s->prep[1] : &s->prep[0];
	s->prep[0].ready = false;	/* only the latest batch is ahead */
	s->prep[1].ready = false;
	pthread_mutex_unlock(&s->prep_mu);
	if (n == 0 || prep_fill(s, p, e, n) != 0)
		return;
	pthread_mutex_lock(&s->prep_mu);
	p->e = e;
	p->n = n;
	p->first_id = e[0].id;
	p->ready = true;
	pthread_mutex_unlock(&s->prep_mu);
}

/* The slot made ready for e[0..n-1], now busy; NULL when there is none. */
static struct es_prep *
prep_take(struct es_sink *s, const struct outbox_entry *e, size_t n)
{
	struct es_prep *p = NULL;
	size_t i;

	pthread_mutex_lock(&s->prep_mu);
	for (i = 0; i < 2 && p == NULL; i++)
		if (s->prep[i].ready && s->prep[i].e == e &&
		    s->prep[i].n == n && s->prep[i].first_id == e[0].id)
			p = &s->prep[i];
	if (p != NULL) {
		p->ready = false;
		p->busy = true;
	}
	pthread_mutex_unlock(&s->prep_mu);
	return p;
}

static void
prep_release(struct es_sink *s, struct es_prep *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&s->prep_mu);
	p->busy = false;
	pthread_mutex_unlock(&s->prep_mu);
}

static void
prep_free(struct es_prep *p)
{
	buf_free(&p->body);
	buf_free(&p->gz);
	free(p->ids);
	free(p->idp);
}

/* Sends the request p holds for its n entries, outcomes into out. */
static void
prep_send(struct es_sink *s, struct es_prep *p, size_t n,
    struct outbox_outcome *out)
{
	char why[OUTBOX_WHY_LEN];

	(void)bulk_send(s, &p->body, s->cf.compress ? &p->gz : NULL,
	    p->idp, n, out, why, sizeof(why));
}

static int
es_deliver(void *arg, const struct outbox_entry *e, size_t n,
    struct outbox_outcome *out)
{
	struct es_sink *s = arg;
	struct es_batch bt = { 0 };
	struct es_prep *p;
	char why[OUTBOX_WHY_LEN];
	size_t i = 0;
	int r = 0;

	es_all_retry(out, n, "not sent");
	if (n == 0)
		return 0;
	if ((p = prep_take(s, e, n)) != NULL) {
		if (s->template_ok || (r = template_install(s, why,
		    sizeof(why))) == 0)
			prep_send(s, p, n, out);
		else
			es_all_retry(out, n, why);
		prep_release(s, p);
		return r;
	}
	bt.ids = calloc(n, sizeof(*bt.ids));
	bt.idp = calloc(n, sizeof(*bt.idp));
	bt.idx = calloc(n, sizeof(*bt.idx));
	bt.res = calloc(n, sizeof(*bt.res));
	if (bt.ids == NULL || bt.idp == NULL || bt.idx == NULL ||
	    bt.res == NULL) {
		es_all_retry(out, n, "out of memory");
		r = -ENOMEM;
	} else if (!s->template_ok && (r = template_install(s, why,
	    sizeof(why))) != 0)
		es_all_retry(out, n, why);
	else
		while (i < n)
			i = bulk_chunk(s, e, i, n, &bt, out);
	free(bt.ids);
	free(bt.idp);
	free(bt.idx);
	free(bt.res);
	return r;
}

/* ---- the sink ---- */

static void
es_free(void *arg)
{
	struct es_sink *s = arg;

	if (s == NULL)
		return;
	if (s->easy != NULL)
		curl_easy_cleanup(s->easy);
	curl_slist_free_all(s->h_ndjson);
	curl_slist_free_all(s->h_gzip);
	curl_slist_free_all(s->h_json);
	buf_free(&s->resp);
	buf_free(&s->body);
	buf_free(&s->one);
	buf_free(&s->gz);
	prep_free(&s->prep[0]);
	prep_free(&s->prep[1]);
	pthread_mutex_destroy(&s->prep_mu);
	es_config_free(&s->cf);
	free(s);
}

static const struct outbox_sink_ops es_ops = {
	.name = ES_SINK_NAME,
	.deliver = es_deliver,
	.prepare = es_prepare,
	.free = es_free,
};

/* lines (NULL-terminated), then "Authorization: ApiKey KEY" if set. */
static int
headers_make(const struct es_sink *s, const char *const *lines,
    struct curl_slist **out)
{
	struct curl_slist *l = NULL, *t;
	struct buf b;
	int r = 0;

	for (; *lines != NULL; lines++) {
		if ((t = curl_slist_append(l, *lines)) == NULL)
			goto oom;
		l = t;
	}
	if (s->cf.api_key != NULL) {
		buf_init(&b, strlen(s->cf.api_key) + 32);
		if ((r = buf_printf(&b, "Authorization: ApiKey %s",
		    s->cf.api_key)) == 0 &&
		    (t = curl_slist_append(l, buf_str(&b))) != NULL)
			l = t;
		else
			r = -ENOMEM;
		explicit_bzero(b.data, b.len);
		buf_free(&b);
		if (r != 0)
			goto oom;
	}
	*out = l;
	return 0;
 oom:
	curl_slist_free_all(l);
	return -ENOMEM;
}

static int
headers_setup(struct es_sink *s)
{
	static const char *const ndjson[] = { "Expect:",
	    "Content-Type: application/x-ndjson", NULL };
	static const char *const gzip[] = { "Expect:",
	    "Content-Type: application/x-ndjson", "Content-Encoding: gzip",
	    NULL };
	static const char *const json[] = { "Expect:",
	    "Content-Type: application/json", NULL };
	int r;

	if ((r = headers_make(s, ndjson, &s->h_ndjson)) != 0 ||
	    (r = headers_make(s, gzip, &s->h_gzip)) != 0)
		return r;
	return headers_make(s, json, &s->h_json);
}

/* The options every request of the sink shares. */
static int
easy_setup(struct es_sink *s)
{
	struct curlx_opts o = {
		.user_agent = USER_AGENT, .ca_file = s->cf.ca_file,
		.connect_timeout_ms = s->cf.timeout_ms,
		.tls_insecure = !s->cf.tls_verify, .errbuf = s->errbuf,
	};
	int r;

	if ((r = curlx_easy_new(&o, &s->easy)) != 0)
		return r;
	if (curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->resp) !=
	    CURLE_OK ||
	    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS,
	    (long)s->cf.timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(s->easy, CURLOPT_ACCEPT_ENCODING, "") !=
	    CURLE_OK)
		return ERR_INTERNAL;
	if (s->cf.username != NULL &&
	    (curl_easy_setopt(s->easy, CURLOPT_HTTPAUTH,
	    (long)CURLAUTH_BASIC) != CURLE_OK ||
	    curl_easy_setopt(s->easy, CURLOPT_USERNAME, s->cf.username) !=
	    CURLE_OK ||
	    curl_easy_setopt(s->easy, CURLOPT_PASSWORD, s->cf.password) !=
	    CURLE_OK))
		return ERR_INTERNAL;
	return headers_setup(s);
}

int
es_sink_new(const struct es_config *c, const struct outbox_sink_ops **ops,
    void **arg)
{
	struct es_sink *s;
	size_t i;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	buf_init(&s->resp, RESPONSE_MAX);
	buf_init(&s->body, SIZE_MAX / 2);
	buf_init(&s->one, SIZE_MAX / 2);
	buf_init(&s->gz, SIZE_MAX / 2);
	for (i = 0; i < 2; i++) {
		buf_init(&s->prep[i].body, SIZE_MAX / 2);
		buf_init(&s->prep[i].gz, SIZE_MAX / 2);
	}
	pthread_mutex_init(&s->prep_mu, NULL);
	if ((r = es_config_copy(c, &s->cf)) != 0) {
		pthread_mutex_destroy(&s->prep_mu);
		free(s);
		return r;
	}
	while (s->cf.urls[s->nurls] != NULL)
		s->nurls++;
	s->compress = s->cf.compress;
	if (s->nurls == 0)
		r = ERR_INVALID;
	else if ((r = easy_setup(s)) == 0) {
		peer_set(s);
		*ops = &es_ops;
		*arg = s;
		return 0;
	}
	es_free(s);
	return r;
}
