/* Dependency manifests (suit/dependencies.c, draft-ietf-suit-trust-domains):
 * the draft's own examples with their published key, dependents built by
 * suit_manifest_create, and a small independent builder (libcbor and
 * OpenSSL, nothing of suit/create.c) for what create cannot make: a
 * dependent whose dependency digest differs by one bit. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cbor.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/crypto.h"
#include "suit/create.h"
#include "suit/suit.h"
#include "tests/check_run.h"
#include "tests/suit_builder.h"

static char dir[] = "/tmp/suitd-deps-XXXXXX";
static char key_oem[128], pub_oem[128], key_si[128], pub_si[128], key_rogue[128], pub_rogue[128];
static const uint8_t payload[] = "firmware image bytes for the dependency tests";

static char *data_path(const char *name)
{
	static char path[4096];
	const char *src = getenv("SUITD_SRC");

	snprintf(path, sizeof(path), "%s/tests/data/suit/trust-domains/%s", src ? src : ".", name);
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
	ck_assert_uint_eq(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/* Outside a test (main): no ck_assert. */
#define REQUIRE(x)                                                              \
	do {                                                                    \
		if (!(x)) {                                                     \
			fprintf(stderr, "check_dependencies: %s failed\n", #x); \
			exit(EXIT_FAILURE);                                     \
		}                                                               \
	} while (0)

static void write_key(const char *priv, const char *pub)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	FILE *f = fopen(priv, "w");

	REQUIRE(k && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	f = fopen(pub, "w");
	REQUIRE(f && PEM_write_PUBKEY(f, k));
	fclose(f);
	EVP_PKEY_free(k);
}

static void keys_setup(void)
{
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(key_oem, sizeof(key_oem), "%s/oem.key", dir);
	snprintf(pub_oem, sizeof(pub_oem), "%s/oem.pub", dir);
	snprintf(key_si, sizeof(key_si), "%s/silicon.key", dir);
	snprintf(pub_si, sizeof(pub_si), "%s/silicon.pub", dir);
	snprintf(key_rogue, sizeof(key_rogue), "%s/rogue.key", dir);
	snprintf(pub_rogue, sizeof(pub_rogue), "%s/rogue.pub", dir);
	write_key(key_oem, pub_oem);
	write_key(key_si, pub_si);
	write_key(key_rogue, pub_rogue);
}

static void keys_teardown(void)
{
	const char *names[] = {key_oem, pub_oem, key_si, pub_si, key_rogue, pub_rogue};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(names[i]);
	rmdir(dir);
}

/* A keyring from anchor specs ("PATH [scope...]"), NULL-terminated. */
static struct suit_keyring *keyring(const char *spec, ...)
{
	struct suit_keyring *kr;
	struct diag d = {0};
	va_list ap;

	ck_assert_int_eq(suit_keyring_new(&kr), ERR_OK);
	va_start(ap, spec);
	for (const char *s = spec; s; s = va_arg(ap, const char *))
		ck_assert_msg(suit_keyring_add_anchor(kr, s, &d) == ERR_OK, "%s: %s", s, d.text);
	va_end(ap);
	return kr;
}

struct checked {
	enum suit_check c;
	struct suit_facts f;
	struct diag d;
};

static struct checked *check_with(const uint8_t *data, size_t len, struct suit_keyring *kr,
				  unsigned depth, uint64_t size)
{
	struct checked *r = calloc(1, sizeof(*r));
	struct suit_verify_options o = {.keyring = kr,
					.require_signature = true,
					.max_dependency_depth = depth,
					.max_dependency_size = size};

	ck_assert_ptr_nonnull(r);
	r->c = suit_envelope_check(data, len, &o, &r->f, &r->d);
	return r;
}

static void checked_free(struct checked *r)
{
	if (r->c == SUIT_OK)
		suit_facts_release(&r->f);
	free(r);
}

#define ASSERT_CHECK(r, want)                                                            \
	ck_assert_msg((r)->c == (want), "got %s (%s), want %s", suit_check_slug((r)->c), \
		      (r)->d.text, suit_check_slug(want))

/* An envelope by suit_manifest_create: payload integrated as "#fw", and
 * the given dependencies. */
static uint8_t *create(const char *key, const char *class_info,
		       const struct suit_create_dependency *deps, unsigned ndeps, size_t *len)
{
	struct suit_create_options o = {.key_path = key,
					.payload = payload,
					.payload_len = sizeof(payload),
					.vendor_domain = "example.com",
					.class_info = class_info,
					.sequence = 3,
					.uri = "#fw",
					.integrated = true,
					.dependencies = deps,
					.dependency_count = ndeps};
	uint8_t *out = NULL;
	struct diag d = {0};

	ck_assert_msg(suit_manifest_create(&o, &out, len, &d) == ERR_OK, "create: %s", d.text);
	return out;
}

static json_t *dep_json(const struct suit_facts *f, size_t i)
{
	return json_array_get(json_object_get(f->json, "dependencies"), i);
}

/* ---- the draft's examples --------------------------------------------- */

START_TEST(test_draft_examples)
{
	char *pub = strdup(data_path("trust-domains-examples-p256.pub.pem"));
	struct suit_keyring *kr = keyring(pub, NULL);
	size_t l0, l1, l2;
	uint8_t *e0 = read_file(data_path("example0_dependent.suit"), &l0),
		*e1 = read_file(data_path("example1_process.suit"), &l1),
		*e2 = read_file(data_path("example2_integrated.suit"), &l2);
	struct checked *r0 = check_with(e0, l0, kr, 0, 0), *r1 = check_with(e1, l1, kr, 0, 0),
		       *r2 = check_with(e2, l2, kr, 0, 0);
	char hex[65];
	const char *dep_digest = "0f02caf6d3e61920d36bf3cea7f862a13bb8fb1f09c3f4c29b121feab78ef3d8";

	/* The dependency on its own: its manifest digest is what the
	 * dependents give as the image digest of component 1. */
	ASSERT_CHECK(r0, SUIT_OK);
	hex_encode(r0->f.manifest_digest.bytes, 32, hex);
	ck_assert_str_eq(hex, dep_digest);
	ck_assert_uint_eq(r0->f.dependency_count, 0);
	ck_assert_str_eq(json_string_value(json_array_get(
				 json_object_get(r0->f.json, "manifest_component_id"), 0)),
			 "646570656e64656e742e73756974" /* 'dependent.suit' */);

	/* By URI: not integrated, not checked here (api/manifests.c links it). */
	ASSERT_CHECK(r1, SUIT_OK);
	ck_assert_uint_eq(r1->f.dependency_count, 1);
	ck_assert_uint_eq(r1->f.dependencies[0].component, 1);
	ck_assert(!r1->f.dependencies[0].integrated);
	ck_assert_ptr_null(r1->f.dependencies[0].facts);
	ck_assert_str_eq(r1->f.dependencies[0].uri, "http://example.com/dependent.suit");
	ck_assert(json_is_false(json_object_get(dep_json(&r1->f, 0), "present")));
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(dep_json(&r1->f, 0), "digest"), "value")),
			 dep_digest);

	/* Integrated: the image digest is the dependency's manifest digest
	 * (not the SHA-256 of its 190 envelope bytes), verified recursively. */
	ASSERT_CHECK(r2, SUIT_OK);
	ck_assert_uint_eq(r2->f.dependency_count, 1);
	ck_assert(r2->f.dependencies[0].integrated);
	ck_assert_ptr_nonnull(r2->f.dependencies[0].facts);
	ck_assert_uint_eq(r2->f.dependencies[0].size, l0);
	json_t *dj = dep_json(&r2->f, 0);
	ck_assert(json_is_true(json_object_get(dj, "present")));
	ck_assert(json_is_true(json_object_get(dj, "integrated")));
	ck_assert_str_eq(json_string_value(json_object_get(dj, "uri")), "#dependent.suit");
	ck_assert_int_eq(json_integer_value(json_object_get(dj, "sequence_number")), 0);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(dj, "prefix"), 0)),
			 "646570656e64656e742e73756974");
	json_t *signer = json_array_get(json_object_get(dj, "signers"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(signer, "result")), "verified");
	ck_assert_str_eq(json_string_value(json_object_get(signer, "trust_anchor")), pub);
	checked_free(r0);
	checked_free(r1);
	checked_free(r2);

	/* Under a key scoped to the prefix 'dependent.suit': the dependency
	 * passes inside example 2 (its prefix) and on its own (its
	 * manifest-component-id); the dependent, 'depending.suit', does not. */
	char scoped[4200];
	snprintf(scoped, sizeof(scoped), "%s prefix=dependent.suit", pub);
	struct suit_keyring *skr = keyring(scoped, NULL);
	r0 = check_with(e0, l0, skr, 0, 0);
	ASSERT_CHECK(r0, SUIT_OK);
	r2 = check_with(e2, l2, skr, 0, 0);
	ASSERT_CHECK(r2, SUIT_ANCHOR_OUT_OF_SCOPE);
	checked_free(r0);
	checked_free(r2);
	suit_keyring_free(skr);
	/* The same key listed twice, once unscoped: everything passes. */
	skr = keyring(scoped, pub, NULL);
	r2 = check_with(e2, l2, skr, 0, 0);
	ASSERT_CHECK(r2, SUIT_OK);
	checked_free(r2);
	suit_keyring_free(skr);

	/* A budget of 100 bytes of dependency envelopes refuses its 190. */
	r2 = check_with(e2, l2, kr, 0, 100);
	ASSERT_CHECK(r2, SUIT_DEPENDENCY_LIMIT);
	checked_free(r2);

	/* A one-bit change inside the integrated dependency's manifest: its
	 * own digest check fails, reported as the dependency's. */
	uint8_t *bad = malloc(l2);
	memcpy(bad, e2, l2);
	bad[l2 - 3] ^= 0x01; /* in the dependency's install sequence */
	r2 = check_with(bad, l2, kr, 0, 0);
	ASSERT_CHECK(r2, SUIT_DIGEST_MISMATCH);
	ck_assert_ptr_nonnull(strstr(r2->d.text, "dependency '#dependent.suit'"));
	checked_free(r2);
	free(bad);

	free(e0);
	free(e1);
	free(e2);
	suit_keyring_free(kr);
	free(pub);
}
END_TEST

