#include "api/inventory.h"

#include <stdlib.h>
#include <string.h>

#include "api/input.h"
#include "common/crypto.h"
#include "common/timeutil.h"
#include "storage/inventory.h"

static json_t *digest_or_null(const uint8_t *digest, size_t len)
{
	char hex[2 * MANIFEST_DIGEST_MAX + 1];

	if (!len)
		return json_null();
	hex_encode(digest, len, hex);
	return json_string(hex);
}

static json_t *time_json(int64_t t)
{
	char text[RFC3339_LEN];

	time_format_rfc3339(t, text);
	return json_string(text);
}

/* The components of the facts as ids only (index, id, vendor, class). */
static json_t *component_ids(json_t *facts)
{
	json_t *out = json_array(), *c;
	size_t i;

	json_array_foreach(json_object_get(facts, "components"), i, c)
	{
		json_t *o = json_object();
		static const char *const keep[] = {"index", "id", "vendor_id", "class_id"};
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
			json_t *v = json_object_get(c, keep[k]);
			if (v)
				json_object_set(o, keep[k], v);
		}
		json_array_append_new(out, o);
	}
	return out;
}

enum err api_inventory_device_software(struct api_ctx *ctx, int64_t device_num, json_t **ret)
{
	struct device_software sw;
	enum err e = storage_device_software(ctx->storage, device_num, &sw);
	json_t *o, *facts = NULL, *coswid;

	if (e)
		return e;
	if (!sw.running) {
		device_software_release(&sw);
		*ret = json_null();
		return ERR_OK;
	}
	o = json_pack("{s:o, s:o, s:o, s:o}", "manifest", digest_or_null(sw.digest, sw.digest_len),
		      "since", time_json(sw.since), "name",
		      sw.has_name ? json_string(sw.name) : json_null(), "version",
		      sw.has_version ? json_string(sw.version) : json_null());
	if (!o) {
		device_software_release(&sw);
		return ERR_NOMEM;
	}
	if (sw.has_manifest) {
		json_object_set_new(o, "sequence_number", json_integer((json_int_t)sw.sequence));
		if (sw.facts)
			facts = json_loads(sw.facts, 0, NULL);
		coswid = json_object_get(facts, "coswid");
		if (coswid)
			json_object_set(o, "coswid", coswid);
		else
			json_object_set_new(o, "components", component_ids(facts));
		json_decref(facts);
	}
	device_software_release(&sw);
	*ret = o;
	return ERR_OK;
}

/* ?software= and ?version=: UTF-8 text of 1 to 256 bytes. */
static enum err text_param(const struct request *req, struct response *res, const char *name,
			   const char **ret)
{
	const char *v = req->query(req, name);
	json_t *utf8;

	*ret = v;
	if (!v)
		return ERR_OK;
	utf8 = strlen(v) <= INVENTORY_TEXT_MAX ? json_string(v) : NULL;
	json_decref(utf8);
	if (!v[0] || !utf8)
		return api_fail(res, ERR_INVALID, "%s must be 1 to %d bytes of UTF-8", name,
				INVENTORY_TEXT_MAX);
	return ERR_OK;
}

static json_t *counts_json(const struct inventory_count *c, unsigned n, bool by_name,
			   uint64_t *ret_total)
{
	json_t *arr = json_array();
	uint64_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		json_t *o = json_pack("{s:o, s:I}", "version",
				      c[i].has_version ? json_string(c[i].version) : json_null(),
				      "devices", (json_int_t)c[i].devices);
		if (by_name)
			json_object_set_new(o, "software", json_string(c[i].name));
		json_array_append_new(arr, o);
		total += c[i].devices;
	}
	*ret_total = total;
	return arr;
}

enum err api_inventory_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	const char *name, *version;
	struct inventory_count *counts = NULL;
	struct inventory_device *rows = NULL;
	unsigned limit, n = 0, ncounts = 0;
	bool more = false, counts_more = false;
	uint64_t total;
	int64_t after;
	json_t *items, *out;
	enum err e;

	if ((e = text_param(req, res, "software", &name)) ||
	    (e = text_param(req, res, "version", &version)) ||
	    (e = api_page_params(req, res, &limit, &after)))
		return e;
	if (version && !name)
		return api_fail(res, ERR_INVALID, "version needs software");
	counts = calloc(INVENTORY_COUNTS_MAX, sizeof(*counts));
	if (!counts)
		return ERR_NOMEM;
	e = storage_inventory_counts(ctx->storage, name, version, counts, &ncounts, &counts_more);
	if (e) {
		free(counts);
		return api_fail(res, e, "cannot count the inventory");
	}
	out = json_pack("{s:o, s:o}", "software", name ? json_string(name) : json_null(), "version",
			version ? json_string(version) : json_null());
	if (!out) {
		free(counts);
		return ERR_NOMEM;
	}
	json_object_set_new(out, name ? "versions" : "software_list",
			    counts_json(counts, ncounts, !name, &total));
	free(counts);
	json_object_set_new(out, "devices", json_integer((json_int_t)total));
	json_object_set_new(out, "counts_truncated", json_boolean(counts_more));
	items = json_array();
	if (name) {
		rows = calloc(limit, sizeof(*rows));
		if (!rows) {
			json_decref(items);
			json_decref(out);
			return ERR_NOMEM;
		}
		e = storage_inventory_devices(ctx->storage, name, version, after, limit, rows, &n,
					      &more);
		if (e) {
			free(rows);
			json_decref(items);
			json_decref(out);
			return api_fail(res, e, "cannot list the inventory");
		}
		for (unsigned i = 0; i < n; i++)
			json_array_append_new(
				items,
				json_pack("{s:s, s:o, s:o, s:o}", "device", rows[i].id, "version",
					  rows[i].has_version ? json_string(rows[i].version)
							      : json_null(),
					  "manifest",
					  digest_or_null(rows[i].digest, rows[i].digest_len),
					  "since", time_json(rows[i].since)));
	}
	json_t *page = api_page_json(items, more, n ? rows[n - 1].num : 0);
	free(rows);
	if (!page) {
		json_decref(out);
		return ERR_NOMEM;
	}
	json_object_update(out, page);
	json_decref(page);
	return response_json(res, 200, out);
}
