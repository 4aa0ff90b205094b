#include "api/ui_session.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/auth.h"
#include "api/input.h"
#include "api/ui_assets.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "storage/ui_sessions.h"

/* last_used_at is written at most this often (and at least four times per
 * idle period, so that idle expiry is off by a quarter at most). */
#define TOUCH_INTERVAL_MAX_S 60

/* The cookie's value: what crypto_secret_new() makes, base64url. */
static bool session_id_hash(const char *id, uint8_t hash[SHA256_LEN])
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n >= SECRET_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	crypto_sha256(id, n, hash);
	return true;
}

static bool method_changes_state(enum http_method m)
{
	return m != HTTP_GET && m != HTTP_HEAD && m != HTTP_OPTIONS;
}

/* The live session of this cookie, or ERR_UNAUTHORIZED with res set. An
 * ended session (idle, too old, its key revoked or expired) is deleted. */
static enum err session_check(struct api_ctx *ctx, const char *cookie, uint8_t hash[SHA256_LEN],
			      struct ui_session *ret, struct response *res)
{
	const struct config *c = ctx->config;
	int64_t now = time_now();
	enum err e;

	if (!c->ui.enabled)
		return api_fail(res, ERR_UNAUTHORIZED, "console sessions are off ([ui] enabled)");
	if (!session_id_hash(cookie, hash))
		return api_fail(res, ERR_UNAUTHORIZED, "no console session; sign in");
	e = storage_ui_session_get(ctx->storage, hash, ret);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, ERR_UNAUTHORIZED, "the console session is not valid; sign in");
	if (e)
		return api_fail(res, e, "cannot check the console session");
	if (now - ret->last_used_at >= (int64_t)c->ui.session_idle ||
	    now - ret->created_at >= (int64_t)c->ui.session_lifetime || ret->key.revoked_at ||
	    (ret->key.expires_at && now >= ret->key.expires_at)) {
		(void)storage_ui_session_delete(ctx->storage, hash); /* best effort */
		return api_fail(res, ERR_UNAUTHORIZED, "the console session has ended; sign in");
	}
	int64_t touch = c->ui.session_idle / 4 < TOUCH_INTERVAL_MAX_S ? c->ui.session_idle / 4
								      : TOUCH_INTERVAL_MAX_S;
	if (now - ret->last_used_at >= touch)
		(void)storage_ui_session_touch(ctx->storage, hash, now); /* best effort */
	return ERR_OK;
}

static enum err csrf_check(const struct ui_session *s, const char *csrf, struct response *res)
{
	size_t n = strlen(s->csrf);

	if (csrf && strlen(csrf) == n && crypto_equal(csrf, s->csrf, n))
		return ERR_OK;
	return api_fail_type(res, ERR_FORBIDDEN, "csrf-token",
			     "a request that changes state with the session cookie must carry the "
			     "session's " UI_CSRF_HEADER " header");
}

enum err ui_session_require(struct api_ctx *ctx, const char *cookie, enum http_method method,
			    const char *csrf, enum role need, struct api_key *ret_key,
			    struct response *res)
{
	uint8_t hash[SHA256_LEN];
	struct ui_session s = {0};
	enum err e = session_check(ctx, cookie, hash, &s, res);

	if (e)
		return e;
	if (method_changes_state(method) && (e = csrf_check(&s, csrf, res)))
		return e;
	if (s.key.role < need)
		return api_fail(res, ERR_FORBIDDEN,
				"this operation needs the %s role; key '%s' has %s",
				role_name(need), s.key.name, role_name(s.key.role));
	*ret_key = s.key;
	return ERR_OK;
}

static json_t *session_json(const struct config *c, const struct ui_session *s)
{
	int64_t end = s->created_at + (int64_t)c->ui.session_lifetime;
	char created[RFC3339_LEN], expires[RFC3339_LEN];

	if (s->key.expires_at && s->key.expires_at < end)
		end = s->key.expires_at;
	time_format_rfc3339(s->created_at, created);
	time_format_rfc3339(end, expires);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "key", s->key.name, "role",
			 role_name(s->key.role), "csrf_token", s->csrf, "created_at", created,
			 "expires_at", expires, "idle_timeout", (json_int_t)c->ui.session_idle);
}

static void cookie_set(struct response *res, const char *value, unsigned max_age)
{
	response_header_set(res, "Set-Cookie",
			    UI_SESSION_COOKIE "=%s; Path=/; Max-Age=%u; HttpOnly; Secure; "
					      "SameSite=Strict",
			    value, max_age);
}

