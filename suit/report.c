#include "suit/report.h"

#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "suit/cbor.h"
#include "suit/manifest.h"

static const char *const reasons[] = {
	"ok",
	"cbor-parse",
	"cose-unsupported",
	"alg-unsupported",
	"unauthorised",
	"command-unsupported",
	"component-unsupported",
	"component-unauthorised",
	"parameter-unsupported",
	"severing-unsupported",
	"condition-failed",
	"operation-failed",
	"invoke-pending",
};

const char *suit_report_reason_name(int64_t reason)
{
	if (reason < 0 || (size_t)reason >= sizeof(reasons) / sizeof(reasons[0]))
		return "unknown";
	return reasons[reason];
}

static bool duplicate_int_keys(const cbor_item_t *map)
{
	size_t n = cbor_map_size(map);
	struct cbor_pair *p = cbor_map_handle(map);

	if (n > 64)
		return true;
	for (size_t i = 0; i < n; i++) {
		int64_t a, b;
		if (!cbor_item_int(p[i].key, &a))
			continue;
		for (size_t j = i + 1; j < n; j++)
			if (cbor_item_int(p[j].key, &b) && a == b)
				return true;
	}
	return false;
}

/* SUIT_Record = [manifest-id, section, offset, component, properties] */
static bool record_fields(const cbor_item_t *rec, int64_t *section, int64_t *offset,
			  int64_t *component)
{
	cbor_item_t **a;

	if (!rec || !cbor_isa_array(rec) || cbor_array_size(rec) < 4)
		return false;
	a = cbor_array_handle(rec);
	return cbor_item_int(a[1], section) && cbor_item_int(a[2], offset) &&
	       cbor_item_int(a[3], component);
}

enum err suit_report_parse(const uint8_t *data, size_t len, struct suit_report *ret, struct diag *d)
{
	CLEANUP_CBOR cbor_item_t *m = cbor_span_load((struct cbor_span){data, len});
	const cbor_item_t *ref, *records, *result;
	struct suit_report r = {.reason = -1};

	if (!m || !cbor_isa_map(m))
		return diag_set(d, ERR_INVALID, "report", "the body is not one CBOR map");
	if (duplicate_int_keys(m))
		return diag_set(d, ERR_INVALID, "report", "a report key appears twice");
	ref = cbor_map_get_int(m, 99);
	if (!ref || !cbor_isa_array(ref) || cbor_array_size(ref) != 2 ||
	    !suit_digest_from_item(cbor_array_handle(ref)[1], &r.manifest_digest))
		return diag_set(d, ERR_INVALID, "suit-reference",
				"suit-reference (99) must be [uri, SUIT_Digest]");
	records = cbor_map_get_int(m, 3);
	if (!records || !cbor_isa_array(records))
		return diag_set(d, ERR_INVALID, "suit-report-records",
				"suit-report-records (3) must be an array");
	for (size_t i = 0; i < cbor_array_size(records); i++) {
		int64_t section, offset, component;
		if (record_fields(cbor_array_handle(records)[i], &section, &offset, &component) &&
		    section == 9)
			r.invoked = true;
	}
	result = cbor_map_get_int(m, 4);
	if (cbor_item_is_true(result)) {
		r.success = true;
	} else if (result && cbor_isa_map(result)) {
		if (duplicate_int_keys(result))
			return diag_set(d, ERR_INVALID, "suit-report-result",
					"a result key appears twice");
		r.has_code = cbor_item_int(cbor_map_get_int(result, 5), &r.code);
		if (!cbor_item_int(cbor_map_get_int(result, 7), &r.reason))
			r.reason = -1;
		r.has_record = record_fields(cbor_map_get_int(result, 6), &r.section, &r.offset,
					     &r.component);
	} else {
		return diag_set(d, ERR_INVALID, "suit-report-result",
				"suit-report-result (4) must be true or a map");
	}
	*ret = r;
	return ERR_OK;
}

/* ---- reports decoded for people (GET /api/v1/devices/{id}/reports) ------ */

