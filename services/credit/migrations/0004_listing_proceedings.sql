-- Issue 14 §2: a list rule's match no longer lists an entity. It opens a proceeding (SAMR Order 44:
-- art. 12 weighing, art. 13 notice with the party's statement and hearing periods, the decision,
-- the level above's consent where required); the listing (listings) is made only when it ends `listed`.
-- Local-policy rules open a proceeding in state `review` that a person dismisses or weighs.
CREATE TABLE listing_proceedings (
    proceeding_id          text        PRIMARY KEY,
    entity_id              text        NOT NULL REFERENCES entities,
    rule_id                text        NOT NULL,
    rule_version           text        NOT NULL,
    basis                  text        NOT NULL CHECK (basis IN ('order44', 'local_policy')),
    citation               text        NOT NULL,
    reason                 text        NOT NULL,
    authority              text        NOT NULL,          -- type@division: takes every step but the approval
    approver               text,                          -- the level above, when its consent is required
    early_removal          boolean     NOT NULL,
    triggering             text[]      NOT NULL,
    state                  text        NOT NULL CHECK (state IN ('review', 'weighing', 'to_notify', 'statement_period',
                                                                 'approval', 'listed', 'not_listed', 'withdrawn')),
    served_on              date,
    statement_due_at       timestamptz,
    statement_due_on       date,
    hearing_request_due_at timestamptz,
    hearing_request_due_on date,
    hearing_requested      boolean     NOT NULL DEFAULT false,
    party_heard            boolean     NOT NULL DEFAULT false,
    steps                  jsonb       NOT NULL DEFAULT '[]', -- every step taken: action, by, at, from, to, reason
    listing_id             text,
    rules_version          text        NOT NULL,
    opened_at              timestamptz NOT NULL,
    closed_at              timestamptz,
    changed_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    version                integer     NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX listing_proceedings_one_open_per_rule ON listing_proceedings (entity_id, rule_id)
    WHERE state IN ('review', 'weighing', 'to_notify', 'statement_period', 'approval');
CREATE INDEX listing_proceedings_entity ON listing_proceedings (entity_id);
CREATE INDEX listing_proceedings_open ON listing_proceedings (state, opened_at)
    WHERE state IN ('review', 'weighing', 'to_notify', 'statement_period', 'approval');

-- Issue 14 §7: the referral state of each routed case, from referral.lifecycle, so a penalty on a case
-- whose figures cross a criminal threshold can tell whether a referral is under way.
CREATE TABLE case_referrals (
    case_id     text        PRIMARY KEY,
    referral_id text        NOT NULL,
    state       text        NOT NULL,
    agency      text        NOT NULL,
    at          timestamptz NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
