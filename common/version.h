#ifndef SUITD_COMMON_VERSION_H
#define SUITD_COMMON_VERSION_H

/* Written by the Makefile from git describe (build/gen), rewritten only
 * when the version changes so that what prints it is rebuilt. */
#include "suitd_version.h"

#endif
