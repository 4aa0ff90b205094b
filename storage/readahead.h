/* Read-ahead of payload bytes for downloads (issue 21): while the server
 * sends one block of a download, a worker thread reads the next one from
 * the database, so the database's time and the TLS sending overlap instead
 * of adding up. On PostgreSQL a read is a round trip to another process
 * (docs/design.md "Download read-ahead"). */
#ifndef SUITD_STORAGE_READAHEAD_H
#define SUITD_STORAGE_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/payloads.h"
#include "storage/storage.h"

/* The largest block read ahead for one download (the daemon's response
 * block, server/daemon.c STREAM_BLOCK): a cursor holds one such buffer. */
#define READAHEAD_BLOCK ((size_t)256 << 10)

struct readahead;
struct payload_cursor;

/* THREADS worker threads, each with its own database connection (opened
 * on its first read; on PostgreSQL one of [storage] pool_size); returns
 * once they wait for work. A block is read ahead only when a thread is
 * free to start at once: on a busy machine downloads read in place. */
enum err readahead_start(struct storage *s, unsigned threads, struct readahead **ret);
/* Stops and joins the threads; the cursors must be freed already (the
 * daemon has stopped). NULL is a no-op. */
void readahead_stop(struct readahead *ra);

/* A download's reader of payload P. RA NULL: every read in place (what
 * storage_payload_read does). */
enum err payload_cursor_new(struct readahead *ra, struct storage *s, const struct payload *p,
			    struct payload_cursor **ret);
/* Exactly LEN bytes at OFFSET into BUF (storage_payload_read's contract),
 * from the block read ahead where it has them; then the next block after
 * them, up to AHEAD_END (exclusive: the end of what the response serves
 * from this part of the payload), is read ahead. A failed read ahead is
 * not an error: those bytes are read again in place. */
enum err payload_cursor_read(struct payload_cursor *c, uint64_t offset, void *buf, size_t len,
			     uint64_t ahead_end);
/* Reads served (in whole or in part) from a block read ahead. */
uint64_t readahead_blocks(struct readahead *ra);
/* A read ahead still running frees the cursor when it ends. NULL is a
 * no-op. */
void payload_cursor_free(struct payload_cursor *c);

#endif
