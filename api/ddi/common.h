/* Helpers shared by the DDI handlers (api/ddi/ only). */
#ifndef SUITD_API_DDI_COMMON_H
#define SUITD_API_DDI_COMMON_H

#include "api/ddi/ddi.h"
#include "storage/ddi.h"

#define DDI_URL_MAX 512

/* "<origin>/<tenant>/controller/v1/<controllerId>": [server] public_url, or
 * the request's Host (checked) with the listener's scheme. */
enum err ddi_base_url(struct api_ctx *ctx, const struct request *req, char out[DDI_URL_MAX]);

/* The actionId path segment (params[2]): a positive decimal. */
bool ddi_action_id(const struct request *req, int64_t *ret);

/* A link object {"href": "<base><suffix>"}. */
json_t *ddi_link(const char *base, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An artifact's file name: the payload's name at upload when it is one
 * path segment of [A-Za-z0-9._+-] (not "." or ".."), else its SHA-256 in
 * hex. SWUpdate installs only names ending in .swu: name payloads for it. */
void ddi_artifact_name(const struct ddi_artifact *a, char out[PAYLOAD_NAME_MAX + 1]);

/* A feedback body (hawkBit's DdiActionFeedback): a JSON object whose
 * status.execution is a string, status.result an object if present, its
 * finished a string ("none" when absent), status.details an array if
 * present. Unknown members (the legacy "id" and "time" of SWUpdate and
 * RAUC) are ignored, as hawkBit does. *ret_body holds the strings. */
enum err ddi_feedback_parse(const struct request *req, struct response *res, json_t **ret_body,
			    const char **ret_execution, const char **ret_finished);

#endif
