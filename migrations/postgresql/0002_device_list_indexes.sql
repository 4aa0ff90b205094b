-- SQLite's 0021 (issue 15): every device-list filter has an index that
-- drives it; the expressions are those of storage/statements.h (-1: never
-- seen, none reported).
DROP INDEX devices_seen;
CREATE INDEX devices_seen ON devices ((coalesce(last_seen_at, -1)));
CREATE INDEX devices_sequence ON devices ((coalesce(reported_sequence, -1)));
