/* hawkBit DDI conformance with raw requests (api/ddi/, docs/ddi.md): every
 * JSON field name and type of the base poll, deploymentBase, installedBase
 * and cancelAction as hawkBit's DDI models and its clients read them
 * (/work/shared/ddi.md §2-§6), feedback and its status codes (200, 404,
 * 410), configData merge/replace/remove, the .MD5SUM file, artifact Range
 * and If-Range, authentication (401, 403, 404 tenant) and hostile bodies.
 * The real daemon over real TLS on loopback, as every e2e suite. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fleet.h"
#include "tests/check_run.h"

#define BASE "/DEFAULT/controller/v1/"

/* [devices] as fleet_write_config, plus [ddi]. */
#define DDI_CONF                                                                          \
	"auth = token\nseen_flush = 60\npoll_interval = 100\npoll_interval_active = 10\n" \
	"poll_jitter = 20\nmax_report_size = 1K\n[ddi]\nenabled = on\n"

static void ddi_setup(void)
{
	fleet_setup_with(50000, false, DDI_CONF);
}

/* A DDI request: PATH is absolute, AUTH the whole Authorization value
 * (NULL: none), BODY JSON (NULL: none). */
static void ddi_req(const char *method, const char *path, const char *auth, const char *body,
		    const char *extra, struct http_result *r)
{
	char a[320];
	const char *headers[4] = {NULL};
	unsigned n = 0;

	if (auth) {
		snprintf(a, sizeof(a), "Authorization: %s", auth);
		headers[n++] = a;
	}
	if (body)
		headers[n++] = "Content-Type: application/json";
	if (extra)
		headers[n++] = extra;
	harness_request_ex(&P, method, path, NULL, headers, body, body ? strlen(body) : 0, r);
}

/* "TargetToken <tok>" */
static const char *target(const char *tok)
{
	static char buf[4][256];
	static unsigned next;
	char *b = buf[next++ % 4];

	snprintf(b, 256, "TargetToken %s", tok);
	return b;
}

/* The path of a DDI resource of controller id. */
static const char *path_of(const char *id, const char *suffix)
{
	static char buf[4][512];
	static unsigned next;
	char *b = buf[next++ % 4];

	snprintf(b, 512, BASE "%s%s", id, suffix);
	return b;
}

/* The path part of an absolute href of this daemon. */
static const char *href_path(json_t *link)
{
	const char *href = json_string_value(json_object_get(link, "href"));

	ck_assert_ptr_nonnull(href);
	ck_assert_msg(strncmp(href, P.url, strlen(P.url)) == 0, "href %s is not on %s", href,
		      P.url);
	return href + strlen(P.url);
}

/* GET the base poll: 200, exactly {config: {polling: {sleep}}, _links}. */
static json_t *poll(const char *id, const char *tok)
{
	struct http_result r;
	json_t *j;

	ddi_req("GET", path_of(id, ""), target(tok), NULL, NULL, &r);
	assert_status(&r, 200);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
	j = body_json(&r);
	http_result_release(&r);
	ck_assert_uint_eq(json_object_size(j), 2);
	json_t *polling = json_object_get(json_object_get(j, "config"), "polling");
	ck_assert_uint_eq(json_object_size(json_object_get(j, "config")), 1);
	ck_assert_uint_eq(json_object_size(polling), 1);
	ck_assert(json_is_string(json_object_get(polling, "sleep")));
	ck_assert(json_is_object(json_object_get(j, "_links")));
	return j;
}

/* polling.sleep as seconds; HH:MM:SS exactly (clients use strptime). */
static long sleep_seconds(json_t *poll_body)
{
	const char *s = json_string_value(json_object_get(
		json_object_get(json_object_get(poll_body, "config"), "polling"), "sleep"));
	unsigned h, m, sec;
	int end = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), 8);
	ck_assert_int_eq(sscanf(s, "%2u:%2u:%2u%n", &h, &m, &sec, &end), 3);
	ck_assert_int_eq(end, 8);
	ck_assert_uint_lt(m, 60);
	ck_assert_uint_lt(sec, 60);
	return (long)(h * 3600 + m * 60 + sec);
}

static json_t *link_of(json_t *poll_body, const char *rel)
{
	return json_object_get(json_object_get(poll_body, "_links"), rel);
}

/* The link names of a poll, sorted, comma-joined. */
static void link_names(json_t *poll_body, char *out, size_t size)
{
	static const char *const rels[] = {"cancelAction", "configData", "deploymentBase",
					   "installedBase"};
	size_t used = 0, found = 0;

	out[0] = '\0';
	for (size_t i = 0; i < 4; i++)
		if (link_of(poll_body, rels[i])) {
			used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "",
						 rels[i]);
			found++;
		}
	ck_assert_uint_eq(json_object_size(json_object_get(poll_body, "_links")), found);
}

static void assert_links(const char *id, const char *tok, const char *want)
{
	char got[128];
	json_t *j = poll(id, tok);

	link_names(j, got, sizeof(got));
	json_decref(j);
	ck_assert_msg(strcmp(got, want) == 0, "links [%s], want [%s]", got, want);
}

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	ck_assert(EVP_Digest(data, len, d, &n, md, NULL));
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* One registered device with its token. */
struct dev {
	char id[32];
	char tok[128];
};

