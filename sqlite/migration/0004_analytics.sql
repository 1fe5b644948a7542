-- What the funnel and managers reports read. Times are Unix microseconds
-- (UTC), as everywhere.
--
-- stage_visits: one row per stay of a deal on a stage, a projection of
-- the log written behind it with the deals (see engine/projector.go). A
-- visit is keyed by its deal, stage and entry time; left_at is NULL while
-- the deal is still there, next_* say where it went (empty: it left the
-- funnel, deleted).
CREATE TABLE stage_visits (
    workspace_id  TEXT NOT NULL,
    deal_id       TEXT NOT NULL,
    pipeline_id   TEXT NOT NULL,
    stage_id      TEXT NOT NULL,
    entered_at    INTEGER NOT NULL,
    left_at       INTEGER,
    next_pipeline TEXT NOT NULL DEFAULT '',
    next_stage    TEXT NOT NULL DEFAULT '',
    responsible   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workspace_id, deal_id, entered_at, pipeline_id, stage_id)
);
-- A period's entries and exits of a pipeline: a range of each index.
CREATE INDEX stage_visits_entered ON stage_visits (workspace_id, pipeline_id, entered_at);
CREATE INDEX stage_visits_left ON stage_visits (workspace_id, pipeline_id, left_at) WHERE left_at IS NOT NULL;

-- A period's closed deals, calls, tasks created and tasks due: a range
-- of each index instead of a scan of the table.
CREATE INDEX deals_closed ON deals (workspace_id, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX calls_started ON calls (workspace_id, started_at);
CREATE INDEX tasks_created ON tasks (workspace_id, created_at);
CREATE INDEX tasks_due ON tasks (workspace_id, due) WHERE due IS NOT NULL;

-- The deals already ingested get their current stay, the one visit the
-- deals table knows (keyed as the fold keys it, so their next move closes
-- it). Their earlier stays are in the log only: re-folding every deal at
-- the first start would hold the whole state in memory in one recovery
-- transaction, too much for a large install. docs/architecture.md says
-- what this leaves out.
INSERT INTO stage_visits (workspace_id, deal_id, pipeline_id, stage_id, entered_at, responsible)
SELECT workspace_id, id, pipeline_id, stage_id, stage_entered_at, responsible FROM deals WHERE deleted_at IS NULL;
