-- The entity registry's registrations (登记): every enterprise the registration authority registers,
-- penalised or not — beside `entities`, which holds the parties credit learned from decisions. One row
-- per credit code; each change is a new version and an `entity-registered` event (inspection draws
-- its random-inspection targets from them).
CREATE TABLE registrations (
    credit_code   text        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('organisation', 'individual_trader')),
    name          text        NOT NULL,
    county        text        NOT NULL,
    categories    text[]      NOT NULL,
    status        text        NOT NULL CHECK (status IN ('registered', 'deregistered')),
    registered_by text        NOT NULL,
    version       integer     NOT NULL,
    changed_at    timestamptz NOT NULL
);
CREATE INDEX registrations_by_county ON registrations (county) WHERE status = 'registered';
