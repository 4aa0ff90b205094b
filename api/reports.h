/* Device reports (the Status Tracker's input) and their history. */
#ifndef SUITD_API_REPORTS_H
#define SUITD_API_REPORTS_H

#include "api/api.h"

/* POST /device/v1/reports (application/json). */
enum err api_reports_post(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /api/v1/devices/{id}/reports: newest first. */
enum err api_reports_list(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
