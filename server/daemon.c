#include "server/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "api/auth.h"
#include "api/ddi/ddi.h"
#include "api/ui_session.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "server/client_cert.h"
#include "server/failure_log.h"
#include "server/ratelimit.h"
#include "server/router.h"
#include "server/tls.h"
#include "server/tls_cache.h"
#include "server/tls_groups.h"
#include "server/tls_park.h"

/* TLS 1.2 and 1.3 with AEAD ciphers only; the server's order wins so that a
 * client preferring ChaCha20 still gets AES-GCM where the CPU has AES-NI
 * (GnuTLS ChaCha20 costs 3x the CPU here, PLATFORM.md §3.3). The groups are
 * chosen per connection (server/tls_groups.h). */
#define TLS_PRIORITIES_BASE                                                    \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:" \
	"+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"
#define TLS_PRIORITIES TLS_PRIORITIES_BASE ":%SERVER_PRECEDENCE"
/* A request whose body overflows without a Content-Length is read and
 * dropped up to this many times max_body, then the connection is cut. */
#define DISCARD_FACTOR 16
/* Block size of streamed responses: over TLS MHD copies a file descriptor
 * 4 KiB at a time, a callback fills whole 16 KiB records (PLATFORM.md §2d). */
#define STREAM_BLOCK ((size_t)256 << 10)
/* A request body slower than this (bytes a second, on average after
 * connection_timeout) is cut off. */
#define BODY_RATE_MIN 1024
/* libmicrohttpd messages per second that reach the log (TLS noise). */
#define MHD_LOG_PER_SECOND 10
/* File descriptors besides the client connections: the listening socket,
 * log, batchers and checkpointer, and per worker thread its event
 * descriptors and SQLite database and WAL files. */
#define FD_RESERVE	      64
#define FD_RESERVE_PER_THREAD 4

struct daemon {
	struct MHD_Daemon *mhd;
	struct api_ctx ctx;
	struct tls_files tls;
	gnutls_datum_t ticket_key;
	struct tls_groups groups;   /* a priority set per first key-exchange group */
	struct tls_park *park;	    /* handshakes waiting for the client */
	struct tls_cache *sessions; /* TLS 1.2 resumption by session ID */
	char *client_ca_pem;	    /* device CA certificates, when devices may use them */
	struct ratelimit *limiter;
	uint64_t header_timeout_us; /* [server] connection_timeout */
	uint64_t first_timeout_us;  /* ... or handshake_timeout, if smaller, until a request */
	pthread_mutex_t conns_lock;
	struct conn_ctx *conns;
	bool tls_on;
	uint64_t max_body;
	_Atomic int inflight;
	_Atomic bool stopping; /* draining: new requests get 503 */
	_Atomic int64_t log_second;
	_Atomic int log_count;
	char url[320];
};

/* One request from first header to completion. */
struct exchange {
	struct daemon *dm;
	struct MHD_Connection *conn;
	uint64_t start_us;
	unsigned route; /* route_count when unmatched */
	enum err early; /* decided before the body: 404, 405, 401, 403, 413 */
	bool queued;
	bool suspended; /* waiting for res.defer's work (a group commit) */
	bool close;	/* answer with Connection: close (untrusted framing) */
	uint64_t body_start_us, body_received;
	void *upload; /* state of a BODY_STREAM route after begin() */
	uint64_t discarded;
	unsigned status;
	uint64_t bytes;
	char method[8];
	char path[BOUND_PATH_MAX + 1];
	char allow[64];
	struct route_match match;
	struct api_key key;
	struct device_ident device;
	struct buf body;
	struct request req;
	struct response res;
};

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct daemon *dm = cls;
	int64_t now = time_now();
	char line[512];

	/* Rate-limit: broken TLS clients can make MHD log on every connection. */
	if (atomic_exchange(&dm->log_second, now) != now)
		atomic_store(&dm->log_count, 0);
	if (atomic_fetch_add(&dm->log_count, 1) >= MHD_LOG_PER_SECOND)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_notice("libmicrohttpd: %s", line);
}

