/* suit/: envelope verification and facts over the draft's Appendix B
 * examples (tests/data/suit), hostile edits of them, and synthetic
 * envelopes made with suit_manifest_create and keys generated here. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "common/crypto.h"
#include "suit/cbor.h"
#include "suit/cose.h"
#include "suit/create.h"
#include "suit/suit.h"
#include "tests/check_run.h"

/* ---- files ---------------------------------------------------------- */

static char *data_path(const char *name)
{
	static char path[4096];
	const char *src = getenv("SUITD_SRC");

	snprintf(path, sizeof(path), "%s/tests/data/suit/%s", src ? src : ".", name);
	return path;
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	*ret_len = fread(buf, 1, (size_t)st.st_size, f);
	ck_assert_uint_eq(*ret_len, (size_t)st.st_size);
	fclose(f);
	return buf;
}

static uint8_t *read_vector(const char *name, size_t *ret_len)
{
	return read_file(data_path(name), ret_len);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(c);
	if (len)
		memcpy(c, p, len);
	return c;
}

/* ---- keys made for this run (test-only, removed at exit) ------------ */

static char tmpdir[] = "/tmp/check_suit.XXXXXX";
static char p256a_key[128], p256a_pub[128], p256b_key[128], p256b_pub[128];
static char ed_key[128], ed_pub[128], p384_key[128], hmac1[128], hmac2[128];
static const char *spec_pub;

/* Setup runs outside any test: fail loudly without Check. */
static void need(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "check_suit setup: %s failed\n", what);
		exit(EXIT_FAILURE);
	}
}

static void write_pem(EVP_PKEY *k, const char *priv, const char *pub)
{
	FILE *f = fopen(priv, "w");

	need(f != NULL, "f");
	need(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1,
	     "PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)");
	fclose(f);
	if (!pub)
		return;
	f = fopen(pub, "w");
	need(f != NULL, "f");
	need(PEM_write_PUBKEY(f, k) == 1, "PEM_write_PUBKEY(f, k)");
	fclose(f);
}

static void write_secret(const char *path, uint8_t fill)
{
	uint8_t secret[32];
	FILE *f = fopen(path, "w");

	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(fill + i);
	need(f != NULL, "f");
	need(fwrite(secret, 1, 32, f) == 32, "fwrite(secret, 1, 32, f)");
	fclose(f);
}

static void keys_setup(void)
{
	EVP_PKEY *k;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
#define PATH(var, name) snprintf(var, sizeof(var), "%s/%s", tmpdir, name)
	PATH(p256a_key, "p256a.key");
	PATH(p256a_pub, "p256a.pub");
	PATH(p256b_key, "p256b.key");
	PATH(p256b_pub, "p256b.pub");
	PATH(ed_key, "ed25519.key");
	PATH(ed_pub, "ed25519.pub");
	PATH(p384_key, "p384.key");
	PATH(hmac1, "hmac1.key");
	PATH(hmac2, "hmac2.key");
#undef PATH
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	write_pem(k, p256a_key, p256a_pub);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	write_pem(k, p256b_key, p256b_pub);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	write_pem(k, ed_key, ed_pub);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	write_pem(k, p384_key, NULL);
	EVP_PKEY_free(k);
	write_secret(hmac1, 1);
	write_secret(hmac2, 2);
	spec_pub = strdup(data_path("suit-spec-examples-p256.pub.pem"));
}

static void keys_cleanup(void)
{
	const char *files[] = {p256a_key, p256a_pub, p256b_key, p256b_pub, ed_key,
			       ed_pub,	  p384_key,  hmac1,	hmac2};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(tmpdir);
	free((void *)spec_pub);
}

/* A keyring from PEM public keys (and "hmac:" paths). */
static struct suit_keyring *keyring_of(size_t n, const char *const *paths)
{
	struct suit_keyring *kr;
	struct diag d = {0};

	ck_assert_int_eq(suit_keyring_new(&kr), ERR_OK);
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i];
		enum err e = strncmp(p, "hmac:", 5) == 0 ? suit_keyring_add_hmac(kr, p + 5, &d)
							 : suit_keyring_add_pem(kr, p, &d);
		ck_assert_msg(e == ERR_OK, "%s: %s", p, d.text);
	}
	return kr;
}

#define KEYRING(...)                                                             \
	keyring_of(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *), \
		   (const char *[]){__VA_ARGS__})

static enum suit_check check(const uint8_t *p, size_t len, const struct suit_keyring *kr,
			     bool require, struct suit_facts *f, struct diag *d)
{
	struct suit_verify_options o = {.keyring = kr, .require_signature = require};

	return suit_envelope_check(p, len, &o, f, d);
}

/* Verify on an exact-size heap copy (so ASan sees any over-read) and
 * release the facts: only the result matters. */
static enum suit_check check_only(const uint8_t *p, size_t len, const struct suit_keyring *kr,
				  bool require, struct diag *d)
{
	struct suit_facts f;
	uint8_t *c = dup_bytes(p, len);
	enum suit_check r = check(c, len, kr, require, &f, d);

	if (r == SUIT_OK)
		suit_facts_release(&f);
	free(c);
	return r;
}

#define ck_assert_check(got, want, d)                                                          \
	ck_assert_msg((got) == (want), "got %s (%s), want %s", suit_check_slug(got), (d).text, \
		      suit_check_slug(want))

/* ---- CBOR plumbing for the hostile edits ------------------------------ */

/* Value of integer key k in the envelope (tag 107 skipped). */
static bool envelope_member(const uint8_t *p, size_t len, int64_t k, struct cbor_span *ret)
{
	struct cbor_span m = {p, len}, key, value;
	struct cbor_head h;
	struct cbor_iter it;
	int64_t got;

	if (!cbor_head_read(p, len, &h))
		return false;
	if (h.major == CBOR_TAG) {
		m.p += h.head_len;
		m.len -= h.head_len;
	}
	if (!cbor_iter_init(m, CBOR_MAP, &it))
		return false;
	while (cbor_iter_next(&it, &key, &value))
		if (cbor_span_int(key, &got) && got == k) {
			*ret = value;
			return true;
		}
	return false;
}

static struct cbor_span content_of(struct cbor_span bstr_item)
{
	struct cbor_span c;

	ck_assert(cbor_bstr_content(bstr_item, &c));
	return c;
}

/* Element i (a bstr item) of the authentication-wrapper array. */
static struct cbor_span auth_element(const uint8_t *env, size_t len, unsigned i)
{
	struct cbor_span auth, e, unused;
	struct cbor_iter it;

	ck_assert(envelope_member(env, len, 2, &auth));
	ck_assert(cbor_iter_init(content_of(auth), CBOR_ARRAY, &it));
	for (unsigned k = 0; k <= i; k++)
		ck_assert(cbor_iter_next(&it, &e, &unused));
	return e;
}

static uint8_t *serialize(cbor_item_t *item, size_t *ret_len)
{
	unsigned char *buf = NULL;
	size_t size = 0;

	ck_assert_ptr_nonnull(item);
	*ret_len = cbor_serialize_alloc(item, &buf, &size);
	ck_assert_uint_gt(*ret_len, 0);
	cbor_decref(&item);
	return buf;
}

static cbor_item_t *bstr(struct cbor_span s)
{
	return cbor_build_bytestring(s.p, s.len);
}

static void push(cbor_item_t *arr, cbor_item_t *v)
{
	ck_assert_ptr_nonnull(v);
	ck_assert(cbor_array_push(arr, v));
	cbor_decref(&v);
}

static void put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(v);
	ck_assert(cbor_map_add(map, (struct cbor_pair){.key = k, .value = v}));
	cbor_decref(&k);
	cbor_decref(&v);
}

static cbor_item_t *tag(uint64_t t, cbor_item_t *item)
{
	cbor_item_t *r = cbor_new_tag(t);

	ck_assert_ptr_nonnull(r);
	cbor_tag_set_item(r, item);
	cbor_decref(&item);
	return r;
}

/* Encoded COSE_Sign1 (18) / COSE_Mac0 (17): [bstr(prot), {}, nil, bstr(sig)]. */
static uint8_t *cose_block(uint64_t t, struct cbor_span prot, struct cbor_span sig, size_t *ret_len)
{
	cbor_item_t *a = cbor_new_definite_array(4);

	push(a, bstr(prot));
	push(a, cbor_new_definite_map(0));
	push(a, cbor_new_null());
	push(a, bstr(sig));
	return serialize(tag(t, a), ret_len);
}

/* tag 107 { 2: bstr([bstr(digest), bstr(block)...]), 3: manifest-bstr-item } */
static uint8_t *envelope_build(struct cbor_span digest_content, const struct cbor_span *blocks,
			       unsigned n, struct cbor_span manifest_content, size_t *ret_len)
{
	cbor_item_t *auth = cbor_new_definite_array(1 + n), *env = cbor_new_definite_map(2);
	uint8_t *auth_bytes;
	size_t auth_len;

	push(auth, bstr(digest_content));
	for (unsigned i = 0; i < n; i++)
		push(auth, bstr(blocks[i]));
	auth_bytes = serialize(auth, &auth_len);
	put(env, cbor_build_uint8(2), bstr((struct cbor_span){auth_bytes, auth_len}));
	put(env, cbor_build_uint8(3), bstr(manifest_content));
	free(auth_bytes);
	return serialize(tag(107, env), ret_len);
}

