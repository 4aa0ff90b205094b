#include "storage/gc.h"

#include <string.h>

#include "storage/db.h"

static const enum stmt scans[GC__KINDS] = {
	[GC_DEPLOYMENT] = STMT_GC_DEPLOYMENTS,
	[GC_MANIFEST] = STMT_GC_MANIFESTS,
	[GC_PAYLOAD] = STMT_GC_PAYLOADS,
};

enum err storage_gc_scan(struct storage *s, enum gc_kind kind, int64_t cutoff,
			 enum err (*each)(void *cls, const struct gc_item *it), void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, scans[kind]);
	sql_bind_i64(st, 1, cutoff);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct gc_item it = {.kind = kind, .id = sql_col_i64(st, 0)};
		size_t n = sql_col_bytes(st, 1);
		if (kind != GC_DEPLOYMENT && n && n <= sizeof(it.key)) {
			memcpy(it.key, sql_col_blob(st, 1), n);
			it.key_len = n;
		}
		it.bytes = (uint64_t)sql_col_i64(st, 2);
		if ((e = each(cls, &it)))
			return e;
	}
	return db_result(rc);
}
