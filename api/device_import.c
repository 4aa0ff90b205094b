#include "api/device_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/auth.h"
#include "api/devices.h"
#include "api/seen.h"
#include "api/token_cache.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "storage/device_import.h"
#include "tracker/assignments.h"
#include "tracker/rollout.h"

/* {"id":"<128>","token":"<64>"}\n */
#define TOKEN_LINE_MAX (DEVICE_ID_MAX + SECRET_TEXT_MAX + 32)

struct pending_line {
	unsigned line;
	json_t *json; /* the strings of input point into it */
	struct device_input input;
	uint8_t token_hash[SHA256_LEN];
	char generated[SECRET_TEXT_MAX]; /* "" unless generated for it */
};

struct device_import {
	struct storage *storage;
	struct api_ctx *ctx;
	struct device_import_options o;
	char actor[80];
	/* The line being read; too_long: its bytes past the limit are dropped. */
	char *line;
	size_t line_len;
	bool too_long;
	unsigned line_no;
	struct pending_line batch[DEVICE_IMPORT_BATCH];
	unsigned batch_n;
	/* What the storage sees of the batch and says of it (not on the
	 * stack: MHD's threads may have small ones). */
	struct device_import_row rows[DEVICE_IMPORT_BATCH];
	struct device_import_result results[DEVICE_IMPORT_BATCH];
	unsigned long long created, updated, unchanged, failed;
	unsigned generated;
	json_t *errors;
	bool errors_truncated;
	/* Generated tokens: one allocation, cleansed before it is freed. */
	char *tokens;
	size_t tokens_len;
};

enum err device_import_new(struct storage *s, struct api_ctx *ctx,
			   const struct device_import_options *o, struct device_import **ret)
{
	struct device_import *im = calloc(1, sizeof(*im));

	if (!im)
		return ERR_NOMEM;
	im->storage = s;
	im->ctx = ctx;
	im->o = *o;
	snprintf(im->actor, sizeof(im->actor), "%s", o->actor ? o->actor : "system");
	im->o.actor = im->actor;
	im->line = malloc(DEVICE_IMPORT_LINE_MAX + 1);
	im->errors = json_array();
	if (!im->line || !im->errors) {
		device_import_free(im);
		return ERR_NOMEM;
	}
	*ret = im;
	return ERR_OK;
}

static void line_error(struct device_import *im, unsigned line, const char *id, enum err e,
		       const char *type, const char *detail)
{
	char urn[96];

	im->failed++;
	if (json_array_size(im->errors) >= DEVICE_IMPORT_ERRORS_MAX) {
		im->errors_truncated = true;
		return;
	}
	snprintf(urn, sizeof(urn), "urn:suitd:%s", type ? type : err_slug(e));
	json_t *j = json_pack("{s:I, s:s, s:i, s:s}", "line", (json_int_t)line, "type", urn,
			      "status", (int)api_http_status(e), "detail", detail);
	if (j && id)
		json_object_set_new(j, "id", json_string(id));
	json_array_append_new(im->errors, j);
}

static void pending_release(struct pending_line *p)
{
	device_input_release(&p->input);
	json_decref(p->json);
	p->json = NULL;
	OPENSSL_cleanse(p->generated, sizeof(p->generated));
}

static enum err keep_token(struct device_import *im, const struct pending_line *p)
{
	if (!im->tokens) {
		im->tokens = malloc((size_t)DEVICE_IMPORT_GENERATE_MAX * TOKEN_LINE_MAX);
		if (!im->tokens)
			return ERR_NOMEM;
	}
	int n = snprintf(im->tokens + im->tokens_len, TOKEN_LINE_MAX,
			 "{\"id\":\"%s\",\"token\":\"%s\"}\n", p->input.id, p->generated);
	if (n > 0 && n < TOKEN_LINE_MAX)
		im->tokens_len += (size_t)n;
	return ERR_OK;
}

