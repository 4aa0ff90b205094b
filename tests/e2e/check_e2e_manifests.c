/* SUIT manifests end to end: create, verify, upload, serve, sever, refuse. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "harness.h"
#include "tests/check_run.h"

static struct suit_proc_files {
	char key_a[192], pub_a[192], key_b[192], pub_b[192], fw[192], spec_pub[512];
} F;
static struct suitd_proc P;

static void write_key(EVP_PKEY *k, const char *priv, const char *pub)
{
	FILE *f = fopen(priv, "w");

	ck_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	f = fopen(pub, "w");
	ck_assert(PEM_write_PUBKEY(f, k));
	fclose(f);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 22);

	ck_assert_ptr_nonnull(f);
	*len = fread(buf, 1, 1 << 22, f);
	fclose(f);
	return buf;
}

static void config_with(const char *anchors)
{
	char conf[2048];

	snprintf(conf, sizeof(conf),
		 "[payloads]\nanonymous_download = on\n[manifests]\nmax_size = 64K\n%s", anchors);
	harness_write_config(&P, conf);
}

static void setup(void)
{
	const char *src = getenv("SUITD_SRC");
	EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char anchors[1024];
	unsigned char fw[40000];

	harness_setup(&P, "");
	/* Test-only author keys, made fresh for each test. */
	snprintf(F.key_a, sizeof(F.key_a), "%s/author-a.key", P.dir);
	snprintf(F.pub_a, sizeof(F.pub_a), "%s/author-a.pub", P.dir);
	snprintf(F.key_b, sizeof(F.key_b), "%s/author-b.key", P.dir);
	snprintf(F.pub_b, sizeof(F.pub_b), "%s/author-b.pub", P.dir);
	snprintf(F.fw, sizeof(F.fw), "%s/fw.bin", P.dir);
	snprintf(F.spec_pub, sizeof(F.spec_pub),
		 "%s/tests/data/suit/suit-spec-examples-p256.pub.pem", src ? src : ".");
	write_key(a, F.key_a, F.pub_a);
	write_key(b, F.key_b, F.pub_b);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	for (size_t i = 0; i < sizeof(fw); i++)
		fw[i] = (unsigned char)(i * 7 + 3);
	write_file(F.fw, fw, sizeof(fw));
	snprintf(anchors, sizeof(anchors), "trust_anchor = %s\ntrust_anchor = %s\n", F.pub_a,
		 F.spec_pub);
	config_with(anchors);
	harness_admin_key(&P);
	harness_start(&P);
}

static void teardown(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_cleanup(&P);
}

static long post(const char *path, const char *type, const void *body, size_t len,
		 struct http_result *r)
{
	harness_request(&P, "POST", path, P.admin_key, type, body, len, r);
	return r->status;
}

static long upload_file(const char *file, struct http_result *r)
{
	size_t len;
	unsigned char *data = read_all(file, &len);
	long status = post("/api/v1/manifests", "application/suit-envelope+cose", data, len, r);

	free(data);
	return status;
}

static void assert_type(const struct http_result *r, long status, const char *type)
{
	char want[96];

	ck_assert_msg(r->status == status, "status %ld want %ld: %s", r->status, status,
		      r->body ? r->body : "");
	snprintf(want, sizeof(want), "\"type\":\"urn:suitd:%s\"", type);
	ck_assert_msg(strstr(r->body, want) != NULL, "%s lacks %s", r->body, want);
}

static int create(const char *key, const char *out, const char *seq, const char *extra)
{
	char out_path[256];

	snprintf(out_path, sizeof(out_path), "%s/%s", P.dir, out);
	if (extra)
		return harness_cli(&P, NULL, 0, "manifest", "create", "--key", key, "--payload",
				   F.fw, "--vendor-domain", "example.com", "--class-info",
				   "sensor-v1", "--sequence", seq, extra, "-o", out_path,
				   (char *)NULL);
	return harness_cli(&P, NULL, 0, "manifest", "create", "--key", key, "--payload", F.fw,
			   "--vendor-domain", "example.com", "--class-info", "sensor-v1",
			   "--sequence", seq, "--description", "sensor firmware 1.0", "-o",
			   out_path, (char *)NULL);
}

static void path_in_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", P.dir, name);
}

