#include "api/deployments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker/assignments.h"
#include "api/device_transitions.h"
#include "api/input.h"
#include "api/seen.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "storage/ddi.h"
#include "storage/deployments.h"
#include "storage/devices.h"
#include "suit/suit.h"
#include "tracker/fanout.h"
#include "tracker/rollout.h"

/* A device that took its update and then went silent this long (seconds)
 * is timed_out: one day by default, at most a year. */
#define DEVICE_TIMEOUT_DEFAULT 86400
#define DEVICE_TIMEOUT_MAX     31536000
/* Rollout defaults (DESIGN.md §6): everything at once, pause above 5 %
 * failures, the next stage at 95 % done. */
#define SUCCESS_THRESHOLD_DEFAULT 95
#define FAILURE_THRESHOLD_DEFAULT 5
/* Device ids in one deployment request. */
#define TARGET_DEVICES_MAX 10000

static json_t *time_json(int64_t t)
{
	char text[RFC3339_LEN];

	time_format_rfc3339(t, text);
	return json_string(text);
}

static json_t *time_or_null(int64_t t)
{
	return t ? time_json(t) : json_null();
}

static json_t *counts_json(const unsigned n[ASSIGN__COUNT], unsigned *ret_total)
{
	json_t *c = json_object();
	unsigned total = 0;

	for (int i = 0; i < ASSIGN__COUNT; i++) {
		json_object_set_new(c, assignment_state_name((enum assignment_state)i),
				    json_integer(n[i]));
		total += n[i];
	}
	*ret_total = total;
	return c;
}

/* rollout (the policy), stages (each with its counts), totals. */
static void rollout_json(json_t *j, const struct deployment *d, const struct deployment_counts *c)
{
	const struct rollout_policy *p = &d->rollout;
	json_t *percents = json_array(), *stages = json_array();
	unsigned totals[ASSIGN__COUNT] = {0}, devices, all;

	for (unsigned i = 0; i < p->stage_count; i++) {
		json_array_append_new(percents, json_integer(p->stages[i]));
		for (int k = 0; k < ASSIGN__COUNT; k++)
			totals[k] += c->n[i][k];
		json_t *counts = counts_json(c->n[i], &devices);
		json_array_append_new(
			stages,
			json_pack("{s:I, s:I, s:b, s:o, s:I, s:o}", "stage", (json_int_t)i + 1,
				  "percent", (json_int_t)p->stages[i], "open", i <= d->open_stage,
				  "opened_at", time_or_null(d->stage_opened_at[i]), "devices",
				  (json_int_t)devices, "counts", counts));
	}
	json_object_set_new(j, "rollout",
			    json_pack("{s:o, s:I, s:I, s:I}", "stages", percents,
				      "success_threshold", (json_int_t)p->success_threshold,
				      "failure_threshold", (json_int_t)p->failure_threshold,
				      "device_timeout", (json_int_t)p->device_timeout));
	json_object_set_new(j, "current_stage", json_integer((json_int_t)d->open_stage + 1));
	json_object_set_new(j, "stages", stages);
	json_object_set_new(j, "counts", counts_json(totals, &all));
	json_object_set_new(j, "devices", json_integer(all));
}

static json_t *deployment_json(struct api_ctx *ctx, const struct deployment *d)
{
	static const char *const kinds[] = {"devices", "group", "tag"};
	struct deployment_counts counts;
	char hex[2 * MANIFEST_DIGEST_MAX + 1];
	json_t *target = json_object(), *paused = json_null();

	hex_encode(d->digest, d->digest_len, hex);
	if (storage_deployment_counts(ctx->storage, d->id, &counts) != ERR_OK)
		memset(&counts, 0, sizeof(counts));
	json_object_set_new(target, "kind", json_string(kinds[d->kind]));
	if (d->kind != TARGET_DEVICES)
		json_object_set_new(target, kinds[d->kind], json_string(d->target));
	if (d->paused_at)
		paused = json_pack("{s:o, s:s, s:o, s:b}", "at", time_json(d->paused_at), "by",
				   d->paused_by, "reason",
				   d->pause_reason[0] ? json_string(d->pause_reason) : json_null(),
				   "automatic", d->paused_auto);
	json_t *j = json_pack(
		"{s:I, s:o, s:s, s:I, s:o, s:s, s:o, s:o, s:o, s:s, s:o, s:I}", "id",
		(json_int_t)d->id, "name", d->name[0] ? json_string(d->name) : json_null(),
		"manifest", hex, "sequence_number", (json_int_t)d->sequence, "target", target,
		"status", deployment_status_name(d->status), "paused", paused, "completed_at",
		time_or_null(d->completed_at), "canceled_at", time_or_null(d->canceled_at),
		"created_by", d->created_by, "created_at", time_json(d->created_at),
		"failures_acknowledged", (json_int_t)d->failures_acknowledged);
	rollout_json(j, d, &counts);
	json_t *prep = json_null();
	if (!d->prepared_at) {
		json_int_t assigned = 0;
		for (unsigned s = 0; s < ROLLOUT_STAGES_MAX; s++)
			for (int st = 0; st < ASSIGN__COUNT; st++)
				assigned += counts.n[s][st];
		prep = json_pack("{s:I, s:I}", "planned", (json_int_t)d->planned, "assigned",
				 assigned);
	}
	json_object_set_new(j, "preparation", prep);
	return j;
}

