/* The COSE wrapper of a SUIT_Report (draft-ietf-suit-report: a report may
 * be sent bare over an authenticated channel or signed with COSE_Sign1). */
#include <string.h>

#include "suit/cose.h"
#include "suit/report.h"

enum err suit_report_open(const uint8_t *data, size_t len, const char *key_pem,
			  struct cbor_span *ret_payload, enum suit_report_auth *ret_auth,
			  struct diag *d)
{
	struct cbor_span block = {data, len}, body, parts[4], unused, payload;
	struct suit_keyring *kr = NULL;
	struct suit_signer signer;
	struct cbor_iter it;
	size_t item_len;
	enum err e;

	if (!data || !len)
		return diag_set(d, ERR_INVALID, "report", "the body is empty");
	if (data[0] == 0xd0 || data[0] == 0xd1 || (len > 1 && data[0] == 0xd8 && data[1] >= 0x60))
		return diag_set(d, ERR_MEDIA_TYPE, "report",
				"only a bare SUIT_Report or a COSE_Sign1 (tag 18) is accepted");
	if (data[0] != 0xd2) {
		*ret_payload = block;
		*ret_auth = SUIT_REPORT_BARE;
		return ERR_OK;
	}
	/* COSE_Sign1 = [protected bstr, unprotected map, payload bstr, signature bstr] */
	body = (struct cbor_span){data + 1, len - 1};
	if (!cbor_item_len(body.p, body.len, &item_len) || item_len != body.len)
		return diag_set(d, ERR_INVALID, "COSE_Sign1",
				"not exactly one well-formed CBOR item");
	if (!cbor_iter_init(body, CBOR_ARRAY, &it) || it.left != 4)
		return diag_set(d, ERR_INVALID, "COSE_Sign1", "not a 4-element array");
	for (int i = 0; i < 4; i++)
		if (!cbor_iter_next(&it, &parts[i], &unused))
			return diag_set(d, ERR_INVALID, "COSE_Sign1", "truncated");
	if (!cbor_bstr_content(parts[2], &payload) || !payload.len)
		return diag_set(d, ERR_INVALID, "COSE_Sign1 payload",
				"must carry the SUIT_Report (a detached payload is not accepted)");
	*ret_payload = payload;
	if (!key_pem) {
		*ret_auth = SUIT_REPORT_SIGNED_UNCHECKED;
		return ERR_OK;
	}
	if ((e = suit_keyring_new(&kr)))
		return diag_set(d, e, "report_key", "out of memory");
	e = suit_keyring_add_pem_text(kr, key_pem, strlen(key_pem), "report_key", d);
	if (!e) {
		/* The payload doubles as the "detached" content the block signs. */
		struct diag why = {0};
		enum suit_check c = suit_cose_verify(block, payload, kr, &signer, &why);
		if (c == SUIT_CBOR_PARSE)
			e = diag_set(d, ERR_INVALID, "COSE_Sign1", "%s", why.text);
		else if (c == SUIT_ALG_UNSUPPORTED || c == SUIT_UNSUPPORTED)
			e = diag_set(d, ERR_UNPROCESSABLE, "COSE_Sign1", "%s", why.text);
		else if (c == SUIT_NO_TRUSTED_SIGNATURE && signer.kid_len)
			e = diag_set(d, ERR_UNPROCESSABLE, "COSE_Sign1",
				     "its kid is not the thumbprint of the device's report_key");
		else if (c != SUIT_OK)
			e = diag_set(d, ERR_UNPROCESSABLE, "COSE_Sign1",
				     "the %s signature does not verify with the device's "
				     "report_key",
				     suit_cose_alg_name(signer.alg));
	} else {
		e = ERR_CONFIG;
	}
	suit_keyring_free(kr);
	if (!e)
		*ret_auth = SUIT_REPORT_SIGNED_VERIFIED;
	return e;
}