/* SUIT_Digest [-16, SHA-256(bstr(manifest_content))] as encoded. */
static uint8_t *manifest_digest(struct cbor_span manifest_content, size_t *ret_len)
{
	uint8_t *item, h[32];
	size_t item_len;
	cbor_item_t *dg = cbor_new_definite_array(2);

	item = serialize(bstr(manifest_content), &item_len);
	crypto_sha256(item, item_len, h);
	free(item);
	push(dg, cbor_build_negint8(15));
	push(dg, cbor_build_bytestring(h, 32));
	return serialize(dg, ret_len);
}

static EVP_PKEY *load_private(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	ck_assert_ptr_nonnull(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* An envelope around manifest_content signed here (independently of
 * suit/create.c) with the Ed25519 test key; protected header {1: alg}. */
static uint8_t *envelope_sign_ed25519(struct cbor_span manifest_content, int64_t alg,
				      size_t *ret_len)
{
	size_t dg_len, prot_len, tbs_len = 0, block_len, sig_len = 64;
	uint8_t *dg = manifest_digest(manifest_content, &dg_len), *prot, *block, *env;
	unsigned char *tbs = NULL, sig[64];
	cbor_item_t *pm = cbor_new_definite_map(1);
	EVP_PKEY *k = load_private(ed_key);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	put(pm, cbor_build_uint8(1),
	    alg < 0 ? cbor_build_negint8((uint8_t)(-1 - alg)) : cbor_build_uint8((uint8_t)alg));
	prot = serialize(pm, &prot_len);
	ck_assert(suit_cose_to_be_signed("Signature1", (struct cbor_span){prot, prot_len},
					 (struct cbor_span){dg, dg_len}, &tbs, &tbs_len));
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, tbs, tbs_len), 1);
	block = cose_block(18, (struct cbor_span){prot, prot_len}, (struct cbor_span){sig, 64},
			   &block_len);
	env = envelope_build((struct cbor_span){dg, dg_len},
			     (struct cbor_span[]){{block, block_len}}, 1, manifest_content,
			     ret_len);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	free(tbs);
	free(block);
	free(prot);
	free(dg);
	return env;
}

/* ---- created envelopes ----------------------------------------------- */

static const uint8_t image[] = "firmware image bytes, not a real one\x01\x02\x03";

static struct suit_create_options base_options(const char *key)
{
	return (struct suit_create_options){
		.key_path = key,
		.payload = image,
		.payload_len = sizeof(image),
		.vendor_domain = "arm.com",
		.class_info = "example",
		.sequence = 7,
		.uri = "https://fw.example.net/fw.bin",
	};
}

static uint8_t *create(const struct suit_create_options *o, size_t *ret_len)
{
	uint8_t *out = NULL;
	struct diag d = {0};
	enum err e = suit_manifest_create(o, &out, ret_len, &d);

	ck_assert_msg(e == ERR_OK, "suit_manifest_create: %s", d.text);
	ck_assert_ptr_nonnull(out);
	return out;
}

static void image_digest_hex(char out[65])
{
	uint8_t h[32];

	crypto_sha256(image, sizeof(image), h);
	hex_encode(h, 32, out);
}

/* ---- JSON facts ------------------------------------------------------ */

static json_t *component(const struct suit_facts *f, size_t i)
{
	json_t *c = json_array_get(json_object_get(f->json, "components"), i);

	ck_assert_msg(c != NULL, "no component %zu", i);
	return c;
}

static bool has_digest(json_t *arr, const char *hex)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if (json_integer_value(json_object_get(e, "alg_id")) == -16 &&
		    strcmp(json_string_value(json_object_get(e, "value")), hex) == 0)
			return true;
	}
	return false;
}

static bool has_int(json_t *arr, json_int_t v)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if (json_integer_value(e) == v)
			return true;
	}
	return false;
}

static bool has_str(json_t *arr, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return true;
	}
	return false;
}

static const char *member(const struct suit_facts *f, const char *name)
{
	const char *s =
		json_string_value(json_object_get(json_object_get(f->json, "members"), name));

	return s ? s : "";
}

static void uuid_bytes(const char *text, uint8_t out[16])
{
	char hex[33];
	size_t n = 0;

	for (const char *p = text; *p && n < 32; p++)
		if (*p != '-')
			hex[n++] = *p;
	hex[n] = '\0';
	ck_assert_uint_eq(n, 32);
	ck_assert(hex_decode(hex, out, 16));
}

/* ---- the Appendix B examples ------------------------------------------ */

#define D0     "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210"
#define D1     "0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff"
#define VENDOR "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe"
#define CLASS  "1492af14-2569-5e48-bf42-9b2d51f2ab45"
#define EX_URI "http://example.com/"

struct comp_expect {
	const char *id;	    /* hex of its one bstr */
	const char *vendor; /* NULL: none */
	const char *class_id;
	const char *digests[2];
	json_int_t sizes[2]; /* 0: end */
	const char *uris[2];
};

struct fetch_expect {
	unsigned component;
	const char *uri, *digest;
	json_int_t size; /* -1: null */
};

