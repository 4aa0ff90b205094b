#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/crypto.h"
#include "suit/cbor.h"
#include "suit/keys.h"

enum err suit_keyring_new(struct suit_keyring **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? ERR_OK : ERR_NOMEM;
}

void suit_keyring_free(struct suit_keyring *kr)
{
	if (!kr)
		return;
	for (unsigned i = 0; i < kr->count; i++) {
		EVP_PKEY_free(kr->anchors[i].pkey);
		OPENSSL_cleanse(kr->anchors[i].secret, sizeof(kr->anchors[i].secret));
	}
	free(kr);
}

unsigned suit_keyring_count(const struct suit_keyring *kr)
{
	return kr ? kr->count : 0;
}

const char *suit_keyring_name(const struct suit_keyring *kr, unsigned i)
{
	return i < kr->count ? kr->anchors[i].name : "";
}

const uint8_t *suit_keyring_kid(const struct suit_keyring *kr, unsigned i)
{
	return i < kr->count ? kr->anchors[i].kid : NULL;
}

static bool map_add(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value)
{
	bool ok = key && value && cbor_map_add(map, (struct cbor_pair){.key = key, .value = value});

	if (key)
		cbor_decref(&key);
	if (value)
		cbor_decref(&value);
	return ok;
}

/* Deterministic COSE_Key with the required members only, in the order of
 * their encoded labels (1, -1, -2, -3), hashed with SHA-256 (RFC 9679). */
enum err suit_cose_key_thumbprint(enum anchor_type type, EVP_PKEY *pkey, const uint8_t *secret,
				  uint8_t out[32])
{
	uint8_t x[32], y[32];
	size_t xlen = sizeof(x);
	CLEANUP_CBOR cbor_item_t *map = cbor_new_definite_map(4);
	unsigned char *buf = NULL;
	size_t buf_size = 0, n;
	bool ok = map != NULL;

	if (type == ANCHOR_P256) {
		BIGNUM *bx = NULL, *by = NULL;
		ok = ok && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) &&
		     EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) &&
		     BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32;
		BN_free(bx);
		BN_free(by);
		ok = ok && map_add(map, cbor_build_uint8(1), cbor_build_uint8(2)) &&
		     map_add(map, cbor_build_negint8(0), cbor_build_uint8(1)) &&
		     map_add(map, cbor_build_negint8(1), cbor_build_bytestring(x, 32)) &&
		     map_add(map, cbor_build_negint8(2), cbor_build_bytestring(y, 32));
	} else if (type == ANCHOR_ED25519) {
		ok = ok && EVP_PKEY_get_raw_public_key(pkey, x, &xlen) && xlen == 32 &&
		     map_add(map, cbor_build_uint8(1), cbor_build_uint8(1)) &&
		     map_add(map, cbor_build_negint8(0), cbor_build_uint8(6)) &&
		     map_add(map, cbor_build_negint8(1), cbor_build_bytestring(x, 32));
	} else {
		ok = ok && map_add(map, cbor_build_uint8(1), cbor_build_uint8(4)) &&
		     map_add(map, cbor_build_negint8(0), cbor_build_bytestring(secret, 32));
	}
	if (!ok)
		return ERR_CRYPTO;
	n = cbor_serialize_alloc(map, &buf, &buf_size);
	if (!n) {
		free(buf);
		return ERR_NOMEM;
	}
	crypto_sha256(buf, n, out);
	free(buf);
	return ERR_OK;
}

static EVP_PKEY *read_public_key(FILE *f)
{
	EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	X509 *cert;

	if (pkey)
		return pkey;
	rewind(f);
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	if (!cert)
		return NULL;
	pkey = X509_get_pubkey(cert);
	X509_free(cert);
	return pkey;
}

/* A P-256 or Ed25519 public key (or certificate) in PEM from f, named
 * `name` in messages and as the anchor's name. */
static enum err add_pem_stream(struct suit_keyring *kr, FILE *f, const char *name,
			       const char *field, struct diag *d)
{
	struct suit_anchor *a;
	EVP_PKEY *pkey;
	char group[64] = "";

	if (kr->count >= SUIT_MAX_ANCHORS)
		return diag_set(d, ERR_CONFIG, field, "more than %d trust anchors",
				SUIT_MAX_ANCHORS);
	pkey = read_public_key(f);
	if (!pkey)
		return diag_set(d, ERR_CONFIG, field, "'%s' holds no PEM public key or certificate",
				name);
	a = &kr->anchors[kr->count];
	memset(a, 0, sizeof(*a));
	if (EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519) {
		a->type = ANCHOR_ED25519;
	} else if (EVP_PKEY_get_id(pkey) == EVP_PKEY_EC &&
		   EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						  sizeof(group), NULL) &&
		   strcmp(group, "prime256v1") == 0) {
		a->type = ANCHOR_P256;
	} else {
		EVP_PKEY_free(pkey);
		return diag_set(d, ERR_CONFIG, field,
				"'%s': only P-256 and Ed25519 keys are supported", name);
	}
	a->pkey = pkey;
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (suit_cose_key_thumbprint(a->type, pkey, NULL, a->kid) != ERR_OK) {
		EVP_PKEY_free(pkey);
		return diag_set(d, ERR_CRYPTO, field, "'%s': cannot compute its kid", name);
	}
	kr->count++;
	return ERR_OK;
}

enum err suit_keyring_add_pem(struct suit_keyring *kr, const char *path, struct diag *d)
{
	FILE *f = fopen(path, "re");
	enum err e;

	if (!f)
		return diag_set(d, ERR_CONFIG, "trust_anchor", "cannot open '%s': %s", path,
				strerror(errno));
	e = add_pem_stream(kr, f, path, "trust_anchor", d);
	fclose(f);
	return e;
}

enum err suit_keyring_add_pem_text(struct suit_keyring *kr, const char *pem, size_t len,
				   const char *name, struct diag *d)
{
	FILE *f = len ? fmemopen((void *)pem, len, "r") : NULL;
	enum err e;

	if (!f)
		return diag_set(d, ERR_INVALID, name, "holds no PEM public key");
	e = add_pem_stream(kr, f, name, name, d);
	fclose(f);
	return e;
}

enum err suit_keyring_add_hmac(struct suit_keyring *kr, const char *path, struct diag *d)
{
	struct suit_anchor *a;
	struct stat st;
	FILE *f;

	if (kr->count >= SUIT_MAX_ANCHORS)
		return diag_set(d, ERR_CONFIG, "hmac_key", "more than %d trust anchors",
				SUIT_MAX_ANCHORS);
	f = fopen(path, "re");
	if (!f)
		return diag_set(d, ERR_CONFIG, "hmac_key", "cannot open '%s': %s", path,
				strerror(errno));
	a = &kr->anchors[kr->count];
	memset(a, 0, sizeof(*a));
	if (fstat(fileno(f), &st) != 0 || st.st_size != 32 || fread(a->secret, 1, 32, f) != 32) {
		fclose(f);
		OPENSSL_cleanse(a->secret, sizeof(a->secret));
		return diag_set(d, ERR_CONFIG, "hmac_key", "'%s' must hold exactly 32 raw bytes",
				path);
	}
	fclose(f);
	a->type = ANCHOR_HMAC;
	snprintf(a->name, sizeof(a->name), "%s", path);
	if (suit_cose_key_thumbprint(ANCHOR_HMAC, NULL, a->secret, a->kid) != ERR_OK)
		return diag_set(d, ERR_CRYPTO, "hmac_key", "'%s': cannot compute its kid", path);
	kr->count++;
	return ERR_OK;
}
