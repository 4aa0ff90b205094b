/* suit-sim: the bodies of POST /device/v1/reports — JSON, or a bare
 * SUIT_Report (draft-ietf-suit-report) in CBOR for the final result. */
#ifndef SUITD_TOOLS_SUIT_SIM_REPORTBODY_H
#define SUITD_TOOLS_SUIT_SIM_REPORTBODY_H

#include <stddef.h>
#include <stdint.h>

#include "suit/suit.h"

/* SUIT_Report Reasons (suit/report.c names them). */
#define SIM_REASON_CBOR_PARSE	    1
#define SIM_REASON_ALG_UNSUPPORTED  3
#define SIM_REASON_UNAUTHORISED	    4
#define SIM_REASON_CONDITION_FAILED 10
#define SIM_REASON_OPERATION_FAILED 11

/* Where and why an update failed, for both body forms. */
struct sim_failure {
	int64_t reason;	 /* SUIT_Report reason */
	int64_t section; /* SUIT_Record section: 2 authentication, 7 validate, 20 install */
	int64_t code;	 /* the device's own code */
	char text[200];	 /* the JSON reason */
};

/* {"manifest": hex, "state": state[, "progress": p][, "reason", "code"]}:
 * progress < 0 leaves it out, failure NULL leaves reason and code out.
 * malloc'ed, NUL-terminated; NULL when out of memory. */
char *sim_report_json(const char *manifest_hex, const char *state, int progress,
		      const struct sim_failure *failure, size_t *ret_len);

/* A bare SUIT_Report: {99: ["", digest], 3: [], 4: true} for success
 * (failure NULL), else 4: {5: code, 6: [[], section, 0, 0, {}], 7: reason}.
 * Returns the length written into out, 0 when size is too small. */
size_t sim_report_suit(const struct suit_digest *manifest_digest, const struct sim_failure *failure,
		       uint8_t *out, size_t size);

#endif
