/*
 * notify_amqp.c - the amqp notification channel: the run report (the
 * webhook's JSON) published to an AMQP exchange with publisher confirms.
 *
 * A message opens a connection, publishes and closes (amqpc_send()): the
 * outbox's thread delivers seldom and may block, and coalescing already
 * makes a burst one message.  The routing key defaults to
 * "distcron.EVENT.JOB" so that a topic exchange (amq.topic by default)
 * lets a consumer bind to "distcron.failure.#".  A refusal that will not
 * go away by itself (access refused, no such exchange, a bad URL) parks
 * the entry with the broker's reason; anything else is retried.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/amqpc.h"
#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/secbox.h"
#include "notify_int.h"

#define KEY_MAX	255	/* bytes of a routing key */

/* The config's URL with its username and password (opened when it is a
 * secret) in *made, or *made NULL when it gives none. */
static int
default_url(const struct config_amqp *q, struct secrets *sec, char **made,
    char *why, size_t whylen)
{
	char *pw = NULL;
	int r = 0;

	*made = NULL;
	if (q->password_secret != NULL)
		r = notify_creds_open(sec, "the config's amqp.password",
		    q->password_secret, &pw, why, whylen);
	else if (q->password != NULL && (pw = strdup(q->password)) == NULL)
		r = -ENOMEM;
	if (r == 0 && pw != NULL &&
	    (*made = amqpc_creds_url(q->url, q->username, pw)) == NULL)
		r = -ENOMEM;
	secbox_value_free(pw);
	return r;
}

enum outbox_result
notify_send_amqp(const struct config *cfg, struct secrets *sec,
    const struct job_amqp *a, const struct notify_msg *m, char *why,
    size_t whylen)
{
	const char *url = a->url != NULL ? a->url : cfg->amqp.url;
	char *made = NULL;
	const char *ca = a->url != NULL || a->ca_file != NULL ? a->ca_file :
	    cfg->amqp.ca_file;
	char key[KEY_MAX + 1], reason[AMQPC_WHY_MAX];
	struct amqpc_msg msg = { .exchange = a->exchange,
	    .routing_key = key, .content_type = "application/json",
	    .persistent = true };
	struct buf body;
	int r;

	if (url == NULL) {
		snprintf(why, whylen, "amqp: no url (notify.amqp.url, or the "
		    "config's amqp.url)");
		return OUTBOX_PARK;
	}
	if (a->url == NULL && (r = default_url(&cfg->amqp, sec, &made, why,
	    whylen)) != 0)
		return r == -ENOMEM ? OUTBOX_RETRY : OUTBOX_PARK;
	snprintf(key, sizeof(key), "distcron.%s.%s", m->event, m->job);
	if (a->routing_key != NULL)
		snprintf(key, sizeof(key), "%s", a->routing_key);
	buf_init(&body, 4 * NOTIFY_MSG_MAX);
	if ((r = notify_msg_webhook(m, &body)) != 0)
		snprintf(reason, sizeof(reason), "%s", err_str(r));
	else {
		msg.body = buf_str(&body);
		msg.body_len = strlen(msg.body);
		r = amqpc_send(made != NULL ? made : url, ca, &msg,
		    NOTIFY_CONNECT_MS, reason, sizeof(reason));
	}
	buf_free(&body);
	secbox_value_free(made);
	if (r == 0)
		return OUTBOX_DELIVERED;
	snprintf(why, whylen, "amqp: %s", reason);
	return r == ERR_AUTH || r == ERR_NOTFOUND || r == ERR_INVALID ?
	    OUTBOX_PARK : OUTBOX_RETRY;
}
