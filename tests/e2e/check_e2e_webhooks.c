/* Webhooks end to end (issue 17): the real daemon delivers events to an
 * HTTPS receiver inside this test (libmicrohttpd + GnuTLS, certificate of
 * a CA made by the test, given to suitd as [events] webhook_cacert); each
 * signature is checked with an independent HMAC (OpenSSL's one-shot
 * HMAC() over the concatenated message). */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "harness.h"

#include "tests/check_run.h"

static struct suitd_proc P;

/* ---- The receiver ---- */

#define RX_MAX 2048

struct received {
	char id[32];
	long long ts;
	char sig[128];
	char *body;
};

struct receiver {
	struct MHD_Daemon *d;
	uint16_t port;
	char *cert, *key;
	pthread_mutex_t lock;
	struct received items[RX_MAX];
	unsigned n;
	atomic_int status;   /* what it answers */
	atomic_int delay_ms; /* before it answers */
};

static struct receiver RX;

struct rx_conn {
	char *data;
	size_t len;
};

static enum MHD_Result rx_handler(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct receiver *r = cls;
	struct rx_conn *rc = *con_cls;
	struct MHD_Response *res;
	enum MHD_Result ret;

	(void)url;
	(void)method;
	(void)version;
	if (!rc) {
		*con_cls = calloc(1, sizeof(struct rx_conn));
		return MHD_YES;
	}
	if (*upload_size) {
		rc->data = realloc(rc->data, rc->len + *upload_size + 1);
		memcpy(rc->data + rc->len, upload, *upload_size);
		rc->len += *upload_size;
		rc->data[rc->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	int status = atomic_load(&r->status);
	if (atomic_load(&r->delay_ms))
		usleep((useconds_t)atomic_load(&r->delay_ms) * 1000);
	if (status >= 200 && status <= 299) {
		const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
		const char *ts =
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp");
		const char *sig =
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature");
		pthread_mutex_lock(&r->lock);
		if (r->n < RX_MAX) {
			struct received *x = &r->items[r->n++];
			snprintf(x->id, sizeof(x->id), "%s", id ? id : "");
			x->ts = ts ? atoll(ts) : 0;
			snprintf(x->sig, sizeof(x->sig), "%s", sig ? sig : "");
			x->body = strdup(rc->data ? rc->data : "");
		}
		pthread_mutex_unlock(&r->lock);
	}
	res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, (unsigned)status, res);
	MHD_destroy_response(res);
	return ret;
}

static void rx_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct rx_conn *rc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rc) {
		free(rc->data);
		free(rc);
	}
	*con_cls = NULL;
}

