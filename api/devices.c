#include "api/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api/auth.h"
#include "api/deployments.h"
#include "api/input.h"
#include "api/inventory.h"
#include "api/seen.h"
#include "api/token_cache.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "storage/timeline.h"
#include "suit/suit.h"
#include "tracker/assignments.h"

enum err devices_add(struct storage *s, const struct device_new *d, const char *actor,
		     char token[SECRET_TEXT_MAX])
{
	uint8_t hash[SHA256_LEN];
	struct device_new with = *d;
	struct device_ident ident;
	enum err e = auth_device_token_new(token, hash);

	if (e)
		return e;
	with.token_hash = hash;
	return storage_device_insert(s, &with, actor, &ident);
}

static void uuid_text(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static bool uuid_parse(const char *text, uint8_t out[16])
{
	char hex[33];
	size_t n = 0;

	if (strlen(text) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash != (text[i] == '-'))
			return false;
		if (!dash)
			hex[n++] = text[i];
	}
	hex[n] = '\0';
	return hex_decode(hex, out, 16);
}

static json_t *time_or_null(int64_t t)
{
	char text[RFC3339_LEN];

	if (!t)
		return json_null();
	time_format_rfc3339(t, text);
	return json_string(text);
}

json_t *device_import_json(const struct device *d)
{
	char uuid[37];
	json_t *j = json_object(), *tags = json_array();

	json_object_set_new(j, "id", json_string(d->ident.id));
	json_object_set_new(j, "group",
			    d->ident.group[0] ? json_string(d->ident.group) : json_null());
	for (unsigned i = 0; i < d->tag_count; i++)
		json_array_append_new(tags, json_string(d->tags[i]));
	json_object_set_new(j, "tags", tags);
	if (d->has_vendor)
		uuid_text(d->vendor, uuid);
	json_object_set_new(j, "vendor_id", d->has_vendor ? json_string(uuid) : json_null());
	if (d->has_class)
		uuid_text(d->class_id, uuid);
	json_object_set_new(j, "class_id", d->has_class ? json_string(uuid) : json_null());
	json_t *attrs = json_loads(d->attributes ? d->attributes : "{}", 0, NULL);
	json_object_set_new(j, "attributes", attrs ? attrs : json_object());
	return j;
}

static json_t *device_json(struct api_ctx *ctx, const struct device *d)
{
	json_t *j = device_import_json(d);
	int64_t at = d->last_seen_at;
	bool has_seq = d->has_sequence;
	uint64_t seq = d->reported_sequence;
	int64_t pending_at;
	bool pending_has_seq;
	uint64_t pending_seq;

	/* What the device did since the last flush is newer than the row. */
	if (ctx->seen &&
	    seen_pending(ctx->seen, d->ident.num, &pending_at, &pending_has_seq, &pending_seq)) {
		if (pending_at > at)
			at = pending_at;
		if (pending_has_seq) {
			has_seq = true;
			seq = pending_seq;
		}
	}
	json_object_set_new(j, "reported_sequence",
			    has_seq ? json_integer((json_int_t)seq) : json_null());
	json_object_set_new(j, "last_seen_at", time_or_null(at));
	/* The active assignment, from the check-in index (null: none). */
	struct active_assignment a;
	if (ctx->assignments && assignment_index_get(ctx->assignments, d->ident.num, &a)) {
		char hex[2 * MANIFEST_DIGEST_MAX + 1];
		hex_encode(a.digest, a.digest_len, hex);
		json_object_set_new(j, "assignment",
				    json_pack("{s:I, s:s, s:I, s:s}", "deployment",
					      (json_int_t)a.deployment_id, "manifest", hex,
					      "sequence_number", (json_int_t)a.sequence, "state",
					      assignment_state_name(a.state)));
	} else {
		json_object_set_new(j, "assignment", json_null());
	}
	json_object_set_new(j, "report_key",
			    d->report_key ? json_string(d->report_key) : json_null());
	json_object_set_new(j, "created_at", time_or_null(d->created_at));
	return j;
}

