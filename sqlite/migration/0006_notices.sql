-- The notices of notify actions, one per action and target (a Telegram
-- chat, an e-mail address): which were sent, which wait for a digest,
-- which were refused. id is "action_key|target". Times are Unix
-- microseconds (UTC).
CREATE TABLE notices (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    action_key   TEXT NOT NULL,
    target       TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    text         TEXT NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workspace_id, id)
);
-- A retry reads its action's notices; a digest counts a target's recent ones.
CREATE INDEX notices_action ON notices (workspace_id, action_key);
CREATE INDEX notices_target ON notices (workspace_id, target, at);