static const struct vector {
	const char *file;
	bool is_signed;
	uint64_t sequence;
	const char *reference_uri;
	const char *install, *text; /* members state ("" absent) */
	unsigned ncomp;
	struct comp_expect c[3];
	unsigned nfetch;
	struct fetch_expect fetch[2];
} vectors[] = {
#define C0(...)                                     \
	{                                           \
		"00", VENDOR, CLASS, {D0}, {34768}, \
		{                                   \
			__VA_ARGS__                 \
		}                                   \
	}
	{"spec-example0.signed.suit", true, 0, NULL, "", "", 1, {C0(NULL)}, 0, {{0}}},
	{"spec-example0.unsigned.suit", false, 0, NULL, "", "", 1, {C0(NULL)}, 0, {{0}}},
	{"spec-example1.signed.suit",
	 true,
	 1,
	 NULL,
	 "inline",
	 "",
	 1,
	 {C0(EX_URI "file.bin")},
	 1,
	 {{0, EX_URI "file.bin", D0, 34768}}},
	{"spec-example1.unsigned.suit",
	 false,
	 1,
	 NULL,
	 "inline",
	 "",
	 1,
	 {C0(EX_URI "file.bin")},
	 1,
	 {{0, EX_URI "file.bin", D0, 34768}}},
	{"spec-example2.signed.suit",
	 true,
	 2,
	 "https://git.io/JJYoj",
	 "severed, in envelope",
	 "severed, in envelope",
	 1,
	 {C0(EX_URI "very/long/path/to/file/file.bin")},
	 1,
	 {{0, EX_URI "very/long/path/to/file/file.bin", D0, 34768}}},
	{"spec-example2.signed-severed.suit",
	 true,
	 2,
	 "https://git.io/JJYoj",
	 "severed",
	 "severed",
	 1,
	 {C0(NULL)},
	 0,
	 {{0}}},
	{"spec-example2.unsigned-severed.suit",
	 false,
	 2,
	 "https://git.io/JJYoj",
	 "severed",
	 "severed",
	 1,
	 {C0(NULL)},
	 0,
	 {{0}}},
#define C3                                                     \
	{                                                      \
		"00", VENDOR, CLASS, {D0, D1}, {34768, 76834}, \
		{                                              \
			EX_URI "file1.bin", EX_URI "file2.bin" \
		}                                              \
	}
#define F3                                               \
	{                                                \
		{0, EX_URI "file1.bin", D0, 34768},      \
		{                                        \
			0, EX_URI "file2.bin", D1, 76834 \
		}                                        \
	}
	{"spec-example3.signed.suit", true, 3, NULL, "inline", "", 1, {C3}, 2, F3},
	{"spec-example3.unsigned.suit", false, 3, NULL, "inline", "", 1, {C3}, 2, F3},
#define C4                                                                    \
	{                                                                     \
		C0(NULL), {"02", NULL, NULL, {D0}, {0}, {EX_URI "file.bin"}}, \
		{                                                             \
			"01", NULL, NULL, {D1}, {76834},                      \
			{                                                     \
				NULL                                          \
			}                                                     \
		}                                                             \
	}
	{"spec-example4.signed.suit",
	 true,
	 4,
	 NULL,
	 "inline",
	 "",
	 3,
	 C4,
	 1,
	 {{1, EX_URI "file.bin", D0, -1}}},
	{"spec-example4.unsigned.suit",
	 false,
	 4,
	 NULL,
	 "inline",
	 "",
	 3,
	 C4,
	 1,
	 {{1, EX_URI "file.bin", D0, -1}}},
#define C5                                               \
	{                                                \
		C0(EX_URI "file1.bin"),                  \
		{                                        \
			"01", NULL, NULL, {D1}, {76834}, \
			{                                \
				EX_URI "file2.bin"       \
			}                                \
		}                                        \
	}
#define F5                                               \
	{                                                \
		{0, EX_URI "file1.bin", D0, 34768},      \
		{                                        \
			1, EX_URI "file2.bin", D1, 76834 \
		}                                        \
	}
	{"spec-example5.signed.suit", true, 5, NULL, "inline", "", 2, C5, 2, F5},
	{"spec-example5.unsigned.suit", false, 5, NULL, "inline", "", 2, C5, 2, F5},
#undef C0
#undef C3
#undef F3
#undef C4
#undef C5
#undef F5
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

static size_t count_of(const char *const *a, size_t max)
{
	size_t n = 0;

	while (n < max && a[n])
		n++;
	return n;
}

static void assert_facts(const struct vector *v, const struct suit_facts *f)
{
	ck_assert_uint_eq(f->version, 1);
	ck_assert_uint_eq(f->sequence, v->sequence);
	ck_assert(f->tagged);
	ck_assert_uint_eq(f->component_count, v->ncomp);
	ck_assert_uint_eq(json_array_size(json_object_get(f->json, "components")), v->ncomp);
	if (v->reference_uri)
		ck_assert_str_eq(json_string_value(json_object_get(f->json, "reference_uri")),
				 v->reference_uri);
	else
		ck_assert(json_is_null(json_object_get(f->json, "reference_uri")));
	ck_assert_str_eq(member(f, "install"), v->install);
	ck_assert_str_eq(member(f, "text"), v->text);
	ck_assert_str_eq(member(f, "validate"), "inline");
	for (unsigned i = 0; i < v->ncomp; i++) {
		const struct comp_expect *c = &v->c[i];
		const struct suit_component *sc = &f->components[i];
		json_t *jc = component(f, i), *id = json_object_get(jc, "id");
		uint8_t want_id[3] = {0x81, 0x41, 0};
		size_t nd = count_of(c->digests, 2), nu = count_of(c->uris, 2), ns = 0;

		ck_assert_uint_eq(json_array_size(id), 1);
		ck_assert_str_eq(json_string_value(json_array_get(id, 0)), c->id);
		ck_assert(hex_decode(c->id, &want_id[2], 1));
		ck_assert_uint_eq(sc->id_len, 3);
		ck_assert_mem_eq(sc->id, want_id, 3);
		ck_assert(sc->has_vendor == (c->vendor != NULL));
		ck_assert(sc->has_class == (c->class_id != NULL));
		if (c->vendor) {
			uint8_t u[16];
			ck_assert_str_eq(json_string_value(json_object_get(jc, "vendor_id")),
					 c->vendor);
			ck_assert_str_eq(json_string_value(json_object_get(jc, "class_id")),
					 c->class_id);
			uuid_bytes(c->vendor, u);
			ck_assert_mem_eq(sc->vendor, u, 16);
			uuid_bytes(c->class_id, u);
			ck_assert_mem_eq(sc->class_id, u, 16);
		}
		ck_assert_uint_eq(json_array_size(json_object_get(jc, "digests")), nd);
		for (size_t k = 0; k < nd; k++)
			ck_assert_msg(has_digest(json_object_get(jc, "digests"), c->digests[k]),
				      "%s component %u: no digest %s", v->file, i, c->digests[k]);
		while (ns < 2 && c->sizes[ns])
			ns++;
		ck_assert_uint_eq(json_array_size(json_object_get(jc, "sizes")), ns);
		for (size_t k = 0; k < ns; k++)
			ck_assert(has_int(json_object_get(jc, "sizes"), c->sizes[k]));
		ck_assert_uint_eq(json_array_size(json_object_get(jc, "uris")), nu);
		for (size_t k = 0; k < nu; k++)
			ck_assert_msg(has_str(json_object_get(jc, "uris"), c->uris[k]),
				      "%s component %u: no uri %s", v->file, i, c->uris[k]);
	}
	/* Fetches: which image (digest, size) comes from which uri. */
	json_t *fetches = json_object_get(f->json, "fetches");
	ck_assert_uint_eq(f->image_count, v->nfetch);
	ck_assert_uint_eq(json_array_size(fetches), v->nfetch);
	for (unsigned k = 0; k < v->nfetch; k++) {
		const struct fetch_expect *fe = &v->fetch[k];
		bool found = false;
		for (unsigned i = 0; i < f->image_count && !found; i++) {
			const struct suit_image *img = &f->images[i];
			char hex[2 * SUIT_MAX_DIGEST + 1];
			hex_encode(img->digest.bytes, img->digest.len, hex);
			found = img->component == fe->component && strcmp(img->uri, fe->uri) == 0 &&
				img->has_digest && img->digest.alg == COSE_ALG_SHA256 &&
				strcmp(hex, fe->digest) == 0 &&
				(fe->size < 0 ? !img->has_size
					      : img->has_size && img->size == (uint64_t)fe->size);
		}
		ck_assert_msg(found, "%s: no fetch of %s", v->file, fe->uri);
		size_t i;
		json_t *e;
		found = false;
		json_array_foreach(fetches, i, e)
		{
			json_t *sz = json_object_get(e, "size");
			found = found || (strcmp(json_string_value(json_object_get(e, "uri")),
						 fe->uri) == 0 &&
					  strcmp(json_string_value(json_object_get(
							 json_object_get(e, "digest"), "value")),
						 fe->digest) == 0 &&
					  (fe->size < 0 ? json_is_null(sz)
							: json_integer_value(sz) == fe->size));
		}
		ck_assert_msg(found, "%s: fetches JSON lacks %s", v->file, fe->uri);
	}
}

START_TEST(test_vector)
{
	const struct vector *v = &vectors[_i];
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector(v->file, &len);
	enum suit_check r = check(buf, len, kr, true, &f, &d);

	if (v->is_signed) {
		ck_assert_check(r, SUIT_OK, d);
		ck_assert_uint_eq(f.signer_count, 1);
		ck_assert_int_eq(f.signers[0].alg, COSE_ALG_ES256);
		ck_assert_int_eq(f.signers[0].anchor, 0);
		ck_assert_int_eq(f.signers[0].result, SUIT_OK);
		ck_assert_str_eq(
			json_string_value(json_object_get(
				json_array_get(json_object_get(f.json, "signers"), 0), "result")),
			"verified");
		assert_facts(v, &f);
		suit_facts_release(&f);
	} else {
		ck_assert_check(r, SUIT_UNSIGNED, d);
		ck_assert_str_ne(d.text, "");
	}
	/* Without require_signature an unsigned one passes; so does a signed
	 * one, with the same facts either way. */
	r = check(buf, len, kr, false, &f, &d);
	ck_assert_check(r, SUIT_OK, d);
	ck_assert_uint_eq(f.signer_count, v->is_signed ? 1 : 0);
	assert_facts(v, &f);
	suit_facts_release(&f);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

/* Every file in tests/data/suit is in the table above. */
START_TEST(test_vector_table_complete)
{
	DIR *dir = opendir(data_path(""));
	struct dirent *e;
	unsigned files = 0;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		bool known = false;
		if (n < 5 || strcmp(e->d_name + n - 5, ".suit") != 0)
			continue;
		files++;
		for (size_t i = 0; i < NVECTORS; i++)
			known = known || strcmp(vectors[i].file, e->d_name) == 0;
		ck_assert_msg(known, "%s has no expected facts in check_suit.c", e->d_name);
	}
	closedir(dir);
	ck_assert_uint_eq(files, NVECTORS);
}
END_TEST

START_TEST(test_example0_digest)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct suit_facts f, fu;
	struct diag d = {0};
	size_t len, ulen;
	uint8_t *buf = read_vector("spec-example0.signed.suit", &len),
		*ubuf = read_vector("spec-example0.unsigned.suit", &ulen);
	char hex[2 * SUIT_MAX_DIGEST + 1];

	ck_assert_check(check(buf, len, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_int_eq(f.manifest_digest.alg, COSE_ALG_SHA256);
	ck_assert_uint_eq(f.manifest_digest.len, 32);
	hex_encode(f.manifest_digest.bytes, f.manifest_digest.len, hex);
	ck_assert_str_eq(hex, "6658ea560262696dd1f13b782239a064da7c6c5cbaf52fded428a6fc83c7e5af");
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(f.json, "digest"), "value")),
		hex);
	ck_assert_int_eq(json_integer_value(json_object_get(f.json, "size")), 237);
	/* The unsigned form carries the same manifest. */
	ck_assert_check(check(ubuf, ulen, kr, false, &fu, &d), SUIT_OK, d);
	ck_assert_mem_eq(fu.manifest_digest.bytes, f.manifest_digest.bytes, 32);
	/* The spec key's kid is its RFC 9679 thumbprint. */
	hex_encode(suit_keyring_kid(kr, 0), 32, hex);
	ck_assert_str_eq(hex, "ca9e35f23b2b525fb4fc83f512b0dcac4ac29e457e873a5d6a7313f71690b33c");
	suit_facts_release(&f);
	suit_facts_release(&fu);
	free(buf);
	free(ubuf);
	suit_keyring_free(kr);
}
END_TEST

