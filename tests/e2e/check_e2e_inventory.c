/* SUIT in depth, end to end (issue 16): encrypted payloads
 * (draft-ietf-suit-firmware-encryption: the draft's own examples and built
 * AES-KW and ES-ECDH recipients), CoSWID members (inline, severed in the
 * envelope, severed and absent, hostile), a three-component manifest with
 * try-each alternatives, the software inventory (GET /api/v1/inventory and
 * the "software" of a device) after devices confirm, and SUIT reports
 * decoded record by record in a device's report history. The envelopes are
 * built here with libcbor and signed with the fleet's test-only author key
 * (an independent builder: not suitd's own `manifest create`). */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fleet.h"
#include "tests/check_run.h"

/* ---- A small CBOR builder (deterministic: shortest integer heads) ---- */

static cbor_item_t *I(int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)(-1 - v) : (uint64_t)v;
	cbor_item_t *it = u < 256	     ? cbor_build_uint8((uint8_t)u)
			  : u < 65536	     ? cbor_build_uint16((uint16_t)u)
			  : u < (1ull << 32) ? cbor_build_uint32((uint32_t)u)
					     : cbor_build_uint64(u);
	if (v < 0)
		cbor_mark_negint(it);
	return it;
}

static cbor_item_t *B(const void *p, size_t n)
{
	return cbor_build_bytestring(p, n);
}

static cbor_item_t *T(const char *s)
{
	return cbor_build_string(s);
}

/* An array of n items (references taken). */
static cbor_item_t *A(size_t n, ...)
{
	cbor_item_t *a = cbor_new_definite_array(n);
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		ck_assert(cbor_array_push(a, cbor_move(va_arg(ap, cbor_item_t *))));
	va_end(ap);
	return a;
}

/* A map of n pairs: key, value, key, value ... (references taken). */
static cbor_item_t *M(size_t n, ...)
{
	cbor_item_t *m = cbor_new_definite_map(n);
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		cbor_item_t *k = va_arg(ap, cbor_item_t *), *v = va_arg(ap, cbor_item_t *);
		ck_assert(cbor_map_add(m, (struct cbor_pair){cbor_move(k), cbor_move(v)}));
	}
	va_end(ap);
	return m;
}

static unsigned char *enc(cbor_item_t *it, size_t *len)
{
	unsigned char *buf = NULL;
	size_t size = 0;

	*len = cbor_serialize_alloc(it, &buf, &size);
	ck_assert_uint_gt(*len, 0);
	cbor_decref(&it);
	return buf;
}

/* bstr .cbor item */
static cbor_item_t *W(cbor_item_t *it)
{
	size_t n;
	unsigned char *b = enc(it, &n);
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

static void sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	ck_assert(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1);
}

static cbor_item_t *digest_item(const void *p, size_t n)
{
	unsigned char d[32];

	sha256(p, n, d);
	return A(2, I(-16), B(d, 32));
}