static const char *exchange_header(const struct request *req, const char *name)
{
	struct exchange *x = req->server_data;

	return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

static const char *exchange_query(const struct request *req, const char *name)
{
	struct exchange *x = req->server_data;

	return MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *exchange_cookie(const struct request *req, const char *name)
{
	struct exchange *x = req->server_data;

	return MHD_lookup_connection_value(x->conn, MHD_COOKIE_KIND, name);
}

/* A management route: an API key from Authorization or, without that
 * header, from the web console's session cookie (with its CSRF check). */
static enum err exchange_key(struct exchange *x, const struct route *r)
{
	const char *authorization = exchange_header(&x->req, "Authorization");
	const char *session = exchange_cookie(&x->req, UI_SESSION_COOKIE);

	if (!authorization && session)
		return ui_session_require(&x->dm->ctx, session, x->req.method,
					  exchange_header(&x->req, UI_CSRF_HEADER), r->role,
					  &x->key, &x->res);
	return auth_require(&x->dm->ctx, authorization, r->role, &x->key, &x->res);
}

static bool parse_content_length(const char *text, uint64_t *ret)
{
	return parse_u64(text, ret);
}

/* Per TLS connection: the client certificate is checked once, not per
 * request (a chain verification costs a signature check). */
struct conn_ctx {
	bool cert_checked;
	struct device_cert cert;
	bool nul_in_target; /* the current request's target had %00 */
	/* Slow-header guard (daemon_housekeeping): the socket, since when the
	 * connection has been waiting for a request's headers (0: not), and
	 * whether any request's headers came (until then the shorter
	 * handshake_timeout applies, from the accept on). */
	int fd;
	_Atomic uint64_t waiting_since_us;
	_Atomic bool had_request;
	struct conn_ctx *prev, *next; /* daemon.conns, under conns_lock */
	/* TLS: the daemon's group sets, the accept time, the handshake's
	 * Finished messages seen (in, out) and whether it completed. */
	const struct tls_groups *groups;
	struct metrics *metrics;
	uint64_t accepted_us;
	bool finished_in, finished_out, handshake_done;
	struct tls_park_spot spot;
};

static struct conn_ctx *conn_ctx_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* libmicrohttpd's percent-decoding of the path and query, except that an
 * encoded NUL is remembered on the connection: code that reads C strings
 * would otherwise act on the text before it ("DELETE /devices/a%00x"
 * deleting device "a"). The request is then refused (400). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	const union MHD_ConnectionInfo *ci;
	char *w = s;
	bool nul = false;

	(void)cls;
	for (const char *r = s; *r;) {
		int hi = r[0] == '%' ? hex_value(r[1]) : -1, lo = hi >= 0 ? hex_value(r[2]) : -1;
		if (lo < 0) {
			*w++ = *r++;
			continue;
		}
		*w = (char)(hi << 4 | lo);
		nul |= *w++ == '\0';
		r += 3;
	}
	*w = '\0';
	if (nul && (ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT)) &&
	    ci->socket_context)
		((struct conn_ctx *)ci->socket_context)->nul_in_target = true;
	return (size_t)(w - s);
}

struct framing {
	unsigned content_lengths, hosts;
	bool nul, bad_name;
};

/* RFC 9110 §5.1: a field name is a token. */
static bool field_name_valid(const char *name, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c && strchr(tchar, c))))
			return false;
	}
	return true;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    size_t key_size, const char *value, size_t value_size)
{
	struct framing *f = cls;

	(void)kind;
	if (strlen(key) != key_size || (value && strlen(value) != value_size))
		f->nul = true;
	if (!field_name_valid(key, key_size))
		f->bad_name = true;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_lengths++;
	if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		f->hosts++;
	return MHD_YES;
}

/* What libmicrohttpd 0.9.75 lets through (RFC 9112 §6.1, §6.3, RFC 9110
 * §5.5): an encoded NUL in the target, a NUL in a header, several
 * Content-Length headers, a Transfer-Encoding other than chunked. Such a
 * request is refused and its connection closed (its framing cannot be
 * trusted); Transfer-Encoding together with Content-Length is served but
 * closes the connection after the answer, so nothing can be smuggled. */
static enum err exchange_framing(struct exchange *x)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_ctx *cc = ci ? ci->socket_context : NULL;
	const char *te = exchange_header(&x->req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	struct framing f = {0};

	if (cc && cc->nul_in_target) {
		cc->nul_in_target = false;
		x->close = true;
		return api_fail(&x->res, ERR_INVALID,
				"the request target holds an encoded NUL (%%00)");
	}
	MHD_get_connection_values_n(x->conn, MHD_HEADER_KIND, count_header, &f);
	if (f.nul || f.bad_name || f.content_lengths > 1 || f.hosts > 1 ||
	    (te && strcasecmp(te, "chunked") != 0)) {
		x->close = true;
		return api_fail(&x->res, ERR_INVALID, "%s",
				f.nul			? "a header holds a NUL byte"
				: f.bad_name		? "a header field name is not a token"
				: f.content_lengths > 1 ? "more than one Content-Length header"
				: f.hosts > 1		? "more than one Host header"
							: "Transfer-Encoding other than chunked");
	}
	if (te && f.content_lengths)
		x->close = true;
	return ERR_OK;
}

static const struct device_cert *exchange_client_cert(struct exchange *x)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_ctx *cc;
	const char *why = NULL;

	if (!x->dm->tls_on || !x->dm->client_ca_pem)
		return NULL;
	ci = MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cc = ci ? ci->socket_context : NULL;
	if (!cc)
		return NULL;
	if (!cc->cert_checked) {
		ci = MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session)
			client_cert_check(ci->tls_session, x->dm->ctx.config->devices.identity,
					  &cc->cert, &why);
		cc->cert_checked = true;
		if (why)
			log_notice("client certificate refused: %s", why);
	}
	return &cc->cert;
}

/* First call: route, authenticate, check the declared body size. */
/* The rate-limit key of the client's address (an IPv6 client by its /64:
 * one host can hold many addresses of its prefix). */
static int64_t address_key(struct exchange *x)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET)
		return ratelimit_key('a', &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				     4);
	if (sa && sa->sa_family == AF_INET6)
		return ratelimit_key(
			'a', &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 8);
	return ratelimit_key('a', "", 0);
}

