-- Issue 15: a deployment's assignments are inserted in slices, each its own
-- short transaction, after the deployment row (tracker/fanout.c). Until the
-- last slice commits, prepared_at is NULL: the deployment shows as
-- "preparing", housekeeping neither opens its stages nor completes it, and a
-- restart resumes the slices. planned: how many devices the target had when
-- it was created (the progress's denominator).
ALTER TABLE deployments ADD COLUMN prepared_at INTEGER;
ALTER TABLE deployments ADD COLUMN planned INTEGER NOT NULL DEFAULT 0;
UPDATE deployments SET prepared_at = created_at,
	planned = (SELECT count(*) FROM assignments a WHERE a.deployment_id = deployments.id);

-- The device list of a deployment to listed devices, kept until it is
-- prepared, so that a restart can resume it.
CREATE TABLE deployment_targets (
	deployment_id INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
	device_num INTEGER NOT NULL,
	PRIMARY KEY (deployment_id, device_num)
) WITHOUT ROWID;

-- A deployment's devices in the order of its keyset (assignment id): an
-- index on deployment_id alone is ordered by (deployment_id, rowid), so a
-- page of a million-device deployment is a range, not a sort of all of it.
CREATE INDEX assignments_by_deployment ON assignments (deployment_id);
