#include "api/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/parse.h"

static bool media_type_is(const char *content_type, const char *want)
{
	size_t n = strlen(want);

	if (!content_type || strncasecmp(content_type, want, n) != 0)
		return false;
	/* Parameters (charset) may follow. */
	return content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ';
}

enum err api_json_body(const struct request *req, struct response *res, json_t **ret_json)
{
	json_error_t jerr;
	json_t *j;

	if (!media_type_is(req->header(req, "Content-Type"), "application/json"))
		return api_fail(res, ERR_MEDIA_TYPE, "the body must be application/json");
	if (!req->body || req->body_len == 0)
		return api_fail(res, ERR_INVALID, "the body is empty");
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return api_fail(res, ERR_INVALID, "malformed JSON at line %d column %d: %s",
				jerr.line, jerr.column, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return api_fail(res, ERR_INVALID, "the body must be a JSON object");
	}
	*ret_json = j;
	return ERR_OK;
}

enum err api_json_string(json_t *obj, const char *member, size_t max, struct response *res,
			 const char **ret)
{
	json_t *v = json_object_get(obj, member);

	if (!v)
		return api_fail(res, ERR_INVALID, "field '%s' is required", member);
	if (!json_is_string(v))
		return api_fail(res, ERR_INVALID, "field '%s' must be a string", member);
	if (json_string_length(v) > max)
		return api_fail(res, ERR_INVALID, "field '%s' is longer than %zu bytes", member,
				max);
	*ret = json_string_value(v);
	return ERR_OK;
}

/* A decimal from MIN (>= 0) to MAX. */
static bool parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v < (uint64_t)min || v > (uint64_t)max)
		return false;
	*ret = (int64_t)v;
	return true;
}

enum err api_page_limit(const struct request *req, struct response *res, unsigned *ret_limit)
{
	const char *limit = req->query(req, "limit");
	int64_t v;

	*ret_limit = BOUND_PAGE_DEFAULT;
	if (limit) {
		if (!parse_int64(limit, 1, BOUND_PAGE_MAX, &v))
			return api_fail(res, ERR_INVALID, "limit must be a number from 1 to %d",
					BOUND_PAGE_MAX);
		*ret_limit = (unsigned)v;
	}
	return ERR_OK;
}

enum err api_page_params(const struct request *req, struct response *res, unsigned *ret_limit,
			 int64_t *ret_after)
{
	const char *after = req->query(req, "after");
	int64_t v;
	enum err e;

	*ret_after = 0;
	if ((e = api_page_limit(req, res, ret_limit)))
		return e;
	if (after) {
		if (!parse_int64(after, 0, INT64_MAX, &v))
			return api_fail(res, ERR_INVALID,
					"after must be a cursor from a 'next' field");
		*ret_after = v;
	}
	return ERR_OK;
}

json_t *api_page_json(json_t *items, bool more, int64_t last)
{
	char cursor[24];

	snprintf(cursor, sizeof(cursor), "%lld", (long long)last);
	return api_page_json_text(items, more, cursor);
}

json_t *api_page_json_text(json_t *items, bool more, const char *cursor)
{
	return json_pack("{s:o, s:o}", "items", items, "next",
			 more ? json_string(cursor) : json_null());
}
