/* The SQLite end of `suitd migrate-data` (storage/copy.h): a source read
 * in one read transaction (one WAL snapshot, so a running suitd may go on
 * writing), or a new target migrated and written in one transaction. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "storage/copy.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite.h"

struct sqlite_copy {
	struct copy_end base; /* first */
	sqlite3 *h;
	sqlite3_stmt *read, *write;
	unsigned ncols;
	bool in_tx;
};

static struct sqlite_copy *sc(struct copy_end *e)
{
	return (struct sqlite_copy *)(void *)e;
}

static enum err fail(struct sqlite_copy *c, const char *table, struct diag *d)
{
	return diag_set(
		d, db_error(sqlite3_errcode(c->h)) ? db_error(sqlite3_errcode(c->h)) : ERR_STORAGE,
		table, "%s: %s", table, sqlite3_errmsg(c->h));
}

/* Prepare the SQL of sqlite3_vmprintf (%w quotes an identifier). */
static enum err query(struct sqlite_copy *c, const char *table, sqlite3_stmt **ret, struct diag *d,
		      const char *fmt, ...)
{
	va_list ap;
	char *sql;
	int rc;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (!sql)
		return diag_set(d, ERR_NOMEM, table, "out of memory");
	rc = sqlite3_prepare_v2(c->h, sql, -1, ret, NULL);
	sqlite3_free(sql);
	return rc == SQLITE_OK ? ERR_OK : fail(c, table, d);
}

static enum err one_i64(struct sqlite_copy *c, const char *table, sqlite3_stmt *st, int64_t *ret,
			struct diag *d)
{
	int rc = sqlite3_step(st);

	*ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : fail(c, table, d);
}

