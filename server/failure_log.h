/* Requests that fail the same way (issue 21): during a database outage
 * every request answers 503 storage-unavailable, and a log line for each
 * buried the log. A kind of failure (an enum err) is logged in full at its
 * first request, then counted (common/log_burst.h): one line with the count
 * at most every FAILURE_LOG_INTERVAL_MS, one line when the burst ends. At
 * debug level each request's line is kept as well. During an outage, why
 * the database cannot be reached is logged once per distinct reason. */
#ifndef SUITD_SERVER_FAILURE_LOG_H
#define SUITD_SERVER_FAILURE_LOG_H

#include "common/error.h"
#include "storage/storage.h"

#define FAILURE_LOG_INTERVAL_MS 5000

struct failure_log;

/* S: the storage whose outages it reports (pinged by failure_log_tick). */
enum err failure_log_new(struct storage *s, struct failure_log **ret_log);
void failure_log_free(struct failure_log *l);
/* A request that failed with E (5xx); L NULL: every one in full. */
void failure_log_request(struct failure_log *l, enum err e, const char *method, const char *path,
			 const char *detail);
/* Once a second from the main loop: why the database cannot be reached
 * (when that changed), the counts that are due, and the end of each burst:
 * storage-unavailable's when the database answers again (a ping on this
 * thread), any other after an interval without one. */
void failure_log_tick(struct failure_log *l);

#endif
