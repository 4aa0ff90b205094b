#include "suit/encryption.h"

#include <string.h>

#include "common/crypto.h"
#include "suit/cbor.h"

#define TAG_COSE_ENCRYPT0 16
#define TAG_COSE_ENCRYPT  96
/* COSE_Encrypt layers: content, recipients, their recipients (a two-layer
 * ECDH-ES + AES-KW recipient may carry one more). */
#define MAX_LAYERS 3

const char *suit_encryption_content_alg_name(int64_t alg)
{
	switch (alg) {
	case 1:
		return "A128GCM";
	case 2:
		return "A192GCM";
	case 3:
		return "A256GCM";
	case 24:
		return "ChaCha20/Poly1305";
	case -65534:
		return "A128CTR";
	case -65533:
		return "A192CTR";
	case -65532:
		return "A256CTR";
	case -65531:
		return "A128CBC";
	case -65530:
		return "A192CBC";
	case -65529:
		return "A256CBC";
	default:
		return "unknown";
	}
}

const char *suit_encryption_recipient_alg_name(int64_t alg, const char **ret_method)
{
	static const struct {
		int64_t id;
		const char *name, *method;
	} algs[] = {
		{-3, "A128KW", "key-wrap"},
		{-4, "A192KW", "key-wrap"},
		{-5, "A256KW", "key-wrap"},
		{-6, "direct", "direct"},
		{-25, "ECDH-ES + HKDF-256", "key-agreement"},
		{-26, "ECDH-ES + HKDF-512", "key-agreement"},
		{-27, "ECDH-SS + HKDF-256", "key-agreement"},
		{-28, "ECDH-SS + HKDF-512", "key-agreement"},
		{-29, "ECDH-ES + A128KW", "key-agreement"},
		{-30, "ECDH-ES + A192KW", "key-agreement"},
		{-31, "ECDH-ES + A256KW", "key-agreement"},
		{-32, "ECDH-SS + A128KW", "key-agreement"},
		{-33, "ECDH-SS + A192KW", "key-agreement"},
		{-34, "ECDH-SS + A256KW", "key-agreement"},
	};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].id == alg) {
			if (ret_method)
				*ret_method = algs[i].method;
			return algs[i].name;
		}
	if (ret_method)
		*ret_method = "unknown";
	return "unknown";
}

static const char *kty_name(int64_t kty)
{
	return kty == 1 ? "OKP" : kty == 2 ? "EC2" : kty == 4 ? "Symmetric" : "unknown";
}

static const char *crv_name(int64_t crv)
{
	static const char *const names[] = {NULL,     "P-256", "P-384",	  "P-521",
					    "X25519", "X448",  "Ed25519", "Ed448"};

	return crv >= 1 && crv <= 7 ? names[crv] : "unknown";
}

struct dec {
	struct diag *d;
	enum err err;
	unsigned recipients;
};

static bool dec_fail(struct dec *x, enum err e, const char *why)
{
	if (!x->err) {
		x->err = e;
		diag_set(x->d, e, "encryption-info", "%s", why);
	}
	return false;
}

static bool map_keys_unique(const cbor_item_t *map)
{
	size_t n = cbor_map_size(map);
	struct cbor_pair *p = cbor_map_handle(map);

	if (n > 32)
		return false; /* no COSE header map is that large */
	for (size_t i = 0; i < n; i++) {
		int64_t a, b;
		if (!cbor_item_int(p[i].key, &a))
			continue;
		for (size_t j = i + 1; j < n; j++)
			if (cbor_item_int(p[j].key, &b) && a == b)
				return false;
	}
	return true;
}

/* The protected header: a bstr holding a map, or an empty bstr. *ret is
 * NULL for an empty one. */
static bool protected_load(struct dec *x, const cbor_item_t *b, cbor_item_t **ret)
{
	*ret = NULL;
	if (!cbor_isa_bytestring(b) || !cbor_bytestring_is_definite(b))
		return dec_fail(x, ERR_INVALID, "a protected header is not a bstr");
	if (cbor_bytestring_length(b) == 0)
		return true;
	*ret = cbor_span_load(
		(struct cbor_span){cbor_bytestring_handle(b), cbor_bytestring_length(b)});
	if (!*ret || !cbor_isa_map(*ret) || !map_keys_unique(*ret)) {
		if (*ret)
			cbor_decref(ret);
		return dec_fail(x, ERR_INVALID,
				"a protected header is not a bstr-wrapped map with unique labels");
	}
	return true;
}

/* A header label from the protected map, else the unprotected one; a label
 * in both is refused (RFC 9052 §3). */
