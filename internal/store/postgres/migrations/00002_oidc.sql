-- The OpenID provider's tables (package oidc, records in oidc/oidcstore),
-- the same as the SQLite schema's 00002 with PostgreSQL's types. Same
-- conventions as 00001: timestamptz to the millisecond, NULL for "not yet",
-- cascades doing the cleanup the store promises.

-- +goose Up
CREATE TABLE oidc_clients (
    id                        text        COLLATE "C" NOT NULL PRIMARY KEY,
    secret_hash               bytea       NOT NULL, -- SHA-256 of the secret; empty for public clients
    public                    boolean     NOT NULL,
    redirect_uris             text[]      NOT NULL,
    post_logout_redirect_uris text[]      NOT NULL,
    signing_alg               text        NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL
);

-- No foreign key on user_id or credential_id: a request is short-lived flow
-- state; the grant made from it has the foreign keys.
CREATE TABLE oidc_auth_requests (
    id              text        NOT NULL PRIMARY KEY,
    client_id       text        NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    params          bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    user_id         text        NOT NULL, -- '' until the user signed in
    credential_id   text        NOT NULL,
    method          text        NOT NULL,
    auth_time       timestamptz,
    amr             text[]      NOT NULL,
    acr             text        NOT NULL,
    done_at         timestamptz,
    code_hash       bytea       UNIQUE,   -- NULL until a code is issued
    code_expires_at timestamptz,
    redeemed_at     timestamptz,
    grant_id        text        NOT NULL  -- '' until redeemed
);

CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);
CREATE INDEX oidc_auth_requests_client ON oidc_auth_requests (client_id);

-- A grant ends with its user, its app, or the passkey it was signed in
-- with: the cascades make revoking a lost passkey cut off the apps too.
CREATE TABLE oidc_grants (
    id            text        NOT NULL PRIMARY KEY,
    client_id     text        NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id       text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes        text[]      NOT NULL,
    credential_id text        REFERENCES credentials (id) ON DELETE CASCADE, -- NULL when no passkey was used
    method        text        NOT NULL,
    auth_time     timestamptz NOT NULL,
    amr           text[]      NOT NULL,
    acr           text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,          -- NULL while the grant stands
    revoke_reason text        NOT NULL
);

CREATE INDEX oidc_grants_user_client ON oidc_grants (user_id, client_id);
CREATE INDEX oidc_grants_client ON oidc_grants (client_id);
CREATE INDEX oidc_grants_credential ON oidc_grants (credential_id);
CREATE INDEX oidc_grants_expires ON oidc_grants (expires_at);

CREATE TABLE oidc_refresh_tokens (
    hash       bytea       NOT NULL PRIMARY KEY, -- SHA-256 of the token
    grant_id   text        NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz                       -- NULL until rotated
);

CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_signing_keys (
    id          text        COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm   text        NOT NULL,
    private_key bytea       NOT NULL, -- sealed (AES-GCM) PKCS#8
    public_key  bytea       NOT NULL, -- PKIX DER
    created_at  timestamptz NOT NULL,
    not_before  timestamptz NOT NULL
);

CREATE INDEX oidc_signing_keys_alg ON oidc_signing_keys (algorithm, not_before, id);

-- +goose Down
DROP TABLE oidc_signing_keys;
DROP TABLE oidc_refresh_tokens;
DROP TABLE oidc_grants;
DROP TABLE oidc_auth_requests;
DROP TABLE oidc_clients;
