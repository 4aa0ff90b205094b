#include "storage/manifests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/timeutil.h"
#include "storage/db.h"

static enum err record_from_row(struct sql_stmt *st, struct manifest_record *r)
{
	const void *dg = sql_col_blob(st, 1);
	size_t n = sql_col_bytes(st, 1);

	memset(r, 0, sizeof(*r));
	r->id = sql_col_i64(st, 0);
	if (n > MANIFEST_DIGEST_MAX)
		return ERR_STORAGE;
	if (dg)
		memcpy(r->digest, dg, n);
	r->digest_len = n;
	r->digest_alg = sql_col_i64(st, 2);
	r->sequence = (uint64_t)sql_col_i64(st, 3);
	r->facts = strdup(db_column_text(st, 4));
	r->created_at = sql_col_i64(st, 5);
	return r->facts ? ERR_OK : ERR_NOMEM;
}

void manifest_record_release(struct manifest_record *r)
{
	free(r->facts);
	r->facts = NULL;
}

static enum err by_digest(struct db *db, const uint8_t *digest, size_t len,
			  struct manifest_record *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_BY_DIGEST);
	enum err e;

	db_bind_blob(st, 1, digest, len);
	if ((e = db_step_row(st)))
		return e;
	return record_from_row(st, ret);
}

static enum err insert_rows(struct db *db, const struct manifest_new *m, int64_t *ret_id,
			    uint8_t conflict[MANIFEST_DIGEST_MAX], size_t *conflict_len)
{
	enum err e;
	int64_t id;

	/* The sequence number rule: one manifest per (vendor, class,
	 * component, sequence number). */
	for (unsigned i = 0; i < m->component_count; i++) {
		const struct manifest_component_row *c = &m->components[i];
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_SEQUENCE_CONFLICT);
		if (c->vendor)
			db_bind_blob(st, 1, c->vendor, 16);
		if (c->class_id)
			db_bind_blob(st, 2, c->class_id, 16);
		db_bind_blob(st, 3, c->id, c->id_len);
		sql_bind_i64(st, 4, (int64_t)m->sequence);
		db_bind_blob(st, 5, m->digest, m->digest_len);
		int rc = sql_step(st);
		if (rc == SQL_ROW) {
			size_t n = sql_col_bytes(st, 0);
			if (n <= MANIFEST_DIGEST_MAX && sql_col_blob(st, 0))
				memcpy(conflict, sql_col_blob(st, 0), n);
			*conflict_len = n <= MANIFEST_DIGEST_MAX ? n : 0;
			return ERR_CONFLICT;
		}
		if ((e = db_result(rc)))
			return e;
	}
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_INSERT);
		db_bind_blob(st, 1, m->digest, m->digest_len);
		sql_bind_i64(st, 2, m->digest_alg);
		db_bind_blob(st, 3, m->envelope, m->envelope_len);
		sql_bind_i64(st, 4, (int64_t)m->sequence);
		db_bind_text(st, 5, m->facts);
		sql_bind_i64(st, 6, time_now());
		if ((e = db_result(sql_step(st))))
			return e;
	}
	id = sql_last_insert_id(db);
	for (unsigned i = 0; i < m->component_count; i++) {
		const struct manifest_component_row *c = &m->components[i];
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_COMPONENT_INSERT);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, c->index);
		db_bind_blob(st, 3, c->id, c->id_len);
		if (c->vendor)
			db_bind_blob(st, 4, c->vendor, 16);
		if (c->class_id)
			db_bind_blob(st, 5, c->class_id, 16);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	for (unsigned i = 0; i < m->payload_count; i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_PAYLOAD_INSERT);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, m->payload_ids[i]);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	for (unsigned i = 0; i < m->dependency_count; i++) {
		const struct manifest_dependency_row *r = &m->dependencies[i];
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_DEPENDENCY_INSERT);
		sql_bind_i64(st, 1, id);
		db_bind_blob(st, 2, r->digest, r->digest_len);
		if (r->dependency_id)
			sql_bind_i64(st, 3, r->dependency_id);
		sql_bind_i64(st, 4, r->integrated);
		sql_bind_i64(st, 5, r->served);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	for (unsigned i = 0; i < m->need_count; i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_NEED_INSERT);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, m->needs[i].group);
		sql_bind_i64(st, 3, m->needs[i].kind);
		sql_bind_i64(st, 4, m->needs[i].object_id);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	*ret_id = id;
	return ERR_OK;
}

/* An admin event about the manifest of this digest (data: extra, stolen). */
static enum err manifest_event(struct db *db, const char *actor, const char *type,
			       const uint8_t *digest, size_t len, json_t *extra)
{
	char hex[2 * MANIFEST_DIGEST_MAX + 1], subject[16 + sizeof(hex)];
	json_t *data = extra ? extra : json_object();

	hex_encode(digest, len <= MANIFEST_DIGEST_MAX ? len : MANIFEST_DIGEST_MAX, hex);
	snprintf(subject, sizeof(subject), "manifest:%s", hex);
	if (!data || json_object_set_new(data, "digest", json_string(hex)) != 0) {
		json_decref(data);
		return ERR_NOMEM;
	}
	return db_event(db, type, actor, subject, 0, NULL, true, data);
}