static const cbor_item_t *header_get(struct dec *x, const cbor_item_t *prot,
				     const cbor_item_t *unprot, int64_t label)
{
	const cbor_item_t *a = prot ? cbor_map_get_int(prot, label) : NULL;
	const cbor_item_t *b = cbor_map_get_int(unprot, label);

	if (a && b) {
		dec_fail(x, ERR_INVALID, "a header label is both protected and unprotected");
		return NULL;
	}
	return a ? a : b;
}

static json_t *bytes_hex(const cbor_item_t *b)
{
	char hex[2 * SUIT_ENC_MAX_KID + 1];

	if (!cbor_isa_bytestring(b) || !cbor_bytestring_is_definite(b) ||
	    cbor_bytestring_length(b) > SUIT_ENC_MAX_KID)
		return NULL;
	hex_encode(cbor_bytestring_handle(b), cbor_bytestring_length(b), hex);
	return json_string(hex);
}

/* The kid as hex, and as text when it is printable ASCII (the examples'
 * 'kid-1'). */
static bool put_kid(struct dec *x, json_t *o, const cbor_item_t *kid)
{
	json_t *hex;
	size_t n;
	const uint8_t *p;
	bool printable = true;

	if (!kid) {
		json_object_set_new(o, "kid", json_null());
		return true;
	}
	hex = bytes_hex(kid);
	if (!hex)
		return dec_fail(x, ERR_INVALID, "a kid is not a bstr of at most 256 bytes");
	json_object_set_new(o, "kid", hex);
	n = cbor_bytestring_length(kid);
	p = cbor_bytestring_handle(kid);
	for (size_t i = 0; i < n; i++)
		printable = printable && p[i] >= 0x20 && p[i] < 0x7f;
	if (n && printable)
		json_object_set_new(o, "kid_text", json_stringn((const char *)p, n));
	return true;
}

static bool put_ephemeral(struct dec *x, json_t *o, const cbor_item_t *key)
{
	int64_t kty, crv;
	json_t *k;

	if (!key)
		return true;
	if (!cbor_isa_map(key) || !map_keys_unique(key) ||
	    !cbor_item_int(cbor_map_get_int(key, 1), &kty))
		return dec_fail(x, ERR_INVALID, "an ephemeral key is not a COSE_Key with a kty");
	k = json_pack("{s:s, s:I}", "kty", kty_name(kty), "kty_id", (json_int_t)kty);
	if (cbor_item_int(cbor_map_get_int(key, -1), &crv)) {
		json_object_set_new(k, "crv", json_string(crv_name(crv)));
		json_object_set_new(k, "crv_id", json_integer((json_int_t)crv));
	}
	json_object_set_new(o, "ephemeral_key", k);
	return true;
}

/* COSE_recipient = [protected, unprotected, ciphertext / nil, ? recipients] */
static bool recipients_decode(struct dec *x, const cbor_item_t *arr, unsigned layer, json_t *out)
{
	if (!cbor_isa_array(arr) || cbor_array_size(arr) == 0)
		return dec_fail(x, ERR_INVALID, "recipients must be a non-empty array");
	if (layer >= MAX_LAYERS)
		return dec_fail(x, ERR_TOO_LARGE, "recipients nested deeper than three layers");
	for (size_t i = 0; i < cbor_array_size(arr); i++) {
		const cbor_item_t *r = cbor_array_handle(arr)[i], *alg, *unprot;
		CLEANUP_CBOR cbor_item_t *prot = NULL;
		const char *method, *name;
		int64_t id;
		json_t *o;

		if (++x->recipients > SUIT_ENC_MAX_RECIPIENTS)
			return dec_fail(x, ERR_TOO_LARGE, "more than 16 recipients");
		if (!cbor_isa_array(r) || cbor_array_size(r) < 3 || cbor_array_size(r) > 4)
			return dec_fail(x, ERR_INVALID,
					"a recipient is not [protected, unprotected, ciphertext "
					"(, recipients)]");
		unprot = cbor_array_handle(r)[1];
		if (!protected_load(x, cbor_array_handle(r)[0], &prot))
			return false;
		if (!cbor_isa_map(unprot) || !map_keys_unique(unprot))
			return dec_fail(x, ERR_INVALID, "an unprotected header is not a map");
		alg = header_get(x, prot, unprot, 1);
		if (x->err)
			return false;
		if (!cbor_item_int(alg, &id))
			return dec_fail(x, ERR_INVALID, "a recipient has no integer alg (1)");
		const cbor_item_t *ct = cbor_array_handle(r)[2];
		if (!cbor_item_is_null(ct) &&
		    !(cbor_isa_bytestring(ct) && cbor_bytestring_is_definite(ct)))
			return dec_fail(x, ERR_INVALID,
					"a recipient's ciphertext is neither a bstr nor nil");
		name = suit_encryption_recipient_alg_name(id, &method);
		o = json_pack("{s:I, s:s, s:I, s:s}", "layer", (json_int_t)layer + 1, "alg", name,
			      "alg_id", (json_int_t)id, "method", method);
		json_array_append_new(out, o);
		const cbor_item_t *kid = header_get(x, prot, unprot, 4);
		if (x->err || !put_kid(x, o, kid) ||
		    !put_ephemeral(x, o, header_get(x, prot, unprot, -1)) || x->err)
			return false;
		if (cbor_array_size(r) == 4 &&
		    !recipients_decode(x, cbor_array_handle(r)[3], layer + 1, out))
			return false;
	}
	return true;
}

