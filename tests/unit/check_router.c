/* server/router.c against a table of its own, and the real table against
 * api/openapi.yaml (the contract must list exactly the routes served). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/router.h"

#include "tests/check_run.h"

static enum err h(struct api_ctx *c, const struct request *r, struct response *s)
{
	(void)c;
	(void)r;
	(void)s;
	return ERR_OK;
}

static const struct route table[] = {
	{HTTP_GET, "/a", h, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, "limit after"},
	{HTTP_POST, "/a", h, AUTH_OPEN, ROLE_NONE, BODY_BUFFERED, NULL, NULL, NULL},
	{HTTP_GET, "/a/{id}", h, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, "x"},
	{HTTP_DELETE, "/a/{id}", h, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
	{HTTP_GET, "/a/{id}/b/{sub}", h, AUTH_OPEN, ROLE_NONE, BODY_NONE, NULL, NULL, NULL},
};

static const struct match_case {
	enum http_method method;
	const char *path;
	enum err want;
	unsigned index;
	const char *p0, *p1, *allow;
} cases[] = {
	{HTTP_GET, "/a", ERR_OK, 0, NULL, NULL, NULL},
	{HTTP_HEAD, "/a", ERR_OK, 0, NULL, NULL, NULL},
	{HTTP_POST, "/a", ERR_OK, 1, NULL, NULL, NULL},
	{HTTP_PUT, "/a", ERR_METHOD, 0, NULL, NULL, "GET, HEAD, POST"},
	{HTTP_GET, "/a/x1", ERR_OK, 2, "x1", NULL, NULL},
	{HTTP_DELETE, "/a/x1", ERR_OK, 3, "x1", NULL, NULL},
	{HTTP_POST, "/a/x1", ERR_METHOD, 0, NULL, NULL, "GET, HEAD, DELETE"},
	{HTTP_GET, "/a/x/b/y", ERR_OK, 4, "x", "y", NULL},
	{HTTP_GET, "/a/", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "/a//b/y", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "/a/x/b/", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "/a/x/b/y/", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "/ab", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "a", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_GET, "/", ERR_NOT_FOUND, 0, NULL, NULL, NULL},
	{HTTP_OTHER, "/a", ERR_METHOD, 0, NULL, NULL, "GET, HEAD, POST"},
};

START_TEST(test_match)
{
	const struct match_case *c = &cases[_i];
	struct route_match m;
	char allow[64];
	enum err e = router_match(table, 5, c->method, c->path, &m, allow, sizeof(allow));

	ck_assert_msg(e == c->want, "%s: got %d want %d", c->path, e, c->want);
	if (e == ERR_OK) {
		ck_assert_uint_eq(m.index, c->index);
		ck_assert_uint_eq(m.param_count, c->p1 ? 2 : c->p0 ? 1 : 0);
		if (c->p0)
			ck_assert_str_eq(m.params[0], c->p0);
		if (c->p1)
			ck_assert_str_eq(m.params[1], c->p1);
	}
	if (c->allow)
		ck_assert_str_eq(allow, c->allow);
}
END_TEST

START_TEST(test_long_path)
{
	char path[BOUND_PATH_MAX + 10];
	struct route_match m;
	char allow[64];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ck_assert_int_eq(router_match(table, 5, HTTP_GET, path, &m, allow, sizeof(allow)),
			 ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_route_query_allowed)
{
	ck_assert(route_query_allowed(&table[0], "limit"));
	ck_assert(route_query_allowed(&table[0], "after"));
	ck_assert(!route_query_allowed(&table[0], "lim"));
	ck_assert(!route_query_allowed(&table[0], "limit after"));
	ck_assert(!route_query_allowed(&table[0], ""));
	ck_assert(!route_query_allowed(&table[0], "state"));
	ck_assert(route_query_allowed(&table[2], "x"));
	ck_assert(!route_query_allowed(&table[1], "limit"));
	ck_assert(!route_query_allowed(&table[1], ""));
}
END_TEST

/* The query parameters documented for one operation must be exactly those
 * its route reads. */
