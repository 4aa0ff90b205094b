#include "server/router.h"

#include <stdio.h>
#include <string.h>

/* Match path against pattern; params are copied into scratch. */
static bool pattern_match(const char *pattern, const char *path, struct route_match *m)
{
	size_t used = 0;

	m->param_count = 0;
	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		const char *pend = strchr(pattern, '/'), *send = strchr(path, '/');
		size_t plen = pend ? (size_t)(pend - pattern) : strlen(pattern);
		size_t slen = send ? (size_t)(send - path) : strlen(path);

		if (plen >= 2 && pattern[0] == '{' && pattern[plen - 1] == '}') {
			if (slen == 0 || m->param_count >= BOUND_ROUTE_PARAMS ||
			    used + slen + 1 > sizeof(m->scratch))
				return false;
			memcpy(m->scratch + used, path, slen);
			m->scratch[used + slen] = '\0';
			m->params[m->param_count++] = m->scratch + used;
			used += slen + 1;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	return *pattern == '\0' && *path == '\0';
}

enum err router_match(const struct route *table, unsigned count, enum http_method method,
		      const char *path, struct route_match *m, char *allow, size_t allow_size)
{
	enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
	bool path_found = false, listed[HTTP_OTHER + 1] = {false};
	size_t used = 0;

	if (allow_size)
		allow[0] = '\0';
	if (strlen(path) > BOUND_PATH_MAX)
		return ERR_NOT_FOUND;
	for (unsigned i = 0; i < count; i++) {
		if (table[i].method == want && pattern_match(table[i].pattern, path, m)) {
			m->index = i;
			return ERR_OK;
		}
	}
	for (unsigned i = 0; i < count; i++) {
		struct route_match scratch;
		if (!pattern_match(table[i].pattern, path, &scratch) || listed[table[i].method])
			continue;
		path_found = true;
		listed[table[i].method] = true;
		int n = snprintf(allow + used, used < allow_size ? allow_size - used : 0, "%s%s%s",
				 used ? ", " : "", http_method_name(table[i].method),
				 table[i].method == HTTP_GET ? ", HEAD" : "");
		if (n > 0 && used + (size_t)n < allow_size)
			used += (size_t)n;
	}
	return path_found ? ERR_METHOD : ERR_NOT_FOUND;
}

bool route_query_allowed(const struct route *r, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = r->query; p && *p;) {
		size_t len = strcspn(p, " ");
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}
