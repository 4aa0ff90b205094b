/* DDI actions: deploymentBase, installedBase and their feedback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ddi/common.h"
#include "api/reports.h"
#include "common/crypto.h"
#include "storage/ddi.h"
#include "tracker/assignments.h"

#define FEEDBACK_REASON_MAX 256

bool ddi_feedback_state(const char *execution, const char *finished, enum assignment_state current,
			enum assignment_state *ret_state, const char **ret_note)
{
	/* Before the artifact is complete, work is downloading; after it,
	 * installing (SWUpdate streams the .swu into the installer). */
	bool fetched = current >= ASSIGN_DOWNLOADED && current <= ASSIGN_INSTALLED;
	enum assignment_state progress = fetched ? ASSIGN_INSTALLING : ASSIGN_DOWNLOADING;

	*ret_note = NULL;
	if (strcmp(finished, "success") != 0 && strcmp(finished, "failure") != 0 &&
	    strcmp(finished, "none") != 0)
		return false;
	if (strcmp(execution, "closed") == 0) {
		/* hawkBit clients report success after the reboot into the new
		 * image: that is confirmed. */
		*ret_state = strcmp(finished, "failure") == 0 ? ASSIGN_FAILED : ASSIGN_CONFIRMED;
	} else if (strcmp(execution, "canceled") == 0) {
		*ret_state = ASSIGN_FAILED;
		*ret_note = "canceled by the device";
	} else if (strcmp(execution, "rejected") == 0) {
		/* hawkBit: a warning, the action stays open. */
		*ret_state = progress;
		*ret_note = "rejected by the device";
	} else if (strcmp(execution, "download") == 0) {
		*ret_state = ASSIGN_DOWNLOADING;
	} else if (strcmp(execution, "downloaded") == 0) {
		*ret_state = ASSIGN_DOWNLOADED;
	} else if (strcmp(execution, "proceeding") == 0 || strcmp(execution, "scheduled") == 0 ||
		   strcmp(execution, "resumed") == 0) {
		*ret_state = progress;
	} else {
		return false;
	}
	return true;
}

static void artifact_name(const struct ddi_artifact *a, char out[PAYLOAD_NAME_MAX + 1])
{
	ddi_artifact_name(a, out);
}

static json_t *artifact_json(const char *base, int64_t manifest_id, const struct ddi_artifact *a)
{
	char name[PAYLOAD_NAME_MAX + 1], sha1[2 * SHA1_LEN + 1], md5[2 * MD5_LEN + 1],
		sha256[2 * SHA256_LEN + 1];

	artifact_name(a, name);
	hex_encode(a->sha1, SHA1_LEN, sha1);
	hex_encode(a->md5, MD5_LEN, md5);
	hex_encode(a->sha256, SHA256_LEN, sha256);
	/* Both rels of each: clients prefer "download", Zephyr knows only
	 * "download-http"; suitd has one scheme, so both name it. */
	return json_pack(
		"{s:s, s:{s:s, s:s, s:s}, s:I, s:{s:o, s:o, s:o, s:o}}", "filename", name, "hashes",
		"sha1", sha1, "md5", md5, "sha256", sha256, "size", (json_int_t)a->size, "_links",
		"download",
		ddi_link(base, "/softwaremodules/%lld/artifacts/%s", (long long)manifest_id, name),
		"download-http",
		ddi_link(base, "/softwaremodules/%lld/artifacts/%s", (long long)manifest_id, name),
		"md5sum",
		ddi_link(base, "/softwaremodules/%lld/artifacts/%s.MD5SUM", (long long)manifest_id,
			 name),
		"md5sum-http",
		ddi_link(base, "/softwaremodules/%lld/artifacts/%s.MD5SUM", (long long)manifest_id,
			 name));
}

/* DdiDeploymentBase (or installedBase, the same shape): one chunk, the
 * manifest; its artifacts, the payloads it fetches from suitd. */
static enum err action_json(struct api_ctx *ctx, const struct request *req, struct response *res,
			    int64_t action, const struct ddi_action *a)
{
	struct ddi_artifact arts[DDI_ARTIFACTS_MAX];
	char base[DDI_URL_MAX], id[24], version[DDI_SOFTWARE_MAX + 1],
		name[2 * MANIFEST_DIGEST_MAX + 1];
	unsigned n = 0;
	enum err e;

	if ((e = ddi_base_url(ctx, req, base)))
		return api_fail(res, ERR_INVALID, "the links would be too long");
	if ((e = storage_ddi_artifacts(ctx->storage, a->manifest_id, arts, DDI_ARTIFACTS_MAX, &n)))
		return api_fail(res, e, "cannot read the action's artifacts");
	/* version: the CoSWID's when the manifest has one, else its sequence
	 * number; name: the CoSWID software name, else the manifest digest. */
	if (a->software_version[0])
		snprintf(version, sizeof(version), "%s", a->software_version);
	else
		snprintf(version, sizeof(version), "%llu", (unsigned long long)a->sequence);
	if (a->software_name[0])
		snprintf(name, sizeof(name), "%s", a->software_name);
	else
		hex_encode(a->digest, a->digest_len, name);
	json_t *artifacts = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(artifacts, artifact_json(base, a->manifest_id, &arts[i]));
	snprintf(id, sizeof(id), "%lld", (long long)action);
	/* suitd has no soft or time-forced actions nor maintenance windows:
	 * every deployment is forced; a pause or a closed stage holds it back
	 * before it is offered at all. */
	return response_json(res, 200,
			     json_pack("{s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:o}]}}", "id", id,
				       "deployment", "download", "forced", "update", "forced",
				       "chunks", "part", "os", "version", version, "name", name,
				       "artifacts", artifacts));
}

