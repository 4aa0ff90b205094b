/* Hostile input end to end: malformed request lines and headers, oversized
 * headers and bodies, slow clients, thousands of ranges, deeply nested JSON
 * and CBOR, CBOR with huge declared lengths, truncated and tampered
 * envelopes, ids with "..", %00 and overlong UTF-8, SQL meta-characters,
 * auth header abuse, a device reporting for another device, a manifest of an
 * untrusted author and an older manifest replayed to a device (rollback).
 *
 * Every case asserts the exact status (and the problem type where suitd
 * answers application/problem+json), that the daemon still answers
 * afterwards, and where it matters that nothing was stored. One daemon
 * serves the whole suite; its resident memory is read at the start and at
 * the end. Each test runs all of its cases and then reports every case that
 * failed, not only the first.
 *
 * Malformed HTTP is sent as raw bytes over a TLS connection of its own
 * (libcurl does not send broken requests). The raw client uses GnuTLS: the
 * test binaries link libcrypto but not libssl, and GnuTLS is linked already
 * (it is libmicrohttpd's TLS). Where libmicrohttpd answers by itself, before
 * suitd sees the request, the answer is text/html and its status is the one
 * libmicrohttpd 0.9.75 sends; such cases have no slug and say so.
 *
 * Real daemon, real TLS, loopback; every key is made for the test. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fleet.h"
#include "tests/check_run.h"

/* [server] connection_timeout of the suite's daemon, seconds. */
#define CONN_TIMEOUT 2
/* How long a raw exchange waits for the server to answer and close. */
#define RAW_WAIT_MS 6000
/* Resident memory the daemon may gain over the whole suite. */
#define RSS_GROWTH_MAX_KB (64L * 1024)
#define MAX_BODY	  (64 * 1024)	/* [server] max_body */
#define PAYLOAD_MAX	  (1024 * 1024) /* [payloads] max_size */
#define MANIFEST_MAX	  (256 * 1024)	/* [manifests] max_size */

#define N(a)   (sizeof(a) / sizeof((a)[0]))
#define RAW(s) s, sizeof(s) - 1

static long rss_start_kb;

/* ---- Soft assertions: run every case, then report all failures ---- */

static char fails[16384];
static int nfails;

static void soft(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void soft(bool ok, const char *fmt, ...)
{
	size_t used = strlen(fails);
	va_list ap;

	if (ok)
		return;
	nfails++;
	if (used + 2 >= sizeof(fails))
		return;
	fails[used++] = '\n';
	va_start(ap, fmt);
	vsnprintf(fails + used, sizeof(fails) - used, fmt, ap);
	va_end(ap);
}

static void soft_reset(void)
{
	fails[0] = '\0';
	nfails = 0;
}

static void soft_done(void)
{
	ck_assert_msg(nfails == 0, "%d case(s) failed:%s", nfails, fails);
}

/* ---- Growable byte buffer and placeholder expansion ---- */

struct bytes {
	char *p;
	size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void bytes_str(struct bytes *b, const char *s)
{
	bytes_add(b, s, strlen(s));
}

static void bytes_repeat(struct bytes *b, const char *unit, size_t count)
{
	for (size_t i = 0; i < count; i++)
		bytes_str(b, unit);
}

/* Secrets and names the tables refer to as {NAME}; set by the tests. */
static struct {
	char dev[128];	   /* a registered device's token */
	char deleted[128]; /* the token of a device deleted since */
	char rotated[128]; /* a device token replaced since */
	char reader[128];  /* an API key with role reader */
	char revoked[128]; /* an API key revoked since */
	char victim[128];  /* an API key that no request may revoke */
} V;

/* in[0..len) with {KEY}, {SHA}, {M1}, {DEV}... replaced; NUL bytes kept. */
static struct bytes expand(const char *in, size_t len)
{
	const struct {
		const char *name, *value;
	} vars[] = {
		{"{KEY}", P.admin_key}, {"{SHA}", F.fw_sha},	  {"{M1}", F.m1.digest},
		{"{DEV}", V.dev},	{"{DELETED}", V.deleted}, {"{ROTATED}", V.rotated},
		{"{READER}", V.reader}, {"{REVOKED}", V.revoked}, {"{VICTIMKEY}", V.victim},
	};
	struct bytes b = {0};
	size_t i = 0;

	while (i < len) {
		bool replaced = false;
		for (size_t k = 0; k < N(vars) && in[i] == '{'; k++) {
			size_t n = strlen(vars[k].name);
			if (i + n <= len && memcmp(in + i, vars[k].name, n) == 0) {
				bytes_str(&b, vars[k].value);
				i += n;
				replaced = true;
				break;
			}
		}
		if (!replaced)
			bytes_add(&b, in + i++, 1);
	}
	if (!b.p)
		bytes_add(&b, "", 0);
	return b;
}

/* ---- Raw HTTP over TLS (GnuTLS) or plain TCP ---- */

struct raw_conn {
	int fd;
	bool tls;
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned short daemon_port(void)
{
	const char *colon = strrchr(P.url, ':');
	char *end;
	long port;

	ck_assert_ptr_nonnull(colon);
	port = strtol(colon + 1, &end, 10);
	ck_assert(port > 0 && port < 65536);
	return (unsigned short)port;
}

/* A TCP connection to the daemon and nothing else (no TLS handshake). */
static void raw_tcp(struct raw_conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(daemon_port())};

	memset(c, 0, sizeof(*c));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK), 0);
}

/* A TLS connection, the server certificate verified against the test CA;
 * non-blocking once the handshake is done. */
static void raw_tls(struct raw_conn *c)
{
	int rc;

	raw_tcp(c);
	ck_assert_int_eq(fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK), 0);
	c->tls = true;
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&c->cred), GNUTLS_E_SUCCESS);
	ck_assert_int_gt(gnutls_certificate_set_x509_trust_file(c->cred, P.ca, GNUTLS_X509_FMT_PEM),
			 0);
	ck_assert_int_eq(gnutls_init(&c->s, GNUTLS_CLIENT), GNUTLS_E_SUCCESS);
	ck_assert_int_eq(gnutls_set_default_priority(c->s), GNUTLS_E_SUCCESS);
	ck_assert_int_eq(gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, c->cred),
			 GNUTLS_E_SUCCESS);
	gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, "localhost", strlen("localhost"));
	gnutls_session_set_verify_cert(c->s, "localhost", 0);
	gnutls_transport_set_int(c->s, c->fd);
	gnutls_handshake_set_timeout(c->s, 5000);
	do
		rc = gnutls_handshake(c->s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	ck_assert_msg(rc == GNUTLS_E_SUCCESS, "TLS handshake: %s", gnutls_strerror(rc));
	ck_assert_int_eq(fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK), 0);
}

static void raw_close(struct raw_conn *c)
{
	if (c->tls) {
		gnutls_deinit(c->s);
		gnutls_certificate_free_credentials(c->cred);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->tls = false;
}

static bool wait_fd(int fd, short events, long ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	return poll(&pfd, 1, (int)ms) > 0;
}

/* Send everything; false when the server closed or did not read for 10 s. */
static bool raw_send(struct raw_conn *c, const void *data, size_t len)
{
	const char *p = data;
	size_t off = 0;

	while (off < len) {
		ssize_t n = c->tls ? gnutls_record_send(c->s, p + off, len - off)
				   : send(c->fd, p + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		bool again = c->tls ? n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED
				    : n < 0 && (errno == EAGAIN || errno == EINTR);
		if (!again || !wait_fd(c->fd, POLLOUT, 10000))
			return false;
	}
	return true;
}

/* Up to size bytes within ms: > 0 bytes read, 0 the server closed (EOF or
 * reset), -1 nothing arrived in time. */
static long raw_recv(struct raw_conn *c, char *buf, size_t size, long ms)
{
	double deadline = now_s() + (double)ms / 1000.0;

	for (;;) {
		ssize_t n;
		if (c->tls) {
			n = gnutls_record_recv(c->s, buf, size);
			if (n >= 0)
				return (long)n;
			if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED &&
			    n != GNUTLS_E_REHANDSHAKE)
				return 0; /* premature termination, reset, alert */
		} else {
			n = recv(c->fd, buf, size, 0);
			if (n >= 0)
				return (long)n;
			if (errno != EAGAIN && errno != EINTR)
				return 0;
		}
		double left = deadline - now_s();
		if (left <= 0 || !wait_fd(c->fd, POLLIN, (long)(left * 1000.0) + 1)) {
			if (now_s() >= deadline)
				return -1;
		}
	}
}

/* What came back on a raw connection. */
struct raw_reply {
	long status;	/* of the first final response; 0 = none */
	int responses;	/* complete final responses in the stream */
	bool closed;	/* the server closed the connection */
	double seconds; /* from the request until closed (or the wait ended) */
	char type[128]; /* Content-Type of the first response */
	char slug[96];	/* its problem type without "urn:suitd:" */
	struct bytes data;
};

static const char *header_in(const char *block, size_t len, const char *name, char *out,
			     size_t size)
{
	size_t n = strlen(name);

	for (size_t i = 0; i + n + 1 < len; i++) {
		if ((i == 0 || block[i - 1] == '\n') && strncasecmp(block + i, name, n) == 0 &&
		    block[i + n] == ':') {
			const char *v = block + i + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)strcspn(v, "\r\n"), v);
			return out;
		}
	}
	return NULL;
}

/* Split the stream into responses (by Content-Length); 1xx are skipped. */
static void raw_parse(struct raw_reply *r)
{
	const char *d = r->data.p;
	size_t pos = 0, len = r->data.len;

	while (pos + 12 <= len && strncmp(d + pos, "HTTP/1.", 7) == 0) {
		const char *end = memmem(d + pos, len - pos, "\r\n\r\n", 4);
		char v[128];
		long status = strtol(d + pos + 9, NULL, 10);
		size_t hlen, body = 0;

		if (!end)
			break;
		hlen = (size_t)(end - (d + pos)) + 4;
		if (header_in(d + pos, hlen, "Content-Length", v, sizeof(v)))
			body = (size_t)strtoull(v, NULL, 10);
		if (status >= 200 && r->responses++ == 0) {
			r->status = status;
			if (header_in(d + pos, hlen, "Content-Type", r->type, sizeof(r->type)) &&
			    strcmp(r->type, "application/problem+json") == 0 &&
			    pos + hlen + body <= len) {
				json_t *j = json_loadb(d + pos + hlen, body, 0, NULL);
				const char *type = json_string_value(json_object_get(j, "type"));
				if (type && strncmp(type, "urn:suitd:", 10) == 0)
					snprintf(r->slug, sizeof(r->slug), "%s", type + 10);
				json_decref(j);
			}
		}
		if (status < 200)
			body = 0;
		pos += hlen + body;
	}
}

/* Read until the server closes or ms pass. */
static void raw_collect(struct raw_conn *c, long ms, double t0, struct raw_reply *r)
{
	char buf[16384];
	double deadline = t0 + (double)ms / 1000.0;

	for (;;) {
		double left = deadline - now_s();
		long n = left > 0 ? raw_recv(c, buf, sizeof(buf), (long)(left * 1000.0)) : -1;
		if (n > 0) {
			if (r->data.len < ((size_t)8 << 20))
				bytes_add(&r->data, buf, (size_t)n);
			continue;
		}
		r->closed = n == 0;
		break;
	}
	r->seconds = now_s() - t0;
	if (!r->data.p)
		bytes_add(&r->data, "", 0);
	raw_parse(r);
}

/* One raw request on a new TLS connection. */
static void raw_exchange(const void *req, size_t len, long ms, struct raw_reply *r)
{
	struct raw_conn c;
	double t0;

	memset(r, 0, sizeof(*r));
	raw_tls(&c);
	t0 = now_s();
	(void)raw_send(&c, req, len); /* the server may answer and close early */
	raw_collect(&c, ms, t0, r);
	raw_close(&c);
}

static void raw_reply_release(struct raw_reply *r)
{
	free(r->data.p);
	r->data.p = NULL;
}

/* ---- Shared checks ---- */

/* The daemon still answers: GET /healthz is 200 "ok". */
static bool alive(void)
{
	struct http_result r;
	bool ok;

	harness_request(&P, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
	ok = r.status == 200 && r.body && strcmp(r.body, "ok\n") == 0;
	http_result_release(&r);
	return ok;
}

static void assert_alive(void)
{
	struct http_result r;

	ck_assert_msg(alive(), "the daemon no longer answers GET /healthz; see %s", P.log);
	harness_request(&P, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
}

static long long count(const char *table)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return harness_sql_int(&P, sql);
}

static long rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)P.pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s: the daemon is gone", path);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	ck_assert_int_gt(kb, 0);
	return kb;
}

/* The problem type of a libcurl answer, "" when it is not problem+json. */
static const char *slug_of(const struct http_result *r, char *out, size_t size)
{
	const char *ct = hdr(r, "Content-Type");
	json_t *j;

	out[0] = '\0';
	if (!ct || strcmp(ct, "application/problem+json") != 0 || !r->body)
		return out;
	j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (type && strncmp(type, "urn:suitd:", 10) == 0)
		snprintf(out, size, "%s", type + 10);
	json_decref(j);
	return out;
}

