-- The console's own tables: its accounts, their sessions and the sign-in attempts. Nothing of the
-- services' data is kept here: cases, complaints and dead letters are read through their APIs.

CREATE TABLE accounts (
    username       text        PRIMARY KEY,
    role           text        NOT NULL,             -- office | bureau | police | procuratorate | ops
    bureau         text,                             -- type@division for office/bureau/police/procuratorate
    display_name   text        NOT NULL DEFAULT '',
    password_hash  text        NOT NULL,             -- argon2id (argon2-cffi)
    principal_id   text        NOT NULL UNIQUE,      -- the identity store's principal acting for the person
    api_key_enc    bytea       NOT NULL,             -- its API key, encrypted with the console's secret
    failed_count   integer     NOT NULL DEFAULT 0,   -- failed sign-ins in a row
    locked_until   timestamptz,
    disabled       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);

-- The console's own reader for the public status lookup (one row: 'public').
CREATE TABLE service_principals (
    name           text        PRIMARY KEY,
    principal_id   text        NOT NULL,
    api_key_enc    bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- A session is known by the SHA-256 of its cookie value; the cookie itself is never stored.
CREATE TABLE sessions (
    session_hash   bytea       PRIMARY KEY,
    username       text        NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE login_attempts (
    id             bigserial   PRIMARY KEY,
    username       text        NOT NULL,
    address        text        NOT NULL,
    outcome        text        NOT NULL,             -- ok | bad_password | unknown | locked | disabled | rate_limited
    at             timestamptz NOT NULL
);
CREATE INDEX login_attempts_user ON login_attempts (username, at);
