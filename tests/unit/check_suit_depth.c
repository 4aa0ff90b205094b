/* suit/encryption.c and suit/coswid.c (issue 16): the firmware-encryption
 * draft's SUIT_Encryption_Info examples and signed manifests
 * (tests/data/suit/encryption/), CoSWID tags built here, hostile inputs (every
 * truncation, single-bit flips, bounds), and the multi-image facts of the
 * manifest draft's Examples 3 and 4 (slots of try-each alternatives,
 * copies between components). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cbor.h>

#include "suit/coswid.h"
#include "suit/encryption.h"
#include "suit/suit.h"
#include "tests/check_run.h"

static uint8_t *read_data(const char *name, size_t *ret_len)
{
	const char *src = getenv("SUITD_SRC");
	char path[4096];
	struct stat st;
	FILE *f;
	uint8_t *buf;

	snprintf(path, sizeof(path), "%s/tests/data/suit/%s", src ? src : ".", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*ret_len = (size_t)st.st_size;
	return buf;
}

static json_t *at(json_t *o, const char *path)
{
	char key[64];
	const char *p = path;

	while (*p && o) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		o = json_is_array(o) ? json_array_get(o, strtoul(key, NULL, 10))
				     : json_object_get(o, key);
		p += n + (p[n] == '.');
	}
	return o;
}

static const char *str_at(json_t *o, const char *path)
{
	json_t *v = at(o, path);

	ck_assert_msg(json_is_string(v), "%s is not a string", path);
	return json_string_value(v);
}

/* ---- SUIT_Encryption_Info: the draft's examples ----------------------- */

static const struct enc_vector {
	const char *file, *content_alg, *recipient_alg, *method, *kid_text, *crv;
	json_int_t content_id, recipient_id;
} enc_vectors[] = {
	{"encryption/suit-encryption-info-aes-kw-aes-gcm.cbor", "A128GCM", "A128KW", "key-wrap",
	 "kid-1", NULL, 1, -3},
	{"encryption/suit-encryption-info-aes-kw-aes-ctr.cbor", "A128CTR", "A128KW", "key-wrap",
	 "kid-1", NULL, -65534, -3},
	{"encryption/suit-encryption-info-es-ecdh-aes-gcm.cbor", "A128GCM", "ECDH-ES + A128KW",
	 "key-agreement", NULL, "P-256", 1, -29},
	{"encryption/suit-encryption-info-es-ecdh-aes-ctr.cbor", "A128CTR", "ECDH-ES + A128KW",
	 "key-agreement", NULL, "P-256", -65534, -29},
};

START_TEST(test_encryption_info_examples)
{
	const struct enc_vector *v = &enc_vectors[_i];
	size_t len;
	uint8_t *b = read_data(v->file, &len);
	struct diag d = {0};
	json_t *j = NULL;

	ck_assert_msg(suit_encryption_info_decode(b, len, &j, &d) == ERR_OK, "%s: %s", v->file,
		      d.text);
	ck_assert_str_eq(str_at(j, "cose"), "COSE_Encrypt");
	ck_assert_str_eq(str_at(j, "content_alg"), v->content_alg);
	ck_assert_int_eq(json_integer_value(at(j, "content_alg_id")), v->content_id);
	ck_assert_str_eq(str_at(j, "ciphertext"), "detached");
	ck_assert_uint_eq(json_array_size(at(j, "recipients")), 1);
	ck_assert_str_eq(str_at(j, "recipients.0.alg"), v->recipient_alg);
	ck_assert_int_eq(json_integer_value(at(j, "recipients.0.alg_id")), v->recipient_id);
	ck_assert_str_eq(str_at(j, "recipients.0.method"), v->method);
	if (v->kid_text) {
		ck_assert_str_eq(str_at(j, "recipients.0.kid_text"), v->kid_text);
		ck_assert_str_eq(str_at(j, "recipients.0.kid"), "6b69642d31");
	} else {
		ck_assert(json_is_null(at(j, "recipients.0.kid")));
	}
	if (v->crv)
		ck_assert_str_eq(str_at(j, "recipients.0.ephemeral_key.crv"), v->crv);
	json_decref(j);

	/* Every truncation is refused, never read past. */
	for (size_t n = 0; n < len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, b, n);
		j = NULL;
		ck_assert_msg(suit_encryption_info_decode(c, n, &j, &d) != ERR_OK,
			      "%s: %zu bytes accepted", v->file, n);
		ck_assert_ptr_null(j);
		free(c);
	}
	/* Single-bit flips: accepted or refused, never a crash or a leak. */
	for (size_t i = 0; i < len * 8; i++) {
		uint8_t *c = malloc(len);
		memcpy(c, b, len);
		c[i / 8] ^= (uint8_t)(1u << (i % 8));
		j = NULL;
		if (suit_encryption_info_decode(c, len, &j, &d) == ERR_OK)
			json_decref(j);
		free(c);
	}
	free(b);
}
END_TEST