/* ESP256 (-9) over the SUIT_Digest with the fleet's author key. */
static cbor_item_t *sign1(const unsigned char *digest_enc, size_t digest_len)
{
	FILE *f = fopen(F.key, "r");
	EVP_PKEY *k;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *tbs, der[128], raw[64] = {0};
	size_t tbs_len, der_len = sizeof(der), prot_len;
	unsigned char *prot = enc(M(1, I(1), I(-9)), &prot_len);

	ck_assert_ptr_nonnull(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	tbs = enc(A(4, T("Signature1"), B(prot, prot_len), B("", 0), B(digest_enc, digest_len)),
		  &tbs_len);
	ck_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
	ck_assert(EVP_DigestSign(md, der, &der_len, tbs, tbs_len) == 1);
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	ck_assert_ptr_nonnull(sig);
	ck_assert(BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32);
	ck_assert(BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	free(tbs);
	cbor_item_t *out = TAG(18, A(4, B(prot, prot_len), M(0), cbor_new_null(), B(raw, 64)));
	free(prot);
	return out;
}

/* A signed, tagged envelope around manifest (consumed), with up to two more
 * envelope members (key, value; NULL key: none). */
static unsigned char *envelope(cbor_item_t *manifest, cbor_item_t *k1, cbor_item_t *v1, size_t *len)
{
	size_t mlen, mb_len, dlen;
	unsigned char *m = enc(manifest, &mlen);
	unsigned char *mb = enc(B(m, mlen), &mb_len); /* the digest covers the bstr */
	unsigned char *dg = enc(digest_item(mb, mb_len), &dlen);
	cbor_item_t *auth = W(A(2, B(dg, dlen), W(sign1(dg, dlen))));
	cbor_item_t *map = cbor_new_definite_map(k1 ? 3 : 2);

	ck_assert(cbor_map_add(map, (struct cbor_pair){cbor_move(I(2)), cbor_move(auth)}));
	ck_assert(cbor_map_add(map, (struct cbor_pair){cbor_move(I(3)), cbor_move(B(m, mlen))}));
	if (k1)
		ck_assert(cbor_map_add(map, (struct cbor_pair){cbor_move(k1), cbor_move(v1)}));
	free(m);
	free(mb);
	free(dg);
	return enc(TAG(107, map), len);
}

/* ---- Fixture and API helpers ---- */

static void setup(void)
{
	char devices[1024];

	/* The fleet's [devices] plus the draft examples' HMAC key (their AES-KW
	 * manifests are COSE_Mac0 with it); [manifests] appears twice, each
	 * key once. */
	snprintf(
		devices, sizeof(devices),
		"auth = token\nseen_flush = 60\npoll_interval = 100\npoll_interval_active = "
		"10\npoll_jitter = 20\nmax_report_size = 4K\n[manifests]\nallow_external_uri = on\n"
		"hmac_key = %s/tests/data/suit/encryption/hmac.key\n",
		getenv("SUITD_SRC") ? getenv("SUITD_SRC") : ".");
	fleet_setup_with(3000, false, devices);
}

/* Upload payload bytes (201 or 200); its SHA-256 hex and our URI. */
static void upload_payload(const void *p, size_t n, char sha[65], char *uri, size_t uri_size)
{
	struct http_result r;

	harness_request(&P, "POST", "/api/v1/payloads", P.admin_key, "application/octet-stream", p,
			n, &r);
	ck_assert_msg(r.status == 201 || r.status == 200, "payload upload: %ld %s", r.status,
		      r.body);
	http_result_release(&r);
	sha256_hex(p, n, sha);
	snprintf(uri, uri_size, "https://fw.example/device/v1/payloads/%s", sha);
}

/* POST the envelope: the status, and the facts when 200/201 (else NULL;
 * the body into problem when given). */
static json_t *upload(const unsigned char *env, size_t len, long *status, char *problem,
		      size_t problem_size)
{
	struct http_result r;
	json_t *j = NULL;

	harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,
			"application/suit-envelope+cose", env, len, &r);
	*status = r.status;
	if (r.status == 200 || r.status == 201)
		j = body_json(&r);
	else if (problem)
		snprintf(problem, problem_size, "%s", r.body ? r.body : "");
	http_result_release(&r);
	return j;
}

static json_t *upload_ok(const unsigned char *env, size_t len)
{
	long status;
	char problem[1024] = "";
	json_t *j = upload(env, len, &status, problem, sizeof(problem));

	ck_assert_msg(status == 201, "upload: %ld %s", status, problem);
	return j;
}

static json_t *upload_file_ok(const char *name)
{
	char path[512];
	size_t len;
	unsigned char *b;
	json_t *j;

	snprintf(path, sizeof(path), "%s/tests/data/suit/%s",
		 getenv("SUITD_SRC") ? getenv("SUITD_SRC") : ".", name);
	b = read_all(path, &len);
	j = upload_ok(b, len);
	free(b);
	return j;
}

static const char *jstr(json_t *o, const char *path)
{
	json_t *v = o;
	char key[64];
	const char *p = path;

	/* "a.b.0.c": members and array indexes */
	while (*p && v) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		if (json_is_array(v))
			v = json_array_get(v, strtoul(key, NULL, 10));
		else
			v = json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	ck_assert_msg(json_is_string(v), "%s is not a string", path);
	return json_string_value(v);
}

static json_t *jget(json_t *o, const char *path)
{
	json_t *v = o;
	char key[64];
	const char *p = path;

	while (*p && v) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		if (json_is_array(v))
			v = json_array_get(v, strtoul(key, NULL, 10));
		else
			v = json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	return v;
}

static long long jint(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
	return json_integer_value(v);
}

/* The CoSWID of the tests: name and version, two entities. */
static cbor_item_t *coswid(const char *name, const char *version)
{
	return M(6, I(0), T("acme-fw-tag-0001"), I(12), I(3), I(1), T(name), I(13), T(version),
		 I(14), I(16384), I(2),
		 A(2,
		   M(3, I(31), T("ACME Devices"), I(32), T("https://acme.example"), I(33),
		     A(2, I(1), I(2))),
		   M(2, I(31), T("Build Service"), I(33), I(4))));
}

/* One component h'00' fetching the fleet firmware from suitd; extra
 * manifest members k => v (NULL: none). */
static cbor_item_t *one_component_manifest(uint64_t seq, cbor_item_t *k, cbor_item_t *v)
{
	unsigned char d[32];
	char uri[160];
	cbor_item_t *m;

	sha256(F.fw_bytes, F.fw_len, d);
	snprintf(uri, sizeof(uri), "https://fw.example/device/v1/payloads/%s", F.fw_sha);
	cbor_item_t *common = W(M(1, I(2), A(1, A(1, B("\0", 1)))));
	cbor_item_t *install = W(
		A(4, I(20),
		  M(3, I(3), W(A(2, I(-16), B(d, 32))), I(14), I((int64_t)F.fw_len), I(21), T(uri)),
		  I(21), I(15)));
	m = cbor_new_definite_map(k ? 5 : 4);
	cbor_map_add(m, (struct cbor_pair){cbor_move(I(1)), cbor_move(I(1))});
	cbor_map_add(m, (struct cbor_pair){cbor_move(I(2)), cbor_move(I((int64_t)seq))});
	cbor_map_add(m, (struct cbor_pair){cbor_move(I(3)), cbor_move(common)});
	if (k)
		cbor_map_add(m, (struct cbor_pair){cbor_move(k), cbor_move(v)});
	cbor_map_add(m, (struct cbor_pair){cbor_move(I(20)), cbor_move(install)});
	return m;
}

/* A manifest with an inline CoSWID, uploaded; m filled for the fleet
 * helpers (digest, bytes). */
static void coswid_manifest(uint64_t seq, const char *name, const char *version, struct manifest *m)
{
	json_t *j;

	memset(m, 0, sizeof(*m));
	m->env = envelope(one_component_manifest(seq, I(14), W(coswid(name, version))), NULL, NULL,
			  &m->env_len);
	j = upload_ok(m->env, m->env_len);
	snprintf(m->digest, sizeof(m->digest), "%s", jstr(j, "digest.value"));
	ck_assert_str_eq(jstr(j, "coswid.software_name"), name);
	json_decref(j);
}

/* ---- CoSWID ---- */

START_TEST(test_coswid_inline_and_severed)
{
	size_t len, clen;
	unsigned char *env, *cw;
	json_t *j;
	long status;
	char problem[1024];

	/* Inline in the manifest. */
	env = envelope(one_component_manifest(11, I(14), W(coswid("acme-fw", "1.2.3"))), NULL, NULL,
		       &len);
	j = upload_ok(env, len);
	ck_assert_str_eq(jstr(j, "members.coswid"), "inline");
	ck_assert_str_eq(jstr(j, "coswid.tag_id"), "acme-fw-tag-0001");
	ck_assert_int_eq(jint(j, "coswid.tag_version"), 3);
	ck_assert_str_eq(jstr(j, "coswid.software_name"), "acme-fw");
	ck_assert_str_eq(jstr(j, "coswid.software_version"), "1.2.3");
	ck_assert_str_eq(jstr(j, "coswid.version_scheme"), "semver");
	ck_assert_int_eq(jint(j, "coswid.version_scheme_id"), 16384);
	ck_assert_str_eq(jstr(j, "coswid.entities.0.name"), "ACME Devices");
	ck_assert_str_eq(jstr(j, "coswid.entities.0.reg_id"), "https://acme.example");
	ck_assert_str_eq(jstr(j, "coswid.entities.0.roles.0"), "tag-creator");
	ck_assert_str_eq(jstr(j, "coswid.entities.0.roles.1"), "software-creator");
	ck_assert_str_eq(jstr(j, "coswid.entities.1.roles.0"), "distributor");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifests WHERE "
					     "software_name = 'acme-fw' AND software_version = "
					     "'1.2.3'"),
			 1);
	json_decref(j);
	free(env);

	/* Severed, and present in the envelope: the digest in the manifest
	 * covers the envelope's bstr. */
	cw = enc(W(coswid("acme-fw", "1.2.4")), &clen);
	env = envelope(one_component_manifest(12, I(14), digest_item(cw, clen)), I(14),
		       W(coswid("acme-fw", "1.2.4")), &len);
	j = upload_ok(env, len);
	ck_assert_str_eq(jstr(j, "members.coswid"), "severed, in envelope");
	ck_assert_str_eq(jstr(j, "coswid.software_version"), "1.2.4");
	json_decref(j);
	free(env);

	/* Severed and absent: no CoSWID to show, nothing refused. */
	env = envelope(one_component_manifest(13, I(14), digest_item(cw, clen)), NULL, NULL, &len);
	j = upload_ok(env, len);
	ck_assert_str_eq(jstr(j, "members.coswid"), "severed");
	ck_assert_ptr_null(json_object_get(j, "coswid"));
	json_decref(j);
	free(env);

	/* Severed, but the envelope's copy differs from the digest. */
	env = envelope(one_component_manifest(14, I(14), digest_item(cw, clen)), I(14),
		       W(coswid("acme-fw", "6.6.6")), &len);
	j = upload(env, len, &status, problem, sizeof(problem));
	ck_assert_int_eq(status, 422);
	ck_assert_ptr_nonnull(strstr(problem, "severed-digest-mismatch"));
	free(env);
	free(cw);
}
END_TEST