/* ---- hostile edits of the examples ------------------------------------ */

START_TEST(test_manifest_byte_flipped)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector("spec-example0.signed.suit", &len);
	struct cbor_span m;

	ck_assert(envelope_member(buf, len, 3, &m));
	struct cbor_span c = content_of(m);
	/* Every byte of the manifest is covered by the digest. */
	for (size_t i = 0; i < c.len; i++) {
		uint8_t *p = (uint8_t *)c.p + i;
		*p ^= 0x01;
		ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_DIGEST_MISMATCH, d);
		*p ^= 0x01;
	}
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_OK, d);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_signature_byte_flipped)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector("spec-example0.signed.suit", &len);
	struct cbor_span block = content_of(auth_element(buf, len, 1));
	uint8_t *last = (uint8_t *)block.p + block.len - 1; /* last byte of the signature */

	*last ^= 0x40;
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_SIGNATURE_INVALID, d);
	ck_assert_ptr_nonnull(strstr(d.text, "does not verify"));
	*last ^= 0x40;
	*(last - 40) ^= 0x01; /* inside r */
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_SIGNATURE_INVALID, d);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_untrusted_key_type)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector("spec-example0.signed.suit", &len);

	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_NO_TRUSTED_SIGNATURE, d);
	/* No keyring at all: same answer. */
	ck_assert_check(check_only(buf, len, NULL, true, &d), SUIT_NO_TRUSTED_SIGNATURE, d);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_truncations)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector("spec-example0.signed.suit", &len);

	for (size_t n = 0; n < len; n++) {
		enum suit_check r = check_only(buf, n, kr, true, &d);
		ck_assert_msg(r != SUIT_OK, "prefix of %zu bytes accepted", n);
	}
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_OK, d);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_trailing_garbage)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector("spec-example0.signed.suit", &len);
	uint8_t *more = malloc(len + 3);

	memcpy(more, buf, len);
	memcpy(more + len, "\x00\xff\x01", 3);
	for (size_t extra = 1; extra <= 3; extra++) {
		ck_assert_check(check_only(more, len + extra, kr, true, &d), SUIT_CBOR_PARSE, d);
		ck_assert_ptr_nonnull(strstr(d.text, "follow"));
	}
	free(more);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_text_member_flipped)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct diag d = {0};
	size_t len;
	uint8_t *buf = read_vector("spec-example2.signed.suit", &len);
	struct cbor_span text, install;

	ck_assert(envelope_member(buf, len, 23, &text));
	ck_assert(envelope_member(buf, len, 20, &install));
	uint8_t *p = (uint8_t *)text.p + text.len / 2;
	*p ^= 0x20;
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_SEVERED_DIGEST_MISMATCH, d);
	ck_assert_ptr_nonnull(strstr(d.text, "text"));
	*p ^= 0x20;
	/* The same for install (20). */
	p = (uint8_t *)install.p + install.len - 1;
	*p ^= 0x01;
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_SEVERED_DIGEST_MISMATCH, d);
	*p ^= 0x01;
	ck_assert_check(check_only(buf, len, kr, true, &d), SUIT_OK, d);
	free(buf);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_sever_example2)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct suit_facts f, full;
	struct diag d = {0};
	size_t len, want_len, out_len = 0;
	uint8_t *buf = read_vector("spec-example2.signed.suit", &len),
		*want = read_vector("spec-example2.signed-severed.suit", &want_len), *out = NULL;
	const int64_t keys[] = {20, 23};

	ck_assert_check(suit_envelope_sever(buf, len, keys, 2, &out, &out_len, &d), SUIT_OK, d);
	ck_assert_uint_eq(out_len, want_len);
	ck_assert_mem_eq(out, want, want_len);
	ck_assert_check(check(out, out_len, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_str_eq(member(&f, "install"), "severed");
	ck_assert_str_eq(member(&f, "text"), "severed");
	ck_assert_check(check(buf, len, kr, true, &full, &d), SUIT_OK, d);
	ck_assert_mem_eq(f.manifest_digest.bytes, full.manifest_digest.bytes, 32);
	suit_facts_release(&f);
	suit_facts_release(&full);
	free(out);
	/* Example 1's install is inline: it cannot be severed. */
	free(buf);
	buf = read_vector("spec-example1.signed.suit", &len);
	out = NULL;
	ck_assert_check(suit_envelope_sever(buf, len, keys, 1, &out, &out_len, &d),
			SUIT_UNSUPPORTED, d);
	ck_assert_ptr_null(out);
	free(buf);
	free(want);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_oversized)
{
	struct suit_keyring *kr = KEYRING(spec_pub);
	struct diag d = {0};
	size_t len = 20u << 20;
	uint8_t *zeros = calloc(1, len);

	ck_assert_ptr_nonnull(zeros);
	ck_assert_check(check_only(zeros, len, kr, true, &d), SUIT_CBOR_PARSE, d);
	/* A bstr header claiming 20 MB that is not there. */
	zeros[0] = 0x5a;
	zeros[1] = 0x01;
	zeros[2] = 0x40;
	ck_assert_uint_ne(check_only(zeros, 5, kr, true, &d), SUIT_OK);
	/* An array claiming 2^64-1 elements. */
	memcpy(zeros, "\x9b\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	ck_assert_uint_ne(check_only(zeros, len, kr, true, &d), SUIT_OK);
	/* Nested arrays 20 MB deep. */
	memset(zeros, 0x81, len);
	ck_assert_check(check_only(zeros, len, kr, true, &d), SUIT_CBOR_PARSE, d);
	free(zeros);
	suit_keyring_free(kr);
}
END_TEST

/* ---- The manifest walk on a built manifest --------------------------- */

/* Unsigned manifest (made with a few lines of python, kept as hex): two
 * components, a dependency at index 2 with a prefix, a shared sequence
 * that selects every component (index true) and checks vendor and class,
 * an install sequence that selects component 1 (uint) and 0 (array),
 * overrides SHA-512 and SHA-384 image digests, sizes and URIs, fetches
 * each, and a try-each with a nil alternative. */
static const char walk_manifest_hex[] =
	"a401010205035841a301a102a1018141aa028281410081410104582d880cf514a2015000"
	"0102030405060708090a0b0c0d0e0f0250101112131415161718191a1b1c1d1e1f010f02"
	"0f1458d48e0c0114a303584582382b584000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000e187b15781968747470733a2f2f6578616d706c652e636f6d2f62"
	"2e62696e150f0c810014a303583582382a58300000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000e05157819"
	"68747470733a2f2f6578616d706c652e636f6d2f612e62696e150f0f8245840c00030ff6";

static uint8_t *walk_envelope(const char *hex, size_t *ret_len)
{
	size_t n = strlen(hex) / 2, dg_len;
	uint8_t *m = malloc(n), *dg, *env;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		m[i] = (uint8_t)v;
	}
	dg = manifest_digest((struct cbor_span){m, n}, &dg_len);
	env = envelope_build((struct cbor_span){dg, dg_len}, NULL, 0, (struct cbor_span){m, n},
			     ret_len);
	free(dg);
	free(m);
	return env;
}

START_TEST(test_walk_components_and_digests)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"8e0c0114", "8e0c0714"},		/* set-component-index 7 */
		{"0c810014", "0c810914"},		/* set-component-index [9] */
		{"a102a1018141aa", "a118ffa1018141aa"}, /* dependency index 255 */
	};
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *env = walk_envelope(walk_manifest_hex, &len);

	ck_assert_check(check(env, len, NULL, false, &f, &d), SUIT_OK, d);
	ck_assert_uint_eq(f.sequence, 5);
	/* Two components plus the dependency's index. */
	ck_assert_uint_eq(f.component_count, 3);
	ck_assert_uint_eq(f.image_count, 2);
	ck_assert_int_eq(f.images[0].digest.alg, -44);
	ck_assert_uint_eq(f.images[0].digest.len, 64);
	ck_assert_uint_eq(f.images[0].size, 123);
	ck_assert_str_eq(f.images[0].uri, "https://example.com/b.bin");
	ck_assert_int_eq(f.images[1].digest.alg, -43);
	ck_assert_uint_eq(f.images[1].size, 5);
	json_t *deps = json_object_get(f.json, "dependencies");
	ck_assert_uint_eq(json_array_size(deps), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(deps, 0), "index")), 2);
	suit_facts_release(&f);
	free(env);

	/* A component index out of range, a dependency index past the bound:
	 * refused, not walked. */
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char hex[sizeof(walk_manifest_hex) + 8];
		const char *at = strstr(walk_manifest_hex, edits[i].from);
		ck_assert_ptr_nonnull(at);
		snprintf(hex, sizeof(hex), "%.*s%s%s", (int)(at - walk_manifest_hex),
			 walk_manifest_hex, edits[i].to, at + strlen(edits[i].from));
		env = walk_envelope(hex, &len);
		ck_assert_msg(check_only(env, len, NULL, false, &d) != SUIT_OK, "edit %zu accepted",
			      i);
		free(env);
	}
}
END_TEST

/* ---- suit_manifest_create ------------------------------------------- */

