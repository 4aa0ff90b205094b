#include "api/ops.h"

#include <inttypes.h>

#include "api/cluster.h"
#include "common/timeutil.h"
#include "common/version.h"
#include "events/stream.h"
#include "storage/batch.h"
#include "storage/fleet_stats.h"
#include "tracker/transitions.h"

_Static_assert(ASSIGN__COUNT <= METRICS_REPORT_STATE_SLOTS,
	       "METRICS_REPORT_STATE_SLOTS must hold every assignment state");

enum err api_ops_healthz(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	(void)ctx;
	(void)req;
	return response_text(res, 200, "text/plain; charset=utf-8", "ok\n");
}

enum err api_ops_readyz(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	(void)req;
	if (storage_ping(ctx->storage) != ERR_OK)
		return api_fail(res, ERR_UNAVAILABLE, "the database does not answer");
	/* Several nodes: after a lost connection this node's memory may miss
	 * other nodes' changes until it has reloaded it (api/cluster.h). */
	if (ctx->cluster && !cluster_follower_ready(ctx->cluster))
		return api_fail(res, ERR_UNAVAILABLE,
				"reloading the check-in index and token cache after a lost "
				"database connection");
	return response_text(res, 200, "text/plain; charset=utf-8", "ready\n");
}

/* What /metrics reads from the database, each at a cost that does not grow
 * with the fleet except the device counts, kept for a minute
 * (docs/operations.md, Monitoring). */
struct fleet {
	struct fleet_deployments deployments;
	struct fleet_assignments assignments;
	struct metrics_devices devices;
	uint64_t db_bytes, db_free_bytes;
};

/* The window of suitd_devices_seen: the longest idle poll interval a device
 * is given ([devices] poll_interval plus poll_jitter %), plus seen_flush,
 * since last-seen times reach the database in batches. */
static int64_t seen_window(const struct config *c)
{
	return (int64_t)c->devices.poll_interval +
	       (int64_t)c->devices.poll_interval * c->devices.poll_jitter / 100 +
	       (int64_t)c->devices.seen_flush;
}

static enum err devices_read(void *cls, struct metrics_devices *ret)
{
	struct api_ctx *ctx = cls;
	uint64_t registered, seen;
	enum err e = storage_fleet_devices(ctx->storage, time_now() - seen_window(ctx->config),
					   &registered, &seen);

	if (!e)
		*ret = (struct metrics_devices){.registered = registered, .seen = seen};
	return e;
}

static enum err fleet_read(struct api_ctx *ctx, struct fleet *f)
{
	enum err e = storage_fleet_deployments(ctx->storage, &f->deployments);

	if (!e)
		e = storage_fleet_assignments(ctx->storage, &f->assignments);
	if (!e)
		e = metrics_devices_get(ctx->metrics, time_mono_usec(), devices_read, ctx,
					&f->devices);
	if (!e)
		e = storage_fleet_database_size(ctx->storage, &f->db_bytes, &f->db_free_bytes);
	return e;
}

static enum err fleet_render(const struct api_ctx *ctx, const struct fleet *f, struct buf *out)
{
	enum err e = ERR_OK;

#define EMIT(...) METRICS_EMIT(e, out, __VA_ARGS__)

