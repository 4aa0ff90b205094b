-- Issue 16: dependency manifests (draft-ietf-suit-trust-domains) and what a
-- device must fetch before its assignment counts as downloaded.

-- Every dependency in a manifest's tree (its own and, flattened, those of
-- its integrated dependencies), by the dependency's manifest digest.
-- dependency_id links a stored manifest of that digest (a stored dependency
-- cannot be deleted while a manifest links it); served: the dependent
-- fetches it from PUBLIC_URL/device/v1/manifests/<digest>, so a device
-- needs it from suitd.
CREATE TABLE manifest_dependencies (
	manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
	digest BLOB NOT NULL,
	dependency_id INTEGER REFERENCES manifests (id),
	integrated INTEGER NOT NULL CHECK (integrated IN (0, 1)),
	served INTEGER NOT NULL CHECK (served IN (0, 1)),
	PRIMARY KEY (manifest_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifest_dependencies_dependency ON manifest_dependencies (dependency_id)
	WHERE dependency_id IS NOT NULL;

-- What a device must fetch from suitd before its assignment is downloaded:
-- one object of each group. A group is one component of one manifest of
-- the tree (the manifest or an integrated dependency, flattened), with
-- every image the manifest may fetch for it (try-each alternatives, A/B
-- slots: any one will do); a component some path fetches from elsewhere or
-- from the envelope is no need. kind 0: a payload (payloads.id), 1: a
-- dependency envelope fetched from /device/v1/manifests (manifests.id).
-- Stored dependencies a manifest links bring their own groups.
CREATE TABLE manifest_needs (
	manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
	grp INTEGER NOT NULL,
	kind INTEGER NOT NULL CHECK (kind IN (0, 1)),
	object_id INTEGER NOT NULL,
	PRIMARY KEY (manifest_id, grp, kind, object_id)
) WITHOUT ROWID;

-- What a device fetched from suitd for an assignment, to the last byte:
-- kind 0 a payload (payloads.id), kind 1 a dependency envelope
-- (manifests.id). The assignment is downloaded once this holds one object
-- of every need group of its manifest.
CREATE TABLE assignment_fetches (
	assignment_id INTEGER NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	kind INTEGER NOT NULL CHECK (kind IN (0, 1)),
	object_id INTEGER NOT NULL,
	PRIMARY KEY (assignment_id, kind, object_id)
) WITHOUT ROWID;

-- Manifests stored before this migration keep the rule they were deployed
-- under: any one of their stored payloads, fetched to its last byte,
-- completes the download (one group). Without this, their assignments
-- would never count as downloaded by fetches.
INSERT INTO manifest_needs (manifest_id, grp, kind, object_id)
	SELECT manifest_id, 0, 0, payload_id FROM manifest_payloads;
