/* Every SQL statement of the daemon in PostgreSQL's dialect (issue 21): the
 * text of each name of storage/statements.h, translated statement by
 * statement from storage/sqlite/statements.h against the schema of
 * migrations/postgresql/. The rules of the translation are in
 * docs/design.md "PostgreSQL dialect"; the short form:
 * - ?N is $N with the same N. Each connection prepares every statement
 *   with PQprepare and no parameter types, so PostgreSQL must infer each
 *   one: a parameter first seen where nothing gives it a type ("$5 IS
 *   NULL", a SELECT list) is cast there ($5::bigint), and one a statement
 *   does not use is named once by PG_UNUSED(). Parameters are int8, text
 *   or bytea only, as the C code binds them (tests/pg/check_pg_statements.c).
 * - Result columns are int2/int4/int8, bool, text or bytea, as many and in
 *   the order of SQLite's statement (sums are numeric: ::bigint).
 * - An INSERT whose id the C code reads (sql_last_insert_id()) ends with
 *   " RETURNING id"; the backend keeps that row's value and answers DONE.
 * - INSERT OR IGNORE is ON CONFLICT DO NOTHING; SQLite's scalar max()/min()
 *   are greatest()/least(); "IS ?"/"IS NOT ?" are IS [NOT] DISTINCT FROM;
 *   ORDER BY a nullable column says NULLS FIRST (SQLite's order), a text
 *   column COLLATE "C" (SQLite's BINARY, whatever the database's locale).
 * Macro names start with PG_ so that both tables fit in one file (the
 * test compares them). */
#ifndef SUITD_STORAGE_POSTGRESQL_STATEMENTS_H
#define SUITD_STORAGE_POSTGRESQL_STATEMENTS_H

#include "storage/statements.h"

/* A parameter the statement does not use: typed, so that PREPARE knows it,
 * and folded away by the planner. */
#define PG_UNUSED(n, type) "AND ($" #n "::" type " IS NULL OR TRUE) "

/* Assignment states that count as "active": at most one per device. */
#define PG_ACTIVE_STATES \
	"('pending', 'delivered', 'downloading', 'downloaded', 'installing', 'installed')"

/* A deployment's status as the API shows it (migration 0009). */
#define PG_DEPLOYMENT_STATUS                                                          \
	"CASE WHEN d.status = 'canceled' THEN 'canceled' WHEN d.prepared_at IS NULL " \
	"THEN 'preparing' WHEN d.paused_at IS NOT NULL "                              \
	"THEN 'paused' WHEN d.completed_at IS NOT NULL THEN 'completed' ELSE 'active' END"

/* Columns read by deployment_from_row() (storage/deployments.c). */
#define PG_DEPLOYMENT_COLUMNS                                                                \
	"SELECT d.id, d.name, d.manifest_id, m.digest, d.target_kind, "                      \
	"d.target_value, " PG_DEPLOYMENT_STATUS                                              \
	", d.created_at, d.created_by, m.sequence_number, "                                  \
	"d.device_timeout, d.success_threshold, d.failure_threshold, d.open_stage, "         \
	"d.paused_at, d.paused_by, d.pause_reason, d.paused_auto, d.failures_acknowledged, " \
	"d.completed_at, d.canceled_at, d.prepared_at, d.planned "                           \
	"FROM deployments d JOIN manifests m ON m.id = "                                     \
	"d.manifest_id "

/* What the check-in index holds of an active assignment (two bool
 * columns: col_i64 reads them as 0/1). */
#define PG_ACTIVE_ASSIGNMENT_COLUMNS                                                     \
	"SELECT a.id, a.device_num, a.deployment_id, d.manifest_id, a.state, m.digest, " \
	"m.sequence_number, a.stage > d.open_stage OR d.paused_at IS NOT NULL, "         \
	"a.stage, d.open_stage, d.paused_at IS NOT NULL "                                \
	"FROM assignments a JOIN deployments d ON d.id = a.deployment_id "               \
	"JOIN manifests m ON m.id = d.manifest_id "

/* The device list's columns (device_from_row) and its residual filters;
 * $1 the cursor, $2 the page size, $3 group, $4 class, $5 seen since, $6
 * tag, $7 not seen since, $8 sequence, $9 sequence below, $10 state. */
#define PG_DEVICE_LIST_SELECT                                                \
	"SELECT d.num, d.id, d.grp, d.vendor_id, d.class_id, d.attributes, " \
	"d.reported_sequence, d.last_seen_at, d.created_at, d.report_key "
#define PG_DEVICE_LIST_REST                                             \
	"AND ($5::bigint IS NULL OR " PG_DEVICE_SEEN_KEY " >= $5) "     \
	"AND ($7::bigint IS NULL OR " PG_DEVICE_SEEN_KEY " < $7) "      \
	"AND ($8::bigint IS NULL OR " PG_DEVICE_SEQUENCE_KEY " = $8) "  \
	"AND ($9::bigint IS NULL OR " PG_DEVICE_SEQUENCE_KEY " < $9) "  \
	"AND ($10::text IS NULL OR (SELECT a.state FROM assignments a " \
	"WHERE a.device_num = d.num ORDER BY a.id DESC LIMIT 1) = $10) "
/* The expressions of the indexes devices_seen and devices_sequence
 * (migrations 0002, 0003), written exactly as there: PostgreSQL matches an
 * expression index only on the same expression. -1 for never seen, none
 * reported. */
#define PG_DEVICE_SEEN_KEY     "coalesce(d.last_seen_at, -1)"
#define PG_DEVICE_SEQUENCE_KEY "coalesce(d.reported_sequence, -1)"
/* The filters that pick another statement (a tag, a group, a class) are
 * never set with a keyed one (storage/devices.c list_drive()). */
#define PG_DEVICE_LIST_KEYED_UNUSED PG_UNUSED(3, "text") PG_UNUSED(4, "bytea") PG_UNUSED(6, "text")
/* A list in the order of an index key, then an id (issue 15): a page
 * continues from its cursor (key, id) in two index seeks, the rest of the
 * cursor's key (EQ: $11 the key, $1 the id) and then the keys after it
 * (RANGE: $11 <= key < $12; $1 unused). The indexes carry the id as their
 * last column (migration 0003), as SQLite's carry the rowid. */
#define PG_DEVICE_LIST_KEYED(key, id) PG_DEVICE_LIST_SELECT ", " key ", " id " "
#define PG_DEVICE_LIST_BY_KEY(X, eq_name, range_name, key)                                        \
	X(eq_name,                                                                                \
	  PG_DEVICE_LIST_KEYED(                                                                   \
		  key, "d.num") "FROM devices d WHERE " key " = $11 "                             \
				"AND d.num > $1 " PG_DEVICE_LIST_REST PG_DEVICE_LIST_KEYED_UNUSED \
				"ORDER BY d.num LIMIT $2")                                        \
	X(range_name,                                                                             \
	  PG_DEVICE_LIST_KEYED(                                                                   \
		  key, "d.num") "FROM devices d WHERE " key " >= $11 AND " key                    \
				" < $12 " PG_DEVICE_LIST_REST PG_DEVICE_LIST_KEYED_UNUSED         \
					PG_UNUSED(1, "bigint") "ORDER BY " key ", d.num LIMIT $2")
/* Devices whose newest assignment is in state $13, in the order of
 * assignments_state_updated: when it entered that state, then its id.
 * "Newest" is NOT EXISTS a newer one, where SQLite says a.id = (SELECT
 * max(x.id) ...): the same rows, but PostgreSQL estimates a comparison with
 * a subquery at 0.5 % of the rows and then reads the state's whole range and
 * sorts it; the anti-join it estimates right, and walks the index in the
 * order of the page. */
#define PG_DEVICE_LIST_BY_STATE                                            \
	PG_DEVICE_LIST_KEYED("a.updated_at", "a.id")                       \
	"FROM assignments a JOIN devices d ON d.num = a.device_num "       \
	"WHERE a.state = $13 AND NOT EXISTS (SELECT 1 FROM assignments x " \
	"WHERE x.device_num = a.device_num AND x.id > a.id) "

