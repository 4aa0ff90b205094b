/* The event log end to end (issue 17): every admin action in
 * GET /api/v1/audit with its actor, filters and pages; GET /api/v1/events
 * read by libcurl clients (Server-Sent Events) while suit-sim drives a
 * staged rollout: every assignment transition exactly once and in log
 * order, a reconnect with Last-Event-ID that misses and repeats nothing,
 * 410 for an id retention dropped, an overflowing client that does not
 * read, 100 streams during check-in load, idle streams that cost no CPU
 * and get heartbeats, and SIGTERM ending them cleanly. Real daemon, real
 * TLS, loopback; keys are test-only. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

#define GROUP	  "fleet"
#define SIM_DEVS  6
#define SIM_WAIT  40 /* seconds a suit-sim run may take */
#define MAX_SSE	  20000
#define STREAMS	  100
#define LOAD_DEVS 16

/* ---- A Server-Sent Events client on a thread of its own ---- */

struct sse {
	pthread_t thread;
	char path[512];
	char last_id[32]; /* sent as Last-Event-ID ("" = none) */
	const char *key;
	int rcvbuf;	  /* SO_RCVBUF of the socket when > 0 */
	atomic_bool stop; /* end the transfer */
	atomic_bool hold; /* the client stops reading while set */
	atomic_bool done;
	pthread_mutex_t lock;
	char *raw;
	size_t len, cap;
	long status;
	CURLcode rc;
};

/* What the stream said so far. */
struct sse_events {
	long long id[MAX_SSE];
	char type[MAX_SSE][64];
	unsigned n;
	long long overflow_last; /* -1: no overflow event */
	unsigned heartbeats;
	bool retry; /* the "retry:" line came */
};

static size_t sse_write(char *data, size_t size, size_t nmemb, void *cls)
{
	struct sse *s = cls;
	size_t n = size * nmemb;

	while (atomic_load(&s->hold) && !atomic_load(&s->stop))
		usleep(10 * 1000);
	if (atomic_load(&s->stop))
		return 0;
	pthread_mutex_lock(&s->lock);
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 65536;
		while (cap < s->len + n + 1)
			cap *= 2;
		s->raw = realloc(s->raw, cap);
		ck_assert_ptr_nonnull(s->raw);
		s->cap = cap;
	}
	memcpy(s->raw + s->len, data, n);
	s->len += n;
	s->raw[s->len] = '\0';
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int sse_progress(void *cls, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct sse *s = cls;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&s->stop) ? 1 : 0;
}

static int sse_sockopt(void *cls, curl_socket_t fd, curlsocktype purpose)
{
	struct sse *s = cls;

	(void)purpose;
	if (s->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->rcvbuf, sizeof(s->rcvbuf));
	return CURL_SOCKOPT_OK;
}

static void *sse_run(void *arg)
{
	struct sse *s = arg;
	struct curl_slist *h = NULL;
	char url[768], line[256];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", P.url, s->path);
	snprintf(line, sizeof(line), "Authorization: Bearer %s", s->key ? s->key : P.admin_key);
	h = curl_slist_append(h, line);
	if (s->last_id[0]) {
		snprintf(line, sizeof(line), "Last-Event-ID: %s", s->last_id);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, P.ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sse_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, sse_sockopt);
	curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	s->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	atomic_store(&s->done, true);
	return NULL;
}

static struct sse *sse_open_ex(const char *path, const char *last_id, const char *key, int rcvbuf,
			       bool hold)
{
	struct sse *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (last_id)
		snprintf(s->last_id, sizeof(s->last_id), "%s", last_id);
	s->key = key;
	s->rcvbuf = rcvbuf;
	atomic_store(&s->hold, hold);
	pthread_mutex_init(&s->lock, NULL);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, sse_run, s), 0);
	return s;
}

static struct sse *sse_open(const char *path, const char *last_id)
{
	return sse_open_ex(path, last_id, NULL, 0, false);
}

/* Parse what came so far into e. */
static void sse_parse(struct sse *s, struct sse_events *e)
{
	pthread_mutex_lock(&s->lock);
	char *text = strndup(s->raw ? s->raw : "", s->len);
	pthread_mutex_unlock(&s->lock);
	char *p = text, *end;

	ck_assert_ptr_nonnull(text);
	memset(e, 0, sizeof(*e));
	e->overflow_last = -1;
	/* Only complete blocks, each ending with a blank line. */
	while ((end = strstr(p, "\n\n"))) {
		long long id = -1;
		char type[64] = "", *line = p, *nl;
		bool overflow = false;
		*end = '\0';
		for (; line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			if (strncmp(line, "id: ", 4) == 0)
				id = atoll(line + 4);
			else if (strncmp(line, "event: ", 7) == 0)
				snprintf(type, sizeof(type), "%s", line + 7);
			else if (strcmp(line, ": hb") == 0)
				e->heartbeats++;
			else if (strncmp(line, "retry: ", 7) == 0)
				e->retry = true;
			else if (strncmp(line, "data: ", 6) == 0 && strcmp(type, "overflow") == 0) {
				json_t *j = json_loads(line + 6, 0, NULL);
				ck_assert_ptr_nonnull(j);
				e->overflow_last = (long long)json_integer_value(
					json_object_get(j, "last_id"));
				json_decref(j);
				overflow = true;
			}
		}
		if (id >= 0 && !overflow) {
			ck_assert_uint_lt(e->n, MAX_SSE);
			e->id[e->n] = id;
			snprintf(e->type[e->n], sizeof(e->type[0]), "%s", type);
			e->n++;
		}
		p = end + 2;
	}
	free(text);
}

