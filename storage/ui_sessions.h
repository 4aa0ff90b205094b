/* Web console sessions (migration 0019): a random id, stored as its
 * SHA-256, that acts with the API key it was signed in with. */
#ifndef SUITD_STORAGE_UI_SESSIONS_H
#define SUITD_STORAGE_UI_SESSIONS_H

#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/api_keys.h"
#include "storage/storage.h"

/* The CSRF token: 43 base64url characters and a prefix. */
#define UI_CSRF_MAX SECRET_TEXT_MAX

struct ui_session {
	char csrf[UI_CSRF_MAX];
	int64_t created_at;
	int64_t last_used_at;
	struct api_key key; /* the key as it is now (revoked_at, expires_at) */
};

/* A session for the active key whose hash is key_hash, at now.
 * ERR_NOT_FOUND when that key is gone or revoked. */
enum err storage_ui_session_insert(struct storage *s, const uint8_t hash[SHA256_LEN],
				   const uint8_t key_hash[SHA256_LEN], const char *csrf,
				   int64_t now);
/* ERR_NOT_FOUND when no session has this hash. */
enum err storage_ui_session_get(struct storage *s, const uint8_t hash[SHA256_LEN],
				struct ui_session *ret);
enum err storage_ui_session_touch(struct storage *s, const uint8_t hash[SHA256_LEN], int64_t now);
/* Deleting an absent session is not an error (sign-out twice). */
enum err storage_ui_session_delete(struct storage *s, const uint8_t hash[SHA256_LEN]);
/* Delete the sessions idle since before idle_before or created before
 * created_before. */
enum err storage_ui_session_sweep(struct storage *s, int64_t idle_before, int64_t created_before);

#endif
