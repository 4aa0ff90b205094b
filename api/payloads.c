#include "api/payloads.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "api/deployments.h"
#include "api/input.h"
#include "api/range.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "storage/ddi.h"
#include "storage/manifests.h"
#include "storage/payloads.h"
#include "storage/readahead.h"

/* ---- upload ---------------------------------------------------------- */

/* Seconds a client refused for too many uploads is told to wait. */
#define UPLOAD_RETRY_AFTER 5

struct upload_state {
	struct api_ctx *ctx;
	bool holds_place; /* one of ctx->uploads_active */
	struct payload_writer *writer;
	EVP_MD_CTX *md;
	/* SHA-1 and MD5, which hawkBit DDI clients check (storage/ddi.h):
	 * computed in the same pass, stored with the payload. */
	EVP_MD_CTX *sha1, *md5;
	uint64_t size;
	uint64_t max;
	bool have_digest;
	uint8_t digest[SHA256_LEN];
	char name[PAYLOAD_NAME_MAX + 1];
};

/* RFC 9530 Content-Digest is a structured-field dictionary; only sha-256 is
 * checked, other algorithms are ignored. A sha-256 member that is not
 * ":<base64 of 32 bytes>:" is a client error. */
static enum err content_digest_parse(const char *value, struct upload_state *u,
				     struct response *res)
{
	const char *p = value;

	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t key_len = strcspn(p, "=,");
		if (key_len == 7 && strncmp(p, "sha-256", 7) == 0 && p[7] == '=') {
			const char *b64 = p + 8;
			unsigned char out[48];
			if (b64[0] != ':' || strlen(b64) < 46 || b64[45] != ':' || b64[44] != '=' ||
			    EVP_DecodeBlock(out, (const unsigned char *)b64 + 1, 44) != 33)
				return api_fail(
					res, ERR_INVALID,
					"Content-Digest sha-256 must be :<base64 of 32 bytes>:");
			memcpy(u->digest, out, SHA256_LEN);
			u->have_digest = true;
			return ERR_OK;
		}
		p = strchr(p, ',');
	}
	return ERR_OK;
}