	EMIT("# HELP suitd_deployments Deployments by status.\n"
	     "# TYPE suitd_deployments gauge\n");
	for (unsigned i = 0; i < DEPLOYMENT__COUNT; i++)
		EMIT("suitd_deployments{status=\"%s\"} %" PRIu64 "\n",
		     deployment_status_name((enum deployment_status)i),
		     f->deployments.by_status[i]);
	EMIT("# HELP suitd_deployments_auto_paused Deployments suitd paused itself (failures "
	     "beyond failure_threshold) and no operator has resumed or canceled yet.\n"
	     "# TYPE suitd_deployments_auto_paused gauge\n"
	     "suitd_deployments_auto_paused %" PRIu64 "\n",
	     f->deployments.paused_auto);
	EMIT("# HELP suitd_assignments Assignments by state, of every deployment in the "
	     "database.\n"
	     "# TYPE suitd_assignments gauge\n");
	for (unsigned i = 0; i < ASSIGN__COUNT; i++)
		EMIT("suitd_assignments{state=\"%s\"} %" PRIu64 "\n",
		     assignment_state_name((enum assignment_state)i), f->assignments.by_state[i]);
	EMIT("# HELP suitd_reports_stored_total Stored device reports by the state they "
	     "report.\n"
	     "# TYPE suitd_reports_stored_total counter\n");
	for (unsigned i = 0; i < ASSIGN__COUNT; i++)
		if (report_state_reportable((enum assignment_state)i))
			EMIT("suitd_reports_stored_total{state=\"%s\"} %" PRIu64 "\n",
			     assignment_state_name((enum assignment_state)i),
			     atomic_load_explicit(&ctx->metrics->reports_stored[i],
						  memory_order_relaxed));
	EMIT("# HELP suitd_devices Registered devices (read at most once a minute).\n"
	     "# TYPE suitd_devices gauge\n"
	     "suitd_devices %" PRIu64 "\n"
	     "# HELP suitd_devices_seen Devices seen in the last %" PRId64 " s: [devices] "
	     "poll_interval plus poll_jitter plus seen_flush (read at most once a minute).\n"
	     "# TYPE suitd_devices_seen gauge\n"
	     "suitd_devices_seen %" PRIu64 "\n",
	     f->devices.registered, seen_window(ctx->config), f->devices.seen);
	EMIT("# HELP suitd_database_size_bytes Size of the database ([storage] database), "
	     "WAL content included.\n"
	     "# TYPE suitd_database_size_bytes gauge\n"
	     "suitd_database_size_bytes %" PRIu64 "\n"
	     "# HELP suitd_database_free_bytes Free pages inside it, reused before it "
	     "grows.\n"
	     "# TYPE suitd_database_free_bytes gauge\n"
	     "suitd_database_free_bytes %" PRIu64 "\n"
	     "# HELP suitd_database_max_size_bytes [storage] max_size (0: no cap).\n"
	     "# TYPE suitd_database_max_size_bytes gauge\n"
	     "suitd_database_max_size_bytes %" PRIu64 "\n",
	     f->db_bytes, f->db_free_bytes, ctx->config->storage.max_size);
#undef EMIT
	return e;
}

enum err api_ops_metrics(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct fleet f;
	enum err e;

	(void)req;
	/* First: a database that cannot be read fails the scrape (503, like
	 * /readyz), so Prometheus records the target as down. */
	if ((e = fleet_read(ctx, &f)))
		return api_fail(res, ERR_UNAVAILABLE, "cannot read the fleet counts: %s",
				err_title(e));
	e = metrics_render(ctx->metrics, &res->body, SUITD_VERSION, ctx->started_at);
	if (!e && ctx->reports) {
		/* Group commit of reports: jobs / commits is the mean batch size. */
		struct batch_stats bs;
		batcher_stats(ctx->reports, &bs);
		e = buf_printf(&res->body,
			       "# HELP suitd_reports_written_total Device reports through the "
			       "group commit (stored or refused).\n"
			       "# TYPE suitd_reports_written_total counter\n"
			       "suitd_reports_written_total %llu\n"
			       "# HELP suitd_report_commits_total Transactions that committed "
			       "them.\n"
			       "# TYPE suitd_report_commits_total counter\n"
			       "suitd_report_commits_total %llu\n"
			       "# HELP suitd_report_batch_reruns_total Batches run again job by "
			       "job after one of their segments failed.\n"
			       "# TYPE suitd_report_batch_reruns_total counter\n"
			       "suitd_report_batch_reruns_total %llu\n",
			       bs.jobs, bs.commits, bs.reruns);
	}
	/* Stored is the sum of the stored reports by state. */
	unsigned long long stored = 0;
	for (unsigned i = 0; i < METRICS_REPORT_STATE_SLOTS; i++)
		stored += atomic_load_explicit(&ctx->metrics->reports_stored[i],
					       memory_order_relaxed);
	if (!e)
		e = buf_printf(
			&res->body,
			"# HELP suitd_reports_total Device reports answered, by outcome: stored, "
			"duplicate (an exact replay or the final state again: accepted, nothing "
			"written) or refused (409).\n"
			"# TYPE suitd_reports_total counter\n"
			"suitd_reports_total{outcome=\"stored\"} %llu\n"
			"suitd_reports_total{outcome=\"duplicate\"} %llu\n"
			"suitd_reports_total{outcome=\"refused\"} %llu\n"
			"# HELP suitd_reports_dropped_total Stored reports dropped, oldest first, "
			"to "
			"keep a device within [devices] report_history and report_history_size.\n"
			"# TYPE suitd_reports_dropped_total counter\n"
			"suitd_reports_dropped_total %llu\n",
			stored, (unsigned long long)atomic_load(&ctx->metrics->reports_duplicate),
			(unsigned long long)atomic_load(&ctx->metrics->reports_refused),
			(unsigned long long)atomic_load(&ctx->metrics->reports_dropped));
	if (!e)
		e = buf_printf(&res->body,
			       "# HELP suitd_uploads_in_progress Payload uploads under way "
			       "(at most [payloads] max_uploads).\n"
			       "# TYPE suitd_uploads_in_progress gauge\n"
			       "suitd_uploads_in_progress %u\n",
			       atomic_load(&ctx->uploads_active));
	if (!e)
		e = cluster_metrics_render(ctx->cluster, &res->body);
	if (!e) {
		struct storage_wal_stats ws;
		storage_wal_stats(ctx->storage, &ws);
		e = buf_printf(&res->body,
			       "# HELP suitd_wal_checkpoints_total WAL checkpoints, by the "
			       "checkpoint thread (background) or by a committing request "
			       "(inline).\n"
			       "# TYPE suitd_wal_checkpoints_total counter\n"
			       "suitd_wal_checkpoints_total{by=\"background\"} %llu\n"
			       "suitd_wal_checkpoints_total{by=\"inline\"} %llu\n"
			       "# HELP suitd_wal_writer_waits_total Commits that found the WAL "
			       "at 64 MiB and waited for the checkpoint thread.\n"
			       "# TYPE suitd_wal_writer_waits_total counter\n"
			       "suitd_wal_writer_waits_total %llu\n",
			       ws.background_checkpoints, ws.inline_checkpoints, ws.writer_waits);
	}
	if (!e && ctx->events) {
		struct event_hub_stats hs;
		event_hub_stats(ctx->events, &hs);
		e = buf_printf(&res->body,
			       "# HELP suitd_event_streams Open GET /api/v1/events streams (at "
			       "most [events] max_streams).\n"
			       "# TYPE suitd_event_streams gauge\n"
			       "suitd_event_streams %u\n"
			       "# HELP suitd_events_streamed_total Events queued on event "
			       "streams, all streams together.\n"
			       "# TYPE suitd_events_streamed_total counter\n"
			       "suitd_events_streamed_total %llu\n"
			       "# HELP suitd_event_stream_overflows_total Streams ended because "
			       "their client fell [events] stream_buffer behind.\n"
			       "# TYPE suitd_event_stream_overflows_total counter\n"
			       "suitd_event_stream_overflows_total %llu\n"
			       "# HELP suitd_event_streams_refused_total Streams refused by "
			       "[events] max_streams (503).\n"
			       "# TYPE suitd_event_streams_refused_total counter\n"
			       "suitd_event_streams_refused_total %llu\n",
			       hs.streams, hs.events, hs.overflows, hs.refused);
	}
	if (!e)
		e = fleet_render(ctx, &f, &res->body);
	if (e)
		return e;
	res->status = 200;
	res->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return ERR_OK;
}

