-- Rapid appraisal (快速维权鉴定): requests from cases, the providers' answers and results.
CREATE TABLE appraisals (
    appraisal_id   text        PRIMARY KEY,
    case_id        text        NOT NULL,
    bureau         text        NOT NULL,     -- the requesting bureau (type@division)
    kind           text        NOT NULL CHECK (kind IN ('authenticity', 'quality', 'value')),
    provider       text        NOT NULL,     -- principal id of the centre or the rights holder's service
    provider_kind  text        NOT NULL CHECK (provider_kind IN ('appraisal_centre', 'rights_holder')),
    subject        text        NOT NULL,
    lot_id         text,
    wanted_by      date,
    state          text        NOT NULL CHECK (state IN ('requested', 'accepted', 'samples_received', 'reported',
                                                          'refused', 'withdrawn')),
    requested_at   timestamptz NOT NULL,
    requested_by   text        NOT NULL,
    accepted_at    timestamptz,
    samples_at     timestamptz,
    closed_at      timestamptz,
    reason         text,
    result         jsonb                     -- {verdict, valuation, report{doc_no,title,uri,sha256}, summary, evidential_weight, reported_at, reported_by}
);
CREATE INDEX appraisals_by_case ON appraisals (case_id);
CREATE INDEX appraisals_by_provider ON appraisals (provider, state);
CREATE INDEX appraisals_by_time ON appraisals (requested_at);
