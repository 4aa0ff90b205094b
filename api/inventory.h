/* The software inventory: GET /api/v1/inventory (which devices run what,
 * with counts) and the "software" of GET /api/v1/devices/{id}. */
#ifndef SUITD_API_INVENTORY_H
#define SUITD_API_INVENTORY_H

#include "api/api.h"

enum err api_inventory_get(struct api_ctx *ctx, const struct request *req, struct response *res);

/* What device num runs, for its document: null (it never confirmed a
 * manifest) or {"manifest", "sequence_number", "since", "name", "version",
 * "coswid" or "components"}. *ret is a new reference. */
enum err api_inventory_device_software(struct api_ctx *ctx, int64_t device_num, json_t **ret);

#endif