enum err suit_encryption_info_decode(const uint8_t *data, size_t len, json_t **ret, struct diag *d)
{
	CLEANUP_CBOR cbor_item_t *it = NULL;
	CLEANUP_CBOR cbor_item_t *prot = NULL;
	struct dec x = {.d = d};
	const cbor_item_t *body, *unprot, *alg, *iv, *ct;
	struct cbor_head h;
	uint64_t tag;
	int64_t id;
	json_auto_t *o = NULL;
	json_t *recips;

	/* The tag is read here: libcbor 0.8 cannot decode a tag number below
	 * 24 (COSE_Encrypt0 is 16). */
	if (!cbor_head_read(data, len, &h) || h.major != CBOR_TAG ||
	    !(it = cbor_span_load((struct cbor_span){data + h.head_len, len - h.head_len})))
		return diag_set(d, ERR_INVALID, "encryption-info",
				"not a tagged COSE_Encrypt (96) or COSE_Encrypt0 (16)");
	tag = h.arg;
	body = it;
	if (tag != TAG_COSE_ENCRYPT && tag != TAG_COSE_ENCRYPT0)
		return diag_set(d, ERR_INVALID, "encryption-info",
				"tag %llu is not COSE_Encrypt (96) or COSE_Encrypt0 (16)",
				(unsigned long long)tag);
	if (!cbor_isa_array(body) || cbor_array_size(body) != (tag == TAG_COSE_ENCRYPT ? 4u : 3u))
		return diag_set(d, ERR_INVALID, "encryption-info",
				"a %s must be an array of %d elements",
				tag == TAG_COSE_ENCRYPT ? "COSE_Encrypt" : "COSE_Encrypt0",
				tag == TAG_COSE_ENCRYPT ? 4 : 3);
	if (!protected_load(&x, cbor_array_handle(body)[0], &prot))
		return x.err;
	unprot = cbor_array_handle(body)[1];
	if (!cbor_isa_map(unprot) || !map_keys_unique(unprot))
		return diag_set(d, ERR_INVALID, "encryption-info",
				"the unprotected header is not a map with unique labels");
	alg = header_get(&x, prot, unprot, 1);
	if (x.err)
		return x.err;
	if (!cbor_item_int(alg, &id))
		return diag_set(d, ERR_INVALID, "encryption-info",
				"the content has no integer alg (1)");
	ct = cbor_array_handle(body)[2];
	if (!cbor_item_is_null(ct) && !(cbor_isa_bytestring(ct) && cbor_bytestring_is_definite(ct)))
		return diag_set(d, ERR_INVALID, "encryption-info",
				"the ciphertext is neither nil (detached) nor a bstr");
	o = json_pack("{s:s, s:s, s:I}", "cose",
		      tag == TAG_COSE_ENCRYPT ? "COSE_Encrypt" : "COSE_Encrypt0", "content_alg",
		      suit_encryption_content_alg_name(id), "content_alg_id", (json_int_t)id);
	if (!o)
		return diag_set(d, ERR_NOMEM, "encryption-info", "out of memory");
	json_object_set_new(o, "ciphertext",
			    cbor_item_is_null(ct) ? json_string("detached")
						  : json_string("in the encryption info"));
	iv = header_get(&x, prot, unprot, 5);
	if (x.err)
		return x.err;
	if (iv) {
		json_t *ivhex = bytes_hex(iv);
		if (!ivhex)
			return diag_set(d, ERR_INVALID, "encryption-info",
					"the IV (5) is not a bstr");
		json_object_set_new(o, "iv", ivhex);
	}
	recips = json_array();
	json_object_set_new(o, "recipients", recips);
	if (tag == TAG_COSE_ENCRYPT) {
		if (!recipients_decode(&x, cbor_array_handle(body)[3], 0, recips))
			return x.err;
	} else {
		/* COSE_Encrypt0: the key is known to the device by its kid. */
		const cbor_item_t *kid = header_get(&x, prot, unprot, 4);
		if (x.err || !put_kid(&x, o, kid))
			return x.err;
	}
	*ret = json_incref(o);
	return ERR_OK;
}
