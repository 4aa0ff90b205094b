#include "api/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "api/input.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "storage/reports.h"
#include "suit/manifest.h"
#include "suit/report.h"
#include "tracker/assignments.h"
#include "tracker/transitions.h"

#define REPORT_REASON_MAX 256

static bool media_is(const char *type, const char *want)
{
	size_t n = strlen(want);

	return type && strncasecmp(type, want, n) == 0 && (type[n] == '\0' || type[n] == ';');
}

/* A bare SUIT_Report mapped to the model: result true → installed, or
 * confirmed when a record shows the invoke section (9) ran; a result map →
 * failed with the reason's registry name, the code and the failing record. */
static enum err suit_report_fill(struct api_ctx *ctx, const struct request *req,
				 struct response *res, struct report_new *r, uint8_t digest[64],
				 char *reason, size_t reason_size)
{
	static const char *const auth_names[] = {
		[SUIT_REPORT_BARE] = NULL,
		[SUIT_REPORT_SIGNED_UNCHECKED] = "unchecked",
		[SUIT_REPORT_SIGNED_VERIFIED] = "verified",
	};
	struct suit_report sr;
	struct diag d = {0};
	struct cbor_span payload;
	enum suit_report_auth auth;
	char *key = NULL;
	enum err e = storage_device_report_key(ctx->storage, req->device->num, &key);

	if (e)
		return api_fail(res, e, "cannot read the device's report key");
	bool has_key = key != NULL;
	e = suit_report_open((const uint8_t *)req->body, req->body_len, key, &payload, &auth, &d);
	free(key);
	if (e == ERR_CONFIG)
		return api_fail(res, ERR_INTERNAL, "the device's report_key is unusable: %s",
				d.text);
	if (e)
		return api_fail(res, e, "%s: %s", d.field, d.text);
	/* A device with a key signs: an unsigned report could come from anyone
	 * holding its token. */
	if (has_key && auth == SUIT_REPORT_BARE)
		return api_fail(res, ERR_UNPROCESSABLE,
				"this device has a report_key: its SUIT reports must be "
				"COSE_Sign1 signed with it");
	r->signature = auth_names[auth];
	if (suit_report_parse(payload.p, payload.len, &sr, &d))
		return api_fail(res, ERR_INVALID, "%s: %s", d.field, d.text);
	memcpy(digest, sr.manifest_digest.bytes, sr.manifest_digest.len);
	r->digest = digest;
	r->digest_len = sr.manifest_digest.len;
	if (sr.success) {
		r->state = sr.invoked ? ASSIGN_CONFIRMED : ASSIGN_INSTALLED;
	} else {
		r->state = ASSIGN_FAILED;
		r->has_code = sr.has_code;
		r->code = sr.code;
		if (sr.has_record)
			snprintf(reason, reason_size,
				 "%s at section %lld offset %lld component %lld",
				 suit_report_reason_name(sr.reason), (long long)sr.section,
				 (long long)sr.offset, (long long)sr.component);
		else
			snprintf(reason, reason_size, "%s", suit_report_reason_name(sr.reason));
		r->reason = reason;
	}
	r->media_type = "application/suit-report+cose";
	r->body = req->body;
	r->body_len = req->body_len;
	return ERR_OK;
}

