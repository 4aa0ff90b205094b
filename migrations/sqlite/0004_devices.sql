-- Devices, the Firmware Server's clients. `num` is the internal key (and the
-- keyset pagination cursor); `id` is the operator's name for the device.
-- Only the SHA-256 of a device token is stored.
CREATE TABLE devices (
	num INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: in-memory state is keyed by it
	id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 128),
	grp TEXT CHECK (grp IS NULL OR length(grp) BETWEEN 1 AND 128),
	vendor_id BLOB CHECK (vendor_id IS NULL OR length(vendor_id) = 16),
	class_id BLOB CHECK (class_id IS NULL OR length(class_id) = 16),
	attributes TEXT NOT NULL DEFAULT '{}',
	token_hash BLOB UNIQUE CHECK (token_hash IS NULL OR length(token_hash) = 32),
	reported_sequence INTEGER,
	last_seen_at INTEGER,
	created_at INTEGER NOT NULL
);
CREATE INDEX devices_group ON devices (grp, num);
CREATE INDEX devices_class ON devices (class_id, num);
CREATE INDEX devices_seen ON devices (last_seen_at);

CREATE TABLE device_tags (
	device_num INTEGER NOT NULL REFERENCES devices (num) ON DELETE CASCADE,
	tag TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
	PRIMARY KEY (device_num, tag)
);
CREATE INDEX device_tags_tag ON device_tags (tag, device_num);
