/* /api/v1/deployments and the device check-in GET /device/v1/manifest. */
#ifndef SUITD_API_DEPLOYMENTS_H
#define SUITD_API_DEPLOYMENTS_H

#include "api/api.h"
#include "storage/deployments.h"

enum err api_deployments_create(struct api_ctx *ctx, const struct request *req,
				struct response *res);
enum err api_deployments_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_deployments_get(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_deployments_devices(struct api_ctx *ctx, const struct request *req,
				 struct response *res);
/* Pause ({"reason": "..."} optional) stops new deliveries; resume
 * ({"acknowledge": true} required after an automatic pause). */
enum err api_deployments_pause(struct api_ctx *ctx, const struct request *req,
			       struct response *res);
/* DELETE /api/v1/deployments/{id}: a completed or canceled one. */
enum err api_deployments_delete(struct api_ctx *ctx, const struct request *req,
				struct response *res);
/* POST /api/v1/deployments/{id}/retry: failed and timed-out devices again. */
enum err api_deployments_retry(struct api_ctx *ctx, const struct request *req,
			       struct response *res);
enum err api_deployments_resume(struct api_ctx *ctx, const struct request *req,
				struct response *res);
enum err api_deployments_cancel(struct api_ctx *ctx, const struct request *req,
				struct response *res);
enum err api_checkin(struct api_ctx *ctx, const struct request *req, struct response *res);
/* Seconds until a device's next poll: [devices] poll_interval (or
 * poll_interval_active while an assignment is under way) ± poll_jitter. The
 * device API's check-in and DDI's polling.sleep both use it. */
unsigned deployments_poll_seconds(struct api_ctx *ctx, bool active);

/* A device's group or tags changed (or it was created): join the newest
 * active deployment that targets it. Logs and ignores failures. */
void deployments_device_changed(struct api_ctx *ctx, const char *device_id);
/* The device fetched something its assignment's manifest needs (a payload
 * or a dependency envelope): downloading, and downloaded once the last byte
 * of every need has been served. */
void deployments_fetch(struct api_ctx *ctx, const struct device_ident *device,
		       enum manifest_need kind, int64_t object_id, bool last_byte);
/* The same for a payload (called by the payload route). */
void deployments_payload_fetch(struct api_ctx *ctx, const struct device_ident *device,
			       int64_t payload_id, bool last_byte);

#endif
