/* Helpers of the fleet fixture (fleet.h). Test-only. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fleet.h"

struct suitd_proc P;
struct fleet_fixture F;

void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long size;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, (size_t)size, f);
	ck_assert_uint_eq(*len, (size_t)size);
	buf[*len] = '\0'; /* callers may read a text file as a string */
	fclose(f);
	return buf;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

json_t *body_json(const struct http_result *r)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);

	ck_assert_msg(j != NULL, "body is not JSON: %s", r->body ? r->body : "(empty)");
	return j;
}

const char *hdr(const struct http_result *r, const char *name)
{
	static char v[512];

	return http_header(r, name, v, sizeof(v));
}

void assert_status(const struct http_result *r, long status)
{
	ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status,
		      r->body ? r->body : "");
}

/* A problem+json answer with this status, slug and (when not NULL) detail. */
void assert_problem(const struct http_result *r, long status, const char *slug, const char *detail)
{
	char type[96];
	json_t *j;

	assert_status(r, status);
	ck_assert_str_eq(hdr(r, "Content-Type"), "application/problem+json");
	j = body_json(r);
	snprintf(type, sizeof(type), "urn:suitd:%s", slug);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	if (detail)
		ck_assert_msg(strcmp(json_string_value(json_object_get(j, "detail")), detail) == 0,
			      "detail '%s', want '%s'",
			      json_string_value(json_object_get(j, "detail")), detail);
	json_decref(j);
}

/* An admin API request with a JSON body (or none). */
void api(const char *method, const char *path, const char *json, struct http_result *r)
{
	harness_request(&P, method, path, P.admin_key, json ? "application/json" : NULL, json,
			json ? strlen(json) : 0, r);
}

/* max-age of Cache-Control, -1 when absent or in another form. */
long max_age(const struct http_result *r)
{
	const char *cc = hdr(r, "Cache-Control");
	char *end;
	long v;

	if (!cc || strncmp(cc, "max-age=", 8) != 0)
		return -1;
	v = strtol(cc + 8, &end, 10);
	return *end ? -1 : v;
}

void assert_max_age(const struct http_result *r, long lo, long hi)
{
	long v = max_age(r);

	ck_assert_msg(v >= lo && v <= hi, "Cache-Control '%s', want max-age in %ld..%ld",
		      hdr(r, "Cache-Control") ? hdr(r, "Cache-Control") : "(none)", lo, hi);
}

/* `suitd manifest create` into DIR/NAME.suit, uploaded (201), its facts read
 * from the upload's JSON. */
void make_manifest(const char *name, const char *class_info, const char *seq, struct manifest *m)
{
	char out[256], desc[64];
	struct http_result r;
	json_t *j, *c0;

	snprintf(out, sizeof(out), "%s/%s.suit", P.dir, name);
	snprintf(desc, sizeof(desc), "%s firmware", name);
	ck_assert_int_eq(harness_cli(&P, NULL, 0, "manifest", "create", "--key", F.key, "--payload",
				     F.fw, "--vendor-domain", "example.com", "--class-info",
				     class_info, "--sequence", seq, "--description", desc, "-o",
				     out, (char *)NULL),
			 0);
	memset(m, 0, sizeof(*m));
	m->env = read_all(out, &m->env_len);
	harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,
			"application/suit-envelope+cose", m->env, m->env_len, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	snprintf(m->digest, sizeof(m->digest), "%s",
		 json_string_value(json_object_get(json_object_get(j, "digest"), "value")));
	ck_assert_uint_eq(strlen(m->digest), 64);
	c0 = json_array_get(json_object_get(j, "components"), 0);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(c0, "vendor_id")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(c0, "class_id")));
	snprintf(m->vendor, sizeof(m->vendor), "%s",
		 json_string_value(json_object_get(c0, "vendor_id")));
	snprintf(m->class_id, sizeof(m->class_id), "%s",
		 json_string_value(json_object_get(c0, "class_id")));
	json_decref(j);
	http_result_release(&r);
}

void manifest_release(struct manifest *m)
{
	free(m->env);
	m->env = NULL;
}

/* POST /api/v1/devices with this body; 201; the token from the body. */
void create_device(const char *json, char *token, size_t size)
{
	struct http_result r;
	json_t *j;

	api("POST", "/api/v1/devices", json, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "token")));
	if (token)
		snprintf(token, size, "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	http_result_release(&r);
}

void add_device(const char *id, const char *group, char *token, size_t size)
{
	char json[512];

	if (group)
		snprintf(json, sizeof(json), "{\"id\":\"%s\",\"group\":\"%s\"}", id, group);
	else
		snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	create_device(json, token, size);
}