/* A raw case: the request, then the first final status (0: the connection
 * was closed without an answer), the problem slug (NULL: not checked, for
 * libmicrohttpd's own text/html answers) and the number of final responses
 * on the connection (0: not checked). */
struct raw_case {
	const char *what;
	const char *req;
	size_t len;
	long status;
	const char *slug;
	int responses;
};

static void check_raw(const char *what, const struct raw_reply *r, long status, const char *slug,
		      int responses)
{
	soft(r->status == status, "%s: status %ld, want %ld%s", what, r->status, status,
	     r->status == 0 ? (r->closed ? " (closed without an answer)"
					 : " (no answer, connection left open)")
			    : "");
	if (slug && r->status == status)
		soft(strcmp(r->slug, slug) == 0, "%s: problem type '%s' (%s), want urn:suitd:%s",
		     what, r->slug, r->type, slug);
	if (responses)
		soft(r->responses == responses, "%s: %d responses on the connection, want %d", what,
		     r->responses, responses);
	/* Every exchange ends: answered and closed, or closed by the timeout. */
	soft(r->closed, "%s: the connection was still open after %.1f s", what, r->seconds);
	soft(alive(), "%s: the daemon no longer answers afterwards", what);
}

static void run_raw_cases(const struct raw_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct bytes req = expand(cases[i].req, cases[i].len);
		struct raw_reply r;

		raw_exchange(req.p, req.len, RAW_WAIT_MS, &r);
		check_raw(cases[i].what, &r, cases[i].status, cases[i].slug, cases[i].responses);
		raw_reply_release(&r);
		free(req.p);
	}
}

/* A generated raw case: prefix, unit × count, suffix. */
struct big_case {
	const char *what, *prefix, *unit;
	size_t count;
	const char *suffix;
	long status;
	const char *slug;
	int responses;
};

static void run_big_cases(const struct big_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct bytes tmpl = {0}, req;
		struct raw_reply r;

		bytes_str(&tmpl, cases[i].prefix);
		bytes_repeat(&tmpl, cases[i].unit, cases[i].count);
		bytes_str(&tmpl, cases[i].suffix);
		req = expand(tmpl.p, tmpl.len);
		raw_exchange(req.p, req.len, RAW_WAIT_MS, &r);
		check_raw(cases[i].what, &r, cases[i].status, cases[i].slug, cases[i].responses);
		raw_reply_release(&r);
		free(req.p);
		free(tmpl.p);
	}
}

/* A libcurl case: method, path, Authorization value ({KEY}... expanded;
 * NULL = none), Content-Type and body (NULL = none); the status and, for
 * an error, the problem slug. */
struct api_case {
	const char *method, *path, *auth, *type, *body;
	long status;
	const char *slug;
};

/* The case with a body of body_len bytes; what names it in messages (NULL:
 * method and path). */
static void run_api_case_as(const struct api_case *c, size_t body_len, const char *what)
{
	struct bytes auth = {0}, path = expand(c->path, strlen(c->path)), body = {0};
	char type[160], got[96], label[200];
	const char *h[3] = {NULL, NULL, NULL};
	struct http_result r;
	unsigned k = 0;

	if (c->auth) {
		struct bytes v = expand(c->auth, strlen(c->auth));
		bytes_str(&auth, "Authorization: ");
		bytes_add(&auth, v.p, v.len);
		free(v.p);
		h[k++] = auth.p;
	}
	if (c->type) {
		snprintf(type, sizeof(type), "Content-Type: %s", c->type);
		h[k++] = type;
	}
	if (c->body)
		body = expand(c->body, body_len);
	harness_request_ex(&P, c->method, path.p, NULL, h, body.p, body.len, &r);
	if (what)
		snprintf(label, sizeof(label), "%s", what);
	else
		snprintf(label, sizeof(label), "%s %.120s", c->method, c->path);
	soft(r.status == c->status, "%s: status %ld, want %ld: %.300s", label, r.status, c->status,
	     r.body ? r.body : "");
	if (c->slug && r.status == c->status)
		soft(strcmp(slug_of(&r, got, sizeof(got)), c->slug) == 0,
		     "%s: problem type '%s', want urn:suitd:%s", label, got, c->slug);
	if (r.status == 401)
		soft(hdr(&r, "WWW-Authenticate") != NULL, "%s: 401 without WWW-Authenticate",
		     label);
	http_result_release(&r);
	soft(alive(), "%s: the daemon no longer answers afterwards", label);
	free(auth.p);
	free(path.p);
	free(body.p);
}

static void run_api_case(const struct api_case *c, size_t body_len)
{
	run_api_case_as(c, body_len, NULL);
}

static void run_api_cases(const struct api_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_api_case(&cases[i], cases[i].body ? strlen(cases[i].body) : 0);
}

/* A new device; its token into out. */
static void device(const char *id, const char *group, char *out, size_t size)
{
	add_device(id, group, out, size);
}

static void api_key(const char *name, const char *role, char *out, size_t size)
{
	struct http_result r;
	char json[128];
	json_t *j;

	snprintf(json, sizeof(json), "{\"name\":\"%s\",\"role\":\"%s\"}", name, role);
	api("POST", "/api/v1/keys", json, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	snprintf(out, size, "%s", json_string_value(json_object_get(j, "key")));
	json_decref(j);
	http_result_release(&r);
}

static long status_of(const char *method, const char *path, const char *key)
{
	struct http_result r;
	long status;

	harness_request(&P, method, path, key, NULL, NULL, 0, &r);
	status = r.status;
	http_result_release(&r);
	return status;
}

/* ---- Fixture: the fleet daemon with short limits ---- */

static void hostile_config(void)
{
	const char *src = getenv("SUITD_SRC");
	char storage[512];
	FILE *f = fopen(P.conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[server]\nlisten = 127.0.0.1:0\nthreads = 2\ntls_cert = server.pem\n"
		"tls_key = server.key\nconnection_timeout = %d\nmax_body = 64K\nrate_limit = 0\n"
		/* Every client of this daemon is 127.0.0.1, and test_slow_clients
		 * holds more than 100 connections from it; the per-address limit
		 * has a daemon of its own (test_connection_flood). */
		"per_address_connection_limit = 0\n"
		"%s"
		"[devices]\nauth = token\nseen_flush = 60\npoll_interval = 100\n"
		"poll_interval_active = 10\npoll_jitter = 20\nmax_report_size = 1K\n"
		"[payloads]\nmax_size = 1M\n"
		"[manifests]\nmax_size = 256K\ntrust_anchor = %s\n"
		"trust_anchor = %s/tests/data/suit/suit-spec-examples-p256.pub.pem\n"
		"[log]\nlevel = info\n",
		CONN_TIMEOUT, harness_storage_conf(&P, storage, sizeof(storage)), F.pub,
		src ? src : ".");
	fclose(f);
}

/* The fleet fixture (author key, payload, manifest m1), restarted with
 * this suite's limits; then the baseline of the daemon's memory. */
static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	fleet_setup();
	ck_assert_int_eq(harness_stop(&P), 0);
	hostile_config();
	harness_start(&P);
	/* Warm up: thread pools, statements and TLS state exist before the
	 * baseline is taken. */
	for (int i = 0; i < 20; i++)
		ck_assert(alive());
	ck_assert_int_eq(status_of("GET", "/api/v1/status", P.admin_key), 200);
	rss_start_kb = rss_kb();
}

static void teardown(void)
{
	fleet_teardown();
}

/* ---- Malformed request lines ---- */

