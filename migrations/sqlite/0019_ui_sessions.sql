-- Issue 18: web console sessions. POST /ui/session exchanges an API key for
-- a random session id (a cookie); only its SHA-256 is stored, as for keys.
-- The session acts with its key, so it dies with it: a revoked key's
-- sessions are deleted by the trigger below in the revoking transaction,
-- and a lookup joins the key and checks its expiry too.
CREATE TABLE ui_sessions (
	id INTEGER PRIMARY KEY,
	session_hash BLOB NOT NULL UNIQUE CHECK (length(session_hash) = 32),
	key_id INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	role TEXT NOT NULL,           -- the key's role when signed in (shown, not trusted)
	csrf_token TEXT NOT NULL,     -- sent back as X-CSRF-Token on state changes
	created_at INTEGER NOT NULL,  -- absolute expiry counts from here
	last_used_at INTEGER NOT NULL -- idle expiry counts from here
);
CREATE INDEX ui_sessions_key ON ui_sessions (key_id);

CREATE TRIGGER api_keys_revoked_ui_sessions AFTER UPDATE OF revoked_at ON api_keys
	WHEN NEW.revoked_at IS NOT NULL
BEGIN
	DELETE FROM ui_sessions WHERE key_id = NEW.id;
END;