/* POST /api/v1/deployments; 201 expected; returns the id, the body in *ret
 * (when not NULL). */
long deploy(const char *json, json_t **ret)
{
	struct http_result r;
	char loc[64];
	json_t *j;
	long id;

	api("POST", "/api/v1/deployments", json, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	id = (long)json_integer_value(json_object_get(j, "id"));
	ck_assert_int_gt(id, 0);
	snprintf(loc, sizeof(loc), "/api/v1/deployments/%ld", id);
	ck_assert_str_eq(hdr(&r, "Location"), loc);
	http_result_release(&r);
	if (ret)
		*ret = j;
	else
		json_decref(j);
	return id;
}

long deploy_devices(const struct manifest *m, const char *ids_json)
{
	char json[1024];

	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"devices\":%s}}", m->digest,
		 ids_json);
	return deploy(json, NULL);
}

/* GET /device/v1/manifest?QUERY with this device token; extra header (e.g.
 * If-None-Match) may be NULL. */
void checkin(const char *token, const char *query, const char *extra, struct http_result *r)
{
	char path[256];
	const char *h[] = {extra, NULL};

	snprintf(path, sizeof(path), "%s%s%s", CHECKIN, query ? "?" : "", query ? query : "");
	harness_request_ex(&P, "GET", path, token, extra ? h : NULL, NULL, 0, r);
}

/* The device got exactly manifest m: 200, the bytes of the .suit file, its
 * ETag, its media type, an active poll interval. */
void assert_envelope(const struct http_result *r, const struct manifest *m)
{
	char etag[80];

	assert_status(r, 200);
	ck_assert_str_eq(hdr(r, "Content-Type"), "application/suit-envelope+cose");
	snprintf(etag, sizeof(etag), "\"%s\"", m->digest);
	ck_assert_str_eq(hdr(r, "ETag"), etag);
	ck_assert_uint_eq(r->body_len, m->env_len);
	ck_assert_msg(memcmp(r->body, m->env, m->env_len) == 0,
		      "the envelope differs from the .suit file");
	assert_max_age(r, ACTIVE_MIN, ACTIVE_MAX);
}

/* Nothing to do: 204, no body, no ETag, the idle poll interval. */
void assert_nothing(const struct http_result *r)
{
	assert_status(r, 204);
	ck_assert_uint_eq(r->body_len, 0);
	ck_assert_ptr_null(hdr(r, "ETag"));
	assert_max_age(r, IDLE_MIN, IDLE_MAX);
}

void expect_envelope(const char *token, const char *query, const struct manifest *m)
{
	struct http_result r;

	checkin(token, query, NULL, &r);
	assert_envelope(&r, m);
	http_result_release(&r);
}

void expect_nothing(const char *token, const char *query)
{
	struct http_result r;

	checkin(token, query, NULL, &r);
	assert_nothing(&r);
	http_result_release(&r);
}

/* GET /api/v1/deployments/ID. */
json_t *deployment(long id)
{
	struct http_result r;
	char path[64];
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld", id);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	http_result_release(&r);
	return j;
}

long count_of(json_t *dep, const char *state)
{
	json_t *v = json_object_get(json_object_get(dep, "counts"), state);

	ck_assert_msg(json_is_integer(v), "counts.%s missing", state);
	return (long)json_integer_value(v);
}

/* The deployment's counts are exactly these ("state=n,state=n"), every other
 * state 0. */
/* A download's transitions (downloading, downloaded) are recorded in the
 * group commit a moment after the bytes went out (docs/design.md, "Device
 * transitions in the group commit"): the state checks below look again
 * for up to SETTLE_TRIES * 50 ms before they fail. */
#define SETTLE_TRIES 100

