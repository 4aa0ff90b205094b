-- Issue 22: several suitd nodes on one database. Each node keeps the
-- check-in index and the token cache in memory and follows the event log
-- to keep them true (server/cluster.c); this tells every node the moment
-- events commit, instead of each polling the log. NOTIFY is delivered at
-- COMMIT and not at all on a rollback, so a node never reads an event that
-- was not written. One notification per statement, its payload the newest
-- id the statement wrote; the nodes read the log from their own cursor, so
-- a lost notification (a node's connection down) costs latency, not an
-- event: the 1 s poll and the reload after a reconnect catch up. PostgreSQL
-- only: SQLite has one node.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('suitd_events', (SELECT max(id) FROM added)::text);
	RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION events_notify();
