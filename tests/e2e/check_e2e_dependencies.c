/* Dependency manifests end to end (issue 16, draft-ietf-suit-trust-domains):
 * dependents made by `suitd manifest create --dependency`, integrated and by
 * URI, scoped trust anchors, untrusted and missing dependencies, the draft's
 * own examples, a device fetching a dependency envelope, and `downloaded`
 * only once every need of the manifest has been fetched. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fleet.h"
#include "harness.h"
#include "tests/check_run.h"
#include "tests/suit_builder.h"

static struct {
	char oem_key[192], oem_pub[192], os_key[192], os_pub[192], si_key[192], si_pub[192],
		rogue_key[192], rogue_pub[192];
	char app[192], soc[192], osfw[192];
	char app_sha[65], soc_sha[65], osfw_sha[65];
} K;

static void key_pair(const char *name, char *priv, char *pub)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	FILE *f;

	snprintf(priv, 192, "%s/%s.key", P.dir, name);
	snprintf(pub, 192, "%s/%s.pub", P.dir, name);
	f = fopen(priv, "w");
	ck_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	f = fopen(pub, "w");
	ck_assert(PEM_write_PUBKEY(f, k));
	fclose(f);
	EVP_PKEY_free(k);
}

/* A payload file of n pattern bytes, uploaded; its SHA-256 in sha. */
static void payload(const char *name, size_t n, unsigned seed, char *path, char *sha)
{
	unsigned char *b = malloc(n);
	struct http_result r;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * seed + 1);
	snprintf(path, 192, "%s/%s", P.dir, name);
	write_file(path, b, n);
	sha256_hex(b, n, sha);
	harness_request(&P, "POST", "/api/v1/payloads", P.admin_key, "application/octet-stream", b,
			n, &r);
	assert_status(&r, 201);
	http_result_release(&r);
	free(b);
}

static void start_with(bool allow_external, const char *manifests_extra)
{
	char conf[4096];
	const char *src = getenv("SUITD_SRC") ? getenv("SUITD_SRC") : ".";

	snprintf(conf, sizeof(conf),
		 "[devices]\nauth = token\nseen_flush = 60\npoll_interval = 100\n"
		 "poll_interval_active = 10\npoll_jitter = 20\nmax_report_size = 1K\n"
		 "[manifests]\n%sallow_external_uri = %s\n"
		 "trust_anchor = %s\n"
		 "trust_anchor = %s\n"
		 "trust_anchor = %s prefix=silicon\n"
		 "trust_anchor = %s/tests/data/suit/trust-domains/"
		 "trust-domains-examples-p256.pub.pem\n",
		 manifests_extra, allow_external ? "on" : "off", K.oem_pub, K.os_pub, K.si_pub,
		 src);
	harness_write_config(&P, conf);
	harness_admin_key(&P);
	harness_start(&P);
}

static void start(bool allow_external)
{
	start_with(allow_external, "");
}

static void setup(void)
{
	harness_setup(&P, "");
	key_pair("oem", K.oem_key, K.oem_pub);
	key_pair("os", K.os_key, K.os_pub);
	key_pair("silicon", K.si_key, K.si_pub);
	key_pair("rogue", K.rogue_key, K.rogue_pub);
}

/* suitd manifest create: key, payload, class, then extra arguments (up to
 * 6, NULL-terminated) into DIR/out. */
static void create(const char *out, const char *key, const char *fw, const char *class_info,
		   const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
		   const char *a6)
{
	char path[256], log[4096];
	const char *extra[] = {a1, a2, a3, a4, a5, a6};
	const char *argv[32];
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", P.dir, out);
	argv[n++] = "manifest";
	argv[n++] = "create";
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--payload";
	argv[n++] = fw;
	argv[n++] = "--vendor-domain";
	argv[n++] = "example.com";
	argv[n++] = "--class-info";
	argv[n++] = class_info;
	argv[n++] = "--sequence";
	argv[n++] = "1";
	for (int i = 0; i < 6 && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n++] = "-o";
	argv[n++] = path;
	while (n < 24)
		argv[n++] = NULL;
	ck_assert_int_eq(harness_cli(&P, log, sizeof(log), argv[0], argv[1], argv[2], argv[3],
				     argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], argv[10],
				     argv[11], argv[12], argv[13], argv[14], argv[15], argv[16],
				     argv[17], argv[18], argv[19], argv[20], argv[21], argv[22],
				     argv[23], (char *)NULL),
			 0);
}