/* Tags: an array of at most DEVICE_TAGS_MAX distinct names. */
static enum err tags_param(json_t *v, struct response *res, const char *tags[DEVICE_TAGS_MAX],
			   unsigned *ret_count)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v) || json_array_size(v) > DEVICE_TAGS_MAX)
		return api_fail(res, ERR_INVALID,
				"field 'tags' must be an array of at most %d names",
				DEVICE_TAGS_MAX);
	*ret_count = 0;
	json_array_foreach(v, i, t)
	{
		if (!json_is_string(t) || !device_name_valid(json_string_value(t), DEVICE_TAG_MAX))
			return api_fail(res, ERR_INVALID, "tags must match [A-Za-z0-9._:@-]{1,%d}",
					DEVICE_TAG_MAX);
		tags[(*ret_count)++] = json_string_value(t);
	}
	return ERR_OK;
}

static enum err group_param(json_t *v, struct response *res, const char **ret)
{
	if (json_is_null(v)) {
		*ret = "";
		return ERR_OK;
	}
	if (!json_is_string(v) || !device_name_valid(json_string_value(v), DEVICE_GROUP_MAX))
		return api_fail(res, ERR_INVALID,
				"field 'group' must be null or match [A-Za-z0-9._:@-]{1,%d}",
				DEVICE_GROUP_MAX);
	*ret = json_string_value(v);
	return ERR_OK;
}

/* attributes: an object of at most DEVICE_ATTRIBUTES_MAX bytes of JSON. */
static enum err attributes_param(json_t *v, struct response *res, char **ret)
{
	char *text;

	if (!json_is_object(v))
		return api_fail(res, ERR_INVALID, "field 'attributes' must be an object");
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return ERR_NOMEM;
	if (strlen(text) > DEVICE_ATTRIBUTES_MAX) {
		free(text);
		return api_fail(res, ERR_INVALID, "field 'attributes' is over %d bytes of JSON",
				DEVICE_ATTRIBUTES_MAX);
	}
	*ret = text;
	return ERR_OK;
}

static enum err only_fields(json_t *body, const char *const *allowed, struct response *res)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v)
	{
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok)
			return api_fail(res, ERR_INVALID, "unknown field '%.64s'", k);
	}
	return ERR_OK;
}

static enum err uuid_field(json_t *body, const char *name, struct response *res, uint8_t out[16],
			   const uint8_t **ret)
{
	json_t *v = json_object_get(body, name);

	*ret = NULL;
	if (!v || json_is_null(v))
		return ERR_OK;
	if (!json_is_string(v) || !uuid_parse(json_string_value(v), out))
		return api_fail(res, ERR_INVALID, "field '%s' must be a UUID", name);
	*ret = out;
	return ERR_OK;
}

static enum err respond_device(struct api_ctx *ctx, struct response *res, const char *id,
			       unsigned status, const char *token)
{
	struct device d;
	enum err e = storage_device_get(ctx->storage, id, &d);
	json_t *j;

	if (e)
		return api_fail(res, e, "cannot read the device");
	j = device_json(ctx, &d);
	device_release(&d);
	if (token) {
		json_object_set_new(j, "token", json_string(token));
		response_header_set(res, "Cache-Control", "no-store");
	}
	return response_json(res, status, j);
}

/* A factory-provisioned token: what a device can send as a bearer token,
 * long enough to be a secret. */
static enum err token_param(json_t *v, struct response *res, const char **ret)
{
	const char *t = json_string_value(v);
	size_t n = t ? strlen(t) : 0;
	bool ok = n >= DEVICE_TOKEN_MIN && n <= BOUND_BEARER_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = t[i] > ' ' && t[i] < 0x7f;
	if (!ok)
		return api_fail(res, ERR_INVALID,
				"field 'token' must be %d to %d visible ASCII characters",
				DEVICE_TOKEN_MIN, BOUND_BEARER_MAX);
	*ret = t;
	return ERR_OK;
}

