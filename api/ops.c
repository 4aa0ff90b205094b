#include "api/ops.h"

#include "common/timeutil.h"
#include "common/version.h"
#include "storage/batch.h"

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
	return response_text(res, 200, "text/plain; charset=utf-8", "ready\n");
}

enum err api_ops_metrics(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	enum err e;

	(void)req;
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
			       "suitd_report_commits_total %llu\n",
			       bs.jobs, bs.commits);
	}
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
			atomic_load(&ctx->report_outcomes.stored),
			atomic_load(&ctx->report_outcomes.duplicate),
			atomic_load(&ctx->report_outcomes.refused),
			atomic_load(&ctx->report_outcomes.dropped));
	if (!e)
		e = buf_printf(&res->body,
			       "# HELP suitd_uploads_in_progress Payload uploads under way "
			       "(at most [payloads] max_uploads).\n"
			       "# TYPE suitd_uploads_in_progress gauge\n"
			       "suitd_uploads_in_progress %u\n",
			       atomic_load(&ctx->uploads_active));
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