static char *file_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 65536);
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(s, 1, 65535, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Start on port (0: a free one). */
static void rx_start(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	RX.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL,
				rx_handler, &RX, MHD_OPTION_HTTPS_MEM_CERT, RX.cert,
				MHD_OPTION_HTTPS_MEM_KEY, RX.key, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_NOTIFY_COMPLETED,
				rx_completed, NULL, MHD_OPTION_END);
	ck_assert_msg(RX.d != NULL, "cannot start the receiver on port %u", port);
	RX.port = MHD_get_daemon_info(RX.d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void rx_stop(void)
{
	if (RX.d)
		MHD_stop_daemon(RX.d);
	RX.d = NULL;
}

static unsigned rx_count(void)
{
	pthread_mutex_lock(&RX.lock);
	unsigned n = RX.n;
	pthread_mutex_unlock(&RX.lock);
	return n;
}

/* The receiver's CA and certificate (P-256, SAN IP:127.0.0.1), a config
 * with the webhook keys, suitd started with an admin key. */
static void setup_with(const char *events)
{
	struct harness_cert_opts o = {
		.cn = "127.0.0.1", .san = "IP:127.0.0.1", .eku = "serverAuth"};
	char path[256], conf[1024];

	memset(&RX, 0, sizeof(RX));
	pthread_mutex_init(&RX.lock, NULL);
	atomic_store(&RX.status, 200);
	harness_setup(&P, "");
	harness_make_ca(&P, "rxca", "webhook receiver CA (test only)");
	harness_make_cert(&P, "rxca", "rx", &o);
	RX.cert = file_read(harness_path(&P, "rx", "pem", path, sizeof(path)));
	RX.key = file_read(harness_path(&P, "rx", "key", path, sizeof(path)));
	snprintf(conf, sizeof(conf), "[events]\nwebhook_cacert = %s\n%s",
		 harness_path(&P, "rxca", "pem", path, sizeof(path)), events);
	harness_write_config(&P, conf);
	harness_admin_key(&P);
	harness_start(&P);
}

static void setup_default(void)
{
	setup_with("allow_private_webhooks = on\nwebhook_retry_base = 1\nwebhook_max_age = 120\n");
}

static void teardown(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_cleanup(&P);
	rx_stop();
	for (unsigned i = 0; i < RX.n; i++)
		free(RX.items[i].body);
	free(RX.cert);
	free(RX.key);
	pthread_mutex_destroy(&RX.lock);
}

/* ---- Helpers ---- */

static json_t *request_json(const char *method, const char *path, const char *body, long want)
{
	struct http_result r = {0};
	json_t *j = NULL;

	harness_request(&P, method, path, P.admin_key, body ? "application/json" : NULL, body,
			body ? strlen(body) : 0, &r);
	ck_assert_msg(r.status == want, "%s %s: status %ld, want %ld: %s", method, path, r.status,
		      want, r.body ? r.body : "");
	if (r.body_len)
		j = json_loadb(r.body, r.body_len, 0, NULL);
	http_result_release(&r);
	return j;
}

static void assert_problem_type(const char *method, const char *path, const char *body, long status,
				const char *type)
{
	struct http_result r = {0};

	harness_request(&P, method, path, P.admin_key, "application/json", body, strlen(body), &r);
	ck_assert_msg(r.status == status, "%s: %ld %s", body, r.status, r.body ? r.body : "");
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
	json_decref(j);
	http_result_release(&r);
}

/* A webhook to the receiver for these types (a JSON array); its id and
 * secret. */
static long long webhook_create(const char *types, char *secret, size_t size)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"url\": \"https://127.0.0.1:%u/hook\", \"types\": %s}",
		 RX.port, types);
	json_t *j = request_json("POST", "/api/v1/webhooks", body, 201);
	const char *s = json_string_value(json_object_get(j, "secret"));
	ck_assert_ptr_nonnull(s);
	snprintf(secret, size, "%s", s);
	long long id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	return id;
}

/* An admin event of type key.created. */
static void key_create(const char *name)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"name\": \"%s\", \"role\": \"reader\"}", name);
	json_decref(request_json("POST", "/api/v1/keys", body, 201));
}

static long long sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_int(const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return harness_sql_int(&P, sql);
}

static bool wait_until(bool (*cond)(void *), void *cls, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		if (cond(cls))
			return true;
		usleep(50000);
	}
	return cond(cls);
}

static bool rx_has(void *cls)
{
	return rx_count() >= *(unsigned *)cls;
}

/* The independent check: HMAC-SHA256 keyed by the base64-decoded secret
 * over "id.ts.body", base64, compared with the v1 signature. */
static bool signature_valid(const char *secret, const struct received *x)
{
	unsigned char key[64], mac[32], b64[64];
	const char *k = secret + strlen("whsec_");
	char *msg;
	unsigned mac_len = 0;
	int key_len = EVP_DecodeBlock(key, (const unsigned char *)k, (int)strlen(k));

	ck_assert_int_gt(key_len, 0);
	if (k[strlen(k) - 1] == '=')
		key_len--;
	if (k[strlen(k) - 2] == '=')
		key_len--;
	ck_assert_int_eq(key_len, 32);
	ck_assert_int_gt(asprintf(&msg, "%s.%lld.%s", x->id, x->ts, x->body), 0);
	HMAC(EVP_sha256(), key, key_len, (unsigned char *)msg, strlen(msg), mac, &mac_len);
	free(msg);
	EVP_EncodeBlock(b64, mac, (int)mac_len);
	return strncmp(x->sig, "v1,", 3) == 0 && strcmp(x->sig + 3, (char *)b64) == 0;
}

/* Every received message: valid signature, webhook-id the body's id, a
 * recent timestamp; *ret_ids gets the distinct event ids. */