/* The data: JSON of the event with this id (the test fails without one). */
static json_t *sse_data(struct sse *s, long long id)
{
	char needle[48], *at, *data, *nl;
	json_t *j;

	snprintf(needle, sizeof(needle), "id: %lld\n", id);
	pthread_mutex_lock(&s->lock);
	at = strstr(s->raw, needle);
	ck_assert_ptr_nonnull(at);
	data = strstr(at, "\ndata: ");
	ck_assert_ptr_nonnull(data);
	data += 7;
	nl = strchr(data, '\n');
	ck_assert_ptr_nonnull(nl);
	j = json_loadb(data, (size_t)(nl - data), 0, NULL);
	pthread_mutex_unlock(&s->lock);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* Wait until the stream has n events (false after ms). */
static bool sse_wait(struct sse *s, unsigned n, unsigned ms)
{
	static struct sse_events e;

	for (unsigned t = 0; t < ms; t += 20) {
		sse_parse(s, &e);
		if (e.n >= n)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

static bool sse_wait_done(struct sse *s, unsigned ms)
{
	for (unsigned t = 0; t < ms && !atomic_load(&s->done); t += 20)
		usleep(20 * 1000);
	return atomic_load(&s->done);
}

/* Stop (if still running), join and free. */
static void sse_close(struct sse *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	free(s->raw);
	free(s);
}

/* The same, what it parsed last into e. */
static void sse_close_keep(struct sse *s, struct sse_events *e)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	sse_parse(s, e);
	pthread_mutex_destroy(&s->lock);
	free(s->raw);
	free(s);
}

/* ---- The log as the database has it ---- */

struct event_rows {
	long long *ids;
	char (*types)[64];
	unsigned n, max;
};

static void event_row(const char *const *cols, unsigned ncols, void *arg)
{
	struct event_rows *e = arg;

	ck_assert_uint_eq(ncols, 2);
	ck_assert_uint_lt(e->n, e->max);
	e->ids[e->n] = strtoll(cols[0], NULL, 10);
	if (e->types)
		snprintf(e->types[e->n], sizeof(e->types[0]), "%s", cols[1] ? cols[1] : "");
	e->n++;
}

/* Ids (and types) of the events matching WHERE, in id order. */
static unsigned db_events(const char *where, long long *ids, char (*types)[64], unsigned max)
{
	struct event_rows e = {ids, types, 0, max};
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT id, type FROM events WHERE %s ORDER BY id", where);
	harness_sql_rows(&P, sql, event_row, &e);
	return e.n;
}

static long long newest_id(void)
{
	return harness_sql_int(&P, "SELECT coalesce(max(id), 0) FROM events");
}

/* ---- /api/v1/audit ---- */

static json_t *audit(const char *query)
{
	struct http_result r;
	char path[512];
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/audit%s", query);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	http_result_release(&r);
	return j;
}

/* Whether the audit page has an item with this type, actor and subject. */
static bool audit_has(json_t *page, const char *type, const char *actor, const char *subject)
{
	size_t i;
	json_t *it;

	json_array_foreach(json_object_get(page, "items"), i, it)
	{
		if (strcmp(json_string_value(json_object_get(it, "type")), type) == 0 &&
		    strcmp(json_string_value(json_object_get(it, "actor")), actor) == 0 &&
		    strcmp(json_string_value(json_object_get(it, "subject")), subject) == 0)
			return true;
	}
	return false;
}

/* A request with an API key of our own choosing. */
static void api_as(const char *key, const char *method, const char *path, const char *json,
		   struct http_result *r)
{
	harness_request(&P, method, path, key, json ? "application/json" : NULL, json,
			json ? strlen(json) : 0, r);
}

static void create_key(const char *name, const char *role, char *secret, size_t size)
{
	struct http_result r;
	char json[128];
	json_t *j;

	snprintf(json, sizeof(json), "{\"name\":\"%s\",\"role\":\"%s\"}", name, role);
	api("POST", "/api/v1/keys", json, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	snprintf(secret, size, "%s", json_string_value(json_object_get(j, "key")));
	ck_assert(secret[0]);
	json_decref(j);
	http_result_release(&r);
}

static void expect_status(const char *key, const char *method, const char *path, const char *json,
			  long status)
{
	struct http_result r;

	api_as(key, method, path, json, &r);
	assert_status(&r, status);
	http_result_release(&r);
}

static void events_setup(void)
{
	fleet_setup();
}

/* Every admin action is in the audit trail with its actor: the API key's
 * name, local:cli for the command line, local:sighup for a reload. */
START_TEST(test_audit_actors)
{
	char ops[128], reader[128], tmp[128], path[256], subject[160], out[256];
	unsigned char blob[100];
	struct http_result r;
	struct manifest m2;
	json_t *page, *j;

	create_key("ops", "admin", ops, sizeof(ops));
	create_key("tmp", "reader", tmp, sizeof(tmp));
	create_key("watcher", "reader", reader, sizeof(reader));
	expect_status(ops, "DELETE", "/api/v1/keys/tmp", NULL, 204);
	expect_status(ops, "POST", "/api/v1/devices", "{\"id\":\"a-1\"}", 201);
	expect_status(ops, "PATCH", "/api/v1/devices/a-1", "{\"group\":\"lab\"}", 200);
	expect_status(ops, "POST", "/api/v1/devices/a-1/token?grace=1h", NULL, 200);
	/* A payload of its own, uploaded and deleted by ops. */
	memset(blob, 0x5a, sizeof(blob));
	harness_request(&P, "POST", "/api/v1/payloads", ops, "application/octet-stream", blob,
			sizeof(blob), &r);
	assert_status(&r, 201);
	j = body_json(&r);
	snprintf(path, sizeof(path), "/api/v1/payloads/%s",
		 json_string_value(json_object_get(j, "sha256")));
	snprintf(subject, sizeof(subject), "payload:%s",
		 json_string_value(json_object_get(j, "sha256")));
	json_decref(j);
	http_result_release(&r);
	expect_status(ops, "DELETE", path, NULL, 204);
	/* A deployment through its life. */
	snprintf(out, sizeof(out), "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"a-1\"]}}",
		 F.m1.digest);
	api_as(ops, "POST", "/api/v1/deployments", out, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	long id = (long)json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	http_result_release(&r);
	char dep[64], dep_subject[64];
	snprintf(dep, sizeof(dep), "/api/v1/deployments/%ld", id);
	snprintf(dep_subject, sizeof(dep_subject), "deployment:%ld", id);
	snprintf(path, sizeof(path), "%s/pause", dep);
	expect_status(ops, "POST", path, "{\"reason\":\"lunch\"}", 200);
	snprintf(path, sizeof(path), "%s/resume", dep);
	expect_status(ops, "POST", path, NULL, 200);
	snprintf(path, sizeof(path), "%s/cancel", dep);
	expect_status(ops, "POST", path, NULL, 200);
	expect_status(ops, "DELETE", dep, NULL, 204);
	expect_status(ops, "DELETE", "/api/v1/devices/a-1", NULL, 204);
	/* A manifest uploaded by the fixture's key, deleted by ops. */
	make_manifest("m2", "sensor-v2", "2", &m2);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", m2.digest);
	expect_status(ops, "DELETE", path, NULL, 204);
	/* The command line and a reload. */
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "add", "cli-1", (char *)NULL),
			 0);
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && harness_sql_int(&P, "SELECT count(*) FROM events WHERE type "
						       "= 'config.reloaded'") == 0;
	     i++)
		usleep(50 * 1000);

	page = audit("?limit=1000");
	ck_assert(audit_has(page, "key.created", "local:cli", "key:test-admin"));
	ck_assert(audit_has(page, "key.created", "test-admin", "key:ops"));
	ck_assert(audit_has(page, "key.revoked", "ops", "key:tmp"));
	snprintf(out, sizeof(out), "payload:%s", F.fw_sha);
	ck_assert(audit_has(page, "payload.uploaded", "test-admin", out));
	ck_assert(audit_has(page, "payload.uploaded", "ops", subject));
	ck_assert(audit_has(page, "payload.deleted", "ops", subject));
	snprintf(out, sizeof(out), "manifest:%s", F.m1.digest);
	ck_assert(audit_has(page, "manifest.uploaded", "test-admin", out));
	snprintf(out, sizeof(out), "manifest:%s", m2.digest);
	ck_assert(audit_has(page, "manifest.uploaded", "test-admin", out));
	ck_assert(audit_has(page, "manifest.deleted", "ops", out));
	ck_assert(audit_has(page, "device.created", "ops", "device:a-1"));
	ck_assert(audit_has(page, "device.updated", "ops", "device:a-1"));
	ck_assert(audit_has(page, "device.token_rotated", "ops", "device:a-1"));
	ck_assert(audit_has(page, "device.deleted", "ops", "device:a-1"));
	ck_assert(audit_has(page, "device.created", "local:cli", "device:cli-1"));
	ck_assert(audit_has(page, "deployment.created", "ops", dep_subject));
	ck_assert(audit_has(page, "deployment.paused", "ops", dep_subject));
	ck_assert(audit_has(page, "deployment.resumed", "ops", dep_subject));
	ck_assert(audit_has(page, "deployment.canceled", "ops", dep_subject));
	ck_assert(audit_has(page, "deployment.deleted", "ops", dep_subject));
	ck_assert(audit_has(page, "config.reloaded", "local:sighup", "config:suitd"));
	/* Exactly the admin events of the log, newest first; transitions of
	 * assignments (the cancel's) are not admin actions. */
	size_t n = json_array_size(json_object_get(page, "items"));
	ck_assert_int_eq((long long)n, harness_sql_int(&P, "SELECT count(*) FROM events "
							   "WHERE admin = 1"));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'assignment.canceled' AND actor = 'ops'"),
			 1);
	ck_assert(json_is_null(json_object_get(page, "next")));
	for (size_t i = 1; i < n; i++) {
		json_t *a = json_array_get(json_object_get(page, "items"), i - 1),
		       *b = json_array_get(json_object_get(page, "items"), i);
		ck_assert_int_gt(json_integer_value(json_object_get(a, "id")),
				 json_integer_value(json_object_get(b, "id")));
		ck_assert(strncmp(json_string_value(json_object_get(b, "type")), "assignment.",
				  11) != 0);
	}
	/* The detail of a token rotation with a grace. */
	j = audit("?action=device.token_rotated");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(j, "items"), 0), "data"),
			"detail")),
		"grace 3600s");
	json_decref(j);

	/* Filters. */
	j = audit("?actor=ops&limit=1000");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 13);
	json_decref(j);
	j = audit("?action=deployment.*");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 5);
	json_decref(j);
	j = audit("?subject=key:tmp");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 2);
	json_decref(j);
	j = audit("?since=2100-01-01T00:00:00Z");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	j = audit("?until=2000-01-01T00:00:00Z");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	snprintf(out, sizeof(out), "?since=%lld&actor=ops", (long long)time(NULL) - 600);
	j = audit(out);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 13);
	json_decref(j);
	/* Pages of 4 through next/before give the whole list once. */
	size_t seen = 0;
	char before[32] = "";
	for (int pages = 0; pages < 100; pages++) {
		snprintf(out, sizeof(out), "?limit=4%s%s", before[0] ? "&before=" : "", before);
		j = audit(out);
		json_t *items = json_object_get(j, "items"), *next = json_object_get(j, "next");
		for (size_t i = 0; i < json_array_size(items); i++, seen++)
			ck_assert_int_eq(
				json_integer_value(json_object_get(json_array_get(items, i), "id")),
				json_integer_value(json_object_get(
					json_array_get(json_object_get(page, "items"), seen),
					"id")));
		if (json_is_null(next)) {
			json_decref(j);
			break;
		}
		ck_assert_uint_eq(json_array_size(items), 4);
		snprintf(before, sizeof(before), "%s", json_string_value(next));
		json_decref(j);
	}
	ck_assert_uint_eq(seen, n);
	/* after: what came since an id. */
	long long third = json_integer_value(
		json_object_get(json_array_get(json_object_get(page, "items"), 2), "id"));
	snprintf(out, sizeof(out), "?after=%lld", third);
	j = audit(out);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 2);
	json_decref(j);
	json_decref(page);

	/* Role reader reads it; no key, bad input: refused. */
	expect_status(reader, "GET", "/api/v1/audit", NULL, 200);
	expect_status(NULL, "GET", "/api/v1/audit", NULL, 401);
	expect_status(reader, "GET", "/api/v1/audit?limit=0", NULL, 400);
	expect_status(reader, "GET", "/api/v1/audit?before=x", NULL, 400);
	expect_status(reader, "GET", "/api/v1/audit?action=*", NULL, 400);
	expect_status(reader, "GET", "/api/v1/audit?action=a*", NULL, 400);
	expect_status(reader, "GET", "/api/v1/audit?since=yesterday", NULL, 400);
	expect_status(reader, "GET", "/api/v1/audit?type=x", NULL, 400);
	manifest_release(&m2);
}
END_TEST

