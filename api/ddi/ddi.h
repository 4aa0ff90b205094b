/* The hawkBit Direct Device Integration API (DDI): a thin adapter that shows
 * suitd's devices, assignments and payloads in DDI's shapes under
 * /{tenant}/controller/v1/{controllerId} (docs/ddi.md; the contract as read
 * from hawkBit's and its clients' code: /work/shared/ddi.md). A DDI action
 * is an assignment (actionId = assignment id), a chunk the manifest, an
 * artifact a payload the manifest fetches; feedback goes through the same
 * state machine as the device API's reports. Every handler's params are
 * tenant, controllerId, then the path's own. */
#ifndef SUITD_API_DDI_DDI_H
#define SUITD_API_DDI_DDI_H

#include "api/api.h"
#include "api/auth.h"
#include "storage/deployments.h"

/* Read [ddi] gateway_token_file into ctx (its SHA-256 only). Startup:
 * ERR_CONFIG with d set when the file is unreadable or holds no token. */
enum err ddi_gateway_load(struct api_ctx *ctx, struct diag *d);

/* Authenticate a DDI request: [ddi] enabled and the tenant (404 otherwise);
 * then "TargetToken <device token>", "GatewayToken <token>", the client
 * certificate, or nothing when [ddi] anonymous (401 otherwise). A device
 * identity must name the controllerId (403 otherwise); a gateway or
 * anonymous request acts for the controllerId, registered when [devices]
 * auto_register is on (404 otherwise). */
enum err ddi_auth_require(struct api_ctx *ctx, const struct device_cert *cert,
			  const char *authorization, const char *tenant, const char *controller,
			  struct device_ident *ret_device, struct response *res);

/* GET {base}: polling.sleep and the links that apply. */
enum err api_ddi_poll(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET {base}/deploymentBase/{actionId} */
enum err api_ddi_deployment(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET {base}/installedBase/{actionId} */
enum err api_ddi_installed(struct api_ctx *ctx, const struct request *req, struct response *res);
/* POST {base}/deploymentBase/{actionId}/feedback */
enum err api_ddi_feedback(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET {base}/cancelAction/{actionId} */
enum err api_ddi_cancel(struct api_ctx *ctx, const struct request *req, struct response *res);
/* POST {base}/cancelAction/{actionId}/feedback */
enum err api_ddi_cancel_feedback(struct api_ctx *ctx, const struct request *req,
				 struct response *res);
/* PUT {base}/configData */
enum err api_ddi_config_data(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET {base}/softwaremodules/{smId}/artifacts/{fileName} (and .MD5SUM) */
enum err api_ddi_artifact(struct api_ctx *ctx, const struct request *req, struct response *res);

/* The feedback of a DDI client as a state of suitd's model (pure; unit
 * tested): execution and finished as DDI names them, the assignment's
 * current state. false: not a known execution/finished value. *ret_note:
 * what the report's reason says when the state alone does not (static). */
bool ddi_feedback_state(const char *execution, const char *finished, enum assignment_state current,
			enum assignment_state *ret_state, const char **ret_note);

#endif
