#include "storage/ddi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/cleanup.h"
#include "storage/db.h"

#define HASH_BLOCK (256 * 1024)

enum err storage_ddi_poll(struct storage *s, int64_t device_num, struct ddi_poll *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_POLL);
	sql_bind_i64(st, 1, device_num);
	int rc = sql_step(st);
	if (rc != SQL_ROW)
		return db_result(rc);
	ret->cancel_id = sql_col_i64(st, 0);
	ret->installed_id = sql_col_i64(st, 1);
	ret->wants_attributes = sql_col_int(st, 2) != 0;
	return ERR_OK;
}

enum err storage_ddi_config_sent(struct storage *s, int64_t device_num, int64_t at)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_CONFIG_SENT);
	sql_bind_i64(st, 1, device_num);
	sql_bind_i64(st, 2, at);
	return db_result(sql_step(st));
}

static enum err cancel_stmt(struct storage *s, enum stmt id, int64_t device_num,
			    int64_t assignment_id)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, id);
	sql_bind_i64(st, 1, device_num);
	sql_bind_i64(st, 2, assignment_id);
	rc = sql_step(st);
	if (id == STMT_DDI_CANCEL_GET)
		return rc == SQL_ROW ? ERR_OK : rc == SQL_DONE ? ERR_NOT_FOUND : db_error(rc);
	if (rc != SQL_DONE)
		return db_error(rc);
	return sql_changes(db) ? ERR_OK : ERR_NOT_FOUND;
}

enum err storage_ddi_cancel_get(struct storage *s, int64_t device_num, int64_t assignment_id)
{
	return cancel_stmt(s, STMT_DDI_CANCEL_GET, device_num, assignment_id);
}

enum err storage_ddi_cancel_ack(struct storage *s, int64_t device_num, int64_t assignment_id)
{
	return cancel_stmt(s, STMT_DDI_CANCEL_ACK, device_num, assignment_id);
}

enum err storage_ddi_action(struct storage *s, int64_t device_num, int64_t assignment_id,
			    struct ddi_action *ret)
{
	struct ddi_action a = {0};
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_ACTION);
	sql_bind_i64(st, 1, assignment_id);
	sql_bind_i64(st, 2, device_num);
	if ((e = db_step_row(st)))
		return e;
	if (!assignment_state_parse(db_column_text(st, 0), &a.state))
		return ERR_STORAGE;
	a.manifest_id = sql_col_i64(st, 1);
	a.digest_len = sql_col_bytes(st, 2);
	if (a.digest_len > sizeof(a.digest))
		return ERR_STORAGE;
	memcpy(a.digest, sql_col_blob(st, 2), a.digest_len);
	a.sequence = (uint64_t)sql_col_i64(st, 3);
	snprintf(a.software_name, sizeof(a.software_name), "%s", db_column_text(st, 4));
	snprintf(a.software_version, sizeof(a.software_version), "%s", db_column_text(st, 5));
	*ret = a;
	return ERR_OK;
}

/* SHA-1 and MD5 of a stored payload, read block by block (each read its own
 * short transaction, as downloads do). */
static enum err hashes_compute(struct storage *s, const struct payload *p, uint8_t sha1[SHA1_LEN],
			       uint8_t md5[MD5_LEN])
{
	EVP_MD_CTX *c1 = EVP_MD_CTX_new(), *c5 = EVP_MD_CTX_new();
	char *block = malloc(HASH_BLOCK);
	enum err e = ERR_CRYPTO;

	if (!c1 || !c5 || !block || EVP_DigestInit_ex(c1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(c5, EVP_md5(), NULL) != 1)
		goto out;
	for (uint64_t at = 0; at < p->size;) {
		size_t n = p->size - at < HASH_BLOCK ? (size_t)(p->size - at) : HASH_BLOCK;
		if ((e = storage_payload_read(s, p, at, block, n)))
			goto out;
		e = ERR_CRYPTO;
		if (EVP_DigestUpdate(c1, block, n) != 1 || EVP_DigestUpdate(c5, block, n) != 1)
			goto out;
		at += n;
	}
	if (EVP_DigestFinal_ex(c1, sha1, NULL) == 1 && EVP_DigestFinal_ex(c5, md5, NULL) == 1)
		e = ERR_OK;
out:
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c5);
	free(block);
	return e;
}

enum err storage_ddi_hashes_set(struct storage *s, int64_t payload_id, const uint8_t sha1[SHA1_LEN],
				const uint8_t md5[MD5_LEN])
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_HASHES_SET);
	sql_bind_i64(st, 1, payload_id);
	db_bind_blob(st, 2, sha1, SHA1_LEN);
	db_bind_blob(st, 3, md5, MD5_LEN);
	return db_result(sql_step(st));
}

/* Fill the missing hashes of one artifact, computed then stored. */
static enum err artifact_fill(struct storage *s, struct ddi_artifact *a)
{
	struct payload p;
	enum err e = storage_payload_get(s, a->sha256, &p);

	if (!e)
		e = hashes_compute(s, &p, a->sha1, a->md5);
	if (!e)
		e = storage_ddi_hashes_set(s, p.id, a->sha1, a->md5);
	return e;
}

enum err storage_ddi_artifacts(struct storage *s, int64_t manifest_id, struct ddi_artifact *ret,
			       unsigned max, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	bool missing[DDI_ARTIFACTS_MAX] = {false};
	int rc;

	if (e)
		return e;
	if (max > DDI_ARTIFACTS_MAX)
		max = DDI_ARTIFACTS_MAX;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_ARTIFACTS);
		sql_bind_i64(st, 1, manifest_id);
		while (n < max && (rc = sql_step(st)) == SQL_ROW) {
			struct ddi_artifact *a = &ret[n];
			memset(a, 0, sizeof(*a));
			if (sql_col_bytes(st, 0) != SHA256_LEN)
				return ERR_STORAGE;
			memcpy(a->sha256, sql_col_blob(st, 0), SHA256_LEN);
			a->size = (uint64_t)sql_col_i64(st, 1);
			snprintf(a->name, sizeof(a->name), "%s", db_column_text(st, 2));
			if (sql_col_bytes(st, 3) == SHA1_LEN && sql_col_bytes(st, 4) == MD5_LEN) {
				memcpy(a->sha1, sql_col_blob(st, 3), SHA1_LEN);
				memcpy(a->md5, sql_col_blob(st, 4), MD5_LEN);
			} else {
				missing[n] = true;
			}
			n++;
		}
		if (n < max && rc != SQL_DONE)
			return db_error(rc);
	}
	/* After the statement is reset: the fill reads and writes. */
	for (unsigned i = 0; i < n; i++)
		if (missing[i] && (e = artifact_fill(s, &ret[i])))
			return e;
	*ret_count = n;
	return ERR_OK;
}

bool storage_ddi_module_allowed(struct storage *s, int64_t device_num, int64_t manifest_id)
{
	struct db *db;

	if (db_get(s, &db))
		return false;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_MODULE_ALLOWED);
	sql_bind_i64(st, 1, device_num);
	sql_bind_i64(st, 2, manifest_id);
	return sql_step(st) == SQL_ROW;
}

enum err storage_ddi_devices_by_attribute(struct storage *s, const char *name, const char *value,
					  unsigned max, int64_t *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DDI_DEVICES_BY_ATTRIBUTE);
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, value);
	sql_bind_i64(st, 3, (int64_t)max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		ret[n++] = sql_col_i64(st, 0);
	if (n < max && rc != SQL_DONE)
		return db_error(rc);
	*ret_count = n;
	return ERR_OK;
}