/* ---- suit-sim (as tests/e2e/check_e2e_sim.c runs it) ---- */

static struct {
	char id[32];
	char token[128];
} dev[SIM_DEVS];

static const char *sim_bin(void)
{
	static char path[512];
	const char *b = getenv("SUITSIM_BIN"), *d = getenv("SUITD_BIN");
	char *slash;

	if (b)
		return b;
	if (!d)
		return "build/suit-sim";
	snprintf(path, sizeof(path), "%s", d);
	slash = strrchr(path, '/');
	if (!slash)
		return "suit-sim";
	snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "suit-sim");
	return path;
}

static void sim_setup(void)
{
	fleet_setup_with(65536, true,
			 "auth = token\nseen_flush = 1\npoll_interval = 2\n"
			 "poll_interval_active = 1\npoll_jitter = 10\n");
	for (unsigned i = 0; i < SIM_DEVS; i++) {
		snprintf(dev[i].id, sizeof(dev[i].id), "sim-%02u", i);
		add_device(dev[i].id, GROUP, dev[i].token, sizeof(dev[i].token));
	}
}

/* Start suit-sim --until-done over every device. */
static pid_t sim_spawn(void)
{
	char tokens[256], summary[256], log[256];
	pid_t pid;
	FILE *f;

	snprintf(tokens, sizeof(tokens), "%s/tokens", P.dir);
	snprintf(summary, sizeof(summary), "%s/summary.json", P.dir);
	snprintf(log, sizeof(log), "%s/sim.log", P.dir);
	f = fopen(tokens, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < SIM_DEVS; i++)
		fprintf(f, "%s %s\n", dev[i].id, dev[i].token);
	fclose(f);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = {(char *)sim_bin(),
				"--url",
				P.url,
				"--cacert",
				P.ca,
				"--trust-anchor",
				F.pub,
				"--tokens",
				tokens,
				"--until-done",
				"--max-poll",
				"1",
				"--chunk",
				"16K",
				"--seed",
				"7",
				"--duration",
				"35",
				"--summary",
				summary,
				NULL};
		FILE *out = freopen(log, "a", stdout);
		if (!out || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Its exit status. */
static int sim_wait(pid_t pid)
{
	char log[256];
	int status;

	snprintf(log, sizeof(log), "%s/sim.log", P.dir);
	for (int i = 0; i < SIM_WAIT * 20; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ge(w, 0);
		if (w == pid) {
			ck_assert_msg(WIFEXITED(status), "suit-sim died (see %s)", log);
			return WEXITSTATUS(status);
		}
		usleep(50 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_abort_msg("suit-sim ran longer than %d s (see %s)", SIM_WAIT, log);
	return -1;
}

static struct sse_events E1, E2, E3, E4;
static long long want_ids[MAX_SSE];
static char want_types[MAX_SSE][64];

/* A staged rollout driven by suit-sim, followed live: every assignment
 * transition and deployment change exactly once, in log order; a client
 * that reconnects with Last-Event-ID in the middle misses and repeats
 * nothing; a device filter sees only its device. */
START_TEST(test_stream_follows_rollout)
{
	const char *types = "/api/v1/events?types=assignment.*,deployment.*";
	struct sse *all = sse_open(types, NULL), *part = sse_open(types, NULL),
		   *one = sse_open("/api/v1/events?device=sim-00", NULL), *resumed;
	char json[512], last[32], where[160];
	long long start = newest_id();

	/* The streams are open (their "retry:" came) before anything happens. */
	for (int i = 0; i < 100; i++) {
		sse_parse(all, &E1);
		sse_parse(part, &E2);
		sse_parse(one, &E3);
		if (E1.retry && E2.retry && E3.retry)
			break;
		usleep(20 * 1000);
	}
	ck_assert(E1.retry && E2.retry && E3.retry);
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"group\":\"" GROUP "\"},"
		 "\"rollout\":{\"stages\":[34,100],\"failure_threshold\":100}}",
		 F.m1.digest);
	long id = deploy(json, NULL);
	/* One client goes away after a few events and comes back with the
	 * last id it saw, while the rollout goes on. */
	pid_t sim = sim_spawn();
	ck_assert(sse_wait(part, 4, 20000));
	sse_close_keep(part, &E2);
	snprintf(last, sizeof(last), "%lld", E2.id[E2.n - 1]);
	resumed = sse_open(types, last);
	ck_assert_int_eq(sim_wait(sim), 0);
	assert_counts(id, "confirmed=6");
	for (int i = 0; i < 100 && harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
						       "'deployment.completed'") == 0;
	     i++)
		usleep(100 * 1000);
	snprintf(where, sizeof(where),
		 "id > %lld AND (type LIKE 'assignment.%%' OR type LIKE 'deployment.%%')", start);
	unsigned n = db_events(where, want_ids, want_types, MAX_SSE);
	ck_assert_uint_ge(n, SIM_DEVS * 6 + 3); /* each device: delivered .. confirmed */
	ck_assert(sse_wait(all, n, 10000));
	sse_parse(all, &E1);
	ck_assert_uint_eq(E1.n, n);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(E1.id[i], want_ids[i]);
		ck_assert_str_eq(E1.type[i], want_types[i]);
	}
	/* The stages and the end are there, and every device's confirmation. */
	unsigned opened = 0, completed = 0, confirmed = 0, created = 0;
	for (unsigned i = 0; i < n; i++) {
		opened += strcmp(E1.type[i], "deployment.stage_opened") == 0;
		completed += strcmp(E1.type[i], "deployment.completed") == 0;
		confirmed += strcmp(E1.type[i], "assignment.confirmed") == 0;
		created += strcmp(E1.type[i], "deployment.created") == 0;
	}
	ck_assert_uint_eq(created, 1);
	ck_assert_uint_eq(opened, 1);
	ck_assert_uint_eq(completed, 1);
	ck_assert_uint_eq(confirmed, SIM_DEVS);
	/* An assignment event's data: the transition, by the device. */
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(E1.type[i], "assignment.delivered") != 0)
			continue;
		json_t *j = sse_data(all, E1.id[i]), *d = json_object_get(j, "data");
		char actor[64];
		ck_assert_str_eq(json_string_value(json_object_get(d, "from")), "pending");
		ck_assert_str_eq(json_string_value(json_object_get(d, "state")), "delivered");
		ck_assert_int_eq(json_integer_value(json_object_get(d, "deployment")), id);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "deployment")), id);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "device")));
		snprintf(actor, sizeof(actor), "device:%s",
			 json_string_value(json_object_get(j, "device")));
		ck_assert_str_eq(json_string_value(json_object_get(j, "actor")), actor);
		json_decref(j);
	}
	/* The reconnect: the part before and the rest after are the whole. */
	ck_assert(sse_wait(resumed, n - E2.n, 10000));
	sse_parse(resumed, &E4);
	ck_assert_uint_eq(E2.n + E4.n, n);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(i < E2.n ? E2.id[i] : E4.id[i - E2.n], want_ids[i]);
	/* The device filter: exactly the log's events of sim-00. */
	snprintf(where, sizeof(where), "device_id = 'sim-00' AND id > %lld", start);
	unsigned m = db_events(where, want_ids, NULL, MAX_SSE);
	ck_assert(sse_wait(one, m, 10000));
	sse_parse(one, &E3);
	ck_assert_uint_eq(E3.n, m);
	for (unsigned i = 0; i < m; i++)
		ck_assert_int_eq(E3.id[i], want_ids[i]);
	sse_close(all);
	sse_close(one);
	sse_close(resumed);
}
END_TEST