static enum err digest_text(const char *text, uint8_t out[MANIFEST_DIGEST_MAX], size_t *ret_len)
{
	size_t n = strlen(text);

	if (n % 2 || n < 64 || n > 2 * (size_t)MANIFEST_DIGEST_MAX || !hex_decode(text, out, n / 2))
		return ERR_INVALID;
	*ret_len = n / 2;
	return ERR_OK;
}

/* {devices: [ids]}: resolved to device numbers; unknown ids → 422. */
/* target {attribute: {NAME: VALUE}}: the devices whose attribute NAME (as
 * DDI configData or the API set it) is the string VALUE, resolved once,
 * now: the deployment then targets that list (a device that gets the
 * attribute later does not join; a group or a tag does). */
static enum err resolve_attribute(struct api_ctx *ctx, json_t *filter, struct response *res,
				  int64_t **ret_nums, unsigned *ret_count)
{
	void *it = json_object_iter(filter);
	const char *name = json_object_iter_key(it);
	json_t *value = json_object_iter_value(it);
	unsigned n = 0;
	int64_t *nums;
	enum err e;

	if (!json_is_object(filter) || json_object_size(filter) != 1 || !name)
		return api_fail(res, ERR_INVALID,
				"target.attribute must be an object of one NAME: VALUE");
	if (!name[0] || strlen(name) > 128 || !json_is_string(value) ||
	    json_string_length(value) > 128)
		return api_fail(res, ERR_INVALID,
				"target.attribute names 1 to 128 bytes and a string value of at "
				"most 128");
	nums = calloc(TARGET_DEVICES_MAX + 1, sizeof(*nums));
	if (!nums)
		return ERR_NOMEM;
	e = storage_ddi_devices_by_attribute(ctx->storage, name, json_string_value(value),
					     TARGET_DEVICES_MAX + 1, nums, &n);
	if (e) {
		free(nums);
		return api_fail(res, e, "cannot look up the target devices");
	}
	if (n == 0 || n > TARGET_DEVICES_MAX) {
		free(nums);
		return api_fail(res, ERR_UNPROCESSABLE,
				n ? "more than %d devices have this attribute; target a group or "
				    "a tag"
				  : "no device has this attribute (%d at most may)",
				TARGET_DEVICES_MAX);
	}
	*ret_nums = nums;
	*ret_count = n;
	return ERR_OK;
}

static enum err resolve_devices(struct api_ctx *ctx, json_t *ids, struct response *res,
				int64_t **ret_nums, unsigned *ret_count)
{
	size_t n = json_array_size(ids), i;
	int64_t *nums;
	json_t *v;
	char missing[200] = "";
	size_t used = 0;
	unsigned unknown = 0;

	if (!json_is_array(ids) || n == 0 || n > TARGET_DEVICES_MAX)
		return api_fail(res, ERR_INVALID,
				"target.devices must be an array of 1 to %d device ids",
				TARGET_DEVICES_MAX);
	nums = calloc(n, sizeof(*nums));
	if (!nums)
		return ERR_NOMEM;
	json_array_foreach(ids, i, v)
	{
		struct device_ident d;
		const char *id = json_string_value(v);
		if (!id || !device_name_valid(id, DEVICE_ID_MAX)) {
			free(nums);
			return api_fail(res, ERR_INVALID, "target.devices[%zu] is not a device id",
					i);
		}
		enum err e = storage_device_ident(ctx->storage, id, &d);
		if (e == ERR_NOT_FOUND) {
			if (unknown++ < 5 && used < sizeof(missing)) {
				int w = snprintf(missing + used, sizeof(missing) - used, "%s%s",
						 used ? ", " : "", id);
				if (w > 0)
					used += (size_t)w;
			}
			continue;
		}
		if (e) {
			free(nums);
			return api_fail(res, e, "cannot look up the target devices");
		}
		nums[i] = d.num;
	}
	if (unknown) {
		free(nums);
		return api_fail(res, ERR_UNPROCESSABLE, "%u unknown device%s: %s%s", unknown,
				unknown == 1 ? "" : "s", missing, unknown > 5 ? ", ..." : "");
	}
	*ret_nums = nums;
	*ret_count = (unsigned)n;
	return ERR_OK;
}

