/*
 * fuzz_config.c - libFuzzer target for the daemon's config file parser
 * (JSON with comments): each input is the file given to
 * "distcrond --config FILE" (an in-memory file, no disk).  Checks: a
 * loaded config has every setting set and in its documented range and
 * names the file; a refused one has an error that is a single printable
 * line starting with the file's name, as the daemon prints it.
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "distcron/config.h"
#include "distcron/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			abort();
}

static void
check_range(int64_t v, int64_t min, int64_t max)
{
	if (v < min || v > max)
		abort();
}

/* What config.c's table promises for a loaded config. */
static void
check_config(const struct config *c, const char *path)
{
	if (c->jobs_dir == NULL || c->nodes_dir == NULL ||
	    c->state_dir == NULL || c->listen == NULL ||
	    c->timezone == NULL || c->api_token == NULL ||
	    c->api_read_token == NULL || c->tls_cert == NULL ||
	    c->tls_key == NULL || c->es_host == NULL ||
	    c->config_file == NULL || strcmp(c->config_file, path) != 0)
		abort();
	check_range(c->log_level, LOG_LVL_ERROR, LOG_LVL_DEBUG);
	check_range(c->max_concurrent_runs, 1, 1000000);
	check_range(c->api_body_max, 1024, 64 * 1024 * 1024);
	check_range(c->api_threads, 1, 64);
	check_range(c->api_nice, -20, 19);
	check_range(c->scheduler_nice, -20, 19);
	check_range(c->es_port, 1, 65535);
	check_range(c->shutdown_grace_ms, 0, INT64_MAX);
	check_range(c->reload_delay_ms, 0, INT64_MAX);
	check_range(c->ssh_idle_timeout_ms, 0, INT64_MAX);
	check_range(c->ssh_keepalive_ms, 0, INT64_MAX);
	check_range(c->node_check_ms, 0, INT64_MAX);
	check_range(c->node_check_max_ms, 0, INT64_MAX);
	check_range(c->notify_min_interval_ms, 0, INT64_MAX);
	check_range(c->statsd.port, 1, 65535);
	if (c->statsd.prefix == NULL || (c->smtp.url != NULL &&
	    (c->smtp.from == NULL || (strncasecmp(c->smtp.url, "smtp://", 7) &&
	    strncasecmp(c->smtp.url, "smtps://", 8)))))
		abort();
	if (c->notify != NULL && (c->notify->on & ~0x1fu) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	char *argv[] = { "distcrond", "--config", path, NULL };
	char *envp[] = { NULL };
	struct config cfg;
	char err[512];

	if (fd == -1) {
		if ((fd = memfd_create("distcrond.conf", 0)) == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		log_init("fuzz", LOG_LVL_ERROR, false);	/* no warnings */
	}
	if (ftruncate(fd, 0) != 0 || (size > 0 &&
	    pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	err[0] = '\0';
	if (config_load(&cfg, 3, argv, envp, err, sizeof(err)) == 0) {
		check_config(&cfg, path);
	} else {
		check_line(err);
		if (strncmp(err, path, strlen(path)) != 0 ||
		    strncmp(err + strlen(path), ": ", 2) != 0)
			abort();
	}
	config_free(&cfg);
	return 0;
}
