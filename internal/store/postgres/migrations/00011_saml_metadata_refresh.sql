-- +goose Up
-- SAML apps registered from a metadata URL are fetched again (daily, and
-- on demand), so a service provider that rotates its certificate or moves
-- its ACS keeps working. metadata_fetched_at is the last successful fetch,
-- metadata_checked_at the last attempt: instances claim a due refresh by
-- moving it, so only one of them fetches. Both are NULL for apps registered
-- from a file or an ACS URL. An app registered by URL before this was
-- fetched when it was created, and not since.
ALTER TABLE saml_apps ADD COLUMN metadata_fetched_at timestamptz;
ALTER TABLE saml_apps ADD COLUMN metadata_checked_at timestamptz;
UPDATE saml_apps SET metadata_fetched_at = created_at, metadata_checked_at = created_at WHERE metadata_url <> '';

-- +goose Down
ALTER TABLE saml_apps DROP COLUMN metadata_checked_at;
ALTER TABLE saml_apps DROP COLUMN metadata_fetched_at;
