-- +goose Up
-- SAML 2.0 service providers registered as apps.
CREATE TABLE saml_apps (
    name text PRIMARY KEY,
    entity_id text NOT NULL UNIQUE,
    metadata bytea NOT NULL,
    metadata_url text NOT NULL DEFAULT '',
    nameid_format text NOT NULL,
    required_acr text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE saml_apps;