static void in_dir(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", P.dir, name);
}

/* Upload DIR/name; the answer in r (released by the caller). */
static void upload(const char *name, struct http_result *r)
{
	char path[256];
	size_t len;
	unsigned char *env;

	in_dir(path, name);
	env = read_all(path, &len);
	harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,
			"application/suit-envelope+cose", env, len, r);
	free(env);
}

/* Upload, 201 expected; the manifest (digest, bytes) in m. */
static json_t *upload_ok(const char *name, struct manifest *m)
{
	struct http_result r;
	char path[256];
	json_t *j;

	upload(name, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	http_result_release(&r);
	memset(m, 0, sizeof(*m));
	snprintf(m->digest, sizeof(m->digest), "%s",
		 json_string_value(json_object_get(json_object_get(j, "digest"), "value")));
	in_dir(path, name);
	m->env = read_all(path, &m->env_len);
	return j;
}

static void upload_refused(const char *name, const char *slug, const char *detail)
{
	struct http_result r;

	upload(name, &r);
	assert_problem(&r, 422, slug, detail);
	http_result_release(&r);
}

static void device_get(const char *token, const char *path, struct http_result *r)
{
	harness_request_ex(&P, "GET", path, token, NULL, NULL, 0, r);
}

START_TEST(test_dependents)
{
	struct manifest os, app;
	char path[256], tok[128], os_uri[128], env_path[256], sel[128];
	struct http_result r;
	json_t *j, *d0, *d1;
	long id;

	start(false);
	payload("app.bin", 3000, 7, K.app, K.app_sha);
	payload("soc.bin", 2000, 11, K.soc, K.soc_sha);
	payload("os.bin", 5000, 13, K.osfw, K.osfw_sha);

	/* The OS vendor's manifest, stored on its own (unscoped key). */
	create("os.suit", K.os_key, K.osfw, "os-v1", NULL, NULL, NULL, NULL, NULL, NULL);
	json_decref(upload_ok("os.suit", &os));
	/* The silicon vendor's: its key is scoped to the prefix 'silicon',
	 * which a manifest on its own (no manifest-component-id) lacks. */
	create("soc.suit", K.si_key, K.soc, "soc-v1", NULL, NULL, NULL, NULL, NULL, NULL);
	upload_refused("soc.suit", "manifest:anchor-out-of-scope", NULL);
	/* With a manifest-component-id in its scope it may stand alone, and
	 * a dependent links it by URI under that prefix. */
	struct manifest soc_alone;
	create("soc-id.suit", K.si_key, K.soc, "soc-v1", "--manifest-component-id", "silicon", NULL,
	       NULL, NULL, NULL);
	j = upload_ok("soc-id.suit", &soc_alone);
	ck_assert_str_eq(
		json_string_value(json_array_get(json_object_get(j, "manifest_component_id"), 0)),
		"73696c69636f6e");
	json_decref(j);
	in_dir(path, "soc-id.suit");
	create("linked.suit", K.oem_key, K.app, "board-v9", "--dependency", path,
	       "--dependency-uri", "https://127.0.0.1/device/v1/manifests/", "--dependency-prefix",
	       "silicon");
	j = upload_ok("linked.suit", &app);
	d0 = json_array_get(json_object_get(j, "dependencies"), 0);
	ck_assert(json_is_true(json_object_get(d0, "stored")));
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(d0, "signers"), 0),
						  "trust_anchor")),
		K.si_pub);
	json_decref(j);
	manifest_release(&app);
	/* Under another prefix the stored manifest is out of its key's scope. */
	create("linked-other.suit", K.oem_key, K.app, "board-v8", "--dependency", path,
	       "--dependency-uri", "https://127.0.0.1/device/v1/manifests/", "--dependency-prefix",
	       "other");
	upload_refused("linked-other.suit", "manifest:anchor-out-of-scope", NULL);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", app.digest);
	api("DELETE", path, NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", soc_alone.digest);
	api("DELETE", path, NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	manifest_release(&soc_alone);

	/* The device maker's dependent: soc integrated under 'silicon', the OS
	 * manifest by URI from this server (the digest appended to the '/'). */
	in_dir(env_path, "soc.suit");
	in_dir(path, "os.suit");
	{
		char log[4096], out[256];
		in_dir(out, "app.suit");
		ck_assert_int_eq(harness_cli(&P, log, sizeof(log), "manifest", "create", "--key",
					     K.oem_key, "--payload", K.app, "--vendor-domain",
					     "example.com", "--class-info", "board-v1",
					     "--sequence", "1", "--dependency", env_path,
					     "--dependency-prefix", "silicon", "--dependency", path,
					     "--dependency-uri",
					     "https://127.0.0.1/device/v1/manifests/", "-o", out,
					     (char *)NULL),
				 0);
	}
	j = upload_ok("app.suit", &app);
	d0 = json_array_get(json_object_get(j, "dependencies"), 0);
	d1 = json_array_get(json_object_get(j, "dependencies"), 1);
	ck_assert(json_is_true(json_object_get(d0, "integrated")));
	ck_assert(json_is_true(json_object_get(d0, "present")));
	ck_assert_str_eq(json_string_value(json_object_get(d0, "uri")), "#soc.suit");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(d0, "prefix"), 0)),
			 "73696c69636f6e" /* silicon */);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(d0, "signers"), 0),
						  "trust_anchor")),
		K.si_pub);
	ck_assert(json_is_false(json_object_get(d1, "integrated")));
	ck_assert(json_is_true(json_object_get(d1, "present")));
	ck_assert(json_is_true(json_object_get(d1, "stored")));
	snprintf(os_uri, sizeof(os_uri), "https://127.0.0.1/device/v1/manifests/%s", os.digest);
	ck_assert_str_eq(json_string_value(json_object_get(d1, "uri")), os_uri);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d1, "digest"), "value")),
			 os.digest);
	ck_assert_int_eq(json_integer_value(json_object_get(d1, "sequence_number")), 1);
	/* Its payloads: its own and the integrated dependency's. */
	ck_assert_uint_eq(json_array_size(json_object_get(j, "payloads")), 2);
	json_decref(j);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifest_dependencies"), 2);

	/* A linked dependency cannot go while its dependent is stored. */
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", os.digest);
	api("DELETE", path, NULL, &r);
	assert_problem(&r, 409, "conflict", "a stored manifest links it as its dependency");
	http_result_release(&r);

	/* Refusals: another prefix, an untrusted signer, a URI dependency
	 * that is not stored, an external URI. */
	create("other.suit", K.oem_key, K.app, "board-v2", "--dependency", env_path,
	       "--dependency-prefix", "other", NULL, NULL);
	upload_refused("other.suit", "manifest:anchor-out-of-scope", NULL);
	create("rogue-dep.suit", K.rogue_key, K.soc, "rogue-v1", NULL, NULL, NULL, NULL, NULL,
	       NULL);
	in_dir(path, "rogue-dep.suit");
	create("rogue.suit", K.oem_key, K.app, "board-v3", "--dependency", path, NULL, NULL, NULL,
	       NULL);
	upload_refused("rogue.suit", "manifest:no-trusted-signature", NULL);
	create("missing.suit", K.oem_key, K.app, "board-v4", "--dependency", path,
	       "--dependency-uri", "https://127.0.0.1/device/v1/manifests/", NULL, NULL);
	upload_refused("missing.suit", "manifest:dependency-missing", NULL);
	create("external.suit", K.oem_key, K.app, "board-v5", "--dependency", env_path,
	       "--dependency-uri", "https://vendor.example/soc.suit", NULL, NULL);
	upload_refused("external.suit", "manifest:external-uri", NULL);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifests"), 2);

	/* create refuses what it cannot build: a --dependency-uri before any
	 * --dependency (usage, 2), a dependency that is not an envelope (1). */
	char log[4096], out[256];
	in_dir(out, "never.suit");
	ck_assert_int_eq(harness_cli(&P, log, sizeof(log), "manifest", "create", "--key", K.oem_key,
				     "--payload", K.app, "--vendor-domain", "example.com",
				     "--class-info", "x", "--sequence", "1", "--dependency-uri",
				     "https://127.0.0.1/x", "-o", out, (char *)NULL),
			 2);
	ck_assert_int_eq(harness_cli(&P, log, sizeof(log), "manifest", "create", "--key", K.oem_key,
				     "--payload", K.app, "--vendor-domain", "example.com",
				     "--class-info", "x", "--sequence", "1", "--dependency", K.app,
				     "-o", out, (char *)NULL),
			 1);
	ck_assert(harness_log_contains(&P, "not one CBOR item"));
	ck_assert_int_eq(access(out, F_OK), -1);

	/* A device: fetching the dependency envelope needs device identity. */
	add_device("board-1", NULL, tok, sizeof(tok));
	snprintf(path, sizeof(path), "/device/v1/manifests/%s", os.digest);
	device_get(NULL, path, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	device_get(P.admin_key, path, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	device_get(tok, "/device/v1/manifests/00", &r);
	assert_status(&r, 400);
	http_result_release(&r);
	snprintf(sel, sizeof(sel), "/device/v1/manifests/%064d", 0);
	device_get(tok, sel, &r);
	assert_status(&r, 404);
	http_result_release(&r);

	/* downloaded needs everything: the OS envelope, app.bin, soc.bin
	 * (the integrated dependency's) and os.bin (the OS manifest's). */
	id = deploy_devices(&app, "[\"board-1\"]");
	expect_envelope(tok, "seq=0", &app);
	assert_assignment(id, "board-1", "delivered", "");
	device_get(tok, path, &r);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.body_len, os.env_len);
	ck_assert(memcmp(r.body, os.env, os.env_len) == 0);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/suit-envelope+cose");
	http_result_release(&r);
	assert_assignment(id, "board-1", "downloading", "");
	const char *shas[] = {K.app_sha, K.soc_sha, K.osfw_sha};
	for (int i = 0; i < 3; i++) {
		char ppath[128];
		snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", shas[i]);
		device_get(tok, ppath, &r);
		assert_status(&r, 200);
		http_result_release(&r);
		assert_assignment(id, "board-1", i < 2 ? "downloading" : "downloaded", "");
		if (i == 0) { /* again: still one need of four */
			device_get(tok, ppath, &r);
			http_result_release(&r);
			assert_assignment(id, "board-1", "downloading", "");
		}
	}
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM assignment_fetches"), 4);
	expect_nothing(tok, "seq=1");
	assert_assignment(id, "board-1", "confirmed", "");
	manifest_release(&os);
	manifest_release(&app);
}
END_TEST

