/* SUIT_Report (draft-ietf-suit-report, suit.md §10): the fields the Status
 * Tracker needs, from a bare (unsigned) report. */
#ifndef SUITD_SUIT_REPORT_H
#define SUITD_SUIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "suit/suit.h"

struct suit_report {
	struct suit_digest manifest_digest; /* suit-report-manifest-digest */
	bool success;			    /* result true */
	bool invoked;			    /* a record of the invoke section (9) */
	/* On failure (result map): */
	bool has_code;
	int64_t code;
	int64_t reason; /* SUIT_Report Reasons registry value, -1 = none */
	bool has_record;
	int64_t section, offset, component;
};

/* Name of a SUIT_Report reason ("condition-failed"), or "unknown". */
const char *suit_report_reason_name(int64_t reason);

/* Parse a bare SUIT_Report. Map keys may come in any order; a repeated
 * integer key is refused (a report must say one thing). ERR_INVALID with d
 * naming the field otherwise. */
enum err suit_report_parse(const uint8_t *data, size_t len, struct suit_report *ret,
			   struct diag *d);

#endif