/* Hostile CoSWID members: refused with a problem that names suit-coswid;
 * nothing stored. */
START_TEST(test_coswid_hostile)
{
	static const char *const names[] = {
		"not a map",   "no software-name",    "name not text", "invalid UTF-8",
		"17 entities", "entity without role", "wrong tag"};
	cbor_item_t *bad[7];
	cbor_item_t *many = cbor_new_definite_array(17);
	long long before = harness_sql_int(&P, "SELECT count(*) FROM manifests");

	for (int i = 0; i < 17; i++)
		cbor_array_push(many, cbor_move(M(2, I(31), T("e"), I(33), I(1))));
	bad[0] = A(1, I(1));
	bad[1] = M(1, I(0), T("tag"));
	bad[2] = M(2, I(0), T("tag"), I(1), I(5));
	bad[3] = M(2, I(0), T("tag"), I(1), cbor_build_stringn("\xff\xfe", 2));
	bad[4] = M(3, I(0), T("tag"), I(1), T("n"), I(2), many);
	bad[5] = M(3, I(0), T("tag"), I(1), T("n"), I(2), M(1, I(31), T("e")));
	bad[6] = TAG(99, M(2, I(0), T("tag"), I(1), T("n")));
	for (int i = 0; i < 7; i++) {
		size_t len;
		long status;
		char problem[1024] = "";
		unsigned char *env =
			envelope(one_component_manifest(20 + (uint64_t)i, I(14), W(bad[i])), NULL,
				 NULL, &len);
		json_t *j = upload(env, len, &status, problem, sizeof(problem));
		ck_assert_msg(status == 422, "%s: %ld", names[i], status);
		ck_assert_msg(strstr(problem, "coswid"), "%s: %s", names[i], problem);
		ck_assert_msg(strstr(problem, "urn:suitd:manifest:"), "%s: %s", names[i], problem);
		json_decref(j);
		free(env);
	}
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifests"), before);
}
END_TEST