/* A device that never fetches the dependency envelope stays downloading;
 * the payloads alone are not enough. */
START_TEST(test_envelope_is_a_need)
{
	struct manifest os, app;
	char tok[128], path[256], out[256], log[4096], ppath[128];
	struct http_result r;
	long id;

	start(false);
	payload("app.bin", 1000, 3, K.app, K.app_sha);
	payload("os.bin", 1500, 5, K.osfw, K.osfw_sha);
	create("os.suit", K.os_key, K.osfw, "os-v1", NULL, NULL, NULL, NULL, NULL, NULL);
	json_decref(upload_ok("os.suit", &os));
	in_dir(path, "os.suit");
	in_dir(out, "app.suit");
	ck_assert_int_eq(
		harness_cli(&P, log, sizeof(log), "manifest", "create", "--key", K.oem_key,
			    "--payload", K.app, "--vendor-domain", "example.com", "--class-info",
			    "board-v1", "--sequence", "2", "--dependency", path, "--dependency-uri",
			    "https://127.0.0.1/device/v1/manifests/", "-o", out, (char *)NULL),
		0);
	json_decref(upload_ok("app.suit", &app));
	add_device("board-2", NULL, tok, sizeof(tok));
	id = deploy_devices(&app, "[\"board-2\"]");
	expect_envelope(tok, "seq=0", &app);
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", K.app_sha);
	device_get(tok, ppath, &r);
	http_result_release(&r);
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", K.osfw_sha);
	device_get(tok, ppath, &r);
	http_result_release(&r);
	assert_assignment(id, "board-2", "downloading", "");
	/* HEAD of the envelope counts for nothing; a GET does. */
	snprintf(path, sizeof(path), "/device/v1/manifests/%s", os.digest);
	harness_request_ex(&P, "HEAD", path, tok, NULL, NULL, 0, &r);
	http_result_release(&r);
	assert_assignment(id, "board-2", "downloading", "");
	device_get(tok, path, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "board-2", "downloaded", "");
	manifest_release(&os);
	manifest_release(&app);
}
END_TEST

