#include "storage/payloads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/timeutil.h"
#include "storage/backend.h"
#include "storage/batch.h"
#include "storage/db.h"

/* Chunk size of new uploads (docs/design.md "Payload storage" has the
 * measurement behind it); each payload remembers its own. */
#define PAYLOAD_CHUNK_SIZE (64u * 1024u)
/* Chunks written per write transaction (4 MiB): the write lock is held
 * only while a batch already in memory is inserted, never across network
 * reads. With a batcher, an upload has two such buffers (8 MiB). */
#define CHUNKS_PER_TXN 64u

/* One full buffer on its way to the database through the batcher. */
struct chunk_flush {
	struct batch_job job; /* first: the batcher's callbacks get this */
	struct payload_writer *w;
	const char *data;
	size_t len;
	int64_t first_seq;
};

struct payload_writer {
	struct storage *s;
	struct batcher *batcher; /* NULL: each batch is written in place */
	int64_t upload_id;
	uint32_t chunk_size;
	int64_t next_seq;
	char *batch; /* the buffer being filled */
	size_t batch_len;
	size_t batch_cap;
	char *spare; /* the other buffer: free, or in flight */
	bool committed;
	/* The flush in flight, if any: the writer fills one buffer while the
	 * batcher's thread inserts the other (the network thread and the
	 * database then use both cores). */
	pthread_mutex_t lock;
	pthread_cond_t flushed;
	bool in_flight;
	enum err flush_error; /* of an earlier flush: the upload has failed */
	struct chunk_flush flush;
};

static void writer_release(struct payload_writer *w)
{
	pthread_cond_destroy(&w->flushed);
	pthread_mutex_destroy(&w->lock);
	free(w->batch);
	free(w->spare);
	free(w);
}

enum err storage_payload_writer_new(struct storage *s, struct batcher *batcher,
				    struct payload_writer **ret_writer)
{
	struct payload_writer *w;
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ERR_NOMEM;
	w->s = s;
	w->batcher = batcher;
	w->chunk_size = PAYLOAD_CHUNK_SIZE;
	w->batch_cap = (size_t)w->chunk_size * CHUNKS_PER_TXN;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->flushed, NULL);
	w->batch = malloc(w->batch_cap);
	if (batcher)
		w->spare = malloc(w->batch_cap);
	if (!w->batch || (batcher && !w->spare)) {
		writer_release(w);
		return ERR_NOMEM;
	}
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UPLOAD_INSERT);
		sql_bind_i64(st, 1, w->chunk_size);
		sql_bind_i64(st, 2, time_now());
		e = db_result(sql_step(st));
	}
	if (e) {
		writer_release(w);
		return e;
	}
	w->upload_id = sql_last_insert_id(db);
	*ret_writer = w;
	return ERR_OK;
}

/* Insert LEN bytes as chunks FIRST_SEQ, FIRST_SEQ + 1, ... (the last may be
 * short), inside the caller's transaction. */
static enum err insert_chunks(struct db *db, int64_t upload_id, uint32_t chunk_size,
			      int64_t first_seq, const char *data, size_t len)
{
	enum err e = ERR_OK;
	int64_t seq = first_seq;

	for (size_t off = 0; off < len && !e; off += chunk_size, seq++) {
		size_t n = len - off < chunk_size ? len - off : chunk_size;
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_CHUNK_INSERT);
		sql_bind_i64(st, 1, upload_id);
		sql_bind_i64(st, 2, seq);
		sql_bind_blob_ref(st, 3, data + off, n);
		e = db_result(sql_step(st));
	}
	return e;
}

static enum err flush_apply(struct db *db, struct batch_job *job)
{
	const struct chunk_flush *f = (const struct chunk_flush *)job;

	return insert_chunks(db, f->w->upload_id, f->w->chunk_size, f->first_seq, f->data, f->len);
}