static void new_dev(struct dev *d, const char *id)
{
	snprintf(d->id, sizeof(d->id), "%s", id);
	add_device(id, NULL, d->tok, sizeof(d->tok));
}

/* The deployment deploy_and_action made last. */
static long last_deployment;

/* Deploy m1 to device d; the action id the poll links. */
static long deploy_and_action(const struct dev *d)
{
	char ids[64];
	json_t *j;

	snprintf(ids, sizeof(ids), "[\"%s\"]", d->id);
	last_deployment = deploy_devices(&F.m1, ids);
	j = poll(d->id, d->tok);
	json_t *l = link_of(j, "deploymentBase");
	ck_assert_ptr_nonnull(l);
	long action = 0;
	const char *p = strstr(href_path(l), "/deploymentBase/");
	ck_assert_ptr_nonnull(p);
	action = strtol(p + strlen("/deploymentBase/"), NULL, 10);
	ck_assert_int_gt(action, 0);
	json_decref(j);
	return action;
}

static long deployment_of(const char *device)
{
	char path[128];
	struct http_result r;
	json_t *j;
	long id;

	snprintf(path, sizeof(path), "/api/v1/devices/%s", device);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	id = (long)json_integer_value(
		json_object_get(json_object_get(j, "assignment"), "deployment"));
	json_decref(j);
	http_result_release(&r);
	return id;
}

/* The feedback of action on device d answers status. */
static void feedback(const struct dev *d, long action, const char *body, long status)
{
	char suffix[96];
	struct http_result r;

	snprintf(suffix, sizeof(suffix), "/deploymentBase/%ld/feedback", action);
	ddi_req("POST", path_of(d->id, suffix), target(d->tok), body, NULL, &r);
	ck_assert_msg(r.status == status, "feedback %s: %ld, want %ld: %.300s", body, r.status,
		      status, r.body ? r.body : "");
	if (status >= 400)
		ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	http_result_release(&r);
}

#define FB(execution, finished)                                                            \
	"{\"id\":\"\",\"time\":\"20260101T000000\",\"status\":{\"execution\":\"" execution \
	"\",\"result\":{\"finished\":\"" finished "\"},\"details\":[]}}"

/* The shape of deploymentBase/installedBase for m1 (one chunk, F.fw). */
static void assert_action_shape(json_t *j, long action, char *download_path, size_t size)
{
	char want_id[24], sha1[41], md5[33];
	json_t *dep = json_object_get(j, "deployment"), *chunk, *art, *hashes, *links;

	snprintf(want_id, sizeof(want_id), "%ld", action);
	ck_assert_uint_eq(json_object_size(j), 2);
	ck_assert(json_is_string(json_object_get(j, "id")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), want_id);
	ck_assert_uint_eq(json_object_size(dep), 3); /* no maintenanceWindow: none is set */
	ck_assert_str_eq(json_string_value(json_object_get(dep, "download")), "forced");
	ck_assert_str_eq(json_string_value(json_object_get(dep, "update")), "forced");
	ck_assert_uint_eq(json_array_size(json_object_get(dep, "chunks")), 1);
	chunk = json_array_get(json_object_get(dep, "chunks"), 0);
	ck_assert_uint_eq(json_object_size(chunk), 4);
	ck_assert_str_eq(json_string_value(json_object_get(chunk, "part")), "os");
	/* No CoSWID in m1: the version is its sequence number, as a string. */
	ck_assert_str_eq(json_string_value(json_object_get(chunk, "version")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(chunk, "name")), F.m1.digest);
	ck_assert_uint_eq(json_array_size(json_object_get(chunk, "artifacts")), 1);
	art = json_array_get(json_object_get(chunk, "artifacts"), 0);
	ck_assert_uint_eq(json_object_size(art), 4);
	/* Uploaded without a name: the SHA-256 names the file. */
	ck_assert_str_eq(json_string_value(json_object_get(art, "filename")), F.fw_sha);
	ck_assert(json_is_integer(json_object_get(art, "size")));
	ck_assert_int_eq(json_integer_value(json_object_get(art, "size")), (long)F.fw_len);
	hashes = json_object_get(art, "hashes");
	ck_assert_uint_eq(json_object_size(hashes), 3);
	digest_hex(EVP_sha1(), F.fw_bytes, F.fw_len, sha1);
	digest_hex(EVP_md5(), F.fw_bytes, F.fw_len, md5);
	ck_assert_str_eq(json_string_value(json_object_get(hashes, "sha1")), sha1);
	ck_assert_str_eq(json_string_value(json_object_get(hashes, "md5")), md5);
	ck_assert_str_eq(json_string_value(json_object_get(hashes, "sha256")), F.fw_sha);
	links = json_object_get(art, "_links");
	ck_assert_uint_eq(json_object_size(links), 4);
	snprintf(download_path, size, "%s", href_path(json_object_get(links, "download")));
	ck_assert_str_eq(href_path(json_object_get(links, "download-http")), download_path);
	char md5sum[600];
	snprintf(md5sum, sizeof(md5sum), "%s.MD5SUM", download_path);
	ck_assert_str_eq(href_path(json_object_get(links, "md5sum")), md5sum);
	ck_assert_str_eq(href_path(json_object_get(links, "md5sum-http")), md5sum);
}