/* One request of this identity: false (x->early = 429) when over its rate. */
static bool exchange_admit(struct exchange *x, int64_t key)
{
	unsigned retry = 1;

	if (ratelimit_take(x->dm->limiter, key, time_mono_usec(), &retry))
		return true;
	x->early = api_fail(&x->res, ERR_RATE_LIMITED,
			    "more than %u requests per second from this client; retry in %u s",
			    x->dm->ctx.config->server.rate_limit, retry);
	response_header_set(&x->res, "Retry-After", "%u", retry);
	return false;
}

/* Query parameters: only those the route reads, each at most once. */
struct query_check {
	const struct route *route;
	const char *seen[BOUND_QUERY_PARAMS];
	unsigned count;
	const char *bad; /* the first offending name */
	const char *why;
};

static enum MHD_Result query_check_one(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	struct query_check *q = cls;

	(void)kind;
	(void)value;
	if (!route_query_allowed(q->route, key)) {
		q->why = "unknown query parameter";
	} else if (q->count == BOUND_QUERY_PARAMS) {
		q->why = "too many query parameters (at most " BOUND_QUERY_PARAMS_TEXT ") at";
	} else {
		for (unsigned i = 0; i < q->count; i++)
			if (strcmp(q->seen[i], key) == 0)
				q->why = "repeated query parameter";
		q->seen[q->count++] = key;
	}
	if (!q->why)
		return MHD_YES;
	q->bad = key;
	return MHD_NO;
}

static enum err exchange_query_check(struct exchange *x, const struct route *r)
{
	struct query_check q = {.route = r};

	MHD_get_connection_values(x->conn, MHD_GET_ARGUMENT_KIND, query_check_one, &q);
	if (!q.why)
		return ERR_OK;
	return api_fail(&x->res, ERR_INVALID, "%s '%.64s'; this route takes %s", q.why, q.bad,
			r->query ? r->query : "none");
}

static void exchange_prepare(struct exchange *x, const char *url, const char *method)
{
	struct daemon *dm = x->dm;
	const struct route *r;
	uint64_t length;

	snprintf(x->method, sizeof(x->method), "%s", method);
	snprintf(x->path, sizeof(x->path), "%s", url);
	x->route = route_count;
	x->req.method = http_method_parse(method);
	x->req.path = x->path;
	x->req.server_data = x;
	x->req.header = exchange_header;
	x->req.query = exchange_query;
	x->req.cookie = exchange_cookie;
	if (atomic_load(&dm->stopping)) {
		x->early = api_fail(&x->res, ERR_UNAVAILABLE,
				    "the server is stopping; retry in a moment");
		return;
	}
	if ((x->early = exchange_framing(x)))
		return;
	if (strlen(url) > BOUND_PATH_MAX) {
		x->early = api_fail(&x->res, ERR_NOT_FOUND, "the path is longer than %d bytes",
				    BOUND_PATH_MAX);
		return;
	}
	x->early = router_match(routes, route_count, x->req.method, url, &x->match, x->allow,
				sizeof(x->allow));
	if (x->early == ERR_NOT_FOUND) {
		api_fail(&x->res, ERR_NOT_FOUND, "no resource at this path");
		return;
	}
	if (x->early == ERR_METHOD) {
		api_fail(&x->res, ERR_METHOD, "%s is not allowed here; allowed: %s", x->method,
			 x->allow);
		return;
	}
	x->route = x->match.index;
	r = &routes[x->route];
	memcpy(x->req.params, x->match.params, sizeof(x->req.params));
	x->req.param_count = x->match.param_count;
	if (r->auth == AUTH_KEY) {
		x->early = exchange_key(x, r);
		/* Failed attempts count against the address: no free guessing. */
		if (x->early) {
			if (x->early == ERR_UNAUTHORIZED)
				exchange_admit(x, address_key(x));
			return;
		}
		if (!exchange_admit(x, ratelimit_key('k', x->key.name, strlen(x->key.name))))
			return;
		x->req.key = &x->key;
	} else if (r->auth == AUTH_DEVICE || r->auth == AUTH_DDI) {
		const char *authorization = exchange_header(&x->req, "Authorization");
		if (r->auth == AUTH_DDI)
			x->early = ddi_auth_require(&dm->ctx, exchange_client_cert(x),
						    authorization, x->match.params[0],
						    x->match.params[1], &x->device, &x->res);
		else
			x->early = auth_device_require(
				&dm->ctx, exchange_client_cert(x), authorization,
				r->anonymous && r->anonymous(dm->ctx.config), &x->device, &x->res);
		if (x->early) {
			if (x->early == ERR_UNAUTHORIZED)
				exchange_admit(x, address_key(x));
			return;
		}
		if (!exchange_admit(x, x->device.num ? ratelimit_key('d', &x->device.num,
								     sizeof(x->device.num))
						     : address_key(x)))
			return;
		if (x->device.num)
			x->req.device = &x->device;
	} else if (!exchange_admit(x, address_key(x))) {
		return;
	}
	if ((x->early = exchange_query_check(x, r)))
		return;
	if (r->body == BODY_STREAM) {
		/* The upload checks its own limits (Content-Length included). */
		x->early = r->upload->begin(&dm->ctx, &x->req, &x->res, &x->upload);
		if (x->early)
			x->upload = NULL;
		return;
	}
	if (parse_content_length(exchange_header(&x->req, "Content-Length"), &length) &&
	    length > dm->max_body)
		x->early =
			api_fail(&x->res, ERR_TOO_LARGE,
				 "the body is %" PRIu64 " bytes; at most %" PRIu64 " are accepted",
				 length, dm->max_body);
}