START_TEST(test_request_lines)
{
	static const struct raw_case cases[] = {
		/* libmicrohttpd answers these itself (text/html). */
		{"no HTTP version (HTTP/0.9 form)", RAW("GET /healthz\r\n\r\n"), 400, NULL, 1},
		{"HTTP/2.0 in an HTTP/1 request line",
		 RAW("GET /healthz HTTP/2.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 505,
		 NULL, 1},
		{"version HTTP/9",
		 RAW("GET /healthz HTTP/9\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 400,
		 NULL, 1},
		{"protocol FTP/1.1",
		 RAW("GET /healthz FTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 400,
		 NULL, 1},
		{"a token after the version",
		 RAW("GET /healthz HTTP/1.1 extra\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
		 400, NULL, 1},
		{"bare CR ending the request line",
		 RAW("GET /healthz HTTP/1.1\rHost: localhost\r\nConnection: close\r\n\r\n"), 400,
		 NULL, 1},
		/* A request line of one token: libmicrohttpd closes without an
		 * answer. */
		{"one token, no spaces", RAW("GARBAGE\r\n\r\n"), 0, NULL, 0},
		/* Binary bytes: libmicrohttpd waits, then the connection timeout
		 * closes it without an answer. */
		{"binary bytes", RAW("\x00\x01\x02\xff\xfe\r\n\r\n"), 0, NULL, 0},
		/* suitd answers these. */
		{"unknown method FOO",
		 RAW("FOO /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 405,
		 "method-not-allowed", 1},
		{"lower-case method (methods are case-sensitive)",
		 RAW("get /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 405,
		 "method-not-allowed", 1},
		{"DELETE on /healthz",
		 RAW("DELETE /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
		 405, "method-not-allowed", 1},
		{"target without a leading slash",
		 RAW("GET healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 404,
		 "not-found", 1},
		{"asterisk-form on GET",
		 RAW("GET * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 404,
		 "not-found", 1},
		/* Tolerated as RFC 9112 allows: bare LF line ends, empty lines
		 * before the request line, HTTP/1.0 without Host, HTTP/1.x. */
		{"LF-only line ends",
		 RAW("GET /healthz HTTP/1.1\nHost: localhost\nConnection: close\n\n"), 200, NULL,
		 1},
		{"empty lines before the request line",
		 RAW("\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: "
		     "close\r\n\r\n"),
		 200, NULL, 1},
		{"HTTP/1.0 without Host", RAW("GET /healthz HTTP/1.0\r\n\r\n"), 200, NULL, 1},
		{"HTTP/1.2",
		 RAW("GET /healthz HTTP/1.2\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 200,
		 NULL, 1},
		/* Decoded as well as it goes, then refused: the route takes no
		 * query parameters. */
		{"malformed percent-encoding in the query",
		 RAW("GET /api/v1/status?%zz=%&a=%4 HTTP/1.1\r\nHost: localhost\r\n"
		     "Authorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"),
		 400, "invalid-request", 1},
	};
	static const struct big_case big[] = {
		/* libmicrohttpd: the request line does not fit the connection's
		 * memory pool (64 KiB). */
		{"request target of 70000 bytes", "GET /", "a", 70000,
		 " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 414, NULL, 1},
		{"70000 bytes without a line end", "", "A", 70000, "", 414, NULL, 1},
		/* suitd: a path over BOUND_PATH_MAX (1024) matches no route. */
		{"path of 2000 bytes", "GET /api/v1/devices/", "a", 2000,
		 " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n"
		 "Connection: close\r\n\r\n",
		 404, "not-found", 1},
		{"method of 100 letters", "", "A", 100,
		 " /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 405,
		 "method-not-allowed", 1},
	};

	run_raw_cases(cases, N(cases));
	run_big_cases(big, N(big));
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Malformed and abusive headers ---- */

START_TEST(test_headers)
{
	static const struct raw_case cases[] = {
		/* libmicrohttpd answers these itself (text/html). */
		{"header line without a colon",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\nNoColon\r\nConnection: "
		     "close\r\n\r\n"),
		 400, NULL, 1},
		{"Content-Length: abc",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n"
		     "Connection: close\r\n\r\n"),
		 400, NULL, 1},
		{"Content-Length: -1",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n"
		     "Connection: close\r\n\r\n"),
		 400, NULL, 1},
		{"Content-Length: +13",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nContent-Length: +13\r\nConnection: "
		     "close\r\n\r\n"
		     "{\"id\":\"cl3\"}"),
		 400, NULL, 1},
		{"Content-Length larger than 2^64",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n"
		     "Connection: close\r\n\r\n"),
		 413, NULL, 1},
		{"chunk size larger than 2^64",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
		 413, NULL, 1},
		{"negative chunk size",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\n-5\r\n{}\r\n0\r\n\r\n"),
		 400, NULL, 1},
		{"chunk size that is not hex",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
		 400, NULL, 1},
		/* RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request
		 * without Host (libmicrohttpd checks it with
		 * MHD_OPTION_STRICT_FOR_CLIENT = 1) or with two Host lines. */
		{"HTTP/1.1 without Host", RAW("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"),
		 400, NULL, 1},
		{"two Host lines",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n"
		     "Connection: close\r\n\r\n"),
		 400, "invalid-request", 1},
		/* RFC 9112 §5.1: whitespace between a field name and the colon
		 * MUST be answered with 400 (a proxy may read the field). */
		{"whitespace between the field name and the colon",
		 RAW("GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\n"
		     "Authorization : Bearer {KEY}\r\nConnection: close\r\n\r\n"),
		 400, "invalid-request", 1},
		/* KNOWN LIMITATION of libmicrohttpd 0.9.75 (docs/design.md,
		 * "Request hygiene"): a line with an empty field name ends its
		 * header block, so the first half is answered (200) and the rest
		 * parsed as a second request (MHD's own 400). suitd never sees the
		 * line. Pinned here so that an upgrade that fixes it shows. */
		{"empty field name in the middle of the header block",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\n: x\r\n"
		     "Connection: close\r\n\r\n"),
		 200, NULL, 2},
		/* KNOWN LIMITATION of libmicrohttpd 0.9.75: it cuts a field value
		 * at a NUL before suitd can see it (MHD_lookup_connection_value_n
		 * reports the cut length), so "KEY\0junk" authenticates as KEY.
		 * Not an escalation: the client holds KEY. */
		{"NUL inside the Authorization value",
		 RAW("GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\n"
		     "Authorization: Bearer {KEY}\0junk\r\nConnection: close\r\n\r\n"),
		 200, NULL, 1},
		/* RFC 9112 §6.1/§6.3: chunked not the final coding → 400 and close;
		 * Transfer-Encoding with Content-Length → the connection MUST be
		 * closed after the answer (no second request read from it). */
		{"Transfer-Encoding: gzip",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n"
		     "Connection: close\r\n\r\n"),
		 400, "invalid-request", 1},
		{"Transfer-Encoding: chunked, gzip",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nTransfer-Encoding: chunked, gzip\r\n"
		     "Connection: close\r\n\r\n"),
		 400, "invalid-request", 1},
		{"Transfer-Encoding and Content-Length, then a second request",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
		     "Content-Length: 3\r\n\r\n0\r\n\r\n"
		     "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
		 200, NULL, 1},
		/* RFC 9112 §6.3: different Content-Length values MUST be 400. */
		{"two different Content-Length values",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nContent-Length: 13\r\nContent-Length: "
		     "12\r\n"
		     "Connection: close\r\n\r\n{\"id\":\"cl1\"}"),
		 400, "invalid-request", 1},
		/* RFC 9112 §5.2: refused with 400 (suitd runs libmicrohttpd in
		 * its strict client mode, which answers this itself). */
		{"obs-fold continuation line",
		 RAW("GET /healthz HTTP/1.1\r\nHost: localhost\r\n folded: y\r\n"
		     "Connection: close\r\n\r\n"),
		 400, NULL, 1},
		/* suitd: Expect: 100-continue with a body over max_body is refused
		 * before the body is sent. */
		{"Expect: 100-continue with 5 MB declared",
		 RAW("POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		     "{KEY}\r\n"
		     "Content-Type: application/json\r\nContent-Length: 5000000\r\n"
		     "Expect: 100-continue\r\n\r\n"),
		 413, "too-large", 1},
	};
	static const struct big_case big[] = {
		/* libmicrohttpd: headers beyond the 32 KiB connection pool. */
		{"header value of 70000 bytes",
		 "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ", "a", 70000,
		 "\r\nConnection: close\r\n\r\n", 431, NULL, 1},
		{"5000 header lines", "GET /healthz HTTP/1.1\r\nHost: localhost\r\n", "X-A: v\r\n",
		 5000, "Connection: close\r\n\r\n", 431, NULL, 1},
		/* Well inside the pool: served. (The pool holds the read buffer
		 * too, so headers close to 32 KiB may get 431; the sizes here
		 * stay clear of that edge.) */
		{"Cookie of 12000 bytes", "GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: a=",
		 "b", 12000, "\r\nConnection: close\r\n\r\n", 200, NULL, 1},
		{"header value of 40000 bytes",
		 "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ", "a", 40000,
		 "\r\nConnection: close\r\n\r\n", 431, NULL, 1},
		/* KNOWN LIMITATION of libmicrohttpd 0.9.75: a chunk line that does
		 * not fit its connection pool gets MHD's own 500 (not 413) before
		 * suitd sees the body; the connection closes and the daemon goes
		 * on (checked after every case). */
		{"chunk extension of 70000 bytes",
		 "POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		 "{KEY}\r\n"
		 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		 "Connection: close\r\n\r\n2;",
		 "e", 70000, "\r\n{}\r\n0\r\n\r\n", 500, NULL, 1},
		/* suitd: pipelined requests are answered in order. */
		{"200 pipelined requests", "", "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
		 200, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 200,
		 NULL, 201},
	};
	long long devices = count("devices");

	run_raw_cases(cases, N(cases));
	run_big_cases(big, N(big));
	soft(count("devices") == devices, "a malformed request created a device (%lld, want %lld)",
	     count("devices"), devices);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Oversized and cut bodies ---- */

/* Rows an upload leaves behind when it does not complete: uploads without
 * a payload, and their chunks. The request-completed callback deletes
 * them; poll a moment for it. */
static bool no_upload_leftovers(void)
{
	for (int i = 0; i < 50; i++) {
		if (harness_sql_int(&P, "SELECT (SELECT count(*) FROM uploads WHERE id NOT IN "
					"(SELECT upload_id FROM payloads)) + (SELECT count(*) "
					"FROM chunks WHERE upload_id NOT IN (SELECT upload_id "
					"FROM payloads))") == 0)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

START_TEST(test_bodies)
{
	static const char big_chunked[] =
		"POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
		"{KEY}\r\n"
		"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		"Connection: close\r\n\r\n";
	long long devices = count("devices"), payloads = count("payloads");
	long long manifests = count("manifests");
	struct bytes tmpl = {0}, req;
	struct raw_reply r;
	struct raw_conn c;
	char *blob = malloc(PAYLOAD_MAX + 2);
	char head[512];

	ck_assert_ptr_nonnull(blob);
	memset(blob, ' ', PAYLOAD_MAX + 2);

	/* Over max_body with Content-Length: refused before the body. */
	struct api_case over = {"POST", "/api/v1/devices", "Bearer {KEY}", "application/json", blob,
				413,	"too-large"};
	run_api_case(&over, MAX_BODY + 1);
	/* Over max_body chunked (no Content-Length): 413 when the bytes pass it. */
	bytes_str(&tmpl, big_chunked);
	for (int i = 0; i < 3; i++) {
		bytes_str(&tmpl, "8000\r\n");
		bytes_add(&tmpl, blob, 0x8000);
		bytes_str(&tmpl, "\r\n");
	}
	bytes_str(&tmpl, "0\r\n\r\n");
	req = expand(tmpl.p, tmpl.len);
	raw_exchange(req.p, req.len, RAW_WAIT_MS, &r);
	check_raw("chunked body of 96 KiB (max_body 64 KiB)", &r, 413, "too-large", 1);
	raw_reply_release(&r);
	free(req.p);
	free(tmpl.p);

	/* Declared far over max_body (more than 16 × max_body): answered at
	 * once, without waiting for the body. */
	snprintf(head, sizeof(head),
		 "POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
		 P.admin_key);
	raw_exchange(head, strlen(head), RAW_WAIT_MS, &r);
	check_raw("2 MB declared, no body sent", &r, 413, "too-large", 1);
	soft(r.seconds < CONN_TIMEOUT, "2 MB declared: answered after %.1f s, want at once",
	     r.seconds);
	raw_reply_release(&r);

	/* 500 kB (under 16 × max_body): read and dropped, answered 413, and the
	 * connection stays usable for the next request. */
	snprintf(head, sizeof(head),
		 "POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: 500000\r\n\r\n",
		 P.admin_key);
	tmpl = (struct bytes){0};
	bytes_str(&tmpl, head);
	bytes_add(&tmpl, blob, 500000);
	bytes_str(&tmpl, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
	raw_exchange(tmpl.p, tmpl.len, RAW_WAIT_MS, &r);
	check_raw("500 kB body (max_body 64 KiB) then a keep-alive request", &r, 413, "too-large",
		  2);
	raw_reply_release(&r);
	free(tmpl.p);

	/* A body cut short by the client: nothing is created. */
	raw_tls(&c);
	snprintf(head, sizeof(head),
		 "POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"cut\"}",
		 P.admin_key);
	ck_assert(raw_send(&c, head, strlen(head)));
	usleep(200 * 1000);
	raw_close(&c);
	/* A payload upload cut after half of its bytes: nothing is left. */
	raw_tls(&c);
	snprintf(head, sizeof(head),
		 "POST /api/v1/payloads?name=cut.bin HTTP/1.1\r\nHost: localhost\r\n"
		 "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
		 "Content-Length: 300000\r\n\r\n",
		 P.admin_key);
	ck_assert(raw_send(&c, head, strlen(head)));
	ck_assert(raw_send(&c, blob, 150000));
	usleep(300 * 1000);
	raw_close(&c);
	soft(no_upload_leftovers(), "a cut payload upload left rows behind");

	/* Over [payloads] max_size, declared and chunked: nothing stored. */
	snprintf(head, sizeof(head),
		 "POST /api/v1/payloads?name=big.bin HTTP/1.1\r\nHost: localhost\r\n"
		 "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
		 "Content-Length: %d\r\n\r\n",
		 P.admin_key, PAYLOAD_MAX + 1);
	raw_exchange(head, strlen(head), RAW_WAIT_MS, &r);
	check_raw("payload of max_size + 1 declared", &r, 413, "too-large", 1);
	raw_reply_release(&r);
	snprintf(head, sizeof(head),
		 "POST /api/v1/payloads?name=big.bin HTTP/1.1\r\nHost: localhost\r\n"
		 "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
		 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		 P.admin_key);
	tmpl = (struct bytes){0};
	bytes_str(&tmpl, head);
	for (int i = 0; i < 17; i++) {
		bytes_str(&tmpl, "10000\r\n");
		bytes_add(&tmpl, blob, 0x10000);
		bytes_str(&tmpl, "\r\n");
	}
	bytes_str(&tmpl, "0\r\n\r\n");
	raw_exchange(tmpl.p, tmpl.len, RAW_WAIT_MS, &r);
	check_raw("chunked payload of 1.06 MiB (max_size 1 MiB)", &r, 413, "too-large", 1);
	raw_reply_release(&r);
	free(tmpl.p);

	static const struct api_case small[] = {
		{"GET", "/healthz", NULL, "text/plain", "hello", 400, "invalid-request"},
		{"DELETE", "/api/v1/keys/nobody", "Bearer {KEY}", "application/json", "{}", 400,
		 "invalid-request"},
		{"GET", "/device/v1/whoami", "Bearer {KEY}", "text/plain", "x", 401,
		 "unauthorized"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json", "", 400,
		 "invalid-request"},
		{"POST", "/api/v1/manifests", "Bearer {KEY}", "application/suit-envelope+cose", "",
		 400, "invalid-request"},
		{"POST", "/api/v1/payloads", "Bearer {KEY}", "application/octet-stream", "", 400,
		 "invalid-request"},
		{"POST", "/api/v1/payloads", "Bearer {KEY}", "text/plain", "abc", 415,
		 "unsupported-media-type"},
	};
	run_api_cases(small, N(small));

	/* Over [manifests] max_size; over [devices] max_report_size. */
	struct api_case envelope = {
		"POST", "/api/v1/manifests", "Bearer {KEY}", "application/suit-envelope+cose", blob,
		413,	"too-large"};
	run_api_case(&envelope, MANIFEST_MAX + 1);
	device("big-reporter", NULL, V.dev, sizeof(V.dev));
	struct api_case big_report = {"POST", REPORTS, "Bearer {DEV}", "application/json",
				      blob,   413,     "too-large"};
	run_api_case(&big_report, 2000);

	/* A Content-Digest that does not match the bytes: 422, nothing stored. */
	struct http_result hr;
	const char *digest[] = {
		"Content-Type: application/octet-stream",
		"Content-Digest: sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:", NULL};
	harness_request_ex(&P, "POST", "/api/v1/payloads?name=liar.bin", P.admin_key, digest,
			   "not the digested bytes", 22, &hr);
	soft(hr.status == 422, "wrong Content-Digest: status %ld, want 422", hr.status);
	http_result_release(&hr);

	soft(count("devices") == devices + 1, "bodies created devices: %lld, want %lld",
	     count("devices"), devices + 1);
	soft(count("payloads") == payloads, "bodies stored payloads: %lld, want %lld",
	     count("payloads"), payloads);
	soft(count("manifests") == manifests, "bodies stored manifests");
	soft(no_upload_leftovers(), "refused uploads left rows behind");
	free(blob);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Slow clients ---- */

/* The server closes c (EOF or reset) within ms, after any answer it sent. */
static bool closed_within(struct raw_conn *c, long ms)
{
	char buf[4096];
	long n;

	while ((n = raw_recv(c, buf, sizeof(buf), ms)) > 0)
		;
	return n == 0;
}

static bool peer_closed(struct raw_conn *c)
{
	return closed_within(c, 0);
}

START_TEST(test_slow_clients)
{
	enum { IDLE_TLS, NO_HANDSHAKE, SLOW_HEADERS, SLOW_BODY, CONNS };
	static const char *const what[CONNS] = {
		"an idle TLS connection",
		"a TCP connection without a TLS handshake",
		"headers trickled one byte a second",
		"a body trickled one byte a second",
	};
	/* Seconds after which each must be closed: the connection timeout,
	 * plus slack for the timer's granularity. */
	static const double limit[CONNS] = {CONN_TIMEOUT + 2, CONN_TIMEOUT + 2, CONN_TIMEOUT + 3,
					    CONN_TIMEOUT + 3};
	static const char slow_headers[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
					   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char slow_body[] = "{\"id\":\"slow-body\"}                              ";
	struct raw_conn c[CONNS], idle[100];
	double closed_at[CONNS], t0, next_byte;
	size_t sent[CONNS] = {0};
	const char *data[CONNS] = {NULL, NULL, slow_headers, slow_body};
	int served = 0, rounds = 0, idle_closed = 0;
	double slowest = 0;
	char head[512];

	raw_tls(&c[IDLE_TLS]);
	raw_tcp(&c[NO_HANDSHAKE]);
	raw_tls(&c[SLOW_HEADERS]);
	raw_tls(&c[SLOW_BODY]);
	for (size_t i = 0; i < N(idle); i++)
		raw_tcp(&idle[i]);
	snprintf(head, sizeof(head),
		 "POST /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 P.admin_key, strlen(slow_body));
	ck_assert(raw_send(&c[SLOW_BODY], head, strlen(head)));
	t0 = next_byte = now_s();
	for (int i = 0; i < CONNS; i++)
		closed_at[i] = -1;

	/* One byte a second on the slow ones; meanwhile another client. */
	while (now_s() - t0 < CONN_TIMEOUT + 6) {
		bool open = false;
		if (now_s() >= next_byte) {
			for (int i = SLOW_HEADERS; i <= SLOW_BODY; i++)
				if (closed_at[i] < 0 && sent[i] < strlen(data[i]) &&
				    raw_send(&c[i], data[i] + sent[i], 1))
					sent[i]++;
			next_byte += 1.0;
			double s = now_s();
			bool ok = alive();
			double took = now_s() - s;
			rounds++;
			served += ok && took < 1.0;
			slowest = took > slowest ? took : slowest;
		}
		for (int i = 0; i < CONNS; i++) {
			if (closed_at[i] < 0 && peer_closed(&c[i]))
				closed_at[i] = now_s() - t0;
			open = open || closed_at[i] < 0;
		}
		if (!open)
			break;
		usleep(50 * 1000);
	}
	for (int i = 0; i < CONNS; i++) {
		if (closed_at[i] < 0)
			soft(false, "%s: still open after %.0f s (connection_timeout %d s)",
			     what[i], now_s() - t0, CONN_TIMEOUT);
		else
			soft(closed_at[i] <= limit[i],
			     "%s: closed after %.1f s, want within %.0f s (connection_timeout %d "
			     "s)",
			     what[i], closed_at[i], limit[i], CONN_TIMEOUT);
		raw_close(&c[i]);
	}
	/* The idle ones were opened before t0: closed by t0 + timeout + 2 s. */
	for (size_t i = 0; i < N(idle); i++) {
		double left = t0 + CONN_TIMEOUT + 2 - now_s();
		idle_closed += closed_within(&idle[i], left > 0 ? (long)(left * 1000.0) : 0);
		raw_close(&idle[i]);
	}
	soft(idle_closed == (int)N(idle), "%d of %zu idle TCP connections closed by the timeout",
	     idle_closed, N(idle));
	soft(served == rounds && rounds > 0,
	     "another client was served %d times of %d within 1 s meanwhile (slowest %.2f s)",
	     served, rounds, slowest);
	soft(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'slow-body'") == 0,
	     "the trickled body created a device");
	soft_done();
	assert_alive();
}
END_TEST

/* ---- One address takes every connection (issue 23, defect 5) ---- */

/* The flood daemon's [server] per_address_connection_limit and
 * handshake_timeout (its connection_timeout is the harness's, 5 s). */
#define PER_ADDRESS	  32
#define HANDSHAKE_TIMEOUT 1
/* Idle TCP connections the flood opens from 127.0.0.1. */
#define FLOOD_CONNS 2000
/* The other client's address: all of 127.0.0.0/8 is loopback on Linux. */
#define OTHER_CLIENT "127.0.0.2"

/* A daemon of its own, with the defaults but for the two limits above. */
static void flood_setup(void)
{
	char conf[128];

	signal(SIGPIPE, SIG_IGN);
	snprintf(conf, sizeof(conf),
		 "[server]\nper_address_connection_limit = %d\nhandshake_timeout = %d\n",
		 PER_ADDRESS, HANDSHAKE_TIMEOUT);
	harness_setup(&P, conf);
	harness_start(&P);
}

static void flood_teardown(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_cleanup(&P);
}

/* A TCP connection from 127.0.0.1, its connect() left in progress. */
static int flood_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(daemon_port())};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS,
		      "connect: %s", strerror(errno));
	return fd;
}

/* Close the flood's connections that the server closed (EOF or reset)
 * within ms; returns how many. */
static int flood_reap(int *fds, size_t n, long ms)
{
	static struct pollfd pfd[FLOOD_CONNS];
	size_t open = 0;
	int reaped = 0;

	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			pfd[open++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	if (!open || poll(pfd, (nfds_t)open, (int)ms) <= 0)
		return 0;
	for (size_t i = 0, j = 0; i < n; i++) {
		char byte;
		ssize_t got;
		if (fds[i] < 0 || !pfd[j++].revents)
			continue;
		got = recv(fds[i], &byte, 1, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
			close(fds[i]);
			fds[i] = -1;
			reaped++;
		}
	}
	return reaped;
}

static size_t discard_body(char *data, size_t size, size_t n, void *userp)
{
	(void)data;
	(void)userp;
	return size * n;
}

/* GET /healthz over TLS on a new connection from OTHER_CLIENT: its
 * status (negative: a curl error) and how long it took. */
static long healthz_from_other(double *ret_seconds)
{
	CURL *c = curl_easy_init();
	char url[192];
	long status = 0;
	double t0 = now_s();
	CURLcode rc;

	ck_assert_ptr_nonnull(c);
	snprintf(url, sizeof(url), "%s/healthz", P.url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, P.ca);
	curl_easy_setopt(c, CURLOPT_INTERFACE, "host!" OTHER_CLIENT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		status = -(long)rc;
	curl_easy_cleanup(c);
	*ret_seconds = now_s() - t0;
	return status;
}

/* 2,000 idle TCP connections from one address, no TLS handshake, each
 * reopened as soon as the server closes it: the connections over
 * per_address_connection_limit are closed at accept, the rest within
 * handshake_timeout, and meanwhile a client from another address is served
 * at once. Before: the flood held every connection slot (connection_limit)
 * for connection_timeout and /healthz was unreachable. */
START_TEST(test_connection_flood)
{
	static int fds[FLOOD_CONNS];
	struct rlimit rl;
	int refused = 0, served = 0, rounds = 0, left = 0;
	double slowest = 0, t0;
	long status = 0;

	/* The flood's descriptors, and the test's own besides. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_msg(rl.rlim_max >= FLOOD_CONNS + 256, "RLIMIT_NOFILE hard limit %llu < %d",
		      (unsigned long long)rl.rlim_max, FLOOD_CONNS + 256);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);

	t0 = now_s();
	for (size_t i = 0; i < FLOOD_CONNS; i++)
		fds[i] = flood_connect();
	/* Refused at accept: before handshake_timeout could have cut any, since
	 * every connection was accepted after t0. */
	while (refused < FLOOD_CONNS - PER_ADDRESS && now_s() - t0 < HANDSHAKE_TIMEOUT)
		refused += flood_reap(fds, FLOOD_CONNS, 50);
	soft(refused >= FLOOD_CONNS - PER_ADDRESS,
	     "%d of the %d flood connections over the per-address limit %d were closed within "
	     "%.1f s",
	     refused, FLOOD_CONNS - PER_ADDRESS, PER_ADDRESS, now_s() - t0);

	/* The flood reconnects at once, again and again; the other client
	 * gets through each time on a new connection. */
	for (t0 = now_s(); now_s() - t0 < 2.0 * HANDSHAKE_TIMEOUT + 1;) {
		double took;
		for (size_t i = 0; i < FLOOD_CONNS; i++)
			if (fds[i] < 0)
				fds[i] = flood_connect();
		status = healthz_from_other(&took);
		rounds++;
		served += status == 200 && took < 1.0;
		slowest = took > slowest ? took : slowest;
		flood_reap(fds, FLOOD_CONNS, 100);
	}
	soft(served == rounds,
	     "the client at " OTHER_CLIENT " was served %d of %d times within 1 s during the "
	     "flood (slowest %.2f s, last status %ld)",
	     served, rounds, slowest, status);

	/* Those within the limit never sent a byte: cut by handshake_timeout
	 * (connection_timeout is 5 s). */
	for (t0 = now_s(); now_s() - t0 < HANDSHAKE_TIMEOUT + 1.5;)
		flood_reap(fds, FLOOD_CONNS, 100);
	for (size_t i = 0; i < FLOOD_CONNS; i++) {
		left += fds[i] >= 0;
		if (fds[i] >= 0)
			close(fds[i]);
	}
	soft(left == 0, "%d flood connections still open %.1f s after the last reconnect", left,
	     HANDSHAKE_TIMEOUT + 1.5);
	soft_done();
	assert_alive();
}
END_TEST

/* A connection must bring its first request's headers within
 * handshake_timeout of being accepted, TLS handshake included; one that
 * has been served keeps connection_timeout for the next request. */
START_TEST(test_first_request_deadline)
{
	enum { TCP_ONLY, TLS_ONLY, SERVED, CONNS };
	static const char *const what[CONNS] = {
		"a TCP connection that never starts the TLS handshake",
		"a TLS connection that sends no request",
		"a keep-alive connection after its first answer",
	};
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct raw_conn c[CONNS];
	double opened[CONNS], closed_at[CONNS];
	char buf[1024];
	long n;

	for (int i = 0; i < CONNS; i++) {
		opened[i] = now_s();
		closed_at[i] = -1;
		if (i == TCP_ONLY)
			raw_tcp(&c[i]);
		else
			raw_tls(&c[i]);
	}
	ck_assert(raw_send(&c[SERVED], RAW(req)));
	n = raw_recv(&c[SERVED], buf, sizeof(buf) - 1, 2000);
	ck_assert_msg(n > 0, "no answer to GET /healthz");
	buf[n] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);

	while (now_s() - opened[0] < HANDSHAKE_TIMEOUT + 2.5) {
		for (int i = 0; i < CONNS; i++)
			if (closed_at[i] < 0 && peer_closed(&c[i]))
				closed_at[i] = now_s() - opened[i];
		usleep(50 * 1000);
	}
	for (int i = TCP_ONLY; i <= TLS_ONLY; i++)
		soft(closed_at[i] >= HANDSHAKE_TIMEOUT - 0.1 &&
			     closed_at[i] <= HANDSHAKE_TIMEOUT + 1.5,
		     "%s: closed after %.1f s, want %d..%.1f s (handshake_timeout %d s; -1: "
		     "still open)",
		     what[i], closed_at[i], HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT + 1.5,
		     HANDSHAKE_TIMEOUT);
	soft(closed_at[SERVED] < 0, "%s: closed after %.1f s, before connection_timeout",
	     what[SERVED], closed_at[SERVED]);
	for (int i = 0; i < CONNS; i++)
		raw_close(&c[i]);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Thousands of ranges ---- */

START_TEST(test_ranges)
{
	static const struct {
		const char *what, *prefix, *item;
		size_t count;
		bool numbered; /* item is "I-I" for I = 0..count-1 */
		long status;
		size_t body; /* 0: more than 16 × the payload (multipart) */
	} cases[] = {
		/* More than 16 ranges: the header is ignored (200, whole). */
		{"3000 distinct ranges", "bytes=", NULL, 3000, true, 200, 50000},
		{"10000 ranges 0-", "bytes=", "0-,", 10000, false, 200, 50000},
		{"17 ranges", "bytes=", "0-0,", 17, false, 200, 50000},
		/* 16 ranges of the whole payload: 16 parts, nothing merged. */
		{"16 ranges 0-", "bytes=", "0-,", 16, false, 206, 0},
		/* Malformed: ignored. */
		{"empty range set", "bytes=", "", 0, false, 200, 50000},
		{"first beyond 2^64", "bytes=", "99999999999999999999-", 1, false, 200, 50000},
		{"suffix beyond 2^64", "bytes=", "-99999999999999999999", 1, false, 200, 50000},
		{"last before first", "bytes=", "5-3", 1, false, 200, 50000},
		{"double minus", "bytes=", "--1", 1, false, 200, 50000},
		{"another unit", "items=", "0-1", 1, false, 200, 50000},
		{"30000 bytes of garbage", "bytes=", "x", 30000, false, 200, 50000},
		/* Unsatisfiable: 416, and Content-Range gives the size. */
		{"-0 only", "bytes=", "-0", 1, false, 416, 0},
		{"start at the size", "bytes=", "50000-", 1, false, 416, 0},
		{"16 ranges past the end", "bytes=", "50000-,", 16, false, 416, 0},
		/* Satisfiable ones among unsatisfiable ones. */
		{"-0 and 0-0", "bytes=", "-0,0-0", 1, false, 206, 1},
	};
	char path[160], dev_path[160];

	device("range-reader", NULL, V.dev, sizeof(V.dev));
	snprintf(path, sizeof(path), "/api/v1/payloads/%s/content", F.fw_sha);
	snprintf(dev_path, sizeof(dev_path), "/device/v1/payloads/%s", F.fw_sha);
	ck_assert_uint_eq(F.fw_len, 50000);
	for (size_t i = 0; i < N(cases); i++) {
		for (int route = 0; route < 2; route++) {
			struct bytes h = {0};
			struct http_result r;
			char item[48], got[96];

			bytes_str(&h, "Range: ");
			bytes_str(&h, cases[i].prefix);
			for (size_t k = 0; k < cases[i].count; k++) {
				if (cases[i].numbered) {
					snprintf(item, sizeof(item), "%s%zu-%zu", k ? "," : "", k,
						 k);
					bytes_str(&h, item);
				} else {
					bytes_str(&h, cases[i].item);
				}
			}
			const char *headers[] = {h.p, NULL};
			harness_request_ex(&P, "GET", route ? dev_path : path,
					   route ? V.dev : P.admin_key, headers, NULL, 0, &r);
			soft(r.status == cases[i].status, "%s (%s route): status %ld, want %ld",
			     cases[i].what, route ? "device" : "API", r.status, cases[i].status);
			if (r.status == 200 || (r.status == 206 && cases[i].body))
				soft(r.body_len == cases[i].body, "%s: %zu bytes, want %zu",
				     cases[i].what, r.body_len, cases[i].body);
			if (r.status == 206 && !cases[i].body) {
				const char *ct = hdr(&r, "Content-Type");
				soft(ct && strncmp(ct, "multipart/byteranges;", 21) == 0 &&
					     r.body_len > 16 * F.fw_len,
				     "%s: %s of %zu bytes, want 16 parts", cases[i].what,
				     ct ? ct : "(no type)", r.body_len);
			}
			if (r.status == 416) {
				soft(strcmp(slug_of(&r, got, sizeof(got)),
					    "range-not-satisfiable") == 0,
				     "%s: problem '%s'", cases[i].what, got);
				const char *cr = hdr(&r, "Content-Range");
				soft(cr && strcmp(cr, "bytes */50000") == 0,
				     "%s: Content-Range '%s'", cases[i].what, cr ? cr : "(none)");
			}
			http_result_release(&r);
			free(h.p);
		}
		soft(alive(), "%s: the daemon no longer answers afterwards", cases[i].what);
	}
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Deeply nested and otherwise hostile JSON ---- */

START_TEST(test_json)
{
	static const struct {
		const char *method, *path, *auth;
		const char *head, *open;
		size_t depth;
		const char *mid, *close, *tail;
		long status;
		const char *slug;
	} cases[] = {
		/* jansson stops at depth 2048. */
		{"POST", "/api/v1/devices", "{KEY}", "", "[", 30000, "", "", "", 400,
		 "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "", "{\"a\":", 10000, "1", "}", "", 400,
		 "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"deep-1\",\"attributes\":",
		 "{\"a\":", 3000, "1", "}", "}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"deep-2\",\"tags\":", "[", 5000, "",
		 "]", "}", 400, "invalid-request"},
		/* Within jansson's depth but over 4096 bytes of attributes. */
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"deep-3\",\"attributes\":",
		 "{\"a\":", 2000, "1", "}", "}", 400, "invalid-request"},
		{"PATCH", "/api/v1/devices/json-victim", "{KEY}",
		 "{\"attributes\":", "{\"a\":", 3000, "1", "}", "}", 400, "invalid-request"},
		{"POST", "/api/v1/deployments", "{KEY}", "", "[", 30000, "", "", "", 400,
		 "invalid-request"},
		{"POST", "/api/v1/deployments", "{KEY}",
		 "{\"manifest\":\"{M1}\",\"target\":{\"group\":\"none\"},\"rollout\":",
		 "{\"stages\":", 3000, "[100]", "}", "}", 400, "invalid-request"},
		{"POST", "/api/v1/keys", "{KEY}", "", "[", 30000, "", "", "", 400,
		 "invalid-request"},
		{"POST", REPORTS, "{DEV}", "", "[", 900, "", "", "", 400, "invalid-request"},
		{"POST", REPORTS, "{DEV}",
		 "{\"manifest\":\"{M1}\",\"state\":\"failed\",\"reason\":", "[", 400, "", "]", "}",
		 400, "invalid-request"},
		/* Huge members. */
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"many-tags\",\"tags\":[", "\"t\",",
		 10000, "\"t\"", "", "]}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"many-members\"", ",\"k\":1", 5000,
		 "", "", "}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"", "a", 129, "", "", "\"}", 400,
		 "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"long-group\",\"group\":\"", "g",
		 129, "", "", "\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "{KEY}", "{\"id\":\"blank\"", " ", 60000, "", "", "}",
		 201, NULL},
	};
	static const struct api_case flat[] = {
		/* Invalid or overlong UTF-8, NUL, numbers jansson cannot hold. */
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"\xc0\xae\xc0\xae\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"\xe0\x80\xae\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"\xed\xa0\x80\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"\\ud800\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"a\\u0000b\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"..\\u002f..\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"caf\xc3\xa9\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"num\",\"attributes\":{\"n\":1e999}}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"num\",\"attributes\":{\"n\":123456789012345678901234567890}}", 400,
		 "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json",
		 "{\"id\":\"dup\",\"id\":\"dup2\"}", 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json", "{\"id\":\"x\"} {}",
		 400, "invalid-request"},
		{"POST", "/api/v1/devices", "Bearer {KEY}", "application/json", "\"just a string\"",
		 400, "invalid-request"},
		{"POST", REPORTS, "Bearer {DEV}", "application/json",
		 "{\"manifest\":\"{M1}\",\"state\":\"installed\",\"progress\":1e308}", 400,
		 "invalid-request"},
		{"POST", REPORTS, "Bearer {DEV}", "application/json",
		 "{\"manifest\":\"{M1}\",\"state\":\"confirmed\"}", 400, "invalid-request"},
		{"POST", REPORTS, "Bearer {DEV}", "application/json",
		 "{\"manifest\":\"{M1}\",\"state\":\"installed\",\"device\":\"someone-else\"}", 400,
		 "invalid-request"},
	};
	long long devices, reports = count("reports"), deployments = count("deployments");

	device("json-victim", NULL, NULL, 0);
	device("json-reporter", NULL, V.dev, sizeof(V.dev));
	devices = count("devices");
	for (size_t i = 0; i < N(cases); i++) {
		struct bytes b = {0}, body;
		char auth[16];

		bytes_str(&b, cases[i].head);
		bytes_repeat(&b, cases[i].open, cases[i].depth);
		bytes_str(&b, cases[i].mid);
		bytes_repeat(&b, cases[i].close, cases[i].depth);
		bytes_str(&b, cases[i].tail);
		body = expand(b.p, b.len);
		snprintf(auth, sizeof(auth), "Bearer %s", cases[i].auth);
		char what[200];
		snprintf(what, sizeof(what), "%s %s: %.40s + %zu x '%s'", cases[i].method,
			 cases[i].path, cases[i].head, cases[i].depth, cases[i].open);
		struct api_case c = {cases[i].method,	 cases[i].path, auth,
				     "application/json", body.p,	cases[i].status,
				     cases[i].slug};
		run_api_case_as(&c, body.len, what);
		free(body.p);
		free(b.p);
	}
	run_api_cases(flat, N(flat));
	/* Only "blank" (a valid body in 60000 bytes of whitespace) was created. */
	soft(count("devices") == devices + 1, "hostile JSON created devices: %lld, want %lld",
	     count("devices"), devices + 1);
	soft(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'json-victim' AND "
				 "(attributes IS NULL OR attributes = '{}')") == 1,
	     "json-victim's attributes changed");
	soft(count("reports") == reports, "hostile JSON stored reports");
	soft(count("deployments") == deployments, "hostile JSON created deployments");
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Hostile CBOR: nesting, huge declared lengths ---- */

START_TEST(test_cbor)
{
	static const struct {
		const char *what;
		const char *head;
		size_t head_len;
		const char *unit;
		size_t unit_len, count;
		const char *tail;
		size_t tail_len;
		long status;
		const char *slug; /* as an envelope; report_*: as a SUIT report, where a tag
				     other than COSE_Sign1 (18) is 415 */
		long report_status;
		const char *report_slug;
	} cases[] = {
		{"100000 nested arrays", "", 0, "\x81", 1, 100000, "", 0, 422,
		 "manifest:cbor-parse", 400, "invalid-request"},
		{"50000 nested maps", "", 0, "\xa1\x01", 2, 50000, "\x00", 1, 422,
		 "manifest:cbor-parse", 400, "invalid-request"},
		{"10000 nested tags 107", "", 0, "\xd8\x6b", 2, 10000, "\xa0", 1, 422,
		 "manifest:cbor-parse", 415, "unsupported-media-type"},
		{"bstr of 2^64-1 bytes", RAW("\x5b\xff\xff\xff\xff\xff\xff\xff\xff"), "", 0, 0, "",
		 0, 422, "manifest:cbor-parse", 400, "invalid-request"},
		{"map of 2^64-1 pairs", RAW("\xbb\xff\xff\xff\xff\xff\xff\xff\xff"), "", 0, 0, "",
		 0, 422, "manifest:cbor-parse", 400, "invalid-request"},
		{"array of 2^32-1 items", RAW("\x9a\xff\xff\xff\xff"), "", 0, 0, "", 0, 422,
		 "manifest:cbor-parse", 400, "invalid-request"},
		{"text of 2^63 bytes", RAW("\x7b\x80\x00\x00\x00\x00\x00\x00\x00"), "", 0, 0, "", 0,
		 422, "manifest:cbor-parse", 400, "invalid-request"},
		{"envelope whose auth bstr claims 2^64-1 bytes",
		 RAW("\xd8\x6b\xa2\x02\x5b\xff\xff\xff\xff\xff\xff\xff\xff"), "", 0, 0, "", 0, 422,
		 "manifest:cbor-parse", 415, "unsupported-media-type"},
		{"envelope map claiming 2^32-1 pairs", RAW("\xd8\x6b\xba\xff\xff\xff\xff\x02\x40"),
		 "", 0, 0, "", 0, 422, "manifest:cbor-parse", 415, "unsupported-media-type"},
		{"indefinite-length bstr", RAW("\x5f\x41\x00\xff"), "", 0, 0, "", 0, 422,
		 "manifest:cbor-parse", 400, "invalid-request"},
		{"a lone break byte", RAW("\xff"), "", 0, 0, "", 0, 422, "manifest:cbor-parse", 400,
		 "invalid-request"},
		{"truncated integer head", RAW("\x1b\x01"), "", 0, 0, "", 0, 422,
		 "manifest:cbor-parse", 400, "invalid-request"},
		{"COSE_Sign1 whose signature claims 2^64-1 bytes",
		 RAW("\xd2\x84\x43\xa1\x01\x26\xa0\xf6\x5b\xff\xff\xff\xff\xff\xff\xff\xff"), "", 0,
		 0, "", 0, 422, "manifest:cbor-parse", 400, "invalid-request"},
		{"COSE_Mac0 head", RAW("\xd1\x84\x40\xa0\xf6\x40"), "", 0, 0, "", 0, 422,
		 "manifest:cbor-parse", 415, "unsupported-media-type"},
	};
	long long manifests = count("manifests"), reports = count("reports");

	device("cbor-reporter", NULL, V.dev, sizeof(V.dev));
	for (size_t i = 0; i < N(cases); i++) {
		struct bytes b = {0};

		bytes_add(&b, cases[i].head, cases[i].head_len);
		for (size_t k = 0; k < cases[i].count; k++)
			bytes_add(&b, cases[i].unit, cases[i].unit_len);
		bytes_add(&b, cases[i].tail, cases[i].tail_len);
		char what[160];
		snprintf(what, sizeof(what), "%s, as an envelope", cases[i].what);
		struct api_case m = {"POST",
				     "/api/v1/manifests",
				     "Bearer {KEY}",
				     "application/suit-envelope+cose",
				     b.p,
				     cases[i].status,
				     cases[i].slug};
		run_api_case_as(&m, b.len, what);
		/* The same bytes as a SUIT report (at most max_report_size). */
		if (b.len > 1024)
			b.len = 1024;
		snprintf(what, sizeof(what), "%s, as a SUIT report", cases[i].what);
		struct api_case r = {"POST",
				     REPORTS,
				     "Bearer {DEV}",
				     "application/suit-report+cose",
				     b.p,
				     cases[i].report_status,
				     cases[i].report_slug};
		run_api_case_as(&r, b.len, what);
		free(b.p);
	}

	/* The fuzz corpus's edge cases, uploaded as envelopes. */
	static const char *const edges[] = {
		"edge-bstr-huge-length",
		"edge-envelope-auth-huge-bstr",
		"edge-lone-tag107",
		"edge-map-huge-length",
		"edge-nested-arrays-200",
		"edge-nested-arrays-200-truncated",
		"edge-tagged-map-huge-length",
	};
	const char *src = getenv("SUITD_SRC");
	for (size_t i = 0; i < N(edges); i++) {
		char path[512];
		size_t len;
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/envelope/%s", src ? src : ".",
			 edges[i]);
		unsigned char *data = read_all(path, &len);
		struct api_case m = {"POST",
				     "/api/v1/manifests",
				     "Bearer {KEY}",
				     "application/suit-envelope+cose",
				     (const char *)data,
				     422,
				     "manifest:cbor-parse"};
		run_api_case_as(&m, len, edges[i]);
		free(data);
	}
	/* A real SUIT report cut short. */
	{
		char path[512];
		size_t len;
		snprintf(path, sizeof(path),
			 "%s/tests/data/suit/reports/report-attestam-success.cbor",
			 src ? src : ".");
		unsigned char *data = read_all(path, &len);
		struct api_case r = {"POST",
				     REPORTS,
				     "Bearer {DEV}",
				     "application/suit-report+cose",
				     (const char *)data,
				     400,
				     "invalid-request"};
		run_api_case(&r, len / 2);
		free(data);
	}
	soft(count("manifests") == manifests, "hostile CBOR stored a manifest");
	soft(count("reports") == reports, "hostile CBOR stored a report");
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Truncated and tampered envelopes ---- */

static size_t find(const unsigned char *hay, size_t len, const char *needle, size_t n)
{
	const unsigned char *at = memmem(hay, len, needle, n);

	ck_assert_msg(at != NULL, "marker not found in the envelope");
	return (size_t)(at - hay);
}

START_TEST(test_envelopes)
{
	const struct manifest *m = &F.m1;
	const size_t n = m->env_len;
	const size_t cuts[] = {1, 2, 3, 8, 16, n / 4, n / 2, 3 * n / 4, n - 2, n - 1};
	long long manifests = count("manifests"), links = count("manifest_payloads");
	unsigned char *copy = malloc(m->env_len + 1);
	char what[96];
	const char *src = getenv("SUITD_SRC");

	ck_assert_ptr_nonnull(copy);
	for (size_t i = 0; i < N(cuts); i++) {
		snprintf(what, sizeof(what), "m1 cut to %zu of %zu bytes", cuts[i], m->env_len);
		struct api_case c = {"POST",
				     "/api/v1/manifests",
				     "Bearer {KEY}",
				     "application/suit-envelope+cose",
				     (const char *)m->env,
				     422,
				     "manifest:cbor-parse"};
		run_api_case_as(&c, cuts[i], what);
	}
	/* A spec example (trusted key) cut in half and by one byte. */
	{
		char path[512];
		size_t len;
		snprintf(path, sizeof(path), "%s/tests/data/suit/spec-example1.signed.suit",
			 src ? src : ".");
		unsigned char *spec = read_all(path, &len);
		struct api_case c = {"POST",
				     "/api/v1/manifests",
				     "Bearer {KEY}",
				     "application/suit-envelope+cose",
				     (const char *)spec,
				     422,
				     "manifest:cbor-parse"};
		run_api_case(&c, len / 2);
		run_api_case(&c, len - 1);
		free(spec);
	}
	/* One byte more: trailing bytes. */
	memcpy(copy, m->env, m->env_len);
	copy[m->env_len] = 0;
	struct api_case trailing = {"POST",
				    "/api/v1/manifests",
				    "Bearer {KEY}",
				    "application/suit-envelope+cose",
				    (const char *)copy,
				    422,
				    "manifest:cbor-parse"};
	run_api_case(&trailing, m->env_len + 1);

	/* One bit flipped: in the signature (after the empty unprotected map
	 * and the detached payload), in the manifest digest of the
	 * authentication wrapper (its first [-16, bstr .size 32]), in the
	 * severable text member at the end. */
	static const struct {
		const char *marker;
		size_t marker_len, offset; /* from the marker's start; 0 = last byte */
		const char *slug;
	} flips[] = {
		{RAW("\xa0\xf6\x58\x40"), 14, "manifest:signature-invalid"},
		{RAW("\x82\x2f\x58\x20"), 10, "manifest:digest-mismatch"},
		{"", 0, 0, "manifest:severed-digest-mismatch"},
	};
	for (size_t i = 0; i < N(flips); i++) {
		size_t at = flips[i].marker_len ? find(m->env, m->env_len, flips[i].marker,
						       flips[i].marker_len) +
							  flips[i].offset
						: m->env_len - 1;
		memcpy(copy, m->env, m->env_len);
		copy[at] ^= 0x01;
		struct api_case c = {"POST",
				     "/api/v1/manifests",
				     "Bearer {KEY}",
				     "application/suit-envelope+cose",
				     (const char *)copy,
				     422,
				     flips[i].slug};
		run_api_case(&c, m->env_len);
	}
	soft(count("manifests") == manifests, "a broken envelope was stored");
	soft(count("manifest_payloads") == links, "a broken envelope linked payloads");
	free(copy);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Ids and paths: "..", %00, overlong UTF-8 ---- */

START_TEST(test_ids)
{
	static const struct {
		const char *method, *target;
		long status;
		const char *slug;
	} cases[] = {
		/* ".." is not special: a device id may hold dots, so ".." is an id
		 * nobody has; elsewhere it is not a valid parameter. */
		{"GET", "/api/v1/devices/..", 404, "not-found"},
		{"GET", "/api/v1/devices/%2e%2e", 404, "not-found"},
		{"GET", "/api/v1/devices/../keys", 404, "not-found"},
		{"GET", "/api/v1/devices/..%2f..%2fkeys", 404, "not-found"},
		{"GET", "/api/v1/devices/id-victim/..", 404, "not-found"},
		{"GET", "/api/v1/devices/id-victim/../../keys", 404, "not-found"},
		{"GET", "/api/v1/payloads/..", 400, "invalid-request"},
		{"GET", "/api/v1/payloads/..%2f..%2fkeys", 404, "not-found"},
		{"GET", "/api/v1/manifests/..", 400, "invalid-request"},
		{"GET", "/api/v1/manifests/../../keys", 404, "not-found"},
		{"GET", "/api/v1/deployments/..", 400, "invalid-request"},
		{"GET", "/api/v1/deployments/..%2f1", 404, "not-found"},
		{"GET", "/device/v1/payloads/..%2f..%2f..%2fapi%2fv1%2fkeys", 404, "not-found"},
		{"DELETE", "/api/v1/keys/..", 404, "not-found"},
		{"DELETE", "/api/v1/keys/..%2f..%2fkeys", 404, "not-found"},
		/* Overlong and other non-ASCII UTF-8: not a valid id. */
		{"GET", "/api/v1/devices/%c0%ae%c0%ae", 400, "invalid-request"},
		{"GET", "/api/v1/devices/%c0%af", 400, "invalid-request"},
		{"GET", "/api/v1/devices/%e0%80%ae%e0%80%ae", 400, "invalid-request"},
		{"GET", "/api/v1/devices/%ef%bc%8e%ef%bc%8e", 400, "invalid-request"},
		{"GET", "/api/v1/devices/id-victi%ce%bc", 400, "invalid-request"},
		{"GET", "/api/v1/devices/%ff%fe", 400, "invalid-request"},
		{"GET", "/api/v1/payloads/%c0%ae%c0%ae", 400, "invalid-request"},
		{"DELETE", "/api/v1/keys/%c0%ae%c0%ae", 400, "invalid-request"},
		/* A NUL in the target must not cut it: "id-victim%00x" is not the
		 * device id-victim, "limit=1%000" is not limit=1. */
		{"GET", "/api/v1/devices/id-victim%00x", 400, "invalid-request"},
		{"GET", "/api/v1/payloads/{SHA}%00", 400, "invalid-request"},
		{"GET", "/api/v1/devices?group=victims%00x", 400, "invalid-request"},
		{"GET", "/api/v1/devices?limit=1%000", 400, "invalid-request"},
		{"DELETE", "/api/v1/devices/id-victim%00.json", 400, "invalid-request"},
		{"DELETE", "/api/v1/keys/victim-key%00x", 400, "invalid-request"},
	};
	char id[200], target[256];
	long long payloads = count("payloads");

	device("id-victim", "victims", NULL, 0);
	api_key("victim-key", "reader", V.victim, sizeof(V.victim));
	for (size_t i = 0; i < N(cases); i++) {
		struct bytes req = {0}, x;
		struct raw_reply r;
		char what[300];

		bytes_str(&req, cases[i].method);
		bytes_str(&req, " ");
		bytes_str(&req, cases[i].target);
		bytes_str(&req, " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n"
				"Connection: close\r\n\r\n");
		x = expand(req.p, req.len);
		raw_exchange(x.p, x.len, RAW_WAIT_MS, &r);
		snprintf(what, sizeof(what), "%s %s", cases[i].method, cases[i].target);
		check_raw(what, &r, cases[i].status, cases[i].slug, 1);
		raw_reply_release(&r);
		free(x.p);
		free(req.p);
	}
	/* An id over the bound (128) is 400 (a path over 1024 bytes is 404: see
	 * test_request_lines). */
	memset(id, 'a', 129);
	id[129] = '\0';
	snprintf(target, sizeof(target), "/api/v1/devices/%s", id);
	soft(status_of("GET", target, P.admin_key) == 400, "a device id of 129 characters");

	/* Payload names with a NUL or overlong UTF-8: 400, nothing stored. */
	static const struct api_case names[] = {
		{"POST", "/api/v1/payloads?name=a%00b", "Bearer {KEY}", "application/octet-stream",
		 "name with a NUL", 400, "invalid-request"},
		{"POST", "/api/v1/payloads?name=%c0%ae%c0%ae", "Bearer {KEY}",
		 "application/octet-stream", "name with overlong UTF-8", 400, "invalid-request"},
		{"POST", "/api/v1/payloads?name=%01x", "Bearer {KEY}", "application/octet-stream",
		 "name with a control character", 400, "invalid-request"},
		{"POST", "/api/v1/payloads?name=", "Bearer {KEY}", "application/octet-stream",
		 "empty name", 400, "invalid-request"},
	};
	run_api_cases(names, N(names));
	soft(count("payloads") == payloads,
	     "a payload with a bad name was stored (%lld, want %lld)", count("payloads"), payloads);

	/* Nothing was deleted or revoked through a cut path. */
	soft(status_of("GET", "/api/v1/devices/id-victim", P.admin_key) == 200,
	     "the device id-victim is gone");
	soft(status_of("GET", "/api/v1/status", V.victim) == 200, "the key victim-key was revoked");
	soft_done();
	assert_alive();
}
END_TEST

/* ---- SQL meta-characters ---- */

START_TEST(test_sql)
{
	static const struct {
		const char *method, *path, *body;
		long status;
		const char *slug;
		int items; /* for a 200 list: how many items (-1: not checked) */
	} cases[] = {
		{"GET", "/api/v1/devices/x'%20OR%20'1'='1", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/devices/x%27%3B%20DROP%20TABLE%20devices%3B--", NULL, 400,
		 "invalid-request", -1},
		{"GET", "/api/v1/devices/sql-1%22--", NULL, 400, "invalid-request", -1},
		{"DELETE", "/api/v1/devices/sql-1'%20OR%20'1'='1", NULL, 400, "invalid-request",
		 -1},
		{"GET", "/api/v1/devices?group=x'%20OR%201=1--", NULL, 200, NULL, 0},
		{"GET", "/api/v1/devices?group=sql%25", NULL, 200, NULL, 0},
		{"GET", "/api/v1/devices?group=%25", NULL, 200, NULL, 0},
		{"GET", "/api/v1/devices?tag=_", NULL, 200, NULL, 0},
		{"GET", "/api/v1/devices?tag=t%25", NULL, 200, NULL, 0},
		{"GET", "/api/v1/devices?tag=%27;DROP%20TABLE%20device_tags;--", NULL, 200, NULL,
		 0},
		{"GET", "/api/v1/devices?group=sqlgrp", NULL, 200, NULL, 2},
		{"GET", "/api/v1/devices?after=1%20OR%201=1", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/devices?limit=1;DELETE%20FROM%20devices", NULL, 400,
		 "invalid-request", -1},
		{"GET", "/api/v1/devices?limit=-1", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/devices?class_id=%27%20OR%20%271%27=%271", NULL, 400,
		 "invalid-request", -1},
		{"GET", "/api/v1/devices?seen_since=0%27%20OR%201=1", NULL, 400, "invalid-request",
		 -1},
		{"GET", "/api/v1/deployments?status=active%27--", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/deployments?manifest=%27%20OR%201=1--", NULL, 400,
		 "invalid-request", -1},
		{"GET", "/api/v1/deployments/1%20OR%201=1", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/manifests?vendor_id=%27%20OR%20%27%27=%27", NULL, 400,
		 "invalid-request", -1},
		{"GET", "/api/v1/manifests/%27%20OR%201=1", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/payloads?after=0%20UNION%20SELECT%201", NULL, 400,
		 "invalid-request", -1},
		{"GET", "/api/v1/keys?after=0;--", NULL, 400, "invalid-request", -1},
		{"GET", "/api/v1/devices/sql-1/reports?after=1;--", NULL, 400, "invalid-request",
		 -1},
		{"POST", "/api/v1/devices", "{\"id\":\"a';--\"}", 400, "invalid-request", -1},
		{"POST", "/api/v1/devices", "{\"id\":\"sql-3\",\"group\":\"g' OR '1'='1\"}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/devices", "{\"id\":\"sql-3\",\"tags\":[\"x'--\"]}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/devices",
		 "{\"id\":\"sql-3\",\"attributes\":{\"'); DROP TABLE devices;--\":\"1' OR "
		 "'1'='1\"}}",
		 201, NULL, -1},
		{"PATCH", "/api/v1/devices/sql-1", "{\"group\":\"sqlgrp' --\"}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/keys", "{\"name\":\"k'--\",\"role\":\"admin\"}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/keys", "{\"name\":\"k2\",\"role\":\"admin' --\"}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/deployments",
		 "{\"manifest\":\"' OR 1=1 --\",\"target\":{\"group\":\"sqlgrp\"}}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/deployments",
		 "{\"manifest\":\"{M1}\",\"target\":{\"devices\":[\"sql-1' OR '1'='1\"]}}", 400,
		 "invalid-request", -1},
		{"POST", "/api/v1/deployments",
		 "{\"manifest\":\"{M1}\",\"name\":\"'); DROP TABLE deployments;--\","
		 "\"target\":{\"group\":\"nobody-here\"}}",
		 201, NULL, -1},
	};
	long long keys = count("api_keys");
	char token[128];
	struct http_result r;
	json_t *j;

	device("sql-1", "sqlgrp", token, sizeof(token));
	device("sql-2", "sqlgrp", NULL, 0);
	for (size_t i = 0; i < N(cases); i++) {
		struct bytes path = expand(cases[i].path, strlen(cases[i].path));
		struct bytes body = expand(cases[i].body ? cases[i].body : "",
					   cases[i].body ? strlen(cases[i].body) : 0);
		char got[96];

		api(cases[i].method, path.p, cases[i].body ? body.p : NULL, &r);
		soft(r.status == cases[i].status, "%s %s: status %ld, want %ld: %.200s",
		     cases[i].method, cases[i].path, r.status, cases[i].status,
		     r.body ? r.body : "");
		if (cases[i].slug && r.status == cases[i].status)
			soft(strcmp(slug_of(&r, got, sizeof(got)), cases[i].slug) == 0,
			     "%s %s: problem '%s'", cases[i].method, cases[i].path, got);
		if (cases[i].items >= 0 && r.status == 200) {
			j = body_json(&r);
			soft(json_array_size(json_object_get(j, "items")) == (size_t)cases[i].items,
			     "%s %s: %zu items, want %d", cases[i].method, cases[i].path,
			     json_array_size(json_object_get(j, "items")), cases[i].items);
			json_decref(j);
		}
		http_result_release(&r);
		soft(alive(), "%s %s: the daemon no longer answers", cases[i].method,
		     cases[i].path);
		free(path.p);
		free(body.p);
	}
	/* Meta-characters in a check-in's seq. */
	checkin(token, "seq=1%20OR%201=1", NULL, &r);
	soft(r.status == 400, "check-in seq=1 OR 1=1: status %ld, want 400", r.status);
	http_result_release(&r);
	/* Stored literally, read back literally. */
	const char name[] = "x');DROP TABLE payloads;--";
	harness_request(&P, "POST", "/api/v1/payloads?name=x%27)%3BDROP%20TABLE%20payloads%3B--",
			P.admin_key, "application/octet-stream", "sql payload", 11, &r);
	soft(r.status == 201, "payload named with SQL: status %ld, want 201", r.status);
	if (r.status == 201) {
		j = body_json(&r);
		soft(strcmp(json_string_value(json_object_get(j, "name")), name) == 0,
		     "payload name '%s', want '%s'", json_string_value(json_object_get(j, "name")),
		     name);
		json_decref(j);
	}
	http_result_release(&r);
	soft(harness_sql_int(&P, "SELECT count(*) FROM deployments WHERE name = "
				 "'''); DROP TABLE deployments;--'") == 1,
	     "the deployment name was not stored literally");
	/* Every table is still there, holding what it should. */
	soft(harness_sql_int(
		     &P, harness_backend_is_pg()
				 ? "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
				   "AND tablename IN ('devices', 'device_tags', 'payloads', "
				   "'deployments', 'api_keys', 'manifests', 'reports')"
				 : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				   "name IN ('devices', 'device_tags', 'payloads', 'deployments', "
				   "'api_keys', 'manifests', 'reports')") == 7,
	     "a table disappeared");
	soft(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id LIKE 'sql-%'") == 3,
	     "devices sql-*: %lld, want 3",
	     harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id LIKE 'sql-%'"));
	soft(count("api_keys") == keys, "api_keys: %lld, want %lld", count("api_keys"), keys);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Authorization header abuse ---- */

START_TEST(test_auth)
{
	static const struct api_case cases[] = {
		{"GET", "/api/v1/status", NULL, NULL, NULL, 401, "unauthorized"},
		{"GET", "/api/v1/status", "Basic dXNlcjpwYXNz", NULL, NULL, 401, "unauthorized"},
		{"GET", "/api/v1/status", "Digest username=\"admin\"", NULL, NULL, 401,
		 "unauthorized"},
		{"GET", "/api/v1/status", "Bearer", NULL, NULL, 401, "unauthorized"},
		{"GET", "/api/v1/status", "Bearer {KEY} {KEY}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/api/v1/status", "Bearer {KEY}x", NULL, NULL, 401, "unauthorized"},
		{"GET", "/api/v1/status", "Bearer {DEV}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/api/v1/status", "Bearer {REVOKED}", NULL, NULL, 401, "unauthorized"},
		{"DELETE", "/api/v1/devices/auth-dev", "Bearer {REVOKED}", NULL, NULL, 401,
		 "unauthorized"},
		{"GET", "/api/v1/keys", "Bearer {READER}", NULL, NULL, 403, "forbidden"},
		{"POST", "/api/v1/keys", "Bearer {READER}", "application/json",
		 "{\"name\":\"escalate\",\"role\":\"admin\"}", 403, "forbidden"},
		{"DELETE", "/api/v1/devices/auth-dev", "Bearer {READER}", NULL, NULL, 403,
		 "forbidden"},
		/* The scheme is case-insensitive (RFC 9110 §11.1). */
		{"GET", "/api/v1/status", "bearer {KEY}", NULL, NULL, 200, NULL},
		{"GET", "/device/v1/whoami", NULL, NULL, NULL, 401, "unauthorized"},
		{"GET", "/device/v1/whoami", "Bearer {KEY}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/device/v1/whoami", "Basic {DEV}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/device/v1/whoami", "Bearer {DEV}{DEV}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/device/v1/whoami", "Bearer {DELETED}", NULL, NULL, 401, "unauthorized"},
		{"GET", CHECKIN, "Bearer {DELETED}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/device/v1/payloads/{SHA}", "Bearer {DELETED}", NULL, NULL, 401,
		 "unauthorized"},
		{"POST", REPORTS, "Bearer {DELETED}", "application/json",
		 "{\"manifest\":\"{M1}\",\"state\":\"installed\"}", 401, "unauthorized"},
		{"GET", "/device/v1/whoami", "Bearer {ROTATED}", NULL, NULL, 401, "unauthorized"},
		{"GET", "/device/v1/whoami", "Bearer {DEV}", NULL, NULL, 200, NULL},
	};
	static const struct {
		const char *path, *scheme;
		size_t len;
	} huge[] = {
		{"/api/v1/status", "Bearer ", 257},	 {"/api/v1/status", "Bearer ", 8000},
		{"/api/v1/status", "Bearer ", 30000},	 {"/device/v1/whoami", "Bearer ", 257},
		{"/device/v1/whoami", "Bearer ", 30000}, {"/api/v1/status", "", 30000},
	};
	long long reports = count("reports");
	char rotated_new[128];
	struct http_result r;
	json_t *j;

	device("auth-dev", NULL, V.dev, sizeof(V.dev));
	device("auth-gone", NULL, V.deleted, sizeof(V.deleted));
	api("DELETE", "/api/v1/devices/auth-gone", NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	device("auth-rot", NULL, V.rotated, sizeof(V.rotated));
	api("POST", "/api/v1/devices/auth-rot/token", NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	snprintf(rotated_new, sizeof(rotated_new), "%s",
		 json_string_value(json_object_get(j, "token")));
	json_decref(j);
	http_result_release(&r);
	api_key("auth-reader", "reader", V.reader, sizeof(V.reader));
	api_key("auth-revoked", "admin", V.revoked, sizeof(V.revoked));
	api("DELETE", "/api/v1/keys/auth-revoked", NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);

	run_api_cases(cases, N(cases));
	for (size_t i = 0; i < N(huge); i++) {
		struct bytes v = {0};
		bytes_str(&v, huge[i].scheme);
		bytes_repeat(&v, "A", huge[i].len);
		struct api_case c = {"GET", huge[i].path, v.p, NULL, NULL, 401, "unauthorized"};
		run_api_case(&c, 0);
		free(v.p);
	}
	/* Every device failure reads the same. */
	harness_request(&P, "GET", "/device/v1/whoami", V.deleted, NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized", "device authentication failed");
	http_result_release(&r);
	soft(status_of("GET", "/device/v1/whoami", rotated_new) == 200,
	     "the new token of auth-rot does not work");
	soft(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'auth-dev'") == 1,
	     "auth-dev was deleted by a refused key");
	soft(harness_sql_int(&P, "SELECT count(*) FROM api_keys WHERE name = 'escalate'") == 0,
	     "a reader key created an admin key");
	soft(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'auth-gone'") == 0,
	     "the deleted device came back");
	soft(count("reports") == reports, "a refused device stored a report");
	soft_done();
	assert_alive();
}
END_TEST

/* ---- A device reporting for another device's assignment ---- */

START_TEST(test_cross_device)
{
	static const char never[] = "this device was never assigned that manifest";
	char ta[128], tb[128], path[160];
	struct http_result r;
	long id;
	json_t *j;

	device("cross-a", NULL, ta, sizeof(ta));
	device("cross-b", NULL, tb, sizeof(tb));
	id = deploy_devices(&F.m1, "[\"cross-a\"]");
	expect_envelope(ta, NULL, &F.m1);
	assert_assignment(id, "cross-a", "delivered", NULL);

	/* b tells the server a's update is done, or failed: refused. */
	static const char *const states[] = {"downloading", "downloaded", "installing", "installed",
					     "failed"};
	for (size_t i = 0; i < N(states); i++) {
		report(tb, rep(&F.m1, states[i], ""), &r);
		soft(r.status == 409, "cross-b reports %s for cross-a's manifest: status %ld",
		     states[i], r.status);
		if (r.status == 409)
			assert_problem(&r, 409, "conflict", never);
		http_result_release(&r);
	}
	report_refused(tb, rep(&F.m1, "installed", "\"device\":\"cross-a\""), 400,
		       "invalid-request", NULL);
	report_refused(tb, rep(&F.m1, "installed", "\"assignment\":1"), 400, "invalid-request",
		       NULL);
	/* A SUIT report of b naming a's manifest digest. */
	report_ex(tb, "application/suit-report+cose", "\xa0", 1, &r);
	soft(r.status == 400, "empty SUIT report: %ld", r.status);
	http_result_release(&r);

	/* b sees nothing to do; fetching the payload moves nothing of a's. */
	expect_nothing(tb, NULL);
	expect_nothing(tb, "seq=0");
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", F.fw_sha);
	harness_request(&P, "GET", path, tb, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "cross-a", "delivered", NULL);

	/* a moves on; b's reports still change nothing. */
	report_ok(ta, rep(&F.m1, "installed", ""));
	report(tb, rep(&F.m1, "failed", "\"reason\":\"sabotage\""), &r);
	soft(r.status == 409, "cross-b fails cross-a's installed assignment: status %ld", r.status);
	http_result_release(&r);
	assert_assignment(id, "cross-a", "installed", "");
	assert_counts(id, "installed=1");

	/* Stored: a's one report, nothing of b. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM reports r JOIN devices d ON "
					     "d.num = r.device_num WHERE d.id = 'cross-b'"),
			 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM assignments a JOIN devices d "
					     "ON d.num = a.device_num WHERE d.id = 'cross-b'"),
			 0);
	api("GET", "/api/v1/devices/cross-a/reports", NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	http_result_release(&r);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- A manifest signed by an untrusted key ---- */

static void write_key(EVP_PKEY *k, const char *path)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	fclose(f);
}

START_TEST(test_untrusted)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char key_ec[256], key_ed[256], out[256], unsigned_path[512], random_digest[80];
	const char *src = getenv("SUITD_SRC");
	long long manifests = count("manifests"), links = count("manifest_payloads");
	long long deployments = count("deployments");
	static const struct {
		const char *key, *seq, *slug;
	} authors[] = {
		{"untrusted-ec", "5", "manifest:no-trusted-signature"},
		{"untrusted-ed", "6", "manifest:no-trusted-signature"},
	};
	size_t len;

	/* Test-only keys that no trust anchor names. */
	snprintf(key_ec, sizeof(key_ec), "%s/untrusted-ec.key", P.dir);
	snprintf(key_ed, sizeof(key_ed), "%s/untrusted-ed.key", P.dir);
	write_key(ec, key_ec);
	write_key(ed, key_ed);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	for (size_t i = 0; i < N(authors); i++) {
		char key[256];
		snprintf(key, sizeof(key), "%s/%s.key", P.dir, authors[i].key);
		snprintf(out, sizeof(out), "%s/%s.suit", P.dir, authors[i].key);
		ck_assert_int_eq(harness_cli(&P, NULL, 0, "manifest", "create", "--key", key,
					     "--payload", F.fw, "--vendor-domain", "example.com",
					     "--class-info", "sensor-v1", "--sequence",
					     authors[i].seq, "-o", out, (char *)NULL),
				 0);
		unsigned char *env = read_all(out, &len);
		struct api_case c = {"POST",
				     "/api/v1/manifests",
				     "Bearer {KEY}",
				     "application/suit-envelope+cose",
				     (const char *)env,
				     422,
				     authors[i].slug};
		run_api_case(&c, len);
		free(env);
	}
	/* No signature at all. */
	snprintf(unsigned_path, sizeof(unsigned_path),
		 "%s/tests/data/suit/spec-example1.unsigned.suit", src ? src : ".");
	unsigned char *env = read_all(unsigned_path, &len);
	struct api_case c = {"POST",
			     "/api/v1/manifests",
			     "Bearer {KEY}",
			     "application/suit-envelope+cose",
			     (const char *)env,
			     422,
			     "manifest:unsigned"};
	run_api_case(&c, len);
	free(env);
	/* A deployment cannot name a manifest that was refused (or never seen). */
	memset(random_digest, 'e', 64);
	random_digest[64] = '\0';
	char json[256];
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"any\"}}",
		 random_digest);
	struct http_result r;
	api("POST", "/api/v1/deployments", json, &r);
	soft(r.status == 422, "deploying an unknown manifest: status %ld, want 422", r.status);
	http_result_release(&r);

	soft(count("manifests") == manifests, "an untrusted manifest was stored");
	soft(count("manifest_payloads") == links, "an untrusted manifest linked payloads");
	soft(count("deployments") == deployments,
	     "a deployment of an unknown manifest was created");
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Replaying an older manifest (rollback) ---- */

START_TEST(test_rollback)
{
	struct manifest m2;
	char ta[128], tb[128], out[256];
	long long manifests;
	struct http_result r;
	long d2, d1;
	size_t len;

	make_manifest("m2", "sensor-v1", "2", &m2);
	device("rb-a", NULL, ta, sizeof(ta));
	device("rb-b", NULL, tb, sizeof(tb));

	/* rb-a runs sequence 2, confirmed. */
	d2 = deploy_devices(&m2, "[\"rb-a\",\"rb-b\"]");
	expect_envelope(ta, NULL, &m2);
	report_ok(ta, rep(&m2, "installed", ""));
	expect_nothing(ta, "seq=2");
	assert_assignment(d2, "rb-a", "confirmed", NULL);
	/* rb-b was sent sequence 2 but has not said what it runs. */
	expect_envelope(tb, NULL, &m2);

	/* The operator deploys sequence 1 to both. rb-a's reported sequence
	 * makes it skipped at once; rb-b's update to 2 under way is not
	 * superseded by an older one (that would offer a rollback). */
	d1 = deploy_devices(&F.m1, "[\"rb-a\",\"rb-b\"]");
	assert_assignment(d1, "rb-a", "skipped", "device runs sequence 2");
	expect_nothing(ta, "seq=2");
	expect_nothing(ta, NULL);
	report_refused(ta, rep(&F.m1, "installed", ""), 409, "conflict",
		       "the assignment was skipped");
	assert_assignment(d1, "rb-b", "skipped", "an update to sequence 2 is under way");
	assert_assignment(d2, "rb-b", "delivered", NULL);
	/* rb-b says it runs 2: its update is confirmed; 1 is never offered. */
	expect_nothing(tb, "seq=2");
	assert_assignment(d2, "rb-b", "confirmed", NULL);
	expect_nothing(tb, NULL);
	report_refused(tb, rep(&F.m1, "installed", ""), 409, "conflict",
		       "the assignment was skipped");
	assert_counts(d1, "skipped=2");

	/* Another envelope with an existing sequence number for the same
	 * component: refused, nothing stored. The same envelope again: 200. */
	manifests = count("manifests");
	snprintf(out, sizeof(out), "%s/m2-again.suit", P.dir);
	ck_assert_int_eq(harness_cli(&P, NULL, 0, "manifest", "create", "--key", F.key, "--payload",
				     F.fw, "--vendor-domain", "example.com", "--class-info",
				     "sensor-v1", "--sequence", "2", "--description",
				     "not what was signed first", "-o", out, (char *)NULL),
			 0);
	unsigned char *env = read_all(out, &len);
	harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,
			"application/suit-envelope+cose", env, len, &r);
	soft(r.status == 409, "a second envelope with sequence 2: status %ld, want 409", r.status);
	if (r.status == 409)
		assert_problem(&r, 409, "manifest:sequence-conflict", NULL);
	http_result_release(&r);
	free(env);
	harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,
			"application/suit-envelope+cose", F.m1.env, F.m1.env_len, &r);
	soft(r.status == 200, "m1 uploaded again: status %ld, want 200", r.status);
	http_result_release(&r);
	soft(count("manifests") == manifests, "a replayed envelope added a manifest");
	manifest_release(&m2);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Reports out of order, report floods, joins that would roll back ---- */

START_TEST(test_report_abuse)
{
	static const char *const states[] = {"installed", "downloaded", "failed", "downloading",
					     "installing"};
	char ta[128], tb[128], json[256], path[96];
	unsigned char suit[64];
	size_t suit_len = suit_report_invoked(&F.m1, suit);
	struct manifest m2;
	struct http_result r;
	long id, old, newer;

	/* Before delivery, any order, JSON or SUIT: 409, nothing moves. */
	device("abuse-a", NULL, ta, sizeof(ta));
	id = deploy_devices(&F.m1, "[\"abuse-a\"]");
	for (size_t i = 0; i < N(states); i++) {
		report(ta, rep(&F.m1, states[i], ""), &r);
		soft(r.status == 409, "undelivered, %s: status %ld", states[i], r.status);
		http_result_release(&r);
	}
	report_ex(ta, "application/suit-report+cose", suit, suit_len, &r);
	soft(r.status == 409, "undelivered, SUIT confirm: status %ld", r.status);
	http_result_release(&r);
	assert_assignment(id, "abuse-a", "pending", NULL);

	/* Delivered, then backwards and forwards: forward only. */
	expect_envelope(ta, NULL, &F.m1);
	report_ok(ta, rep(&F.m1, "installed", ""));
	for (size_t i = 1; i < N(states); i++)
		if (strcmp(states[i], "failed") != 0)
			report_ok(ta, rep(&F.m1, states[i], ""));
	assert_assignment(id, "abuse-a", "installed", NULL);

	/* A flood of distinct reports from one token: the history stays at
	 * [devices] report_history (100), the daemon answers throughout. */
	for (int i = 0; i < 400; i++) {
		snprintf(json, sizeof(json),
			 "{\"manifest\":\"%s\",\"state\":\"downloading\",\"code\":%d}", F.m1.digest,
			 i);
		report(ta, json, &r);
		soft(r.status == 204 || r.status == 429, "flood report %d: status %ld", i,
		     r.status);
		http_result_release(&r);
	}
	soft(harness_sql_int(&P, "SELECT count(*) FROM reports r JOIN devices d ON d.num = "
				 "r.device_num WHERE d.id = 'abuse-a'") <= 100,
	     "one device keeps more than report_history reports");
	snprintf(path, sizeof(path), "/api/v1/devices/abuse-a/reports?limit=1000");
	api("GET", path, NULL, &r);
	soft(r.status == 200, "listing the flooded history: status %ld", r.status);
	http_result_release(&r);

	/* Joins never roll back: tagging a device with the tag of an older,
	 * lower deployment, again and again, leaves its newer assignment. */
	make_manifest("m3-abuse", "sensor-v1", "3", &m2);
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"tag\":\"old\"}}",
		 F.m1.digest);
	old = deploy(json, NULL);
	device("abuse-b", NULL, tb, sizeof(tb));
	newer = deploy_devices(&m2, "[\"abuse-b\"]");
	for (int i = 0; i < 10; i++) {
		api("PATCH", "/api/v1/devices/abuse-b",
		    i % 2 ? "{\"tags\":[\"old\"],\"group\":\"g\"}" : "{\"tags\":[\"old\",\"x\"]}",
		    &r);
		soft(r.status == 200, "PATCH %d: status %ld", i, r.status);
		http_result_release(&r);
	}
	assert_assignment(newer, "abuse-b", "pending", NULL);
	expect_envelope(tb, NULL, &m2);
	soft(harness_sql_int(&P, "SELECT count(*) FROM assignments a JOIN devices d ON d.num = "
				 "a.device_num WHERE d.id = 'abuse-b'") == 1,
	     "a join added an assignment of the older deployment %ld", old);
	manifest_release(&m2);
	soft_done();
	assert_alive();
}
END_TEST

/* ---- Last: the daemon survived everything with bounded memory ---- */

START_TEST(test_zz_survived)
{
	long rss = rss_kb();
	struct http_result r;

	/* Under AddressSanitizer (make check SANITIZE=1) the daemon keeps freed
	 * memory in quarantine (256 MB by default) and shadow pages, and
	 * ThreadSanitizer (SANITIZE=thread) keeps shadow memory and access
	 * histories: the bound holds for the normal build, a looser one
	 * catches runaway growth. */
	long bound = getenv("ASAN_OPTIONS") || getenv("TSAN_OPTIONS") ? 8 * RSS_GROWTH_MAX_KB
								      : RSS_GROWTH_MAX_KB;
	soft(rss - rss_start_kb < bound, "VmRSS grew from %ld kB to %ld kB (more than %ld kB)",
	     rss_start_kb, rss, bound);
	/* No request of the suite got a 5xx from suitd. */
	harness_request(&P, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	const char *bad = strstr(r.body, "status=\"5");
	while (bad && bad > r.body && bad[-1] != '\n')
		bad--;
	soft(bad == NULL, "suitd answered 5xx: %.200s", bad ? bad : "");
	http_result_release(&r);
	soft_done();
	assert_alive();
	ck_assert_int_eq(status_of("GET", "/api/v1/status", P.admin_key), 200);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-hostile");
	TCase *tc = tcase_create("hostile");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	/* One daemon for the whole suite: its memory is compared at the end. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, soft_reset, NULL);
	tcase_add_test(tc, test_request_lines);
	tcase_add_test(tc, test_headers);
	tcase_add_test(tc, test_bodies);
	tcase_add_test(tc, test_slow_clients);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_cbor);
	tcase_add_test(tc, test_envelopes);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_sql);
	tcase_add_test(tc, test_auth);
	tcase_add_test(tc, test_cross_device);
	tcase_add_test(tc, test_untrusted);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_report_abuse);
	tcase_add_test(tc, test_zz_survived);
	suite_add_tcase(s, tc);
	/* After the main daemon has stopped: a daemon with a per-address
	 * limit and a short handshake_timeout. */
	TCase *flood = tcase_create("flood");
	tcase_set_timeout(flood, 60);
	tcase_add_unchecked_fixture(flood, flood_setup, flood_teardown);
	tcase_add_checked_fixture(flood, soft_reset, NULL);
	tcase_add_test(flood, test_first_request_deadline);
	tcase_add_test(flood, test_connection_flood);
	suite_add_tcase(s, flood);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