/* ---- built by suit_manifest_create ------------------------------------ */

START_TEST(test_create_integrated_dependency)
{
	char si_scoped[256];
	size_t ld, le;
	uint8_t *dep = create(key_si, "soc", NULL, 0, &ld);
	struct suit_create_dependency cd = {
		.envelope = dep, .envelope_len = ld, .uri = "#silicon.suit", .prefix = "silicon"};
	uint8_t *env = create(key_oem, "board", &cd, 1, &le);
	struct suit_keyring *kr = keyring(pub_oem, pub_si, NULL);
	struct checked *r = check_with(env, le, kr, 0, 0);
	uint8_t digest[32];
	struct diag d = {0};
	char hex[65];

	ASSERT_CHECK(r, SUIT_OK);
	ck_assert_uint_eq(r->f.dependency_count, 1);
	ck_assert_uint_eq(r->f.dependencies[0].component, 1);
	ck_assert_int_eq(suit_envelope_digest(dep, ld, digest, &d), ERR_OK);
	ck_assert_mem_eq(r->f.dependencies[0].digest.bytes, digest, 32);
	ck_assert_mem_eq(r->f.dependencies[0].facts->manifest_digest.bytes, digest, 32);
	hex_encode(digest, 32, hex);
	json_t *dj = dep_json(&r->f, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(dj, "digest"), "value")),
			 hex);
	ck_assert_int_eq(json_integer_value(json_object_get(dj, "sequence_number")), 3);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(dj, "signers"), 0),
						  "trust_anchor")),
		pub_si);
	/* The dependency's own integrated payload is checked as usual. */
	ck_assert_uint_eq(r->f.dependencies[0].facts->integrated_count, 1);
	checked_free(r);
	suit_keyring_free(kr);

	/* The dependency's signer is not trusted. */
	kr = keyring(pub_oem, NULL);
	r = check_with(env, le, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_NO_TRUSTED_SIGNATURE);
	ck_assert_ptr_nonnull(strstr(r->d.text, "dependency '#silicon.suit'"));
	checked_free(r);
	suit_keyring_free(kr);

	/* Scoped: the silicon key may sign under prefix 'silicon' only. */
	snprintf(si_scoped, sizeof(si_scoped), "%s prefix=silicon", pub_si);
	kr = keyring(pub_oem, si_scoped, NULL);
	r = check_with(env, le, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_OK);
	checked_free(r);
	r = check_with(dep, ld, kr, 0, 0); /* on its own: no manifest-component-id */
	ASSERT_CHECK(r, SUIT_ANCHOR_OUT_OF_SCOPE);
	checked_free(r);
	free(env);
	cd.prefix = "other";
	env = create(key_oem, "board", &cd, 1, &le);
	r = check_with(env, le, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_ANCHOR_OUT_OF_SCOPE);
	ck_assert_ptr_nonnull(strstr(r->d.text, "dependency"));
	checked_free(r);
	suit_keyring_free(kr);

	/* Scoped by class: the dependency's components are class 'soc'. */
	uint8_t vendor[16], soc[16], board[16];
	char uuid[40], spec[300];
	ck_assert_int_eq(
		suit_uuid5(suit_uuid_namespace_dns, (const uint8_t *)"example.com", 11, vendor),
		ERR_OK);
	ck_assert_int_eq(suit_uuid5(vendor, (const uint8_t *)"soc", 3, soc), ERR_OK);
	ck_assert_int_eq(suit_uuid5(vendor, (const uint8_t *)"board", 5, board), ERR_OK);
	hex_encode(soc, 16, hex);
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
	snprintf(spec, sizeof(spec), "%s class=%s", pub_si, uuid);
	kr = keyring(pub_oem, spec, NULL);
	r = check_with(dep, ld, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_OK);
	checked_free(r);
	r = check_with(env, le, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_OK);
	checked_free(r);
	suit_keyring_free(kr);
	/* The oem key scoped to the board class cannot sign the soc manifest. */
	hex_encode(board, 16, hex);
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
	snprintf(spec, sizeof(spec), "%s class=%s", pub_oem, uuid);
	kr = keyring(spec, NULL);
	size_t lo;
	uint8_t *soc_by_oem = create(key_oem, "soc", NULL, 0, &lo);
	r = check_with(soc_by_oem, lo, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_ANCHOR_OUT_OF_SCOPE);
	checked_free(r);
	free(soc_by_oem);
	soc_by_oem = create(key_oem, "board", NULL, 0, &lo);
	r = check_with(soc_by_oem, lo, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_OK);
	checked_free(r);
	suit_keyring_free(kr);
	free(soc_by_oem);
	free(env);
	free(dep);
}
END_TEST

