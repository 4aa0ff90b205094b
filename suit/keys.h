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

struct suit_anchor {
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

#endif
