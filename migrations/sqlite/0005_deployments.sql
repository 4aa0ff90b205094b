-- Deployments: "these devices should run this manifest". One assignment per
-- (deployment, device); a device has at most one active assignment (pending
-- .. installed). A manifest used by a deployment cannot be deleted.
CREATE TABLE deployments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT CHECK (name IS NULL OR length(name) BETWEEN 1 AND 128),
	manifest_id INTEGER NOT NULL REFERENCES manifests (id),
	target_kind TEXT NOT NULL CHECK (target_kind IN ('devices', 'group', 'tag')),
	target_value TEXT,
	status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'canceled')),
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX deployments_target ON deployments (status, target_kind, target_value);
CREATE INDEX deployments_manifest ON deployments (manifest_id);

CREATE TABLE assignments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	deployment_id INTEGER NOT NULL REFERENCES deployments (id),
	device_num INTEGER NOT NULL REFERENCES devices (num) ON DELETE CASCADE,
	state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'downloading', 'downloaded',
		'installing', 'installed', 'confirmed', 'failed', 'timed_out', 'canceled',
		'skipped')),
	reason TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (deployment_id, device_num)
);
CREATE INDEX assignments_device ON assignments (device_num, state);
CREATE INDEX assignments_deployment_state ON assignments (deployment_id, state, id);