static const char *command_name(int64_t c)
{
	switch (c) {
	case 1:
		return "condition-vendor-identifier";
	case 2:
		return "condition-class-identifier";
	case 3:
		return "condition-image-match";
	case 4:
		return "condition-use-before";
	case 5:
		return "condition-component-slot";
	case 6:
		return "condition-check-content";
	case 7:
		return "condition-dependency-integrity";
	case 8:
		return "condition-is-dependency";
	case 11:
		return "directive-process-dependency";
	case 12:
		return "directive-set-component-index";
	case 14:
		return "condition-abort";
	case 15:
		return "directive-try-each";
	case 18:
		return "directive-write";
	case 19:
		return "directive-set-parameters";
	case 20:
		return "directive-override-parameters";
	case 21:
		return "directive-fetch";
	case 22:
		return "directive-copy";
	case 23:
		return "directive-invoke";
	case 24:
		return "condition-device-identifier";
	case 25:
		return "condition-image-not-match";
	case 26:
		return "condition-minimum-battery";
	case 27:
		return "condition-update-authorized";
	case 28:
		return "condition-version";
	case 29:
		return "directive-wait";
	case 31:
		return "directive-swap";
	case 32:
		return "directive-run-sequence";
	case 33:
		return "directive-unlink";
	default:
		return "unknown";
	}
}

static const char *section_name(int64_t s)
{
	switch (s) {
	case 3:
		return "shared-sequence";
	case 7:
		return "validate";
	case 8:
		return "load";
	case 9:
		return "invoke";
	case 15:
		return "dependency-resolution";
	case 16:
		return "payload-fetch";
	case 18:
		return "candidate-verification";
	case 20:
		return "install";
	default:
		return "unknown";
	}
}

static const char *parameter_name(int64_t k)
{
	switch (k) {
	case 1:
		return "vendor-identifier";
	case 2:
		return "class-identifier";
	case 3:
		return "image-digest";
	case 5:
		return "component-slot";
	case 12:
		return "strict-order";
	case 13:
		return "soft-failure";
	case 14:
		return "image-size";
	case 18:
		return "content";
	case 19:
		return "encryption-info";
	case 21:
		return "uri";
	case 22:
		return "source-component";
	case 23:
		return "invoke-args";
	case 24:
		return "device-identifier";
	case 26:
		return "minimum-battery";
	case 27:
		return "update-priority";
	case 28:
		return "version";
	case 29:
		return "wait-info";
	default:
		return NULL;
	}
}

static json_t *properties_json(const cbor_item_t *m, unsigned depth);

/* A CBOR value as JSON for people: integers, text, bytes as hex (at most
 * 64 shown), booleans, arrays and maps a few levels deep. */
static json_t *value_json(const cbor_item_t *v, unsigned depth)
{
	int64_t n;

	if (depth > 4)
		return json_string("…");
	if (cbor_item_int(v, &n))
		return json_integer((json_int_t)n);
	if (cbor_isa_string(v) && cbor_string_is_definite(v)) {
		json_t *s = json_stringn((const char *)cbor_string_handle(v),
					 cbor_string_length(v) > 256 ? 256 : cbor_string_length(v));
		return s ? s : json_null();
	}
	if (cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v)) {
		char hex[2 * 64 + 1];
		size_t len = cbor_bytestring_length(v);
		hex_encode(cbor_bytestring_handle(v), len > 64 ? 64 : len, hex);
		return json_string(hex);
	}
	if (cbor_item_is_true(v))
		return json_true();
	if (cbor_isa_float_ctrl(v) && cbor_float_ctrl_is_ctrl(v) &&
	    cbor_ctrl_value(v) == CBOR_CTRL_FALSE)
		return json_false();
	if (cbor_isa_array(v)) {
		json_t *a = json_array();
		for (size_t i = 0; i < cbor_array_size(v) && i < 16; i++)
			json_array_append_new(a, value_json(cbor_array_handle(v)[i], depth + 1));
		return a;
	}
	if (cbor_isa_map(v))
		return properties_json(v, depth + 1);
	return json_null();
}