/* A deployment that can deliver nothing any more, finished before $1. */
#define PG_GC_DEPLOYMENT_DONE(d)                                                    \
	"((" d ".status = 'canceled' AND coalesce(" d ".canceled_at, " d            \
	".created_at) < $1) OR (" d ".status = 'active' AND " d ".completed_at IS " \
	"NOT NULL AND " d ".completed_at < $1))"
/* A manifest uploaded before $1 that only such deployments use, and that
 * no stored manifest links as its dependency. */
#define PG_GC_NOT_A_DEPENDENCY(m) \
	"NOT EXISTS (SELECT 1 FROM manifest_dependencies gmd WHERE gmd.dependency_id = " m ".id)"
#define PG_GC_MANIFEST_UNUSED(m)                                                     \
	"(" m ".created_at < $1 AND NOT EXISTS (SELECT 1 FROM deployments gd WHERE " \
	"gd.manifest_id = " m                                                        \
	".id AND NOT " PG_GC_DEPLOYMENT_DONE("gd") ") AND " PG_GC_NOT_A_DEPENDENCY(m) ")"
/* Manifest $1 and the stored dependencies it links, transitively. */
#define PG_MANIFEST_CLOSURE                                                       \
	"closure(id) AS (SELECT $1::bigint UNION SELECT md.dependency_id FROM "   \
	"manifest_dependencies md JOIN closure c ON md.manifest_id = c.id WHERE " \
	"md.dependency_id IS NOT NULL)"

/* The highest manifest sequence number among the device d's active
 * assignments in deployments other than $1 (NULL: none). */
#define PG_HIGHER_ACTIVE                                                                      \
	"(SELECT max(hm.sequence_number) FROM assignments ha JOIN deployments hd ON hd.id = " \
	"ha.deployment_id JOIN manifests hm ON hm.id = hd.manifest_id WHERE ha.device_num = " \
	"d.num AND ha.deployment_id != $1 AND ha.state IN " PG_ACTIVE_STATES ")"

/* Columns read by webhook_from_row() and delivery_from_row()
 * (storage/webhooks.c). */
#define PG_WEBHOOK_COLUMNS                                                              \
	"id, url, types, description, secret, enabled, coalesce(disabled_reason, ''), " \
	"created_at, updated_at, created_by, cursor"
#define PG_WEBHOOK_DELIVERY_COLUMNS                                                        \
	"id, webhook_id, event_id, event_type, attempt, manual, at, coalesce(status, 0), " \
	"latency_ms, result, coalesce(error, '')"

/* The SQL of the hawkBit DDI adapter (storage/ddi.c, migration 0018).
 * DDI_POLL: what a base poll links besides the active assignment (which
 * comes from memory): a cancel to tell, the newest confirmed assignment
 * (installedBase), whether the device never sent configData (bool).
 * DDI_DEVICES_BY_ATTRIBUTE: SQLite's json_each() row of key $1 whose type
 * is 'text' and value $2 is jsonb containment of {"$1": "$2"}: a string
 * member of the top-level object, and nothing for an array (whose keys
 * json_each gives as integers). Both read every device, as SQLite's. */
#define PG_DDI_STATEMENT_LIST(X)                                                                  \
	X(DDI_POLL, "SELECT (SELECT assignment_id FROM ddi_cancels WHERE device_num = $1), "      \
		    "(SELECT max(id) FROM assignments WHERE device_num = $1 AND "                 \
		    "state = 'confirmed'), "                                                      \
		    "(SELECT ddi_config_at IS NULL FROM devices WHERE num = $1)")                 \
	X(DDI_CONFIG_SENT, "UPDATE devices SET ddi_config_at = $2 WHERE num = $1")                \
	X(DDI_CANCEL_GET, "SELECT 1 FROM ddi_cancels WHERE device_num = $1 AND "                  \
			  "assignment_id = $2")                                                   \
	X(DDI_CANCEL_ACK, "DELETE FROM ddi_cancels WHERE device_num = $1 AND assignment_id = $2") \
	X(DDI_ACTION, "SELECT a.state, d.manifest_id, m.digest, m.sequence_number, "              \
		      "m.software_name, m.software_version FROM assignments a "                   \
		      "JOIN deployments d ON d.id = a.deployment_id "                             \
		      "JOIN manifests m ON m.id = d.manifest_id "                                 \
		      "WHERE a.id = $1 AND a.device_num = $2")                                    \
	X(DDI_ARTIFACTS,                                                                          \
	  "SELECT p.sha256, p.size, p.name, p.sha1, p.md5 FROM manifest_payloads mp "             \
	  "JOIN payloads p ON p.id = mp.payload_id WHERE mp.manifest_id = $1 "                    \
	  "ORDER BY p.id")                                                                        \
	X(DDI_HASHES_SET, "UPDATE payloads SET sha1 = $2, md5 = $3 WHERE id = $1")                \
	X(DDI_MODULE_ALLOWED, "SELECT 1 FROM assignments a JOIN deployments d "                   \
			      "ON d.id = a.deployment_id WHERE a.device_num = $1 AND "            \
			      "d.manifest_id = $2 AND a.state NOT IN ('pending', 'canceled', "    \
			      "'skipped') LIMIT 1")                                               \
	X(DDI_DEVICES_BY_ATTRIBUTE, "SELECT d.num FROM devices d WHERE d.attributes::jsonb @> "   \
				    "jsonb_build_object($1::text, $2::text) "                     \
				    "ORDER BY d.num LIMIT $3")

