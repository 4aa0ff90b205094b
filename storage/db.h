/* Internal to storage/: the per-thread connection and its prepared
 * statements, as the shared storage code sees them (no dialect: sql.h,
 * backend.h). Only the files of storage/ include it. */
#ifndef SUITD_STORAGE_DB_H
#define SUITD_STORAGE_DB_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "storage/deployments.h"
#include "storage/sql.h"
#include "storage/statements.h"
#include "storage/storage.h"

struct db_backend;

/* A backend's connection starts with this (storage/sqlite/sqlite.h). */
struct db {
	const struct db_backend *backend;
	struct sql_stmt *stmts[STMT__COUNT];
	struct storage *storage;
	/* The newest event id the open transaction wrote (0: none), also for
	 * the rows the assignment trigger writes, kept by the backend (SQLite:
	 * its update hook, storage/sqlite/hooks.c): db_commit() tells the
	 * listeners (storage/events.h). */
	int64_t event_newest;
	/* The actor of the assignment trigger's events (SQLite: what
	 * suitd_event_actor() answers): set by db_event_actor() for one
	 * transaction, "": "system". */
	char event_actor[80];
	/* db_begin() queued in the storage's turnstile and holds it until
	 * db_commit() or db_rollback(). */
	bool writer_turn;
};

/* The calling thread's connection, opened and prepared on first use. */
enum err db_get(struct storage *s, struct db **ret_db);
struct sql_stmt *db_stmt(struct db *db, enum stmt id);

/* Map a result code (enum sql_code) to the project's error enum. */
enum err db_error(int rc);
/* ERR_OK for SQL_DONE/ROW, else the mapped error (never ERR_OK). */
enum err db_result(int rc);

/* Step a statement that reads at most one row: ERR_OK with the row,
 * ERR_NOT_FOUND without one, else the mapped error. */
enum err db_step_row(struct sql_stmt *st);
/* Step a statement without parameters once, then reset it. */
enum err db_step_once(struct db *db, enum stmt id);
enum err db_begin(struct db *db);
/* One event (storage/events.h), inside the transaction of the change it
 * describes: type in the past tense ("deployment.paused"), actor the key
 * name, "local:cli", "system" or "device:<id>", subject "<kind>:<id>",
 * deployment_id 0 and device_id NULL when none, data a JSON object (stolen;
 * NULL: {}). */
enum err db_event(struct db *db, const char *type, const char *actor, const char *subject,
		  int64_t deployment_id, const char *device_id, bool admin, json_t *data);
/* The actor of the assignment events the trigger writes in this
 * transaction (NULL: "system"); reset by commit and rollback. */
void db_event_actor(struct db *db, const char *actor);
/* After a commit or rollback: listeners hear of committed events. */
void db_events_end(struct db *db, bool committed);
/* Tell the registered listeners (storage/storage.c). */
void db_events_notify(struct storage *s, int64_t newest_id);
/* An admin event with kind:name as subject and an optional detail the
 * type and subject do not say (the grace of a token rotation). */
enum err db_audit_detail(struct db *db, const char *actor, const char *type, const char *kind,
			 const char *name, const char *detail);
enum err db_audit(struct db *db, const char *actor, const char *type, const char *kind,
		  const char *name);
enum err db_commit(struct db *db);
void db_rollback(struct db *db);

/* Join the device to the active deployment that targets it (group, tag),
 * inside the open transaction (storage_deployment_join without its own). */
struct stage_planner;
enum err db_deployment_join(struct db *db, int64_t device_num, const struct stage_planner *planner,
			    bool *ret_joined);

/* Insert the device and its tags in the open transaction; ERR_EXISTS when
 * the id is taken (storage/devices.c). */
struct device_new;
enum err db_device_insert(struct db *db, const struct device_new *d, int64_t *ret_num);
/* UPDATE devices SET <column> = text WHERE num ("" sets NULL). */
enum err db_device_set_text(struct db *db, enum stmt which, int64_t num, const char *text);
/* A device's tags become exactly these (storage/devices.c). */
enum err db_device_set_tags(struct db *db, int64_t num, const char *const *tags, unsigned n);
/* Whether the device's tags are exactly these, in any order. */
enum err db_device_tags_same(struct db *db, int64_t num, const char *const *tags, unsigned n,
			     bool *ret);
/* Compare-and-set of an assignment's state in the open transaction (or
 * autocommit): *ret_changed false when it was no longer `from`. */
enum err db_assignment_set_state(struct db *db, int64_t id, enum assignment_state from,
				 enum assignment_state to, const char *reason, bool *ret_changed);
/* storage_assignment_fetched() on this connection. */
enum err db_assignment_fetched(struct db *db, int64_t assignment_id, int64_t manifest_id,
			       enum manifest_need kind, int64_t object_id, unsigned *ret_left);
struct api_key;
/* An api_keys row from column first on: name, role, created_at,
 * last_used_at, revoked_at, expires_at (storage/api_keys.c; the console's
 * sessions read their key with the same columns). */
void db_api_key_from_row(struct sql_stmt *st, int first, struct api_key *k);

/* Reset (and clear bindings of) a statement when it leaves scope. */
static inline void db_stmt_cleanup(struct sql_stmt **st)
{
	if (*st)
		sql_reset(*st);
}
#define CLEANUP_STMT __attribute__((cleanup(db_stmt_cleanup)))

/* Bind text / a blob, copied. */
static inline int db_bind_text(struct sql_stmt *st, int idx, const char *text)
{
	return sql_bind_text(st, idx, text);
}

static inline int db_bind_blob(struct sql_stmt *st, int idx, const void *data, size_t len)
{
	return sql_bind_blob(st, idx, data, len);
}

/* Column text or "" (never NULL). */
static inline const char *db_column_text(struct sql_stmt *st, int col)
{
	const char *t = sql_col_text(st, col);

	return t ? t : "";
}

/* The backend's answers about the connection (storage/backend.h). */
int sql_changes(struct db *db);
bool sql_in_transaction(struct db *db);
int64_t sql_last_insert_id(struct db *db);

#endif
