#include "tools/suit-sim/reportbody.h"

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

char *sim_report_json(const char *manifest_hex, const char *state, int progress,
		      const struct sim_failure *failure, size_t *ret_len)
{
	json_t *j = json_pack("{s:s, s:s}", "manifest", manifest_hex, "state", state);
	char *text;

	if (!j)
		return NULL;
	if (progress >= 0)
		json_object_set_new(j, "progress", json_integer(progress));
	if (failure) {
		json_object_set_new(j, "reason", json_string(failure->text));
		json_object_set_new(j, "code", json_integer((json_int_t)failure->code));
	}
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text)
		*ret_len = strlen(text);
	return text;
}

/* A CBOR writer over a fixed buffer: a failed write sticks. */
struct writer {
	uint8_t *p;
	size_t len, size;
	bool full;
};

static void put(struct writer *w, const void *data, size_t len)
{
	if (w->full || len > w->size - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, data, len);
	w->len += len;
}

/* A head: major type and argument, shortest form (deterministic). */
static void head(struct writer *w, unsigned major, uint64_t arg)
{
	uint8_t b[9];
	size_t n;

	b[0] = (uint8_t)(major << 5);
	if (arg < 24) {
		b[0] |= (uint8_t)arg;
		n = 1;
	} else if (arg <= UINT8_MAX) {
		b[0] |= 24;
		b[1] = (uint8_t)arg;
		n = 2;
	} else if (arg <= UINT16_MAX) {
		b[0] |= 25;
		n = 3;
	} else if (arg <= UINT32_MAX) {
		b[0] |= 26;
		n = 5;
	} else {
		b[0] |= 27;
		n = 9;
	}
	for (size_t i = 1; n > 2 && i < n; i++)
		b[i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	put(w, b, n);
}

static void integer(struct writer *w, int64_t v)
{
	if (v >= 0)
		head(w, 0, (uint64_t)v);
	else
		head(w, 1, (uint64_t)(-(v + 1)));
}

size_t sim_report_suit(const struct suit_digest *manifest_digest, const struct sim_failure *failure,
		       uint8_t *out, size_t size)
{
	static const uint8_t simple_true = 0xf5;
	struct writer w = {out, 0, size, false};

	head(&w, 5, 3);
	/* 99 suit-reference: [uri "", SUIT_Digest] */
	integer(&w, 99);
	head(&w, 4, 2);
	head(&w, 3, 0);
	head(&w, 4, 2);
	integer(&w, manifest_digest->alg);
	head(&w, 2, manifest_digest->len);
	put(&w, manifest_digest->bytes, manifest_digest->len);
	/* 3 suit-report-records: none */
	integer(&w, 3);
	head(&w, 4, 0);
	/* 4 suit-report-result */
	integer(&w, 4);
	if (!failure) {
		put(&w, &simple_true, 1);
	} else {
		head(&w, 5, 3);
		integer(&w, 5); /* suit-report-result-code */
		integer(&w, failure->code);
		integer(&w, 6); /* suit-report-result-record: SUIT_Record */
		head(&w, 4, 5);
		head(&w, 4, 0); /* manifest-id: the root manifest */
		integer(&w, failure->section);
		integer(&w, 0); /* offset */
		integer(&w, 0); /* component */
		head(&w, 5, 0); /* properties */
		integer(&w, 7); /* suit-report-result-reason */
		integer(&w, failure->reason);
	}
	return w.full ? 0 : w.len;
}
