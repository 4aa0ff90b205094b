/* Internal to storage/postgresql/: the PostgreSQL backend's storage,
 * connection and statements, which the shared code sees as struct storage,
 * struct db and struct sql_stmt (storage/backend.h, storage/sql.h). */
#ifndef SUITD_STORAGE_POSTGRESQL_PG_H
#define SUITD_STORAGE_POSTGRESQL_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/backend.h"
#include "storage/db.h"
#include "storage/postgresql/pg_conn.h"

/* The key of the pg_advisory_xact_lock() every BEGIN_IMMEDIATE takes: one
 * writing transaction at a time in the whole database, as SQLite's BEGIN
 * IMMEDIATE (the bytes of "suitdwri"; distinct from PG_MIGRATE_LOCK_KEY). */
#define PG_WRITER_LOCK_KEY INT64_C(8319671835259531881) /* 0x7375697464777269 */
/* How long BEGIN_IMMEDIATE waits for that lock before it fails busy (503
 * with Retry-After), as SQLite's busy timeout (storage/sqlite/storage.c). */
#define PG_WRITER_LOCK_TIMEOUT_MS 5000 /* in the SQL text of pg_events.c */
/* A thread whose connection broke tries again at most this often, so that
 * a server that is down is not hammered by every request. */
#define PG_RECONNECT_INTERVAL_MS 1000

struct pg_storage {
	struct storage base; /* first: the shared part (storage/backend.h) */
	struct pg_conn_options conn;
	char *url, *password_file;
	unsigned pool_size;	 /* connections at most (0: no limit) */
	atomic_uint connections; /* open now */
	pthread_key_t conn_key;
	/* pg_cluster.c; NULL: not started. Read by any thread. */
	struct pg_cluster *_Atomic cluster;
};

/* What a statement is to the backend beyond its text. */
enum pg_stmt_kind {
	PG_STMT_PLAIN,
	/* Ends with RETURNING id where SQLite's has no RETURNING: the id goes
	 * to the connection's last insert id, the step answers SQL_DONE. */
	PG_STMT_INSERT_ID,
	PG_STMT_BEGIN,	  /* BEGIN_IMMEDIATE: BEGIN plus the writer lock */
	PG_STMT_COMMIT,	  /* COMMIT: also the newest event id when needed */
	PG_STMT_UNDO,	  /* ROLLBACK [TO]: the actor setting is gone with it */
	PG_STMT_ASSIGNMT, /* may change assignment states: the trigger writes events */
};

struct pg_db;

struct pg_stmt {
	struct sql_stmt base; /* first: a struct sql_stmt * is a struct pg_stmt * */
	struct pg_db *db;
	enum stmt id;
	enum pg_stmt_kind kind;
	/* INSERT, UPDATE or DELETE: alone, it takes the writer lock too. */
	bool writes;
	/* In a transaction, sent without waiting for its answer (pg_stmt.c,
	 * "Deferred statements"). */
	bool deferrable;
	const char *name, *text;
	/* Parameters: values in text format (i64, text) or binary (bytea). */
	int nparams;
	const char **values;
	int *lengths, *formats;
	char **owned;	 /* per parameter: a copy to free, or NULL */
	char (*num)[24]; /* per parameter: the decimal text of an i64 */
	/* The result, fetched whole at the first step. */
	PGresult *res;
	int row;	     /* the current row; -1 before the first step */
	int rows;	     /* PQntuples */
	char (*coltext)[24]; /* per column: an integer column as text */
	int coltext_n;
};

struct pg_db {
	struct db base; /* first: a struct db * is a struct pg_db * */
	struct pg_storage *storage;
	PGconn *conn;	  /* NULL: broken, reconnect at the next db_get() */
	int64_t retry_ms; /* the last connection attempt (monotonic ms) */
	int changes;
	int64_t last_insert_id;
	/* The open transaction changed assignment states (the trigger may have
	 * written events): COMMIT reads the newest event id. */
	bool events_maybe;
	/* Statements sent in pipeline mode whose answers are not read yet
	 * (deferred); the failure of one found by pg_flush() when the caller
	 * could not hear it then (changes()), for the next statement. */
	int deferred;
	int deferred_rc;
	/* The session's suitd.actor is actor (false: not known, set it). */
	bool actor_set;
	char actor[sizeof(((struct db *)0)->event_actor)];
	struct pg_stmt stmts[STMT__COUNT];
};

static inline struct pg_db *pg_db(struct db *db)
{
	return (struct pg_db *)(void *)db;
}

/* pg_stmt.c: the statement ops, the connection ops. */
extern const struct db_backend pg_backend;
/* Prepare every statement on db->conn; ERR_STORAGE with the statement's
 * name and the server's message in d when one does not. */
enum err pg_stmts_prepare(struct pg_db *db, struct diag *d);
/* Forget results and bindings (before a reconnect). */
void pg_stmts_release(struct pg_db *db);
/* And free what the statements hold (the connection is closed). */
void pg_stmts_free(struct pg_db *db);
/* The connection is gone: close it, the next db_get() reconnects. */
void pg_db_broken(struct pg_db *db);
/* Read the answers of the deferred statements (one round trip, none when
 * there are none) and leave pipeline mode; SQL_OK or the first failure. */
int pg_flush(struct pg_db *db);
/* A failed result as an sql_code (SQL_CONSTRAINT, SQL_UNAVAILABLE, ...). */
int pg_sql_code(PGconn *c, const PGresult *r);

/* pg_events.c: the query that takes the writer lock for the transaction
 * it runs in. */
extern const char pg_writer_lock_sql[];
/* The special statements of a transaction. Each returns an
 * sql_code and leaves st->res NULL. */
int pg_tx_begin(struct pg_stmt *st);
int pg_tx_commit(struct pg_stmt *st);
/* Before a statement that may make the trigger write events: the actor of
 * db_event_actor() as the session's suitd.actor, when it changed. SQL_OK,
 * or the failure. */
int pg_tx_actor(struct pg_db *db);
/* After such a statement outside a transaction (committed already): the
 * newest event id into db->event_newest. */
int pg_events_newest(struct pg_db *db);

/* pg_cluster.c: the storage/cluster.h ops. */
struct pg_cluster;
enum err pg_cluster_start(struct storage *s, storage_resync_cb resync, void *cls);
void pg_cluster_stop(struct storage *s);
void pg_cluster_stats(struct storage *s, struct storage_cluster_stats *ret);
/* Stop and free it (pg_free). */
void pg_cluster_free(struct pg_storage *s);

/* pg_storage.c: monotonic milliseconds. */
int64_t pg_now_ms(void);
/* Connect db again (its conn is NULL) and prepare its statements, unless it
 * tried less than PG_RECONNECT_INTERVAL_MS ago (ERR_STORAGE_UNAVAILABLE). */
enum err pg_db_reconnect(struct pg_db *db);

#endif
