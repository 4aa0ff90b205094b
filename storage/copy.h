/* `suitd migrate-data` (issue 21): a whole database copied from one backend
 * into an empty one of either kind, verified by row counts and digests.
 * Each backend opens a copy end (storage/sqlite/copy.c,
 * storage/postgresql/pg_copy.c) that reads or writes whole tables through
 * its own dialect; the copier (storage/copy.c) converts values by the
 * target's column types, orders the tables, keeps counters and sequences
 * right and compares the digests (docs/design.md "migrate-data"). */
#ifndef SUITD_STORAGE_COPY_H
#define SUITD_STORAGE_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "storage/storage.h"

#define COPY_NAME_MAX	 64
#define COPY_COLUMNS_MAX 32
#define COPY_TABLES_MAX	 64
#define COPY_KEY_MAX	 4

/* A column's type in the catalog, as the copier converts to it. */
enum copy_type {
	COPY_T_INT,  /* SQLite INTEGER; PostgreSQL bigint, integer, smallint */
	COPY_T_BOOL, /* PostgreSQL boolean (SQLite keeps 0/1 in INTEGER) */
	COPY_T_TEXT,
	COPY_T_BLOB,
	COPY_T_OTHER, /* anything else: the copier refuses the table */
};

/* A value as a backend read it (SQLite's storage class; PostgreSQL's
 * column type). */
enum copy_kind { COPY_NULL, COPY_INT, COPY_BOOL, COPY_TEXT, COPY_BLOB, COPY_REAL };

struct copy_value {
	enum copy_kind kind;
	int64_t i;     /* COPY_INT, COPY_BOOL (0/1) */
	const void *p; /* COPY_TEXT, COPY_BLOB: valid until the next read */
	size_t len;    /* bytes at p (text: no terminator counted) */
};

struct copy_column {
	char name[COPY_NAME_MAX];
	enum copy_type type;
	/* COPY_T_INT: its width in bytes (PostgreSQL integer: 4; else 8). */
	unsigned char int_bytes;
};

/* A table as the copier knows it (storage/copy_tables.c). */
struct copy_table {
	const char *name;
	/* The primary key: the order rows are read and digested in. */
	const char *key[COPY_KEY_MAX];
	/* The generated id column (identity / AUTOINCREMENT), or NULL. */
	const char *id;
	/* Written by triggers of the target's own inserts (counters) or by a
	 * migration (a seed row): cleared on the target and copied after the
	 * tables whose triggers fill it, so it ends equal to the source's. */
	bool derived;
};

/* Every table of the schema, parents before children (foreign keys). */
extern const struct copy_table copy_tables[];
extern const unsigned copy_tables_count;

struct copy_end;

/* What a backend implements for one end of a copy. Every call that fails
 * says why in d (never a URL or password). */
struct copy_end_ops {
	/* The tables of its catalog, its own bookkeeping tables left out
	 * (sqlite_sequence, schema_version). */
	enum err (*tables)(struct copy_end *e, char (*ret)[COPY_NAME_MAX], unsigned max,
			   unsigned *ret_n, struct diag *d);
	/* The columns of the table in catalog order, with their types. */
	enum err (*columns)(struct copy_end *e, const char *table, struct copy_column *ret,
			    unsigned max, unsigned *ret_n, struct diag *d);
	enum err (*count)(struct copy_end *e, const char *table, int64_t *ret, struct diag *d);
	/* Stream the rows of t (these columns) in key order, bytewise for
	 * text keys, without holding the table in memory. */
	enum err (*read_open)(struct copy_end *e, const struct copy_table *t,
			      const struct copy_column *cols, unsigned n, struct diag *d);
	/* ERR_OK with a row in vals, ERR_NOT_FOUND after the last. */
	enum err (*read_next)(struct copy_end *e, struct copy_value *vals, struct diag *d);
	void (*read_close)(struct copy_end *e);
	/* Target: delete every row of the table (a derived one). */
	enum err (*clear)(struct copy_end *e, const char *table, struct diag *d);
	enum err (*write_open)(struct copy_end *e, const char *table,
			       const struct copy_column *cols, unsigned n, struct diag *d);
	/* vals already converted to the columns' types. */
	enum err (*write_row)(struct copy_end *e, const struct copy_value *vals, struct diag *d);
	/* ok false: the table failed on the way, abandon what was sent. */
	enum err (*write_close)(struct copy_end *e, bool ok, struct diag *d);
	/* The highest id the table's generator gave (its sequence or
	 * sqlite_sequence; at least the highest id present; 0: none). */
	enum err (*sequence_get)(struct copy_end *e, const struct copy_table *t, int64_t *ret,
				 struct diag *d);
	/* Target: the next generated id is above v. */
	enum err (*sequence_set)(struct copy_end *e, const struct copy_table *t, int64_t v,
				 struct diag *d);
	enum err (*commit)(struct copy_end *e, struct diag *d);
	/* Rolls back what is not committed, closes, frees. */
	void (*close)(struct copy_end *e);
};

struct copy_end {
	const struct copy_end_ops *ops;
	const char *backend; /* "sqlite", "postgresql" */
};

/* Open an end. A source is checked to be at this binary's schema version
 * (ERR_DB_TOO_NEW newer, ERR_CONFLICT older: run `suitd migrate` on it)
 * and read in one snapshot. A target is created if need be, migrated to
 * this binary's version, and its write transaction begun. */
enum err copy_end_open(const struct storage_options *opt, bool target, struct copy_end **ret,
		       struct diag *d);
enum err sqlite_copy_open(const struct storage_options *opt, bool target, struct copy_end **ret,
			  struct diag *d);
enum err pg_copy_open(const struct storage_options *opt, bool target, struct copy_end **ret,
		      struct diag *d);

/* One table's figures, for the progress lines and the verification table. */
struct copy_table_result {
	const char *name;
	int64_t source_rows, target_rows;
	unsigned char source_digest[32], target_digest[32];
	double seconds;
};

/* Copy everything of src into the empty dst, verify, and commit dst only
 * when every table's count and digest agree. progress (may be NULL): a
 * line per table as it is done. ERR_EXISTS: dst is not empty; ERR_CONFLICT:
 * a count or digest differs (results say which; nothing committed);
 * ERR_INVALID: a value does not fit its target column (d names table, key
 * and column). results has copy_tables_count entries. */
enum err storage_copy(struct copy_end *src, struct copy_end *dst, FILE *progress,
		      struct copy_table_result *results, struct diag *d);

#endif