/* ---- Encrypted payloads ---- */

/* A COSE_Encrypt with an AES-KW and an ES-ECDH recipient. */
static cbor_item_t *encryption_info(void)
{
	static const unsigned char iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	unsigned char x[32], y[32], wrapped[40];

	memset(x, 0x11, sizeof(x));
	memset(y, 0x22, sizeof(y));
	memset(wrapped, 0x33, sizeof(wrapped));
	return TAG(
		96,
		A(4, W(M(1, I(1), I(3))), M(1, I(5), B(iv, sizeof(iv))), cbor_new_null(),
		  A(2, A(3, B("", 0), M(2, I(1), I(-5), I(4), B("kek-aes", 7)), B(wrapped, 40)),
		    A(3, W(M(1, I(1), I(-31))),
		      M(2, I(-1), M(4, I(1), I(2), I(-1), I(1), I(-2), B(x, 32), I(-3), B(y, 32)),
			I(4), B("device-p256", 11)),
		      B(wrapped, 40)))));
}

static void assert_two_recipients(json_t *enc0)
{
	ck_assert_str_eq(jstr(enc0, "cose"), "COSE_Encrypt");
	ck_assert_str_eq(jstr(enc0, "content_alg"), "A256GCM");
	ck_assert_str_eq(jstr(enc0, "ciphertext"), "detached");
	ck_assert_str_eq(jstr(enc0, "recipients.0.alg"), "A256KW");
	ck_assert_str_eq(jstr(enc0, "recipients.0.method"), "key-wrap");
	ck_assert_str_eq(jstr(enc0, "recipients.0.kid_text"), "kek-aes");
	ck_assert_str_eq(jstr(enc0, "recipients.1.alg"), "ECDH-ES + A256KW");
	ck_assert_str_eq(jstr(enc0, "recipients.1.method"), "key-agreement");
	ck_assert_str_eq(jstr(enc0, "recipients.1.kid_text"), "device-p256");
	ck_assert_str_eq(jstr(enc0, "recipients.1.kid"), "6465766963652d70323536");
	ck_assert_str_eq(jstr(enc0, "recipients.1.ephemeral_key.crv"), "P-256");
}

