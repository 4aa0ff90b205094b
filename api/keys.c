#include "api/keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/auth.h"
#include "api/input.h"
#include "common/parse.h"
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
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "name", k->name, "role",
			 role_name(k->role), "created_at", time_or_null(k->created_at),
			 "last_used_at", time_or_null(k->last_used_at), "revoked_at",
			 time_or_null(k->revoked_at), "expires_at", time_or_null(k->expires_at));
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

/* "expires_in": seconds as a JSON integer, or a duration string as in the
 * config ("3600", "90m", "720h"); absent or null: the key never expires.
 * *ret_seconds is 0 then. */
static enum err expires_in_member(json_t *body, struct response *res, uint64_t *ret_seconds)
{
	json_t *v = json_object_get(body, "expires_in");
	uint64_t seconds = 0;
	bool ok;

	if (!v || json_is_null(v)) {
		*ret_seconds = 0;
		return ERR_OK;
	}
	if (json_is_integer(v)) {
		ok = json_integer_value(v) > 0;
		seconds = ok ? (uint64_t)json_integer_value(v) : 0;
	} else {
		ok = json_is_string(v) && parse_duration(json_string_value(v), &seconds);
	}
	if (!ok || !auth_key_lifetime_valid(seconds))
		return api_fail(res, ERR_INVALID,
				"field 'expires_in' must be seconds from 1 to %d, or a duration "
				"such as \"90m\" or \"720h\" (s, m, h); leave it out for a key "
				"that does not expire",
				BOUND_KEY_LIFETIME_MAX);
	*ret_seconds = seconds;
	return ERR_OK;
}

enum err api_keys_create(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_auto_t *body = NULL;
	const char *name, *role_text;
	char secret[SECRET_TEXT_MAX];
	uint64_t lifetime = 0;
	int64_t expires_at = 0;
	enum role role;
	enum err e;

	if ((e = api_json_body(req, res, &body)))
		return e;
	if ((e = api_json_string(body, "name", BOUND_KEY_NAME_MAX, res, &name)) ||
	    (e = api_json_string(body, "role", 16, res, &role_text)) ||
	    (e = expires_in_member(body, res, &lifetime)))
		return e;
	if (!auth_key_name_valid(name))
		return api_fail(res, ERR_INVALID, "field 'name' must match [A-Za-z0-9._-]{1,64}");
	if (!role_parse(role_text, &role))
		return api_fail(res, ERR_INVALID, "field 'role' must be reader, operator or admin");
	if (lifetime)
		expires_at = time_now() + (int64_t)lifetime;
	e = auth_key_create(ctx->storage, name, role, expires_at, req->key->name, secret);
	if (e == ERR_EXISTS)
		return api_fail(res, e,
				"a key named '%s' exists (revoke it first, even when expired)",
				name);
	if (e)
		return api_fail(res, e, "cannot create the key");
	e = response_json(res, 201,
			  json_pack("{s:s, s:s, s:s, s:o}", "name", name, "role", role_name(role),
				    "key", secret, "expires_at", time_or_null(expires_at)));
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
