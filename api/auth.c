#include "api/auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/deployments.h"
#include "api/seen.h"
#include "api/token_cache.h"
#include "common/log.h"
#include "common/timeutil.h"

/* last_used_at is written at most this often per key: a read-mostly API
 * must not turn every request into a database write. */
#define TOUCH_INTERVAL_S 60

bool auth_key_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > BOUND_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool auth_key_lifetime_valid(uint64_t seconds)
{
	return seconds >= 1 && seconds <= BOUND_KEY_LIFETIME_MAX;
}

enum err auth_key_create(struct storage *s, const char *name, enum role role, int64_t expires_at,
			 const char *actor, char secret_out[SECRET_TEXT_MAX])
{
	char secret[SECRET_TEXT_MAX];
	uint8_t hash[SHA256_LEN];
	enum err e;

	if (!auth_key_name_valid(name))
		return ERR_INVALID;
	e = crypto_secret_new(API_KEY_PREFIX, secret);
	if (e)
		return e;
	crypto_sha256(secret, strlen(secret), hash);
	e = storage_api_key_insert(s, name, role, hash, expires_at, actor);
	if (!e)
		memcpy(secret_out, secret, sizeof(secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	return e;
}

enum err auth_require(struct api_ctx *ctx, const char *authorization, enum role need,
		      struct api_key *ret_key, struct response *res)
{
	struct api_key key;
	uint8_t hash[SHA256_LEN];
	const char *token;
	size_t len;
	enum err e;

	if (!authorization)
		return api_fail(res, ERR_UNAUTHORIZED,
				"an API key is required (Authorization: Bearer KEY)");
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return api_fail(res, ERR_UNAUTHORIZED, "the Authorization scheme must be Bearer");
	token = authorization + 7;
	while (*token == ' ')
		token++;
	len = strlen(token);
	if (len == 0 || len > BOUND_BEARER_MAX)
		return api_fail(res, ERR_UNAUTHORIZED, "the API key is not valid");
	crypto_sha256(token, len, hash);
	e = storage_api_key_by_hash(ctx->storage, hash, &key);
	if (e == ERR_NOT_FOUND || (!e && !crypto_equal(key.hash, hash, SHA256_LEN)))
		return api_fail(res, ERR_UNAUTHORIZED, "the API key is not valid");
	if (e)
		return api_fail(res, e, "cannot check the API key");
	int64_t now = time_now();
	/* Revoked and expired get the same answer as an unknown key; the
	 * reason goes to the log, with the key's name (never the key). */
	if (key.revoked_at) {
		log_notice("api key '%s' refused: revoked", key.name);
		return api_fail(res, ERR_UNAUTHORIZED, "the API key is not valid");
	}
	if (key.expires_at && now >= key.expires_at) {
		char at[RFC3339_LEN];
		time_format_rfc3339(key.expires_at, at);
		log_notice("api key '%s' refused: expired at %s", key.name, at);
		return api_fail(res, ERR_UNAUTHORIZED, "the API key is not valid");
	}
	if (key.role < need)
		return api_fail(res, ERR_FORBIDDEN,
				"this operation needs the %s role; key '%s' has %s",
				role_name(need), key.name, role_name(key.role));
	if (now - key.last_used_at >= TOUCH_INTERVAL_S)
		(void)storage_api_key_touch(ctx->storage, hash, now); /* best effort */
	*ret_key = key;
	return ERR_OK;
}

enum err auth_device_token_new(char secret[SECRET_TEXT_MAX], uint8_t hash[SHA256_LEN])
{
	enum err e = crypto_secret_new(DEVICE_TOKEN_PREFIX, secret);

	if (!e)
		crypto_sha256(secret, strlen(secret), hash);
	return e;
}

static enum err device_by_certificate(struct api_ctx *ctx, const struct device_cert *cert,
				      struct device_ident *ret)
{
	const struct config *c = ctx->config;
	enum err e;

	if (!cert->valid || !device_name_valid(cert->name, DEVICE_ID_MAX))
		return ERR_UNAUTHORIZED;
	e = storage_device_ident(ctx->storage, cert->name, ret);
	if (e != ERR_NOT_FOUND || !c->devices.auto_register)
		return e;
	struct device_new d = {.id = cert->name, .group = c->devices.default_group};
	e = storage_device_insert(ctx->storage, &d, "auto-register", ret);
	if (e == ERR_EXISTS) /* registered by a concurrent request */
		e = storage_device_ident(ctx->storage, cert->name, ret);
	if (!e) {
		log_notice("registered device '%s' from its certificate", cert->name);
		deployments_device_changed(ctx, cert->name); /* its default group's deployment */
	}
	return e;
}

static enum err device_by_token(struct api_ctx *ctx, const char *authorization,
				struct device_ident *ret)
{
	uint8_t hash[SHA256_LEN];
	const char *token;
	size_t len;

	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return ERR_UNAUTHORIZED;
	token = authorization + 7;
	while (*token == ' ')
		token++;
	len = strlen(token);
	if (len == 0 || len > BOUND_BEARER_MAX)
		return ERR_UNAUTHORIZED;
	crypto_sha256(token, len, hash);
	int64_t now = time_now(), until;
	if (!ctx->tokens)
		return storage_device_by_token(ctx->storage, hash, now, ret, &until);
	if (token_cache_get(ctx->tokens, hash, now, ret))
		return ERR_OK;
	/* Before the read: a rotation or deletion that commits after it clears
	 * the cache, and the put of the row read here is refused. */
	uint64_t generation = token_cache_generation(ctx->tokens);
	enum err e = storage_device_by_token(ctx->storage, hash, now, ret, &until);
	if (!e) /* a previous token in its grace is cached until it ends */
		token_cache_put(ctx->tokens, generation, hash, ret, until);
	return e;
}

enum err auth_device_require(struct api_ctx *ctx, const struct device_cert *cert,
			     const char *authorization, bool anonymous_ok,
			     struct device_ident *ret_device, struct response *res)
{
	unsigned allowed = ctx->config->devices.auth;
	enum err e = ERR_UNAUTHORIZED;

	memset(ret_device, 0, sizeof(*ret_device));
	/* A presented certificate decides; a bad one is not rescued by a token. */
	if ((allowed & CONFIG_DEVICE_AUTH_CERTIFICATE) && cert && cert->presented)
		e = device_by_certificate(ctx, cert, ret_device);
	else if ((allowed & CONFIG_DEVICE_AUTH_TOKEN) && authorization)
		e = device_by_token(ctx, authorization, ret_device);
	else if (anonymous_ok)
		return ERR_OK;
	if (e == ERR_NOT_FOUND || e == ERR_UNAUTHORIZED)
		return api_fail(res, ERR_UNAUTHORIZED, "device authentication failed");
	if (e)
		return api_fail(res, e, "cannot check the device identity");
	if (ctx->seen)
		seen_record(ctx->seen, ret_device->num, time_now(), false, 0);
	return ERR_OK;
}
