/*
 * notify_creds.c - the secrets of notifications: the SMTP password
 * (smtp.password as {"secret": NAME}) and the webhook's header values
 * given as references (notify.webhook.headers), opened on the outbox's
 * thread when a message is sent, so that a changed secret applies to the
 * next message.  The secrets table is thread-safe (secrets.h: one lock,
 * held while a value is opened); the opened values live only for one
 * delivery and are wiped after it.  A secret that cannot be had parks the
 * message with a reason naming the field and the secret, never a value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/secbox.h"
#include "distcron/secrets.h"
#include "notify_int.h"

int
notify_creds_open(struct secrets *sec, const char *field, const char *name,
    char **value, char *why, size_t whylen)
{
	int r = secrets_value(sec, name, value);

	if (r != 0 && r != -ENOMEM)
		snprintf(why, whylen, "%s: secret \"%s\" %s", field, name,
		    r == ERR_CONFIG ? "cannot be read: no secrets key "
		    "(secrets_key_file or DISTCRON_SECRETS_KEY)" :
		    r == ERR_NOTFOUND ? "not found" :
		    "cannot be opened (wrong key, or altered)");
	else if (r == -ENOMEM)
		snprintf(why, whylen, "out of memory");
	return r;
}

int
notify_creds_smtp(struct secrets *sec, const struct config_smtp *in,
    struct config_smtp *out, char **value, char *why, size_t whylen)
{
	int r;

	*out = *in;
	*value = NULL;
	if (in->password_secret == NULL)
		return 0;
	if ((r = notify_creds_open(sec, "smtp.password", in->password_secret, value,
	    why, whylen)) != 0)
		return r;
	out->password = *value;
	return 0;
}

/* "Name: " (header, up to its colon) followed by value, or NULL. */
static char *
header_with(const char *header, const char *value)
{
	size_t a = strcspn(header, ":"), b = strlen(value);
	char *p = malloc(a + b + 3);

	if (p != NULL) {
		memcpy(p, header, a);
		memcpy(p + a, ": ", 2);
		memcpy(p + a + 2, value, b + 1);
	}
	return p;
}

/* The field of header i of nf: "notify.webhook.headers.NAME". */
static void
header_field(const char *header, char *out, size_t n)
{
	snprintf(out, n, "notify.webhook.headers.%.*s",
	    (int)strcspn(header, ":"), header);
}

int
notify_creds_headers(struct secrets *sec, const struct job_notify *nf,
    char ***out, char *why, size_t whylen)
{
	char field[256], *value = NULL;
	size_t i, n = 0;
	int r = 0;

	*out = NULL;
	if (nf->webhook_secrets == NULL || nf->webhook_headers == NULL)
		return 0;
	while (nf->webhook_headers[n] != NULL)
		n++;
	if ((*out = calloc(n + 1, sizeof(char *))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n && r == 0; i++) {
		if (nf->webhook_secrets[i] == NULL) {
			r = ((*out)[i] = strdup(nf->webhook_headers[i])) ==
			    NULL ? -ENOMEM : 0;
			continue;
		}
		header_field(nf->webhook_headers[i], field, sizeof(field));
		if ((r = notify_creds_open(sec, field, nf->webhook_secrets[i], &value,
		    why, whylen)) != 0)
			break;
		if (strpbrk(value, "\r\n") != NULL) {
			snprintf(why, whylen, "%s: secret \"%s\" contains a "
			    "line break (not allowed in a header)", field,
			    nf->webhook_secrets[i]);
			r = ERR_INVALID;
		} else if (((*out)[i] = header_with(nf->webhook_headers[i],
		    value)) == NULL)
			r = -ENOMEM;
		secbox_value_free(value);
	}
	if (r != 0) {
		notify_creds_free(*out);
		*out = NULL;
	}
	return r;
}

void
notify_creds_free(char **headers)
{
	size_t i;

	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		explicit_bzero(headers[i], strlen(headers[i]));
		free(headers[i]);
	}
	free(headers);
}