START_TEST(test_uuid5)
{
	uint8_t vendor[16], class_id[16], want[16];

	ck_assert_int_eq(suit_uuid5(suit_uuid_namespace_dns, (const uint8_t *)"arm.com", 7, vendor),
			 ERR_OK);
	uuid_bytes(VENDOR, want);
	ck_assert_mem_eq(vendor, want, 16);
	ck_assert_int_eq(
		suit_uuid5(suit_uuid_namespace_dns, (const uint8_t *)"nordicsemi.com", 14, vendor),
		ERR_OK);
	uuid_bytes("7617daa5-71fd-5a85-8f94-e28d735ce9f4", want);
	ck_assert_mem_eq(vendor, want, 16);
	/* Class: UUID5(vendor, info), cross-checked with Python's uuid.uuid5. */
	uuid_bytes(VENDOR, vendor);
	ck_assert_int_eq(suit_uuid5(vendor, (const uint8_t *)"example", 7, class_id), ERR_OK);
	uuid_bytes("0d4bff7f-1268-5326-b3d5-977af0730348", want);
	ck_assert_mem_eq(class_id, want, 16);
}
END_TEST

/* Heads in preferred (shortest) form and map keys in bytewise order of
 * their encodings (RFC 8949 §4.2.1); bstr contents are not entered. */
static void assert_deterministic(struct cbor_span item)
{
	struct cbor_head h;
	struct cbor_iter it;
	struct cbor_span k, v, prev = {NULL, 0};

	ck_assert(cbor_head_read(item.p, item.len, &h));
	if (h.major != CBOR_SIMPLE)
		ck_assert_uint_eq(h.head_len, h.arg < 24	    ? 1
					      : h.arg <= UINT8_MAX  ? 2
					      : h.arg <= UINT16_MAX ? 3
					      : h.arg <= UINT32_MAX ? 5
								    : 9);
	if (h.major == CBOR_TAG) {
		assert_deterministic(
			(struct cbor_span){item.p + h.head_len, item.len - h.head_len});
		return;
	}
	if (h.major != CBOR_ARRAY && h.major != CBOR_MAP)
		return;
	ck_assert(cbor_iter_init(item, h.major, &it));
	while (cbor_iter_next(&it, &k, &v)) {
		assert_deterministic(k);
		if (h.major == CBOR_MAP) {
			assert_deterministic(v);
			if (prev.p) {
				size_t n = prev.len < k.len ? prev.len : k.len;
				int c = memcmp(prev.p, k.p, n);
				ck_assert_msg(c < 0 || (c == 0 && prev.len < k.len),
					      "map keys out of order");
			}
			prev = k;
		}
	}
	ck_assert(cbor_iter_done(&it));
}

/* The bstr-wrapped value at integer key k of the map item m. */
static struct cbor_span map_bstr(struct cbor_span m, int64_t want)
{
	struct cbor_iter it;
	struct cbor_span k, v;
	int64_t got;

	ck_assert(cbor_iter_init(m, CBOR_MAP, &it));
	while (cbor_iter_next(&it, &k, &v))
		if (cbor_span_int(k, &got) && got == want)
			return content_of(v);
	ck_abort_msg("no key %lld", (long long)want);
	return (struct cbor_span){NULL, 0};
}

/* With and without text (23) and an integrated payload. */
static const struct {
	bool text, integrated;
	uint8_t map_head; /* envelope map */
	unsigned manifest_keys;
} det_cases[] = {
	{false, false, 0xa2, 5},
	{true, false, 0xa3, 6},
	{false, true, 0xa3, 5},
	{true, true, 0xa4, 6},
};

START_TEST(test_create_deterministic)
{
	struct suit_create_options o = base_options(_i % 2 ? p256a_key : ed_key);
	size_t len;
	uint8_t *env;

	if (det_cases[_i].text)
		o.description = "a test image";
	if (det_cases[_i].integrated) {
		o.uri = "#fw.bin";
		o.integrated = true;
	}
	env = create(&o, &len);
	ck_assert_uint_gt(len, 4);
	/* 107({2: auth, 3: manifest, ?23: text, ?"#fw.bin": payload}) */
	ck_assert_mem_eq(env, ((uint8_t[]){0xd8, 0x6b, det_cases[_i].map_head, 0x02}), 4);
	assert_deterministic((struct cbor_span){env, len});
	struct cbor_span map = {env + 2, len - 2};
	struct cbor_span manifest = map_bstr(map, 3), common = map_bstr(manifest, 3);
	assert_deterministic(content_of(auth_element(env, len, 0)));
	struct cbor_span block = content_of(auth_element(env, len, 1));
	ck_assert_uint_eq(block.p[0], 0xd2); /* COSE_Sign1 */
	assert_deterministic(block);
	assert_deterministic(manifest);
	assert_deterministic(common);
	assert_deterministic(map_bstr(common, 4));
	assert_deterministic(map_bstr(manifest, 7));
	assert_deterministic(map_bstr(manifest, 20));
	if (det_cases[_i].text)
		assert_deterministic(map_bstr(map, 23));
	/* Manifest keys: exactly 1, 2, 3, 7, 20 (, 23). */
	struct cbor_iter it;
	struct cbor_span k, v;
	const int64_t want[] = {1, 2, 3, 7, 20, 23};
	unsigned n = 0;
	int64_t key;
	ck_assert(cbor_iter_init(manifest, CBOR_MAP, &it));
	while (cbor_iter_next(&it, &k, &v)) {
		ck_assert(n < det_cases[_i].manifest_keys && cbor_span_int(k, &key) &&
			  key == want[n]);
		n++;
	}
	ck_assert_uint_eq(n, det_cases[_i].manifest_keys);
	/* Same options, same manifest, whatever the signature. */
	size_t len2;
	uint8_t *env2 = create(&o, &len2);
	struct cbor_span m1, m2;
	ck_assert(envelope_member(env, len, 3, &m1));
	ck_assert(envelope_member(env2, len2, 3, &m2));
	ck_assert_uint_eq(m1.len, m2.len);
	ck_assert_mem_eq(m1.p, m2.p, m1.len);
	free(env2);
	free(env);
}
END_TEST

/* The facts of a created envelope match its options. */
static void assert_created_facts(const struct suit_facts *f, const struct suit_create_options *o)
{
	char hex[65];
	uint8_t u[16];
	json_t *jc = component(f, 0);

	ck_assert_uint_eq(f->sequence, o->sequence);
	ck_assert_uint_eq(f->component_count, 1);
	ck_assert(f->components[0].has_vendor && f->components[0].has_class);
	uuid_bytes(VENDOR, u);
	ck_assert_mem_eq(f->components[0].vendor, u, 16);
	ck_assert_str_eq(json_string_value(json_object_get(jc, "vendor_id")), VENDOR);
	ck_assert_str_eq(json_string_value(json_object_get(jc, "class_id")),
			 "0d4bff7f-1268-5326-b3d5-977af0730348");
	image_digest_hex(hex);
	ck_assert_uint_eq(f->image_count, 1);
	ck_assert(f->images[0].has_digest && f->images[0].has_size);
	hex_encode(f->images[0].digest.bytes, f->images[0].digest.len, hex);
	{
		char want[65];
		image_digest_hex(want);
		ck_assert_str_eq(hex, want);
		ck_assert(has_digest(json_object_get(jc, "digests"), want));
	}
	ck_assert_uint_eq(f->images[0].size, sizeof(image));
	ck_assert(has_int(json_object_get(jc, "sizes"), (json_int_t)sizeof(image)));
	ck_assert_str_eq(f->images[0].uri, o->uri);
	ck_assert(has_str(json_object_get(jc, "uris"), o->uri));
	ck_assert_str_eq(member(f, "install"), "inline");
	ck_assert_str_eq(member(f, "validate"), "inline");
	if (o->component) {
		json_t *id = json_object_get(jc, "id");
		char want[2 * SUIT_CREATE_MAX_COMPONENT + 1];
		hex_encode((const uint8_t *)o->component, strlen(o->component), want);
		ck_assert_uint_eq(json_array_size(id), 1);
		ck_assert_str_eq(json_string_value(json_array_get(id, 0)), want);
	} else {
		ck_assert_uint_eq(f->components[0].id_len, 3);
		ck_assert_mem_eq(f->components[0].id, "\x81\x41\x00", 3);
	}
}