/* An integer member in [lo, hi], or the default when absent. */
static bool int_member(json_t *obj, const char *name, json_int_t lo, json_int_t hi,
		       json_int_t *value)
{
	json_t *v = json_object_get(obj, name);

	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*value = json_integer_value(v);
	return true;
}

/* rollout: {stages: [1, 10, 50, 100], success_threshold: 95,
 * failure_threshold: 5, device_timeout: 86400}, every member optional. */
static enum err rollout_param(json_t *v, struct response *res, struct rollout_policy *ret)
{
	json_int_t success = SUCCESS_THRESHOLD_DEFAULT, failure = FAILURE_THRESHOLD_DEFAULT,
		   timeout = DEVICE_TIMEOUT_DEFAULT;
	json_t *stages, *item;
	const char *k;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	ret->stage_count = 1;
	ret->stages[0] = 100;
	/* Absent: the defaults (jansson reads a NULL object as empty). */
	if (v && !json_is_object(v))
		return api_fail(res, ERR_INVALID, "field 'rollout' must be an object");
	json_object_foreach(v, k, item)
	{
		if (strcmp(k, "stages") != 0 && strcmp(k, "success_threshold") != 0 &&
		    strcmp(k, "failure_threshold") != 0 && strcmp(k, "device_timeout") != 0)
			return api_fail(res, ERR_INVALID,
					"unknown field 'rollout.%.64s' (stages, success_threshold, "
					"failure_threshold, device_timeout)",
					k);
	}
	if (!int_member(v, "success_threshold", 0, 100, &success) ||
	    !int_member(v, "failure_threshold", 0, 100, &failure))
		return api_fail(res, ERR_INVALID,
				"fields 'rollout.success_threshold' and "
				"'rollout.failure_threshold' are percentages 0..100");
	if (!int_member(v, "device_timeout", 1, DEVICE_TIMEOUT_MAX, &timeout))
		return api_fail(res, ERR_INVALID,
				"field 'rollout.device_timeout' must be 1..%d seconds",
				DEVICE_TIMEOUT_MAX);
	if ((stages = json_object_get(v, "stages"))) {
		size_t n = json_array_size(stages);
		json_int_t prev = 0;
		bool ok = json_is_array(stages) && n >= 1 && n <= ROLLOUT_STAGES_MAX;
		json_array_foreach(stages, i, item)
		{
			if (!ok)
				break;
			json_int_t p = json_integer_value(item);
			ok = json_is_integer(item) && p > prev && p <= 100;
			ret->stages[i] = (uint8_t)(ok ? p : 0);
			prev = p;
		}
		if (!ok || prev != 100)
			return api_fail(res, ERR_INVALID,
					"field 'rollout.stages' must be 1 to %d increasing "
					"percentages ending with 100, like [1, 10, 50, 100]",
					ROLLOUT_STAGES_MAX);
		ret->stage_count = (unsigned)n;
	}
	ret->success_threshold = (unsigned)success;
	ret->failure_threshold = (unsigned)failure;
	ret->device_timeout = (int64_t)timeout;
	return ERR_OK;
}

static enum err respond_created(struct api_ctx *ctx, struct response *res,
				const struct deployment *d)
{
	enum err e = response_json(res, 201, deployment_json(ctx, d));

	if (!e)
		e = response_header_set(res, "Location", "/api/v1/deployments/%lld",
					(long long)d->id);
	return e;
}

enum err api_deployments_create(struct api_ctx *ctx, const struct request *req,
				struct response *res)
{
	json_auto_t *body = NULL;
	struct deployment_new dn = {.actor = req->key->name};
	uint8_t digest[MANIFEST_DIGEST_MAX];
	const char *manifest, *k;
	int64_t *nums = NULL, id = 0;
	struct deployment d;
	json_t *target, *v;
	enum err e;