/* ---- The draft's signed manifests: facts --------------------------- */

static struct suit_keyring *draft_keyring(void)
{
	const char *src = getenv("SUITD_SRC");
	char path[4096];
	struct suit_keyring *kr;
	struct diag d = {0};

	ck_assert_int_eq(suit_keyring_new(&kr), ERR_OK);
	snprintf(path, sizeof(path), "%s/tests/data/suit/suit-spec-examples-p256.pub.pem",
		 src ? src : ".");
	ck_assert_msg(suit_keyring_add_pem(kr, path, &d) == ERR_OK, "%s", d.text);
	snprintf(path, sizeof(path), "%s/tests/data/suit/encryption/hmac.key", src ? src : ".");
	ck_assert_msg(suit_keyring_add_hmac(kr, path, &d) == ERR_OK, "%s", d.text);
	return kr;
}

static const struct manifest_vector {
	const char *file, *recipient_alg, *kid_text, *directive;
	bool ciphertext_fetch; /* component 1 is fetched ciphertext */
} manifest_vectors[] = {
	{"encryption/suit-manifest-aes-kw.suit", "A128KW", "kid-1", "copy", true},
	{"encryption/suit-manifest-aes-kw-slot.suit", "A128KW", "kid-1", "copy", true},
	{"encryption/suit-manifest-aes-kw-content.suit", "A128KW", "kid-1", "write", false},
	{"encryption/suit-manifest-es-ecdh-content.suit", "ECDH-ES + A128KW", "kid-2", "write",
	 false},
};

START_TEST(test_encryption_draft_manifests)
{
	const struct manifest_vector *v = &manifest_vectors[_i];
	struct suit_keyring *kr = draft_keyring();
	struct suit_verify_options o = {.keyring = kr, .require_signature = true};
	struct suit_facts *f = calloc(1, sizeof(*f));
	struct diag d = {0};
	size_t len;
	uint8_t *b = read_data(v->file, &len);
	enum suit_check c = suit_envelope_check(b, len, &o, f, &d);

	ck_assert_msg(c == SUIT_OK, "%s: %s (%s)", v->file, suit_check_slug(c), d.text);
	ck_assert_str_eq(str_at(f->json, "signers.0.result"), "verified");
	ck_assert_str_eq(str_at(f->json, "components.0.encryption.0.content_alg"), "A128GCM");
	ck_assert_str_eq(str_at(f->json, "components.0.encryption.0.recipients.0.alg"),
			 v->recipient_alg);
	ck_assert_str_eq(str_at(f->json, "components.0.encryption.0.recipients.0.kid_text"),
			 v->kid_text);
	ck_assert_str_eq(str_at(f->json, "components.0.sources.0.directive"), v->directive);
	ck_assert(json_is_true(at(f->json, "components.0.sources.0.decrypts")));
	if (v->ciphertext_fetch) {
		ck_assert_uint_eq(f->image_count, 1);
		ck_assert(f->images[0].ciphertext);
		ck_assert(!f->images[0].encrypted);
		ck_assert_uint_eq(f->images[0].component, 1);
		ck_assert(json_is_true(at(f->json, "components.1.ciphertext")));
	} else {
		ck_assert_uint_eq(f->image_count, 0);
	}
	suit_facts_release(f);
	free(f);
	free(b);
	suit_keyring_free(kr);
}
END_TEST

/* ---- Encryption info: built and hostile --------------------------------- */