/* An early error (404, 401, 413...) on a request with a body: answer at once
 * and close, or read and drop the body first? Closing with unread data makes
 * the kernel reset the connection, and the client may lose the answer. So
 * answer at once only when the client waits for "100 Continue" (it sends
 * nothing yet) or the declared body is too large to drop; a small body is
 * drained and the answer queued after it, on a connection that stays up. */
static bool exchange_answer_before_body(struct exchange *x)
{
	if (x->close && x->early)
		return true; /* the body's framing cannot be trusted: do not read it */
	const char *expect = exchange_header(&x->req, "Expect");
	uint64_t length = 0;
	bool declared = parse_content_length(exchange_header(&x->req, "Content-Length"), &length);

	if (!declared && !exchange_header(&x->req, "Transfer-Encoding"))
		return false; /* no body: queue on the next call, keep-alive stays */
	if (declared && length == 0)
		return false;
	if (expect && strcasecmp(expect, "100-continue") == 0)
		return true;
	return declared && length > DISCARD_FACTOR * x->dm->max_body;
}

/* MHD reads a streamed body through these; the stream is owned by the MHD
 * response from here on (its free runs when MHD is done with it). */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct response_stream *st = cls;
	long n = st->read(st->cls, pos, buf, max);

	if (n == RESPONSE_STREAM_END) /* a body of unknown length (chunked) ends */
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct response_stream *st = cls;

	if (st->free)
		st->free(st->cls);
	free(st);
}

/* A live stream (Server-Sent Events) on one connection: with nothing to
 * send, the connection is suspended, so that it holds no worker, until the
 * stream's owner wakes it. */
struct live_stream {
	struct response_stream st;
	struct MHD_Connection *conn;
};

static void live_wake(void *cls)
{
	MHD_resume_connection(cls);
}

static ssize_t live_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct live_stream *ls = cls;
	long n = ls->st.read(ls->st.cls, pos, buf, max);

	if (n == 0) {
		/* Suspend first: the wake may come before park returns. */
		MHD_suspend_connection(ls->conn);
		ls->st.park(ls->st.cls, live_wake, ls->conn);
		return 0;
	}
	if (n == RESPONSE_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : (ssize_t)n;
}

static struct MHD_Response *stream_response(struct response *res, struct MHD_Connection *conn)
{
	struct live_stream *ls;
	struct response_stream *st;
	struct MHD_Response *mr;

	if (res->stream.size == RESPONSE_STREAM_LIVE && res->stream.park) {
		if (!(ls = malloc(sizeof(*ls))))
			return NULL;
		ls->st = res->stream;
		ls->conn = conn;
		res->stream = (struct response_stream){0};
		/* ls->st is first: stream_free frees the whole. */
		mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, live_reader, ls,
						       stream_free);
		if (!mr)
			stream_free(ls);
		return mr;
	}
	if (!(st = malloc(sizeof(*st))))
		return NULL;
	*st = res->stream;
	res->stream = (struct response_stream){0};
	mr = MHD_create_response_from_callback(st->size, STREAM_BLOCK, stream_reader, st,
					       stream_free);
	if (!mr)
		stream_free(st);
	return mr;
}

static enum MHD_Result exchange_queue(struct exchange *x)
{
	struct response *res = &x->res;
	struct MHD_Response *mr;
	enum MHD_Result rc;
	size_t len = 0;
	char *data;

	if (res->problem || res->status == 0) {
		if (!res->problem)
			res->problem = ERR_INTERNAL;
		/* Every 5xx, whichever step failed (the key's lookup, the
		 * handler, deferred work): a burst of one kind is one line. */
		if (api_http_status(res->problem) >= 500)
			failure_log_request(x->dm->ctx.failures, res->problem, x->method, x->path,
					    res->detail);
		api_problem_render(res, x->path);
	}
	if (res->stream.read) {
		len = res->stream.size == RESPONSE_STREAM_LIVE ? 0 : res->stream.size;
		mr = stream_response(res, x->conn);
	} else {
		data = buf_take(&res->body, &len);
		mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
		if (!mr)
			free(data);
	}
	if (!mr)
		return MHD_NO;
	if (res->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	for (unsigned i = 0; i < res->header_count; i++)
		MHD_add_response_header(mr, res->headers[i].name, res->headers[i].value);
	if (res->status == 401)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"suitd\"");
	if (res->status == 405 && x->allow[0])
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, x->allow);
	if (x->close)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	x->status = res->status;
	x->bytes = len;
	x->queued = true;
	rc = MHD_queue_response(x->conn, res->status, mr);
	MHD_destroy_response(mr);
	return rc;
}

/* A body that comes slower than BODY_RATE_MIN bytes a second on average,
 * once connection_timeout has passed since its first byte, is cut off: a
 * client trickling a byte a second never goes idle long enough for the
 * idle timeout. */
