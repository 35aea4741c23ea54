-- Routing's own tables (the runtime's inbox/outbox/dead_letters come first).

-- One row per case: where it is, its state and the facts routing decided on.
CREATE TABLE cases (
    case_id          text        PRIMARY KEY,
    origin           text        NOT NULL,
    channel          text        NOT NULL,
    category         text        NOT NULL,
    county           text        NOT NULL,
    counties         text[]      NOT NULL,
    suspect          jsonb       NOT NULL,
    suspect_key      text,
    figures          jsonb       NOT NULL,     -- amounts as decimal strings, never floats
    reports_count    integer     NOT NULL,
    tracking_no      text,
    summary          text        NOT NULL DEFAULT '',
    complainant      jsonb,                    -- sealed fields and masked forms only
    opened_at        timestamptz NOT NULL,
    assignee         text        NOT NULL,     -- <bureau_type>@<jurisdiction>
    assignee_type    text        NOT NULL,
    level            text        NOT NULL,
    reasons          text[]      NOT NULL,
    co_bureaus       text[]      NOT NULL,
    state            text        NOT NULL,     -- assigned | accepted | closed | not_accepted
    assignment_no    integer     NOT NULL,
    transfers        integer     NOT NULL,
    assigned_at      timestamptz NOT NULL,
    ack_due_at       timestamptz,
    directory_version text       NOT NULL,
    joint_meeting_proposed boolean NOT NULL DEFAULT false,
    acknowledged_at  timestamptz,
    closed_at        timestamptz,
    outcome          text,
    outcome_detail   jsonb,
    county_label     text        NOT NULL,     -- bounded metric label: a current county code or 'unknown'
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_assignee ON cases (assignee, opened_at DESC);
CREATE INDEX cases_open ON cases (assignee_type, county_label, state) WHERE state IN ('assigned', 'accepted');

-- How many cases each suspect has had (repeat suspects go to the city level).
CREATE TABLE suspects (
    suspect_key  text        PRIMARY KEY,
    cases        integer     NOT NULL,
    first_case   text        NOT NULL,
    last_case    text        NOT NULL,
    last_seen_at timestamptz NOT NULL
);

-- Criminal referrals (两法衔接), one active per case at most.
CREATE TABLE referrals (
    referral_id   text        PRIMARY KEY,
    case_id       text        NOT NULL REFERENCES cases (case_id),
    seq           integer     NOT NULL,
    state         text        NOT NULL,
    agency        text        NOT NULL,
    police        text        NOT NULL,
    procuratorate text        NOT NULL,
    proposed_by   text        NOT NULL,
    basis         jsonb       NOT NULL,
    package       jsonb,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (case_id, seq)
);
CREATE INDEX referrals_police ON referrals (police, state);

-- Legal deadlines. The watch emits deadline.approaching / deadline.breached once
-- each: the flag is set in the same transaction as the outbox write.
CREATE TABLE deadlines (
    deadline_id      text        PRIMARY KEY,
    case_id          text        NOT NULL REFERENCES cases (case_id),
    kind             text        NOT NULL,
    bureau           text        NOT NULL,
    subject          text        NOT NULL,
    rule_id          text        NOT NULL,
    rule_version     text        NOT NULL,
    citation         text        NOT NULL,
    starts_at        timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    due_date_local   date        NOT NULL,
    warn_at          timestamptz NOT NULL,
    provisional      boolean     NOT NULL,
    state            text        NOT NULL DEFAULT 'open',   -- open | met | cancelled
    approaching_sent boolean     NOT NULL DEFAULT false,
    breached_sent    boolean     NOT NULL DEFAULT false,
    revisions        integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);
CREATE INDEX deadlines_case ON deadlines (case_id) WHERE state = 'open';
CREATE INDEX deadlines_warn ON deadlines (warn_at) WHERE state = 'open' AND NOT approaching_sent;
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE state = 'open' AND NOT breached_sent;
CREATE INDEX deadlines_provisional ON deadlines (deadline_id) WHERE state = 'open' AND provisional;

-- API keys of bureaus (and the office). Only a hash of the secret is stored.
CREATE TABLE bureau_keys (
    key_id      text        PRIMARY KEY,
    bureau      text        NOT NULL,
    secret_hash bytea       NOT NULL,
    label       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX bureau_keys_bureau ON bureau_keys (bureau);
