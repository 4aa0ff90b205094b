#include "api/webhooks.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api/input.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "events/webhooks.h"
#include "storage/events.h"

static json_t *time_json(int64_t t)
{
	char text[RFC3339_LEN];

	time_format_rfc3339(t, text);
	return json_string(text);
}

static json_t *time_ms_json(int64_t ms)
{
	char text[RFC3339_MS_LEN];

	time_format_rfc3339_ms(ms, text);
	return json_string(text);
}

/* "a.*,b" as ["a.*", "b"]; "" as []. */
static json_t *types_json(const char *types)
{
	json_t *arr = json_array();

	for (const char *p = types; *p;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(arr, json_stringn(p, n));
		p += n;
		if (*p)
			p++;
	}
	return arr;
}

static json_t *webhook_json(const struct webhook *w)
{
	return json_pack("{s:I, s:s, s:o, s:s, s:b, s:o, s:o, s:s, s:o, s:I}", "id",
			 (json_int_t)w->id, "url", w->url, "types", types_json(w->types),
			 "description", w->description, "enabled", w->enabled, "disabled_reason",
			 w->disabled_reason[0] ? json_string(w->disabled_reason) : json_null(),
			 "created_at", time_json(w->created_at), "created_by", w->created_by,
			 "updated_at", time_json(w->updated_at), "last_event_id",
			 (json_int_t)w->cursor);
}

static json_t *delivery_json(const struct webhook_delivery *d)
{
	return json_pack("{s:I, s:I, s:s, s:I, s:b, s:o, s:o, s:I, s:s, s:o}", "n",
			 (json_int_t)d->n, "event_id", (json_int_t)d->event_id, "event_type",
			 d->event_type, "attempt", (json_int_t)d->attempt, "manual", d->manual,
			 "at", time_ms_json(d->at_ms), "status",
			 d->status ? json_integer(d->status) : json_null(), "latency_ms",
			 (json_int_t)d->latency_ms, "result", webhook_result_name(d->result),
			 "error", d->error[0] ? json_string(d->error) : json_null());
}

/* A decimal id from 1 to INT64_MAX in path parameter i. */
static enum err id_param(const struct request *req, unsigned i, const char *what,
			 struct response *res, int64_t *ret)
{
	uint64_t v;

	if (!parse_u64(req->params[i], &v) || v == 0 || v > INT64_MAX)
		return api_fail(res, ERR_INVALID, "a %s is a positive number", what);
	*ret = (int64_t)v;
	return ERR_OK;
}

static enum err webhook_param(struct api_ctx *ctx, const struct request *req, struct response *res,
			      struct webhook *ret)
{
	int64_t id = 0;
	enum err e = id_param(req, 0, "webhook id", res, &id);

	if (e)
		return e;
	e = storage_webhook_get(ctx->storage, id, ret);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no webhook %" PRId64, id);
	if (e)
		return api_fail(res, e, "cannot read the webhook");
	return ERR_OK;
}

/* "types": an array of type patterns, as the comma list storage keeps;
 * absent: every event (*ret_types untouched). */
static enum err types_member(json_t *body, struct response *res, char *out, size_t size,
			     bool *ret_present)
{
	json_t *v = json_object_get(body, "types"), *t;
	size_t used = 0, i;

	*ret_present = v != NULL;
	if (!v)
		return ERR_OK;
	if (!json_is_array(v))
		goto bad;
	out[0] = '\0';
	json_array_foreach(v, i, t)
	{
		const char *s = json_string_value(t);
		size_t n = s ? strlen(s) : 0;
		if (!s || n == 0 || strchr(s, ',') || used + n + 2 > size)
			goto bad;
		used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", s);
	}
	if (!webhook_types_valid(out))
		goto bad;
	return ERR_OK;
bad:
	return api_fail(res, ERR_INVALID,
			"field 'types' must be an array of event types and prefixes such as "
			"[\"deployment.*\", \"assignment.failed\"] (\"*\" or [] for every event), "
			"at most %d bytes together",
			WEBHOOK_TYPES_MAX);
}

