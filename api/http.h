/* What a handler sees of an HTTP exchange, without libmicrohttpd: server/
 * fills a struct request, the handler fills a struct response and returns an
 * error code (DESIGN.md §1: a handler never calls MHD). */
#ifndef SUITD_API_HTTP_H
#define SUITD_API_HTTP_H

#include <jansson.h>
#include <stdint.h>

#include "common/bounds.h"
#include "common/buf.h"
#include "common/error.h"
#include "storage/api_keys.h"
#include "storage/devices.h"

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_OTHER,
};

const char *http_method_name(enum http_method m);
enum http_method http_method_parse(const char *name);

struct request {
	enum http_method method;
	const char *path;
	/* {name} segments of the route pattern, in order. */
	const char *params[BOUND_ROUTE_PARAMS];
	unsigned param_count;
	/* Buffered body (bounded by [server] max_body); NULL when empty. */
	const char *body;
	size_t body_len;
	/* The authenticated API key, NULL on routes without auth. */
	const struct api_key *key;
	/* The authenticated device on device routes (NULL: anonymous). */
	const struct device_ident *device;
	/* Accessors provided by server/ (NULL when absent). */
	const char *(*header)(const struct request *req, const char *name);
	const char *(*query)(const struct request *req, const char *name);
	void *server_data;
	/* A cookie of the Cookie header by name (NULL when absent). */
	const char *(*cookie)(const struct request *req, const char *name);
};

struct response_header {
	const char *name; /* static string */
	char value[256];
};

/* A body produced piece by piece while it is sent (payload bytes): memory
 * stays bounded whatever the size. read() fills up to max bytes at body
 * offset pos and returns how many, or -1 on error (the connection is cut:
 * the client sees a short body, never wrong bytes). free() runs once. */
struct response_stream {
	uint64_t size;
	long (*read)(void *cls, uint64_t pos, char *buf, size_t max);
	void (*free)(void *cls);
	void *cls;
	/* A live body (size RESPONSE_STREAM_LIVE, Server-Sent Events): read()
	 * may return 0, "nothing now"; the server then stops polling the
	 * connection (no worker waits) and calls park(cls, wake, wake_cls).
	 * The owner calls wake(wake_cls) exactly once, from any thread (even
	 * from park), when read() has more or the end (RESPONSE_STREAM_END:
	 * the body ends cleanly). */
	void (*park)(void *cls, void (*wake)(void *wake_cls), void *wake_cls);
	/* Size RESPONSE_STREAM_LIVE without park: a body of unknown length
	 * (an export) whose read() never returns 0 and ends with
	 * RESPONSE_STREAM_END. */
};
#define RESPONSE_STREAM_LIVE UINT64_MAX
#define RESPONSE_STREAM_END  (-2L)

/* An answer that comes later, from another thread (a report waiting for
 * its group commit). The handler sets start and returns; the server stops
 * polling the connection, then calls start(cls, resume, resume_cls). The
 * work fills the response and calls resume(resume_cls) exactly once, from
 * any thread; the server then sends the response. The request (body
 * included) stays valid until then. */
struct response_defer {
	void (*start)(void *cls, void (*resume)(void *resume_cls), void *resume_cls);
	void *cls;
};

struct response {
	unsigned status;
	struct response_defer defer;
	const char *content_type; /* static string */
	struct buf body;
	struct response_stream stream; /* used instead of body when read is set */
	struct response_header headers[BOUND_RESPONSE_HEADERS];
	unsigned header_count;
	/* Set by api_fail(): rendered as problem+json by the server. */
	enum err problem;
	char detail[BOUND_DETAIL_MAX];
	/* A more precise problem type than the error's own slug (static
	 * string, e.g. "manifest:digest-mismatch"), or NULL. */
	const char *problem_type;
};

void response_init(struct response *res);
void response_release(struct response *res);
enum err response_header_set(struct response *res, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Serialise json (reference stolen) as the body with status. */
enum err response_json(struct response *res, unsigned status, json_t *json);
/* Plain text body. */
enum err response_text(struct response *res, unsigned status, const char *content_type,
		       const char *text);

/* Mark the response as a problem with this detail and return e, so handlers
 * write `return api_fail(res, ERR_INVALID, "field 'name' ...")`. */
enum err api_fail(struct response *res, enum err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with a precise problem type slug (urn:suitd:<type>). */
enum err api_fail_type(struct response *res, enum err e, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* HTTP status for an error code (one switch, no default). */
unsigned api_http_status(enum err e);
/* Fill res with application/problem+json for res->problem. */
void api_problem_render(struct response *res, const char *instance);

#endif