static enum err sc_tables(struct copy_end *e, char (*ret)[COPY_NAME_MAX], unsigned max,
			  unsigned *ret_n, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	sqlite3_stmt *st = NULL;
	enum err err = query(c, "tables", &st, d,
			     "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
			     "LIKE 'sqlite\\_%%' ESCAPE '\\' ORDER BY name");
	unsigned n = 0;
	int rc;

	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
		snprintf(ret[n++], COPY_NAME_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail(c, "tables", d);
	*ret_n = n;
	return ERR_OK;
}

/* The declared type by SQLite's affinity rules (datatype3.html 3.1). */
static enum copy_type type_of(const char *decl)
{
	if (strcasestr(decl, "INT"))
		return COPY_T_INT;
	if (strcasestr(decl, "CHAR") || strcasestr(decl, "CLOB") || strcasestr(decl, "TEXT"))
		return COPY_T_TEXT;
	if (strcasestr(decl, "BLOB") || !decl[0])
		return COPY_T_BLOB;
	return COPY_T_OTHER;
}

static enum err sc_columns(struct copy_end *e, const char *table, struct copy_column *ret,
			   unsigned max, unsigned *ret_n, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	sqlite3_stmt *st = NULL;
	/* hidden: generated columns, which no INSERT names. */
	enum err err = query(c, table, &st, d,
			     "SELECT name, type FROM pragma_table_xinfo(%Q) WHERE hidden = 0 "
			     "ORDER BY cid",
			     table);
	unsigned n = 0;
	int rc;

	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == max) {
			sqlite3_finalize(st);
			return diag_set(d, ERR_STORAGE, table, "%s: too many columns", table);
		}
		snprintf(ret[n].name, COPY_NAME_MAX, "%s",
			 (const char *)sqlite3_column_text(st, 0));
		ret[n].int_bytes = 8;
		ret[n++].type = type_of((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(c, table, d);
	*ret_n = n;
	return ERR_OK;
}

static enum err sc_count(struct copy_end *e, const char *table, int64_t *ret, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	sqlite3_stmt *st = NULL;
	enum err err = query(c, table, &st, d, "SELECT count(*) FROM \"%w\"", table);

	return err ? err : one_i64(c, table, st, ret, d);
}

/* "a", "b", ... of n columns into a string of sqlite3_mprintf (NULL: no memory). */
static char *column_list(const struct copy_column *cols, unsigned n)
{
	char *s = sqlite3_mprintf("%s", "");

	for (unsigned i = 0; s && i < n; i++) {
		char *t = sqlite3_mprintf("%s%s\"%w\"", s, i ? ", " : "", cols[i].name);
		sqlite3_free(s);
		s = t;
	}
	return s;
}

static enum err sc_read_open(struct copy_end *e, const struct copy_table *t,
			     const struct copy_column *cols, unsigned n, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	char *list = column_list(cols, n), *order = sqlite3_mprintf("%s", "");
	enum err err = ERR_OK;

	/* BINARY collation: text keys in byte order, as on PostgreSQL's side. */
	for (unsigned k = 0; order && k < COPY_KEY_MAX && t->key[k]; k++) {
		char *o = sqlite3_mprintf("%s%s\"%w\"", order, k ? ", " : "", t->key[k]);
		sqlite3_free(order);
		order = o;
	}
	if (!list || !order)
		err = diag_set(d, ERR_NOMEM, t->name, "out of memory");
	else
		err = query(c, t->name, &c->read, d, "SELECT %s FROM \"%w\" ORDER BY %s", list,
			    t->name, order);
	sqlite3_free(list);
	sqlite3_free(order);
	c->ncols = n;
	return err;
}

static enum err sc_read_next(struct copy_end *e, struct copy_value *vals, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	int rc = sqlite3_step(c->read);

	if (rc == SQLITE_DONE)
		return ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return fail(c, "read", d);
	for (unsigned i = 0; i < c->ncols; i++) {
		struct copy_value *v = &vals[i];
		int col = (int)i;
		*v = (struct copy_value){.kind = COPY_NULL};
		switch (sqlite3_column_type(c->read, col)) {
		case SQLITE_INTEGER:
			v->kind = COPY_INT;
			v->i = sqlite3_column_int64(c->read, col);
			break;
		case SQLITE_TEXT:
			v->kind = COPY_TEXT;
			v->p = sqlite3_column_text(c->read, col);
			v->len = (size_t)sqlite3_column_bytes(c->read, col);
			break;
		case SQLITE_BLOB:
			v->kind = COPY_BLOB;
			v->p = sqlite3_column_blob(c->read, col);
			v->len = (size_t)sqlite3_column_bytes(c->read, col);
			break;
		case SQLITE_FLOAT:
			v->kind = COPY_REAL;
			break;
		default:
			break;
		}
	}
	return ERR_OK;
}

static void sc_read_close(struct copy_end *e)
{
	sqlite3_finalize(sc(e)->read);
	sc(e)->read = NULL;
}

static enum err sc_clear(struct copy_end *e, const char *table, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	char *sql = sqlite3_mprintf("DELETE FROM \"%w\"", table);
	enum err err = sql ? sqlite_exec(c->h, sql, d) : ERR_NOMEM;

	sqlite3_free(sql);
	return err;
}

static enum err sc_write_open(struct copy_end *e, const char *table, const struct copy_column *cols,
			      unsigned n, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	char *list = column_list(cols, n), *params = sqlite3_mprintf("%s", "");
	enum err err;

	for (unsigned i = 0; params && i < n; i++) {
		char *p = sqlite3_mprintf("%s%s?%u", params, i ? ", " : "", i + 1);
		sqlite3_free(params);
		params = p;
	}
	if (!list || !params)
		err = diag_set(d, ERR_NOMEM, table, "out of memory");
	else
		err = query(c, table, &c->write, d, "INSERT INTO \"%w\" (%s) VALUES (%s)", table,
			    list, params);
	sqlite3_free(list);
	sqlite3_free(params);
	c->ncols = n;
	return err;
}

static enum err sc_write_row(struct copy_end *e, const struct copy_value *vals, struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	int rc = SQLITE_OK;

	for (unsigned i = 0; i < c->ncols && rc == SQLITE_OK; i++) {
		const struct copy_value *v = &vals[i];
		int idx = (int)i + 1;
		switch (v->kind) {
		case COPY_INT:
		case COPY_BOOL:
			rc = sqlite3_bind_int64(c->write, idx, v->i);
			break;
		case COPY_TEXT:
			rc = sqlite3_bind_text64(c->write, idx, v->p ? v->p : "", v->len,
						 SQLITE_STATIC, SQLITE_UTF8);
			break;
		case COPY_BLOB:
			/* A NULL pointer would bind NULL, not zero bytes. */
			rc = v->len ? sqlite3_bind_blob64(c->write, idx, v->p, v->len,
							  SQLITE_STATIC)
				    : sqlite3_bind_zeroblob(c->write, idx, 0);
			break;
		default:
			rc = sqlite3_bind_null(c->write, idx);
			break;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(c->write);
	sqlite3_reset(c->write);
	sqlite3_clear_bindings(c->write);
	return rc == SQLITE_DONE ? ERR_OK : fail(c, "write", d);
}

static enum err sc_write_close(struct copy_end *e, bool ok, struct diag *d)
{
	(void)ok;
	(void)d;
	sqlite3_finalize(sc(e)->write);
	sc(e)->write = NULL;
	return ERR_OK;
}

static enum err sc_sequence_get(struct copy_end *e, const struct copy_table *t, int64_t *ret,
				struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	sqlite3_stmt *st = NULL;
	/* AUTOINCREMENT's high-water mark may be above the rows left. */
	enum err err = query(c, t->name, &st, d,
			     "SELECT max(coalesce((SELECT max(\"%w\") FROM \"%w\"), 0), "
			     "coalesce((SELECT seq FROM sqlite_sequence WHERE name = %Q), 0))",
			     t->id, t->name, t->name);

	return err ? err : one_i64(c, t->name, st, ret, d);
}

static enum err sc_sequence_set(struct copy_end *e, const struct copy_table *t, int64_t v,
				struct diag *d)
{
	struct sqlite_copy *c = sc(e);
	sqlite3_stmt *st = NULL;
	int64_t autoinc = 0;
	/* Only AUTOINCREMENT tables keep a mark; the others take max(rowid)+1. */
	enum err err = query(c, t->name, &st, d,
			     "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = "
			     "%Q AND sql LIKE '%%AUTOINCREMENT%%'",
			     t->name);

	if (!err)
		err = one_i64(c, t->name, st, &autoinc, d);
	if (err || !autoinc || v <= 0)
		return err;
	char *sql =
		sqlite3_mprintf("UPDATE sqlite_sequence SET seq = max(seq, %lld) WHERE name = "
				"%Q; INSERT INTO sqlite_sequence (name, seq) SELECT %Q, %lld "
				"WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %Q)",
				(long long)v, t->name, t->name, (long long)v, t->name);
	err = sql ? sqlite_exec(c->h, sql, d) : ERR_NOMEM;
	sqlite3_free(sql);
	return err;
}

static enum err sc_commit(struct copy_end *e, struct diag *d)
{
	enum err err = sqlite_exec(sc(e)->h, "COMMIT", d);

	if (!err)
		sc(e)->in_tx = false;
	return err;
}

static void sc_close(struct copy_end *e)
{
	struct sqlite_copy *c = sc(e);

	sqlite3_finalize(c->read);
	sqlite3_finalize(c->write);
	if (c->in_tx)
		sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(c->h);
	free(c);
}

static const struct copy_end_ops sqlite_copy_ops = {
	.tables = sc_tables,
	.columns = sc_columns,
	.count = sc_count,
	.read_open = sc_read_open,
	.read_next = sc_read_next,
	.read_close = sc_read_close,
	.clear = sc_clear,
	.write_open = sc_write_open,
	.write_row = sc_write_row,
	.write_close = sc_write_close,
	.sequence_get = sc_sequence_get,
	.sequence_set = sc_sequence_set,
	.commit = sc_commit,
	.close = sc_close,
};

/* A source at this binary's version; a target new (version 0, migrated
 * here) or at this version (then storage_copy() checks it is empty). */
static enum err version_check(struct sqlite_copy *c, bool target, const char *path, struct diag *d)
{
	unsigned have = 0;
	enum err e = sqlite_user_version(c->h, &have);

	if (e)
		return diag_set(d, e, "database", "'%s': %s", path, sqlite3_errmsg(c->h));
	if (target && have == 0)
		return sqlite_migrate(c->h, true, d);
	if (have > migrations_count)
		return diag_set(d, ERR_DB_TOO_NEW, "database",
				"'%s' has schema version %u, newer than this suitd's %u", path,
				have, migrations_count);
	if (have < migrations_count)
		return diag_set(d, target ? ERR_EXISTS : ERR_CONFLICT, "database",
				"'%s' has schema version %u, this suitd's is %u: %s", path, have,
				migrations_count,
				target ? "give a new file as the target"
				       : "run `suitd migrate` on it first");
	return ERR_OK;
}

enum err sqlite_copy_open(const struct storage_options *opt, bool target, struct copy_end **ret,
			  struct diag *d)
{
	struct sqlite_copy *c = calloc(1, sizeof(*c));
	int flags = target ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	enum err e;

	if (!c)
		return diag_set(d, ERR_NOMEM, "database", "out of memory");
	c->base.ops = &sqlite_copy_ops;
	c->base.backend = "sqlite";
	if (sqlite3_open_v2(opt->path, &c->h, flags, NULL) != SQLITE_OK) {
		e = diag_set(d, ERR_IO, "database", "cannot open '%s': %s", opt->path,
			     c->h ? sqlite3_errmsg(c->h) : "out of memory");
		sc_close(&c->base);
		return e;
	}
	sqlite3_busy_timeout(c->h, 5000);
	/* A target as suitd makes its file (WAL, foreign keys checked); 64 MiB
	 * of page cache for the one long transaction. */
	e = target ? sqlite_exec(c->h,
				 "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
				 "PRAGMA cache_size = -65536",
				 d)
		   : ERR_OK;
	if (!e)
		e = version_check(c, target, opt->path, d);
	/* The source's snapshot starts at its first read, inside BEGIN. */
	if (!e)
		e = sqlite_exec(c->h,
				target ? "BEGIN IMMEDIATE"
				       : "BEGIN; SELECT count(*) FROM sqlite_schema",
				d);
	if (e) {
		sc_close(&c->base);
		return e;
	}
	c->in_tx = true;
	*ret = &c->base;
	return ERR_OK;
}
