/* A hash map from positive 64-bit integers to fixed-size values: linear
 * probing, backward-shift deletion, grows at half full. Not thread-safe:
 * callers hold their own lock. */
#ifndef SUITD_COMMON_I64MAP_H
#define SUITD_COMMON_I64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct i64map {
	size_t value_size;
	size_t cap; /* slots, a power of two (0 before the first put) */
	size_t used;
	uint8_t *slots; /* each: int64 key (0 = free) then the value */
};

void i64map_init(struct i64map *m, size_t value_size);
void i64map_release(struct i64map *m);
/* Pointer to the value of key, or NULL. Valid until the next put/del. */
void *i64map_get(const struct i64map *m, int64_t key);
/* Value slot for key, inserted zeroed when new (*ret_new); NULL on OOM or a
 * key <= 0. */
void *i64map_put(struct i64map *m, int64_t key, bool *ret_new);
bool i64map_del(struct i64map *m, int64_t key);
/* Visit every entry (do not modify the map meanwhile). */
void i64map_each(const struct i64map *m, void (*fn)(void *cls, int64_t key, void *value),
		 void *cls);
/* Drop every entry, keep the allocation. */
void i64map_clear(struct i64map *m);

#endif
