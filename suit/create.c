/* Build and sign a single-image SUIT envelope. Every item is built with
 * libcbor and serialised with cbor_serialize_alloc; integers are built with
 * the narrowest width so the output is in preferred (deterministic)
 * encoding, and every map is filled in the bytewise order of its encoded
 * keys (RFC 8949 §4.2.1). */
#include "suit/create.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/crypto.h"
#include "suit/cbor.h"
#include "suit/cose.h"
#include "suit/keys.h"
#include "suit/manifest.h"
#include "suit/suit.h"

const uint8_t suit_uuid_namespace_dns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
					     0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};

/* SUIT command and parameter numbers used here ([M] §8.4.8-8.4.10). */
enum {
	CMD_VENDOR_ID = 1,
	CMD_CLASS_ID = 2,
	CMD_IMAGE_MATCH = 3,
	CMD_DEPENDENCY_INTEGRITY = 7,
	CMD_PROCESS_DEPENDENCY = 11,
	CMD_SET_INDEX = 12,
	CMD_OVERRIDE = 20,
	CMD_FETCH = 21,
	PARAM_VENDOR_ID = 1,
	PARAM_CLASS_ID = 2,
	PARAM_IMAGE_DIGEST = 3,
	PARAM_IMAGE_SIZE = 14,
	PARAM_URI = 21,
	POLICY_ALL = 15,   /* record and sysinfo on success and failure */
	POLICY_FAILURE = 2 /* record on failure */
};

static void pkey_cleanup(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}

static void buf_cleanup(uint8_t **p)
{
	free(*p);
}

#define CLEANUP_PKEY __attribute__((cleanup(pkey_cleanup)))
#define CLEANUP_BUF  __attribute__((cleanup(buf_cleanup)))

enum err suit_uuid5(const uint8_t ns[16], const uint8_t *name, size_t name_len, uint8_t out[16])
{
	uint8_t sha1[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, ns, 16) == 1 &&
		  (name_len == 0 || EVP_DigestUpdate(ctx, name, name_len) == 1) &&
		  EVP_DigestFinal_ex(ctx, sha1, &n) == 1 && n == 20;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return ERR_CRYPTO;
	memcpy(out, sha1, 16);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x50); /* version 5 */
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	return ERR_OK;
}

/* ---- libcbor building blocks: each consumes the references it is given
 * and returns NULL (or false) when anything, including a given item, is
 * missing, so a whole tree can be built in one expression. ---- */

static cbor_item_t *build_uint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t)v);
	return cbor_build_uint64(v);
}

static cbor_item_t *build_int(int64_t v)
{
	uint64_t n;

	if (v >= 0)
		return build_uint((uint64_t)v);
	n = (uint64_t)(-(v + 1)); /* CBOR major 1 carries -1 - v */
	if (n <= UINT8_MAX)
		return cbor_build_negint8((uint8_t)n);
	if (n <= UINT16_MAX)
		return cbor_build_negint16((uint16_t)n);
	if (n <= UINT32_MAX)
		return cbor_build_negint32((uint32_t)n);
	return cbor_build_negint64(n);
}

static void drop(cbor_item_t *item)
{
	if (item)
		cbor_decref(&item);
}

static bool push(cbor_item_t *arr, cbor_item_t *v)
{
	bool ok = arr && v && cbor_array_push(arr, v);

	drop(v);
	return ok;
}

static bool put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
	bool ok = map && k && v && cbor_map_add(map, (struct cbor_pair){.key = k, .value = v});

	drop(k);
	drop(v);
	return ok;
}

/* An array of n items (consumed); NULL if any is NULL. */
static cbor_item_t *array_of(size_t n, cbor_item_t *const *items)
{
	cbor_item_t *arr = cbor_new_definite_array(n);
	bool ok = arr != NULL;

	for (size_t i = 0; i < n; i++)
		ok = push(ok ? arr : NULL, items[i]) && ok;
	if (!ok) {
		drop(arr);
		return NULL;
	}
	return arr;
}

#define ARRAY(...)                                                               \
	array_of(sizeof((cbor_item_t *[]){__VA_ARGS__}) / sizeof(cbor_item_t *), \
		 (cbor_item_t *[]){__VA_ARGS__})