static json_t *get_json(const struct dev *d, const char *path, long status)
{
	struct http_result r;
	json_t *j = NULL;

	ddi_req("GET", path, target(d->tok), NULL, NULL, &r);
	ck_assert_msg(r.status == status, "GET %s: %ld, want %ld: %.300s", path, r.status, status,
		      r.body ? r.body : "");
	if (status == 200)
		j = body_json(&r);
	http_result_release(&r);
	return j;
}

/* ---- Tests ---- */

/* Poll, deploymentBase, download with Range and If-Range, MD5SUM, feedback
 * to confirmed, installedBase; every field name and type. */
START_TEST(test_happy_path)
{
	struct dev d;
	struct http_result r;
	char path[600], dl[600], want_md5[160], md5[33], etag[80], if_range[128];
	json_t *j;
	long action;

	new_dev(&d, "ddi-1");
	/* Nothing to do: the idle interval; configData asked (no attributes). */
	j = poll(d.id, d.tok);
	long s = sleep_seconds(j);
	ck_assert_int_ge(s, IDLE_MIN);
	ck_assert_int_le(s, IDLE_MAX);
	ck_assert_str_eq(href_path(link_of(j, "configData")), path_of(d.id, "/configData"));
	json_decref(j);
	assert_links(d.id, d.tok, "configData");

	action = deploy_and_action(&d);
	j = poll(d.id, d.tok);
	s = sleep_seconds(j);
	ck_assert_int_ge(s, ACTIVE_MIN);
	ck_assert_int_le(s, ACTIVE_MAX);
	json_decref(j);
	assert_links(d.id, d.tok, "configData,deploymentBase");
	assert_assignment(deployment_of(d.id), d.id, "pending", NULL);

	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld?c=1", d.id, action);
	j = get_json(&d, path, 200);
	assert_action_shape(j, action, dl, sizeof(dl));
	json_decref(j);
	long dep = deployment_of(d.id);
	assert_assignment(dep, d.id, "delivered", NULL);

	/* Range: the first 100 bytes, 206; the ETag is the payload's. */
	ddi_req("GET", dl, target(d.tok), NULL, "Range: bytes=0-99", &r);
	assert_status(&r, 206);
	ck_assert_uint_eq(r.body_len, 100);
	ck_assert_mem_eq(r.body, F.fw_bytes, 100);
	snprintf(want_md5, sizeof(want_md5), "bytes 0-99/%zu", F.fw_len);
	ck_assert_str_eq(hdr(&r, "Content-Range"), want_md5);
	snprintf(etag, sizeof(etag), "%s", hdr(&r, "ETag"));
	http_result_release(&r);
	assert_assignment(dep, d.id, "downloading", NULL);
	/* If-Range with another validator: the whole body, 200. */
	ddi_req("GET", dl, target(d.tok), NULL, "If-Range: \"other\"", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	/* Resume with the right validator: the rest, 206, to the last byte. */
	snprintf(if_range, sizeof(if_range), "If-Range: %s", etag);
	const char *hs[] = {NULL, "Range: bytes=100-", if_range, NULL};
	char auth[200];
	snprintf(auth, sizeof(auth), "Authorization: TargetToken %s", d.tok);
	hs[0] = auth;
	harness_request_ex(&P, "GET", dl, NULL, hs, NULL, 0, &r);
	assert_status(&r, 206);
	ck_assert_uint_eq(r.body_len, F.fw_len - 100);
	ck_assert_mem_eq(r.body, F.fw_bytes + 100, F.fw_len - 100);
	http_result_release(&r);
	assert_assignment(dep, d.id, "downloaded", NULL);
	/* Past the end: 416 with the size. */
	ddi_req("GET", dl, target(d.tok), NULL, "Range: bytes=999999-", &r);
	assert_status(&r, 416);
	http_result_release(&r);

	/* The .MD5SUM file: "<md5>  <filename>". */
	snprintf(path, sizeof(path), "%s.MD5SUM", dl);
	ddi_req("GET", path, target(d.tok), NULL, NULL, &r);
	assert_status(&r, 200);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "text/plain");
	digest_hex(EVP_md5(), F.fw_bytes, F.fw_len, md5);
	snprintf(want_md5, sizeof(want_md5), "%s  %s\n", md5, F.fw_sha);
	ck_assert_uint_eq(r.body_len, strlen(want_md5));
	ck_assert_mem_eq(r.body, want_md5, r.body_len);
	snprintf(path, sizeof(path), "attachment;filename=%s.MD5SUM", F.fw_sha);
	ck_assert_str_eq(hdr(&r, "Content-Disposition"), path);
	http_result_release(&r);
	/* Another name in the module: 404. */
	snprintf(path, sizeof(path), "%.*s/nope.swu", (int)(strrchr(dl, '/') - dl), dl);
	ddi_req("GET", path, target(d.tok), NULL, NULL, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);

	/* Progress while installing; then the final success: confirmed. */
	feedback(&d, action,
		 "{\"id\":1,\"time\":\"20260101T000000\",\"status\":{\"execution\":\"proceeding\","
		 "\"result\":{\"finished\":\"none\",\"progress\":{\"cnt\":1,\"of\":4}},"
		 "\"details\":[\"Installing\"]}}",
		 200);
	assert_assignment(dep, d.id, "installing", NULL);
	feedback(&d, action, FB("closed", "success"), 200);
	assert_assignment(dep, d.id, "confirmed", NULL);
	/* The same final answer again (a lost response): 200; anything else:
	 * 410 Gone, the action is closed. */
	feedback(&d, action, FB("closed", "success"), 200);
	feedback(&d, action, FB("proceeding", "none"), 410);
	feedback(&d, action, FB("closed", "failure"), 410);

	/* No deploymentBase now; installedBase names the action. */
	j = poll(d.id, d.tok);
	snprintf(path, sizeof(path), BASE "%s/installedBase/%ld", d.id, action);
	ck_assert_str_eq(href_path(link_of(j, "installedBase")), path);
	ck_assert_ptr_null(link_of(j, "deploymentBase"));
	json_decref(j);
	j = get_json(&d, path, 200);
	assert_action_shape(j, action, dl, sizeof(dl));
	json_decref(j);
	/* The reports of the device API show the DDI feedback. */
	api("GET", "/api/v1/devices/ddi-1/reports", NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	json_t *newest = json_array_get(json_object_get(j, "items"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(newest, "state")), "confirmed");
	ck_assert_str_eq(json_string_value(json_object_get(newest, "media_type")),
			 "application/vnd.hawkbit.ddi-feedback+json");
	json_decref(j);
	http_result_release(&r);
	/* Unknown actions: 404 on every action resource. */
	get_json(&d, path_of(d.id, "/deploymentBase/99999"), 404);
	get_json(&d, path_of(d.id, "/installedBase/99999"), 404);
	get_json(&d, path_of(d.id, "/deploymentBase/abc"), 404);
	get_json(&d, path_of(d.id, "/cancelAction/99999"), 404);
	feedback(&d, 99999, FB("closed", "success"), 404);
}
END_TEST

/* closed + failure: failed with the details as the reason; the action is
 * not installedBase; installedBase of an open action is 404. */
START_TEST(test_failure)
{
	struct dev d;
	char path[128];
	long action;

	new_dev(&d, "ddi-fail");
	action = deploy_and_action(&d);
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, action);
	json_decref(get_json(&d, path, 200));
	snprintf(path, sizeof(path), BASE "%s/installedBase/%ld", d.id, action);
	get_json(&d, path, 404);
	feedback(&d, action,
		 "{\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"failure\"},"
		 "\"code\":7,\"details\":[\"bad image\",\"rolled back\"]}}",
		 200);
	assert_assignment(last_deployment, d.id, "failed", "bad image; rolled back");
	assert_links(d.id, d.tok, "configData");
	/* A device that cancels its own action: failed, said so. */
	struct dev e;
	new_dev(&e, "ddi-gives-up");
	action = deploy_and_action(&e);
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", e.id, action);
	json_decref(get_json(&e, path, 200));
	feedback(&e, action, FB("canceled", "none"), 200);
	assert_assignment(last_deployment, e.id, "failed", "canceled by the device");
}
END_TEST

