/* The PostgreSQL end of `suitd migrate-data` (storage/copy.h): a source
 * read in one REPEATABLE READ READ ONLY transaction, row by row (libpq's
 * single-row mode, binary results); a target migrated, then written in one
 * transaction by COPY ... FROM STDIN (FORMAT binary), which fires the same
 * triggers as INSERT and checks the same constraints. */
#include <stdlib.h>
#include <string.h>

#include "storage/copy.h"
#include "storage/postgresql/pg.h"
#include "storage/postgresql/pg_error.h"
#include "storage/postgresql/pg_migrate.h"
#include "storage/postgresql/pg_types.h"

struct pg_copy {
	struct copy_end base; /* first */
	PGconn *c;
	bool in_tx;
	unsigned ncols;
	struct copy_column cols[COPY_COLUMNS_MAX];
	PGresult *row; /* the current row of a read */
	bool reading;
	unsigned char *buf; /* one COPY tuple */
	size_t cap;
};

static struct pg_copy *pc(struct copy_end *e)
{
	return (struct pg_copy *)(void *)e;
}

static enum err result(struct pg_copy *p, PGresult *r, const char *table, struct diag *d)
{
	enum err e = pg_error_result(p->c, r, d);

	PQclear(r);
	if (e && d) {
		char why[sizeof(d->text)];
		snprintf(why, sizeof(why), "%s", d->text);
		diag_set(d, e, table, "%s: %s", table, why);
	}
	return e;
}

/* A command without result rows. */
static enum err exec(struct pg_copy *p, const char *sql, const char *table, struct diag *d)
{
	return result(p, PQexec(p->c, sql), table, d);
}

/* A query of one integer (text params). */
static enum err scalar(struct pg_copy *p, const char *sql, int n, const char *const *params,
		       const char *table, int64_t *ret, struct diag *d)
{
	PGresult *r = PQexecParams(p->c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*ret = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		return ERR_OK;
	}
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		return diag_set(d, ERR_STORAGE, table, "%s: no answer", table);
	}
	return result(p, r, table, d);
}

/* "name" quoted by libpq, to free with PQfreemem. */
static char *ident(struct pg_copy *p, const char *name)
{
	return PQescapeIdentifier(p->c, name, strlen(name));
}

static enum err pc_tables(struct copy_end *e, char (*ret)[COPY_NAME_MAX], unsigned max,
			  unsigned *ret_n, struct diag *d)
{
	struct pg_copy *p = pc(e);
	PGresult *r = PQexec(p->c, "SELECT table_name FROM information_schema.tables "
				   "WHERE table_schema = current_schema() AND table_type = "
				   "'BASE TABLE' AND table_name <> 'schema_version' ORDER BY 1");
	unsigned n = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return result(p, r, "tables", d);
	for (int i = 0; i < PQntuples(r) && n < max; i++)
		snprintf(ret[n++], COPY_NAME_MAX, "%s", PQgetvalue(r, i, 0));
	PQclear(r);
	*ret_n = n;
	return ERR_OK;
}

static enum err pc_columns(struct copy_end *e, const char *table, struct copy_column *ret,
			   unsigned max, unsigned *ret_n, struct diag *d)
{
	struct pg_copy *p = pc(e);
	const char *params[1] = {table};
	/* Generated columns take no value from an INSERT or COPY. */
	PGresult *r = PQexecParams(p->c,
				   "SELECT attname, atttypid::int FROM pg_attribute WHERE "
				   "attrelid = quote_ident($1)::regclass AND attnum > 0 AND NOT "
				   "attisdropped AND attgenerated = '' ORDER BY attnum",
				   1, NULL, params, NULL, NULL, 0);
	unsigned n = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return result(p, r, table, d);
	if ((unsigned)PQntuples(r) > max) {
		PQclear(r);
		return diag_set(d, ERR_STORAGE, table, "%s: too many columns", table);
	}
	for (int i = 0; i < PQntuples(r); i++, n++) {
		long oid = strtol(PQgetvalue(r, i, 1), NULL, 10);
		snprintf(ret[n].name, COPY_NAME_MAX, "%s", PQgetvalue(r, i, 0));
		ret[n].int_bytes = oid == OID_INT2 ? 2 : oid == OID_INT4 ? 4 : 8;
		ret[n].type = oid == OID_INT8 || oid == OID_INT4 || oid == OID_INT2 ? COPY_T_INT
			      : oid == OID_BOOL					    ? COPY_T_BOOL
			      : oid == OID_TEXT || oid == OID_VARCHAR		    ? COPY_T_TEXT
			      : oid == OID_BYTEA				    ? COPY_T_BLOB
										    : COPY_T_OTHER;
	}
	PQclear(r);
	*ret_n = n;
	return ERR_OK;
}

