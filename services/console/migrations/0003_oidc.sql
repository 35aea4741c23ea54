-- OpenID Connect sign-in (issue 16 §1): an account may name the subject (the `sub`, or the configured
-- claim) the city's identity provider signs for that person. Nobody is provisioned from a token: an
-- unknown subject is refused; the account, its role and its principal come from the CLI as before.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS oidc_subject text;
CREATE UNIQUE INDEX IF NOT EXISTS accounts_oidc_subject ON accounts (oidc_subject) WHERE oidc_subject IS NOT NULL;

-- A started sign-in at the provider, known by the SHA-256 of its `state` (also in the browser's
-- sd_oidc cookie): its nonce and PKCE verifier, used once (deleted when the provider answers).
CREATE TABLE IF NOT EXISTS oidc_flows (
    state_hash     bytea       PRIMARY KEY,
    nonce          text        NOT NULL,
    code_verifier  text        NOT NULL,
    next_path      text,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS oidc_flows_expiry ON oidc_flows (expires_at);
