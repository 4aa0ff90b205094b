/* Last-seen times and reported sequence numbers of devices, kept in memory
 * and written in one transaction every [devices] seen_flush seconds and at
 * shutdown: a device poll never costs a database write for this. */
#ifndef SUITD_API_SEEN_H
#define SUITD_API_SEEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

struct seen_tracker;

enum err seen_tracker_new(struct seen_tracker **ret);
void seen_tracker_free(struct seen_tracker *t);
/* at: seconds since the epoch; sequence only when has_sequence. */
void seen_record(struct seen_tracker *t, int64_t device_num, int64_t at, bool has_sequence,
		 uint64_t sequence);
/* A download of the device's active assignment is in progress (a Range
 * request, a payload not yet served to its last byte): news for
 * device_timeout, written with the next flush (one write per device per
 * seen_flush, however many requests). */
void seen_news(struct seen_tracker *t, int64_t device_num, int64_t at);
/* What is pending for a device (not yet in the database). */
bool seen_pending(struct seen_tracker *t, int64_t device_num, int64_t *ret_at,
		  bool *ret_has_sequence, uint64_t *ret_sequence);
/* Write everything pending; on failure it stays pending for the next try.
 * *ret_count tells how many devices were written. */
enum err seen_flush(struct seen_tracker *t, struct storage *s, unsigned *ret_count);
/* Before a database read that compares sightings or reported sequence
 * numbers: write what is pending (t may be NULL: nothing to write). A
 * failure leaves it pending; the read then sees the last flush. */
void seen_flush_before_read(struct seen_tracker *t, struct storage *s);

/* The periodic flush on a thread of its own, every interval_s seconds: a
 * flush of many devices takes the write lock in slices for a while, and on
 * the main thread it held up the housekeeping behind it (a stage opening
 * waited for a whole flush of a million devices: issue 15's note). Stop it
 * before the last flush at shutdown. */
struct seen_flusher;
enum err seen_flusher_start(struct seen_tracker *t, struct storage *s, unsigned interval_s,
			    struct seen_flusher **ret);
/* NULL: no-op. */
void seen_flusher_stop(struct seen_flusher *f);
/* Write what is pending and log a failure (the flusher's step, and the
 * last flush at shutdown). */
void seen_flush_logged(struct seen_tracker *t, struct storage *s);

#endif
