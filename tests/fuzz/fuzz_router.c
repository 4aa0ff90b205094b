/* libFuzzer target: route matching (server/router.c) over the daemon's own
 * routing table, with any method and any path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "server/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_match m;
	char allow[64], path[BOUND_PATH_MAX + 1];
	enum http_method method;
	size_t n;

	if (size < 1)
		return 0;
	method = (enum http_method)(data[0] % (HTTP_OTHER + 1));
	n = size - 1 < BOUND_PATH_MAX ? size - 1 : BOUND_PATH_MAX;
	memcpy(path, data + 1, n);
	path[n] = '\0';
	memset(&m, 0, sizeof(m));
	enum err e = router_match(routes, route_count, method, path, &m, allow, sizeof(allow));
	if (e == ERR_OK) {
		/* Invariants the daemon relies on. */
		if (m.index >= route_count || m.param_count > BOUND_ROUTE_PARAMS)
			abort();
		for (unsigned i = 0; i < m.param_count; i++)
			if (!m.params[i] || m.params[i] < m.scratch ||
			    m.params[i] > m.scratch + sizeof(m.scratch) ||
			    strlen(m.params[i]) > BOUND_PATH_MAX)
				abort();
	} else if (e == ERR_METHOD) {
		if (!memchr(allow, '\0', sizeof(allow)) || !allow[0])
			abort();
	} else if (e != ERR_NOT_FOUND) {
		abort();
	}
	return 0;
}