/* A cancel of a delivered action reaches the device: cancelAction link,
 * {"id", "cancelAction": {"stopId"}} as strings, feedback closes it. */
START_TEST(test_cancel)
{
	struct dev d;
	struct http_result r;
	char path[128], want[32];
	json_t *j;
	long action, dep;

	new_dev(&d, "ddi-cancel");
	action = deploy_and_action(&d);
	dep = last_deployment;
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, action);
	json_decref(get_json(&d, path, 200));
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", dep);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(dep, d.id, "canceled", NULL);

	j = poll(d.id, d.tok);
	snprintf(path, sizeof(path), BASE "%s/cancelAction/%ld", d.id, action);
	ck_assert_str_eq(href_path(link_of(j, "cancelAction")), path);
	ck_assert_ptr_null(link_of(j, "deploymentBase"));
	json_decref(j);
	j = get_json(&d, path, 200);
	snprintf(want, sizeof(want), "%ld", action);
	ck_assert_uint_eq(json_object_size(j), 2);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), want);
	ck_assert_uint_eq(json_object_size(json_object_get(j, "cancelAction")), 1);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(j, "cancelAction"), "stopId")),
		want);
	json_decref(j);
	/* The canceled action's deploymentBase: 404 (hawkBit's answer). */
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, action);
	get_json(&d, path, 404);
	/* Its feedback: 410, closed. */
	feedback(&d, action, FB("proceeding", "none"), 410);

	/* The device accepts (SWUpdate: closed + success with the stopId). */
	snprintf(path, sizeof(path), BASE "%s/cancelAction/%ld/feedback", d.id, action);
	ddi_req("POST", path, target(d.tok), "{\"status\":{\"execution\":\"bogus\"}}", NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	ddi_req("POST", path, target(d.tok), FB("closed", "success"), NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_links(d.id, d.tok, "configData");
	snprintf(path, sizeof(path), BASE "%s/cancelAction/%ld", d.id, action);
	get_json(&d, path, 404);
	snprintf(path, sizeof(path), BASE "%s/cancelAction/%ld/feedback", d.id, action);
	ddi_req("POST", path, target(d.tok), FB("closed", "success"), NULL, &r);
	assert_problem(&r, 410, "gone", NULL);
	http_result_release(&r);
	/* A pending action canceled before the device saw it: nothing to
	 * tell. */
	struct dev e;
	new_dev(&e, "ddi-cancel-early");
	deploy_and_action(&e);
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", last_deployment);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_links(e.id, e.tok, "configData");
}
END_TEST

static json_t *attributes(const char *id)
{
	char path[128];
	struct http_result r;
	json_t *j, *a;

	snprintf(path, sizeof(path), "/api/v1/devices/%s", id);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	a = json_incref(json_object_get(j, "attributes"));
	json_decref(j);
	http_result_release(&r);
	return a;
}

static void assert_attributes(const char *id, const char *want_json)
{
	json_t *a = attributes(id), *w = json_loads(want_json, 0, NULL);

	ck_assert_ptr_nonnull(w);
	char *got = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_msg(json_equal(a, w), "attributes %s, want %s", got, want_json);
	free(got);
	json_decref(a);
	json_decref(w);
}

static void config_data(const struct dev *d, const char *body, long status)
{
	struct http_result r;

	ddi_req("PUT", path_of(d->id, "/configData"), target(d->tok), body, NULL, &r);
	ck_assert_msg(r.status == status, "configData %s: %ld, want %ld: %.300s", body, r.status,
		      status, r.body ? r.body : "");
	if (status >= 400)
		ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	http_result_release(&r);
}

/* configData: merge (the default), replace, remove; stored as the device's
 * attributes, shown by the API; the link goes once there are some. */
START_TEST(test_config_data)
{
	struct dev d;

	new_dev(&d, "ddi-attrs");
	/* SWUpdate's body: legacy id/time/status, mode replace. */
	config_data(&d,
		    "{\"id\":\"\",\"time\":\"20260101T000000\",\"mode\":\"replace\","
		    "\"status\":{\"result\":{\"finished\":\"success\"},\"execution\":\"closed\","
		    "\"details\":[]},\"data\":{\"hw\":\"rev1\",\"board\":\"b1\"}}",
		    200);
	assert_attributes(d.id, "{\"hw\":\"rev1\",\"board\":\"b1\"}");
	assert_links(d.id, d.tok, "");
	/* RAUC's: no mode, a merge. */
	config_data(&d, "{\"data\":{\"board\":\"b2\",\"serial\":\"42\"}}", 200);
	assert_attributes(d.id, "{\"hw\":\"rev1\",\"board\":\"b2\",\"serial\":\"42\"}");
	config_data(&d, "{\"mode\":\"merge\",\"data\":{\"hw\":\"rev2\"}}", 200);
	assert_attributes(d.id, "{\"hw\":\"rev2\",\"board\":\"b2\",\"serial\":\"42\"}");
	config_data(&d, "{\"mode\":\"remove\",\"data\":{\"serial\":\"\",\"absent\":\"\"}}", 200);
	assert_attributes(d.id, "{\"hw\":\"rev2\",\"board\":\"b2\"}");
	config_data(&d, "{\"mode\":\"replace\",\"data\":{\"only\":\"this\"}}", 200);
	assert_attributes(d.id, "{\"only\":\"this\"}");
	/* Hostile bodies change nothing. */
	config_data(&d, "{\"mode\":\"merge\"}", 400);
	config_data(&d, "{\"data\":[1]}", 400);
	config_data(&d, "{\"data\":{\"n\":1}}", 400);
	config_data(&d, "{\"data\":{\"x\":\"1\"},\"mode\":\"upsert\"}", 400);
	config_data(&d, "{\"data\":{\"x\":\"1\"},\"mode\":5}", 400);
	config_data(&d, "{\"data\":{\"x\":\"1\"", 400);
	config_data(&d, "[]", 400);
	char big[400];
	memset(big, 'k', 200);
	snprintf(big + 200, sizeof(big) - 200, "\":\"v\"}}");
	char body[512];
	snprintf(body, sizeof(body), "{\"data\":{\"%s", big);
	config_data(&d, body, 400);
	/* The sum over the 4 KiB attribute bound: 413. */
	char *many = malloc(64 * 1024);
	size_t used = (size_t)snprintf(many, 64 * 1024, "{\"data\":{");
	for (int i = 0; i < 60; i++)
		used += (size_t)snprintf(many + used, 64 * 1024 - used, "%s\"key%03d\":\"%0100d\"",
					 i ? "," : "", i, i);
	snprintf(many + used, 64 * 1024 - used, "}}");
	config_data(&d, many, 413);
	free(many);
	assert_attributes(d.id, "{\"only\":\"this\"}");
	/* Wrong media type: 415. */
	struct http_result r;
	const char *hs[] = {NULL, "Content-Type: text/plain", NULL};
	char auth[200];
	snprintf(auth, sizeof(auth), "Authorization: TargetToken %s", d.tok);
	hs[0] = auth;
	harness_request_ex(&P, "PUT", path_of(d.id, "/configData"), NULL, hs, "{}", 2, &r);
	assert_problem(&r, 415, "unsupported-media-type", NULL);
	http_result_release(&r);
}
END_TEST

/* Feedback bodies of the wrong shape: 400 with problem+json; oversize 413;
 * the assignment stays where it was. */
START_TEST(test_hostile_feedback)
{
	static const char *const bad[] = {
		"not json",
		"[]",
		"{}",
		"{\"status\":[]}",
		"{\"status\":{}}",
		"{\"status\":{\"execution\":5}}",
		"{\"status\":{\"execution\":\"exploded\"}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":[]}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":true}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"maybe\"}}}",
		"{\"status\":{\"execution\":\"closed\",\"details\":\"x\"}}",
		"{\"status\":{\"execution\":\"closed\",\"code\":\"7\"}}",
		"{\"status\":{\"execution\":\"closed\"},\"status\":{\"execution\":\"closed\"}}",
	};
	struct dev d;
	char path[128];
	long action;

	new_dev(&d, "ddi-hostile");
	action = deploy_and_action(&d);
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, action);
	json_decref(get_json(&d, path, 200));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		feedback(&d, action, bad[i], 400);
	/* Over [devices] max_report_size (1K here). */
	char big[2048];
	snprintf(big, sizeof(big),
		 "{\"status\":{\"execution\":\"proceeding\",\"details\":[\"%01500d\"]}}", 0);
	feedback(&d, action, big, 413);
	assert_assignment(last_deployment, d.id, "delivered", NULL);
	/* A huge details array is cut to the 256-byte reason, never more. */
	snprintf(big, sizeof(big),
		 "{\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"failure\"},"
		 "\"details\":[\"%0300d\",\"x\"]}}",
		 0);
	feedback(&d, action, big, 200);
	char state[32], reason[300];
	assignment(last_deployment, d.id, state, sizeof(state), reason, sizeof(reason));
	ck_assert_str_eq(state, "failed");
	ck_assert_uint_le(strlen(reason), 256);
	/* Methods the route does not take: 405 with Allow. */
	struct http_result r;
	ddi_req("DELETE", path_of(d.id, ""), target(d.tok), NULL, NULL, &r);
	assert_status(&r, 405);
	http_result_release(&r);
	/* A query the route does not read: 400. */
	ddi_req("GET", path_of(d.id, "?x=1"), target(d.tok), NULL, NULL, &r);
	assert_status(&r, 400);
	http_result_release(&r);
}
END_TEST