/* PREFIX followed by the quoted table name into sql. */
static enum err table_sql(struct pg_copy *p, const char *prefix, const char *table, char *sql,
			  size_t size, struct diag *d)
{
	char *t = ident(p, table);

	if (!t)
		return diag_set(d, ERR_NOMEM, table, "out of memory");
	snprintf(sql, size, "%s%s", prefix, t);
	PQfreemem(t);
	return ERR_OK;
}

static enum err pc_count(struct copy_end *e, const char *table, int64_t *ret, struct diag *d)
{
	char sql[160];
	enum err err = table_sql(pc(e), "SELECT count(*) FROM ", table, sql, sizeof(sql), d);

	return err ? err : scalar(pc(e), sql, 0, NULL, table, ret, d);
}

/* Append s to the growing string *out (NULL stays NULL: out of memory). */
static void append(char **out, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *b = *out ? realloc(*out, *len + n + 1) : NULL;

	if (!b) {
		free(*out);
		*out = NULL;
		return;
	}
	memcpy(b + *len, s, n + 1);
	*len += n;
	*out = b;
}

/* "a", "b" of the columns, quoted (malloc'd; NULL: no memory). */
static char *column_list(struct pg_copy *p, const struct copy_column *cols, unsigned n)
{
	char *s = calloc(1, 1);
	size_t len = 0;

	for (unsigned i = 0; s && i < n; i++) {
		char *q = ident(p, cols[i].name);
		if (i)
			append(&s, &len, ", ");
		if (q)
			append(&s, &len, q);
		else {
			free(s);
			s = NULL;
		}
		PQfreemem(q);
	}
	return s;
}

static enum err pc_read_open(struct copy_end *e, const struct copy_table *t,
			     const struct copy_column *cols, unsigned n, struct diag *d)
{
	struct pg_copy *p = pc(e);
	char *sql = calloc(1, 1), *list = column_list(p, cols, n), *name = ident(p, t->name);
	size_t len = 0;
	bool ok;

	append(&sql, &len, "SELECT ");
	append(&sql, &len, list ? list : "");
	append(&sql, &len, " FROM ");
	append(&sql, &len, name ? name : "");
	append(&sql, &len, " ORDER BY ");
	for (unsigned k = 0; k < COPY_KEY_MAX && t->key[k]; k++) {
		char *q = ident(p, t->key[k]);
		bool text = false;
		for (unsigned c = 0; c < n; c++)
			if (strcmp(cols[c].name, t->key[k]) == 0)
				text = cols[c].type == COPY_T_TEXT;
		if (k)
			append(&sql, &len, ", ");
		append(&sql, &len, q ? q : "");
		/* Byte order, as SQLite's BINARY: the same rows digest alike. */
		if (text)
			append(&sql, &len, " COLLATE \"C\"");
		PQfreemem(q);
	}
	ok = sql && list && name;
	free(list);
	PQfreemem(name);
	if (!ok) {
		free(sql);
		return diag_set(d, ERR_NOMEM, t->name, "out of memory");
	}
	memcpy(p->cols, cols, n * sizeof(*cols));
	p->ncols = n;
	/* Binary results: integers, booleans, bytes as they are. */
	ok = PQsendQueryParams(p->c, sql, 0, NULL, NULL, NULL, NULL, 1) && PQsetSingleRowMode(p->c);
	free(sql);
	if (!ok)
		return diag_set(d, ERR_STORAGE_UNAVAILABLE, t->name, "%s: cannot send the query",
				t->name);
	p->reading = true;
	return ERR_OK;
}