static void settle_pause(void)
{
	struct timespec ts = {0, 50 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

void assert_counts(long id, const char *want)
{
	static const char *const states[] = {"pending",	   "delivered", "downloading", "downloaded",
					     "installing", "installed", "confirmed",   "failed",
					     "timed_out",  "canceled",	"skipped"};
	const size_t count = sizeof(states) / sizeof(states[0]);
	long n[sizeof(states) / sizeof(states[0])];

	for (size_t i = 0; i < count; i++) {
		const char *at = strstr(want, states[i]);
		/* "pending=1": match the name exactly, not as a suffix. */
		while (at && ((at != want && at[-1] != ',') || at[strlen(states[i])] != '='))
			at = strstr(at + 1, states[i]);
		n[i] = at ? strtol(at + strlen(states[i]) + 1, NULL, 10) : 0;
	}
	for (unsigned attempt = 1;; attempt++) {
		json_t *d = deployment(id);
		size_t wrong = count;

		ck_assert_uint_eq(json_object_size(json_object_get(d, "counts")), 11);
		for (size_t i = 0; i < count && wrong == count; i++)
			if (count_of(d, states[i]) != n[i])
				wrong = i;
		if (wrong < count && attempt >= SETTLE_TRIES)
			ck_assert_msg(0, "deployment %ld: %s = %ld, want %ld", id, states[wrong],
				      count_of(d, states[wrong]), n[wrong]);
		json_decref(d);
		if (wrong == count)
			return;
		settle_pause();
	}
}

/* One device's assignment in deployment id: state and reason ("" = null). */
void assignment(long id, const char *device, char *state, size_t state_size, char *reason,
		size_t reason_size)
{
	struct http_result r;
	char path[96];
	json_t *j, *items, *it;
	size_t i;
	bool found = false;

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/devices", id);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	items = json_object_get(j, "items");
	json_array_foreach(items, i, it)
	{
		if (strcmp(json_string_value(json_object_get(it, "device")), device) != 0)
			continue;
		found = true;
		snprintf(state, state_size, "%s", json_string_value(json_object_get(it, "state")));
		json_t *rs = json_object_get(it, "reason");
		if (reason)
			snprintf(reason, reason_size, "%s",
				 json_is_string(rs) ? json_string_value(rs) : "");
		ck_assert(json_is_string(json_object_get(it, "updated_at")));
	}
	json_decref(j);
	http_result_release(&r);
	ck_assert_msg(found, "device %s is not in deployment %ld", device, id);
}

void assert_assignment(long id, const char *device, const char *state, const char *reason)
{
	char s[32], why[256];

	for (unsigned attempt = 1;; attempt++) {
		assignment(id, device, s, sizeof(s), why, sizeof(why));
		if (strcmp(s, state) == 0 || attempt >= SETTLE_TRIES)
			break;
		settle_pause();
	}
	ck_assert_msg(strcmp(s, state) == 0, "deployment %ld, device %s: state %s, want %s", id,
		      device, s, state);
	if (reason)
		ck_assert_msg(strcmp(why, reason) == 0,
			      "deployment %ld, device %s: reason '%s', want '%s'", id, device, why,
			      reason);
}

/* ---- Fixture ---- */

/* The suite's config; extra lines go to [devices]. */
/* The config: DEVICES as the [devices] section; trusted: the author key
 * and the SUIT spec examples' key. */
static void write_config(const char *devices)
{
	char conf[2048];

	snprintf(conf, sizeof(conf),
		 "[devices]\n%s"
		 "[manifests]\ntrust_anchor = %s\n"
		 "trust_anchor = %s/tests/data/suit/suit-spec-examples-p256.pub.pem\n",
		 devices, F.pub, getenv("SUITD_SRC") ? getenv("SUITD_SRC") : ".");
	harness_write_config(&P, conf);
}

void fleet_write_config(const char *devices_extra)
{
	char devices[1024];

	/* devices_extra may set its own max_report_size. */
	snprintf(devices, sizeof(devices),
		 "auth = token\nseen_flush = 60\npoll_interval = 100\n"
		 "poll_interval_active = 10\npoll_jitter = 20\n%s%s",
		 strstr(devices_extra, "max_report_size") ? "" : "max_report_size = 1K\n",
		 devices_extra);
	write_config(devices);
}

void fleet_setup_with(size_t fw_len, bool random_fw, const char *devices)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct http_result r;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	FILE *f;

	harness_setup(&P, "");
	snprintf(F.key, sizeof(F.key), "%s/author.key", P.dir);
	snprintf(F.pub, sizeof(F.pub), "%s/author.pub", P.dir);
	snprintf(F.fw, sizeof(F.fw), "%s/fw.bin", P.dir);
	f = fopen(F.key, "w");
	ck_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	f = fopen(F.pub, "w");
	ck_assert(PEM_write_PUBKEY(f, k));
	fclose(f);
	EVP_PKEY_free(k);
	F.fw_len = fw_len;
	F.fw_bytes = malloc(F.fw_len);
	ck_assert_ptr_nonnull(F.fw_bytes);
	for (size_t i = 0; i < F.fw_len; i++) {
		if (!random_fw) {
			F.fw_bytes[i] = (unsigned char)(i * 13 + 5);
			continue;
		}
		x ^= x << 13; /* xorshift64: bytes that do not compress */
		x ^= x >> 7;
		x ^= x << 17;
		F.fw_bytes[i] = (unsigned char)x;
	}
	write_file(F.fw, F.fw_bytes, F.fw_len);
	sha256_hex(F.fw_bytes, F.fw_len, F.fw_sha);
	if (devices)
		write_config(devices);
	else
		fleet_write_config("");
	harness_admin_key(&P);
	harness_start(&P);
	harness_request(&P, "POST", "/api/v1/payloads", P.admin_key, "application/octet-stream",
			F.fw_bytes, F.fw_len, &r);
	assert_status(&r, 201);
	http_result_release(&r);
	make_manifest("m1", "sensor-v1", "1", &F.m1);
}

void fleet_setup(void)
{
	fleet_setup_with(50000, false, NULL);
}

void fleet_teardown(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_db_intact(&P);
	/* A device has at most one active assignment. */
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM (SELECT device_num FROM "
				    "assignments WHERE state IN ('pending', 'delivered', "
				    "'downloading', 'downloaded', 'installing', "
				    "'installed') GROUP BY device_num HAVING count(*) > 1) AS x"),
		0);
	/* The trigger-kept counters equal a count of the assignments. */
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM (SELECT deployment_id, stage, state, "
				    "count(*) AS n FROM assignments GROUP BY 1, 2, 3 "
				    "EXCEPT SELECT deployment_id, stage, state, n "
				    "FROM assignment_counts WHERE n > 0) AS x"),
		0);
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM (SELECT deployment_id, stage, state, n "
				    "FROM assignment_counts WHERE n > 0 EXCEPT SELECT "
				    "deployment_id, stage, state, count(*) FROM assignments "
				    "GROUP BY 1, 2, 3) AS x"),
		0);
	/* The trigger-kept report usage equals the stored reports, both ways
	 * (a device with no reports has no row or a zero one). */
	ck_assert_int_eq(harness_sql_int(&P,
					 "SELECT count(*) FROM (SELECT device_num, count(*), "
					 "sum(length(body)) FROM reports GROUP BY 1 EXCEPT SELECT "
					 "device_num, reports, bytes FROM report_usage) AS x"),
			 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM report_usage u WHERE "
					     "u.reports != (SELECT count(*) FROM reports r "
					     "WHERE r.device_num = u.device_num)"),
			 0);
	manifest_release(&F.m1);
	free(F.fw_bytes);
	F.fw_bytes = NULL;
	harness_cleanup(&P);
}