/* After a committed batch: what the daemon keeps in memory follows. */
static void caches_follow(struct device_import *im, const struct device_import_result *r,
			  unsigned n)
{
	bool identities = false;

	if (!im->ctx || im->o.dry_run)
		return;
	for (unsigned i = 0; i < n; i++) {
		identities = identities || r[i].identity_changed;
		if (r[i].joined && im->ctx->assignments &&
		    assignment_index_refresh(im->ctx->assignments, im->storage, r[i].num) != ERR_OK)
			log_err("import: cannot refresh the assignment of device %lld",
				(long long)r[i].num);
	}
	/* After the commit, as for a single rotation (api/token_cache.h). */
	if (identities && im->ctx->tokens)
		token_cache_clear(im->ctx->tokens);
}

static enum err batch_flush(struct device_import *im)
{
	struct device_import_row *rows = im->rows;
	struct device_import_result *results = im->results;
	enum err e = ERR_OK;
	unsigned n = im->batch_n;

	if (!n)
		return ERR_OK;
	for (unsigned i = 0; i < n; i++) {
		const struct pending_line *p = &im->batch[i];
		rows[i] = (struct device_import_row){
			.id = p->input.id,
			.group = p->input.group,
			.set_tags = p->input.set_tags,
			.tags = p->input.tags,
			.tag_count = p->input.tag_count,
			.vendor = p->input.vendor,
			.class_id = p->input.class_id,
			.attributes = p->input.attributes,
			.token_hash = p->input.token ? p->token_hash : NULL,
			.new_token_hash = p->generated[0] ? p->token_hash : NULL};
	}
	/* A device's reported sequence decides a skip when it joins. */
	if (im->ctx && im->ctx->seen)
		seen_flush_before_read(im->ctx->seen, im->storage);
	enum err batch_e = storage_devices_import(im->storage, rows, n, &rollout_planner,
						  im->o.dry_run, im->o.actor, results);
	for (unsigned i = 0; i < n; i++) {
		struct pending_line *p = &im->batch[i];
		switch (results[i].outcome) {
		case DEVICE_IMPORT_CREATED:
			im->created++;
			if (p->generated[0] && !im->o.dry_run && !e)
				e = keep_token(im, p);
			break;
		case DEVICE_IMPORT_UPDATED:
			im->updated++;
			break;
		case DEVICE_IMPORT_UNCHANGED:
			im->unchanged++;
			break;
		case DEVICE_IMPORT_FAILED:
			line_error(im, p->line, p->input.id, results[i].error, NULL,
				   results[i].detail);
			break;
		}
		pending_release(p);
	}
	im->batch_n = 0;
	if (batch_e == ERR_OK)
		caches_follow(im, results, n);
	/* The storage gone: stop here, the lines so far are reported. */
	if (batch_e == ERR_STORAGE || batch_e == ERR_NO_SPACE || batch_e == ERR_IO ||
	    batch_e == ERR_NOMEM)
		return batch_e;
	return e;
}

/* One complete line (without its newline). */
static enum err line_take(struct device_import *im, const char *text, size_t len)
{
	struct pending_line *p = &im->batch[im->batch_n];
	struct response scratch;
	json_error_t jerr;
	size_t i = 0;
	enum err e;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
		i++;
	if (i == len)
		return ERR_OK; /* blank lines are allowed (a trailing newline) */
	memset(p, 0, sizeof(*p));
	p->line = im->line_no;
	p->json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!p->json || !json_is_object(p->json)) {
		char detail[BOUND_DETAIL_MAX];
		if (p->json)
			snprintf(detail, sizeof(detail), "a line must hold one JSON object");
		else
			snprintf(detail, sizeof(detail), "not JSON: %s (column %d)", jerr.text,
				 jerr.column);
		line_error(im, p->line, NULL, ERR_INVALID, NULL, detail);
		json_decref(p->json);
		p->json = NULL;
		return ERR_OK;
	}
	response_init(&scratch);
	e = device_input_parse(p->json, true, &p->input, &scratch);
	if (e) {
		const char *id = json_string_value(json_object_get(p->json, "id"));
		line_error(im, p->line, id && strlen(id) <= DEVICE_ID_MAX ? id : NULL, e,
			   scratch.problem_type, scratch.detail);
		response_release(&scratch);
		pending_release(p);
		return e == ERR_NOMEM ? e : ERR_OK;
	}
	response_release(&scratch);
	if (p->input.token) {
		crypto_sha256(p->input.token, strlen(p->input.token), p->token_hash);
	} else if (im->o.generate_tokens) {
		if (im->generated >= DEVICE_IMPORT_GENERATE_MAX) {
			char detail[BOUND_DETAIL_MAX];
			snprintf(detail, sizeof(detail),
				 "tokens are generated for at most %d devices per import; split "
				 "the file",
				 DEVICE_IMPORT_GENERATE_MAX);
			line_error(im, p->line, p->input.id, ERR_TOO_LARGE, NULL, detail);
			pending_release(p);
			return ERR_OK;
		}
		if ((e = auth_device_token_new(p->generated, p->token_hash))) {
			pending_release(p);
			return e;
		}
		im->generated++;
	}
	if (++im->batch_n == DEVICE_IMPORT_BATCH)
		return batch_flush(im);
	return ERR_OK;
}