/* SUIT_Parameters (or system-property-claims): names for known keys. */
static json_t *properties_json(const cbor_item_t *m, unsigned depth)
{
	json_t *o = json_object();

	for (size_t i = 0; cbor_isa_map(m) && i < cbor_map_size(m) && i < 32; i++) {
		struct cbor_pair p = cbor_map_handle(m)[i];
		int64_t k;
		char key[32];
		const char *name = NULL;
		if (cbor_item_int(p.key, &k)) {
			name = parameter_name(k);
			if (!name) {
				snprintf(key, sizeof(key), "%lld", (long long)k);
				name = key;
			}
		} else if (cbor_isa_string(p.key) && cbor_string_is_definite(p.key) &&
			   cbor_string_length(p.key) < sizeof(key)) {
			snprintf(key, sizeof(key), "%.*s", (int)cbor_string_length(p.key),
				 (const char *)cbor_string_handle(p.key));
			name = key;
		} else {
			continue;
		}
		json_object_set_new(o, name, value_json(p.value, depth));
	}
	return o;
}

/* The value span of integer key k in the map item at span m. */
static bool span_map_get(struct cbor_span m, int64_t k, struct cbor_span *ret)
{
	struct cbor_iter it;
	struct cbor_span key, value;
	int64_t got;

	if (!cbor_iter_init(m, CBOR_MAP, &it))
		return false;
	while (cbor_iter_next(&it, &key, &value))
		if (cbor_span_int(key, &got) && got == k) {
			*ret = value;
			return true;
		}
	return false;
}

/* Where the report's records point: the stored envelope's manifest. */
struct report_manifest {
	struct cbor_span envelope_map, manifest, common;
	cbor_item_t *components; /* decoded common components (2), or NULL */
};

static bool report_manifest_open(const uint8_t *env, size_t len, struct report_manifest *ret)
{
	struct cbor_head h;
	struct cbor_span map = {env, len}, v;

	memset(ret, 0, sizeof(*ret));
	if (!env || !cbor_head_read(env, len, &h))
		return false;
	if (h.major == CBOR_TAG) {
		map.p += h.head_len;
		map.len -= h.head_len;
	}
	if (!span_map_get(map, 3, &v) || !cbor_bstr_content(v, &ret->manifest))
		return false;
	ret->envelope_map = map;
	if (span_map_get(ret->manifest, 3, &v) && cbor_bstr_content(v, &ret->common) &&
	    span_map_get(ret->common, 2, &v))
		ret->components = cbor_span_load(v);
	return true;
}

/* A section's command sequence: inline in the manifest, severed into the
 * envelope, or (3) the common shared sequence. */
static bool report_section(const struct report_manifest *m, int64_t section, struct cbor_span *ret)
{
	struct cbor_span v;
	struct cbor_head h;

	if (section == 3)
		return m->common.p && span_map_get(m->common, 4, &v) && cbor_bstr_content(v, ret);
	if (!span_map_get(m->manifest, section, &v) || !cbor_head_read(v.p, v.len, &h))
		return false;
	if (h.major == CBOR_BSTR)
		return cbor_bstr_content(v, ret);
	return span_map_get(m->envelope_map, section, &v) && cbor_bstr_content(v, ret);
}

/* The command at byte offset `offset` of the sequence (its first byte, the
 * array head, is 0); *within when the offset falls inside its argument. */
static bool command_at(struct cbor_span seq, uint64_t offset, int64_t *ret, bool *within)
{
	struct cbor_iter it;
	struct cbor_span cmd, arg, unused;

	if (!cbor_iter_init(seq, CBOR_ARRAY, &it))
		return false;
	while (cbor_iter_next(&it, &cmd, &unused) && cbor_iter_next(&it, &arg, &unused)) {
		uint64_t at = (uint64_t)(cmd.p - seq.p), end = (uint64_t)(arg.p + arg.len - seq.p);
		if (offset >= at && offset < end) {
			*within = offset != at;
			return cbor_span_int(cmd, ret);
		}
	}
	return false;
}

