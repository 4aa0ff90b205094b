/* API keys: creation (CLI and API share it) and request authentication. */
#ifndef SUITD_API_AUTH_H
#define SUITD_API_AUTH_H

#include "api/api.h"
#include "common/crypto.h"
#include "storage/api_keys.h"

/* Prefix of API key secrets, so they are recognisable in a leak scanner. */
#define API_KEY_PREFIX "suitd_ak_"

/* Key names: [A-Za-z0-9._-]{1,64}. */
bool auth_key_name_valid(const char *name);

/* Create a key; the secret (shown once) goes to secret_out. */
enum err auth_key_create(struct storage *s, const char *name, enum role role, const char *actor,
			 char secret_out[SECRET_TEXT_MAX]);

/* Check an Authorization header against the key store and the role a route
 * needs. ERR_UNAUTHORIZED (missing, malformed, unknown or revoked key) or
 * ERR_FORBIDDEN (role too low), with res detail set; *ret_key on success. */
enum err auth_require(struct api_ctx *ctx, const char *authorization, enum role need,
		      struct api_key *ret_key, struct response *res);

/* Device routes. Device identities (client certificates, device tokens)
 * are not implemented yet: a device route answers only when the
 * configuration opens it (anonymous_ok), else 401. */
enum err auth_device_require(struct api_ctx *ctx, const char *authorization, bool anonymous_ok,
			     struct response *res);

#endif
