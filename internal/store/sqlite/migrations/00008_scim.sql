-- +goose Up
-- SCIM provisioning: the identifier a provisioning client (HR system,
-- Entra ID, Okta) gives a user or group, unique when set ('' = not
-- provisioned), and the clients' bearer tokens (hashes only).
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_external_id ON users (external_id) WHERE external_id <> '';
ALTER TABLE groups ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX groups_external_id ON groups (external_id) WHERE external_id <> '';

CREATE TABLE scim_tokens (
    name       TEXT    NOT NULL PRIMARY KEY,
    hash       BLOB    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE scim_tokens;
DROP INDEX groups_external_id;
ALTER TABLE groups DROP COLUMN external_id;
DROP INDEX users_external_id;
ALTER TABLE users DROP COLUMN external_id;