static bool name_valid(const char *name)
{
	size_t n = strlen(name);
	json_t *probe;

	if (n == 0 || n > PAYLOAD_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	/* jansson refuses invalid UTF-8: the name must be printable as JSON. */
	probe = json_stringn(name, n);
	json_decref(probe);
	return probe != NULL;
}

/* Give the [payloads] max_uploads place back: at the end of the upload,
 * before its answer goes out (a client that uploads again at once must find
 * it free), or when the upload is dropped. */
static void upload_place_give(struct upload_state *u)
{
	if (u->holds_place) {
		atomic_fetch_sub(&u->ctx->uploads_active, 1);
		u->holds_place = false;
	}
}

static void upload_release(void *state)
{
	struct upload_state *u = state;

	storage_payload_writer_free(u->writer);
	EVP_MD_CTX_free(u->md);
	EVP_MD_CTX_free(u->sha1);
	EVP_MD_CTX_free(u->md5);
	upload_place_give(u);
	free(u);
}

/* Take one of the [payloads] max_uploads places, or answer 503. */
static enum err upload_slot_take(struct api_ctx *ctx, struct response *res)
{
	unsigned max = ctx->config->payloads.max_uploads;

	if (atomic_fetch_add(&ctx->uploads_active, 1) < max)
		return ERR_OK;
	atomic_fetch_sub(&ctx->uploads_active, 1);
	response_header_set(res, "Retry-After", "%u", UPLOAD_RETRY_AFTER);
	return api_fail(res, ERR_BUSY, "%u uploads are in progress ([payloads] max_uploads)", max);
}

static enum err upload_begin(struct api_ctx *ctx, const struct request *req, struct response *res,
			     void **ret_state)
{
	const char *type = req->header(req, "Content-Type");
	const char *length = req->header(req, "Content-Length");
	const char *name = req->query(req, "name");
	const char *digest = req->header(req, "Content-Digest");
	struct upload_state *u;
	enum err e;

	if (!type || strncasecmp(type, "application/octet-stream", 24) != 0 ||
	    (type[24] != '\0' && type[24] != ';'))
		return api_fail(res, ERR_MEDIA_TYPE, "the body must be application/octet-stream");
	if (length) {
		uint64_t n;
		if (parse_u64(length, &n) && n > ctx->config->payloads.max_size)
			return api_fail(res, ERR_TOO_LARGE,
					"the payload is %llu bytes; [payloads] max_size is %llu",
					(unsigned long long)n,
					(unsigned long long)ctx->config->payloads.max_size);
	}
	if (name && !name_valid(name))
		return api_fail(res, ERR_INVALID,
				"name must be 1 to %d bytes of UTF-8 without control characters",
				PAYLOAD_NAME_MAX);
	if ((e = upload_slot_take(ctx, res)))
		return e;
	u = calloc(1, sizeof(*u));
	if (!u) {
		atomic_fetch_sub(&ctx->uploads_active, 1);
		return ERR_NOMEM;
	}
	u->ctx = ctx;
	u->holds_place = true;
	u->max = ctx->config->payloads.max_size;
	snprintf(u->name, sizeof(u->name), "%s", name ? name : "");
	if (digest && (e = content_digest_parse(digest, u, res))) {
		upload_release(u);
		return e;
	}
	u->md = EVP_MD_CTX_new();
	u->sha1 = EVP_MD_CTX_new();
	u->md5 = EVP_MD_CTX_new();
	if (!u->md || !u->sha1 || !u->md5 || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(u->sha1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(u->md5, EVP_md5(), NULL) != 1) {
		upload_release(u);
		return ERR_CRYPTO;
	}
	e = storage_payload_writer_new(ctx->storage, ctx->uploads, &u->writer);
	if (e) {
		upload_release(u);
		return api_fail(res, e, "cannot start the upload");
	}
	*ret_state = u;
	return ERR_OK;
}

static enum err upload_data(void *state, const char *data, size_t len, struct response *res)
{
	struct upload_state *u = state;
	enum err e;

	if (len > u->max - u->size)
		return api_fail(res, ERR_TOO_LARGE,
				"the payload exceeds [payloads] max_size (%llu bytes)",
				(unsigned long long)u->max);
	u->size += len;
	if (EVP_DigestUpdate(u->md, data, len) != 1 || EVP_DigestUpdate(u->sha1, data, len) != 1 ||
	    EVP_DigestUpdate(u->md5, data, len) != 1)
		return ERR_CRYPTO;
	e = storage_payload_writer_append(u->writer, data, len);
	return e ? api_fail(res, e, "cannot store the payload") : ERR_OK;
}

static json_t *payload_json(const struct payload *p)
{
	char hex[SHA256_HEX_LEN + 1], created[RFC3339_LEN];

	hex_encode(p->sha256, SHA256_LEN, hex);
	time_format_rfc3339(p->created_at, created);
	return json_pack("{s:s, s:I, s:o, s:s}", "sha256", hex, "size", (json_int_t)p->size, "name",
			 p->name[0] ? json_string(p->name) : json_null(), "created_at", created);
}

static enum err upload_finish(struct api_ctx *ctx, const struct request *req, void *state,
			      struct response *res)
{
	struct upload_state *u = state;
	uint8_t sha[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	struct payload p = {0};
	bool created = false;
	unsigned n = SHA256_LEN;
	enum err e;

	(void)req;
	if (u->size == 0)
		e = api_fail(res, ERR_INVALID, "the body is empty");
	else if (EVP_DigestFinal_ex(u->md, sha, &n) != 1)
		e = ERR_CRYPTO;
	else if (u->have_digest && !crypto_equal(sha, u->digest, SHA256_LEN))
		e = api_fail(res, ERR_UNPROCESSABLE,
			     "Content-Digest sha-256 does not match the body received");
	else if ((e = storage_payload_writer_commit(u->writer, sha, u->size, u->name,
						    req->key ? req->key->name : NULL, &p,
						    &created)))
		api_fail(res, e, "cannot store the payload");
	/* Before the answer goes out: a refused upload leaves nothing
	 * behind, not even for a moment (the writer drops what it wrote), and
	 * the buffers and the max_uploads place are free for the next one. */
	storage_payload_writer_free(u->writer);
	u->writer = NULL;
	upload_place_give(u);
	if (e)
		return e;
	/* After the payload's commit, in a write of its own: when it fails,
	 * the first DDI read computes them from the stored bytes instead. */
	uint8_t sha1[SHA1_LEN], md5[MD5_LEN];
	if (EVP_DigestFinal_ex(u->sha1, sha1, NULL) != 1 ||
	    EVP_DigestFinal_ex(u->md5, md5, NULL) != 1 ||
	    storage_ddi_hashes_set(ctx->storage, p.id, sha1, md5) != ERR_OK)
		log_warn("payload %lld: cannot store its SHA-1 and MD5 now", (long long)p.id);
	hex_encode(p.sha256, SHA256_LEN, hex);
	e = response_json(res, created ? 201 : 200, payload_json(&p));
	if (!e)
		e = response_header_set(res, "Location", "/api/v1/payloads/%s", hex);
	return e;
}

const struct api_upload api_payloads_upload = {
	.begin = upload_begin,
	.data = upload_data,
	.finish = upload_finish,
	.release = upload_release,
};

/* ---- metadata -------------------------------------------------------- */

static enum err sha_param(const struct request *req, struct response *res,
			  uint8_t ret_sha[SHA256_LEN])
{
	if (!hex_decode(req->params[0], ret_sha, SHA256_LEN))
		return api_fail(res, ERR_INVALID, "'%s' is not a SHA-256 in hex (64 characters)",
				req->params[0]);
	return ERR_OK;
}

static enum err payload_lookup(struct api_ctx *ctx, const struct request *req, struct response *res,
			       struct payload *ret)
{
	uint8_t sha[SHA256_LEN];
	enum err e = sha_param(req, res, sha);

	if (e)
		return e;
	e = storage_payload_get(ctx->storage, sha, ret);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no payload with this SHA-256");
	return e ? api_fail(res, e, "cannot read the payload") : ERR_OK;
}

enum err api_payloads_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct payload *items;
	unsigned limit, n = 0;
	int64_t after;
	json_t *arr;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)))
		return e;
	items = calloc(limit + 1, sizeof(*items));
	if (!items)
		return ERR_NOMEM;
	e = storage_payload_list(ctx->storage, after, limit + 1, items, &n);
	if (e) {
		free(items);
		return api_fail(res, e, "cannot list payloads");
	}
	arr = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(arr, payload_json(&items[i]));
	int64_t last = n ? items[(n > limit ? limit : n) - 1].id : 0;
	free(items);
	return response_json(res, 200, api_page_json(arr, n > limit, last));
}