/* A three-image manifest (the spec's Example 3/4 multi-component shape),
 * made by the independent builder: downloaded only after the last byte of
 * every one of its payloads, in any order, ranges included. */
START_TEST(test_multi_image)
{
	char paths[3][192], shas[3][65], ppath[128], uri[160], tok[128], out[256];
	uint8_t sha_bytes[3][32];
	size_t sizes[] = {1200, 2500, 700};
	struct manifest m;
	struct http_result r;
	long id;
	json_t *j;

	start(false);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "img%d.bin", i);
		payload(name, sizes[i], (unsigned)(17 + 2 * i), paths[i], shas[i]);
		for (int b = 0; b < 32; b++) {
			unsigned v;
			sscanf(shas[i] + 2 * b, "%2x", &v);
			sha_bytes[i][b] = (uint8_t)v;
		}
	}
	cbor_item_t *manifest = cbor_new_definite_map(4), *common = cbor_new_definite_map(2),
		    *comps = cbor_new_definite_array(3), *shared = cbor_new_definite_array(12),
		    *install = cbor_new_definite_array(18);
	for (int i = 0; i < 3; i++) {
		cbor_item_t *id_arr = cbor_new_definite_array(1),
			    *params = cbor_new_definite_map(2), *dg = cbor_new_definite_array(2),
			    *up = cbor_new_definite_map(1);
		uint8_t idb = (uint8_t)i;
		push(id_arr, cbor_build_bytestring(&idb, 1));
		push(comps, id_arr);
		push(dg, cbor_build_negint8(15));
		push(dg, cbor_build_bytestring(sha_bytes[i], 32));
		add(params, u(3), wrapped(dg));
		add(params, u(14), u(sizes[i]));
		push(shared, u(12));
		push(shared, u((uint64_t)i));
		push(shared, u(20));
		push(shared, params);
		snprintf(uri, sizeof(uri), "https://127.0.0.1/device/v1/payloads/%s", shas[i]);
		add(up, u(21), cbor_build_string(uri));
		push(install, u(12));
		push(install, u((uint64_t)i));
		push(install, u(20));
		push(install, up);
		push(install, u(21));
		push(install, u(2));
	}
	add(common, u(2), comps);
	add(common, u(4), wrapped(shared));
	add(manifest, u(1), u(1));
	add(manifest, u(2), u(4));
	add(manifest, u(3), wrapped(common));
	add(manifest, u(20), wrapped(install));
	size_t len;
	uint8_t *env = tb_envelope(manifest, K.oem_key, NULL, NULL, 0, &len);
	in_dir(out, "multi.suit");
	write_file(out, env, len);
	free(env);
	j = upload_ok("multi.suit", &m);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "fetches")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "payloads")), 3);
	json_decref(j);

	add_device("multi-1", NULL, tok, sizeof(tok));
	id = deploy_devices(&m, "[\"multi-1\"]");
	expect_envelope(tok, "seq=0", &m);
	/* Image 2 whole, image 0 in two ranges, then image 1. */
	const char *range_a[] = {"Range: bytes=0-599", NULL},
		   *range_b[] = {"Range: bytes=600-", NULL};
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", shas[2]);
	device_get(tok, ppath, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "multi-1", "downloading", "");
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", shas[0]);
	harness_request_ex(&P, "GET", ppath, tok, range_a, NULL, 0, &r);
	assert_status(&r, 206);
	http_result_release(&r);
	harness_request_ex(&P, "GET", ppath, tok, range_b, NULL, 0, &r);
	assert_status(&r, 206);
	http_result_release(&r);
	assert_assignment(id, "multi-1", "downloading", "");
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", shas[1]);
	device_get(tok, ppath, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "multi-1", "downloaded", "");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifest_needs"), 3);

	/* A/B: component 0 is image 0 or image 1 (try-each), component 1 is
	 * image 2. One of the alternatives and image 2 are enough. */
	cbor_item_t *ab = cbor_new_definite_map(4), *abc = cbor_new_definite_map(2),
		    *abcomps = cbor_new_definite_array(2), *alts = cbor_new_definite_array(2),
		    *abshared = cbor_new_definite_array(8), *abinst = cbor_new_definite_array(16);
	for (int i = 0; i < 3; i++) {
		cbor_item_t *params = cbor_new_definite_map(3), *dg = cbor_new_definite_array(2),
			    *alt = cbor_new_definite_array(2);
		push(dg, cbor_build_negint8(15));
		push(dg, cbor_build_bytestring(sha_bytes[i], 32));
		add(params, u(3), wrapped(dg));
		add(params, u(14), u(sizes[i]));
		snprintf(uri, sizeof(uri), "https://127.0.0.1/device/v1/payloads/%s", shas[i]);
		add(params, u(21), cbor_build_string(uri));
		if (i < 2) {
			push(alt, u(20));
			push(alt, params);
			push(alts, wrapped(alt));
			continue;
		}
		cbor_decref(&alt);
		push(abshared, u(12));
		push(abshared, u(1));
		push(abshared, u(20));
		push(abshared, params);
	}
	for (int i = 0; i < 2; i++) {
		uint8_t idb = (uint8_t)(0x10 + i);
		cbor_item_t *id_arr = cbor_new_definite_array(1);
		push(id_arr, cbor_build_bytestring(&idb, 1));
		push(abcomps, id_arr);
	}
	/* shared: index 1 parameters first (above), then index 0's try-each */
	push(abshared, u(12));
	push(abshared, u(0));
	push(abshared, u(15));
	push(abshared, alts);
	for (int i = 0; i < 2; i++) {
		push(abinst, u(12));
		push(abinst, u((uint64_t)i));
		push(abinst, u(21));
		push(abinst, u(2));
	}
	push(abinst, u(12));
	push(abinst, u(0));
	push(abinst, u(3));
	push(abinst, u(15));
	push(abinst, u(12));
	push(abinst, u(1));
	push(abinst, u(3));
	push(abinst, u(15));
	add(abc, u(2), abcomps);
	add(abc, u(4), wrapped(abshared));
	add(ab, u(1), u(1));
	add(ab, u(2), u(5));
	add(ab, u(3), wrapped(abc));
	add(ab, u(20), wrapped(abinst));
	env = tb_envelope(ab, K.oem_key, NULL, NULL, 0, &len);
	in_dir(out, "ab.suit");
	write_file(out, env, len);
	free(env);
	struct manifest mab;
	j = upload_ok("ab.suit", &mab);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "fetches")), 3);
	json_decref(j);
	add_device("multi-2", NULL, tok, sizeof(tok));
	id = deploy_devices(&mab, "[\"multi-2\"]");
	expect_envelope(tok, "seq=0", &mab);
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", shas[2]);
	device_get(tok, ppath, &r);
	http_result_release(&r);
	assert_assignment(id, "multi-2", "downloading", "");
	snprintf(ppath, sizeof(ppath), "/device/v1/payloads/%s", shas[1]); /* slot B */
	device_get(tok, ppath, &r);
	http_result_release(&r);
	assert_assignment(id, "multi-2", "downloaded", "");
	manifest_release(&mab);
	manifest_release(&m);
}
END_TEST

