/* Every route of the daemon. api/openapi.yaml describes exactly these (a
 * test compares the two). */
#include "api/keys.h"
#include "api/ops.h"
#include "server/router.h"

const struct route routes[] = {
	{HTTP_GET, "/healthz", api_ops_healthz, ROLE_NONE, false},
	{HTTP_GET, "/readyz", api_ops_readyz, ROLE_NONE, false},
	{HTTP_GET, "/metrics", api_ops_metrics, ROLE_NONE, false},
	{HTTP_GET, "/api/v1/status", api_ops_status, ROLE_READER, false},
	{HTTP_GET, "/api/v1/keys", api_keys_list, ROLE_ADMIN, false},
	{HTTP_POST, "/api/v1/keys", api_keys_create, ROLE_ADMIN, true},
	{HTTP_DELETE, "/api/v1/keys/{name}", api_keys_revoke, ROLE_ADMIN, false},
};

const unsigned route_count = sizeof(routes) / sizeof(routes[0]);
