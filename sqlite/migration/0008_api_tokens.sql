-- API tokens an admin issues on the admin page (the environment's
-- FUNNELWATCH_API_TOKEN works beside them). The store keeps the SHA-256
-- of a token, never the token, and the first characters of it to
-- recognise it by. A revoked token stays listed with its time. Times are
-- Unix microseconds (UTC).
CREATE TABLE api_tokens (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (workspace_id, token_hash);
