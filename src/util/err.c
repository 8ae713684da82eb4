/*
 * err.c - descriptions for error codes.  Negative errno values go through
 * strerror_r() into a thread-local buffer so err_str() is safe in threads.
 */
#include <string.h>

#include "distcron/err.h"

const char *
err_str(int r)
{
	static __thread char buf[128];

	switch (r) {
	case 0:			return "success";
	case ERR_INTERNAL:	return "internal error";
	case ERR_PARSE:		return "parse error";
	case ERR_INVALID:	return "invalid value";
	case ERR_RANGE:		return "value out of range";
	case ERR_NOTFOUND:	return "not found";
	case ERR_EXISTS:	return "already exists";
	case ERR_STORE:		return "store error";
	case ERR_TOOBIG:	return "size limit reached";
	case ERR_NEVER:		return "schedule never fires";
	case ERR_TIMEOUT:	return "timed out";
	case ERR_EXEC:		return "cannot execute";
	case ERR_BUSY:		return "busy";
	case ERR_CONFIG:	return "configuration error";
	case ERR_HOSTKEY:	return "host key not trusted";
	case ERR_AUTH:		return "authentication failed";
	case ERR_CONNECT:	return "cannot connect";
	case ERR_PROTOCOL:	return "protocol error";
	case ERR_STORE_FULL:	return "database or disk is full";
	case ERR_STORE_QUEUE:	return "write queue full";
	}
	if (r < 0 && r > -4096)
		return strerror_r(-r, buf, sizeof(buf));
	return "unknown error";
}
