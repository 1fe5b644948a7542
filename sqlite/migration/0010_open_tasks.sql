-- The tasks page at a million deals: each group of a team's open tasks
-- (overdue, today, upcoming: a range of tasks_open_due; without a due
-- time: this index) is counted on an index and its most urgent 200 read
-- in order.
CREATE INDEX tasks_open_nodue ON tasks (workspace_id, assignee, id) WHERE completed_at IS NULL AND due IS NULL;