/* Dependencies of dependencies: the depth and size bounds of the tree. */
START_TEST(test_depth_and_size)
{
	struct suit_keyring *kr = keyring(pub_oem, NULL);
	uint8_t *level[5];
	size_t len[5];

	level[0] = create(key_oem, "leaf", NULL, 0, &len[0]);
	for (int i = 1; i < 5; i++) {
		struct suit_create_dependency cd = {
			.envelope = level[i - 1], .envelope_len = len[i - 1], .uri = "#below"};
		char class_info[16];
		snprintf(class_info, sizeof(class_info), "level%d", i);
		level[i] = create(key_oem, class_info, &cd, 1, &len[i]);
	}
	/* level 4 holds 4 levels of dependencies below it. */
	struct checked *r = check_with(level[4], len[4], kr, 4, 0);
	ASSERT_CHECK(r, SUIT_OK);
	json_t *j = r->f.json;
	for (int i = 0; i < 4; i++)
		j = json_array_get(json_object_get(j, "dependencies"), 0);
	ck_assert(json_is_true(json_object_get(j, "present")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "dependencies")), 0);
	checked_free(r);
	r = check_with(level[4], len[4], kr, 3, 0);
	ASSERT_CHECK(r, SUIT_DEPENDENCY_LIMIT);
	ck_assert_ptr_nonnull(strstr(r->d.text, "3 levels"));
	checked_free(r);
	r = check_with(level[4], len[4], kr, 0, 0); /* the default: 4 */
	ASSERT_CHECK(r, SUIT_OK);
	checked_free(r);
	/* Each level counts: level 2 (in 3) and level 1 (in 2) and level 0. */
	r = check_with(level[3], len[3], kr, 0, len[2] + len[1] + len[0]);
	ASSERT_CHECK(r, SUIT_OK);
	checked_free(r);
	r = check_with(level[3], len[3], kr, 0, len[2] + len[1] + len[0] - 1);
	ASSERT_CHECK(r, SUIT_DEPENDENCY_LIMIT);
	checked_free(r);
	for (int i = 0; i < 5; i++)
		free(level[i]);
	suit_keyring_free(kr);
}
END_TEST

