-- Credit's own tables (search_path is the credit schema while this runs).
-- Every mutable row has changed_at (server clock, for the search index refresh
-- and the platform export) and version (bumped on each change).

-- Clients that may call credit: bureaus (decide penalties), the office,
-- departments (query), the repair portal and the credit platforms (export).
-- The API key is stored as a SHA-256 of its secret half, compared in constant time.
CREATE TABLE clients (
    client_id   text        PRIMARY KEY,
    role        text        NOT NULL CHECK (role IN ('bureau', 'office', 'department', 'portal', 'platform')),
    bureau_type text,
    division    text,
    name        text        NOT NULL,
    key_hash    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    CHECK (role <> 'bureau' OR (bureau_type IS NOT NULL AND division IS NOT NULL))
);

-- The entity registry, keyed by credit code when there is one.
CREATE TABLE entities (
    entity_id     text        PRIMARY KEY,
    credit_code   text        UNIQUE,
    kind          text        NOT NULL CHECK (kind IN ('organisation', 'individual_trader', 'natural_person')),
    name          text        NOT NULL,            -- registered name; masked for a natural person
    name_key      text        NOT NULL,            -- the whole name normalised: matches entities first seen without a code
    person_hash   text        UNIQUE,              -- HMAC of the resident ID
    person_sealed jsonb,                           -- {"name": Sealed, "resident_id": Sealed}
    person_masked text,
    first_seen_at timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    version       integer     NOT NULL DEFAULT 1
);
CREATE INDEX entities_codeless_name ON entities (name_key, kind) WHERE credit_code IS NULL;
CREATE INDEX entities_changed ON entities (changed_at);

-- Names, former names (name history) and aliases.
CREATE TABLE entity_names (
    id         bigserial   PRIMARY KEY,
    entity_id  text        NOT NULL REFERENCES entities,
    name       text        NOT NULL,
    name_kind  text        NOT NULL CHECK (name_kind IN ('registered', 'former', 'alias')),
    valid_from timestamptz NOT NULL,
    valid_to   timestamptz,
    source     text        NOT NULL
);
CREATE INDEX entity_names_entity ON entity_names (entity_id);

-- Credit records: penalty decisions and accepted criminal referrals.
CREATE TABLE records (
    record_id              text          PRIMARY KEY,
    entity_id              text          NOT NULL REFERENCES entities,
    kind                   text          NOT NULL CHECK (kind IN ('penalty', 'criminal_referral')),
    decision_no            text          NOT NULL UNIQUE,   -- 'referral:<case id>' for referrals
    bureau                 text          NOT NULL,          -- <bureau type>@<division>
    bureau_type            text          NOT NULL,
    client_id              text,
    category               text          NOT NULL,
    penalty_types          text[]        NOT NULL DEFAULT '{}',
    fine_amount            numeric(18,2),
    confiscated_amount     numeric(18,2),
    violation              text          NOT NULL DEFAULT '',
    legal_basis            text[]        NOT NULL DEFAULT '{}',
    content                text          NOT NULL DEFAULT '',
    decided_on             date          NOT NULL,
    aggravated             boolean       NOT NULL DEFAULT false,
    intentional            boolean       NOT NULL DEFAULT false,
    heavy                  boolean       NOT NULL,
    heavy_rules            text[]        NOT NULL DEFAULT '{}',
    severity               text          NOT NULL,          -- publicity type id
    repairable             boolean       NOT NULL,
    disclose               boolean       NOT NULL,
    rules_version          text          NOT NULL,
    disclosure_due_at      timestamptz,
    disclosure_due_on      date,
    disclosure_provisional boolean       NOT NULL DEFAULT false,
    disclosed_at           timestamptz,
    publicity_min_until    timestamptz   NOT NULL,
    publicity_min_on       date          NOT NULL,
    publicity_max_until    timestamptz   NOT NULL,
    publicity_max_on       date          NOT NULL,
    status                 text          NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'repaired', 'revoked')),
    ended_at               timestamptz,
    end_reason             text,
    party                  jsonb         NOT NULL,          -- the public (masked) form of the party
    digest                 text          NOT NULL,          -- of the decision as received: a re-send vs a conflict
    case_id                text,
    source_event_id        text,
    created_at             timestamptz   NOT NULL,
    changed_at             timestamptz   NOT NULL DEFAULT clock_timestamp(),
    version                integer       NOT NULL DEFAULT 1
);
CREATE INDEX records_entity ON records (entity_id, decided_on);
CREATE INDEX records_undisclosed ON records (disclosure_due_at) WHERE disclose AND disclosed_at IS NULL AND status = 'active';
CREATE INDEX records_active_until ON records (publicity_max_until) WHERE status = 'active';
CREATE INDEX records_feed ON records (disclosed_at, record_id) WHERE disclosed_at IS NOT NULL;
CREATE INDEX records_changed ON records (changed_at);

-- The serious-violation list.
CREATE TABLE listings (
    listing_id         text        PRIMARY KEY,
    entity_id          text        NOT NULL REFERENCES entities,
    rule_id            text        NOT NULL,
    rule_version       text        NOT NULL,
    citation           text        NOT NULL,
    reason             text        NOT NULL,
    authority          text        NOT NULL,
    early_removal      boolean     NOT NULL,
    measures           text[]      NOT NULL,
    listed_at          timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    expires_on         date        NOT NULL,
    early_removal_from timestamptz NOT NULL,
    early_removal_on   date        NOT NULL,
    status             text        NOT NULL DEFAULT 'listed' CHECK (status IN ('listed', 'delisted')),
    delisted_at        timestamptz,
    delist_reason      text,
    application_id     text,
    rules_version      text        NOT NULL,
    changed_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    version            integer     NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX listings_one_active_per_rule ON listings (entity_id, rule_id) WHERE status = 'listed';
CREATE INDEX listings_expiring ON listings (expires_at) WHERE status = 'listed';
CREATE INDEX listings_entity ON listings (entity_id);
CREATE INDEX listings_changed ON listings (changed_at);

-- Which records triggered which listing; a record triggers at most one listing per rule.
CREATE TABLE listing_triggers (
    listing_id text NOT NULL REFERENCES listings,
    record_id  text NOT NULL REFERENCES records,
    rule_id    text NOT NULL,
    PRIMARY KEY (listing_id, record_id),
    UNIQUE (rule_id, record_id)
);

-- Applications for credit repair and early removal from the list.
CREATE TABLE applications (
    application_id  text        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('repair', 'early_removal')),
    target_id       text        NOT NULL,
    entity_id       text        NOT NULL REFERENCES entities,
    authority       text        NOT NULL,
    submitted_by    text        NOT NULL,
    applicant       jsonb       NOT NULL,
    declaration     jsonb       NOT NULL,
    eligible        boolean     NOT NULL,
    reasons         text[]      NOT NULL DEFAULT '{}',
    received_at     timestamptz NOT NULL,
    decision_due_at timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'ineligible')),
    decided_at      timestamptz,
    decided_by      text,
    decision_reason text
);
CREATE UNIQUE INDEX applications_one_pending ON applications (kind, target_id) WHERE status = 'pending';
CREATE INDEX applications_entity ON applications (entity_id);