/* [manifests] dependency_max_depth and dependency_max_size bound the
 * tree of integrated dependencies an upload carries. */
START_TEST(test_config_bounds)
{
	char path[256], out[256], log[4096];
	struct manifest m;
	struct http_result r;

	start_with(false, "dependency_max_depth = 1\ndependency_max_size = 2K\n");
	payload("app.bin", 300, 7, K.app, K.app_sha);
	/* leaf (integrated payload 300 bytes) < mid < top */
	create("leaf.suit", K.os_key, K.app, "leaf", "--integrated", NULL, NULL, NULL, NULL, NULL);
	in_dir(path, "leaf.suit");
	create("mid.suit", K.os_key, K.app, "mid", "--dependency", path, NULL, NULL, NULL, NULL);
	in_dir(path, "mid.suit");
	create("top.suit", K.oem_key, K.app, "top", "--dependency", path, NULL, NULL, NULL, NULL);
	json_decref(upload_ok("mid.suit", &m)); /* one level: within the bound */
	manifest_release(&m);
	upload_refused("top.suit", "manifest:dependency-limit", NULL);
	/* A dependency envelope over 2K in all. */
	unsigned char big[3000];
	memset(big, 0x5a, sizeof(big));
	in_dir(path, "big.bin");
	write_file(path, big, sizeof(big));
	in_dir(out, "bigdep.suit");
	ck_assert_int_eq(harness_cli(&P, log, sizeof(log), "manifest", "create", "--key", K.os_key,
				     "--payload", path, "--vendor-domain", "example.com",
				     "--class-info", "big", "--sequence", "1", "--integrated", "-o",
				     out, (char *)NULL),
			 0);
	create("bigtop.suit", K.oem_key, K.app, "bigtop", "--dependency", out, NULL, NULL, NULL,
	       NULL);
	upload(("bigtop.suit"), &r);
	assert_problem(&r, 422, "manifest:dependency-limit", NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "dependency_max_size"));
	http_result_release(&r);
}
END_TEST

