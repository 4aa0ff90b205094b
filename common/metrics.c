#include "common/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const unsigned statuses[] = {METRICS_STATUSES};
static const uint64_t buckets_us[] = {METRICS_BUCKETS_US};

_Static_assert(sizeof(statuses) / sizeof(statuses[0]) + 1 == METRICS_STATUS_SLOTS,
	       "METRICS_STATUS_SLOTS must match METRICS_STATUSES");
_Static_assert(sizeof(buckets_us) / sizeof(buckets_us[0]) == METRICS_BUCKET_COUNT,
	       "METRICS_BUCKET_COUNT must match METRICS_BUCKETS_US");

int metrics_init(struct metrics *m, const struct metrics_route *routes, unsigned route_count)
{
	*m = (struct metrics){.route_count = route_count, .routes = routes};
	m->requests = calloc(route_count + 1, sizeof(*m->requests));
	if (!m->requests)
		return -1;
	pthread_mutex_init(&m->devices.lock, NULL);
	return 0;
}

void metrics_release(struct metrics *m)
{
	if (!m->requests)
		return;
	free(m->requests);
	m->requests = NULL;
	pthread_mutex_destroy(&m->devices.lock);
}

static unsigned status_slot(unsigned status)
{
	for (unsigned i = 0; i < METRICS_STATUS_SLOTS - 1; i++)
		if (statuses[i] == status)
			return i;
	return METRICS_STATUS_SLOTS - 1;
}

static void histogram_observe(struct metrics_histogram *h, uint64_t usec)
{
	for (unsigned i = 0; i < METRICS_BUCKET_COUNT; i++) {
		if (usec <= buckets_us[i]) {
			atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
			break;
		}
	}
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, usec, memory_order_relaxed);
}

void metrics_request(struct metrics *m, unsigned route, unsigned status, uint64_t usec,
		     uint64_t bytes)
{
	if (route > m->route_count)
		route = m->route_count;
	atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1,
				  memory_order_relaxed);
	histogram_observe(&m->request_duration, usec);
	atomic_fetch_add_explicit(&m->bytes_sent, bytes, memory_order_relaxed);
}

void metrics_tls_handshake(struct metrics *m, bool resumed, uint64_t usec)
{
	atomic_fetch_add_explicit(&m->tls_handshakes, 1, memory_order_relaxed);
	if (resumed)
		atomic_fetch_add_explicit(&m->tls_resumed, 1, memory_order_relaxed);
	histogram_observe(&m->tls_handshake_duration, usec);
}

void metrics_tls_handshake_failed(struct metrics *m)
{
	atomic_fetch_add_explicit(&m->tls_failed, 1, memory_order_relaxed);
}

/* NAME_bucket, _sum and _count lines, after the caller's HELP and TYPE. */
static enum err histogram_render(const struct metrics_histogram *h, const char *name,
				 struct buf *out)
{
	uint64_t cumulative = 0;
	enum err e = ERR_OK;

