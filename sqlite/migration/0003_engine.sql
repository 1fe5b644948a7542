-- What the rules engine writes: findings, the outbox of automation actions
-- and the engine's checkpoint. Times are Unix microseconds (UTC). An absent
-- end (resolved_at, done_at) is NULL; the times that are plain time.Time in
-- Go (next_attempt_at, clock, observe_until) store 0 for none, so the
-- dispatcher's index stays on plain integers and a pending action without
-- a next attempt is due at once. JSON is text.
CREATE TABLE violations (
    workspace_id   TEXT NOT NULL,
    id             TEXT NOT NULL,
    rule           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    metric         TEXT NOT NULL DEFAULT '',
    deal_id        TEXT NOT NULL DEFAULT '',
    task_id        TEXT NOT NULL DEFAULT '',
    call_id        TEXT NOT NULL DEFAULT '',
    user_id        TEXT NOT NULL DEFAULT '',
    pipeline_id    TEXT NOT NULL DEFAULT '',
    stage_id       TEXT NOT NULL DEFAULT '',
    opened_at      INTEGER NOT NULL,
    resolved_at    INTEGER,
    message        TEXT NOT NULL DEFAULT '{}',
    recommendation TEXT NOT NULL DEFAULT '{}',
    evidence       TEXT NOT NULL DEFAULT '{}',
    amount         REAL NOT NULL DEFAULT 0,
    win_rate       REAL NOT NULL DEFAULT 0,
    money_at_risk  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, id)
);
-- Lists come in (opened_at, id) order; a period bounds opened_at.
CREATE INDEX violations_opened ON violations (workspace_id, opened_at, id);
CREATE INDEX violations_deal ON violations (workspace_id, deal_id, opened_at, id);
CREATE INDEX violations_user ON violations (workspace_id, user_id, opened_at, id);
CREATE INDEX violations_open ON violations (workspace_id, opened_at, id) WHERE resolved_at IS NULL;

-- The outbox: an action is stored once per idempotency key, written in
-- the transaction that decided it and delivered after commit.
CREATE TABLE actions (
    workspace_id    TEXT NOT NULL,
    key             TEXT NOT NULL,
    type            TEXT NOT NULL,
    rule            TEXT NOT NULL DEFAULT '',
    deal_id         TEXT NOT NULL DEFAULT '',
    at              INTEGER NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    done_at         INTEGER,
    PRIMARY KEY (workspace_id, key)
);
-- The dispatcher asks for pending actions due by now, oldest first.
CREATE INDEX actions_due ON actions (workspace_id, status, next_attempt_at, key);
CREATE INDEX actions_deal ON actions (workspace_id, deal_id, at, key);

-- How far the engine's findings and actions reflect the log.
CREATE TABLE engine_state (
    workspace_id  TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL,
    clock         INTEGER NOT NULL DEFAULT 0,
    observe_until INTEGER NOT NULL DEFAULT 0
);