/* ---- Retention, overflow, many streams, idle streams, SIGTERM ---- */

/* [events] max_rows = 5 keeps the newest five: a client asking for what
 * came after a dropped id hears 410 and the oldest id left. */
static void small_log_setup(void)
{
	fleet_setup_with(50000, false,
			 "auth = token\nseen_flush = 60\n[events]\nmax_rows = 5\n[devices]\n");
}

START_TEST(test_expired_id_gone)
{
	char json[64], path[64], h[64];
	const char *hs[] = {h, NULL};
	struct http_result r;
	long long oldest;
	json_t *j;

	for (int i = 0; i < 12; i++) {
		snprintf(json, sizeof(json), "{\"id\":\"g-%d\"}", i);
		create_device(json, NULL, 0);
	}
	/* The housekeeping loop (once a second) trims the log. */
	for (int i = 0; i < 100 && harness_sql_int(&P, "SELECT count(*) FROM events") > 5; i++)
		usleep(50 * 1000);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events"), 5);
	oldest = harness_sql_int(&P, "SELECT min(id) FROM events");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT max(id) FROM events") - oldest, 4);
	/* ?after and Last-Event-ID alike. */
	api("GET", "/api/v1/events?after=1", NULL, &r);
	assert_problem(&r, 410, "events:expired", NULL);
	j = body_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "oldest_id")), oldest);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 410);
	json_decref(j);
	http_result_release(&r);
	snprintf(h, sizeof(h), "Last-Event-ID: %lld", oldest - 2);
	harness_request_ex(&P, "GET", "/api/v1/events?after=99999", P.admin_key, hs, NULL, 0, &r);
	assert_problem(&r, 410, "events:expired", NULL);
	http_result_release(&r);
	/* The id just before the oldest loses nothing: the whole log. */
	snprintf(path, sizeof(path), "/api/v1/events?after=%lld", oldest - 1);
	struct sse *s = sse_open(path, NULL);
	ck_assert(sse_wait(s, 5, 10000));
	sse_parse(s, &E1);
	ck_assert_uint_eq(E1.n, 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_int_eq(E1.id[i], oldest + i);
	sse_close(s);
	/* The audit trail is trimmed the same way. */
	j = audit("");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 5);
	json_decref(j);
}
END_TEST