/* 401 without or with a wrong credential, 403 for another device's
 * identity, 404 for another tenant; the tenant is case-insensitive. */
START_TEST(test_auth)
{
	struct dev a, b;
	struct http_result r;
	char auth[200];

	new_dev(&a, "ddi-a");
	new_dev(&b, "ddi-b");
	ddi_req("GET", path_of(a.id, ""), NULL, NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	ddi_req("GET", path_of(a.id, ""), "TargetToken suitd_dt_wrong", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	snprintf(auth, sizeof(auth), "Bearer %s", a.tok);
	ddi_req("GET", path_of(a.id, ""), auth, NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	ddi_req("GET", path_of(a.id, ""), "TargetToken", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	/* No gateway token configured: a GatewayToken is refused. */
	ddi_req("GET", path_of(a.id, ""), "GatewayToken 0123456789abcdef0123", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	/* b's token on a's resources: 403, on every route. */
	ddi_req("GET", path_of(a.id, ""), target(b.tok), NULL, NULL, &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	ddi_req("PUT", path_of(a.id, "/configData"), target(b.tok), "{\"data\":{}}", NULL, &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	/* Another tenant: 404; the tenant's case does not matter. */
	ddi_req("GET", "/OTHER/controller/v1/ddi-a", target(a.tok), NULL, NULL, &r);
	assert_problem(&r, 404, "not-found", "no such tenant");
	http_result_release(&r);
	ddi_req("GET", "/default/controller/v1/ddi-a", target(a.tok), NULL, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	/* The literal routes still win over the leading {tenant}. */
	ddi_req("GET", "/api/v1/status", target(a.tok), NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	/* An artifact of a module this device was never given: 404. */
	snprintf(auth, sizeof(auth), "/softwaremodules/1/artifacts/%s", F.fw_sha);
	ddi_req("GET", path_of(a.id, auth), target(a.tok), NULL, NULL, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);
}
END_TEST

/* [ddi] gateway_token_file: GatewayToken acts for any controller id of
 * the tenant; auto_register decides about unknown ids. [ddi] enabled =
 * off: every DDI path is 404. */
START_TEST(test_gateway_and_switches)
{
	struct dev a;
	struct http_result r;
	char conf[1024], path[256];

	new_dev(&a, "ddi-gw");
	snprintf(path, sizeof(path), "%s/gateway.token", P.dir);
	write_file(path, "gw-secret-0123456789abcdef\n", 27);
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf),
		 "[devices]\n" DDI_CONF "gateway_token_file = %s\n"
		 "[manifests]\ntrust_anchor = %s\n",
		 path, F.pub);
	harness_write_config(&P, conf);
	harness_start(&P);
	ddi_req("GET", path_of(a.id, ""), "GatewayToken gw-secret-0123456789abcdef", NULL, NULL,
		&r);
	assert_status(&r, 200);
	http_result_release(&r);
	ddi_req("GET", path_of(a.id, ""), "GatewayToken gw-secret-0123456789abcdeX", NULL, NULL,
		&r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	/* auto_register off: an unknown controller is 404. */
	ddi_req("GET", path_of("ddi-new", ""), "GatewayToken gw-secret-0123456789abcdef", NULL,
		NULL, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);

	/* auto_register on: the first poll registers it, in the default
	 * group, as the device API's registration does. */
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf),
		 "[devices]\nauth = token\nauto_register = on\ndefault_group = hawkbit\n"
		 "[ddi]\nenabled = on\ngateway_token_file = %s\n"
		 "[manifests]\ntrust_anchor = %s\n",
		 path, F.pub);
	harness_write_config(&P, conf);
	harness_start(&P);
	ddi_req("GET", path_of("ddi-new", ""), "GatewayToken gw-secret-0123456789abcdef", NULL,
		NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	api("GET", "/api/v1/devices/ddi-new", NULL, &r);
	assert_status(&r, 200);
	json_t *j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "group")), "hawkbit");
	json_decref(j);
	http_result_release(&r);

	/* Anonymous: warned at start, any controller id acts. */
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf),
		 "[devices]\nauth = token\n[ddi]\nenabled = on\nanonymous = on\ntenant = Fleet1\n"
		 "[manifests]\ntrust_anchor = %s\n",
		 F.pub);
	harness_write_config(&P, conf);
	harness_start(&P);
	ck_assert(harness_log_contains(&P, "[ddi] anonymous = on"));
	ddi_req("GET", "/fleet1/controller/v1/ddi-gw", NULL, NULL, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	ddi_req("GET", "/DEFAULT/controller/v1/ddi-gw", NULL, NULL, NULL, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);

	/* Off: as if the paths did not exist. */
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf), "[devices]\nauth = token\n[manifests]\ntrust_anchor = %s\n",
		 F.pub);
	harness_write_config(&P, conf);
	harness_start(&P);
	ddi_req("GET", path_of(a.id, ""), NULL, NULL, NULL, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);
}
END_TEST

/* SHA-1 and MD5 are stored at upload; a payload without them (stored
 * before migration 0018) gets them computed from its bytes on the first
 * DDI read, and kept. */
START_TEST(test_hash_backfill)
{
	struct dev d;
	char path[128], dl[600];
	json_t *j;
	long action;

	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads WHERE "
					     "length(sha1) = 20 AND length(md5) = 16"),
			 1);
	ck_assert_int_eq(harness_sql_int(&P, "UPDATE payloads SET sha1 = NULL, md5 = NULL "
					     "RETURNING 1"),
			 1);
	new_dev(&d, "ddi-backfill");
	action = deploy_and_action(&d);
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, action);
	j = get_json(&d, path, 200);
	assert_action_shape(j, action, dl, sizeof(dl));
	json_decref(j);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads WHERE "
					     "length(sha1) = 20 AND length(md5) = 16"),
			 1);
}
END_TEST

