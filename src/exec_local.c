/* exec_local.c - not written yet. */
#include "distcron/err.h"
