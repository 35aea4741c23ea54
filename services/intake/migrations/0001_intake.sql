-- Intake: API clients, cases, the reports that opened or joined them, and
-- idempotency keys. (The runtime's inbox/outbox/dead_letters come first.)

-- Callers: hotline centres, platforms, bureau back ends. Keys are stored as a
-- SHA-256 of a high-entropy random key; key_id (public, part of the key) finds the row.
CREATE TABLE clients (
    client_id   text        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('hotline', 'platform', 'bureau')),
    scopes      text[]      NOT NULL,
    key_id      text        NOT NULL UNIQUE,
    key_hash    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz,
    revoked_at  timestamptz
);

-- Cases as intake knows them: identity, place and running totals.
CREATE TABLE cases (
    case_id        text        PRIMARY KEY,
    merge_key      text        NOT NULL,
    category       text        NOT NULL,
    county         text        NOT NULL,
    counties       text[]      NOT NULL,
    suspect        jsonb       NOT NULL,
    figures        jsonb       NOT NULL,   -- decimal strings
    reports_count  integer     NOT NULL,
    opened_at      timestamptz NOT NULL,
    last_report_at timestamptz NOT NULL
);

-- One row per suspect (merge key) and category: the case taking reports about it.
-- Every report locks this row first (INSERT … ON CONFLICT DO UPDATE), so reports
-- about one suspect serialise and one case's events keep their order.
CREATE TABLE merge_slots (
    merge_digest bytea PRIMARY KEY,          -- sha256(category NUL merge_key): keys can be long
    category     text  NOT NULL,
    merge_key    text  NOT NULL,
    case_id      text  REFERENCES cases (case_id)
);

-- Every accepted complaint, report and lead. Personal data only sealed (AES-GCM) and masked.
CREATE TABLE reports (
    report_id     text        PRIMARY KEY,
    case_id       text        NOT NULL REFERENCES cases (case_id),
    outcome       text        NOT NULL CHECK (outcome IN ('opened', 'merged')),
    origin        text        NOT NULL,
    channel       text        NOT NULL,
    client_id     text        NOT NULL,
    source_id     text,
    tracking_no   text        UNIQUE,
    category      text        NOT NULL,
    county        text        NOT NULL,
    suspect       jsonb       NOT NULL,
    figures       jsonb       NOT NULL,
    summary       text        NOT NULL,
    complainant   jsonb,
    occurred_on   date,
    observed_at   timestamptz,
    evidence_urls text[]      NOT NULL DEFAULT '{}',
    received_at   timestamptz NOT NULL
);
CREATE INDEX reports_case ON reports (case_id);

-- (client, source id) seen: an exact re-submission is recognised, not counted twice.
CREATE TABLE submissions (
    client_id text NOT NULL,
    source_id text NOT NULL,
    report_id text NOT NULL,
    PRIMARY KEY (client_id, source_id)
);

-- Idempotency-Key, scoped per client: the first response is replayed for the same body.
CREATE TABLE idempotency_keys (
    client_id   text        NOT NULL,
    idem_key    text        NOT NULL,
    fingerprint bytea       NOT NULL,
    status      integer,
    response    text,                  -- the body exactly as first sent
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
