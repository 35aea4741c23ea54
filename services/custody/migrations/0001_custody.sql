-- Seized goods in custody (公物仓): lots, their chain of custody, destruction plans.
CREATE TABLE lots (
    lot_id           text        PRIMARY KEY,
    case_id          text        NOT NULL,
    bureau           text        NOT NULL,     -- the registering bureau (type@division)
    hazard           text        NOT NULL CHECK (hazard IN ('toxic_harmful', 'perishable', 'ordinary')),
    items            jsonb       NOT NULL,     -- [{description, quantity, unit, declared_value}] amounts as strings
    declared_value   numeric     NOT NULL,
    location         text        NOT NULL,
    holder           text        NOT NULL,
    state            text        NOT NULL CHECK (state IN ('in_custody', 'in_transit', 'disposed')),
    registered_at    timestamptz NOT NULL,
    decision         jsonb,                    -- {outcome, document_no, decided_on, decided_by}
    disposed_outcome text,
    disposed_at      timestamptz,
    plan_id          text
);
CREATE INDEX lots_by_case ON lots (case_id);
CREATE INDEX lots_by_bureau ON lots (bureau, registered_at);

CREATE TABLE handovers (
    lot_id      text        NOT NULL REFERENCES lots (lot_id),
    seq         integer     NOT NULL,
    from_party  text        NOT NULL,
    to_party    text        NOT NULL,
    purpose     text        NOT NULL,
    handed_at   timestamptz NOT NULL,
    handed_by   text        NOT NULL,
    received_at timestamptz,
    received_by text,
    PRIMARY KEY (lot_id, seq)
);

CREATE TABLE destruction_plans (
    plan_id            text        PRIMARY KEY,
    bureau             text        NOT NULL,
    lot_ids            text[]      NOT NULL,
    scheduled_on       date        NOT NULL,
    facility           text        NOT NULL,
    witnesses          text[]      NOT NULL,
    state              text        NOT NULL CHECK (state IN ('proposed', 'approved', 'done')),
    approved_by        text,
    environmental_cost numeric,
    record_photos      text[]      NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL,
    done_at            timestamptz
);