enum err storage_manifest_insert(struct storage *s, const struct manifest_new *m,
				 struct manifest_record *ret, uint8_t conflict[MANIFEST_DIGEST_MAX],
				 size_t *conflict_len)
{
	struct db *db;
	int64_t id = 0;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = by_digest(db, m->digest, m->digest_len, ret);
	if (e == ERR_OK) {
		db_rollback(db);
		return ERR_EXISTS;
	}
	if (e == ERR_NOT_FOUND)
		e = insert_rows(db, m, &id, conflict, conflict_len);
	if (!e)
		e = manifest_event(db, m->actor, "manifest.uploaded", m->digest, m->digest_len,
				   json_pack("{s:I}", "sequence_number", (json_int_t)m->sequence));
	if (!e)
		e = db_commit(db);
	else
		db_rollback(db);
	if (!e)
		e = by_digest(db, m->digest, m->digest_len, ret);
	return e;
}

enum err storage_manifest_get(struct storage *s, const uint8_t *digest, size_t len,
			      struct manifest_record *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	return e ? e : by_digest(db, digest, len, ret);
}

enum err storage_manifest_envelope(struct storage *s, const uint8_t *digest, size_t len,
				   uint8_t **ret, size_t *ret_len)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_ENVELOPE);
	db_bind_blob(st, 1, digest, len);
	if ((e = db_step_row(st)))
		return e;
	size_t n = sql_col_bytes(st, 0);
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return ERR_NOMEM;
	if (n)
		memcpy(copy, sql_col_blob(st, 0), n);
	*ret = copy;
	*ret_len = n;
	return ERR_OK;
}

enum err storage_manifest_list(struct storage *s, int64_t after, unsigned max,
			       const uint8_t *vendor, const uint8_t *class_id,
			       struct manifest_record *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_LIST);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	if (vendor)
		db_bind_blob(st, 3, vendor, 16);
	if (class_id)
		db_bind_blob(st, 4, class_id, 16);
	while (n < max && (rc = sql_step(st)) == SQL_ROW) {
		if ((e = record_from_row(st, &ret[n]))) {
			while (n)
				manifest_record_release(&ret[--n]);
			return e;
		}
		n++;
	}
	if (n < max && rc != SQL_DONE) {
		while (n)
			manifest_record_release(&ret[--n]);
		return db_result(rc);
	}
	*ret_count = n;
	return ERR_OK;
}

enum err storage_manifest_delete(struct storage *s, const uint8_t *digest, size_t len,
				 const char *actor)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_DELETE);
		db_bind_blob(st, 1, digest, len);
		e = db_result(sql_step(st));
		if (!e && sql_changes(db) == 0)
			e = ERR_NOT_FOUND;
	}
	if (!e)
		e = manifest_event(db, actor, "manifest.deleted", digest, len, NULL);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_manifest_payloads(struct storage *s, int64_t manifest_id,
				   uint8_t ret[][SHA256_LEN], unsigned max, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_PAYLOADS);
	sql_bind_i64(st, 1, manifest_id);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		if (sql_col_bytes(st, 0) == SHA256_LEN)
			memcpy(ret[n++], sql_col_blob(st, 0), SHA256_LEN);
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_payload_manifests(struct storage *s, int64_t payload_id,
				   uint8_t ret[][MANIFEST_DIGEST_MAX], size_t *ret_lens,
				   unsigned max, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_PAYLOAD_MANIFESTS);
	sql_bind_i64(st, 1, payload_id);
	while (n < max && (rc = sql_step(st)) == SQL_ROW) {
		size_t len = sql_col_bytes(st, 0);
		if (len > MANIFEST_DIGEST_MAX)
			continue;
		memcpy(ret[n], sql_col_blob(st, 0), len);
		ret_lens[n++] = len;
	}
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_manifest_lookup(struct storage *s, const uint8_t *digest, size_t len,
				 int64_t *ret_id, char **ret_facts)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_ID_BY_DIGEST);
	db_bind_blob(st, 1, digest, len);
	if ((e = db_step_row(st)))
		return e;
	*ret_facts = strdup(db_column_text(st, 1));
	if (!*ret_facts)
		return ERR_NOMEM;
	*ret_id = sql_col_i64(st, 0);
	return ERR_OK;
}

bool storage_manifest_is_dependency(struct storage *s, const uint8_t *digest, size_t len)
{
	struct db *db;

	if (db_get(s, &db))
		return false;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_IS_DEPENDENCY);
	db_bind_blob(st, 1, digest, len);
	return sql_step(st) == SQL_ROW;
}
