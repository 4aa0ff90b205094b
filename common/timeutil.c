#include "common/timeutil.h"

#include <stdio.h>
#include <sys/time.h>
#include <time.h>

int64_t time_now(void)
{
	return (int64_t)time(NULL);
}

int64_t time_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

uint64_t time_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void time_format_rfc3339(int64_t t, char out[RFC3339_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, RFC3339_LEN, "1970-01-01T00:00:00Z");
}

void time_format_rfc3339_ms(int64_t ms, char out[RFC3339_MS_LEN])
{
	char sec[RFC3339_LEN];
	int64_t s = ms / 1000;

	time_format_rfc3339(s, sec);
	/* "…:SSZ" → "…:SS.mmmZ" */
	snprintf(out, RFC3339_MS_LEN, "%.19s.%03dZ", sec, (int)(ms - s * 1000));
}

struct timespec time_deadline(clockid_t clock, unsigned ms)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}