/* On the batcher's thread, once the chunks are committed (or not). */
static void flush_done(struct batch_job *job, enum err e)
{
	struct payload_writer *w = ((struct chunk_flush *)job)->w;

	pthread_mutex_lock(&w->lock);
	if (e && !w->flush_error)
		w->flush_error = e;
	w->in_flight = false;
	pthread_cond_signal(&w->flushed);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for the flush in flight; its error, or an earlier one. */
static enum err writer_wait(struct payload_writer *w)
{
	enum err e;

	pthread_mutex_lock(&w->lock);
	while (w->in_flight)
		pthread_cond_wait(&w->flushed, &w->lock);
	e = w->flush_error;
	pthread_mutex_unlock(&w->lock);
	return e;
}

/* Write the buffer being filled: in place, in one transaction, or (with a
 * batcher and ASYNC) handed to the batcher while the other buffer fills. */
static enum err writer_flush(struct payload_writer *w, bool async)
{
	struct db *db;
	enum err e = writer_wait(w);

	if (e || w->batch_len == 0)
		return e;
	if (async && w->batcher) {
		char *full = w->batch;

		w->flush = (struct chunk_flush){
			.job = {.apply = flush_apply, .done = flush_done},
			.w = w,
			.data = full,
			.len = w->batch_len,
			.first_seq = w->next_seq,
		};
		pthread_mutex_lock(&w->lock);
		w->in_flight = true;
		pthread_mutex_unlock(&w->lock);
		w->next_seq += (int64_t)((w->batch_len + w->chunk_size - 1) / w->chunk_size);
		w->batch = w->spare;
		w->spare = full;
		w->batch_len = 0;
		batcher_submit(w->batcher, &w->flush.job);
		return ERR_OK;
	}
	e = db_get(w->s, &db);
	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = insert_chunks(db, w->upload_id, w->chunk_size, w->next_seq, w->batch, w->batch_len);
	if (e) {
		db_rollback(db);
		return e;
	}
	e = db_commit(db);
	if (!e) {
		w->next_seq += (int64_t)((w->batch_len + w->chunk_size - 1) / w->chunk_size);
		w->batch_len = 0;
	}
	return e;
}

enum err storage_payload_writer_append(struct payload_writer *w, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		size_t n = w->batch_cap - w->batch_len < len ? w->batch_cap - w->batch_len : len;
		memcpy(w->batch + w->batch_len, p, n);
		w->batch_len += n;
		p += n;
		len -= n;
		if (w->batch_len == w->batch_cap) {
			enum err e = writer_flush(w, true);
			if (e)
				return e;
		}
	}
	return ERR_OK;
}

static void payload_from_row(struct sql_stmt *st, struct payload *p)
{
	const void *sha = sql_col_blob(st, 1);

	memset(p, 0, sizeof(*p));
	p->id = sql_col_i64(st, 0);
	if (sha && sql_col_bytes(st, 1) == SHA256_LEN)
		memcpy(p->sha256, sha, SHA256_LEN);
	p->size = (uint64_t)sql_col_i64(st, 2);
	snprintf(p->name, sizeof(p->name), "%s", db_column_text(st, 3));
	p->created_at = sql_col_i64(st, 4);
	p->upload_id = sql_col_i64(st, 5);
	p->chunk_size = (uint32_t)sql_col_i64(st, 6);
}

static enum err payload_by_sha(struct db *db, const uint8_t sha256[SHA256_LEN], struct payload *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_PAYLOAD_BY_SHA);
	enum err e;

	db_bind_blob(st, 1, sha256, SHA256_LEN);
	if ((e = db_step_row(st)))
		return e;
	payload_from_row(st, ret);
	return ERR_OK;
}

static enum err upload_delete(struct db *db, int64_t upload_id)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UPLOAD_DELETE);

	sql_bind_i64(st, 1, upload_id);
	return db_result(sql_step(st));
}

