/* The event log over HTTP: GET /api/v1/audit (admin actions, newest first)
 * and GET /api/v1/events (Server-Sent Events, events/stream.h). */
#ifndef SUITD_API_EVENTS_H
#define SUITD_API_EVENTS_H

#include "api/api.h"

enum err api_audit_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_events_stream(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
