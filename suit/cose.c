#include "suit/cose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/crypto.h"

const char *suit_cose_alg_name(int64_t alg)
{
	switch (alg) {
	case COSE_ALG_ES256:
		return "ES256";
	case COSE_ALG_ESP256:
		return "ESP256";
	case COSE_ALG_EDDSA:
		return "EdDSA";
	case COSE_ALG_ED25519:
		return "Ed25519";
	case COSE_ALG_HMAC256:
		return "HMAC 256/256";
	case -46:
		return "HSS-LMS";
	default:
		return "unknown";
	}
}

bool suit_cose_to_be_signed(const char *context, struct cbor_span protected_content,
			    struct cbor_span payload, unsigned char **ret, size_t *ret_len)
{
	CLEANUP_CBOR cbor_item_t *arr = cbor_new_definite_array(4);
	cbor_item_t *parts[4] = {
		cbor_build_string(context),
		cbor_build_bytestring(protected_content.p, protected_content.len),
		cbor_build_bytestring(NULL, 0),
		cbor_build_bytestring(payload.p, payload.len),
	};
	bool ok = arr != NULL;
	size_t size = 0;

	for (int i = 0; i < 4; i++) {
		ok = ok && parts[i] && cbor_array_push(arr, parts[i]);
		if (parts[i])
			cbor_decref(&parts[i]);
	}
	*ret = NULL;
	if (ok)
		*ret_len = cbor_serialize_alloc(arr, ret, &size);
	if (!ok || !*ret_len) {
		free(*ret);
		*ret = NULL;
		return false;
	}
	return true;
}