static enum err url_member(struct api_ctx *ctx, json_t *body, bool required, struct response *res,
			   const char **ret)
{
	const struct config *c = ctx->config;
	char why[BOUND_DETAIL_MAX - 32] = "";
	enum err e;

	if (!required && !json_object_get(body, "url")) {
		*ret = NULL;
		return ERR_OK;
	}
	if ((e = api_json_string(body, "url", WEBHOOK_URL_MAX, res, ret)))
		return e;
	e = webhook_url_check(*ret, c->webhooks.allow_http, c->webhooks.allow_private, true, why,
			      sizeof(why));
	if (e == ERR_INVALID)
		return api_fail_type(res, e, "webhook:url-refused", "field 'url': %s", why);
	if (e)
		return api_fail(res, e, "cannot check the URL");
	return ERR_OK;
}

static enum err description_member(json_t *body, struct response *res, const char **ret)
{
	if (!json_object_get(body, "description")) {
		*ret = NULL;
		return ERR_OK;
	}
	return api_json_string(body, "description", WEBHOOK_DESCRIPTION_MAX, res, ret);
}

static enum err enabled_member(json_t *body, struct response *res, int *ret)
{
	json_t *v = json_object_get(body, "enabled");

	*ret = -1;
	if (!v)
		return ERR_OK;
	if (!json_is_boolean(v))
		return api_fail(res, ERR_INVALID, "field 'enabled' must be true or false");
	*ret = json_is_true(v);
	return ERR_OK;
}

enum err api_webhooks_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct webhook *hooks;
	unsigned limit, n = 0;
	int64_t after;
	json_t *items;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)))
		return e;
	hooks = calloc(limit + 1, sizeof(*hooks));
	if (!hooks)
		return ERR_NOMEM;
	e = storage_webhook_list(ctx->storage, after, limit + 1, hooks, &n);
	if (e) {
		free(hooks);
		return api_fail(res, e, "cannot list webhooks");
	}
	items = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(items, webhook_json(&hooks[i]));
	int64_t last = n ? hooks[(n > limit ? limit : n) - 1].id : 0;
	for (unsigned i = 0; i < n; i++)
		OPENSSL_cleanse(hooks[i].secret, sizeof(hooks[i].secret));
	free(hooks);
	return response_json(res, 200, api_page_json(items, n > limit, last));
}

enum err api_webhooks_create(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_auto_t *body = NULL;
	const char *url, *description;
	struct webhook w = {0};
	bool has_types;
	int enabled;
	int64_t id = 0;
	json_t *out;
	enum err e;

	if ((e = api_json_body(req, res, &body)) || (e = url_member(ctx, body, true, res, &url)) ||
	    (e = types_member(body, res, w.types, sizeof(w.types), &has_types)) ||
	    (e = description_member(body, res, &description)) ||
	    (e = enabled_member(body, res, &enabled)))
		return e;
	snprintf(w.url, sizeof(w.url), "%s", url);
	snprintf(w.description, sizeof(w.description), "%s", description ? description : "");
	w.enabled = enabled != 0;
	if ((e = webhook_secret_new(w.secret)))
		return api_fail(res, e, "cannot make a secret");
	e = storage_webhook_insert(ctx->storage, &w, req->key->name, &id);
	if (!e)
		e = storage_webhook_get(ctx->storage, id, &w);
	if (e) {
		OPENSSL_cleanse(w.secret, sizeof(w.secret));
		return api_fail(res, e, "cannot create the webhook");
	}
	webhook_worker_changed(ctx->webhooks);
	out = webhook_json(&w);
	/* The secret is shown this once. */
	json_object_set_new(out, "secret", json_string(w.secret));
	OPENSSL_cleanse(w.secret, sizeof(w.secret));
	e = response_json(res, 201, out);
	if (!e)
		e = response_header_set(res, "Cache-Control", "no-store");
	if (!e)
		e = response_header_set(res, "Location", "/api/v1/webhooks/%" PRId64, id);
	return e;
}

enum err api_webhooks_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct webhook w;
	enum err e = webhook_param(ctx, req, res, &w);

	if (e)
		return e;
	OPENSSL_cleanse(w.secret, sizeof(w.secret));
	return response_json(res, 200, webhook_json(&w));
}