START_TEST(test_encrypted_payloads)
{
	unsigned char ct[500], plain_digest[32];
	char sha[65], uri[160];
	size_t len;
	unsigned char *env;
	json_t *j;

	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (unsigned char)(i * 31 + 7);
	upload_payload(ct, sizeof(ct), sha, uri, sizeof(uri));

	/* Fetch the ciphertext into component 1, copy-and-decrypt into 0
	 * (the draft's AES-KW example shape): the ciphertext has no digest in
	 * the manifest; suitd checks the stored payload's size. */
	cbor_item_t *install =
		W(A(12, I(12), I(1), I(20), M(2, I(14), I((int64_t)sizeof(ct)), I(21), T(uri)),
		    I(21), I(15), I(12), I(0), I(20),
		    M(2, I(19), W(encryption_info()), I(22), I(1)), I(22), I(15)));
	cbor_item_t *m =
		M(4, I(1), I(1), I(2), I(30), I(3),
		  W(M(1, I(2), A(2, A(1, B("plain", 5)), A(1, B("cipher", 6))))), I(20), install);
	env = envelope(m, NULL, NULL, &len);
	j = upload_ok(env, len);
	assert_two_recipients(jget(j, "components.0.encryption.0"));
	ck_assert(json_is_true(jget(j, "components.0.sources.0.decrypts")));
	ck_assert_int_eq(jint(j, "components.0.sources.0.from"), 1);
	ck_assert(json_is_true(jget(j, "components.1.ciphertext")));
	ck_assert(json_is_true(jget(j, "fetches.0.ciphertext")));
	ck_assert(json_is_false(jget(j, "fetches.0.encrypted")));
	ck_assert_str_eq(jstr(j, "payloads.0"), sha);
	json_decref(j);
	free(env);

	/* The same with a wrong ciphertext size: the stored payload is checked. */
	install =
		W(A(12, I(12), I(1), I(20), M(2, I(14), I(499), I(21), T(uri)), I(21), I(15), I(12),
		    I(0), I(20), M(2, I(19), W(encryption_info()), I(22), I(1)), I(22), I(15)));
	m = M(4, I(1), I(1), I(2), I(31), I(3),
	      W(M(1, I(2), A(2, A(1, B("plain", 5)), A(1, B("cipher", 6))))), I(20), install);
	env = envelope(m, NULL, NULL, &len);
	{
		long status;
		char problem[1024] = "";
		json_t *bad = upload(env, len, &status, problem, sizeof(problem));
		ck_assert_int_eq(status, 422);
		ck_assert_ptr_nonnull(strstr(problem, "payload-size-mismatch"));
		json_decref(bad);
	}
	free(env);

	/* Decrypt while fetching: encryption-info on the fetched component,
	 * whose image digest and size are the plaintext's. suitd cannot check
	 * them against the stored ciphertext and does not refuse them. */
	memset(plain_digest, 0x5a, sizeof(plain_digest));
	install = W(A(4, I(20),
		      M(4, I(3), W(A(2, I(-16), B(plain_digest, 32))), I(14), I(480), I(19),
			W(encryption_info()), I(21), T(uri)),
		      I(21), I(15)));
	m = M(4, I(1), I(1), I(2), I(32), I(3), W(M(1, I(2), A(1, A(1, B("fw", 2))))), I(20),
	      install);
	env = envelope(m, NULL, NULL, &len);
	j = upload_ok(env, len);
	assert_two_recipients(jget(j, "components.0.encryption.0"));
	ck_assert(json_is_true(jget(j, "fetches.0.encrypted")));
	ck_assert_int_eq(jint(j, "fetches.0.size"), 480);
	ck_assert_str_eq(jstr(j, "payloads.0"), sha);
	json_decref(j);
	free(env);
}
END_TEST

START_TEST(test_encryption_hostile)
{
	cbor_item_t *bad[6];
	unsigned char big[300];

	memset(big, 'k', sizeof(big));
	bad[0] = A(4, W(M(1, I(1), I(1))), M(0), cbor_new_null(), A(0));	  /* untagged */
	bad[1] = TAG(96, A(3, W(M(1, I(1), I(1))), M(0), cbor_new_null()));	  /* 3 elements */
	bad[2] = TAG(96, A(4, W(M(1, I(1), I(1))), M(0), cbor_new_null(), A(0))); /* none */
	bad[3] = TAG(96, A(4, W(M(1, I(1), I(1))), M(1, I(1), I(2)), cbor_new_null(),
			   A(1, A(3, B("", 0), M(1, I(1), I(-3)), B("x", 1))))); /* alg twice */
	bad[4] = TAG(96, A(4, W(M(1, I(1), I(1))), M(0), cbor_new_null(),
			   A(1, A(3, B("", 0), M(2, I(1), I(-3), I(4), B(big, sizeof(big))),
				  B("x", 1)))));		     /* kid too long */
	bad[5] = TAG(16, A(3, B("\xa1", 1), M(0), cbor_new_null())); /* protected not a map */
	for (int i = 0; i < 6; i++) {
		size_t len;
		long status;
		char problem[1024] = "";
		cbor_item_t *install =
			W(A(4, I(20), M(2, I(19), W(bad[i]), I(21), T("https://x.example/fw")),
			    I(21), I(15)));
		cbor_item_t *m = M(4, I(1), I(1), I(2), I(40 + i), I(3),
				   W(M(1, I(2), A(1, A(1, B("fw", 2))))), I(20), install);
		unsigned char *env = envelope(m, NULL, NULL, &len);
		json_t *j = upload(env, len, &status, problem, sizeof(problem));
		ck_assert_msg(status == 422, "case %d: %ld", i, status);
		ck_assert_msg(strstr(problem, "encryption-info"), "case %d: %s", i, problem);
		json_decref(j);
		free(env);
	}
}
END_TEST

/* The firmware-encryption draft's own signed examples (tests/data/suit/
 * README.md): uploaded as a user would, their algorithms and kids in the
 * facts. */
START_TEST(test_encryption_draft_examples)
{
	json_t *j = upload_file_ok("encryption/suit-manifest-aes-kw.suit");

	ck_assert_str_eq(jstr(j, "signers.0.result"), "verified");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.content_alg"), "A128GCM");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.recipients.0.alg"), "A128KW");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.recipients.0.kid_text"), "kid-1");
	ck_assert(json_is_true(jget(j, "components.1.ciphertext")));
	ck_assert_int_eq(jint(j, "fetches.0.size"), 46);
	json_decref(j);
	j = upload_file_ok("encryption/suit-manifest-es-ecdh-content.suit");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.content_alg"), "A128GCM");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.recipients.0.alg"), "ECDH-ES + A128KW");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.recipients.0.kid_text"), "kid-2");
	ck_assert_str_eq(jstr(j, "components.0.sources.0.directive"), "write");
	json_decref(j);
	/* (aes-kw-content has aes-kw's component and sequence number: the
	 * unit tests read it.) */
	j = upload_file_ok("encryption/suit-manifest-aes-kw-slot.suit");
	ck_assert_str_eq(jstr(j, "components.0.encryption.0.recipients.0.kid_text"), "kid-1");
	ck_assert_str_eq(jstr(j, "components.0.sources.0.directive"), "copy");
	json_decref(j);
}
END_TEST

