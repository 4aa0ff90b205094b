/* A small SUIT envelope builder for tests, independent of suit/create.c:
 * libcbor and OpenSSL only. Test-only: ck_assert on any failure. */
#ifndef SUITD_TESTS_SUIT_BUILDER_H
#define SUITD_TESTS_SUIT_BUILDER_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cbor.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

static cbor_item_t *u(uint64_t v)
{
	return cbor_build_uint64(v);
}

static void add(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
	ck_assert(
		cbor_map_add(map, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)}));
}

static void push(cbor_item_t *arr, cbor_item_t *v)
{
	ck_assert(cbor_array_push(arr, cbor_move(v)));
}

static cbor_item_t *wrapped(cbor_item_t *item)
{
	unsigned char *buf = NULL;
	size_t size = 0, n = cbor_serialize_alloc(item, &buf, &size);
	cbor_item_t *b = cbor_build_bytestring(buf, n);

	free(buf);
	cbor_decref(&item);
	return b;
}

static uint8_t *serialize(cbor_item_t *item, size_t *len)
{
	unsigned char *buf = NULL;
	size_t size = 0;

	*len = cbor_serialize_alloc(item, &buf, &size);
	cbor_decref(&item);
	return buf;
}

/* Sign the manifest map (consumed) with ES256 and the P-256 key at
 * key_path and wrap it in a tagged envelope, with one text-key member
 * (member_key NULL: none). The result is malloc'ed. */
static uint8_t *tb_envelope(cbor_item_t *manifest, const char *key_path, const char *member_key,
			    const uint8_t *member, size_t member_len, size_t *ret_len)
{
	size_t mlen, dlen, plen, slen;
	uint8_t *mbytes = serialize(wrapped(manifest), &mlen);

	/* SUIT_Digest over the manifest bstr, COSE_Sign1 over that digest. */
	uint8_t h[32];
	SHA256(mbytes, mlen, h);
	cbor_item_t *mdigest = cbor_new_definite_array(2);
	push(mdigest, cbor_build_negint8(15));
	push(mdigest, cbor_build_bytestring(h, 32));
	uint8_t *dbytes = serialize(mdigest, &dlen);
	cbor_item_t *prot = cbor_new_definite_map(1);
	add(prot, u(1), cbor_build_negint8(6)); /* ES256 */
	uint8_t *pbytes = serialize(prot, &plen);
	cbor_item_t *sig_structure = cbor_new_definite_array(4);
	push(sig_structure, cbor_build_string("Signature1"));
	push(sig_structure, cbor_build_bytestring(pbytes, plen));
	push(sig_structure, cbor_build_bytestring(NULL, 0));
	push(sig_structure, cbor_build_bytestring(dbytes, dlen));
	uint8_t *tbs = serialize(sig_structure, &slen);

	FILE *f = fopen(key_path, "r");
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80], rs[64];
	size_t der_len = sizeof(der);
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, der, &der_len, tbs, slen), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	ck_assert_int_eq(BN_bn2binpad(r, rs, 32), 32);
	ck_assert_int_eq(BN_bn2binpad(s, rs + 32, 32), 32);
	ECDSA_SIG_free(es);

	cbor_item_t *sign1 = cbor_new_definite_array(4);
	push(sign1, cbor_build_bytestring(pbytes, plen));
	push(sign1, cbor_new_definite_map(0));
	push(sign1, cbor_new_null());
	push(sign1, cbor_build_bytestring(rs, 64));
	cbor_item_t *tag = cbor_build_tag(18, sign1);
	cbor_decref(&sign1);
	cbor_item_t *auth = cbor_new_definite_array(2);
	push(auth, cbor_build_bytestring(dbytes, dlen));
	/* libcbor 0.8 encodes tag 18 as d2 */
	push(auth, wrapped(tag));
	cbor_item_t *env = cbor_new_definite_map(member_key ? 3 : 2);
	add(env, u(2), wrapped(auth));
	size_t head = mbytes[0] < 0x58 ? 1 : mbytes[0] == 0x58 ? 2 : 3;
	add(env, u(3), cbor_build_bytestring(mbytes + head, mlen - head));
	if (member_key)
		add(env, cbor_build_string(member_key), cbor_build_bytestring(member, member_len));
	cbor_item_t *tagged = cbor_build_tag(107, env);
	cbor_decref(&env);
	uint8_t *out = serialize(tagged, ret_len);
	free(mbytes);
	free(dbytes);
	free(pbytes);
	free(tbs);
	return out;
}

#endif