START_TEST(test_create_upload_serve)
{
	struct http_result r;
	char env[256], path[256], out[8192], digest[65], etag[80], v[128];
	size_t fw_len, env_len;
	unsigned char *fw = read_all(F.fw, &fw_len), *env_bytes;
	json_t *j;

	ck_assert_int_eq(create(F.key_a, "fw.suit", "1", NULL), 0);
	path_in_dir(env, sizeof(env), "fw.suit");
	/* The payload is not there yet: verify and upload both refuse. */
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "manifest", "verify", env, (char *)NULL),
			 1);
	ck_assert(harness_log_contains(&P, "rejected: payload-missing"));
	ck_assert_int_eq(upload_file(env, &r), 422);
	assert_type(&r, 422, "manifest:payload-missing");
	http_result_release(&r);
	ck_assert_int_eq(post("/api/v1/payloads", "application/octet-stream", fw, fw_len, &r), 201);
	http_result_release(&r);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "manifest", "verify", env, (char *)NULL),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\"sequence_number\": 1"));

	ck_assert_int_eq(upload_file(env, &r), 201);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(digest, sizeof(digest), "%s",
		 json_string_value(json_object_get(json_object_get(j, "digest"), "value")));
	ck_assert_uint_eq(strlen(digest), 64);
	json_t *c0 = json_array_get(json_object_get(j, "components"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c0, "vendor_id")),
			 "cfbff0d1-9375-5685-968c-48ce8b15ae17" /* UUID5(DNS, example.com) */);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(c0, "sizes"), 0)),
			 (json_int_t)fw_len);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "signers"), 0), "result")),
			 "verified");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "members"), "text")),
			 "severed, in envelope");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "payloads")), 1);
	json_decref(j);
	http_result_release(&r);
	/* Same envelope again: 200, one record. */
	ck_assert_int_eq(upload_file(env, &r), 200);
	http_result_release(&r);

	/* The envelope is served byte for byte, with its ETag. */
	env_bytes = read_all(env, &env_len);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s/envelope", digest);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, env_len);
	ck_assert(memcmp(r.body, env_bytes, env_len) == 0);
	ck_assert_str_eq(http_header(&r, "Content-Type", v, sizeof(v)),
			 "application/suit-envelope+cose");
	snprintf(etag, sizeof(etag), "\"%s\"", digest);
	ck_assert_str_eq(http_header(&r, "ETag", v, sizeof(v)), etag);
	http_result_release(&r);
	char inm[128];
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	const char *h[] = {inm, NULL};
	harness_request_ex(&P, "GET", path, P.admin_key, h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 304);
	http_result_release(&r);
	/* Severing the text keeps the signature: the result verifies again. */
	snprintf(path, sizeof(path), "/api/v1/manifests/%s/envelope?sever=text", digest);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_lt(r.body_len, env_len);
	char severed[256];
	path_in_dir(severed, sizeof(severed), "severed.suit");
	write_file(severed, r.body, r.body_len);
	http_result_release(&r);
	ck_assert_int_eq(
		harness_cli(&P, out, sizeof(out), "manifest", "verify", severed, (char *)NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"text\": \"severed\""));

	/* The payload is pinned while the manifest exists. */
	char sha[65], ppath[128];
	EVP_Digest(fw, fw_len, (unsigned char *)out, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", (unsigned char)out[i]);
	snprintf(ppath, sizeof(ppath), "/api/v1/payloads/%s", sha);
	harness_request(&P, "DELETE", ppath, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 409);
	http_result_release(&r);
	harness_request(&P, "GET", ppath, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_ptr_nonnull(strstr(r.body, digest));
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", digest);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	harness_request(&P, "DELETE", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	http_result_release(&r);
	harness_request(&P, "DELETE", ppath, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);
	free(fw);
	free(env_bytes);
}
END_TEST

START_TEST(test_spec_vectors)
{
	const char *src = getenv("SUITD_SRC");
	char file[512], path[256];
	struct http_result r;
	size_t len;
	unsigned char *want;

	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example0.signed.suit", src);
	ck_assert_int_eq(upload_file(file, &r), 201);
	ck_assert_ptr_nonnull(
		strstr(r.body, "6658ea560262696dd1f13b782239a064da7c6c5cbaf52fded428a6fc83c7e5af"));
	http_result_release(&r);
	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example0.unsigned.suit", src);
	ck_assert_int_eq(upload_file(file, &r), 422);
	assert_type(&r, 422, "manifest:unsigned");
	http_result_release(&r);
	/* Example 1 fetches from example.com: refused while allow_external_uri is off. */
	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example1.signed.suit", src);
	ck_assert_int_eq(upload_file(file, &r), 422);
	assert_type(&r, 422, "manifest:external-uri");
	http_result_release(&r);
	/* Example 0 fetches nothing; example 2's full form is served severed
	 * exactly as the spec's severed file. Allow external URIs for it. */
	char anchors[1024];
	snprintf(anchors, sizeof(anchors),
		 "trust_anchor = %s\ntrust_anchor = %s\nallow_external_uri = on\n", F.pub_a,
		 F.spec_pub);
	config_with(anchors);
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "allow_external_uri = on"); i++)
		usleep(50000);
	/* The severed form alone lacks install: suitd needs the full envelope. */
	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example2.signed-severed.suit", src);
	ck_assert_int_eq(upload_file(file, &r), 422);
	assert_type(&r, 422, "manifest:severed-member-missing");
	http_result_release(&r);
	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example2.signed.suit", src);
	ck_assert_int_eq(upload_file(file, &r), 201);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s/envelope?sever=text,install",
		 "6a5197ed8f9dccf733d1c89a359441708e070b4c6dcb9a1c2c82c6165f609b90");
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example2.signed-severed.suit", src);
	want = read_all(file, &len);
	ck_assert_uint_eq(r.body_len, len);
	ck_assert(memcmp(r.body, want, len) == 0);
	free(want);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s/envelope?sever=bogus",
		 "6a5197ed8f9dccf733d1c89a359441708e070b4c6dcb9a1c2c82c6165f609b90");
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 400);
	http_result_release(&r);
	/* Example 1's install is inline: it cannot be severed. */
	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example1.signed.suit", src);
	ck_assert_int_eq(upload_file(file, &r), 201);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s/envelope?sever=install",
		 "1f2e7acca0dc2786f2fe4eb947f50873a6a3cfaa98866c5b02e621f42074daf2");
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	assert_type(&r, 422, "manifest:unsupported");
	http_result_release(&r);
	/* Filters and pagination. */
	harness_request(&P, "GET",
			"/api/v1/manifests?vendor_id=fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe&limit=2",
			P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 2);
	ck_assert(json_is_string(json_object_get(j, "next")));
	json_decref(j);
	http_result_release(&r);
	harness_request(&P, "GET",
			"/api/v1/manifests?class_id=00000000-0000-0000-0000-000000000000",
			P.admin_key, NULL, NULL, 0, &r);
	ck_assert_ptr_nonnull(strstr(r.body, "\"items\":[]"));
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/manifests?vendor_id=nope", P.admin_key, NULL, NULL, 0,
			&r);
	ck_assert_int_eq(r.status, 400);
	http_result_release(&r);
}
END_TEST