	for (unsigned i = 0; i < METRICS_BUCKET_COUNT; i++) {
		cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
		METRICS_EMIT(e, out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			     (double)buckets_us[i] / 1e6, cumulative);
	}
	uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
	METRICS_EMIT(e, out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, count);
	METRICS_EMIT(e, out, "%s_sum %.6f\n", name,
		     (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
	METRICS_EMIT(e, out, "%s_count %" PRIu64 "\n", name, count);
	return e;
}

void metrics_report_stored(struct metrics *m, unsigned state)
{
	if (m && state < METRICS_REPORT_STATE_SLOTS)
		atomic_fetch_add_explicit(&m->reports_stored[state], 1, memory_order_relaxed);
}

void metrics_report_unstored(struct metrics *m, bool refused)
{
	if (m)
		atomic_fetch_add_explicit(refused ? &m->reports_refused : &m->reports_duplicate, 1,
					  memory_order_relaxed);
}

void metrics_reports_dropped(struct metrics *m, unsigned n)
{
	if (m)
		atomic_fetch_add_explicit(&m->reports_dropped, n, memory_order_relaxed);
}

enum err metrics_devices_get(struct metrics *m, uint64_t now_usec, metrics_devices_read read,
			     void *cls, struct metrics_devices *ret)
{
	enum err e = ERR_OK;

	pthread_mutex_lock(&m->devices.lock);
	if (!m->devices.read_at_usec ||
	    now_usec - m->devices.read_at_usec >= METRICS_DEVICES_MAX_AGE_USEC) {
		struct metrics_devices v;
		e = read(cls, &v);
		if (!e) {
			m->devices.v = v;
			m->devices.read_at_usec = now_usec ? now_usec : 1;
		}
	}
	if (!e)
		*ret = m->devices.v;
	pthread_mutex_unlock(&m->devices.lock);
	return e;
}

enum err metrics_render(struct metrics *m, struct buf *out, const char *version, int64_t started_at)
{
	enum err e = ERR_OK;

#define EMIT(...) METRICS_EMIT(e, out, __VA_ARGS__)

	EMIT("# HELP suitd_build_info Build information.\n# TYPE suitd_build_info gauge\n"
	     "suitd_build_info{version=\"%s\"} 1\n",
	     version);
	EMIT("# HELP suitd_start_time_seconds Start time of the process since the epoch.\n"
	     "# TYPE suitd_start_time_seconds gauge\nsuitd_start_time_seconds %" PRId64 "\n",
	     started_at);
	EMIT("# HELP suitd_http_requests_total HTTP requests by route and status.\n"
	     "# TYPE suitd_http_requests_total counter\n");
	for (unsigned r = 0; r <= m->route_count; r++) {
		for (unsigned s = 0; s < METRICS_STATUS_SLOTS; s++) {
			uint64_t v = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
			char status[8];
			if (!v)
				continue;
			if (s < METRICS_STATUS_SLOTS - 1)
				snprintf(status, sizeof(status), "%u", statuses[s]);
			else
				snprintf(status, sizeof(status), "other");
			if (r < m->route_count)
				EMIT("suitd_http_requests_total{method=\"%s\",route=\"%s\",status="
				     "\"%s\"} "
				     "%" PRIu64 "\n",
				     m->routes[r].method, m->routes[r].pattern, status, v);
			else
				EMIT("suitd_http_requests_total{method=\"\",route=\"unmatched\","
				     "status=\"%s\"} "
				     "%" PRIu64 "\n",
				     status, v);
		}
	}
	EMIT("# HELP suitd_http_request_duration_seconds Time from request start to response "
	     "queued.\n"
	     "# TYPE suitd_http_request_duration_seconds histogram\n");
	if (!e)
		e = histogram_render(&m->request_duration, "suitd_http_request_duration_seconds",
				     out);
	EMIT("# HELP suitd_tls_handshakes_total TLS handshakes completed, and of those resumed "
	     "(a session ticket: no certificate signature).\n"
	     "# TYPE suitd_tls_handshakes_total counter\n"
	     "suitd_tls_handshakes_total{resumed=\"no\"} %" PRIu64 "\n"
	     "suitd_tls_handshakes_total{resumed=\"yes\"} %" PRIu64 "\n",
	     atomic_load_explicit(&m->tls_handshakes, memory_order_relaxed) -
		     atomic_load_explicit(&m->tls_resumed, memory_order_relaxed),
	     atomic_load_explicit(&m->tls_resumed, memory_order_relaxed));
	EMIT("# HELP suitd_tls_handshakes_failed_total TLS connections closed before their "
	     "handshake completed (a failed handshake, a client that sent nothing and was cut, a "
	     "probe).\n"
	     "# TYPE suitd_tls_handshakes_failed_total counter\n"
	     "suitd_tls_handshakes_failed_total %" PRIu64 "\n",
	     atomic_load_explicit(&m->tls_failed, memory_order_relaxed));
	EMIT("# HELP suitd_tls_handshake_duration_seconds From the accept to the end of the "
	     "handshake (both Finished messages), round trips included.\n"
	     "# TYPE suitd_tls_handshake_duration_seconds histogram\n");
	if (!e)
		e = histogram_render(&m->tls_handshake_duration,
				     "suitd_tls_handshake_duration_seconds", out);
	EMIT("# HELP suitd_http_connections_open Open client connections.\n"
	     "# TYPE suitd_http_connections_open gauge\nsuitd_http_connections_open %" PRId64 "\n",
	     atomic_load_explicit(&m->connections_open, memory_order_relaxed));
	EMIT("# HELP suitd_http_connections_total Client connections accepted.\n"
	     "# TYPE suitd_http_connections_total counter\nsuitd_http_connections_total %" PRIu64
	     "\n",
	     atomic_load_explicit(&m->connections_total, memory_order_relaxed));
	EMIT("# HELP suitd_http_response_bytes_total Response body bytes queued.\n"
	     "# TYPE suitd_http_response_bytes_total counter\nsuitd_http_response_bytes_total "
	     "%" PRIu64 "\n",
	     atomic_load_explicit(&m->bytes_sent, memory_order_relaxed));
	EMIT("# HELP suitd_webhook_deliveries_total Webhook delivery attempts by result: ok "
	     "(2xx), retry (failed, another attempt follows), failed (the last attempt).\n"
	     "# TYPE suitd_webhook_deliveries_total counter\n"
	     "suitd_webhook_deliveries_total{result=\"ok\"} %" PRIu64 "\n"
	     "suitd_webhook_deliveries_total{result=\"retry\"} %" PRIu64 "\n"
	     "suitd_webhook_deliveries_total{result=\"failed\"} %" PRIu64 "\n",
	     atomic_load_explicit(&m->webhook_deliveries[0], memory_order_relaxed),
	     atomic_load_explicit(&m->webhook_deliveries[1], memory_order_relaxed),
	     atomic_load_explicit(&m->webhook_deliveries[2], memory_order_relaxed));
	EMIT("# HELP suitd_webhook_lag_events Events the enabled webhook furthest behind has "
	     "still to deliver.\n"
	     "# TYPE suitd_webhook_lag_events gauge\nsuitd_webhook_lag_events %" PRId64 "\n",
	     atomic_load_explicit(&m->webhook_lag, memory_order_relaxed));
#undef EMIT
	return e;
}