static bool exchange_body_on_time(struct exchange *x, size_t n)
{
	uint64_t now = time_mono_usec(), elapsed;

	if (!x->body_start_us)
		x->body_start_us = now;
	x->body_received += n;
	elapsed = now - x->body_start_us;
	if (elapsed <= x->dm->header_timeout_us ||
	    x->body_received * 1000000u >= (uint64_t)BODY_RATE_MIN * elapsed)
		return true;
	log_info("%s %s: body at %" PRIu64 " bytes in %" PRIu64 " ms: too slow, closed", x->method,
		 x->path, x->body_received, elapsed / 1000);
	return false;
}

/* From any thread, once per deferred answer. */
static void exchange_resume(void *cls)
{
	struct exchange *x = cls;

	MHD_resume_connection(x->conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct daemon *dm = cls;
	struct exchange *x = *con_cls;

	(void)version;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return MHD_NO;
		x->dm = dm;
		x->conn = conn;
		x->start_us = time_mono_usec();
		struct conn_ctx *cc = conn_ctx_of(conn);
		if (cc) {
			atomic_store(&cc->waiting_since_us, 0);
			atomic_store(&cc->had_request, true);
		}
		buf_init(&x->body, dm->max_body);
		response_init(&x->res);
		*con_cls = x;
		atomic_fetch_add(&dm->inflight, 1);
		exchange_prepare(x, url, method);
		/* Otherwise queue on a later call so that keep-alive stays on
		 * (PLATFORM.md gotcha 1). */
		if (x->early && exchange_answer_before_body(x))
			return exchange_queue(x);
		return MHD_YES;
	}
	if (x->queued) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* Resumed: the deferred work filled the response. */
	if (x->suspended) {
		x->suspended = false;
		return exchange_queue(x);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (!exchange_body_on_time(x, n))
			return MHD_NO;
		enum route_body mode = x->route < route_count ? routes[x->route].body : BODY_NONE;
		if (!x->early && mode == BODY_NONE)
			x->early =
				api_fail(&x->res, ERR_INVALID, "this route takes no request body");
		if (!x->early && mode == BODY_STREAM)
			x->early =
				routes[x->route].upload->data(x->upload, upload_data, n, &x->res);
		else if (!x->early && buf_append(&x->body, upload_data, n) != ERR_OK)
			x->early = api_fail(&x->res, ERR_TOO_LARGE,
					    "the body exceeds %" PRIu64 " bytes", dm->max_body);
		if (x->early) {
			x->discarded += n;
			if (x->discarded > DISCARD_FACTOR * dm->max_body)
				return MHD_NO;
		}
		return MHD_YES;
	}
	if (!x->early) {
		const struct route *r = &routes[x->route];
		x->req.body = x->body.len ? x->body.data : NULL;
		x->req.body_len = x->body.len;
		enum err e = r->body == BODY_STREAM
				     ? r->upload->finish(&dm->ctx, &x->req, x->upload, &x->res)
				     : r->handler(&dm->ctx, &x->req, &x->res);
		if (e && !x->res.problem)
			api_fail(&x->res, e, "%s", err_title(e));
		if (!e && !x->res.problem && x->res.defer.start) {
			/* Suspend first: resume may come before start returns. */
			x->suspended = true;
			MHD_suspend_connection(conn);
			x->res.defer.start(x->res.defer.cls, exchange_resume, x);
			return MHD_YES;
		}
	}
	return exchange_queue(x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct daemon *dm = cls;
	struct exchange *x = *con_cls;
	uint64_t usec;
	char client[INET6_ADDRSTRLEN] = "-";

	if (!x)
		return;
	struct conn_ctx *cc = conn_ctx_of(conn);
	if (cc)
		atomic_store(&cc->waiting_since_us, time_mono_usec());
	usec = time_mono_usec() - x->start_us;
	metrics_request(dm->ctx.metrics, x->route, x->queued ? x->status : 0, usec, x->bytes);
	if (log_enabled(LOG_LEVEL_INFO)) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET,
					  &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
					  client, sizeof(client));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(
					AF_INET6,
					&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
					client, sizeof(client));
		}
		/* Never a secret here: path without query, key and device by
		 * name only. */
		log_info("%s %s %s %u %" PRIu64 " %" PRIu64 "us %s=%s%s", client, x->method,
			 x->path, x->queued ? x->status : 0, x->bytes, usec,
			 x->device.num ? "device" : "key",
			 x->device.num	  ? x->device.id
			 : x->key.name[0] ? x->key.name
					  : "-",
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
	}
	if (x->upload)
		routes[x->route].upload->release(x->upload);
	buf_release(&x->body);
	response_release(&x->res);
	free(x);
	*con_cls = NULL;
	atomic_fetch_sub(&dm->inflight, 1);
}

/* Every handshake message of a TLS connection: before the server reads the
 * ClientHello, the group set that matches the client's first key share
 * (no HelloRetryRequest); after both Finished messages, the handshake's
 * metrics. GnuTLS keeps one hook per session, hence one for all types. */