	if ((e = api_json_body(req, res, &body)) ||
	    (e = api_json_string(body, "manifest", (size_t)2 * MANIFEST_DIGEST_MAX, res,
				 &manifest)))
		return e;
	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "manifest") != 0 && strcmp(k, "target") != 0 &&
		    strcmp(k, "name") != 0 && strcmp(k, "rollout") != 0)
			return api_fail(res, ERR_INVALID, "unknown field '%.64s'", k);
	}
	if (digest_text(manifest, digest, &dn.digest_len))
		return api_fail(res, ERR_INVALID,
				"field 'manifest' must be a manifest digest in hex");
	dn.digest = digest;
	if ((v = json_object_get(body, "name")) && !json_is_null(v)) {
		if (!json_is_string(v) || !json_string_length(v) ||
		    json_string_length(v) > DEPLOYMENT_NAME_MAX)
			return api_fail(res, ERR_INVALID, "field 'name' must be 1 to %d bytes",
					DEPLOYMENT_NAME_MAX);
		dn.name = json_string_value(v);
	}
	if ((e = rollout_param(json_object_get(body, "rollout"), res, &dn.rollout)))
		return e;
	target = json_object_get(body, "target");
	if (!json_is_object(target) || json_object_size(target) != 1)
		return api_fail(res, ERR_INVALID,
				"field 'target' must be {devices: [...]}, {group: G}, {tag: T} or "
				"{attribute: {NAME: VALUE}}");
	if ((v = json_object_get(target, "devices"))) {
		dn.kind = TARGET_DEVICES;
		if ((e = resolve_devices(ctx, v, res, &nums, &dn.count)))
			return e;
		dn.nums = nums;
	} else if ((v = json_object_get(target, "group")) || (v = json_object_get(target, "tag"))) {
		dn.kind = json_object_get(target, "group") ? TARGET_GROUP : TARGET_TAG;
		if (!json_is_string(v) ||
		    !device_name_valid(json_string_value(v),
				       dn.kind == TARGET_GROUP ? DEVICE_GROUP_MAX : DEVICE_TAG_MAX))
			return api_fail(res, ERR_INVALID,
					"target group must match [A-Za-z0-9._:@-]{1,128}, a tag "
					"[A-Za-z0-9._:@-]{1,64}");
		dn.value = json_string_value(v);
	} else if ((v = json_object_get(target, "attribute"))) {
		dn.kind = TARGET_DEVICES;
		if ((e = resolve_attribute(ctx, v, res, &nums, &dn.count)))
			return e;
		dn.nums = nums;
	} else {
		return api_fail(res, ERR_INVALID,
				"field 'target' must be {devices: [...]}, {group: G}, {tag: T} or "
				"{attribute: {NAME: VALUE}}");
	}
	/* Sequence numbers devices reported since the last flush decide skips. */
	e = storage_deployment_create(ctx->storage, &dn, &id);
	free(nums);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, ERR_UNPROCESSABLE, "no manifest with digest %s", manifest);
	if (e)
		return api_fail(res, e, "cannot create the deployment");
	if ((e = storage_deployment_get(ctx->storage, id, &d)))
		return api_fail(res, e, "cannot read the deployment");
	/* A small target is assigned before the answer; a large one in slices
	 * on the fan-out thread, while the deployment shows as preparing. A
	 * failure leaves it preparing: the next start resumes it. */
	if (d.planned > FANOUT_INLINE_MAX && ctx->fanout &&
	    fanout_enqueue(ctx->fanout, id) == ERR_OK)
		return respond_created(ctx, res, &d);
	/* The sequences devices reported since the last flush decide skips. */
	seen_flush_before_read(ctx->seen, ctx->storage);
	if ((e = fanout_run(ctx->storage, ctx->assignments, id, NULL)))
		return api_fail(res, e, "deployment %lld: cannot assign its devices",
				(long long)id);
	if ((e = storage_deployment_get(ctx->storage, id, &d)))
		return api_fail(res, e, "cannot read the deployment");
	return respond_created(ctx, res, &d);
}

enum err api_deployments_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *status = req->query(req, "status"), *manifest = req->query(req, "manifest");
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len = 0;
	struct deployment *items;
	unsigned limit, n = 0;
	int64_t after;
	json_t *arr;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)))
		return e;
	enum deployment_status parsed_status;
	if (status && !deployment_status_parse(status, &parsed_status))
		return api_fail(res, ERR_INVALID,
				"status must be active, paused, completed or canceled");
	if (manifest && digest_text(manifest, digest, &digest_len))
		return api_fail(res, ERR_INVALID, "manifest must be a manifest digest in hex");
	items = calloc(limit + 1, sizeof(*items));
	if (!items)
		return ERR_NOMEM;
	e = storage_deployment_list(ctx->storage, status, manifest ? digest : NULL, digest_len,
				    after, limit + 1, items, &n);
	if (e) {
		free(items);
		return api_fail(res, e, "cannot list deployments");
	}
	arr = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(arr, deployment_json(ctx, &items[i]));
	int64_t last = n ? items[(n > limit ? limit : n) - 1].id : 0;
	free(items);
	return response_json(res, 200, api_page_json(arr, n > limit, last));
}

