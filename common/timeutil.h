/* Wall-clock and monotonic time helpers. */
#ifndef SUITD_COMMON_TIMEUTIL_H
#define SUITD_COMMON_TIMEUTIL_H

#include <time.h>

#include <stdbool.h>
#include <stdint.h>

#define RFC3339_LEN 21 /* "2026-11-25T20:11:18Z" + NUL */

#define RFC3339_MS_LEN 25 /* "2026-11-25T20:11:18.123Z" + NUL */

int64_t time_now(void);	       /* seconds since the epoch */
int64_t time_now_ms(void);     /* milliseconds since the epoch */
uint64_t time_mono_usec(void); /* monotonic microseconds */
/* UTC "YYYY-MM-DDTHH:MM:SSZ". */
void time_format_rfc3339(int64_t t, char out[RFC3339_LEN]);
/* UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" of milliseconds since the epoch. */
void time_format_rfc3339_ms(int64_t ms, char out[RFC3339_MS_LEN]);

/* Has more than LIMIT microseconds passed from SINCE (0: not started) to
 * NOW? SINCE may be later than NOW when another thread stored it after NOW
 * was read: that is "no", never an unsigned wrap-around. */
static inline bool time_mono_expired(uint64_t now, uint64_t since, uint64_t limit)
{
	return since != 0 && now > since && now - since > limit;
}

/* The time on clock (CLOCK_REALTIME, CLOCK_MONOTONIC) ms milliseconds from
 * now: a deadline for pthread_cond_timedwait(). */
struct timespec time_deadline(clockid_t clock, unsigned ms);

#endif
