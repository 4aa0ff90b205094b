-- Webhooks (issue 17): signed HTTP deliveries of the event log (0014).
--
-- The event log is the outbox: a webhook keeps a cursor, the id of the
-- last event it has finished with (delivered, finally failed, or not
-- matching its types). The delivery thread (events/webhooks.c) reads the
-- log after the cursor and moves the cursor only past events whose
-- outcome is final, in the transaction that records that outcome, so a
-- crash redelivers and never loses (at-least-once; the receiver
-- deduplicates by the webhook-id header, the event id).
--
-- secret: "whsec_" + base64 of 32 random bytes (Standard Webhooks). It
-- signs every delivery, so it is kept as it is; the API shows it once, at
-- creation. types: the comma list of type patterns of the SSE filter
-- ("deployment.*,assignment.failed"; "" = every event). enabled: 0 when
-- an operator turned it off or the delivery thread disabled it after an
-- event failed for [events] webhook_max_age (disabled_reason says which).
CREATE TABLE webhooks (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	url TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2048),
	types TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	secret TEXT NOT NULL,
	enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	disabled_reason TEXT,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	cursor INTEGER NOT NULL DEFAULT 0
);

-- Manual redeliveries (POST .../deliveries/{n}/retry), durable until the
-- delivery thread has made the attempt.
CREATE TABLE webhook_redeliveries (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id INTEGER NOT NULL,
	requested_at INTEGER NOT NULL,
	requested_by TEXT NOT NULL
);

-- Every attempt: n (the id) orders them. at: milliseconds since the epoch.
-- status: the HTTP status received (NULL: no response). result: ok (2xx),
-- retry (another attempt follows), failed (the last attempt of an event
-- that failed for webhook_max_age, or of a manual retry that failed).
CREATE TABLE webhook_deliveries (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id INTEGER NOT NULL,
	event_type TEXT NOT NULL,
	attempt INTEGER NOT NULL CHECK (attempt >= 1),
	manual INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
	at INTEGER NOT NULL,
	status INTEGER,
	latency_ms INTEGER NOT NULL DEFAULT 0,
	result TEXT NOT NULL CHECK (result IN ('ok', 'retry', 'failed')),
	error TEXT
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (webhook_id, event_id);
