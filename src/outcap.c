/* outcap.c - not written yet. */
#include "distcron/err.h"
