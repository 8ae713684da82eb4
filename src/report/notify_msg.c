/*
 * notify_msg.c - the words of a notification, made from a run's report
 * (runjson_report's shape, the outbox entry's doc): the mail subject
 * ("[distcron] FAILURE backup on db1 (exit 2)"), the mail with its
 * RFC 5322 headers and CRLF lines, Slack's {"text"} and the webhook's JSON.
 *
 * A message shows the latest of the entries it stands for and, when there
 * are several, says so first ("3 failures since 10:02:00 UTC; latest:").
 * Output is shown as its tail (NOTIFY_TAIL_LINES lines, at most
 * NOTIFY_TAIL_BYTES bytes), bytes that are not UTF-8 and control
 * characters other than tab and newline replaced by '?', so that a
 * message is always valid text.  Nothing here blocks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/jfield.h"
#include "distcron/utf8.h"
#include "notify_int.h"

/* ---- reading the report ---- */

static const char *
str_of(json_object *o, const char *key)
{
	json_object *v = jfield_get(o, key);

	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static int
int_of(json_object *o, const char *key, int none)
{
	json_object *v = jfield_get(o, key);

	return json_object_is_type(v, json_type_int) ?
	    json_object_get_int(v) : none;
}

/* The index of the entry shown: the latest scheduled, then the highest
 * id. */
static size_t
latest(const struct outbox_entry *e, size_t n)
{
	size_t i, best = 0;

	for (i = 1; i < n; i++)
		if (e[i].scheduled_at > e[best].scheduled_at ||
		    (e[i].scheduled_at == e[best].scheduled_at &&
		    e[i].id > e[best].id))
			best = i;
	return best;
}

/* The highest attempt among the items: the one a message shows. */
static int
last_attempt(json_object *items)
{
	size_t i, n = json_object_array_length(items);
	int a, best = 0;

	for (i = 0; i < n; i++) {
		a = int_of(json_object_array_get_idx(items, i), "attempt", 0);
		if (a > best)
			best = a;
	}
	return best;
}

/* The signal of the first item of the attempt that had one. */
static int
first_signal(json_object *items, int attempt)
{
	json_object *it;
	size_t i, n = json_object_array_length(items);

	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		if (int_of(it, "attempt", 0) == attempt &&
		    int_of(it, "signal", 0) > 0)
			return int_of(it, "signal", 0);
	}
	return 0;
}

/* The ticks a "missed" entry stands for ("missed": {"count"}), else 1. */
static size_t
entry_weight(const struct outbox_entry *e)
{
	json_object *doc;
	int64_t n = 1;

	if (strcmp(e->event, "missed") != 0 ||
	    (doc = json_tokener_parse(e->doc)) == NULL)
		return 1;
	if (json_object_is_type(jfield_get(jfield_get(doc, "missed"),
	    "count"), json_type_int))
		n = json_object_get_int64(jfield_get(jfield_get(doc, "missed"),
		    "count"));
	json_object_put(doc);
	return n > 0 ? (size_t)n : 1;
}

static void
count_entries(const struct outbox_entry *e, size_t n, size_t shown,
    struct notify_msg *m)
{
	size_t i;

	m->count = 0;
	m->same_event = true;
	m->since = e[shown].scheduled_at;
	for (i = 0; i < n; i++) {
		m->count += entry_weight(&e[i]);
		if (strcmp(e[i].event, e[shown].event) != 0)
			m->same_event = false;
		if (e[i].scheduled_at < m->since)
			m->since = e[i].scheduled_at;
	}
}

int
notify_msg_read(const struct outbox_entry *e, size_t n,
    struct notify_msg *m)
{
	size_t shown = latest(e, n);
	json_object *items;