/* target {attribute: {NAME: VALUE}}: the devices whose attributes (from
 * configData) match, resolved at creation; one deployment may hold a DDI
 * device and a device-API device, each reaching confirmed its own way. */
START_TEST(test_attribute_target_and_mixed)
{
	struct dev a, b, c;
	struct http_result r;
	char json[512], path[128];
	json_t *j;

	new_dev(&a, "ddi-rev2-a");
	new_dev(&b, "ddi-rev2-b");
	new_dev(&c, "ddi-rev1");
	config_data(&a, "{\"data\":{\"hw\":\"rev2\"}}", 200);
	config_data(&b, "{\"data\":{\"hw\":\"rev2\",\"x\":\"y\"}}", 200);
	config_data(&c, "{\"data\":{\"hw\":\"rev1\"}}", 200);
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"attribute\":{\"hw\":\"rev2\"}}}", F.m1.digest);
	long dep = deploy(json, NULL);
	assert_counts(dep, "pending=2");
	assert_assignment(dep, a.id, "pending", NULL);
	assert_assignment(dep, b.id, "pending", NULL);
	assert_links(c.id, c.tok, "");
	static const char *const bad[] = {
		"{\"attribute\":{}}",
		"{\"attribute\":{\"hw\":5}}",
		"{\"attribute\":{\"a\":\"1\",\"b\":\"2\"}}",
		"{\"attribute\":\"hw\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":%s}", F.m1.digest,
			 bad[i]);
		api("POST", "/api/v1/deployments", json, &r);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"attribute\":{\"hw\":\"rev9\"}}}", F.m1.digest);
	api("POST", "/api/v1/deployments", json, &r);
	assert_problem(&r, 422, "unprocessable", NULL);
	http_result_release(&r);

	/* Mixed: c over DDI, a device-API device over its check-in. */
	char suit_tok[128];
	add_device("suit-1", NULL, suit_tok, sizeof(suit_tok));
	dep = deploy_devices(&F.m1, "[\"ddi-rev1\", \"suit-1\"]");
	expect_envelope(suit_tok, NULL, &F.m1);
	report_ok(suit_tok, rep(&F.m1, "installed", ""));
	expect_nothing(suit_tok, "seq=1");
	assert_assignment(dep, "suit-1", "confirmed", NULL);
	j = poll(c.id, c.tok);
	const char *href = href_path(link_of(j, "deploymentBase"));
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(href, "?"), href);
	json_decref(j);
	json_decref(get_json(&c, path, 200));
	long action = strtol(strrchr(path, '/') + 1, NULL, 10);
	feedback(&c, action, FB("closed", "success"), 200);
	assert_assignment(dep, c.id, "confirmed", NULL);
	/* The housekeeping loop completes it (once a second). */
	char status[32] = "";
	for (int i = 0; i < 100 && strcmp(status, "completed") != 0; i++) {
		j = deployment(dep);
		snprintf(status, sizeof(status), "%s",
			 json_string_value(json_object_get(j, "status")));
		json_decref(j);
		if (strcmp(status, "completed") != 0)
			usleep(100 * 1000);
	}
	ck_assert_str_eq(status, "completed");
}
END_TEST