static cbor_item_t *I(int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)(-1 - v) : (uint64_t)v;
	cbor_item_t *it = u < 256 ? cbor_build_uint8((uint8_t)u) : cbor_build_uint32((uint32_t)u);
	if (v < 0)
		cbor_mark_negint(it);
	return it;
}

static cbor_item_t *A(size_t n, ...)
{
	cbor_item_t *a = cbor_new_definite_array(n);
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		cbor_array_push(a, cbor_move(va_arg(ap, cbor_item_t *)));
	va_end(ap);
	return a;
}

static cbor_item_t *M(size_t n, ...)
{
	cbor_item_t *m = cbor_new_definite_map(n);
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		cbor_item_t *k = va_arg(ap, cbor_item_t *), *v = va_arg(ap, cbor_item_t *);
		cbor_map_add(m, (struct cbor_pair){cbor_move(k), cbor_move(v)});
	}
	va_end(ap);
	return m;
}

static cbor_item_t *B(const void *p, size_t n)
{
	return cbor_build_bytestring(p, n);
}

static cbor_item_t *T(const char *s)
{
	return cbor_build_string(s);
}

static uint8_t *enc(cbor_item_t *it, size_t *len)
{
	unsigned char *buf = NULL;
	size_t size = 0;

	*len = cbor_serialize_alloc(it, &buf, &size);
	cbor_decref(&it);
	return buf;
}

static cbor_item_t *W(cbor_item_t *it)
{
	size_t n;
	uint8_t *b = enc(it, &n);
	cbor_item_t *w = B(b, n);

	free(b);
	return w;
}

static cbor_item_t *TAG(uint64_t tag, cbor_item_t *it)
{
	cbor_item_t *t = cbor_new_tag(tag);

	cbor_tag_set_item(t, cbor_move(it));
	return t;
}

static enum err decode_enc(cbor_item_t *it, json_t **ret, struct diag *d)
{
	size_t len;
	uint8_t *b = enc(it, &len);
	enum err e;

	*ret = NULL;
	e = suit_encryption_info_decode(b, len, ret, d);
	free(b);
	return e;
}

START_TEST(test_encryption_built)
{
	json_t *j;
	struct diag d = {0};

	/* COSE_Encrypt0: the kid is the content layer's. */
	ck_assert_int_eq(
		decode_enc(TAG(16, A(3, W(M(1, I(1), I(3))),
				     M(2, I(4), B("psk-7", 5), I(5), B("iv", 2)), cbor_new_null())),
			   &j, &d),
		ERR_OK);
	ck_assert_str_eq(str_at(j, "cose"), "COSE_Encrypt0");
	ck_assert_str_eq(str_at(j, "content_alg"), "A256GCM");
	ck_assert_str_eq(str_at(j, "kid_text"), "psk-7");
	ck_assert_uint_eq(json_array_size(at(j, "recipients")), 0);
	json_decref(j);

	/* Two layers below the content: a recipient with its own recipient. */
	ck_assert_int_eq(
		decode_enc(TAG(96, A(4, B("", 0), M(1, I(1), I(1)), B("ct", 2),
				     A(1, A(4, B("", 0), M(1, I(1), I(-31)), cbor_new_null(),
					    A(1, A(3, B("", 0), M(2, I(1), I(-5), I(4), B("k", 1)),
						   B("w", 1))))))),
			   &j, &d),
		ERR_OK);
	ck_assert_str_eq(str_at(j, "ciphertext"), "in the encryption info");
	ck_assert_uint_eq(json_array_size(at(j, "recipients")), 2);
	ck_assert_int_eq(json_integer_value(at(j, "recipients.1.layer")), 2);
	ck_assert_str_eq(str_at(j, "recipients.1.alg"), "A256KW");
	ck_assert_str_eq(str_at(j, "recipients.0.alg"), "ECDH-ES + A256KW");
	json_decref(j);

	/* An algorithm suitd does not know is shown by id, not refused. */
	ck_assert_int_eq(decode_enc(TAG(96, A(4, B("", 0), M(1, I(1), I(77)), cbor_new_null(),
					      A(1, A(3, B("", 0), M(1, I(1), I(-99)), B("w", 1))))),
				    &j, &d),
			 ERR_OK);
	ck_assert_str_eq(str_at(j, "content_alg"), "unknown");
	ck_assert_int_eq(json_integer_value(at(j, "recipients.0.alg_id")), -99);
	json_decref(j);
}
END_TEST

