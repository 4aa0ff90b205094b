#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/ddi/ddi.h"
#include "api/deployments.h"
#include "api/seen.h"
#include "common/crypto.h"
#include "common/file.h"
#include "common/log.h"
#include "common/timeutil.h"

/* A gateway token shorter than this is refused at start: it grants every
 * controller id of the tenant. */
#define GATEWAY_TOKEN_MIN 16

enum err ddi_gateway_load(struct api_ctx *ctx, struct diag *d)
{
	const char *path = ctx->config->ddi.gateway_token_file;
	char *text = NULL;
	size_t len = 0;

	ctx->ddi_gateway = false;
	if (!path[0])
		return ERR_OK;
	enum err e = file_read_text(path, BOUND_BEARER_MAX + 64, &text, d);
	if (e)
		return e;
	len = strlen(text);
	/* One line: trailing newline and blanks are not part of the token. */
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
		       text[len - 1] == '\t'))
		len--;
	if (len < GATEWAY_TOKEN_MIN || len > BOUND_BEARER_MAX || memchr(text, '\n', len) ||
	    memchr(text, ' ', len)) {
		OPENSSL_cleanse(text, len);
		free(text);
		snprintf(d->text, sizeof(d->text),
			 "'%s' must hold one token of %d to %d characters without blanks", path,
			 GATEWAY_TOKEN_MIN, BOUND_BEARER_MAX);
		return ERR_CONFIG;
	}
	crypto_sha256(text, len, ctx->ddi_gateway_hash);
	ctx->ddi_gateway = true;
	OPENSSL_cleanse(text, len);
	free(text);
	return ERR_OK;
}

/* "Scheme <credential>" with this scheme (case-insensitive): the credential,
 * or NULL. */
static const char *credential(const char *authorization, const char *scheme)
{
	size_t n = strlen(scheme);

	if (!authorization || strncasecmp(authorization, scheme, n) != 0 || authorization[n] != ' ')
		return NULL;
	authorization += n;
	while (*authorization == ' ')
		authorization++;
	return *authorization ? authorization : NULL;
}

/* The controller a gateway or anonymous request acts for: registered as
 * the device API's auto-registration would. */
static enum err controller_device(struct api_ctx *ctx, const char *controller,
				  struct device_ident *ret, struct response *res)
{
	enum err e = storage_device_ident(ctx->storage, controller, ret);

	if (e == ERR_NOT_FOUND && ctx->config->devices.auto_register) {
		struct device_new dn = {.id = controller,
					.group = ctx->config->devices.default_group};
		e = storage_device_insert(ctx->storage, &dn, "ddi-register", ret);
		if (e == ERR_EXISTS) /* registered by a concurrent request */
			e = storage_device_ident(ctx->storage, controller, ret);
		if (!e) {
			log_notice("registered device '%s' from its first DDI poll", controller);
			deployments_device_changed(ctx, controller);
		}
	}
	if (e == ERR_NOT_FOUND)
		return api_fail(res, ERR_NOT_FOUND, "no device has this controller id");
	if (e)
		return api_fail(res, e, "cannot read the device");
	if (ctx->seen)
		seen_record(ctx->seen, ret->num, time_now(), false, 0);
	return ERR_OK;
}

enum err ddi_auth_require(struct api_ctx *ctx, const struct device_cert *cert,
			  const char *authorization, const char *tenant, const char *controller,
			  struct device_ident *ret_device, struct response *res)
{
	const struct config *c = ctx->config;
	const char *token;
	enum err e;

	/* Off, another tenant: as if the path did not exist. */
	if (!c->ddi.enabled)
		return api_fail(res, ERR_NOT_FOUND, "no resource at this path");
	if (strcasecmp(tenant, c->ddi.tenant) != 0)
		return api_fail(res, ERR_NOT_FOUND, "no such tenant");
	if (!device_name_valid(controller, DEVICE_ID_MAX))
		return api_fail(res, ERR_NOT_FOUND,
				"a controller id must match [A-Za-z0-9._:@-]{1,%d}", DEVICE_ID_MAX);
	if ((token = credential(authorization, "GatewayToken"))) {
		uint8_t hash[SHA256_LEN];
		size_t len = strlen(token);
		if (len > BOUND_BEARER_MAX || !ctx->ddi_gateway)
			return api_fail(res, ERR_UNAUTHORIZED, "device authentication failed");
		crypto_sha256(token, len, hash);
		if (!crypto_equal(hash, ctx->ddi_gateway_hash, SHA256_LEN))
			return api_fail(res, ERR_UNAUTHORIZED, "device authentication failed");
		return controller_device(ctx, controller, ret_device, res);
	}
	if ((token = credential(authorization, "TargetToken")) ||
	    (cert && cert->presented && !authorization)) {
		/* The device API's own check (token cache, grace of a rotated
		 * token, certificate, auto-registration), fed the same token. */
		char bearer[BOUND_BEARER_MAX + 16];
		if (token && strlen(token) > BOUND_BEARER_MAX)
			return api_fail(res, ERR_UNAUTHORIZED, "device authentication failed");
		snprintf(bearer, sizeof(bearer), "Bearer %s", token ? token : "");
		e = auth_device_require(ctx, cert, token ? bearer : NULL, false, ret_device, res);
		OPENSSL_cleanse(bearer, sizeof(bearer));
		if (e)
			return e;
		if (strcmp(ret_device->id, controller) != 0)
			return api_fail(res, ERR_FORBIDDEN,
					"this identity is device '%s', not controller '%s'",
					ret_device->id, controller);
		return ERR_OK;
	}
	if (!authorization && c->ddi.anonymous)
		return controller_device(ctx, controller, ret_device, res);
	return api_fail(res, ERR_UNAUTHORIZED,
			"device authentication failed (Authorization: TargetToken or "
			"GatewayToken)");
}
