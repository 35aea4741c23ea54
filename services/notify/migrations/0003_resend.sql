-- Resending (issue 16 §6, after Svix's message log and recover): an operator sends a message again as a
-- NEW attempt series of the SAME delivery row, so the webhook-id, body and signature inputs stay those of
-- the message and receivers deduplicate on them. `series` counts the resends (0: the original series);
-- each series restarts the retry schedule (attempts = 0) and its attempts are kept apart in the log.
ALTER TABLE deliveries ADD COLUMN series integer NOT NULL DEFAULT 0;
ALTER TABLE delivery_attempts ADD COLUMN series integer NOT NULL DEFAULT 0;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_pkey;
ALTER TABLE delivery_attempts ADD PRIMARY KEY (delivery_id, series, n);

-- Who resent what, when: one row per command (one message, or an endpoint's recover since a time).
CREATE TABLE resends (
    id          bigserial   PRIMARY KEY,
    actor       text        NOT NULL,                      -- the principal that asked
    kind        text        NOT NULL CHECK (kind IN ('message', 'recover')),
    delivery_id bigint,                                    -- kind message
    endpoint    text,                                      -- kind recover
    since       timestamptz,                               -- kind recover
    resent      integer     NOT NULL,                      -- deliveries put back in the queue
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resends_delivery ON resends (delivery_id) WHERE delivery_id IS NOT NULL;
