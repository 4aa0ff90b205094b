-- Issue 21: the keyset pages of the device list and of a deployment's
-- devices continue from (key, id) in the order of an index. A SQLite index
-- ends in the rowid without naming it (its plans say "rowid>?"), so
-- SQLite's (last_seen_at expression) serves "key = ? AND num > ? ORDER BY
-- num"; a PostgreSQL index does not carry the table's key, and would read
-- every row of the key and sort them. These four name it
-- (storage/postgresql/statements.h; tests/pg/check_pg_statements.c checks
-- the plans; check_pg_schema knows them as the rowid made explicit).
DROP INDEX devices_seen;
CREATE INDEX devices_seen ON devices ((coalesce(last_seen_at, -1)), num);
DROP INDEX devices_sequence;
CREATE INDEX devices_sequence ON devices ((coalesce(reported_sequence, -1)), num);
DROP INDEX assignments_state_updated;
CREATE INDEX assignments_state_updated ON assignments (state, updated_at, id);
DROP INDEX assignments_by_deployment;
CREATE INDEX assignments_by_deployment ON assignments (deployment_id, id);
