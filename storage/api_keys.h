/* API keys of the management API: stored as SHA-256 of the secret only. */
#ifndef SUITD_STORAGE_API_KEYS_H
#define SUITD_STORAGE_API_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bounds.h"
#include "common/crypto.h"
#include "common/error.h"
#include "storage/storage.h"

enum role {
	ROLE_NONE = 0,
	ROLE_READER = 1,
	ROLE_OPERATOR = 2,
	ROLE_ADMIN = 3,
};

const char *role_name(enum role role);
bool role_parse(const char *name, enum role *ret_role);

struct api_key {
	int64_t id;
	char name[BOUND_KEY_NAME_MAX + 1];
	enum role role;
	uint8_t hash[SHA256_LEN];
	int64_t created_at;
	int64_t last_used_at; /* 0 = never */
	int64_t revoked_at;   /* 0 = active */
	int64_t expires_at;   /* 0 = never */
};

/* ERR_EXISTS when an unrevoked key (even an expired one) already has this
 * name. expires_at: seconds since the epoch, 0 = never. Writes an audit row
 * naming actor (and the expiry) in the same transaction. */
enum err storage_api_key_insert(struct storage *s, const char *name, enum role role,
				const uint8_t hash[SHA256_LEN], int64_t expires_at,
				const char *actor);
/* ERR_NOT_FOUND when no key (active or revoked) has this hash. */
enum err storage_api_key_by_hash(struct storage *s, const uint8_t hash[SHA256_LEN],
				 struct api_key *ret_key);
enum err storage_api_key_touch(struct storage *s, const uint8_t hash[SHA256_LEN], int64_t now);
/* Keys with id > after, by id, at most max; *ret_count written. */
enum err storage_api_key_list(struct storage *s, int64_t after, unsigned max,
			      struct api_key *ret_keys, unsigned *ret_count);
/* ERR_NOT_FOUND when no active key has this name. */
enum err storage_api_key_revoke(struct storage *s, const char *name, const char *actor);

#endif