/* X(name, sql) */
#define PG_STATEMENT_LIST(X)                                                                       \
	/* BEGIN_IMMEDIATE: the backend takes its write lock (an advisory                          \
	 * transaction lock) in the same transaction, which gives SQLite's one                     \
	 * writer at a time (docs/design.md "PostgreSQL dialect"). */                              \
	X(BEGIN_IMMEDIATE, "BEGIN")                                                                \
	X(COMMIT, "COMMIT")                                                                        \
	X(ROLLBACK, "ROLLBACK")                                                                    \
	X(PING, "SELECT 1")                                                                        \
	X(SAVEPOINT, "SAVEPOINT job")                                                              \
	X(RELEASE_SAVEPOINT, "RELEASE SAVEPOINT job")                                              \
	X(ROLLBACK_TO_SAVEPOINT, "ROLLBACK TO SAVEPOINT job")                                      \
	X(API_KEY_INSERT, "INSERT INTO api_keys (name, role, key_hash, created_at, expires_at) "   \
			  "VALUES ($1, $2, $3, $4, $5)")                                           \
	X(API_KEY_BY_HASH, "SELECT name, role, created_at, last_used_at, revoked_at, expires_at "  \
			   "FROM api_keys WHERE key_hash = $1")                                    \
	X(API_KEY_TOUCH, "UPDATE api_keys SET last_used_at = $2 WHERE key_hash = $1")              \
	X(API_KEY_LIST, "SELECT id, name, role, created_at, last_used_at, revoked_at, expires_at " \
			"FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2")                        \
	X(API_KEY_REVOKE, "UPDATE api_keys SET revoked_at = $2 "                                   \
			  "WHERE name = $1 AND revoked_at IS NULL")                                \
	/* Console sessions (storage/ui_sessions.c, migration 0019). */                            \
	X(UI_SESSION_INSERT, "INSERT INTO ui_sessions (session_hash, key_id, role, csrf_token, "   \
			     "created_at, last_used_at) SELECT $1::bytea, id, role, $3::text, "    \
			     "$4::bigint, $4 FROM api_keys WHERE key_hash = $2 "                   \
			     "AND revoked_at IS NULL")                                             \
	X(UI_SESSION_GET, "SELECT s.csrf_token, s.created_at, s.last_used_at, k.name, k.role, "    \
			  "k.created_at, k.last_used_at, k.revoked_at, k.expires_at, k.key_hash "  \
			  "FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id "                 \
			  "WHERE s.session_hash = $1")                                             \
	X(UI_SESSION_TOUCH, "UPDATE ui_sessions SET last_used_at = $2 WHERE session_hash = $1")    \
	X(UI_SESSION_DELETE, "DELETE FROM ui_sessions WHERE session_hash = $1")                    \
	X(UI_SESSION_SWEEP, "DELETE FROM ui_sessions WHERE last_used_at < $1 OR created_at < $2")  \
	/* One device's assignments, oldest first (storage/timeline.c). */                         \
	X(DEVICE_ASSIGNMENTS, "SELECT a.id, a.deployment_id, a.stage, a.state, a.reason, "         \
			      "a.created_at, a.updated_at FROM assignments a "                     \
			      "WHERE a.device_num = $1 AND a.id > $2 ORDER BY a.id LIMIT $3")      \
	/* Webhooks (storage/webhooks.c, migration 0015). */                                       \
	X(WEBHOOK_INSERT, "INSERT INTO webhooks (url, types, description, secret, enabled, "       \
			  "created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "   \
			  "$7, $6) RETURNING id")                                                  \
	X(WEBHOOK_GET, "SELECT " PG_WEBHOOK_COLUMNS " FROM webhooks WHERE id = $1")                \
	X(WEBHOOK_LIST, "SELECT " PG_WEBHOOK_COLUMNS " FROM webhooks WHERE id > $1 "               \
			"ORDER BY id LIMIT $2")                                                    \
	X(WEBHOOK_UPDATE,                                                                          \
	  "UPDATE webhooks SET url = coalesce($2, url), types = coalesce($3, types), "             \
	  "description = coalesce($4, description), enabled = coalesce($5, enabled), "             \
	  "disabled_reason = CASE WHEN $5 = 1 THEN NULL WHEN $5 = 0 AND enabled = 1 THEN $6 "      \
	  "ELSE disabled_reason END, updated_at = $7 WHERE id = $1")                               \
	X(WEBHOOK_DELETE, "DELETE FROM webhooks WHERE id = $1")                                    \
	X(WEBHOOK_CURSOR, "UPDATE webhooks SET cursor = $2 WHERE id = $1 AND cursor < $2")         \
	X(WEBHOOK_DISABLE, "UPDATE webhooks SET enabled = 0, disabled_reason = $2, "               \
			   "updated_at = $3 WHERE id = $1 AND enabled = 1")                        \
	X(WEBHOOK_DELIVERY_INSERT,                                                                 \
	  "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, manual, "    \
	  "at, status, latency_ms, result, error) SELECT $1::bigint, $2::bigint, $3::text, "       \
	  "(SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND event_id = $2) "     \
	  "+ 1, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::text, $9::text "               \
	  "WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)")                                   \
	X(WEBHOOK_DELIVERIES, "SELECT " PG_WEBHOOK_DELIVERY_COLUMNS " FROM webhook_deliveries "    \
			      "WHERE webhook_id = $1 AND id < $2 AND ($3::bigint = 0 OR "          \
			      "event_id = $3) ORDER BY id DESC LIMIT $4")                          \
	X(WEBHOOK_DELIVERY_GET, "SELECT " PG_WEBHOOK_DELIVERY_COLUMNS " FROM "                     \
				"webhook_deliveries WHERE webhook_id = $1 AND id = $2")            \
	X(WEBHOOK_ATTEMPTS, "SELECT count(*), coalesce(min(at), 0) FROM webhook_deliveries "       \
			    "WHERE webhook_id = $1 AND event_id = $2 AND manual = 0")              \
	X(WEBHOOK_REDELIVERY_INSERT, "INSERT INTO webhook_redeliveries (webhook_id, event_id, "    \
				     "requested_at, requested_by) VALUES ($1, $2, $3, $4) "        \
				     "RETURNING id")                                               \
	X(WEBHOOK_REDELIVERIES, "SELECT id, webhook_id, event_id FROM webhook_redeliveries "       \
				"WHERE id > $1 ORDER BY id LIMIT $2")                              \
	X(WEBHOOK_REDELIVERY_DELETE, "DELETE FROM webhook_redeliveries WHERE id = $1")             \
	/* The oldest $2 rows only (ids grow with time): never a scan. */                          \
	X(WEBHOOK_DELIVERIES_SWEEP, "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM "  \
				    "webhook_deliveries ORDER BY id LIMIT $2) AND at < $1")        \
	X(UPLOAD_INSERT, "INSERT INTO uploads (state, chunk_size, started_at) "                    \
			 "VALUES ('receiving', $1, $2) RETURNING id")                              \
	X(UPLOAD_COMPLETE, "UPDATE uploads SET state = 'complete' WHERE id = $1")                  \
	X(UPLOAD_DELETE, "DELETE FROM uploads WHERE id = $1")                                      \
	/* No other node runs: nobody holds the presence lock that every node's                    \
	 * cluster connection holds shared (pg_cluster.c), so this exclusive                       \
	 * try succeeds (and is let go at once). */                                                \
	X(NODES_ALONE, "SELECT CASE WHEN pg_try_advisory_lock(8319671835258938401) "               \
		       "THEN pg_advisory_unlock(8319671835258938401) ELSE false END")              \
	X(UPLOADS_STALE_DELETE,                                                                    \
	  "DELETE FROM uploads WHERE state = 'receiving' AND started_at < $1")                     \
	X(CHUNK_INSERT, "INSERT INTO chunks (upload_id, seq, data) VALUES ($1, $2, $3)")           \
	X(CHUNKS_READ, "SELECT seq, data FROM chunks WHERE upload_id = $1 "                        \
		       "AND seq BETWEEN $2 AND $3 ORDER BY seq")                                   \
	X(PAYLOAD_INSERT, "INSERT INTO payloads (sha256, size, name, upload_id, created_at) "      \
			  "VALUES ($1, $2, $3, $4, $5)")                                           \
	X(PAYLOAD_BY_SHA, "SELECT p.id, p.sha256, p.size, p.name, p.created_at, p.upload_id, "     \
			  "u.chunk_size FROM payloads p JOIN uploads u ON u.id = p.upload_id "     \
			  "WHERE p.sha256 = $1")                                                   \
	X(PAYLOAD_LIST, "SELECT p.id, p.sha256, p.size, p.name, p.created_at, p.upload_id, "       \
			"u.chunk_size FROM payloads p JOIN uploads u ON u.id = p.upload_id "       \
			"WHERE p.id > $1 ORDER BY p.id LIMIT $2")                                  \
	X(PAYLOAD_DELETE, "DELETE FROM payloads WHERE id = $1")                                    \
	X(MANIFEST_INSERT,                                                                         \
	  "INSERT INTO manifests (digest, digest_alg, envelope, sequence_number, "                 \
	  "facts, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")                       \
	X(MANIFEST_COMPONENT_INSERT, "INSERT INTO manifest_components (manifest_id, "              \
				     "component_index, component_id, vendor_id, class_id) "        \
				     "VALUES ($1, $2, $3, $4, $5)")                                \
	X(MANIFEST_PAYLOAD_INSERT, "INSERT INTO manifest_payloads (manifest_id, payload_id) "      \
				   "VALUES ($1, $2) ON CONFLICT DO NOTHING")                       \
	X(MANIFEST_BY_DIGEST, "SELECT id, digest, digest_alg, sequence_number, facts, "            \
			      "created_at FROM manifests WHERE digest = $1")                       \
	X(MANIFEST_ENVELOPE, "SELECT envelope FROM manifests WHERE digest = $1")                   \
	X(MANIFEST_LIST, "SELECT DISTINCT m.id, m.digest, m.digest_alg, m.sequence_number, "       \
			 "m.facts, m.created_at FROM manifests m "                                 \
			 "LEFT JOIN manifest_components mc ON mc.manifest_id = m.id "              \
			 "WHERE m.id > $1 AND ($3::bytea IS NULL OR mc.vendor_id = $3) "           \
			 "AND ($4::bytea IS NULL OR mc.class_id = $4) ORDER BY m.id LIMIT $2")     \
	X(MANIFEST_DELETE, "DELETE FROM manifests WHERE digest = $1")                              \
	/* IS NOT DISTINCT FROM ("IS ?" in SQLite) cannot seek an index; the                       \
	 * table has a row per manifest component, read at an upload. */                           \
	X(MANIFEST_SEQUENCE_CONFLICT, "SELECT m.digest FROM manifest_components mc "               \
				      "JOIN manifests m ON m.id = mc.manifest_id "                 \
				      "WHERE mc.vendor_id IS NOT DISTINCT FROM $1::bytea "         \
				      "AND mc.class_id IS NOT DISTINCT FROM $2::bytea "            \
				      "AND mc.component_id = $3 AND m.sequence_number = $4 "       \
				      "AND m.digest != $5 LIMIT 1")                                \
	X(MANIFEST_PAYLOADS, "SELECT p.sha256 FROM manifest_payloads mp "                          \
			     "JOIN payloads p ON p.id = mp.payload_id WHERE mp.manifest_id = $1 "  \
			     "ORDER BY p.id")                                                      \
	X(PAYLOAD_MANIFESTS, "SELECT m.digest FROM manifest_payloads mp "                          \
			     "JOIN manifests m ON m.id = mp.manifest_id "                          \
			     "WHERE mp.payload_id = $1 ORDER BY m.id LIMIT 100")                   \
	/* devices.id is the device's text id; its bigint key is num. */                           \
	X(DEVICE_INSERT, "INSERT INTO devices (id, grp, vendor_id, class_id, attributes, "         \
			 "token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "            \
			 "RETURNING num AS id")                                                    \
	X(DEVICE_TAG_INSERT, "INSERT INTO device_tags (device_num, tag) VALUES ($1, $2) "          \
			     "ON CONFLICT DO NOTHING")                                             \
	X(DEVICE_TAGS_CLEAR, "DELETE FROM device_tags WHERE device_num = $1")                      \
	X(DEVICE_TAGS, "SELECT tag FROM device_tags WHERE device_num = $1 "                        \
		       "ORDER BY tag COLLATE \"C\"")                                               \
	X(DEVICE_BY_ID, "SELECT num, id, grp, vendor_id, class_id, attributes, "                   \
			"reported_sequence, last_seen_at, created_at, report_key FROM devices "    \
			"WHERE id = $1")                                                           \
	/* Current or previous token (migration 0013): an OR of two index searches. */             \
	X(DEVICE_BY_TOKEN, "SELECT num, id, grp, token_hash, prev_token_hash, "                    \
			   "prev_token_expires_at FROM devices "                                   \
			   "WHERE token_hash = $1 OR prev_token_hash = $1")                        \
	X(DEVICE_IDENT_BY_ID, "SELECT num, id, grp FROM devices WHERE id = $1")                    \
	/* The device list: one statement per driving index (issue 15), so a                       \
	 * filtered page at any depth of a million devices is an index range,                      \
	 * not a walk of every device from the cursor on. The other filters                        \
	 * stay residual. */                                                                       \
	X(DEVICE_LIST, PG_DEVICE_LIST_SELECT                                                       \
	  "FROM devices d WHERE d.num > $1 "                                                       \
	  "AND ($3::text IS NULL OR d.grp = $3) AND ($4::bytea IS NULL OR d.class_id = $4) "       \
	  "AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM device_tags t "                          \
	  "WHERE t.device_num = d.num AND t.tag = $6)) " PG_DEVICE_LIST_REST                       \
	  "ORDER BY d.num LIMIT $2")                                                               \
	X(DEVICE_LIST_BY_TAG,                                                                      \
	  PG_DEVICE_LIST_SELECT "FROM device_tags t "                                              \
				"JOIN devices d ON d.num = t.device_num "                          \
				"WHERE t.tag = $6 AND t.device_num > $1 "                          \
				"AND ($3::text IS NULL OR d.grp = $3) "                            \
				"AND ($4::bytea IS NULL OR d.class_id = $4) " PG_DEVICE_LIST_REST  \
				"ORDER BY t.device_num LIMIT $2")                                  \
	X(DEVICE_LIST_BY_GROUP, PG_DEVICE_LIST_SELECT                                              \
	  "FROM devices d "                                                                        \
	  "WHERE d.grp = $3 AND d.num > $1 "                                                       \
	  "AND ($4::bytea IS NULL OR d.class_id = $4) " PG_DEVICE_LIST_REST PG_UNUSED(             \
		  6, "text") "ORDER BY d.num LIMIT $2")                                            \
	X(DEVICE_LIST_BY_CLASS, PG_DEVICE_LIST_SELECT                                              \
	  "FROM devices d "                                                                        \
	  "WHERE d.class_id = $4 AND d.num > $1 " PG_DEVICE_LIST_REST PG_UNUSED(3, "text")         \
		  PG_UNUSED(6, "text") "ORDER BY d.num LIMIT $2")                                  \
	PG_DEVICE_LIST_BY_KEY(X, DEVICE_LIST_BY_SEEN_EQ, DEVICE_LIST_BY_SEEN_RANGE,                \
			      PG_DEVICE_SEEN_KEY)                                                  \
	PG_DEVICE_LIST_BY_KEY(X, DEVICE_LIST_BY_SEQUENCE_EQ, DEVICE_LIST_BY_SEQUENCE_RANGE,        \
			      PG_DEVICE_SEQUENCE_KEY)                                              \
	X(DEVICE_LIST_BY_STATE_EQ, PG_DEVICE_LIST_BY_STATE                                         \
	  "AND a.updated_at = $11 AND a.id > $1 " PG_DEVICE_LIST_REST PG_DEVICE_LIST_KEYED_UNUSED  \
		  PG_UNUSED(12, "bigint") "ORDER BY a.id LIMIT $2")                                \
	X(DEVICE_LIST_BY_STATE_RANGE, PG_DEVICE_LIST_BY_STATE                                      \
	  "AND a.updated_at >= $11 AND a.updated_at < $12 " PG_DEVICE_LIST_REST                    \
		  PG_DEVICE_LIST_KEYED_UNUSED PG_UNUSED(                                           \
			  1, "bigint") "ORDER BY a.updated_at, a.id LIMIT $2")                     \
	X(DEVICE_SET_GROUP, "UPDATE devices SET grp = $2 WHERE num = $1 "                          \
			    "AND grp IS DISTINCT FROM $2")                                         \
	X(DEVICE_SET_ATTRIBUTES, "UPDATE devices SET attributes = $2 WHERE num = $1")              \
	X(DEVICE_SET_REPORT_KEY, "UPDATE devices SET report_key = $2 WHERE num = $1")              \
	X(DEVICE_REPORT_KEY, "SELECT report_key FROM devices WHERE num = $1")                      \
	/* The software inventory (storage/inventory.c, migration 0017): each                      \
	 * query is one range of devices_software or devices_software_name. A                      \
	 * manifest's CoSWID may name no version: NULL sorts first, as in SQLite. */               \
	X(INVENTORY_DEVICES, "SELECT d.num, d.id, d.software_version, m.digest, d.running_since "  \
			     "FROM devices d LEFT JOIN manifests m ON m.id = "                     \
			     "d.running_manifest_id WHERE d.software_name = $1 AND d.num > $2 "    \
			     "ORDER BY d.num LIMIT $3")                                            \
	X(INVENTORY_DEVICES_VERSION,                                                               \
	  "SELECT d.num, d.id, d.software_version, m.digest, d.running_since "                     \
	  "FROM devices d LEFT JOIN manifests m ON m.id = d.running_manifest_id "                  \
	  "WHERE d.software_name = $1 AND d.software_version = $4 AND d.num > $2 "                 \
	  "ORDER BY d.num LIMIT $3")                                                               \
	X(INVENTORY_COUNTS, "SELECT software_name, software_version, count(*) FROM devices "       \
			    "WHERE software_name = $1 AND ($2::text IS NULL OR "                   \
			    "software_version = $2) GROUP BY software_name, software_version "     \
			    "ORDER BY software_version COLLATE \"C\" NULLS FIRST")                 \
	X(INVENTORY_COUNTS_ALL, "SELECT software_name, software_version, count(*) FROM devices "   \
				"WHERE software_name IS NOT NULL GROUP BY software_name, "         \
				"software_version ORDER BY software_name COLLATE \"C\", "          \
				"software_version COLLATE \"C\" NULLS FIRST")                      \
	X(DEVICE_SOFTWARE, "SELECT d.running_since, d.software_name, d.software_version, "         \
			   "m.digest, m.sequence_number, m.facts FROM devices d LEFT JOIN "        \
			   "manifests m ON m.id = d.running_manifest_id WHERE d.num = $1")         \
	/* $3: when the replaced token stops (NULL: at once). Only the token                       \
	 * replaced now is kept as the previous one. */                                            \
	X(DEVICE_SET_TOKEN,                                                                        \
	  "UPDATE devices SET "                                                                    \
	  "prev_token_hash = CASE WHEN $3::bigint IS NULL THEN NULL ELSE token_hash END, "         \
	  "prev_token_expires_at = CASE WHEN $3 IS NULL OR token_hash IS NULL "                    \
	  "THEN NULL ELSE $3 END, token_hash = $2 WHERE id = $1 "                                  \
	  "RETURNING prev_token_expires_at")                                                       \
	/* Bulk import (storage/device_import.c): a savepoint per line, so a                       \
	 * failed line leaves nothing of itself in its batch. */                                   \
	X(DEVICE_IMPORT_LOOKUP, "SELECT num, grp, vendor_id, class_id, attributes, token_hash "    \
				"FROM devices WHERE id = $1")                                      \
	X(DEVICE_IMPORT_SAVEPOINT, "SAVEPOINT device_import")                                      \
	X(DEVICE_IMPORT_RELEASE, "RELEASE SAVEPOINT device_import")                                \
	X(DEVICE_IMPORT_UNDO, "ROLLBACK TO SAVEPOINT device_import")                               \
	X(DEVICE_DELETE, "DELETE FROM devices WHERE id = $1")                                      \
	/* News of a download in progress (issue 15): a device_timeout counts                      \
	 * from the last of it. */                                                                 \
	X(ASSIGNMENT_NEWS, "UPDATE assignments SET updated_at = $2 WHERE device_num = $1 "         \
			   "AND state = 'downloading' AND updated_at < $2")                        \
	/* A sighting; the running sequence apart and only when it changed.                        \
	 * SQLite's two-argument max() is greatest() ($2 is never NULL). */                        \
	X(DEVICE_SEEN, "UPDATE devices SET last_seen_at = greatest(coalesce(last_seen_at, 0), "    \
		       "$2) WHERE num = $1 AND coalesce(last_seen_at, 0) <= $2::bigint - 60")      \
	X(DEVICE_SEEN_SEQUENCE, "UPDATE devices SET reported_sequence = $2 "                       \
				"WHERE num = $1 AND reported_sequence IS DISTINCT FROM $2")        \
	X(DEPLOYMENT_INSERT,                                                                       \
	  "INSERT INTO deployments (name, manifest_id, target_kind, target_value, created_by, "    \
	  "created_at, device_timeout, success_threshold, failure_threshold, planned) "            \
	  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")                         \
	/* The fan-out (tracker/fanout.c, migration 0020). */                                      \
	X(DEPLOYMENT_TARGET_INSERT, "INSERT INTO deployment_targets (deployment_id, device_num) "  \
				    "VALUES ($1, $2) ON CONFLICT DO NOTHING")                      \
	X(DEPLOYMENT_TARGETS, "SELECT t.device_num, d.id FROM deployment_targets t "               \
			      "JOIN devices d ON d.num = t.device_num WHERE t.deployment_id = $1") \
	X(DEVICES_IN_GROUP, "SELECT count(*) FROM devices WHERE grp = $1")                         \
	X(DEVICES_WITH_TAG, "SELECT count(*) FROM device_tags WHERE tag = $1")                     \
	X(DEPLOYMENT_FOR_SLICE, "SELECT manifest_id, created_by FROM deployments WHERE id = $1 "   \
				"AND status = 'active' AND prepared_at IS NULL")                   \
	X(DEPLOYMENT_PREPARED, "UPDATE deployments SET prepared_at = $2 WHERE id = $1 "            \
			       "AND prepared_at IS NULL RETURNING status")                         \
	X(DEPLOYMENT_TARGETS_DELETE, "DELETE FROM deployment_targets WHERE deployment_id = $1")    \
	X(DEPLOYMENT_SET_PLANNED, "UPDATE deployments SET planned = $2 WHERE id = $1")             \
	X(ASSIGNMENTS_OF_DEPLOYMENT, "SELECT coalesce(sum(n), 0)::bigint FROM assignment_counts "  \
				     "WHERE deployment_id = $1")                                   \
	X(DEPLOYMENTS_PREPARING, "SELECT id FROM deployments WHERE prepared_at IS NULL "           \
				 "AND status = 'active' AND id > $1 ORDER BY id LIMIT $2")         \
	X(DEPLOYMENT_STAGE_INSERT, "INSERT INTO deployment_stages (deployment_id, stage, "         \
				   "percent, opened_at) VALUES ($1, $2, $3, $4)")                  \
	X(DEPLOYMENT_STAGES, "SELECT stage, percent, opened_at FROM deployment_stages "            \
			     "WHERE deployment_id = $1 ORDER BY stage")                            \
	X(DEPLOYMENT_BY_ID, PG_DEPLOYMENT_COLUMNS "WHERE d.id = $1")                               \
	X(DEPLOYMENT_LIST,                                                                         \
	  PG_DEPLOYMENT_COLUMNS "WHERE d.id > $1 AND ($3::text IS NULL OR " PG_DEPLOYMENT_STATUS   \
				" = $3) AND ($4::bytea IS NULL OR m.digest = $4) "                 \
				"ORDER BY d.id LIMIT $2")                                          \
	X(DEPLOYMENTS_RUNNING,                                                                     \
	  PG_DEPLOYMENT_COLUMNS "WHERE d.status = 'active' "                                       \
				"AND d.paused_at IS NULL AND d.completed_at IS NULL "              \
				"AND d.prepared_at IS NOT NULL "                                   \
				"AND d.id > $1 ORDER BY d.id LIMIT $2")                            \
	X(DEPLOYMENT_COUNTS, "SELECT stage, state, n FROM assignment_counts "                      \
			     "WHERE deployment_id = $1")                                           \
	X(DEPLOYMENT_CANCEL, "UPDATE deployments SET status = 'canceled', canceled_at = $2 "       \
			     "WHERE id = $1 AND status = 'active' AND completed_at IS NULL")       \
	X(DEPLOYMENT_PAUSE,                                                                        \
	  "UPDATE deployments SET paused_at = $2, paused_by = $3, "                                \
	  "pause_reason = $4, paused_auto = $5 WHERE id = $1 "                                     \
	  "AND status = 'active' AND paused_at IS NULL AND completed_at IS NULL")                  \
	/* $2: 0 or 1, as SQLite's "CASE WHEN ?2" reads it. */                                     \
	X(DEPLOYMENT_RESUME,                                                                       \
	  "UPDATE deployments SET paused_at = NULL, paused_by = NULL, pause_reason = NULL, "       \
	  "paused_auto = 0, failures_acknowledged = CASE WHEN $2::bigint <> 0 THEN (SELECT "       \
	  "coalesce(sum(c.n), 0)::bigint FROM assignment_counts c WHERE c.deployment_id = $1 "     \
	  "AND c.stage <= deployments.open_stage AND c.state IN ('failed', 'timed_out')) "         \
	  "ELSE failures_acknowledged END WHERE id = $1 AND status = 'active' "                    \
	  "AND paused_at IS NOT NULL")                                                             \
	X(DEPLOYMENT_OPEN_STAGE, "UPDATE deployments SET open_stage = $2 WHERE id = $1 "           \
				 "AND open_stage = $2::bigint - 1 AND status = 'active' "          \
				 "AND paused_at IS NULL")                                          \
	X(DEPLOYMENT_STAGE_OPENED, "UPDATE deployment_stages SET opened_at = $3 "                  \
				   "WHERE deployment_id = $1 AND stage = $2")                      \
	X(DEPLOYMENT_COMPLETE, "UPDATE deployments SET completed_at = $2 WHERE id = $1 "           \
			       "AND status = 'active' AND paused_at IS NULL "                      \
			       "AND prepared_at IS NOT NULL "                                      \
			       "AND completed_at IS NULL")                                         \
	X(DEPLOYMENT_REOPEN, "UPDATE deployments SET completed_at = NULL WHERE id = $1")           \
	/* Deleting a finished deployment: counters first, so that the delete                      \
	 * trigger of each assignment finds nothing to decrement. */                               \
	X(DEPLOYMENT_COUNTS_DELETE, "DELETE FROM assignment_counts WHERE deployment_id = $1")      \
	X(DEPLOYMENT_ASSIGNMENTS_DELETE, "DELETE FROM assignments WHERE deployment_id = $1")       \
	X(DEPLOYMENT_STAGES_DELETE, "DELETE FROM deployment_stages WHERE deployment_id = $1")      \
	X(DEPLOYMENT_DELETE, "DELETE FROM deployments WHERE id = $1 AND (status = 'canceled' "     \
			     "OR completed_at IS NOT NULL)")                                       \
	/* Retry: failed and timed-out assignments start again from pending,                       \
	 * except a device that has an active assignment elsewhere (a newer                        \
	 * deployment won: a retry never supersedes) or already runs this                          \
	 * sequence number. RETURNING the stage: open-stage retries give back                      \
	 * their acknowledged failures. */                                                         \
	X(ASSIGNMENTS_RETRY,                                                                       \
	  "UPDATE assignments SET state = 'pending', reason = NULL, updated_at = $2 "              \
	  "WHERE deployment_id = $1 AND state IN ('failed', 'timed_out') "                         \
	  "AND NOT EXISTS (SELECT 1 FROM assignments o WHERE o.device_num = "                      \
	  "assignments.device_num AND o.id != assignments.id AND o.state IN " PG_ACTIVE_STATES     \
	  ") AND (SELECT coalesce(v.reported_sequence, -1) FROM devices v "                        \
	  "WHERE v.num = assignments.device_num) < (SELECT m.sequence_number "                     \
	  "FROM deployments d JOIN manifests m ON m.id = d.manifest_id WHERE d.id = $1) "          \
	  "RETURNING stage")                                                                       \
	X(ASSIGNMENTS_FAILED_COUNT, "SELECT count(*) FROM assignments WHERE deployment_id = $1 "   \
				    "AND state IN ('failed', 'timed_out')")                        \
	X(DEPLOYMENT_RETRIED,                                                                      \
	  "UPDATE deployments SET completed_at = NULL, failures_acknowledged = "                   \
	  "greatest(0, failures_acknowledged - $2) WHERE id = $1")                                 \
	/* A canceled deployment's active assignments, $4 at a time (issue 15). */                 \
	X(ASSIGNMENTS_CANCEL,                                                                      \
	  "UPDATE assignments SET state = 'canceled', reason = $2, updated_at = $3 "               \
	  "WHERE id IN (SELECT id FROM assignments WHERE deployment_id = $1 "                      \
	  "AND state IN " PG_ACTIVE_STATES " LIMIT $4)")                                           \
	X(DEPLOYMENT_IS_CANCELED, "SELECT 1 FROM deployments WHERE id = $1 "                       \
				  "AND status = 'canceled'")                                       \
	X(DEPLOYMENTS_WINDING_DOWN,                                                                \
	  "SELECT d.id FROM deployments d WHERE d.status = 'canceled' AND d.id > $1 "              \
	  "AND EXISTS (SELECT 1 FROM assignments a WHERE a.deployment_id = d.id "                  \
	  "AND a.state IN " PG_ACTIVE_STATES ") ORDER BY d.id LIMIT $2")                           \
	X(DEVICE_NUMS_BY_GROUP, "SELECT num, id FROM devices WHERE grp = $1")                      \
	X(DEVICE_NUMS_BY_TAG, "SELECT t.device_num, d.id FROM device_tags t "                      \
			      "JOIN devices d ON d.num = t.device_num WHERE t.tag = $1")           \
	X(DEVICE_ID_BY_NUM, "SELECT num, id FROM devices WHERE num = $1")                          \
	X(ASSIGNMENT_SUPERSEDE, "UPDATE assignments SET state = 'canceled', reason = $3, "         \
				"updated_at = $4 WHERE device_num = $1 AND deployment_id != $2 "   \
				"AND state IN " PG_ACTIVE_STATES)                                  \
	/* Skipped, with the reason, when the device cannot take the manifest                      \
	 * (another vendor or class), runs it or a newer one already, or has an                    \
	 * active assignment of a higher sequence number in another deployment                     \
	 * (superseding it would offer a rollback: cancel that one first). */                      \
	X(ASSIGNMENT_INSERT,                                                                       \
	  "INSERT INTO assignments (deployment_id, device_num, "                                   \
	  "state, reason, created_at, updated_at, stage) SELECT $1::bigint, d.num, "               \
	  "CASE WHEN d.vendor_id IS NOT NULL AND $3::bytea IS NOT NULL "                           \
	  "AND d.vendor_id != $3 THEN 'skipped' "                                                  \
	  "WHEN d.class_id IS NOT NULL AND $4::bytea IS NOT NULL "                                 \
	  "AND d.class_id != $4 THEN 'skipped' "                                                   \
	  "WHEN d.reported_sequence >= $5::bigint THEN 'skipped' "                                 \
	  "WHEN coalesce(" PG_HIGHER_ACTIVE ", -1) > $5 THEN 'skipped' ELSE 'pending' END, "       \
	  "CASE WHEN d.vendor_id IS NOT NULL AND $3 IS NOT NULL "                                  \
	  "AND d.vendor_id != $3 THEN 'vendor id differs from the manifest' "                      \
	  "WHEN d.class_id IS NOT NULL AND $4 IS NOT NULL "                                        \
	  "AND d.class_id != $4 THEN 'class id differs from the manifest' "                        \
	  "WHEN d.reported_sequence >= $5 THEN 'device runs sequence ' || "                        \
	  "d.reported_sequence WHEN coalesce(" PG_HIGHER_ACTIVE ", -1) > $5 THEN "                 \
	  "'an update to sequence ' || " PG_HIGHER_ACTIVE " || ' is under way' "                   \
	  "ELSE NULL END, $6::bigint, $6, $7::bigint FROM devices d WHERE d.num = $2 "             \
	  "ON CONFLICT DO NOTHING RETURNING state")                                                \
	X(MANIFEST_IDENTITY, "SELECT m.id, m.sequence_number, mc.vendor_id, mc.class_id "          \
			     "FROM manifests m LEFT JOIN manifest_components mc "                  \
			     "ON mc.manifest_id = m.id AND mc.component_index = 0 "                \
			     "WHERE m.digest = $1")                                                \
	X(MANIFEST_IDENTITY_BY_ID, "SELECT m.id, m.sequence_number, mc.vendor_id, mc.class_id "    \
				   "FROM manifests m LEFT JOIN manifest_components mc "            \
				   "ON mc.manifest_id = m.id AND mc.component_index = 0 "          \
				   "WHERE m.id = $1")                                              \
	/* Of deployments not canceled: a canceled one's assignments are                           \
	 * canceled in slices after it (tracker/fanout.c); none is offered. */                     \
	X(ACTIVE_ASSIGNMENTS, PG_ACTIVE_ASSIGNMENT_COLUMNS "WHERE a.state IN " PG_ACTIVE_STATES    \
							   " AND d.status = 'active'")             \
	/* One deployment's: through assignments_deployment_state. */                              \
	X(ACTIVE_ASSIGNMENTS_OF_DEPLOYMENT, PG_ACTIVE_ASSIGNMENT_COLUMNS                           \
	  "WHERE a.deployment_id = $1 "                                                            \
	  "AND a.state IN " PG_ACTIVE_STATES " AND d.status = 'active'")                           \
	/* One device's: through assignments_device (device_num, state), not a                     \
	 * scan of every active assignment. */                                                     \
	X(ACTIVE_ASSIGNMENTS_OF_DEVICE, PG_ACTIVE_ASSIGNMENT_COLUMNS                               \
	  "WHERE a.device_num = $1 "                                                               \
	  "AND a.state IN " PG_ACTIVE_STATES " AND d.status = 'active'")                           \
	X(ASSIGNMENT_SET_STATE, "UPDATE assignments SET state = $3, reason = $4, "                 \
				"updated_at = $5 WHERE id = $1 AND state = $2")                    \
	/* A deployment's devices, one page: an index range in the order of the                    \
	 * keyset either way (issue 15), by assignments_by_deployment                              \
	 * (deployment_id, id) (migration 0003; SQLite names it with INDEXED BY)                   \
	 * or by (deployment_id, state, id); never a sort of the whole                             \
	 * deployment. */                                                                          \
	X(DEPLOYMENT_DEVICES, "SELECT a.id, dv.id, a.state, a.reason, a.updated_at, a.stage "      \
			      "FROM assignments a JOIN devices dv ON dv.num = a.device_num "       \
			      "WHERE a.deployment_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3")   \
	X(DEPLOYMENT_DEVICES_IN_STATE,                                                             \
	  "SELECT a.id, dv.id, a.state, a.reason, a.updated_at, a.stage "                          \
	  "FROM assignments a JOIN devices dv ON dv.num = a.device_num "                           \
	  "WHERE a.deployment_id = $1 AND a.state = $4 AND a.id > $2 ORDER BY a.id LIMIT $3")      \
	/* The newest active deployment of the device's group or tags, unless                      \
	 * the device's active assignment is of a deployment at least as new or                    \
	 * of a higher sequence number: a join never offers a rollback. */                         \
	X(DEPLOYMENT_FOR_JOIN,                                                                     \
	  "SELECT c.id, c.manifest_id, c.completed_at FROM (SELECT d.id, d.manifest_id, "          \
	  "d.completed_at, m.sequence_number AS seq FROM deployments d "                           \
	  "JOIN manifests m ON m.id = d.manifest_id "                                              \
	  "WHERE d.status = 'active' AND ((d.target_kind = 'group' "                               \
	  "AND d.target_value = (SELECT grp FROM devices WHERE num = $1)) "                        \
	  "OR (d.target_kind = 'tag' AND d.target_value IN "                                       \
	  "(SELECT tag FROM device_tags WHERE device_num = $1))) "                                 \
	  "ORDER BY d.id DESC LIMIT 1) c WHERE NOT EXISTS (SELECT 1 FROM assignments a "           \
	  "JOIN deployments ad ON ad.id = a.deployment_id "                                        \
	  "JOIN manifests am ON am.id = ad.manifest_id "                                           \
	  "WHERE a.device_num = $1 AND a.state IN " PG_ACTIVE_STATES                               \
	  " AND (a.deployment_id >= c.id OR am.sequence_number > c.seq))")                         \
	/* What a device needs of manifest $1 (migration 0016): one object of                      \
	 * every need group of it and of the stored dependencies it links.                         \
	 * kind 0 payload, 1 dependency envelope. */                                               \
	X(MANIFEST_NEEDS_OBJECT,                                                                   \
	  "WITH RECURSIVE " PG_MANIFEST_CLOSURE " SELECT 1 FROM closure c JOIN manifest_needs n "  \
	  "ON n.manifest_id = c.id WHERE n.kind = $2 AND n.object_id = $3 LIMIT 1")                \
	X(MANIFEST_NEEDS_LEFT,                                                                     \
	  "WITH RECURSIVE " PG_MANIFEST_CLOSURE " SELECT count(*) FROM (SELECT DISTINCT "          \
	  "n.manifest_id, n.grp FROM closure c JOIN manifest_needs n ON n.manifest_id = c.id) g "  \
	  "WHERE NOT EXISTS (SELECT 1 FROM manifest_needs n JOIN assignment_fetches f ON "         \
	  "f.assignment_id = $2 AND f.kind = n.kind AND f.object_id = n.object_id WHERE "          \
	  "n.manifest_id = g.manifest_id AND n.grp = g.grp)")                                      \
	X(MANIFEST_NEED_INSERT, "INSERT INTO manifest_needs (manifest_id, grp, kind, object_id) "  \
				"VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")                  \
	X(ASSIGNMENT_FETCHED, "INSERT INTO assignment_fetches (assignment_id, kind, object_id) "   \
			      "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")                        \
	X(MANIFEST_DEPENDENCY_INSERT, "INSERT INTO manifest_dependencies (manifest_id, digest, "   \
				      "dependency_id, integrated, served) "                        \
				      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")        \
	X(MANIFEST_ID_BY_DIGEST, "SELECT id, facts FROM manifests WHERE digest = $1")              \
	X(MANIFEST_IS_DEPENDENCY, "SELECT 1 FROM manifest_dependencies md JOIN manifests m "       \
				  "ON m.id = md.dependency_id WHERE m.digest = $1 LIMIT 1")        \
	X(ASSIGNMENT_FOR_REPORT, "SELECT a.id, a.state FROM assignments a "                        \
				 "JOIN deployments d ON d.id = a.deployment_id "                   \
				 "JOIN manifests m ON m.id = d.manifest_id "                       \
				 "WHERE a.device_num = $1 AND m.digest = $2 "                      \
				 "ORDER BY a.id DESC LIMIT 1")                                     \
	/* A report that keeps the state: the same row as ASSIGNMENT_REPORTED                      \
	 * would leave (the state is open, so no reason), without naming the                       \
	 * state: no trigger on UPDATE OF state fires. */                                          \
	X(ASSIGNMENT_TOUCHED, "UPDATE assignments SET reason = NULL, updated_at = $2 "             \
			      "WHERE id = $1 AND (updated_at < $2 OR reason IS NOT NULL)")         \
	X(ASSIGNMENT_REPORTED, "UPDATE assignments SET state = $2, reason = $3, "                  \
			       "updated_at = $4 WHERE id = $1")                                    \
	X(REPORT_INSERT, "INSERT INTO reports (device_num, assignment_id, manifest_digest, "       \
			 "state, progress, reason, code, media_type, body, received_at, "          \
			 "signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")       \
	/* An exact replay: the device's newest report, same assignment, same                      \
	 * bytes. */                                                                               \
	X(REPORT_IS_REPLAY, "SELECT 1 FROM (SELECT assignment_id, body FROM reports "              \
			    "WHERE device_num = $1 ORDER BY id DESC LIMIT 1) r "                   \
			    "WHERE r.assignment_id = $2 AND r.body = $3")                          \
	X(REPORT_USAGE, "SELECT reports, bytes FROM report_usage WHERE device_num = $1")           \
	X(REPORT_DROP_OLDEST, "DELETE FROM reports WHERE id = (SELECT id FROM reports "            \
			      "WHERE device_num = $1 ORDER BY id LIMIT 1) "                        \
			      "RETURNING octet_length(body)")                                      \
	/* The segments of storage/report_batch.c: $1 a JSON array. */                             \
	X(ASSIGNMENTS_TOUCHED,                                                                     \
	  "UPDATE assignments SET reason = NULL, updated_at = $2 WHERE id = ANY (ARRAY("           \
	  "SELECT jsonb_array_elements_text($1::text::jsonb)::bigint)) "                           \
	  "AND (updated_at < $2 OR reason IS NOT NULL)")                                           \
	X(REPORTS_INSERT_MANY,                                                                     \
	  "INSERT INTO reports (device_num, assignment_id, manifest_digest, state, progress, "     \
	  "reason, code, media_type, body, received_at, signature) "                               \
	  "SELECT (e ->> 0)::bigint, (e ->> 1)::bigint, decode(e ->> 2, 'hex'), e ->> 3, "         \
	  "(e ->> 4)::bigint, e ->> 5, (e ->> 6)::bigint, e ->> 7, decode(e ->> 8, 'hex'), $2, "   \
	  "e ->> 9 FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS j(e, n) ORDER "   \
	  "BY n")                                                                                  \
	X(REPORTS_DROP_OLDEST_MANY,                                                                \
	  "DELETE FROM reports WHERE id = ANY (ARRAY(SELECT r.id "                                 \
	  "FROM jsonb_array_elements($1::text::jsonb) e CROSS JOIN LATERAL (SELECT id FROM "       \
	  "reports "                                                                               \
	  "WHERE device_num = (e ->> 0)::bigint ORDER BY id LIMIT (e ->> 1)::bigint) r))")         \
	/* See the SQLite text; here the digest compares as bytes. Each look-up                    \
	 * LATERAL with a LIMIT: an index probe per element (as a plain join,                      \
	 * the planner may hash the whole table). */                                               \
	X(REPORTS_PREFETCH,                                                                        \
	  "SELECT j.i, a.id, a.state, r.assignment_id, r.body, u.reports, u.bytes "                \
	  "FROM (SELECT e.n - 1 AS i, (e.v ->> 0)::bigint AS d, decode(e.v ->> 1, 'hex') AS m "    \
	  "FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS e(v, n)) j "              \
	  "LEFT JOIN LATERAL (SELECT a2.id, a2.state FROM assignments a2 "                         \
	  "JOIN deployments d ON d.id = a2.deployment_id "                                         \
	  "JOIN manifests m ON m.id = d.manifest_id "                                              \
	  "WHERE a2.device_num = j.d AND m.digest = j.m ORDER BY a2.id DESC LIMIT 1) a ON true "   \
	  "LEFT JOIN LATERAL (SELECT assignment_id, body FROM reports WHERE device_num = j.d "     \
	  "ORDER BY id DESC LIMIT 1) r ON true "                                                   \
	  "LEFT JOIN LATERAL (SELECT reports, bytes FROM report_usage WHERE device_num = j.d "     \
	  "LIMIT 1) u ON true "                                                                    \
	  "ORDER BY j.i")                                                                          \
	X(REPORTS_OF_DEVICE, "SELECT r.id, r.manifest_digest, r.state, r.progress, r.reason, "     \
			     "r.code, r.media_type, r.body, r.received_at, r.signature "           \
			     "FROM reports r "                                                     \
			     "JOIN devices d ON d.num = r.device_num WHERE d.id = $1 "             \
			     "AND r.id < $2 ORDER BY r.id DESC LIMIT $3")                          \
	/* At most $2 at a time (storage_assignments_time_out slices a fleet that                  \
	 * went silent at once). */                                                                \
	X(ASSIGNMENTS_TIME_OUT,                                                                    \
	  "UPDATE assignments SET state = 'timed_out', "                                           \
	  "reason = 'no news from the device for ' || "                                            \
	  "(SELECT device_timeout FROM deployments d "                                             \
	  "WHERE d.id = assignments.deployment_id) || ' s', updated_at = $1 "                      \
	  "WHERE id IN (SELECT a.id FROM assignments a "                                           \
	  "WHERE a.state IN ('delivered', 'downloading', 'downloaded', "                           \
	  "'installing', 'installed') " /* a bound the index (state, updated_at) can range-scan */ \
	  "AND a.updated_at < $1 - (SELECT min(device_timeout) FROM deployments) "                 \
	  "AND a.updated_at + (SELECT device_timeout FROM deployments d "                          \
	  "WHERE d.id = a.deployment_id) < $1 LIMIT $2) RETURNING device_num")                     \
	X(REPORTS_EXPIRE, "DELETE FROM reports WHERE id IN (SELECT id FROM reports "               \
			  "WHERE received_at < $1 LIMIT $2)")                                      \
	X(CLI_CHANGES_MARK, "UPDATE cli_changes SET generation = generation + 1 WHERE id = 1")     \
	X(CLI_CHANGES, "SELECT generation FROM cli_changes WHERE id = 1")                          \
	X(GC_DEPLOYMENTS, "SELECT d.id, NULL::text, (SELECT coalesce(sum(c.n), 0)::bigint "        \
			  "FROM assignment_counts c WHERE c.deployment_id = d.id) "                \
			  "FROM deployments d WHERE " PG_GC_DEPLOYMENT_DONE("d") " ORDER BY d.id") \
	X(GC_MANIFESTS, "SELECT m.id, m.digest, octet_length(m.envelope) FROM manifests m "        \
			"WHERE " PG_GC_MANIFEST_UNUSED("m") " ORDER BY m.id")                      \
	X(GC_PAYLOADS,                                                                             \
	  "SELECT p.id, p.sha256, p.size FROM payloads p WHERE p.created_at < $1 "                 \
	  "AND NOT EXISTS (SELECT 1 FROM manifest_payloads mp JOIN manifests gm "                  \
	  "ON gm.id = mp.manifest_id WHERE mp.payload_id = p.id AND NOT " PG_GC_MANIFEST_UNUSED(   \
		  "gm") ") ORDER BY p.id")                                                         \
	/* /metrics (storage/fleet_stats.c), reads only. FLEET_DEVICES counts                      \
	 * index entries, O(devices): api/ops.c reads it at most once a minute. */                 \
	X(FLEET_DEPLOYMENTS, "SELECT " PG_DEPLOYMENT_STATUS ", count(*), "                         \
			     "coalesce(sum(d.paused_auto), 0)::bigint FROM deployments d "         \
			     "GROUP BY 1")                                                         \
	X(FLEET_ASSIGNMENTS, "SELECT state, n FROM assignment_counts")                             \
	X(FLEET_DEVICES, "SELECT count(*), (SELECT count(*) FROM devices d "                       \
			 "WHERE " PG_DEVICE_SEEN_KEY " >= $1) FROM devices")                       \
	/* The database's files; PostgreSQL has no cheap count of the free                         \
	 * space inside them (the free space map needs an extension), so 0. */                     \
	X(FLEET_DATABASE_SIZE, "SELECT pg_database_size(current_database()), 0::bigint")           \
	/* The event log (storage/events.c). Retention deletes a window of the                     \
	 * oldest ids (a range of the primary key, never a scan) and never the                     \
	 * newest. EVENT_INSERT's id is the transaction's newest event for the                     \
	 * backend; the events the assignment trigger writes it does not see. */                   \
	X(EVENT_INSERT, "INSERT INTO events (at, type, actor, subject, deployment_id, "            \
			"device_id, admin, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "         \
			"RETURNING id")                                                            \
	X(EVENTS_AFTER, "SELECT id, at, type, actor, subject, deployment_id, device_id, admin, "   \
			"data FROM events WHERE id > $1 ORDER BY id LIMIT $2")                     \
	X(EVENTS_FOLLOW,                                                                           \
	  "SELECT e.id, e.at, e.type, e.subject, e.deployment_id, coalesce(d.num, 0), "            \
	  "CASE WHEN e.type = 'deployment.assigned' THEN (e.data::jsonb ->> 'first')::bigint "     \
	  "END, "                                                                                  \
	  "CASE WHEN e.type = 'deployment.assigned' THEN (e.data::jsonb ->> 'last')::bigint END "  \
	  "FROM events e LEFT JOIN devices d ON d.id = e.device_id "                               \
	  "WHERE e.id > $1 ORDER BY e.id LIMIT $2")                                                \
	X(ASSIGNMENT_MAX_ID, "SELECT coalesce(max(id), 0) FROM assignments")                       \
	X(ASSIGNMENTS_IN_RANGE, "SELECT id, device_num, state FROM assignments "                   \
				"WHERE id BETWEEN $1 AND $2 AND deployment_id = $3 ORDER BY id")   \
	X(EVENTS_RANGE, "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM events")           \
	/* $2 "prefix.*" matches the types that start with "prefix." (SQLite's                     \
	 * substr(x, -2) is right(x, 2)). */                                                       \
	X(AUDIT_LIST,                                                                              \
	  "SELECT id, at, type, actor, subject, deployment_id, device_id, admin, "                 \
	  "data FROM events WHERE admin = 1 AND ($1::text IS NULL OR actor = $1) "                 \
	  "AND ($2::text IS NULL OR type = $2 OR (right($2, 2) = '.*' AND "                        \
	  "substr(type, 1, char_length($2) - 1) = substr($2, 1, char_length($2) - 1))) "           \
	  "AND ($3::text IS NULL OR subject = $3) AND ($4::bigint IS NULL OR at >= $4) "           \
	  "AND ($5::bigint IS NULL OR at < $5) AND id < $6 AND id > $8 "                           \
	  "ORDER BY id DESC LIMIT $7")                                                             \
	X(EVENTS_SWEEP, "DELETE FROM events WHERE id < (SELECT min(id) FROM events) + $3 "         \
			"AND id < (SELECT max(id) FROM events) AND (at < $1 OR ($2::bigint > 0 "   \
			"AND id <= (SELECT max(id) FROM events) - $2))")                           \
	PG_DDI_STATEMENT_LIST(X)

#endif