/* A 4 KiB stream buffer: a client that stops reading while 5,000 events
 * commit is sent what was queued, then "event: overflow" with the last id
 * it was sent, then the end; resuming from that id gives the rest. */
static void overflow_setup(void)
{
	fleet_setup_with(50000, false,
			 "auth = token\nseen_flush = 60\n[events]\nstream_buffer = 4K\n"
			 "[server]\nconnection_timeout = 30\n[devices]\n");
}

START_TEST(test_overflow_ends_stream)
{
	char last[32];
	struct sse *slow = sse_open_ex("/api/v1/events", NULL, NULL, 4096, false), *again;
	long long start;

	ck_assert(sse_wait(slow, 0, 1000));
	for (int i = 0; i < 100; i++) {
		sse_parse(slow, &E1);
		if (E1.retry)
			break;
		usleep(20 * 1000);
	}
	ck_assert(E1.retry);
	atomic_store(&slow->hold, true);
	start = newest_id();
	/* 5,000 events in one transaction of the test's own, then a commit
	 * of suitd's that wakes the hub. */
	if (harness_backend_is_pg())
		ck_assert_int_eq(
			harness_sql_exec(&P, "INSERT INTO events (at, type, actor, subject, data) "
					     "SELECT (extract(epoch FROM clock_timestamp()) * 1000)"
					     "::bigint, 'test.filler', 'test', 'filler:' || i, "
					     "json_build_object('pad', repeat('x', 200))::text "
					     "FROM generate_series(1, 5000) AS i"),
			5000);
	else
		ck_assert_int_eq(
			harness_sql_exec(
				&P,
				"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
				"n WHERE i < 5000) INSERT INTO events (at, type, actor, subject, "
				"data) SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS "
				"INTEGER), 'test.filler', 'test', 'filler:' || i, "
				"json_object('pad', printf('%.200c', 'x')) FROM n"),
			5000);
	create_device("{\"id\":\"wake\"}", NULL, 0);
	long long newest = newest_id();
	ck_assert_int_eq(newest - start, 5001);
	usleep(500 * 1000);
	atomic_store(&slow->hold, false);
	ck_assert(sse_wait_done(slow, 20000));
	ck_assert_int_eq(slow->rc, CURLE_OK);
	ck_assert_int_eq(slow->status, 200);
	sse_close_keep(slow, &E1);
	/* Some came, in order from the first, then the overflow. */
	ck_assert_int_ge(E1.overflow_last, start);
	ck_assert_uint_gt(E1.n, 0);
	ck_assert_uint_lt(E1.n, 5001);
	for (unsigned i = 0; i < E1.n; i++)
		ck_assert_int_eq(E1.id[i], start + 1 + i);
	ck_assert_int_eq(E1.overflow_last, E1.id[E1.n - 1]);
	ck_assert_uint_ge(harness_metric(&P, "suitd_event_stream_overflows_total"), 1);
	/* Resuming by id: the rest, nothing twice. */
	snprintf(last, sizeof(last), "%lld", E1.overflow_last);
	again = sse_open("/api/v1/events", last);
	ck_assert(sse_wait(again, (unsigned)(newest - E1.overflow_last), 20000));
	sse_parse(again, &E2);
	ck_assert_int_eq(E2.overflow_last, -1);
	ck_assert_int_eq((long long)E2.n, newest - E1.overflow_last);
	for (unsigned i = 0; i < E2.n; i++)
		ck_assert_int_eq(E2.id[i], E1.overflow_last + 1 + i);
	sse_close(again);
}
END_TEST