enum err api_payloads_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t digests[MANIFEST_LINKS_MAX][MANIFEST_DIGEST_MAX];
	size_t lens[MANIFEST_LINKS_MAX];
	char hex[2 * MANIFEST_DIGEST_MAX + 1];
	unsigned n = 0;
	struct payload p;
	json_t *j, *manifests;
	enum err e = payload_lookup(ctx, req, res, &p);

	if (e)
		return e;
	e = storage_payload_manifests(ctx->storage, p.id, digests, lens, MANIFEST_LINKS_MAX, &n);
	if (e)
		return api_fail(res, e, "cannot list the manifests of the payload");
	j = payload_json(&p);
	manifests = json_array();
	for (unsigned i = 0; i < n; i++) {
		hex_encode(digests[i], lens[i], hex);
		json_array_append_new(manifests, json_string(hex));
	}
	json_object_set_new(j, "manifests", manifests);
	return response_json(res, 200, j);
}

enum err api_payloads_delete(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t sha[SHA256_LEN];
	enum err e = sha_param(req, res, sha);

	if (e)
		return e;
	e = storage_payload_delete(ctx->storage, sha, req->key ? req->key->name : NULL);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no payload with this SHA-256");
	if (e == ERR_CONFLICT)
		return api_fail(res, e, "the payload is still referred to");
	if (e)
		return api_fail(res, e, "cannot delete the payload");
	res->status = 204;
	return ERR_OK;
}

