/* The routing table: one row per (method, pattern) with its handler and the
 * role it needs. Patterns are literal segments and {name} placeholders that
 * match one non-empty segment. */
#ifndef SUITD_SERVER_ROUTER_H
#define SUITD_SERVER_ROUTER_H

#include "api/api.h"
#include "common/bounds.h"

struct route {
	enum http_method method;
	const char *pattern;
	api_handler handler;
	enum role role; /* ROLE_NONE: open (operations endpoints) */
	bool body;	/* accepts a buffered request body of up to [server] max_body */
};

extern const struct route routes[];
extern const unsigned route_count;

struct route_match {
	unsigned index;
	const char *params[BOUND_ROUTE_PARAMS];
	unsigned param_count;
	char scratch[BOUND_PATH_MAX + 1]; /* params point in here */
};

/* ERR_OK with *m filled; ERR_NOT_FOUND when no pattern matches the path;
 * ERR_METHOD when one does but not for this method: allow then lists the
 * methods that do ("GET, HEAD, POST"). HEAD matches GET routes. */
enum err router_match(const struct route *table, unsigned count, enum http_method method,
		      const char *path, struct route_match *m, char *allow, size_t allow_size);

#endif
