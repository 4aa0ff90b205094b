/* /api/v1/payloads and /device/v1/payloads: upload, metadata, download. */
#ifndef SUITD_API_PAYLOADS_H
#define SUITD_API_PAYLOADS_H

#include "api/api.h"

extern const struct api_upload api_payloads_upload;

enum err api_payloads_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_payloads_get(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_payloads_delete(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET/HEAD of the bytes, with Range, If-Range, If-None-Match (both routes). */
enum err api_payloads_content(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