/* ---- the independent builder (tests/suit_builder.h) ----------------- */

/* A dependent with one integrated dependency ("#dep", prefix 'dep'),
 * whose dependency-resolution gives `digest` as the dependency's image
 * digest, signed ES256 with the key at key_path. */
static uint8_t *independent_dependent(const char *key_path, const uint8_t digest[32],
				      const uint8_t *dep, size_t dep_len, size_t *ret_len)
{
	cbor_item_t *manifest = cbor_new_definite_map(5), *common = cbor_new_definite_map(2),
		    *deps = cbor_new_definite_map(1), *meta = cbor_new_definite_map(1),
		    *prefix = cbor_new_definite_array(1), *comps = cbor_new_definite_array(1),
		    *comp0 = cbor_new_definite_array(1), *res = cbor_new_definite_array(6),
		    *params = cbor_new_definite_map(3), *dg = cbor_new_definite_array(2),
		    *install = cbor_new_definite_array(6);

	push(prefix, cbor_build_bytestring((const uint8_t *)"dep", 3));
	add(meta, u(1), prefix);
	add(deps, u(1), meta);
	push(comp0, cbor_build_bytestring((const uint8_t *)"\0", 1));
	push(comps, comp0);
	add(common, u(1), deps);
	add(common, u(2), comps);
	push(dg, cbor_build_negint8(15)); /* -16 */
	push(dg, cbor_build_bytestring(digest, 32));
	add(params, u(3), wrapped(dg));
	add(params, u(14), u(dep_len));
	add(params, u(21), cbor_build_string("#dep"));
	push(res, u(12));
	push(res, u(1));
	push(res, u(20));
	push(res, params);
	push(res, u(21));
	push(res, u(2));
	push(install, u(12));
	push(install, u(1));
	push(install, u(7));
	push(install, u(15));
	push(install, u(11));
	push(install, u(0));
	add(manifest, u(1), u(1));
	add(manifest, u(2), u(7));
	add(manifest, u(3), wrapped(common));
	add(manifest, u(15), wrapped(res));
	add(manifest, u(20), wrapped(install));
	return tb_envelope(manifest, key_path, "#dep", dep, dep_len, ret_len);
}