enum err api_reports_post(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *type = req->header(req, "Content-Type");
	struct report_new r = {.device_num = req->device->num, .progress = -1};
	uint8_t digest[64];
	json_auto_t *body = NULL;
	const char *text, *k;
	char suit_reason[REPORT_REASON_MAX + 1];
	json_t *v;
	enum err e;

	if (req->body_len > ctx->config->devices.max_report_size)
		return api_fail(res, ERR_TOO_LARGE, "a report is at most %llu bytes",
				(unsigned long long)ctx->config->devices.max_report_size);
	if (media_is(type, "application/suit-report+cose")) {
		if ((e = suit_report_fill(ctx, req, res, &r, digest, suit_reason,
					  sizeof(suit_reason))))
			return e;
		return api_reports_record(ctx, req, res, &r, 204);
	}
	if ((e = api_json_body(req, res, &body)))
		return e;
	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "manifest") != 0 && strcmp(k, "state") != 0 &&
		    strcmp(k, "progress") != 0 && strcmp(k, "reason") != 0 &&
		    strcmp(k, "code") != 0)
			return api_fail(res, ERR_INVALID, "unknown field '%.64s'", k);
	}
	if ((e = api_json_string(body, "manifest", 128, res, &text)))
		return e;
	size_t n = strlen(text);
	if (n % 2 || n < 64 || !hex_decode(text, digest, n / 2))
		return api_fail(res, ERR_INVALID,
				"field 'manifest' must be a manifest digest in hex");
	r.digest = digest;
	r.digest_len = n / 2;
	if ((e = api_json_string(body, "state", 16, res, &text)))
		return e;
	if (!assignment_state_parse(text, &r.state) || !report_state_reportable(r.state) ||
	    r.state == ASSIGN_CONFIRMED)
		return api_fail(
			res, ERR_INVALID,
			"field 'state' must be downloading, downloaded, installing, installed "
			"or failed");
	if ((v = json_object_get(body, "progress"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100)
			return api_fail(res, ERR_INVALID, "field 'progress' must be 0 to 100");
		r.progress = (int)json_integer_value(v);
	}
	if ((v = json_object_get(body, "reason"))) {
		if (!json_is_string(v) || json_string_length(v) > REPORT_REASON_MAX)
			return api_fail(res, ERR_INVALID,
					"field 'reason' must be a string of at most %d "
					"bytes",
					REPORT_REASON_MAX);
		r.reason = json_string_value(v);
	}
	if ((v = json_object_get(body, "code"))) {
		if (!json_is_integer(v))
			return api_fail(res, ERR_INVALID, "field 'code' must be an integer");
		r.has_code = true;
		r.code = (int64_t)json_integer_value(v);
	}
	r.media_type = "application/json";
	r.body = req->body;
	r.body_len = req->body_len;
	return api_reports_record(ctx, req, res, &r, 204);
}

/* A report waiting for its group commit: the job, the strings it points
 * to (the JSON body is freed when the handler returns), where to answer. */
struct pending_report {
	struct report_job job; /* first: the batcher hands back &job.base */
	struct api_ctx *ctx;
	struct response *res;
	unsigned ok_status;
	int64_t device_num;
	char device_id[DEVICE_ID_MAX + 1];
	uint8_t digest[MANIFEST_DIGEST_MAX];
	char reason[REPORT_REASON_MAX + 1];
	void (*resume)(void *cls);
	void *resume_cls;
};

/* On the batch thread, after the commit: answer, then let the server send. */
static void report_done(struct batch_job *base, enum err e)
{
	struct pending_report *p = (struct pending_report *)base;
	void (*resume)(void *cls) = p->resume;
	void *resume_cls = p->resume_cls;

	if (e == ERR_NOT_FOUND || e == ERR_CONFLICT)
		metrics_report_unstored(p->ctx->metrics, true);
	else if (!e && p->job.stored)
		metrics_report_stored(p->ctx->metrics, (unsigned)p->job.r.state);
	else if (!e)
		metrics_report_unstored(p->ctx->metrics, false);
	if (!e && p->job.dropped)
		metrics_reports_dropped(p->ctx->metrics, p->job.dropped);
	if (e == ERR_NOT_FOUND)
		api_fail(p->res, ERR_CONFLICT, "this device was never assigned that manifest");
	else if (e == ERR_CONFLICT)
		api_fail(p->res, e, "%s",
			 p->job.why ? p->job.why : "the report does not fit the assignment");
	else if (e)
		api_fail(p->res, e, "cannot store the report");
	else
		p->res->status = p->ok_status;
	/* The index holds the state: re-read it only when that changed. */
	if (!e && p->job.changed &&
	    assignment_index_refresh(p->ctx->assignments, p->ctx->storage, p->device_num) != ERR_OK)
		log_err("device '%s': cannot refresh its assignment", p->device_id);
	free(p);
	resume(resume_cls);
}

/* The server has suspended the connection: queue the report. */
static void report_start(void *cls, void (*resume)(void *resume_cls), void *resume_cls)
{
	struct pending_report *p = cls;

	p->resume = resume;
	p->resume_cls = resume_cls;
	storage_report_submit(p->ctx->reports, &p->job);
}

