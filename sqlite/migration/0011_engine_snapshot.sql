-- The engine's state at a point of the log (its deals, what the rules
-- and robots keep of them, their timers), so that a restart reads the
-- log after it rather than all of it. Stored in parts (of 256 KiB): a
-- million open deals make some hundreds of MiB.
CREATE TABLE engine_snapshot (
    workspace_id TEXT NOT NULL,
    part         INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    format       TEXT NOT NULL,
    digest       TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (workspace_id, part)
);
