-- Notify's delivery state (schema `notify`; the runtime's inbox/outbox/dead_letters come first).

-- One row per (event, recipient, channel). The consumer inserts them in the
-- transaction that records the event in the inbox, so a consumed event can
-- never lose its notices. The preferred channel starts 'pending'; the others
-- wait on 'standby' and are activated in rank order when the one before fails
-- for good. 'in_flight' rows are claimed by a dispatcher until in_flight_until.
CREATE TABLE deliveries (
    id              bigserial   PRIMARY KEY,
    message_id      text        NOT NULL UNIQUE,          -- the webhook-id: stable across retries
    event_id        text        NOT NULL,                 -- the notified event (or the digest's id)
    event_type      text        NOT NULL,
    event_ids       text[]      NOT NULL DEFAULT '{}',    -- a digest's events
    event_time      timestamptz NOT NULL,
    case_id         text,
    recipient       text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'email', 'sms')),
    rank            smallint    NOT NULL DEFAULT 0,
    critical        boolean     NOT NULL DEFAULT false,
    endpoint        text        NOT NULL,                 -- unit of isolation: webhook URL, smtp, sms-gateway
    address         text        NOT NULL,                 -- URL, mailboxes, phones, or a sealed phone (JSON)
    subject         text        NOT NULL DEFAULT '',
    body            text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('standby', 'pending', 'in_flight', 'delivered', 'failed', 'disabled')),
    attempts        integer     NOT NULL DEFAULT 0,
    due_at          timestamptz NOT NULL DEFAULT now(),
    give_up_at      timestamptz,                          -- past it, a delivery kept waiting by an open circuit fails
    in_flight_until timestamptz,
    claim_token     text,
    last_result     text,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE state = 'pending';
CREATE INDEX deliveries_lease ON deliveries (in_flight_until) WHERE state = 'in_flight';
CREATE INDEX deliveries_standby ON deliveries (event_id, recipient, rank) WHERE state = 'standby';
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;

-- Every attempt, for operators and the audit trail (no content, no addresses).
CREATE TABLE delivery_attempts (
    delivery_id bigint      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    n           integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    result      text        NOT NULL,
    status      integer,
    detail      text        NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
);

-- Endpoints taken out of service (a webhook that answered 410 Gone). Operators re-enable them.
CREATE TABLE endpoints (
    endpoint        text        PRIMARY KEY,
    channel         text        NOT NULL,
    disabled_at     timestamptz,
    disabled_reason text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Complainants of a case, to tell them of progress: the phone stays sealed (opened only to send).
CREATE TABLE complainants (
    case_id      text        NOT NULL,
    recipient_id text        NOT NULL,                    -- complainant:<digest of the ciphertext>
    phone        jsonb       NOT NULL,                    -- shared.contracts.cases.Sealed
    tracking_no  text,
    event_id     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, recipient_id)
);

-- Non-critical notices waiting for their recipient's digest (one window = one digest delivery).
CREATE TABLE digest_items (
    id           bigserial   PRIMARY KEY,
    recipient    text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    case_id      text,
    event_time   timestamptz NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    item         jsonb       NOT NULL,
    digest_id    text,                                    -- the digest delivery's event id, once sent
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, recipient)
);
CREATE INDEX digest_items_due ON digest_items (window_end) WHERE digest_id IS NULL;

-- Wake the dispatcher when deliveries are committed (NOTIFY is delivered at commit).
CREATE FUNCTION deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_deliveries', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();
