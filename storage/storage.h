/* The storage layer: SQLite or PostgreSQL behind a narrow interface
 * (DESIGN.md §10). Nothing here knows of HTTP. Each thread gets its own
 * connection on first use. */
#ifndef SUITD_STORAGE_STORAGE_H
#define SUITD_STORAGE_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct storage;

enum storage_kind {
	STORAGE_SQLITE,
	STORAGE_POSTGRESQL,
};

struct storage_options {
	enum storage_kind backend; /* [storage] backend (0: SQLite) */
	/* SQLite */
	const char *path;
	bool synchronous_full;	    /* PRAGMA synchronous = FULL (else NORMAL) */
	bool migrate;		    /* apply pending migrations at open */
	uint64_t mmap_size;	    /* PRAGMA mmap_size per connection (0 = plain reads) */
	uint64_t max_size;	    /* bytes the database may grow to (0 = no cap) */
	bool background_checkpoint; /* WAL checkpoints on a thread of their own */
	/* PostgreSQL (storage/postgresql/; migrate applies too) */
	const char *url;	       /* libpq URL or connection string; never logged */
	const char *password_file;     /* NULL: libpq's PGPASSFILE / PG* */
	unsigned pool_size;	       /* connections at most (0: no limit) */
	unsigned statement_timeout_ms; /* 0: the server's */
};

/* Open (creating the file if needed), check the schema version, migrate if
 * asked. ERR_DB_TOO_NEW when the database was written by a newer suitd. */
enum err storage_open(const struct storage_options *opt, struct storage **ret_storage,
		      struct diag *d);
/* Closes the calling thread's connection; other threads close theirs at exit. */
void storage_free(struct storage *s);

/* Schema versions: what the file has and what this binary knows. */
enum err storage_schema_version(struct storage *s, unsigned *ret_have, unsigned *ret_want);

/* The command line changed devices or assignments a running daemon keeps in
 * memory: mark it after the change commits (migration 0012). */
enum err storage_cli_changes_mark(struct storage *s);
/* The counter the marks bump; the daemon reloads when it moves. */
enum err storage_cli_changes(struct storage *s, int64_t *ret_generation);

/* WAL checkpoints so far: by the checkpointer thread, and by committing
 * connections (without that thread); commits that waited for the thread
 * because the WAL had grown past 64 MiB. */
struct storage_wal_stats {
	unsigned long long background_checkpoints, inline_checkpoints, writer_waits;
};
void storage_wal_stats(struct storage *s, struct storage_wal_stats *ret);

/* Cheap query for /readyz. */
enum err storage_ping(struct storage *s);
/* Why the database could not be reached at the last attempt to connect
 * (the server's or libpq's message, never the URL or a password), or ""
 * when that attempt succeeded or none failed yet. */
void storage_unavailable_why(struct storage *s, char *out, size_t size);

/* Consistent copy of the live database into a new file OUT (not overwritten). */
enum err storage_backup(struct storage *s, const char *out, struct diag *d);

/* Result of PRAGMA integrity_check: true when "ok". */
enum err storage_integrity_check(struct storage *s, bool *ret_ok);

#endif
