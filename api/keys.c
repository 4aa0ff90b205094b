#include "api/keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/auth.h"
#include "api/input.h"
#include "common/timeutil.h"

static json_t *time_or_null(int64_t t)
{
	char text[RFC3339_LEN];

	if (!t)
		return json_null();
	time_format_rfc3339(t, text);
	return json_string(text);
}

static json_t *key_json(const struct api_key *k)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", k->name, "role", role_name(k->role),
			 "created_at", time_or_null(k->created_at), "last_used_at",
			 time_or_null(k->last_used_at), "revoked_at", time_or_null(k->revoked_at));
}

enum err api_keys_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct api_key *keys;
	unsigned limit, n = 0;
	int64_t after;
	json_t *items;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)))
		return e;
	/* One more than asked tells whether another page follows. */
	keys = calloc(limit + 1, sizeof(*keys));
	if (!keys)
		return ERR_NOMEM;
	e = storage_api_key_list(ctx->storage, after, limit + 1, keys, &n);
	if (e) {
		free(keys);
		return api_fail(res, e, "cannot list keys");
	}
	items = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(items, key_json(&keys[i]));
	int64_t last = n ? keys[(n > limit ? limit : n) - 1].id : 0;
	free(keys);
	return response_json(res, 200, api_page_json(items, n > limit, last));
}

enum err api_keys_create(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_auto_t *body = NULL;
	const char *name, *role_text;
	char secret[SECRET_TEXT_MAX];
	enum role role;
	enum err e;

	if ((e = api_json_body(req, res, &body)))
		return e;
	if ((e = api_json_string(body, "name", BOUND_KEY_NAME_MAX, res, &name)) ||
	    (e = api_json_string(body, "role", 16, res, &role_text)))
		return e;
	if (!auth_key_name_valid(name))
		return api_fail(res, ERR_INVALID, "field 'name' must match [A-Za-z0-9._-]{1,64}");
	if (!role_parse(role_text, &role))
		return api_fail(res, ERR_INVALID, "field 'role' must be reader, operator or admin");
	e = auth_key_create(ctx->storage, name, role, req->key->name, secret);
	if (e == ERR_EXISTS)
		return api_fail(res, e, "an active key named '%s' exists", name);
	if (e)
		return api_fail(res, e, "cannot create the key");
	e = response_json(
		res, 201,
		json_pack("{s:s, s:s, s:s}", "name", name, "role", role_name(role), "key", secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	if (!e)
		e = response_header_set(res, "Cache-Control", "no-store");
	return e;
}

enum err api_keys_revoke(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *name = req->params[0];
	enum err e;

	if (!auth_key_name_valid(name))
		return api_fail(res, ERR_INVALID, "a key name must match [A-Za-z0-9._-]{1,64}");
	e = storage_api_key_revoke(ctx->storage, name, req->key->name);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no active key named '%s'", name);
	if (e)
		return api_fail(res, e, "cannot revoke the key");
	res->status = 204;
	return ERR_OK;
}
