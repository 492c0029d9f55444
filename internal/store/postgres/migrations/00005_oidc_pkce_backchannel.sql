-- +goose Up
-- PKCE is required of every app unless an admin exempts a confidential one.
ALTER TABLE oidc_clients ADD COLUMN allow_missing_pkce boolean NOT NULL DEFAULT false;
-- OpenID Connect Back-Channel Logout: where the app receives logout tokens.
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri text NOT NULL DEFAULT '';
-- The Sesame session (its sid) a sign-in to an app happened in.
ALTER TABLE oidc_auth_requests ADD COLUMN session_id text NOT NULL DEFAULT '';
ALTER TABLE oidc_grants ADD COLUMN session_id text NOT NULL DEFAULT '';
CREATE INDEX oidc_grants_session ON oidc_grants (session_id);

-- Logout tokens waiting to be delivered (or delivered, kept for a while).
-- Instances claim due rows with a lease (FOR UPDATE SKIP LOCKED), so one
-- token is sent by one instance at a time.
CREATE TABLE oidc_logout_outbox (
    id              text        NOT NULL PRIMARY KEY, -- also the logout token's jti
    client_id       text        NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    subject         text        NOT NULL,
    session_id      text        NOT NULL,
    reason          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text        NOT NULL,
    lease_until     timestamptz NOT NULL,
    done_at         timestamptz,          -- NULL until delivered or given up
    delivered       boolean     NOT NULL,
    last_error      text        NOT NULL
);

CREATE INDEX oidc_logout_outbox_due ON oidc_logout_outbox (next_attempt_at) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE oidc_logout_outbox;
DROP INDEX oidc_grants_session;
ALTER TABLE oidc_grants DROP COLUMN session_id;
ALTER TABLE oidc_auth_requests DROP COLUMN session_id;
ALTER TABLE oidc_clients DROP COLUMN backchannel_logout_uri;
ALTER TABLE oidc_clients DROP COLUMN allow_missing_pkce;
