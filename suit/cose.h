/* Internal to suit/: COSE authentication blocks of a SUIT envelope. */
#ifndef SUITD_SUIT_COSE_H
#define SUITD_SUIT_COSE_H

#include "suit/cbor.h"
#include "suit/keys.h"
#include "suit/suit.h"

/* Verify one SUIT_Authentication_Block (the content of its bstr) whose
 * detached payload is the content of the SUIT_Digest bstr (digest). Fills
 * signer; returns SUIT_CBOR_PARSE only when the block is malformed. */
enum suit_check suit_cose_verify(struct cbor_span block, struct cbor_span digest,
				 const struct suit_keyring *kr, struct suit_signer *signer,
				 struct diag *d);

/* Serialise the COSE Sig_structure / MAC_structure that is signed:
 * [context, protected, h'', payload] (malloc'ed). */
bool suit_cose_to_be_signed(const char *context, struct cbor_span protected_content,
			    struct cbor_span payload, unsigned char **ret, size_t *ret_len);

const char *suit_cose_alg_name(int64_t alg);

#endif
