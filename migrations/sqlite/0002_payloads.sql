-- Payload store. Bytes live in fixed-size chunk rows so that a byte range is
-- read without the rest (docs/design.md "Payload storage"). An upload writes
-- its chunks under an `uploads` row while it streams; the payload row that
-- makes it visible is inserted in the same transaction that marks the upload
-- complete. Uploads still 'receiving' at start-up died with the process and
-- are removed with their chunks.
CREATE TABLE uploads (
	id INTEGER PRIMARY KEY,
	state TEXT NOT NULL CHECK (state IN ('receiving', 'complete')),
	chunk_size INTEGER NOT NULL CHECK (chunk_size > 0),
	started_at INTEGER NOT NULL
);

CREATE TABLE chunks (
	id INTEGER PRIMARY KEY,
	upload_id INTEGER NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL CHECK (seq >= 0),
	data BLOB NOT NULL,
	UNIQUE (upload_id, seq)
);

CREATE TABLE payloads (
	id INTEGER PRIMARY KEY,
	sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),
	size INTEGER NOT NULL CHECK (size >= 0),
	name TEXT CHECK (name IS NULL OR length(name) BETWEEN 1 AND 255),
	upload_id INTEGER NOT NULL UNIQUE REFERENCES uploads (id),
	created_at INTEGER NOT NULL
);