/* ---- download -------------------------------------------------------- */

/* The body as a list of segments: literal text (multipart part headers) or
 * a byte range of the payload. */
struct segment {
	uint64_t start; /* offset of the segment in the body */
	uint64_t len;
	const char *text; /* NULL: payload bytes from `from` */
	uint64_t from;
};

struct payload_stream {
	struct payload payload;
	/* Reads the payload, the next block ahead (storage/readahead.h). */
	struct payload_cursor *reader;
	/* A device download: its assignment moves to downloaded when the
	 * payload's last byte has been served. */
	struct api_ctx *ctx;
	struct device_ident device;
	bool last_byte_served;
	unsigned count;
	struct segment seg[2 * RANGE_MAX + 2];
	char text[RANGE_MAX * 160 + 128];
	size_t text_used;
	unsigned cursor; /* segment of the last read: reads are sequential */
};

static void stream_add(struct payload_stream *ps, const char *text, uint64_t from, uint64_t len)
{
	struct segment *s = &ps->seg[ps->count];

	s->start = ps->count ? ps->seg[ps->count - 1].start + ps->seg[ps->count - 1].len : 0;
	s->text = text;
	s->from = from;
	s->len = len;
	ps->count++;
}

/* Append formatted text to the stream's own buffer as a text segment. */
static void stream_add_text(struct payload_stream *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void stream_add_text(struct payload_stream *ps, const char *fmt, ...)
{
	char *at = ps->text + ps->text_used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(at, sizeof(ps->text) - ps->text_used, fmt, ap);
	va_end(ap);
	/* Sized for RANGE_MAX parts; cannot overflow. */
	if (n < 0 || (size_t)n >= sizeof(ps->text) - ps->text_used)
		n = 0;
	ps->text_used += (size_t)n;
	stream_add(ps, at, 0, (uint64_t)n);
}

static long stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct payload_stream *ps = cls;
	size_t done = 0;

	if (ps->cursor >= ps->count || pos < ps->seg[ps->cursor].start)
		ps->cursor = 0;
	while (done < max && ps->cursor < ps->count) {
		struct segment *s = &ps->seg[ps->cursor];
		uint64_t at = pos + done;
		if (at >= s->start + s->len) {
			ps->cursor++;
			continue;
		}
		uint64_t off = at - s->start;
		size_t n = s->len - off < max - done ? (size_t)(s->len - off) : max - done;
		enum err e = ERR_OK;
		if (s->text)
			memcpy(buf + done, s->text + off, n);
		else if ((e = payload_cursor_read(ps->reader, s->from + off, buf + done, n,
						  s->from + s->len))) {
			/* The client sees the connection close before the
			 * announced length: say why here. */
			log_err("payload %lld: reading %zu bytes at %llu failed (%s): the download "
				"is cut off",
				(long long)ps->payload.id, n, (unsigned long long)(s->from + off),
				err_title(e));
			return -1;
		} else if (ps->device.num && !ps->last_byte_served &&
			   s->from + off + n == ps->payload.size) {
			ps->last_byte_served = true;
			deployments_payload_fetch(ps->ctx, &ps->device, ps->payload.id, true);
		}
		done += n;
	}
	return (long)done;
}

static void stream_free(void *cls)
{
	struct payload_stream *ps = cls;

	payload_cursor_free(ps->reader);
	free(ps);
}

