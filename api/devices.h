/* /api/v1/devices (the registry) and /device/v1/whoami. */
#ifndef SUITD_API_DEVICES_H
#define SUITD_API_DEVICES_H

#include "api/api.h"

enum err api_devices_create(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_get(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /api/v1/devices/{id}/assignments: every deployment that included the
 * device, oldest first, keyset-paged (the console's assignment timeline). */
enum err api_devices_assignments(struct api_ctx *ctx, const struct request *req,
				 struct response *res);
enum err api_devices_update(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_delete(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_token(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /device/v1/whoami: the identity a device is known by. */
enum err api_devices_whoami(struct api_ctx *ctx, const struct request *req, struct response *res);

/* Create a device with a new token (CLI and API share it). */
enum err devices_add(struct storage *s, const struct device_new *d, const char *actor,
		     char token[SECRET_TEXT_MAX]);

#endif