START_TEST(test_create_ed25519)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *env;

	o.component = "flash/app";
	o.sequence = 1700000000;
	env = create(&o, &len);
	ck_assert_check(check(env, len, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_uint_eq(f.signer_count, 1);
	ck_assert_int_eq(f.signers[0].alg, COSE_ALG_ED25519);
	ck_assert_int_eq(f.signers[0].anchor, 0);
	ck_assert_uint_eq(f.signers[0].kid_len, 32);
	ck_assert_mem_eq(f.signers[0].kid, suit_keyring_kid(kr, 0), 32);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(f.json, "signers"), 0), "alg")),
			 "Ed25519");
	ck_assert(f.tagged);
	assert_created_facts(&f, &o);
	suit_facts_release(&f);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_create_esp256)
{
	struct suit_keyring *kr = KEYRING(p256a_pub);
	struct suit_create_options o = base_options(p256a_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *env = create(&o, &len);

	ck_assert_check(check(env, len, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_uint_eq(f.signer_count, 1);
	ck_assert_int_eq(f.signers[0].alg, COSE_ALG_ESP256);
	ck_assert_int_eq(f.signers[0].anchor, 0);
	ck_assert_mem_eq(f.signers[0].kid, suit_keyring_kid(kr, 0), 32);
	assert_created_facts(&f, &o);
	suit_facts_release(&f);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_create_kid_selects_anchor)
{
	struct suit_keyring *kr = KEYRING(p256a_pub, p256b_pub);
	struct suit_create_options oa = base_options(p256a_key), ob = base_options(p256b_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t la, lb;
	uint8_t *ea = create(&oa, &la), *eb = create(&ob, &lb);

	ck_assert_mem_ne(suit_keyring_kid(kr, 0), suit_keyring_kid(kr, 1), 32);
	ck_assert_check(check(eb, lb, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_int_eq(f.signers[0].anchor, 1);
	ck_assert_mem_eq(f.signers[0].kid, suit_keyring_kid(kr, 1), 32);
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_array_get(json_object_get(f.json, "signers"), 0), "trust_anchor")),
		p256b_pub);
	suit_facts_release(&f);
	ck_assert_check(check(ea, la, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_int_eq(f.signers[0].anchor, 0);
	ck_assert_mem_eq(f.signers[0].kid, suit_keyring_kid(kr, 0), 32);
	suit_facts_release(&f);
	free(ea);
	free(eb);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_create_kid_unknown)
{
	struct suit_keyring *kr = KEYRING(p256a_pub, ed_pub);
	struct suit_create_options o = base_options(p256b_key);
	struct diag d = {0};
	size_t len;
	uint8_t *env = create(&o, &len);

	ck_assert_check(check_only(env, len, kr, true, &d), SUIT_NO_TRUSTED_SIGNATURE, d);
	ck_assert_ptr_nonnull(strstr(d.text, "kid"));
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_create_untagged)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *env = create(&o, &len);

	ck_assert_mem_eq(env, "\xd8\x6b", 2);
	ck_assert_check(check(env + 2, len - 2, kr, true, &f, &d), SUIT_OK, d);
	ck_assert(!f.tagged);
	ck_assert(json_is_false(json_object_get(f.json, "tagged")));
	ck_assert_int_eq(json_integer_value(json_object_get(f.json, "size")), (json_int_t)len - 2);
	assert_created_facts(&f, &o);
	suit_facts_release(&f);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_create_integrated)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *env;
	char want[65], got[65];

	o.uri = "#fw.bin";
	o.integrated = true;
	env = create(&o, &len);
	ck_assert_check(check(env, len, kr, true, &f, &d), SUIT_OK, d);
	assert_created_facts(&f, &o);
	ck_assert_uint_eq(f.integrated_count, 1);
	ck_assert_str_eq(f.integrated[0].key, "#fw.bin");
	ck_assert_uint_eq(f.integrated[0].size, sizeof(image));
	image_digest_hex(want);
	hex_encode(f.integrated[0].digest.bytes, f.integrated[0].digest.len, got);
	ck_assert_str_eq(got, want);
	suit_facts_release(&f);
	/* The payload is the envelope's last member: alter its last byte. */
	ck_assert_mem_eq(env + len - sizeof(image), image, sizeof(image));
	env[len - 1] ^= 0xff;
	ck_assert_check(check_only(env, len, kr, true, &d), SUIT_INTEGRATED_PAYLOAD_MISMATCH, d);
	env[len - 1] ^= 0xff;
	ck_assert_check(check_only(env, len, kr, true, &d), SUIT_OK, d);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_create_text)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len, slen = 0;
	uint8_t *env, *severed = NULL;
	const int64_t text_key = 23;
	struct cbor_span text;

	o.description = "Déjà vu: release 7";
	env = create(&o, &len);
	ck_assert_check(check(env, len, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_str_eq(member(&f, "text"), "severed, in envelope");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_object_get(f.json, "text"), "en"),
				 "manifest-description")),
			 o.description);
	suit_facts_release(&f);
	/* Severing the text keeps the signature valid. */
	ck_assert_check(suit_envelope_sever(env, len, &text_key, 1, &severed, &slen, &d), SUIT_OK,
			d);
	ck_assert_uint_lt(slen, len);
	ck_assert_check(check(severed, slen, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_str_eq(member(&f, "text"), "severed");
	ck_assert_uint_eq(json_object_size(json_object_get(f.json, "text")), 0);
	suit_facts_release(&f);
	/* A tampered text member is caught. */
	ck_assert(envelope_member(env, len, 23, &text));
	((uint8_t *)text.p)[text.len - 1] ^= 0x01;
	ck_assert_check(check_only(env, len, kr, true, &d), SUIT_SEVERED_DIGEST_MISMATCH, d);
	free(severed);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

static const struct create_fail {
	const char *name;
	const char *key; /* "p256", "ed", "pub", "p384", "missing" */
	const char *uri;
	bool integrated;
	const char *component;
	enum err want;
	const char *text; /* a word of the diag */
} create_fails[] = {
	{"missing key", "missing", "https://x/fw", false, NULL, ERR_IO, "cannot open"},
	{"public key", "pub", "https://x/fw", false, NULL, ERR_INVALID, "private key"},
	{"P-384 key", "p384", "https://x/fw", false, NULL, ERR_INVALID, "P-256"},
	{"integrated without #", "ed", "https://x/fw", true, NULL, ERR_INVALID, "'#"},
	{"# without integrated", "ed", "#fw", false, NULL, ERR_INVALID, "integrated"},
	{"no uri", "ed", NULL, false, NULL, ERR_INVALID, "uri"},
	{"empty uri", "ed", "", false, NULL, ERR_INVALID, "uri"},
	{"bad UTF-8 uri", "ed", "https://x/\xff", false, NULL, ERR_INVALID, "UTF-8"},
	{"empty component", "ed", "https://x/fw", false, "", ERR_INVALID, "component"},
	{"long component", "ed", "https://x/fw", false,
	 "0123456789012345678901234567890123456789012345678901234567890123456789", ERR_INVALID,
	 "component"},
};

START_TEST(test_create_fails)
{
	const struct create_fail *c = &create_fails[_i];
	struct suit_create_options o = base_options(NULL);
	uint8_t *out = NULL;
	size_t len = 12345;
	struct diag d = {0};
	char missing[256];

	snprintf(missing, sizeof(missing), "%s/no-such.key", tmpdir);
	o.key_path = strcmp(c->key, "p256") == 0   ? p256a_key
		     : strcmp(c->key, "ed") == 0   ? ed_key
		     : strcmp(c->key, "pub") == 0  ? p256a_pub
		     : strcmp(c->key, "p384") == 0 ? p384_key
						   : missing;
	o.uri = c->uri;
	o.integrated = c->integrated;
	o.component = c->component;
	ck_assert_int_eq(suit_manifest_create(&o, &out, &len, &d), c->want);
	ck_assert_msg(strstr(d.text, c->text) != NULL, "%s: diag '%s' lacks '%s'", c->name, d.text,
		      c->text);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 12345);
}
END_TEST

START_TEST(test_create_missing_vendor)
{
	struct suit_create_options o = base_options(ed_key);
	uint8_t *out = NULL;
	size_t len;
	struct diag d = {0};

	o.vendor_domain = NULL;
	ck_assert_int_eq(suit_manifest_create(&o, &out, &len, &d), ERR_INVALID);
	ck_assert_str_eq(d.field, "vendor_domain");
	o = base_options(ed_key);
	o.class_info = "";
	ck_assert_int_eq(suit_manifest_create(&o, &out, &len, &d), ERR_INVALID);
	ck_assert_str_eq(d.field, "class_info");
	ck_assert_ptr_null(out);
}
END_TEST

/* ---- hand-built variants of created envelopes -------------------------- */

START_TEST(test_mac0)
{
	struct suit_keyring *good, *bad;
	struct suit_create_options o = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len, prot_len, tbs_len = 0, block_len, elen;
	uint8_t *env = create(&o, &len), *prot, *block, *mac_env;
	unsigned char *tbs = NULL, mac[32], secret[32];
	unsigned int n = 0;
	struct cbor_span manifest, digest = content_of(auth_element(env, len, 0));
	char hpath1[160], hpath2[160];
	cbor_item_t *pm = cbor_new_definite_map(1);
	FILE *fp = fopen(hmac1, "rb");

	snprintf(hpath1, sizeof(hpath1), "hmac:%s", hmac1);
	snprintf(hpath2, sizeof(hpath2), "hmac:%s", hmac2);
	good = KEYRING(hpath1);
	bad = KEYRING(hpath2);
	ck_assert(envelope_member(env, len, 3, &manifest));
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fread(secret, 1, 32, fp), 32);
	fclose(fp);
	put(pm, cbor_build_uint8(1), cbor_build_uint8(COSE_ALG_HMAC256));
	prot = serialize(pm, &prot_len);
	ck_assert(suit_cose_to_be_signed("MAC0", (struct cbor_span){prot, prot_len}, digest, &tbs,
					 &tbs_len));
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, 32, tbs, tbs_len, mac, &n));
	ck_assert_uint_eq(n, 32);
	block = cose_block(17, (struct cbor_span){prot, prot_len}, (struct cbor_span){mac, 32},
			   &block_len);
	ck_assert_uint_eq(block[0], 0xd1);
	mac_env = envelope_build(digest, (struct cbor_span[]){{block, block_len}}, 1,
				 content_of(manifest), &elen);
	ck_assert_check(check(mac_env, elen, good, true, &f, &d), SUIT_OK, d);
	ck_assert_int_eq(f.signers[0].alg, COSE_ALG_HMAC256);
	ck_assert_int_eq(f.signers[0].anchor, 0);
	assert_created_facts(&f, &o);
	suit_facts_release(&f);
	ck_assert_check(check_only(mac_env, elen, bad, true, &d), SUIT_SIGNATURE_INVALID, d);
	free(mac_env);
	free(block);
	free(tbs);
	free(prot);
	free(env);
	suit_keyring_free(good);
	suit_keyring_free(bad);
}
END_TEST