enum err device_input_parse(json_t *body, bool import, struct device_input *in,
			    struct response *res)
{
	static const char *const create_fields[] = {"id",	"group",      "tags", "vendor_id",
						    "class_id", "attributes", NULL};
	static const char *const import_fields[] = {"id",	"group",      "tags",  "vendor_id",
						    "class_id", "attributes", "token", NULL};
	json_t *v;
	enum err e;

	memset(in, 0, sizeof(*in));
	if ((e = only_fields(body, import ? import_fields : create_fields, res)) ||
	    (e = api_json_string(body, "id", DEVICE_ID_MAX, res, &in->id)))
		return e;
	if (!device_name_valid(in->id, DEVICE_ID_MAX))
		return api_fail(res, ERR_INVALID, "field 'id' must match [A-Za-z0-9._:@-]{1,128}");
	if ((v = json_object_get(body, "group")) && (e = group_param(v, res, &in->group)))
		return e;
	if ((v = json_object_get(body, "tags")) &&
	    (e = tags_param(v, res, in->tags, &in->tag_count)))
		return e;
	in->set_tags = v != NULL;
	if ((e = uuid_field(body, "vendor_id", res, in->vendor_buf, &in->vendor)) ||
	    (e = uuid_field(body, "class_id", res, in->class_buf, &in->class_id)))
		return e;
	if ((v = json_object_get(body, "token")) && (e = token_param(v, res, &in->token)))
		return e;
	if ((v = json_object_get(body, "attributes")))
		return attributes_param(v, res, &in->attributes);
	return ERR_OK;
}

void device_input_release(struct device_input *in)
{
	free(in->attributes);
	in->attributes = NULL;
}

enum err api_devices_create(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	json_auto_t *body = NULL;
	struct device_input in;
	char token[SECRET_TEXT_MAX];
	enum err e;

	if ((e = api_json_body(req, res, &body)))
		return e;
	if ((e = device_input_parse(body, false, &in, res))) {
		device_input_release(&in);
		return e;
	}
	struct device_new d = {.id = in.id,
			       .group = in.group ? in.group : "",
			       .vendor = in.vendor,
			       .class_id = in.class_id,
			       .attributes = in.attributes,
			       .tags = in.tags,
			       .tag_count = in.tag_count};
	e = devices_add(ctx->storage, &d, req->key->name, token);
	device_input_release(&in);
	if (e == ERR_EXISTS)
		return api_fail(res, e, "a device with id '%s' exists", d.id);
	if (e)
		return api_fail(res, e, "cannot create the device");
	deployments_device_changed(ctx, d.id);
	e = respond_device(ctx, res, d.id, 201, token);
	OPENSSL_cleanse(token, sizeof(token));
	if (!e)
		e = response_header_set(res, "Location", "/api/v1/devices/%s", d.id);
	return e;
}

/* RFC 3339 UTC ("2026-11-25T20:00:00Z") or seconds since the epoch. */
static bool time_parse(const char *text, int64_t *ret)
{
	struct tm tm = {0};
	const char *end;
	char *num_end;
	long long v;

	if (text[0] >= '0' && text[0] <= '9' && !strchr(text, '-')) {
		v = strtoll(text, &num_end, 10);
		if (*num_end)
			return false;
		*ret = v;
		return true;
	}
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return false;
	*ret = (int64_t)timegm(&tm);
	return true;
}

/* A sequence-number query parameter: a decimal up to 2^63 - 1. */
static enum err sequence_param(const struct request *req, struct response *res, const char *name,
			       bool *ret_has, uint64_t *ret)
{
	const char *text = req->query(req, name);

	*ret_has = false;
	if (!text)
		return ERR_OK;
	if (!parse_u64(text, ret) || *ret > INT64_MAX)
		return api_fail(res, ERR_INVALID,
				"%s must be a sequence number (a decimal integer)", name);
	*ret_has = true;
	return ERR_OK;
}