static unsigned rx_check(const char *secret, const char *type, long long *ids, unsigned max)
{
	unsigned distinct = 0;

	pthread_mutex_lock(&RX.lock);
	for (unsigned i = 0; i < RX.n; i++) {
		struct received *x = &RX.items[i];
		json_t *j = json_loads(x->body, 0, NULL);
		ck_assert_msg(j != NULL, "body not JSON: %s", x->body);
		ck_assert_msg(signature_valid(secret, x), "bad signature %s on %s", x->sig,
			      x->body);
		long long id = json_integer_value(json_object_get(j, "id"));
		char idtext[32];
		snprintf(idtext, sizeof(idtext), "%lld", id);
		ck_assert_str_eq(x->id, idtext);
		ck_assert(llabs((long long)time(NULL) - x->ts) < 300);
		if (type)
			ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "timestamp")));
		/* data: the event as the stream sends it. */
		json_t *data = json_object_get(j, "data");
		ck_assert(json_is_object(data));
		ck_assert_int_eq(json_integer_value(json_object_get(data, "id")),
				 json_integer_value(json_object_get(j, "id")));
		ck_assert_str_eq(json_string_value(json_object_get(data, "type")),
				 json_string_value(json_object_get(j, "type")));
		ck_assert_str_eq(json_string_value(json_object_get(data, "at")),
				 json_string_value(json_object_get(j, "timestamp")));
		ck_assert_ptr_nonnull(json_string_value(json_object_get(data, "actor")));
		bool seen = false;
		for (unsigned k = 0; k < distinct; k++)
			seen = seen || ids[k] == id;
		if (!seen && distinct < max)
			ids[distinct++] = id;
		json_decref(j);
	}
	pthread_mutex_unlock(&RX.lock);
	return distinct;
}

/* ---- Cases ---- */

START_TEST(test_crud_and_refusals)
{
	char secret[80], path[64];
	struct http_result r = {0};
	json_t *j;

	rx_start(0);
	/* https only; private, loopback and link-local targets refused. */
	assert_problem_type("POST", "/api/v1/webhooks", "{\"url\": \"http://93.184.215.14/h\"}",
			    400, "urn:suitd:webhook:url-refused");
	assert_problem_type("POST", "/api/v1/webhooks", "{\"url\": \"ftp://93.184.215.14/h\"}", 400,
			    "urn:suitd:webhook:url-refused");
	assert_problem_type("POST", "/api/v1/webhooks", "{\"url\": \"not a url\"}", 400,
			    "urn:suitd:webhook:url-refused");
	assert_problem_type("POST", "/api/v1/webhooks", "{\"url\": 12}", 400,
			    "urn:suitd:invalid-request");
	assert_problem_type("POST", "/api/v1/webhooks",
			    "{\"url\": \"https://93.184.215.14/h\", \"types\": \"key.*\"}", 400,
			    "urn:suitd:invalid-request");
	assert_problem_type("POST", "/api/v1/webhooks",
			    "{\"url\": \"https://93.184.215.14/h\", \"types\": [\"Key!\"]}", 400,
			    "urn:suitd:invalid-request");
	/* allow_private_webhooks is on here: a loopback target is accepted. */
	long long id = webhook_create("[\"key.*\", \"device.created\"]", secret, sizeof(secret));
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(strncmp(secret, "whsec_", 6), 0);
	ck_assert_uint_eq(strlen(secret), 6 + 44);

	/* The secret is never shown again. */
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", id);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, secret + 6));
	ck_assert_ptr_null(strstr(r.body, "secret"));
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert(json_is_true(json_object_get(j, "enabled")));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "types"), 0)),
			 "key.*");
	json_decref(j);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/webhooks", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, secret + 6));
	http_result_release(&r);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM webhooks WHERE id = %lld", id), 1);

	/* Role admin only. */
	j = request_json("POST", "/api/v1/keys", "{\"name\": \"op1\", \"role\": \"operator\"}",
			 201);
	char op[128];
	snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "key")));
	json_decref(j);
	harness_request(&P, "GET", "/api/v1/webhooks", op, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 403);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/webhooks", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	http_result_release(&r);

	/* PATCH: disable, enable. */
	j = request_json("PATCH", path, "{\"enabled\": false, \"description\": \"ci\"}", 200);
	ck_assert(json_is_false(json_object_get(j, "enabled")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "description")), "ci");
	ck_assert_ptr_nonnull(
		strstr(json_string_value(json_object_get(j, "disabled_reason")), "disabled by"));
	json_decref(j);
	j = request_json("PATCH", path, "{\"enabled\": true}", 200);
	ck_assert(json_is_true(json_object_get(j, "enabled")));
	ck_assert(json_is_null(json_object_get(j, "disabled_reason")));
	json_decref(j);
	assert_problem_type("PATCH", path, "{\"url\": \"http://127.0.0.1:1/\"}", 400,
			    "urn:suitd:webhook:url-refused");
	assert_problem_type("PATCH", "/api/v1/webhooks/999", "{\"enabled\": true}", 404,
			    "urn:suitd:not-found");

	/* Every change is an admin event with its actor. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE admin = 1 AND "
					     "type IN ('webhook.created', 'webhook.updated') "
					     "AND actor = 'test-admin'"),
			 3);
	json_decref(request_json("DELETE", path, NULL, 204));
	json_decref(request_json("GET", path, NULL, 404));
	json_decref(request_json("DELETE", path, NULL, 404));
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = 'webhook.deleted'"),
		1);
}
END_TEST

/* Loopback, private and link-local targets without allow_private_webhooks. */
START_TEST(test_ssrf_refused_at_creation)
{
	static const char *const urls[] = {
		"https://127.0.0.1/h",	   "https://localhost:8443/h",
		"https://10.1.2.3/h",	   "https://192.168.1.1/h",
		"https://172.16.0.1/h",	   "https://169.254.169.254/h",
		"https://[::1]/h",	   "https://[fe80::1]/h",
		"https://[fd00::1]/h",	   "https://[::ffff:127.0.0.1]/h",
		"https://0.0.0.0/h",	   "https://100.64.0.1/h",
		"https://app.localhost/h",
	};
	char body[256];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		snprintf(body, sizeof(body), "{\"url\": \"%s\"}", urls[i]);
		assert_problem_type("POST", "/api/v1/webhooks", body, 400,
				    "urn:suitd:webhook:url-refused");
	}
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM webhooks"), 0);
	/* A public literal passes. */
	json_decref(request_json("POST", "/api/v1/webhooks",
				 "{\"url\": \"https://93.184.215.14/h\", \"enabled\": false}",
				 201));
}
END_TEST