/* COSE ECDSA signatures are r||s (RFC 9053 §2.1); OpenSSL wants DER. */
static bool ecdsa_verify(EVP_PKEY *pkey, const uint8_t *sig, size_t sig_len,
			 const unsigned char *tbs, size_t tbs_len)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL;
	int der_len;
	EVP_MD_CTX *ctx;
	bool ok = false;

	if (sig_len != 64)
		return false;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return false;
	}
	der_len = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	ctx = EVP_MD_CTX_new();
	if (der_len > 0 && ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
		ok = EVP_DigestVerify(ctx, der, (size_t)der_len, tbs, tbs_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok;
}

static bool eddsa_verify(EVP_PKEY *pkey, const uint8_t *sig, size_t sig_len,
			 const unsigned char *tbs, size_t tbs_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		  EVP_DigestVerify(ctx, sig, sig_len, tbs, tbs_len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool hmac_verify(const uint8_t secret[32], const uint8_t *tag, size_t tag_len,
			const unsigned char *tbs, size_t tbs_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (tag_len != 32 || !HMAC(EVP_sha256(), secret, 32, tbs, tbs_len, mac, &mac_len) ||
	    mac_len != 32)
		return false;
	return crypto_equal(mac, tag, 32);
}

static bool alg_anchor_type(int64_t alg, enum anchor_type *ret)
{
	switch (alg) {
	case COSE_ALG_ES256:
	case COSE_ALG_ESP256:
		*ret = ANCHOR_P256;
		return true;
	case COSE_ALG_EDDSA:
	case COSE_ALG_ED25519:
		*ret = ANCHOR_ED25519;
		return true;
	case COSE_ALG_HMAC256:
		*ret = ANCHOR_HMAC;
		return true;
	default:
		return false;
	}
}

/* kid (label 4) from a header map item, protected first. */
static void header_kid(const cbor_item_t *prot, const cbor_item_t *unprot, struct suit_signer *s)
{
	const cbor_item_t *kid = cbor_map_get_int(prot, 4);

	if (!kid)
		kid = cbor_map_get_int(unprot, 4);
	if (kid && cbor_isa_bytestring(kid) && cbor_bytestring_is_definite(kid) &&
	    cbor_bytestring_length(kid) <= sizeof(s->kid)) {
		s->kid_len = cbor_bytestring_length(kid);
		memcpy(s->kid, cbor_bytestring_handle(kid), s->kid_len);
	}
}

enum suit_check suit_cose_verify(struct cbor_span block, struct cbor_span digest,
				 const struct suit_keyring *kr, struct suit_signer *signer,
				 struct diag *d)
{
	struct cbor_span body, parts[4], unused, protected_content;
	struct cbor_iter it;
	bool mac;
	unsigned char *tbs = NULL;
	size_t tbs_len = 0;
	enum anchor_type want;
	unsigned candidates = 0;

	memset(signer, 0, sizeof(*signer));
	signer->anchor = -1;
	if (block.len < 2)
		return diag_set(d, ERR_UNPROCESSABLE, "authentication", "empty COSE block"),
		       SUIT_CBOR_PARSE;
	/* libcbor 0.8 cannot decode one-byte tags 6..20 (COSE_Sign1 d2,
	 * COSE_Mac0 d1): the tag byte is handled here. */
	if (block.p[0] == 0xd2 || block.p[0] == 0xd1) {
		mac = block.p[0] == 0xd1;
		body = (struct cbor_span){block.p + 1, block.len - 1};
	} else if (block.len > 2 && block.p[0] == 0xd8 &&
		   (block.p[1] == 0x62 || block.p[1] == 0x61)) {
		signer->result = SUIT_UNSUPPORTED;
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 "COSE_%s (tag %d) is not supported; use COSE_Sign1 or COSE_Mac0",
			 block.p[1] == 0x62 ? "Sign" : "Mac", block.p[1]);
		return SUIT_UNSUPPORTED;
	} else {
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 "an authentication block is not a tagged COSE_Sign1 or COSE_Mac0");
		return SUIT_CBOR_PARSE;
	}
	if (!cbor_iter_init(body, CBOR_ARRAY, &it) || it.left != 4) {
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 "a COSE block is not a 4-element array");
		return SUIT_CBOR_PARSE;
	}
	for (int i = 0; i < 4; i++)
		if (!cbor_iter_next(&it, &parts[i], &unused))
			return diag_set(d, ERR_UNPROCESSABLE, "authentication",
					"truncated COSE block"),
			       SUIT_CBOR_PARSE;
	if (!cbor_iter_done(&it) || !cbor_bstr_content(parts[0], &protected_content) ||
	    !cbor_bstr_content(parts[3], &unused))
		return diag_set(d, ERR_UNPROCESSABLE, "authentication", "malformed COSE block"),
		       SUIT_CBOR_PARSE;
	CLEANUP_CBOR cbor_item_t *prot = protected_content.len ? cbor_span_load(protected_content)
							       : cbor_new_definite_map(0);
	CLEANUP_CBOR cbor_item_t *unprot = cbor_span_load(parts[1]);
	if (!prot || !cbor_isa_map(prot) || !unprot || !cbor_isa_map(unprot))
		return diag_set(d, ERR_UNPROCESSABLE, "authentication",
				"malformed COSE header maps"),
		       SUIT_CBOR_PARSE;
	/* Detached payload: nil, or (older signers) the digest itself. */
	struct cbor_span payload_content;
	if (!(parts[2].len == 1 && parts[2].p[0] == 0xf6) &&
	    !(cbor_bstr_content(parts[2], &payload_content) && payload_content.len == digest.len &&
	      memcmp(payload_content.p, digest.p, digest.len) == 0))
		return diag_set(d, ERR_UNPROCESSABLE, "authentication",
				"a COSE block carries a payload other than the manifest digest"),
		       SUIT_CBOR_PARSE;
	if (!cbor_item_int(cbor_map_get_int(prot, 1), &signer->alg)) {
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 "a COSE block has no algorithm in its protected header");
		signer->result = SUIT_ALG_UNSUPPORTED;
		return SUIT_ALG_UNSUPPORTED;
	}
	header_kid(prot, unprot, signer);
	if (!alg_anchor_type(signer->alg, &want) || (mac != (want == ANCHOR_HMAC))) {
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 "COSE algorithm %lld (%s) is not supported", (long long)signer->alg,
			 suit_cose_alg_name(signer->alg));
		signer->result = SUIT_ALG_UNSUPPORTED;
		return SUIT_ALG_UNSUPPORTED;
	}
	struct cbor_span sig;
	cbor_bstr_content(parts[3], &sig);
	if (!suit_cose_to_be_signed(mac ? "MAC0" : "Signature1", protected_content, digest, &tbs,
				    &tbs_len))
		return diag_set(d, ERR_NOMEM, "", "out of memory"), SUIT_CBOR_PARSE;
	for (unsigned i = 0; kr && i < kr->count; i++) {
		const struct suit_anchor *a = &kr->anchors[i];
		bool ok;
		if (a->type != want)
			continue;
		if (signer->kid_len &&
		    (signer->kid_len != 32 || memcmp(signer->kid, a->kid, 32) != 0))
			continue;
		candidates++;
		if (want == ANCHOR_P256)
			ok = ecdsa_verify(a->pkey, sig.p, sig.len, tbs, tbs_len);
		else if (want == ANCHOR_ED25519)
			ok = eddsa_verify(a->pkey, sig.p, sig.len, tbs, tbs_len);
		else
			ok = hmac_verify(a->secret, sig.p, sig.len, tbs, tbs_len);
		if (ok) {
			signer->anchor = (int)i;
			break;
		}
	}
	free(tbs);
	if (signer->anchor >= 0) {
		signer->result = SUIT_OK;
	} else if (candidates == 0) {
		signer->result = SUIT_NO_TRUSTED_SIGNATURE;
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 signer->kid_len ? "the %s block's kid names no configured trust anchor"
					 : "no configured trust anchor can check a %s block",
			 suit_cose_alg_name(signer->alg));
	} else {
		signer->result = SUIT_SIGNATURE_INVALID;
		diag_set(d, ERR_UNPROCESSABLE, "authentication",
			 "the %s signature does not verify with %s (%u candidate trust anchor%s)",
			 suit_cose_alg_name(signer->alg),
			 signer->kid_len ? "the key its kid names" : "any trust anchor", candidates,
			 candidates == 1 ? "" : "s");
	}
	return signer->result;
}