enum err api_ops_status(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	char started[RFC3339_LEN];
	unsigned have = 0, want = 0;
	enum err e = storage_schema_version(ctx->storage, &have, &want);

	if (e)
		return api_fail(res, e, "cannot read the schema version");
	time_format_rfc3339(ctx->started_at, started);
	return response_json(res, 200,
			     json_pack("{s:s, s:s, s:I, s:i, s:{s:s, s:s}}", "version",
				       SUITD_VERSION, "started_at", started, "uptime_seconds",
				       (json_int_t)(time_now() - ctx->started_at), "schema_version",
				       (int)have, "key", "name", req->key ? req->key->name : "",
				       "role", req->key ? role_name(req->key->role) : "none"));
}

enum err api_ops_overview(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct fleet_deployments deployments;
	struct fleet_assignments assignments;
	struct metrics_devices devices;
	json_t *states, *statuses;
	enum err e;

	(void)req;
	if ((e = storage_fleet_deployments(ctx->storage, &deployments)) ||
	    (e = storage_fleet_assignments(ctx->storage, &assignments)) ||
	    (e = metrics_devices_get(ctx->metrics, time_mono_usec(), devices_read, ctx, &devices)))
		return api_fail(res, e, "cannot read the fleet counts");
	if (!(states = json_object()) || !(statuses = json_object())) {
		json_decref(states);
		return api_fail(res, ERR_NOMEM, "out of memory");
	}
	for (int s = 0; s < ASSIGN__COUNT; s++)
		json_object_set_new(states, assignment_state_name((enum assignment_state)s),
				    json_integer((json_int_t)assignments.by_state[s]));
	for (int s = 0; s < DEPLOYMENT__COUNT; s++)
		json_object_set_new(statuses, deployment_status_name((enum deployment_status)s),
				    json_integer((json_int_t)deployments.by_status[s]));
	return response_json(res, 200,
			     json_pack("{s:{s:I, s:I}, s:o, s:o, s:I}", "devices", "registered",
				       (json_int_t)devices.registered, "seen",
				       (json_int_t)devices.seen, "assignments", states,
				       "deployments", statuses, "paused_auto",
				       (json_int_t)deployments.paused_auto));
}