/* The trust-domains draft's own examples (tests/data/suit/trust-domains),
 * with their published key. */
START_TEST(test_draft_examples)
{
	const char *src = getenv("SUITD_SRC") ? getenv("SUITD_SRC") : ".";
	char path[512];
	struct http_result r;
	size_t len;
	unsigned char *env;
	json_t *j, *d0;
	const char *dep = "0f02caf6d3e61920d36bf3cea7f862a13bb8fb1f09c3f4c29b121feab78ef3d8";

	start(true);
#define UPLOAD(name)                                                                            \
	do {                                                                                    \
		snprintf(path, sizeof(path), "%s/tests/data/suit/trust-domains/%s", src, name); \
		env = read_all(path, &len);                                                     \
		harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,                   \
				"application/suit-envelope+cose", env, len, &r);                \
		free(env);                                                                      \
	} while (0)
	/* Example 2 (integrated) first: the dependency is verified inside it. */
	UPLOAD("example2_integrated.suit");
	assert_status(&r, 201);
	j = body_json(&r);
	http_result_release(&r);
	d0 = json_array_get(json_object_get(j, "dependencies"), 0);
	ck_assert(json_is_true(json_object_get(d0, "integrated")));
	ck_assert(json_is_true(json_object_get(d0, "present")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d0, "digest"), "value")),
			 dep);
	json_decref(j);
	/* Example 1 names the same component and sequence: delete example 2. */
	api("DELETE",
	    "/api/v1/manifests/88e1199580864eb1d1ad35eb5925be68ca565ee3bb39c27cdb31ceda4dd667df",
	    NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	/* Example 1 by URI before its dependency is stored: present false. */
	UPLOAD("example1_process.suit");
	assert_status(&r, 201);
	j = body_json(&r);
	http_result_release(&r);
	d0 = json_array_get(json_object_get(j, "dependencies"), 0);
	ck_assert(json_is_false(json_object_get(d0, "present")));
	ck_assert_str_eq(json_string_value(json_object_get(d0, "uri")),
			 "http://example.com/dependent.suit");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "fetches"), 0), "uri")),
			 "http://example.com/dependent.suit");
	json_decref(j);
	api("DELETE",
	    "/api/v1/manifests/aeba316a9a1e38253b29e6c99b60538368b8ac8b5e6b9ace1d239970830bbe62",
	    NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	/* Example 0, then example 1 again: linked by digest. */
	UPLOAD("example0_dependent.suit");
	assert_status(&r, 201);
	ck_assert_ptr_nonnull(strstr(r.body, dep));
	http_result_release(&r);
	UPLOAD("example1_process.suit");
	assert_status(&r, 201);
	j = body_json(&r);
	http_result_release(&r);
	d0 = json_array_get(json_object_get(j, "dependencies"), 0);
	ck_assert(json_is_true(json_object_get(d0, "present")));
	ck_assert(json_is_true(json_object_get(d0, "stored")));
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(d0, "signers"), 0), "result")),
			 "verified");
	json_decref(j);
	/* Fetched from example.com, not from suitd: linked, but no need. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM manifest_dependencies "
					     "WHERE dependency_id IS NOT NULL AND served = 0"),
			 1);
#undef UPLOAD
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-dependencies");
	TCase *tc = tcase_create("dependencies");

	tcase_add_checked_fixture(tc, setup, fleet_teardown);
	tcase_add_test(tc, test_dependents);
	tcase_add_test(tc, test_envelope_is_a_need);
	tcase_add_test(tc, test_multi_image);
	tcase_add_test(tc, test_config_bounds);
	tcase_add_test(tc, test_draft_examples);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return check_run(s);
}
