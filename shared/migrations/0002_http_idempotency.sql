-- Idempotency-Key for HTTP writes, the same in every service (shared/idempotency.py).
-- A key is scoped to the caller (the principal's id) and bound to the request it first
-- answered (method, path and body, as a SHA-256 fingerprint): the same request again gets
-- the stored response byte for byte; another request with the key is a 409.
CREATE TABLE IF NOT EXISTS http_idempotency (
    caller      text        NOT NULL,
    idem_key    text        NOT NULL,
    fingerprint bytea       NOT NULL,
    status      integer,                -- NULL while the first request's transaction is open
    response    text,                   -- the JSON body exactly as first sent
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, idem_key)
);
CREATE INDEX IF NOT EXISTS http_idempotency_created ON http_idempotency (created_at);
