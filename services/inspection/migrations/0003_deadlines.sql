-- Deadlines watched by shared.deadline_watch (generated from shared.deadline_watch.MIGRATION_SQL; do not edit).
CREATE TABLE deadlines (
    deadline_id      text        PRIMARY KEY,
    subject          text        NOT NULL,     -- the aggregate the deadline belongs to (event key)
    case_id          text        NOT NULL,
    kind             text        NOT NULL,
    party            text        NOT NULL,     -- who must act by then
    rule_id          text        NOT NULL,
    rule_version     text        NOT NULL,
    citation         text        NOT NULL,
    local_policy     boolean     NOT NULL,
    provisional      boolean     NOT NULL DEFAULT false,
    starts_at        timestamptz NOT NULL,
    warn_at          timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    state            text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'met', 'cancelled')),
    closed_at        timestamptz,
    approaching_sent boolean     NOT NULL DEFAULT false,
    breached_sent    boolean     NOT NULL DEFAULT false
);
CREATE INDEX deadlines_open_due ON deadlines (due_at) WHERE state = 'open';
CREATE INDEX deadlines_subject ON deadlines (subject);
