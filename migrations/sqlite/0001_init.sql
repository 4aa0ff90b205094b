-- Foundation: API keys for the management API, and an audit trail of what
-- was done with them. Secrets are never stored, only their SHA-256.
CREATE TABLE api_keys (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
	role TEXT NOT NULL CHECK (role IN ('reader', 'operator', 'admin')),
	key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
	created_at INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at INTEGER
);
-- A name is reusable once its key is revoked.
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	subject TEXT NOT NULL
);
