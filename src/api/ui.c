/*
 * ui.c - serves the web dashboard's embedded files at /ui/.
 *
 * A part of the API server (api.c), which hands it /ui requests before the
 * token check.  The files are a table made at build time from ui/ by
 * scripts/embed.sh, each with its content type and a strong ETag (CRC and
 * length of its bytes); a path is looked up by exact name, never opened on
 * disk, so no traversal can reach anything but those files.  Every answer
 * carries a strict Content-Security-Policy (scripts, styles and requests
 * from this origin only: no inline script, no eval, no framing) and
 * "Cache-Control: no-cache" with the ETag, so a browser asks again each
 * time and an unchanged file costs a 304.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <microhttpd.h>

#include "distcron/etag.h"
#include "distcron/ui.h"

#define UI_PREFIX	"/ui"

bool
ui_path(const char *url)
{
	size_t n = strlen(UI_PREFIX);

	return strncmp(url, UI_PREFIX, n) == 0 &&
	    (url[n] == '\0' || url[n] == '/');
}

const struct ui_file *
ui_find(const char *url)
{
	const char *name;
	size_t i;

	if (!ui_path(url) || url[strlen(UI_PREFIX)] != '/')
		return NULL;
	name = url + strlen(UI_PREFIX) + 1;
	if (*name == '\0')
		name = "index.html";
	for (i = 0; i < ui_nfiles; i++)
		if (strcmp(ui_files[i].path, name) == 0)
			return &ui_files[i];
	return NULL;
}

bool
ui_for_browser(struct MHD_Connection *c, const char *url, const char *method)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);

	return strcmp(url, "/") == 0 &&
	    (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) &&
	    accept != NULL && strstr(accept, "text/html") != NULL &&
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION) == NULL;
}

/* The headers of every answer. */
static void
ui_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-cache");
}

/* Queues a constant body (text/plain unless f gives the type) with the
 * headers, and hdr: hval when hdr is not NULL. */
static int
ui_queue(struct MHD_Connection *c, unsigned status, const void *data,
    size_t len, const struct ui_file *f, const char *hdr, const char *hval)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)data,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return -ENOMEM;
	ui_headers(resp);
	if (status != MHD_HTTP_NOT_MODIFIED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    f != NULL ? f->ctype : "text/plain; charset=utf-8");
	if (f != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
	if (hdr != NULL)
		MHD_add_response_header(resp, hdr, hval);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret == MHD_YES ? 0 : -ENOMEM;
}

/* Queues a short plain-text message (a string constant). */
static int
ui_text(struct MHD_Connection *c, unsigned status, const char *msg,
    const char *hdr, const char *hval)
{
	return ui_queue(c, status, msg, strlen(msg), NULL, hdr, hval);
}

int
ui_answer(struct MHD_Connection *c, const char *url, const char *method,
    unsigned *status)
{
	const struct ui_file *f;
	const char *inm;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		*status = MHD_HTTP_METHOD_NOT_ALLOWED;
		return ui_text(c, *status, "method not allowed: the dashboard "
		    "takes GET and HEAD\n", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	}
	if (strcmp(url, "/") == 0) {
		*status = MHD_HTTP_SEE_OTHER;
		return ui_text(c, *status, "the dashboard is at /ui/\n",
		    MHD_HTTP_HEADER_LOCATION, UI_PREFIX "/");
	}
	if (strcmp(url, UI_PREFIX) == 0) {
		*status = MHD_HTTP_PERMANENT_REDIRECT;
		return ui_text(c, *status, "the dashboard is at /ui/\n",
		    MHD_HTTP_HEADER_LOCATION, UI_PREFIX "/");
	}
	if ((f = ui_find(url)) == NULL) {
		*status = MHD_HTTP_NOT_FOUND;
		return ui_text(c, *status, "not found: no such file in the "
		    "dashboard\n", NULL, NULL);
	}
	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (etag_match(inm, f->etag)) {
		*status = MHD_HTTP_NOT_MODIFIED;
		return ui_queue(c, *status, "", 0, f, NULL, NULL);
	}
	*status = MHD_HTTP_OK;
	return ui_queue(c, *status, f->data, f->len, f, NULL, NULL);
}
