/*
 * ctl_common.c - what several distcronctl commands need: the settings of
 * the offline commands, zone lookup and reading a small file.
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
#include <stdio.h>
#include <stdlib.h>

#include "distcron/buf.h"
#include "distcron/err.h"
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

int
ctl_read_text(const char *path, size_t max, char **textp, size_t *lenp)
{
	char chunk[4096];
	struct buf b;
	size_t n;
	FILE *f;
	int r = 0;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	buf_init(&b, max);
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = buf_append(&b, chunk, n);
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r == 0 && (*textp = buf_steal(&b, lenp)) == NULL)
		r = -ENOMEM;
	buf_free(&b);
	return r;
}
