#ifndef SUITD_COMMON_VERSION_H
#define SUITD_COMMON_VERSION_H

/* Set by the Makefile from git describe; this is the fallback. */
#ifndef SUITD_VERSION
#define SUITD_VERSION "0.1.0"
#endif

#endif