static int64_t be_int(const unsigned char *b, int len)
{
	uint64_t v = 0;

	for (int i = 0; i < len; i++)
		v = (v << 8) | b[i];
	/* Sign-extend the narrower ones. */
	if (len < 8 && len > 0 && (b[0] & 0x80))
		v |= ~(uint64_t)0 << (8 * len);
	return (int64_t)v;
}

static enum err pc_read_next(struct copy_end *e, struct copy_value *vals, struct diag *d)
{
	struct pg_copy *p = pc(e);
	PGresult *r;

	PQclear(p->row);
	p->row = NULL;
	if (!p->reading)
		return ERR_NOT_FOUND;
	r = PQgetResult(p->c);
	if (PQresultStatus(r) != PGRES_SINGLE_TUPLE) {
		enum err err = ERR_NOT_FOUND;
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			PQclear(r);
		else
			err = result(p, r, "read", d);
		while ((r = PQgetResult(p->c)))
			PQclear(r);
		p->reading = false;
		return err;
	}
	p->row = r;
	for (unsigned i = 0; i < p->ncols; i++) {
		int col = (int)i, len = PQgetlength(r, 0, col);
		const unsigned char *b = (const unsigned char *)PQgetvalue(r, 0, col);
		struct copy_value *v = &vals[i];
		Oid type = PQftype(r, col);

		*v = (struct copy_value){.kind = COPY_NULL};
		if (PQgetisnull(r, 0, col))
			continue;
		if (type == OID_INT8 || type == OID_INT4 || type == OID_INT2) {
			v->kind = COPY_INT;
			v->i = be_int(b, len);
		} else if (type == OID_BOOL) {
			v->kind = COPY_BOOL;
			v->i = len == 1 && b[0];
		} else if (type == OID_TEXT || type == OID_VARCHAR) {
			v->kind = COPY_TEXT;
			v->p = b;
			v->len = (size_t)len;
		} else if (type == OID_BYTEA) {
			v->kind = COPY_BLOB;
			v->p = b;
			v->len = (size_t)len;
		} else {
			v->kind = COPY_REAL; /* a type the copier refuses */
		}
	}
	return ERR_OK;
}

static void pc_read_close(struct copy_end *e)
{
	struct pg_copy *p = pc(e);
	PGresult *r;

	PQclear(p->row);
	p->row = NULL;
	if (p->reading) {
		/* Stopped early (an error): the rest of the rows are dropped. */
		while ((r = PQgetResult(p->c)))
			PQclear(r);
		p->reading = false;
	}
}

static enum err pc_clear(struct copy_end *e, const char *table, struct diag *d)
{
	char sql[160];
	enum err err = table_sql(pc(e), "DELETE FROM ", table, sql, sizeof(sql), d);

	return err ? err : exec(pc(e), sql, table, d);
}

static bool put(struct pg_copy *p, size_t *used, const void *data, size_t len)
{
	if (*used + len > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		while (cap < *used + len)
			cap *= 2;
		unsigned char *b = realloc(p->buf, cap);
		if (!b)
			return false;
		p->buf = b;
		p->cap = cap;
	}
	if (len) /* data may be NULL then (SQLite's empty blob) */
		memcpy(p->buf + *used, data, len);
	*used += len;
	return true;
}

static bool put_be(struct pg_copy *p, size_t *used, uint64_t v, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return put(p, used, b, (size_t)bytes);
}

static enum err pc_write_open(struct copy_end *e, const char *table, const struct copy_column *cols,
			      unsigned n, struct diag *d)
{
	/* PGCOPY's signature, flags 0, no header extension. */
	static const unsigned char header[19] = {'P',  'G',  'C',  'O',	 'P', 'Y',
						 '\n', 0xff, '\r', '\n', 0};
	struct pg_copy *p = pc(e);
	char *sql = calloc(1, 1), *list = column_list(p, cols, n), *name = ident(p, table);
	size_t len = 0;
	enum err err;

	append(&sql, &len, "COPY ");
	append(&sql, &len, name ? name : "");
	append(&sql, &len, " (");
	append(&sql, &len, list ? list : "");
	append(&sql, &len, ") FROM STDIN (FORMAT binary)");
	if (!sql || !list || !name) {
		free(sql);
		free(list);
		PQfreemem(name);
		return diag_set(d, ERR_NOMEM, table, "out of memory");
	}
	free(list);
	PQfreemem(name);
	PGresult *r = PQexec(p->c, sql);
	free(sql);
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return result(p, r, table, d);
	PQclear(r);
	memcpy(p->cols, cols, n * sizeof(*cols));
	p->ncols = n;
	err = PQputCopyData(p->c, (const char *)header, sizeof(header)) == 1
		      ? ERR_OK
		      : diag_set(d, ERR_STORAGE_UNAVAILABLE, table, "%s: COPY failed", table);
	return err;
}

