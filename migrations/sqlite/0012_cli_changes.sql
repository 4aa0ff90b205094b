-- Changes the command line makes while the daemon runs (suitd device add,
-- with the deployment join it does): the CLI bumps this counter after its
-- writes commit; the daemon's main loop reads it once a second and, when it
-- moved, drops its device token cache and rebuilds its assignment index from
-- the database. No signal to remember, and the daemon never polls more than
-- one row.
CREATE TABLE cli_changes (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	generation INTEGER NOT NULL
);
INSERT INTO cli_changes (id, generation) VALUES (1, 0);
