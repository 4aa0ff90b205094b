/* GET /api/v1/devices/export: the registry as NDJSON, one import line per
 * device (never a token), streamed page by page so that memory stays flat
 * at any fleet size. */
#ifndef SUITD_API_DEVICE_EXPORT_H
#define SUITD_API_DEVICE_EXPORT_H

#include "api/api.h"

enum err api_devices_export(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
