/*
 * log.c - leveled logging.  On stderr each line carries a UTC timestamp, the
 * level and the message; with syslog the timestamp is left to syslog.  Control
 * characters in messages are replaced so one message is always one line.
 * A log file (log_file) takes stderr's place: its descriptor number never
 * changes, and a reopen for logrotate dup3()s the new file onto it, so
 * writers on other threads need no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "distcron/err.h"
#include "distcron/log.h"

static const char *log_ident = "distcron";
static volatile int log_threshold = LOG_LVL_INFO;
static bool log_syslog;
static int log_fd = STDERR_FILENO;	/* a log file's, once opened */
static char log_path[4096];		/* its path, for log_reopen() */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *ident, enum log_level level, bool use_syslog)
{
	log_ident = ident;
	log_threshold = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static int
log_file_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640);

	return fd >= 0 ? fd : -errno;
}

int
log_open_file(const char *path)
{
	int fd;

	if (snprintf(log_path, sizeof(log_path), "%s", path) >=
	    (int)sizeof(log_path)) {
		log_path[0] = '\0';
		return -ENAMETOOLONG;
	}
	if ((fd = log_file_open(path)) < 0) {
		log_path[0] = '\0';
		return fd;
	}
	log_fd = fd;
	return 0;
}

int
log_reopen(void)
{
	int fd, r = 0;

	if (log_path[0] == '\0')
		return 0;
	if ((fd = log_file_open(log_path)) < 0)
		return fd;
	if (dup3(fd, log_fd, O_CLOEXEC) < 0)
		r = -errno;
	close(fd);
	return r;
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return ERR_INVALID;
}

bool
log_enabled(enum log_level level)
{
	return (int)level <= log_threshold;
}

static void
log_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[2048], line[2200];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_sanitize(msg);
	if (log_syslog) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
	    (long)getpid(), level_names[level], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(log_fd, line, (size_t)n);
}
