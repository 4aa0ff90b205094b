/* Wall-clock and monotonic time helpers. */
#ifndef SUITD_COMMON_TIMEUTIL_H
#define SUITD_COMMON_TIMEUTIL_H

#include <stdint.h>

#define RFC3339_LEN 21 /* "2026-11-25T20:11:18Z" + NUL */

int64_t time_now(void);	       /* seconds since the epoch */
uint64_t time_mono_usec(void); /* monotonic microseconds */
/* UTC "YYYY-MM-DDTHH:MM:SSZ". */
void time_format_rfc3339(int64_t t, char out[RFC3339_LEN]);

#endif
