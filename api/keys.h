/* /api/v1/keys: API key management over HTTP (role admin). */
#ifndef SUITD_API_KEYS_H
#define SUITD_API_KEYS_H

#include "api/api.h"

enum err api_keys_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_keys_create(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_keys_revoke(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
