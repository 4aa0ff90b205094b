-- Reports outlive the deployments they were about, and each device's stored
-- reports are bounded.
--
-- 1. reports.assignment_id no longer references assignments: the history of
-- a device stays when a finished deployment (and its assignments) is
-- deleted; the id stays as a plain reference. The constraint also made
-- every assignment deletion (a device's, by cascade) scan the whole reports
-- table, which has no index on assignment_id. SQLite cannot drop a
-- constraint, so the table is rebuilt (a one-time copy at upgrade), keeping
-- its ids and its AUTOINCREMENT counter, so no id is ever reused.
CREATE TABLE reports_new (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	device_num INTEGER NOT NULL REFERENCES devices (num) ON DELETE CASCADE,
	assignment_id INTEGER,
	manifest_digest BLOB NOT NULL,
	state TEXT NOT NULL,
	progress INTEGER CHECK (progress IS NULL OR progress BETWEEN 0 AND 100),
	reason TEXT,
	code INTEGER,
	media_type TEXT NOT NULL,
	body BLOB NOT NULL,
	received_at INTEGER NOT NULL,
	signature TEXT CHECK (signature IS NULL OR signature IN ('verified', 'unchecked'))
);
INSERT INTO reports_new (id, device_num, assignment_id, manifest_digest, state, progress,
		reason, code, media_type, body, received_at, signature)
	SELECT id, device_num, assignment_id, manifest_digest, state, progress, reason, code,
		media_type, body, received_at, signature FROM reports;
DELETE FROM sqlite_sequence WHERE name = 'reports_new';
INSERT INTO sqlite_sequence (name, seq)
	SELECT 'reports_new', seq FROM sqlite_sequence WHERE name = 'reports';
DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;
CREATE INDEX reports_device ON reports (device_num, id);
CREATE INDEX reports_received ON reports (received_at);

-- 2. Each device's stored reports are bounded ([devices] report_history and
-- report_history_size): these counters, kept by triggers in the same
-- transaction as the rows (device deletion and retention included), let the
-- report path find the bound without a scan of the device's reports.
CREATE TABLE report_usage (
	device_num INTEGER PRIMARY KEY REFERENCES devices (num) ON DELETE CASCADE,
	reports INTEGER NOT NULL CHECK (reports >= 0),
	bytes INTEGER NOT NULL CHECK (bytes >= 0)
);
INSERT INTO report_usage (device_num, reports, bytes)
	SELECT device_num, count(*), sum(length(body)) FROM reports GROUP BY device_num;
CREATE TRIGGER reports_usage_insert AFTER INSERT ON reports BEGIN
	INSERT INTO report_usage (device_num, reports, bytes)
		VALUES (NEW.device_num, 1, length(NEW.body))
		ON CONFLICT (device_num) DO UPDATE SET reports = reports + 1,
			bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER reports_usage_delete AFTER DELETE ON reports BEGIN
	UPDATE report_usage SET reports = reports - 1, bytes = bytes - length(OLD.body)
		WHERE device_num = OLD.device_num;
END;
