/*
 * ui.h - the web dashboard's static files, served by the API server.
 *
 * The files of ui/ are compiled into the binary at build time
 * (scripts/embed.sh writes the table ui_files[] into the build directory),
 * so nothing can go missing at install.  The API server (api.c) hands every
 * request for /ui or /ui/... to ui_answer() before its token check: the
 * files hold no data, the page asks the token-protected API for that.
 */
#ifndef DISTCRON_UI_H
#define DISTCRON_UI_H

#include <stdbool.h>
#include <stddef.h>

/* One embedded file. */
struct ui_file {
	const char *path;		/* under ui/: "index.html", "app.js" */
	const char *ctype;		/* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag;		/* strong, quoted: "\"CRC-LEN\"" */
};

/* The table made by scripts/embed.sh, and its length. */
extern const struct ui_file ui_files[];
extern const size_t ui_nfiles;

/* The Content-Security-Policy of every /ui answer. */
#define UI_CSP	"default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* True when url (the raw path, no query) is the dashboard's: "/ui" or
 * "/ui/...". */
bool ui_path(const char *url);

/* The embedded file of url ("/ui/" is index.html), or NULL.  Names are
 * matched exactly, so no "..", "%2e" or "//" can reach anything else. */
const struct ui_file *ui_find(const char *url);

struct MHD_Connection;

/* True for a browser's GET or HEAD of "/" (Accept names text/html, no
 * Authorization header), which ui_answer() sends to /ui/; API clients,
 * which send a token or no such Accept, get GET / as before. */
bool ui_for_browser(struct MHD_Connection *c, const char *url,
    const char *method);

/*
 * Queues the answer to a /ui request on c: the file (200, or 304 when
 * If-None-Match names its ETag), 308 to "/ui/" for "/ui" (303 for "/",
 * see ui_for_browser), 404, or 405
 * for a method other than GET and HEAD; every answer with the security
 * headers (CSP above, nosniff, no referrer, no framing) and
 * "Cache-Control: no-cache".  Sets *status.  Returns 0, or -ENOMEM when
 * the answer could not be queued (the caller drops the connection).
 * Does not block.
 */
int ui_answer(struct MHD_Connection *c, const char *url, const char *method,
    unsigned *status);

#endif
