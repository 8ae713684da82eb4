/*
 * log.h - one-line log messages to stderr, a file or syslog.
 *
 * Thread-safe: each message is written with a single write(2).  Never pass
 * secrets (tokens, passwords, key material) to these functions.
 */
#ifndef DISTCRON_LOG_H
#define DISTCRON_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Sets the program name, the threshold and the destination. */
void log_init(const char *ident, enum log_level level, bool use_syslog);

/*
 * Sends the lines meant for stderr to the file at path instead: opened for
 * appending, created with mode 0640 (less the umask) if absent.  Call it
 * once, before other threads log.  Returns 0 or -errno (stderr stays).
 */
int log_open_file(const char *path);

/*
 * Opens the log file's path again (after logrotate renamed it away) and
 * puts the new file in the old one's place in one step (dup3), so a line
 * written meanwhile goes to one file or the other, never nowhere.  Does not
 * block beyond open(2).  Returns 0 (also with no log file), or -errno with
 * the old file kept.
 */
int log_reopen(void);

/* Changes the threshold. */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug".  Returns 0 or ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *out);

/* True when messages at level would be written. */
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