static json_t *component_id_hex(const cbor_item_t *comps, int64_t index)
{
	const cbor_item_t *id;
	json_t *a;

	if (!comps || !cbor_isa_array(comps) || index < 0 ||
	    (size_t)index >= cbor_array_size(comps))
		return json_null();
	id = cbor_array_handle(comps)[index];
	if (!cbor_isa_array(id))
		return json_null();
	a = json_array();
	for (size_t i = 0; i < cbor_array_size(id); i++)
		json_array_append_new(a, value_json(cbor_array_handle(id)[i], 1));
	return a;
}

/* SUIT_Record = [manifest-id, section, offset, component, properties] */
static json_t *record_json(const cbor_item_t *rec, const struct report_manifest *m)
{
	int64_t section, offset, component, cmd;
	struct cbor_span seq;
	bool within = false;
	json_t *o;

	if (cbor_isa_map(rec)) /* system-property-claims */
		return json_pack("{s:o}", "system_properties", properties_json(rec, 0));
	if (!rec || !cbor_isa_array(rec) || cbor_array_size(rec) < 4 ||
	    !cbor_item_int(cbor_array_handle(rec)[1], &section) ||
	    !cbor_item_int(cbor_array_handle(rec)[2], &offset) ||
	    !cbor_item_int(cbor_array_handle(rec)[3], &component))
		return json_pack("{s:b}", "malformed", true);
	o = json_pack("{s:o, s:I, s:s, s:I, s:I}", "manifest_id",
		      value_json(cbor_array_handle(rec)[0], 1), "section", (json_int_t)section,
		      "section_name", section_name(section), "offset", (json_int_t)offset,
		      "component", (json_int_t)component);
	json_object_set_new(o, "component_id",
			    m ? component_id_hex(m->components, component) : json_null());
	if (m && offset >= 0 && report_section(m, section, &seq) &&
	    command_at(seq, (uint64_t)offset, &cmd, &within)) {
		json_object_set_new(o, "command", json_string(command_name(cmd)));
		json_object_set_new(o, "command_id", json_integer((json_int_t)cmd));
		if (within)
			json_object_set_new(o, "within_argument", json_true());
	} else {
		json_object_set_new(o, "command", json_null());
	}
	if (cbor_array_size(rec) >= 5)
		json_object_set_new(o, "properties", properties_json(cbor_array_handle(rec)[4], 0));
	return o;
}

json_t *suit_report_describe(const uint8_t *data, size_t len, const uint8_t *envelope,
			     size_t envelope_len)
{
	CLEANUP_CBOR cbor_item_t *m = cbor_span_load((struct cbor_span){data, len});
	struct report_manifest rm;
	bool have_manifest = report_manifest_open(envelope, envelope_len, &rm);
	const cbor_item_t *records, *result;
	json_t *out, *arr;

	if (!m || !cbor_isa_map(m)) {
		if (rm.components)
			cbor_decref(&rm.components);
		return NULL;
	}
	arr = json_array();
	records = cbor_map_get_int(m, 3);
	for (size_t i = 0;
	     records && cbor_isa_array(records) && i < cbor_array_size(records) && i < 64; i++)
		json_array_append_new(arr, record_json(cbor_array_handle(records)[i],
						       have_manifest ? &rm : NULL));
	out = json_pack("{s:o}", "records", arr);
	result = cbor_map_get_int(m, 4);
	if (result && cbor_isa_map(result)) {
		int64_t reason = -1, code;
		const cbor_item_t *rec = cbor_map_get_int(result, 6);
		json_t *r = json_object();
		if (!cbor_item_int(cbor_map_get_int(result, 7), &reason))
			reason = -1;
		json_object_set_new(r, "reason", json_string(suit_report_reason_name(reason)));
		json_object_set_new(r, "reason_id",
				    reason >= 0 ? json_integer((json_int_t)reason) : json_null());
		json_object_set_new(r, "code",
				    cbor_item_int(cbor_map_get_int(result, 5), &code)
					    ? json_integer((json_int_t)code)
					    : json_null());
		json_object_set_new(r, "record",
				    rec ? record_json(rec, have_manifest ? &rm : NULL)
					: json_null());
		json_object_set_new(out, "failure", r);
	}
	json_object_set_new(out, "manifest_known", json_boolean(have_manifest));
	if (rm.components)
		cbor_decref(&rm.components);
	return out;
}
