/* Device reports (the Status Tracker's input) and their history. */
#ifndef SUITD_API_REPORTS_H
#define SUITD_API_REPORTS_H

#include "api/api.h"
#include "storage/reports.h"

/* POST /device/v1/reports (application/json). */
enum err api_reports_post(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /api/v1/devices/{id}/reports: newest first. */
enum err api_reports_list(struct api_ctx *ctx, const struct request *req, struct response *res);
/* Apply and store one report through the state machine
 * (tracker/transitions.c) in the next group commit, answered with
 * ok_status only after that commit: the device API's reports (204) and
 * DDI feedback (200) alike. req->device must be set; req (its body is
 * stored as the report's) stays valid until the answer. */
enum err api_reports_record(struct api_ctx *ctx, const struct request *req, struct response *res,
			    const struct report_new *r, unsigned ok_status);

#endif
