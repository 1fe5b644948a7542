-- What the dashboard reads, for a store of a million deals (DESIGN §9:
-- the dashboard in p95 < 150 ms with 1,000,000 deals and 20,000,000
-- events). Each index below holds every column its query reads, so the
-- query reads an index range and never the table's rows. Times are Unix
-- microseconds (UTC), as everywhere.

-- The quality report's flow: the findings opened in a period, counted by
-- pipeline, stage, user, rule, severity and day (ViolationGroups), and
-- their distinct deals. Its stock: the findings open at an instant are
-- those still open and opened by then (a range of violations_open) and
-- those resolved after it and opened by then (a range of
-- violations_resolved). The first two replace the indexes of the same
-- name, which ordered by (opened_at, id) and still do.
DROP INDEX violations_opened;
CREATE INDEX violations_opened ON violations
    (workspace_id, opened_at, id, user_id, pipeline_id, stage_id, rule, severity, deal_id, money_at_risk);
DROP INDEX violations_open;
CREATE INDEX violations_open ON violations
    (workspace_id, opened_at, id, user_id, pipeline_id, stage_id, rule, severity, deal_id, money_at_risk, resolved_at)
    WHERE resolved_at IS NULL;
CREATE INDEX violations_resolved ON violations
    (workspace_id, resolved_at, opened_at, user_id, pipeline_id, stage_id, rule, severity, deal_id, money_at_risk)
    WHERE resolved_at IS NOT NULL;

-- The active deals of a period, by responsible.
CREATE INDEX deals_active ON deals (workspace_id, responsible, created_at, closed_at, deleted_at);

-- The funnel page's deals and money per stage: the amount joins the index.
DROP INDEX deals_stage;
CREATE INDEX deals_stage ON deals (workspace_id, pipeline_id, stage_id, amount) WHERE deleted_at IS NULL;

-- The dashboard's workload: the open deals without an open task, the
-- overdue tasks.
CREATE INDEX deals_open ON deals (workspace_id, responsible, id) WHERE status = 'open' AND deleted_at IS NULL;
CREATE INDEX tasks_open ON tasks (workspace_id, deal_id) WHERE completed_at IS NULL;
CREATE INDEX tasks_open_due ON tasks (workspace_id, due, assignee) WHERE completed_at IS NULL AND due IS NOT NULL;

-- The number of events in each workspace's log, kept by the inserts
-- (the log is append-only): counting 20 million index entries takes
-- seconds.
CREATE TABLE event_counts (
    workspace_id TEXT PRIMARY KEY,
    n            INTEGER NOT NULL
);
INSERT INTO event_counts (workspace_id, n) SELECT workspace_id, COUNT(*) FROM events GROUP BY workspace_id;
