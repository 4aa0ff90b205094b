/* Process-wide counters for /metrics (Prometheus text format). Atomics only:
 * request threads update them without locks. */
#ifndef SUITD_COMMON_METRICS_H
#define SUITD_COMMON_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/buf.h"

/* Status codes counted one by one; anything else lands in "other". */
#define METRICS_STATUSES \
	200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 409, 413, 415, 416, 422, 429, 500, 503
#define METRICS_STATUS_SLOTS 19 /* the list above + other */
/* Request duration histogram upper bounds, in microseconds. */
#define METRICS_BUCKETS_US                                                                     \
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, \
		2500000, 10000000
#define METRICS_BUCKET_COUNT 15

struct metrics_route {
	const char *method;
	const char *pattern;
};

struct metrics {
	unsigned route_count; /* the last slot counts requests that matched no route */
	const struct metrics_route *routes;
	_Atomic uint64_t (*requests)[METRICS_STATUS_SLOTS];
	_Atomic uint64_t duration_buckets[METRICS_BUCKET_COUNT];
	_Atomic uint64_t duration_count;
	_Atomic uint64_t duration_sum_us;
	_Atomic int64_t connections_open;
	_Atomic uint64_t connections_total;
	_Atomic uint64_t bytes_sent;
};

/* routes: route_count entries, owned by the caller and outliving metrics. */
int metrics_init(struct metrics *m, const struct metrics_route *routes, unsigned route_count);
void metrics_release(struct metrics *m);
/* route == route_count for unmatched requests. */
void metrics_request(struct metrics *m, unsigned route, unsigned status, uint64_t usec,
		     uint64_t bytes);
enum err metrics_render(struct metrics *m, struct buf *out, const char *version,
			int64_t started_at);

#endif