START_TEST(test_encryption_hostile)
{
	json_t *j;
	struct diag d = {0};
	uint8_t big[300];
	cbor_item_t *many = cbor_new_definite_array(17), *deep;

	memset(big, 'k', sizeof(big));
	for (int i = 0; i < 17; i++)
		cbor_array_push(many, cbor_move(A(3, B("", 0), M(1, I(1), I(-3)), B("w", 1))));
	deep = A(3, B("", 0), M(1, I(1), I(-3)), B("w", 1));
	for (int i = 0; i < 4; i++)
		deep = A(4, B("", 0), M(1, I(1), I(-29)), cbor_new_null(), A(1, deep));
	struct {
		cbor_item_t *item;
		enum err want;
		const char *text;
	} cases[] = {
		{I(5), ERR_INVALID, "not a tagged"},
		{TAG(18, A(0)), ERR_INVALID, "tag 18"},
		{TAG(96, A(3, B("", 0), M(0), cbor_new_null())), ERR_INVALID, "4 elements"},
		{TAG(96, A(4, T("p"), M(0), cbor_new_null(), A(0))), ERR_INVALID, "not a bstr"},
		{TAG(96, A(4, B("\x01", 1), M(0), cbor_new_null(), A(0))), ERR_INVALID, "map"},
		{TAG(96, A(4, B("", 0), M(0), cbor_new_null(), A(0))), ERR_INVALID, "integer alg"},
		{TAG(96, A(4, W(M(1, I(1), I(1))), M(1, I(1), I(1)), cbor_new_null(), A(0))),
		 ERR_INVALID, "both protected"},
		{TAG(96, A(4, B("", 0), M(1, I(1), I(1)), I(3), A(0))), ERR_INVALID, "ciphertext"},
		{TAG(96, A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(), A(0))), ERR_INVALID,
		 "non-empty"},
		{TAG(96, A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(), many)), ERR_TOO_LARGE,
		 "16 recipients"},
		{TAG(96, A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(), A(1, deep))),
		 ERR_TOO_LARGE, "three layers"},
		{TAG(96, A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(),
			   A(1, A(3, B("", 0), M(2, I(1), I(-3), I(4), B(big, sizeof(big))),
				  B("w", 1))))),
		 ERR_INVALID, "kid"},
		{TAG(96,
		     A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(),
		       A(1, A(3, B("", 0), M(2, I(1), I(-3), I(4), T("text kid")), B("w", 1))))),
		 ERR_INVALID, "kid"},
		{TAG(96, A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(),
			   A(1, A(3, B("", 0), M(2, I(1), I(-29), I(-1), M(1, I(-1), I(1))),
				  B("w", 1))))),
		 ERR_INVALID, "ephemeral"},
		{TAG(96,
		     A(4, B("", 0), M(1, I(1), I(1)), cbor_new_null(), A(1, A(2, B("", 0), M(0))))),
		 ERR_INVALID, "recipient is not"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum err e = decode_enc(cases[i].item, &j, &d);
		ck_assert_msg(e == cases[i].want, "case %zu: %s, %s", i, err_slug(e), d.text);
		ck_assert_msg(strstr(d.text, cases[i].text), "case %zu: '%s'", i, d.text);
		ck_assert_ptr_null(j);
	}
}
END_TEST

/* ---- CoSWID ----------------------------------------------------------- */

static enum err decode_coswid(cbor_item_t *it, json_t **ret, struct diag *d)
{
	size_t len;
	uint8_t *b = enc(it, &len);
	enum err e;

	*ret = NULL;
	e = suit_coswid_decode(b, len, ret, d);
	free(b);
	return e;
}

