-- How far the state tables (deals, tasks, calls, notes, contacts) reflect
-- the event log: they are written behind the log, and after a crash the
-- events past this seq are folded in again.
CREATE TABLE projection_state (
    workspace_id TEXT PRIMARY KEY,
    seq          BIGINT NOT NULL
);