enum err device_filter_params(struct api_ctx *ctx, const struct request *req, struct response *res,
			      struct device_filter *f, uint8_t class_buf[16])
{
	const char *class_text = req->query(req, "class_id"),
		   *since = req->query(req, "seen_since"),
		   *not_since = req->query(req, "not_seen_since"),
		   *state = req->query(req, "assignment_state");
	enum assignment_state st;
	enum err e;

	*f = (struct device_filter){.group = req->query(req, "group"),
				    .tag = req->query(req, "tag")};
	if (class_text) {
		if (!uuid_parse(class_text, class_buf))
			return api_fail(res, ERR_INVALID, "class_id must be a UUID");
		f->class_id = class_buf;
	}
	if (since) {
		if (!time_parse(since, &f->seen_since))
			return api_fail(res, ERR_INVALID,
					"seen_since must be RFC 3339 UTC (2026-11-25T20:00:00Z) or "
					"seconds since the epoch");
		f->has_seen_since = true;
	}
	if (not_since) {
		if (!time_parse(not_since, &f->not_seen_since))
			return api_fail(
				res, ERR_INVALID,
				"not_seen_since must be RFC 3339 UTC (2026-11-25T20:00:00Z) "
				"or seconds since the epoch");
		f->has_not_seen_since = true;
	}
	if ((e = sequence_param(req, res, "sequence", &f->has_sequence, &f->sequence)) ||
	    (e = sequence_param(req, res, "sequence_below", &f->has_sequence_below,
				&f->sequence_below)))
		return e;
	if (state) {
		if (!assignment_state_parse(state, &st))
			return api_fail(res, ERR_INVALID,
					"assignment_state must be an assignment state (pending, "
					"delivered, ..., failed, timed_out, canceled, skipped)");
		f->assignment_state = assignment_state_name(st);
	}
	/* The seen filters compare database values: write the sightings still
	 * in memory first, so that a device seen a second ago counts. */
	if (f->has_seen_since || f->has_not_seen_since || f->has_sequence || f->has_sequence_below)
		seen_flush_before_read(ctx->seen, ctx->storage);
	return ERR_OK;
}

/* A cursor's text: "NUM" in the order of num, "KEY.ID" in a keyed order
 * (KEY may be -1). */
static bool cursor_parse(const char *text, struct device_cursor *c)
{
	const char *dot = strchr(text, '.'), *id = dot ? dot + 1 : text;
	uint64_t k = 0, v;
	bool minus = dot && text[0] == '-';
	char key[24];

	*c = (struct device_cursor){.keyed = dot != NULL};
	if (dot) {
		if ((size_t)(dot - text) >= sizeof(key))
			return false;
		memcpy(key, text + minus, (size_t)(dot - text) - minus);
		key[dot - text - minus] = '\0';
		/* Keys are times and sequence numbers, or -1. */
		if (!parse_u64(key, &k) || k > INT64_MAX || (minus && k != 1))
			return false;
		c->key = minus ? -1 : (int64_t)k;
	}
	if (!parse_u64(id, &v) || v > INT64_MAX)
		return false;
	c->id = (int64_t)v;
	return true;
}

static void cursor_text(const struct device_cursor *c, char *out, size_t size)
{
	if (c->keyed)
		snprintf(out, size, "%lld.%lld", (long long)c->key, (long long)c->id);
	else
		snprintf(out, size, "%lld", (long long)c->id);
}

enum err api_devices_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *after_text = req->query(req, "after");
	struct device_cursor after;
	struct device_filter f;
	uint8_t class_id[16];
	struct device *items;
	unsigned limit, n = 0;
	char next[48] = "";
	json_t *arr;
	enum err e;

	if ((e = api_page_limit(req, res, &limit)) ||
	    (e = device_filter_params(ctx, req, res, &f, class_id)))
		return e;
	if (after_text &&
	    (!cursor_parse(after_text, &after) || after.keyed != device_list_keyed(&f)))
		return api_fail(res, ERR_INVALID,
				"after must be the 'next' field of a page with the same filters");
	items = calloc(limit + 1, sizeof(*items));
	if (!items)
		return ERR_NOMEM;
	e = storage_device_list(ctx->storage, &f, after_text ? &after : NULL, limit + 1, items, &n);
	if (e) {
		free(items);
		return api_fail(res, e, "cannot list devices");
	}
	arr = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(arr, device_json(ctx, &items[i]));
	if (n > limit)
		cursor_text(&items[limit - 1].cursor, next, sizeof(next));
	for (unsigned i = 0; i < n; i++)
		device_release(&items[i]);
	free(items);
	return response_json(res, 200, api_page_json_text(arr, n > limit, next));
}