enum err api_webhooks_update(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_auto_t *body = NULL;
	char types[WEBHOOK_TYPES_MAX + 1] = "";
	struct webhook_change c = {0};
	struct webhook w;
	bool has_types;
	int64_t id = 0;
	enum err e;

	if ((e = id_param(req, 0, "webhook id", res, &id)) ||
	    (e = api_json_body(req, res, &body)) ||
	    (e = url_member(ctx, body, false, res, &c.url)) ||
	    (e = types_member(body, res, types, sizeof(types), &has_types)) ||
	    (e = description_member(body, res, &c.description)) ||
	    (e = enabled_member(body, res, &c.enabled)))
		return e;
	c.types = has_types ? types : NULL;
	e = storage_webhook_update(ctx->storage, id, &c, req->key->name);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no webhook %" PRId64, id);
	if (e)
		return api_fail(res, e, "cannot update the webhook");
	webhook_worker_changed(ctx->webhooks);
	if ((e = webhook_param(ctx, req, res, &w)))
		return e;
	OPENSSL_cleanse(w.secret, sizeof(w.secret));
	return response_json(res, 200, webhook_json(&w));
}

enum err api_webhooks_delete(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	int64_t id = 0;
	enum err e;

	if ((e = id_param(req, 0, "webhook id", res, &id)))
		return e;
	e = storage_webhook_delete(ctx->storage, id, req->key->name);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no webhook %" PRId64, id);
	if (e)
		return api_fail(res, e, "cannot delete the webhook");
	webhook_worker_changed(ctx->webhooks);
	res->status = 204;
	return ERR_OK;
}

static enum err int64_query(const struct request *req, const char *name, struct response *res,
			    int64_t *ret)
{
	const char *v = req->query(req, name);
	uint64_t n;

	*ret = 0;
	if (!v)
		return ERR_OK;
	if (!parse_u64(v, &n) || n > INT64_MAX)
		return api_fail(res, ERR_INVALID, "%s must be a non-negative number", name);
	*ret = (int64_t)n;
	return ERR_OK;
}

enum err api_webhooks_deliveries(struct api_ctx *ctx, const struct request *req,
				 struct response *res)
{
	struct webhook_delivery *rows;
	struct webhook w;
	unsigned limit, n = 0;
	int64_t after, before, event;
	json_t *items;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)) ||
	    (e = int64_query(req, "before", res, &before)) ||
	    (e = int64_query(req, "event", res, &event)) || (e = webhook_param(ctx, req, res, &w)))
		return e;
	OPENSSL_cleanse(w.secret, sizeof(w.secret));
	rows = calloc(limit + 1, sizeof(*rows));
	if (!rows)
		return ERR_NOMEM;
	e = storage_webhook_deliveries(ctx->storage, w.id, before, event, limit + 1, rows, &n);
	if (e) {
		free(rows);
		return api_fail(res, e, "cannot list the deliveries");
	}
	items = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(items, delivery_json(&rows[i]));
	int64_t last = n ? rows[(n > limit ? limit : n) - 1].n : 0;
	free(rows);
	/* Newest first: "next" is the `before` of the next (older) page. */
	return response_json(res, 200, api_page_json(items, n > limit, last));
}

enum err api_webhooks_retry(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct webhook_delivery d;
	int64_t id = 0, n = 0, request = 0;
	enum err e;

	if ((e = id_param(req, 0, "webhook id", res, &id)) ||
	    (e = id_param(req, 1, "delivery number", res, &n)))
		return e;
	e = storage_webhook_delivery_get(ctx->storage, id, n, &d);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "webhook %" PRId64 " has no delivery %" PRId64, id, n);
	if (e)
		return api_fail(res, e, "cannot read the delivery");
	e = storage_webhook_redelivery_insert(ctx->storage, id, d.event_id, req->key->name,
					      &request);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no webhook %" PRId64, id);
	if (e)
		return api_fail(res, e, "cannot queue the redelivery");
	webhook_worker_changed(ctx->webhooks);
	return response_json(res, 202,
			     json_pack("{s:I, s:I, s:s}", "webhook_id", (json_int_t)id, "event_id",
				       (json_int_t)d.event_id, "status", "queued"));
}