static int tls_hook(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
		    const gnutls_datum_t *msg)
{
	bool hello = htype == GNUTLS_HANDSHAKE_CLIENT_HELLO && when == GNUTLS_HOOK_PRE && incoming;
	bool finished = htype == GNUTLS_HANDSHAKE_FINISHED && when == GNUTLS_HOOK_POST;

	if (!hello && !finished)
		return 0; /* most messages: no lookup */
	struct MHD_Connection *conn = gnutls_session_get_ptr(session); /* set by MHD */
	struct conn_ctx *cc = conn ? conn_ctx_of(conn) : NULL;

	if (!cc)
		return 0;
	if (hello && cc->groups) {
		gnutls_priority_t p = tls_groups_for_hello(cc->groups, msg);
		if (p)
			gnutls_priority_set(session, p);
	} else if (finished && !cc->handshake_done) {
		/* Complete once the client's Finished and ours have passed, in
		 * whichever order the version and resumption put them. */
		if (incoming) {
			cc->finished_in = true;
			/* The client's Finished closes the handshake (TLS 1.3,
			 * or a resumed 1.2 one): we have nothing to send until
			 * its request, so the kernel, in its interactive mode
			 * after the hello exchange, would delay the ACK by
			 * 40 ms; a client with Nagle on (most device stacks)
			 * holds its request back until that ACK. GnuTLS sends
			 * its tickets before the Finished arrives, so no data
			 * carries the ACK as it does with OpenSSL. Measured
			 * with Python's ssl: 42 ms → 0.1 ms per check-in. */
			if (cc->finished_out) {
				int one = 1;
				setsockopt(cc->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
			}
		} else {
			cc->finished_out = true;
		}
		if (cc->finished_in && cc->finished_out) {
			cc->handshake_done = true;
			cc->spot.handshake_done = true;
			metrics_tls_handshake(cc->metrics, gnutls_session_is_resumed(session) != 0,
					      time_mono_usec() - cc->accepted_us);
		}
	}
	return 0;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct daemon *dm = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn_ctx *cc = calloc(1, sizeof(*cc));
		const union MHD_ConnectionInfo *fdi =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = cc;
		if (cc && fdi) {
			cc->fd = fdi->connect_fd;
			atomic_store(&cc->waiting_since_us, time_mono_usec());
			pthread_mutex_lock(&dm->conns_lock);
			cc->next = dm->conns;
			if (dm->conns)
				dm->conns->prev = cc;
			dm->conns = cc;
			pthread_mutex_unlock(&dm->conns_lock);
		}
		atomic_fetch_add(&dm->ctx.metrics->connections_open, 1);
		atomic_fetch_add(&dm->ctx.metrics->connections_total, 1);
		/* MHD 0.9.75 issues no TLS session tickets; this callback runs
		 * after gnutls_init() and before the handshake (PLATFORM.md
		 * gotcha 2). GnuTLS derives and rotates the ticket encryption
		 * keys from this master key by itself. */
		if (dm->tls_on) {
			const union MHD_ConnectionInfo *ci =
				MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
			if (ci && ci->tls_session) {
				gnutls_session_ticket_enable_server(ci->tls_session,
								    &dm->ticket_key);
				tls_cache_attach(dm->sessions, ci->tls_session);
				if (cc) {
					cc->groups = &dm->groups;
					cc->metrics = dm->ctx.metrics;
					cc->accepted_us = time_mono_usec();
					gnutls_handshake_set_hook_function(
						ci->tls_session, GNUTLS_HANDSHAKE_ANY,
						GNUTLS_HOOK_BOTH, tls_hook);
					if (fdi)
						tls_park_attach(dm->park, &cc->spot,
								ci->tls_session, conn, cc->fd);
				}
			}
		}
	} else {
		struct conn_ctx *cc = *socket_context;
		/* A TLS connection closed before its handshake completed: a
		 * failure, an idle client cut by the guard, or a probe. */
		if (cc && cc->metrics && !cc->handshake_done)
			metrics_tls_handshake_failed(cc->metrics);
		/* libmicrohttpd notifies before it closes the socket: once out of
		 * the list, the guard can no longer touch the descriptor. */
		pthread_mutex_lock(&dm->conns_lock);
		if (cc && (cc->prev || cc->next || dm->conns == cc)) {
			if (cc->prev)
				cc->prev->next = cc->next;
			else
				dm->conns = cc->next;
			if (cc->next)
				cc->next->prev = cc->prev;
		}
		pthread_mutex_unlock(&dm->conns_lock);
		free(cc);
		*socket_context = NULL;
		atomic_fetch_sub(&dm->ctx.metrics->connections_open, 1);
	}
}

/* A connection is a file descriptor: raise the soft RLIMIT_NOFILE to the
 * hard limit (the usual soft default, 1024, is below the default
 * connection_limit) and refuse to start when connection_limit does not fit
 * under it; otherwise accept() and SQLite fail with EMFILE under load. */
