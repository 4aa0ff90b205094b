-- Device reports, stored raw with their media type whenever accepted, and
-- what they did to the assignment they refer to.
CREATE TABLE reports (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	device_num INTEGER NOT NULL REFERENCES devices (num) ON DELETE CASCADE,
	assignment_id INTEGER REFERENCES assignments (id),
	manifest_digest BLOB NOT NULL,
	state TEXT NOT NULL,
	progress INTEGER CHECK (progress IS NULL OR progress BETWEEN 0 AND 100),
	reason TEXT,
	code INTEGER,
	media_type TEXT NOT NULL,
	body BLOB NOT NULL,
	received_at INTEGER NOT NULL
);
CREATE INDEX reports_device ON reports (device_num, id);