	memset(m, 0, sizeof(*m));
	if ((m->doc = json_tokener_parse(e[shown].doc)) == NULL ||
	    !json_object_is_type(m->doc, json_type_object))
		return ERR_PARSE;
	m->job = e[shown].job;
	m->event = e[shown].event;
	m->status = str_of(m->doc, "status");
	items = jfield_get(m->doc, "items");
	if (m->status == NULL ||
	    !json_object_is_type(items, json_type_array))
		return ERR_PARSE;
	m->exit_code = int_of(m->doc, "exit_code", -1);
	m->trigger = str_of(m->doc, "trigger");
	m->tick = str_of(jfield_get(m->doc, "missed"), "tick");
	m->why = str_of(jfield_get(m->doc, "missed"), "reason");
	m->member = str_of(m->doc, "member");
	if (json_object_is_type(jfield_get(m->doc, "fence"), json_type_int))
		m->fence = json_object_get_int64(jfield_get(m->doc, "fence"));
	m->attempt = last_attempt(items);
	m->signal = first_signal(items, m->attempt);
	m->run_id = e[shown].run_id;
	m->entry_id = e[shown].id;
	count_entries(e, n, shown, m);
	return 0;
}

void
notify_msg_free(struct notify_msg *m)
{
	json_object_put(m->doc);
	m->doc = NULL;
}

/* The items of the attempt shown, one at a time: NULL past the last. */
static json_object *
item_next(const struct notify_msg *m, size_t *i)
{
	json_object *items = jfield_get(m->doc, "items"), *it;
	size_t n = json_object_array_length(items);

	while (*i < n) {
		it = json_object_array_get_idx(items, (*i)++);
		if (int_of(it, "attempt", 0) == m->attempt)
			return it;
	}
	return NULL;
}

/* ---- text ---- */

/* Appends s[0..n) with invalid UTF-8 and control characters (but tab and
 * newline) as '?'. */
static int
put_clean(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;
	int r = 0;

	while (r == 0 && i < n) {
		len = utf8_seq(p + i, n - i);
		if (len == 0 || (len == 1 && p[i] < 0x20 && p[i] != '\n' &&
		    p[i] != '\t') || (len == 1 && p[i] == 0x7f)) {
			r = buf_append(b, "?", 1);
			i++;
		} else {
			r = buf_append(b, p + i, len);
			i += len;
		}
	}
	return r;
}

/* Where the tail of out starts: the last NOTIFY_TAIL_LINES lines, at most
 * NOTIFY_TAIL_BYTES bytes, not inside a UTF-8 sequence. */
static const char *
tail_start(const char *out, size_t len)
{
	const char *end = out + len, *p = end;
	int lines = 0;

	if (p > out && p[-1] == '\n')
		p--;
	while (p > out && (size_t)(end - p) < NOTIFY_TAIL_BYTES) {
		if (p[-1] == '\n' && ++lines == NOTIFY_TAIL_LINES)
			break;
		p--;
	}
	while (p < end && ((unsigned char)*p & 0xc0) == 0x80)
		p++;
	return p;
}

/* The cleaned tail of item's output, ending in a newline; "" when none. */
static int
put_tail(struct buf *b, json_object *item)
{
	const char *out = str_of(item, "output"), *p;
	size_t len;
	int r;

	if (out == NULL || (len = strlen(out)) == 0)
		return 0;
	p = tail_start(out, len);
	if ((r = put_clean(b, p, len - (size_t)(p - out))) != 0)
		return r;
	return out[len - 1] == '\n' ? 0 : buf_puts(b, "\n");
}

static const char *
plural(const char *event)
{
	if (strcmp(event, "failure") == 0)
		return "failures";
	if (strcmp(event, "recovery") == 0)
		return "recoveries";
	if (strcmp(event, "success") == 0)
		return "successes";
	if (strcmp(event, "start") == 0)
		return "starts";
	if (strcmp(event, "missed") == 0)
		return "missed ticks";
	return "notifications";
}