enum err api_reports_record(struct api_ctx *ctx, const struct request *req, struct response *res,
			    const struct report_new *r, unsigned ok_status)
{
	struct pending_report *p = calloc(1, sizeof(*p));

	if (!p)
		return ERR_NOMEM;
	if (!r->digest || r->digest_len > sizeof(p->digest)) {
		free(p);
		return api_fail(res, ERR_INVALID, "the report names no manifest digest");
	}
	p->job.r = *r;
	memcpy(p->digest, r->digest, r->digest_len);
	p->job.r.digest = p->digest;
	if (r->reason) {
		snprintf(p->reason, sizeof(p->reason), "%s", r->reason);
		p->job.r.reason = p->reason;
	}
	/* body: the request's buffer, kept by the server until the answer. */
	p->job.decide = report_transition;
	p->job.history_count = ctx->config->devices.report_history;
	p->job.history_bytes = ctx->config->devices.report_history_size;
	p->job.base.done = report_done;
	p->ctx = ctx;
	p->res = res;
	p->ok_status = ok_status;
	p->device_num = req->device->num;
	snprintf(p->device_id, sizeof(p->device_id), "%s", req->device->id);
	res->defer = (struct response_defer){report_start, p};
	return ERR_OK;
}

/* The stored envelopes the reports of one page name (most name one or
 * two manifests): loaded once per page, to name each record's command and
 * component (suit_report_describe). */
#define ENVELOPE_CACHE 4
struct envelope_cache {
	struct {
		uint8_t digest[MANIFEST_DIGEST_MAX];
		size_t digest_len;
		uint8_t *envelope; /* NULL: not stored (deleted since) */
		size_t len;
	} e[ENVELOPE_CACHE];
	unsigned n, next;
};

static void envelope_cache_release(struct envelope_cache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->e[i].envelope);
	c->n = 0;
}

static const uint8_t *envelope_cached(struct api_ctx *ctx, struct envelope_cache *c,
				      const struct suit_digest *dg, size_t *ret_len)
{
	unsigned slot;

	if (dg->len > MANIFEST_DIGEST_MAX)
		return NULL;
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].digest_len == dg->len &&
		    memcmp(c->e[i].digest, dg->bytes, dg->len) == 0) {
			*ret_len = c->e[i].len;
			return c->e[i].envelope;
		}
	if (c->n < ENVELOPE_CACHE) {
		slot = c->n++;
	} else {
		slot = c->next;
		c->next = (c->next + 1) % ENVELOPE_CACHE;
		free(c->e[slot].envelope);
	}
	memcpy(c->e[slot].digest, dg->bytes, dg->len);
	c->e[slot].digest_len = dg->len;
	c->e[slot].envelope = NULL;
	c->e[slot].len = 0;
	if (storage_manifest_envelope(ctx->storage, dg->bytes, dg->len, &c->e[slot].envelope,
				      &c->e[slot].len) != ERR_OK)
		c->e[slot].envelope = NULL;
	*ret_len = c->e[slot].len;
	return c->e[slot].envelope;
}

/* What a stored SUIT report says, decoded from its bytes (signatures were
 * checked on arrival; the row's `signature` says how): the manifest digest,
 * whether the invoke section ran, the result, true or why it failed, and
 * every record (suit_report_describe). A body that no longer parses (it did
 * on arrival) shows as null. */