static void query_params_check(int route, const char *documented, const char *op)
{
	char name[64];
	unsigned n = 0, m = 0;

	if (route < 0)
		return;
	const struct route *r = &routes[route];
	for (const char *p = documented; *p; p += strspn(p, " ")) {
		size_t len = strcspn(p, " ");
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		ck_assert_msg(route_query_allowed(r, name),
			      "api/openapi.yaml documents query '%s' for %s, which the route "
			      "does not read",
			      name, op);
		p += len;
		n++;
	}
	for (const char *p = r->query; p && *p; p += strspn(p, " ")) {
		p += strcspn(p, " ");
		m++;
	}
	ck_assert_msg(n == m, "%s reads %u query parameters (%s), api/openapi.yaml lists %u", op, m,
		      r->query ? r->query : "none", n);
}

/* Read "  /path:" and "    method:" lines under "paths:", and in each
 * method the "- name: X" parameters followed by "in: query". */
START_TEST(test_openapi_matches_routes)
{
	char file[512], line[512], current[256] = "", pending[64] = "", query[256] = "",
				   op[300] = "";
	const char *src = getenv("SUITD_SRC");
	bool seen[128] = {false}, in_paths = false;
	unsigned documented = 0;
	int route = -1;
	FILE *f;

	ck_assert_uint_le(route_count, 128);
	snprintf(file, sizeof(file), "%s/api/openapi.yaml", src ? src : ".");
	f = fopen(file, "r");
	ck_assert_msg(f != NULL, "cannot open %s", file);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] && line[0] != ' ' && line[0] != '#') {
			in_paths = strcmp(line, "paths:") == 0;
			continue;
		}
		if (!in_paths)
			continue;
		const char *t = line + strspn(line, " ");
		if (strncmp(t, "- name: ", 8) == 0) {
			snprintf(pending, sizeof(pending), "%s", t + 8);
			continue;
		}
		if (strcmp(t, "in: query") == 0 && pending[0]) {
			size_t used = strlen(query);
			snprintf(query + used, sizeof(query) - used, "%s%s", used ? " " : "",
				 pending);
		}
		if (strncmp(t, "in: ", 4) == 0)
			pending[0] = '\0';
		if ((strncmp(line, "  /", 3) == 0 && line[2 + strcspn(line + 2, ":")] == ':') ||
		    (strncmp(line, "    ", 4) == 0 && line[4] != ' ' && line[4] != '#')) {
			/* A new path or operation ends the previous operation. */
			query_params_check(route, query, op);
			route = -1;
			query[0] = '\0';
		}
		if (strncmp(line, "  /", 3) == 0 && line[2 + strcspn(line + 2, ":")] == ':') {
			snprintf(current, sizeof(current), "%.*s", (int)strcspn(line + 2, ":"),
				 line + 2);
		} else if (strncmp(line, "    ", 4) == 0 && line[4] != ' ' && line[4] != '#') {
			char method[16];
			size_t n = strcspn(line + 4, ":");
			snprintf(method, sizeof(method), "%.*s", (int)n, line + 4);
			if (strcmp(method, "parameters") == 0 || strcmp(method, "summary") == 0 ||
			    strcmp(method, "description") == 0)
				continue;
			for (char *p = method; *p; p++)
				*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
			bool found = false;
			for (unsigned i = 0; i < route_count; i++) {
				if (strcmp(routes[i].pattern, current) == 0 &&
				    strcmp(http_method_name(routes[i].method), method) == 0) {
					ck_assert_msg(!seen[i], "%s %s documented twice", method,
						      current);
					seen[i] = found = true;
					route = (int)i;
					snprintf(op, sizeof(op), "%s %s", method, current);
				}
			}
			ck_assert_msg(found,
				      "api/openapi.yaml documents %s %s, which is not routed",
				      method, current);
			documented++;
		}
	}
	fclose(f);
	query_params_check(route, query, op);
	for (unsigned i = 0; i < route_count; i++)
		ck_assert_msg(seen[i], "route %s %s is missing from api/openapi.yaml",
			      http_method_name(routes[i].method), routes[i].pattern);
	ck_assert_uint_eq(documented, route_count);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("router");
	int rc;

	tcase_add_loop_test(tc, test_match, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_long_path);
	tcase_add_test(tc, test_openapi_matches_routes);
	tcase_add_test(tc, test_route_query_allowed);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	return rc;
}
