-- The appraisal results routing took into a case's figures (services/routing/app/appraisals.py):
-- one row per reported appraisal, so a redelivered or repeated report counts once and the case's
-- appraised figures are the sum over its appraisals.
CREATE TABLE case_appraisals (
    appraisal_id      text        PRIMARY KEY,
    case_id           text        NOT NULL,
    figures           jsonb       NOT NULL,
    evidential_weight text        NOT NULL,
    verdict           text,
    reported_at       timestamptz NOT NULL
);
CREATE INDEX case_appraisals_case ON case_appraisals (case_id);
