-- +goose Up
-- SAML 2.0 service providers registered as apps.
CREATE TABLE saml_apps (
    name TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL UNIQUE,
    metadata BLOB NOT NULL,
    metadata_url TEXT NOT NULL DEFAULT '',
    nameid_format TEXT NOT NULL,
    required_acr TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE saml_apps;