START_TEST(test_refusals)
{
	struct http_result r;
	char env[256], path[256];
	size_t len, fw_len;
	unsigned char *data, *fw = read_all(F.fw, &fw_len);

	ck_assert_int_eq(post("/api/v1/payloads", "application/octet-stream", fw, fw_len, &r), 201);
	http_result_release(&r);
	free(fw);
	ck_assert_int_eq(create(F.key_a, "a.suit", "5", NULL), 0);
	path_in_dir(env, sizeof(env), "a.suit");
	data = read_all(env, &len);
	/* One flipped byte in the manifest (its sequence number sits near the
	 * end of the manifest bstr, before the text member): digest mismatch. */
	data[len / 3] ^= 0x01;
	post("/api/v1/manifests", "application/suit-envelope+cose", data, len, &r);
	ck_assert_int_eq(r.status, 422);
	ck_assert(strstr(r.body, "manifest:digest-mismatch") ||
		  strstr(r.body, "manifest:cbor-parse") ||
		  strstr(r.body, "manifest:signature-invalid"));
	http_result_release(&r);
	data[len / 3] ^= 0x01;
	/* Wrong content type and garbage. */
	post("/api/v1/manifests", "application/json", data, len, &r);
	ck_assert_int_eq(r.status, 415);
	http_result_release(&r);
	post("/api/v1/manifests", "application/suit-envelope+cose", "\xd8\x6b\xa1", 3, &r);
	assert_type(&r, 422, "manifest:cbor-parse");
	http_result_release(&r);
	free(data);
	/* Signed by a key that is not a trust anchor (its kid names none). */
	ck_assert_int_eq(create(F.key_b, "b.suit", "6", NULL), 0);
	path_in_dir(env, sizeof(env), "b.suit");
	ck_assert_int_eq(upload_file(env, &r), 422);
	assert_type(&r, 422, "manifest:no-trusted-signature");
	http_result_release(&r);
	/* Same vendor/class/component and sequence, other content: 409. */
	path_in_dir(env, sizeof(env), "a.suit");
	ck_assert_int_eq(upload_file(env, &r), 201);
	http_result_release(&r);
	ck_assert_int_eq(create(F.key_a, "a2.suit", "5", "--integrated"), 0);
	path_in_dir(env, sizeof(env), "a2.suit");
	ck_assert_int_eq(upload_file(env, &r), 409);
	assert_type(&r, 409, "manifest:sequence-conflict");
	http_result_release(&r);
	/* Over [manifests] max_size (64K). */
	char *big = calloc(1, 70000);
	post("/api/v1/manifests", "application/suit-envelope+cose", big, 70000, &r);
	ck_assert_int_eq(r.status, 413);
	http_result_release(&r);
	free(big);
	harness_request(&P, "GET", "/api/v1/manifests/zz", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 400);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%064d", 0);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifests"), 1);
}
END_TEST

