#include "api/ddi/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/input.h"
#include "common/crypto.h"
#include "common/parse.h"

/* A Host header is hostile until checked: it ends up in every link. */
static bool host_valid(const char *host)
{
	size_t n = host ? strlen(host) : 0;

	return n > 0 && n <= 255 &&
	       strspn(host,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

enum err ddi_base_url(struct api_ctx *ctx, const struct request *req, char out[DDI_URL_MAX])
{
	const struct config *c = ctx->config;
	const char *host = req->header(req, "Host");
	int n;

	if (c->server.public_url[0]) {
		size_t len = strlen(c->server.public_url);
		while (len && c->server.public_url[len - 1] == '/')
			len--;
		n = snprintf(out, DDI_URL_MAX, "%.*s/%s/controller/v1/%s", (int)len,
			     c->server.public_url, req->params[0], req->params[1]);
	} else if (host_valid(host)) {
		n = snprintf(out, DDI_URL_MAX, "%s://%s/%s/controller/v1/%s",
			     c->server.tls ? "https" : "http", host, req->params[0],
			     req->params[1]);
	} else {
		n = snprintf(out, DDI_URL_MAX, "%s://%s:%u/%s/controller/v1/%s",
			     c->server.tls ? "https" : "http", c->server.listen_host,
			     (unsigned)c->server.listen_port, req->params[0], req->params[1]);
	}
	if (n <= 0 || n >= DDI_URL_MAX)
		return ERR_TOO_LARGE;
	/* Links are written into JSON as they are (api/ddi/poll.c). */
	for (const char *p = out; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return ERR_INVALID;
	return ERR_OK;
}

bool ddi_action_id(const struct request *req, int64_t *ret)
{
	uint64_t v;

	if (req->param_count < 3 || !parse_u64(req->params[2], &v) || v == 0 ||
	    v > (uint64_t)INT64_MAX)
		return false;
	*ret = (int64_t)v;
	return true;
}

json_t *ddi_link(const char *base, const char *fmt, ...)
{
	char suffix[DDI_URL_MAX], url[2 * DDI_URL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(suffix, sizeof(suffix), fmt, ap);
	va_end(ap);
	snprintf(url, sizeof(url), "%s%s", base, suffix);
	return json_pack("{s:s}", "href", url);
}

void ddi_artifact_name(const struct ddi_artifact *a, char out[PAYLOAD_NAME_MAX + 1])
{
	size_t n = strlen(a->name);

	if (n &&
	    strspn(a->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") ==
		    n &&
	    strcmp(a->name, ".") != 0 && strcmp(a->name, "..") != 0)
		snprintf(out, PAYLOAD_NAME_MAX + 1, "%s", a->name);
	else
		hex_encode(a->sha256, SHA256_LEN, out);
}

enum err ddi_feedback_parse(const struct request *req, struct response *res, json_t **ret_body,
			    const char **ret_execution, const char **ret_finished)
{
	json_t *body = NULL, *status, *result, *v;
	enum err e;

	if ((e = api_json_body(req, res, &body)))
		return e;
	status = json_object_get(body, "status");
	if (!json_is_object(status)) {
		json_decref(body);
		return api_fail(res, ERR_INVALID, "field 'status' must be an object");
	}
	v = json_object_get(status, "execution");
	if (!json_is_string(v)) {
		json_decref(body);
		return api_fail(res, ERR_INVALID, "field 'status.execution' must be a string");
	}
	*ret_execution = json_string_value(v);
	*ret_finished = "none";
	result = json_object_get(status, "result");
	if (result && !json_is_object(result)) {
		json_decref(body);
		return api_fail(res, ERR_INVALID, "field 'status.result' must be an object");
	}
	if (result && (v = json_object_get(result, "finished"))) {
		if (!json_is_string(v)) {
			json_decref(body);
			return api_fail(res, ERR_INVALID,
					"field 'status.result.finished' must be a string");
		}
		*ret_finished = json_string_value(v);
	}
	if ((v = json_object_get(status, "details")) && !json_is_array(v)) {
		json_decref(body);
		return api_fail(res, ERR_INVALID, "field 'status.details' must be an array");
	}
	*ret_body = body;
	return ERR_OK;
}