/* "3 failures since 10:02:00 UTC; latest:", for several entries only. */
static int
put_count(const struct notify_msg *m, struct buf *b, const char *end)
{
	time_t t = (time_t)m->since;
	struct tm tm;
	char hms[16];

	if (m->count < 2)
		return 0;
	gmtime_r(&t, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	return buf_printf(b, "%zu %s since %s UTC; latest:%s", m->count,
	    m->same_event ? plural(m->event) : "notifications", hms, end);
}

/* "db1, db2": the nodes of the attempt shown. */
static int
put_nodes(const struct notify_msg *m, struct buf *b)
{
	json_object *it;
	size_t i = 0;
	int r = 0, k = 0;

	while (r == 0 && (it = item_next(m, &i)) != NULL)
		r = buf_printf(b, "%s%s", k++ > 0 ? ", " : "",
		    str_of(it, "node") != NULL ? str_of(it, "node") : "?");
	return r;
}

/* " (exit 2, fence 17)": the exit code or else the signal, and cluster
 * mode's fence; nothing when none is known. */
static int
put_exit(const struct notify_msg *m, struct buf *b)
{
	bool code = m->exit_code >= 0 || m->signal > 0;
	int r = 0;

	if (m->exit_code >= 0)
		r = buf_printf(b, " (exit %d", m->exit_code);
	else if (m->signal > 0)
		r = buf_printf(b, " (signal %d", m->signal);
	if (r == 0 && m->fence > 0)
		r = buf_printf(b, "%sfence %lld", code ? ", " : " (",
		    (long long)m->fence);
	if (r == 0 && (code || m->fence > 0))
		r = buf_puts(b, ")");
	return r;
}

int
notify_msg_subject(const struct notify_msg *m, struct buf *b)
{
	size_t i = 0;
	int r;

	if ((r = buf_printf(b, "[distcron] %s %s", m->status, m->job)) != 0)
		return r;
	if (m->tick != NULL)	/* a missed tick */
		return buf_printf(b, " at %s", m->tick);
	if (item_next(m, &i) != NULL && ((r = buf_puts(b, " on ")) != 0 ||
	    (r = put_nodes(m, b)) != 0))
		return r;
	return put_exit(m, b);
}

/* ---- mail ---- */

/* "Job:       backup\n" when v is not NULL. */
static int
put_field(struct buf *b, const char *name, const char *v)
{
	if (v == NULL)
		return 0;
	return buf_printf(b, "%-11s%s\n", name, v);
}

static int
put_run_fields(const struct notify_msg *m, struct buf *b)
{
	json_object *time = jfield_get(m->doc, "time");
	char num[32];
	size_t i = 0;
	int r;

	if ((r = put_field(b, "Job:", m->job)) != 0 ||
	    (r = put_field(b, "Status:", m->status)) != 0)
		return r;
	if (item_next(m, &i) != NULL &&		/* none for a missed tick */
	    ((r = buf_puts(b, "Node:      ")) != 0 ||
	    (r = put_nodes(m, b)) != 0 || (r = buf_puts(b, "\n")) != 0))
		return r;
	snprintf(num, sizeof(num), "%d", m->exit_code >= 0 ? m->exit_code :
	    m->signal);
	if ((m->exit_code >= 0 || m->signal > 0) && (r = put_field(b,
	    m->exit_code >= 0 ? "Exit code:" : "Signal:", num)) != 0)
		return r;
	snprintf(num, sizeof(num), "%lld", (long long)m->fence);
	if ((r = put_field(b, "Member:", m->member)) != 0 ||
	    (r = put_field(b, "Fence:", m->fence > 0 ? num : NULL)) != 0 ||
	    (r = put_field(b, "Tick:", m->tick)) != 0 ||
	    (r = put_field(b, "Why:", m->why)) != 0 ||
	    (r = put_field(b, "Trigger:", m->trigger)) != 0 ||
	    (r = put_field(b, "Scheduled:", str_of(m->doc,
	    "scheduled_at"))) != 0 ||
	    (r = put_field(b, "Started:", str_of(time, "start"))) != 0 ||
	    (r = put_field(b, "Stopped:", str_of(time, "stop"))) != 0)
		return r;
	return put_field(b, "Duration:", str_of(jfield_get(m->doc,
	    "duration"), "string"));
}

/* Each node's error and output tail. */
static int
put_outputs(const struct notify_msg *m, struct buf *b)
{
	json_object *it;
	const char *node, *error;
	size_t i = 0;
	int r = 0;

	while (r == 0 && (it = item_next(m, &i)) != NULL) {
		node = str_of(it, "node") != NULL ? str_of(it, "node") : "?";
		if ((error = str_of(it, "error")) != NULL &&
		    ((r = buf_printf(b, "\nError on %s: ", node)) != 0 ||
		    (r = put_clean(b, error, strlen(error))) != 0 ||
		    (r = buf_puts(b, "\n")) != 0))
			return r;
		if (str_of(it, "output") == NULL ||
		    str_of(it, "output")[0] == '\0')
			continue;
		if ((r = buf_printf(b, "\nOutput of %s (last %d lines):\n",
		    node, NOTIFY_TAIL_LINES)) == 0)
			r = put_tail(b, it);
	}
	return r;
}

/* Appends text with every line ending in CRLF (lone CRs dropped). */
static int
put_crlf(struct buf *b, const char *text)
{
	const char *p;
	int r = 0;

	for (p = text; r == 0 && *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		r = *p == '\n' ? buf_append(b, "\r\n", 2) :
		    buf_append(b, p, 1);
	}
	return r;
}

/* "Sun, 06 Dec 2026 05:31:46 +0000", in English whatever the locale. */
static void
rfc5322_date(int64_t now, char *out, size_t outlen)
{
	static const char days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
put_headers(const struct notify_msg *m, const char *from,
    char *const *rcpt, int64_t now, struct buf *b)
{
	const char *at = strrchr(from, '@');
	char date[64];
	size_t i;
	int r;

	rfc5322_date(now, date, sizeof(date));
	if ((r = buf_printf(b, "From: <%s>\nTo: ", from)) != 0)
		return r;
	for (i = 0; r == 0 && rcpt[i] != NULL; i++)
		r = buf_printf(b, "%s<%s>", i > 0 ? ", " : "", rcpt[i]);
	if (r != 0 || (r = buf_puts(b, "\nSubject: ")) != 0 ||
	    (r = notify_msg_subject(m, b)) != 0)
		return r;
	return buf_printf(b, "\nDate: %s\nMessage-ID: <distcron.%lld.%lld."
	    "%lld@%s>\nMIME-Version: 1.0\nContent-Type: text/plain; "
	    "charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", date,
	    (long long)m->run_id, (long long)m->entry_id, (long long)now,
	    at != NULL ? at + 1 : "localhost");
}

int
notify_msg_mail(const struct notify_msg *m, const char *from,
    char *const *rcpt, int64_t now, struct buf *b)
{
	struct buf text;
	int r;

	buf_init(&text, NOTIFY_MSG_MAX);
	if ((r = put_headers(m, from, rcpt, now, &text)) == 0 &&
	    (r = put_count(m, &text, "\n\n")) == 0 &&
	    (r = put_run_fields(m, &text)) == 0)
		r = put_outputs(m, &text);
	if (r == 0)
		r = put_crlf(b, buf_str(&text));
	buf_free(&text);
	return r;
}

/* ---- Slack and webhook ---- */

/* Appends s[0..n) with Slack's escapes: & < > as &amp; &lt; &gt;. */
static int
put_slack_escaped(struct buf *b, const char *s)
{
	const char *p;
	int r = 0;

	for (p = s; r == 0 && *p != '\0'; p++) {
		if (*p == '&')
			r = buf_puts(b, "&amp;");
		else if (*p == '<')
			r = buf_puts(b, "&lt;");
		else if (*p == '>')
			r = buf_puts(b, "&gt;");
		else
			r = buf_append(b, p, 1);
	}
	return r;
}

/* The text of the Slack message, before Slack's escapes. */
static int
slack_text(const struct notify_msg *m, struct buf *t)
{
	const char *dur = str_of(jfield_get(m->doc, "duration"), "string");
	json_object *it;
	size_t i = 0;
	int r;

	if ((r = put_count(m, t, " ")) != 0 ||
	    (r = buf_printf(t, "*%s* %s", m->status, m->job)) != 0)
		return r;
	if (m->tick != NULL)	/* a missed tick */
		return buf_printf(t, " at %s: %s", m->tick, m->why != NULL ?
		    m->why : "did not start");
	if ((r = buf_puts(t, " on ")) != 0 || (r = put_nodes(m, t)) != 0 ||
	    (r = put_exit(m, t)) != 0)
		return r;
	if (dur != NULL && (r = buf_printf(t, ", took %s", dur)) != 0)
		return r;
	while (r == 0 && (it = item_next(m, &i)) != NULL) {
		if (str_of(it, "output") == NULL ||
		    str_of(it, "output")[0] == '\0')
			continue;
		if ((r = buf_printf(t, "\n%s:\n```\n", str_of(it, "node") ?
		    str_of(it, "node") : "?")) == 0 &&
		    (r = put_tail(t, it)) == 0)
			r = buf_puts(t, "```");
	}
	return r;
}

/* Appends the JSON of o. */
static int
put_json(struct buf *b, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return s != NULL ? buf_puts(b, s) : -ENOMEM;
}

int
notify_msg_slack(const struct notify_msg *m, struct buf *b)
{
	struct buf t, esc;
	json_object *o = NULL;
	int r;

	buf_init(&t, NOTIFY_MSG_MAX);
	buf_init(&esc, 2 * NOTIFY_MSG_MAX);
	if ((r = slack_text(m, &t)) == 0 &&
	    (r = put_slack_escaped(&esc, buf_str(&t))) == 0) {
		if ((o = json_object_new_object()) == NULL)
			r = -ENOMEM;
		else {
			json_object_object_add(o, "text",
			    json_object_new_string(buf_str(&esc)));
			r = put_json(b, o);
		}
	}
	json_object_put(o);
	buf_free(&t);
	buf_free(&esc);
	return r;
}

/* Outputs of the items are cleaned (valid UTF-8) before they are sent. */
static int
clean_outputs(json_object *doc)
{
	json_object *items = jfield_get(doc, "items"), *it;
	const char *out;
	size_t i, n = json_object_array_length(items);
	struct buf b;
	int r = 0;

	for (i = 0; r == 0 && i < n; i++) {
		it = json_object_array_get_idx(items, i);
		if ((out = str_of(it, "output")) == NULL)
			continue;
		buf_init(&b, strlen(out));
		if ((r = put_clean(&b, out, strlen(out))) == 0)
			json_object_object_add(it, "output",
			    json_object_new_string(buf_str(&b)));
		buf_free(&b);
	}
	return r;
}

int
notify_msg_webhook(const struct notify_msg *m, struct buf *b)
{
	json_object *c;
	time_t t = (time_t)m->since;
	struct tm tm;
	char since[32];
	int r;

	if ((r = clean_outputs(m->doc)) != 0)
		return r;
	json_object_object_add(m->doc, "event",
	    json_object_new_string(m->event));
	if (m->count > 1) {
		if ((c = json_object_new_object()) == NULL)
			return -ENOMEM;
		gmtime_r(&t, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_object_add(c, "count",
		    json_object_new_int64((int64_t)m->count));
		json_object_object_add(c, "since",
		    json_object_new_string(since));
		json_object_object_add(m->doc, "coalesced", c);
	}
	return put_json(b, m->doc);
}
