#include "storage/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db.h"

static bool copy_text(struct sql_stmt *st, int col, char *out, size_t size)
{
	const char *t = sql_col_text(st, col);

	if (!t) {
		out[0] = '\0';
		return false;
	}
	snprintf(out, size, "%s", (const char *)t);
	return true;
}

static size_t copy_blob(struct sql_stmt *st, int col, uint8_t *out, size_t size)
{
	const void *p = sql_col_blob(st, col);
	size_t n = sql_col_bytes(st, col);

	if (!p || n == 0 || n > size)
		return 0;
	memcpy(out, p, n);
	return n;
}

enum err storage_inventory_devices(struct storage *s, const char *name, const char *version,
				   int64_t after, unsigned max, struct inventory_device *ret,
				   unsigned *ret_count, bool *ret_more)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	bool more = false;
	int rc;

	if (e)
		return e;
	/* Two statements: each is one range of its own index. */
	CLEANUP_STMT struct sql_stmt *st =
		db_stmt(db, version ? STMT_INVENTORY_DEVICES_VERSION : STMT_INVENTORY_DEVICES);
	db_bind_text(st, 1, name);
	sql_bind_i64(st, 2, after);
	sql_bind_i64(st, 3, (int64_t)max + 1);
	if (version)
		db_bind_text(st, 4, version);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct inventory_device *r = &ret[n];
		if (n == max) {
			more = true;
			break;
		}
		memset(r, 0, sizeof(*r));
		r->num = sql_col_i64(st, 0);
		copy_text(st, 1, r->id, sizeof(r->id));
		r->has_version = copy_text(st, 2, r->version, sizeof(r->version));
		r->digest_len = copy_blob(st, 3, r->digest, sizeof(r->digest));
		r->since = sql_col_i64(st, 4);
		n++;
	}
	if (!more && (e = db_result(rc)))
		return e;
	*ret_count = n;
	*ret_more = more;
	return ERR_OK;
}

enum err storage_inventory_counts(struct storage *s, const char *name, const char *version,
				  struct inventory_count *ret, unsigned *ret_count, bool *ret_more)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	bool more = false;
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st =
		db_stmt(db, name ? STMT_INVENTORY_COUNTS : STMT_INVENTORY_COUNTS_ALL);
	if (name)
		db_bind_text(st, 1, name);
	if (name && version)
		db_bind_text(st, 2, version);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct inventory_count *r = &ret[n];
		if (n == INVENTORY_COUNTS_MAX) {
			more = true;
			break;
		}
		memset(r, 0, sizeof(*r));
		copy_text(st, 0, r->name, sizeof(r->name));
		r->has_version = copy_text(st, 1, r->version, sizeof(r->version));
		int64_t c = sql_col_i64(st, 2);
		r->devices = c > 0 ? (uint64_t)c : 0;
		n++;
	}
	if (!more && (e = db_result(rc)))
		return e;
	*ret_count = n;
	*ret_more = more;
	return ERR_OK;
}

enum err storage_device_software(struct storage *s, int64_t device_num, struct device_software *ret)
{
	struct device_software sw = {0};
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_SOFTWARE);
	sql_bind_i64(st, 1, device_num);
	if ((e = db_step_row(st)))
		return e;
	sw.running = !sql_col_null(st, 0) || !sql_col_null(st, 5);
	sw.since = sql_col_i64(st, 0);
	sw.has_name = copy_text(st, 1, sw.name, sizeof(sw.name));
	sw.has_version = copy_text(st, 2, sw.version, sizeof(sw.version));
	sw.digest_len = copy_blob(st, 3, sw.digest, sizeof(sw.digest));
	sw.has_manifest = sw.digest_len > 0;
	int64_t seq = sql_col_i64(st, 4);
	sw.sequence = seq > 0 ? (uint64_t)seq : 0;
	if (!sql_col_null(st, 5)) {
		sw.facts = strdup(sql_col_text(st, 5));
		if (!sw.facts)
			return ERR_NOMEM;
	}
	*ret = sw;
	return ERR_OK;
}

void device_software_release(struct device_software *sw)
{
	free(sw->facts);
	sw->facts = NULL;
}