/* ---- Multi-image ---- */

/* Three components (Example 3/4 shapes): 0 and 1 fetched, 2 with a
 * try-each over slots 0 and 1 fetching one of two images. Every
 * component keeps its digests, sizes and URIs; every fetch its slot. */
START_TEST(test_three_components)
{
	unsigned char img[4][200];
	char sha[4][65], uri[4][160];
	unsigned char d[4][32];
	size_t len;
	unsigned char *env;
	json_t *j;

	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < sizeof(img[k]); i++)
			img[k][i] = (unsigned char)(i * (unsigned)(k + 3) + (unsigned)k);
		upload_payload(img[k], sizeof(img[k]), sha[k], uri[k], sizeof(uri[k]));
		sha256(img[k], sizeof(img[k]), d[k]);
	}
#define FETCH(k)                                                                           \
	M(3, I(3), W(A(2, I(-16), B(d[k], 32))), I(14), I((int64_t)sizeof(img[k])), I(21), \
	  T(uri[k]))
	cbor_item_t *alt0 = W(A(6, I(20), M(1, I(5), I(0)), I(5), I(15), I(20), FETCH(2)));
	cbor_item_t *alt1 = W(A(6, I(20), M(1, I(5), I(1)), I(5), I(15), I(20), FETCH(3)));
	cbor_item_t *fetch = W(A(16, I(12), I(0), I(20), FETCH(0), I(21), I(15), I(12), I(1), I(20),
				 FETCH(1), I(21), I(15), I(12), I(2), I(15), A(2, alt0, alt1)));
#undef FETCH
	/* payload-fetch (16) holds the fetches; install (20) fetches the
	 * try-each's choice. */
	cbor_item_t *install = W(A(4, I(12), I(2), I(21), I(15)));
	cbor_item_t *m =
		M(5, I(1), I(1), I(2), I(50), I(3),
		  W(M(1, I(2), A(3, A(1, B("boot", 4)), A(1, B("app", 3)), A(1, B("data", 4))))),
		  I(16), fetch, I(20), install);
	env = envelope(m, NULL, NULL, &len);
	j = upload_ok(env, len);
	ck_assert_uint_eq(json_array_size(jget(j, "components")), 3);
	for (int k = 0; k < 2; k++) {
		char path[64];
		snprintf(path, sizeof(path), "components.%d.digests.0.value", k);
		ck_assert_str_eq(jstr(j, path), sha[k]);
		snprintf(path, sizeof(path), "components.%d.uris.0", k);
		ck_assert_str_eq(jstr(j, path), uri[k]);
		snprintf(path, sizeof(path), "components.%d.sizes.0", k);
		ck_assert_int_eq(jint(j, path), 200);
	}
	ck_assert_uint_eq(json_array_size(jget(j, "components.2.digests")), 2);
	ck_assert_uint_eq(json_array_size(jget(j, "components.2.uris")), 2);
	/* 0, 1 and the two alternatives of 2 */
	ck_assert_uint_eq(json_array_size(jget(j, "fetches")), 4);
	ck_assert_uint_eq(json_array_size(jget(j, "payloads")), 4);
	int slots = 0;
	for (size_t i = 0; i < 4; i++) {
		json_t *f = json_array_get(jget(j, "fetches"), i);
		if (json_integer_value(json_object_get(f, "component")) != 2)
			continue;
		long long slot = json_integer_value(json_object_get(f, "slot"));
		const char *u = json_string_value(json_object_get(f, "uri"));
		ck_assert_str_eq(u, uri[slot == 0 ? 2 : 3]);
		slots |= 1 << slot;
	}
	ck_assert_int_eq(slots, 3);
	json_decref(j);
	free(env);
}
END_TEST

/* ---- Inventory ---- */

