-- The event log and the state folded from it. Times are Unix microseconds
-- (UTC); booleans are 0/1; JSON is text. Every row is scoped by workspace.
CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    at           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    deal_id      TEXT NOT NULL DEFAULT '',
    task_id      TEXT NOT NULL DEFAULT '',
    actor        TEXT NOT NULL DEFAULT '',
    payload      TEXT NOT NULL,
    UNIQUE (workspace_id, id)
);
CREATE INDEX events_deal ON events (workspace_id, deal_id, at, seq);
CREATE INDEX events_at ON events (workspace_id, at, seq);

CREATE TABLE contacts (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    phones       TEXT NOT NULL DEFAULT '[]',
    emails       TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE deals (
    workspace_id        TEXT NOT NULL,
    id                  TEXT NOT NULL,
    pipeline_id         TEXT NOT NULL,
    stage_id            TEXT NOT NULL,
    status              TEXT NOT NULL,
    name                TEXT NOT NULL DEFAULT '',
    responsible         TEXT NOT NULL DEFAULT '',
    contact_id          TEXT NOT NULL DEFAULT '',
    amount              REAL NOT NULL DEFAULT 0,
    source              TEXT NOT NULL DEFAULT '',
    fields              TEXT NOT NULL DEFAULT '{}',
    loss_reason         TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    stage_entered_at    INTEGER NOT NULL,
    pipeline_entered_at INTEGER NOT NULL,
    closed_at           INTEGER,
    deleted_at          INTEGER,
    last_event_at       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX deals_stage ON deals (workspace_id, pipeline_id, stage_id) WHERE deleted_at IS NULL;
CREATE INDEX deals_responsible ON deals (workspace_id, responsible, status);
CREATE INDEX deals_contact ON deals (workspace_id, contact_id, created_at);

CREATE TABLE tasks (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    deal_id      TEXT NOT NULL,
    assignee     TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL DEFAULT '',
    due          INTEGER,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    completed_at INTEGER,
    result       TEXT NOT NULL DEFAULT '',
    deleted      INTEGER NOT NULL DEFAULT 0,
    reschedules  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX tasks_deal ON tasks (workspace_id, deal_id);
CREATE INDEX tasks_assignee ON tasks (workspace_id, assignee, completed_at);

CREATE TABLE calls (
    workspace_id  TEXT NOT NULL,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL DEFAULT '',
    deal_id       TEXT NOT NULL DEFAULT '',
    direction     TEXT NOT NULL,
    phone         TEXT NOT NULL DEFAULT '',
    started_at    INTEGER NOT NULL,
    duration_s    INTEGER NOT NULL DEFAULT 0,
    answered      INTEGER NOT NULL DEFAULT 0,
    recording_url TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX calls_deal ON calls (workspace_id, deal_id, started_at);
CREATE INDEX calls_phone ON calls (workspace_id, phone, started_at);

CREATE TABLE notes (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    deal_id      TEXT NOT NULL,
    author       TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX notes_deal ON notes (workspace_id, deal_id, at);
