-- The public status by tracking number (GET /v1/status, adapters/http_overview.py) reads one case
-- by its tracking number: without this index every lookup scanned the cases table.
CREATE INDEX IF NOT EXISTS cases_tracking_no ON cases (tracking_no) WHERE tracking_no IS NOT NULL;
