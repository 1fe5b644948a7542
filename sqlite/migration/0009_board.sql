-- The deals board (the web page /deals) at a million deals: per stage,
-- the open deals' count and amount, and the 25 longest on it. One range
-- of this index per stage gives a column in order; counting the open
-- deals per stage reads the index alone (every column the count reads is
-- in it, status and deleted_at too, so SQLite knows it covers the query). The deals without an open task are those with no
-- entry in tasks_open.
CREATE INDEX deals_board ON deals (workspace_id, pipeline_id, stage_id, stage_entered_at, id, responsible, amount, status, deleted_at)
    WHERE status = 'open' AND deleted_at IS NULL;