/* An admin event about the payload sha256 (data: extra, stolen). */
static enum err payload_event(struct db *db, const char *actor, const char *type,
			      const uint8_t sha256[SHA256_LEN], json_t *extra)
{
	char hex[2 * SHA256_LEN + 1], subject[16 + sizeof(hex)];
	json_t *data = extra ? extra : json_object();

	hex_encode(sha256, SHA256_LEN, hex);
	snprintf(subject, sizeof(subject), "payload:%s", hex);
	if (!data || json_object_set_new(data, "sha256", json_string(hex)) != 0) {
		json_decref(data);
		return ERR_NOMEM;
	}
	return db_event(db, type, actor, subject, 0, NULL, true, data);
}

enum err storage_payload_writer_commit(struct payload_writer *w, const uint8_t sha256[SHA256_LEN],
				       uint64_t size, const char *name, const char *actor,
				       struct payload *ret_payload, bool *ret_created)
{
	struct db *db;
	bool created = false;
	enum err e = writer_flush(w, false); /* waits for the one in flight first */

	if (!e)
		e = db_get(w->s, &db);
	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = payload_by_sha(db, sha256, ret_payload);
	if (e == ERR_NOT_FOUND) {
		{
			CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_PAYLOAD_INSERT);
			db_bind_blob(st, 1, sha256, SHA256_LEN);
			sql_bind_i64(st, 2, (int64_t)size);
			if (name && name[0])
				db_bind_text(st, 3, name);
			else
				sql_bind_null(st, 3);
			sql_bind_i64(st, 4, w->upload_id);
			sql_bind_i64(st, 5, time_now());
			e = db_result(sql_step(st));
		}
		if (!e) {
			CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UPLOAD_COMPLETE);
			sql_bind_i64(st, 1, w->upload_id);
			e = db_result(sql_step(st));
		}
		if (!e)
			e = payload_by_sha(db, sha256, ret_payload);
		if (!e)
			e = payload_event(db, actor, "payload.uploaded", sha256,
					  json_pack("{s:I, s:s?}", "size", (json_int_t)size, "name",
						    name && name[0] ? name : NULL));
		created = true;
	} else if (!e) {
		/* Same bytes again (or a concurrent twin won): keep one copy. */
		e = upload_delete(db, w->upload_id);
	}
	if (e) {
		db_rollback(db);
		return e;
	}
	e = db_commit(db);
	if (e)
		return e;
	w->committed = true;
	*ret_created = created;
	return ERR_OK;
}

/* A deletion that failed because the database is gone, slow or busy may
 * work later; any other failure (the upload was committed after all: the
 * payload's foreign key refuses) is final. */
static bool upload_delete_later(enum err e)
{
	return e == ERR_STORAGE_UNAVAILABLE || e == ERR_STORAGE_TIMEOUT || e == ERR_BUSY;
}

/* Keep UPLOAD_ID for storage_payload_orphans_sweep(); when the list is
 * full, the start-up cleanup is left to delete it. */
static void orphan_add(struct storage *s, int64_t upload_id)
{
	pthread_mutex_lock(&s->state_lock);
	if (s->orphan_count < STORAGE_ORPHANS_MAX)
		s->orphans[s->orphan_count++] = upload_id;
	pthread_mutex_unlock(&s->state_lock);
}

void storage_payload_writer_free(struct payload_writer *w)
{
	struct db *db;
	enum err e;

	if (!w)
		return;
	/* The batcher may still be reading the spare buffer. */
	(void)writer_wait(w);
	if (!w->committed) {
		e = db_get(w->s, &db);
		if (!e)
			e = upload_delete(db, w->upload_id);
		if (upload_delete_later(e))
			orphan_add(w->s, w->upload_id);
	}
	writer_release(w);
}

enum err storage_payload_orphans_sweep(struct storage *s, unsigned *ret_removed, unsigned *ret_left)
{
	int64_t ids[STORAGE_ORPHANS_MAX];
	bool done[STORAGE_ORPHANS_MAX] = {false};
	unsigned n, removed = 0;
	struct db *db;
	enum err e = ERR_OK;