static void confirm(const char *device, const char *token, const struct manifest *m)
{
	unsigned char rep_bytes[64];
	char ids[160];
	struct http_result r;
	size_t n;
	long id;

	snprintf(ids, sizeof(ids), "[\"%s\"]", device);
	id = deploy_devices(m, ids);
	expect_envelope(token, "seq=0", m);
	n = suit_report_invoked(m, rep_bytes);
	report_ex(token, "application/suit-report+cose", rep_bytes, n, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	assert_assignment(id, device, "confirmed", "");
}

static json_t *get_json(const char *path)
{
	struct http_result r;
	json_t *j;

	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	http_result_release(&r);
	return j;
}

START_TEST(test_inventory)
{
	struct manifest v1, v2;
	char tok[5][128];
	json_t *j;

	coswid_manifest(61, "acme-fw", "1.0.0", &v1);
	coswid_manifest(62, "acme-fw", "2.0.0", &v2);
	add_device("inv-a", NULL, tok[0], sizeof(tok[0]));
	add_device("inv-b", NULL, tok[1], sizeof(tok[1]));
	add_device("inv-c", NULL, tok[2], sizeof(tok[2]));
	add_device("inv-d", NULL, tok[3], sizeof(tok[3]));
	add_device("inv-e", NULL, tok[4], sizeof(tok[4]));

	/* Before any confirmation: nothing runs. */
	j = get_json("/api/v1/inventory?software=acme-fw");
	ck_assert_int_eq(jint(j, "devices"), 0);
	ck_assert_uint_eq(json_array_size(jget(j, "items")), 0);
	json_decref(j);
	j = get_json("/api/v1/devices/inv-a");
	ck_assert(json_is_null(jget(j, "software")));
	json_decref(j);

	confirm("inv-a", tok[0], &v1);
	confirm("inv-b", tok[1], &v1);
	confirm("inv-c", tok[2], &v1);
	confirm("inv-c", tok[2], &v2);	 /* upgraded: runs v2 now */
	confirm("inv-d", tok[3], &F.m1); /* a manifest without CoSWID */

	j = get_json("/api/v1/inventory?software=acme-fw");
	ck_assert_int_eq(jint(j, "devices"), 3);
	ck_assert_str_eq(jstr(j, "versions.0.version"), "1.0.0");
	ck_assert_int_eq(jint(j, "versions.0.devices"), 2);
	ck_assert_str_eq(jstr(j, "versions.1.version"), "2.0.0");
	ck_assert_int_eq(jint(j, "versions.1.devices"), 1);
	ck_assert_uint_eq(json_array_size(jget(j, "items")), 3);
	ck_assert_str_eq(jstr(j, "items.0.device"), "inv-a");
	ck_assert_str_eq(jstr(j, "items.2.device"), "inv-c");
	ck_assert_str_eq(jstr(j, "items.2.version"), "2.0.0");
	ck_assert_str_eq(jstr(j, "items.2.manifest"), v2.digest);
	ck_assert(json_is_null(jget(j, "next")));
	json_decref(j);

	/* One version, paginated by one. */
	j = get_json("/api/v1/inventory?software=acme-fw&version=1.0.0&limit=1");
	ck_assert_int_eq(jint(j, "devices"), 2);
	ck_assert_uint_eq(json_array_size(jget(j, "items")), 1);
	ck_assert_str_eq(jstr(j, "items.0.device"), "inv-a");
	char path[160];
	snprintf(path, sizeof(path),
		 "/api/v1/inventory?software=acme-fw&version=1.0.0&limit=1&after=%s",
		 jstr(j, "next"));
	json_decref(j);
	j = get_json(path);
	ck_assert_str_eq(jstr(j, "items.0.device"), "inv-b");
	ck_assert(json_is_null(jget(j, "next")));
	json_decref(j);

	/* The whole fleet's software. */
	j = get_json("/api/v1/inventory");
	ck_assert_int_eq(jint(j, "devices"), 3);
	ck_assert_str_eq(jstr(j, "software_list.0.software"), "acme-fw");
	ck_assert_uint_eq(json_array_size(jget(j, "items")), 0);
	json_decref(j);
	j = get_json("/api/v1/inventory?software=other");
	ck_assert_int_eq(jint(j, "devices"), 0);
	json_decref(j);

	/* A device shows what it runs: the CoSWID, or the component ids. */
	j = get_json("/api/v1/devices/inv-c");
	ck_assert_str_eq(jstr(j, "software.manifest"), v2.digest);
	ck_assert_str_eq(jstr(j, "software.name"), "acme-fw");
	ck_assert_str_eq(jstr(j, "software.version"), "2.0.0");
	ck_assert_str_eq(jstr(j, "software.coswid.entities.0.name"), "ACME Devices");
	ck_assert_int_eq(jint(j, "software.sequence_number"), 62);
	json_decref(j);
	j = get_json("/api/v1/devices/inv-d");
	ck_assert_str_eq(jstr(j, "software.manifest"), F.m1.digest);
	ck_assert(json_is_null(jget(j, "software.name")));
	ck_assert_int_eq(jint(j, "software.sequence_number"), 1);
	ck_assert_str_eq(jstr(j, "software.components.0.id.0"), "00");
	ck_assert_ptr_null(jget(j, "software.coswid"));
	json_decref(j);
	j = get_json("/api/v1/devices/inv-e");
	ck_assert(json_is_null(jget(j, "software")));
	json_decref(j);

	/* Refused parameters. */
	{
		struct http_result r;
		char longname[300];
		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		api("GET", "/api/v1/inventory?version=1.0.0", NULL, &r);
		assert_problem(&r, 400, "invalid-request", "version needs software");
		http_result_release(&r);
		char longpath[400];
		snprintf(longpath, sizeof(longpath), "/api/v1/inventory?software=%s", longname);
		api("GET", longpath, NULL, &r);
		assert_status(&r, 400);
		http_result_release(&r);
		api("GET", "/api/v1/inventory?software=", NULL, &r);
		assert_status(&r, 400);
		http_result_release(&r);
		api("GET", "/api/v1/inventory?software=a&after=x", NULL, &r);
		assert_status(&r, 400);
		http_result_release(&r);
		api("GET", "/api/v1/inventory?software=%ff%fe", NULL, &r);
		assert_status(&r, 400);
		http_result_release(&r);
	}
	manifest_release(&v1);
	manifest_release(&v2);
}
END_TEST

/* ---- Reports decoded ---- */

/* A bare SUIT_Report for m: records of the install section, the failure
 * at the fetch (offset of its command in install), component 0. */
static unsigned char *failure_report(const struct manifest *m, uint64_t fetch_offset, size_t *len)
{
	unsigned char d[32];

	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(m->digest + 2 * i, "%2x", &v), 1);
		d[i] = (unsigned char)v;
	}
	cbor_item_t *rec_ok = A(5, A(0), I(20), I(1), I(0), M(1, I(14), I(3000)));
	cbor_item_t *rec_fail = A(5, A(0), I(20), I((int64_t)fetch_offset), I(0),
				  M(1, I(21), T("https://fw.example/x")));
	cbor_item_t *result =
		M(3, I(5), I(-3), I(6), A(5, A(0), I(20), I((int64_t)fetch_offset), I(0), M(0)),
		  I(7), I(11));
	return enc(M(3, I(99), A(2, T(""), A(2, I(-16), B(d, 32))), I(3), A(2, rec_ok, rec_fail),
		     I(4), result),
		   len);
}

