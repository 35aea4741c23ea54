-- The key store of persons' data keys (shared.vault; issue 12 §4, crypto-shredding).
-- One row per data key: the key wrapped by the service keyring (a shared.pii Sealed, JSON), never the
-- key in clear. Erasure sets `wrapped` to NULL and keeps the row, so a reader can tell "erased" from
-- "unknown key"; nothing of the person (no name, phone or id number, not even a hash) is kept here.
CREATE TABLE person_keys (
    key_id     text PRIMARY KEY CHECK (key_id ~ '^pk_[0-9a-f]{24}$'),
    wrapped    jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at  timestamptz,
    erased_why text,
    CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
);