	pthread_mutex_lock(&s->state_lock);
	n = s->orphan_count;
	memcpy(ids, s->orphans, n * sizeof(ids[0]));
	pthread_mutex_unlock(&s->state_lock);
	*ret_removed = 0;
	*ret_left = n;
	if (n == 0)
		return ERR_OK;
	e = db_get(s, &db);
	for (unsigned i = 0; i < n && !e; i++) {
		e = upload_delete(db, ids[i]);
		done[i] = !upload_delete_later(e);
		if (!e)
			removed += sql_changes(db) > 0;
		else if (done[i])
			e = ERR_OK; /* committed after all, or gone: nothing to do */
	}
	/* Others may have been added meanwhile: remove the ones settled. */
	pthread_mutex_lock(&s->state_lock);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; done[i] && j < s->orphan_count; j++)
			if (s->orphans[j] == ids[i]) {
				s->orphans[j] = s->orphans[--s->orphan_count];
				break;
			}
	*ret_left = s->orphan_count;
	pthread_mutex_unlock(&s->state_lock);
	*ret_removed = removed;
	return e;
}

enum err storage_payload_cleanup(struct storage *s, int64_t started_before, unsigned *ret_removed)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UPLOADS_STALE_DELETE);
	sql_bind_i64(st, 1, started_before);
	e = db_result(sql_step(st));
	if (!e)
		*ret_removed = (unsigned)sql_changes(db);
	return e;
}

enum err storage_payload_get(struct storage *s, const uint8_t sha256[SHA256_LEN],
			     struct payload *ret_payload)
{
	struct db *db;
	enum err e = db_get(s, &db);

	return e ? e : payload_by_sha(db, sha256, ret_payload);
}

enum err storage_payload_list(struct storage *s, int64_t after, unsigned max,
			      struct payload *ret_payloads, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_PAYLOAD_LIST);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		payload_from_row(st, &ret_payloads[n++]);
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_payload_delete(struct storage *s, const uint8_t sha256[SHA256_LEN],
				const char *actor)
{
	struct payload p = {0};
	struct db *db;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = payload_by_sha(db, sha256, &p);
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_PAYLOAD_DELETE);
		sql_bind_i64(st, 1, p.id);
		e = db_result(sql_step(st));
	}
	/* The upload's chunks go with it (ON DELETE CASCADE). */
	if (!e)
		e = upload_delete(db, p.upload_id);
	if (!e)
		e = payload_event(db, actor, "payload.deleted", sha256, NULL);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_payload_read(struct storage *s, const struct payload *p, uint64_t offset,
			      void *buf, size_t len)
{
	struct db *db;
	enum err e = db_get(s, &db);
	uint64_t first, last, want;
	char *out = buf;
	int rc;

	if (e)
		return e;
	if (len == 0)
		return ERR_OK;
	if (offset > p->size || len > p->size - offset || p->chunk_size == 0)
		return ERR_INTERNAL;
	first = offset / p->chunk_size;
	last = (offset + len - 1) / p->chunk_size;
	want = first;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_CHUNKS_READ);
	sql_bind_i64(st, 1, p->upload_id);
	sql_bind_i64(st, 2, (int64_t)first);
	sql_bind_i64(st, 3, (int64_t)last);
	while ((rc = sql_step(st)) == SQL_ROW) {
		uint64_t seq = (uint64_t)sql_col_i64(st, 0);
		const char *data = sql_col_blob(st, 1);
		uint64_t bytes = (uint64_t)sql_col_bytes(st, 1);
		uint64_t chunk_start = seq * p->chunk_size;
		uint64_t expect = p->size - chunk_start < p->chunk_size ? p->size - chunk_start
									: p->chunk_size;
		/* A missing or short chunk is corruption, never silently served. */
		if (seq != want || bytes != expect || !data)
			return ERR_STORAGE;
		uint64_t from = offset > chunk_start ? offset - chunk_start : 0;
		uint64_t to =
			offset + len < chunk_start + bytes ? offset + len - chunk_start : bytes;
		memcpy(out + (chunk_start + from - offset), data + from, (size_t)(to - from));
		want++;
	}
	if (rc != SQL_DONE)
		return db_result(rc);
	return want == last + 1 ? ERR_OK : ERR_STORAGE;
}
