/* A small bounded CBOR walker: reads item heads and finds the exact byte
 * extent of one encoded item, so digests can be computed over the original
 * bytes (libcbor's decoder copies byte strings and loses their encoding).
 * Contents are decoded with libcbor. Only definite lengths are accepted:
 * SUIT requires deterministic encoding (RFC 8949 §4.2). */
#ifndef SUITD_SUIT_CBOR_H
#define SUITD_SUIT_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

/* Nesting deeper than this is refused (stack and time stay bounded). */
#define CBOR_MAX_DEPTH 48
/* Items one libcbor decode may create (a 1 MiB manifest of one-byte items
 * would otherwise cost ~100 MB of heap). */
#define CBOR_MAX_ITEMS 65536

enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NINT = 1,
	CBOR_BSTR = 2,
	CBOR_TSTR = 3,
	CBOR_ARRAY = 4,
	CBOR_MAP = 5,
	CBOR_TAG = 6,
	CBOR_SIMPLE = 7,
};

struct cbor_head {
	enum cbor_major major;
	uint64_t arg;	 /* value, length, count or tag number */
	size_t head_len; /* bytes of the initial byte + argument */
};

/* An item inside a buffer: where it starts and how long it is, head
 * included. For a bstr, the content is at off + head_len. */
struct cbor_span {
	const uint8_t *p;
	size_t len;
};

/* Read the head at p (at most len bytes). False on truncation, reserved
 * additional information or indefinite length. */
bool cbor_head_read(const uint8_t *p, size_t len, struct cbor_head *ret);
/* Total encoded length of the item at p, nested items included. */
bool cbor_item_len(const uint8_t *p, size_t len, size_t *ret_len);

/* The content of a bstr item (span of the whole item). */
bool cbor_bstr_content(struct cbor_span item, struct cbor_span *ret_content);

/* Iterate the entries of a map or array item: cursor-style. */
struct cbor_iter {
	const uint8_t *p, *end;
	uint64_t left; /* items (arrays) or pairs (maps) still to read */
	bool map;
};
bool cbor_iter_init(struct cbor_span item, enum cbor_major want, struct cbor_iter *it);
/* Next element (or key/value pair for maps; value NULL for arrays). */
bool cbor_iter_next(struct cbor_iter *it, struct cbor_span *ret_key, struct cbor_span *ret_value);
/* Whether the iterator consumed the container exactly. */
bool cbor_iter_done(const struct cbor_iter *it);

/* Integer value of a uint/nint item (false otherwise or out of int64). */
bool cbor_span_int(struct cbor_span item, int64_t *ret);

/* libcbor helpers (0.8 API). */
cbor_item_t *cbor_span_load(struct cbor_span item);
static inline void cbor_item_cleanup(cbor_item_t **item)
{
	if (*item) /* cbor_decref crashes on NULL in libcbor 0.8 */
		cbor_decref(item);
}
#define CLEANUP_CBOR __attribute__((cleanup(cbor_item_cleanup)))
/* Integer of a libcbor item (uint or negint), false otherwise. */
bool cbor_item_int(const cbor_item_t *item, int64_t *ret);
/* true/false/null tests that are safe on any item: libcbor 0.8's
 * cbor_is_bool and cbor_is_null assert (abort the process) when handed a
 * float, which is a major-type-7 item too. */
bool cbor_item_is_true(const cbor_item_t *item);
bool cbor_item_is_null(const cbor_item_t *item);
/* Map lookup by integer key (NULL if absent). */
cbor_item_t *cbor_map_get_int(const cbor_item_t *map, int64_t key);

#endif
