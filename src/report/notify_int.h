/*
 * notify_int.h - private to the notify module (notify.c: planner, sinks,
 * coalescing; notify_msg.c: the messages; notify_send.c: SMTP and HTTP;
 * notify_amqp.c: AMQP).
 */
#ifndef DISTCRON_NOTIFY_INT_H
#define DISTCRON_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/config.h"
#include "distcron/outbox.h"

#define NOTIFY_TAIL_LINES	20	/* of a run's output in a message */
#define NOTIFY_TAIL_BYTES	4096
#define NOTIFY_MSG_MAX		(256 * 1024)	/* one message, all told */
#define NOTIFY_TIMEOUT_MS	30000	/* one delivery */
#define NOTIFY_CONNECT_MS	10000

/* What one message says: the latest of the entries it stands for. */
struct notify_msg {
	json_object *doc;	/* the latest entry's report, owned */
	const char *job;
	const char *event;	/* of the latest entry */
	const char *status;	/* "FAILURE", ... */
	int exit_code;		/* -1: none */
	int signal;		/* 0: none */
	int attempt;		/* the items of this attempt are shown */
	const char *trigger;	/* "schedule", ..., or NULL */
	const char *tick;	/* a missed tick in the job's zone, or NULL */
	const char *why;	/* why it did not start, or NULL */
	const char *member;	/* cluster mode: the member that ran it, or
				 * NULL */
	int64_t fence;		/* cluster mode: its claim's fence; 0: none */
	size_t count;		/* runs or ticks it stands for (a missed
				 * entry may stand for several ticks) */
	bool same_event;	/* all of them had the latest's event */
	int64_t since;		/* the earliest scheduled_at, UTC s */
	int64_t run_id, entry_id;
};

/*
 * Reads entries e[0..n-1] (n >= 1, of one job) into m: the latest (by
 * scheduled_at, then id) is shown, the others counted.  Returns 0,
 * ERR_PARSE when the latest's doc is no report (m is then empty), or
 * -ENOMEM.  notify_msg_free() it either way.
 */
int notify_msg_read(const struct outbox_entry *e, size_t n,
    struct notify_msg *m);
void notify_msg_free(struct notify_msg *m);

/* "[distcron] FAILURE backup on db1 (exit 2)". */
int notify_msg_subject(const struct notify_msg *m, struct buf *b);

/* The whole mail: RFC 5322 headers (From, To, Subject, Date, Message-ID,
 * MIME text/plain; charset=utf-8) and the body, lines ending in CRLF.
 * rcpt is NULL-terminated; now is UTC seconds. */
int notify_msg_mail(const struct notify_msg *m, const char *from,
    char *const *rcpt, int64_t now, struct buf *b);

/* Slack's incoming-webhook JSON: {"text": ...}. */
int notify_msg_slack(const struct notify_msg *m, struct buf *b);

/* The webhook's JSON: the report with "event" and, for several entries,
 * "coalesced": {"count", "since"}. */
int notify_msg_webhook(const struct notify_msg *m, struct buf *b);

/*
 * Sends msg (CRLF lines) from s->from to rcpt (NULL-terminated) over
 * SMTP as s says.  Blocks.  Returns 0, or an ERR_* with why (whylen
 * bytes) naming the server by its stripped URL, never the password.
 */
int notify_send_mail(const struct config_smtp *s, char *const *rcpt,
    const char *msg, char *why, size_t whylen);

/*
 * POSTs body (JSON) to url with headers ("Name: value", NULL-terminated,
 * may be NULL); peer names the channel in messages, shown the URL as
 * shown (already stripped by the caller).  Blocks.  Returns 0 with
 * *status the HTTP status, or an ERR_* with why when no answer came.
 */
int notify_send_http(const char *url, char *const *headers,
    const char *body, const char *peer, const char *shown, long *status,
    char *why, size_t whylen);

struct secrets;
/*
 * notify_creds.c: *out is *in, with the password opened from
 * in->password_secret when it names one (*value then holds it: wipe and
 * free it with secbox_value_free() once the mail is sent).  sec may be
 * NULL (no secrets key).  Returns 0, or ERR_NOTFOUND / ERR_CONFIG /
 * ERR_AUTH / -ENOMEM with why "smtp.password: secret \"NAME\" not found",
 * never a value.  Thread-safe; no disk.
 */
int notify_creds_smtp(struct secrets *sec, const struct config_smtp *in,
    struct config_smtp *out, char **value, char *why, size_t whylen);
/*
 * The webhook headers of nf with the values of its references
 * (nf->webhook_secrets) in: a new array in *out (notify_creds_free() it),
 * or *out NULL when nf has no reference.  Same returns as
 * notify_creds_smtp(), ERR_INVALID for a value with a line break; why
 * names "notify.webhook.headers.NAME" and the secret.
 */
int notify_creds_headers(struct secrets *sec, const struct job_notify *nf,
    char ***out, char *why, size_t whylen);
/* Opens the secret name (of field) into *value, why naming field and
 * name when it cannot be had.  Same returns as notify_creds_smtp(). */
int notify_creds_open(struct secrets *sec, const char *field,
    const char *name, char **value, char *why, size_t whylen);
/* Wipes and frees what notify_creds_headers() made; accepts NULL. */
void notify_creds_free(char **headers);
struct job_amqp;
/*
 * The amqp channel (notify_amqp.c): publishes m's report (the webhook's
 * JSON) as a's says (its url, else the config's amqp.url with its
 * username and password, a secret opened from sec) and waits for
 * the broker's confirm.  Returns OUTBOX_DELIVERED, OUTBOX_PARK (no URL,
 * access refused, no such exchange) or OUTBOX_RETRY, why set but when
 * delivered.  Blocks (at most about 2 x NOTIFY_CONNECT_MS).
 */
enum outbox_result notify_send_amqp(const struct config *cfg,
    struct secrets *sec, const struct job_amqp *a,
    const struct notify_msg *m, char *why, size_t whylen);

#endif
