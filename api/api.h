/* The context every handler receives, and the handler signature. */
#ifndef SUITD_API_API_H
#define SUITD_API_API_H

#include <stdatomic.h>
#include <stdint.h>

#include "api/http.h"
#include "common/metrics.h"
#include "config/config.h"
#include "storage/storage.h"

struct manifest_policy_holder;
struct seen_tracker;
struct assignment_index;
struct token_cache;
struct batcher;
struct webhook_worker;
struct event_hub;
struct fanout;
struct ddi_poll_cache;
struct cluster_follower;

struct api_ctx {
	const struct config *config;
	/* Trust anchors and manifest rules: replaced on SIGHUP. */
	struct manifest_policy_holder *manifests;
	/* Device last-seen times, flushed in batches. */
	struct seen_tracker *seen;
	/* Active assignments by device, for check-ins without SQL. */
	struct assignment_index *assignments;
	/* Device token → identity; cleared when tokens or identities change. */
	struct token_cache *tokens;
	struct storage *storage;
	/* Group commit of device reports (storage/batch.h). */
	struct batcher *reports;
	/* Writes payload chunks while the upload thread receives more (may be
	 * NULL: then the upload thread writes them). */
	struct batcher *uploads;
	/* Reads the next block of each download while the daemon sends the
	 * current one (storage/readahead.h; NULL: reads in place). */
	struct readahead *readahead;
	/* Uploads in progress, against [payloads] max_uploads. */
	atomic_uint uploads_active;
	struct metrics *metrics;
	/* The webhook delivery thread (events/webhooks.h; NULL: none). */
	struct webhook_worker *webhooks;
	/* The live event streams of GET /api/v1/events (events/stream.h). */
	struct event_hub *events;
	/* Inserts a large deployment's assignments in slices (tracker/fanout.h;
	 * NULL: on the request's thread). */
	struct fanout *fanout;
	/* Follows other nodes' commits on a shared database (api/cluster.h;
	 * NULL: one node). */
	struct cluster_follower *cluster;
	int64_t started_at;
	/* [ddi] gateway_token_file: the SHA-256 of the tenant's GatewayToken
	 * (api/ddi/auth.c loads it at start). */
	bool ddi_gateway;
	uint8_t ddi_gateway_hash[32];
	/* What DDI polls show beyond the assignment index (NULL: read each
	 * time; api/ddi/poll_cache.h). */
	struct ddi_poll_cache *ddi_polls;
	/* Bursts of one failure, logged once (server/failure_log.h; NULL:
	 * each in full). */
	struct failure_log *failures;
};

typedef enum err (*api_handler)(struct api_ctx *ctx, const struct request *req,
				struct response *res);

/* A route whose request body is streamed to the handler instead of being
 * buffered (payload uploads). */
struct api_upload {
	/* After authentication, before any body byte: may refuse (413 from
	 * Content-Length, 415, 400) by returning an error with res set. */
	enum err (*begin)(struct api_ctx *ctx, const struct request *req, struct response *res,
			  void **ret_state);
	/* Each piece of the body as it arrives. */
	enum err (*data)(void *state, const char *data, size_t len, struct response *res);
	/* After the last byte: fills the response. */
	enum err (*finish)(struct api_ctx *ctx, const struct request *req, void *state,
			   struct response *res);
	/* Exactly once after a successful begin, whatever happened since
	 * (finished, failed, client gone). */
	void (*release)(void *state);
};

#endif
