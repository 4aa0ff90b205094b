/* Payload store: content-addressed firmware images in fixed-size chunk rows.
 * A writer streams an upload into chunks; nothing is visible until commit. */
#ifndef SUITD_STORAGE_PAYLOADS_H
#define SUITD_STORAGE_PAYLOADS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/storage.h"

#define PAYLOAD_NAME_MAX 255

struct payload {
	int64_t id;
	uint8_t sha256[SHA256_LEN];
	uint64_t size;
	char name[PAYLOAD_NAME_MAX + 1]; /* "" = none */
	int64_t created_at;
	int64_t upload_id;
	uint32_t chunk_size;
};

struct payload_writer;

struct batcher;

/* Chunk buffers of concurrent uploads per transaction, for the uploads'
 * batcher: 4 × 4 MiB bounds the WAL growth of one commit. */
#define UPLOAD_FLUSHES_PER_TXN 4

/* Start an upload (a 'receiving' uploads row). With BATCHER, full batches
 * are written by its thread while the next one fills (the caller keeps
 * receiving); NULL writes them in the caller's thread. */
enum err storage_payload_writer_new(struct storage *s, struct batcher *batcher,
				    struct payload_writer **ret_writer);
/* Buffer bytes; full batches of chunks are written in short transactions.
 * An error of an earlier batch written in the background comes back here. */
enum err storage_payload_writer_append(struct payload_writer *w, const void *data, size_t len);
/* Write the rest and make the payload visible in one transaction. When a
 * payload with this digest exists already, the upload's chunks are dropped
 * and that one is returned with *ret_created = false. */
enum err storage_payload_writer_commit(struct payload_writer *w, const uint8_t sha256[SHA256_LEN],
				       uint64_t size, const char *name, const char *actor,
				       struct payload *ret_payload, bool *ret_created);
/* Free; an upload that was not committed is deleted with its chunks. */
void storage_payload_writer_free(struct payload_writer *w);

/* Delete the uploads of this process that failed while the database was
 * gone (their rows stayed 'receiving'), now that it may answer: the
 * housekeeping loop calls it once a second; nothing to do is no query.
 * ERR_STORAGE_UNAVAILABLE (and the ids kept) while it still does not
 * answer. A committed upload is never deleted: its payload's foreign key
 * refuses, and the id is dropped. */
enum err storage_payload_orphans_sweep(struct storage *s, unsigned *ret_removed,
				       unsigned *ret_left);
/* Remove uploads left 'receiving' that started before started_before
 * (seconds): at start-up every one on a database of its own (INT64_MAX),
 * on a shared one only those older than UPLOAD_STALE_SECONDS, since another
 * node may be receiving the younger ones (storage/cluster.h). */
enum err storage_payload_cleanup(struct storage *s, int64_t started_before, unsigned *ret_removed);
/* An upload in progress for longer is taken for abandoned on a shared
 * database (its node died; nothing else removes it there). */
#define UPLOAD_STALE_SECONDS (24 * 3600)

enum err storage_payload_get(struct storage *s, const uint8_t sha256[SHA256_LEN],
			     struct payload *ret_payload);
enum err storage_payload_list(struct storage *s, int64_t after, unsigned max,
			      struct payload *ret_payloads, unsigned *ret_count);
/* ERR_NOT_FOUND if absent; ERR_CONFLICT while something refers to it. */
enum err storage_payload_delete(struct storage *s, const uint8_t sha256[SHA256_LEN],
				const char *actor);
/* Exactly len bytes at offset (offset + len <= size), each read in its own
 * short transaction so a slow client never pins the WAL. */
enum err storage_payload_read(struct storage *s, const struct payload *p, uint64_t offset,
			      void *buf, size_t len);

#endif