static enum err action_read(struct api_ctx *ctx, const struct request *req, struct response *res,
			    int64_t *ret_id, struct ddi_action *ret)
{
	enum err e;

	if (!ddi_action_id(req, ret_id))
		return api_fail(res, ERR_NOT_FOUND, "an action id is a positive number");
	e = storage_ddi_action(ctx->storage, req->device->num, *ret_id, ret);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "this controller has no action %lld", (long long)*ret_id);
	if (e)
		return api_fail(res, e, "cannot read the action");
	return ERR_OK;
}

enum err api_ddi_deployment(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct active_assignment a;
	struct ddi_action act;
	int64_t id;
	enum err e;

	if ((e = action_read(ctx, req, res, &id, &act)))
		return e;
	/* hawkBit: 404 for an action canceled (its cancelAction tells). */
	if (act.state == ASSIGN_CANCELED || act.state == ASSIGN_SKIPPED)
		return api_fail(res, ERR_NOT_FOUND, "action %lld was %s", (long long)id,
				assignment_state_name(act.state));
	if (act.state == ASSIGN_PENDING) {
		/* Offered only once its stage is open and the deployment runs,
		 * as the device API's check-in; a GET delivers it, as there. */
		if (!assignment_index_get(ctx->assignments, req->device->num, &a) || a.id != id ||
		    a.held)
			return api_fail(res, ERR_NOT_FOUND, "action %lld is not released yet",
					(long long)id);
		if (req->method == HTTP_GET) {
			e = assignment_transition(ctx->assignments, ctx->storage, &a,
						  ASSIGN_DELIVERED, NULL);
			if (e && e != ERR_CONFLICT)
				return api_fail(res, e, "cannot record the delivery");
		}
	}
	return action_json(ctx, req, res, id, &act);
}

enum err api_ddi_installed(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct ddi_action act;
	int64_t id;
	enum err e;

	if ((e = action_read(ctx, req, res, &id, &act)))
		return e;
	if (act.state != ASSIGN_CONFIRMED)
		return api_fail(res, ERR_NOT_FOUND, "action %lld is %s, not installed",
				(long long)id, assignment_state_name(act.state));
	return action_json(ctx, req, res, id, &act);
}

/* "details" joined with "; ", bounded (a report reason is 256 bytes). */
static void details_text(json_t *status, const char *note, char out[FEEDBACK_REASON_MAX + 1])
{
	json_t *details = json_object_get(status, "details"), *v;
	size_t used = 0, i;

	out[0] = '\0';
	if (note)
		used = (size_t)snprintf(out, FEEDBACK_REASON_MAX + 1, "%s", note);
	json_array_foreach(details, i, v)
	{
		if (!json_is_string(v) || used >= FEEDBACK_REASON_MAX)
			continue;
		int n = snprintf(out + used, FEEDBACK_REASON_MAX + 1 - used, "%s%s",
				 used ? "; " : "", json_string_value(v));
		used = n < 0 ? used : used + (size_t)n;
	}
}

enum err api_ddi_feedback(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct report_new r = {.device_num = req->device->num, .progress = -1};
	struct ddi_action act;
	json_t *body = NULL, *status, *result, *v;
	const char *execution = NULL, *finished = NULL, *note;
	char reason[FEEDBACK_REASON_MAX + 1];
	int64_t id;
	enum err e;

	if (req->body_len > ctx->config->devices.max_report_size)
		return api_fail(res, ERR_TOO_LARGE, "feedback is at most %llu bytes",
				(unsigned long long)ctx->config->devices.max_report_size);
	if ((e = action_read(ctx, req, res, &id, &act)))
		return e;
	if ((e = ddi_feedback_parse(req, res, &body, &execution, &finished)))
		return e;
	status = json_object_get(body, "status");
	result = json_object_get(status, "result");
	if (!ddi_feedback_state(execution, finished, act.state, &r.state, &note)) {
		json_decref(body);
		return api_fail(res, ERR_INVALID,
				"status.execution must be closed, proceeding, canceled, scheduled, "
				"rejected, resumed, downloaded or download; status.result.finished "
				"success, failure or none");
	}
	/* hawkBit: 410 Gone once the action is closed, except the same final
	 * answer again (a client resending after a lost response). */
	if (!assignment_state_active(act.state) && act.state != r.state) {
		json_decref(body);
		return api_fail(res, ERR_GONE, "action %lld is %s", (long long)id,
				assignment_state_name(act.state));
	}
	/* progress {cnt, of} as a percentage; code as the report's code. */
	json_t *prog = json_object_get(result, "progress");
	json_t *cnt = json_object_get(prog, "cnt"), *of = json_object_get(prog, "of");
	if (json_is_integer(cnt) && json_is_integer(of) && json_integer_value(of) > 0 &&
	    json_integer_value(cnt) >= 0 && json_integer_value(cnt) <= json_integer_value(of))
		r.progress = (int)(json_integer_value(cnt) * 100 / json_integer_value(of));
	if ((v = json_object_get(status, "code"))) {
		if (!json_is_integer(v)) {
			json_decref(body);
			return api_fail(res, ERR_INVALID, "field 'status.code' must be an integer");
		}
		r.has_code = true;
		r.code = (int64_t)json_integer_value(v);
	}
	details_text(status, note, reason);
	json_decref(body);
	if (r.state == ASSIGN_FAILED || note)
		r.reason = reason;
	r.digest = act.digest;
	r.digest_len = act.digest_len;
	r.media_type = "application/vnd.hawkbit.ddi-feedback+json";
	r.body = req->body;
	r.body_len = req->body_len;
	return api_reports_record(ctx, req, res, &r, 200);
}