START_TEST(test_two_signers)
{
	struct suit_keyring *kr = KEYRING(p256a_pub, ed_pub);
	struct suit_create_options ou = base_options(p256b_key), ot = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t lu, lt, len;
	uint8_t *eu = create(&ou, &lu), *et = create(&ot, &lt), *env;
	struct cbor_span mu, mt, blocks[2];
	struct cbor_span du = content_of(auth_element(eu, lu, 0)),
			 dt = content_of(auth_element(et, lt, 0));

	/* Same options, same manifest and digest, whoever signs. */
	ck_assert(envelope_member(eu, lu, 3, &mu));
	ck_assert(envelope_member(et, lt, 3, &mt));
	ck_assert_uint_eq(mu.len, mt.len);
	ck_assert_mem_eq(mu.p, mt.p, mu.len);
	ck_assert_uint_eq(du.len, dt.len);
	ck_assert_mem_eq(du.p, dt.p, du.len);
	blocks[0] = content_of(auth_element(eu, lu, 1)); /* untrusted P-256 */
	blocks[1] = content_of(auth_element(et, lt, 1)); /* trusted Ed25519 */
	env = envelope_build(du, blocks, 2, content_of(mu), &len);
	ck_assert_check(check(env, len, kr, true, &f, &d), SUIT_OK, d);
	ck_assert_uint_eq(f.signer_count, 2);
	ck_assert_int_eq(f.signers[0].alg, COSE_ALG_ESP256);
	ck_assert_int_eq(f.signers[0].anchor, -1);
	ck_assert_int_eq(f.signers[0].result, SUIT_NO_TRUSTED_SIGNATURE);
	ck_assert_int_eq(f.signers[1].alg, COSE_ALG_ED25519);
	ck_assert_int_eq(f.signers[1].anchor, 1);
	ck_assert_int_eq(f.signers[1].result, SUIT_OK);
	json_t *js = json_object_get(f.json, "signers");
	ck_assert_uint_eq(json_array_size(js), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(js, 0), "result")),
			 "no-trusted-signature");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(js, 1), "result")),
			 "verified");
	suit_facts_release(&f);
	free(env);
	/* Only the untrusted one: refused. */
	env = envelope_build(du, blocks, 1, content_of(mu), &len);
	ck_assert_check(check_only(env, len, kr, true, &d), SUIT_NO_TRUSTED_SIGNATURE, d);
	free(env);
	free(eu);
	free(et);
	suit_keyring_free(kr);
}
END_TEST

/* The created manifest decoded, with one key renamed or one value replaced,
 * re-encoded. */
static uint8_t *manifest_edit(struct cbor_span content, int64_t from_key, int64_t to_key,
			      uint64_t new_value, size_t *ret_len)
{
	cbor_item_t *m = cbor_span_load(content), *out;
	struct cbor_pair *pairs;
	int64_t k;

	ck_assert_ptr_nonnull(m);
	out = cbor_new_definite_map(cbor_map_size(m));
	pairs = cbor_map_handle(m);
	for (size_t i = 0; i < cbor_map_size(m); i++) {
		ck_assert(cbor_item_int(pairs[i].key, &k));
		if (k == from_key && to_key != from_key)
			put(out, cbor_build_uint8((uint8_t)to_key), cbor_incref(pairs[i].value));
		else if (k == from_key)
			put(out, cbor_incref(pairs[i].key), cbor_build_uint8((uint8_t)new_value));
		else
			put(out, cbor_incref(pairs[i].key), cbor_incref(pairs[i].value));
	}
	cbor_decref(&m);
	return serialize(out, ret_len);
}

START_TEST(test_obsolete_install_key)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, mlen, elen;
	uint8_t *env = create(&o, &len), *m, *signed_env;
	struct cbor_span manifest;

	ck_assert(envelope_member(env, len, 3, &manifest));
	/* Control: the same manifest re-signed here verifies. */
	m = manifest_edit(content_of(manifest), 99, 99, 0, &mlen); /* no such key: a copy */
	ck_assert_uint_eq(mlen, content_of(manifest).len);
	ck_assert_mem_eq(m, content_of(manifest).p, mlen);
	signed_env = envelope_sign_ed25519((struct cbor_span){m, mlen}, COSE_ALG_ED25519, &elen);
	ck_assert_check(check_only(signed_env, elen, kr, true, &d), SUIT_OK, d);
	free(signed_env);
	free(m);
	/* install at its draft -18..-28 key 17 */
	m = manifest_edit(content_of(manifest), 20, 17, 0, &mlen);
	signed_env = envelope_sign_ed25519((struct cbor_span){m, mlen}, COSE_ALG_ED25519, &elen);
	ck_assert_check(check_only(signed_env, elen, kr, true, &d), SUIT_OBSOLETE_ENCODING, d);
	ck_assert_ptr_nonnull(strstr(d.text, "17"));
	free(signed_env);
	free(m);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_manifest_version_2)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, mlen, elen;
	uint8_t *env = create(&o, &len), *m, *signed_env;
	struct cbor_span manifest;

	ck_assert(envelope_member(env, len, 3, &manifest));
	m = manifest_edit(content_of(manifest), 1, 1, 2, &mlen);
	signed_env = envelope_sign_ed25519((struct cbor_span){m, mlen}, COSE_ALG_ED25519, &elen);
	ck_assert_check(check_only(signed_env, elen, kr, true, &d), SUIT_MANIFEST_VERSION, d);
	free(signed_env);
	free(m);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_hss_lms)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, prot_len, block_len, elen;
	uint8_t *env = create(&o, &len), *prot, *block, *lms_env;
	struct cbor_span manifest, digest = content_of(auth_element(env, len, 0));
	cbor_item_t *pm = cbor_new_definite_map(2);
	uint8_t sig[64] = {0};

	ck_assert(envelope_member(env, len, 3, &manifest));
	put(pm, cbor_build_uint8(1), cbor_build_negint8(45)); /* -46 */
	put(pm, cbor_build_uint8(4), cbor_build_bytestring(suit_keyring_kid(kr, 0), 32));
	prot = serialize(pm, &prot_len);
	block = cose_block(18, (struct cbor_span){prot, prot_len}, (struct cbor_span){sig, 64},
			   &block_len);
	lms_env = envelope_build(digest, (struct cbor_span[]){{block, block_len}}, 1,
				 content_of(manifest), &elen);
	ck_assert_check(check_only(lms_env, elen, kr, true, &d), SUIT_ALG_UNSUPPORTED, d);
	ck_assert_ptr_nonnull(strstr(d.text, "HSS-LMS"));
	free(lms_env);
	free(block);
	free(prot);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

/* ---- regressions: bugs found by these tests, fixed in suit/ -------------- */

/* The created envelope decoded with libcbor (its COSE tags sit inside
 * bstrs, which 0.8 copes with), its integrated payloads dropped when
 * drop_text, and one pair appended; re-encoded. */
static uint8_t *envelope_add_pair(const uint8_t *env, size_t len, bool drop_text, cbor_item_t *k,
				  cbor_item_t *v, size_t *ret_len)
{
	struct cbor_load_result res;
	cbor_item_t *t = cbor_load(env, len, &res), *m, *out;

	ck_assert_ptr_nonnull(t);
	ck_assert(cbor_isa_tag(t));
	m = cbor_tag_item(t);
	out = cbor_new_definite_map(cbor_map_size(m) + 1);
	for (size_t i = 0; i < cbor_map_size(m); i++) {
		struct cbor_pair p = cbor_map_handle(m)[i];
		if (!(drop_text && cbor_isa_string(p.key)))
			put(out, cbor_incref(p.key), cbor_incref(p.value));
	}
	put(out, k, v);
	cbor_decref(&m);
	cbor_decref(&t);
	return serialize(tag(107, out), ret_len);
}

