/* The DDI base poll, cancelAction and configData. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ddi/common.h"
#include "api/ddi/poll_cache.h"
#include "api/deployments.h"
#include "api/input.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "storage/ddi.h"
#include "tracker/assignments.h"

/* hawkBit clients parse HH:MM:SS with strptime and nothing longer
 * (SWUpdate, rauc-hawkbit-updater, Zephyr): never a day or more. */
static void sleep_text(unsigned seconds, char out[9])
{
	if (seconds > 86399)
		seconds = 86399;
	snprintf(out, 9, "%02u:%02u:%02u", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

/* One link member, appended at out + *used (the size is checked by the
 * caller's bound: DDI_URL_MAX per link). */
static void link_add(char *out, size_t size, size_t *used, const char *rel, const char *base,
		     const char *suffix, long long id)
{
	int n = id ? snprintf(out + *used, size - *used, "%s\"%s\":{\"href\":\"%s%s%lld\"}",
			      *used ? "," : "", rel, base, suffix, id)
		   : snprintf(out + *used, size - *used, "%s\"%s\":{\"href\":\"%s%s\"}",
			      *used ? "," : "", rel, base, suffix);

	if (n > 0 && (size_t)n < size - *used)
		*used += (size_t)n;
}

enum err api_ddi_poll(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct active_assignment a;
	struct ddi_poll p;
	char base[DDI_URL_MAX], sleep[9], links[4 * (DDI_URL_MAX + 64)], body[sizeof(links) + 96],
		deploy[64];
	size_t used = 0;
	bool active = ctx->assignments &&
		      assignment_index_get(ctx->assignments, req->device->num, &a) &&
		      !(a.state == ASSIGN_PENDING && a.held);
	enum err e;

	if ((e = ddi_poll_facts(ctx, req->device->num, &p)))
		return api_fail(res, e, "cannot read the device's actions");
	if ((e = ddi_base_url(ctx, req, base)))
		return api_fail(res, ERR_INVALID, "the links cannot be made from this Host");
	sleep_text(deployments_poll_seconds(ctx, active || p.cancel_id), sleep);
	/* Formatted by hand, not with jansson: this is the "nothing to do"
	 * path of every device (bench/ddi.sh), and every string in it is
	 * JSON-safe (ddi_base_url checks). At most one of cancelAction and
	 * deploymentBase, the cancel first (hawkBit's
	 * DataConversionHelper.fromTarget). */
	links[0] = '\0';
	if (p.cancel_id) {
		link_add(links, sizeof(links), &used, "cancelAction", base, "/cancelAction/",
			 (long long)p.cancel_id);
	} else if (active) {
		snprintf(deploy, sizeof(deploy), "/deploymentBase/%lld?c=%d", (long long)a.id,
			 (int)a.state);
		link_add(links, sizeof(links), &used, "deploymentBase", base, deploy, 0);
	}
	if (p.installed_id)
		link_add(links, sizeof(links), &used, "installedBase", base, "/installedBase/",
			 (long long)p.installed_id);
	if (p.wants_attributes)
		link_add(links, sizeof(links), &used, "configData", base, "/configData", 0);
	snprintf(body, sizeof(body),
		 "{\"config\":{\"polling\":{\"sleep\":\"%s\"}},\"_links\":{%s}}", sleep, links);
	return response_text(res, 200, "application/json", body);
}

enum err api_ddi_cancel(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	char id[24];
	int64_t action;
	enum err e;

	if (!ddi_action_id(req, &action))
		return api_fail(res, ERR_NOT_FOUND, "an action id is a positive number");
	e = storage_ddi_cancel_get(ctx->storage, req->device->num, action);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "action %lld is not being canceled", (long long)action);
	if (e)
		return api_fail(res, e, "cannot read the cancel");
	snprintf(id, sizeof(id), "%lld", (long long)action);
	return response_json(res, 200,
			     json_pack("{s:s, s:{s:s}}", "id", id, "cancelAction", "stopId", id));
}

enum err api_ddi_cancel_feedback(struct api_ctx *ctx, const struct request *req,
				 struct response *res)
{
	const char *execution = NULL, *finished = NULL;
	json_t *body = NULL;
	int64_t action;
	enum err e;

	if (!ddi_action_id(req, &action))
		return api_fail(res, ERR_NOT_FOUND, "an action id is a positive number");
	if ((e = ddi_feedback_parse(req, res, &body, &execution, &finished)))
		return e;
	enum assignment_state ignored;
	const char *note;
	bool known = ddi_feedback_state(execution, finished, ASSIGN_CANCELED, &ignored, &note);
	/* execution and finished point into body: read them before it goes. */
	bool refused = known && (strcmp(execution, "rejected") == 0 ||
				 (strcmp(execution, "closed") == 0 && finished &&
				  strcmp(finished, "failure") == 0));
	json_decref(body);
	if (!known)
		return api_fail(res, ERR_INVALID,
				"status.execution or status.result.finished is not a DDI value");
	/* suitd's cancel is final when the operator gives it (the assignment
	 * is canceled already): any answer ends the telling. A client that
	 * rejects it is logged; it will find no action to go on with. */
	e = storage_ddi_cancel_ack(ctx->storage, req->device->num, action);
	if (!e)
		ddi_poll_cache_invalidate(ctx->ddi_polls);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, ERR_GONE, "action %lld is not being canceled",
				(long long)action);
	if (e)
		return api_fail(res, e, "cannot record the answer");
	if (refused)
		log_notice("device '%s' refused the cancel of action %lld; it stays canceled",
			   req->device->id, (long long)action);
	res->status = 200;
	return ERR_OK;
}