static enum err fd_limit_raise(unsigned connections, unsigned threads, struct diag *d)
{
	rlim_t need = (rlim_t)connections + FD_RESERVE + (rlim_t)FD_RESERVE_PER_THREAD * threads;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return diag_set(d, ERR_IO, "", "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		/* An unlimited hard limit is more than the kernel allows
		 * (fs.nr_open): then ask for what is needed. */
		struct rlimit raised = {rl.rlim_max != RLIM_INFINITY ? rl.rlim_max : need,
					rl.rlim_max};
		if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl.rlim_cur = raised.rlim_cur;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		return diag_set(d, ERR_CONFIG, "connection_limit",
				"[server] connection_limit = %u needs %llu open files, but the "
				"limit is %llu: raise it (LimitNOFILE=, ulimit -n) or lower "
				"connection_limit",
				connections, (unsigned long long)need,
				(unsigned long long)rl.rlim_cur);
	return ERR_OK;
}

static enum err listen_address(const struct config *c, struct sockaddr_storage *ret, bool *ret_any,
			       struct diag *d)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
			*ai = NULL;
	char port[8];
	int rc;

	*ret_any = strcmp(c->server.listen_host, "*") == 0;
	if (*ret_any)
		return ERR_OK;
	snprintf(port, sizeof(port), "%u", c->server.listen_port);
	rc = getaddrinfo(c->server.listen_host, port, &hints, &ai);
	if (rc != 0 || !ai)
		return diag_set(d, ERR_CONFIG, "listen", "cannot resolve '%s': %s",
				c->server.listen_host, gai_strerror(rc));
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return ERR_OK;
}

enum err daemon_start(const struct api_ctx *ctx, struct daemon **ret_daemon, struct diag *d)
{
	const struct config *config = ctx->config;
	struct daemon *dm = calloc(1, sizeof(*dm));
	struct sockaddr_storage addr = {0};
	struct MHD_OptionItem opts[24];
	unsigned n = 0, threads = config->server.threads;
	/* epoll: its cost does not grow with idle connections (poll() scans
	 * them all on every wake-up). The handshakes that would spin it wait
	 * in the TLS park instead (server/tls_park.h; docs/design.md, TLS). */
	unsigned int flags =
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	bool any = false;
	int listen_fd = -1;
	enum err e;

	if (!dm)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	dm->ctx = *ctx;
	dm->ctx.started_at = time_now();
	dm->max_body = config->server.max_body;
	dm->header_timeout_us = (uint64_t)config->server.connection_timeout * 1000000u;
	dm->first_timeout_us = (uint64_t)config->server.handshake_timeout * 1000000u;
	if (dm->first_timeout_us > dm->header_timeout_us)
		dm->first_timeout_us = dm->header_timeout_us;
	pthread_mutex_init(&dm->conns_lock, NULL);
	if ((e = ratelimit_new(config->server.rate_limit, config->server.rate_burst,
			       &dm->limiter))) {
		diag_set(d, e, "rate_limit", "out of memory");
		free(dm);
		return e;
	}
	dm->tls_on = config->server.tls;
	if (threads == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cores > 0 ? (unsigned)cores : 1;
	}
	if ((e = fd_limit_raise(config->server.connection_limit, threads, d)))
		goto fail;

