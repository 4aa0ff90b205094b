/* Internal to storage/: what a storage backend implements besides its
 * statements (sql.h), for the shared code of storage/ (issue 21): the
 * storage as a whole (open, per-thread connection, schema, backup, checks)
 * and each connection (changes, transaction state, inserted ids): SQLite
 * (storage/sqlite/) and PostgreSQL (storage/postgresql/). */
#ifndef SUITD_STORAGE_BACKEND_H
#define SUITD_STORAGE_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/cluster.h"
#include "storage/events.h"
#include "storage/storage.h"
#include "storage/turnstile.h"

struct db;
struct storage_backend;

/* Failed uploads whose deletion waits for the database (struct storage). */
#define STORAGE_ORPHANS_MAX 64

/* A backend's storage starts with this: what storage.c keeps for all. */
struct storage {
	const struct storage_backend *backend;
	/* Told of committed events (storage/events.h); written before the
	 * daemon serves, the count published last. */
	storage_events_listener listeners[STORAGE_EVENTS_LISTENERS];
	void *listener_cls[STORAGE_EVENTS_LISTENERS];
	atomic_uint listener_count;
	/* This process's write transactions, first come first served
	 * (storage/turnstile.h); set up by storage_open(). */
	struct turnstile writers;
	/* Uploads that failed while the database was gone, so that their
	 * 'receiving' rows could not be deleted then (storage/payloads.c);
	 * storage_payload_orphans_sweep() deletes them once it answers. More
	 * than STORAGE_ORPHANS_MAX: the rest waits for the start-up cleanup.
	 * state_lock guards these and unavailable_why. */
	pthread_mutex_t state_lock;
	unsigned orphan_count;
	int64_t orphans[STORAGE_ORPHANS_MAX];
	/* The last failed connection attempt's message ("" after one that
	 * succeeded): storage_unavailable_why(). */
	char unavailable_why[160];
};

/* For a backend: the outcome of a connection attempt (WHY NULL: it
 * succeeded). */
void storage_unavailable_set(struct storage *s, const char *why);

/* The storage.h calls that differ by backend (storage/storage.c passes
 * them on). */
struct storage_backend {
	const char *name;
	/* Allocates the backend's storage (zeroed, backend set): connects,
	 * checks the schema version, migrates when asked. */
	enum err (*open)(const struct storage_options *opt, struct storage **ret, struct diag *d);
	/* Closes the calling thread's connection and frees s (not NULL). */
	void (*free)(struct storage *s);
	/* The calling thread's connection, opened and prepared on first use. */
	enum err (*connection)(struct storage *s, struct db **ret_db);
	enum err (*schema_version)(struct storage *s, unsigned *ret_have, unsigned *ret_want);
	void (*wal_stats)(struct storage *s, struct storage_wal_stats *ret);
	enum err (*backup)(struct storage *s, const char *out, struct diag *d);
	enum err (*integrity_check)(struct storage *s, bool *ret_ok);
	/* Several nodes (storage/cluster.h); all NULL for a backend that
	 * cannot be shared. */
	enum err (*cluster_start)(struct storage *s, storage_resync_cb resync, void *cls);
	void (*cluster_stop)(struct storage *s);
	void (*cluster_stats)(struct storage *s, struct storage_cluster_stats *ret);
};

/* Per connection. */
struct db_backend {
	const char *name;
	/* Rows the last INSERT, UPDATE or DELETE of this connection changed. */
	int (*changes)(struct db *db);
	/* Whether a transaction is open (it may have been rolled back by the
	 * database itself after an error: then false). */
	bool (*in_transaction)(struct db *db);
	/* The id the last INSERT of this connection gave its row (SQLite's
	 * rowid; PostgreSQL: lastval() of the serial column). */
	int64_t (*last_insert_id)(struct db *db);
};

/* The backends: storage/sqlite/ and storage/postgresql/ ([storage]
 * backend; storage_open() picks by storage_options.backend). */
extern const struct storage_backend sqlite_storage_backend;
extern const struct storage_backend postgresql_storage_backend;

#endif