static enum err id_param(const struct request *req, struct response *res, int64_t *ret)
{
	char *end;
	long long v = strtoll(req->params[0], &end, 10);

	if (*end || v <= 0 || req->params[0][0] == '+')
		return api_fail(res, ERR_INVALID, "a deployment id is a positive number");
	*ret = v;
	return ERR_OK;
}

/* The deployment named in the path, or a 400/404 problem. */
static enum err deployment_param(struct api_ctx *ctx, const struct request *req,
				 struct response *res, struct deployment *ret)
{
	int64_t id = 0;
	enum err e = id_param(req, res, &id);

	if (e)
		return e;
	e = storage_deployment_get(ctx->storage, id, ret);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no such deployment");
	if (e)
		return api_fail(res, e, "cannot read the deployment");
	return ERR_OK;
}

enum err api_deployments_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct deployment d;
	enum err e = deployment_param(ctx, req, res, &d);

	return e ? e : response_json(res, 200, deployment_json(ctx, &d));
}

enum err api_deployments_devices(struct api_ctx *ctx, const struct request *req,
				 struct response *res)
{
	const char *state = req->query(req, "state");
	enum assignment_state parsed;
	struct assignment_row *rows;
	struct deployment d;
	unsigned limit, n = 0;
	int64_t id, after;
	json_t *arr;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)))
		return e;
	if (state && !assignment_state_parse(state, &parsed))
		return api_fail(res, ERR_INVALID, "'%.32s' is not an assignment state", state);
	if ((e = deployment_param(ctx, req, res, &d)))
		return e;
	id = d.id;
	rows = calloc(limit + 1, sizeof(*rows));
	if (!rows)
		return ERR_NOMEM;
	e = storage_deployment_devices(ctx->storage, id, state, after, limit + 1, rows, &n);
	if (e) {
		free(rows);
		return api_fail(res, e, "cannot list the deployment's devices");
	}
	arr = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(
			arr,
			json_pack("{s:s, s:I, s:s, s:o, s:o}", "device", rows[i].device, "stage",
				  (json_int_t)rows[i].stage + 1, "state",
				  assignment_state_name(rows[i].state), "reason",
				  rows[i].reason[0] ? json_string(rows[i].reason) : json_null(),
				  "updated_at", time_json(rows[i].updated_at)));
	int64_t last = n ? rows[(n > limit ? limit : n) - 1].id : 0;
	free(rows);
	return response_json(res, 200, api_page_json(arr, n > limit, last));
}

/* After a change of what devices may fetch: the index follows (a pause or a
 * resume in one record; a cancel or a retry by re-reading that deployment's
 * active assignments, never the whole index), then the new state of the
 * deployment (*ret_json). */
static enum err changed_json(struct api_ctx *ctx, struct response *res, struct deployment *d,
			     bool assignments_changed, json_t **ret_json)
{
	enum err e = storage_deployment_get(ctx->storage, d->id, d);

	if (e)
		return api_fail(res, e, "cannot read the deployment");
	if (!assignments_changed)
		assignment_index_deployment(ctx->assignments, d->id, d->open_stage,
					    d->paused_at != 0);
	else if ((e = assignment_index_reload_deployment(ctx->assignments, ctx->storage, d->id)))
		log_err("deployment %lld: cannot reload its assignments in the index: %s",
			(long long)d->id, err_title(e));
	if (!(*ret_json = deployment_json(ctx, d)))
		return ERR_NOMEM;
	return ERR_OK;
}

static enum err changed(struct api_ctx *ctx, struct response *res, struct deployment *d,
			bool assignments_changed)
{
	json_t *j;
	enum err e = changed_json(ctx, res, d, assignments_changed, &j);

	return e ? e : response_json(res, 200, j);
}

enum err api_deployments_cancel(struct api_ctx *ctx, const struct request *req,
				struct response *res)
{
	struct deployment d;
	enum err e = deployment_param(ctx, req, res, &d);

