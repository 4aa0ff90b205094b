-- SUIT manifests, stored byte-for-byte as uploaded, indexed by their
-- manifest digest (SUIT authentication element 0). facts is the JSON the
-- API returns, computed once at upload.
CREATE TABLE manifests (
	id INTEGER PRIMARY KEY,
	digest BLOB NOT NULL UNIQUE,
	digest_alg INTEGER NOT NULL,
	envelope BLOB NOT NULL,
	sequence_number INTEGER NOT NULL,
	facts TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

-- One row per component: what the sequence-number rule compares
-- (vendor, class, component id) and what list filters use.
CREATE TABLE manifest_components (
	manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
	component_index INTEGER NOT NULL,
	component_id BLOB NOT NULL,
	vendor_id BLOB,
	class_id BLOB,
	PRIMARY KEY (manifest_id, component_index)
);
CREATE INDEX manifest_components_identity
	ON manifest_components (vendor_id, class_id, component_id);

-- Stored payloads a manifest fetches: a payload cannot be deleted while a
-- manifest refers to it (the foreign key refuses, the API answers 409).
CREATE TABLE manifest_payloads (
	manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
	payload_id INTEGER NOT NULL REFERENCES payloads (id),
	PRIMARY KEY (manifest_id, payload_id)
);
CREATE INDEX manifest_payloads_payload ON manifest_payloads (payload_id);
