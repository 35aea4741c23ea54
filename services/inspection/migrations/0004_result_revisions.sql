-- A recorded or published result may be corrected (with a reason): each correction is a new
-- revision with a publication deadline of its own (domain/tasks.py `correct`).
ALTER TABLE tasks ADD COLUMN revision integer NOT NULL DEFAULT 0;
UPDATE tasks SET revision = 1 WHERE state <> 'assigned';
