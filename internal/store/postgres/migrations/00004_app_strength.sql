-- +goose Up
-- An app can require an authentication strength of every sign-in (stored
-- as the strength's acr value).
ALTER TABLE oidc_clients ADD COLUMN required_acr text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE oidc_clients DROP COLUMN required_acr;