static enum err id_param(const struct request *req, struct response *res)
{
	if (!device_name_valid(req->params[0], DEVICE_ID_MAX))
		return api_fail(res, ERR_INVALID, "a device id must match [A-Za-z0-9._:@-]{1,128}");
	return ERR_OK;
}

static enum err not_found_or(enum err e, struct response *res, const char *what)
{
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no such device");
	return api_fail(res, e, "cannot %s the device", what);
}

enum err api_devices_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct device d;
	enum err e = id_param(req, res);
	json_t *j;

	if (e)
		return e;
	e = storage_device_get(ctx->storage, req->params[0], &d);
	if (e)
		return not_found_or(e, res, "read");
	j = device_json(ctx, &d);
	json_t *software = NULL;
	e = api_inventory_device_software(ctx, d.ident.num, &software);
	device_release(&d);
	if (e) {
		json_decref(j);
		return api_fail(res, e, "cannot read what the device runs");
	}
	json_object_set_new(j, "software", software);
	return response_json(res, 200, j);
}

enum err api_devices_assignments(struct api_ctx *ctx, const struct request *req,
				 struct response *res)
{
	struct device_assignment *rows;
	struct device_ident ident;
	unsigned limit, n = 0;
	int64_t after;
	json_t *arr;
	enum err e;

	if ((e = id_param(req, res)) || (e = api_page_params(req, res, &limit, &after)))
		return e;
	if ((e = storage_device_ident(ctx->storage, req->params[0], &ident)))
		return not_found_or(e, res, "read");
	if (!(rows = calloc(limit + 1, sizeof(*rows))))
		return ERR_NOMEM;
	e = storage_device_assignments(ctx->storage, ident.num, after, limit + 1, rows, &n);
	if (e) {
		free(rows);
		return api_fail(res, e, "cannot list the device's assignments");
	}
	arr = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(
			arr,
			json_pack("{s:I, s:I, s:s, s:o, s:o, s:o}", "deployment",
				  (json_int_t)rows[i].deployment, "stage",
				  (json_int_t)rows[i].stage + 1, "state",
				  assignment_state_name(rows[i].state), "reason",
				  rows[i].reason[0] ? json_string(rows[i].reason) : json_null(),
				  "created_at", time_or_null(rows[i].created_at), "updated_at",
				  time_or_null(rows[i].updated_at)));
	int64_t last = n ? rows[(n > limit ? limit : n) - 1].id : 0;
	free(rows);
	return response_json(res, 200, api_page_json(arr, n > limit, last));
}

/* report_key: a PEM P-256 or Ed25519 public key (or certificate), or null
 * to remove it. */
static enum err report_key_param(json_t *v, struct response *res, const char **ret)
{
	struct suit_keyring *kr = NULL;
	struct diag d = {0};
	enum err e;

