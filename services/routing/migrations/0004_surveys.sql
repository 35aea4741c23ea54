-- The complainants' satisfaction answers (case.survey-answered from intake), one per complaint,
-- and whether each reopened its case: the assessment's satisfaction figures (issue 15 §4).
CREATE TABLE surveys (
    case_id     text        NOT NULL,
    tracking_no text        NOT NULL,
    score       smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    resolved    boolean     NOT NULL,
    reopened    boolean     NOT NULL,
    answered_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, tracking_no)
);
