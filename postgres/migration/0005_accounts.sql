-- Sign-in: the users are the regulations file's; the store keeps only
-- their password hashes (argon2id, PHC string) and the sessions, each by
-- the SHA-256 of its token (the cookie carries the token). Times are Unix
-- microseconds (UTC).
CREATE TABLE credentials (
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE TABLE sessions (
    workspace_id TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, token_hash)
);
-- A new password ends the user's sessions; a sweep removes expired ones.
CREATE INDEX sessions_user ON sessions (workspace_id, user_id);
CREATE INDEX sessions_expires ON sessions (workspace_id, expires_at);
