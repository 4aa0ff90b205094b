/* Every SQL statement of the daemon, in one table (STYLE.md "SQLite"). Each
 * connection prepares all of them once at open with SQLITE_PREPARE_PERSISTENT,
 * so a statement that does not compile against the schema fails at start-up. */
#ifndef SUITD_STORAGE_STATEMENTS_H
#define SUITD_STORAGE_STATEMENTS_H

/* X(name, sql) */
#define STATEMENT_LIST(X)                                                              \
	X(BEGIN_IMMEDIATE, "BEGIN IMMEDIATE")                                          \
	X(COMMIT, "COMMIT")                                                            \
	X(ROLLBACK, "ROLLBACK")                                                        \
	X(PING, "SELECT 1")                                                            \
	X(API_KEY_INSERT, "INSERT INTO api_keys (name, role, key_hash, created_at) "   \
			  "VALUES (?1, ?2, ?3, ?4)")                                   \
	X(API_KEY_BY_HASH, "SELECT name, role, created_at, last_used_at, revoked_at "  \
			   "FROM api_keys WHERE key_hash = ?1")                        \
	X(API_KEY_TOUCH, "UPDATE api_keys SET last_used_at = ?2 WHERE key_hash = ?1")  \
	X(API_KEY_LIST, "SELECT id, name, role, created_at, last_used_at, revoked_at " \
			"FROM api_keys WHERE id > ?1 ORDER BY id LIMIT ?2")            \
	X(API_KEY_REVOKE, "UPDATE api_keys SET revoked_at = ?2 "                       \
			  "WHERE name = ?1 AND revoked_at IS NULL")                    \
	X(AUDIT_INSERT, "INSERT INTO audit_log (at, actor, action, subject) "          \
			"VALUES (?1, ?2, ?3, ?4)")

enum stmt {
#define STATEMENT_ENUM(name, sql) STMT_##name,
	STATEMENT_LIST(STATEMENT_ENUM)
#undef STATEMENT_ENUM
		STMT__COUNT
};

#endif
