/* SUIT_Encryption_Info (draft-ietf-suit-firmware-encryption): the value of
 * suit-parameter-encryption-info (19), a COSE_Encrypt (tag 96) or
 * COSE_Encrypt0 (tag 16) with a detached ciphertext. suitd holds no device
 * key and never decrypts: it reads the algorithms and the recipients' key
 * ids for the manifest facts, and refuses what is not well-formed. */
#ifndef SUITD_SUIT_ENCRYPTION_H
#define SUITD_SUIT_ENCRYPTION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

/* Recipients read across all layers; more is refused as unsupported. */
#define SUIT_ENC_MAX_RECIPIENTS 16
/* Bytes of a key id shown (longer kids are refused). */
#define SUIT_ENC_MAX_KID 256

/* Decode the content of the parameter's bstr. On success *ret is
 * {"cose", "content_alg", "content_alg_id", "iv", "ciphertext",
 * "recipients": [{"layer", "alg", "alg_id", "method", "kid", "kid_text",
 * "ephemeral_key"}]} (see docs/suit.md); ERR_INVALID with d (field
 * "encryption-info") when it is not a SUIT_Encryption_Info, ERR_TOO_LARGE
 * past the bounds above. */
enum err suit_encryption_info_decode(const uint8_t *data, size_t len, json_t **ret, struct diag *d);

/* COSE algorithm names: a content (AEAD or AES-CTR/CBC) algorithm, and a
 * recipient's key-wrap or key-agreement algorithm with its method
 * ("key-wrap", "key-agreement", "direct"); "unknown" otherwise. */
const char *suit_encryption_content_alg_name(int64_t alg);
const char *suit_encryption_recipient_alg_name(int64_t alg, const char **ret_method);

#endif
