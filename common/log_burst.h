/* Bursts of one failure (issue 21): during a database outage every request
 * fails the same way, and a log line for each buries the log (journald's
 * own rate limit then drops the lines that matter). A burst of one kind (an
 * enum err) is logged as its first failure, then as one count per interval
 * at most, then as one line at its end. This file only counts; server/
 * writes the lines (STYLE.md "Logging"). Thread-safe; times are monotonic
 * milliseconds passed in, so the tests choose them. */
#ifndef SUITD_COMMON_LOG_BURST_H
#define SUITD_COMMON_LOG_BURST_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct log_burst;

struct log_burst_count {
	unsigned long count; /* failures not logged since the last line */
	unsigned long total; /* failures of the burst, the first included */
	unsigned seconds;    /* from the first failure (or the last line) to now */
};

/* INTERVAL_MS: at most one count line per kind per interval. */
enum err log_burst_new(unsigned interval_ms, struct log_burst **ret_burst);
void log_burst_free(struct log_burst *b);
/* A failure of KIND at NOW_MS: true when it begins a burst (log it in
 * full); false when a burst of KIND is going on (it is counted). */
bool log_burst_hit(struct log_burst *b, enum err kind, uint64_t now_ms);
/* Whether a burst of KIND is going on, and the time of its last failure. */
bool log_burst_active(struct log_burst *b, enum err kind, uint64_t *ret_last_ms);
/* True, with the count (then reset), when failures of KIND were counted
 * and the interval since the burst's start or its last count is over. */
bool log_burst_due(struct log_burst *b, enum err kind, uint64_t now_ms,
		   struct log_burst_count *ret);
/* End KIND's burst: true, with what was not logged yet and the whole
 * burst's total and length, when one was going on. The next failure
 * begins a new burst. */
bool log_burst_end(struct log_burst *b, enum err kind, uint64_t now_ms,
		   struct log_burst_count *ret);

#endif
