/* The routing table: one row per (method, pattern) with its handler and the
 * role it needs. Patterns are literal segments and {name} placeholders that
 * match one non-empty segment. */
#ifndef SUITD_SERVER_ROUTER_H
#define SUITD_SERVER_ROUTER_H

#include "api/api.h"
#include "common/bounds.h"

enum route_auth {
	AUTH_OPEN,   /* operations endpoints */
	AUTH_KEY,    /* management API: an API key with at least `role` */
	AUTH_DEVICE, /* device API: a device identity */
	AUTH_DDI,    /* hawkBit DDI: {tenant}, {controllerId} first (api/ddi/ddi.h) */
};

enum route_body {
	BODY_NONE,     /* a request body is refused (400) */
	BODY_BUFFERED, /* buffered up to [server] max_body, then the handler runs */
	BODY_STREAM,   /* handed to `upload` piece by piece as it arrives */
};

struct route {
	enum http_method method;
	const char *pattern;
	api_handler handler; /* NULL for BODY_STREAM routes */
	enum route_auth auth;
	enum role role;
	enum route_body body;
	const struct api_upload *upload;
	/* AUTH_DEVICE: true when the configuration opens the route to
	 * requests without a device identity. */
	bool (*anonymous)(const struct config *config);
	/* The query parameters the handler reads, space-separated (NULL:
	 * none). Any other is refused with 400 naming it: a misspelt filter
	 * must not silently list everything. */
	const char *query;
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

/* Whether the route reads a query parameter of this name. */
bool route_query_allowed(const struct route *r, const char *name);

#endif