/* A map of n pairs (consumed) given as k0, v0, k1, v1 ... in canonical order. */
static cbor_item_t *map_of(size_t n2, cbor_item_t *const *kv)
{
	cbor_item_t *map = cbor_new_definite_map(n2 / 2);
	bool ok = map != NULL;

	for (size_t i = 0; i + 1 < n2; i += 2)
		ok = put(ok ? map : NULL, kv[i], kv[i + 1]) && ok;
	if (!ok) {
		drop(map);
		return NULL;
	}
	return map;
}

#define MAP(...)                                                               \
	map_of(sizeof((cbor_item_t *[]){__VA_ARGS__}) / sizeof(cbor_item_t *), \
	       (cbor_item_t *[]){__VA_ARGS__})

/* Tag (consumes item). */
static cbor_item_t *tagged(uint64_t tag, cbor_item_t *item)
{
	cbor_item_t *t = item ? cbor_new_tag(tag) : NULL;

	if (t)
		cbor_tag_set_item(t, item); /* takes its own reference */
	drop(item);
	return t;
}

/* Serialise item (not consumed) into a malloc'ed buffer. */
static bool encode(const cbor_item_t *item, uint8_t **ret, size_t *ret_len)
{
	unsigned char *buf = NULL;
	size_t size = 0, n;

	if (!item)
		return false;
	n = cbor_serialize_alloc(item, &buf, &size);
	if (!n) {
		free(buf);
		return false;
	}
	*ret = buf;
	*ret_len = n;
	return true;
}

/* bstr .cbor item (consumes item). */
static cbor_item_t *wrap(cbor_item_t *item)
{
	CLEANUP_BUF uint8_t *buf = NULL;
	size_t len = 0;
	cbor_item_t *b = NULL;

	if (encode(item, &buf, &len))
		b = cbor_build_bytestring(buf, len);
	drop(item);
	return b;
}

static cbor_item_t *bstr(const void *p, size_t len)
{
	return cbor_build_bytestring(p, len);
}

/* SUIT_Digest [-16, SHA-256(data)] */
static cbor_item_t *sha256_digest(const uint8_t *data, size_t len)
{
	uint8_t h[SHA256_LEN];

	crypto_sha256(data, len, h);
	return ARRAY(build_int(COSE_ALG_SHA256), bstr(h, sizeof(h)));
}

/* SUIT_Digest of the encoding of item (header included; not consumed). */
static cbor_item_t *digest_of_item(const cbor_item_t *item)
{
	CLEANUP_BUF uint8_t *buf = NULL;
	size_t len = 0;

	return encode(item, &buf, &len) ? sha256_digest(buf, len) : NULL;
}

/* ---- the signer ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1; /* never prompt on a terminal */
}

static enum err load_signer(const char *path, EVP_PKEY **ret, enum anchor_type *ret_type,
			    int64_t *ret_alg, struct diag *d)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *pkey;
	char group[64] = "";

	if (!f)
		return diag_set(d, ERR_IO, "key", "cannot open '%s': %s", path, strerror(errno));
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!pkey) {
		ERR_clear_error();
		return diag_set(d, ERR_INVALID, "key", "'%s' holds no unencrypted PEM private key",
				path);
	}
	if (EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519) {
		*ret_type = ANCHOR_ED25519;
		*ret_alg = COSE_ALG_ED25519;
	} else if (EVP_PKEY_get_id(pkey) == EVP_PKEY_EC &&
		   EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						  sizeof(group), NULL) &&
		   strcmp(group, "prime256v1") == 0) {
		*ret_type = ANCHOR_P256;
		*ret_alg = COSE_ALG_ESP256;
	} else {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return diag_set(d, ERR_INVALID, "key",
				"'%s': only P-256 (ESP256) and Ed25519 keys can sign", path);
	}
	*ret = pkey;
	return ERR_OK;
}