	if (e)
		return e;
	bool more = false;
	e = storage_deployment_cancel(ctx->storage, d.id, req->key->name, FANOUT_CANCEL_INLINE,
				      &more);
	if (e == ERR_CONFLICT)
		return api_fail(res, e, "the deployment is %s", deployment_status_name(d.status));
	if (e)
		return api_fail(res, e, "cannot cancel the deployment");
	/* The rest in short transactions, on the fan-out thread (or here). No
	 * device is offered any of them meanwhile: the index drops them below
	 * and the active-assignment reads skip a canceled deployment. */
	if (more &&
	    !(ctx->fanout && fanout_enqueue_cancel(ctx->fanout, d.id, req->key->name) == ERR_OK))
		fanout_cancel_run(ctx->storage, d.id, req->key->name, NULL);
	return changed(ctx, res, &d, true); /* canceled */
}

/* An optional JSON body with at most the one member `name` of type `type`. */
static enum err optional_member(const struct request *req, struct response *res, const char *name,
				json_type type, json_t **ret_body, json_t **ret_value)
{
	const char *k;
	json_t *v;
	enum err e;

	*ret_body = *ret_value = NULL;
	if (!req->body_len)
		return ERR_OK;
	if ((e = api_json_body(req, res, ret_body)))
		return e;
	json_object_foreach(*ret_body, k, v)
	{
		if (strcmp(k, name) != 0)
			return api_fail(res, ERR_INVALID, "unknown field '%.64s' (only '%s')", k,
					name);
		if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
			return api_fail(res, ERR_INVALID, "field '%s' must be a %s", name,
					type == JSON_STRING ? "string" : "boolean");
		*ret_value = v;
	}
	return ERR_OK;
}

enum err api_deployments_pause(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_auto_t *body = NULL;
	struct deployment d;
	json_t *reason;
	enum err e;

	if ((e = optional_member(req, res, "reason", JSON_STRING, &body, &reason)) ||
	    (e = deployment_param(ctx, req, res, &d)))
		return e;
	if (reason && json_string_length(reason) > PAUSE_REASON_MAX)
		return api_fail(res, ERR_INVALID, "field 'reason' must be at most %d bytes",
				PAUSE_REASON_MAX);
	e = storage_deployment_pause(ctx->storage, d.id, req->key->name,
				     reason ? json_string_value(reason) : NULL, false);
	if (e == ERR_CONFLICT)
		return api_fail(res, e, "the deployment is %s", deployment_status_name(d.status));
	if (e)
		return api_fail(res, e, "cannot pause the deployment");
	return changed(ctx, res, &d, false); /* paused */
}

enum err api_deployments_resume(struct api_ctx *ctx, const struct request *req,
				struct response *res)
{
	json_auto_t *body = NULL;
	struct deployment d;
	json_t *ack;
	enum err e;

	if ((e = optional_member(req, res, "acknowledge", JSON_TRUE, &body, &ack)) ||
	    (e = deployment_param(ctx, req, res, &d)))
		return e;
	if (d.status != DEPLOYMENT_PAUSED)
		return api_fail(res, ERR_CONFLICT, "the deployment is %s, not paused",
				deployment_status_name(d.status));
	/* Failures stopped it: someone must say they looked. */
	if (d.paused_auto && !json_is_true(ack))
		return api_fail(res, ERR_CONFLICT,
				"suitd paused this deployment (%s); resume with "
				"{\"acknowledge\": true} to accept these failures",
				d.pause_reason);
	e = storage_deployment_resume(ctx->storage, d.id, req->key->name, json_is_true(ack));
	if (e == ERR_CONFLICT)
		return api_fail(res, e, "the deployment changed meanwhile; read it again");
	if (e)
		return api_fail(res, e, "cannot resume the deployment");
	return changed(ctx, res, &d, false); /* resumed */
}

enum err api_deployments_delete(struct api_ctx *ctx, const struct request *req,
				struct response *res)
{
	struct deployment d;
	enum err e = deployment_param(ctx, req, res, &d);

	if (e)
		return e;
	e = storage_deployment_delete(ctx->storage, d.id, req->key->name);
	if (e == ERR_CONFLICT)
		return api_fail(res, e,
				"the deployment is %s: only a completed or canceled deployment "
				"can be deleted (cancel it first)",
				deployment_status_name(d.status));
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no such deployment");
	if (e)
		return api_fail(res, e, "cannot delete the deployment");
	res->status = 204;
	return ERR_OK;
}

