/* libFuzzer target: a device's SUIT report body, as the report handler
 * reads it: the COSE_Sign1 wrapper (suit/report_cose.c, verified against a
 * registered key on every other input) and the SUIT_Report inside
 * (suit/report.c), then as the report listing decodes it
 * (suit_report_describe), against a small built-in envelope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suit/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A P-256 public key, test-only (its private half was thrown away). */
static const char report_key[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERRn6z3OPR1uXfSUFpYs5ngEEN8xq\n"
	"pIvsvXF/Ib204f4enLj4HYNpxekg1rJs09Efefeughv/nfKCklCk21DLHA==\n"
	"-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct suit_report r;
	struct diag d = {0};
	struct cbor_span payload;
	enum suit_report_auth auth;
	const char *key = size % 2 ? report_key : NULL;

	if (suit_report_open(data, size, key, &payload, &auth, &d) != ERR_OK)
		return 0;
	/* The payload lies inside the input. */
	if (payload.p < data || payload.p + payload.len > data + size)
		abort();
	/* Nobody holds the private key: nothing can verify. */
	if (auth == SUIT_REPORT_SIGNED_VERIFIED)
		abort();
	if (suit_report_parse(payload.p, payload.len, &r, &d) == ERR_OK) {
		/* Invariants the report handler relies on. */
		if (r.manifest_digest.len > SUIT_MAX_DIGEST || (r.success && r.has_record))
			abort();
		(void)suit_report_reason_name(r.reason);
	}
	/* The listing: every record named against a stored manifest, or
	 * without one. 107({2: h'', 3: <<{3: <<{2: [[h'00']], 4: <<[12, 0]>>}>>,
	 * 20: <<[20, {}, 21, 15]>>}>>}) */
	static const uint8_t envelope[] = {
		0xd8, 0x6b, 0xa2, 0x02, 0x40, 0x03, 0x55, 0xa2, 0x03, 0x4b, 0xa2, 0x02, 0x81, 0x81,
		0x41, 0x00, 0x04, 0x43, 0x82, 0x0c, 0x00, 0x14, 0x45, 0x84, 0x14, 0xa0, 0x15, 0x0f};
	for (int with = 0; with < 2; with++) {
		json_t *j = suit_report_describe(payload.p, payload.len, with ? envelope : NULL,
						 with ? sizeof(envelope) : 0);
		if (j && !json_is_array(json_object_get(j, "records")))
			abort();
		json_decref(j);
	}
	return 0;
}