/* Any entity-tag in an If-None-Match list equal to ours (weak compare). */
static bool etag_list_matches(const char *list, const char *etag)
{
	size_t n = strlen(etag);

	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

enum err api_payloads_content(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct byte_range ranges[RANGE_MAX];
	unsigned count = 0;
	enum range_result rr = RANGE_IGNORE;
	char hex[SHA256_HEX_LEN + 1], etag[SHA256_HEX_LEN + 3];
	const char *inm = req->header(req, "If-None-Match");
	const char *if_range = req->header(req, "If-Range");
	struct payload_stream *ps;
	enum err e;

	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return ERR_NOMEM;
	e = payload_lookup(ctx, req, res, &ps->payload);
	if (e) {
		free(ps);
		return e;
	}
	hex_encode(ps->payload.sha256, SHA256_LEN, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	response_header_set(res, "ETag", "%s", etag);
	response_header_set(res, "Accept-Ranges", "bytes");
	/* The URL names the bytes by their SHA-256: they never change, so any
	 * cache may keep them for a year without asking again (immutable).
	 * A shared cache (a CDN, a proxy) may keep them only when anyone may
	 * fetch them ([payloads] anonymous_download on the device route);
	 * otherwise only the client's own (private), so that a cache never
	 * hands firmware to someone suitd would refuse (docs/cluster.md). */
	bool shared = ctx->config->payloads.anonymous_download && !req->key;
	response_header_set(res, "Cache-Control", "%s, max-age=31536000, immutable",
			    shared ? "public" : "private");
	if (inm && etag_list_matches(inm, etag)) {
		free(ps);
		res->status = 304;
		return ERR_OK;
	}
	/* If-Range: only a strong match of our ETag keeps the Range. */
	if (!if_range || strcmp(if_range, etag) == 0)
		rr = range_parse(req->header(req, "Range"), ps->payload.size, ranges, &count);
	uint64_t size = ps->payload.size;
	if (rr == RANGE_UNSATISFIABLE) {
		free(ps);
		response_header_set(res, "Content-Range", "bytes */%llu", (unsigned long long)size);
		return api_fail(res, ERR_RANGE, "no requested range overlaps the %llu bytes",
				(unsigned long long)size);
	}
	res->content_type = "application/octet-stream";
	if (rr == RANGE_IGNORE) {
		res->status = 200;
		stream_add(ps, NULL, 0, size);
	} else if (count == 1) {
		res->status = 206;
		response_header_set(res, "Content-Range", "bytes %llu-%llu/%llu",
				    (unsigned long long)ranges[0].first,
				    (unsigned long long)ranges[0].last, (unsigned long long)size);
		stream_add(ps, NULL, ranges[0].first, ranges[0].last - ranges[0].first + 1);
	} else {
		uint8_t rnd[12];
		char boundary[25];
		if (crypto_random(rnd, sizeof(rnd))) {
			free(ps);
			return ERR_CRYPTO;
		}
		hex_encode(rnd, sizeof(rnd), boundary);
		res->status = 206;
		res->content_type = NULL;
		response_header_set(res, "Content-Type", "multipart/byteranges; boundary=%s",
				    boundary);
		for (unsigned i = 0; i < count; i++) {
			stream_add_text(
				ps,
				"%s--%s\r\nContent-Type: application/octet-stream\r\n"
				"Content-Range: bytes %llu-%llu/%llu\r\n\r\n",
				i ? "\r\n" : "", boundary, (unsigned long long)ranges[i].first,
				(unsigned long long)ranges[i].last, (unsigned long long)size);
			stream_add(ps, NULL, ranges[i].first, ranges[i].last - ranges[i].first + 1);
		}
		stream_add_text(ps, "\r\n--%s--\r\n", boundary);
	}
	if ((e = payload_cursor_new(ctx->readahead, ctx->storage, &ps->payload, &ps->reader))) {
		free(ps);
		return e;
	}
	if (req->device) {
		ps->ctx = ctx;
		ps->device = *req->device;
		deployments_payload_fetch(ctx, req->device, ps->payload.id, false);
	}
	const struct segment *end = &ps->seg[ps->count - 1];
	res->stream = (struct response_stream){
		.size = end->start + end->len, .read = stream_read, .free = stream_free, .cls = ps};
	return ERR_OK;
}
