/*
 * es.h - the Elasticsearch sink of the outbox: run reports indexed with
 * _bulk requests into a time-based index (Elasticsearch 7.x, 8.x,
 * OpenSearch 1.x, 2.x).
 *
 * The sink is a struct outbox_sink_ops (outbox.h) named "elasticsearch".
 * Each entry's document is the run report; it is indexed under a stable id
 * derived from the run ("job:scheduled_at:run_id"), so a batch re-sent
 * after a lost response updates the same documents instead of adding new
 * ones.  The index name comes from the configured strftime pattern applied
 * to the run's scheduled time in UTC, never from job data.  Before its
 * first delivery (and after the server says an index or template is
 * missing) the sink installs the index template "distcron"
 * (_index_template, or the legacy _template API where the server lacks
 * the composable one).  Credentials never appear in messages.
 */
#ifndef DISTCRON_ES_H
#define DISTCRON_ES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "distcron/outbox.h"

#define ES_SINK_NAME		"elasticsearch"
#define ES_INDEX_DEFAULT	"distcron-%Y.%m.%d"
#define ES_TEMPLATE_NAME	"distcron"
#define ES_FIELD_MAX		(64 * 1024)	/* bytes kept of a long string
						 * in a document: head and tail */
#define ES_ID_JOB_MAX		400	/* bytes of the job name in an _id */

/* The "elasticsearch" section of the configuration. */
struct es_config {
	char **urls;		/* NULL-terminated, at least one: tried in
				 * order, the sink stays on the one that
				 * answers */
	char *index;		/* strftime pattern, UTC */
	char *username;		/* basic auth, with password */
	char *password;
	char *api_key;		/* "Authorization: ApiKey ..." instead */
	char *ca_file;		/* PEM CAs, or NULL: the system's */
	bool tls_verify;
	int64_t batch_docs;	/* documents in one _bulk request */
	size_t batch_bytes;	/* bytes of one _bulk body (a larger
				 * document is sent alone) */
	int64_t flush_interval_ms;	/* the outbox's wait to fill a batch */
	int64_t timeout_ms;	/* one request, connect to last byte */
	bool compress;		/* gzip request bodies */
};

/* Sets c to the defaults, without a URL.  Free it with es_config_free(). */
void es_config_init(struct es_config *c);

/*
 * Reads the "elasticsearch" section obj into c (es_config_init() first is
 * not needed).  Returns 0, or ERR_INVALID / -ENOMEM with err (errlen
 * bytes) naming the field and its value ("elasticsearch.index: ..."),
 * never a password or key.  On failure c holds nothing to free.  Does not
 * block.
 */
int es_config_from_json(json_object *obj, struct es_config *c, char *err,
    size_t errlen);

/*
 * Makes c from distcrond's es_host / es_port settings ("http://HOST:PORT";
 * a host with a scheme is taken as the URL, its port kept).  Returns 0,
 * ERR_INVALID with err set for an empty or bad host, or -ENOMEM.
 */
int es_config_from_legacy(const char *host, int64_t port,
    struct es_config *c, char *err, size_t errlen);

/* Frees what c holds, wiping the password and key.  Accepts NULL. */
void es_config_free(struct es_config *c);

/*
 * Makes a sink from c (copied: c may be freed after).  *ops is the sink's
 * table, *arg its state, to hand to the outbox, which calls
 * (*ops)->free(*arg) when done.  The sink makes no request until its first
 * deliver().  Returns 0, -ENOMEM, or ERR_INTERNAL (curl could not be set
 * up).
 */
int es_sink_new(const struct es_config *c, const struct outbox_sink_ops **ops,
    void **arg);

/*
 * Reads the body of a _bulk response (len bytes) to a request that held n
 * documents whose ids were ids[0..n-1], in that order, and fills out[i]
 * for each: 2xx DELIVERED, 429 and 5xx RETRY, 404 index_not_found RETRY
 * (and *reinstall set), other statuses PARK with the item's error type and
 * reason.  peer names the server in messages.  Returns 0, or ERR_PARSE
 * (not a bulk response: every out[i] is then RETRY with why saying so).
 */
int es_bulk_read(const char *body, size_t len, const char *const *ids,
    size_t n, const char *peer, struct outbox_outcome *out, bool *reinstall);

#endif
