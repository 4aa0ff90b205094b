/* The DDI base poll, cancelAction and configData. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ddi/common.h"
#include "api/deployments.h"
#include "api/input.h"
#include "common/log.h"
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

enum err api_ddi_poll(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct active_assignment a;
	struct ddi_poll p;
	char base[DDI_URL_MAX], sleep[9];
	bool active = ctx->assignments &&
		      assignment_index_get(ctx->assignments, req->device->num, &a) &&
		      !(a.state == ASSIGN_PENDING && a.held);
	enum err e;

	if ((e = storage_ddi_poll(ctx->storage, req->device->num, &p)))
		return api_fail(res, e, "cannot read the device's actions");
	if ((e = ddi_base_url(ctx, req, base)))
		return api_fail(res, ERR_INVALID, "the links would be too long");
	sleep_text(deployments_poll_seconds(ctx, active || p.cancel_id), sleep);
	json_t *links = json_object();
	/* At most one of cancelAction and deploymentBase, the cancel first
	 * (hawkBit's DataConversionHelper.fromTarget). */
	if (p.cancel_id)
		json_object_set_new(links, "cancelAction",
				    ddi_link(base, "/cancelAction/%lld", (long long)p.cancel_id));
	else if (active)
		json_object_set_new(
			links, "deploymentBase",
			ddi_link(base, "/deploymentBase/%lld?c=%d", (long long)a.id, (int)a.state));
	if (p.installed_id)
		json_object_set_new(
			links, "installedBase",
			ddi_link(base, "/installedBase/%lld", (long long)p.installed_id));
	if (p.wants_attributes)
		json_object_set_new(links, "configData", ddi_link(base, "/configData"));
	return response_json(res, 200,
			     json_pack("{s:{s:{s:s}}, s:o}", "config", "polling", "sleep", sleep,
				       "_links", links));
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
	json_decref(body);
	if (!known)
		return api_fail(res, ERR_INVALID,
				"status.execution or status.result.finished is not a DDI value");
	/* suitd's cancel is final when the operator gives it (the assignment
	 * is canceled already): any answer ends the telling. A client that
	 * rejects it is logged; it will find no action to go on with. */
	e = storage_ddi_cancel_ack(ctx->storage, req->device->num, action);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, ERR_GONE, "action %lld is not being canceled",
				(long long)action);
	if (e)
		return api_fail(res, e, "cannot record the answer");
	if (strcmp(execution, "rejected") == 0 ||
	    (strcmp(execution, "closed") == 0 && strcmp(finished, "failure") == 0))
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
	e = storage_device_update(ctx->storage, req->device->id, &change, actor, &membership);
	free(text);
	if (e)
		return api_fail(res, e, "cannot store the attributes");
	res->status = 200;
	return ERR_OK;
}
