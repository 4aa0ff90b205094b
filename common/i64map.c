#include "common/i64map.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP 64

static size_t slot_size(const struct i64map *m)
{
	/* Keep keys aligned. */
	return sizeof(int64_t) + ((m->value_size + 7) & ~(size_t)7);
}

static uint8_t *slot(const struct i64map *m, size_t i)
{
	return m->slots + i * slot_size(m);
}

static int64_t key_at(const struct i64map *m, size_t i)
{
	int64_t k;

	memcpy(&k, slot(m, i), sizeof(k));
	return k;
}

static size_t home(const struct i64map *m, int64_t key)
{
	return (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ull >> 17) & (m->cap - 1);
}

void i64map_init(struct i64map *m, size_t value_size)
{
	memset(m, 0, sizeof(*m));
	m->value_size = value_size;
}

void i64map_release(struct i64map *m)
{
	free(m->slots);
	i64map_init(m, m->value_size);
}

static size_t find(const struct i64map *m, int64_t key)
{
	size_t i = home(m, key);

	while (key_at(m, i) && key_at(m, i) != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void *i64map_get(const struct i64map *m, int64_t key)
{
	size_t i;

	if (!m->cap || key <= 0)
		return NULL;
	i = find(m, key);
	return key_at(m, i) == key ? slot(m, i) + sizeof(int64_t) : NULL;
}

static bool grow(struct i64map *m)
{
	struct i64map bigger = *m;

	bigger.cap = m->cap ? m->cap * 2 : INITIAL_CAP;
	bigger.slots = calloc(bigger.cap, slot_size(m));
	if (!bigger.slots)
		return false;
	for (size_t i = 0; i < m->cap; i++)
		if (key_at(m, i))
			memcpy(slot(&bigger, find(&bigger, key_at(m, i))), slot(m, i),
			       slot_size(m));
	free(m->slots);
	m->slots = bigger.slots;
	m->cap = bigger.cap;
	return true;
}

void *i64map_put(struct i64map *m, int64_t key, bool *ret_new)
{
	size_t i;

	if (key <= 0)
		return NULL;
	if ((m->used + 1) * 2 > m->cap && !grow(m))
		return NULL;
	i = find(m, key);
	*ret_new = key_at(m, i) != key;
	if (*ret_new) {
		memset(slot(m, i), 0, slot_size(m));
		memcpy(slot(m, i), &key, sizeof(key));
		m->used++;
	}
	return slot(m, i) + sizeof(int64_t);
}

bool i64map_del(struct i64map *m, int64_t key)
{
	size_t i, j;

	if (!m->cap || key <= 0)
		return false;
	i = find(m, key);
	if (key_at(m, i) != key)
		return false;
	/* Backward shift: move later entries of the run into the hole when
	 * their home does not lie cyclically in (hole, their slot]. */
	for (j = (i + 1) & (m->cap - 1); key_at(m, j); j = (j + 1) & (m->cap - 1)) {
		size_t h = home(m, key_at(m, j));
		bool movable = i <= j ? (h <= i || h > j) : (h <= i && h > j);
		if (movable) {
			memcpy(slot(m, i), slot(m, j), slot_size(m));
			i = j;
		}
	}
	memset(slot(m, i), 0, slot_size(m));
	m->used--;
	return true;
}

void i64map_each(const struct i64map *m, void (*fn)(void *cls, int64_t key, void *value), void *cls)
{
	for (size_t i = 0; i < m->cap; i++)
		if (key_at(m, i))
			fn(cls, key_at(m, i), slot(m, i) + sizeof(int64_t));
}

void i64map_clear(struct i64map *m)
{
	if (m->slots)
		memset(m->slots, 0, m->cap * slot_size(m));
	m->used = 0;
}
