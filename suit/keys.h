/* Internal to suit/: the trust anchors behind struct suit_keyring. */
#ifndef SUITD_SUIT_KEYS_H
#define SUITD_SUIT_KEYS_H

#include <openssl/evp.h>

#include "suit/suit.h"

enum anchor_type {
	ANCHOR_P256,
	ANCHOR_ED25519,
	ANCHOR_HMAC,
};

/* What a scoped anchor may sign (suit_keyring_add_anchor). */
#define SUIT_MAX_SCOPES		4
#define SUIT_MAX_SCOPE_ELEMENTS 4
struct suit_scope {
	bool is_class;
	uint8_t class_id[16];
	unsigned element_count; /* prefix=E1/E2: the first elements of an identifier */
	uint8_t element[SUIT_MAX_SCOPE_ELEMENTS][64];
	size_t element_len[SUIT_MAX_SCOPE_ELEMENTS];
};

struct suit_anchor {
	unsigned scope_count; /* 0: any manifest */
	struct suit_scope scopes[SUIT_MAX_SCOPES];
	enum anchor_type type;
	EVP_PKEY *pkey;	    /* public key (P-256, Ed25519) */
	uint8_t secret[32]; /* HMAC */
	uint8_t kid[32];    /* RFC 9679 COSE_Key thumbprint (SHA-256) */
	char name[256];
};

#define SUIT_MAX_ANCHORS 64

struct suit_keyring {
	unsigned count;
	struct suit_anchor anchors[SUIT_MAX_ANCHORS];
};

/* RFC 9679 thumbprint of a public key or secret (also used by create). */
enum err suit_cose_key_thumbprint(enum anchor_type type, EVP_PKEY *pkey, const uint8_t *secret,
				  uint8_t out[32]);

/* Whether an anchor with this kid (and key type) may verify a manifest
 * with this dependency prefix (encoded, NULL when checked on its own),
 * manifest-component-id and facts (class ids). On success *ret_anchor is
 * the in-scope anchor. */
bool suit_keyring_in_scope(const struct suit_keyring *kr, unsigned anchor, const uint8_t *prefix,
			   size_t prefix_len, const struct suit_facts *f, unsigned *ret_anchor);

#endif