static void setup_strict(void)
{
	setup_with("webhook_retry_base = 1\n");
}

struct attempts_cond {
	long long webhook, min;
	const char *result;
};

static bool attempts_at_least(void *cls)
{
	struct attempts_cond *c = cls;
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld AND result = "
		 "'%s'",
		 c->webhook, c->result);
	return harness_sql_int(&P, sql) >= c->min;
}

START_TEST(test_delivery_signed)
{
	char secret[80], path[96];
	long long ids[64];
	unsigned want = 5;

	rx_start(0);
	long long id = webhook_create("[\"key.*\"]", secret, sizeof(secret));
	for (unsigned i = 0; i < want; i++) {
		char name[16];
		snprintf(name, sizeof(name), "k%u", i);
		key_create(name);
	}
	/* device.created does not match key.*: not delivered. */
	json_decref(request_json("POST", "/api/v1/devices", "{\"id\": \"dev-1\"}", 201));
	ck_assert_msg(wait_until(rx_has, &want, 15), "received %u of %u", rx_count(), want);
	struct attempts_cond oks = {id, want, "ok"};
	ck_assert(wait_until(attempts_at_least, &oks, 10));
	usleep(300000);
	ck_assert_uint_eq(rx_count(), want);
	ck_assert_uint_eq(rx_check(secret, "key.created", ids, 64), want);
	/* Each one an event of the log (up to WEBHOOK_WINDOW are in flight at
	 * once, so they may arrive out of order). */
	long long newest = 0;
	for (unsigned i = 0; i < want; i++) {
		ck_assert_int_eq(sql_int("SELECT count(*) FROM events WHERE id = %lld AND type = "
					 "'key.created'",
					 ids[i]),
				 1);
		newest = ids[i] > newest ? ids[i] : newest;
	}

	/* The attempts as the API shows them. */
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld/deliveries", id);
	json_t *j = request_json("GET", path, NULL, 200);
	json_t *items = json_object_get(j, "items");
	ck_assert_uint_eq(json_array_size(items), want);
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *d = json_array_get(items, i);
		ck_assert_str_eq(json_string_value(json_object_get(d, "result")), "ok");
		ck_assert_int_eq(json_integer_value(json_object_get(d, "status")), 200);
		ck_assert_int_eq(json_integer_value(json_object_get(d, "attempt")), 1);
		ck_assert(json_is_integer(json_object_get(d, "latency_ms")));
		ck_assert_str_eq(json_string_value(json_object_get(d, "event_type")),
				 "key.created");
	}
	/* Newest first. */
	ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(items, 0), "n")),
			 json_integer_value(json_object_get(json_array_get(items, 1), "n")));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld/deliveries?limit=2", id);
	j = request_json("GET", path, NULL, 200);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 2);
	ck_assert(json_is_string(json_object_get(j, "next")));
	json_decref(j);
	ck_assert_uint_ge(harness_metric(&P, "suitd_webhook_deliveries_total{result=\"ok\"}"),
			  want);
	/* The cursor moved past the events handled, the device's too. */
	ck_assert_int_ge(sql_int("SELECT cursor FROM webhooks WHERE id = %lld", id), newest);
}
END_TEST

