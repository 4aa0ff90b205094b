#include "suit/report.h"

#include <string.h>

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