START_TEST(test_coswid_decode)
{
	static const uint8_t uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
					 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	json_t *j;
	struct diag d = {0};

	/* Tagged, a UUID tag-id, one entity as a map, a text role, flags. */
	ck_assert_int_eq(
		decode_coswid(TAG(1398229316ull,
				  M(7, I(0), B(uuid, 16), I(1), T("sensor-os"), I(13), T("4.1"),
				    I(14), I(1), I(8), cbor_build_bool(true), I(12), I(0), I(2),
				    M(2, I(31), T("Vendor"), I(33), T("x-custom-role")))),
			      &j, &d),
		ERR_OK);
	ck_assert_str_eq(str_at(j, "tag_id"), "12345678-9abc-def0-0123-456789abcdef");
	ck_assert_str_eq(str_at(j, "software_name"), "sensor-os");
	ck_assert_str_eq(str_at(j, "software_version"), "4.1");
	ck_assert_str_eq(str_at(j, "version_scheme"), "multipartnumeric");
	ck_assert(json_is_true(at(j, "corpus")));
	ck_assert(json_is_false(at(j, "patch")));
	ck_assert_int_eq(json_integer_value(at(j, "tag_version")), 0);
	ck_assert_str_eq(str_at(j, "entities.0.name"), "Vendor");
	ck_assert_str_eq(str_at(j, "entities.0.roles.0"), "x-custom-role");
	json_decref(j);

	/* The minimum: tag-id and software-name; text labels are skipped. */
	ck_assert_int_eq(decode_coswid(M(3, I(0), T("t"), I(1), T("n"), T("ext"), I(1)), &j, &d),
			 ERR_OK);
	ck_assert(json_is_null(at(j, "software_version")));
	ck_assert(json_is_null(at(j, "version_scheme")));
	ck_assert_uint_eq(json_array_size(at(j, "entities")), 0);
	json_decref(j);
}
END_TEST

