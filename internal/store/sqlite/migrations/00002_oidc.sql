-- The OpenID provider's tables (package oidc, records in oidc/oidcstore).
-- Same conventions as 00001: Unix milliseconds, JSON arrays in TEXT, NULL
-- for "not yet", STRICT, cascades doing the cleanup the store promises.

-- +goose Up
CREATE TABLE oidc_clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    secret_hash               BLOB    NOT NULL, -- SHA-256 of the secret; empty for public clients
    public                    INTEGER NOT NULL,
    redirect_uris             TEXT    NOT NULL, -- JSON array
    post_logout_redirect_uris TEXT    NOT NULL, -- JSON array
    signing_alg               TEXT    NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT;

-- No foreign key on user_id or credential_id: a request is short-lived flow
-- state; the grant made from it has the foreign keys.
CREATE TABLE oidc_auth_requests (
    id              TEXT    NOT NULL PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    params          BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    user_id         TEXT    NOT NULL, -- '' until the user signed in
    credential_id   TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    auth_time       INTEGER,
    amr             TEXT    NOT NULL, -- JSON array
    acr             TEXT    NOT NULL,
    done_at         INTEGER,
    code_hash       BLOB    UNIQUE,   -- NULL until a code is issued
    code_expires_at INTEGER,
    redeemed_at     INTEGER,
    grant_id        TEXT    NOT NULL  -- '' until redeemed
) STRICT;

CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);
CREATE INDEX oidc_auth_requests_client ON oidc_auth_requests (client_id);

-- A grant ends with its user, its app, or the passkey it was signed in
-- with: the cascades make revoking a lost passkey cut off the apps too.
CREATE TABLE oidc_grants (
    id            TEXT    NOT NULL PRIMARY KEY,
    client_id     TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes        TEXT    NOT NULL, -- JSON array
    credential_id TEXT    REFERENCES credentials (id) ON DELETE CASCADE, -- NULL when no passkey was used
    method        TEXT    NOT NULL,
    auth_time     INTEGER NOT NULL,
    amr           TEXT    NOT NULL, -- JSON array
    acr           TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,          -- NULL while the grant stands
    revoke_reason TEXT    NOT NULL
) STRICT;

CREATE INDEX oidc_grants_user_client ON oidc_grants (user_id, client_id);
CREATE INDEX oidc_grants_client ON oidc_grants (client_id);
CREATE INDEX oidc_grants_credential ON oidc_grants (credential_id);
CREATE INDEX oidc_grants_expires ON oidc_grants (expires_at);

CREATE TABLE oidc_refresh_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY, -- SHA-256 of the token
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER                       -- NULL until rotated
) STRICT, WITHOUT ROWID;

CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL, -- sealed (AES-GCM) PKCS#8
    public_key  BLOB    NOT NULL, -- PKIX DER
    created_at  INTEGER NOT NULL,
    not_before  INTEGER NOT NULL
) STRICT;

CREATE INDEX oidc_signing_keys_alg ON oidc_signing_keys (algorithm, not_before, id);

-- +goose Down
DROP TABLE oidc_signing_keys;
DROP TABLE oidc_refresh_tokens;
DROP TABLE oidc_grants;
DROP TABLE oidc_auth_requests;
DROP TABLE oidc_clients;
