/*
 * ctl_common.c - what several distcronctl commands need: the settings of
 * the offline commands, zone lookup and reading a small file (one holding
 * a secret refused when group or others may read it).
 *
 * Paths come from, in order of preference: the command's flags, the JSON
 * file given with --config (keys "jobs_dir", "nodes_dir", "state_dir",
 * "timezone"; comments allowed), the environment (DISTCRON_JOBS_DIR,
 * DISTCRON_NODES_DIR, DISTCRON_STATE_DIR), and the defaults chosen at
 * configure time: the config module reads them as the daemon would, so
 * distcronctl finds the same directories.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/fileio.h"
#include "ctl_int.h"

#define PROG		CTLOPT_PROG

extern char **environ;

int
ctl_settings_load(struct ctl_settings *s, const struct ctlopt_vals *v)
{
	char *argv[] = { PROG, "--config", (char *)v->config_file, NULL };
	char err[512];

	*s = (struct ctl_settings){ .config_file = v->config_file,
	    .jobs_dir = v->jobs_dir, .nodes_dir = v->nodes_dir,
	    .state_dir = v->state_dir };
	if (config_load(&s->cfg, s->config_file ? 3 : 1, argv, environ, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return ERR_CONFIG;
	}
	if (s->jobs_dir == NULL)
		s->jobs_dir = s->cfg.jobs_dir;
	if (s->nodes_dir == NULL)
		s->nodes_dir = s->cfg.nodes_dir;
	if (s->state_dir == NULL)
		s->state_dir = s->cfg.state_dir;
	if (s->timezone == NULL && s->cfg.timezone[0] != '\0')
		s->timezone = s->cfg.timezone;
	return 0;
}

void
ctl_settings_free(struct ctl_settings *s)
{
	config_free(&s->cfg);
}

int
ctl_zone_get(const char *name, const struct tz **zone)
{
	const char *errstr = NULL;
	int r;

	if ((r = tz_get(name, zone, &errstr)) != 0)
		fprintf(stderr, "%s: time zone '%s': %s\n", PROG,
		    name ? name : "localtime", errstr ? errstr : err_str(r));
	return r;
}

/* Reads f whole (at most max bytes) into a NUL-terminated string. */
static int
read_stream(FILE *f, size_t max, char **textp, size_t *lenp)
{
	char chunk[4096];
	struct buf b;
	size_t n;
	int r = 0;

	buf_init(&b, max);
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = buf_append(&b, chunk, n);
	if (r == 0 && ferror(f))
		r = -EIO;
	if (r == 0 && (*textp = buf_steal(&b, lenp)) == NULL)
		r = -ENOMEM;
	explicit_bzero(chunk, sizeof(chunk));
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	return r;
}

int
ctl_read_text(const char *path, size_t max, char **textp, size_t *lenp)
{
	FILE *f;
	int r;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	r = read_stream(f, max, textp, lenp);
	fclose(f);
	return r;
}

int
ctl_read_secret(const char *path, const char *what, size_t max,
    char **textp, size_t *lenp)
{
	char err[PATH_MAX + 256];
	FILE *f;
	int r;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	if (fileio_secret_check(fileno(f), path, what, false, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		r = ERR_CONFIG;
	} else
		r = read_stream(f, max, textp, lenp);
	fclose(f);
	return r;
}