START_TEST(test_coswid_hostile)
{
	json_t *j;
	struct diag d = {0};
	char longtext[300];
	cbor_item_t *many = cbor_new_definite_array(17);

	memset(longtext, 'v', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	for (int i = 0; i < 17; i++)
		cbor_array_push(many, cbor_move(M(2, I(31), T("e"), I(33), I(1))));
	struct {
		cbor_item_t *item;
		enum err want;
		const char *text;
	} cases[] = {
		{A(0), ERR_INVALID, "concise-swid-tag"},
		{TAG(7, M(0)), ERR_INVALID, "tag 7"},
		{M(1, I(1), T("n")), ERR_INVALID, "tag-id"},
		{M(1, I(0), T("t")), ERR_INVALID, "software-name"},
		{M(2, I(0), I(5), I(1), T("n")), ERR_INVALID, "tag-id"},
		{M(2, I(0), T("t"), I(1), B("n", 1)), ERR_INVALID, "software-name"},
		{M(2, I(0), T("t"), I(1), cbor_build_stringn("a\0b", 3)), ERR_INVALID,
		 "software-name"},
		{M(2, I(0), T("t"), I(1), T(longtext)), ERR_TOO_LARGE, "software-name"},
		{M(3, I(0), T("t"), I(1), T("n"), I(13), I(4)), ERR_INVALID, "software-version"},
		{M(3, I(0), T("t"), I(1), T("n"), I(12), T("x")), ERR_INVALID, "tag-version"},
		{M(3, I(0), T("t"), I(1), T("n"), I(8), I(1)), ERR_INVALID, "booleans"},
		{M(3, I(0), T("t"), I(1), T("n"), I(2), many), ERR_TOO_LARGE, "16 entities"},
		{M(3, I(0), T("t"), I(1), T("n"), I(2), M(1, I(33), I(1))), ERR_INVALID,
		 "entity-name"},
		{M(3, I(0), T("t"), I(1), T("n"), I(2), M(1, I(31), T("e"))), ERR_INVALID, "role"},
		{M(3, I(0), T("t"), I(1), T("n"), I(2), M(2, I(31), T("e"), I(33), A(0))),
		 ERR_INVALID, "roles"},
		{M(3, I(0), T("t"), I(1), T("n"), I(2), I(9)), ERR_INVALID, "entity"},
		{M(3, I(0), T("t"), I(0), T("u"), I(1), T("n")), ERR_INVALID, "unique"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum err e = decode_coswid(cases[i].item, &j, &d);
		ck_assert_msg(e == cases[i].want, "case %zu: %s, %s", i, err_slug(e), d.text);
		ck_assert_msg(strstr(d.text, cases[i].text), "case %zu: '%s'", i, d.text);
		ck_assert_ptr_null(j);
	}

	/* Every truncation of a valid tag is refused. */
	size_t len;
	uint8_t *b = enc(M(4, I(0), T("tag"), I(1), T("name"), I(13), T("1.0"), I(2),
			   A(1, M(3, I(31), T("E"), I(32), T("https://e.example"), I(33),
				  A(2, I(1), I(6))))),
			 &len);
	ck_assert_int_eq(suit_coswid_decode(b, len, &j, &d), ERR_OK);
	ck_assert_str_eq(str_at(j, "entities.0.roles.1"), "maintainer");
	json_decref(j);
	for (size_t n = 0; n < len; n++) {
		j = NULL;
		ck_assert_msg(suit_coswid_decode(b, n, &j, &d) != ERR_OK, "%zu bytes", n);
		ck_assert_ptr_null(j);
	}
	free(b);
}
END_TEST

/* ---- Multi-image facts of the manifest draft's examples -------------- */

static json_t *spec_facts(const char *file, struct suit_facts *f)
{
	const char *src = getenv("SUITD_SRC");
	char path[4096];
	struct suit_keyring *kr;
	struct diag d = {0};
	size_t len;
	uint8_t *b = read_data(file, &len);

	ck_assert_int_eq(suit_keyring_new(&kr), ERR_OK);
	snprintf(path, sizeof(path), "%s/tests/data/suit/suit-spec-examples-p256.pub.pem",
		 src ? src : ".");
	ck_assert_int_eq(suit_keyring_add_pem(kr, path, &d), ERR_OK);
	struct suit_verify_options o = {.keyring = kr, .require_signature = true};
	ck_assert_int_eq(suit_envelope_check(b, len, &o, f, &d), SUIT_OK);
	free(b);
	suit_keyring_free(kr);
	return f->json;
}

START_TEST(test_spec_multi_image)
{
	struct suit_facts *f = calloc(1, sizeof(*f));
	json_t *j = spec_facts("spec-example3.signed.suit", f);

	/* Example 3: two alternatives by slot, each keeps its URI. */
	ck_assert_uint_eq(f->image_count, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert(f->images[i].has_slot);
		ck_assert(strstr(f->images[i].uri, f->images[i].slot == 0 ? "file1" : "file2"));
	}
	ck_assert_int_eq(json_integer_value(at(j, "fetches.0.slot")), f->images[0].slot);
	suit_facts_release(f);

	/* Example 4: fetched into 1, copied to 0 (install), 0 copied to 2
	 * (load): every component says where its image comes from. */
	j = spec_facts("spec-example4.signed.suit", f);
	ck_assert_uint_eq(json_array_size(at(j, "components")), 3);
	ck_assert_str_eq(str_at(j, "components.0.sources.0.directive"), "copy");
	ck_assert_int_eq(json_integer_value(at(j, "components.0.sources.0.from")), 1);
	ck_assert_str_eq(str_at(j, "components.2.sources.0.directive"), "copy");
	ck_assert_int_eq(json_integer_value(at(j, "components.2.sources.0.from")), 0);
	ck_assert_uint_eq(json_array_size(at(j, "components.1.sources")), 0);
	ck_assert(json_is_false(at(j, "components.1.ciphertext")));
	suit_facts_release(f);
	free(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suit-depth");
	TCase *tc = tcase_create("encryption-coswid");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_encryption_info_examples, 0,
			    sizeof(enc_vectors) / sizeof(enc_vectors[0]));
	tcase_add_loop_test(tc, test_encryption_draft_manifests, 0,
			    sizeof(manifest_vectors) / sizeof(manifest_vectors[0]));
	tcase_add_test(tc, test_encryption_built);
	tcase_add_test(tc, test_encryption_hostile);
	tcase_add_test(tc, test_coswid_decode);
	tcase_add_test(tc, test_coswid_hostile);
	tcase_add_test(tc, test_spec_multi_image);
	suite_add_tcase(s, tc);
	return check_run(s);
}
