-- Per-deployment device timeout: an assignment the device engaged with
-- (delivered .. installed) and then left without news for this many
-- seconds becomes timed_out, so a silent device is not "in progress"
-- forever. Pending assignments wait for the device's next check-in.
ALTER TABLE deployments ADD COLUMN device_timeout INTEGER NOT NULL DEFAULT 86400
	CHECK (device_timeout > 0);
CREATE INDEX assignments_state_updated ON assignments (state, updated_at);