static enum err line_end(struct device_import *im)
{
	enum err e = ERR_OK;

	im->line_no++;
	if (im->too_long) {
		char detail[BOUND_DETAIL_MAX];
		snprintf(detail, sizeof(detail), "the line is over %d bytes",
			 DEVICE_IMPORT_LINE_MAX);
		line_error(im, im->line_no, NULL, ERR_TOO_LARGE, NULL, detail);
	} else {
		e = line_take(im, im->line, im->line_len);
	}
	im->line_len = 0;
	im->too_long = false;
	return e;
}

enum err device_import_feed(struct device_import *im, const char *data, size_t len)
{
	enum err e;

	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t piece = nl ? (size_t)(nl - data) : len;

		if (!im->too_long) {
			if (im->line_len + piece > DEVICE_IMPORT_LINE_MAX) {
				im->too_long = true;
			} else {
				memcpy(im->line + im->line_len, data, piece);
				im->line_len += piece;
			}
		}
		if (!nl)
			return ERR_OK;
		if ((e = line_end(im)))
			return e;
		data += piece + 1;
		len -= piece + 1;
	}
	return ERR_OK;
}

enum err device_import_finish(struct device_import *im)
{
	enum err e = ERR_OK;

	if (im->line_len || im->too_long)
		e = line_end(im);
	if (!e)
		e = batch_flush(im);
	return e;
}

json_t *device_import_summary(const struct device_import *im)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:O, s:b, s:b}", "lines",
			 (json_int_t)im->line_no, "created", (json_int_t)im->created, "updated",
			 (json_int_t)im->updated, "unchanged", (json_int_t)im->unchanged, "failed",
			 (json_int_t)im->failed, "errors", im->errors, "errors_truncated",
			 im->errors_truncated, "dry_run", im->o.dry_run);
}

const char *device_import_tokens(const struct device_import *im)
{
	if (!im->tokens)
		return "";
	im->tokens[im->tokens_len] = '\0';
	return im->tokens;
}

bool device_import_changed(const struct device_import *im)
{
	return !im->o.dry_run && (im->created || im->updated);
}

void device_import_free(struct device_import *im)
{
	if (!im)
		return;
	for (unsigned i = 0; i < im->batch_n; i++)
		pending_release(&im->batch[i]);
	if (im->tokens) {
		OPENSSL_cleanse(im->tokens, im->tokens_len + 1);
		free(im->tokens);
	}
	free(im->line);
	json_decref(im->errors);
	free(im);
}

/* POST /api/v1/devices/import */

static bool flag_param(const char *v, bool *ret)
{
	if (!v)
		return true;
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
		*ret = true;
	else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
		*ret = false;
	else
		return false;
	return true;
}

static bool ndjson_type(const char *type)
{
	static const char *const accepted[] = {"application/x-ndjson", "application/ndjson"};

	for (size_t i = 0; type && i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		size_t n = strlen(accepted[i]);
		if (strncasecmp(type, accepted[i], n) == 0 && (type[n] == '\0' || type[n] == ';'))
			return true;
	}
	return false;
}

