/* Every route of the daemon. api/openapi.yaml describes exactly these (a
 * test compares the two). */
#include "api/ddi/ddi.h"
#include "api/deployments.h"
#include "api/device_export.h"
#include "api/device_import.h"
#include "api/devices.h"
#include "api/events.h"
#include "api/inventory.h"
#include "api/keys.h"
#include "api/manifests.h"
#include "api/ops.h"
#include "api/payloads.h"
#include "api/reports.h"
#include "api/ui_assets.h"
#include "api/ui_session.h"
#include "api/webhooks.h"
#include "server/router.h"

static bool payloads_anonymous(const struct config *config)
{
	return config->payloads.anonymous_download;
}

/* The base of hawkBit DDI's routes (api/ddi/ddi.h). */
#define DDI "/{tenant}/controller/v1/{controllerId}"

const struct route routes[] = {
	{HTTP_GET, "/healthz", api_ops_healthz, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/readyz", api_ops_readyz, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/metrics", api_ops_metrics, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/status", api_ops_status, AUTH_KEY, ROLE_READER, BODY_NONE, NULL, NULL,
	 NULL},
	{HTTP_GET, "/api/v1/keys", api_keys_list, AUTH_KEY, ROLE_ADMIN, BODY_NONE, NULL, NULL,
	 "limit after"},
	{HTTP_POST, "/api/v1/keys", api_keys_create, AUTH_KEY, ROLE_ADMIN, BODY_BUFFERED, NULL,
	 NULL, NULL},
	{HTTP_DELETE, "/api/v1/keys/{name}", api_keys_revoke, AUTH_KEY, ROLE_ADMIN, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_GET, "/api/v1/webhooks", api_webhooks_list, AUTH_KEY, ROLE_ADMIN, BODY_NONE, NULL,
	 NULL, "limit after"},
	{HTTP_POST, "/api/v1/webhooks", api_webhooks_create, AUTH_KEY, ROLE_ADMIN, BODY_BUFFERED,
	 NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/webhooks/{id}", api_webhooks_get, AUTH_KEY, ROLE_ADMIN, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_PATCH, "/api/v1/webhooks/{id}", api_webhooks_update, AUTH_KEY, ROLE_ADMIN,
	 BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_DELETE, "/api/v1/webhooks/{id}", api_webhooks_delete, AUTH_KEY, ROLE_ADMIN, BODY_NONE,
	 NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/webhooks/{id}/deliveries", api_webhooks_deliveries, AUTH_KEY,
	 ROLE_ADMIN, BODY_NONE, NULL, NULL, "limit before event"},
	{HTTP_POST, "/api/v1/webhooks/{id}/deliveries/{n}/retry", api_webhooks_retry, AUTH_KEY,
	 ROLE_ADMIN, BODY_NONE, NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/payloads", NULL, AUTH_KEY, ROLE_OPERATOR, BODY_STREAM,
	 &api_payloads_upload, NULL, "name"},
	{HTTP_GET, "/api/v1/payloads", api_payloads_list, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL, "limit after"},
	{HTTP_GET, "/api/v1/payloads/{sha256}", api_payloads_get, AUTH_KEY, ROLE_READER, BODY_NONE,
	 NULL, NULL, NULL},
	{HTTP_DELETE, "/api/v1/payloads/{sha256}", api_payloads_delete, AUTH_KEY, ROLE_ADMIN,
	 BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/payloads/{sha256}/content", api_payloads_content, AUTH_KEY, ROLE_READER,
	 BODY_NONE, NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/manifests", NULL, AUTH_KEY, ROLE_OPERATOR, BODY_STREAM,
	 &api_manifests_upload, NULL, NULL},
	{HTTP_GET, "/api/v1/manifests", api_manifests_list, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL, "limit after vendor_id class_id"},
	{HTTP_GET, "/api/v1/manifests/{digest}", api_manifests_get, AUTH_KEY, ROLE_READER,
	 BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/manifests/{digest}/envelope", api_manifests_envelope, AUTH_KEY,
	 ROLE_READER, BODY_NONE, NULL, NULL, "sever"},
	{HTTP_DELETE, "/api/v1/manifests/{digest}", api_manifests_delete, AUTH_KEY, ROLE_ADMIN,
	 BODY_NONE, NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/devices", api_devices_create, AUTH_KEY, ROLE_OPERATOR, BODY_BUFFERED,
	 NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/devices", api_devices_list, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL,
	 "limit after group tag class_id seen_since not_seen_since sequence sequence_below "
	 "assignment_state"},
	{HTTP_POST, "/api/v1/devices/import", NULL, AUTH_KEY, ROLE_OPERATOR, BODY_STREAM,
	 &api_devices_import, NULL, "dry_run tokens"},
	/* Before /api/v1/devices/{id}: the first pattern that matches wins. */
	{HTTP_GET, "/api/v1/devices/export", api_devices_export, AUTH_KEY, ROLE_READER, BODY_NONE,
	 NULL, NULL,
	 "group tag class_id seen_since not_seen_since sequence sequence_below assignment_state"},
	{HTTP_GET, "/api/v1/devices/{id}", api_devices_get, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_GET, "/api/v1/inventory", api_inventory_get, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL, "software version limit after"},
	{HTTP_PATCH, "/api/v1/devices/{id}", api_devices_update, AUTH_KEY, ROLE_OPERATOR,
	 BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_DELETE, "/api/v1/devices/{id}", api_devices_delete, AUTH_KEY, ROLE_ADMIN, BODY_NONE,
	 NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/devices/{id}/token", api_devices_token, AUTH_KEY, ROLE_OPERATOR,
	 BODY_NONE, NULL, NULL, "grace"},
	{HTTP_POST, "/api/v1/deployments", api_deployments_create, AUTH_KEY, ROLE_OPERATOR,
	 BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/deployments", api_deployments_list, AUTH_KEY, ROLE_READER, BODY_NONE,
	 NULL, NULL, "limit after status manifest"},
	{HTTP_GET, "/api/v1/deployments/{id}", api_deployments_get, AUTH_KEY, ROLE_READER,
	 BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/deployments/{id}/devices", api_deployments_devices, AUTH_KEY,
	 ROLE_READER, BODY_NONE, NULL, NULL, "limit after state"},
	{HTTP_POST, "/api/v1/deployments/{id}/cancel", api_deployments_cancel, AUTH_KEY,
	 ROLE_OPERATOR, BODY_NONE, NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/deployments/{id}/pause", api_deployments_pause, AUTH_KEY,
	 ROLE_OPERATOR, BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/deployments/{id}/resume", api_deployments_resume, AUTH_KEY,
	 ROLE_OPERATOR, BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_DELETE, "/api/v1/deployments/{id}", api_deployments_delete, AUTH_KEY, ROLE_ADMIN,
	 BODY_NONE, NULL, NULL, NULL},
	{HTTP_POST, "/api/v1/deployments/{id}/retry", api_deployments_retry, AUTH_KEY,
	 ROLE_OPERATOR, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/api/v1/audit", api_audit_list, AUTH_KEY, ROLE_READER, BODY_NONE, NULL, NULL,
	 "actor action subject since until after before limit"},
	{HTTP_GET, "/api/v1/events", api_events_stream, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL, "types deployment device after"},
	{HTTP_GET, "/device/v1/manifest", api_checkin, AUTH_DEVICE, ROLE_NONE, BODY_NONE, NULL,
	 NULL, "seq sever"},
	{HTTP_GET, "/api/v1/devices/{id}/reports", api_reports_list, AUTH_KEY, ROLE_READER,
	 BODY_NONE, NULL, NULL, "limit after"},
	{HTTP_POST, "/device/v1/reports", api_reports_post, AUTH_DEVICE, ROLE_NONE, BODY_BUFFERED,
	 NULL, NULL, NULL},
	{HTTP_GET, "/device/v1/whoami", api_devices_whoami, AUTH_DEVICE, ROLE_NONE, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_GET, "/device/v1/payloads/{sha256}", api_payloads_content, AUTH_DEVICE, ROLE_NONE,
	 BODY_NONE, NULL, payloads_anonymous, NULL},
	{HTTP_GET, "/device/v1/manifests/{digest}", api_manifests_device_envelope, AUTH_DEVICE,
	 ROLE_NONE, BODY_NONE, NULL, payloads_anonymous, "sever"},
	/* The web console (issue 18): a session from an API key (the handlers
	 * check it themselves), then files. GET /ui/session comes before the
	 * pages' /ui/{page}. */
	{HTTP_GET, "/api/v1/overview", api_ops_overview, AUTH_KEY, ROLE_READER, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_GET, "/api/v1/devices/{id}/assignments", api_devices_assignments, AUTH_KEY,
	 ROLE_READER, BODY_NONE, NULL, NULL, "limit after"},
	{HTTP_POST, "/ui/session", api_ui_session_create, AUTH_OPEN, ROLE_NONE, BODY_BUFFERED, NULL,
	 NULL, NULL},
	{HTTP_GET, "/ui/session", api_ui_session_get, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL,
	 NULL},
	{HTTP_DELETE, "/ui/session", api_ui_session_delete, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_GET, "/", api_ui_index, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/ui/assets/{hash}/{file}", api_ui_asset, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL,
	 NULL, NULL},
	{HTTP_GET, "/ui/{page}", api_ui_page, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/ui/{page}/{id}", api_ui_page, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL,
	 NULL},
	/* hawkBit DDI last: their leading placeholder never shadows a
	 * literal route (the router takes the first match). */
	{HTTP_GET, DDI, api_ddi_poll, AUTH_DDI, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, DDI "/deploymentBase/{actionId}", api_ddi_deployment, AUTH_DDI, ROLE_NONE,
	 BODY_NONE, NULL, NULL, "c actionHistory"},
	{HTTP_POST, DDI "/deploymentBase/{actionId}/feedback", api_ddi_feedback, AUTH_DDI,
	 ROLE_NONE, BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_GET, DDI "/installedBase/{actionId}", api_ddi_installed, AUTH_DDI, ROLE_NONE,
	 BODY_NONE, NULL, NULL, "actionHistory"},
	{HTTP_GET, DDI "/cancelAction/{actionId}", api_ddi_cancel, AUTH_DDI, ROLE_NONE, BODY_NONE,
	 NULL, NULL, NULL},
	{HTTP_POST, DDI "/cancelAction/{actionId}/feedback", api_ddi_cancel_feedback, AUTH_DDI,
	 ROLE_NONE, BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_PUT, DDI "/configData", api_ddi_config_data, AUTH_DDI, ROLE_NONE, BODY_BUFFERED, NULL,
	 NULL, NULL},
	{HTTP_GET, DDI "/softwaremodules/{smId}/artifacts/{fileName}", api_ddi_artifact, AUTH_DDI,
	 ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
};

const unsigned route_count = sizeof(routes) / sizeof(routes[0]);
