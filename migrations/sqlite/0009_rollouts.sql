-- Staged rollouts. A deployment releases its target stage by stage
-- (cumulative percentages); the housekeeping loop opens the next stage
-- when success_threshold % of the released devices are done, and pauses
-- the deployment when failed + timed_out exceed failure_threshold %.
-- Status as the API shows it: canceled (status), else paused (paused_at),
-- else completed (completed_at), else active.
ALTER TABLE deployments ADD COLUMN success_threshold INTEGER NOT NULL DEFAULT 95
	CHECK (success_threshold BETWEEN 0 AND 100);
ALTER TABLE deployments ADD COLUMN failure_threshold INTEGER NOT NULL DEFAULT 5
	CHECK (failure_threshold BETWEEN 0 AND 100);
-- Index of the highest open stage (0 = the first).
ALTER TABLE deployments ADD COLUMN open_stage INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN paused_at INTEGER;
ALTER TABLE deployments ADD COLUMN paused_by TEXT;
ALTER TABLE deployments ADD COLUMN pause_reason TEXT;
-- 1 when suitd paused it (failure threshold): resuming needs an acknowledgment.
ALTER TABLE deployments ADD COLUMN paused_auto INTEGER NOT NULL DEFAULT 0;
-- Failures an operator acknowledged when resuming: they no longer count
-- against the failure threshold.
ALTER TABLE deployments ADD COLUMN failures_acknowledged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN completed_at INTEGER;
ALTER TABLE deployments ADD COLUMN canceled_at INTEGER;

CREATE TABLE deployment_stages (
	deployment_id INTEGER NOT NULL REFERENCES deployments (id),
	stage INTEGER NOT NULL CHECK (stage >= 0),
	percent INTEGER NOT NULL CHECK (percent BETWEEN 1 AND 100),
	opened_at INTEGER,
	PRIMARY KEY (deployment_id, stage)
) WITHOUT ROWID;
INSERT INTO deployment_stages (deployment_id, stage, percent, opened_at)
	SELECT id, 0, 100, created_at FROM deployments;

ALTER TABLE assignments ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;

-- Counts per deployment, stage and state, kept by triggers in the same
-- transaction as the assignment change: a deployment's counts are read
-- without scanning its assignments.
CREATE TABLE assignment_counts (
	deployment_id INTEGER NOT NULL,
	stage INTEGER NOT NULL,
	state TEXT NOT NULL,
	n INTEGER NOT NULL CHECK (n >= 0),
	PRIMARY KEY (deployment_id, stage, state)
) WITHOUT ROWID;
INSERT INTO assignment_counts (deployment_id, stage, state, n)
	SELECT deployment_id, stage, state, count(*) FROM assignments
	GROUP BY deployment_id, stage, state;

CREATE TRIGGER assignment_counts_insert AFTER INSERT ON assignments BEGIN
	INSERT INTO assignment_counts (deployment_id, stage, state, n)
		VALUES (NEW.deployment_id, NEW.stage, NEW.state, 1)
		ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER assignment_counts_update AFTER UPDATE OF state ON assignments
	WHEN OLD.state != NEW.state BEGIN
	UPDATE assignment_counts SET n = n - 1 WHERE deployment_id = OLD.deployment_id
		AND stage = OLD.stage AND state = OLD.state;
	INSERT INTO assignment_counts (deployment_id, stage, state, n)
		VALUES (NEW.deployment_id, NEW.stage, NEW.state, 1)
		ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER assignment_counts_delete AFTER DELETE ON assignments BEGIN
	UPDATE assignment_counts SET n = n - 1 WHERE deployment_id = OLD.deployment_id
		AND stage = OLD.stage AND state = OLD.state;
END;

-- The deployments the housekeeping loop watches.
CREATE INDEX deployments_running ON deployments (id)
	WHERE status = 'active' AND paused_at IS NULL AND completed_at IS NULL;