/* The key from {"api_key": "..."} (only that member) or Authorization. */
static enum err sign_in_key(struct api_ctx *ctx, const struct request *req, struct api_key *key,
			    struct response *res)
{
	char bearer[8 + BOUND_BEARER_MAX + 1];
	const char *authorization = req->header(req, "Authorization");
	json_auto_t *body = NULL;
	const char *secret;
	enum err e;

	if (req->body) {
		if ((e = api_json_body(req, res, &body)))
			return e;
		if ((e = api_json_string(body, "api_key", BOUND_BEARER_MAX, res, &secret)))
			return e;
		if (json_object_size(body) != 1)
			return api_fail(res, ERR_INVALID, "the body takes only member 'api_key'");
		snprintf(bearer, sizeof(bearer), "Bearer %s", secret);
		authorization = bearer;
	} else if (!authorization) {
		return api_fail(res, ERR_UNAUTHORIZED,
				"sign in with an API key: {\"api_key\": \"KEY\"} or "
				"Authorization: Bearer KEY");
	}
	e = auth_require(ctx, authorization, ROLE_READER, key, res);
	OPENSSL_cleanse(bearer, sizeof(bearer));
	return e;
}

enum err api_ui_session_create(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const struct config *c = ctx->config;
	char id[SECRET_TEXT_MAX];
	uint8_t hash[SHA256_LEN];
	struct ui_session s = {0};
	enum err e;

	ui_headers_set(res);
	if (!c->ui.enabled)
		return api_fail(res, ERR_NOT_FOUND, "the web console is off ([ui] enabled)");
	if ((e = sign_in_key(ctx, req, &s.key, res)))
		return e;
	s.created_at = s.last_used_at = time_now();
	if ((e = crypto_secret_new("", id)) || (e = crypto_secret_new("", s.csrf)))
		return api_fail(res, e, "cannot make a session id");
	crypto_sha256(id, strlen(id), hash);
	/* Ended sessions go when new ones come: the table stays the size of
	 * the people signed in. */
	(void)storage_ui_session_sweep(ctx->storage, s.created_at - (int64_t)c->ui.session_idle,
				       s.created_at - (int64_t)c->ui.session_lifetime);
	e = storage_ui_session_insert(ctx->storage, hash, s.key.hash, s.csrf, s.created_at);
	if (e == ERR_NOT_FOUND)
		e = api_fail(res, ERR_UNAUTHORIZED, "the API key is not valid");
	else if (e)
		e = api_fail(res, e, "cannot store the session");
	if (!e) {
		cookie_set(res, id, c->ui.session_lifetime);
		response_header_set(res, "Cache-Control", "no-store");
		log_info("console session for key '%s' (%s)", s.key.name, role_name(s.key.role));
		e = response_json(res, 201, session_json(c, &s));
	}
	OPENSSL_cleanse(id, sizeof(id));
	return e;
}

enum err api_ui_session_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t hash[SHA256_LEN];
	struct ui_session s = {0};
	struct response ignored;

	ui_headers_set(res);
	response_header_set(res, "Cache-Control", "no-store");
	if (!ctx->config->ui.enabled)
		return api_fail(res, ERR_NOT_FOUND, "the web console is off ([ui] enabled)");
	/* No live session is an answer, not an error: 204, so that the
	 * console's first question logs no failed request in the browser. */
	response_init(&ignored);
	bool live = !session_check(ctx, req->cookie(req, UI_SESSION_COOKIE), hash, &s, &ignored);
	response_release(&ignored);
	if (!live) {
		res->status = 204;
		return ERR_OK;
	}
	return response_json(res, 200, session_json(ctx->config, &s));
}

enum err api_ui_session_delete(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t hash[SHA256_LEN];
	struct ui_session s = {0};
	struct response ignored;
	enum err e;

	ui_headers_set(res);
	response_init(&ignored);
	e = session_check(ctx, req->cookie(req, UI_SESSION_COOKIE), hash, &s, &ignored);
	response_release(&ignored);
	/* No live session: nothing to protect, the cookie is cleared anyway. */
	if (!e) {
		if ((e = csrf_check(&s, req->header(req, UI_CSRF_HEADER), res)))
			return e;
		if ((e = storage_ui_session_delete(ctx->storage, hash)))
			return api_fail(res, e, "cannot delete the session");
	}
	cookie_set(res, "", 0);
	res->status = 204;
	return ERR_OK;
}
