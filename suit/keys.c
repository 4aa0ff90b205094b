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

bool suit_keyring_scoped(const struct suit_keyring *kr, unsigned i)
{
	return kr && i < kr->count && kr->anchors[i].scope_count > 0;
}

/* prefix=E1/E2 (text, or h'hex' per element) or class=UUID. */
static bool scope_parse(const char *text, size_t len, struct suit_scope *sc)
{
	memset(sc, 0, sizeof(*sc));
	if (len > 6 && strncmp(text, "class=", 6) == 0) {
		char hex[33];
		size_t n = 0;
		if (len - 6 != 36)
			return false;
		for (size_t i = 6; i < len && n < 32; i++)
			if (text[i] != '-')
				hex[n++] = text[i];
		hex[n] = '\0';
		sc->is_class = true;
		return n == 32 && hex_decode(hex, sc->class_id, 16);
	}
	if (len <= 7 || strncmp(text, "prefix=", 7) != 0)
		return false;
	for (size_t at = 7; at <= len;) {
		size_t n = 0;
		while (at + n < len && text[at + n] != '/')
			n++;
		if (n == 0 || sc->element_count >= SUIT_MAX_SCOPE_ELEMENTS)
			return false;
		unsigned e = sc->element_count++;
		if (n > 3 && text[at] == 'h' && text[at + 1] == '\'' && text[at + n - 1] == '\'') {
			char hex[2 * 64 + 1];
			size_t h = n - 3;
			if (h % 2 || h / 2 > sizeof(sc->element[e]))
				return false;
			memcpy(hex, text + at + 2, h);
			hex[h] = '\0';
			if (!hex_decode(hex, sc->element[e], h / 2))
				return false;
			sc->element_len[e] = h / 2;
		} else {
			if (n > sizeof(sc->element[e]))
				return false;
			memcpy(sc->element[e], text + at, n);
			sc->element_len[e] = n;
		}
		at += n + 1;
	}
	return sc->element_count > 0;
}

enum err suit_keyring_add_anchor(struct suit_keyring *kr, const char *spec, struct diag *d)
{
	struct suit_scope scopes[SUIT_MAX_SCOPES];
	unsigned count = 0;
	char path[4096];
	size_t end = strlen(spec);
	enum err e;

	/* Scopes trail the path, each after a space: "PATH prefix=x class=u". */
	for (;;) {
		size_t sp = end;
		while (sp > 0 && spec[sp - 1] != ' ' && spec[sp - 1] != '\t')
			sp--;
		if (sp == 0 ||
		    (strncmp(spec + sp, "prefix=", 7) != 0 && strncmp(spec + sp, "class=", 6) != 0))
			break;
		if (count >= SUIT_MAX_SCOPES || !scope_parse(spec + sp, end - sp, &scopes[count]))
			return diag_set(d, ERR_CONFIG, "trust_anchor",
					"'%.40s' is not a scope (at most %d): prefix=E1[/E2...] "
					"(up to %d elements: text or h'hex') or class=UUID",
					spec + sp, SUIT_MAX_SCOPES, SUIT_MAX_SCOPE_ELEMENTS);
		count++;
		end = sp;
		while (end > 0 && (spec[end - 1] == ' ' || spec[end - 1] == '\t'))
			end--;
	}
	if (end == 0 || end >= sizeof(path))
		return diag_set(d, ERR_CONFIG, "trust_anchor", "'%.200s' names no key file", spec);
	memcpy(path, spec, end);
	path[end] = '\0';
	e = suit_keyring_add_pem(kr, path, d);
	if (e)
		return e;
	struct suit_anchor *a = &kr->anchors[kr->count - 1];
	/* Listed from the end: keep the order written. */
	for (unsigned i = 0; i < count; i++)
		a->scopes[i] = scopes[count - 1 - i];
	a->scope_count = count;
	return ERR_OK;
}

/* The first elements of an encoded SUIT_Component_Identifier are these. */
static bool prefix_matches(const struct suit_scope *sc, const uint8_t *id, size_t id_len)
{
	struct cbor_iter it;
	struct cbor_span el, unused, content;

	if (!id || !id_len || !cbor_iter_init((struct cbor_span){id, id_len}, CBOR_ARRAY, &it))
		return false;
	for (unsigned i = 0; i < sc->element_count; i++) {
		if (!cbor_iter_next(&it, &el, &unused) || !cbor_bstr_content(el, &content) ||
		    content.len != sc->element_len[i] ||
		    memcmp(content.p, sc->element[i], content.len) != 0)
			return false;
	}
	return true;
}

static bool scope_matches(const struct suit_scope *sc, const uint8_t *prefix, size_t prefix_len,
			  const struct suit_facts *f)
{
	if (sc->is_class) {
		bool any = false;
		for (unsigned i = 0; i < f->component_count; i++) {
			const struct suit_component *c = &f->components[i];
			if (!c->has_class)
				continue;
			if (memcmp(c->class_id, sc->class_id, 16) != 0)
				return false;
			any = true;
		}
		return any;
	}
	/* A dependency is judged by the prefix its dependent gives it; a
	 * manifest on its own by its manifest-component-id. */
	if (prefix)
		return prefix_matches(sc, prefix, prefix_len);
	return prefix_matches(sc, f->manifest_component_id, f->manifest_component_id_len);
}

bool suit_keyring_in_scope(const struct suit_keyring *kr, unsigned anchor, const uint8_t *prefix,
			   size_t prefix_len, const struct suit_facts *f, unsigned *ret_anchor)
{
	const struct suit_anchor *v;

	if (!kr || anchor >= kr->count)
		return false;
	v = &kr->anchors[anchor];
	/* The same key may be listed more than once, with other scopes. */
	for (unsigned i = 0; i < kr->count; i++) {
		const struct suit_anchor *a = &kr->anchors[i];
		if (a->type != v->type || memcmp(a->kid, v->kid, sizeof(a->kid)) != 0)
			continue;
		bool ok = a->scope_count == 0;
		for (unsigned s = 0; s < a->scope_count && !ok; s++)
			ok = scope_matches(&a->scopes[s], prefix, prefix_len, f);
		if (ok) {
			*ret_anchor = i;
			return true;
		}
	}
	return false;
}