enum err api_deployments_retry(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct deployment d;
	unsigned retried = 0, left = 0;
	enum err e = deployment_param(ctx, req, res, &d);

	if (e)
		return e;
	/* The sequence numbers devices reported decide who runs it already. */
	seen_flush_before_read(ctx->seen, ctx->storage);
	e = storage_deployment_retry(ctx->storage, d.id, req->key->name, &retried, &left);
	if (e == ERR_CONFLICT)
		return api_fail(res, e, "the deployment is canceled: deploy the manifest again");
	if (e)
		return api_fail(res, e, "cannot retry the deployment's failed devices");
	json_t *j;
	if ((e = changed_json(ctx, res, &d, true, &j)))
		return e;
	json_object_set_new(j, "retry",
			    json_pack("{s:I, s:I}", "retried", (json_int_t)retried, "not_retried",
				      (json_int_t)left));
	return response_json(res, 200, j);
}

void deployments_device_changed(struct api_ctx *ctx, const char *device_id)
{
	struct device_ident d;
	bool joined = false;

	if (storage_device_ident(ctx->storage, device_id, &d) != ERR_OK)
		return;
	/* The sequence the device reported since the last flush decides a
	 * skip, as at deployment creation. */
	seen_flush_before_read(ctx->seen, ctx->storage);
	if (storage_deployment_join(ctx->storage, d.num, &rollout_planner, &joined) != ERR_OK) {
		log_err("device '%s': cannot join its deployments", device_id);
		return;
	}
	if (joined && assignment_index_refresh(ctx->assignments, ctx->storage, d.num) != ERR_OK)
		log_err("device '%s': cannot refresh its assignment", device_id);
}

void deployments_fetch(struct api_ctx *ctx, const struct device_ident *device,
		       enum manifest_need kind, int64_t object_id, bool last_byte)
{
	struct active_assignment a;
	unsigned left = 1;

	if (!device || !ctx->assignments ||
	    !assignment_index_get(ctx->assignments, device->num, &a))
		return;
	if (a.state != ASSIGN_DELIVERED && a.state != ASSIGN_DOWNLOADING)
		return;
	if (!storage_manifest_needs(ctx->storage, a.manifest_id, kind, object_id))
		return;
	/* A download going on (Range requests of a long one) is news: the
	 * assignment does not time out while it lasts. */
	if (a.state == ASSIGN_DOWNLOADING && ctx->seen)
		seen_news(ctx->seen, device->num, time_now());
	/* The daemon records it in the group commit; without one, inline. */
	if (ctx->reports) {
		if (a.state == ASSIGN_DELIVERED || last_byte)
			device_fetch_record(ctx, &a, kind, object_id, last_byte);
		return;
	}
	if (a.state == ASSIGN_DELIVERED) {
		if (assignment_transition(ctx->assignments, ctx->storage, &a, ASSIGN_DOWNLOADING,
					  NULL) != ERR_OK)
			return;
		a.state = ASSIGN_DOWNLOADING;
	}
	/* Downloaded once every need was fetched to its last byte: all the
	 * payloads of a multi-image manifest, the dependency envelopes. */
	if (last_byte &&
	    storage_assignment_fetched(ctx->storage, a.id, a.manifest_id, kind, object_id, &left) ==
		    ERR_OK &&
	    left == 0)
		(void)assignment_transition(ctx->assignments, ctx->storage, &a, ASSIGN_DOWNLOADED,
					    NULL);
}

void deployments_payload_fetch(struct api_ctx *ctx, const struct device_ident *device,
			       int64_t payload_id, bool last_byte)
{
	deployments_fetch(ctx, device, NEED_PAYLOAD, payload_id, last_byte);
}

/* ---- check-in --------------------------------------------------------- */

static _Thread_local uint64_t jitter_state;

/* interval ± jitter percent, never below 1 s. */
static unsigned jittered(unsigned interval, unsigned jitter_percent)
{
	uint64_t x;
	long spread, v;

	if (!jitter_state && crypto_random(&jitter_state, sizeof(jitter_state)))
		jitter_state = time_mono_usec() | 1;
	/* xorshift64: cheap, per thread, good enough to spread polls. */
	x = jitter_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	jitter_state = x;
	spread = (long)interval * (long)jitter_percent / 100;
	v = (long)interval + (spread ? (long)(x % (uint64_t)(2 * spread + 1)) - spread : 0);
	return v < 1 ? 1u : (unsigned)v;
}

unsigned deployments_poll_seconds(struct api_ctx *ctx, bool active)
{
	const struct config *c = ctx->config;

	return jittered(active ? c->devices.poll_interval_active : c->devices.poll_interval,
			c->devices.poll_jitter);
}

