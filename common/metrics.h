/* Process-wide counters for /metrics (Prometheus text format). Atomics only:
 * request threads update them without locks. */
#ifndef SUITD_COMMON_METRICS_H
#define SUITD_COMMON_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

/* Status codes counted one by one; anything else lands in "other". */
#define METRICS_STATUSES                                                                          \
	200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 409, 413, 415, 416, 422, 429, 500, 503, \
		507
#define METRICS_STATUS_SLOTS 20 /* the list above + other */
/* Request duration histogram upper bounds, in microseconds. */
#define METRICS_BUCKETS_US                                                                     \
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, \
		2500000, 10000000
#define METRICS_BUCKET_COUNT 15

/* Stored device reports by the state they report: one slot per value of
 * enum assignment_state (storage/deployments.h; api/ops.c asserts it fits). */
#define METRICS_REPORT_STATE_SLOTS 16

/* How long the device counts of /metrics are kept: reading them counts index
 * entries, O(devices), so a scrape reads them at most once a minute. */
#define METRICS_DEVICES_MAX_AGE_USEC (60 * 1000000ull)

struct metrics_devices {
	uint64_t registered;
	uint64_t seen; /* last check-in within the window api/ops.c gives */
};

/* Reads the device counts (from storage) into *ret. */
typedef enum err (*metrics_devices_read)(void *cls, struct metrics_devices *ret);

struct metrics_route {
	const char *method;
	const char *pattern;
};

/* A latency histogram over METRICS_BUCKETS_US. */
struct metrics_histogram {
	_Atomic uint64_t buckets[METRICS_BUCKET_COUNT];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;
};

struct metrics {
	unsigned route_count; /* the last slot counts requests that matched no route */
	const struct metrics_route *routes;
	_Atomic uint64_t (*requests)[METRICS_STATUS_SLOTS];
	struct metrics_histogram request_duration;
	/* TLS handshakes: completed (of which resumed), and connections closed
	 * before theirs completed (failed, cut by the guard, probes). */
	_Atomic uint64_t tls_handshakes, tls_resumed, tls_failed;
	struct metrics_histogram tls_handshake_duration; /* accept to both Finished */
	_Atomic int64_t connections_open;
	_Atomic uint64_t connections_total;
	_Atomic uint64_t bytes_sent;
	/* Device reports: stored, by the state they report (their sum is the
	 * "stored" outcome); accepted without a row (an exact replay or the
	 * closing state again); refused (409); older rows the per-device bound
	 * dropped. */
	_Atomic uint64_t reports_stored[METRICS_REPORT_STATE_SLOTS];
	_Atomic uint64_t reports_duplicate, reports_refused, reports_dropped;
	/* Webhook attempts by result (enum webhook_result: ok, retry, failed)
	 * and the events the enabled webhook furthest behind has still to
	 * handle (events/webhooks.c). */
	_Atomic uint64_t webhook_deliveries[3];
	_Atomic int64_t webhook_lag;
	struct {
		pthread_mutex_t lock;  /* one read at a time; the others wait for it */
		uint64_t read_at_usec; /* monotonic; 0 = never read */
		struct metrics_devices v;
	} devices;
};

/* Append to out while e is ERR_OK: the renderers of /metrics write many
 * pieces and look at the error once. */
#define METRICS_EMIT(e, out, ...)                             \
	do {                                                  \
		if (!(e))                                     \
			(e) = buf_printf((out), __VA_ARGS__); \
	} while (0)

/* routes: route_count entries, owned by the caller and outliving metrics. */
int metrics_init(struct metrics *m, const struct metrics_route *routes, unsigned route_count);
void metrics_release(struct metrics *m);
/* route == route_count for unmatched requests. */
void metrics_request(struct metrics *m, unsigned route, unsigned status, uint64_t usec,
		     uint64_t bytes);
/* A device report answered without a new row: refused (409) or accepted
 * as a duplicate. m may be NULL, as for the two below. */
void metrics_report_unstored(struct metrics *m, bool refused);
/* Older reports the per-device history bound dropped. */
void metrics_reports_dropped(struct metrics *m, unsigned n);
/* A TLS handshake completed, usec after the accept. */
void metrics_tls_handshake(struct metrics *m, bool resumed, uint64_t usec);
/* A TLS connection closed before its handshake completed. */
void metrics_tls_handshake_failed(struct metrics *m);
/* A stored device report that reported `state` (enum assignment_state). m may
 * be NULL (a context without metrics). */
void metrics_report_stored(struct metrics *m, unsigned state);
/* The device counts: the cached ones when read less than
 * METRICS_DEVICES_MAX_AGE_USEC before now_usec (monotonic), else read() now.
 * A failed read leaves the cache as it was and returns its error. */
enum err metrics_devices_get(struct metrics *m, uint64_t now_usec, metrics_devices_read read,
			     void *cls, struct metrics_devices *ret);
enum err metrics_render(struct metrics *m, struct buf *out, const char *version,
			int64_t started_at);

#endif