/* configData modes (hawkBit DdiConfigData): merge (the default) adds and
 * overwrites, replace sets exactly, remove deletes the keys given. */
enum err api_ddi_config_data(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_t *body = NULL, *data, *mode_v, *v;
	struct device d;
	const char *mode = "merge", *k;
	enum err e;

	if ((e = api_json_body(req, res, &body)))
		return e;
	data = json_object_get(body, "data");
	mode_v = json_object_get(body, "mode");
	if (!json_is_object(data)) {
		json_decref(body);
		return api_fail(res, ERR_INVALID, "field 'data' must be an object");
	}
	if (mode_v && !json_is_null(mode_v)) {
		mode = json_is_string(mode_v) ? json_string_value(mode_v) : "";
		if (strcmp(mode, "merge") && strcmp(mode, "replace") && strcmp(mode, "remove")) {
			json_decref(body);
			return api_fail(res, ERR_INVALID,
					"field 'mode' must be merge, replace or remove");
		}
	}
	json_object_foreach(data, k, v)
	{
		/* hawkBit: attribute keys up to 128 characters, values strings
		 * up to 128 (TargetFields). */
		if (strlen(k) == 0 || strlen(k) > 128 || !json_is_string(v) ||
		    json_string_length(v) > 128) {
			json_decref(body);
			return api_fail(res, ERR_INVALID,
					"'data' maps names of 1 to 128 bytes to strings of at "
					"most 128 bytes");
		}
	}
	if ((e = storage_device_get(ctx->storage, req->device->id, &d))) {
		json_decref(body);
		return api_fail(res, e, "cannot read the device");
	}
	json_t *attrs = json_loads(d.attributes ? d.attributes : "{}", 0, NULL);
	char *before = d.attributes ? strdup(d.attributes) : NULL;
	device_release(&d);
	if (!json_is_object(attrs)) {
		json_decref(attrs);
		attrs = json_object();
	}
	if (strcmp(mode, "replace") == 0)
		json_object_clear(attrs);
	if (strcmp(mode, "remove") == 0) {
		json_object_foreach(data, k, v) json_object_del(attrs, k);
	} else {
		json_object_update(attrs, data);
	}
	json_decref(body);
	char *text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(attrs);
	bool unchanged = text && before && strcmp(text, before) == 0;
	free(before);
	if (!text)
		return ERR_NOMEM;
	if (strlen(text) > DEVICE_ATTRIBUTES_MAX) {
		free(text);
		return api_fail(res, ERR_TOO_LARGE, "the attributes would be over %d bytes of JSON",
				DEVICE_ATTRIBUTES_MAX);
	}
	char actor[DEVICE_ID_MAX + 8];
	struct device_change change = {.attributes = text};
	bool membership = false;
	snprintf(actor, sizeof(actor), "device:%s", req->device->id);
	/* The same attributes again (clients send them on every request for
	 * them): no write, no audit event. */
	e = unchanged ? ERR_OK
		      : storage_device_update(ctx->storage, req->device->id, &change, actor,
					      &membership);
	free(text);
	if (!e)
		e = storage_ddi_config_sent(ctx->storage, req->device->num, time_now());
	if (e)
		return api_fail(res, e, "cannot store the attributes");
	ddi_poll_cache_invalidate(ctx->ddi_polls);
	res->status = 200;
	return ERR_OK;
}
