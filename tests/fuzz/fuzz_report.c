/* libFuzzer target: the SUIT_Report parser (suit/report.c). */
#include <stdint.h>
#include <stdlib.h>

#include "suit/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct suit_report r;
	struct diag d = {0};

	if (suit_report_parse(data, size, &r, &d) == ERR_OK) {
		/* Invariants the report handler relies on. */
		if (r.manifest_digest.len > SUIT_MAX_DIGEST || (r.success && r.has_record))
			abort();
		(void)suit_report_reason_name(r.reason);
	}
	return 0;
}