static enum err import_begin(struct api_ctx *ctx, const struct request *req, struct response *res,
			     void **ret_state)
{
	const char *tokens = req->query(req, "tokens");
	struct device_import_options o = {.actor = req->key ? req->key->name : NULL};
	struct device_import *im;
	enum err e;

	if (!ndjson_type(req->header(req, "Content-Type")))
		return api_fail(
			res, ERR_MEDIA_TYPE,
			"the body must be application/x-ndjson: one device object per line");
	if (!flag_param(req->query(req, "dry_run"), &o.dry_run))
		return api_fail(res, ERR_INVALID, "dry_run must be 1, 0, true or false");
	if (tokens && strcmp(tokens, "generate") != 0)
		return api_fail(res, ERR_INVALID, "tokens must be 'generate' when given");
	o.generate_tokens = tokens != NULL;
	if ((e = device_import_new(ctx->storage, ctx, &o, &im)))
		return e;
	*ret_state = im;
	return ERR_OK;
}

/* A fatal error: what is committed stays, the answer says how far. */
static enum err import_stopped(const struct device_import *im, enum err e, struct response *res)
{
	return api_fail(res, e,
			"the import stopped at line %u: %llu devices created and %llu updated "
			"before it are committed",
			im->line_no, im->created, im->updated);
}

static enum err import_data(void *state, const char *data, size_t len, struct response *res)
{
	struct device_import *im = state;
	enum err e = device_import_feed(im, data, len);

	return e ? import_stopped(im, e, res) : ERR_OK;
}

/* The answer of ?tokens=generate, sent from memory it owns. */
struct token_answer {
	char *tokens;
	size_t tokens_len;
	char *summary;
	size_t summary_len;
};

static long token_answer_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct token_answer *a = cls;
	size_t n = 0;

	while (n < max && pos < a->tokens_len + a->summary_len) {
		const char *from =
			pos < a->tokens_len ? a->tokens + pos : a->summary + (pos - a->tokens_len);
		size_t left = pos < a->tokens_len ? a->tokens_len - (size_t)pos
						  : a->tokens_len + a->summary_len - (size_t)pos;
		size_t k = left < max - n ? left : max - n;
		memcpy(buf + n, from, k);
		n += k;
		pos += k;
	}
	return (long)n;
}

static void token_answer_free(void *cls)
{
	struct token_answer *a = cls;

	if (a->tokens) {
		OPENSSL_cleanse(a->tokens, a->tokens_len);
		free(a->tokens);
	}
	free(a->summary);
	free(a);
}

static enum err import_finish(struct api_ctx *ctx, const struct request *req, void *state,
			      struct response *res)
{
	struct device_import *im = state;
	json_t *summary;
	enum err e;

	(void)ctx;
	(void)req;
	if ((e = device_import_finish(im)))
		return import_stopped(im, e, res);
	if (!(summary = device_import_summary(im)))
		return ERR_NOMEM;
	if (!im->o.generate_tokens)
		return response_json(res, 200, summary);
	/* The tokens, once: NDJSON lines, then the summary as the last line. */
	json_t *wrap = json_pack("{s:o}", "summary", summary);
	char *last = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
	json_decref(wrap);
	if (!last)
		return ERR_NOMEM;
	struct token_answer *a = calloc(1, sizeof(*a));
	if (!a) {
		free(last);
		return ERR_NOMEM;
	}
	a->summary = last;
	a->summary_len = strlen(last);
	last[a->summary_len] = '\n'; /* replaces the NUL: the body's last byte */
	a->summary_len++;
	a->tokens = im->tokens; /* the answer owns and cleanses them now */
	a->tokens_len = im->tokens_len;
	im->tokens = NULL;
	im->tokens_len = 0;
	res->status = 200;
	res->content_type = "application/x-ndjson";
	res->stream = (struct response_stream){.size = a->tokens_len + a->summary_len,
					       .read = token_answer_read,
					       .free = token_answer_free,
					       .cls = a};
	return response_header_set(res, "Cache-Control", "no-store");
}

static void import_release(void *state)
{
	device_import_free(state);
}

const struct api_upload api_devices_import = {
	.begin = import_begin,
	.data = import_data,
	.finish = import_finish,
	.release = import_release,
};
