-- The console's worklists (GET /v1/worklist, adapters/http_overview.py) list cases by their next open
-- deadline: this index lets them read open deadlines in due order and stop at a page, instead of
-- computing every visible case's next deadline and sorting them all.
CREATE INDEX IF NOT EXISTS deadlines_open_due ON deadlines (due_at, deadline_id) WHERE state = 'open';
