-- The one identity and access store (shared.identity): who may call the services.
-- A principal is a caller: a system (hotline, platform, bureau back end …) or, later, a
-- person's account; it holds roles and scopes. Its API keys are separate rows so a key can be
-- rotated with the old one revoked, and the keys issued before this store existed keep working
-- under their own verification scheme.

CREATE TABLE principals (
    principal_id text        PRIMARY KEY CHECK (principal_id ~ '^[a-z0-9][a-z0-9_@.-]{1,99}$'),
    kind         text        NOT NULL CHECK (kind IN ('hotline', 'platform', 'bureau', 'office', 'police',
                                                     'procuratorate', 'public_api', 'appraisal', 'ops')),
    -- the bureau (type@division) a bureau, office, police or procuratorate principal acts for
    bureau       text,
    roles        text[]      NOT NULL DEFAULT '{}',
    scopes       text[]      NOT NULL DEFAULT '{}',
    display_name text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE api_keys (
    key_id       text        PRIMARY KEY,
    principal_id text        NOT NULL REFERENCES principals (principal_id),
    -- how a presented secret is checked: v1 = sha256(secret); the legacy schemes reproduce the
    -- three stores this one replaced (intake: sha256 of the whole key; routing: sha256 of the
    -- secret; credit: hex sha256 of the secret)
    scheme       text        NOT NULL CHECK (scheme IN ('v1', 'intake-v0', 'routing-v0', 'credit-v0')),
    secret_hash  bytea       NOT NULL,
    label        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_principal ON api_keys (principal_id);
