/* Operations endpoints: liveness, readiness, Prometheus metrics. */
#ifndef SUITD_API_OPS_H
#define SUITD_API_OPS_H

#include "api/api.h"

enum err api_ops_healthz(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_ops_readyz(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_ops_metrics(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /api/v1/status: version, uptime, schema, and who is asking. */
enum err api_ops_status(struct api_ctx *ctx, const struct request *req, struct response *res);

/* GET /api/v1/overview: devices registered and seen, assignments by state
 * and deployments by status, from counters (the console's overview; each
 * read costs the same at any fleet size, the device counts are /metrics'
 * one-minute cache). */
enum err api_ops_overview(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
