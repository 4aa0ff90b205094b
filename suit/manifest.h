/* Internal to suit/: decoding the SUIT_Manifest and walking its command
 * sequences to learn which images it fetches. */
#ifndef SUITD_SUIT_MANIFEST_H
#define SUITD_SUIT_MANIFEST_H

#include "suit/cbor.h"
#include "suit/suit.h"

/* Severable members as they appear in the envelope (keys 14..23). */
struct suit_severable {
	int64_t key;
	struct cbor_span envelope_item; /* the bstr item in the envelope, len 0 if absent */
};

/* Decode the manifest (content of the bstr at envelope key 3), check
 * severable members against their digests, extract the facts. */
enum suit_check suit_manifest_parse(struct cbor_span manifest_content,
				    const struct suit_severable *severable,
				    unsigned severable_count, struct suit_facts *facts,
				    struct diag *d);

/* Digest of data with a COSE hash algorithm (-16, -43, -44). */
bool suit_digest_compute(int64_t alg, const uint8_t *data, size_t len, struct suit_digest *out);
/* [alg, bytes] from a decoded SUIT_Digest array item. */
bool suit_digest_from_item(const cbor_item_t *item, struct suit_digest *out);
json_t *suit_digest_json(const struct suit_digest *dg);

#endif
