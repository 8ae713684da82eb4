/*
 * err.h - error codes shared by every distcron module.
 *
 * Functions return 0 on success and a negative value on failure: -errno for
 * system errors, or one of the ERR_* codes below.  err_str() names either kind.
 */
#ifndef DISTCRON_ERR_H
#define DISTCRON_ERR_H

enum {
	ERR_INTERNAL = -1000,	/* a bug or an unexpected library failure */
	ERR_PARSE = -1001,	/* malformed input (syntax) */
	ERR_INVALID = -1002,	/* well-formed input with an invalid value */
	ERR_RANGE = -1003,	/* a number out of its allowed range */
	ERR_NOTFOUND = -1004,	/* no such object */
	ERR_EXISTS = -1005,	/* object already exists */
	ERR_STORE = -1006,	/* the embedded store failed */
	ERR_TOOBIG = -1007,	/* a size cap was reached */
	ERR_NEVER = -1008,	/* a schedule that never fires */
	ERR_TIMEOUT = -1009,	/* an operation ran out of time */
	ERR_EXEC = -1010,	/* a command could not be started */
	ERR_BUSY = -1011,	/* a resource is in use (concurrency limit, lock) */
	ERR_CONFIG = -1012,	/* bad daemon configuration */
	ERR_HOSTKEY = -1013,	/* SSH host key unknown or changed */
	ERR_AUTH = -1014,	/* authentication refused */
	ERR_CONNECT = -1015,	/* a remote host could not be reached */
	ERR_PROTOCOL = -1016,	/* a peer broke its protocol */
	ERR_STORE_FULL = -1017,	/* the store cannot write: disk full */
	ERR_STORE_QUEUE = -1018, /* the store's write queue is at its cap */
};

/* Returns a static description of r (an ERR_* code or -errno); never NULL. */
const char *err_str(int r);

#endif
