-- The tasks page at a million deals: each group of a team's open tasks
-- (overdue, today, upcoming: a range of tasks_open_due; without a due
-- time: tasks_open_nodue) is counted on an index and its most urgent 200
-- chosen there. Both indexes hold every column the choice reads (the id,
-- and completed_at and due too, or SQLite does not see them as covering
-- and reads tasks_due, which holds every task, done or not); the rows
-- are then read for the 200 ids only.
DROP INDEX tasks_open_due;
CREATE INDEX tasks_open_due ON tasks (workspace_id, due, assignee, id, completed_at) WHERE completed_at IS NULL AND due IS NOT NULL;
CREATE INDEX tasks_open_nodue ON tasks (workspace_id, assignee, id, completed_at, due) WHERE completed_at IS NULL AND due IS NULL;