/* Receiver down for a while, then up: every event arrives; across a
 * kill -9 of suitd too. */
START_TEST(test_down_then_up_and_kill9)
{
	char secret[80];
	long long ids[64];
	unsigned want = 6;

	rx_start(0);
	uint16_t port = RX.port;
	long long id = webhook_create("[\"key.created\"]", secret, sizeof(secret));
	rx_stop(); /* connection refused from now on */
	for (unsigned i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "a%u", i);
		key_create(name);
	}
	struct attempts_cond c = {id, 4, "retry"};
	ck_assert_msg(wait_until(attempts_at_least, &c, 20), "no retries recorded");
	/* Killed while attempts wait for their next turn. */
	harness_kill9(&P);
	for (unsigned i = 3; i < want; i++) {
		char name[16];
		snprintf(name, sizeof(name), "a%u", i);
		char out[256];
		ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", name,
					     "--role", "reader", (char *)NULL),
				 0);
	}
	rx_start(port);
	harness_start(&P);
	ck_assert_msg(wait_until(rx_has, &want, 30), "received %u of %u", rx_count(), want);
	ck_assert_uint_eq(rx_check(secret, "key.created", ids, 64), want);
	struct attempts_cond oks = {id, want, "ok"};
	ck_assert(wait_until(attempts_at_least, &oks, 10));
	/* The schedule went on after the restart: attempt numbers continue. */
	ck_assert_int_ge(harness_sql_int(&P, "SELECT max(attempt) FROM webhook_deliveries WHERE "
					     "result = 'ok'"),
			 2);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM webhook_deliveries WHERE "
					     "result = 'failed'"),
			 0);
}
END_TEST

static void setup_fast_failure(void)
{
	setup_with("allow_private_webhooks = on\nwebhook_retry_base = 1\nwebhook_max_age = 3\n");
}

static bool webhook_disabled(void *cls)
{
	return sql_int("SELECT enabled FROM webhooks WHERE id = %lld", *(long long *)cls) == 0;
}

/* A receiver that keeps failing disables the webhook, with an event; a
 * manual retry and enabling it again deliver. */