/* 100 streams and devices checking in hard; max_streams = 100. */
static void many_setup(void)
{
	fleet_setup_with(50000, false,
			 "auth = token\nseen_flush = 60\n[events]\nmax_streams = 100\n"
			 "[server]\nper_address_connection_limit = 0\n[devices]\n");
}

static char load_tokens[LOAD_DEVS][128];
static atomic_bool load_stop;
static atomic_uint load_ok, load_bad;

static void *checkin_load(void *arg)
{
	unsigned first = (unsigned)(uintptr_t)arg;
	struct harness_conn *c = harness_conn_open(&P, NULL);

	for (unsigned i = first; !atomic_load(&load_stop); i++) {
		struct http_result r;
		char auth[160];
		const char *h[] = {NULL};
		snprintf(auth, sizeof(auth), "%s", load_tokens[i % LOAD_DEVS]);
		harness_conn_request(c, "GET", CHECKIN, auth, h, NULL, 0, &r);
		if (r.status == 204)
			atomic_fetch_add(&load_ok, 1);
		else
			atomic_fetch_add(&load_bad, 1);
		http_result_release(&r);
	}
	harness_conn_close(c);
	return NULL;
}

START_TEST(test_many_streams_under_load)
{
	static struct sse *s[STREAMS];
	pthread_t load[4];
	struct http_result r;
	char json[64];
	long long start;

	for (unsigned i = 0; i < LOAD_DEVS; i++) {
		snprintf(json, sizeof(json), "l-%u", i);
		add_device(json, NULL, load_tokens[i], sizeof(load_tokens[i]));
	}
	start = newest_id();
	for (unsigned i = 0; i < STREAMS; i++)
		s[i] = sse_open(i % 2 ? "/api/v1/events?types=device.*" : "/api/v1/events", NULL);
	for (unsigned i = 0; i < STREAMS; i++) {
		for (int t = 0; t < 500; t++) {
			sse_parse(s[i], &E1);
			if (E1.retry)
				break;
			usleep(20 * 1000);
		}
		ck_assert_msg(E1.retry, "stream %u did not start", i);
	}
	/* One more is refused while the 100 are open. */
	api("GET", "/api/v1/events", NULL, &r);
	assert_problem(&r, 503, "unavailable", NULL);
	ck_assert_str_eq(hdr(&r, "Retry-After"), "5");
	http_result_release(&r);
	atomic_store(&load_stop, false);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(
			pthread_create(&load[i], NULL, checkin_load, (void *)(uintptr_t)(i * 4)),
			0);
	/* Events while the check-ins go on. */
	for (int i = 0; i < 20; i++) {
		snprintf(json, sizeof(json), "{\"id\":\"n-%d\"}", i);
		create_device(json, NULL, 0);
		usleep(50 * 1000);
	}
	atomic_store(&load_stop, true);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(load[i], NULL);
	ck_assert_uint_gt(atomic_load(&load_ok), 100);
	ck_assert_uint_eq(atomic_load(&load_bad), 0);
	/* Every stream has the 20 events, in order, once. */
	for (unsigned i = 0; i < STREAMS; i++) {
		ck_assert_msg(sse_wait(s[i], 20, 10000), "stream %u is short", i);
		sse_parse(s[i], &E1);
		ck_assert_uint_eq(E1.n, 20);
		for (unsigned k = 0; k < 20; k++) {
			ck_assert_int_eq(E1.id[k], start + 1 + k);
			ck_assert_str_eq(E1.type[k], "device.created");
		}
	}
	ck_assert_uint_eq(harness_metric(&P, "suitd_event_streams"), STREAMS);
	for (unsigned i = 0; i < STREAMS; i++)
		sse_close(s[i]);
}
END_TEST

