#include "suit/cbor.h"

#include <string.h>

bool cbor_head_read(const uint8_t *p, size_t len, struct cbor_head *ret)
{
	uint8_t ai;
	size_t extra;
	uint64_t arg = 0;

	if (len < 1)
		return false;
	ai = p[0] & 0x1f;
	if (ai < 24) {
		extra = 0;
		arg = ai;
	} else if (ai <= 27) {
		extra = (size_t)1 << (ai - 24);
	} else {
		return false; /* 28-30 reserved, 31 indefinite */
	}
	if (len < 1 + extra)
		return false;
	for (size_t i = 0; i < extra; i++)
		arg = arg << 8 | p[1 + i];
	ret->major = (enum cbor_major)(p[0] >> 5);
	ret->arg = arg;
	ret->head_len = 1 + extra;
	return true;
}

static bool item_len(const uint8_t *p, size_t len, unsigned depth, size_t *ret_len, size_t *budget)
{
	struct cbor_head h;
	size_t off;

	if (depth > CBOR_MAX_DEPTH || !cbor_head_read(p, len, &h) || *budget == 0)
		return false;
	(*budget)--;
	off = h.head_len;
	switch (h.major) {
	case CBOR_UINT:
	case CBOR_NINT:
	case CBOR_SIMPLE:
		break;
	case CBOR_BSTR:
	case CBOR_TSTR:
		if (h.arg > len - off)
			return false;
		off += (size_t)h.arg;
		break;
	case CBOR_ARRAY:
	case CBOR_MAP: {
		uint64_t n = h.arg;
		/* Every item is at least one byte: a count larger than what is
		 * left is a lie, refused before any loop. */
		if (h.major == CBOR_MAP && n > UINT64_MAX / 2)
			return false;
		if (h.major == CBOR_MAP)
			n *= 2;
		if (n > len - off)
			return false;
		for (uint64_t i = 0; i < n; i++) {
			size_t sub;
			if (!item_len(p + off, len - off, depth + 1, &sub, budget))
				return false;
			off += sub;
		}
		break;
	}
	case CBOR_TAG: {
		size_t sub;
		if (!item_len(p + off, len - off, depth + 1, &sub, budget))
			return false;
		off += sub;
		break;
	}
	}
	*ret_len = off;
	return true;
}

bool cbor_item_len(const uint8_t *p, size_t len, size_t *ret_len)
{
	size_t budget = SIZE_MAX;

	return item_len(p, len, 0, ret_len, &budget);
}

bool cbor_bstr_content(struct cbor_span item, struct cbor_span *ret_content)
{
	struct cbor_head h;

	if (!cbor_head_read(item.p, item.len, &h) || h.major != CBOR_BSTR ||
	    h.arg != item.len - h.head_len)
		return false;
	ret_content->p = item.p + h.head_len;
	ret_content->len = (size_t)h.arg;
	return true;
}

bool cbor_iter_init(struct cbor_span item, enum cbor_major want, struct cbor_iter *it)
{
	struct cbor_head h;

	if (!cbor_head_read(item.p, item.len, &h) || h.major != want)
		return false;
	it->p = item.p + h.head_len;
	it->end = item.p + item.len;
	it->left = h.arg;
	it->map = want == CBOR_MAP;
	return true;
}

bool cbor_iter_next(struct cbor_iter *it, struct cbor_span *ret_key, struct cbor_span *ret_value)
{
	size_t n;

	if (it->left == 0)
		return false;
	if (!cbor_item_len(it->p, (size_t)(it->end - it->p), &n))
		return false;
	ret_key->p = it->p;
	ret_key->len = n;
	it->p += n;
	if (it->map) {
		if (!cbor_item_len(it->p, (size_t)(it->end - it->p), &n))
			return false;
		ret_value->p = it->p;
		ret_value->len = n;
		it->p += n;
	}
	it->left--;
	return true;
}

bool cbor_iter_done(const struct cbor_iter *it)
{
	return it->left == 0 && it->p == it->end;
}

bool cbor_span_int(struct cbor_span item, int64_t *ret)
{
	struct cbor_head h;

	if (!cbor_head_read(item.p, item.len, &h) || h.head_len != item.len ||
	    h.arg > (uint64_t)INT64_MAX)
		return false;
	if (h.major == CBOR_UINT)
		*ret = (int64_t)h.arg;
	else if (h.major == CBOR_NINT)
		*ret = -1 - (int64_t)h.arg;
	else
		return false;
	return true;
}

cbor_item_t *cbor_span_load(struct cbor_span item)
{
	struct cbor_load_result res;
	size_t n;

	/* libcbor 0.8 allocates a definite array or map for its declared count
	 * before it knows the bytes are there (13 bytes could ask for
	 * gigabytes): walk the item first, which refuses counts larger than the
	 * bytes left, nesting deeper than CBOR_MAX_DEPTH and more than
	 * CBOR_MAX_ITEMS items (each costs libcbor a heap object). */
	size_t budget = CBOR_MAX_ITEMS;
	if (!item_len(item.p, item.len, 0, &n, &budget) || n != item.len)
		return NULL;
	cbor_item_t *it = cbor_load(item.p, item.len, &res);

	if (it && (res.error.code != CBOR_ERR_NONE || res.read != item.len)) {
		cbor_decref(&it);
		return NULL;
	}
	return it;
}

bool cbor_item_int(const cbor_item_t *item, int64_t *ret)
{
	uint64_t v;

	if (!item || !cbor_is_int(item))
		return false;
	v = cbor_get_int(item);
	if (v > (uint64_t)INT64_MAX)
		return false;
	*ret = cbor_isa_uint(item) ? (int64_t)v : -1 - (int64_t)v;
	return true;
}

static bool simple_value(const cbor_item_t *item, uint8_t *ret)
{
	if (!item || !cbor_isa_float_ctrl(item) || cbor_float_get_width(item) != CBOR_FLOAT_0)
		return false;
	*ret = cbor_ctrl_value(item);
	return true;
}

bool cbor_item_is_true(const cbor_item_t *item)
{
	uint8_t v;

	return simple_value(item, &v) && v == CBOR_CTRL_TRUE;
}

bool cbor_item_is_null(const cbor_item_t *item)
{
	uint8_t v;

	return simple_value(item, &v) && v == CBOR_CTRL_NULL;
}

cbor_item_t *cbor_map_get_int(const cbor_item_t *map, int64_t key)
{
	struct cbor_pair *pairs;
	size_t n;

	if (!map || !cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++) {
		int64_t k;
		if (cbor_item_int(pairs[i].key, &k) && k == key)
			return pairs[i].value;
	}
	return NULL;
}
