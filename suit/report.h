/* SUIT_Report (draft-ietf-suit-report, suit.md §10): the fields the Status
 * Tracker needs, from a bare (unsigned) report. */
#ifndef SUITD_SUIT_REPORT_H
#define SUITD_SUIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "suit/cbor.h"
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

/* A bare SUIT_Report decoded for people: {"records": [...], "failure":
 * {reason, reason_id, code, record} (only when the result is a map),
 * "manifest_known"}. Each record shows its section and offset, the
 * component index, and with the stored envelope of the manifest it names
 * (envelope, NULL: unknown) the component id and the command at that offset
 * (offset 0 is the first byte of the section's command sequence, its array
 * head). NULL when data is not a CBOR map. */
json_t *suit_report_describe(const uint8_t *data, size_t len, const uint8_t *envelope,
			     size_t envelope_len);

/* How a report body was protected. */
enum suit_report_auth {
	SUIT_REPORT_BARE,	      /* a bare SUIT_Report */
	SUIT_REPORT_SIGNED_UNCHECKED, /* COSE_Sign1, no key to check it with */
	SUIT_REPORT_SIGNED_VERIFIED,  /* COSE_Sign1 verified with the device's key */
};

/* Open a report body: a bare SUIT_Report, or a COSE_Sign1 (tag 18) with
 * the SUIT_Report attached as its payload. With key_pem (the device's
 * P-256 or Ed25519 public key in PEM; NULL = none) a COSE_Sign1 must
 * verify with it (ES256/ESP256 or EdDSA; a kid, when present, must be the
 * key's RFC 9679 thumbprint). *ret_payload points into data.
 * ERR_INVALID: malformed (d names the field); ERR_MEDIA_TYPE: another COSE
 * structure (Encrypt0, Mac0, Sign); ERR_UNPROCESSABLE: the signature does
 * not verify or its algorithm is not supported; ERR_CONFIG: key_pem is not
 * a usable key. */
enum err suit_report_open(const uint8_t *data, size_t len, const char *key_pem,
			  struct cbor_span *ret_payload, enum suit_report_auth *ret_auth,
			  struct diag *d);

#endif
