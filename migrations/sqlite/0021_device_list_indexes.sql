-- Issue 15: every filter of the device list has an index that drives it, so
-- a page at any depth of a million devices is an index range. The list is
-- then in the order of that index (last seen, running sequence), with the
-- device number as the tie-break; "never seen" and "none reported" are -1,
-- which is also what the filters compare (storage/statements.h). The old
-- devices_seen on the bare column could not find the never-seen devices.
DROP INDEX devices_seen;
CREATE INDEX devices_seen ON devices (coalesce(last_seen_at, -1));
CREATE INDEX devices_sequence ON devices (coalesce(reported_sequence, -1));