static enum err pc_write_row(struct copy_end *e, const struct copy_value *vals, struct diag *d)
{
	struct pg_copy *p = pc(e);
	size_t used = 0;
	bool ok = put_be(p, &used, p->ncols, 2);

	for (unsigned i = 0; ok && i < p->ncols; i++) {
		const struct copy_value *v = &vals[i];
		switch (v->kind) {
		case COPY_INT:
			ok = put_be(p, &used, p->cols[i].int_bytes, 4) &&
			     put_be(p, &used, (uint64_t)v->i, p->cols[i].int_bytes);
			break;
		case COPY_BOOL:
			ok = put_be(p, &used, 1, 4) && put_be(p, &used, v->i ? 1 : 0, 1);
			break;
		case COPY_TEXT:
		case COPY_BLOB:
			if (v->len > INT32_MAX)
				return diag_set(d, ERR_TOO_LARGE, "write", "a value over 2 GiB");
			ok = put_be(p, &used, v->len, 4) && put(p, &used, v->p, v->len);
			break;
		default:
			ok = put_be(p, &used, UINT32_MAX, 4); /* -1: NULL */
			break;
		}
	}
	if (!ok)
		return diag_set(d, ERR_NOMEM, "write", "out of memory");
	if (PQputCopyData(p->c, (const char *)p->buf, (int)used) != 1)
		return diag_set(d, ERR_STORAGE_UNAVAILABLE, "write", "COPY: %s",
				PQerrorMessage(p->c));
	return ERR_OK;
}

static enum err pc_write_close(struct copy_end *e, bool ok, struct diag *d)
{
	struct pg_copy *p = pc(e);
	static const unsigned char trailer[2] = {0xff, 0xff};
	enum err err = ERR_OK;
	PGresult *r;

	if (ok)
		PQputCopyData(p->c, (const char *)trailer, sizeof(trailer));
	PQputCopyEnd(p->c, ok ? NULL : "migrate-data stopped");
	while ((r = PQgetResult(p->c))) {
		if (!err && ok)
			err = result(p, r, "COPY", d);
		else
			PQclear(r);
	}
	return err;
}

static enum err pc_sequence_get(struct copy_end *e, const struct copy_table *t, int64_t *ret,
				struct diag *d)
{
	struct pg_copy *p = pc(e);
	char *name = ident(p, t->name), *col = ident(p, t->id), sql[512];
	const char *params[2] = {t->name, t->id};

	if (!name || !col) {
		PQfreemem(name);
		PQfreemem(col);
		return diag_set(d, ERR_NOMEM, t->name, "out of memory");
	}
	/* The sequence's last value (NULL before its first use) may be above
	 * the ids left. */
	snprintf(sql, sizeof(sql),
		 "SELECT greatest((SELECT coalesce(max(%s), 0) FROM %s), (SELECT "
		 "coalesce(last_value, 0) FROM pg_sequences s WHERE format('%%I.%%I', "
		 "s.schemaname, s.sequencename)::regclass = "
		 "pg_get_serial_sequence(quote_ident($1), $2)::regclass))",
		 col, name);
	PQfreemem(name);
	PQfreemem(col);
	return scalar(p, sql, 2, params, t->name, ret, d);
}

static enum err pc_sequence_set(struct copy_end *e, const struct copy_table *t, int64_t v,
				struct diag *d)
{
	struct pg_copy *p = pc(e);
	char value[24];
	const char *params[3] = {t->name, t->id, value};
	int64_t got = 0;