static json_t *suit_report_decoded(struct api_ctx *ctx, struct envelope_cache *cache,
				   const struct report_row *r)
{
	struct cbor_span payload;
	enum suit_report_auth auth;
	struct suit_report sr;
	json_t *result, *out, *detail;
	size_t env_len = 0;
	const uint8_t *env;

	if (suit_report_open(r->body, r->body_len, NULL, &payload, &auth, NULL) ||
	    suit_report_parse(payload.p, payload.len, &sr, NULL))
		return json_null();
	if (sr.success)
		result = json_true();
	else
		result = json_pack(
			"{s:s, s:o, s:o}", "reason", suit_report_reason_name(sr.reason), "code",
			sr.has_code ? json_integer((json_int_t)sr.code) : json_null(), "record",
			sr.has_record
				? json_pack("{s:I, s:I, s:I}", "section", (json_int_t)sr.section,
					    "offset", (json_int_t)sr.offset, "component",
					    (json_int_t)sr.component)
				: json_null());
	out = json_pack("{s:o, s:b, s:o}", "manifest_digest", suit_digest_json(&sr.manifest_digest),
			"invoked", sr.invoked, "result", result);
	/* Every record, with the command and component it names. */
	env = envelope_cached(ctx, cache, &sr.manifest_digest, &env_len);
	detail = suit_report_describe(payload.p, payload.len, env, env_len);
	if (out && detail)
		json_object_update(out, detail);
	json_decref(detail);
	return out;
}

/* The body as a document: the JSON report as sent, or the SUIT report
 * decoded. */
static json_t *report_decoded(struct api_ctx *ctx, struct envelope_cache *cache,
			      const struct report_row *r)
{
	if (strcmp(r->media_type, "application/suit-report+cose") == 0)
		return suit_report_decoded(ctx, cache, r);
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
	return j ? j : json_null();
}

/* One stored report as the API shows it, or NULL (out of memory). */
static json_t *report_json(struct api_ctx *ctx, struct envelope_cache *cache,
			   const struct report_row *r)
{
	char hex[2 * MANIFEST_DIGEST_MAX + 1], at[RFC3339_LEN];
	char *b64 = malloc(4 * ((r->body_len + 2) / 3) + 1);
	json_t *j;

	if (!b64)
		return NULL;
	EVP_EncodeBlock((unsigned char *)b64, r->body, (int)r->body_len);
	hex_encode(r->digest, r->digest_len, hex);
	time_format_rfc3339(r->received_at, at);
	j = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:s, s:o, s:s}", "id",
		      (json_int_t)r->id, "manifest", hex, "state", r->state, "progress",
		      r->progress >= 0 ? json_integer(r->progress) : json_null(), "reason",
		      r->reason[0] ? json_string(r->reason) : json_null(), "code",
		      r->has_code ? json_integer((json_int_t)r->code) : json_null(), "media_type",
		      r->media_type, "signature",
		      r->signature[0] ? json_string(r->signature) : json_null(), "body_base64", b64,
		      "body", report_decoded(ctx, cache, r), "received_at", at);
	free(b64);
	return j;
}

enum err api_reports_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct report_row *rows;
	unsigned limit, n = 0;
	int64_t after;
	bool more = false;
	json_t *arr;
	enum err e;

	if (!device_name_valid(req->params[0], DEVICE_ID_MAX))
		return api_fail(res, ERR_INVALID, "a device id must match [A-Za-z0-9._:@-]{1,128}");
	if ((e = api_page_params(req, res, &limit, &after)))
		return e;
	struct device_ident d;
	if ((e = storage_device_ident(ctx->storage, req->params[0], &d)))
		return e == ERR_NOT_FOUND ? api_fail(res, e, "no such device")
					  : api_fail(res, e, "cannot read the device");
	rows = calloc(limit, sizeof(*rows));
	if (!rows)
		return ERR_NOMEM;
	/* Newest first: the cursor is the last id seen, the next page older. */
	e = storage_reports_of_device(ctx->storage, req->params[0], after ? after : INT64_MAX,
				      limit, BOUND_REPORT_PAGE_BYTES, rows, &n, &more);
	if (e) {
		free(rows);
		return api_fail(res, e, "cannot list reports");
	}
	arr = json_array();
	struct envelope_cache cache = {0};
	for (unsigned i = 0; arr && i < n; i++) {
		json_t *item = report_json(ctx, &cache, &rows[i]);
		if (!item || json_array_append_new(arr, item)) {
			json_decref(arr);
			arr = NULL;
		}
	}
	envelope_cache_release(&cache);
	int64_t last = n ? rows[n - 1].id : 0;
	for (unsigned i = 0; i < n; i++)
		report_row_release(&rows[i]);
	free(rows);
	if (!arr)
		return ERR_NOMEM; /* never a silently shorter page */
	return response_json(res, 200, api_page_json(arr, more, last));
}
