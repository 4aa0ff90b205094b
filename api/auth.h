/* API keys: creation (CLI and API share it) and request authentication. */
#ifndef SUITD_API_AUTH_H
#define SUITD_API_AUTH_H

#include "api/api.h"
#include "common/crypto.h"
#include "storage/api_keys.h"
#include "storage/devices.h"

/* Prefix of API key secrets, so they are recognisable in a leak scanner. */
#define API_KEY_PREFIX	    "suitd_ak_"
#define DEVICE_TOKEN_PREFIX "suitd_dt_"

/* Key names: [A-Za-z0-9._-]{1,64}. */
bool auth_key_name_valid(const char *name);

/* A key's lifetime, in seconds: 1 to BOUND_KEY_LIFETIME_MAX. */
bool auth_key_lifetime_valid(uint64_t seconds);

/* Create a key that stops at expires_at (seconds since the epoch; 0 =
 * never); the secret (shown once) goes to secret_out. */
enum err auth_key_create(struct storage *s, const char *name, enum role role, int64_t expires_at,
			 const char *actor, char secret_out[SECRET_TEXT_MAX]);

/* Check an Authorization header against the key store and the role a route
 * needs. ERR_UNAUTHORIZED (missing, malformed, unknown, revoked or expired
 * key: why a known key was refused is logged at notice level) or
 * ERR_FORBIDDEN (role too low), with res detail set; *ret_key on success. */
enum err auth_require(struct api_ctx *ctx, const char *authorization, enum role need,
		      struct api_key *ret_key, struct response *res);

/* What the TLS layer learnt of a client certificate (server/ fills it). */
struct device_cert {
	bool presented;
	bool valid; /* chain to [devices] client_ca, dates and key usage checked */
	char name[DEVICE_ID_MAX + 1]; /* the identity it names ([devices] identity) */
};

/* Device routes: a device identity from a client certificate or a device
 * token, as [devices] auth allows; a valid certificate of an unknown device
 * registers it when auto_register is on. Without an identity the request
 * passes only when anonymous_ok (*ret_device is then zeroed). Every failure
 * is the same 401: nothing tells which part was wrong. */
enum err auth_device_require(struct api_ctx *ctx, const struct device_cert *cert,
			     const char *authorization, bool anonymous_ok,
			     struct device_ident *ret_device, struct response *res);

/* New device token ("suitd_dt_..."), its SHA-256 into hash. */
enum err auth_device_token_new(char secret[SECRET_TEXT_MAX], uint8_t hash[SHA256_LEN]);

#endif
