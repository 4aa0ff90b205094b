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

/* What a report does to its assignment (tracker/transitions.c decides). */
enum report_verdict {
	REPORT_MOVE,   /* the assignment takes the reported state; the report is stored */
	REPORT_KEEP,   /* stored; the state stays (late or repeated progress) */
	REPORT_SAME,   /* the final state again: accepted (idempotent), nothing written */
	REPORT_REFUSE, /* 409: nothing written */
};

/* The state machine, handed in by the caller (storage knows no policy):
 * the verdict for a report of `reported` on an assignment in `current`;
 * on REPORT_REFUSE *ret_why says why. */
typedef enum report_verdict (*report_decide)(enum assignment_state current,
					     enum assignment_state reported, const char **ret_why);

/* What the batch read for a report (storage/ only). */
struct report_seen {
	bool found; /* the device has an assignment of the manifest */
	int64_t assignment;
	enum assignment_state state;
	bool replay;			  /* the device's newest report, byte for byte, on it */
	int64_t usage_count, usage_bytes; /* the device's stored reports before this one */
	/* What the segment's statements write for it (report_batch.c). */
	bool touch, insert, bound_exact;
	uint64_t drop;
};

/* A report on its way through the group commit (storage/batch.h). */
struct report_job {
	struct batch_job base; /* first; base.done is the caller's */
	struct report_new r;
	report_decide decide;
	/* The device's stored reports at most, oldest dropped first (the
	 * newest is always kept). */
	uint64_t history_count, history_bytes;
	/* In done(), when ERR_OK: */
	int64_t assignment;
	enum assignment_state next;
	bool changed;	  /* the assignment's state changed */
	bool stored;	  /* false: a replay or the final state again, nothing written */
	unsigned dropped; /* older reports of the device dropped by the bound */
	/* When ERR_CONFLICT: why decide refused. */
	const char *why;
	struct report_seen seen; /* storage's */
};

/* Queue a report. In the next batch transaction: find the device's newest
 * assignment of the manifest (ERR_NOT_FOUND: never assigned); an exact
 * replay of the device's newest report is accepted and writes nothing;
 * otherwise decide (ERR_CONFLICT: refused, why set), apply, store the
 * report raw and drop the device's oldest beyond the history bound. The
 * job and what r points to must live until base.done runs. */
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

/* Newest first: ids below before (INT64_MAX for the first page), at most
 * max rows and, after the first, at most max_bytes of bodies in all, so a
 * page's memory is bounded whatever the rows hold. *ret_more: rows are
 * left after the last one returned. */
enum err storage_reports_of_device(struct storage *s, const char *device_id, int64_t before,
				   unsigned max, size_t max_bytes, struct report_row *ret,
				   unsigned *ret_count, bool *ret_more);
void report_row_release(struct report_row *r);

/* Delete at most max reports received before `before` (one short write
 * transaction); *ret_count = how many went. */
enum err storage_reports_expire(struct storage *s, int64_t before, unsigned max,
				unsigned *ret_count);

#endif