/* The manifest with key (replaced or added) set to value, re-encoded. */
static uint8_t *manifest_set(struct cbor_span content, int64_t key, cbor_item_t *value,
			     size_t *ret_len)
{
	cbor_item_t *m = cbor_span_load(content), *out;
	int64_t k;

	ck_assert_ptr_nonnull(m);
	out = cbor_new_definite_map(cbor_map_size(m) + 1);
	for (size_t i = 0; i < cbor_map_size(m); i++) {
		struct cbor_pair p = cbor_map_handle(m)[i];
		ck_assert(cbor_item_int(p.key, &k));
		if (k != key)
			put(out, cbor_incref(p.key), cbor_incref(p.value));
	}
	put(out, cbor_build_uint8((uint8_t)key), value);
	cbor_decref(&m);
	return serialize(out, ret_len);
}

/* BUG suit/envelope.c envelope_split(): duplicate text keys are not
 * refused (only integer keys 0..31 are tracked in seen[]), and
 * check_integrated() matches the first "#fw.bin" only. Two "#fw.bin"
 * members, the genuine one first, pass as SUIT_OK; RFC 8949 §5.6 makes
 * such a map invalid, and a device may take the other one. */
START_TEST(test_bug_duplicate_integrated_key)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, elen;
	uint8_t *env, *dup;

	o.uri = "#fw.bin";
	o.integrated = true;
	env = create(&o, &len);
	dup = envelope_add_pair(env, len, false, cbor_build_string("#fw.bin"),
				cbor_build_bytestring((const uint8_t *)"evil", 4), &elen);
	ck_assert_check(check_only(dup, elen, kr, true, &d), SUIT_CBOR_PARSE, d);
	free(dup);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

/* BUG suit/envelope.c envelope_split(): an integrated payload key is
 * copied with snprintf("%.*s"), which stops at a NUL byte, so the key
 * "#fw.bin\0evil" (12 bytes) is recorded as "#fw.bin" and satisfies the
 * manifest's uri "#fw.bin". A device looking up "#fw.bin" finds nothing:
 * expected SUIT_PAYLOAD_MISSING (or CBOR_PARSE), got SUIT_OK. */
START_TEST(test_bug_nul_in_integrated_key)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, elen;
	uint8_t *env, *renamed;

	o.uri = "#fw.bin";
	o.integrated = true;
	env = create(&o, &len);
	renamed = envelope_add_pair(env, len, true, cbor_build_stringn("#fw.bin\0evil", 12),
				    cbor_build_bytestring(image, sizeof(image)), &elen);
	ck_assert_uint_ne(check_only(renamed, elen, kr, true, &d), SUIT_OK);
	free(renamed);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

/* BUG suit/manifest.c suit_manifest_parse(), severable loop: when an
 * inline severable sequence (or a severed copy that matches its digest)
 * does not decode, load_bstr_item()/cbor_span_load() return NULL and
 * sequences[k] stays NULL without an error, so the member is reported
 * "inline" and never walked. Keys 7..9 are refused in the same case.
 * Install (20) = h'ff', signed: expected SUIT_CBOR_PARSE, got SUIT_OK. */
START_TEST(test_bug_malformed_install)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, mlen, elen;
	uint8_t *env = create(&o, &len), *m, *signed_env;
	struct cbor_span manifest;

	ck_assert(envelope_member(env, len, 3, &manifest));
	m = manifest_set(content_of(manifest), 20,
			 cbor_build_bytestring((const uint8_t *)"\xff", 1), &mlen);
	signed_env = envelope_sign_ed25519((struct cbor_span){m, mlen}, COSE_ALG_ED25519, &elen);
	ck_assert_check(check_only(signed_env, elen, kr, true, &d), SUIT_CBOR_PARSE, d);
	free(signed_env);
	free(m);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

/* BUG suit/manifest.c suit_manifest_parse(): the content of coswid (14) is
 * a CoSWID tag, a map ([UM] suit-coswid = bstr .cbor concise-swid-tag),
 * but it is stored in sequences[14] and then refused by the "not an array
 * of command pairs" check. A manifest with an inline coswid: expected
 * SUIT_OK, got SUIT_CBOR_PARSE ("sequence 14 is not an array of command
 * pairs"). */
START_TEST(test_bug_coswid_member)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct diag d = {0};
	size_t len, mlen, elen, clen;
	uint8_t *env = create(&o, &len), *m, *signed_env, *coswid;
	struct cbor_span manifest;
	cbor_item_t *cm = cbor_new_definite_map(2);

	ck_assert(envelope_member(env, len, 3, &manifest));
	put(cm, cbor_build_uint8(0), cbor_build_string("com.example.fw-1.0")); /* tag-id */
	/* software-name: RFC 9393 requires it, suit/coswid.c refuses a tag without */
	put(cm, cbor_build_uint8(1), cbor_build_string("fw"));
	coswid = serialize(cm, &clen);
	m = manifest_set(content_of(manifest), 14, cbor_build_bytestring(coswid, clen), &mlen);
	signed_env = envelope_sign_ed25519((struct cbor_span){m, mlen}, COSE_ALG_ED25519, &elen);
	ck_assert_check(check_only(signed_env, elen, kr, true, &d), SUIT_OK, d);
	free(signed_env);
	free(m);
	free(coswid);
	free(env);
	suit_keyring_free(kr);
}
END_TEST

/* BUG suit/envelope.c facts_json_finish(): json_integer((json_int_t)
 * f->sequence) turns a sequence number above INT64_MAX (a valid uint)
 * into a negative one: 2^64-1 is reported as -1 in the facts JSON, which
 * breaks anti-rollback comparisons made on it. Expected: refused as
 * SUIT_UNSUPPORTED, or a non-negative sequence_number. */
START_TEST(test_bug_sequence_above_int64)
{
	struct suit_keyring *kr = KEYRING(ed_pub);
	struct suit_create_options o = base_options(ed_key);
	struct suit_facts f;
	struct diag d = {0};
	size_t len;
	uint8_t *env;
	enum suit_check r;

	o.sequence = UINT64_MAX;
	env = create(&o, &len);
	r = check(env, len, kr, true, &f, &d);
	if (r == SUIT_OK) {
		ck_assert_uint_eq(f.sequence, UINT64_MAX);
		ck_assert_int_ge(json_integer_value(json_object_get(f.json, "sequence_number")), 0);
		suit_facts_release(&f);
	} else {
		ck_assert_check(r, SUIT_UNSUPPORTED, d);
	}
	free(env);
	suit_keyring_free(kr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suit");
	TCase *vec = tcase_create("vectors"), *edit = tcase_create("hostile"),
	      *cr = tcase_create("create"), *syn = tcase_create("synthetic");
	int rc;

	keys_setup();
	tcase_add_loop_test(vec, test_vector, 0, (int)NVECTORS);
	tcase_add_test(vec, test_vector_table_complete);
	tcase_add_test(vec, test_example0_digest);
	tcase_add_test(edit, test_manifest_byte_flipped);
	tcase_add_test(edit, test_signature_byte_flipped);
	tcase_add_test(edit, test_untrusted_key_type);
	tcase_add_test(edit, test_truncations);
	tcase_add_test(edit, test_trailing_garbage);
	tcase_add_test(edit, test_text_member_flipped);
	tcase_add_test(edit, test_sever_example2);
	tcase_add_test(edit, test_oversized);
	tcase_add_test(edit, test_walk_components_and_digests);
	tcase_set_timeout(edit, 60);
	tcase_add_test(cr, test_uuid5);
	tcase_add_loop_test(cr, test_create_deterministic, 0,
			    (int)(sizeof(det_cases) / sizeof(det_cases[0])));
	tcase_add_test(cr, test_create_ed25519);
	tcase_add_test(cr, test_create_esp256);
	tcase_add_test(cr, test_create_kid_selects_anchor);
	tcase_add_test(cr, test_create_kid_unknown);
	tcase_add_test(cr, test_create_untagged);
	tcase_add_test(cr, test_create_integrated);
	tcase_add_test(cr, test_create_text);
	tcase_add_loop_test(cr, test_create_fails, 0,
			    (int)(sizeof(create_fails) / sizeof(create_fails[0])));
	tcase_add_test(cr, test_create_missing_vendor);
	tcase_add_test(syn, test_mac0);
	tcase_add_test(syn, test_two_signers);
	tcase_add_test(syn, test_obsolete_install_key);
	tcase_add_test(syn, test_manifest_version_2);
	tcase_add_test(syn, test_hss_lms);
	suite_add_tcase(s, vec);
	suite_add_tcase(s, edit);
	suite_add_tcase(s, cr);
	suite_add_tcase(s, syn);
	{
		TCase *fixed = tcase_create("regressions");
		tcase_add_test(fixed, test_bug_duplicate_integrated_key);
		tcase_add_test(fixed, test_bug_nul_in_integrated_key);
		tcase_add_test(fixed, test_bug_malformed_install);
		tcase_add_test(fixed, test_bug_coswid_member);
		tcase_add_test(fixed, test_bug_sequence_above_int64);
		suite_add_tcase(s, fixed);
	}
	rc = check_run(s);
	keys_cleanup();
	return rc;
}