/* A newer deployment supersedes an action the device had received: the
 * poll tells the cancel first, then offers the new action. */
START_TEST(test_supersede)
{
	struct dev d;
	struct manifest m2;
	struct http_result r;
	char path[128];
	json_t *j;
	long old_action, old_dep;

	new_dev(&d, "ddi-supersede");
	old_action = deploy_and_action(&d);
	old_dep = last_deployment;
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, old_action);
	json_decref(get_json(&d, path, 200));
	make_manifest("m2", "sensor-v1", "2", &m2);
	long dep2 = deploy_devices(&m2, "[\"ddi-supersede\"]");
	assert_assignment(old_dep, d.id, "canceled", NULL);
	j = poll(d.id, d.tok);
	snprintf(path, sizeof(path), BASE "%s/cancelAction/%ld", d.id, old_action);
	ck_assert_str_eq(href_path(link_of(j, "cancelAction")), path);
	ck_assert_ptr_null(link_of(j, "deploymentBase"));
	json_decref(j);
	snprintf(path, sizeof(path), BASE "%s/cancelAction/%ld/feedback", d.id, old_action);
	ddi_req("POST", path, target(d.tok), FB("closed", "success"), NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	j = poll(d.id, d.tok);
	const char *href = href_path(link_of(j, "deploymentBase"));
	long action = strtol(strstr(href, "/deploymentBase/") + 16, NULL, 10);
	ck_assert_int_ne(action, old_action);
	json_decref(j);
	snprintf(path, sizeof(path), BASE "%s/deploymentBase/%ld", d.id, action);
	json_decref(get_json(&d, path, 200));
	feedback(&d, action, FB("closed", "success"), 200);
	assert_assignment(dep2, d.id, "confirmed", NULL);
	manifest_release(&m2);
}
END_TEST