	if (v <= 0)
		return ERR_OK; /* the sequence starts at 1 */
	snprintf(value, sizeof(value), "%lld", (long long)v);
	return scalar(p, "SELECT setval(pg_get_serial_sequence(quote_ident($1), $2), $3::bigint)",
		      3, params, t->name, &got, d);
}

static enum err pc_commit(struct copy_end *e, struct diag *d)
{
	enum err err = exec(pc(e), "COMMIT", "commit", d);

	if (!err)
		pc(e)->in_tx = false;
	return err;
}

static void pc_close(struct copy_end *e)
{
	struct pg_copy *p = pc(e);

	pc_read_close(e);
	if (p->c && p->in_tx)
		PQclear(PQexec(p->c, "ROLLBACK"));
	PQfinish(p->c);
	free(p->buf);
	free(p);
}

static const struct copy_end_ops pg_copy_ops = {
	.tables = pc_tables,
	.columns = pc_columns,
	.count = pc_count,
	.read_open = pc_read_open,
	.read_next = pc_read_next,
	.read_close = pc_read_close,
	.clear = pc_clear,
	.write_open = pc_write_open,
	.write_row = pc_write_row,
	.write_close = pc_write_close,
	.sequence_get = pc_sequence_get,
	.sequence_set = pc_sequence_set,
	.commit = pc_commit,
	.close = pc_close,
};

static enum err version_check(struct pg_copy *p, bool target, struct diag *d)
{
	unsigned have = 0;
	enum err e = pg_schema_version(p->c, &have, d);

	if (e)
		return e;
	if (target && have == 0)
		return pg_migrate(p->c, true, NULL, d);
	if (have > pg_migrations_count)
		return diag_set(d, ERR_DB_TOO_NEW, "database",
				"the PostgreSQL database has schema version %u, newer than this "
				"suitd's %u",
				have, pg_migrations_count);
	if (have < pg_migrations_count)
		return diag_set(d, target ? ERR_EXISTS : ERR_CONFLICT, "database",
				"the PostgreSQL database has schema version %u, this suitd's is "
				"%u: %s",
				have, pg_migrations_count,
				target ? "give an empty database as the target"
				       : "run `suitd migrate` on it first");
	return ERR_OK;
}

enum err pg_copy_open(const struct storage_options *opt, bool target, struct copy_end **ret,
		      struct diag *d)
{
	struct pg_conn_options co = {.url = opt->url, .password_file = opt->password_file};
	struct pg_copy *p = calloc(1, sizeof(*p));
	int64_t locked = 0;
	enum err e;

	if (!p)
		return diag_set(d, ERR_NOMEM, "database", "out of memory");
	/* A password in the URL is on the command line, which ps shows to
	 * every user of the machine. */
	PQconninfoOption *info = PQconninfoParse(opt->url, NULL);
	bool has_password = false;
	for (PQconninfoOption *o = info; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			has_password = true;
	PQconninfoFree(info);
	if (has_password) {
		free(p);
		return diag_set(d, ERR_CONFIG, "database",
				"a password in the URL is visible to every user (ps): use "
				"--password-file or PGPASSFILE");
	}
	p->base.ops = &pg_copy_ops;
	p->base.backend = "postgresql";
	e = pg_conn_open(&co, &p->c, d);
	/* A copy of a large database runs as long as it needs. */
	if (!e)
		e = exec(p,
			 "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
			 "SET client_encoding = 'UTF8'",
			 "session", d);
	if (!e)
		e = version_check(p, target, d);
	if (!e)
		e = exec(p, target ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			 "begin", d);
	if (!e)
		p->in_tx = true;
	/* The target: the writer lock of every suitd on this database
	 * (pg_events.c), so none writes while the copy runs. The source:
	 * its snapshot taken now. */
	if (!e && target) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_xact_lock(%lld)::int",
			 (long long)PG_WRITER_LOCK_KEY);
		e = scalar(p, sql, 0, NULL, "lock", &locked, d);
		if (!e && !locked)
			e = diag_set(d, ERR_BUSY, "database",
				     "a suitd is writing to the target database: stop it first");
	} else if (!e) {
		e = scalar(p, "SELECT 1", 0, NULL, "snapshot", &locked, d);
	}
	if (e) {
		pc_close(&p->base);
		return e;
	}
	*ret = &p->base;
	return ERR_OK;
}
