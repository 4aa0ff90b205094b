/* libFuzzer target: a device's SUIT report body, as the report handler
 * reads it: the COSE_Sign1 wrapper (suit/report_cose.c, verified against a
 * registered key on every other input) and the SUIT_Report inside
 * (suit/report.c). */
#include <stdint.h>
#include <stdlib.h>

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
	return 0;
}