	/* The logger must be the first option (PLATFORM.md gotcha 3). */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, dm};
	opts[n++] =
		(struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, dm};
	opts[n++] =
		(struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, dm};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
					    (intptr_t)config->server.connection_limit, NULL};
	/* MHD 0.9.75 checks it right after accept() and closes the socket
	 * before any TLS work (daemon.c, new_connection_prepare_): one
	 * address's surplus costs an accept and a close, not a slot. */
	if (config->server.per_address_limit)
		opts[n++] =
			(struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						(intptr_t)config->server.per_address_limit, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
					    (intptr_t)config->server.connection_timeout, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					    (intptr_t)BOUND_CONNECTION_MEMORY, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
	/* RFC 9112 §3.2: an HTTP/1.1 request without Host is 400. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
	if (threads > 1)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads,
						    NULL};

	if (dm->tls_on) {
		e = tls_files_load(config->server.tls_cert, config->server.tls_key, &dm->tls, d);
		if (e)
			goto fail;
		if (dm->tls.days_left < 30)
			log_warn("the TLS certificate '%s' expires in %ld days",
				 config->server.tls_cert, dm->tls.days_left);
		if (gnutls_session_ticket_key_generate(&dm->ticket_key) != GNUTLS_E_SUCCESS) {
			e = diag_set(d, ERR_CRYPTO, "", "cannot generate a TLS ticket key");
			goto fail;
		}
		if (tls_park_start(&dm->park) != ERR_OK) {
			e = diag_set(d, ERR_IO, "", "cannot start the TLS handshake thread");
			goto fail;
		}
		if (tls_cache_new(config->server.tls_session_cache, &dm->sessions) != ERR_OK) {
			e = diag_set(d, ERR_NOMEM, "", "out of memory");
			goto fail;
		}
		if ((e = tls_groups_init(&dm->groups, TLS_PRIORITIES_BASE, d)))
			goto fail;
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, dm->tls.cert_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, dm->tls.key_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						    (void *)(uintptr_t)TLS_PRIORITIES};
		/* With a trust store MHD asks for (does not require) a client
		 * certificate; suitd checks it per connection. */
		if (config->devices.auth & CONFIG_DEVICE_AUTH_CERTIFICATE) {
			e = tls_read_pem(config->devices.client_ca, &dm->client_ca_pem, d);
			if (e)
				goto fail;
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
							    dm->client_ca_pem};
		}
	} else {
		log_warn("TLS is off ([server] tls = off): devices and API keys travel in clear "
			 "text; "
			 "only do this behind a TLS-terminating proxy");
	}

	/* systemd socket activation hands us the listening socket. */
	if (sd_listen_fds(1) > 0) {
		listen_fd = SD_LISTEN_FDS_START;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL};
	} else {
		e = listen_address(config, &addr, &any, d);
		if (e)
			goto fail;
		if (any)
			flags |= MHD_USE_DUAL_STACK;
		else {
			if (addr.ss_family == AF_INET6)
				flags |= MHD_USE_IPv6;
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
		}
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	dm->mhd = MHD_start_daemon(flags, listen_fd >= 0 ? 0 : config->server.listen_port, NULL,
				   NULL, on_request, dm, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!dm->mhd) {
		e = diag_set(d, ERR_IO, "listen", "cannot listen on %s:%u: %s",
			     config->server.listen_host, config->server.listen_port,
			     errno ? strerror(errno) : "libmicrohttpd refused the settings");
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(dm->mhd, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : config->server.listen_port;
	const char *host = config->server.listen_host;
	bool v6 = strchr(host, ':') != NULL;
	snprintf(dm->url, sizeof(dm->url), "%s://%s%s%s:%u", dm->tls_on ? "https" : "http",
		 v6 ? "[" : "", any ? "localhost" : host, v6 ? "]" : "", port);
	*ret_daemon = dm;
	return ERR_OK;
fail:
	tls_park_free(dm->park);
	tls_cache_free(dm->sessions);
	ratelimit_free(dm->limiter);
	free(dm->client_ca_pem);
	tls_files_release(&dm->tls);
	tls_groups_release(&dm->groups);
	if (dm->ticket_key.data)
		gnutls_memset(dm->ticket_key.data, 0, dm->ticket_key.size);
	gnutls_free(dm->ticket_key.data);
	free(dm);
	return e;
}

void daemon_housekeeping(struct daemon *dm)
{
	uint64_t now = time_mono_usec();
	unsigned cut = 0, cut_new = 0;

	ratelimit_prune(dm->limiter, now);
	/* Headers trickled in: libmicrohttpd's timeout counts idle time only.
	 * A connection that has waited for a request's headers longer than
	 * connection_timeout is shut down; libmicrohttpd then sees the end
	 * of the stream and closes it itself. A new connection gets
	 * handshake_timeout from its accept for the TLS handshake and its
	 * first request: otherwise one client could hold every slot with
	 * connections that never ask for anything, each for
	 * connection_timeout, reconnecting at once. */
	pthread_mutex_lock(&dm->conns_lock);
	for (struct conn_ctx *cc = dm->conns; cc; cc = cc->next) {
		/* A worker may have stored a time after NOW was read. */
		uint64_t since = atomic_load(&cc->waiting_since_us);
		bool first = !atomic_load(&cc->had_request);
		if (time_mono_expired(now, since,
				      first ? dm->first_timeout_us : dm->header_timeout_us)) {
			atomic_store(&cc->waiting_since_us, 0);
			shutdown(cc->fd, SHUT_RDWR);
			if (first)
				cut_new++;
			else
				cut++;
		}
	}
	pthread_mutex_unlock(&dm->conns_lock);
	if (cut)
		log_info("closed %u connections that sent no complete request headers for %u s",
			 cut, dm->ctx.config->server.connection_timeout);
	if (cut_new)
		log_info("closed %u new connections without a request within %" PRIu64 " s",
			 cut_new, dm->first_timeout_us / 1000000u);
}

const char *daemon_url(const struct daemon *dm)
{
	return dm->url;
}

void daemon_stop(struct daemon *dm, unsigned drain_ms)
{
	uint64_t deadline;

	if (!dm)
		return;
	/* No MHD_quiesce_daemon: on an epoll daemon with internal threads it
	 * races with the worker's own removal of the listen socket from its
	 * epoll set, and libmicrohttpd 0.9.75 aborts the process when the
	 * worker loses (an open MHD defect; seen as a rare SIGABRT at SIGTERM
	 * in the e2e suites). New requests are refused with 503 instead while
	 * those in flight finish; MHD_stop_daemon closes the listen socket. */
	atomic_store(&dm->stopping, true);
	deadline = time_mono_usec() + (uint64_t)drain_ms * 1000;
	while (atomic_load(&dm->inflight) > 0 && time_mono_usec() < deadline) {
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&dm->inflight) > 0)
		log_warn("stopping with %d requests still in flight", atomic_load(&dm->inflight));
	tls_park_close(dm->park);
	MHD_stop_daemon(dm->mhd);
	tls_park_free(dm->park);
	tls_cache_free(dm->sessions);
	pthread_mutex_destroy(&dm->conns_lock);
	ratelimit_free(dm->limiter);
	free(dm->client_ca_pem);
	tls_files_release(&dm->tls);
	tls_groups_release(&dm->groups);
	if (dm->ticket_key.data)
		gnutls_memset(dm->ticket_key.data, 0, dm->ticket_key.size);
	gnutls_free(dm->ticket_key.data);
	free(dm);
}