/* CPU seconds the daemon used so far (utime + stime). */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	/* Fields 14 and 15 (utime, stime), counted after "pid (comm)". */
	ck_assert_int_eq(
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Idle streams park: no CPU while nothing happens, a heartbeat every 15
 * s; SIGTERM ends them cleanly and fast. */
START_TEST(test_idle_streams_heartbeat_and_sigterm)
{
	static struct sse *s[20];
	struct timespec a, b;

	for (unsigned i = 0; i < 20; i++)
		s[i] = sse_open("/api/v1/events", NULL);
	for (unsigned i = 0; i < 20; i++) {
		for (int t = 0; t < 250; t++) {
			sse_parse(s[i], &E1);
			if (E1.retry)
				break;
			usleep(20 * 1000);
		}
		ck_assert(E1.retry);
	}
	double before = cpu_seconds(P.pid);
	sleep(16);
	double used = cpu_seconds(P.pid) - before;
	ck_assert_msg(used < 0.5, "suitd used %.2f s of CPU in 16 s with 20 idle streams", used);
	for (unsigned i = 0; i < 20; i++) {
		sse_parse(s[i], &E1);
		ck_assert_uint_ge(E1.heartbeats, 1);
		ck_assert(!atomic_load(&s[i]->done));
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(harness_stop(&P), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_lt(b.tv_sec - a.tv_sec, 5);
	for (unsigned i = 0; i < 20; i++) {
		ck_assert(sse_wait_done(s[i], 5000));
		ck_assert_int_eq(s[i]->rc, CURLE_OK); /* the chunked body ended cleanly */
		sse_close(s[i]);
	}
	harness_start(&P); /* for the fixture's teardown */
}
END_TEST

/* A check-in with nothing to do writes nothing, events included; one that
 * delivers writes exactly its transition. The device's id is as long as
 * ids go (128): its actor, device:<id>, fits the log. */
#define LONG_ID                                                                  \
	"quiet-1-"                                                               \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789abcdefghij"

START_TEST(test_checkin_events)
{
	char token[128];
	struct http_result r;
	long long before;

	ck_assert_uint_eq(strlen(LONG_ID), 128);
	add_device(LONG_ID, NULL, token, sizeof(token));
	before = newest_id();
	for (int i = 0; i < 5; i++) {
		checkin(token, NULL, NULL, &r);
		assert_status(&r, 204);
		http_result_release(&r);
	}
	ck_assert_int_eq(newest_id(), before);
	deploy_devices(&F.m1, "[\"" LONG_ID "\"]");
	before = newest_id(); /* deployment.created */
	checkin(token, NULL, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	ck_assert_int_eq(newest_id(), before + 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'assignment.delivered' AND actor = 'device:" LONG_ID
					     "' AND device_id = '" LONG_ID "'"),
			 1);
}
END_TEST

START_TEST(test_stream_bad_requests)
{
	const char *bad[] = {
		"/api/v1/events?types=Deployment", "/api/v1/events?types=a*b",
		"/api/v1/events?types=a,,b",	   "/api/v1/events?types=*.x",
		"/api/v1/events?deployment=0",	   "/api/v1/events?deployment=x",
		"/api/v1/events?after=-1",	   "/api/v1/events?after=1x",
		"/api/v1/events?device=",	   "/api/v1/events?since=1",
	};
	const char *h[] = {"Last-Event-ID: abc", NULL};
	struct http_result r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api("GET", bad[i], NULL, &r);
		ck_assert_msg(r.status == 400, "%s: %ld", bad[i], r.status);
		http_result_release(&r);
	}
	harness_request_ex(&P, "GET", "/api/v1/events", P.admin_key, h, NULL, 0, &r);
	assert_problem(&r, 400, "invalid-request", "Last-Event-ID must be an event id");
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/events", NULL, NULL, NULL, 0, &r);
	assert_status(&r, 401);
	http_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-events");
	TCase *tc = tcase_create("audit");
	TCase *st = tcase_create("stream");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, events_setup, fleet_teardown);
	tcase_add_test(tc, test_audit_actors);
	suite_add_tcase(s, tc);
	tcase_set_timeout(st, 180);
	tcase_add_checked_fixture(st, sim_setup, fleet_teardown);
	tcase_add_test(st, test_stream_follows_rollout);
	suite_add_tcase(s, st);
	TCase *gone = tcase_create("retention");
	tcase_set_timeout(gone, 60);
	tcase_add_checked_fixture(gone, small_log_setup, fleet_teardown);
	tcase_add_test(gone, test_expired_id_gone);
	suite_add_tcase(s, gone);
	TCase *of = tcase_create("overflow");
	tcase_set_timeout(of, 60);
	tcase_add_checked_fixture(of, overflow_setup, fleet_teardown);
	tcase_add_test(of, test_overflow_ends_stream);
	suite_add_tcase(s, of);
	TCase *many = tcase_create("many");
	tcase_set_timeout(many, 120);
	tcase_add_checked_fixture(many, many_setup, fleet_teardown);
	tcase_add_test(many, test_many_streams_under_load);
	suite_add_tcase(s, many);
	TCase *idle = tcase_create("idle");
	tcase_set_timeout(idle, 60);
	tcase_add_checked_fixture(idle, events_setup, fleet_teardown);
	tcase_add_test(idle, test_idle_streams_heartbeat_and_sigterm);
	tcase_add_test(idle, test_stream_bad_requests);
	tcase_add_test(idle, test_checkin_events);
	suite_add_tcase(s, idle);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