	if (json_is_null(v)) {
		*ret = "";
		return ERR_OK;
	}
	if (!json_is_string(v) || !json_string_length(v) ||
	    json_string_length(v) > DEVICE_REPORT_KEY_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return api_fail(res, ERR_INVALID,
				"field 'report_key' must be null or a PEM public key of at most "
				"%d bytes",
				DEVICE_REPORT_KEY_MAX);
	if ((e = suit_keyring_new(&kr)))
		return e;
	e = suit_keyring_add_pem_text(kr, json_string_value(v), json_string_length(v), "report_key",
				      &d);
	suit_keyring_free(kr);
	if (e == ERR_NOMEM || e == ERR_CRYPTO)
		return api_fail(res, e, "cannot read the report key");
	if (e)
		return api_fail(res, ERR_INVALID,
				"field 'report_key' must be a PEM P-256 or Ed25519 public key");
	*ret = json_string_value(v);
	return ERR_OK;
}

enum err api_devices_update(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	static const char *const allowed[] = {"group", "tags", "attributes", "report_key", NULL};
	json_auto_t *body = NULL;
	const char *tags[DEVICE_TAGS_MAX];
	struct device_change c = {.tags = tags};
	char *attributes = NULL;
	json_t *v;
	enum err e;

	if ((e = id_param(req, res)) || (e = api_json_body(req, res, &body)) ||
	    (e = only_fields(body, allowed, res)))
		return e;
	if ((v = json_object_get(body, "group")) && (e = group_param(v, res, &c.group)))
		return e;
	v = json_object_get(body, "tags");
	if (v && (e = tags_param(v, res, tags, &c.tag_count)))
		return e;
	c.set_tags = v != NULL;
	if ((v = json_object_get(body, "report_key")) &&
	    (e = report_key_param(v, res, &c.report_key)))
		return e;
	json_t *a = json_object_get(body, "attributes");
	if (a && (e = attributes_param(a, res, &attributes)))
		return e;
	c.attributes = attributes;
	bool membership_changed = false;
	e = storage_device_update(ctx->storage, req->params[0], &c,
				  req->key ? req->key->name : NULL, &membership_changed);
	free(attributes);
	token_cache_clear(ctx->tokens); /* cached identities carry the group */
	if (e)
		return not_found_or(e, res, "update");
	/* Only a real change of group or tags can join a deployment. */
	if (membership_changed)
		deployments_device_changed(ctx, req->params[0]);
	return respond_device(ctx, res, req->params[0], 200, NULL);
}

enum err api_devices_delete(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	enum err e = id_param(req, res);

	if (e)
		return e;
	e = storage_device_delete(ctx->storage, req->params[0], req->key->name);
	/* After the commit: a lookup that read the row before it cannot put
	 * it back (api/token_cache.h). */
	token_cache_clear(ctx->tokens);
	if (e)
		return not_found_or(e, res, "delete");
	res->status = 204;
	return ERR_OK;
}

enum err api_devices_token(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *grace_text = req->query(req, "grace");
	char token[SECRET_TEXT_MAX];
	uint8_t hash[SHA256_LEN];
	uint64_t grace = 0;
	int64_t until;
	enum err e = id_param(req, res);

	if (e)
		return e;
	if (grace_text && (!parse_duration(grace_text, &grace) || grace > BOUND_TOKEN_GRACE_MAX))
		return api_fail(res, ERR_INVALID,
				"grace must be a duration of at most 168h (7 days): seconds, or "
				"a number with s, m or h (90s, 15m, 24h)");
	if ((e = auth_device_token_new(token, hash)))
		return e;
	/* The old token stops in the same transaction, or at the end of the
	 * grace; an older one still in its grace stops now. */
	e = storage_device_set_token(ctx->storage, req->params[0], hash, (int64_t)grace,
				     req->key->name, &until);
	token_cache_clear(ctx->tokens); /* after the commit, as in delete */
	if (e) {
		OPENSSL_cleanse(token, sizeof(token));
		return not_found_or(e, res, "rotate the token of");
	}
	e = response_json(res, 200,
			  json_pack("{s:s, s:s, s:o}", "id", req->params[0], "token", token,
				    "previous_token_expires_at", time_or_null(until)));
	OPENSSL_cleanse(token, sizeof(token));
	if (!e)
		e = response_header_set(res, "Cache-Control", "no-store");
	return e;
}

enum err api_devices_whoami(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	(void)ctx;
	if (!req->device)
		return response_json(res, 200, json_pack("{s:n}", "id"));
	return response_json(
		res, 200,
		json_pack("{s:s, s:o}", "id", req->device->id, "group",
			  req->device->group[0] ? json_string(req->device->group) : json_null()));
}
