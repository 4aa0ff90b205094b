/* /api/v1/webhooks: signed HTTP deliveries of the event log (role admin). */
#ifndef SUITD_API_WEBHOOKS_H
#define SUITD_API_WEBHOOKS_H

#include "api/api.h"

enum err api_webhooks_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_webhooks_create(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_webhooks_get(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_webhooks_update(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_webhooks_delete(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_webhooks_deliveries(struct api_ctx *ctx, const struct request *req,
				 struct response *res);
enum err api_webhooks_retry(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