START_TEST(test_disable_retry_enable)
{
	char secret[80], path[128];
	long long ids[64];

	rx_start(0);
	atomic_store(&RX.status, 500);
	long long id = webhook_create("[\"key.*\"]", secret, sizeof(secret));
	key_create("f1");
	ck_assert_msg(wait_until(webhook_disabled, &id, 20), "not disabled");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'webhook.disabled' AND actor = 'system'"),
			 1);
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", id);
	json_t *j = request_json("GET", path, NULL, 200);
	ck_assert(json_is_false(json_object_get(j, "enabled")));
	ck_assert_ptr_nonnull(
		strstr(json_string_value(json_object_get(j, "disabled_reason")), "HTTP 500"));
	json_decref(j);
	long long n = harness_sql_int(&P, "SELECT id FROM webhook_deliveries WHERE result = "
					  "'failed'");
	ck_assert_int_gt(n, 0);
	ck_assert_int_ge(harness_sql_int(&P, "SELECT count(*) FROM webhook_deliveries WHERE "
					     "result = 'retry'"),
			 1);
	ck_assert_uint_ge(harness_metric(&P, "suitd_webhook_deliveries_total{result=\"failed\"}"),
			  1);

	/* Disabled: new events wait. */
	key_create("f2");
	sleep(1);
	ck_assert_uint_eq(rx_count(), 0);

	/* A manual retry of the failed attempt, now that the receiver works. */
	atomic_store(&RX.status, 200);
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld/deliveries/%lld/retry", id, n);
	j = request_json("POST", path, NULL, 202);
	long long event = json_integer_value(json_object_get(j, "event_id"));
	json_decref(j);
	unsigned one = 1;
	ck_assert(wait_until(rx_has, &one, 10));
	ck_assert_uint_eq(rx_check(secret, "key.created", ids, 64), 1);
	ck_assert_int_eq(ids[0], event);
	struct attempts_cond manual = {id, 1, "ok"};
	ck_assert(wait_until(attempts_at_least, &manual, 5));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT manual FROM webhook_deliveries WHERE "
					     "result = 'ok'"),
			 1);
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld/deliveries/999999/retry", id);
	json_decref(request_json("POST", path, NULL, 404));

	/* Enabled again: what came after the failed event is delivered. */
	snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", id);
	json_decref(request_json("PATCH", path, "{\"enabled\": true}", 200));
	unsigned two = 2;
	ck_assert(wait_until(rx_has, &two, 10));
	ck_assert_uint_eq(rx_check(secret, "key.created", ids, 64), 2);
}
END_TEST

/* SIGTERM with an attempt in flight to a receiver that does not answer:
 * suitd stops within the grace, and the event is delivered after the
 * restart (its cursor had not moved). */
START_TEST(test_sigterm_in_flight)
{
	char secret[80];
	long long ids[4];
	struct timespec t0, t1;

	rx_start(0);
	atomic_store(&RX.delay_ms, 4000);
	long long id = webhook_create("[\"key.created\"]", secret, sizeof(secret));
	key_create("t1");
	usleep(500000); /* the attempt is under way */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(harness_stop(&P), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 3.5, "stop took %.1f s", secs);
	ck_assert_int_eq(
		sql_int("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld", id), 0);
	atomic_store(&RX.delay_ms, 0);
	sleep(4); /* the cut request's handler finishes (it is counted) */
	unsigned before = rx_count();
	harness_start(&P);
	unsigned want = before + 1;
	ck_assert(wait_until(rx_has, &want, 10));
	ck_assert_uint_eq(rx_check(secret, "key.created", ids, 4), 1);
}
END_TEST

/* The guard at delivery time: a webhook created while private targets
 * were allowed is refused the connection once they are not. */
START_TEST(test_ssrf_refused_at_delivery)
{
	char secret[80], conf[1024], path[256];

	rx_start(0);
	long long id = webhook_create("[\"key.*\"]", secret, sizeof(secret));
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf), "[events]\nwebhook_cacert = %s\nwebhook_retry_base = 1\n",
		 harness_path(&P, "rxca", "pem", path, sizeof(path)));
	harness_write_config(&P, conf);
	harness_start(&P);
	key_create("s1");
	struct attempts_cond c = {id, 1, "retry"};
	ck_assert(wait_until(attempts_at_least, &c, 10));
	ck_assert_uint_eq(rx_count(), 0);
	ck_assert_int_ge(harness_sql_int(&P, "SELECT count(*) FROM webhook_deliveries WHERE "
					     "error LIKE 'refused to connect to 127.0.0.1%'"),
			 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-webhooks");
	TCase *tc = tcase_create("webhooks");
	TCase *strict = tcase_create("strict");
	TCase *fast = tcase_create("fast-failure");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 90);
	tcase_set_timeout(strict, 60);
	tcase_set_timeout(fast, 60);
	tcase_add_checked_fixture(tc, setup_default, teardown);
	tcase_add_test(tc, test_crud_and_refusals);
	tcase_add_test(tc, test_delivery_signed);
	tcase_add_test(tc, test_down_then_up_and_kill9);
	tcase_add_test(tc, test_ssrf_refused_at_delivery);
	tcase_add_test(tc, test_sigterm_in_flight);
	tcase_add_checked_fixture(strict, setup_strict, teardown);
	tcase_add_test(strict, test_ssrf_refused_at_creation);
	tcase_add_checked_fixture(fast, setup_fast_failure, teardown);
	tcase_add_test(fast, test_disable_retry_enable);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, strict);
	suite_add_tcase(s, fast);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
