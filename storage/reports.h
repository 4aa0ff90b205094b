/* Device reports: stored raw, applied to their assignment in the same
 * transaction. */
#ifndef SUITD_STORAGE_REPORTS_H
#define SUITD_STORAGE_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/batch.h"
#include "storage/deployments.h"

struct report_new {
	int64_t device_num;
	const uint8_t *digest; /* manifest digest the report is about */
	size_t digest_len;
	enum assignment_state state; /* what the device says */
	int progress;		     /* -1 = none */
	const char *reason;	     /* NULL = none */
	bool has_code;
	int64_t code;
	const char *media_type;
	const void *body;
	size_t body_len;
	const char *signature; /* "verified", "unchecked" or NULL (not signed) */
};

/* The decision of the state machine: from the assignment's current state
 * and the report, the new state (== current for no change); false refuses
 * the report (*why says why). */
typedef bool (*report_decide)(enum assignment_state current, const struct report_new *r,
			      enum assignment_state *ret_next, const char **why);

/* A report on its way through the group commit (storage/batch.h). */
struct report_job {
	struct batch_job base; /* first; base.done is the caller's */
	struct report_new r;
	report_decide decide;
	/* In done(), when ERR_OK: */
	int64_t assignment;
	enum assignment_state next;
	bool changed; /* the assignment's state changed */
	/* When ERR_CONFLICT: why decide refused. */
	const char *why;
};

/* Queue a report. In the next batch transaction: find the device's newest
 * assignment of the manifest (ERR_NOT_FOUND: never assigned), decide
 * (ERR_CONFLICT: refused, why set), apply, store the report raw. The job
 * and what r points to must live until base.done runs. */
void storage_report_submit(struct batcher *b, struct report_job *job);

struct report_row {
	int64_t id;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	char state[16];
	int progress; /* -1 = none */
	char reason[257];
	bool has_code;
	int64_t code;
	char media_type[64];
	void *body; /* malloc'ed */
	size_t body_len;
	int64_t received_at;
	char signature[16]; /* "" = not signed */
};

/* Newest first: ids below before (INT64_MAX for the first page). */
enum err storage_reports_of_device(struct storage *s, const char *device_id, int64_t before,
				   unsigned max, struct report_row *ret, unsigned *ret_count);
void report_row_release(struct report_row *r);

/* Delete at most max reports received before `before` (one short write
 * transaction); *ret_count = how many went. */
enum err storage_reports_expire(struct storage *s, int64_t before, unsigned max,
				unsigned *ret_count);

#endif