/* manifest create signs only image URIs devices can fetch securely: an
 * absolute https:// URL with a host, or '#name' of an integrated payload;
 * other schemes only with [manifests] allow_external_uri = on (issue 23). */
START_TEST(test_create_uri_refusals)
{
	static const struct {
		const char *arg;
		int rc;
	} cases[] = {
		{"--uri=http://firmware.example.com/device/v1/payloads/00", 1},
		{"--uri=firmware.example.com/fw.bin", 1},
		{"--uri=/device/v1/payloads/00", 1},
		{"--uri=https://*:8443/device/v1/payloads/00", 1},
		{"--uri=https:///fw.bin", 1},
		{"--uri=ftp://firmware.example.com/fw.bin", 1},
		{"--uri=https://mirror.example.com/fw.bin", 0},
		{"--integrated", 0}, /* "#fw.bin" */
	};
	char name[32], file[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "u%zu.suit", i);
		ck_assert_msg(create(F.key_a, name, "7", cases[i].arg) == cases[i].rc,
			      "manifest create %s: want exit %d", cases[i].arg, cases[i].rc);
		path_in_dir(file, sizeof(file), name);
		ck_assert_int_eq(access(file, F_OK) == 0, cases[i].rc == 0);
	}
	ck_assert(harness_log_contains(&P, "is not an absolute https:// URL"));
	/* The operator allows URIs outside suitd: then any scheme is theirs. */
	harness_write_config(&P, "[manifests]\nallow_external_uri = on\n");
	ck_assert_int_eq(create(F.key_a, "ext.suit", "7", "--uri=http://mirror.example.com/fw"), 0);
}
END_TEST

START_TEST(test_reload_trust_anchors)
{
	struct http_result r;
	char env[256], anchors[1024];

	ck_assert_int_eq(create(F.key_b, "b.suit", "9", "--integrated"), 0);
	path_in_dir(env, sizeof(env), "b.suit");
	ck_assert_int_eq(upload_file(env, &r), 422);
	assert_type(&r, 422, "manifest:no-trusted-signature");
	http_result_release(&r);
	/* A broken anchor file: the reload is refused, the old anchors stay. */
	snprintf(anchors, sizeof(anchors), "trust_anchor = %s\ntrust_anchor = /nonexistent.pem\n",
		 F.pub_b);
	config_with(anchors);
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "keeping the running"); i++)
		usleep(50000);
	ck_assert(harness_log_contains(&P, "keeping the running configuration"));
	ck_assert_int_eq(upload_file(env, &r), 422);
	http_result_release(&r);
	snprintf(anchors, sizeof(anchors), "trust_anchor = %s\n", F.pub_b);
	config_with(anchors);
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "1 trust anchors"); i++)
		usleep(50000);
	ck_assert_int_eq(upload_file(env, &r), 201);
	ck_assert_ptr_nonnull(strstr(r.body, "\"alg\":\"Ed25519\""));
	http_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-manifests");
	TCase *tc = tcase_create("manifests");
	int rc;

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_upload_serve);
	tcase_add_test(tc, test_spec_vectors);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_create_uri_refusals);
	tcase_add_test(tc, test_reload_trust_anchors);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	return rc;
}