START_TEST(test_reports_decoded)
{
	struct manifest m;
	char tok[128], ids[64], path[128];
	struct http_result r;
	size_t len;
	unsigned char *rep_bytes;
	json_t *j, *body;

	coswid_manifest(70, "acme-fw", "7.0.0", &m);
	add_device("rep-a", NULL, tok, sizeof(tok));
	snprintf(ids, sizeof(ids), "[\"rep-a\"]");
	long id = deploy_devices(&m, ids);
	expect_envelope(tok, "seq=0", &m);
	/* install = [20, {3, 14, 21}, 21, 15]: the array head (1 byte), 20
	 * (1), the map, then 21 at 2 + len(map). */
	size_t map_len;
	{
		unsigned char dd[32];
		char uri[160];
		sha256(F.fw_bytes, F.fw_len, dd);
		snprintf(uri, sizeof(uri), "https://fw.example/device/v1/payloads/%s", F.fw_sha);
		free(enc(M(3, I(3), W(A(2, I(-16), B(dd, 32))), I(14), I((int64_t)F.fw_len), I(21),
			   T(uri)),
			 &map_len));
	}
	rep_bytes = failure_report(&m, 2 + map_len, &len);
	report_ex(tok, "application/suit-report+cose", rep_bytes, len, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	free(rep_bytes);
	char why[128];
	snprintf(why, sizeof(why), "operation-failed at section 20 offset %zu component 0",
		 2 + map_len);
	assert_assignment(id, "rep-a", "failed", why);

	snprintf(path, sizeof(path), "/api/v1/devices/rep-a/reports");
	j = get_json(path);
	body = jget(j, "items.0.body");
	ck_assert(json_is_true(jget(body, "manifest_known")));
	ck_assert_uint_eq(json_array_size(jget(body, "records")), 2);
	ck_assert_str_eq(jstr(body, "records.0.section_name"), "install");
	ck_assert_str_eq(jstr(body, "records.0.command"), "directive-override-parameters");
	ck_assert_str_eq(jstr(body, "records.0.component_id.0"), "00");
	ck_assert_int_eq(jint(body, "records.0.properties.image-size"), 3000);
	ck_assert_str_eq(jstr(body, "records.1.command"), "directive-fetch");
	ck_assert_int_eq(jint(body, "records.1.command_id"), 21);
	ck_assert_str_eq(jstr(body, "records.1.properties.uri"), "https://fw.example/x");
	ck_assert_str_eq(jstr(body, "failure.reason"), "operation-failed");
	ck_assert_int_eq(jint(body, "failure.reason_id"), 11);
	ck_assert_int_eq(jint(body, "failure.code"), -3);
	ck_assert_str_eq(jstr(body, "failure.record.command"), "directive-fetch");
	ck_assert_str_eq(jstr(body, "failure.record.component_id.0"), "00");
	/* The earlier fields stay as they were. */
	ck_assert_str_eq(jstr(body, "result.reason"), "operation-failed");
	ck_assert_int_eq(jint(body, "result.record.offset"), (long long)(2 + map_len));
	json_decref(j);
	manifest_release(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-inventory");
	TCase *tc = tcase_create("suit-depth");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, fleet_teardown);
	tcase_add_test(tc, test_coswid_inline_and_severed);
	tcase_add_test(tc, test_coswid_hostile);
	tcase_add_test(tc, test_encrypted_payloads);
	tcase_add_test(tc, test_encryption_hostile);
	tcase_add_test(tc, test_encryption_draft_examples);
	tcase_add_test(tc, test_three_components);
	tcase_add_test(tc, test_inventory);
	tcase_add_test(tc, test_reports_decoded);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