static void poll_header(struct api_ctx *ctx, struct response *res, bool active)
{
	response_header_set(res, "Cache-Control", "max-age=%u",
			    deployments_poll_seconds(ctx, active));
}

static enum err nothing_to_do(struct api_ctx *ctx, struct response *res)
{
	poll_header(ctx, res, false);
	res->status = 204;
	return ERR_OK;
}

enum err api_checkin(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *seq_text = req->query(req, "seq"), *inm = req->header(req, "If-None-Match");
	struct active_assignment a;
	bool has_seq = false;
	uint64_t seq = 0;
	char hex[2 * MANIFEST_DIGEST_MAX + 1], etag[2 * MANIFEST_DIGEST_MAX + 64], reason[64];
	uint8_t *env = NULL;
	size_t env_len = 0;
	enum err e;

	if (seq_text) {
		if (!parse_u64(seq_text, &seq) || seq > (uint64_t)INT64_MAX)
			return api_fail(res, ERR_INVALID, "seq must be an unsigned number");
		has_seq = true;
		seen_record(ctx->seen, req->device->num, time_now(), true, seq);
	}
	/* The common case: nothing to do, answered from memory. */
	if (!assignment_index_get(ctx->assignments, req->device->num, &a))
		return nothing_to_do(ctx, res);
	if (has_seq && seq >= a.sequence) {
		enum assignment_state to = ASSIGN_SKIPPED;
		if (seq == a.sequence && a.state != ASSIGN_PENDING)
			to = ASSIGN_CONFIRMED;
		snprintf(reason, sizeof(reason), "device runs sequence %llu",
			 (unsigned long long)seq);
		e = device_transition_defer(ctx, res, &a, to, to == ASSIGN_SKIPPED ? reason : NULL,
					    "cannot record the device's state");
		return e ? e : nothing_to_do(ctx, res);
	}
	/* Its stage is not open yet, or the deployment is paused. */
	if (a.state == ASSIGN_PENDING && a.held)
		return nothing_to_do(ctx, res);
	/* A severed body is another representation: another ETag. */
	const char *sever = req->query(req, "sever");
	hex_encode(a.digest, a.digest_len, hex);
	snprintf(etag, sizeof(etag), "\"%s%s%.48s\"", hex, sever ? ";sever=" : "",
		 sever ? sever : "");
	response_header_set(res, "ETag", "%s", etag);
	poll_header(ctx, res, true);
	if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
		res->status = 304;
		return ERR_OK;
	}
	e = storage_manifest_envelope(ctx->storage, a.digest, a.digest_len, &env, &env_len);
	if (e)
		return api_fail(res, e, "cannot read the manifest");
	/* Constrained devices may ask for severed members to be left out. */
	if (sever) {
		static const struct {
			const char *name;
			int64_t key;
		} names[] = {{"payload-fetch", 16}, {"install", 20}, {"text", 23}, {"coswid", 14}};
		int64_t keys[4];
		unsigned n = 0;
		for (const char *p = sever; *p;) {
			size_t len = strcspn(p, ",");
			bool found = false;
			for (size_t i = 0; i < 4 && n < 4; i++)
				if (strlen(names[i].name) == len &&
				    !strncmp(p, names[i].name, len)) {
					keys[n++] = names[i].key;
					found = true;
					break;
				}
			if (!found) {
				free(env);
				return api_fail(res, ERR_INVALID,
						"sever takes payload-fetch, install, text, coswid");
			}
			p += len + (p[len] == ',');
		}
		uint8_t *cut = NULL;
		size_t cut_len = 0;
		struct diag d = {0};
		if (suit_envelope_sever(env, env_len, keys, n, &cut, &cut_len, &d) != SUIT_OK) {
			free(env);
			return api_fail(res, ERR_UNPROCESSABLE, "%s", d.text);
		}
		free(env);
		env = cut;
		env_len = cut_len;
	}
	/* HEAD tells what a GET would send; only a GET delivers. */
	if (a.state == ASSIGN_PENDING && req->method == HTTP_GET) {
		e = device_transition_defer(ctx, res, &a, ASSIGN_DELIVERED, NULL,
					    "cannot record the delivery");
		if (e) {
			free(env);
			return e;
		}
	}
	buf_clear(&res->body);
	e = buf_append(&res->body, env, env_len);
	free(env);
	if (e)
		return e;
	res->status = 200;
	res->content_type = "application/suit-envelope+cose";
	return ERR_OK;
}