START_TEST(test_dependency_digest_one_bit)
{
	struct suit_keyring *kr = keyring(pub_oem, pub_si, NULL);
	size_t ld, le;
	uint8_t *dep = create(key_si, "soc", NULL, 0, &ld), digest[32];
	struct diag d = {0};
	struct checked *r;

	ck_assert_int_eq(suit_envelope_digest(dep, ld, digest, &d), ERR_OK);
	/* The builder itself is sound: the right digest passes. */
	uint8_t *env = independent_dependent(key_oem, digest, dep, ld, &le);
	r = check_with(env, le, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_OK);
	ck_assert(r->f.dependencies[0].integrated);
	checked_free(r);
	free(env);
	/* One bit off, anywhere: refused as a dependency mismatch. */
	for (unsigned bit = 0; bit < 256; bit += 37) {
		uint8_t off[32];
		memcpy(off, digest, 32);
		off[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		env = independent_dependent(key_oem, off, dep, ld, &le);
		r = check_with(env, le, kr, 0, 0);
		ASSERT_CHECK(r, SUIT_DEPENDENCY_MISMATCH);
		ck_assert_ptr_nonnull(strstr(r->d.text, "manifest digest"));
		checked_free(r);
		free(env);
	}
	/* The SHA-256 of the envelope bytes (what suitd compared before) is
	 * not the dependency's digest either. */
	uint8_t env_sha[32];
	SHA256(dep, ld, env_sha);
	env = independent_dependent(key_oem, env_sha, dep, ld, &le);
	r = check_with(env, le, kr, 0, 0);
	ASSERT_CHECK(r, SUIT_DEPENDENCY_MISMATCH);
	checked_free(r);
	free(env);
	free(dep);
	suit_keyring_free(kr);
}
END_TEST

START_TEST(test_anchor_spec_refusals)
{
	static const char *const bad[] = {
		"prefix=",     " prefix=a",   "class=1234",
		"prefix=a//b", "prefix=h'0'", "prefix=a/b/c/d/e",
	};
	struct suit_keyring *kr;
	struct diag d = {0};
	char spec[300];

	ck_assert_int_eq(suit_keyring_new(&kr), ERR_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), "%s %s", pub_oem, bad[i]);
		if (bad[i][0] == ' ')
			snprintf(spec, sizeof(spec), "%s", bad[i] + 1);
		memset(&d, 0, sizeof(d));
		ck_assert_msg(suit_keyring_add_anchor(kr, spec, &d) == ERR_CONFIG, "%s accepted",
			      spec);
		ck_assert_str_eq(d.field, "trust_anchor");
	}
	ck_assert_uint_eq(suit_keyring_count(kr), 0);
	/* Good ones: hex elements, several scopes, the path alone. */
	snprintf(spec, sizeof(spec), "%s prefix=h'00ff'/os class=%s", pub_oem,
		 "1492af14-2569-5e48-bf42-9b2d51f2ab45");
	ck_assert_int_eq(suit_keyring_add_anchor(kr, spec, &d), ERR_OK);
	ck_assert(suit_keyring_scoped(kr, 0));
	ck_assert_str_eq(suit_keyring_name(kr, 0), pub_oem);
	ck_assert_int_eq(suit_keyring_add_anchor(kr, pub_oem, &d), ERR_OK);
	ck_assert(!suit_keyring_scoped(kr, 1));
	suit_keyring_free(kr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dependencies");
	TCase *tc = tcase_create("dependencies");
	int rc;

	keys_setup();
	tcase_add_test(tc, test_draft_examples);
	tcase_add_test(tc, test_create_integrated_dependency);
	tcase_add_test(tc, test_depth_and_size);
	tcase_add_test(tc, test_dependency_digest_one_bit);
	tcase_add_test(tc, test_anchor_spec_refusals);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	keys_teardown();
	return rc;
}
