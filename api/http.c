#include "api/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const method_names[] = {
	[HTTP_GET] = "GET",	    [HTTP_HEAD] = "HEAD",   [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",	    [HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE",
	[HTTP_OPTIONS] = "OPTIONS", [HTTP_OTHER] = "OTHER",
};

const char *http_method_name(enum http_method m)
{
	return m <= HTTP_OTHER ? method_names[m] : "OTHER";
}

enum http_method http_method_parse(const char *name)
{
	for (int m = HTTP_GET; m < HTTP_OTHER; m++)
		if (strcmp(name, method_names[m]) == 0)
			return (enum http_method)m;
	return HTTP_OTHER;
}

void response_init(struct response *res)
{
	memset(res, 0, sizeof(*res));
	buf_init(&res->body, BOUND_JSON_RESPONSE_MAX);
}

void response_release(struct response *res)
{
	buf_release(&res->body);
	if (res->stream.free)
		res->stream.free(res->stream.cls);
	res->stream = (struct response_stream){0};
}

enum err response_header_set(struct response *res, const char *name, const char *fmt, ...)
{
	struct response_header *h;
	va_list ap;

	if (res->header_count >= BOUND_RESPONSE_HEADERS)
		return ERR_TOO_LARGE;
	h = &res->headers[res->header_count++];
	h->name = name;
	va_start(ap, fmt);
	vsnprintf(h->value, sizeof(h->value), fmt, ap);
	va_end(ap);
	return ERR_OK;
}

enum err response_json(struct response *res, unsigned status, json_t *json)
{
	char *text;
	enum err e;

	if (!json)
		return ERR_NOMEM;
	text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(json);
	if (!text)
		return ERR_NOMEM;
	buf_clear(&res->body);
	e = buf_append_str(&res->body, text);
	free(text);
	if (!e)
		e = buf_append(&res->body, "\n", 1);
	if (e)
		return e;
	res->status = status;
	res->content_type = "application/json";
	return ERR_OK;
}

enum err response_text(struct response *res, unsigned status, const char *content_type,
		       const char *text)
{
	buf_clear(&res->body);
	res->status = status;
	res->content_type = content_type;
	return buf_append_str(&res->body, text);
}

enum err api_fail(struct response *res, enum err e, const char *fmt, ...)
{
	va_list ap;

	res->problem = e;
	res->problem_type = NULL;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	return e;
}

enum err api_fail_type(struct response *res, enum err e, const char *type, const char *fmt, ...)
{
	va_list ap;

	res->problem = e;
	res->problem_type = type;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	return e;
}

unsigned api_http_status(enum err e)
{
	switch (e) {
	case ERR_OK:
		return 200;
	case ERR_INVALID:
		return 400;
	case ERR_UNAUTHORIZED:
		return 401;
	case ERR_FORBIDDEN:
		return 403;
	case ERR_NOT_FOUND:
		return 404;
	case ERR_METHOD:
		return 405;
	case ERR_EXISTS:
	case ERR_CONFLICT:
		return 409;
	case ERR_TOO_LARGE:
		return 413;
	case ERR_MEDIA_TYPE:
		return 415;
	case ERR_UNPROCESSABLE:
		return 422;
	case ERR_RANGE:
		return 416;
	case ERR_GONE:
		return 410;
	case ERR_RATE_LIMITED:
		return 429;
	/* Memory runs out under load (suitd's, SQLite's or the PostgreSQL
	 * server's: 53200): a retry later can succeed, nothing is wrong with
	 * the request, and a balancer may send it to another node. */
	case ERR_NOMEM:
	case ERR_BUSY:
	case ERR_UNAVAILABLE:
	case ERR_STORAGE_UNAVAILABLE:
	case ERR_STORAGE_TIMEOUT:
		return 503;
	case ERR_NO_SPACE:
		return 507;
	case ERR_STORAGE:
	case ERR_DB_TOO_NEW:
	case ERR_IO:
	case ERR_CRYPTO:
	case ERR_CONFIG:
	case ERR_INTERNAL:
	case ERR__COUNT:
		return 500;
	}
	return 500;
}

/* Client text echoed into JSON: keep printable ASCII so the document is
 * always valid (jansson refuses invalid UTF-8) and never carries controls. */
static void text_sanitize(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < size; src++) {
		char c = *src;
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		dst[i++] = c;
	}
	dst[i] = '\0';
}

/* Seconds a client waits after a 503 for the database (Retry-After). */
#define API_STORAGE_RETRY_AFTER 2

void api_problem_render(struct response *res, const char *instance)
{
	char safe_instance[BOUND_DETAIL_MAX], safe_detail[BOUND_DETAIL_MAX];
	enum err e = res->problem ? res->problem : ERR_INTERNAL;
	unsigned status = api_http_status(e);
	char type[96];
	json_t *j;

	snprintf(type, sizeof(type), "urn:suitd:%s",
		 res->problem_type ? res->problem_type : err_slug(e));
	text_sanitize(safe_instance, sizeof(safe_instance), instance);
	text_sanitize(safe_detail, sizeof(safe_detail), res->detail);
	/* Internal errors never leak details to the client: they go to the log. */
	j = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", err_title(e), "status",
		      (int)status, "detail",
		      status >= 500 && e != ERR_BUSY && e != ERR_UNAVAILABLE ? err_title(e)
		      : safe_detail[0]					     ? safe_detail
									     : err_title(e),
		      "instance", safe_instance);
	buf_clear(&res->body);
	if (res->stream.free)
		res->stream.free(res->stream.cls);
	res->stream = (struct response_stream){0};
	if (response_json(res, status, j) != ERR_OK) {
		buf_clear(&res->body);
		buf_append_str(&res->body,
			       "{\"type\":\"urn:suitd:out-of-memory\",\"status\":503}\n");
		res->status = 503;
		e = ERR_NOMEM;
	}
	res->content_type = "application/problem+json";
	/* A database server that is down or slow: the storage reconnects by
	 * itself (at most once a second per thread), so come back soon. The
	 * same for memory, which the requests in flight give back. */
	if (e == ERR_STORAGE_UNAVAILABLE || e == ERR_STORAGE_TIMEOUT || e == ERR_NOMEM)
		response_header_set(res, "Retry-After", "%u", API_STORAGE_RETRY_AFTER);
}