/* The client certificate the device API takes is a DDI identity too: it
 * must name the controller id of the path. */
START_TEST(test_certificate)
{
	struct http_result r;
	char conf[1024];

	harness_make_ca(&P, "device-ca", "suitd device CA (test only)");
	struct harness_cert_opts o = {.cn = "ddi-cert"};
	harness_make_cert(&P, "device-ca", "ddi-cert", &o);
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf),
		 "[devices]\nauth = certificate, token\nclient_ca = device-ca.pem\n"
		 "auto_register = on\n[ddi]\nenabled = on\n[manifests]\ntrust_anchor = %s\n",
		 F.pub);
	harness_write_config(&P, conf);
	harness_start(&P);
	/* First contact registers it (auto_register), as on the device API. */
	harness_request_cert(&P, "ddi-cert", "GET", BASE "ddi-cert", NULL, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	harness_request_cert(&P, "ddi-cert", "GET", BASE "someone-else", NULL, NULL, NULL, 0, &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	api("GET", "/api/v1/devices/ddi-cert", NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-ddi");
	TCase *tc = tcase_create("ddi");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, ddi_setup, fleet_teardown);
	tcase_add_test(tc, test_happy_path);
	tcase_add_test(tc, test_failure);
	tcase_add_test(tc, test_hash_backfill);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_supersede);
	tcase_add_test(tc, test_config_data);
	tcase_add_test(tc, test_attribute_target_and_mixed);
	tcase_add_test(tc, test_hostile_feedback);
	tcase_add_test(tc, test_auth);
	tcase_add_test(tc, test_gateway_and_switches);
	tcase_add_test(tc, test_certificate);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
