-- Issue 20: hawkBit DDI (api/ddi/, docs/ddi.md). DDI clients check an
-- artifact's SHA-1 (SWUpdate, rauc-hawkbit-updater) and MD5 (the .MD5SUM
-- file): both are computed once from the stored bytes and kept here. SQLite
-- has no SHA-1 of its own, so payloads stored before this release are
-- filled the first time a DDI device needs them (storage/ddi.c), once.
ALTER TABLE payloads ADD COLUMN sha1 BLOB CHECK (sha1 IS NULL OR length(sha1) = 20);
ALTER TABLE payloads ADD COLUMN md5 BLOB CHECK (md5 IS NULL OR length(md5) = 16);

-- A cancel a DDI device has yet to acknowledge. suitd cancels at once (the
-- assignment is canceled when the operator says so); a hawkBit client learns
-- it from a cancelAction link on its next poll and answers with feedback,
-- which removes the row. Only assignments the device had already received
-- (delivered .. installed) need telling; one row per device at most (a
-- newer cancel replaces an older one).
CREATE TABLE ddi_cancels (
	device_num INTEGER PRIMARY KEY REFERENCES devices (num) ON DELETE CASCADE,
	assignment_id INTEGER NOT NULL
);
CREATE TRIGGER ddi_cancel_pending AFTER UPDATE OF state ON assignments
	WHEN NEW.state = 'canceled' AND OLD.state IN ('delivered', 'downloading', 'downloaded',
		'installing', 'installed')
BEGIN
	INSERT OR REPLACE INTO ddi_cancels (device_num, assignment_id)
		VALUES (NEW.device_num, NEW.id);
END;

-- When the device last sent its attributes over DDI (PUT configData): until
-- it has, the base poll asks for them with a configData link (hawkBit's
-- requestControllerAttributes), and only until then, so that a client that
-- answers every link does not write on every poll.
ALTER TABLE devices ADD COLUMN ddi_config_at INTEGER;
