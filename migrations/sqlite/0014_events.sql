-- The event log (issue 17): one durable, append-only log of what happened.
-- Every admin mutation (admin = 1: what GET /api/v1/audit shows) and every
-- state change of deployments and assignments is one row, written in the
-- transaction of the change. The id is the SSE event id: AUTOINCREMENT, so
-- an id is never reused, even once retention deleted the newest rows'
-- predecessors. at is in milliseconds since the epoch. data is one JSON
-- object, its fields documented per type in api/openapi.yaml.
CREATE TABLE events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at INTEGER NOT NULL,
	type TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 63),
	actor TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 143), -- device:<128>
	subject TEXT NOT NULL CHECK (length(subject) <= 159),
	deployment_id INTEGER, -- no foreign key: the log outlives what it describes
	device_id TEXT,
	admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
	data TEXT NOT NULL DEFAULT '{}'
);
-- /api/v1/audit pages through the admin rows only, newest first.
CREATE INDEX events_admin ON events (id) WHERE admin = 1;

-- The audit trail so far becomes the first events: same order, actions in
-- the past tense as events are named, subjects prefixed with their kind.
INSERT INTO events (at, type, actor, subject, deployment_id, device_id, admin, data)
	SELECT at * 1000,
		CASE action
			WHEN 'key.create' THEN 'key.created'
			WHEN 'key.revoke' THEN 'key.revoked'
			WHEN 'device.create' THEN 'device.created'
			WHEN 'device.delete' THEN 'device.deleted'
			WHEN 'device.token' THEN 'device.token_rotated'
			WHEN 'deployment.create' THEN 'deployment.created'
			WHEN 'deployment.cancel' THEN 'deployment.canceled'
			WHEN 'deployment.pause' THEN 'deployment.paused'
			WHEN 'deployment.resume' THEN 'deployment.resumed'
			WHEN 'deployment.retry' THEN 'deployment.retried'
			WHEN 'deployment.delete' THEN 'deployment.deleted'
			WHEN 'deployment.stage' THEN 'deployment.stage_opened'
			WHEN 'deployment.complete' THEN 'deployment.completed'
			ELSE substr(action, 1, 63) END,
		CASE actor WHEN 'cli' THEN 'local:cli' WHEN 'suitd' THEN 'system'
			ELSE substr(actor, 1, 143) END,
		substr(CASE WHEN instr(action, '.') > 0
			THEN substr(action, 1, instr(action, '.') - 1) || ':' ELSE '' END
			|| subject, 1, 159),
		CASE WHEN action LIKE 'deployment.%' THEN CAST(subject AS INTEGER) END,
		CASE WHEN action LIKE 'device.%' THEN subject END,
		CASE WHEN action IN ('deployment.stage', 'deployment.complete') THEN 0 ELSE 1 END,
		CASE WHEN detail IS NULL THEN '{}' ELSE json_object('detail', detail) END
	FROM audit_log ORDER BY id;
DROP TABLE audit_log;

-- Each transition of an assignment is an event too, written by a trigger
-- in the statement that changes the state, so that no write path forgets
-- one and a group commit's transitions share its transaction. The trigger
-- is a TEMP trigger each suitd connection creates (storage/events.c):
-- it names the actor the connection sets, and a sqlite3 shell or a script
-- working on the file changes assignments without suitd's events (and
-- without a function only suitd defines).