/* ---- Reports ---- */

/* POST /device/v1/reports with this token, content type and body. */
void report_ex(const char *token, const char *type, const void *body, size_t len,
	       struct http_result *r)
{
	harness_request(&P, "POST", REPORTS, token, type, body, len, r);
}

void report(const char *token, const char *json, struct http_result *r)
{
	report_ex(token, "application/json", json, strlen(json), r);
}

/* The report is accepted: 204, no body. */
void report_ok(const char *token, const char *json)
{
	struct http_result r;

	report(token, json, &r);
	assert_status(&r, 204);
	ck_assert_uint_eq(r.body_len, 0);
	http_result_release(&r);
}

/* The report is refused with this status, slug and detail (may be NULL). */
void report_refused(const char *token, const char *json, long status, const char *slug,
		    const char *detail)
{
	struct http_result r;

	report(token, json, &r);
	assert_problem(&r, status, slug, detail);
	http_result_release(&r);
}

/* {"manifest": digest, "state": state} plus extra members (may be ""). */
const char *rep(const struct manifest *m, const char *state, const char *extra)
{
	static char buf[4][1024];
	static int k;
	char *b = buf[k++ % 4];

	snprintf(b, sizeof(buf[0]), "{\"manifest\":\"%s\",\"state\":\"%s\"%s%s}", m->digest, state,
		 extra[0] ? "," : "", extra);
	return b;
}

size_t suit_report_invoked(const struct manifest *m, unsigned char out[64])
{
	/* {99: ["", [-16, digest]], 3: [["", 9, 0, 0, {}]], 4: true} */
	static const unsigned char head[] = {0xa3, 0x18, 0x63, 0x82, 0x60, 0x82, 0x2f, 0x58, 0x20};
	static const unsigned char tail[] = {0x03, 0x81, 0x85, 0x40, 0x09,
					     0x00, 0x00, 0xa0, 0x04, 0xf5};
	size_t n = sizeof(head);

	memcpy(out, head, n);
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(m->digest + 2 * i, "%2x", &v), 1);
		out[n++] = (unsigned char)v;
	}
	memcpy(out + n, tail, sizeof(tail));
	return n + sizeof(tail);
}