/* COSE signature over tbs: r‖s for ECDSA (RFC 9053 §2.1), raw for Ed25519. */
static bool sign(EVP_PKEY *pkey, enum anchor_type type, const uint8_t *tbs, size_t tbs_len,
		 uint8_t out[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t n = type == ANCHOR_P256 ? sizeof(der) : 64;
	bool ok = ctx &&
		  EVP_DigestSignInit(ctx, NULL, type == ANCHOR_P256 ? EVP_sha256() : NULL, NULL,
				     pkey) == 1 &&
		  EVP_DigestSign(ctx, type == ANCHOR_P256 ? der : out, &n, tbs, tbs_len) == 1;

	EVP_MD_CTX_free(ctx);
	if (ok && type == ANCHOR_P256) {
		const unsigned char *p = der;
		const BIGNUM *r, *s;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		ok = es != NULL;
		if (ok) {
			ECDSA_SIG_get0(es, &r, &s);
			ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
		}
		ECDSA_SIG_free(es);
	} else if (ok) {
		ok = n == 64;
	}
	if (!ok)
		ERR_clear_error();
	return ok;
}

/* ---- options ---- */

static bool utf8_valid(const char *s, size_t len)
{
	json_t *probe = json_stringn(s, len); /* jansson refuses invalid UTF-8 */

	json_decref(probe);
	return probe != NULL;
}

static enum err check_options(const struct suit_create_options *o, struct diag *d)
{
	if (!o->key_path || !*o->key_path)
		return diag_set(d, ERR_INVALID, "key", "a signing key is required");
	if (!o->payload && o->payload_len)
		return diag_set(d, ERR_INVALID, "payload", "no payload bytes");
	if (!o->vendor_domain || !*o->vendor_domain)
		return diag_set(d, ERR_INVALID, "vendor_domain", "a vendor domain is required");
	if (!o->class_info || !*o->class_info)
		return diag_set(d, ERR_INVALID, "class_info", "a class name is required");
	if (!o->uri || !*o->uri)
		return diag_set(d, ERR_INVALID, "uri", "a payload uri is required");
	if (strlen(o->uri) > SUIT_MAX_URI || !utf8_valid(o->uri, strlen(o->uri)))
		return diag_set(d, ERR_INVALID, "uri",
				"the uri must be valid UTF-8 of at most %d bytes", SUIT_MAX_URI);
	if (o->integrated && o->uri[0] != '#')
		return diag_set(
			d, ERR_INVALID, "uri",
			"an integrated payload needs a fragment-only uri such as '#fw.bin'");
	if (o->integrated && strlen(o->uri) > SUIT_CREATE_MAX_KEY)
		return diag_set(d, ERR_INVALID, "uri",
				"an integrated payload key is at most %d bytes",
				SUIT_CREATE_MAX_KEY);
	if (!o->integrated && o->uri[0] == '#')
		return diag_set(d, ERR_INVALID, "uri",
				"'%.100s' names an integrated payload but the payload is not "
				"integrated",
				o->uri);
	if (o->component && (!*o->component || strlen(o->component) > SUIT_CREATE_MAX_COMPONENT))
		return diag_set(d, ERR_INVALID, "component", "a component id has 1 to %d bytes",
				SUIT_CREATE_MAX_COMPONENT);
	if (o->description && !utf8_valid(o->description, strlen(o->description)))
		return diag_set(d, ERR_INVALID, "description",
				"the description is not valid UTF-8");
	if (o->manifest_component_id &&
	    (!*o->manifest_component_id ||
	     strlen(o->manifest_component_id) > SUIT_CREATE_MAX_COMPONENT))
		return diag_set(d, ERR_INVALID, "manifest_component_id",
				"a manifest component id has 1 to %d bytes",
				SUIT_CREATE_MAX_COMPONENT);
	if (o->dependency_count > SUIT_CREATE_MAX_DEPENDENCIES)
		return diag_set(d, ERR_INVALID, "dependency", "at most %d dependencies",
				SUIT_CREATE_MAX_DEPENDENCIES);
	for (unsigned i = 0; i < o->dependency_count; i++) {
		const struct suit_create_dependency *dep = &o->dependencies[i];
		if (!dep->envelope || !dep->envelope_len)
			return diag_set(d, ERR_INVALID, "dependency", "dependency %u is empty", i);
		if (!dep->uri || !*dep->uri || strlen(dep->uri) > SUIT_MAX_URI ||
		    !utf8_valid(dep->uri, strlen(dep->uri)))
			return diag_set(d, ERR_INVALID, "dependency",
					"dependency %u needs a uri of valid UTF-8 of at most %d "
					"bytes",
					i, SUIT_MAX_URI);
		if (dep->uri[0] == '#' && strlen(dep->uri) > SUIT_CREATE_MAX_KEY)
			return diag_set(d, ERR_INVALID, "dependency",
					"an integrated dependency key is at most %d bytes",
					SUIT_CREATE_MAX_KEY);
		for (unsigned k = 0; k < i; k++)
			if (dep->uri[0] == '#' && strcmp(o->dependencies[k].uri, dep->uri) == 0)
				return diag_set(d, ERR_INVALID, "dependency",
						"two integrated members are named '%.100s'",
						dep->uri);
		if (o->integrated && strcmp(o->uri, dep->uri) == 0)
			return diag_set(d, ERR_INVALID, "dependency",
					"the payload and a dependency are both '%.100s'", dep->uri);
		if (dep->prefix &&
		    (!*dep->prefix || strlen(dep->prefix) > SUIT_CREATE_MAX_COMPONENT))
			return diag_set(d, ERR_INVALID, "dependency",
					"a dependency prefix has 1 to %d bytes",
					SUIT_CREATE_MAX_COMPONENT);
	}
	return ERR_OK;
}

enum err suit_envelope_digest(const uint8_t *data, size_t len, uint8_t digest[32], struct diag *d)
{
	struct cbor_span whole = {data, len}, k, v, auth = {0}, manifest = {0}, content, item,
			 unused;
	struct cbor_head h;
	struct cbor_iter it;
	struct suit_digest want, got;
	size_t n;
	int64_t key;

	if (!cbor_item_len(data, len, &n) || n != len || !cbor_head_read(data, len, &h))
		return diag_set(d, ERR_INVALID, "dependency", "not one CBOR item");
	if (h.major == CBOR_TAG) {
		whole.p += h.head_len;
		whole.len -= h.head_len;
	}
	if (!cbor_iter_init(whole, CBOR_MAP, &it))
		return diag_set(d, ERR_INVALID, "dependency", "not a SUIT envelope (a map)");
	while (cbor_iter_next(&it, &k, &v))
		if (cbor_span_int(k, &key) && key == 2)
			auth = v;
		else if (cbor_span_int(k, &key) && key == 3)
			manifest = v;
	if (!auth.len || !manifest.len || !cbor_bstr_content(auth, &content) ||
	    !cbor_iter_init(content, CBOR_ARRAY, &it) || !cbor_iter_next(&it, &item, &unused) ||
	    !cbor_bstr_content(item, &content))
		return diag_set(
			d, ERR_INVALID, "dependency",
			"not a SUIT envelope with an authentication wrapper and a manifest");
	CLEANUP_CBOR cbor_item_t *dg = cbor_span_load(content);
	if (!suit_digest_from_item(dg, &want) || want.alg != COSE_ALG_SHA256 ||
	    !suit_digest_compute(want.alg, manifest.p, manifest.len, &got) || got.len != want.len ||
	    memcmp(got.bytes, want.bytes, got.len) != 0)
		return diag_set(d, ERR_INVALID, "dependency",
				"its manifest does not match its SHA-256 manifest digest");
	memcpy(digest, want.bytes, 32);
	return ERR_OK;
}

/* ---- the envelope ---- */

/* A copy of the definite map m with the pair key => value (consumed) added
 * in key order (all keys unsigned); m is not consumed. */
static cbor_item_t *map_with(const cbor_item_t *m, uint64_t key, cbor_item_t *value)
{
	size_t n = cbor_map_size(m);
	struct cbor_pair *pairs = cbor_map_handle(m);
	cbor_item_t *out = value ? cbor_new_definite_map(n + 1) : NULL;
	bool ok = out != NULL, placed = false;

	for (size_t i = 0; ok && i <= n; i++) {
		bool before =
			i == n || (cbor_isa_uint(pairs[i].key) && cbor_get_int(pairs[i].key) > key);
		if (before && !placed) {
			ok = put(out, build_uint(key), cbor_incref(value));
			placed = true;
		}
		if (ok && i < n)
			ok = put(out, cbor_incref(pairs[i].key), cbor_incref(pairs[i].value));
	}
	drop(value);
	if (!ok) {
		drop(out);
		return NULL;
	}
	return out;
}

/* A dependent manifest (draft-ietf-suit-trust-domains Example 2 shape):
 * component 0 the image, 1.. the dependencies. dependency-resolution (15)
 * fetches each dependency and checks its manifest digest; install (20)
 * checks its integrity, processes it, then fetches the image. Consumes
 * text and text_digest. */
static cbor_item_t *build_dependent(const struct suit_create_options *o, const uint8_t vendor[16],
				    const uint8_t class_id[16], cbor_item_t *text,
				    cbor_item_t *text_digest, cbor_item_t **ret_text)
{
	const uint8_t zero = 0;
	const uint8_t *comp = o->component ? (const uint8_t *)o->component : &zero;
	size_t comp_len = o->component ? strlen(o->component) : 1;
	unsigned n = o->dependency_count;
	cbor_item_t *deps = cbor_new_definite_map(n);
	cbor_item_t *resolution = cbor_new_definite_array(6 * n);
	cbor_item_t *install = cbor_new_definite_array(8 * n + 8);
	bool ok = deps && resolution && install;

	for (unsigned i = 0; i < n && ok; i++) {
		const struct suit_create_dependency *dep = &o->dependencies[i];
		uint8_t digest[32];
		struct diag ignored = {0};
		ok = suit_envelope_digest(dep->envelope, dep->envelope_len, digest, &ignored) ==
		     ERR_OK;
		ok = ok && put(deps, build_uint(i + 1),
			       dep->prefix ? MAP(build_uint(1),
						 ARRAY(bstr(dep->prefix, strlen(dep->prefix))))
					   : cbor_new_definite_map(0));
		ok = ok && push(resolution, build_uint(CMD_SET_INDEX)) &&
		     push(resolution, build_uint(i + 1)) &&
		     push(resolution, build_uint(CMD_OVERRIDE)) &&
		     push(resolution,
			  MAP(build_uint(PARAM_IMAGE_DIGEST),
			      wrap(ARRAY(build_int(COSE_ALG_SHA256), bstr(digest, 32))),
			      build_uint(PARAM_IMAGE_SIZE), build_uint(dep->envelope_len),
			      build_uint(PARAM_URI), cbor_build_string(dep->uri))) &&
		     push(resolution, build_uint(CMD_FETCH)) &&
		     push(resolution, build_uint(POLICY_FAILURE));
		ok = ok && push(install, build_uint(CMD_SET_INDEX)) &&
		     push(install, build_uint(i + 1)) &&
		     push(install, build_uint(CMD_DEPENDENCY_INTEGRITY)) &&
		     push(install, build_uint(POLICY_ALL)) &&
		     push(install, build_uint(CMD_PROCESS_DEPENDENCY)) &&
		     push(install, build_uint(0));
	}
	ok = ok && push(install, build_uint(CMD_SET_INDEX)) && push(install, build_uint(0)) &&
	     push(install, build_uint(CMD_OVERRIDE)) &&
	     push(install, MAP(build_uint(PARAM_URI), cbor_build_string(o->uri))) &&
	     push(install, build_uint(CMD_FETCH)) && push(install, build_uint(POLICY_FAILURE)) &&
	     push(install, build_uint(CMD_IMAGE_MATCH)) && push(install, build_uint(POLICY_ALL));
	if (!ok) {
		drop(deps);
		drop(resolution);
		drop(install);
		drop(text);
		drop(text_digest);
		return NULL;
	}
	cbor_item_t *shared = wrap(
		ARRAY(build_uint(CMD_SET_INDEX), build_uint(0), build_uint(CMD_OVERRIDE),
		      MAP(build_uint(PARAM_VENDOR_ID), bstr(vendor, 16), build_uint(PARAM_CLASS_ID),
			  bstr(class_id, 16), build_uint(PARAM_IMAGE_DIGEST),
			  wrap(sha256_digest(o->payload, o->payload_len)),
			  build_uint(PARAM_IMAGE_SIZE), build_uint(o->payload_len)),
		      build_uint(CMD_VENDOR_ID), build_uint(POLICY_ALL), build_uint(CMD_CLASS_ID),
		      build_uint(POLICY_ALL)));
	cbor_item_t *common = wrap(MAP(build_uint(1), deps, build_uint(2),
				       ARRAY(ARRAY(bstr(comp, comp_len))), build_uint(4), shared));
	cbor_item_t *validate = wrap(ARRAY(build_uint(CMD_SET_INDEX), build_uint(0),
					   build_uint(CMD_IMAGE_MATCH), build_uint(POLICY_ALL)));
	cbor_item_t *m;

	/* Keys 1, 2, 3, 7, 15, 20, 23 in this order. */
	if (text_digest)
		m = MAP(build_uint(1), build_uint(1), build_uint(2), build_uint(o->sequence),
			build_uint(3), common, build_uint(7), validate, build_uint(15),
			wrap(resolution), build_uint(20), wrap(install), build_uint(23),
			text_digest);
	else
		m = MAP(build_uint(1), build_uint(1), build_uint(2), build_uint(o->sequence),
			build_uint(3), common, build_uint(7), validate, build_uint(15),
			wrap(resolution), build_uint(20), wrap(install));
	if (!m) {
		drop(text);
		return NULL;
	}
	*ret_text = text;
	return m;
}

/* SUIT_Manifest (Example 1 shape) and, when there is a description, the
 * envelope's text member (bstr item) whose digest the manifest carries. */
static cbor_item_t *build_manifest(const struct suit_create_options *o, const uint8_t vendor[16],
				   const uint8_t class_id[16], cbor_item_t **ret_text)
{
	const uint8_t zero = 0;
	const uint8_t *comp = o->component ? (const uint8_t *)o->component : &zero;
	size_t comp_len = o->component ? strlen(o->component) : 1;
	cbor_item_t *text = NULL, *text_digest = NULL;

	*ret_text = NULL;
	if (o->description) {
		text = wrap(MAP(cbor_build_string("en"),
				MAP(build_uint(1), cbor_build_string(o->description))));
		text_digest = digest_of_item(text);
		if (!text || !text_digest) {
			drop(text);
			drop(text_digest);
			return NULL;
		}
	}

	if (o->dependency_count)
		return build_dependent(o, vendor, class_id, text, text_digest, ret_text);

	cbor_item_t *shared = wrap(
		ARRAY(build_uint(CMD_OVERRIDE),
		      MAP(build_uint(PARAM_VENDOR_ID), bstr(vendor, 16), build_uint(PARAM_CLASS_ID),
			  bstr(class_id, 16), build_uint(PARAM_IMAGE_DIGEST),
			  wrap(sha256_digest(o->payload, o->payload_len)),
			  build_uint(PARAM_IMAGE_SIZE), build_uint(o->payload_len)),
		      build_uint(CMD_VENDOR_ID), build_uint(POLICY_ALL), build_uint(CMD_CLASS_ID),
		      build_uint(POLICY_ALL)));
	cbor_item_t *common =
		wrap(MAP(build_uint(2), ARRAY(ARRAY(bstr(comp, comp_len))), build_uint(4), shared));
	cbor_item_t *validate = wrap(ARRAY(build_uint(CMD_IMAGE_MATCH), build_uint(POLICY_ALL)));
	cbor_item_t *install = wrap(ARRAY(build_uint(CMD_OVERRIDE),
					  MAP(build_uint(PARAM_URI), cbor_build_string(o->uri)),
					  build_uint(CMD_FETCH), build_uint(POLICY_FAILURE),
					  build_uint(CMD_IMAGE_MATCH), build_uint(POLICY_ALL)));
	cbor_item_t *m;

	/* Keys 1, 2, 3, 7, 20, 23 encode as single bytes in this order. */
	if (text_digest)
		m = MAP(build_uint(1), build_uint(1), build_uint(2), build_uint(o->sequence),
			build_uint(3), common, build_uint(7), validate, build_uint(20), install,
			build_uint(23), text_digest);
	else
		m = MAP(build_uint(1), build_uint(1), build_uint(2), build_uint(o->sequence),
			build_uint(3), common, build_uint(7), validate, build_uint(20), install);
	if (!m) {
		drop(text);
		return NULL;
	}
	*ret_text = text;
	return m;
}

enum err suit_manifest_create(const struct suit_create_options *o, uint8_t **ret, size_t *ret_len,
			      struct diag *d)
{
	CLEANUP_PKEY EVP_PKEY *pkey = NULL;
	enum anchor_type type = ANCHOR_P256;
	int64_t alg = 0;
	uint8_t kid[32], vendor[16], class_id[16], sig[64];
	CLEANUP_CBOR cbor_item_t *manifest = NULL, *text = NULL, *digest = NULL,
				 *protected_hdr = NULL;
	CLEANUP_BUF uint8_t *manifest_bytes = NULL, *digest_bytes = NULL, *protected_bytes = NULL,
			    *tbs = NULL, *out = NULL;
	size_t manifest_len = 0, digest_len = 0, protected_len = 0, tbs_len = 0, out_len = 0;
	enum err e;

	e = check_options(o, d);
	if (e)
		return e;
	for (unsigned i = 0; i < o->dependency_count; i++) {
		uint8_t unused_digest[32];
		if ((e = suit_envelope_digest(o->dependencies[i].envelope,
					      o->dependencies[i].envelope_len, unused_digest, d)))
			return e;
	}
	e = load_signer(o->key_path, &pkey, &type, &alg, d);
	if (e)
		return e;
	if (suit_cose_key_thumbprint(type, pkey, NULL, kid) != ERR_OK)
		return diag_set(d, ERR_CRYPTO, "key", "cannot compute the kid of '%s'",
				o->key_path);
	if (suit_uuid5(suit_uuid_namespace_dns, (const uint8_t *)o->vendor_domain,
		       strlen(o->vendor_domain), vendor) != ERR_OK ||
	    suit_uuid5(vendor, (const uint8_t *)o->class_info, strlen(o->class_info), class_id) !=
		    ERR_OK)
		return diag_set(d, ERR_CRYPTO, "", "cannot compute UUID5 (no SHA-1)");

	/* Manifest bstr, and its digest over the item as encoded. */
	manifest = build_manifest(o, vendor, class_id, &text);
	if (manifest && o->manifest_component_id) {
		const char *id = o->manifest_component_id;
		cbor_item_t *with = map_with(manifest, 5, ARRAY(bstr(id, strlen(id))));
		drop(manifest);
		manifest = with;
	}
	manifest = wrap(manifest);
	if (!encode(manifest, &manifest_bytes, &manifest_len))
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	digest = sha256_digest(manifest_bytes, manifest_len);
	if (!encode(digest, &digest_bytes, &digest_len))
		return diag_set(d, ERR_NOMEM, "", "out of memory");

	/* COSE_Sign1 with detached payload: the digest's encoding. */
	protected_hdr = MAP(build_uint(1), build_int(alg), build_uint(4), bstr(kid, sizeof(kid)));
	if (!encode(protected_hdr, &protected_bytes, &protected_len) ||
	    !suit_cose_to_be_signed("Signature1",
				    (struct cbor_span){protected_bytes, protected_len},
				    (struct cbor_span){digest_bytes, digest_len}, &tbs, &tbs_len))
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	if (!sign(pkey, type, tbs, tbs_len, sig))
		return diag_set(d, ERR_CRYPTO, "key", "signing with '%s' failed", o->key_path);

	cbor_item_t *sign1 =
		tagged(18, ARRAY(bstr(protected_bytes, protected_len), cbor_new_definite_map(0),
				 cbor_new_null(), bstr(sig, sizeof(sig))));
	cbor_item_t *auth = wrap(ARRAY(bstr(digest_bytes, digest_len), wrap(sign1)));
	/* Envelope order: 2, 3, 23, then the text keys (payload, dependencies). */
	size_t pairs = 2 + (text ? 1u : 0u) + (o->integrated ? 1u : 0u);
	for (unsigned i = 0; i < o->dependency_count; i++)
		pairs += o->dependencies[i].uri[0] == '#';
	cbor_item_t *env_map = cbor_new_definite_map(pairs);
	bool ok = put(env_map, build_uint(2), auth) &&
		  put(env_map, build_uint(3), cbor_incref(manifest));
	if (text)
		ok = ok && put(env_map, build_uint(23), cbor_incref(text));
	if (o->integrated)
		ok = ok &&
		     put(env_map, cbor_build_string(o->uri), bstr(o->payload, o->payload_len));
	for (unsigned i = 0; i < o->dependency_count; i++) {
		const struct suit_create_dependency *dep = &o->dependencies[i];
		if (dep->uri[0] == '#')
			ok = ok && put(env_map, cbor_build_string(dep->uri),
				       bstr(dep->envelope, dep->envelope_len));
	}
	if (!ok) {
		drop(env_map);
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	}
	CLEANUP_CBOR cbor_item_t *envelope = tagged(107, env_map);
	if (!encode(envelope, &out, &out_len))
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	*ret = out;
	*ret_len = out_len;
	out = NULL;
	return ERR_OK;
}
