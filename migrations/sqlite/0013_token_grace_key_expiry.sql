-- Device token rotation with an overlap, and API keys that expire (issue 24).
--
-- POST /api/v1/devices/{id}/token?grace=D moves the replaced token's hash to
-- prev_token_hash, valid until prev_token_expires_at (seconds since the
-- epoch). Only the token replaced last is kept: a second rotation during a
-- grace ends the older token at once. A device token is looked up by either
-- hash (an OR of two index searches); the partial UNIQUE index serves the
-- previous one and, as for token_hash, no two devices share a hash. An
-- expired previous hash stays until the next rotation; authentication
-- compares its expiry, so it needs no clean-up.
ALTER TABLE devices ADD COLUMN prev_token_hash BLOB
	CHECK (prev_token_hash IS NULL OR length(prev_token_hash) = 32);
ALTER TABLE devices ADD COLUMN prev_token_expires_at INTEGER;
CREATE UNIQUE INDEX devices_prev_token ON devices (prev_token_hash)
	WHERE prev_token_hash IS NOT NULL;

-- An API key may expire: seconds since the epoch, NULL for never. An
-- expired key is refused like a revoked one, and keeps its name until it is
-- revoked.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;

-- What the action and subject of an audit row do not say: the grace of a
-- token rotation, the expiry of a new key. NULL when there is nothing more.
ALTER TABLE audit_log ADD COLUMN detail TEXT;
