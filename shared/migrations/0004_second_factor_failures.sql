-- Failed second-factor checks (tracking number + the last 4 phone digits), the same in every service
-- that checks one (shared/second_factor.py): one row per failure and per limited subject (a digest of
-- the tracking number, or of the caller's address), so the limit holds across every instance of the
-- service. Rows older than the window are deleted as new failures are recorded.
CREATE TABLE IF NOT EXISTS second_factor_failures (
    subject   text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS second_factor_failures_subject ON second_factor_failures (subject, failed_at);
