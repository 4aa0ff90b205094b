-- A device may register a public key (PEM, P-256 or Ed25519) with which its
-- SUIT reports are signed (COSE_Sign1); each report records whether its
-- signature was verified, present but unchecked (no key), or absent.
ALTER TABLE devices ADD COLUMN report_key TEXT
	CHECK (report_key IS NULL OR length(report_key) BETWEEN 1 AND 4096);
ALTER TABLE reports ADD COLUMN signature TEXT
	CHECK (signature IS NULL OR signature IN ('verified', 'unchecked'));
